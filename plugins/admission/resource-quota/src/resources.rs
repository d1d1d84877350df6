//! Resource lists (`{"pods": 2, "requests.cpu": 1500m}`) as exact quantities, and the
//! arithmetic quota needs on them: sums, maxima, masks, differences never below zero.

use std::collections::BTreeMap;

use keel_sdk::quantity::Quantity;
use keel_sdk::quantity::resources::ResourceList;
use serde_json::{Map, Value};

/// Resource name to quantity, in name order.
pub type Usage = ResourceList;

pub use keel_sdk::quantity::resources::{add_into, max_into, read};

/// The entries of `usage` whose names `keep` has.
pub fn mask<V>(usage: &Usage, keep: &BTreeMap<String, V>) -> Usage {
    usage
        .iter()
        .filter(|(name, _)| keep.contains_key(*name))
        .map(|(name, q)| (name.clone(), *q))
        .collect()
}

/// `usage` without its zero entries.
pub fn non_zero(usage: Usage) -> Usage {
    usage.into_iter().filter(|(_, q)| !q.is_zero()).collect()
}

/// What `a` has more of than `b`: for each of `a`'s entries, `a - b` where positive.
pub fn excess(a: &Usage, b: &Usage) -> Usage {
    a.iter()
        .filter_map(|(name, q)| {
            let less = q.minus(b.get(name).copied().unwrap_or_default());
            (less > Quantity::ZERO).then(|| (name.clone(), less))
        })
        .collect()
}

/// `used - released`, key by key, never below zero.
pub fn release(used: &Usage, released: &Usage) -> Usage {
    used.iter()
        .map(|(name, q)| {
            let left = q.minus(released.get(name).copied().unwrap_or_default());
            (name.clone(), left.max(Quantity::ZERO))
        })
        .collect()
}

/// The names of `usage`'s negative entries.
pub fn negative(usage: &Usage) -> Vec<String> {
    usage
        .iter()
        .filter(|(_, q)| **q < Quantity::ZERO)
        .map(|(name, _)| name.clone())
        .collect()
}

/// As JSON, each quantity printed canonically (`1500m`, `1Gi`, `10`).
pub fn to_json(usage: &Usage) -> Value {
    Value::Object(
        usage
            .iter()
            .map(|(name, q)| (name.clone(), Value::String(q.to_string())))
            .collect::<Map<String, Value>>(),
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn usage(pairs: &[(&str, i128)]) -> Usage {
        pairs
            .iter()
            .map(|(k, m)| (k.to_string(), Quantity::from_milli(*m)))
            .collect()
    }

    #[test]
    fn reads_and_prints() {
        let read = read(Some(
            &json!({"pods": "10", "requests.cpu": "1500m", "memory": 1024, "bad": "x"}),
        ));
        assert_eq!(
            read,
            usage(&[
                ("memory", 1_024_000),
                ("pods", 10_000),
                ("requests.cpu", 1500)
            ])
        );
        assert_eq!(
            to_json(&read),
            json!({"memory": "1Ki", "pods": "10", "requests.cpu": "1500m"})
        );
        assert!(super::read(None).is_empty());
    }

    #[test]
    fn arithmetic() {
        let mut a = usage(&[("cpu", 100), ("pods", 1000)]);
        add_into(&mut a, &usage(&[("cpu", 50), ("memory", 7)]));
        assert_eq!(a, usage(&[("cpu", 150), ("memory", 7), ("pods", 1000)]));
        max_into(&mut a, &usage(&[("cpu", 100), ("memory", 9)]));
        assert_eq!(a, usage(&[("cpu", 150), ("memory", 9), ("pods", 1000)]));
        assert_eq!(mask(&a, &usage(&[("cpu", 0)])), usage(&[("cpu", 150)]));
        assert_eq!(
            non_zero(usage(&[("cpu", 0), ("pods", 1)])),
            usage(&[("pods", 1)])
        );
        assert_eq!(
            excess(
                &usage(&[("cpu", 5), ("pods", 1), ("m", 2)]),
                &usage(&[("cpu", 2), ("pods", 3)])
            ),
            usage(&[("cpu", 3), ("m", 2)])
        );
        assert_eq!(
            release(
                &usage(&[("cpu", 5), ("pods", 1)]),
                &usage(&[("cpu", 2), ("pods", 3)])
            ),
            usage(&[("cpu", 3), ("pods", 0)])
        );
        assert_eq!(negative(&usage(&[("a", -1), ("b", 1)])), ["a"]);
    }
}

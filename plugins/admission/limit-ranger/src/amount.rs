//! Quantities as objects spell them: each parsed [`Amount`] keeps the text it was written
//! as (patches copy it, messages quote it), and [`ResourceList`] reads a
//! `requests`/`limits`-style map.

use std::collections::BTreeMap;

use keel_sdk::quantity::Quantity;
use serde_json::Value;

/// A quantity and the text it was written as (`"500m"`, `"1Gi"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Amount {
    /// As written in the object (numbers as their JSON text).
    pub text: String,
    /// The parsed value.
    pub quantity: Quantity,
}

impl Amount {
    /// Reads a quantity written as a JSON string or number; `None` for anything else or a
    /// string that is not a quantity (the schema plugin refuses those).
    pub fn read(value: &Value) -> Option<Amount> {
        let text = keel_sdk::quantity::json_text(value)?;
        let quantity = Quantity::parse(&text).ok()?;
        Some(Amount {
            text: text.into_owned(),
            quantity,
        })
    }

    /// A computed quantity (a sum), printed canonically.
    pub fn computed(quantity: Quantity) -> Amount {
        Amount {
            text: quantity.to_string(),
            quantity,
        }
    }

    /// The amount as a JSON value for a patch: its text, as written.
    pub fn to_json(&self) -> Value {
        Value::String(self.text.clone())
    }
}

/// Resource name to amount (`{"cpu": "100m", "memory": "1Gi"}`), in name order.
pub type ResourceList = BTreeMap<String, Amount>;

/// Reads a resource map; entries that are not quantities are left out. A missing or
/// non-object value is the empty list.
pub fn resource_list(value: Option<&Value>) -> ResourceList {
    value
        .and_then(Value::as_object)
        .map(|map| {
            map.iter()
                .filter_map(|(name, v)| Some((name.clone(), Amount::read(v)?)))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn reads_strings_and_numbers_and_skips_the_rest() {
        let list = resource_list(Some(
            &json!({"cpu": "250m", "memory": 1024, "bad": "x", "n": null}),
        ));
        assert_eq!(list.len(), 2);
        assert_eq!(list.get("cpu").map(|a| a.quantity.milli()), Some(250));
        assert_eq!(list.get("memory").map(|a| a.text.as_str()), Some("1024"));
        assert!(resource_list(None).is_empty());
        assert!(resource_list(Some(&json!("cpu"))).is_empty());
    }

    #[test]
    fn computed_amounts_print_canonically() {
        assert_eq!(Amount::computed(Quantity::from_milli(1500)).text, "1500m");
        assert_eq!(Amount::computed(Quantity::from_units(3)).text, "3");
    }
}

//! `maxSurge` and `maxUnavailable`: Kubernetes' `IntOrString` (an absolute number or a
//! percentage string such as `"25%"`), scaled against the desired replica count as
//! `intstr.GetScaledValueFromIntOrPercent` does, and the two resolved together as
//! `deploymentutil.ResolveFenceposts` does.

use keel_sdk::controller::PluginError;
use serde_json::Value;

/// An absolute number of pods, or a percentage of the desired replica count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntOrPercent {
    /// So many pods.
    Int(i64),
    /// So many percent of the desired replicas.
    Percent(i64),
}

impl IntOrPercent {
    /// Reads the value at `field` (absent or null: `default`); a string must be a
    /// percentage and no value may be negative, as Kubernetes' validation requires.
    pub fn read(
        value: Option<&Value>,
        field: &str,
        default: IntOrPercent,
    ) -> Result<IntOrPercent, PluginError> {
        let parsed = match value {
            None | Some(Value::Null) => return Ok(default),
            Some(Value::Number(n)) => n.as_i64().map(IntOrPercent::Int),
            Some(Value::String(s)) => s
                .strip_suffix('%')
                .and_then(|digits| digits.parse::<i64>().ok())
                .map(IntOrPercent::Percent),
            Some(_) => None,
        };
        match parsed {
            Some(IntOrPercent::Int(n) | IntOrPercent::Percent(n)) if n < 0 => Err(
                PluginError::new(format!("{field}: must be greater than or equal to 0")),
            ),
            Some(v) => Ok(v),
            None => Err(PluginError::new(format!(
                "{field}: invalid value for IntOrString: {}: must be an integer or a percentage",
                value.map(Value::to_string).unwrap_or_default()
            ))),
        }
    }

    /// The number of pods it stands for out of `total`: a percentage rounds up when
    /// `round_up` (maxSurge) and down otherwise (maxUnavailable).
    pub fn scaled(self, total: i64, round_up: bool) -> i64 {
        match self {
            IntOrPercent::Int(n) => n,
            IntOrPercent::Percent(p) => {
                let product = p.saturating_mul(total.max(0));
                if round_up {
                    (product + 99) / 100
                } else {
                    product / 100
                }
            }
        }
    }
}

/// `ResolveFenceposts`: maxSurge (rounded up) and maxUnavailable (rounded down) for
/// `desired` replicas; when both come to zero, maxUnavailable is 1 so that a rollout can
/// proceed at all.
pub fn resolve_fenceposts(
    max_surge: IntOrPercent,
    max_unavailable: IntOrPercent,
    desired: i64,
) -> (i64, i64) {
    let surge = max_surge.scaled(desired, true);
    let unavailable = max_unavailable.scaled(desired, false);
    if surge == 0 && unavailable == 0 {
        (0, 1)
    } else {
        (surge, unavailable)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(value: Value) -> Result<IntOrPercent, String> {
        IntOrPercent::read(Some(&value), "maxSurge", IntOrPercent::Percent(25))
            .map_err(|e| e.message)
    }

    #[test]
    fn reads_numbers_and_percentages_and_refuses_other_strings() -> Result<(), String> {
        assert_eq!(read(json!(3))?, IntOrPercent::Int(3));
        assert_eq!(read(json!("30%"))?, IntOrPercent::Percent(30));
        assert_eq!(read(json!(null))?, IntOrPercent::Percent(25));
        assert!(read(json!("3")).is_err(), "a string must be a percentage");
        assert!(read(json!(-1)).is_err());
        assert!(read(json!("-5%")).is_err());
        Ok(())
    }

    /// Deployment docs: "The absolute number is calculated from percentage by rounding
    /// up" for maxSurge and "by rounding down" for maxUnavailable.
    #[test]
    fn surge_rounds_up_and_unavailable_rounds_down() {
        assert_eq!(IntOrPercent::Percent(25).scaled(10, true), 3);
        assert_eq!(IntOrPercent::Percent(25).scaled(10, false), 2);
        assert_eq!(IntOrPercent::Percent(25).scaled(3, true), 1);
        assert_eq!(IntOrPercent::Percent(25).scaled(3, false), 0);
        assert_eq!(IntOrPercent::Int(2).scaled(10, false), 2);
    }

    /// ResolveFenceposts: both zero (after rounding) means maxUnavailable 1.
    #[test]
    fn both_fenceposts_zero_allow_one_unavailable() {
        let quarter = IntOrPercent::Percent(25);
        assert_eq!(resolve_fenceposts(IntOrPercent::Int(0), quarter, 3), (0, 1));
        assert_eq!(resolve_fenceposts(quarter, quarter, 3), (1, 0));
        assert_eq!(resolve_fenceposts(quarter, quarter, 4), (1, 1));
        assert_eq!(
            resolve_fenceposts(IntOrPercent::Int(0), IntOrPercent::Int(0), 5),
            (0, 1)
        );
    }
}

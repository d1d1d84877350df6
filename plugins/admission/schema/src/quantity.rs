//! Resource quantities in objects: reading one (a JSON string or number) with the field error
//! when it does not parse, with its text in Kubernetes' canonical form (`1k`, `500m`, `1Gi`,
//! `keel_sdk::quantity` prints it), and the resource-name facts validation needs (which
//! resources must be whole numbers, which may be overcommitted).

use keel_sdk::quantity::{self, Format, Quantity};
use serde_json::Value;

use crate::field::{BadValue, FieldError, Path, invalid};

/// A quantity read from an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// Its value.
    pub quantity: Quantity,
    /// The format it was written in, which its canonical text keeps.
    pub format: Format,
}

impl Parsed {
    /// Its canonical text, as Kubernetes prints it in messages (made only for a message).
    pub fn text(&self) -> String {
        self.quantity.to_kubernetes_string(self.format)
    }
}

/// Reads the quantity at `path`: a string or a number, as Kubernetes accepts both.
pub fn parse(value: &Value, path: &Path) -> Result<Parsed, FieldError> {
    let text = quantity::json_text(value).unwrap_or_else(|| value.to_string().into());
    match Quantity::parse(&text) {
        Ok(quantity) => Ok(Parsed {
            quantity,
            format: Format::of(&text),
        }),
        Err(e) => Err(invalid(
            *path,
            BadValue::Str(text.into_owned()),
            &e.to_string(),
        )),
    }
}

/// Kubernetes' `ValidateResourceQuantityValue`: not negative, and whole for resources counted
/// in units. Returns the quantity when it parses.
pub fn check_value(
    resource: &str,
    value: &Value,
    path: &Path,
    errs: &mut Vec<FieldError>,
) -> Option<Parsed> {
    let parsed = match parse(value, path) {
        Ok(p) => p,
        Err(e) => {
            errs.push(e);
            return None;
        }
    };
    if parsed.quantity.milli() < 0 {
        errs.push(invalid(
            *path,
            BadValue::Str(parsed.text()),
            "must be greater than or equal to 0",
        ));
    }
    if is_integer_resource(resource) && parsed.quantity.milli() % 1000 != 0 {
        errs.push(invalid(
            *path,
            BadValue::Str(parsed.text()),
            "must be an integer",
        ));
    }
    Some(parsed)
}

/// Resources named without a domain, or under `kubernetes.io/`.
pub fn is_native(name: &str) -> bool {
    !name.contains('/') || name.contains("kubernetes.io/")
}

/// `hugepages-<size>`.
pub fn is_huge_pages(name: &str) -> bool {
    name.starts_with("hugepages-")
}

/// Extended resources (`example.com/gpu`): not native, and a qualified name.
pub fn is_extended(name: &str) -> bool {
    !is_native(name)
        && !name.starts_with("requests.")
        && crate::names::qualified_name(&format!("requests.{name}")).is_empty()
}

/// Whether a request may be below its limit (CPU, memory: yes; extended resources and huge
/// pages: no).
pub fn overcommit_allowed(name: &str) -> bool {
    is_native(name) && !is_huge_pages(name)
}

/// Resources counted in whole units.
pub fn is_integer_resource(name: &str) -> bool {
    const INTEGER: &[&str] = &[
        "pods",
        "resourcequotas",
        "services",
        "replicationcontrollers",
        "secrets",
        "configmaps",
        "persistentvolumeclaims",
        "services.nodeports",
        "services.loadbalancers",
    ];
    INTEGER.contains(&name) || is_extended(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn text(s: &str) -> String {
        match parse(&json!(s), &Path::new("x")) {
            Ok(p) => p.text(),
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn canonical_forms_match_kubernetes() {
        for (input, printed) in [
            ("1", "1"),
            ("2", "2"),
            ("1000", "1k"),
            ("1500", "1500"),
            ("0.5", "500m"),
            ("500m", "500m"),
            ("1.5", "1500m"),
            ("1G", "1G"),
            ("1000M", "1G"),
            ("1Gi", "1Gi"),
            ("1024Mi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("512", "512"),
            ("100Ki", "100Ki"),
            ("1e3", "1e3"),
            ("1E", "1E"),
            ("2k", "2k"),
            ("-1", "-1"),
            ("0", "0"),
            ("0Mi", "0"),
        ] {
            assert_eq!(text(input), printed, "{input}");
        }
        assert_eq!(
            parse(&json!(2), &Path::new("x")).map(|p| p.text()),
            Ok("2".to_string())
        );
    }

    #[test]
    fn a_bad_quantity_is_an_invalid_value_with_the_parse_error() {
        let Err(e) = parse(&json!("abc"), &Path::new("spec").child("hard").key("cpu")) else {
            panic!("abc parsed");
        };
        let message = e.to_string();
        assert!(
            message.starts_with("spec.hard[cpu]: Invalid value: \"abc\": quantities must match the regular expression"),
            "{message}"
        );
    }

    #[test]
    fn values_must_be_non_negative_and_whole_for_counted_resources() {
        let spec = Path::new("spec");
        let hard = spec.child("hard");
        let path = hard.key("pods");
        let mut errs = Vec::new();
        assert!(check_value("pods", &json!("1500m"), &path, &mut errs).is_some());
        assert_eq!(
            errs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec!["spec.hard[pods]: Invalid value: \"1500m\": must be an integer"]
        );
        errs.clear();
        assert!(check_value("cpu", &json!("-1"), &path, &mut errs).is_some());
        assert_eq!(
            errs.iter().map(ToString::to_string).collect::<Vec<_>>(),
            vec!["spec.hard[pods]: Invalid value: \"-1\": must be greater than or equal to 0"]
        );
        errs.clear();
        assert!(check_value("cpu", &json!("1500m"), &path, &mut errs).is_some());
        assert!(errs.is_empty());
        assert!(check_value("cpu", &json!("x"), &path, &mut errs).is_none());
        assert_eq!(errs.len(), 1);
    }

    #[test]
    fn resource_name_classes() {
        assert!(is_native("cpu") && is_native("kubernetes.io/foo"));
        assert!(is_extended("example.com/gpu") && !is_extended("cpu"));
        assert!(!overcommit_allowed("example.com/gpu"));
        assert!(!overcommit_allowed("hugepages-2Mi"));
        assert!(overcommit_allowed("memory"));
        assert!(is_integer_resource("count/pods") && is_integer_resource("pods"));
        assert!(!is_integer_resource("cpu"));
    }
}

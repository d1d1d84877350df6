//! Kubernetes' name and number rules (`k8s.io/apimachinery/pkg/util/validation`): RFC 1123
//! labels and subdomains, RFC 1035 labels, port names and numbers, qualified names. Each
//! returns the messages Kubernetes gives, empty when the value is valid.

const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const LABEL_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const SUBDOMAIN_FMT: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character";
const DNS1035_FMT: &str = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QUALIFIED_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const QUALIFIED_FMT: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";

/// `must be no more than N characters`.
fn max_len(n: usize) -> String {
    format!("must be no more than {n} characters")
}

/// Kubernetes' `RegexError`: the message, examples, and the regular expression.
fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    if examples.is_empty() {
        return format!("{msg} (regex used for validation is '{fmt}')");
    }
    let mut out = format!("{msg} (e.g. ");
    for (i, example) in examples.iter().enumerate() {
        if i > 0 {
            out.push_str(" or ");
        }
        out.push_str(&format!("'{example}', "));
    }
    out.push_str(&format!("regex used for validation is '{fmt}')"));
    out
}

fn lower_alnum(c: u8) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

/// Matches `[a-z0-9]([-a-z0-9]*[a-z0-9])?`.
fn is_label(value: &str) -> bool {
    let b = value.as_bytes();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) => {
            lower_alnum(first)
                && lower_alnum(last)
                && b.iter().all(|&c| lower_alnum(c) || c == b'-')
        }
        _ => false,
    }
}

/// Matches the RFC 1123 subdomain expression: labels joined by dots.
fn is_subdomain(value: &str) -> bool {
    value.split('.').all(is_label)
}

/// `IsDNS1123Label`.
pub fn dns1123_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len(63));
    }
    if !is_label(value) {
        if is_subdomain(value) {
            errs.push("must not contain dots".to_string());
        } else {
            errs.push(regex_error(LABEL_MSG, LABEL_FMT, &["my-name", "123-abc"]));
        }
    }
    errs
}

/// `IsDNS1123Subdomain`.
pub fn dns1123_subdomain(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push(max_len(253));
    }
    if !is_subdomain(value) {
        errs.push(regex_error(SUBDOMAIN_MSG, SUBDOMAIN_FMT, &["example.com"]));
    }
    errs
}

/// `IsDNS1035Label`.
pub fn dns1035_label(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 63 {
        errs.push(max_len(63));
    }
    let starts_alpha = value.bytes().next().is_some_and(|c| c.is_ascii_lowercase());
    if !(starts_alpha && is_label(value)) {
        errs.push(regex_error(
            DNS1035_MSG,
            DNS1035_FMT,
            &["my-name", "abc-123"],
        ));
    }
    errs
}

/// `IsValidPortName`: an IANA service name.
pub fn port_name(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 15 {
        errs.push(max_len(15));
    }
    if value.is_empty() || !value.bytes().all(|c| lower_alnum(c) || c == b'-') {
        errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !value.bytes().any(|c| c.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".into());
    }
    if value.contains("--") {
        errs.push("must not contain consecutive hyphens".into());
    }
    if value.starts_with('-') || value.ends_with('-') {
        errs.push("must not begin or end with a hyphen".into());
    }
    errs
}

/// `IsValidPortNum`: 1 to 65535.
pub fn port_number(value: i64) -> Vec<String> {
    if (1..=65535).contains(&value) {
        Vec::new()
    } else {
        vec![inclusive_range(1, 65535)]
    }
}

/// `must be between LO and HI, inclusive`.
pub fn inclusive_range(lo: i64, hi: i64) -> String {
    format!("must be between {lo} and {hi}, inclusive")
}

/// `IsQualifiedName`: an optional DNS subdomain prefix and `/`, then a name of up to 63
/// characters.
pub fn qualified_name(value: &str) -> Vec<String> {
    let parts: Vec<&str> = value.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                return vec!["prefix part must be non-empty".into()];
            }
            let prefix_errs = dns1123_subdomain(prefix);
            if !prefix_errs.is_empty() {
                return prefix_errs
                    .into_iter()
                    .map(|e| format!("prefix part {e}"))
                    .collect();
            }
            *name
        }
        _ => {
            return vec![format!(
                "a qualified name {} (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '{QUALIFIED_FMT}') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')",
                QUALIFIED_MSG.trim_start_matches("name part ")
            )];
        }
    };
    let mut errs = Vec::new();
    if name.is_empty() {
        errs.push("name part must be non-empty".into());
        return errs;
    }
    if name.len() > 63 {
        errs.push(format!("name part {}", max_len(63)));
    }
    let alnum = |c: u8| c.is_ascii_alphanumeric();
    let b = name.as_bytes();
    let ok = b.first().is_some_and(|&c| alnum(c))
        && b.last().is_some_and(|&c| alnum(c))
        && b.iter()
            .all(|&c| alnum(c) || c == b'-' || c == b'_' || c == b'.');
    if !ok {
        errs.push(regex_error(
            QUALIFIED_MSG,
            QUALIFIED_FMT,
            &["MyName", "my.name", "123-abc"],
        ));
    }
    errs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1123_labels() {
        assert!(dns1123_label("web-1").is_empty());
        assert_eq!(
            dns1123_label("Web"),
            vec!["a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string()]
        );
        assert_eq!(
            dns1123_label("a.b"),
            vec!["must not contain dots".to_string()]
        );
        assert_eq!(dns1123_label(&"a".repeat(64)), vec![max_len(63)]);
        assert!(!dns1123_label("-a").is_empty());
        assert!(!dns1123_label("").is_empty());
    }

    #[test]
    fn rfc1123_subdomains_and_rfc1035_labels() {
        assert!(dns1123_subdomain("example.com").is_empty());
        assert_eq!(dns1123_subdomain("Example.com").len(), 1);
        assert!(dns1123_subdomain("a..b").len() == 1);
        assert!(dns1035_label("web").is_empty());
        assert_eq!(
            dns1035_label("1web"),
            vec!["a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".to_string()]
        );
    }

    #[test]
    fn port_names_and_numbers() {
        assert!(port_name("http").is_empty());
        assert!(port_name("h2c-8080").is_empty());
        assert_eq!(port_name("a-very-long-port-name").len(), 1);
        assert_eq!(
            port_name("HTTP"),
            vec![
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)"
                    .to_string(),
                "must contain at least one letter (a-z)".to_string()
            ]
        );
        assert_eq!(
            port_name("8080"),
            vec!["must contain at least one letter (a-z)".to_string()]
        );
        assert_eq!(
            port_name("a--b"),
            vec!["must not contain consecutive hyphens".to_string()]
        );
        assert_eq!(
            port_name("-ab"),
            vec!["must not begin or end with a hyphen".to_string()]
        );
        assert!(port_number(1).is_empty() && port_number(65535).is_empty());
        assert_eq!(
            port_number(0),
            vec!["must be between 1 and 65535, inclusive".to_string()]
        );
        assert_eq!(port_number(70000).len(), 1);
    }

    #[test]
    fn qualified_names() {
        assert!(qualified_name("cpu").is_empty());
        assert!(qualified_name("example.com/gpu").is_empty());
        assert!(!qualified_name("example.com/").is_empty());
        assert!(!qualified_name("/gpu").is_empty());
        assert!(!qualified_name("Bad_Prefix/gpu").is_empty());
        assert!(!qualified_name("a/b/c").is_empty());
        assert!(!qualified_name("gpu!").is_empty());
    }
}

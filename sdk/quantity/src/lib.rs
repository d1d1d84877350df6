//! Kubernetes resource quantities, as `resource.Quantity` reads and prints them: a decimal
//! number with an optional binary (`Ki` … `Ei`), decimal (`n`, `u`, `m`, `k`, `M` … `E`) or
//! exponent (`e3`, `E-2`) suffix. Values are held exactly in thousandths (`milli`), the
//! finest unit requests and limits use; finer inputs round up, as Kubernetes' `MilliValue`
//! does. [`Quantity::to_kubernetes_string`] prints a value as Kubernetes' `Quantity.String()`
//! does for the [`Format`] it was written in; [`json_text`] reads a quantity's text from an
//! object, where Kubernetes accepts a string or a number. [`resources`] holds resource
//! lists and a pod's totals. Shared by plugins (through `keel-sdk`) and the kernel.

pub mod resources;

use std::borrow::Cow;
use std::fmt;

/// A quantity in thousandths of its unit (millicores for CPU, millibytes for memory).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Quantity(i128);

/// Why a string is not a quantity.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError(String);

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$': {}",
            self.0
        )
    }
}

impl std::error::Error for ParseError {}

/// Kubernetes refuses quantities past this many thousandths (2^63 - 1 units).
const LIMIT: i128 = (i64::MAX as i128) * 1000;

impl Quantity {
    /// Zero.
    pub const ZERO: Quantity = Quantity(0);

    /// A quantity of `milli` thousandths.
    pub fn from_milli(milli: i128) -> Quantity {
        Quantity(milli)
    }

    /// A quantity of whole `units`.
    pub fn from_units(units: i64) -> Quantity {
        Quantity(i128::from(units) * 1000)
    }

    /// The value in thousandths (CPU in millicores).
    pub fn milli(self) -> i128 {
        self.0
    }

    /// The value in whole units, rounded up (memory in bytes, counts).
    pub fn units(self) -> i128 {
        self.0.div_euclid(1000) + i128::from(self.0.rem_euclid(1000) != 0)
    }

    /// Whether the quantity is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// `self + other`, saturating.
    pub fn plus(self, other: Quantity) -> Quantity {
        Quantity(self.0.saturating_add(other.0))
    }

    /// `self - other`, saturating.
    pub fn minus(self, other: Quantity) -> Quantity {
        Quantity(self.0.saturating_sub(other.0))
    }

    /// Parses a quantity string.
    pub fn parse(text: &str) -> Result<Quantity, ParseError> {
        let bad = || ParseError(format!("{text:?}"));
        let s = text.trim();
        let (negative, s) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        let number_end = s
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(s.len());
        let (number, suffix) = s.split_at(number_end);
        let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
        if (whole.is_empty() && fraction.is_empty()) || fraction.contains('.') {
            return Err(bad());
        }
        // The digits as an integer (at most 30 of them past leading zeros), and the power
        // of ten that scales them.
        let mut mantissa: i128 = 0;
        let mut significant = 0;
        for digit in whole.bytes().chain(fraction.bytes()) {
            let digit = i128::from(digit - b'0');
            if significant == 0 && digit == 0 {
                continue;
            }
            significant += 1;
            if significant > 30 {
                return Err(bad());
            }
            mantissa = mantissa * 10 + digit;
        }
        let mut exp10 = -(fraction.len() as i32);
        let mut multiplier: i128 = 1;
        match suffix {
            "" => {}
            "Ki" => multiplier = 1 << 10,
            "Mi" => multiplier = 1 << 20,
            "Gi" => multiplier = 1 << 30,
            "Ti" => multiplier = 1 << 40,
            "Pi" => multiplier = 1 << 50,
            "Ei" => multiplier = 1 << 60,
            "n" => exp10 -= 9,
            "u" => exp10 -= 6,
            "m" => exp10 -= 3,
            "k" => exp10 += 3,
            "M" => exp10 += 6,
            "G" => exp10 += 9,
            "T" => exp10 += 12,
            "P" => exp10 += 15,
            "E" => exp10 += 18,
            exponent if exponent.starts_with(['e', 'E']) => {
                let e: i32 = exponent[1..].parse().map_err(|_| bad())?;
                if !(-40..=40).contains(&e) {
                    return Err(bad());
                }
                exp10 += e;
            }
            _ => return Err(bad()),
        }
        // Thousandths: scale by 10^(exp10 + 3), rounding up what is finer.
        let scale = exp10 + 3;
        let magnitude = if scale >= 0 {
            10i128
                .checked_pow(scale as u32)
                .and_then(|p| mantissa.checked_mul(p))
                .and_then(|v| v.checked_mul(multiplier))
        } else {
            let divisor = 10i128.checked_pow((-scale) as u32);
            match divisor {
                None => Some(i128::from(mantissa != 0)),
                Some(d) => mantissa
                    .checked_mul(multiplier)
                    .map(|v| v / d + i128::from(v % d != 0)),
            }
        }
        .filter(|v| *v <= LIMIT)
        .ok_or_else(bad)?;
        Ok(Quantity(if negative { -magnitude } else { magnitude }))
    }
}

/// The number format a quantity was written in, which Kubernetes' canonical form keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// Decimal suffixes (`m`, `k`, `M`, ...) or none.
    DecimalSi,
    /// Binary suffixes (`Ki`, `Mi`, ...).
    BinarySi,
    /// An exponent (`1e3`).
    DecimalExponent,
}

impl Format {
    /// The format of a quantity written as `text`.
    pub fn of(text: &str) -> Format {
        let suffix = text
            .trim()
            .trim_start_matches(['+', '-'])
            .trim_start_matches(|c: char| c.is_ascii_digit() || c == '.');
        if suffix.ends_with('i') {
            Format::BinarySi
        } else if suffix.len() > 1 && suffix.starts_with(['e', 'E']) {
            Format::DecimalExponent
        } else {
            Format::DecimalSi
        }
    }
}

/// The text of a quantity in an object: a JSON string, or a number's JSON text (Kubernetes
/// accepts both); `None` for anything else.
pub fn json_text(value: &serde_json::Value) -> Option<Cow<'_, str>> {
    match value {
        serde_json::Value::String(s) => Some(Cow::Borrowed(s.trim())),
        serde_json::Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

impl Quantity {
    /// The quantity in a JSON value (see [`json_text`]); `None` for a value that is not a
    /// string or number, or a string that is not a quantity.
    pub fn from_json(value: &serde_json::Value) -> Option<Quantity> {
        Quantity::parse(&json_text(value)?).ok()
    }

    /// The quantity as Kubernetes prints one written in `format` (`Quantity.String()`):
    /// binary suffixes for whole multiples of 1024, otherwise the smallest mantissa the
    /// decimal suffixes (or exponents) allow without losing precision: `1k`, `500m`, `1Gi`.
    pub fn to_kubernetes_string(self, format: Format) -> String {
        let milli = self.0;
        if milli == 0 {
            return "0".into();
        }
        if format == Format::BinarySi && milli.abs() >= 1024 * 1000 && milli % 1000 == 0 {
            let mut value = milli / 1000;
            let mut power = 0;
            while value % 1024 == 0 && power < 6 {
                value /= 1024;
                power += 1;
            }
            let suffix = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"][power];
            return format!("{value}{suffix}");
        }
        // Decimal: the value is milli x 10^-3; drop trailing zeros, then round the exponent
        // down to a multiple of three.
        let mut mantissa = milli;
        let mut exponent: i32 = -3;
        while mantissa % 10 == 0 {
            mantissa /= 10;
            exponent += 1;
        }
        while exponent.rem_euclid(3) != 0 {
            mantissa *= 10;
            exponent -= 1;
        }
        let suffix = match (format, exponent) {
            (_, 0) => String::new(),
            (Format::DecimalExponent, e) => format!("e{e}"),
            (_, -3) => "m".into(),
            (_, 3) => "k".into(),
            (_, 6) => "M".into(),
            (_, 9) => "G".into(),
            (_, 12) => "T".into(),
            (_, 15) => "P".into(),
            (_, 18) => "E".into(),
            (_, e) => format!("e{e}"),
        };
        format!("{mantissa}{suffix}")
    }
}

impl std::str::FromStr for Quantity {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Quantity, ParseError> {
        Quantity::parse(s)
    }
}

impl fmt::Display for Quantity {
    /// The canonical form: whole units with the largest binary suffix that is exact when the
    /// value is a multiple of 1024, otherwise plain units, or millis (`250m`) for fractions.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let milli = self.0;
        if milli % 1000 != 0 {
            return write!(f, "{milli}m");
        }
        let units = milli / 1000;
        if units != 0 && units % 1024 == 0 {
            let mut value = units;
            let mut suffix = 0;
            while value % 1024 == 0 && suffix < 6 {
                value /= 1024;
                suffix += 1;
            }
            let suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
            return write!(f, "{value}{}", suffixes[suffix]);
        }
        write!(f, "{units}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn milli(s: &str) -> i128 {
        match Quantity::parse(s) {
            Ok(q) => q.milli(),
            Err(e) => panic!("{s}: {e}"),
        }
    }

    #[test]
    fn parses_every_suffix_family() {
        assert_eq!(milli("100m"), 100);
        assert_eq!(milli("0.5"), 500);
        assert_eq!(milli("2"), 2000);
        assert_eq!(milli("1Ki"), 1024 * 1000);
        assert_eq!(milli("1.5Gi"), 3 * (1 << 29) * 1000);
        assert_eq!(milli("128974848"), 128_974_848_000);
        assert_eq!(milli("129e6"), 129_000_000_000);
        assert_eq!(milli("123Mi"), 123 * (1 << 20) * 1000);
        assert_eq!(milli("1k"), 1_000_000);
        assert_eq!(milli("1E-3"), 1);
        assert_eq!(milli("-1"), -1000);
        assert_eq!(milli("+3"), 3000);
        assert_eq!(milli(".5"), 500);
    }

    #[test]
    fn finer_than_milli_rounds_up_like_milli_value() {
        assert_eq!(milli("1n"), 1);
        assert_eq!(milli("1500u"), 2);
        assert_eq!(milli("0"), 0);
    }

    #[test]
    fn leading_zeros_are_not_digits_that_count() {
        assert_eq!(milli("0000000000000000000000000000000000000002"), 2000);
        assert_eq!(milli("00.000"), 0);
        assert_eq!(milli("0.0000000000000000000000000000000001"), 1);
        // Thirty significant digits parse (rounded up to thousandths); thirty-one do not.
        assert_eq!(milli("0.123456789012345678901234567890"), 124);
        assert!(Quantity::parse("0.1234567890123456789012345678901").is_err());
    }

    #[test]
    fn refuses_what_kubernetes_refuses() {
        for bad in [
            "",
            "abc",
            "1.2.3",
            "1Kb",
            "1 Gi",
            "m",
            "1e",
            "9999999999999999999999Ei",
        ] {
            assert!(Quantity::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn prints_canonically_and_round_trips() {
        for (input, printed) in [
            ("250m", "250m"),
            ("2", "2"),
            ("1024", "1Ki"),
            ("1Gi", "1Gi"),
            ("1.5Gi", "1536Mi"),
            ("1000", "1000"),
            ("0", "0"),
        ] {
            let q = Quantity::parse(input).unwrap_or_default();
            assert_eq!(q.to_string(), printed, "{input}");
            assert_eq!(Quantity::parse(printed), Ok(q));
        }
    }

    #[test]
    fn arithmetic_and_units() {
        let a = Quantity::parse("1500m").unwrap_or_default();
        assert_eq!(a.units(), 2);
        assert_eq!(a.plus(Quantity::from_units(1)).milli(), 2500);
        assert_eq!(a.minus(Quantity::from_milli(500)), Quantity::from_units(1));
        assert!(Quantity::ZERO.is_zero());
    }

    #[test]
    fn formats_and_json_text() {
        assert_eq!(Format::of("1Gi"), Format::BinarySi);
        assert_eq!(Format::of("1e3"), Format::DecimalExponent);
        assert_eq!(Format::of("1E"), Format::DecimalSi, "E alone is exa");
        assert_eq!(Format::of("500m"), Format::DecimalSi);
        assert_eq!(
            json_text(&serde_json::json!(" 2Gi ")).as_deref(),
            Some("2Gi")
        );
        assert_eq!(json_text(&serde_json::json!(3)).as_deref(), Some("3"));
        assert_eq!(json_text(&serde_json::json!(true)), None);
        assert_eq!(
            Quantity::from_json(&serde_json::json!("1k")),
            Some(Quantity::from_units(1000))
        );
        assert_eq!(Quantity::from_json(&serde_json::json!("x")), None);
        let k = |s: &str| {
            Quantity::parse(s)
                .map(|q| q.to_kubernetes_string(Format::of(s)))
                .unwrap_or_default()
        };
        assert_eq!(
            (k("1000"), k("1024Mi"), k("0.5"), k("1e3")),
            ("1k".into(), "1Gi".into(), "500m".into(), "1e3".into())
        );
    }
}

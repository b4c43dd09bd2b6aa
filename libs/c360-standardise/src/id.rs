//! National identity numbers.

/// Country prefixes stripped from the front of an ID, longest first.
const COUNTRY_PREFIXES: &[&str] = &["CIV", "SEN", "MLI", "BFA", "CI", "SN", "ML", "BF"];

/// Normalises a national ID number: uppercase, keep only ASCII letters and digits
/// (spaces, dashes, dots, slashes and any other punctuation are removed), then strip a
/// leading country prefix (CI, CIV, SN, SEN, ML, MLI, BF, BFA) when what remains is
/// non-empty and still contains a digit.
///
/// `None` when nothing is left, when there is no digit (`"N/A"`, `"NEANT"`) or when
/// every digit is zero (`"0000"`).
pub fn normalise_national_id(raw: &str) -> Option<String> {
    let mut id = String::with_capacity(raw.len());
    id.extend(
        raw.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase()),
    );
    if !id.bytes().any(|b| b.is_ascii_digit() && b != b'0') {
        return None;
    }
    let prefix_length = COUNTRY_PREFIXES
        .iter()
        .find(|prefix| {
            id.strip_prefix(*prefix)
                .is_some_and(|rest| rest.bytes().any(|b| b.is_ascii_digit()))
        })
        .map_or(0, |prefix| prefix.len());
    id.drain(..prefix_length);
    Some(id)
}

/// A normalised national ID without its leading letters ("C0012345678" and
/// "CI-0012-3456-78" are one Ivorian ID written two ways), when at least six
/// characters are left; else the ID itself.
pub fn national_id_core(id: &str) -> &str {
    let core = id.trim_start_matches(|c: char| c.is_ascii_alphabetic());
    if core.len() >= 6 { core } else { id }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn national_id_table() {
        let cases = [
            ("C 0012 3456 78", Some("C0012345678")),
            ("c-0012-3456-78", Some("C0012345678")),
            ("CI 004 520 376", Some("004520376")),
            ("CI004520376", Some("004520376")),
            ("CIV-004.520/376", Some("004520376")),
            ("SN 1 751 1985 01234", Some("1751198501234")),
            ("SEN1751198501234", Some("1751198501234")),
            ("ML 12345", Some("12345")),
            ("MLI12345", Some("12345")),
            ("BF B1234567", Some("B1234567")),
            ("BFA-B1234567", Some("B1234567")),
            ("B1234567", Some("B1234567")),
            ("CIX", None),
            ("CI", None),
            ("SNA1", Some("A1")),
            ("N/A", None),
            ("NEANT", None),
            ("néant", None),
            ("0000", None),
            ("00-00", None),
            ("", None),
            ("   ", None),
            ("CI0000", None),
            ("CI1", Some("1")),
            ("ci 12", Some("12")),
        ];
        for (raw, expected) in cases {
            assert_eq!(normalise_national_id(raw).as_deref(), expected, "{raw}");
        }
    }

    proptest! {
        #[test]
        fn output_is_uppercase_alnum(raw in any::<String>()) {
            if let Some(id) = normalise_national_id(&raw) {
                prop_assert!(!id.is_empty());
                prop_assert!(id.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()));
                prop_assert!(id.bytes().any(|b| b.is_ascii_digit()));
            }
        }
    }
}

//! Sex / gender codes.

use crate::text::fold;

/// Sex as recorded on the client file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Sex {
    /// Male.
    Male,
    /// Female.
    Female,
}

/// Spellings of male (folded).
const MALE: &[&str] = &[
    "1", "garcon", "h", "homme", "m", "male", "man", "masc", "masculin", "monsieur", "mr",
];
/// Spellings of female (folded).
const FEMALE: &[&str] = &[
    "2",
    "f",
    "fem",
    "female",
    "feminin",
    "femme",
    "fille",
    "madame",
    "mademoiselle",
    "mlle",
    "mme",
    "woman",
];

/// Parses `M`, `H`, `homme`, `masculin`, `male`, `1`, `F`, `femme`, `féminin`,
/// `female`, `2` (and a few more: `garçon`, `fille`, `Mr`, `Mme`...), ignoring case,
/// accents, surrounding spaces and punctuation. `None` when unknown.
pub fn parse_sex(raw: &str) -> Option<Sex> {
    let trimmed = raw.trim();
    if trimmed.len() == 1 {
        return single_letter(trimmed.as_bytes()[0]);
    }
    let folded = fold(trimmed);
    if MALE.binary_search(&folded.as_str()).is_ok() {
        return Some(Sex::Male);
    }
    if FEMALE.binary_search(&folded.as_str()).is_ok() {
        return Some(Sex::Female);
    }
    None
}

fn single_letter(byte: u8) -> Option<Sex> {
    match byte.to_ascii_lowercase() {
        b'm' | b'h' | b'1' => Some(Sex::Male),
        b'f' | b'2' => Some(Sex::Female),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sex_table() {
        let cases = [
            ("M", Some(Sex::Male)),
            ("m", Some(Sex::Male)),
            ("H", Some(Sex::Male)),
            ("homme", Some(Sex::Male)),
            ("HOMME", Some(Sex::Male)),
            ("Masculin", Some(Sex::Male)),
            ("male", Some(Sex::Male)),
            ("1", Some(Sex::Male)),
            (" 1 ", Some(Sex::Male)),
            ("M.", Some(Sex::Male)),
            ("Garçon", Some(Sex::Male)),
            ("F", Some(Sex::Female)),
            ("f", Some(Sex::Female)),
            ("femme", Some(Sex::Female)),
            ("Féminin", Some(Sex::Female)),
            ("FEMININ", Some(Sex::Female)),
            ("female", Some(Sex::Female)),
            ("2", Some(Sex::Female)),
            ("Mme", Some(Sex::Female)),
            ("", None),
            ("X", None),
            ("0", None),
            ("3", None),
            ("inconnu", None),
            ("é", None),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse_sex(raw), expected, "{raw}");
        }
    }

    #[test]
    fn tables_sorted() {
        for table in [MALE, FEMALE] {
            assert!(table.windows(2).all(|w| w[0] < w[1]));
        }
    }

    proptest! {
        #[test]
        fn never_panics(raw in any::<String>()) {
            let _ = parse_sex(&raw);
        }
    }
}

//! Identity-number schemes: which IDs are valid numbers of a known scheme.
//!
//! Two IDs that differ are proof of two people only when both are valid
//! numbers of one scheme (an ID card number checked at enrolment). An ID
//! of unknown shape (a customer number typed in the ID field, a benchmark's
//! corrupted social security number) that differs is evidence whose weight
//! the model learns, not a veto.

/// Schemes recognised, by number (the index + 1 is the scheme id).
///
/// - `CI`: Côte d'Ivoire national identity card, `C` and ten digits (the
///   country prefix and the letter are often left out: ten digits).
/// - `SN`: Senegal, thirteen digits, the first 1 or 2 (sex).
/// - `ML`: Mali, fourteen digits and a letter (or the digits alone).
/// - `BF`: Burkina Faso, `B` and eight digits (or the digits alone).
pub const SCHEMES: [&str; 4] = ["CI", "SN", "ML", "BF"];

/// The scheme a normalised ID ([`c360_standardise::id::normalise_national_id`])
/// is valid in, as an index into [`SCHEMES`] plus one.
pub fn scheme_of(id: &str) -> Option<u8> {
    let b = id.as_bytes();
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    match b.len() {
        11 if b[0] == b'C' && digits(&b[1..]) => Some(1),
        10 if digits(b) => Some(1),
        13 if digits(b) && matches!(b[0], b'1' | b'2') => Some(2),
        15 if digits(&b[..14]) && b[14].is_ascii_uppercase() => Some(3),
        14 if digits(b) => Some(3),
        9 if b[0] == b'B' && digits(&b[1..]) => Some(4),
        8 if digits(b) => Some(4),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schemes() {
        assert_eq!(scheme_of("C0012345678"), Some(1));
        assert_eq!(scheme_of("0012345678"), Some(1));
        assert_eq!(scheme_of("12345678"), Some(4));
        assert_eq!(scheme_of("1751198501234"), Some(2));
        assert_eq!(scheme_of("12345678901234K"), Some(3));
        assert_eq!(scheme_of("B12345678"), Some(4));
        // A seven-digit number of no known scheme (FEBRL's), a customer number.
        assert_eq!(scheme_of("1804974"), None);
        assert_eq!(scheme_of("CBS00482913"), None);
    }
}

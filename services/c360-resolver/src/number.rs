//! Client numbers: human-friendly, checked, never reused.
//!
//! A number is `C`, seven Crockford base32 digits of a sequence, and a
//! Crockford check symbol (the sequence mod 37), e.g. `C000001Q1`... Typing
//! mistakes (one wrong or two swapped characters) change the check and are
//! rejected. Lower case, `O` for `0` and `I`/`L` for `1` are accepted, as
//! Crockford specifies; hyphens and spaces are ignored.

use std::fmt;
use std::str::FromStr;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
const CHECK_ALPHABET: &[u8; 37] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";
const DIGITS: usize = 7;

/// A client number (the sequence behind it is never reused).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientNumber(u64);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NumberError {
    #[error("client number must look like C + 7 characters + a check character")]
    Shape,
    #[error("client number has a character outside Crockford base32")]
    Character,
    #[error("client number check character does not match: mistyped?")]
    Check,
}

impl ClientNumber {
    pub const MAX: u64 = 32u64.pow(DIGITS as u32) - 1;

    pub fn from_sequence(sequence: u64) -> Self {
        assert!(sequence <= Self::MAX, "client number space exhausted");
        ClientNumber(sequence)
    }

    pub fn sequence(self) -> u64 {
        self.0
    }
}

impl fmt::Display for ClientNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut digits = [b'0'; DIGITS];
        let mut n = self.0;
        for d in digits.iter_mut().rev() {
            *d = ALPHABET[(n % 32) as usize];
            n /= 32;
        }
        let check = CHECK_ALPHABET[(self.0 % 37) as usize] as char;
        write!(
            f,
            "C{}{check}",
            std::str::from_utf8(&digits).map_err(|_| fmt::Error)?
        )
    }
}

fn digit_value(c: u8) -> Option<u64> {
    let c = match c.to_ascii_uppercase() {
        b'O' => b'0',
        b'I' | b'L' => b'1',
        other => other,
    };
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u64)
}

impl FromStr for ClientNumber {
    type Err = NumberError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let cleaned: Vec<u8> = s.bytes().filter(|b| !matches!(b, b'-' | b' ')).collect();
        if cleaned.len() != DIGITS + 2 || !cleaned[0].eq_ignore_ascii_case(&b'C') {
            return Err(NumberError::Shape);
        }
        let mut n = 0u64;
        for &c in &cleaned[1..=DIGITS] {
            n = n * 32 + digit_value(c).ok_or(NumberError::Character)?;
        }
        let check = cleaned[DIGITS + 1].to_ascii_uppercase();
        let expected = CHECK_ALPHABET[(n % 37) as usize];
        let check = match check {
            b'O' => b'0',
            b'I' | b'L' => b'1',
            other => other,
        };
        if check != expected {
            return Err(NumberError::Check);
        }
        Ok(ClientNumber(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn format_and_parse() {
        let n = ClientNumber::from_sequence(1);
        assert_eq!(n.to_string(), "C00000011");
        assert_eq!("c0000001-1".parse::<ClientNumber>().unwrap(), n);
        assert_eq!("C000000I1".parse::<ClientNumber>().unwrap(), n);
        assert_eq!("C00000012".parse::<ClientNumber>(), Err(NumberError::Check));
        assert_eq!("C0000001".parse::<ClientNumber>(), Err(NumberError::Shape));
        assert_eq!(
            "C0000U011".parse::<ClientNumber>(),
            Err(NumberError::Character)
        );
    }

    proptest! {
        #[test]
        fn round_trip(seq in 0u64..=ClientNumber::MAX) {
            let n = ClientNumber::from_sequence(seq);
            prop_assert_eq!(n.to_string().parse::<ClientNumber>().unwrap(), n);
        }

        /// One wrong character is always caught.
        #[test]
        fn single_substitution_is_rejected(seq in 0u64..=ClientNumber::MAX, pos in 1usize..9, sym in 0usize..32) {
            let text = ClientNumber::from_sequence(seq).to_string();
            let mut bytes = text.clone().into_bytes();
            let replacement = if pos == 8 { CHECK_ALPHABET[sym] } else { ALPHABET[sym] };
            prop_assume!(bytes[pos] != replacement);
            bytes[pos] = replacement;
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert!(typo.parse::<ClientNumber>().is_err(), "{} accepted for {}", typo, text);
        }

        /// Two swapped adjacent digits are caught.
        #[test]
        fn transposition_is_rejected(seq in 0u64..=ClientNumber::MAX, pos in 1usize..7) {
            let text = ClientNumber::from_sequence(seq).to_string();
            let mut bytes = text.clone().into_bytes();
            prop_assume!(bytes[pos] != bytes[pos + 1]);
            bytes.swap(pos, pos + 1);
            let typo = String::from_utf8(bytes).unwrap();
            prop_assert!(typo.parse::<ClientNumber>().is_err(), "{} accepted for {}", typo, text);
        }
    }
}

//! Phone numbers to E.164.
//!
//! Côte d'Ivoire (CI), Senegal (SN), Mali (ML) and Burkina Faso (BF) go through a
//! hand-written digits-only path (no regex, one allocation: the output). Any other
//! country, as default or as the prefix written in the number, is delegated to the
//! `phonenumber` crate (libphonenumber metadata).
//!
//! # Côte d'Ivoire numbering-plan migration (ARTCI, 31 January 2021)
//!
//! Numbers went from 8 to 10 digits. Legacy 8-digit numbers are migrated so that the old
//! and new spellings of one line compare equal:
//!
//! * Legacy mobile (first digit not 2 or 3): the operator prefix is chosen by the
//!   **second** digit: `0`–`3` → `01` (Moov), `4`–`6` → `05` (MTN), `7`–`9` → `07`
//!   (Orange). `07 12 34 56` → `07 07 12 34 56`; `44 55 66 77` → `05 44 55 66 77`.
//! * Legacy fixed line (first digit 2 or 3): the prefix is chosen by the **third**
//!   digit: `8` → `21` (Moov), `0` → `25` (MTN), anything else → `27` (Orange).
//!   `20 21 22 23` → `27 20 21 22 23`.
//!
//! Ten-digit CI numbers must start with `01`, `05`, `07` (mobile) or `21`, `25`, `27`
//! (fixed).
//!
//! A nine-digit CI number starting with `1` or `5` is a ten-digit Moov or MTN mobile
//! number whose leading zero a spreadsheet dropped (the column was read as a number):
//! `544556677` → `+2250544556677`. Nine digits starting with `7` stay rejected: that is
//! also how a Senegalese mobile number is written (`77 123 45 67`), which the caller
//! may try next.

use std::str::FromStr;

use phonenumber::country::Id as CountryId;

/// Why a phone number was rejected. Messages never contain the number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    /// The default country is not an ISO 3166 alpha-2 code known to the metadata.
    #[error("unknown country code for phone numbers")]
    UnknownCountry,
    /// Nothing but separators.
    #[error("phone is empty")]
    Empty,
    /// Letters or other characters that are neither digits nor separators.
    #[error("phone contains characters other than digits and separators")]
    InvalidCharacter,
    /// Too many digits to be a single phone number.
    #[error("phone has too many digits")]
    TooManyDigits,
    /// Wrong digit count for a fast-path country.
    #[error("phone has {digits} digits, expected {expected} for {country}")]
    WrongLength {
        /// Digits of the national number.
        digits: usize,
        /// Accepted lengths, e.g. "8 or 10".
        expected: &'static str,
        /// ISO country code.
        country: &'static str,
    },
    /// The national number starts with a prefix that is not allocated.
    #[error("phone prefix is not allocated in {country}")]
    InvalidPrefix {
        /// ISO country code.
        country: &'static str,
    },
    /// Rejected by the libphonenumber metadata (other countries).
    #[error("phone is not a valid number for its country")]
    InvalidNumber,
}

/// The countries with a hand-written path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FastCountry {
    CoteDIvoire,
    Senegal,
    Mali,
    BurkinaFaso,
}

impl FastCountry {
    const ALL: [Self; 4] = [
        Self::CoteDIvoire,
        Self::Senegal,
        Self::Mali,
        Self::BurkinaFaso,
    ];

    fn iso(self) -> &'static str {
        match self {
            Self::CoteDIvoire => "CI",
            Self::Senegal => "SN",
            Self::Mali => "ML",
            Self::BurkinaFaso => "BF",
        }
    }

    fn calling_code(self) -> &'static [u8] {
        match self {
            Self::CoteDIvoire => b"225",
            Self::Senegal => b"221",
            Self::Mali => b"223",
            Self::BurkinaFaso => b"226",
        }
    }

    fn from_iso(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.iso() == code)
    }

    fn from_international(digits: &[u8]) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| digits.starts_with(c.calling_code()))
    }

    /// Is `national` (without calling code) a complete national number length?
    fn is_national_length(self, length: usize) -> bool {
        match self {
            Self::CoteDIvoire => length == 10 || length == 8,
            Self::Senegal => length == 9,
            Self::Mali | Self::BurkinaFaso => length == 8,
        }
    }

    fn expected_lengths(self) -> &'static str {
        match self {
            Self::CoteDIvoire => "8 or 10",
            Self::Senegal => "9",
            Self::Mali | Self::BurkinaFaso => "8",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum DefaultCountry {
    Fast(FastCountry),
    Other(CountryId),
}

/// Normalises phone numbers to E.164, reading numbers without an international prefix
/// as numbers of `default_country`.
#[derive(Debug, Clone)]
pub struct PhoneNormaliser {
    iso_code: String,
    country: DefaultCountry,
}

/// Longest digit string accepted: "00" + 15 digits.
const MAX_DIGITS: usize = 17;

/// Digits of a raw phone string, kept on the stack.
struct Digits {
    buffer: [u8; MAX_DIGITS],
    length: usize,
    plus: bool,
}

impl Digits {
    fn as_slice(&self) -> &[u8] {
        &self.buffer[..self.length]
    }
}

impl PhoneNormaliser {
    /// `default_country` is an ISO 3166 alpha-2 code (case-insensitive); CI, SN, ML and
    /// BF use the fast path, every other code known to libphonenumber is delegated.
    pub fn new(default_country: &str) -> Result<Self, PhoneError> {
        let iso_code = default_country.trim().to_ascii_uppercase();
        if let Some(fast) = FastCountry::from_iso(&iso_code) {
            return Ok(Self {
                iso_code,
                country: DefaultCountry::Fast(fast),
            });
        }
        if iso_code.len() != 2 || !iso_code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(PhoneError::UnknownCountry);
        }
        let id = CountryId::from_str(&iso_code).map_err(|_| PhoneError::UnknownCountry)?;
        Ok(Self {
            iso_code,
            country: DefaultCountry::Other(id),
        })
    }

    /// The default country, uppercase ISO code.
    pub fn default_country(&self) -> &str {
        &self.iso_code
    }

    /// Normalises a raw phone number to E.164 (`+2250707123456`).
    ///
    /// Accepts spaces, dots, dashes, slashes, parentheses, a leading `+`, `00` or the
    /// bare calling code followed by a full national number, and migrates legacy 8-digit
    /// Ivorian numbers (see the module documentation).
    pub fn normalise(&self, raw: &str) -> Result<String, PhoneError> {
        let digits = extract_digits(raw)?;
        let all = digits.as_slice();
        if digits.plus {
            return international(all);
        }
        if let Some(after_prefix) = all.strip_prefix(b"00") {
            // "00 45 92 67": an old 8-digit Ivorian number starting with 00,
            // not the international prefix (no country number is that short).
            return international(after_prefix).or_else(|error| match self.country {
                DefaultCountry::Fast(country) if country.is_national_length(all.len()) => {
                    national_fast(country, all).map_err(|_| error)
                }
                _ => Err(error),
            });
        }
        match self.country {
            DefaultCountry::Fast(country) => national_fast(country, all),
            DefaultCountry::Other(id) => delegate_national(id, all),
        }
    }
}

/// The phone rule every service applies: a number is read under the record's country
/// when it is one of the supported West-African countries, else under the default
/// country, then under each other supported country in turn (a Senegalese number
/// written nationally in an Ivorian file is still a number). Matching, the golden
/// record and the contact points all accept exactly the numbers this accepts.
#[derive(Debug, Clone)]
pub struct Phones {
    default: PhoneNormaliser,
    /// The supported countries other than the default, in a fixed order.
    others: Vec<PhoneNormaliser>,
}

impl Phones {
    /// `default_country` as for [`PhoneNormaliser::new`].
    pub fn new(default_country: &str) -> Result<Self, PhoneError> {
        let default = PhoneNormaliser::new(default_country)?;
        let others = FastCountry::ALL
            .into_iter()
            .map(FastCountry::iso)
            .filter(|&iso| iso != default.default_country())
            .filter_map(|iso| PhoneNormaliser::new(iso).ok())
            .collect();
        Ok(Phones { default, others })
    }

    /// The default country, uppercase ISO code.
    pub fn default_country(&self) -> &str {
        self.default.default_country()
    }

    /// `raw` in E.164. `country` is the record's own country as an ISO code
    /// ([`crate::places::country_code`]), tried first when it is a supported country
    /// other than the default. The error is the default country's.
    pub fn e164(&self, raw: &str, country: Option<&str>) -> Result<String, PhoneError> {
        let by_record = country
            .filter(|&c| c != self.default.default_country())
            .and_then(|c| self.others.iter().find(|p| p.default_country() == c));
        if let Some(first) = by_record
            && let Ok(e164) = first.normalise(raw)
        {
            return Ok(e164);
        }
        let error = match self.default.normalise(raw) {
            Ok(e164) => return Ok(e164),
            Err(e) => e,
        };
        self.others
            .iter()
            .find_map(|p| p.normalise(raw).ok())
            .ok_or(error)
    }
}

fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '.' | '-' | '/' | '(' | ')' | '\u{a0}' | '\u{202f}' | '\t' | '_'
    )
}

/// Collects the digits; a `+` is accepted only before the first digit.
fn extract_digits(raw: &str) -> Result<Digits, PhoneError> {
    let mut digits = Digits {
        buffer: [0; MAX_DIGITS],
        length: 0,
        plus: false,
    };
    for c in raw.chars() {
        if c.is_ascii_digit() {
            if digits.length == MAX_DIGITS {
                return Err(PhoneError::TooManyDigits);
            }
            digits.buffer[digits.length] = c as u8;
            digits.length += 1;
        } else if c == '+' && digits.length == 0 && !digits.plus {
            digits.plus = true;
        } else if !is_separator(c) {
            return Err(PhoneError::InvalidCharacter);
        }
    }
    if digits.length == 0 {
        return Err(PhoneError::Empty);
    }
    Ok(digits)
}

/// `digits` start with a calling code.
fn international(digits: &[u8]) -> Result<String, PhoneError> {
    if digits.is_empty() {
        return Err(PhoneError::Empty);
    }
    if digits.len() > 15 {
        return Err(PhoneError::TooManyDigits);
    }
    match FastCountry::from_international(digits) {
        Some(country) => {
            let national = &digits[country.calling_code().len()..];
            fast_country_number(country, strip_stray_trunk_zero(country, national))
        }
        None => delegate_international(digits),
    }
}

/// "+221 0 77 ..." style: a zero written after the calling code in countries whose
/// numbers never start with 0.
fn strip_stray_trunk_zero(country: FastCountry, national: &[u8]) -> &[u8] {
    if country != FastCountry::CoteDIvoire
        && national.first() == Some(&b'0')
        && country.is_national_length(national.len() - 1)
    {
        return &national[1..];
    }
    national
}

/// No international prefix: either a national number or "225" + national number.
fn national_fast(country: FastCountry, digits: &[u8]) -> Result<String, PhoneError> {
    if !country.is_national_length(digits.len())
        && let Some(other) = FastCountry::from_international(digits)
    {
        let rest = &digits[other.calling_code().len()..];
        if other.is_national_length(rest.len()) {
            return fast_country_number(other, rest);
        }
    }
    fast_country_number(country, digits)
}

fn fast_country_number(country: FastCountry, national: &[u8]) -> Result<String, PhoneError> {
    match country {
        FastCountry::CoteDIvoire => cote_divoire(national),
        FastCountry::Senegal => simple_plan(country, national, |d| {
            matches!(d[0], b'3' | b'7' | b'8') || d.starts_with(b"93")
        }),
        FastCountry::Mali => simple_plan(country, national, |d| matches!(d[0], b'2' | b'4'..=b'9')),
        FastCountry::BurkinaFaso => simple_plan(country, national, |d| {
            matches!(d[0], b'0' | b'2' | b'4'..=b'7')
        }),
    }
}

fn wrong_length(country: FastCountry, national: &[u8]) -> PhoneError {
    PhoneError::WrongLength {
        digits: national.len(),
        expected: country.expected_lengths(),
        country: country.iso(),
    }
}

/// Senegal, Mali, Burkina Faso: fixed length, leading digits checked by `prefix_ok`
/// (from the libphonenumber general descriptions).
fn simple_plan(
    country: FastCountry,
    national: &[u8],
    prefix_ok: impl Fn(&[u8]) -> bool,
) -> Result<String, PhoneError> {
    if !country.is_national_length(national.len()) {
        return Err(wrong_length(country, national));
    }
    if !prefix_ok(national) {
        return Err(PhoneError::InvalidPrefix {
            country: country.iso(),
        });
    }
    Ok(e164(country.calling_code(), &[], national))
}

fn cote_divoire(national: &[u8]) -> Result<String, PhoneError> {
    let country = FastCountry::CoteDIvoire;
    match national.len() {
        10 => {
            let allocated = matches!(
                &national[..2],
                b"01" | b"05" | b"07" | b"21" | b"25" | b"27"
            );
            if !allocated {
                return Err(PhoneError::InvalidPrefix {
                    country: country.iso(),
                });
            }
            Ok(e164(country.calling_code(), &[], national))
        }
        // A Moov or MTN mobile number that lost its leading zero in a spreadsheet.
        9 if matches!(national[0], b'1' | b'5') => Ok(e164(country.calling_code(), b"0", national)),
        8 => Ok(e164(
            country.calling_code(),
            legacy_ci_prefix(national),
            national,
        )),
        _ => Err(wrong_length(country, national)),
    }
}

/// Two-digit prefix that the 2021 ARTCI migration added in front of a legacy 8-digit
/// Ivorian number (see the module documentation). `legacy` has 8 digits.
fn legacy_ci_prefix(legacy: &[u8]) -> &'static [u8] {
    let is_fixed = matches!(legacy[0], b'2' | b'3');
    if is_fixed {
        return match legacy[2] {
            b'8' => b"21",
            b'0' => b"25",
            _ => b"27",
        };
    }
    match legacy[1] {
        b'0'..=b'3' => b"01",
        b'4'..=b'6' => b"05",
        _ => b"07",
    }
}

fn e164(calling_code: &[u8], prefix: &[u8], national: &[u8]) -> String {
    let mut out = String::with_capacity(1 + calling_code.len() + prefix.len() + national.len());
    out.push('+');
    for &digit in calling_code.iter().chain(prefix).chain(national) {
        out.push(char::from(digit));
    }
    out
}

fn ascii_digits(digits: &[u8]) -> &str {
    std::str::from_utf8(digits).expect("digits are ASCII")
}

fn delegate_international(digits: &[u8]) -> Result<String, PhoneError> {
    let mut text = String::with_capacity(digits.len() + 1);
    text.push('+');
    text.push_str(ascii_digits(digits));
    delegate(None, &text)
}

fn delegate_national(id: CountryId, digits: &[u8]) -> Result<String, PhoneError> {
    delegate(Some(id), ascii_digits(digits))
}

fn delegate(country: Option<CountryId>, text: &str) -> Result<String, PhoneError> {
    let number = phonenumber::parse(country, text).map_err(|_| PhoneError::InvalidNumber)?;
    if !number.is_valid() {
        return Err(PhoneError::InvalidNumber);
    }
    let formatted = number.format().mode(phonenumber::Mode::E164).to_string();
    let digit_count = formatted.len().saturating_sub(1);
    let well_formed = formatted.starts_with('+')
        && (8..=15).contains(&digit_count)
        && formatted[1..].bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return Err(PhoneError::InvalidNumber);
    }
    Ok(formatted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn normaliser(country: &str) -> PhoneNormaliser {
        PhoneNormaliser::new(country).expect("known country")
    }

    #[test]
    fn valid_numbers() {
        let cases = [
            ("CI", "07 07 12 34 56", "+2250707123456"),
            ("CI", "0707123456", "+2250707123456"),
            ("CI", "+225 0707123456", "+2250707123456"),
            ("CI", "+2250707123456", "+2250707123456"),
            ("CI", "00225 07-07-12-34-56", "+2250707123456"),
            ("CI", "(225) 07.07.12.34.56", "+2250707123456"),
            ("CI", "(+225) 07 07 12 34 56", "+2250707123456"),
            ("CI", "225 07 07 12 34 56", "+2250707123456"),
            ("CI", "07 12 34 56", "+2250707123456"),
            ("CI", "+225 07 12 34 56", "+2250707123456"),
            ("CI", "225 07 12 34 56", "+2250707123456"),
            ("CI", "00225 07123456", "+2250707123456"),
            ("CI", "44 55 66 77", "+2250544556677"),
            ("CI", "01 23 45 67", "+2250101234567"),
            ("CI", "58 12 34 56", "+2250758123456"),
            ("CI", "20 21 22 23", "+2252720212223"),
            ("CI", "22 08 12 34", "+2252522081234"),
            ("CI", "31 88 12 34", "+2252131881234"),
            ("CI", "27 22 44 55 66", "+2252722445566"),
            ("CI", "544556677", "+2250544556677"),
            ("CI", "00 45 92 67", "+2250100459267"),
            ("CI", "00459267", "+2250100459267"),
            ("CI", "00 225 00 45 92 67", "+2250100459267"),
            ("CI", "101234567", "+2250101234567"),
            ("CI", "+225 544556677", "+2250544556677"),
            ("CI", "05\u{a0}44 55 66 77", "+2250544556677"),
            ("ci", "07/07/12/34/56", "+2250707123456"),
            ("SN", "77 123 45 67", "+221771234567"),
            ("SN", "33 820 12 34", "+221338201234"),
            ("SN", "221 77 123 45 67", "+221771234567"),
            ("CI", "+221 77 123 45 67", "+221771234567"),
            ("CI", "00221771234567", "+221771234567"),
            ("CI", "221 77 123 45 67", "+221771234567"),
            ("SN", "+221 0 77 123 45 67", "+221771234567"),
            ("ML", "76 12 34 56", "+22376123456"),
            ("ML", "+223 76 12 34 56", "+22376123456"),
            ("BF", "70 12 34 56", "+22670123456"),
            ("BF", "226 70 12 34 56", "+22670123456"),
            ("CI", "+226 70 12 34 56", "+22670123456"),
            ("CI", "+33 6 12 34 56 78", "+33612345678"),
            ("CI", "0033 6 12 34 56 78", "+33612345678"),
            ("CI", "+33 (0)6 12 34 56 78", "+33612345678"),
            ("FR", "06 12 34 56 78", "+33612345678"),
            ("FR", "+225 07 07 12 34 56", "+2250707123456"),
            ("GH", "024 412 3456", "+233244123456"),
        ];
        for (country, raw, expected) in cases {
            let normalised = normaliser(country).normalise(raw);
            assert_eq!(normalised.as_deref(), Ok(expected), "{country} {raw}");
        }
    }

    #[test]
    fn invalid_numbers() {
        let cases = [
            ("CI", "", PhoneError::Empty),
            ("CI", " - ", PhoneError::Empty),
            ("CI", "+", PhoneError::Empty),
            ("CI", "07 07 12 34 5a", PhoneError::InvalidCharacter),
            ("CI", "tel 0707123456", PhoneError::InvalidCharacter),
            ("CI", "07+07", PhoneError::InvalidCharacter),
            (
                "CI",
                "12345",
                PhoneError::WrongLength {
                    digits: 5,
                    expected: "8 or 10",
                    country: "CI",
                },
            ),
            (
                "CI",
                "707123456",
                PhoneError::WrongLength {
                    digits: 9,
                    expected: "8 or 10",
                    country: "CI",
                },
            ),
            (
                "CI",
                "207123456",
                PhoneError::WrongLength {
                    digits: 9,
                    expected: "8 or 10",
                    country: "CI",
                },
            ),
            (
                "CI",
                "0907123456",
                PhoneError::InvalidPrefix { country: "CI" },
            ),
            (
                "CI",
                "+225 123",
                PhoneError::WrongLength {
                    digits: 3,
                    expected: "8 or 10",
                    country: "CI",
                },
            ),
            (
                "SN",
                "77 123 45",
                PhoneError::WrongLength {
                    digits: 7,
                    expected: "9",
                    country: "SN",
                },
            ),
            (
                "SN",
                "55 123 45 67",
                PhoneError::InvalidPrefix { country: "SN" },
            ),
            (
                "ML",
                "16 12 34 56",
                PhoneError::InvalidPrefix { country: "ML" },
            ),
            (
                "BF",
                "30 12 34 56",
                PhoneError::InvalidPrefix { country: "BF" },
            ),
            ("CI", "0707123456 0505123456", PhoneError::TooManyDigits),
            ("CI", "+33 6 12", PhoneError::InvalidNumber),
            ("FR", "12", PhoneError::InvalidNumber),
        ];
        for (country, raw, expected) in cases {
            let error = normaliser(country).normalise(raw).expect_err(raw);
            assert_eq!(error, expected, "{country} {raw}");
            let message = error.to_string();
            assert!(
                !message.contains("0707") && !message.contains("123"),
                "{message}"
            );
        }
    }

    #[test]
    fn unknown_country() {
        assert_eq!(
            PhoneNormaliser::new("XX").expect_err("xx").to_string(),
            "unknown country code for phone numbers"
        );
        assert!(PhoneNormaliser::new("").is_err());
        assert!(PhoneNormaliser::new("CIV").is_err());
        assert!(PhoneNormaliser::new("Ci").is_ok());
        assert_eq!(normaliser(" sn ").default_country(), "SN");
        assert_eq!(normaliser("FR").default_country(), "FR");
    }

    #[test]
    fn phonenumber_metadata_knows_ci_ten_digit_plan() {
        for number in ["+2250707123456", "+2250544556677", "+2252722445566"] {
            let parsed = phonenumber::parse(None, number).expect("parses");
            assert!(parsed.is_valid(), "{number}");
        }
    }

    #[test]
    fn legacy_migration_rule() {
        let cases = [
            (b"00123456", b"01"),
            (b"13123456", b"01"),
            (b"33123456", b"27"),
            (b"44123456", b"05"),
            (b"66123456", b"05"),
            (b"07123456", b"07"),
            (b"99123456", b"07"),
            (b"20812345", b"21"),
            (b"30812345", b"21"),
            (b"22012345", b"25"),
            (b"22212345", b"27"),
        ];
        for (legacy, prefix) in cases {
            assert_eq!(legacy_ci_prefix(legacy), prefix);
        }
    }

    proptest! {
        #[test]
        fn normalise_never_panics(raw in any::<String>()) {
            for country in ["CI", "SN", "FR"] {
                let _ = normaliser(country).normalise(&raw);
            }
        }

        #[test]
        fn outputs_are_e164_and_stable(raw in "[+]?[0-9 .()-]{6,20}") {
            for country in ["CI", "SN", "ML", "BF", "FR"] {
                let phones = normaliser(country);
                if let Ok(e164) = phones.normalise(&raw) {
                    prop_assert!(e164.starts_with('+'));
                    let digits = &e164[1..];
                    prop_assert!((8..=15).contains(&digits.len()));
                    prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()));
                    prop_assert_eq!(phones.normalise(&e164), Ok(e164.clone()));
                }
            }
        }

        #[test]
        fn ci_numbers_round_trip(national in "0[157][0-9]{8}") {
            let phones = normaliser("CI");
            let e164 = phones.normalise(&national).expect("valid mobile");
            prop_assert_eq!(phones.normalise(&e164), Ok(e164.clone()));
        }
    }
}

//! Dates of birth, possibly partial.
//!
//! Parsing is hand-written: the input is cut into at most three numbers and one month
//! name, then interpreted. Rules:
//!
//! * `yyyy-mm-dd`, `yyyy/mm/dd` (4-digit first part), otherwise day-first
//!   (`dd/mm/yyyy`, `d/m/yyyy`, `dd-mm-yyyy`, `dd.mm.yyyy`, `d/m/yy`). When the first
//!   part is > 12 and the second ≤ 12 it is day/month; when the second part is > 12 and
//!   the first ≤ 12 it is month/day (US order).
//! * Two-digit years: `yy <= PIVOT` → `20yy`, else `19yy`.
//! * 8 digits without separators: `yyyymmdd` when the first four digits are a plausible
//!   year (1880–2030) and the rest is a valid month and day, otherwise `ddmmyyyy`.
//!   6 digits: `ddmmyy`.
//! * `mm/yyyy`, `yyyy-mm`, `yyyy`, month names (`7 mars 1985`, `07-MAR-85`).
//! * Qualifiers are ignored: `vers 1985`, `ca 1985`, `~1985`, `né en 1985`, `né le ...`.
//! * A trailing time (`1985-03-07 00:00:00`, `1985-03-07T00:00:00Z`) is ignored.
//! * `00` as day or month means unknown (`00/00/1985` → year only; a day without a month
//!   is dropped). `01/01/1900`-style placeholders are kept as written.
//! * Validation: year in 1880..=2030, month 1–12, day valid for the month (leap years).

use crate::text::fold;

/// Two-digit years up to this value are read as 20yy, the others as 19yy.
pub const PIVOT: u8 = 10;

/// Earliest accepted year of birth.
pub const MIN_YEAR: u16 = 1880;
/// Latest accepted year of birth.
pub const MAX_YEAR: u16 = 2030;

/// A date of birth that may be partial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub struct PartialDate {
    /// Year, e.g. 1985.
    pub year: Option<u16>,
    /// Month 1–12.
    pub month: Option<u8>,
    /// Day of month 1–31.
    pub day: Option<u8>,
}

impl PartialDate {
    /// Days between two complete dates; `None` unless both are complete.
    pub fn days_apart(&self, other: &PartialDate) -> Option<u64> {
        Some(self.day_number()?.abs_diff(other.day_number()?))
    }

    /// Days since 1 March of year 0 in the proleptic Gregorian calendar
    /// (the civil-from-days count), for a complete date.
    fn day_number(&self) -> Option<i64> {
        let (year, month, day) = (
            i64::from(self.year?),
            i64::from(self.month?),
            i64::from(self.day?),
        );
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let day_of_year = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        Some(era * 146_097 + day_of_era)
    }

    /// Year, month and day are all known.
    pub fn is_complete(&self) -> bool {
        self.year.is_some() && self.month.is_some() && self.day.is_some()
    }

    /// Same year, and day/month exchanged (both complete, day != month).
    pub fn is_day_month_swap_of(&self, other: &PartialDate) -> bool {
        self.is_complete()
            && other.is_complete()
            && self.year == other.year
            && self.day != self.month
            && self.day == other.month
            && self.month == other.day
    }

    /// `"1985-03-07"`, `"1985-03"`, `"1985"`, or `""` when the year is unknown.
    pub fn to_iso(&self) -> String {
        match (self.year, self.month, self.day) {
            (Some(y), Some(m), Some(d)) => format!("{y:04}-{m:02}-{d:02}"),
            (Some(y), Some(m), None) => format!("{y:04}-{m:02}"),
            (Some(y), None, _) => format!("{y:04}"),
            (None, _, _) => String::new(),
        }
    }
}

/// Why a date was rejected. Messages never contain the date.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Nothing to parse.
    #[error("date is empty")]
    Empty,
    /// Words that are neither month names nor known qualifiers.
    #[error("date contains unrecognised text")]
    UnrecognisedText,
    /// The numbers do not fit any supported layout.
    #[error("date format not recognised")]
    UnrecognisedFormat,
    /// Day and/or month without a year.
    #[error("date has no year")]
    MissingYear,
    /// Year all zeros.
    #[error("date is a placeholder without information")]
    Placeholder,
    /// Year outside 1880..=2030.
    #[error("date year outside 1880..=2030")]
    YearOutOfRange,
    /// Month outside 1..=12.
    #[error("date month outside 1..=12")]
    MonthOutOfRange,
    /// Day that does not exist in the month.
    #[error("date day does not exist in that month")]
    DayOutOfRange,
}

/// A run of digits: value and digit count.
#[derive(Debug, Clone, Copy)]
struct Number {
    value: u32,
    digits: usize,
}

/// What the tokenizer found: up to three numbers and at most one month name.
#[derive(Debug, Default)]
struct Parts {
    numbers: [Option<Number>; 3],
    count: usize,
    month_name: Option<u8>,
}

impl Parts {
    fn push_number(&mut self, number: Number) -> Result<(), DateError> {
        if self.count == self.numbers.len() {
            return Err(DateError::UnrecognisedFormat);
        }
        self.numbers[self.count] = Some(number);
        self.count += 1;
        Ok(())
    }

    fn number(&self, index: usize) -> Number {
        self.numbers[index].expect("index below count")
    }
}

/// Parses a raw date of birth. See the module documentation for the accepted formats.
pub fn parse_date(raw: &str) -> Result<PartialDate, DateError> {
    let text = without_time(raw.trim());
    let parts = split_parts(text)?;
    let date = match (parts.count, parts.month_name) {
        (0, None) => return Err(DateError::Empty),
        (0, Some(_)) => return Err(DateError::MissingYear),
        (_, Some(month)) => with_month_name(&parts, month)?,
        (1, None) => single_number(parts.number(0))?,
        (2, None) => month_and_year(parts.number(0), parts.number(1))?,
        _ => three_numbers(parts.number(0), parts.number(1), parts.number(2))?,
    };
    validate(date)
}

/// Cuts a trailing time of day: everything from the space or `T` before the first `:`.
fn without_time(text: &str) -> &str {
    let Some(colon) = text.find(':') else {
        return text;
    };
    let head = &text[..colon];
    match head.rfind([' ', 'T', 't']) {
        Some(cut) => &text[..cut],
        None => text,
    }
}

fn split_parts(text: &str) -> Result<Parts, DateError> {
    let mut parts = Parts::default();
    let bytes = text.as_bytes();
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte.is_ascii_digit() {
            let end = run_end(bytes, index, |b| b.is_ascii_digit());
            parts.push_number(parse_number(&bytes[index..end])?)?;
            index = end;
        } else if byte.is_ascii_alphabetic() || !byte.is_ascii() {
            let end = run_end(bytes, index, |b| b.is_ascii_alphabetic() || !b.is_ascii());
            read_word(&text[index..end], &mut parts)?;
            index = end;
        } else {
            index += 1;
        }
    }
    Ok(parts)
}

fn run_end(bytes: &[u8], start: usize, belongs: impl Fn(u8) -> bool) -> usize {
    bytes[start..]
        .iter()
        .position(|&b| !belongs(b))
        .map_or(bytes.len(), |offset| start + offset)
}

fn parse_number(digits: &[u8]) -> Result<Number, DateError> {
    if digits.len() > 8 {
        return Err(DateError::UnrecognisedFormat);
    }
    let value = digits
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    Ok(Number {
        value,
        digits: digits.len(),
    })
}

/// Words ignored in front of (or around) a date.
const QUALIFIERS: &[&str] = &[
    "about", "approx", "c", "ca", "circa", "en", "env", "environ", "er", "le", "ne", "nee", "vers",
];

/// Month names and abbreviations, French and English, folded.
#[rustfmt::skip]
const MONTHS: &[(&str, u8)] = &[
    ("aou", 8), ("aout", 8), ("apr", 4), ("april", 4), ("aug", 8), ("august", 8), ("avr", 4),
    ("avril", 4), ("dec", 12), ("december", 12), ("decembre", 12), ("feb", 2), ("february", 2),
    ("fev", 2), ("fevr", 2), ("fevrier", 2), ("jan", 1), ("january", 1), ("janv", 1),
    ("janvier", 1), ("jui", 7), ("juil", 7), ("juillet", 7), ("juin", 6), ("jul", 7),
    ("july", 7), ("jun", 6), ("june", 6), ("mai", 5), ("mar", 3), ("march", 3), ("mars", 3),
    ("may", 5), ("nov", 11), ("november", 11), ("novembre", 11), ("oct", 10), ("october", 10),
    ("octobre", 10), ("sep", 9), ("sept", 9), ("september", 9), ("septembre", 9),
];

fn read_word(word: &str, parts: &mut Parts) -> Result<(), DateError> {
    let folded = fold(word);
    for token in folded.split(' ').filter(|t| !t.is_empty()) {
        if QUALIFIERS.binary_search(&token).is_ok() {
            continue;
        }
        let Ok(found) = MONTHS.binary_search_by(|(name, _)| name.cmp(&token)) else {
            return Err(DateError::UnrecognisedText);
        };
        if parts.month_name.is_some() {
            return Err(DateError::UnrecognisedFormat);
        }
        parts.month_name = Some(MONTHS[found].1);
    }
    Ok(())
}

fn year_of(number: Number) -> Result<u16, DateError> {
    match number.digits {
        4 if number.value == 0 => Err(DateError::Placeholder),
        4 => u16::try_from(number.value).map_err(|_| DateError::YearOutOfRange),
        1 | 2 => Ok(expand_two_digit_year(number.value)),
        _ => Err(DateError::UnrecognisedFormat),
    }
}

fn expand_two_digit_year(yy: u32) -> u16 {
    let yy = u16::try_from(yy % 100).expect("below 100");
    if yy <= u16::from(PIVOT) {
        2000 + yy
    } else {
        1900 + yy
    }
}

fn small(number: Number) -> Result<u8, DateError> {
    if number.digits > 2 {
        return Err(DateError::UnrecognisedFormat);
    }
    u8::try_from(number.value).map_err(|_| DateError::UnrecognisedFormat)
}

fn known(value: u8) -> Option<u8> {
    (value != 0).then_some(value)
}

fn ymd(year: u16, month: u8, day: u8) -> PartialDate {
    PartialDate {
        year: Some(year),
        month: known(month),
        day: known(day),
    }
}

fn with_month_name(parts: &Parts, month: u8) -> Result<PartialDate, DateError> {
    match parts.count {
        1 => {
            let number = parts.number(0);
            if number.digits != 4 {
                return Err(DateError::MissingYear);
            }
            Ok(ymd(year_of(number)?, month, 0))
        }
        2 => {
            let (first, second) = (parts.number(0), parts.number(1));
            if first.digits == 4 {
                return Ok(ymd(year_of(first)?, month, small(second)?));
            }
            Ok(ymd(year_of(second)?, month, small(first)?))
        }
        _ => Err(DateError::UnrecognisedFormat),
    }
}

fn single_number(number: Number) -> Result<PartialDate, DateError> {
    let value = number.value;
    match number.digits {
        4 if value == 0 => Err(DateError::Placeholder),
        4 => Ok(PartialDate {
            year: year_of(number).ok(),
            month: None,
            day: None,
        }),
        8 => Ok(eight_digits(value)),
        6 => {
            let (day, month, yy) = (value / 10_000, value / 100 % 100, value % 100);
            Ok(ymd(expand_two_digit_year(yy), to_u8(month), to_u8(day)))
        }
        1 | 2 => Err(DateError::MissingYear),
        _ => Err(DateError::UnrecognisedFormat),
    }
}

fn to_u8(value: u32) -> u8 {
    u8::try_from(value).expect("two-digit value")
}

/// `yyyymmdd` when it starts with a plausible year and the rest is a valid month-day,
/// else `ddmmyyyy`.
fn eight_digits(value: u32) -> PartialDate {
    let leading_year = value / 10_000;
    let as_year_first = ymd(
        u16::try_from(leading_year).expect("four digits"),
        to_u8(value / 100 % 100),
        to_u8(value % 100),
    );
    let plausible_year = (u32::from(MIN_YEAR)..=u32::from(MAX_YEAR)).contains(&leading_year);
    if plausible_year && validate(as_year_first).is_ok() {
        return as_year_first;
    }
    ymd(
        u16::try_from(value % 10_000).expect("four digits"),
        to_u8(value / 10_000 % 100),
        to_u8(value / 1_000_000),
    )
}

fn month_and_year(first: Number, second: Number) -> Result<PartialDate, DateError> {
    if first.digits == 4 {
        return Ok(ymd(year_of(first)?, small(second)?, 0));
    }
    if second.digits == 4 {
        return Ok(ymd(year_of(second)?, small(first)?, 0));
    }
    if first.digits <= 2 && second.digits <= 2 {
        return Err(DateError::MissingYear);
    }
    Err(DateError::UnrecognisedFormat)
}

fn three_numbers(first: Number, second: Number, third: Number) -> Result<PartialDate, DateError> {
    if first.digits == 4 {
        // ISO order, taken strictly: yyyy-mm-dd.
        return Ok(ymd(year_of(first)?, small(second)?, small(third)?));
    }
    let year = year_of(third)?;
    let (month, day) = order_day_month(small(first)?, small(second)?);
    Ok(ymd(year, month, day))
}

/// Returns `(month, day)` from two parts given in day-first order, switching to
/// month-first when only that reading is valid.
fn order_day_month(day_first: u8, month_first: u8) -> (u8, u8) {
    if month_first > 12 && day_first <= 12 {
        return (day_first, month_first);
    }
    (month_first, day_first)
}

fn is_leap(year: u16) -> bool {
    (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400)
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

fn validate(mut date: PartialDate) -> Result<PartialDate, DateError> {
    let year = date.year.ok_or(DateError::MissingYear)?;
    if !(MIN_YEAR..=MAX_YEAR).contains(&year) {
        return Err(DateError::YearOutOfRange);
    }
    let Some(month) = date.month else {
        date.day = None;
        return Ok(date);
    };
    if !(1..=12).contains(&month) {
        return Err(DateError::MonthOutOfRange);
    }
    if let Some(day) = date.day
        && day > days_in_month(year, month)
    {
        return Err(DateError::DayOutOfRange);
    }
    Ok(date)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full(year: u16, month: u8, day: u8) -> PartialDate {
        PartialDate {
            year: Some(year),
            month: Some(month),
            day: Some(day),
        }
    }

    fn year_month(year: u16, month: u8) -> PartialDate {
        PartialDate {
            year: Some(year),
            month: Some(month),
            day: None,
        }
    }

    #[test]
    fn days_apart_counts_calendar_days() {
        assert_eq!(full(1990, 2, 28).days_apart(&full(1990, 3, 1)), Some(1));
        assert_eq!(full(1992, 2, 28).days_apart(&full(1992, 3, 1)), Some(2));
        assert_eq!(full(1999, 12, 31).days_apart(&full(2000, 1, 1)), Some(1));
        assert_eq!(full(2000, 1, 1).days_apart(&full(2001, 1, 1)), Some(366));
        assert_eq!(full(1971, 6, 24).days_apart(&full(1971, 5, 24)), Some(31));
        assert_eq!(full(1900, 3, 1).days_apart(&full(1900, 2, 28)), Some(1));
        assert_eq!(full(1971, 6, 24).days_apart(&year_month(1971, 6)), None);
    }

    fn year_only(year: u16) -> PartialDate {
        PartialDate {
            year: Some(year),
            month: None,
            day: None,
        }
    }

    #[test]
    fn valid_dates() {
        let cases = [
            ("07/03/1985", full(1985, 3, 7)),
            ("7/3/1985", full(1985, 3, 7)),
            ("07-03-1985", full(1985, 3, 7)),
            ("07.03.1985", full(1985, 3, 7)),
            (" 07 / 03 / 1985 ", full(1985, 3, 7)),
            ("1985-03-07", full(1985, 3, 7)),
            ("1985/03/07", full(1985, 3, 7)),
            ("19850307", full(1985, 3, 7)),
            ("07031985", full(1985, 3, 7)),
            ("20011990", full(1990, 1, 20)),
            ("19121985", full(1985, 12, 19)),
            ("070385", full(1985, 3, 7)),
            ("7/3/85", full(1985, 3, 7)),
            ("7/3/05", full(2005, 3, 7)),
            ("7/3/10", full(2010, 3, 7)),
            ("7/3/11", full(1911, 3, 7)),
            ("25/12/1985", full(1985, 12, 25)),
            ("12/25/1985", full(1985, 12, 25)),
            ("03/1985", year_month(1985, 3)),
            ("1985-03", year_month(1985, 3)),
            ("1985", year_only(1985)),
            ("vers 1985", year_only(1985)),
            ("Vers 1985", year_only(1985)),
            ("ca 1985", year_only(1985)),
            ("ca. 1985", year_only(1985)),
            ("~1985", year_only(1985)),
            ("né en 1985", year_only(1985)),
            ("Née en 1985", year_only(1985)),
            ("né le 07/03/1985", full(1985, 3, 7)),
            ("00/00/1985", year_only(1985)),
            ("00/03/1985", year_month(1985, 3)),
            ("15/00/1985", year_only(1985)),
            ("01/01/1900", full(1900, 1, 1)),
            ("29/02/2000", full(2000, 2, 29)),
            ("29/02/1984", full(1984, 2, 29)),
            ("7 mars 1985", full(1985, 3, 7)),
            ("07-MAR-85", full(1985, 3, 7)),
            ("1er août 1960", full(1960, 8, 1)),
            ("décembre 1970", year_month(1970, 12)),
            ("3 août 1960", full(1960, 8, 3)),
            ("3 janv 1960", full(1960, 1, 3)),
            ("3 avril 1960", full(1960, 4, 3)),
            ("1985-03-07 00:00:00", full(1985, 3, 7)),
            ("1985-03-07T00:00:00Z", full(1985, 3, 7)),
            ("07/03/1985 12:30", full(1985, 3, 7)),
            ("1880", year_only(1880)),
            ("2030", year_only(2030)),
        ];
        for (raw, expected) in cases {
            assert_eq!(parse_date(raw), Ok(expected), "{raw}");
        }
    }

    #[test]
    fn invalid_dates() {
        let cases = [
            ("", DateError::Empty),
            ("   ", DateError::Empty),
            ("-/-", DateError::Empty),
            ("inconnu", DateError::UnrecognisedText),
            ("31/02/1985", DateError::DayOutOfRange),
            ("29/02/1985", DateError::DayOutOfRange),
            ("29/02/1900", DateError::DayOutOfRange),
            ("31/04/1985", DateError::DayOutOfRange),
            ("13/13/1985", DateError::MonthOutOfRange),
            ("1985-13-01", DateError::MonthOutOfRange),
            ("1879", DateError::YearOutOfRange),
            ("2031", DateError::YearOutOfRange),
            ("07/03/3085", DateError::YearOutOfRange),
            ("00/00/0000", DateError::Placeholder),
            ("0000", DateError::Placeholder),
            ("07/03", DateError::MissingYear),
            ("12", DateError::MissingYear),
            ("1/2/3/4", DateError::UnrecognisedFormat),
            ("123456789", DateError::UnrecognisedFormat),
            ("07/03/198", DateError::UnrecognisedFormat),
            ("12345", DateError::UnrecognisedFormat),
            ("mars avril 1985", DateError::UnrecognisedFormat),
            ("44/44/1985", DateError::MonthOutOfRange),
            ("7 mars", DateError::MissingYear),
            ("mars", DateError::MissingYear),
        ];
        for (raw, expected) in cases {
            let error = parse_date(raw).expect_err(raw);
            assert_eq!(error, expected, "{raw}");
            assert!(!error.to_string().contains("1985"));
        }
    }

    #[test]
    fn word_tables_sorted() {
        assert!(MONTHS.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(QUALIFIERS.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn iso_and_swap() {
        assert_eq!(full(1985, 3, 7).to_iso(), "1985-03-07");
        assert_eq!(year_month(1985, 3).to_iso(), "1985-03");
        assert_eq!(year_only(1985).to_iso(), "1985");
        assert_eq!(PartialDate::default().to_iso(), "");
        assert!(full(1985, 3, 7).is_complete());
        assert!(!year_month(1985, 3).is_complete());

        assert!(full(1985, 3, 7).is_day_month_swap_of(&full(1985, 7, 3)));
        assert!(!full(1985, 3, 7).is_day_month_swap_of(&full(1986, 7, 3)));
        assert!(!full(1985, 3, 3).is_day_month_swap_of(&full(1985, 3, 3)));
        assert!(!full(1985, 3, 7).is_day_month_swap_of(&full(1985, 3, 7)));
        assert!(!year_month(1985, 3).is_day_month_swap_of(&full(1985, 3, 3)));
    }

    proptest! {
        #[test]
        fn parse_never_panics(raw in any::<String>()) {
            let _ = parse_date(&raw);
        }

        #[test]
        fn parse_never_panics_on_digits(raw in "[0-9/ .:T-]{0,24}") {
            let _ = parse_date(&raw);
        }

        #[test]
        fn iso_round_trips(year in 1880u16..=2030, month in 1u8..=12, day in 1u8..=31) {
            let raw = format!("{day}/{month}/{year}");
            if let Ok(date) = parse_date(&raw) {
                prop_assert!(date.is_complete());
                prop_assert_eq!(parse_date(&date.to_iso()), Ok(date));
            }
        }

        #[test]
        fn parsed_dates_round_trip(raw in "[0-9]{1,2}[/.-][0-9]{1,2}[/.-][0-9]{2,4}") {
            if let Ok(date) = parse_date(&raw) {
                prop_assert_eq!(parse_date(&date.to_iso()), Ok(date));
            }
        }
    }
}

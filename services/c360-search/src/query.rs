//! Search requests: parsing the query text, validating limits, page tokens.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use c360_standardise::email::normalise_email;
use c360_standardise::text::tokens;

use crate::doc::{Analyzer, last8, national_id};
use crate::{Error, Result};

/// Hits per page when the request says 0.
pub const DEFAULT_PAGE_SIZE: usize = 20;
/// Most hits per page.
pub const MAX_PAGE_SIZE: usize = 100;
/// Results go at most this deep (offset + page size).
pub const MAX_DEPTH: usize = 1000;
/// Longest query text accepted.
pub const MAX_QUERY_BYTES: usize = 512;
/// Most terms (names, phones, ids, e-mails) in one query.
pub const MAX_TERMS: usize = 16;
/// Most values in one filter list.
pub const MAX_FILTER_VALUES: usize = 16;
/// The sectors of the Identity / Accessibility / Traceability diagram.
pub const SECTORS: [&str; 7] = ["A", "B", "C", "D", "X", "Y", "Z"];

/// Restricts results; a hit satisfies every non-empty list.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub regions: Vec<String>,
    pub sectors: Vec<String>,
    pub source_systems: Vec<String>,
}

impl std::fmt::Debug for Filters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Regions and systems are not personal, but keep Debug uniform.
        f.debug_struct("Filters")
            .field("regions", &self.regions.len())
            .field("sectors", &self.sectors)
            .field("source_systems", &self.source_systems.len())
            .finish()
    }
}

/// A search request in domain terms. `Debug` hides the query text.
#[derive(Clone, Default)]
pub struct SearchRequest {
    pub query: String,
    pub filters: Filters,
    /// 0 means [`DEFAULT_PAGE_SIZE`].
    pub page_size: usize,
    pub page_token: String,
}

impl std::fmt::Debug for SearchRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SearchRequest")
            .field("query_bytes", &self.query.len())
            .field("filters", &self.filters)
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

/// One name token of the query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameTerm {
    pub token: String,
    /// Free-text tokens may also be places; `name:` ones are names only.
    pub also_place: bool,
}

/// A number shorter than a phone: a birth year or the end of a phone,
/// which narrows the hits to clients that have it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Narrow {
    /// The digits, matched against the end of the client's phones.
    pub digits: String,
    /// The digits read as a year of birth, when they can be one.
    pub year: Option<u16>,
}

impl Narrow {
    fn new(digits: &str) -> Narrow {
        use c360_standardise::date::{MAX_YEAR, MIN_YEAR};
        let year = match digits.parse::<u16>() {
            Ok(y) if digits.len() == 4 && (MIN_YEAR..=MAX_YEAR).contains(&y) => Some(y),
            _ => None,
        };
        Narrow {
            digits: digits.to_string(),
            year,
        }
    }
}

/// The query text as terms. `Debug` shows counts only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    /// Folded, as spelled.
    pub names: Vec<NameTerm>,
    /// Last 8 digits.
    pub phones: Vec<String>,
    pub ids: Vec<String>,
    pub emails: Vec<String>,
    /// Birth years and phone endings (each required of a hit).
    pub narrowing: Vec<Narrow>,
}

impl std::fmt::Debug for ParsedQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParsedQuery")
            .field("names", &self.names.len())
            .field("phones", &self.phones.len())
            .field("ids", &self.ids.len())
            .field("emails", &self.emails.len())
            .field("narrowing", &self.narrowing.len())
            .finish()
    }
}

impl ParsedQuery {
    /// Terms that find clients (narrowing terms only filter them).
    fn finding_terms(&self) -> usize {
        self.names.len() + self.phones.len() + self.ids.len() + self.emails.len()
    }

    fn terms(&self) -> usize {
        self.finding_terms() + self.narrowing.len()
    }
}

const PREFIXES: &str = "expected phone:, id:, email: or name:";

fn is_phone_word(w: &str) -> bool {
    !w.is_empty()
        && w.chars().any(|c| c.is_ascii_digit())
        && w.chars()
            .all(|c| c.is_ascii_digit() || "+()-./".contains(c))
}

/// Splits off a field prefix (`phone:`) when the word has one.
fn prefix_of(word: &str) -> Option<(String, &str)> {
    let (prefix, rest) = word.split_once(':')?;
    if prefix.is_empty() || !prefix.chars().all(|c| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    Some((prefix.to_ascii_lowercase(), rest))
}

/// Parses the query text. Errors name the field `query` and never echo it.
pub fn parse(analyzer: &Analyzer, text: &str) -> Result<ParsedQuery> {
    if text.len() > MAX_QUERY_BYTES {
        return Err(Error::invalid(
            "query",
            format!("is longer than {MAX_QUERY_BYTES} bytes"),
        ));
    }
    let mut out = ParsedQuery::default();
    let words = split_words(text);
    // Runs of digits written apart ("07 07 12 34 56"): a phone when they
    // make 8 digits or more (a group of 8 or more is a phone of its own,
    // "1985 0707123456"), else each group of 2 or more narrows.
    let mut digits: Vec<String> = Vec::new();
    let mut i = 0;
    let flush_digits = |digits: &mut Vec<String>, out: &mut ParsedQuery| {
        let phone = |number: &str, out: &mut ParsedQuery| {
            out.phones.push(last8(number));
            if let Some(id) = national_id(number) {
                out.ids.push(id);
            }
        };
        let all: String = digits.concat();
        if digits.iter().any(|g| g.len() >= 8) {
            for group in digits.iter() {
                if group.len() >= 8 {
                    phone(group, out);
                } else if group.len() >= 2 {
                    out.narrowing.push(Narrow::new(group));
                }
            }
        } else if all.len() >= 8 {
            phone(&all, out);
        } else {
            for group in digits.iter().filter(|g| g.len() >= 2) {
                out.narrowing.push(Narrow::new(group));
            }
        }
        digits.clear();
    };
    while i < words.len() {
        let word = words[i].as_str();
        i += 1;
        if let Some((prefix, rest)) = prefix_of(word) {
            flush_digits(&mut digits, &mut out);
            let mut value = rest.trim_matches('"').to_string();
            match prefix.as_str() {
                "phone" => {
                    while i < words.len() && is_phone_word(&words[i]) {
                        value.push_str(&words[i]);
                        i += 1;
                    }
                    let n = value.chars().filter(char::is_ascii_digit).count();
                    if n < 8 {
                        return Err(Error::invalid("query", "phone: needs at least 8 digits"));
                    }
                    out.phones.push(last8(&value));
                }
                "id" => match national_id(&value) {
                    Some(id) => out.ids.push(id),
                    None => return Err(Error::invalid("query", "id: is not a national id")),
                },
                "email" => match normalise_email(&value) {
                    Some(e) => out.emails.push(e),
                    None => return Err(Error::invalid("query", "email: is not an e-mail address")),
                },
                "name" => {
                    for token in analyzer.name_tokens(&value) {
                        out.names.push(NameTerm {
                            token,
                            also_place: false,
                        });
                    }
                }
                _ => {
                    return Err(Error::invalid(
                        "query",
                        format!("unknown field prefix ({PREFIXES})"),
                    ));
                }
            }
            continue;
        }
        if word.contains('@') {
            flush_digits(&mut digits, &mut out);
            if let Some(e) = normalise_email(word) {
                out.emails.push(e);
            }
            continue;
        }
        for token in tokens(word) {
            if token.bytes().all(|b| b.is_ascii_digit()) {
                digits.push(token);
                continue;
            }
            flush_digits(&mut digits, &mut out);
            if token.bytes().any(|b| b.is_ascii_digit()) {
                if let Some(id) = national_id(&token) {
                    out.ids.push(id);
                }
                continue;
            }
            for token in analyzer.name_tokens(&token) {
                out.names.push(NameTerm {
                    token,
                    also_place: true,
                });
            }
        }
    }
    flush_digits(&mut digits, &mut out);
    out.names.dedup();
    out.phones.dedup();
    out.ids.dedup();
    out.narrowing.dedup();
    if out.finding_terms() == 0 {
        let why = if out.narrowing.is_empty() {
            "has nothing to search: give names, 8 or more phone digits, an id or an e-mail"
        } else {
            "a birth year or phone ending only narrows a search: give names, a phone, an id or an e-mail too"
        };
        return Err(Error::invalid("query", why));
    }
    if out.terms() > MAX_TERMS {
        return Err(Error::invalid(
            "query",
            format!("has more than {MAX_TERMS} terms"),
        ));
    }
    Ok(out)
}

/// Whitespace-separated words; a prefix followed by a double-quoted value
/// (`id:"CI 0012 3456 78"`) stays one word.
fn split_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in text.chars() {
        if c == '"' {
            quoted = !quoted;
            current.push(c);
        } else if c.is_whitespace() && !quoted {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Validates filters; sectors are upper-cased.
pub fn check_filters(filters: &Filters) -> Result<Filters> {
    for (name, list) in [
        ("filters.regions", &filters.regions),
        ("filters.sectors", &filters.sectors),
        ("filters.source_systems", &filters.source_systems),
    ] {
        if list.len() > MAX_FILTER_VALUES {
            return Err(Error::invalid(
                name,
                format!("has more than {MAX_FILTER_VALUES} values"),
            ));
        }
        if list.iter().any(|v| v.trim().is_empty() || v.len() > 128) {
            return Err(Error::invalid(name, "values must be 1 to 128 bytes"));
        }
    }
    let sectors: Vec<String> = filters
        .sectors
        .iter()
        .map(|s| s.trim().to_ascii_uppercase())
        .collect();
    if sectors.iter().any(|s| !SECTORS.contains(&s.as_str())) {
        return Err(Error::invalid(
            "filters.sectors",
            "expected A, B, C, D, X, Y or Z",
        ));
    }
    Ok(Filters {
        regions: filters.regions.clone(),
        sectors,
        source_systems: filters
            .source_systems
            .iter()
            .map(|s| s.trim().to_string())
            .collect(),
    })
}

/// The page size to use.
pub fn page_size(requested: usize) -> Result<usize> {
    match requested {
        0 => Ok(DEFAULT_PAGE_SIZE),
        n if n > MAX_PAGE_SIZE => Err(Error::invalid(
            "page_size",
            format!("must be at most {MAX_PAGE_SIZE}"),
        )),
        n => Ok(n),
    }
}

/// FNV-1a over the query and filters: a page token is only valid for the
/// request that produced it.
fn fingerprint(req: &SearchRequest) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |s: &str| {
        for b in s.bytes().chain(std::iter::once(0xff)) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(&req.query);
    for list in [
        &req.filters.regions,
        &req.filters.sectors,
        &req.filters.source_systems,
    ] {
        for v in list {
            eat(v);
        }
        eat("|");
    }
    h
}

pub fn page_token(req: &SearchRequest, offset: usize) -> String {
    B64.encode(format!("v1.{offset}.{:016x}", fingerprint(req)))
}

/// The offset a page token stands for (0 without a token).
pub fn page_offset(req: &SearchRequest) -> Result<usize> {
    if req.page_token.is_empty() {
        return Ok(0);
    }
    let bad = || Error::invalid("page_token", "is not a page token of this query");
    let raw = B64.decode(req.page_token.as_bytes()).map_err(|_| bad())?;
    let text = String::from_utf8(raw).map_err(|_| bad())?;
    let mut parts = text.split('.');
    let (Some("v1"), Some(offset), Some(fp), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad());
    };
    let offset: usize = offset.parse().map_err(|_| bad())?;
    if fp != format!("{:016x}", fingerprint(req)) || offset >= MAX_DEPTH {
        return Err(bad());
    }
    Ok(offset)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn a() -> Analyzer {
        Analyzer::new("CI").unwrap()
    }

    fn field_of(e: Error) -> String {
        match e {
            Error::InvalidArgument { field, .. } => field,
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn free_text_and_prefixes() {
        let q = parse(&a(), "Kouasi  N'Guessan Abobo").unwrap();
        let names: Vec<&str> = q.names.iter().map(|n| n.token.as_str()).collect();
        assert_eq!(names, ["kouasi", "nguessan", "abobo"]);
        let q = parse(&a(), "Ibrahim Kone 1985 14").unwrap();
        let names: Vec<&str> = q.names.iter().map(|n| n.token.as_str()).collect();
        assert_eq!(names, ["ibrahim", "kone"], "names as spelled");
        assert_eq!(q.narrowing.len(), 2);
        assert_eq!(q.narrowing[0].year, Some(1985));
        assert_eq!(q.narrowing[1].digits, "14");
        assert_eq!(q.narrowing[1].year, None);
        let q = parse(&a(), "Kone 1985 0707123456").unwrap();
        assert_eq!(q.phones, ["07123456"]);
        assert_eq!(q.narrowing[0].year, Some(1985));
        let q = parse(&a(), "Kone 7514").unwrap();
        assert_eq!(q.narrowing[0].year, None, "not a plausible birth year");
        let q = parse(&a(), "phone:+225 07 07 12 34 56 name:Konan").unwrap();
        assert_eq!(q.phones, ["07123456"]);
        assert_eq!(q.names[0].token, "konan");
        assert!(!q.names[0].also_place);
        let q = parse(&a(), "07 07 12 34 56").unwrap();
        assert_eq!(q.phones, ["07123456"]);
        let q = parse(&a(), "id:\"CI 0012 3456 78\" k.konan@mail.ci").unwrap();
        assert_eq!(q.ids, ["0012345678"]);
        assert_eq!(q.emails, ["k.konan@mail.ci"]);
        let q = parse(&a(), "C0012345678").unwrap();
        assert_eq!(q.ids, ["0012345678"]);
    }

    #[test]
    fn bad_queries_name_the_field_without_the_value() {
        for bad in [
            "",
            "  ",
            "phone:1234",
            "id:N/A",
            "foo:bar",
            "1234",
            "1985 14",
        ] {
            let e = parse(&a(), bad).unwrap_err();
            assert!(!e.to_string().contains("foo"));
            assert_eq!(field_of(e), "query");
        }
        let long = "a".repeat(600);
        assert_eq!(field_of(parse(&a(), &long).unwrap_err()), "query");
        let many = "kone ".repeat(17);
        assert!(
            parse(&a(), &many).is_ok(),
            "repeated tokens are deduplicated"
        );
        let many: String = (0..17)
            .map(|i| format!("name{} ", "x".repeat(i + 1)))
            .collect();
        assert_eq!(field_of(parse(&a(), &many).unwrap_err()), "query");
    }

    #[test]
    fn page_tokens_belong_to_their_query() {
        let req = SearchRequest {
            query: "konan".into(),
            ..SearchRequest::default()
        };
        let token = page_token(&req, 20);
        let next = SearchRequest {
            page_token: token.clone(),
            ..req.clone()
        };
        assert_eq!(page_offset(&next).unwrap(), 20);
        let other = SearchRequest {
            query: "kone".into(),
            page_token: token,
            ..SearchRequest::default()
        };
        assert_eq!(field_of(page_offset(&other).unwrap_err()), "page_token");
        let garbage = SearchRequest {
            page_token: "!!".into(),
            ..req
        };
        assert_eq!(field_of(page_offset(&garbage).unwrap_err()), "page_token");
        assert_eq!(field_of(page_size(101).unwrap_err()), "page_size");
        assert_eq!(page_size(0).unwrap(), DEFAULT_PAGE_SIZE);
        let bad_sector = Filters {
            sectors: vec!["Q".into()],
            ..Filters::default()
        };
        assert_eq!(
            field_of(check_filters(&bad_sector).unwrap_err()),
            "filters.sectors"
        );
    }
}

//! Personal names: phonetic key (`names/phonetic.rs`), spelling-variant table,
//! given/surname lexicon and full-name splitting (tests in `names/tests.rs`).

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use crate::text::{fold, tokens};

mod phonetic;

pub use phonetic::phonetic;

// ---------------------------------------------------------------------------
// Name-variant table
// ---------------------------------------------------------------------------

/// Error while parsing a name-variant table. Says which line is wrong, never the names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VariantsError {
    /// A group line has fewer than two fields.
    #[error("variants line {line}: expected a canonical name followed by at least one variant")]
    TooFewFields {
        /// 1-based line number.
        line: usize,
    },
    /// A field folds to nothing (empty or punctuation only).
    #[error("variants line {line}: field {field} is empty after folding")]
    EmptyField {
        /// 1-based line number.
        line: usize,
        /// 1-based field number.
        field: usize,
    },
}

/// Maps folded name tokens to a canonical folded spelling (e.g. `mohammed` → `mohamed`).
/// Unknown tokens map to themselves. Lookups are not chained.
#[derive(Debug, Clone, Default)]
pub struct NameVariants {
    to_canonical: FxHashMap<String, String>,
}

/// Built-in groups: canonical first, then variants that [`phonetic`] does not equate.
const BUILTIN_VARIANTS: &[&[&str]] = &[
    &[
        "mohamed",
        "mohammed",
        "mohamad",
        "mohammad",
        "muhammad",
        "muhammed",
        "mouhamed",
        "mouhammed",
        "mouhamad",
        "mouhamadou",
        "mohamet",
        "mouhamet",
        "mahamat",
        "mahomed",
    ],
    &[
        "ibrahima", "ibrahim", "brahima", "brahim", "ibrahime", "ibrahma", "ebrahim",
    ],
    &[
        "abdoulaye",
        "abdullahi",
        "abdoulahi",
        "abdullah",
        "abdallah",
        "abdoulah",
        "abdulai",
    ],
    &["oumar", "omar", "umar", "oumarou", "omarou", "oumarou"],
    &["moussa", "musa", "moses"],
    // Mande surnames and their Bambara/Dioula spellings.
    &["traore", "tarawele", "tarawere", "tarawaly", "trawore"],
    &["coulibaly", "kulibali", "koulibali", "kouroubali"],
    &["diarra", "jara", "djara"],
    &["keita", "keyta"],
    &["sissoko", "cissoko"],
    &["cheikh", "cheick", "cheik", "sheikh", "shaikh"],
    &[
        "souleymane",
        "suleiman",
        "sulayman",
        "souleiman",
        "souleman",
        "soulemane",
        "suleyman",
    ],
    &[
        "aboubacar",
        "abubakar",
        "aboubakar",
        "aboubakr",
        "boubacar",
        "boubakar",
        "abou bakr",
    ],
    &[
        "ousmane", "usman", "ousman", "osman", "othmane", "outhman", "usmane",
    ],
    &[
        "youssouf", "yusuf", "youssef", "yousouf", "yousuf", "yussuf", "joseph",
    ],
    &["ismael", "ismail", "ismaila", "ismaela"],
    &["idrissa", "idris", "idriss", "driss", "drissa"],
    &["lassina", "lacina", "lassana", "lancina"],
    &["fatoumata", "fatimata", "fatouma", "fatoumatou"],
    &["aissata", "aissatou", "aichata", "aissetou"],
    &[
        "mariam", "mariama", "mariame", "maryam", "mariem", "mariamou",
    ],
    &[
        "khadidiatou",
        "kadidiatou",
        "kadidia",
        "khadidja",
        "kadiatou",
        "khadija",
        "kadija",
    ],
    &["aminata", "aminatou"],
    &["salif", "salifou"],
    &["djeneba", "dieneba", "jeneba", "djenebou"],
    &["zeinabou", "zenabou", "zeinab", "zainab", "zeynab", "zenab"],
    &[
        "ousseini",
        "ousseni",
        "housseini",
        "housseyni",
        "hosseini",
        "houssein",
        "hussein",
    ],
    &["nguessan", "guessan"],
    &["yacouba", "yacoub", "yakub", "yaqub", "jacob"],
    &["issiaka", "siaka", "issiaca"],
];

impl NameVariants {
    /// Empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Maps `variant` to `canonical`; both are folded first. Empty folds are ignored.
    pub fn insert(&mut self, variant: &str, canonical: &str) {
        let variant = fold(variant);
        let canonical = fold(canonical);
        if variant.is_empty() || canonical.is_empty() || variant == canonical {
            return;
        }
        self.to_canonical.insert(variant, canonical);
    }

    /// Parses CSV text, one group per line: `canonical,variant1,variant2,...`.
    /// Blank lines and lines starting with `#` are ignored.
    pub fn parse(text: &str) -> Result<Self, VariantsError> {
        let mut table = Self::new();
        for (index, raw_line) in text.lines().enumerate() {
            let line_number = index + 1;
            let line = raw_line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            table.insert_line(line, line_number)?;
        }
        Ok(table)
    }

    fn insert_line(&mut self, line: &str, line_number: usize) -> Result<(), VariantsError> {
        let fields: Vec<String> = line.split(',').map(fold).collect();
        if fields.len() < 2 {
            return Err(VariantsError::TooFewFields { line: line_number });
        }
        if let Some(empty) = fields.iter().position(String::is_empty) {
            return Err(VariantsError::EmptyField {
                line: line_number,
                field: empty + 1,
            });
        }
        let (canonical, variants) = fields.split_first().expect("checked: at least two fields");
        for variant in variants {
            if variant != canonical {
                self.to_canonical.insert(variant.clone(), canonical.clone());
            }
        }
        Ok(())
    }

    /// Small built-in table of common West-African / French spelling variants that
    /// [`phonetic`] does not equate (mohamed/mohammed/muhammad, ibrahim/brahima, ...).
    /// Build it once and share it: it allocates.
    pub fn builtin() -> Self {
        let mut table = Self::new();
        for group in BUILTIN_VARIANTS {
            let Some((canonical, variants)) = group.split_first() else {
                continue;
            };
            for variant in variants {
                table.insert(variant, canonical);
            }
        }
        table
    }

    /// Adds another table's mappings (a deployment's own over the built-in).
    pub fn extend(&mut self, other: &NameVariants) {
        for (variant, canonical) in &other.to_canonical {
            self.to_canonical.insert(variant.clone(), canonical.clone());
        }
    }

    /// Canonical spelling of a folded token; the token itself when unknown.
    pub fn canonical<'a>(&'a self, token: &'a str) -> &'a str {
        self.to_canonical.get(token).map_or(token, String::as_str)
    }

    /// Number of variant spellings in the table.
    pub fn len(&self) -> usize {
        self.to_canonical.len()
    }

    /// True when the table maps nothing.
    pub fn is_empty(&self) -> bool {
        self.to_canonical.is_empty()
    }

    /// Every `(variant, canonical)` pair of the table, in no set order
    /// (search looks for spellings a typo is one edit away from).
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.to_canonical
            .iter()
            .map(|(v, c)| (v.as_str(), c.as_str()))
    }
}

// ---------------------------------------------------------------------------
// Given-name / surname lexicon
// ---------------------------------------------------------------------------

/// What a name token usually is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRole {
    /// Usually a given (first) name.
    Given,
    /// Usually a family name.
    Surname,
    /// Commonly both (Akan day names: kouassi, konan, yao...).
    Either,
    /// Not in the lexicon.
    Unknown,
}

/// Common given names (folded, sorted: checked by a test).
#[rustfmt::skip]
const GIVEN_NAMES: &[&str] = &[
    "abdou", "abdoul", "abdoulaye", "aboubacar", "adama", "aicha", "aissata", "aissatou",
    "alain", "alassane", "ali", "alima", "alpha", "amadou", "amidou", "aminata", "andre",
    "antoine", "aoua", "arouna", "assane", "assetou", "assita", "astou", "awa", "aziz",
    "bakary", "binta", "bintou", "boubacar", "brahima", "cheick", "cheikh", "christian",
    "christine", "daouda", "didier", "djeneba", "emmanuel", "eric", "fanta", "fatim", "fatou",
    "fatoumata", "francois", "georges", "hamidou", "hawa", "ibrahim", "ibrahima", "idrissa",
    "ismael", "issa", "issiaka", "jacques", "jean", "joseph", "kadiatou", "kadidia", "karim",
    "khadidiatou", "lamine", "lassina", "madou", "maimouna", "mamadou", "marc", "mariam",
    "mariama", "marie", "michel", "mohamed", "moussa", "moustapha", "nafissatou", "ndeye",
    "oumar", "oumou", "ousmane", "patrick", "paul", "pierre", "ramata", "rokia", "rokiatou",
    "salif", "salimata", "sanata", "sekou", "serge", "seydou", "sidiki", "souleymane",
    "yacouba", "youssouf", "yves", "zenabou",
];

/// Common surnames (folded, sorted: checked by a test).
#[rustfmt::skip]
const SURNAMES: &[&str] = &[
    "ba", "bah", "bakayoko", "bamba", "barry", "bationo", "camara", "cisse", "compaore",
    "coulibaly", "dabo", "dembele", "diabate", "diaby", "diakite", "diallo", "diarra",
    "diarrassouba", "diawara", "diomande", "diop", "diouf", "dosso", "doumbia", "drame", "fall",
    "faye", "fofana", "gueye", "haidara", "ilboudo", "kabore", "kamagate", "kamara", "kane",
    "kante", "keita", "konate", "kone", "kourouma", "kouyate", "ly", "maiga", "mbaye", "meite",
    "ndiaye", "ndour", "nguessan", "niang", "nikiema", "ouattara", "ouedraogo", "sall",
    "sangare", "sanogo", "sarr", "sawadogo", "seck", "sene", "sidibe", "silue", "sissoko",
    "soro", "sow", "sy", "sylla", "tall", "tapsoba", "thiam", "toure", "traore", "tuo",
    "yameogo", "yeo", "zongo", "zoungrana",
];

/// Akan day names and derived names used both as given names and surnames.
#[rustfmt::skip]
const EITHER_NAMES: &[&str] = &[
    "adjoua", "affoue", "ahou", "akissi", "akoua", "amenan", "amoin", "aya", "koffi", "kofi",
    "konan", "koua", "kouadio", "kouakou", "kouame", "kouassi", "yao",
];

/// The three lexicons in one hash map, built once.
static ROLES: LazyLock<FxHashMap<&'static str, NameRole>> = LazyLock::new(|| {
    let mut roles = FxHashMap::default();
    let lexicons = [
        (GIVEN_NAMES, NameRole::Given),
        (SURNAMES, NameRole::Surname),
        (EITHER_NAMES, NameRole::Either),
    ];
    for (lexicon, name_role) in lexicons {
        for name in lexicon {
            roles.insert(*name, name_role);
        }
    }
    roles
});

/// Role of a folded token according to the built-in lexicon (one hash lookup, no
/// allocation).
pub fn role(token: &str) -> NameRole {
    ROLES.get(token).copied().unwrap_or(NameRole::Unknown)
}

fn count_roles(tokens: &[String]) -> (usize, usize) {
    let mut given = 0;
    let mut surname = 0;
    for token in tokens {
        match role(token) {
            NameRole::Given => given += 1,
            NameRole::Surname => surname += 1,
            NameRole::Either | NameRole::Unknown => {}
        }
    }
    (given, surname)
}

/// True when the given-name tokens look like surnames and the surname tokens look like
/// given names: at least one clear signal each way and no contradicting signal.
/// Tokens must already be folded.
pub fn looks_swapped(given: &[String], surname: &[String]) -> bool {
    let (given_in_given, surname_in_given) = count_roles(given);
    let (given_in_surname, surname_in_surname) = count_roles(surname);
    surname_in_given > 0 && given_in_surname > 0 && given_in_given == 0 && surname_in_surname == 0
}

// ---------------------------------------------------------------------------
// Nicknames and particles
// ---------------------------------------------------------------------------

/// The built-in nickname groups (`data/nicknames.csv`: English, French and
/// West-African short and familiar forms).
pub const BUILTIN_NICKNAMES: &str = include_str!("../data/nicknames.csv");

/// Nickname groups: "Bill" and "William", "Peggy" and "Margaret", "Fatou"
/// and "Fatoumata". Unlike [`NameVariants`] (one spelling for one name),
/// a nickname may belong to several names ("Al": Albert, Alfred,
/// Alexander), so a name maps to the groups it belongs to and two names are
/// nicknames of each other when they share a group. Matching compares them
/// at a level of their own, whose weight the model learns.
#[derive(Debug, Clone, Default)]
pub struct Nicknames {
    groups: FxHashMap<String, Vec<u32>>,
    count: u32,
}

impl Nicknames {
    /// The built-in table.
    pub fn builtin() -> Self {
        let mut table = Self::default();
        table
            .add_text(BUILTIN_NICKNAMES)
            .expect("the built-in nickname table parses");
        table
    }

    /// Parses CSV text, one group per line (`full form,nickname,...`), `#`
    /// comments and blank lines ignored.
    pub fn parse(text: &str) -> Result<Self, VariantsError> {
        let mut table = Self::default();
        table.add_text(text)?;
        Ok(table)
    }

    /// Adds the groups of CSV text (a deployment's own table).
    pub fn add_text(&mut self, text: &str) -> Result<(), VariantsError> {
        for (index, raw_line) in text.lines().enumerate() {
            let line = raw_line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<String> = line.split(',').map(|f| fold(f).replace(' ', "")).collect();
            if fields.len() < 2 {
                return Err(VariantsError::TooFewFields { line: index + 1 });
            }
            if let Some(empty) = fields.iter().position(String::is_empty) {
                return Err(VariantsError::EmptyField {
                    line: index + 1,
                    field: empty + 1,
                });
            }
            let group = self.count;
            self.count += 1;
            for name in fields {
                let groups = self.groups.entry(name).or_default();
                if groups.last() != Some(&group) {
                    groups.push(group);
                }
            }
        }
        Ok(())
    }

    /// The groups a folded name (one token, or words joined without
    /// spaces) belongs to; empty when it is in none.
    pub fn groups(&self, name: &str) -> &[u32] {
        self.groups.get(name).map_or(&[], Vec::as_slice)
    }

    /// Whether two folded names are nicknames of each other (share a group).
    pub fn are_nicknames(&self, a: &str, b: &str) -> bool {
        let (x, y) = (self.groups(a), self.groups(b));
        a != b && x.iter().any(|g| y.contains(g))
    }

    /// Number of groups.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    /// True when the table has no group.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }
}

/// Particles of family names ("de", "van", "ould", "ben"): "Ludwig van
/// Beethoven" and "Ludwig Beethoven", "Mohamed ould Abdallah" and
/// "Mohamed Abdallah" are the same name. Dropped from a name's words when
/// other words remain (sorted: checked by a test).
#[rustfmt::skip]
pub const PARTICLES: &[&str] = &[
    "al", "bin", "da", "dal", "de", "del", "della", "den", "der", "des", "di", "do", "dos",
    "du", "el", "ibn", "la", "le", "ould", "ten", "ter", "van", "von", "zu",
];

/// Whether a folded token is a name particle.
pub fn is_particle(token: &str) -> bool {
    PARTICLES.binary_search(&token).is_ok()
}

/// Drops particles from a name's folded words when other words remain.
pub fn without_particles(words: &mut Vec<String>) {
    if words.iter().any(|w| !is_particle(w)) {
        words.retain(|w| !is_particle(w));
    }
}

// ---------------------------------------------------------------------------
// Full-name splitting
// ---------------------------------------------------------------------------

/// Courtesy titles dropped at the start of a name part.
#[rustfmt::skip]
const TITLES: &[&str] = &[
    "baron", "baroness", "capt", "captain", "col", "dame", "dr", "hon", "honourable", "lady",
    "lord", "m", "madame", "mademoiselle", "miss", "mlle", "mme", "monsieur", "mr", "mrs", "ms",
    "prof", "rev", "reverend", "sir",
];

/// Whether a folded token is a courtesy or noble title ("hon", "sir",
/// "mme"): a given name written as one is no given name ("Hon. Collier").
pub fn is_title_token(token: &str) -> bool {
    is_title(token)
}

/// Ranks written beside a name rather than names ("2nd baronet", "Bt.",
/// "Kt."): an ordinal or a baronet's or knight's mark.
const RANKS: &[&str] = &["bart", "baronet", "bt", "kt"];

/// Whether a folded token is a rank ("3rd", "baronet", "bt"): never a given
/// name or a surname, wherever it is written ("Sir | Baronet" for "Sir
/// Edmund Loder, 2nd Baronet").
pub fn is_rank_token(token: &str) -> bool {
    RANKS.binary_search(&token).is_ok() || is_ordinal(token)
}

/// "1st", "2nd", "23rd", "11th".
fn is_ordinal(token: &str) -> bool {
    let digits = token.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && matches!(&token[digits..], "st" | "nd" | "rd" | "th")
}

/// Markers of a married name ("KOUASSI Aya épouse KONAN"): the marker and what follows
/// are dropped, the birth name before it is kept.
const MARRIED_NAME_MARKERS: &[&str] = &["ep", "epouse", "epse", "veuve", "vve"];

/// A folded token and whether its raw word was written in capitals.
struct RawToken {
    token: String,
    capitalised: bool,
}

/// Splits a full name into `(given tokens, surname tokens)`, folded.
///
/// * `"Traoré, Aminata"`: a comma means `surname, given`.
/// * Capitals: a raw word written in ALL CAPS (2+ letters) is a surname token when the
///   name mixes capitalised and non-capitalised words (`"KOUASSI Konan Jean"` →
///   given `[konan, jean]`, surname `[kouassi]`).
/// * Otherwise the lexicon decides: surname-first when the first token is a known
///   surname and the last is not, or (extension) when the last token is a known given
///   name and the first is not; else given-first with the last token as surname.
/// * One token → surname only.
/// * Leading courtesy titles (M., Mme, Dr...) are dropped, and so is a married-name
///   tail (`épouse X`, `ep. X`, `veuve X`).
pub fn split_full_name(full: &str) -> (Vec<String>, Vec<String>) {
    if let Some((before, after)) = full.split_once(',') {
        let surname = without_titles(tokens(before));
        let given = without_titles(tokens(after));
        if !surname.is_empty() && !given.is_empty() {
            return (given, surname);
        }
    }
    let mut raw_tokens = raw_tokens(full);
    drop_leading_titles(&mut raw_tokens);
    drop_married_name_tail(&mut raw_tokens);
    if let Some(split) = split_by_capitals(&raw_tokens) {
        return split;
    }
    let all: Vec<String> = raw_tokens.into_iter().map(|raw| raw.token).collect();
    split_by_lexicon(all)
}

fn raw_tokens(full: &str) -> Vec<RawToken> {
    let mut out = Vec::new();
    for word in full.split(|c: char| c.is_whitespace() || c == ',') {
        let capitalised = is_capitalised(word);
        for token in tokens(word) {
            out.push(RawToken { token, capitalised });
        }
    }
    out
}

fn is_capitalised(word: &str) -> bool {
    let mut letters = 0;
    for c in word.chars().filter(|c| c.is_alphabetic()) {
        if !c.is_uppercase() {
            return false;
        }
        letters += 1;
    }
    letters >= 2
}

fn is_title(token: &str) -> bool {
    TITLES.binary_search(&token).is_ok()
}

fn without_titles(mut tokens: Vec<String>) -> Vec<String> {
    let titles = tokens.iter().take_while(|t| is_title(t)).count();
    if titles < tokens.len() {
        tokens.drain(..titles);
    }
    tokens
}

fn drop_leading_titles(tokens: &mut Vec<RawToken>) {
    let titles = tokens.iter().take_while(|raw| is_title(&raw.token)).count();
    if titles < tokens.len() {
        tokens.drain(..titles);
    }
}

fn drop_married_name_tail(tokens: &mut Vec<RawToken>) {
    let marker = tokens.iter().position(|raw| {
        MARRIED_NAME_MARKERS
            .binary_search(&raw.token.as_str())
            .is_ok()
    });
    if let Some(index) = marker
        && index > 0
        && index + 1 < tokens.len()
    {
        tokens.truncate(index);
    }
}

fn split_by_capitals(tokens: &[RawToken]) -> Option<(Vec<String>, Vec<String>)> {
    let capitalised = tokens.iter().filter(|raw| raw.capitalised).count();
    if capitalised == 0 || capitalised == tokens.len() {
        return None;
    }
    let mut given = Vec::new();
    let mut surname = Vec::new();
    for raw in tokens {
        if raw.capitalised {
            surname.push(raw.token.clone());
        } else {
            given.push(raw.token.clone());
        }
    }
    Some((given, surname))
}

fn split_by_lexicon(mut all: Vec<String>) -> (Vec<String>, Vec<String>) {
    if all.len() <= 1 {
        return (Vec::new(), all);
    }
    let first = role(&all[0]);
    let last = role(&all[all.len() - 1]);
    let surname_first = (first == NameRole::Surname && last != NameRole::Surname)
        || (last == NameRole::Given && first != NameRole::Given);
    if surname_first {
        let given = all.split_off(1);
        return (given, all);
    }
    let surname = all.split_off(all.len() - 1);
    (all, surname)
}

#[cfg(test)]
mod tests;

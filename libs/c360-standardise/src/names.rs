//! Personal names: phonetic key, spelling-variant table, given/surname lexicon and
//! full-name splitting.

use std::borrow::Cow;
use std::sync::LazyLock;

use rustc_hash::FxHashMap;

use crate::text::{fold, tokens};

// ---------------------------------------------------------------------------
// Phonetic key
// ---------------------------------------------------------------------------

/// Phonetic key of ONE folded token (lowercase ASCII letters/digits), tuned for French
/// and West-African (Akan, Mande, Wolof, Fula) spellings.
///
/// Steps:
/// 1. Silent ending, as in French (only one of these, first match wins): a final `es`
///    (4+ letters: `jacques`→`jacqu`); a final `s`/`t`/`x`/`d` after a vowel (4+
///    letters: `mohamed`→`mohame`); a final `e` (3+ letters: `toure`→`tour`,
///    `ndiaye`→`ndiay`).
/// 2. Left-to-right rewriting:
///    `ou`/`oo`/`ow`/`w`→`u`, `y`→`i`, `ei`/`ey`→`ai`, `eau`→`o`, `au`(+consonant)→`o`,
///    `ph`→`f`, `ch`/`sh`/`sch`→`x` (the "sh" sound), `ck`/`cq`/`qu`/`q`→`k`,
///    `c`→`s` before `e`/`i`/`y` else `k`, `gu`+`e`/`i`/`y`→`g`, `dj`→`j`, `x`→`ks`,
///    `z`→`s`, `h` otherwise silent (`th`→`t`, `kh`→`k`, leading `h` dropped).
/// 3. Repeated codes collapse (`tt`→`t`, `ss`→`s`, also across rules).
///
/// Vowels are kept (a vowel skeleton), so `konan`/`kone`/`konate` stay distinct.
/// Non-alphanumeric input bytes are ignored and uppercase ASCII is lowercased, so the
/// function is total; it never panics.
pub fn phonetic(token: &str) -> String {
    let cleaned = clean_token(token);
    let word = strip_silent_ending(&cleaned);
    let mut coder = Coder::with_capacity(word.len() + 2);
    let mut position = 0;
    while position < word.len() {
        position += encode_at(word, position, &mut coder);
    }
    coder.out
}

fn clean_token(token: &str) -> Cow<'_, [u8]> {
    let bytes = token.as_bytes();
    if bytes
        .iter()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    {
        return Cow::Borrowed(bytes);
    }
    Cow::Owned(
        bytes
            .iter()
            .filter(|b| b.is_ascii_alphanumeric())
            .map(u8::to_ascii_lowercase)
            .collect(),
    )
}

fn is_vowel(byte: u8) -> bool {
    matches!(byte, b'a' | b'e' | b'i' | b'o' | b'u' | b'y')
}

fn is_front_vowel(byte: Option<u8>) -> bool {
    matches!(byte, Some(b'e' | b'i' | b'y'))
}

fn strip_silent_ending(word: &[u8]) -> &[u8] {
    let n = word.len();
    if n >= 4 && word.ends_with(b"es") {
        return &word[..n - 2];
    }
    if n >= 4 && matches!(word[n - 1], b's' | b't' | b'x' | b'd') && is_vowel(word[n - 2]) {
        return &word[..n - 1];
    }
    if n >= 3 && word[n - 1] == b'e' {
        return &word[..n - 1];
    }
    word
}

/// Output buffer that collapses consecutive identical codes.
struct Coder {
    out: String,
}

impl Coder {
    fn with_capacity(capacity: usize) -> Self {
        Self {
            out: String::with_capacity(capacity),
        }
    }

    fn push(&mut self, code: u8) {
        if self.out.as_bytes().last() != Some(&code) {
            self.out.push(char::from(code));
        }
    }
}

/// Encodes the letter at `position`, returns how many input bytes were consumed.
fn encode_at(word: &[u8], position: usize, coder: &mut Coder) -> usize {
    let next = word.get(position + 1).copied();
    let after = word.get(position + 2).copied();
    match word[position] {
        b'a' if next == Some(b'u') && !after.is_some_and(is_vowel) => {
            coder.push(b'o');
            2
        }
        b'e' if next == Some(b'a') && after == Some(b'u') => {
            coder.push(b'o');
            3
        }
        b'e' if matches!(next, Some(b'i' | b'y')) => {
            coder.push(b'a');
            coder.push(b'i');
            2
        }
        b'o' if matches!(next, Some(b'u' | b'o' | b'w')) => {
            coder.push(b'u');
            2
        }
        b'w' => {
            coder.push(b'u');
            1
        }
        b'y' => {
            coder.push(b'i');
            1
        }
        b'h' => 1,
        b'c' if next == Some(b'h') => {
            coder.push(b'x');
            2
        }
        b'c' if next == Some(b'q') && after == Some(b'u') => {
            coder.push(b'k');
            3
        }
        b'c' if matches!(next, Some(b'k' | b'q')) => {
            coder.push(b'k');
            2
        }
        b'c' if is_front_vowel(next) => {
            coder.push(b's');
            1
        }
        b'c' | b'k' => {
            coder.push(b'k');
            1
        }
        b's' if next == Some(b'h') => {
            coder.push(b'x');
            2
        }
        b's' if next == Some(b'c') && after == Some(b'h') => {
            coder.push(b'x');
            3
        }
        b'q' if next == Some(b'u') => {
            coder.push(b'k');
            2
        }
        b'q' => {
            coder.push(b'k');
            1
        }
        b'g' if next == Some(b'u') && is_front_vowel(after) => {
            coder.push(b'g');
            2
        }
        b'd' if next == Some(b'j') => {
            coder.push(b'j');
            2
        }
        b'p' if next == Some(b'h') => {
            coder.push(b'f');
            2
        }
        b'x' => {
            coder.push(b'k');
            coder.push(b's');
            1
        }
        b'z' => {
            coder.push(b's');
            1
        }
        other => {
            coder.push(other);
            1
        }
    }
}

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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn in_lexicon(lexicon: &[&str], token: &str) -> bool {
        lexicon.binary_search(&token).is_ok()
    }

    fn key(raw: &str) -> String {
        // Names arrive folded; fold multi-word inputs into one token for the table.
        phonetic(&fold(raw).replace(' ', ""))
    }

    #[test]
    fn phonetic_equal_pairs() {
        let groups: &[&[&str]] = &[
            &["Kouassi", "Kouasi", "Kouassy"],
            &["Mamadou", "Mamadu", "Mamadoo"],
            &["Nguessan", "Nguesan", "N'Guessan"],
            &["Ouattara", "Watara", "Ouatara"],
            &["Coulibaly", "Kulibali", "Koulibaly"],
            &["Traore", "Traoré"],
            &["Diallo", "Dialo"],
            &["Konate", "Konaté"],
            &["Kone", "Koné"],
            &["Toure", "Tour"],
            &["Cisse", "Sisse", "Cissé"],
            &["Ndiaye", "N'Diaye", "Ndiay"],
            &["Yao", "Yaho"],
            &["Fatoumata", "Fatoumatta"],
            &["Aminata", "Aminatta"],
            &["Mohamed", "Mohammed", "Mohamet"],
            &["Seydou", "Seidou", "Saydou"],
            &["Kouame", "Kwame"],
            &["Koffi", "Kofi"],
            &["Adjoua", "Adjwa"],
            &["Amadou", "Ahmadou", "Hamadou"],
            &["Awa", "Hawa"],
            &["Cheick", "Cheikh", "Sheikh"],
            &["Philippe", "Filipe"],
            &["Keita", "Keyta"],
            &["Jacques", "Jacque"],
        ];
        for group in groups {
            let expected = key(group[0]);
            for name in &group[1..] {
                assert_eq!(key(name), expected, "{} vs {}", group[0], name);
            }
        }
    }

    #[test]
    fn phonetic_distinct_pairs() {
        let pairs = [
            ("Mamadou", "Moussa"),
            ("Konan", "Kone"),
            ("Konan", "Konate"),
            ("Kone", "Konate"),
            ("Kouassi", "Kouadio"),
            ("Traore", "Toure"),
            ("Diallo", "Diarra"),
            ("Aminata", "Amina"),
            ("Kouame", "Kouakou"),
            ("Abdoulaye", "Abdoul"),
            ("Fatou", "Fanta"),
            ("Sow", "Sy"),
            ("Diop", "Diouf"),
            ("Seydou", "Sidiki"),
            ("Bamba", "Bah"),
            ("Yao", "Aya"),
        ];
        for (a, b) in pairs {
            assert_ne!(key(a), key(b), "{a} vs {b}");
        }
    }

    #[test]
    fn phonetic_exact_keys() {
        let cases = [
            ("kouassi", "kuasi"),
            ("ouattara", "uatara"),
            ("coulibaly", "kulibali"),
            ("nguessan", "ngesan"),
            ("toure", "tur"),
            ("ndiaye", "ndiai"),
            ("cisse", "sis"),
            ("mohamed", "moame"),
            ("seydou", "saidu"),
            ("philippe", "filip"),
            ("cheikh", "xaik"),
            ("xavier", "ksavier"),
            ("renaud", "reno"),
            ("ba", "ba"),
            ("", ""),
            ("h", ""),
            ("1234", "1234"),
        ];
        for (input, expected) in cases {
            assert_eq!(phonetic(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn phonetic_tolerates_unfolded_input() {
        assert_eq!(phonetic("KOUASSI"), phonetic("kouassi"));
        assert_eq!(phonetic("Kou-assi"), phonetic("kouassi"));
        assert_eq!(phonetic("é"), "");
    }

    #[test]
    fn variants_builtin_and_lookup() {
        let table = NameVariants::builtin();
        assert!(!table.is_empty());
        assert_eq!(table.canonical("mohammed"), "mohamed");
        assert_eq!(table.canonical("muhammad"), "mohamed");
        assert_eq!(table.canonical("mohamed"), "mohamed");
        assert_eq!(table.canonical("brahima"), "ibrahima");
        assert_eq!(table.canonical("abdullahi"), "abdoulaye");
        assert_eq!(table.canonical("omar"), "oumar");
        assert_eq!(table.canonical("tarawele"), "traore");
        assert_eq!(table.canonical("unknownname"), "unknownname");
        assert_eq!(table.canonical(""), "");
        for group in BUILTIN_VARIANTS {
            for name in *group {
                assert_eq!(fold(name), *name, "builtin entries must be folded");
            }
        }
    }

    #[test]
    fn variants_insert_folds() {
        let mut table = NameVariants::new();
        assert!(table.is_empty());
        table.insert("MOHAMMÉD", "Mohamed");
        table.insert("", "x");
        table.insert("same", "SAME");
        assert_eq!(table.len(), 1);
        assert_eq!(table.canonical("mohammed"), "mohamed");
    }

    #[test]
    fn variants_parse() {
        let text = "# comment\n\nmohamed, Mohammed ,muhammad\n  \nibrahima,brahima\n";
        let table = NameVariants::parse(text).expect("valid table");
        assert_eq!(table.len(), 3);
        assert_eq!(table.canonical("muhammad"), "mohamed");
        assert_eq!(table.canonical("brahima"), "ibrahima");

        assert_eq!(
            NameVariants::parse("a,b\nlonely\n").expect_err("one field"),
            VariantsError::TooFewFields { line: 2 }
        );
        let error = NameVariants::parse("# x\nmohamed,,muhammad").expect_err("empty field");
        assert_eq!(error, VariantsError::EmptyField { line: 2, field: 2 });
        assert!(!error.to_string().contains("mohamed"));
        assert!(!format!("{error:?}").contains("mohamed"));
        assert!(NameVariants::parse("").expect("empty ok").is_empty());
    }

    #[test]
    fn lexicons_are_sorted_and_disjoint() {
        for lexicon in [
            GIVEN_NAMES,
            SURNAMES,
            EITHER_NAMES,
            TITLES,
            MARRIED_NAME_MARKERS,
        ] {
            assert!(
                lexicon.windows(2).all(|w| w[0] < w[1]),
                "unsorted near {lexicon:?}"
            );
            for name in lexicon {
                assert_eq!(fold(name), *name);
            }
        }
        for name in GIVEN_NAMES {
            assert!(
                !in_lexicon(SURNAMES, name) && !in_lexicon(EITHER_NAMES, name),
                "{name}"
            );
        }
        for name in SURNAMES {
            assert!(!in_lexicon(EITHER_NAMES, name), "{name}");
        }
    }

    #[test]
    fn role_table() {
        let cases = [
            ("mamadou", NameRole::Given),
            ("aminata", NameRole::Given),
            ("fatoumata", NameRole::Given),
            ("jean", NameRole::Given),
            ("marie", NameRole::Given),
            ("traore", NameRole::Surname),
            ("diallo", NameRole::Surname),
            ("ouattara", NameRole::Surname),
            ("nguessan", NameRole::Surname),
            ("ba", NameRole::Surname),
            ("kouassi", NameRole::Either),
            ("konan", NameRole::Either),
            ("yao", NameRole::Either),
            ("affoue", NameRole::Either),
            ("zzz", NameRole::Unknown),
            ("", NameRole::Unknown),
            ("Traore", NameRole::Unknown),
        ];
        for (token, expected) in cases {
            assert_eq!(role(token), expected, "{token}");
        }
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn looks_swapped_table() {
        let cases: &[(&[&str], &[&str], bool)] = &[
            (&["traore"], &["aminata"], true),
            (&["diallo"], &["mamadou"], true),
            (&["aminata"], &["traore"], false),
            (&["traore", "aminata"], &["mamadou"], false),
            (&["traore"], &["aminata", "diallo"], false),
            (&["kouassi"], &["jean"], false),
            (&["traore", "kouassi"], &["jean"], true),
            (&[], &["aminata"], false),
            (&["zzz"], &["yyy"], false),
        ];
        for (given, surname, expected) in cases {
            assert_eq!(
                looks_swapped(&strings(given), &strings(surname)),
                *expected,
                "{given:?} / {surname:?}"
            );
        }
    }

    #[test]
    fn split_full_name_table() {
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("KOUASSI Konan Jean", &["konan", "jean"], &["kouassi"]),
            ("Aminata TRAORE", &["aminata"], &["traore"]),
            ("Traoré, Aminata", &["aminata"], &["traore"]),
            ("Traoré Aminata", &["aminata"], &["traore"]),
            ("Mamadou Diallo", &["mamadou"], &["diallo"]),
            ("Ndèye Fatou Ndiaye", &["ndeye", "fatou"], &["ndiaye"]),
            (
                "N'Guessan Kouassi Jean-Marc",
                &["kouassi", "jean", "marc"],
                &["nguessan"],
            ),
            (
                "N'GUESSAN Kouassi Jean-Marc",
                &["kouassi", "jean", "marc"],
                &["nguessan"],
            ),
            ("KOUAME Affoué", &["affoue"], &["kouame"]),
            ("Kouassi Jean", &["jean"], &["kouassi"]),
            ("Jean Kouassi", &["jean"], &["kouassi"]),
            ("Diallo Ba", &["diallo"], &["ba"]),
            ("Konan", &[], &["konan"]),
            ("", &[], &[]),
            ("  ,  ", &[], &[]),
            ("Mme KOUASSI Aya", &["aya"], &["kouassi"]),
            ("M. Mamadou Diallo", &["mamadou"], &["diallo"]),
            ("KOUASSI Aya épouse KONAN", &["aya"], &["kouassi"]),
            ("Aya Kouassi ep. Konan", &["aya"], &["kouassi"]),
            ("AMINATA TRAORE", &["aminata"], &["traore"]),
            ("Koné Ibrahim Yacouba", &["ibrahim", "yacouba"], &["kone"]),
            ("Zzz Yyy Xxx", &["zzz", "yyy"], &["xxx"]),
            ("Aminata A. TRAORE", &["aminata", "a"], &["traore"]),
        ];
        for (full, given, surname) in cases {
            let (g, s) = split_full_name(full);
            assert_eq!((g, s), (strings(given), strings(surname)), "{full}");
        }
    }

    #[test]
    fn nicknames_builtin_and_many_to_many() {
        let table = Nicknames::builtin();
        assert!(table.len() > 100);
        for (a, b) in [
            ("tom", "thomas"),
            ("bill", "william"),
            ("peggy", "margaret"),
            ("madou", "mamadou"),
            ("fatou", "fatoumata"),
            ("al", "albert"),
            ("al", "alfred"),
        ] {
            assert!(table.are_nicknames(a, b), "{a} / {b}");
            assert!(table.are_nicknames(b, a), "{b} / {a}");
        }
        assert!(!table.are_nicknames("albert", "alfred"));
        assert!(!table.are_nicknames("thomas", "thomas"));
        assert!(!table.are_nicknames("tom", "unknownname"));
        let custom = Nicknames::parse("# a deployment's own\nkwabena,kobby\n").unwrap();
        assert!(custom.are_nicknames("kobby", "kwabena"));
        assert_eq!(
            Nicknames::parse("x,y\nlonely").unwrap_err(),
            VariantsError::TooFewFields { line: 2 }
        );
    }

    #[test]
    fn particles_are_dropped_when_other_words_remain() {
        assert!(PARTICLES.windows(2).all(|w| w[0] < w[1]));
        let mut words = strings(&["van", "der", "berg"]);
        without_particles(&mut words);
        assert_eq!(words, strings(&["berg"]));
        let mut alone = strings(&["le"]);
        without_particles(&mut alone);
        assert_eq!(alone, strings(&["le"]));
        assert!(is_title_token("hon") && is_title_token("sir") && !is_title_token("john"));
    }

    proptest! {
        #[test]
        fn phonetic_total_and_deterministic(s in any::<String>()) {
            let a = phonetic(&s);
            prop_assert_eq!(a.clone(), phonetic(&s));
            prop_assert!(a.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
        }

        #[test]
        fn phonetic_of_folded_words(s in "[a-z]{0,20}") {
            let a = phonetic(&s);
            prop_assert!(a.len() <= 2 * s.len() + 1);
        }

        #[test]
        fn split_never_panics(s in any::<String>()) {
            let (given, surname) = split_full_name(&s);
            for token in given.iter().chain(surname.iter()) {
                prop_assert!(!token.is_empty());
            }
        }
    }
}

//! Name evidence: what one query token may match in a client's names, and
//! how much each kind of match says. No tantivy here: the index turns each
//! piece of evidence into a clause.
//!
//! A client's name tokens are indexed in three disjoint sets, so that a
//! common name costs one pass over its postings, not three:
//!
//! - `golden`: the spellings of the golden record's name (folded);
//! - `other`: spellings the client's records have that the golden name
//!   does not;
//! - `canonical`: the name-variant table's canonical form of a spelling,
//!   when the client has no spelling equal to it (IBRAHIM → ibrahima).
//!
//! and `phonetic` holds the sound of each spelling. A query token counts
//! its best level only, and the levels keep their order whatever the
//! name's rarity:
//!
//! | level | the token is | weight |
//! |---|---|---|
//! | exact | a spelling of the golden name | 1.6 |
//! | exact elsewhere | a spelling one of the client's records has | 1.4 |
//! | sound | spelled otherwise, sounds like one of the client's spellings | 1.25 (a golden one 1.28) |
//! | variant | the same name by the variant table | 1.2 |
//! | typo | one edit from a spelling of one of the client's names | 0.8 to 0.95 |
//!
//! and a client whose own spelling is one edit from the token gets up to
//! 0.1 more within its level (0.03 more for a golden spelling), so
//! "MAHAMMADOU" puts Mahamadou above Mamadou though both sound alike.
//! | trigrams | none of the above: shared letter triples | up to 0.6 |
//!
//! Within the typo levels a more common name is the likelier intent. So
//! "IDRISS" puts Idriss above Idrissa and Drissa (variants), "FATOU"
//! puts a golden Fatou above a Fatoumata whose other record says Fatou,
//! and "IBRAIM" (one edit from "ibrahim", a spelling the table knows)
//! reaches every Ibrahima, Brahima and Ibrahim, the Ibrahims first.

use std::collections::{BTreeSet, HashMap};

use c360_standardise::names::{NameVariants, phonetic};

/// Exact spelling of the golden name.
pub const W_EXACT: f32 = 1.6;
/// Exact spelling found in another record of the client.
pub const W_EXACT_OTHER: f32 = 1.4;
/// Sounds like one of the client's spellings.
pub const W_SOUND: f32 = 1.25;
/// Same name by the variant table.
pub const W_VARIANT: f32 = 1.2;
/// One edit away: between these, by how common the name is.
pub const W_TYPO_MIN: f32 = 0.8;
pub const W_TYPO_MAX: f32 = 0.95;
/// Added when the client's own spelling is the one a typo is one edit from
/// (or, within the variant level, the one the token is one edit from).
pub const W_CLOSE: f32 = 0.1;
/// Added when a one-edit match is on a spelling of the golden name rather
/// than of another record (as exact is above exact elsewhere).
pub const W_GOLDEN: f32 = 0.03;
/// Shared by all the trigrams of a token.
pub const W_NGRAM: f32 = 0.6;

/// Most names one query token's typo evidence reaches.
pub const MAX_TYPO_NAMES: usize = 12;
/// Most spellings one edit away looked at, the most common first (a
/// common short name has hundreds of mistyped neighbours in a large index).
pub const MAX_NEAR_SPELLINGS: usize = 32;
/// Shortest token whose one-edit neighbours are looked up ("wa" for
/// "awa").
pub const MIN_TYPO_LETTERS: usize = 2;

/// The index field a piece of evidence looks in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NameField {
    Golden,
    Other,
    Canonical,
    /// Sounds of the golden spellings.
    Phonetic,
    /// Sounds of the other spellings, when no golden spelling has them.
    PhoneticOther,
}

/// The three sets that together hold every client whose names reach a
/// canonical form (disjoint, see the module documentation).
pub const SPELLING_FIELDS: [NameField; 3] =
    [NameField::Golden, NameField::Other, NameField::Canonical];

/// One term a query token may match, with its weight and the label a hit
/// shows in `matched_fields`.
#[derive(Debug, Clone, PartialEq)]
pub struct Evidence {
    pub field: NameField,
    pub term: String,
    pub weight: f32,
    pub label: &'static str,
}

/// A client's name tokens, as indexed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct NameSets {
    pub golden: BTreeSet<String>,
    pub other: BTreeSet<String>,
    pub canonical: BTreeSet<String>,
    /// The sounds of the golden spellings.
    pub phonetic: BTreeSet<String>,
    /// The sounds of the other spellings that no golden spelling has.
    pub phonetic_other: BTreeSet<String>,
}

impl NameSets {
    /// From the folded tokens of the golden name and of every other
    /// spelling the client's records have.
    pub fn new<'a>(
        variants: &NameVariants,
        golden: impl IntoIterator<Item = String>,
        other: impl IntoIterator<Item = &'a String>,
    ) -> NameSets {
        let mut sets = NameSets {
            golden: golden.into_iter().collect(),
            ..NameSets::default()
        };
        for t in other {
            if !sets.golden.contains(t) {
                sets.other.insert(t.clone());
            }
        }
        for t in sets.golden.iter().chain(&sets.other) {
            let c = variants.canonical(t);
            if !sets.golden.contains(c) && !sets.other.contains(c) {
                sets.canonical.insert(c.to_string());
            }
        }
        sets.phonetic = sets.golden.iter().map(|t| phonetic(t)).collect();
        for t in &sets.other {
            let key = phonetic(t);
            if !sets.phonetic.contains(&key) {
                sets.phonetic_other.insert(key);
            }
        }
        sets
    }

    /// Every name token, in any of the three sets.
    pub fn tokens(&self) -> impl Iterator<Item = &String> {
        self.golden.iter().chain(&self.other).chain(&self.canonical)
    }
}

/// The name-variant table as search uses it: canonical forms, every
/// spelling it knows, and the canonical forms each sound stands for.
#[derive(Debug, Clone)]
pub struct NameTable {
    variants: NameVariants,
    /// Every spelling of the table (variants and canonical forms), sorted.
    spellings: Vec<String>,
    /// Phonetic key → canonical forms of the table's spellings with that
    /// sound (JOSEF sounds like "joseph", a spelling of youssouf).
    sounds: HashMap<String, Vec<String>>,
}

impl NameTable {
    pub fn new(variants: NameVariants) -> NameTable {
        let mut spellings: Vec<String> = variants
            .pairs()
            .flat_map(|(v, c)| [v.to_string(), c.to_string()])
            .collect();
        spellings.sort();
        spellings.dedup();
        let mut sounds: HashMap<String, Vec<String>> = HashMap::new();
        for s in &spellings {
            let canonical = variants.canonical(s).to_string();
            let list = sounds.entry(phonetic(s)).or_default();
            if !list.contains(&canonical) {
                list.push(canonical);
            }
        }
        NameTable {
            variants,
            spellings,
            sounds,
        }
    }

    pub fn variants(&self) -> &NameVariants {
        &self.variants
    }

    /// Spellings of the table one edit (insert, delete, substitute,
    /// transpose) from `token`.
    pub fn spellings_near(&self, token: &str) -> Vec<String> {
        let n = token.chars().count();
        self.spellings
            .iter()
            .filter(|s| {
                let m = s.chars().count();
                m.abs_diff(n) <= 1 && s.as_str() != token && strsim::osa_distance(s, token) <= 1
            })
            .cloned()
            .collect()
    }

    /// The exact, variant and sound evidence of one folded query token
    /// (typos come from [`typo_names`], which needs the index's
    /// vocabulary).
    pub fn direct(&self, token: &str) -> Vec<Evidence> {
        let variants = &self.variants;
        let mut out = direct(token, variants);
        let key = phonetic(token);
        for canonical in self.sounds.get(&key).into_iter().flatten() {
            for field in SPELLING_FIELDS {
                out.push(Evidence {
                    field,
                    term: canonical.clone(),
                    weight: W_VARIANT,
                    label: "name_variant",
                });
            }
        }
        dedup_best(out)
    }
}

/// The exact, variant and sound evidence of one folded query token
/// without the table's sounds.
fn direct(token: &str, variants: &NameVariants) -> Vec<Evidence> {
    let canonical = variants.canonical(token);
    let mut out = vec![
        Evidence {
            field: NameField::Golden,
            term: token.to_string(),
            weight: W_EXACT,
            label: "name",
        },
        Evidence {
            field: NameField::Other,
            term: token.to_string(),
            weight: W_EXACT_OTHER,
            label: "name",
        },
        Evidence {
            field: NameField::Phonetic,
            term: phonetic(token),
            weight: W_SOUND + W_GOLDEN,
            label: "name_phonetic",
        },
        Evidence {
            field: NameField::PhoneticOther,
            term: phonetic(token),
            weight: W_SOUND,
            label: "name_phonetic",
        },
    ];
    for field in SPELLING_FIELDS {
        out.push(Evidence {
            field,
            term: canonical.to_string(),
            weight: W_VARIANT,
            label: "name_variant",
        });
    }
    out
}

/// Keeps the best weight of each (field, term).
pub fn dedup_best(mut evidence: Vec<Evidence>) -> Vec<Evidence> {
    evidence.sort_by(|a, b| {
        (a.field, &a.term)
            .cmp(&(b.field, &b.term))
            .then(b.weight.total_cmp(&a.weight))
    });
    evidence.dedup_by(|later, kept| later.field == kept.field && later.term == kept.term);
    evidence
}

/// `ln(1 + n) / ln(1 + most)`: how common `n` is next to the most common,
/// from 0 to 1.
fn share(n: u64, most: u64) -> f32 {
    (1.0 + n as f32).ln() / (1.0 + most.max(1) as f32).ln()
}

/// The evidence of spellings one edit from `token` (`near`: spellings
/// clients have, with how many clients have them, and spellings the
/// variant table knows, with 0; `holders` counts the clients holding a
/// term in some name fields).
///
/// Each such spelling stands for its canonical name, reached at the typo
/// level by every client holding that name, a more common name being the
/// likelier intent; at most [`MAX_TYPO_NAMES`] names, the most common.
/// A client whose own spelling is one edit away gets up to [`W_CLOSE`]
/// more (more for a commoner spelling, [`W_GOLDEN`] more on the golden
/// name), within the level the spelling has against the token: same
/// sound, variant, or typo.
pub fn typo_evidence(
    token: &str,
    variants: &NameVariants,
    near: &[(String, u64)],
    holders: &mut dyn FnMut(&[NameField], &str) -> u64,
) -> Vec<Evidence> {
    let own = variants.canonical(token);
    // The commonest spellings, and every spelling of the table.
    type Spellings<'a> = Vec<&'a (String, u64)>;
    let (mut near, table_only): (Spellings, Spellings) = near.iter().partition(|(_, n)| *n > 0);
    near.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    near.truncate(MAX_NEAR_SPELLINGS);
    near.extend(table_only);
    let mut names: Vec<(&str, u64)> = Vec::new();
    for (spelling, _) in &near {
        let c = variants.canonical(spelling);
        if c == own || names.iter().any(|(n, _)| *n == c) {
            continue;
        }
        let clients = holders(&SPELLING_FIELDS, c);
        if clients > 0 {
            names.push((c, clients));
        }
    }
    names.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    names.truncate(MAX_TYPO_NAMES);
    let most = names.iter().map(|n| n.1).max().unwrap_or(1);
    let typo_weight = |clients: u64| W_TYPO_MIN + (W_TYPO_MAX - W_TYPO_MIN) * share(clients, most);
    let mut out = Vec::new();
    for (name, clients) in &names {
        for field in SPELLING_FIELDS {
            out.push(Evidence {
                field,
                term: name.to_string(),
                weight: typo_weight(*clients),
                label: "name_fuzzy",
            });
        }
    }
    let spelled: Vec<(&String, u64)> = near
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(e, n)| (e, *n))
        .collect();
    let most_spelled = spelled.iter().map(|s| s.1).max().unwrap_or(1);
    let sound = phonetic(token);
    for (spelling, count) in spelled {
        let c = variants.canonical(spelling);
        let (base, ceiling, label) = if phonetic(spelling) == sound {
            (W_SOUND, W_EXACT_OTHER, "name_phonetic")
        } else if c == own {
            (W_VARIANT, W_SOUND, "name_variant")
        } else {
            match names.iter().find(|(n, _)| *n == c) {
                Some((_, clients)) => (typo_weight(*clients), W_VARIANT, "name_fuzzy"),
                None => continue,
            }
        };
        let close = W_CLOSE * (0.5 + 0.5 * share(count, most_spelled));
        for (field, bonus) in [(NameField::Golden, W_GOLDEN), (NameField::Other, 0.0)] {
            out.push(Evidence {
                field,
                term: spelling.clone(),
                weight: (base + close + bonus).min(ceiling - 0.01),
                label,
            });
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn toks(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn name_sets_are_disjoint() {
        let v = NameVariants::builtin();
        let other = toks(&["idriss", "sanogo", "drissa", "idrissa"]);
        let s = NameSets::new(&v, toks(&["idriss", "sanogo"]), &other);
        assert!(s.golden.contains("idriss") && s.golden.contains("sanogo"));
        assert_eq!(s.other, toks(&["drissa", "idrissa"]).into_iter().collect());
        assert!(s.canonical.is_empty(), "idrissa is already a spelling");
        let s = NameSets::new(&v, toks(&["ibrahim", "soro"]), &[]);
        assert_eq!(s.canonical, toks(&["ibrahima"]).into_iter().collect());
        assert!(s.phonetic.contains(&phonetic("ibrahim")));
        assert!(
            !s.phonetic.contains(&phonetic("ibrahima")),
            "sounds of spellings only"
        );
    }

    #[test]
    fn exact_outranks_variant_outranks_typo() {
        let t = NameTable::new(NameVariants::builtin());
        let v = t.variants();
        let e = t.direct("idriss");
        let weight = |field, term: &str| {
            e.iter()
                .find(|x| x.field == field && x.term == term)
                .map(|x| x.weight)
        };
        assert_eq!(weight(NameField::Golden, "idriss"), Some(W_EXACT));
        assert_eq!(weight(NameField::Golden, "idrissa"), Some(W_VARIANT));
        // The canonical spelling itself: exact beats the variant entry.
        let e = t.direct("kone");
        let golden: Vec<_> = e
            .iter()
            .filter(|x| x.field == NameField::Golden && x.term == "kone")
            .collect();
        assert_eq!(golden.len(), 1);
        assert_eq!(golden[0].weight, W_EXACT);
        let near = vec![("fatou".to_string(), 1000), ("fatoi".to_string(), 1)];
        let mut clients = |_: &[NameField], n: &str| if n == "fatou" { 1000 } else { 1 };
        let typos = typo_evidence("fatoa", v, &near, &mut clients);
        assert!(typos.iter().all(|t| t.weight < W_VARIANT));
        let w = |term: &str| {
            typos
                .iter()
                .filter(|t| t.term == term && t.field == NameField::Canonical)
                .map(|t| t.weight)
                .next()
                .unwrap()
        };
        assert!(w("fatou") > w("fatoi"), "the commoner name first");
    }

    #[test]
    fn typos_reach_the_variants_of_what_was_meant() {
        let t = NameTable::new(NameVariants::builtin());
        let v = t.variants();
        // IBRAIM is two edits from "ibrahima" but one from "ibrahim".
        let near: Vec<(String, u64)> = t
            .spellings_near("ibraim")
            .into_iter()
            .map(|s| (s, 5))
            .collect();
        assert!(near.iter().any(|n| n.0 == "ibrahim"), "{near:?}");
        let e = typo_evidence("ibraim", v, &near, &mut |_, _| 5);
        let reaches = |e: &[Evidence], field, term: &str| {
            e.iter()
                .find(|x| x.field == field && x.term == term)
                .map(|x| x.weight)
        };
        let all = reaches(&e, NameField::Canonical, "ibrahima").unwrap();
        let own = reaches(&e, NameField::Golden, "ibrahim").unwrap();
        // ... and sounds like it (the h is silent): the sound level.
        assert!(
            own > all && own >= W_SOUND,
            "the spelling one edit away first"
        );
        let near: Vec<(String, u64)> = t
            .spellings_near("kadiatouu")
            .into_iter()
            .map(|s| (s, 0))
            .collect();
        let e = typo_evidence("kadiatouu", v, &near, &mut |_, _| 5);
        assert!(reaches(&e, NameField::Canonical, "khadidiatou").is_some());
        // A name nobody holds is not evidence.
        assert!(typo_evidence("ibraim", v, &near, &mut |_, _| 0).is_empty());
        // JOSEF sounds like "joseph", a spelling of youssouf: a variant.
        let e = t.direct("josef");
        assert!(
            e.iter()
                .any(|x| x.term == "youssouf" && x.weight == W_VARIANT)
        );
    }
}

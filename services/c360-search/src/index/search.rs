//! The search itself over one generation: a parsed query becomes one
//! clause per query token (the best of its kinds of evidence, each scoring
//! a chosen constant), filters, the top hits and which fields each matched.

use std::collections::BTreeMap;

use tantivy::collector::TopDocs;
use tantivy::query::{
    BooleanQuery, ConstScoreQuery, DisjunctionMaxQuery, FuzzyTermQuery, Occur, Query, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{DocAddress, DocSet, Searcher, TERMINATED, TantivyDocument, Term};

use super::{Engine, Hit, HitPerson};
use crate::Result;
use crate::doc::{Analyzer, trigrams};
use crate::evidence::{self, Evidence, NameField, SPELLING_FIELDS};
use crate::query::{Filters, ParsedQuery};

/// What one matching clause adds to a score (before the small rarity
/// factor). Scores are shaped so that covering more query tokens wins:
/// each name token adds about 1 to 1.6 by its evidence (see
/// [`crate::evidence`]), a place 1.0, while a phone, id or e-mail match
/// outweighs names.
const W_PLACE: f32 = 1.0;
const W_ADDRESS: f32 = 0.3;
const W_EXACT_KEY: f32 = 3.0;
/// A birth year or phone ending that narrows a search (required, so its
/// weight only shows it among the matched fields).
const W_NARROW: f32 = 0.1;
/// Share of a token's other evidence added to its best one.
const TIE_BREAKER: f32 = 0.0;

impl Engine {
    /// Runs a parsed query. `offset`/`limit` select the page.
    pub fn search(
        &self,
        analyzer: &Analyzer,
        query: &ParsedQuery,
        filters: &Filters,
        offset: usize,
        limit: usize,
    ) -> Result<Vec<Hit>> {
        let searcher = self.reader.searcher();
        let (text, clauses) = self.build(&searcher, analyzer, query)?;
        if clauses.is_empty() {
            return Ok(Vec::new());
        }
        let query = self.with_filters(text, filters);
        let top = searcher.search(
            &*query,
            &TopDocs::with_limit(limit)
                .and_offset(offset)
                .order_by_score(),
        )?;
        let matched = self.matched_fields(&searcher, &clauses, &top)?;
        let mut hits = Vec::with_capacity(top.len());
        for ((score, address), matched) in top.into_iter().zip(matched) {
            hits.push(self.hit(&searcher, score, address, matched)?);
        }
        Ok(hits)
    }

    fn with_filters(&self, text: Box<dyn Query>, filters: &Filters) -> Box<dyn Query> {
        let f = &self.fields;
        let lists: [(Field, Vec<String>); 3] = [
            (
                f.region,
                filters
                    .regions
                    .iter()
                    .map(|r| c360_standardise::text::fold(r))
                    .collect(),
            ),
            (f.sector, filters.sectors.clone()),
            (f.source, filters.source_systems.clone()),
        ];
        let mut must: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for (field, values) in lists {
            if values.is_empty() {
                continue;
            }
            let any = BooleanQuery::new(
                values
                    .iter()
                    .map(|v| {
                        let q: Box<dyn Query> = Box::new(TermQuery::new(
                            Term::from_field_text(field, v),
                            IndexRecordOption::Basic,
                        ));
                        (Occur::Should, q)
                    })
                    .collect(),
            );
            must.push((
                Occur::Must,
                Box::new(ConstScoreQuery::new(Box::new(any), 0.0)),
            ));
        }
        if must.is_empty() {
            return text;
        }
        must.push((Occur::Must, text));
        Box::new(BooleanQuery::new(must))
    }

    /// The index field of a kind of name evidence.
    fn name_field(&self, field: NameField) -> Field {
        match field {
            NameField::Golden => self.fields.name_golden,
            NameField::Other => self.fields.name_other,
            NameField::Canonical => self.fields.name_canonical,
            NameField::Phonetic => self.fields.phonetic,
            NameField::PhoneticOther => self.fields.phonetic_other,
        }
    }

    /// The query: for each query token, the best of its name evidence
    /// (see [`crate::evidence`]), summed over tokens, plus phone, id and
    /// e-mail clauses; place evidence adds to hits; a birth year or phone
    /// ending is required. Boosts are set so that a clause adds its weight
    /// times a rarity factor between 0.97 and 1 (a rare shared value says a
    /// little more than a common one). Also returns every clause, to tell
    /// which fields matched a hit.
    fn build(
        &self,
        searcher: &Searcher,
        analyzer: &Analyzer,
        query: &ParsedQuery,
    ) -> Result<(Box<dyn Query>, Vec<Clause>)> {
        let f = &self.fields;
        let total_docs = searcher.num_docs();
        // A rare value shared says a little more than a common one: a
        // factor between 0.97 and 1 by how many clients hold it.
        let rarity = |holders: u64| {
            let idf = ((total_docs.saturating_sub(holders)) as f32 + 0.5) / (holders as f32 + 0.5);
            0.97 + 0.03 * ((1.0 + idf).ln().min(12.0) / 12.0)
        };
        let clause_with = |label: &'static str,
                           term: Term,
                           weight: f32,
                           factor: Option<f32>|
         -> Result<Option<Clause>> {
            let df = searcher.doc_freq(&term)?;
            if df == 0 || total_docs == 0 {
                return Ok(None);
            }
            let boost = weight * factor.unwrap_or_else(|| rarity(df));
            Ok(Some(Clause { label, term, boost }))
        };
        let clause = |label, term, weight| clause_with(label, term, weight, None);
        let table = analyzer.names();
        let variants = table.variants();
        let holders = |fields: &[NameField], name: &str| -> u64 {
            fields
                .iter()
                .map(|&field| {
                    let term = Term::from_field_text(self.name_field(field), name);
                    searcher.doc_freq(&term).unwrap_or(0)
                })
                .sum()
        };
        let mut all: Vec<Clause> = Vec::new();
        let mut required: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut places: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for n in &query.names {
            let token = n.token.as_str();
            let mut found = table.direct(token);
            if token.chars().count() >= evidence::MIN_TYPO_LETTERS {
                let mut near = self.spellings_near(searcher, token)?;
                for spelling in table.spellings_near(token) {
                    if !near.iter().any(|(s, _)| *s == spelling) {
                        near.push((spelling, 0));
                    }
                }
                found.extend(evidence::typo_evidence(
                    token,
                    variants,
                    &near,
                    &mut |fields, name| holders(fields, name),
                ));
            }
            // One factor for all of a token's evidence, from the clients
            // holding its name, so that it never reorders the levels.
            let factor = rarity(holders(&SPELLING_FIELDS, variants.canonical(token)));
            let mut members: Vec<Box<dyn Query>> = Vec::new();
            for Evidence {
                field,
                term,
                weight,
                label,
            } in evidence::dedup_best(found)
            {
                let term = Term::from_field_text(self.name_field(field), &term);
                if let Some(c) = clause_with(label, term, weight, Some(factor))? {
                    members.push(c.query());
                    all.push(c);
                }
            }
            let mut place_evidence = Vec::new();
            if n.also_place {
                for (label, field, weight) in [
                    ("place", f.place, W_PLACE),
                    ("address", f.address, W_ADDRESS),
                ] {
                    if let Some(c) = clause(label, Term::from_field_text(field, token), weight)? {
                        place_evidence.push(c.query());
                        all.push(c);
                    }
                }
            }
            if members.is_empty() && place_evidence.is_empty() && token.len() >= 4 {
                let grams = trigrams(token);
                let each = evidence::W_NGRAM / grams.len() as f32;
                let mut sum: Vec<(Occur, Box<dyn Query>)> = Vec::new();
                for g in grams {
                    if let Some(c) = clause("name_ngram", Term::from_field_text(f.ngram, &g), each)?
                    {
                        sum.push((Occur::Should, c.query()));
                        all.push(c);
                    }
                }
                if !sum.is_empty() {
                    members.push(Box::new(BooleanQuery::new(sum)));
                }
            }
            if let Some(q) = best_of(members) {
                required.push((Occur::Should, q));
            }
            if let Some(q) = best_of(place_evidence) {
                places.push((Occur::Should, q));
            }
        }
        let keys = [
            ("phone", f.phone8, &query.phones),
            ("national_id", f.national_id, &query.ids),
            ("email", f.email, &query.emails),
        ];
        for (label, field, values) in keys {
            for v in values {
                if let Some(c) = clause(label, Term::from_field_text(field, v), W_EXACT_KEY)? {
                    required.push((Occur::Should, c.query()));
                    all.push(c);
                }
            }
        }
        // A hit must match a name, phone, id or e-mail; places only add to
        // its score (and are only looked up for such hits, which keeps a
        // common town from costing a scan of a quarter of the index).
        let mut query_parts: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        match (required.is_empty(), places.is_empty()) {
            (false, true) => query_parts.push((Occur::Must, Box::new(BooleanQuery::new(required)))),
            (true, _) => query_parts.push((Occur::Must, Box::new(BooleanQuery::new(places)))),
            (false, false) => {
                query_parts.push((Occur::Must, Box::new(BooleanQuery::new(required))));
                query_parts.push((Occur::Should, Box::new(BooleanQuery::new(places))));
            }
        }
        // A birth year or phone ending narrows: each one given must match.
        for narrow in &query.narrowing {
            let mut any: Vec<(Occur, Box<dyn Query>)> = Vec::new();
            let mut terms = vec![(
                "phone_ending",
                Term::from_field_text(f.phone_end, &narrow.digits),
            )];
            if let Some(year) = narrow.year {
                terms.push((
                    "birth_year",
                    Term::from_field_text(f.birth_year, &year.to_string()),
                ));
            }
            for (label, term) in terms {
                let q = TermQuery::new(term.clone(), IndexRecordOption::Basic);
                any.push((
                    Occur::Should,
                    Box::new(ConstScoreQuery::new(Box::new(q), W_NARROW)),
                ));
                all.push(Clause {
                    label,
                    term,
                    boost: W_NARROW,
                });
            }
            query_parts.push((Occur::Must, Box::new(BooleanQuery::new(any))));
        }
        Ok((Box::new(BooleanQuery::new(query_parts)), all))
    }

    /// Name spellings (golden or other) one edit away from `token` (a
    /// transposition counts as one edit). Two edits are left to the
    /// phonetic key: the automaton for two edits costs milliseconds to
    /// build.
    fn spellings_near(&self, searcher: &Searcher, token: &str) -> Result<Vec<(String, u64)>> {
        let fuzzy = FuzzyTermQuery::new(
            Term::from_field_text(self.fields.name_golden, token),
            1,
            true,
        );
        let automaton = fuzzy.automaton()?;
        let mut found: BTreeMap<String, u64> = BTreeMap::new();
        for reader in searcher.segment_readers() {
            for field in [self.fields.name_golden, self.fields.name_other] {
                let inverted = reader.inverted_index(field)?;
                let mut stream = inverted.terms().search(&automaton).into_stream()?;
                while stream.advance() {
                    if let Ok(term) = std::str::from_utf8(stream.key())
                        && term != token
                    {
                        *found.entry(term.to_string()).or_default() +=
                            u64::from(stream.value().doc_freq);
                    }
                }
            }
        }
        Ok(found.into_iter().collect())
    }

    /// Which kinds of evidence each hit matched: one pass over each
    /// clause's postings per segment, seeking through the hits in doc order.
    fn matched_fields(
        &self,
        searcher: &Searcher,
        clauses: &[Clause],
        top: &[(f32, DocAddress)],
    ) -> Result<Vec<Vec<&'static str>>> {
        let mut matched: Vec<Vec<&'static str>> = vec![Vec::new(); top.len()];
        let mut by_segment: BTreeMap<u32, Vec<(u32, usize)>> = BTreeMap::new();
        for (i, (_, address)) in top.iter().enumerate() {
            by_segment
                .entry(address.segment_ord)
                .or_default()
                .push((address.doc_id, i));
        }
        for (segment, docs) in &mut by_segment {
            docs.sort_unstable();
            let reader = searcher.segment_reader(*segment);
            for c in clauses {
                let inverted = reader.inverted_index(c.term.field())?;
                let Some(mut postings) =
                    inverted.read_postings(&c.term, IndexRecordOption::Basic)?
                else {
                    continue;
                };
                for &(doc, i) in docs.iter() {
                    let at = postings.doc();
                    if at == TERMINATED {
                        break;
                    }
                    let at = if at < doc { postings.seek(doc) } else { at };
                    if at == doc && !matched[i].contains(&c.label) {
                        matched[i].push(c.label);
                    }
                }
            }
        }
        Ok(matched)
    }

    fn hit(
        &self,
        searcher: &Searcher,
        score: f32,
        address: DocAddress,
        matched_fields: Vec<&'static str>,
    ) -> Result<Hit> {
        let f = &self.fields;
        let doc: TantivyDocument = searcher.doc(address)?;
        let text = |field: Field| {
            doc.get_first(field)
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        };
        Ok(Hit {
            client_number: text(f.number),
            score,
            matched_fields,
            sector: text(f.sector),
            person: HitPerson {
                surname: text(f.surname),
                given: text(f.given),
                birth_year: text(f.birth_year).parse().ok(),
                locality: text(f.locality),
                phone_ending: text(f.phone_tail),
            },
        })
    }
}

/// The best of several kinds of evidence for one query token (plus a
/// small share of the others).
fn best_of(mut members: Vec<Box<dyn Query>>) -> Option<Box<dyn Query>> {
    match members.len() {
        0 => None,
        1 => members.pop(),
        _ => Some(Box::new(DisjunctionMaxQuery::with_tie_breaker(
            members,
            TIE_BREAKER,
        ))),
    }
}

#[derive(Debug, Clone)]
struct Clause {
    label: &'static str,
    term: Term,
    boost: f32,
}

impl Clause {
    /// The clause scores its weight (no BM25: values are distinct per
    /// document and the weights are chosen, see [`crate::evidence`]).
    fn query(&self) -> Box<dyn Query> {
        let term = TermQuery::new(self.term.clone(), IndexRecordOption::Basic);
        Box::new(ConstScoreQuery::new(Box::new(term), self.boost))
    }
}

//! The tantivy index of one generation: schema, writer, reader, commits with
//! the feed checkpoint, purges, and the search itself.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use c360_crypto::{DataKey, KekProvider, WrappedKey};
use c360_standardise::names::phonetic;
use tantivy::collector::TopDocs;
use tantivy::query::{
    Bm25StatisticsProvider, Bm25Weight, BooleanQuery, BoostQuery, ConstScoreQuery,
    DisjunctionMaxQuery, FuzzyTermQuery, Occur, Query, TermQuery,
};
use tantivy::schema::{
    Field, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions, Value,
};
use tantivy::{
    DocAddress, DocSet, Index, IndexReader, IndexWriter, ReloadPolicy, Searcher, TERMINATED,
    TantivyDocument, Term,
};

use crate::crypt_dir::{EncryptedDirectory, INDEX_KEY_ID};
use crate::doc::{Analyzer, ClientDoc, display_name, trigrams};
use crate::query::{Filters, ParsedQuery};
use crate::{Error, Result, SearchConfig};

/// Version of the data key of an index generation (one key per generation).
const KEY_VERSION: u32 = 1;
const KEY_FILE: &str = "index.key";
const FILES_DIR: &str = "index";
const PAYLOAD_PREFIX: &str = "c360-search/v1";

/// Fuzzy expansions kept per query token.
const MAX_EXPANSIONS: usize = 12;

/// What one matching clause adds to a score (before the small rarity
/// factor). Scores are shaped so that covering more query tokens wins:
/// each name token adds about 1 whatever the evidence (exact 1.3, same
/// sound 1.0, one edit 0.8), a place 1.0, while a phone,
/// id or e-mail match outweighs names.
const W_NAME: f32 = 0.3;
const W_PHONETIC: f32 = 1.0;
const W_FUZZY: f32 = 0.8;
/// Shared by all the trigrams of a token.
const W_NGRAM: f32 = 0.6;
const W_PLACE: f32 = 1.0;
const W_ADDRESS: f32 = 0.3;
const W_EXACT_KEY: f32 = 3.0;
/// Share of a token's other evidence added to its best one.
const TIE_BREAKER: f32 = 0.0;

#[derive(Debug, Clone, Copy)]
pub struct Fields {
    number: Field,
    surname: Field,
    given: Field,
    sector: Field,
    name: Field,
    phonetic: Field,
    ngram: Field,
    phone: Field,
    phone8: Field,
    national_id: Field,
    email: Field,
    place: Field,
    address: Field,
    region: Field,
    source: Field,
}

fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let keyword = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer("raw")
            .set_index_option(IndexRecordOption::Basic)
            .set_fieldnorms(false),
    );
    // Values are distinct per document (term frequency 1) and without
    // field norms, so a clause scores idf x constant, which `clauses`
    // turns into a chosen weight.
    let scored = keyword.clone();
    let fields = Fields {
        number: b.add_text_field("number", keyword.clone() | STORED),
        surname: b.add_text_field("surname", STORED),
        given: b.add_text_field("given", STORED),
        sector: b.add_text_field("sector", keyword.clone() | STORED),
        name: b.add_text_field("name", scored.clone()),
        phonetic: b.add_text_field("name_phonetic", scored.clone()),
        ngram: b.add_text_field("name_ngram", scored.clone()),
        phone: b.add_text_field("phone", keyword.clone()),
        phone8: b.add_text_field("phone8", keyword.clone()),
        national_id: b.add_text_field("national_id", keyword.clone()),
        email: b.add_text_field("email", keyword.clone()),
        place: b.add_text_field("place", scored.clone()),
        address: b.add_text_field("address", scored),
        region: b.add_text_field("region", keyword.clone()),
        source: b.add_text_field("source", keyword),
    };
    (b.build(), fields)
}

/// The checkpoint stored in each commit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Checkpoint {
    /// Offset of the last feed event in the commit.
    pub applied: u64,
    /// Erased client numbers whose documents may still sit in segments.
    pub purge: BTreeSet<String>,
}

impl Checkpoint {
    fn to_payload(&self) -> String {
        let purge: Vec<&str> = self.purge.iter().map(String::as_str).collect();
        format!(
            "{PAYLOAD_PREFIX} applied={} purge={}",
            self.applied,
            purge.join(",")
        )
    }

    fn from_payload(payload: Option<&str>) -> Result<Checkpoint> {
        let Some(payload) = payload else {
            return Ok(Checkpoint::default());
        };
        let bad = || Error::Index("unreadable checkpoint in the index commit".into());
        let mut parts = payload.split(' ');
        if parts.next() != Some(PAYLOAD_PREFIX) {
            return Err(bad());
        }
        let mut cp = Checkpoint::default();
        for part in parts {
            match part.split_once('=') {
                Some(("applied", n)) => cp.applied = n.parse().map_err(|_| bad())?,
                Some(("purge", list)) => {
                    cp.purge = list
                        .split(',')
                        .filter(|s| !s.is_empty())
                        .map(String::from)
                        .collect()
                }
                _ => return Err(bad()),
            }
        }
        Ok(cp)
    }
}

/// One operation of a batch.
#[derive(Debug)]
pub enum Op {
    Upsert(Box<ClientDoc>),
    Delete(String),
}

struct WriterState {
    writer: Option<IndexWriter>,
    /// Offset of the last event added to the writer.
    applied: u64,
    /// Erased numbers not yet purged from the segments.
    purge: BTreeSet<String>,
    /// Uncommitted operations since.
    dirty_since: Option<Instant>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Committed {
    offset: u64,
    commits: u64,
}

/// Statistics of the index.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IndexStats {
    pub clients: u64,
    pub segments: u64,
    pub applied_offset: u64,
    pub committed_offset: u64,
    pub disk_bytes: u64,
    pub decrypted_bytes: u64,
}

/// One hit.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    pub client_number: String,
    pub score: f32,
    pub display_name: String,
    pub matched_fields: Vec<&'static str>,
    pub sector: String,
}

pub struct Engine {
    reader: IndexReader,
    fields: Fields,
    dir: EncryptedDirectory,
    state: Mutex<WriterState>,
    committed: (Mutex<Committed>, Condvar),
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The data key of a generation: created and stored wrapped on first use.
fn index_key(root: &Path, kek: &dyn KekProvider) -> Result<DataKey> {
    let path = root.join(KEY_FILE);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let wrapped = WrappedKey::from_bytes(&bytes)?;
            Ok(DataKey::unwrap(INDEX_KEY_ID, KEY_VERSION, &wrapped, kek)?)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = DataKey::generate(INDEX_KEY_ID, KEY_VERSION)?;
            let wrapped = key.wrap(kek)?;
            let tmp = root.join("index.key.tmp");
            std::fs::write(&tmp, wrapped.to_bytes())?;
            std::fs::File::open(&tmp)?.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            std::fs::File::open(root)?.sync_all()?;
            Ok(key)
        }
        Err(e) => Err(e.into()),
    }
}

impl Engine {
    /// Opens (or creates) the generation stored under `root`.
    pub fn open(root: &Path, config: &SearchConfig, kek: &dyn KekProvider) -> Result<Engine> {
        std::fs::create_dir_all(root)?;
        let key = index_key(root, kek)?;
        let dir = EncryptedDirectory::open(&root.join(FILES_DIR), key)?;
        let (schema, fields) = schema();
        let index = Index::open_or_create(dir.clone(), schema.clone())?;
        if index.schema() != schema {
            return Err(Error::Index(
                "the index was written with another schema; run a reindex".into(),
            ));
        }
        let threads = config.writer_threads.clamp(1, 8);
        let memory = config.writer_memory_bytes.max((threads * 16) << 20);
        let writer = index.writer_with_num_threads(threads, memory)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()?;
        let checkpoint = Checkpoint::from_payload(index.load_metas()?.payload.as_deref())?;
        let engine = Engine {
            reader,
            fields,
            dir,
            state: Mutex::new(WriterState {
                writer: Some(writer),
                applied: checkpoint.applied,
                purge: checkpoint.purge.clone(),
                dirty_since: None,
            }),
            committed: (
                Mutex::new(Committed {
                    offset: checkpoint.applied,
                    commits: 0,
                }),
                Condvar::new(),
            ),
        };
        if !checkpoint.purge.is_empty() {
            // A purge was interrupted: finish it now.
            engine.commit()?;
        }
        Ok(engine)
    }

    pub fn applied(&self) -> u64 {
        lock(&self.state).applied
    }

    pub fn committed_offset(&self) -> u64 {
        lock(&self.committed.0).offset
    }

    fn document(
        &self,
        analyzer: &Analyzer,
        doc: &ClientDoc,
        transactional: &[String],
    ) -> TantivyDocument {
        let f = &self.fields;
        let a = analyzer.analyse(doc);
        let mut d = TantivyDocument::default();
        d.add_text(f.number, &doc.client_number);
        let (surname, given) = doc.display_parts();
        d.add_text(f.surname, surname);
        d.add_text(f.given, given);
        if let Some(sector) = doc.sector(transactional) {
            d.add_text(f.sector, sector.to_string());
        }
        for (field, values) in [
            (f.name, &a.names),
            (f.phonetic, &a.phonetic),
            (f.ngram, &a.grams),
            (f.phone, &a.phones),
            (f.phone8, &a.phone8),
            (f.national_id, &a.ids),
            (f.email, &a.emails),
            (f.place, &a.places),
            (f.address, &a.address),
        ] {
            for v in values {
                d.add_text(field, v);
            }
        }
        if !a.region.is_empty() {
            d.add_text(f.region, &a.region);
        }
        for s in &doc.source_systems {
            d.add_text(f.source, s);
        }
        d
    }

    /// Adds operations to the writer. With `offsets` = (expected applied,
    /// new applied), the batch applies only if the checkpoint is still the
    /// expected one (a reset in between makes it fail).
    pub fn apply(
        &self,
        analyzer: &Analyzer,
        transactional: &[String],
        ops: Vec<Op>,
        offsets: Option<(u64, u64)>,
        erased: &[String],
    ) -> Result<()> {
        // Analyse outside the lock.
        let prepared: Vec<(String, Option<TantivyDocument>)> = ops
            .into_iter()
            .map(|op| match op {
                Op::Upsert(doc) => {
                    let d = self.document(analyzer, &doc, transactional);
                    (doc.client_number.clone(), Some(d))
                }
                Op::Delete(n) => (n, None),
            })
            .collect();
        let mut state = lock(&self.state);
        if let Some((expected, _)) = offsets
            && state.applied != expected
        {
            return Err(Error::Internal(format!(
                "feed checkpoint moved (expected {expected}, now {}); retry",
                state.applied
            )));
        }
        let writer = state
            .writer
            .as_ref()
            .ok_or_else(|| Error::Internal("index writer is closed".into()))?;
        for (number, doc) in prepared {
            writer.delete_term(Term::from_field_text(self.fields.number, &number));
            if let Some(doc) = doc {
                writer.add_document(doc)?;
            }
        }
        if let Some((_, new)) = offsets {
            state.applied = new;
        }
        state.purge.extend(erased.iter().cloned());
        if state.dirty_since.is_none() {
            state.dirty_since = Some(Instant::now());
        }
        Ok(())
    }

    /// Commits if changes have waited `interval` (the committer's tick).
    pub fn commit_if_due(&self, interval: Duration) -> Result<()> {
        let due = {
            let state = lock(&self.state);
            state.dirty_since.is_some_and(|t| t.elapsed() >= interval)
        };
        if due {
            self.commit().map(|_| ())
        } else {
            Ok(())
        }
    }

    /// Commits pending operations with the checkpoint, makes them
    /// searchable, and purges erased clients from the segments. Returns the
    /// committed offset.
    pub fn commit(&self) -> Result<u64> {
        let mut state = lock(&self.state);
        let checkpoint = Checkpoint {
            applied: state.applied,
            purge: state.purge.clone(),
        };
        let writer = state
            .writer
            .as_mut()
            .ok_or_else(|| Error::Internal("index writer is closed".into()))?;
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&checkpoint.to_payload());
        if let Err(e) = prepared.commit() {
            // Whatever was pending is dropped; the feed replays it from the
            // last durable checkpoint.
            let _ = writer.rollback();
            let durable = lock(&self.committed.0).offset;
            state.applied = durable;
            state.dirty_since = None;
            return Err(e.into());
        }
        state.dirty_since = None;
        self.reader.reload()?;
        if !state.purge.is_empty() {
            self.purge(&mut state)?;
        }
        drop(state);
        let (committed, changed) = &self.committed;
        let mut c = lock(committed);
        c.offset = checkpoint.applied;
        c.commits += 1;
        changed.notify_all();
        Ok(checkpoint.applied)
    }

    /// Rewrites every segment that still holds a document of an erased
    /// client (deleted documents stay in a segment until it is merged),
    /// then deletes the old files.
    fn purge(&self, state: &mut WriterState) -> Result<()> {
        let searcher = self.reader.searcher();
        let mut segments = Vec::new();
        for reader in searcher.segment_readers() {
            let inverted = reader.inverted_index(self.fields.number)?;
            let mut holds = false;
            for number in &state.purge {
                let term = Term::from_field_text(self.fields.number, number);
                holds |= inverted.doc_freq(&term)? > 0;
            }
            if holds {
                segments.push(reader.segment_id());
            }
        }
        drop(searcher);
        let writer = state
            .writer
            .as_mut()
            .ok_or_else(|| Error::Internal("index writer is closed".into()))?;
        if !segments.is_empty() {
            // Fails when the merge policy is merging one of them: the next
            // commit tries again (the checkpoint keeps the numbers).
            if let Err(e) = writer.merge(&segments).wait() {
                tracing::warn!(error = %e, "purge merge deferred");
                return Ok(());
            }
        }
        // A purge commit records that nothing is left to purge.
        let checkpoint = Checkpoint {
            applied: state.applied,
            purge: BTreeSet::new(),
        };
        let mut prepared = writer.prepare_commit()?;
        prepared.set_payload(&checkpoint.to_payload());
        prepared.commit()?;
        self.reader.reload()?;
        writer.garbage_collect_files().wait()?;
        state.purge.clear();
        Ok(())
    }

    /// Waits until the committed offset reaches `offset` or `timeout`
    /// passes. True when reached.
    pub fn wait_committed(&self, offset: u64, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (committed, changed) = &self.committed;
        let mut c = lock(committed);
        while c.offset < offset {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            c = changed
                .wait_timeout(c, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        true
    }

    /// Waits for the next commit after this call, up to `timeout`.
    pub fn wait_next_commit(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let (committed, changed) = &self.committed;
        let mut c = lock(committed);
        let start = c.commits;
        while c.commits == start {
            let now = Instant::now();
            if now >= deadline {
                return false;
            }
            c = changed
                .wait_timeout(c, deadline - now)
                .map(|(g, _)| g)
                .unwrap_or_else(|p| p.into_inner().0);
        }
        true
    }

    /// Stops the writer (waits for its merges).
    pub fn close(&self) {
        let writer = lock(&self.state).writer.take();
        if let Some(w) = writer
            && let Err(e) = w.wait_merging_threads()
        {
            tracing::warn!(error = %e, "index writer stopped with an error");
        }
    }

    pub fn stats(&self) -> IndexStats {
        let searcher = self.reader.searcher();
        let state = lock(&self.state);
        IndexStats {
            clients: searcher.num_docs(),
            segments: searcher.segment_readers().len() as u64,
            applied_offset: state.applied,
            committed_offset: self.committed_offset(),
            disk_bytes: self.dir.disk_bytes(),
            decrypted_bytes: self.dir.decrypted_bytes() as u64,
        }
    }

    /// For tests: whether any segment (deleted documents included) still
    /// holds `value` in `field`.
    #[cfg(test)]
    pub fn segments_hold(&self, field: &str, value: &str) -> bool {
        let f = self
            .reader
            .searcher()
            .schema()
            .get_field(field)
            .expect("known field");
        let term = Term::from_field_text(f, value);
        self.reader.searcher().segment_readers().iter().any(|r| {
            r.inverted_index(f)
                .and_then(|i| Ok(i.doc_freq(&term)?))
                .is_ok_and(|n| n > 0)
        })
    }

    /// Runs a parsed query. `offset`/`limit` select the page.
    pub fn search(
        &self,
        query: &ParsedQuery,
        filters: &Filters,
        offset: usize,
        limit: usize,
        masked: bool,
    ) -> Result<Vec<Hit>> {
        let searcher = self.reader.searcher();
        let (text, clauses) = self.build(&searcher, query)?;
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
            hits.push(self.hit(&searcher, score, address, matched, masked)?);
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

    /// The query: for each query token, the best of its name evidence
    /// (exact, same sound, one edit, trigrams), summed over tokens, plus
    /// phone, id and e-mail clauses; place evidence adds to hits. Boosts are set so that a
    /// clause adds its weight times a rarity factor between 0.85 and 1 (a
    /// rare shared value says a little more than a common one). Also
    /// returns every clause, to tell which fields matched a hit.
    fn build(
        &self,
        searcher: &Searcher,
        query: &ParsedQuery,
    ) -> Result<(Box<dyn Query>, Vec<Clause>)> {
        let f = &self.fields;
        let total_docs = searcher.total_num_docs()?;
        let clause = |label: &'static str, term: Term, weight: f32| -> Result<Option<Clause>> {
            let df = searcher.doc_freq(&term)?;
            if df == 0 || total_docs == 0 {
                return Ok(None);
            }
            let tokens = searcher.total_num_tokens(term.field())?;
            let average = tokens as f32 / total_docs as f32;
            let bm25 = Bm25Weight::for_one_term_without_explain(df, total_docs, average.max(1.0));
            let unit = bm25.score(1, 1);
            let idf = ((total_docs - df.min(total_docs)) as f32 + 0.5) / (df as f32 + 0.5);
            let rarity = 0.85 + 0.15 * ((1.0 + idf).ln().min(12.0) / 12.0);
            let boost = weight * rarity / unit.max(f32::EPSILON);
            Ok(Some(Clause { label, term, boost }))
        };
        let mut all: Vec<Clause> = Vec::new();
        let mut required: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        let mut places: Vec<(Occur, Box<dyn Query>)> = Vec::new();
        for n in &query.names {
            let token = n.token.as_str();
            let code = phonetic(token);
            let mut evidence: BTreeMap<Term, Clause> = BTreeMap::new();
            let mut keep = |c: Option<Clause>| {
                if let Some(c) = c {
                    let e = evidence.entry(c.term.clone()).or_insert(c.clone());
                    if c.boost > e.boost {
                        *e = c;
                    }
                }
            };
            keep(clause(
                "name",
                Term::from_field_text(f.name, token),
                W_NAME + W_PHONETIC,
            )?);
            keep(clause(
                "name_phonetic",
                Term::from_field_text(f.phonetic, &code),
                W_PHONETIC,
            )?);
            for term in self.expansions(searcher, token)? {
                let weight = if phonetic(&term) == code {
                    W_PHONETIC
                } else {
                    W_FUZZY
                };
                keep(clause(
                    "name_fuzzy",
                    Term::from_field_text(f.name, &term),
                    weight,
                )?);
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
            let mut members: Vec<Box<dyn Query>> = evidence.values().map(|c| c.query()).collect();
            all.extend(evidence.into_values());
            if members.is_empty() && place_evidence.is_empty() && token.len() >= 4 {
                let grams = trigrams(token);
                let each = W_NGRAM / grams.len() as f32;
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
        let query: Box<dyn Query> = match (required.is_empty(), places.is_empty()) {
            (false, true) => Box::new(BooleanQuery::new(required)),
            (true, _) => Box::new(BooleanQuery::new(places)),
            (false, false) => Box::new(BooleanQuery::new(vec![
                (
                    Occur::Must,
                    Box::new(BooleanQuery::new(required)) as Box<dyn Query>,
                ),
                (Occur::Should, Box::new(BooleanQuery::new(places))),
            ])),
        };
        Ok((query, all))
    }

    /// Name terms one edit away from `token` (a transposition counts as
    /// one edit; tokens of 4 letters or more), most frequent first. Two
    /// edits are left to the phonetic key: the automaton for two edits
    /// costs milliseconds to build.
    fn expansions(&self, searcher: &Searcher, token: &str) -> Result<Vec<String>> {
        if token.chars().count() < 4 {
            return Ok(Vec::new());
        }
        let fuzzy = FuzzyTermQuery::new(Term::from_field_text(self.fields.name, token), 1, true);
        let automaton = fuzzy.automaton()?;
        let mut found: BTreeMap<String, u64> = BTreeMap::new();
        for reader in searcher.segment_readers() {
            let inverted = reader.inverted_index(self.fields.name)?;
            let mut stream = inverted.terms().search(&automaton).into_stream()?;
            while stream.advance() {
                let Ok(term) = std::str::from_utf8(stream.key()) else {
                    continue;
                };
                if term != token {
                    *found.entry(term.to_string()).or_default() +=
                        u64::from(stream.value().doc_freq);
                }
            }
        }
        let mut out: Vec<(String, u64)> = found.into_iter().collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        out.truncate(MAX_EXPANSIONS);
        Ok(out.into_iter().map(|(t, _)| t).collect())
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
        masked: bool,
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
            display_name: display_name(&text(f.surname), &text(f.given), masked),
            matched_fields,
            sector: text(f.sector),
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
    fn query(&self) -> Box<dyn Query> {
        let term = TermQuery::new(self.term.clone(), IndexRecordOption::Basic);
        Box::new(BoostQuery::new(Box::new(term), self.boost))
    }
}

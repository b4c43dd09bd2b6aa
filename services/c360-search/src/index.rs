//! The tantivy index of one generation: schema, writer, reader, commits with
//! the feed checkpoint and purges; the search itself is [`search`].

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::{Duration, Instant};

use c360_crypto::{DataKey, KekProvider, WrappedKey};
use tantivy::schema::{Field, IndexRecordOption, STORED, Schema, TextFieldIndexing, TextOptions};
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use crate::crypt_dir::{EncryptedDirectory, INDEX_KEY_ID};
use crate::doc::{Analyzer, ClientDoc};
use crate::{Error, Result, SearchConfig};

mod search;

/// Version of the data key of an index generation (one key per generation).
const KEY_VERSION: u32 = 1;
const KEY_FILE: &str = "index.key";
const FILES_DIR: &str = "index";
const PAYLOAD_PREFIX: &str = "c360-search/v1";

#[derive(Debug, Clone, Copy)]
pub struct Fields {
    number: Field,
    surname: Field,
    given: Field,
    sector: Field,
    /// Stored only: what tells namesakes apart.
    locality: Field,
    phone_tail: Field,
    birth_year: Field,
    name_golden: Field,
    name_other: Field,
    name_canonical: Field,
    phonetic: Field,
    phonetic_other: Field,
    ngram: Field,
    phone: Field,
    phone8: Field,
    phone_end: Field,
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
    // Every clause scores a chosen weight (a constant-score term query),
    // so no field needs term frequencies or norms.
    let fields = Fields {
        number: b.add_text_field("number", keyword.clone() | STORED),
        surname: b.add_text_field("surname", STORED),
        given: b.add_text_field("given", STORED),
        sector: b.add_text_field("sector", keyword.clone() | STORED),
        locality: b.add_text_field("locality", STORED),
        phone_tail: b.add_text_field("phone_tail", STORED),
        birth_year: b.add_text_field("birth_year", keyword.clone() | STORED),
        name_golden: b.add_text_field("name_golden", keyword.clone()),
        name_other: b.add_text_field("name_other", keyword.clone()),
        name_canonical: b.add_text_field("name_canonical", keyword.clone()),
        phonetic: b.add_text_field("name_phonetic", keyword.clone()),
        phonetic_other: b.add_text_field("name_phonetic_other", keyword.clone()),
        ngram: b.add_text_field("name_ngram", keyword.clone()),
        phone: b.add_text_field("phone", keyword.clone()),
        phone8: b.add_text_field("phone8", keyword.clone()),
        phone_end: b.add_text_field("phone_end", keyword.clone()),
        national_id: b.add_text_field("national_id", keyword.clone()),
        email: b.add_text_field("email", keyword.clone()),
        place: b.add_text_field("place", keyword.clone()),
        address: b.add_text_field("address", keyword.clone()),
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
    pub matched_fields: Vec<&'static str>,
    pub sector: String,
    /// The client's personal values a hit can show; what a caller sees of
    /// them is decided in one place, at the gRPC edge.
    pub person: HitPerson,
}

/// The personal values of a hit: the name, and what tells namesakes
/// apart. `Debug` shows none of them.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct HitPerson {
    pub surname: String,
    pub given: String,
    pub birth_year: Option<u16>,
    pub locality: String,
    /// The last two digits of the client's first phone.
    pub phone_ending: String,
}

impl std::fmt::Debug for HitPerson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HitPerson").finish_non_exhaustive()
    }
}

impl Hit {
    /// The display name in clear ("KOUASSI Konan").
    pub fn display_name(&self) -> String {
        crate::doc::display_name(&self.person.surname, &self.person.given, false)
    }
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

/// For tests: replaces the index of the generation under `root` with an
/// empty one of another schema, as an older version would have left it.
#[cfg(test)]
pub(crate) fn rewrite_with_other_schema(root: &Path, kek: &dyn KekProvider) {
    let key = index_key(root, kek).expect("key");
    let files = root.join(FILES_DIR);
    std::fs::remove_dir_all(&files).expect("remove");
    let dir = EncryptedDirectory::open(&files, key).expect("dir");
    let mut b = Schema::builder();
    b.add_text_field("name", STORED);
    let index = Index::create(dir, b.build(), tantivy::IndexSettings::default()).expect("index");
    let mut writer: IndexWriter = index.writer_with_num_threads(1, 16 << 20).expect("writer");
    writer.commit().expect("commit");
}

impl Engine {
    /// Opens (or creates) the generation stored under `root`.
    pub fn open(root: &Path, config: &SearchConfig, kek: &dyn KekProvider) -> Result<Engine> {
        std::fs::create_dir_all(root)?;
        let key = index_key(root, kek)?;
        let dir = EncryptedDirectory::open(&root.join(FILES_DIR), key)?;
        let (schema, fields) = schema();
        let exists = Index::exists(&dir).map_err(|e| Error::Index(e.to_string()))?;
        let index = if exists {
            let index = Index::open(dir.clone())?;
            if index.schema() != schema {
                return Err(Error::SchemaChanged);
            }
            index
        } else {
            Index::create(
                dir.clone(),
                schema.clone(),
                tantivy::IndexSettings::default(),
            )?
        };
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
        d.add_text(f.locality, doc.locality.trim());
        if let Some(first) = doc.phones.first() {
            let digits: String = first.chars().filter(char::is_ascii_digit).collect();
            if digits.len() >= 2 {
                d.add_text(f.phone_tail, &digits[digits.len() - 2..]);
            }
        }
        if let Some(year) = a.birth_year {
            d.add_text(f.birth_year, year.to_string());
        }
        for (field, values) in [
            (f.name_golden, &a.names.golden),
            (f.name_other, &a.names.other),
            (f.name_canonical, &a.names.canonical),
            (f.phonetic, &a.names.phonetic),
            (f.phonetic_other, &a.names.phonetic_other),
            (f.ngram, &a.grams),
            (f.phone, &a.phones),
            (f.phone8, &a.phone8),
            (f.phone_end, &a.phone_ends),
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
}

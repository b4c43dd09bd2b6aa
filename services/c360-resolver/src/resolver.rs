//! The resolver: an in-memory matching index over records kept encrypted
//! in a [`Store`], with every change written atomically and durably together
//! with its events before it is acknowledged (or shown to a reader): the
//! [`Persister`] applies the changes in order behind the writer.

use std::sync::{Arc, Mutex, RwLock};

use c360_crypto::{
    BlindIndexer, DataKey, FieldContext, KekProvider, KeyCustodian, KeyMaterial, WrappedKey,
};
use c360_matching::{
    BlockIndex, Conflict, Explanation, MatchConfig, Matcher, PairDecision, PairScore, Prepared,
    Preparer, ValueFlag, groups_conflict, soft_conflicts_allowed,
};
use c360_proto::common::v1 as pb;
use c360_proto::resolver::v1 as api;
use c360_storage::{Batch, EventLog, Store};
use prost::Message;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::number::ClientNumber;
use crate::persist::{Job, Pending, Persister};
use crate::quality::{self, QualityCounts};
use crate::stored::{self, *};
use crate::{Error, Result, convert};

mod retrain;
pub use retrain::Retrained;

/// Client keys the custodian is asked to create ahead of need.
const KEYS_AHEAD: u64 = 2048;

/// Candidates from which a decision scores them on every core.
const PARALLEL_SCORING_MIN: usize = 256;

/// Settings of the resolver.
#[derive(Clone, Debug)]
pub struct ResolverConfig {
    pub matching: MatchConfig,
    /// A blocking key held by more records than this is skipped when
    /// resolving one record (hot key).
    pub max_postings: usize,
    /// Synthetic records the first model is trained on, before real data.
    pub bootstrap_records: usize,
    /// The match prior assumes at least this many records, so that a young
    /// installation does not link on thin evidence.
    pub population_floor: u64,
    /// How the golden record picks each field's value.
    pub survivorship: crate::golden::Survivorship,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            // One record at a time against a prior fixed by the population
            // floor, the resolver links from 0.95 (a batch file, whose prior
            // is its own, from 0.9).
            matching: MatchConfig {
                link_threshold: 0.95,
                ..MatchConfig::default()
            },
            max_postings: 160,
            bootstrap_records: 20_000,
            population_floor: 100_000,
            survivorship: crate::golden::Survivorship::default(),
        }
    }
}

/// A record read back from the store: metadata, plaintext, source tag,
/// standardised form and the flags of its unusable values.
type Loaded = (StoredRecord, pb::Record, [u8; 16], Prepared, Vec<ValueFlag>);

/// One loaded record.
#[derive(Clone)]
struct Slot {
    record_id: String,
    client: u64,
    key_id: String,
    source_tag: [u8; 16],
    record: pb::Record,
    /// The record's values that could not be standardised.
    flags: Box<[ValueFlag]>,
    keys: Vec<u64>,
    created_ms: i64,
    updated_ms: i64,
    alive: bool,
}

struct State {
    matcher: Matcher,
    index: BlockIndex,
    slots: Vec<Slot>,
    by_record: FxHashMap<String, u32>,
    by_source: FxHashMap<[u8; 16], u32>,
    clients: FxHashMap<u64, ClientState>,
    cannot_link: FxHashSet<(u32, u32)>,
    reviews: std::collections::BTreeMap<u64, StoredReview>,
    /// Flag counts per source system, field and reason, of the live records.
    quality: QualityCounts,
    /// The resolver's own unwrapped data keys by id (erasure removes
    /// them); keys held by a custodian are not kept here.
    keys: FxHashMap<String, Arc<DataKey>>,
    counters: Counters,
    /// The sequence number of the last write handed to the persister.
    submitted: u64,
}

/// Most numbers one `lookup_numbers` call answers.
pub const MAX_LOOKUP: usize = 4096;

/// What a client number is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NumberState {
    /// Never issued (or not yet).
    Unknown,
    /// Issued and not erased: resolves to this number (itself unless merged).
    Active(ClientNumber),
    Erased,
}

/// The outcome of resolving one record.
#[derive(Clone, Debug)]
pub struct Resolution {
    pub client: Option<ClientNumber>,
    pub decision: api::Decision,
    pub confidence: f64,
    pub candidates: Vec<api::Candidate>,
    pub record_id: String,
    pub updated: bool,
    /// The record's values kept but flagged as unusable (accepted with
    /// warnings).
    pub flags: Vec<ValueFlag>,
}

/// What `Explain` answers: the pairs explained and the flagged values of
/// their records.
#[derive(Clone, Debug, Default)]
pub struct Explained {
    pub pairs: Vec<api::PairExplanation>,
    pub flagged_records: Vec<api::FlaggedRecord>,
}

/// A record to resolve, and how to treat a value that cannot be
/// standardised: keep it flagged, or (strict) refuse the record.
#[derive(Clone, Debug, Default)]
pub struct Incoming {
    pub record: pb::Record,
    pub strict: bool,
}

impl From<pb::Record> for Incoming {
    fn from(record: pb::Record) -> Self {
        Incoming {
            record,
            strict: false,
        }
    }
}

pub struct Resolver {
    store: Arc<dyn Store>,
    events: Arc<EventLog>,
    persister: Persister,
    kek: Arc<dyn KekProvider>,
    /// The holder of client data keys (the vault). Without one, the
    /// resolver keeps its own, wrapped by the KEK in its store.
    custodian: Option<Arc<dyn KeyCustodian>>,
    indexer: BlindIndexer,
    preparer: Preparer,
    config: ResolverConfig,
    /// The version of the model deciding now ([`Resolver::retrain`] moves it).
    model_version: RwLock<String>,
    state: RwLock<State>,
    /// Serialises writers so offsets and decisions follow one order.
    writer: Mutex<()>,
    /// Client numbers below this have a key at the custodian already.
    keys_ready_until: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Resolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resolver").finish_non_exhaustive()
    }
}

/// Changes of one write, committed together.
#[derive(Default)]
struct Tx {
    batch: Batch,
    events: Vec<api::Event>,
    /// The counters moved: stored once at commit, not once per record.
    counters_changed: bool,
    /// Clients whose state changed, stored once each at commit.
    dirty_clients: Vec<u64>,
}

fn key_of(seq: u64) -> [u8; 8] {
    seq.to_be_bytes()
}

/// Whether a key id is one of the resolver's own (`k<sequence>`), rather
/// than a custodian's (a client number).
fn state_owns_key(key_id: &str) -> bool {
    key_id.starts_with('k')
}

fn pair(a: u32, b: u32) -> (u32, u32) {
    if a < b { (a, b) } else { (b, a) }
}

impl Resolver {
    /// Opens (or creates) a resolver over a store, keeping its own data
    /// keys.
    pub fn open(
        store: Arc<dyn Store>,
        kek: Arc<dyn KekProvider>,
        config: ResolverConfig,
    ) -> Result<Self> {
        Self::open_with_custodian(store, kek, config, None)
    }

    /// Opens (or creates) a resolver whose new clients' data keys are held
    /// by `custodian` (the vault), so that an erasure there makes their
    /// records unreadable here and in every backup of this store. Records
    /// written under the resolver's own keys before stay readable.
    pub fn open_with_custodian(
        store: Arc<dyn Store>,
        kek: Arc<dyn KekProvider>,
        config: ResolverConfig,
        custodian: Option<Arc<dyn KeyCustodian>>,
    ) -> Result<Self> {
        let events = Arc::new(EventLog::open(store.as_ref(), EVENTS)?);
        let counters: Counters = match store.get(META, META_COUNTERS)? {
            Some(b) => stored::decode(&b, "counters")?,
            None => Counters {
                next_client: 1,
                next_record: 1,
                next_task: 1,
            },
        };
        let mut first_writes = Batch::new();
        const INDEX_KEY_AAD: &[u8] = b"c360/resolver/index-key";
        let index_key = match store.get(META, META_INDEX_KEY)? {
            Some(b) => kek.unwrap(&WrappedKey::from_bytes(&b)?, INDEX_KEY_AAD)?,
            None => {
                let key = KeyMaterial::generate(&ring::rand::SystemRandom::new())?;
                first_writes.put(
                    META,
                    META_INDEX_KEY.to_vec(),
                    kek.wrap(&key, INDEX_KEY_AAD)?.to_bytes(),
                );
                key
            }
        };
        let indexer = BlindIndexer::new(index_key);
        let model = match store.get(META, META_MODEL)? {
            Some(b) => stored::decode(&b, "model")?,
            None => {
                let model = bootstrap_model(&config)?;
                first_writes.put(META, META_MODEL.to_vec(), stored::encode(&model));
                model
            }
        };
        if !first_writes.is_empty() {
            store.commit(first_writes)?;
        }
        let model_version = c360_matching::FsModel::version(&model);
        let (variants, nicknames) = config
            .matching
            .name_tables()
            .map_err(|e| Error::Internal(e.to_string()))?;
        let preparer = Preparer::with_tables(&config.matching.default_country, variants, nicknames)
            .map_err(|e| Error::Internal(e.to_string()))?;
        let mut matcher = Matcher::new(config.matching.clone(), model);
        matcher.population_floor = config.population_floor;
        matcher.model.set_population(config.population_floor);
        let state = State {
            matcher,
            index: BlockIndex::default(),
            slots: Vec::new(),
            by_record: FxHashMap::default(),
            by_source: FxHashMap::default(),
            clients: FxHashMap::default(),
            cannot_link: FxHashSet::default(),
            reviews: Default::default(),
            quality: QualityCounts::default(),
            keys: FxHashMap::default(),
            counters,
            submitted: 0,
        };
        let persister = Persister::start(Arc::clone(&store), Arc::clone(&events))?;
        let resolver = Resolver {
            store,
            events,
            persister,
            kek,
            custodian,
            indexer,
            preparer,
            config,
            model_version: RwLock::new(model_version),
            state: RwLock::new(state),
            writer: Mutex::new(()),
            keys_ready_until: std::sync::atomic::AtomicU64::new(0),
        };
        resolver.load()?;
        Ok(resolver)
    }

    pub fn events(&self) -> &EventLog {
        &self.events
    }

    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    pub fn model_version(&self) -> String {
        self.model_version
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    /// Loads clients, keys and records from the store into memory.
    fn load(&self) -> Result<()> {
        use rayon::prelude::*;
        let started = std::time::Instant::now();
        let mut phases: Vec<(&str, f64)> = Vec::new();
        let mut lap = {
            let mut last = started;
            move |phases: &mut Vec<(&'static str, f64)>, name: &'static str| {
                let now = std::time::Instant::now();
                phases.push((name, (now - last).as_secs_f64()));
                last = now;
            }
        };
        let mut state = self.write();
        // The three keyspaces are read (one scan each) at the same time,
        // and decoded on every core.
        let read_clients = || -> Result<Vec<ClientState>> {
            scan_all(self.store.as_ref(), CLIENTS)?
                .par_iter()
                .map(|(_, v)| stored::decode(v, "client"))
                .collect()
        };
        let read_keys = || -> Result<FxHashMap<String, Arc<DataKey>>> {
            scan_all(self.store.as_ref(), KEYS)?
                .par_iter()
                .map(|(k, v)| -> Result<_> {
                    let key_id = String::from_utf8_lossy(k).into_owned();
                    let wrapped = WrappedKey::from_bytes(v)?;
                    let key = DataKey::unwrap(&key_id, 1, &wrapped, self.kek.as_ref())?;
                    Ok((key_id, Arc::new(key)))
                })
                .collect()
        };
        let read_records = || -> Result<Vec<StoredRecord>> {
            scan_all(self.store.as_ref(), RECORDS)?
                .par_iter()
                .map(|(_, v)| stored::decode_record(v))
                .collect()
        };
        let ((clients, keys), stored_records) =
            rayon::join(|| rayon::join(read_clients, read_keys), read_records);
        let (clients, mut keys, stored_records) = (clients?, keys?, stored_records?);
        state.clients.reserve(clients.len());
        state
            .clients
            .extend(clients.into_iter().map(|c| (c.number, c)));
        lap(&mut phases, "records read");
        if let Some(custodian) = &self.custodian {
            // The other keys are the custodian's: ask for them all at once
            // (a destroyed one stays absent and its records unreadable).
            let mut wanted: Vec<String> = Vec::new();
            let mut seen = FxHashSet::default();
            for sr in &stored_records {
                if !keys.contains_key(&sr.key_id) && seen.insert(sr.key_id.as_str()) {
                    wanted.push(sr.key_id.clone());
                }
            }
            for (id, key) in wanted.iter().zip(custodian.existing_data_keys(&wanted)?) {
                if let Some(key) = key {
                    keys.insert(id.clone(), key);
                }
            }
        }
        let loaded: Vec<Option<Loaded>> = stored_records
            .into_par_iter()
            .map(|sr| -> Result<_> {
                let Some(key) = keys.get(&sr.key_id) else {
                    // The key was destroyed (erasure): the record is unreadable.
                    return Ok(None);
                };
                let ctx = FieldContext {
                    client: &sr.key_id,
                    record: &sr.record_id,
                    field: "record",
                };
                let plain = key.decrypt(&ctx, &sr.payload)?;
                let record = pb::Record::decode(plain.as_slice())
                    .map_err(|e| Error::Internal(format!("corrupt record payload: {e}")))?;
                let tag = self.source_tag(&record);
                let (prepared, flags) = self.preparer.prepare_flagged(&convert::to_core(&record));
                Ok(Some((sr, record, tag, prepared, flags)))
            })
            .collect::<Result<_>>()?;
        lap(&mut phases, "records decrypted and standardised");
        if self.custodian.is_some() {
            // Keep only the resolver's own keys; the custodian caches its.
            keys.retain(|id, _| state_owns_key(id));
        }
        state.keys = keys;
        let slots: Vec<(Slot, Prepared)> = loaded
            .into_iter()
            .flatten()
            .map(|(sr, record, tag, prepared, flags)| {
                (
                    Slot {
                        record_id: sr.record_id,
                        client: sr.client,
                        key_id: sr.key_id,
                        source_tag: tag,
                        record,
                        flags: flags.into_boxed_slice(),
                        keys: Vec::new(),
                        created_ms: sr.created_ms,
                        updated_ms: sr.updated_ms,
                        alive: true,
                    },
                    prepared,
                )
            })
            .collect();
        state.load_slots(slots);
        lap(&mut phases, "index built");
        for (k, _) in scan_all(self.store.as_ref(), CONSTRAINTS)? {
            let text = String::from_utf8_lossy(&k).into_owned();
            let Some((a, b)) = text.split_once('|') else {
                continue;
            };
            if let (Some(&x), Some(&y)) = (state.by_record.get(a), state.by_record.get(b)) {
                state.cannot_link.insert(pair(x, y));
            }
        }
        for (_, v) in scan_all(self.store.as_ref(), REVIEWS)? {
            let r: StoredReview = stored::decode(&v, "review")?;
            state.reviews.insert(r.task_id, r);
        }
        lap(&mut phases, "constraints and reviews");
        tracing::info!(
            records = state.by_record.len(),
            clients = state.clients.len(),
            seconds = started.elapsed().as_secs_f64(),
            phases = ?phases,
            "resolver loaded"
        );
        Ok(())
    }

    fn source_tag(&self, r: &pb::Record) -> [u8; 16] {
        let mut source = Vec::with_capacity(r.source_system.len() + r.source_record_id.len() + 1);
        source.extend_from_slice(r.source_system.trim().as_bytes());
        source.push(0);
        source.extend_from_slice(r.source_record_id.trim().as_bytes());
        self.indexer.tag("source_record", &source)
    }

    /// Resolves a record; stores it unless `dry_run`. A value that cannot
    /// be standardised is kept and flagged.
    pub fn resolve(&self, record: pb::Record, dry_run: bool) -> Result<Resolution> {
        self.resolve_incoming(record.into(), dry_run)
    }

    /// [`Resolver::resolve`], refusing a record with an unusable value when
    /// `incoming.strict`.
    pub fn resolve_incoming(&self, incoming: Incoming, dry_run: bool) -> Result<Resolution> {
        if dry_run {
            let (prepared, flags) = self.prepare(&incoming, false)?;
            let mut resolution =
                self.read_durable(|state| Ok(state.decide(&prepared, &self.config).0))?;
            resolution.flags = flags;
            return Ok(resolution);
        }
        let mut results = self.resolve_many(vec![incoming])?;
        results
            .pop()
            .ok_or_else(|| Error::Internal("no result".into()))?
    }

    /// Checks and standardises a record, with the flags of its unusable
    /// values (refused when strict).
    fn prepare(&self, incoming: &Incoming, stored: bool) -> Result<(Prepared, Vec<ValueFlag>)> {
        convert::validate(&incoming.record, stored)?;
        let (prepared, flags) = self
            .preparer
            .prepare_flagged(&convert::to_core(&incoming.record));
        if incoming.strict {
            quality::refuse_flagged(&flags)?;
        }
        Ok((prepared, flags))
    }

    /// Resolves records in order with one durable commit for all. Each
    /// record sees the ones before it. Bad records get their own error and
    /// change nothing.
    pub fn resolve_many(
        &self,
        records: Vec<impl Into<Incoming>>,
    ) -> Result<Vec<Result<Resolution>>> {
        let (results, pending) = self.resolve_many_pending(records, &|_| Ok(()))?;
        self.wait(pending)?;
        Ok(results)
    }

    /// [`Resolver::resolve_many`] without waiting for durability: the
    /// results may be acknowledged once [`Resolver::wait`] returns for the
    /// pending write. Meanwhile the next chunk can be resolved.
    pub fn resolve_many_pending(
        &self,
        records: Vec<impl Into<Incoming>>,
        admit: &(dyn Fn(&pb::Record) -> Result<()> + Sync),
    ) -> Result<(Vec<Result<Resolution>>, Pending)> {
        use rayon::prelude::*;
        let records: Vec<Incoming> = records.into_iter().map(Into::into).collect();
        // Validation and standardisation need no lock: do them on every core.
        let prepared: Vec<Result<(Prepared, Vec<ValueFlag>)>> = records
            .par_iter()
            .map(|r| {
                admit(&r.record)?;
                self.prepare(r, true)
            })
            .collect();
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(custodian) = &self.custodian {
            // Every new record may create a client: have the custodian
            // create the keys of the next numbers ahead, many per call (one
            // durable write there for several chunks here). Numbers are
            // never reused, so a key made ahead is used by a later client.
            let fresh = prepared.iter().filter(|p| p.is_ok()).count() as u64;
            let next = self.read().counters.next_client;
            let ready = self
                .keys_ready_until
                .load(std::sync::atomic::Ordering::SeqCst);
            if next + fresh > ready {
                let from = next.max(ready);
                let until = next + fresh + KEYS_AHEAD;
                let ids: Vec<String> = (from..until)
                    .map(|n| ClientNumber::from_sequence(n).to_string())
                    .collect();
                custodian.data_keys(&ids)?;
                self.keys_ready_until
                    .store(until, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let mut state = self.write();
        self.persister.check()?;
        let mut tx = Tx::default();
        let mut out = Vec::with_capacity(records.len());
        for (incoming, prepared) in records.into_iter().zip(prepared) {
            out.push(prepared.and_then(|(p, flags)| {
                self.apply_resolve(&mut state, &mut tx, incoming.record, p, flags)
            }));
        }
        let pending = self.commit(&mut state, tx)?;
        Ok((out, pending))
    }

    /// Blocks until a write is durable (and so may be acknowledged).
    pub fn wait(&self, pending: Pending) -> Result<()> {
        self.persister.wait(pending)
    }

    /// Reads the state, then waits until every write the read may have
    /// seen is durable: nothing a crash could take back is ever shown.
    fn read_durable<T>(&self, read: impl FnOnce(&State) -> Result<T>) -> Result<T> {
        let (answer, seen) = {
            let state = self.read();
            (read(&state), Pending(state.submitted))
        };
        self.persister.wait(seen)?;
        answer
    }

    fn apply_resolve(
        &self,
        state: &mut State,
        tx: &mut Tx,
        record: pb::Record,
        prepared: Prepared,
        flags: Vec<ValueFlag>,
    ) -> Result<Resolution> {
        let now = stored::now_ms();
        let tag = self.source_tag(&record);
        if let Some(&slot) = state.by_source.get(&tag) {
            // The same source record again: update in place.
            let client = state.slots[slot as usize].client;
            state.update_slot(
                slot,
                record,
                prepared,
                flags.clone().into_boxed_slice(),
                now,
            );
            self.persist_record(state, tx, slot)?;
            tx.events.push(event(
                api::EventType::RecordUpdated,
                client,
                &state.slots[slot as usize].record_id,
                now,
            ));
            return Ok(Resolution {
                client: Some(ClientNumber::from_sequence(state.resolve_alias(client))),
                decision: api::Decision::Matched,
                confidence: 1.0,
                candidates: Vec::new(),
                record_id: state.slots[slot as usize].record_id.clone(),
                updated: true,
                flags,
            });
        }
        let (mut resolution, linked, review_with) = state.decide(&prepared, &self.config);
        let record_id = format!("R{:010}", state.counters.next_record);
        state.counters.next_record += 1;
        let client = match linked.first() {
            Some(&c) => c,
            None => self.create_client(state, tx, now)?,
        };
        let key_id = state.clients[&client]
            .key_ids
            .first()
            .cloned()
            .ok_or_else(|| Error::Internal("client without key".into()))?;
        let slot = state.insert_slot(
            Slot {
                record_id: record_id.clone(),
                client,
                key_id,
                source_tag: tag,
                record,
                flags: flags.clone().into_boxed_slice(),
                keys: Vec::new(),
                created_ms: now,
                updated_ms: now,
                alive: true,
            },
            prepared,
        );
        if let Some(c) = state.clients.get_mut(&client) {
            c.members.push(record_id.clone());
        }
        // No separate source lookup is stored: a restart derives each
        // record's source tag from the record itself.
        self.persist_record(state, tx, slot)?;
        if linked.is_empty() {
            tx.events.push(event(
                api::EventType::ClientCreated,
                client,
                &record_id,
                now,
            ));
        }
        tx.events.push(event(
            api::EventType::RecordAttached,
            client,
            &record_id,
            now,
        ));
        // The record bridges several clients with no conflict: they are one.
        if linked.len() > 1 {
            self.merge_clients(state, tx, &linked, "auto", "bridged by a new record", now)?;
        }
        let survivor = state.resolve_alias(client);
        state.persist_client(tx, survivor);
        if let Some(other) = review_with {
            let task_id = state.counters.next_task;
            state.counters.next_task += 1;
            let review = StoredReview {
                task_id,
                record_a: record_id.clone(),
                record_b: state.slots[other as usize].record_id.clone(),
                probability: resolution.confidence,
                created_ms: now,
                decision: None,
            };
            tx.batch
                .put(REVIEWS, key_of(task_id).to_vec(), stored::encode(&review));
            state.reviews.insert(task_id, review);
        }
        tx.counters_changed = true;
        resolution.client = Some(ClientNumber::from_sequence(survivor));
        resolution.record_id = record_id;
        resolution.flags = flags;
        Ok(resolution)
    }

    fn create_client(&self, state: &mut State, tx: &mut Tx, now: i64) -> Result<u64> {
        let number = state.counters.next_client;
        state.counters.next_client += 1;
        let key_id = match &self.custodian {
            Some(custodian) => {
                // The vault's key for this number (created there, durably,
                // before any record is written under it).
                let key_id = ClientNumber::from_sequence(number).to_string();
                custodian.data_key(&key_id)?;
                key_id
            }
            None => {
                let key_id = format!("k{number}");
                let key = DataKey::generate(&key_id, 1)?;
                tx.batch.put(
                    KEYS,
                    key_id.clone().into_bytes(),
                    key.wrap(self.kek.as_ref())?.to_bytes(),
                );
                state.keys_cache_insert(key_id.clone(), key);
                key_id
            }
        };
        state.clients.insert(
            number,
            ClientState {
                number,
                status: ClientStatus::Active,
                members: Vec::new(),
                aliases: Vec::new(),
                key_ids: vec![key_id],
                lineage: vec![Lineage {
                    kind: LineageKind::Created,
                    clients: vec![number],
                    record_ids: Vec::new(),
                    actor: "auto".into(),
                    reason: String::new(),
                    at_ms: now,
                    model_version: self.model_version(),
                }],
                created_ms: now,
            },
        );
        tx.counters_changed = true;
        Ok(number)
    }

    /// The data key `key_id` names: the resolver's own, or the custodian's.
    fn data_key(&self, state: &State, key_id: &str) -> Result<Arc<DataKey>> {
        if let Some(k) = state.keys.get(key_id) {
            return Ok(k.clone());
        }
        match &self.custodian {
            Some(c) if !state_owns_key(key_id) => Ok(c.data_key(key_id)?),
            _ => Err(Error::FailedPrecondition(
                "the data key of this record was destroyed".into(),
            )),
        }
    }

    fn persist_record(&self, state: &mut State, tx: &mut Tx, slot: u32) -> Result<()> {
        let s = &state.slots[slot as usize];
        let key = self.data_key(state, &s.key_id)?;
        let s = &state.slots[slot as usize];
        let ctx = FieldContext {
            client: &s.key_id,
            record: &s.record_id,
            field: "record",
        };
        let payload = key.encrypt(&ctx, &s.record.encode_to_vec())?;
        let sr = StoredRecord {
            record_id: s.record_id.clone(),
            client: s.client,
            key_id: s.key_id.clone(),
            source_system: s.record.source_system.clone(),
            created_ms: s.created_ms,
            updated_ms: s.updated_ms,
            payload,
        };
        tx.batch.put(
            RECORDS,
            s.record_id.clone().into_bytes(),
            stored::encode_record(&sr),
        );
        Ok(())
    }

    /// Merges active clients into the one created first.
    fn merge_clients(
        &self,
        state: &mut State,
        tx: &mut Tx,
        clients: &[u64],
        actor: &str,
        reason: &str,
        now: i64,
    ) -> Result<(u64, Vec<u64>)> {
        let mut numbers: Vec<u64> = clients.iter().map(|&c| state.resolve_alias(c)).collect();
        numbers.sort_unstable();
        numbers.dedup();
        let survivor = numbers[0];
        let absorbed: Vec<u64> = numbers[1..].to_vec();
        for &a in &absorbed {
            let Some(mut gone) = state.clients.remove(&a) else {
                continue;
            };
            for record_id in &gone.members {
                if let Some(&slot) = state.by_record.get(record_id) {
                    state.slots[slot as usize].client = survivor;
                    self.persist_record(state, tx, slot)?;
                }
            }
            let entry = Lineage {
                kind: LineageKind::Merged,
                clients: vec![a],
                record_ids: gone.members.clone(),
                actor: actor.to_string(),
                reason: reason.to_string(),
                at_ms: now,
                model_version: self.model_version(),
            };
            let s = state
                .clients
                .get_mut(&survivor)
                .ok_or_else(|| Error::Internal("survivor missing".into()))?;
            s.members.append(&mut gone.members);
            s.aliases.push(a);
            s.aliases.append(&mut gone.aliases);
            s.key_ids.append(&mut gone.key_ids);
            s.lineage.push(entry.clone());
            gone.status = ClientStatus::MergedInto(survivor);
            gone.lineage.push(entry);
            tx.batch
                .put(CLIENTS, key_of(a).to_vec(), stored::encode(&gone));
            state.clients.insert(a, gone);
        }
        state.persist_client(tx, survivor);
        let mut e = event(api::EventType::ClientsMerged, survivor, "", now);
        e.related_clients = absorbed
            .iter()
            .map(|&a| ClientNumber::from_sequence(a).to_string())
            .collect();
        tx.events.push(e);
        Ok((survivor, absorbed))
    }

    /// Hands a write, with its events, to the persister; the caller waits
    /// for the returned [`Pending`] before acknowledging it. A write that
    /// cannot be stored stops the resolver from accepting writes (the
    /// memory is then ahead of the store).
    fn commit(&self, state: &mut State, tx: Tx) -> Result<Pending> {
        let Tx {
            mut batch,
            events,
            counters_changed,
            mut dirty_clients,
        } = tx;
        dirty_clients.sort_unstable();
        dirty_clients.dedup();
        for seq in dirty_clients {
            if let Some(c) = state.clients.get(&seq) {
                batch.put(CLIENTS, key_of(seq).to_vec(), stored::encode(c));
            }
        }
        if counters_changed {
            batch.put(
                META,
                META_COUNTERS.to_vec(),
                stored::encode(&state.counters),
            );
        }
        if batch.is_empty() && events.is_empty() {
            return Ok(Pending(state.submitted));
        }
        state.submitted += 1;
        self.persister.submit(Job {
            seq: state.submitted,
            batch,
            events,
        })
    }

    /// Steward merge of clients; returns (survivor, absorbed).
    pub fn merge(
        &self,
        numbers: &[String],
        actor: &str,
        reason: &str,
    ) -> Result<(ClientNumber, Vec<ClientNumber>)> {
        if numbers.len() < 2 {
            return Err(Error::invalid(
                "client_numbers",
                "needs at least two client numbers",
            ));
        }
        let parsed = numbers
            .iter()
            .map(|n| parse_number(n, "client_numbers"))
            .collect::<Result<Vec<_>>>()?;
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.write();
        self.persister.check()?;
        let mut seqs = Vec::new();
        for (n, text) in parsed.iter().zip(numbers) {
            let seq = state.resolve_alias(n.sequence());
            match state.clients.get(&seq).map(|c| c.status) {
                Some(ClientStatus::Active) => seqs.push(seq),
                Some(_) => {
                    return Err(Error::FailedPrecondition(format!(
                        "client {text} was erased"
                    )));
                }
                None => return Err(Error::NotFound(format!("client {text}"))),
            }
        }
        seqs.sort_unstable();
        seqs.dedup();
        if seqs.len() < 2 {
            return Err(Error::invalid(
                "client_numbers",
                "all numbers name the same client",
            ));
        }
        let mut tx = Tx::default();
        let (survivor, absorbed) =
            self.merge_clients(&mut state, &mut tx, &seqs, actor, reason, stored::now_ms())?;
        let pending = self.commit(&mut state, tx)?;
        drop(state);
        self.wait(pending)?;
        Ok((
            ClientNumber::from_sequence(survivor),
            absorbed
                .into_iter()
                .map(ClientNumber::from_sequence)
                .collect(),
        ))
    }

    /// Steward split: the given records leave for a new client.
    pub fn split(
        &self,
        number: &str,
        record_ids: &[String],
        actor: &str,
        reason: &str,
    ) -> Result<(ClientNumber, ClientNumber)> {
        let n = parse_number(number, "client_number")?;
        if record_ids.is_empty() {
            return Err(Error::invalid("record_ids", "names no record"));
        }
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.write();
        self.persister.check()?;
        let seq = state.resolve_alias(n.sequence());
        let client = state
            .clients
            .get(&seq)
            .filter(|c| c.status == ClientStatus::Active)
            .ok_or_else(|| Error::NotFound(format!("client {number}")))?
            .clone();
        for id in record_ids {
            if !client.members.contains(id) {
                return Err(Error::invalid(
                    "record_ids",
                    format!("{id} is not a record of {number}"),
                ));
            }
        }
        if record_ids.len() >= client.members.len() {
            return Err(Error::invalid(
                "record_ids",
                "would leave the client without records",
            ));
        }
        let now = stored::now_ms();
        let mut tx = Tx::default();
        let new = self.create_client(&mut state, &mut tx, now)?;
        let new_key = state.clients[&new].key_ids[0].clone();
        let moving: Vec<u32> = record_ids
            .iter()
            .filter_map(|id| state.by_record.get(id).copied())
            .collect();
        let staying: Vec<u32> = client
            .members
            .iter()
            .filter(|id| !record_ids.contains(id))
            .filter_map(|id| state.by_record.get(id).copied())
            .collect();
        for &slot in &moving {
            // Re-encrypt under the new client's key: erasing one side must
            // not touch the other.
            let s = &mut state.slots[slot as usize];
            s.client = new;
            s.key_id = new_key.clone();
            self.persist_record(&mut state, &mut tx, slot)?;
        }
        for &a in &moving {
            for &b in &staying {
                state.cannot_link.insert(pair(a, b));
                let (x, y) = (
                    &state.slots[a as usize].record_id,
                    &state.slots[b as usize].record_id,
                );
                tx.batch
                    .put(CONSTRAINTS, format!("{x}|{y}").into_bytes(), Vec::new());
            }
        }
        let entry = |clients: Vec<u64>| Lineage {
            kind: LineageKind::Split,
            clients,
            record_ids: record_ids.to_vec(),
            actor: actor.to_string(),
            reason: reason.to_string(),
            at_ms: now,
            model_version: self.model_version(),
        };
        if let Some(c) = state.clients.get_mut(&seq) {
            c.members.retain(|id| !record_ids.contains(id));
            c.lineage.push(entry(vec![new]));
        }
        if let Some(c) = state.clients.get_mut(&new) {
            c.members = record_ids.to_vec();
            c.lineage.push(entry(vec![seq]));
        }
        state.persist_client(&mut tx, seq);
        state.persist_client(&mut tx, new);
        let mut e = event(api::EventType::ClientSplit, seq, "", now);
        e.related_clients = vec![ClientNumber::from_sequence(new).to_string()];
        e.record_ids = record_ids.to_vec();
        tx.events.push(e);
        let pending = self.commit(&mut state, tx)?;
        drop(state);
        self.wait(pending)?;
        Ok((
            ClientNumber::from_sequence(seq),
            ClientNumber::from_sequence(new),
        ))
    }

    /// Erases a client and every number merged into it: the data keys of
    /// its records are destroyed (so the stored ciphertexts, and any copy
    /// of them in a backup, can no longer be read), the records leave the
    /// store, the index and memory, open reviews involving them are closed,
    /// and CLIENT_ERASED is published. Returns (erased survivor, aliases
    /// erased with it, record ids). Erasing an erased client is refused as
    /// not found, like any later read of it.
    pub fn erase(
        &self,
        number: &str,
        actor: &str,
        reason: &str,
    ) -> Result<(ClientNumber, Vec<ClientNumber>, Vec<String>)> {
        let n = parse_number(number, "client_number")?;
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.write();
        self.persister.check()?;
        let seq = state.resolve_alias(n.sequence());
        let client = state
            .clients
            .get(&seq)
            .filter(|c| c.status == ClientStatus::Active)
            .ok_or_else(|| Error::NotFound(format!("client {number}")))?
            .clone();
        let now = stored::now_ms();
        let mut tx = Tx::default();
        let empty = self.preparer.prepare(&c360_core::Record::default());
        for record_id in &client.members {
            let Some(slot) = state.by_record.remove(record_id) else {
                continue;
            };
            let old_keys = std::mem::take(&mut state.slots[slot as usize].keys);
            state.index.remove(slot, &old_keys);
            state.matcher.replace(slot, empty.clone());
            let tag = state.slots[slot as usize].source_tag;
            state.by_source.remove(&tag);
            let s = &mut state.slots[slot as usize];
            s.alive = false;
            let record = std::mem::take(&mut s.record);
            let flags = std::mem::take(&mut s.flags);
            state.quality.remove(&record.source_system, &flags);
            tx.batch.delete(RECORDS, record_id.clone().into_bytes());
        }
        for key_id in &client.key_ids {
            // Only the resolver's own keys live here; the vault destroys
            // its own itself (it asked for this erasure).
            if state_owns_key(key_id) {
                state.keys.remove(key_id);
                tx.batch.delete(KEYS, key_id.clone().into_bytes());
            }
        }
        if let Some(c) = &self.custodian {
            // Drop any copy of the vault's keys cached on this side.
            c.forget(&client.key_ids);
        }
        let closed: Vec<u64> = state
            .reviews
            .values()
            .filter(|r| {
                client.members.contains(&r.record_a) || client.members.contains(&r.record_b)
            })
            .map(|r| r.task_id)
            .collect();
        for task in closed {
            state.reviews.remove(&task);
            tx.batch.delete(REVIEWS, task.to_be_bytes().to_vec());
        }
        let entry = Lineage {
            kind: LineageKind::Erased,
            clients: client.aliases.clone(),
            record_ids: Vec::new(),
            actor: actor.to_string(),
            reason: reason.to_string(),
            at_ms: now,
            model_version: self.model_version(),
        };
        if let Some(c) = state.clients.get_mut(&seq) {
            c.status = ClientStatus::Erased;
            c.members.clear();
            c.key_ids.clear();
            c.lineage.push(entry);
        }
        state.persist_client(&mut tx, seq);
        let mut e = event(api::EventType::ClientErased, seq, "", now);
        e.related_clients = client
            .aliases
            .iter()
            .map(|&a| ClientNumber::from_sequence(a).to_string())
            .collect();
        e.record_ids = client.members.clone();
        tx.events.push(e);
        let pending = self.commit(&mut state, tx)?;
        drop(state);
        self.wait(pending)?;
        Ok((
            ClientNumber::from_sequence(seq),
            client
                .aliases
                .iter()
                .map(|&a| ClientNumber::from_sequence(a))
                .collect(),
            client.members,
        ))
    }

    /// Open review tasks after `after` (a task id), at most `limit`.
    pub fn review_tasks(&self, after: u64, limit: usize) -> Result<(Vec<api::ReviewTask>, u64)> {
        self.read_durable(|state| {
            let open: Vec<&StoredReview> = state
                .reviews
                .values()
                .filter(|r| r.decision.is_none())
                .collect();
            let total = open.len() as u64;
            let tasks = open
                .into_iter()
                .filter(|r| r.task_id > after)
                .take(limit)
                .map(|r| {
                    let client_of = |id: &str| {
                        state
                            .by_record
                            .get(id)
                            .map(|&s| {
                                ClientNumber::from_sequence(
                                    state.resolve_alias(state.slots[s as usize].client),
                                )
                                .to_string()
                            })
                            .unwrap_or_default()
                    };
                    api::ReviewTask {
                        task_id: r.task_id.to_string(),
                        record_a: r.record_a.clone(),
                        record_b: r.record_b.clone(),
                        client_a: client_of(&r.record_a),
                        client_b: client_of(&r.record_b),
                        probability: r.probability,
                        created_at_unix_ms: r.created_ms,
                    }
                })
                .collect();
            Ok((tasks, total))
        })
    }

    /// Accepts (merge) or rejects (never merge these two records) a task.
    pub fn decide_review(
        &self,
        task_id: &str,
        accept: bool,
        actor: &str,
        reason: &str,
    ) -> Result<ClientNumber> {
        let id: u64 = task_id
            .parse()
            .map_err(|_| Error::invalid("task_id", "is not a task id"))?;
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.write();
        self.persister.check()?;
        let mut review = state
            .reviews
            .get(&id)
            .cloned()
            .ok_or_else(|| Error::NotFound(format!("review task {task_id}")))?;
        if review.decision.is_some() {
            return Err(Error::FailedPrecondition(format!(
                "review task {task_id} is already decided"
            )));
        }
        let (Some(&a), Some(&b)) = (
            state.by_record.get(&review.record_a),
            state.by_record.get(&review.record_b),
        ) else {
            return Err(Error::FailedPrecondition(
                "a record of the task was erased".into(),
            ));
        };
        let now = stored::now_ms();
        let mut tx = Tx::default();
        let (ca, cb) = (
            state.resolve_alias(state.slots[a as usize].client),
            state.resolve_alias(state.slots[b as usize].client),
        );
        let result = if accept {
            if ca == cb {
                ca
            } else {
                self.merge_clients(&mut state, &mut tx, &[ca, cb], actor, reason, now)?
                    .0
            }
        } else {
            state.cannot_link.insert(pair(a, b));
            tx.batch.put(
                CONSTRAINTS,
                format!("{}|{}", review.record_a, review.record_b).into_bytes(),
                Vec::new(),
            );
            ca
        };
        review.decision = Some(accept);
        tx.batch
            .put(REVIEWS, key_of(id).to_vec(), stored::encode(&review));
        state.reviews.insert(id, review);
        let pending = self.commit(&mut state, tx)?;
        drop(state);
        self.wait(pending)?;
        Ok(ClientNumber::from_sequence(result))
    }

    /// The client a number resolves to, with the redirect flag.
    pub fn get_client(&self, number: &str) -> Result<api::GetClientResponse> {
        let n = parse_number(number, "client_number")?;
        self.read_durable(|state| {
            if !state.clients.contains_key(&n.sequence()) {
                return Err(Error::NotFound(format!("client {number}")));
            }
            let seq = state.resolve_alias(n.sequence());
            let client = &state.clients[&seq];
            if client.status == ClientStatus::Erased {
                return Err(Error::NotFound(format!("client {number}")));
            }
            let members: Vec<&Slot> = client
                .members
                .iter()
                .filter_map(|id| state.by_record.get(id))
                .map(|&s| &state.slots[s as usize])
                .filter(|s| s.alive)
                .collect();
            let golden = crate::golden::golden_record(
                members
                    .iter()
                    .map(|s| (s.record_id.as_str(), &s.record, s.updated_ms, &*s.flags)),
                &self.config.survivorship,
            );
            let mut groups: Vec<String> = members
                .iter()
                .map(|s| s.record.group_id.clone())
                .filter(|g| !g.is_empty())
                .collect();
            groups.sort();
            groups.dedup();
            Ok(api::GetClientResponse {
                client_number: ClientNumber::from_sequence(seq).to_string(),
                redirected: seq != n.sequence(),
                requested_number: ClientNumber::from_sequence(n.sequence()).to_string(),
                golden,
                records: members
                    .iter()
                    .map(|s| api::MemberRecord {
                        record_id: s.record_id.clone(),
                        source_system: s.record.source_system.clone(),
                        source_record_id: s.record.source_record_id.clone(),
                        record: Some(s.record.clone()),
                        created_at_unix_ms: s.created_ms,
                        updated_at_unix_ms: s.updated_ms,
                        flags: convert::flags_to_proto(&s.flags),
                    })
                    .collect(),
                aliases: client
                    .aliases
                    .iter()
                    .map(|&a| ClientNumber::from_sequence(a).to_string())
                    .collect(),
                group_ids: groups,
                lineage: client.lineage.iter().map(lineage_to_api).collect(),
                // Decided at the edge, under the vault's policy.
                masked_fields: Vec::new(),
                withheld_fields: Vec::new(),
                access_log_sequence: 0,
            })
        })
    }

    /// What each number is now: never issued, active (and its survivor),
    /// or erased, and the offset of the last event published then. A
    /// malformed number is INVALID_ARGUMENT.
    pub fn lookup_numbers(&self, numbers: &[String]) -> Result<(Vec<NumberState>, u64)> {
        if numbers.len() > MAX_LOOKUP {
            return Err(Error::invalid(
                "client_numbers",
                format!("at most {MAX_LOOKUP} per call"),
            ));
        }
        let parsed = numbers
            .iter()
            .enumerate()
            .map(|(i, n)| parse_number(n, &format!("client_numbers[{i}]")))
            .collect::<Result<Vec<_>>>()?;
        self.read_durable(|state| {
            // Read under the state lock: every event of what is read is
            // published by now (reads wait for durability).
            let head = self.events.head();
            let states = parsed
                .iter()
                .map(|n| {
                    if !state.clients.contains_key(&n.sequence()) {
                        return NumberState::Unknown;
                    }
                    let seq = state.resolve_alias(n.sequence());
                    match state.clients.get(&seq) {
                        Some(c) if c.status != ClientStatus::Erased => {
                            NumberState::Active(ClientNumber::from_sequence(seq))
                        }
                        _ => NumberState::Erased,
                    }
                })
                .collect();
            Ok((states, head))
        })
    }

    /// Explains a record pair, or every pair of a client (up to 100), with
    /// the flagged values of the records explained (which the comparison
    /// ignored).
    pub fn explain_pair(&self, a: &str, b: &str) -> Result<Explained> {
        self.read_durable(|state| {
            let find = |id: &str, field: &str| {
                state
                    .by_record
                    .get(id)
                    .copied()
                    .ok_or_else(|| Error::invalid(field, "names no known record"))
            };
            let (x, y) = (find(a, "pair.record_a")?, find(b, "pair.record_b")?);
            Ok(Explained {
                pairs: vec![explanation_to_api(a, b, state.explain(x, y))],
                flagged_records: state.flagged_records(&[x, y]),
            })
        })
    }

    pub fn explain_client(&self, number: &str) -> Result<Explained> {
        let n = parse_number(number, "client_number")?;
        self.read_durable(|state| {
            let seq = state.resolve_alias(n.sequence());
            let client = state
                .clients
                .get(&seq)
                .ok_or_else(|| Error::NotFound(format!("client {number}")))?;
            let slots: Vec<u32> = client
                .members
                .iter()
                .filter_map(|id| state.by_record.get(id).copied())
                .collect();
            let mut out = Vec::new();
            'outer: for (i, &x) in slots.iter().enumerate() {
                for &y in &slots[i + 1..] {
                    if out.len() >= 100 {
                        break 'outer;
                    }
                    let (ra, rb) = (
                        &state.slots[x as usize].record_id,
                        &state.slots[y as usize].record_id,
                    );
                    out.push(explanation_to_api(ra, rb, state.explain(x, y)));
                }
            }
            Ok(Explained {
                pairs: out,
                flagged_records: state.flagged_records(&slots),
            })
        })
    }

    /// Flag counts of the stored records, per source system (only `source`
    /// when given).
    pub fn quality(&self, source: Option<&str>) -> Result<QualityCounts> {
        self.read_durable(|state| {
            Ok(match source {
                Some(source) => state.quality.only(source),
                None => state.quality.clone(),
            })
        })
    }

    /// Number of stored records and active clients.
    pub fn counts(&self) -> (usize, usize) {
        let state = self.read();
        let active = state
            .clients
            .values()
            .filter(|c| c.status == ClientStatus::Active)
            .count();
        (state.by_record.len(), active)
    }

    /// Open review tasks.
    pub fn open_reviews(&self) -> usize {
        self.read()
            .reviews
            .values()
            .filter(|r| r.decision.is_none())
            .count()
    }
}

fn parse_number(text: &str, field: &str) -> Result<ClientNumber> {
    text.parse::<ClientNumber>()
        .map_err(|e| Error::invalid(field, e.to_string()))
}

fn scan_all(store: &dyn Store, space: &str) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = store.scan_prefix(space, b"", after.as_deref(), 4096)?;
        let done = page.len() < 4096;
        after = page.last().map(|(k, _)| k.clone());
        out.extend(page);
        if done {
            return Ok(out);
        }
    }
}

fn event(kind: api::EventType, client: u64, record_id: &str, at_ms: i64) -> api::Event {
    api::Event {
        offset: 0,
        r#type: kind as i32,
        client_number: ClientNumber::from_sequence(client).to_string(),
        record_id: record_id.to_string(),
        related_clients: Vec::new(),
        record_ids: Vec::new(),
        at_unix_ms: at_ms,
    }
}

fn lineage_to_api(l: &Lineage) -> api::LineageEntry {
    use api::lineage_entry::Kind;
    api::LineageEntry {
        kind: match l.kind {
            LineageKind::Created => Kind::Created,
            LineageKind::Merged => Kind::Merged,
            LineageKind::Split => Kind::Split,
            LineageKind::Erased => Kind::Erased,
        } as i32,
        clients: l
            .clients
            .iter()
            .map(|&c| ClientNumber::from_sequence(c).to_string())
            .collect(),
        record_ids: l.record_ids.clone(),
        actor: l.actor.clone(),
        reason: l.reason.clone(),
        at_unix_ms: l.at_ms,
        model_version: l.model_version.clone(),
    }
}

fn explanation_to_api(a: &str, b: &str, e: Explanation) -> api::PairExplanation {
    api::PairExplanation {
        record_a: a.to_string(),
        record_b: b.to_string(),
        fields: e
            .fields
            .iter()
            .map(|f| api::FieldComparison {
                field: f.field.name().to_string(),
                level: f.level.to_string(),
                weight: f.weight,
                term_frequency: f.term_frequency.unwrap_or(0.0),
            })
            .collect(),
        prior: e.prior,
        log_odds: e.log_odds,
        probability: e.probability,
        names_swapped: e.names_swapped,
        veto: e.veto.map(|v| v.name().to_string()).unwrap_or_default(),
        decision: match e.decision {
            PairDecision::Link => "link",
            PairDecision::Review => "review",
            PairDecision::Distinct => "distinct",
        }
        .to_string(),
        model_version: e.model_version,
        household_context: e.household,
    }
}

/// The first model: learned from seeded synthetic records, so a new
/// installation decides sensibly before it has data of its own.
fn bootstrap_model(config: &ResolverConfig) -> Result<c360_matching::FsModel> {
    let records: Vec<c360_core::Record> = c360_datagen::generate(&c360_datagen::GenConfig {
        records: config.bootstrap_records,
        seed: 360,
    })
    .map(|g| g.record)
    .collect();
    let outcome = c360_matching::dedupe(&records, &config.matching)
        .map_err(|e| Error::Internal(e.to_string()))?;
    Ok(outcome.matcher.model)
}

impl State {
    fn resolve_alias(&self, mut seq: u64) -> u64 {
        for _ in 0..64 {
            match self.clients.get(&seq).map(|c| c.status) {
                Some(ClientStatus::MergedInto(next)) => seq = next,
                _ => return seq,
            }
        }
        seq
    }

    /// Adds a record to the matcher, the lookups and the index.
    fn insert_slot(&mut self, slot: Slot, prepared: Prepared) -> u32 {
        self.quality.add(&slot.record.source_system, &slot.flags);
        let index = self.matcher.push(prepared);
        self.by_record.insert(slot.record_id.clone(), index);
        self.by_source.insert(slot.source_tag, index);
        self.slots.push(slot);
        let keys = self.matcher.keys(&self.matcher.records[index as usize]);
        self.index.insert(index, &keys);
        self.slots[index as usize].keys = keys;
        index
    }

    /// Inserts the stored records at start: all of them first (counted on
    /// every core while the lookups fill), then their blocking keys on
    /// every core under the final phone counts (a phone that became hot is
    /// not indexed), then the index.
    fn load_slots(&mut self, loaded: Vec<(Slot, Prepared)>) {
        use rayon::prelude::*;
        let first = self.slots.len();
        let (slots, prepared): (Vec<Slot>, Vec<Prepared>) = loaded.into_iter().unzip();
        let State {
            matcher,
            slots: all_slots,
            by_record,
            by_source,
            quality,
            ..
        } = self;
        rayon::join(
            || matcher.extend(prepared),
            || {
                by_record.reserve(slots.len());
                by_source.reserve(slots.len());
                for (offset, slot) in slots.iter().enumerate() {
                    let index = (first + offset) as u32;
                    by_record.insert(slot.record_id.clone(), index);
                    by_source.insert(slot.source_tag, index);
                    quality.add(&slot.record.source_system, &slot.flags);
                }
                all_slots.extend(slots);
            },
        );
        let matcher = &self.matcher;
        let keys: Vec<Vec<u64>> = matcher.records[first..]
            .par_iter()
            .map(|p| matcher.keys(p))
            .collect();
        for (offset, keys) in keys.into_iter().enumerate() {
            let index = (first + offset) as u32;
            self.index.insert(index, &keys);
            self.slots[first + offset].keys = keys;
        }
    }

    fn update_slot(
        &mut self,
        index: u32,
        record: pb::Record,
        prepared: Prepared,
        flags: Box<[ValueFlag]>,
        now: i64,
    ) {
        let old = &self.slots[index as usize];
        self.quality.remove(&old.record.source_system, &old.flags);
        self.quality.add(&record.source_system, &flags);
        let old_keys = std::mem::take(&mut self.slots[index as usize].keys);
        self.index.remove(index, &old_keys);
        self.matcher.replace(index, prepared);
        let keys = self.matcher.keys(&self.matcher.records[index as usize]);
        self.index.insert(index, &keys);
        let s = &mut self.slots[index as usize];
        s.keys = keys;
        s.record = record;
        s.flags = flags;
        s.updated_ms = now;
    }

    /// Marks a client's state to be stored at commit (once, however many
    /// of the transaction's records touched it).
    fn persist_client(&self, tx: &mut Tx, seq: u64) {
        tx.dirty_clients.push(seq);
    }

    /// How strongly two stored records say they are two people. A
    /// steward's "not the same person" is as final as two national IDs.
    fn conflict(&self, a: u32, b: u32) -> Conflict {
        if self.cannot_link.contains(&pair(a, b)) {
            return Conflict::Hard;
        }
        self.matcher.conflict(a, b)
    }

    /// The conflict a new record's score against a member shows, and its
    /// name for `Candidate.excluded_by`. Against one record at a time the
    /// bar is the score with its prior (`conflict_log_odds`).
    fn score_conflict(&self, score: &PairScore) -> Option<(Conflict, &'static str)> {
        match score.veto {
            Some(v) if v.is_hard() => Some((Conflict::Hard, v.name())),
            Some(v) => Some((Conflict::Soft, v.name())),
            None if score.log_odds < self.matcher.config.conflict_log_odds => {
                Some((Conflict::Soft, "conflicting_evidence"))
            }
            None => None,
        }
    }

    /// Soft conflicts tolerated among `pairs` record pairs, as in batch
    /// clustering (`soft_conflict_share`).
    fn soft_conflicts_allowed(&self, pairs: usize) -> usize {
        soft_conflicts_allowed(self.matcher.config.soft_conflict_share, pairs)
    }

    fn explain(&self, a: u32, b: u32) -> Explanation {
        self.matcher.explain(a, b)
    }

    /// Scores a prepared record against the index. Returns the resolution,
    /// the clients it links to (best first, mutually compatible), and the
    /// record to review it with when uncertain.
    fn decide(
        &self,
        prepared: &Prepared,
        config: &ResolverConfig,
    ) -> (Resolution, Vec<u64>, Option<u32>) {
        let keys = self.matcher.keys(prepared);
        let candidates = self.index.candidates(&keys, config.max_postings);
        // Scoring is most of the work of a decision: spread it over the
        // cores when there is enough of it (the scores, and so the
        // decision, do not depend on how it is spread).
        let score = |&c: &u32| {
            let slot = &self.slots[c as usize];
            slot.alive.then(|| {
                let s = self
                    .matcher
                    .screen_prepared(prepared, &self.matcher.records[c as usize]);
                (c, self.resolve_alias(slot.client), s)
            })
        };
        // One allocation of the exact size, in candidate order (not a list
        // of chunks grown and appended, nor a vector grown one by one).
        let scores: Vec<Option<_>> = if candidates.len() >= PARALLEL_SCORING_MIN {
            use rayon::prelude::*;
            let mut scores = Vec::with_capacity(candidates.len());
            candidates
                .par_iter()
                .map(score)
                .collect_into_vec(&mut scores);
            scores
        } else {
            candidates.iter().map(score).collect()
        };
        // Best score per client, and its members' conflicts with the
        // record: any hard one, or more soft ones than batch clustering
        // tolerates, keeps the record out of that client.
        #[derive(Default)]
        struct Evidence {
            probability: f64,
            best: u32,
            hard: Option<&'static str>,
            soft: usize,
            soft_reason: Option<&'static str>,
        }
        impl Evidence {
            fn add(&mut self, conflict: Option<(Conflict, &'static str)>) {
                match conflict {
                    Some((Conflict::Hard, reason)) => {
                        self.hard.get_or_insert(reason);
                    }
                    Some((_, reason)) => {
                        self.soft += 1;
                        self.soft_reason.get_or_insert(reason);
                    }
                    None => {}
                }
            }

            /// What keeps the record out of the client, if anything.
            fn exclusion(&self, allowed: usize) -> Option<&'static str> {
                self.hard
                    .or(self.soft_reason.filter(|_| self.soft > allowed))
            }
        }
        let mut per_client: FxHashMap<u64, Evidence> = FxHashMap::default();
        for (c, client, score) in scores.into_iter().flatten() {
            let probability = 1.0 / (1.0 + (-score.log_odds).exp2());
            let entry = per_client.entry(client).or_insert_with(|| Evidence {
                best: c,
                ..Evidence::default()
            });
            let conflict = self.score_conflict(&score);
            // A member the record conflicts with does not vouch for it.
            if conflict.is_none() && probability > entry.probability {
                entry.probability = probability;
                entry.best = c;
            }
            entry.add(conflict);
        }
        // Members that were not candidates can still conflict (candidates
        // are sorted: a binary search tells which were).
        let scored = |m: &u32| candidates.binary_search(m).is_ok();
        let mut ranked: Vec<(u64, f64, u32, Option<&'static str>)> = per_client
            .into_iter()
            .map(|(client, mut evidence)| {
                let members = &self.clients[&client].members;
                let allowed = self.soft_conflicts_allowed(members.len());
                // Score the other members only while the answer is open.
                if evidence.exclusion(allowed).is_none() {
                    for &m in members.iter().filter_map(|id| self.by_record.get(id)) {
                        if scored(&m) {
                            continue;
                        }
                        let s = self
                            .matcher
                            .screen_prepared(prepared, &self.matcher.records[m as usize]);
                        evidence.add(
                            self.score_conflict(&s)
                                .map(|(kind, _)| (kind, "conflict_with_a_member")),
                        );
                        if evidence.exclusion(allowed).is_some() {
                            break;
                        }
                    }
                }
                (
                    client,
                    evidence.probability,
                    evidence.best,
                    evidence.exclusion(allowed),
                )
            })
            .collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let link = self.matcher.config.link_threshold;
        let review = self.matcher.config.review_threshold;
        let mut linked: Vec<u64> = Vec::new();
        let mut review_with = None;
        for &(client, p, best, conflict) in &ranked {
            if conflict.is_some() {
                continue;
            }
            if p >= link {
                // Join further clients only if no pair across them conflicts.
                let compatible = linked
                    .iter()
                    .all(|&other| !self.clients_conflict(client, other));
                if compatible {
                    linked.push(client);
                }
            } else if p >= review && linked.is_empty() && review_with.is_none() {
                review_with = Some(best);
            }
        }
        let best = ranked.iter().find(|r| r.3.is_none());
        let (decision, confidence, client) = if let Some(&c) = linked.first() {
            let p = ranked.iter().find(|r| r.0 == c).map_or(0.0, |r| r.1);
            (
                api::Decision::Matched,
                p,
                Some(ClientNumber::from_sequence(c)),
            )
        } else if review_with.is_some() {
            (api::Decision::Review, best.map_or(0.0, |r| r.1), None)
        } else {
            (api::Decision::New, best.map_or(0.0, |r| r.1).max(0.0), None)
        };
        let candidates = ranked
            .iter()
            .take(10)
            .map(|&(c, p, _, conflict)| api::Candidate {
                client_number: ClientNumber::from_sequence(c).to_string(),
                probability: p,
                excluded_by: conflict.unwrap_or_default().to_string(),
            })
            .collect();
        (
            Resolution {
                client,
                decision,
                confidence,
                candidates,
                record_id: String::new(),
                updated: false,
                flags: Vec::new(),
            },
            linked,
            review_with,
        )
    }

    fn clients_conflict(&self, a: u64, b: u64) -> bool {
        let members = |c: u64| -> Vec<u32> {
            self.clients
                .get(&c)
                .map(|s| {
                    s.members
                        .iter()
                        .filter_map(|id| self.by_record.get(id).copied())
                        .collect()
                })
                .unwrap_or_default()
        };
        let (ma, mb) = (members(a), members(b));
        let allowed = self.soft_conflicts_allowed(ma.len() * mb.len());
        groups_conflict(&ma, &mb, allowed, |x, y| self.conflict(x, y))
    }

    /// The records among `slots` that hold flagged values, with their flags.
    fn flagged_records(&self, slots: &[u32]) -> Vec<api::FlaggedRecord> {
        slots
            .iter()
            .map(|&s| &self.slots[s as usize])
            .filter(|s| !s.flags.is_empty())
            .map(|s| api::FlaggedRecord {
                record_id: s.record_id.clone(),
                flags: convert::flags_to_proto(&s.flags),
            })
            .collect()
    }

    fn keys_cache_insert(&mut self, key_id: String, key: DataKey) {
        self.keys.insert(key_id, Arc::new(key));
    }
}

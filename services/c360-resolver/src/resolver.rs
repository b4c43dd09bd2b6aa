//! The resolver: an in-memory matching index over records kept encrypted
//! in a [`Store`], with every change written atomically and durably together
//! with its events before it is acknowledged (or shown to a reader): the
//! [`Persister`] applies the changes in order behind the writer.
//!
//! This file is the kernel (settings, state, open, the one commit); the
//! rest goes by what it does: [`load`] (restart from the store), [`write`]
//! (resolving records), [`steward`] (merge, split, erase, review
//! decisions), [`read`] (clients, numbers, explanations, the review queue),
//! [`decide`] (the decision for one record, pure over the state) and
//! [`retrain`]. No generated or tonic type is named here: the domain holds
//! `c360_core::Record` and its own answers (`crate::answers`).

use std::sync::{Arc, Mutex, RwLock};

use c360_core::Record;
use c360_crypto::{BlindIndexer, DataKey, KekProvider, KeyCustodian, KeyMaterial, WrappedKey};
use c360_matching::{BlockIndex, FsModel, MatchConfig, Matcher, Preparer, ValueFlag};
use c360_storage::{Batch, EventLog, Store};
use rustc_hash::{FxHashMap, FxHashSet};

use crate::answers::Event;
use crate::number::ClientNumber;
use crate::persist::{Job, Pending, Persister};
use crate::quality::QualityCounts;
use crate::stored::{self, *};
use crate::{Error, Result, convert};

mod decide;
mod load;
mod read;
mod retrain;
mod steward;
mod write;
pub use retrain::Retrained;

/// Client keys the custodian is asked to create ahead of need.
const KEYS_AHEAD: u64 = 2048;

/// Settings of the resolver (the first model is not one: it is passed to
/// [`Resolver::open`]).
#[derive(Clone, Debug)]
pub struct ResolverConfig {
    pub matching: MatchConfig,
    /// A blocking key held by more records than this is skipped when
    /// resolving one record (hot key).
    pub max_postings: usize,
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
            population_floor: 100_000,
            survivorship: crate::golden::Survivorship::default(),
        }
    }
}

/// One loaded record.
#[derive(Clone)]
struct Slot {
    record_id: String,
    client: u64,
    key_id: String,
    source_tag: [u8; 16],
    /// The record as its source system gave it (`record_id` is the
    /// source's id; the resolver's is `Slot::record_id`).
    record: Record,
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
    events: Vec<Event>,
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
    /// keys. `first_model` is asked for the model to start with only when
    /// the store holds none (a new installation; the `c360` binary trains
    /// one on synthetic records).
    pub fn open<E: std::fmt::Display>(
        store: Arc<dyn Store>,
        kek: Arc<dyn KekProvider>,
        config: ResolverConfig,
        first_model: impl FnOnce() -> std::result::Result<FsModel, E>,
    ) -> Result<Self> {
        Self::open_with_custodian(store, kek, config, None, first_model)
    }

    /// Opens (or creates) a resolver whose new clients' data keys are held
    /// by `custodian` (the vault), so that an erasure there makes their
    /// records unreadable here and in every backup of this store. Records
    /// written under the resolver's own keys before stay readable.
    pub fn open_with_custodian<E: std::fmt::Display>(
        store: Arc<dyn Store>,
        kek: Arc<dyn KekProvider>,
        config: ResolverConfig,
        custodian: Option<Arc<dyn KeyCustodian>>,
        first_model: impl FnOnce() -> std::result::Result<FsModel, E>,
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
            Some(b) => stored::decode::<FsModel>(&b, "model")?
                .into_current_layout()
                .map_err(|e| Error::Internal(format!("stored model: {e}")))?,
            None => {
                let model =
                    first_model().map_err(|e| Error::Internal(format!("first model: {e}")))?;
                first_writes.put(META, META_MODEL.to_vec(), stored::encode(&model));
                model
            }
        };
        if !first_writes.is_empty() {
            store.commit(first_writes)?;
        }
        let model_version = FsModel::version(&model);
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

    /// The keyed hash of a record's source identity (source system and the
    /// source's record id): how an update finds the record it replaces.
    fn source_tag(&self, r: &Record) -> [u8; 16] {
        let mut source = Vec::with_capacity(r.source_system.len() + r.record_id.len() + 1);
        source.extend_from_slice(r.source_system.trim().as_bytes());
        source.push(0);
        source.extend_from_slice(r.record_id.trim().as_bytes());
        self.indexer.tag("source_record", &source)
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
            events: events.iter().map(convert::encode_event).collect(),
        })
    }

    /// [`Resolver::commit`], then waits until the write is durable, the
    /// state released meanwhile (readers are not held while it flushes).
    fn commit_and_wait(
        &self,
        mut state: std::sync::RwLockWriteGuard<'_, State>,
        tx: Tx,
    ) -> Result<()> {
        let pending = self.commit(&mut state, tx)?;
        drop(state);
        self.wait(pending)
    }
}

fn parse_number(text: &str, field: &str) -> Result<ClientNumber> {
    text.parse::<ClientNumber>()
        .map_err(|e| Error::invalid(field, e.to_string()))
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

    /// Marks a client's state to be stored at commit (once, however many
    /// of the transaction's records touched it).
    fn persist_client(&self, tx: &mut Tx, seq: u64) {
        tx.dirty_clients.push(seq);
    }
}

//! The registry: client states in memory (read without I/O by MayContact),
//! persisted in a [`Store`]. One writer at a time; each write is one
//! [`Batch`], committed and flushed before memory changes and before the
//! caller is answered, so a failed commit leaves nothing half-applied.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use c360_crypto::{BlindIndexer, KekProvider, KeyMaterial, WrappedKey};
use c360_storage::{Batch, Store};

use crate::model::{Channel, ClientState, ContactPoint, PointStatus, Preferences, Tag, Touch};
use crate::policy::Policy;
use crate::{Error, Result};

pub const CLIENTS: &str = "clients";
pub const ALIASES: &str = "aliases";
pub const META: &str = "meta";
/// The keyspaces of the channels store.
pub const SPACES: &[&str] = &[CLIENTS, ALIASES, META];

const META_INDEX_KEY: &[u8] = b"index_key";
const META_APPLIED: &[u8] = b"feed_applied";
const META_NEXT_POINT: &[u8] = b"next_point";
const INDEX_KEY_AAD: &[u8] = b"c360/channels/index-key";

#[derive(Default)]
struct State {
    clients: HashMap<String, Arc<ClientState>>,
    aliases: HashMap<String, String>,
    /// Blind-index tag -> clients holding a point with it.
    tags: HashMap<Tag, BTreeSet<String>>,
    applied: u64,
}

impl State {
    fn resolve(&self, number: &str) -> String {
        let mut n = number;
        for _ in 0..16 {
            match self.aliases.get(n) {
                Some(next) => n = next,
                None => break,
            }
        }
        n.to_string()
    }

    fn index(&mut self, state: &ClientState, add: bool) {
        for p in &state.points {
            if add {
                self.tags
                    .entry(p.tag)
                    .or_default()
                    .insert(state.number.clone());
            } else if let Some(set) = self.tags.get_mut(&p.tag) {
                set.remove(&state.number);
                if set.is_empty() {
                    self.tags.remove(&p.tag);
                }
            }
        }
    }
}

pub struct Registry {
    store: Arc<dyn Store>,
    policy: Arc<Policy>,
    indexer: BlindIndexer,
    state: RwLock<State>,
    writer: Mutex<()>,
    next_point: AtomicU64,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

/// Changes of one write, applied to memory only after the commit.
pub struct PendingChanges<'a> {
    base: &'a State,
    next_point: &'a AtomicU64,
    clients: HashMap<String, Option<ClientState>>,
    aliases: HashMap<String, Option<String>>,
    applied: Option<u64>,
}

impl PendingChanges<'_> {
    /// The survivor of `number` as of this transaction.
    pub fn resolve(&self, number: &str) -> String {
        let mut n = number.to_string();
        for _ in 0..16 {
            let next = match self.aliases.get(&n) {
                Some(Some(s)) => s.clone(),
                Some(None) => break,
                None => match self.base.aliases.get(&n) {
                    Some(s) => s.clone(),
                    None => break,
                },
            };
            n = next;
        }
        n
    }

    /// The state of `number` (not resolved), if any.
    pub fn get(&self, number: &str) -> Option<ClientState> {
        match self.clients.get(number) {
            Some(s) => s.clone(),
            None => self.base.clients.get(number).map(|s| (**s).clone()),
        }
    }

    pub fn get_or_new(&self, number: &str) -> ClientState {
        self.get(number).unwrap_or_else(|| ClientState::new(number))
    }

    pub fn put(&mut self, state: ClientState) {
        self.clients.insert(state.number.clone(), Some(state));
    }

    pub fn delete(&mut self, number: &str) {
        self.clients.insert(number.to_string(), None);
    }

    pub fn set_alias(&mut self, from: &str, to: Option<&str>) {
        self.aliases
            .insert(from.to_string(), to.map(str::to_string));
    }

    /// Alias numbers pointing at `number` (base and overlay).
    pub fn aliases_of(&self, number: &str) -> Vec<String> {
        let mut out: BTreeSet<String> = self
            .base
            .aliases
            .iter()
            .filter(|(_, to)| *to == number)
            .map(|(from, _)| from.clone())
            .filter(|from| !matches!(self.aliases.get(from), Some(None)))
            .collect();
        for (from, to) in &self.aliases {
            if to.as_deref() == Some(number) {
                out.insert(from.clone());
            }
        }
        out.into_iter().collect()
    }

    pub fn new_point_id(&self) -> String {
        point_id(self.next_point.fetch_add(1, Ordering::Relaxed))
    }

    pub fn set_applied(&mut self, offset: u64) {
        self.applied = Some(offset);
    }
}

fn point_id(n: u64) -> String {
    format!("P{n:010}")
}

fn decode_u64(bytes: &[u8], what: &str) -> Result<u64> {
    let arr: [u8; 8] = bytes
        .try_into()
        .map_err(|_| Error::Internal(format!("corrupt {what}")))?;
    Ok(u64::from_be_bytes(arr))
}

impl Registry {
    pub fn open(
        store: Arc<dyn Store>,
        kek: &dyn KekProvider,
        policy: Arc<Policy>,
    ) -> Result<Registry> {
        let index_key = match store.get(META, META_INDEX_KEY)? {
            Some(b) => kek.unwrap(&WrappedKey::from_bytes(&b)?, INDEX_KEY_AAD)?,
            None => {
                let key = KeyMaterial::generate(&ring::rand::SystemRandom::new())?;
                let mut batch = Batch::new();
                batch.put(
                    META,
                    META_INDEX_KEY.to_vec(),
                    kek.wrap(&key, INDEX_KEY_AAD)?.to_bytes(),
                );
                store.commit(batch)?;
                key
            }
        };
        let mut state = State::default();
        let mut after: Option<Vec<u8>> = None;
        loop {
            let page = store.scan_prefix(CLIENTS, b"", after.as_deref(), 4096)?;
            let Some((last, _)) = page.last() else { break };
            after = Some(last.clone());
            for (_, v) in page {
                let c: ClientState = serde_json::from_slice(&v)
                    .map_err(|e| Error::Internal(format!("corrupt client state: {e}")))?;
                state.index(&c, true);
                state.clients.insert(c.number.clone(), Arc::new(c));
            }
        }
        for (k, v) in store.scan_prefix(ALIASES, b"", None, usize::MAX)? {
            state.aliases.insert(
                String::from_utf8_lossy(&k).into_owned(),
                String::from_utf8_lossy(&v).into_owned(),
            );
        }
        state.applied = match store.get(META, META_APPLIED)? {
            Some(b) => decode_u64(&b, "feed offset")?,
            None => 0,
        };
        let next_point = match store.get(META, META_NEXT_POINT)? {
            Some(b) => decode_u64(&b, "point counter")?,
            None => 1,
        };
        Ok(Registry {
            store,
            policy,
            indexer: BlindIndexer::new(index_key),
            state: RwLock::new(state),
            writer: Mutex::new(()),
            next_point: AtomicU64::new(next_point),
        })
    }

    pub fn policy(&self) -> &Arc<Policy> {
        &self.policy
    }

    pub fn indexer(&self) -> &BlindIndexer {
        &self.indexer
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The survivor of `number` and its state (empty when unknown).
    pub fn snapshot(&self, number: &str) -> (String, Arc<ClientState>) {
        let state = self.read();
        let survivor = state.resolve(number);
        let client = state
            .clients
            .get(&survivor)
            .cloned()
            .unwrap_or_else(|| Arc::new(ClientState::new(&survivor)));
        (survivor, client)
    }

    pub fn exists(&self, number: &str) -> bool {
        let state = self.read();
        state.clients.contains_key(&state.resolve(number))
    }

    /// Whether a point's value is held by more than one client.
    pub fn is_shared(&self, tag: &Tag) -> bool {
        self.read().tags.get(tag).is_some_and(|s| s.len() > 1)
    }

    pub fn applied(&self) -> u64 {
        self.read().applied
    }

    /// Reserves a contact point id (to bind a value sealed before the write).
    pub fn reserve_point_id(&self) -> String {
        point_id(self.next_point.fetch_add(1, Ordering::Relaxed))
    }

    /// Every client state (for reports).
    pub fn all(&self) -> Vec<Arc<ClientState>> {
        self.read().clients.values().cloned().collect()
    }

    pub fn client_count(&self) -> usize {
        self.read().clients.len()
    }

    /// Runs `f` as the only writer, then commits its changes in one batch
    /// and applies them to memory.
    pub fn write<T>(&self, f: impl FnOnce(&mut PendingChanges<'_>) -> Result<T>) -> Result<T> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let (out, clients, aliases, applied) = {
            let base = self.read();
            let mut tx = PendingChanges {
                base: &base,
                next_point: &self.next_point,
                clients: HashMap::new(),
                aliases: HashMap::new(),
                applied: None,
            };
            let out = f(&mut tx)?;
            (out, tx.clients, tx.aliases, tx.applied)
        };
        if clients.is_empty() && aliases.is_empty() && applied.is_none() {
            return Ok(out);
        }
        let mut batch = Batch::new();
        for (number, state) in &clients {
            match state {
                Some(s) => {
                    let bytes = serde_json::to_vec(s)
                        .map_err(|e| Error::Internal(format!("encode client state: {e}")))?;
                    batch.put(CLIENTS, number.as_bytes(), bytes);
                }
                None => batch.delete(CLIENTS, number.as_bytes()),
            }
        }
        for (from, to) in &aliases {
            match to {
                Some(to) => batch.put(ALIASES, from.as_bytes(), to.as_bytes()),
                None => batch.delete(ALIASES, from.as_bytes()),
            }
        }
        if let Some(offset) = applied {
            batch.put(META, META_APPLIED.to_vec(), offset.to_be_bytes().to_vec());
        }
        batch.put(
            META,
            META_NEXT_POINT.to_vec(),
            self.next_point
                .load(Ordering::Relaxed)
                .to_be_bytes()
                .to_vec(),
        );
        self.store.commit(batch)?;

        let mut state = self.state.write().unwrap_or_else(|p| p.into_inner());
        for (number, new) in clients {
            if let Some(old) = state.clients.remove(&number) {
                state.index(&old, false);
            }
            if let Some(new) = new {
                state.index(&new, true);
                state.clients.insert(number, Arc::new(new));
            }
        }
        for (from, to) in aliases {
            match to {
                Some(to) => state.aliases.insert(from, to),
                None => state.aliases.remove(&from),
            };
        }
        if let Some(offset) = applied {
            state.applied = offset;
        }
        Ok(out)
    }
}

// ---- Identity changes, shared by the feed handler and tests ----

/// Merges `absorbed` into `survivor`: contact points (one per value),
/// history, preferences (any do-not-contact wins), hardship, profile.
pub fn merge_into(tx: &mut PendingChanges<'_>, survivor: &str, absorbed: &[String], now_ms: i64) {
    let mut s = tx.get_or_new(survivor);
    for a in absorbed {
        if a == survivor {
            continue;
        }
        let moved_aliases = tx.aliases_of(a);
        if let Some(gone) = tx.get(a) {
            for p in gone.points {
                match s
                    .points
                    .iter_mut()
                    .find(|q| q.channel == p.channel && q.tag == p.tag)
                {
                    Some(q) => unite_points(q, p),
                    None => s.points.push(p),
                }
            }
            for t in gone.history {
                if !s.history.contains(&t) {
                    s.push_touch(t);
                }
            }
            s.prefs.merge_from(&gone.prefs);
            if gone.hardship && !s.hardship {
                s.hardship = true;
                s.hardship_reason = gone.hardship_reason;
            }
            s.profile.identity |= gone.profile.identity;
            s.profile.transactions |= gone.profile.transactions;
            if s.profile.region.is_empty() {
                s.profile.region = gone.profile.region;
            }
            for src in gone.profile.sources {
                if !s.profile.sources.contains(&src) {
                    s.profile.sources.push(src);
                }
            }
            s.profile.sources.sort();
            for al in gone.aliases {
                if !s.aliases.contains(&al) {
                    s.aliases.push(al);
                }
            }
            tx.delete(a);
        }
        if !s.aliases.contains(a) {
            s.aliases.push(a.clone());
        }
        tx.set_alias(a, Some(survivor));
        for al in moved_aliases {
            tx.set_alias(&al, Some(survivor));
        }
    }
    let _ = now_ms;
    tx.put(s);
}

fn unite_points(into: &mut ContactPoint, other: ContactPoint) {
    into.verified |= other.verified;
    for src in other.sources {
        if !into.sources.contains(&src) {
            into.sources.push(src);
        }
    }
    for r in other.record_ids {
        if !into.record_ids.contains(&r) {
            into.record_ids.push(r);
        }
    }
    into.first_seen_ms = into.first_seen_ms.min(other.first_seen_ms);
    into.last_confirmed_ms = into.last_confirmed_ms.max(other.last_confirmed_ms);
    // The latest status decision wins.
    if other.status_changed_ms > into.status_changed_ms {
        into.status = other.status;
        into.status_changed_ms = other.status_changed_ms;
    }
}

/// Splits `moved_records` out of `original` into `new`: points read only
/// from moved records go with them (and their touches); points read from
/// both sides are copied (a family phone: both keep it, shared). Points
/// given through the API stay. Preferences and hardship are copied to the
/// new client (fail closed: whoever stated do-not-contact keeps it).
pub fn split(tx: &mut PendingChanges<'_>, original: &str, new: &str, moved_records: &[String]) {
    let Some(mut orig) = tx.get(original) else {
        return;
    };
    let mut fresh = tx.get_or_new(new);
    fresh.prefs.merge_from(&orig.prefs);
    if orig.hardship {
        fresh.hardship = true;
        fresh.hardship_reason = orig.hardship_reason.clone();
    }
    fresh.profile.region = orig.profile.region.clone();
    let mut kept = Vec::with_capacity(orig.points.len());
    let mut moved_ids: Vec<String> = Vec::new();
    for mut p in std::mem::take(&mut orig.points) {
        let (going, staying): (Vec<String>, Vec<String>) = p
            .record_ids
            .iter()
            .cloned()
            .partition(|r| moved_records.contains(r));
        if going.is_empty() {
            kept.push(p);
        } else if staying.is_empty() && !p.sources.iter().any(|s| s == "api") {
            moved_ids.push(p.id.clone());
            fresh.points.push(p);
        } else {
            let mut copy = p.clone();
            copy.id = tx.new_point_id();
            copy.record_ids = going;
            p.record_ids = staying;
            fresh.points.push(copy);
            kept.push(p);
        }
    }
    orig.points = kept;
    let (going, staying): (Vec<Touch>, Vec<Touch>) = std::mem::take(&mut orig.history)
        .into_iter()
        .partition(|t| moved_ids.contains(&t.point_id));
    orig.history = staying;
    for t in going {
        fresh.push_touch(t);
    }
    tx.put(orig);
    tx.put(fresh);
}

/// Erases a client and every number merged into it.
pub fn erase(tx: &mut PendingChanges<'_>, number: &str, related: &[String]) {
    let survivor = tx.resolve(number);
    let mut numbers: BTreeSet<String> = related.iter().cloned().collect();
    numbers.insert(number.to_string());
    numbers.insert(survivor.clone());
    if let Some(s) = tx.get(&survivor) {
        numbers.extend(s.aliases.iter().cloned());
    }
    numbers.extend(tx.aliases_of(&survivor));
    for n in &numbers {
        if tx.get(n).is_some() {
            tx.delete(n);
        }
        tx.set_alias(n, None);
    }
}

/// Adds (or confirms) a point on a client's state; returns its id and
/// whether it was created. `sealed` is used only for a new point.
#[allow(clippy::too_many_arguments)]
pub fn upsert_point(
    state: &mut ClientState,
    channel: Channel,
    tag: Tag,
    masked: &str,
    calling_code: Option<u16>,
    new_point: Option<(String, Vec<u8>, String)>,
    verified: bool,
    source: &str,
    record_id: Option<&str>,
    now_ms: i64,
) -> Option<(String, bool)> {
    if let Some(p) = state
        .points
        .iter_mut()
        .find(|p| p.channel == channel && p.tag == tag)
    {
        p.verified |= verified;
        p.last_confirmed_ms = p.last_confirmed_ms.max(now_ms);
        if !p.sources.iter().any(|s| s == source) {
            p.sources.push(source.to_string());
        }
        if let Some(r) = record_id
            && !p.record_ids.iter().any(|x| x == r)
        {
            p.record_ids.push(r.to_string());
        }
        return Some((p.id.clone(), false));
    }
    let (id, sealed, bound_client) = new_point?;
    state.points.push(ContactPoint {
        id: id.clone(),
        channel,
        tag,
        masked: masked.to_string(),
        sealed,
        bound_client,
        bound_record: id.clone(),
        field: field_name(channel),
        verified,
        sources: vec![source.to_string()],
        record_ids: record_id.map(|r| vec![r.to_string()]).unwrap_or_default(),
        first_seen_ms: now_ms,
        last_confirmed_ms: now_ms,
        status: PointStatus::Active,
        status_changed_ms: now_ms,
        calling_code,
    });
    Some((id, true))
}

/// The vault field a point's value is sealed under.
pub fn field_name(channel: Channel) -> String {
    format!("contact_point_{}", channel.as_str().to_lowercase())
}

/// Sets preferences (validated by the caller).
pub fn set_prefs(tx: &mut PendingChanges<'_>, number: &str, prefs: Preferences) -> ClientState {
    let mut s = tx.get_or_new(number);
    s.prefs = prefs;
    tx.put(s.clone());
    s
}

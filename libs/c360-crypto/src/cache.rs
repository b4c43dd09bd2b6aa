//! A small, bounded-lifetime cache of unwrapped DEKs.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use crate::envelope::DataKey;

/// Unwrapped DEKs by key id (one entry per key id: inserting a newer version
/// replaces the older one, so check [`DataKey::version`] against the
/// envelope). Entries expire `ttl` after insertion; when full, the oldest
/// insertion is evicted.
///
/// For erasure, call [`DataKeyCache::invalidate`] after destroying the wrapped
/// DEK. `Arc`s already handed out stay usable until their holders drop them.
///
/// Lookups are O(1); inserts are amortised O(1): an insertion-order queue
/// finds expired and oldest entries without scanning the map.
pub struct DataKeyCache {
    max_entries: usize,
    ttl: Duration,
    entries: Mutex<Entries>,
}

#[derive(Default)]
struct Entries {
    map: HashMap<String, Entry>,
    /// `(key id, inserted)` in insertion order; an item is stale when the
    /// map holds another insertion (or nothing) for that id.
    order: VecDeque<(String, Instant)>,
}

impl Entries {
    fn is_live(&self, id: &str, inserted: Instant) -> bool {
        self.map.get(id).is_some_and(|e| e.inserted == inserted)
    }

    fn remove(&mut self, id: &str) -> Option<Entry> {
        self.map.remove(id)
    }

    fn clear(&mut self) {
        self.map.clear();
        self.order.clear();
    }
}

struct Entry {
    key: Arc<DataKey>,
    inserted: Instant,
}

impl DataKeyCache {
    /// `max_entries == 0` disables caching (`insert` still returns the Arc).
    pub fn new(max_entries: usize, ttl: Duration) -> Self {
        Self {
            max_entries,
            ttl,
            entries: Mutex::new(Entries::default()),
        }
    }

    pub fn get(&self, key_id: &str) -> Option<Arc<DataKey>> {
        self.get_at(key_id, Instant::now())
    }

    pub fn insert(&self, key: DataKey) -> Arc<DataKey> {
        self.insert_at(key, Instant::now())
    }

    /// Drops the cached DEK for `key_id`, if any.
    pub fn invalidate(&self, key_id: &str) {
        self.lock().remove(key_id);
    }

    /// Drops every cached DEK.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Number of live (unexpired) entries.
    pub fn len(&self) -> usize {
        self.len_at(Instant::now())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Entries> {
        // The map stays consistent even if a holder panicked.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_expired(&self, entry: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(entry.inserted) >= self.ttl
    }

    fn get_at(&self, key_id: &str, now: Instant) -> Option<Arc<DataKey>> {
        let mut entries = self.lock();
        let entry = entries.map.get(key_id)?;
        if self.is_expired(entry, now) {
            entries.remove(key_id);
            return None;
        }
        Some(Arc::clone(&entry.key))
    }

    fn insert_at(&self, key: DataKey, now: Instant) -> Arc<DataKey> {
        let key = Arc::new(key);
        if self.max_entries == 0 {
            return key;
        }
        let mut entries = self.lock();
        // Drop expired entries from the front of the queue.
        while let Some((id, inserted)) = entries.order.front() {
            if now.saturating_duration_since(*inserted) < self.ttl {
                break;
            }
            if entries.is_live(id, *inserted) {
                let id = id.clone();
                entries.remove(&id);
            }
            entries.order.pop_front();
        }
        let key_id = key.key_id();
        if !entries.map.contains_key(key_id) && entries.map.len() >= self.max_entries {
            // Evict the oldest live insertion.
            while let Some((id, inserted)) = entries.order.pop_front() {
                if entries.is_live(&id, inserted) {
                    entries.remove(&id);
                    break;
                }
            }
        }
        entries.map.insert(
            key_id.to_owned(),
            Entry {
                key: Arc::clone(&key),
                inserted: now,
            },
        );
        entries.order.push_back((key_id.to_owned(), now));
        // Stale queue items (replaced or invalidated ids) are compacted away
        // before they can outnumber the live ones.
        if entries.order.len() > 2 * self.max_entries + 16 {
            let mut live: Vec<(String, Instant)> = entries
                .map
                .iter()
                .map(|(id, e)| (id.clone(), e.inserted))
                .collect();
            live.sort_by_key(|(_, inserted)| *inserted);
            entries.order = live.into();
        }
        key
    }

    fn len_at(&self, now: Instant) -> usize {
        let mut entries = self.lock();
        entries
            .map
            .retain(|_, entry| now.saturating_duration_since(entry.inserted) < self.ttl);
        entries.map.len()
    }
}

impl fmt::Debug for DataKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKeyCache")
            .field("max_entries", &self.max_entries)
            .field("ttl", &self.ttl)
            .field("len", &self.lock().map.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::KeyMaterial;

    fn dek(id: &str, version: u32) -> DataKey {
        DataKey::from_material(id, version, KeyMaterial::from_bytes([1; 32]))
    }

    const TTL: Duration = Duration::from_secs(60);

    #[test]
    fn get_insert_invalidate() {
        let cache = DataKeyCache::new(4, TTL);
        assert!(cache.is_empty());
        assert!(cache.get("C1").is_none());
        let inserted = cache.insert(dek("C1", 1));
        let got = cache.get("C1").expect("cached");
        assert!(Arc::ptr_eq(&inserted, &got));
        assert_eq!(cache.len(), 1);
        cache.invalidate("C1");
        assert!(cache.get("C1").is_none());
        assert!(cache.is_empty());
        cache.invalidate("never-there");
    }

    #[test]
    fn newer_version_replaces_older() {
        let cache = DataKeyCache::new(4, TTL);
        cache.insert(dek("C1", 1));
        cache.insert(dek("C1", 2));
        assert_eq!(cache.len(), 1);
        assert_eq!(cache.get("C1").expect("cached").version(), 2);
    }

    #[test]
    fn entries_expire_after_ttl() {
        let cache = DataKeyCache::new(4, TTL);
        let t0 = Instant::now();
        cache.insert_at(dek("C1", 1), t0);
        assert!(
            cache
                .get_at("C1", t0 + TTL - Duration::from_millis(1))
                .is_some()
        );
        assert_eq!(cache.len_at(t0 + TTL), 0);
        assert!(cache.get_at("C1", t0 + TTL).is_none());
    }

    #[test]
    fn evicts_oldest_when_full() {
        let cache = DataKeyCache::new(2, TTL);
        let t0 = Instant::now();
        cache.insert_at(dek("C1", 1), t0);
        cache.insert_at(dek("C2", 1), t0 + Duration::from_secs(1));
        // Re-inserting an existing id never evicts another one.
        cache.insert_at(dek("C2", 2), t0 + Duration::from_secs(2));
        assert_eq!(cache.len_at(t0 + Duration::from_secs(2)), 2);
        cache.insert_at(dek("C3", 1), t0 + Duration::from_secs(3));
        let now = t0 + Duration::from_secs(3);
        assert!(cache.get_at("C1", now).is_none(), "oldest evicted");
        assert!(cache.get_at("C2", now).is_some());
        assert!(cache.get_at("C3", now).is_some());
    }

    #[test]
    fn expired_entries_free_room_before_eviction() {
        let cache = DataKeyCache::new(2, TTL);
        let t0 = Instant::now();
        cache.insert_at(dek("C1", 1), t0);
        cache.insert_at(dek("C2", 1), t0 + Duration::from_secs(30));
        // C1 has expired by now: it goes, C2 stays.
        let now = t0 + TTL + Duration::from_secs(1);
        cache.insert_at(dek("C3", 1), now);
        assert!(cache.get_at("C2", now).is_some());
        assert!(cache.get_at("C3", now).is_some());
    }

    #[test]
    fn churn_stays_bounded() {
        let cache = DataKeyCache::new(100, TTL);
        let t0 = Instant::now();
        for i in 0..10_000u64 {
            let now = t0 + Duration::from_millis(i);
            cache.insert_at(dek(&format!("C{}", i % 300), 1), now);
            if i % 7 == 0 {
                cache.invalidate(&format!("C{}", i % 300));
            }
        }
        let entries = cache.lock();
        assert!(entries.map.len() <= 100);
        assert!(entries.order.len() <= 2 * 100 + 16);
        drop(entries);
        // The most recent insertion is always there.
        assert!(
            cache
                .get_at("C99", t0 + Duration::from_millis(9_999))
                .is_some()
        );
    }

    #[test]
    fn zero_capacity_disables_caching() {
        let cache = DataKeyCache::new(0, TTL);
        let key = cache.insert(dek("C1", 1));
        assert_eq!(key.key_id(), "C1");
        assert!(cache.get("C1").is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn shared_across_threads() {
        // Room for every insertion: with less, another thread's inserts
        // could evict a key between its insertion and its read (seen on a
        // loaded 2-core CI machine).
        let cache = Arc::new(DataKeyCache::new(32, TTL));
        let handles: Vec<_> = (0..4)
            .map(|t| {
                let cache = Arc::clone(&cache);
                std::thread::spawn(move || {
                    for i in 0..8 {
                        let id = format!("C{t}-{i}");
                        cache.insert(dek(&id, 1));
                        assert!(cache.get(&id).is_some());
                    }
                })
            })
            .collect();
        for handle in handles {
            handle.join().expect("thread");
        }
        assert_eq!(cache.len(), 32);
        // Full: one more evicts the oldest.
        cache.insert(dek("C-extra", 1));
        assert_eq!(cache.len(), 32);
    }

    #[test]
    fn debug_shows_no_keys() {
        let cache = DataKeyCache::new(2, TTL);
        cache.insert(dek("C1", 1));
        let shown = format!("{cache:?}");
        assert!(shown.contains("len: 1"), "{shown}");
        assert!(!shown.contains("C1"), "{shown}");
    }
}

//! A small, bounded-lifetime cache of unwrapped DEKs.

use std::collections::HashMap;
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
pub struct DataKeyCache {
    max_entries: usize,
    ttl: Duration,
    entries: Mutex<HashMap<String, Entry>>,
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
            entries: Mutex::new(HashMap::new()),
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

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Entry>> {
        // The map stays consistent even if a holder panicked.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn is_expired(&self, entry: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(entry.inserted) >= self.ttl
    }

    fn get_at(&self, key_id: &str, now: Instant) -> Option<Arc<DataKey>> {
        let mut entries = self.lock();
        let entry = entries.get(key_id)?;
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
        entries.retain(|_, entry| !self.is_expired(entry, now));
        let key_id = key.key_id();
        if !entries.contains_key(key_id) && entries.len() >= self.max_entries {
            // O(n) scan: fine for the small caches this is meant for.
            let oldest = entries
                .iter()
                .min_by_key(|(_, entry)| entry.inserted)
                .map(|(id, _)| id.clone());
            if let Some(oldest) = oldest {
                entries.remove(&oldest);
            }
        }
        entries.insert(
            key_id.to_owned(),
            Entry {
                key: Arc::clone(&key),
                inserted: now,
            },
        );
        key
    }

    fn len_at(&self, now: Instant) -> usize {
        let mut entries = self.lock();
        entries.retain(|_, entry| !self.is_expired(entry, now));
        entries.len()
    }
}

impl fmt::Debug for DataKeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKeyCache")
            .field("max_entries", &self.max_entries)
            .field("ttl", &self.ttl)
            .field("len", &self.lock().len())
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
    fn zero_capacity_disables_caching() {
        let cache = DataKeyCache::new(0, TTL);
        let key = cache.insert(dek("C1", 1));
        assert_eq!(key.key_id(), "C1");
        assert!(cache.get("C1").is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn shared_across_threads() {
        let cache = Arc::new(DataKeyCache::new(16, TTL));
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
        assert_eq!(cache.len(), 16);
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

//! Restart: clients, keys and records read back from the store (three
//! scans at once, decoded, decrypted and standardised on every core), then
//! the index, the cannot-links and the review queue.

use std::sync::Arc;

use c360_core::Record;
use c360_crypto::{DataKey, FieldContext, WrappedKey};
use c360_matching::{Prepared, ValueFlag};
use c360_storage::scan_all;
use rustc_hash::{FxHashMap, FxHashSet};

use super::{Resolver, Slot, State, pair, state_owns_key};
use crate::stored::{self, *};
use crate::{Result, convert};

/// A record read back from the store: metadata, plaintext, source tag,
/// standardised form and the flags of its unusable values.
type Loaded = (StoredRecord, Record, [u8; 16], Prepared, Vec<ValueFlag>);

impl Resolver {
    /// Loads clients, keys and records from the store into memory.
    pub(super) fn load(&self) -> Result<()> {
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
            scan_all(self.store.as_ref(), CLIENTS, b"")?
                .par_iter()
                .map(|(_, v)| stored::decode(v, "client"))
                .collect()
        };
        let read_keys = || -> Result<FxHashMap<String, Arc<DataKey>>> {
            scan_all(self.store.as_ref(), KEYS, b"")?
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
            scan_all(self.store.as_ref(), RECORDS, b"")?
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
                let record = convert::decode_record(&plain)?;
                let tag = self.source_tag(&record);
                let (prepared, flags) = self.preparer.prepare_flagged(&record);
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
        for (k, _) in scan_all(self.store.as_ref(), CONSTRAINTS, b"")? {
            let text = String::from_utf8_lossy(&k).into_owned();
            let Some((a, b)) = text.split_once('|') else {
                continue;
            };
            if let (Some(&x), Some(&y)) = (state.by_record.get(a), state.by_record.get(b)) {
                state.cannot_link.insert(pair(x, y));
            }
        }
        for (_, v) in scan_all(self.store.as_ref(), REVIEWS, b"")? {
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
}

impl State {
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
}

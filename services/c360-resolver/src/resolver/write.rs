//! Writing: records resolved one by one in a write (each seeing the ones
//! before it), stored under their client's data key, merges of clients a
//! record bridges, and the slots of the in-memory state.

use std::sync::Arc;

use c360_core::Record;
use c360_crypto::{DataKey, FieldContext};
use c360_matching::{Prepared, ValueFlag};

use super::{KEYS_AHEAD, Resolver, Slot, State, Tx, key_of, state_owns_key};
use crate::answers::{Decision, Event, EventKind, Incoming, Resolution};
use crate::number::ClientNumber;
use crate::persist::Pending;
use crate::stored::{self, *};
use crate::validate::validate;
use crate::{Error, Result, convert, quality};

impl Resolver {
    /// Resolves a record; stores it unless `dry_run`. A value that cannot
    /// be standardised is kept and flagged.
    pub fn resolve(&self, record: Record, dry_run: bool) -> Result<Resolution> {
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
    pub(super) fn prepare(
        &self,
        incoming: &Incoming,
        stored: bool,
    ) -> Result<(Prepared, Vec<ValueFlag>)> {
        validate(&incoming.record, stored)?;
        let (prepared, flags) = self.preparer.prepare_flagged(&incoming.record);
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
        admit: &(dyn Fn(&Record) -> Result<()> + Sync),
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

    pub(super) fn apply_resolve(
        &self,
        state: &mut State,
        tx: &mut Tx,
        record: Record,
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
            tx.events.push(Event::new(
                EventKind::RecordUpdated,
                client,
                &state.slots[slot as usize].record_id,
                now,
            ));
            return Ok(Resolution {
                client: Some(ClientNumber::from_sequence(state.resolve_alias(client))),
                decision: Decision::Matched,
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
            tx.events.push(Event::new(
                EventKind::ClientCreated,
                client,
                &record_id,
                now,
            ));
        }
        tx.events.push(Event::new(
            EventKind::RecordAttached,
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

    pub(super) fn create_client(&self, state: &mut State, tx: &mut Tx, now: i64) -> Result<u64> {
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
    pub(super) fn data_key(&self, state: &State, key_id: &str) -> Result<Arc<DataKey>> {
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

    pub(super) fn persist_record(&self, state: &mut State, tx: &mut Tx, slot: u32) -> Result<()> {
        let s = &state.slots[slot as usize];
        let key = self.data_key(state, &s.key_id)?;
        let s = &state.slots[slot as usize];
        let ctx = FieldContext {
            client: &s.key_id,
            record: &s.record_id,
            field: "record",
        };
        let payload = key.encrypt(&ctx, &convert::encode_record(&s.record))?;
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
    pub(super) fn merge_clients(
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
        let mut e = Event::new(EventKind::ClientsMerged, survivor, "", now);
        e.related_clients = absorbed
            .iter()
            .map(|&a| ClientNumber::from_sequence(a))
            .collect();
        tx.events.push(e);
        Ok((survivor, absorbed))
    }
}

impl State {
    /// Adds a record to the matcher, the lookups and the index.
    pub(super) fn insert_slot(&mut self, slot: Slot, prepared: Prepared) -> u32 {
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

    pub(super) fn update_slot(
        &mut self,
        index: u32,
        record: Record,
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

    pub(super) fn keys_cache_insert(&mut self, key_id: String, key: DataKey) {
        self.keys.insert(key_id, Arc::new(key));
    }
}

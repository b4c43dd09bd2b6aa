//! Steward operations: merging clients, splitting records out, deciding a
//! review task, and erasure (asked by the vault). Each is one write: the
//! in-memory change, its batch and events committed together.

use super::{Resolver, State, Tx, key_of, pair, parse_number, state_owns_key};
use crate::answers::{Event, EventKind};
use crate::number::ClientNumber;
use crate::stored::{self, *};
use crate::{Error, Result};

impl Resolver {
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
        self.commit_and_wait(state, tx)?;
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
        let (seq, client) = state.active_client(n, number)?;
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
        let mut e = Event::new(EventKind::ClientSplit, seq, "", now);
        e.related_clients = vec![ClientNumber::from_sequence(new)];
        e.record_ids = record_ids.to_vec();
        tx.events.push(e);
        self.commit_and_wait(state, tx)?;
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
        let (seq, client) = state.active_client(n, number)?;
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
        let mut e = Event::new(EventKind::ClientErased, seq, "", now);
        e.related_clients = client
            .aliases
            .iter()
            .map(|&a| ClientNumber::from_sequence(a))
            .collect();
        e.record_ids = client.members.clone();
        tx.events.push(e);
        self.commit_and_wait(state, tx)?;
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
        self.commit_and_wait(state, tx)?;
        Ok(ClientNumber::from_sequence(result))
    }
}

impl State {
    /// The active client a number resolves to (its survivor's sequence and
    /// state); an erased or unknown one is NOT_FOUND.
    fn active_client(&self, n: ClientNumber, number: &str) -> Result<(u64, ClientState)> {
        let seq = self.resolve_alias(n.sequence());
        let client = self
            .clients
            .get(&seq)
            .filter(|c| c.status == ClientStatus::Active)
            .ok_or_else(|| Error::NotFound(format!("client {number}")))?
            .clone();
        Ok((seq, client))
    }
}

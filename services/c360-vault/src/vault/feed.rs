//! The identity feed: the resolver's creations, merges, splits and
//! erasures, applied with the feed checkpoint in one write.

use c360_rpc::{EventKind, FeedEvent};

use super::*;

impl Vault {
    /// The offset of the last feed event applied.
    pub fn applied(&self) -> u64 {
        self.inner.feed_offset.load(Ordering::SeqCst)
    }

    /// Waits (up to `limit`) until the feed is applied to `offset`.
    pub async fn caught_up(&self, offset: u64, limit: Duration) -> bool {
        let give_up = tokio::time::Instant::now() + limit;
        while self.applied() < offset {
            if tokio::time::Instant::now() >= give_up {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Applies resolver events (one durable write with the checkpoint).
    pub fn apply_feed(&self, events: &[FeedEvent<'_>]) -> Result<()> {
        use EventKind as T;
        self.write(|tx| {
            for e in events {
                if e.offset <= tx.heads.feed_offset {
                    continue;
                }
                match e.kind {
                    // A client created or a record attached: the record is
                    // the number's.
                    T::ClientCreated | T::RecordAttached => {
                        if !e.record_id.is_empty() && !e.client_number.is_empty() {
                            note_record(tx, e.client_number, e.record_id)?;
                        }
                    }
                    T::ClientsMerged => self.apply_merge(tx, e)?,
                    T::ClientSplit => self.apply_split(tx, e)?,
                    T::ClientErased => {
                        let survivor = survivor_of(tx, e.client_number)?;
                        if !is_erased(tx, &survivor)? {
                            self.erase_in(tx, &survivor, "erased by the resolver", "resolver")?;
                        }
                        tx.delete(META, [PENDING, survivor.as_bytes()].concat());
                    }
                    // A record updated: only the offset advances.
                    T::RecordUpdated | T::Unknown => {}
                }
                tx.heads.feed_offset = e.offset;
            }
            let offset = tx.heads.feed_offset;
            tx.put(META, FEED_OFFSET.to_vec(), offset.to_be_bytes().to_vec());
            Ok(())
        })
    }

    pub(super) fn apply_merge(&self, tx: &mut PendingWrite<'_>, e: &FeedEvent<'_>) -> Result<()> {
        let survivor = survivor_of(tx, e.client_number)?;
        let mut members: BTreeSet<String> = members_of(tx, &survivor)?.into_iter().collect();
        let mut absorbed = Vec::new();
        for a in e.related_clients {
            let a_survivor = survivor_of(tx, a)?;
            if a_survivor == survivor {
                continue;
            }
            for m in members_of(tx, &a_survivor)? {
                tx.put(
                    IDENTITY,
                    [b"a/", m.as_bytes()].concat(),
                    survivor.clone().into_bytes(),
                );
                members.insert(m);
            }
            tx.delete(IDENTITY, [b"m/", a_survivor.as_bytes()].concat());
            absorbed.push(a_survivor);
        }
        if absorbed.is_empty() {
            return Ok(());
        }
        set_members(tx, &survivor, &members);
        append_identity_entry(tx, Kind::Merge, &survivor, absorbed, e);
        Ok(())
    }

    /// Splits follow [`crate::consent`]: each consent entry goes to the
    /// side holding the records it was recorded for, numbers whose own
    /// records all left name the new client, the moved records become the
    /// new number's own.
    pub(super) fn apply_split(&self, tx: &mut PendingWrite<'_>, e: &FeedEvent<'_>) -> Result<()> {
        let Some(new) = e.related_clients.first() else {
            return Ok(());
        };
        let original = survivor_of(tx, e.client_number)?;
        let moving: BTreeSet<String> = e.record_ids.iter().cloned().collect();
        let mut members = Vec::new();
        let mut filed = Vec::new();
        for number in members_of(tx, &original)? {
            for seq in filed_under(tx, &number)? {
                let entry = entry_at(tx, seq)?;
                if entry.kind == Kind::Consent {
                    filed.push(consent::Filed {
                        under: number.clone(),
                        sequence: seq,
                        records: entry.record_ids,
                        restrictive: entry.decision.is_restrictive(),
                    });
                }
            }
            members.push(consent::Member {
                own: own_records(tx, &number)?,
                number,
            });
        }
        let plan = consent::plan_split(&original, new, &moving, &members, &filed);
        for (number, seq) in &plan.unfile {
            tx.delete(CONSENT_IDX, join(&[number.as_bytes(), &seq_key(*seq)]));
        }
        for (number, seq) in &plan.file {
            tx.put(
                CONSENT_IDX,
                join(&[number.as_bytes(), &seq_key(*seq)]),
                Vec::new(),
            );
        }
        for (owner, record) in &plan.rehome {
            tx.delete(
                IDENTITY,
                join(&[&[b"n/", owner.as_bytes()].concat(), record.as_bytes()]),
            );
            tx.put(
                IDENTITY,
                join(&[&[b"n/", new.as_bytes()].concat(), record.as_bytes()]),
                Vec::new(),
            );
        }
        set_members(tx, &original, &plan.kept_numbers);
        let mut new_members: BTreeSet<String> = members_of(tx, new)?.into_iter().collect();
        new_members.insert(new.clone());
        for m in &plan.moved_numbers {
            tx.put(
                IDENTITY,
                [b"a/", m.as_bytes()].concat(),
                new.clone().into_bytes(),
            );
            new_members.insert(m.clone());
        }
        set_members(tx, new, &new_members);
        let related = std::iter::once(new.clone())
            .chain(plan.moved_numbers)
            .collect();
        append_identity_entry(tx, Kind::Split, &original, related, e);
        Ok(())
    }
}

/// The ledger entry of a merge or split the feed brought.
fn append_identity_entry(
    tx: &mut PendingWrite<'_>,
    kind: Kind,
    client: &str,
    related: Vec<String>,
    e: &FeedEvent<'_>,
) {
    let mut entry = Entry::blank(kind, client);
    entry.related_clients = related;
    entry.actor = "resolver".into();
    entry.evidence_ref = format!("event {}", e.offset);
    entry.captured_at_ms = e.at_ms;
    entry.recorded_at_ms = now_ms();
    tx.append(entry);
}

pub(super) fn note_record(tx: &mut PendingWrite<'_>, number: &str, record: &str) -> Result<()> {
    let rkey = [b"r/", record.as_bytes()].concat();
    if tx.get(IDENTITY, &rkey)?.is_some() {
        return Ok(());
    }
    tx.put(IDENTITY, rkey, number.as_bytes().to_vec());
    tx.put(
        IDENTITY,
        join(&[&[b"n/", number.as_bytes()].concat(), record.as_bytes()]),
        Vec::new(),
    );
    Ok(())
}

pub(super) fn set_members(tx: &mut PendingWrite<'_>, survivor: &str, members: &BTreeSet<String>) {
    let key = [b"m/", survivor.as_bytes()].concat();
    if members.len() <= 1 {
        tx.delete(IDENTITY, key);
    } else {
        let list: Vec<&str> = members.iter().map(String::as_str).collect();
        tx.put(IDENTITY, key, list.join("\n").into_bytes());
    }
}

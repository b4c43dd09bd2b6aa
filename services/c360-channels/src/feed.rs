//! Follows identity through the resolver's event feed: records attached or
//! updated bring their phones and e-mails as contact points (read through
//! the [`ResolverPort`], since events carry no personal data), merges
//! unite clients, splits separate them, erasures remove them. The offset
//! of the last applied event is committed in the same batch as the
//! effects. Events arrive as `c360_rpc::FeedEvent`s (the edge, `peers.rs`,
//! reads them off the wire).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use c360_rpc::{EventKind, FeedEvent};

use crate::model::{Channel, Profile, Tag};
use crate::ports::{ClientRecords, ResolverPort, ToSeal};
use crate::registry;
use crate::service::{Service, now_ms};
use crate::value;
use crate::{Error, Result};

/// The feed handler of the channels service (`c360_rpc::FeedHandler`, at
/// the edge).
#[derive(Debug, Clone)]
pub struct ChannelsFeed {
    pub(crate) service: Arc<Service>,
}

/// A value read from a resolver record, ready to become a point.
struct FeedPoint {
    channel: Channel,
    tag: Tag,
    masked: String,
    calling_code: Option<u16>,
    /// Set when the client did not have it: a reserved id and the sealed value.
    new: Option<(String, Vec<u8>, String)>,
}

struct FeedRecord {
    source: String,
    points: Vec<FeedPoint>,
}

/// A record attached or updated: its values may be new contact points.
fn is_record_change(e: &FeedEvent<'_>) -> bool {
    matches!(e.kind, EventKind::RecordAttached | EventKind::RecordUpdated)
}

fn profile_of(service: &Service, c: &ClientRecords) -> Profile {
    let has = |f: &str| !c.golden(f).trim().is_empty();
    let mut sources: Vec<String> = c.records.iter().map(|r| r.source_system.clone()).collect();
    sources.sort();
    sources.dedup();
    Profile {
        identity: has("surname")
            && has("given_name")
            && (has("date_of_birth") || has("national_id")),
        transactions: sources
            .iter()
            .any(|s| service.config.transaction_sources.contains(s)),
        region: c.golden("region").trim().to_string(),
        sources,
    }
}

impl ChannelsFeed {
    /// Applies `events` (in feed order, from the offset after the last
    /// applied) in one durable batch with the offset.
    pub async fn apply_async(&self, events: &[FeedEvent<'_>]) -> Result<()> {
        let service = &self.service;
        let Some(last) = events.last() else {
            return Ok(());
        };
        // 1. Read the clients whose records arrived or changed.
        let mut fetched: HashMap<String, Option<ClientRecords>> = HashMap::new();
        for e in events {
            let wants = is_record_change(e);
            if wants && !fetched.contains_key(e.client_number) {
                let c = self.resolver()?.client(e.client_number).await?;
                fetched.insert(e.client_number.to_string(), c);
            }
        }
        // 2. Normalise their values; seal those the client does not have.
        let mut records: HashMap<String, FeedRecord> = HashMap::new();
        let mut to_seal: Vec<ToSeal> = Vec::new();
        let mut seal_slots: Vec<(String, usize)> = Vec::new();
        let mut seen: HashSet<(String, Channel, Tag)> = HashSet::new();
        for e in events {
            let wants = is_record_change(e);
            let Some(Some(c)) = fetched.get(e.client_number).filter(|_| wants) else {
                continue;
            };
            let Some(member) = c.records.iter().find(|r| r.record_id == e.record_id) else {
                continue;
            };
            let Some(rec) = &member.values else { continue };
            let (_, snapshot) = service.registry.snapshot(e.client_number);
            // Values the resolver flagged as unusable are never contact
            // points (the rule below is the same one; the flags also cover
            // a resolver configured with another default country).
            let mut values: Vec<(Channel, &str)> = Vec::new();
            for (i, phone) in rec.phones.iter().enumerate() {
                if member.flagged("phone", i) {
                    continue;
                }
                for ch in &service.config.feed_phone_channels {
                    values.push((*ch, phone.as_str()));
                }
            }
            for (i, email) in rec.emails.iter().enumerate() {
                if !member.flagged("email", i) {
                    values.push((Channel::Email, email.as_str()));
                }
            }
            let country = c360_standardise::places::country_code(&rec.country);
            let mut points = Vec::new();
            for (channel, raw) in values {
                // A value the standardiser rejects is skipped (the resolver
                // keeps the record; a bad phone is not a contact point).
                let Ok(n) = value::normalise(
                    &service.phones,
                    service.registry.indexer(),
                    channel,
                    raw,
                    country,
                ) else {
                    continue;
                };
                let known = snapshot
                    .points
                    .iter()
                    .any(|p| p.channel == channel && p.tag == n.tag);
                let first_in_batch = seen.insert((e.client_number.to_string(), channel, n.tag));
                let new = if !known && first_in_batch {
                    let id = service.registry.reserve_point_id();
                    seal_slots.push((e.record_id.to_string(), points.len()));
                    to_seal.push(ToSeal {
                        client_number: e.client_number.to_string(),
                        record_id: id.clone(),
                        field: registry::field_name(channel),
                        value: n.canonical.clone(),
                    });
                    Some((id, Vec::new(), e.client_number.to_string()))
                } else {
                    None
                };
                points.push(FeedPoint {
                    channel,
                    tag: n.tag,
                    masked: n.masked,
                    calling_code: n.calling_code,
                    new,
                });
            }
            records.insert(
                e.record_id.to_string(),
                FeedRecord {
                    source: member.source_system.clone(),
                    points,
                },
            );
        }
        let sealed = service.seal(to_seal).await?;
        for ((record_id, i), ct) in seal_slots.into_iter().zip(sealed) {
            if let Some(p) = records
                .get_mut(&record_id)
                .and_then(|r| r.points.get_mut(i))
                && let Some(new) = &mut p.new
            {
                new.1 = ct;
            }
        }
        let profiles: HashMap<String, Profile> = fetched
            .iter()
            .filter_map(|(n, c)| c.as_ref().map(|c| (n.clone(), profile_of(service, c))))
            .collect();

        // 3. Apply in feed order, in one batch with the offset.
        let now = now_ms();
        let expected = service.registry.applied() + 1;
        if events[0].offset != expected {
            return Err(Error::Internal(format!(
                "feed gap: expected offset {expected}, got {}",
                events[0].offset
            )));
        }
        service.registry.write(|tx| {
            for e in events {
                match e.kind {
                    EventKind::RecordAttached | EventKind::RecordUpdated => {
                        let Some(rec) = records.remove(e.record_id) else {
                            continue;
                        };
                        let target = tx.resolve(e.client_number);
                        let mut state = tx.get_or_new(&target);
                        for p in rec.points {
                            registry::upsert_point(
                                &mut state,
                                p.channel,
                                p.tag,
                                &p.masked,
                                p.calling_code,
                                p.new,
                                false,
                                &rec.source,
                                Some(e.record_id),
                                now,
                            );
                        }
                        if let Some(profile) = profiles.get(e.client_number) {
                            state.profile = profile.clone();
                        }
                        tx.put(state);
                    }
                    EventKind::ClientsMerged => {
                        let survivor = tx.resolve(e.client_number);
                        registry::merge_into(tx, &survivor, e.related_clients, now);
                    }
                    EventKind::ClientSplit => {
                        if let Some(new) = e.related_clients.first() {
                            let original = tx.resolve(e.client_number);
                            registry::split(tx, &original, new, e.record_ids);
                        }
                    }
                    EventKind::ClientErased => {
                        registry::erase(tx, e.client_number, e.related_clients);
                    }
                    EventKind::ClientCreated | EventKind::Unknown => {}
                }
            }
            tx.set_applied(last.offset);
            Ok(())
        })
    }

    fn resolver(&self) -> Result<&dyn ResolverPort> {
        self.service
            .resolver
            .as_deref()
            .ok_or_else(|| Error::Unavailable("the resolver is not configured".into()))
    }
}

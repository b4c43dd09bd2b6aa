//! Reads: a client and its golden record, what numbers are now, pair
//! explanations, the review queue and the quality counts. Every read waits
//! until what it saw is durable.

use super::{Resolver, Slot, State, parse_number};
use crate::answers::{
    Client, Explained, ExplainedPair, FlaggedRecord, MAX_LOOKUP, Member, NumberState, ReviewTask,
};
use crate::number::ClientNumber;
use crate::quality::QualityCounts;
use crate::stored::*;
use crate::{Error, Result};
use c360_matching::Explanation;

impl Resolver {
    /// Open review tasks after `after` (a task id), at most `limit`.
    pub fn review_tasks(&self, after: u64, limit: usize) -> Result<(Vec<ReviewTask>, u64)> {
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
                        state.by_record.get(id).map(|&s| {
                            ClientNumber::from_sequence(
                                state.resolve_alias(state.slots[s as usize].client),
                            )
                        })
                    };
                    ReviewTask {
                        task_id: r.task_id,
                        record_a: r.record_a.clone(),
                        record_b: r.record_b.clone(),
                        client_a: client_of(&r.record_a),
                        client_b: client_of(&r.record_b),
                        probability: r.probability,
                        created_ms: r.created_ms,
                    }
                })
                .collect();
            Ok((tasks, total))
        })
    }

    /// The client a number resolves to, with the redirect flag.
    pub fn get_client(&self, number: &str) -> Result<Client> {
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
            Ok(Client {
                number: ClientNumber::from_sequence(seq),
                requested: ClientNumber::from_sequence(n.sequence()),
                golden,
                members: members
                    .iter()
                    .map(|s| Member {
                        record_id: s.record_id.clone(),
                        record: s.record.clone(),
                        created_ms: s.created_ms,
                        updated_ms: s.updated_ms,
                        flags: s.flags.to_vec(),
                    })
                    .collect(),
                aliases: client
                    .aliases
                    .iter()
                    .map(|&a| ClientNumber::from_sequence(a))
                    .collect(),
                group_ids: groups,
                lineage: client.lineage.clone(),
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
                pairs: vec![ExplainedPair::new(a, b, state.explain(x, y))],
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
                    out.push(ExplainedPair::new(ra, rb, state.explain(x, y)));
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

impl State {
    fn explain(&self, a: u32, b: u32) -> Explanation {
        self.matcher.explain(a, b)
    }

    /// The records among `slots` that hold flagged values, with their flags.
    fn flagged_records(&self, slots: &[u32]) -> Vec<FlaggedRecord> {
        slots
            .iter()
            .map(|&s| &self.slots[s as usize])
            .filter(|s| !s.flags.is_empty())
            .map(|s| FlaggedRecord {
                record_id: s.record_id.clone(),
                flags: s.flags.to_vec(),
            })
            .collect()
    }
}

impl ExplainedPair {
    fn new(a: &str, b: &str, explanation: Explanation) -> Self {
        ExplainedPair {
            record_a: a.to_string(),
            record_b: b.to_string(),
            explanation,
        }
    }
}

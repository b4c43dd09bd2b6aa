//! Between the wire (prost) and the domain's types: records, answers,
//! events. The store keeps a record's payload and the events in their wire
//! encoding, so their codecs live here too ([`encode_record`],
//! [`decode_record`], [`encode_event`]): the domain hands bytes to the
//! store and never names a generated type.

use c360_core::Record;
use c360_matching::{Explanation, PairDecision, ValueFlag};
use c360_proto::common::v1 as pb;
use c360_proto::resolver::v1 as api;
use prost::Message;

use crate::answers::{
    Candidate, Client, Decision, Event, EventKind, Explained, ExplainedPair, FlaggedRecord, Member,
    Resolution, ReviewTask,
};
use crate::golden::GoldenValue;
use crate::number::ClientNumber;
use crate::stored::{Lineage, LineageKind};
use crate::{Error, Result};

pub fn to_core(r: &pb::Record) -> Record {
    Record {
        record_id: r.source_record_id.clone(),
        source_system: r.source_system.clone(),
        given_name: r.given_name.clone(),
        middle_name: r.middle_name.clone(),
        surname: r.surname.clone(),
        full_name: r.full_name.clone(),
        sex: r.sex.clone(),
        date_of_birth: r.date_of_birth.clone(),
        national_id: r.national_id.clone(),
        phones: r.phone.clone(),
        emails: r.email.clone(),
        address: r.address.clone(),
        locality: r.locality.clone(),
        postcode: r.postcode.clone(),
        region: r.region.clone(),
        country: r.country.clone(),
        group_id: r.group_id.clone(),
    }
}

/// The wire form of a canonical record (its `record_id` becomes the
/// `source_record_id`).
pub fn from_core(r: &Record) -> pb::Record {
    pb::Record {
        source_system: r.source_system.clone(),
        source_record_id: r.record_id.clone(),
        given_name: r.given_name.clone(),
        middle_name: r.middle_name.clone(),
        surname: r.surname.clone(),
        full_name: r.full_name.clone(),
        sex: r.sex.clone(),
        date_of_birth: r.date_of_birth.clone(),
        national_id: r.national_id.clone(),
        phone: r.phones.clone(),
        email: r.emails.clone(),
        address: r.address.clone(),
        locality: r.locality.clone(),
        postcode: r.postcode.clone(),
        region: r.region.clone(),
        country: r.country.clone(),
        group_id: r.group_id.clone(),
    }
}

/// The wire form of a flag.
pub fn flag_to_proto(flag: &ValueFlag) -> pb::ValueFlag {
    pb::ValueFlag {
        field: flag.field.name().to_string(),
        index: u32::from(flag.index),
        reason: flag.reason.code().to_string(),
        description: flag.reason.description().to_string(),
    }
}

pub fn flags_to_proto(flags: &[ValueFlag]) -> Vec<pb::ValueFlag> {
    flags.iter().map(flag_to_proto).collect()
}

/// A record's stored payload (the wire encoding of `c360.common.v1.Record`,
/// as every store written so far holds it).
pub fn encode_record(r: &Record) -> Vec<u8> {
    from_core(r).encode_to_vec()
}

/// A record read back from its stored payload.
pub fn decode_record(bytes: &[u8]) -> Result<Record> {
    pb::Record::decode(bytes)
        .map(|r| to_core(&r))
        .map_err(|e| Error::Internal(format!("corrupt record payload: {e}")))
}

fn numbers(numbers: &[ClientNumber]) -> Vec<String> {
    numbers.iter().map(ToString::to_string).collect()
}

fn event_type(kind: EventKind) -> api::EventType {
    match kind {
        EventKind::ClientCreated => api::EventType::ClientCreated,
        EventKind::RecordAttached => api::EventType::RecordAttached,
        EventKind::RecordUpdated => api::EventType::RecordUpdated,
        EventKind::ClientsMerged => api::EventType::ClientsMerged,
        EventKind::ClientSplit => api::EventType::ClientSplit,
        EventKind::ClientErased => api::EventType::ClientErased,
    }
}

/// The wire form of an event (offset 0: the event log gives it).
pub fn event_to_proto(e: &Event) -> api::Event {
    api::Event {
        offset: 0,
        r#type: event_type(e.kind) as i32,
        client_number: e.client.to_string(),
        record_id: e.record_id.clone(),
        related_clients: numbers(&e.related_clients),
        record_ids: e.record_ids.clone(),
        at_unix_ms: e.at_ms,
    }
}

/// An event as the event log stores it.
pub fn encode_event(e: &Event) -> Vec<u8> {
    event_to_proto(e).encode_to_vec()
}

pub fn decision_to_proto(d: Decision) -> api::Decision {
    match d {
        Decision::Matched => api::Decision::Matched,
        Decision::New => api::Decision::New,
        Decision::Review => api::Decision::Review,
    }
}

pub fn candidate_to_proto(c: &Candidate) -> api::Candidate {
    api::Candidate {
        client_number: c.client.to_string(),
        probability: c.probability,
        excluded_by: c.excluded_by.unwrap_or_default().to_string(),
    }
}

/// The answer to `Resolve` (and one result of `Ingest`).
pub fn resolution_to_proto(r: Resolution, model_version: &str) -> api::ResolveResponse {
    api::ResolveResponse {
        flags: flags_to_proto(&r.flags),
        client_number: r.client.map(|c| c.to_string()).unwrap_or_default(),
        decision: decision_to_proto(r.decision) as i32,
        confidence: r.confidence,
        candidates: r.candidates.iter().map(candidate_to_proto).collect(),
        record_id: r.record_id,
        updated: r.updated,
        model_version: model_version.to_string(),
    }
}

fn golden_to_proto(v: &GoldenValue) -> api::FieldValue {
    api::FieldValue {
        field: v.field.to_string(),
        value: v.value.clone(),
        record_id: v.record_id.clone(),
        rule: v.rule.to_string(),
    }
}

fn member_to_proto(m: &Member) -> api::MemberRecord {
    api::MemberRecord {
        record_id: m.record_id.clone(),
        source_system: m.record.source_system.clone(),
        source_record_id: m.record.record_id.clone(),
        record: Some(from_core(&m.record)),
        created_at_unix_ms: m.created_ms,
        updated_at_unix_ms: m.updated_ms,
        flags: flags_to_proto(&m.flags),
    }
}

pub fn lineage_to_proto(l: &Lineage) -> api::LineageEntry {
    use api::lineage_entry::Kind;
    api::LineageEntry {
        kind: match l.kind {
            LineageKind::Created => Kind::Created,
            LineageKind::Merged => Kind::Merged,
            LineageKind::Split => Kind::Split,
            LineageKind::Erased => Kind::Erased,
        } as i32,
        clients: l
            .clients
            .iter()
            .map(|&c| ClientNumber::from_sequence(c).to_string())
            .collect(),
        record_ids: l.record_ids.clone(),
        actor: l.actor.clone(),
        reason: l.reason.clone(),
        at_unix_ms: l.at_ms,
        model_version: l.model_version.clone(),
    }
}

/// A client as the resolver holds it, every value in clear: the edge
/// discloses it under the vault's policy (`crate::disclose`) before it
/// leaves.
pub fn client_to_proto(c: &Client) -> api::GetClientResponse {
    api::GetClientResponse {
        client_number: c.number.to_string(),
        redirected: c.redirected(),
        requested_number: c.requested.to_string(),
        golden: c.golden.iter().map(golden_to_proto).collect(),
        records: c.members.iter().map(member_to_proto).collect(),
        aliases: numbers(&c.aliases),
        group_ids: c.group_ids.clone(),
        lineage: c.lineage.iter().map(lineage_to_proto).collect(),
        // Decided at the edge, under the vault's policy.
        masked_fields: Vec::new(),
        withheld_fields: Vec::new(),
        access_log_sequence: 0,
    }
}

pub fn review_task_to_proto(t: &ReviewTask) -> api::ReviewTask {
    let client = |c: Option<ClientNumber>| c.map(|c| c.to_string()).unwrap_or_default();
    api::ReviewTask {
        task_id: t.task_id.to_string(),
        record_a: t.record_a.clone(),
        record_b: t.record_b.clone(),
        client_a: client(t.client_a),
        client_b: client(t.client_b),
        probability: t.probability,
        created_at_unix_ms: t.created_ms,
    }
}

fn explanation_to_proto(a: &str, b: &str, e: &Explanation) -> api::PairExplanation {
    api::PairExplanation {
        record_a: a.to_string(),
        record_b: b.to_string(),
        fields: e
            .fields
            .iter()
            .map(|f| api::FieldComparison {
                field: f.field.name().to_string(),
                level: f.level.to_string(),
                weight: f.weight,
                term_frequency: f.term_frequency.unwrap_or(0.0),
            })
            .collect(),
        prior: e.prior,
        log_odds: e.log_odds,
        probability: e.probability,
        names_swapped: e.names_swapped,
        veto: e.veto.map(|v| v.name().to_string()).unwrap_or_default(),
        decision: match e.decision {
            PairDecision::Link => "link",
            PairDecision::Review => "review",
            PairDecision::Distinct => "distinct",
        }
        .to_string(),
        model_version: e.model_version.clone(),
        household_context: e.household,
    }
}

fn flagged_record_to_proto(r: &FlaggedRecord) -> api::FlaggedRecord {
    api::FlaggedRecord {
        record_id: r.record_id.clone(),
        flags: flags_to_proto(&r.flags),
    }
}

pub fn explained_to_proto(e: &Explained) -> api::ExplainResponse {
    api::ExplainResponse {
        pairs: e
            .pairs
            .iter()
            .map(|p: &ExplainedPair| explanation_to_proto(&p.record_a, &p.record_b, &p.explanation))
            .collect(),
        flagged_records: e
            .flagged_records
            .iter()
            .map(flagged_record_to_proto)
            .collect(),
    }
}

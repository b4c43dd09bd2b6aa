//! The only place the domain's types meet the generated ones (beside the
//! edges that use them, `grpc.rs` and `peers.rs`): channels' enums and the
//! API's numbers, the vault's consent entries, the resolver's clients (its
//! events are read as `c360_rpc::FeedEvent`s).

use c360_proto::channels::v1 as api;
use c360_proto::resolver::v1 as rapi;
use c360_proto::vault::v1 as vault;

use crate::model::{Channel, Outcome, PointStatus};
use crate::ports::{ClientRecords, ConsentDecision, ConsentEntry, MemberRecord, RecordValues};

impl Channel {
    pub fn to_proto(self) -> i32 {
        use api::Channel as P;
        (match self {
            Channel::Sms => P::Sms,
            Channel::Voice => P::Voice,
            Channel::Email => P::Email,
            Channel::Whatsapp => P::Whatsapp,
            Channel::Push => P::Push,
            Channel::Postal => P::Postal,
            Channel::CallCentre => P::CallCentre,
        }) as i32
    }

    pub fn from_proto(value: i32) -> Option<Channel> {
        use api::Channel as P;
        Some(match P::try_from(value).ok()? {
            P::Unspecified => return None,
            P::Sms => Channel::Sms,
            P::Voice => Channel::Voice,
            P::Email => Channel::Email,
            P::Whatsapp => Channel::Whatsapp,
            P::Push => Channel::Push,
            P::Postal => Channel::Postal,
            P::CallCentre => Channel::CallCentre,
        })
    }
}

impl PointStatus {
    pub fn to_proto(self) -> i32 {
        use api::ContactPointStatus as P;
        (match self {
            PointStatus::Active => P::Active,
            PointStatus::Bounced => P::Bounced,
            PointStatus::Invalid => P::Invalid,
            PointStatus::Revoked => P::Revoked,
        }) as i32
    }

    pub fn from_proto(value: i32) -> Option<PointStatus> {
        use api::ContactPointStatus as P;
        Some(match P::try_from(value).ok()? {
            P::Unspecified => return None,
            P::Active => PointStatus::Active,
            P::Bounced => PointStatus::Bounced,
            P::Invalid => PointStatus::Invalid,
            P::Revoked => PointStatus::Revoked,
        })
    }
}

impl Outcome {
    pub fn to_proto(self) -> i32 {
        use api::Outcome as P;
        (match self {
            Outcome::Delivered => P::Delivered,
            Outcome::Failed => P::Failed,
            Outcome::Bounced => P::Bounced,
            Outcome::OptedOut => P::OptedOut,
        }) as i32
    }

    pub fn from_proto(value: i32) -> Option<Outcome> {
        use api::Outcome as P;
        Some(match P::try_from(value).ok()? {
            P::Unspecified => return None,
            P::Delivered => Outcome::Delivered,
            P::Failed => Outcome::Failed,
            P::Bounced => Outcome::Bounced,
            P::OptedOut => Outcome::OptedOut,
        })
    }
}

/// A vault ledger entry as the vault's API sends it.
pub fn entry_from_api(e: vault::ConsentEntry) -> ConsentEntry {
    use vault::ConsentDecision as D;
    ConsentEntry {
        decision: match e.decision() {
            D::Unspecified => ConsentDecision::Unspecified,
            D::Granted => ConsentDecision::Granted,
            D::Denied => ConsentDecision::Denied,
            D::Withdrawn => ConsentDecision::Withdrawn,
        },
        lawful_basis: u8::try_from(e.lawful_basis).unwrap_or_default(),
        sequence: e.sequence,
        client_number: e.client_number,
        purpose: e.purpose,
        channel: e.channel,
        evidence_ref: e.evidence_ref,
        source_system: e.source_system,
        actor: e.actor,
        notice_version: e.notice_version,
        captured_at_ms: e.captured_at_unix_ms,
        expires_at_ms: e.expires_at_unix_ms,
        recorded_at_ms: e.recorded_at_unix_ms,
        kind: e.kind,
        related_clients: e.related_clients,
        prev_hash: e.prev_hash,
        hash: e.hash,
        record_ids: e.record_ids,
    }
}

/// A ledger entry as receipts and RecordContact answers carry it.
pub fn entry_to_api(e: ConsentEntry) -> vault::ConsentEntry {
    use vault::ConsentDecision as D;
    vault::ConsentEntry {
        decision: (match e.decision {
            ConsentDecision::Unspecified => D::Unspecified,
            ConsentDecision::Granted => D::Granted,
            ConsentDecision::Denied => D::Denied,
            ConsentDecision::Withdrawn => D::Withdrawn,
        }) as i32,
        lawful_basis: i32::from(e.lawful_basis),
        sequence: e.sequence,
        client_number: e.client_number,
        purpose: e.purpose,
        channel: e.channel,
        evidence_ref: e.evidence_ref,
        source_system: e.source_system,
        actor: e.actor,
        notice_version: e.notice_version,
        captured_at_unix_ms: e.captured_at_ms,
        expires_at_unix_ms: e.expires_at_ms,
        recorded_at_unix_ms: e.recorded_at_ms,
        kind: e.kind,
        related_clients: e.related_clients,
        prev_hash: e.prev_hash,
        hash: e.hash,
        record_ids: e.record_ids,
    }
}

/// What channels reads of the resolver's `GetClient` answer.
pub fn client_from_api(c: rapi::GetClientResponse) -> ClientRecords {
    ClientRecords {
        golden: c.golden.into_iter().map(|v| (v.field, v.value)).collect(),
        records: c
            .records
            .into_iter()
            .map(|m| MemberRecord {
                record_id: m.record_id,
                source_system: m.source_system,
                values: m.record.map(|r| RecordValues {
                    phones: r.phone,
                    emails: r.email,
                    country: r.country,
                }),
                flags: m
                    .flags
                    .into_iter()
                    .map(|f| (f.field, f.index as usize))
                    .collect(),
            })
            .collect(),
    }
}

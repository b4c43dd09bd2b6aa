//! Personal values leave the resolver only under the vault's policy.
//!
//! `GetClient` and `Explain` (with values) answer outside callers with a
//! client's personal values. Before they do, the vault (the owner of the
//! policy and of the access log) says for each field whether this caller
//! may see it in clear, masked or not at all for the stated purpose, and
//! logs the disclosure. Without a vault nothing personal is disclosed:
//! every value is withheld (fails closed).
//!
//! c360's own services (a caller with a peer identity: search indexing
//! golden records, channels syncing contact points) read in clear without
//! the access log: that is processing inside the platform, and each of
//! them discloses under this same policy when it answers its own callers.

use c360_core::Field;
use c360_proto::common::v1 as pb;
use c360_proto::resolver::v1 as api;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_proto::vault::v1::{AuthorizeReadsRequest, FieldAccess, ReadTarget};
use c360_rpc::{Caller, PeerChannel};
use tonic::Status;

/// How a value is disclosed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Withheld,
    Masked,
    Clear,
}

/// The fields of a record that hold personal values (their names are the
/// policy's).
fn personal_fields() -> impl Iterator<Item = Field> {
    Field::ALL.into_iter().filter(|f| f.is_personal())
}

/// The policy's decision for one client: field name → access.
#[derive(Debug, Clone)]
pub struct Grant {
    fields: Vec<(String, Access)>,
    /// The access-log entry of the disclosure (0: not logged, a peer).
    pub access_sequence: u64,
}

impl Grant {
    /// Every personal field shown as `access`.
    fn all(access: Access) -> Grant {
        Grant {
            fields: personal_fields()
                .map(|f| (f.name().to_string(), access))
                .collect(),
            access_sequence: 0,
        }
    }

    pub fn access(&self, field: &str) -> Access {
        self.fields
            .iter()
            .find(|(f, _)| f == field)
            .map_or(Access::Withheld, |(_, a)| *a)
    }

    /// `value` as this grant discloses it: itself, masked, or empty.
    pub fn show(&self, field: &str, value: &str) -> String {
        match self.access(field) {
            Access::Clear => value.to_string(),
            Access::Masked if value.is_empty() => String::new(),
            Access::Masked => c360_standardise::mask::mask(field, value),
            Access::Withheld => String::new(),
        }
    }

    /// The fields not shown in clear, by how they were shown.
    pub fn limited(&self, access: Access) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(_, a)| *a == access)
            .map(|(f, _)| f.clone())
            .collect()
    }

    /// A record with each personal value disclosed as this grant says.
    pub fn record(&self, r: &pb::Record) -> pb::Record {
        pb::Record {
            source_system: r.source_system.clone(),
            source_record_id: r.source_record_id.clone(),
            given_name: self.show("given_name", &r.given_name),
            middle_name: self.show("middle_name", &r.middle_name),
            surname: self.show("surname", &r.surname),
            full_name: self.show("full_name", &r.full_name),
            sex: self.show("sex", &r.sex),
            date_of_birth: self.show("date_of_birth", &r.date_of_birth),
            national_id: self.show("national_id", &r.national_id),
            phone: self.list("phone", &r.phone),
            email: self.list("email", &r.email),
            address: self.show("address", &r.address),
            locality: self.show("locality", &r.locality),
            postcode: self.show("postcode", &r.postcode),
            region: r.region.clone(),
            country: r.country.clone(),
            group_id: r.group_id.clone(),
        }
    }

    fn list(&self, field: &str, values: &[String]) -> Vec<String> {
        if self.access(field) == Access::Withheld {
            return Vec::new();
        }
        values.iter().map(|v| self.show(field, v)).collect()
    }
}

/// Asks the vault what a caller may see; cheap to clone.
#[derive(Clone, Default)]
pub struct Disclosure {
    vault: Option<VaultServiceClient<PeerChannel>>,
}

impl std::fmt::Debug for Disclosure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Disclosure")
            .field("vault", &self.vault.is_some())
            .finish()
    }
}

impl Disclosure {
    pub fn new(vault: Option<VaultServiceClient<PeerChannel>>) -> Self {
        Disclosure { vault }
    }

    /// What `caller` may see of each client in `numbers`, for `purpose`,
    /// logged by the vault as `operation`. A peer sees everything, unlogged;
    /// an outside caller must state a purpose; without a vault nothing is
    /// disclosed.
    pub async fn grants(
        &self,
        caller: &Caller,
        purpose: &str,
        operation: &str,
        numbers: &[String],
    ) -> Result<Vec<Grant>, Status> {
        if caller.peer.is_some() {
            return Ok(numbers.iter().map(|_| Grant::all(Access::Clear)).collect());
        }
        if purpose.is_empty() {
            return Err(c360_rpc::invalid_argument(
                "purpose",
                "is required to read personal values (service, stewardship, audit, ...)",
            ));
        }
        let Some(mut vault) = self.vault.clone() else {
            return Ok(numbers
                .iter()
                .map(|_| Grant::all(Access::Withheld))
                .collect());
        };
        let fields: Vec<String> = personal_fields().map(|f| f.name().to_string()).collect();
        let response = vault
            .authorize_reads(AuthorizeReadsRequest {
                actor: caller.id.clone(),
                role: caller.role.to_string(),
                purpose: purpose.to_string(),
                operation: operation.to_string(),
                targets: numbers
                    .iter()
                    .map(|n| ReadTarget {
                        client_number: n.clone(),
                        fields: fields.clone(),
                    })
                    .collect(),
            })
            .await
            .map_err(|s| match s.code() {
                tonic::Code::InvalidArgument => s,
                _ => Status::unavailable(format!(
                    "the vault, which decides what may be disclosed, did not answer: {}",
                    s.message()
                )),
            })?;
        Ok(response
            .into_inner()
            .grants
            .into_iter()
            .map(|g| Grant {
                fields: g
                    .fields
                    .into_iter()
                    .map(|f| {
                        let access = match f.access() {
                            FieldAccess::Clear => Access::Clear,
                            FieldAccess::Masked => Access::Masked,
                            FieldAccess::Deny | FieldAccess::Unspecified => Access::Withheld,
                        };
                        (f.field, access)
                    })
                    .collect(),
                access_sequence: g.access_log_sequence,
            })
            .collect())
    }
}

/// A client as `grant` discloses it.
pub fn client(grant: &Grant, mut c: api::GetClientResponse) -> api::GetClientResponse {
    c.golden
        .retain(|v| grant.access(&v.field) != Access::Withheld);
    for v in &mut c.golden {
        v.value = grant.show(&v.field, &v.value);
    }
    for m in &mut c.records {
        m.record = m.record.as_ref().map(|r| grant.record(r));
    }
    c.masked_fields = grant.limited(Access::Masked);
    c.withheld_fields = grant.limited(Access::Withheld);
    c.access_log_sequence = grant.access_sequence;
    c
}

//! Personal values leave a service only under the vault's policy.
//!
//! A service that answers an outside caller with a client's personal values
//! (the resolver's `GetClient`, search's hits) first asks the vault, the
//! owner of the policy and of the access log, what this caller may see of
//! each field for the stated purpose: clear, masked or nothing. The vault
//! logs the disclosure. Without a vault nothing personal is disclosed:
//! every value is withheld (fails closed).
//!
//! c360's own services (a caller with a peer identity: search indexing
//! golden records, channels syncing contact points) read in clear without
//! the access log: that is processing inside the platform, and each of
//! them discloses under this same policy when it answers its own callers.

use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_proto::vault::v1::{AuthorizeReadsRequest, FieldAccess, ReadTarget};
use tonic::Status;

use crate::{Caller, PeerChannel};

/// How a value is disclosed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Withheld,
    Masked,
    Clear,
}

/// The policy's decision for one client: field name → access. A field
/// not asked about is withheld.
#[derive(Debug, Clone)]
pub struct Grant {
    fields: Vec<(String, Access)>,
    /// The access-log entry of the disclosure (0: not logged, a peer).
    pub access_sequence: u64,
}

impl Grant {
    /// Every field in `fields` shown as `access`, unlogged.
    pub fn all(fields: &[&str], access: Access) -> Grant {
        Grant {
            fields: fields.iter().map(|f| (f.to_string(), access)).collect(),
            access_sequence: 0,
        }
    }

    pub fn access(&self, field: &str) -> Access {
        self.fields
            .iter()
            .find(|(f, _)| f == field)
            .map_or(Access::Withheld, |(_, a)| *a)
    }

    /// Whether the field may be shown at all (clear or masked).
    pub fn shows(&self, field: &str) -> bool {
        self.access(field) != Access::Withheld
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

    /// `values` as this grant discloses them; none when withheld.
    pub fn show_all(&self, field: &str, values: &[String]) -> Vec<String> {
        if !self.shows(field) {
            return Vec::new();
        }
        values.iter().map(|v| self.show(field, v)).collect()
    }

    /// The fields shown as `access`.
    pub fn limited(&self, access: Access) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(_, a)| *a == access)
            .map(|(f, _)| f.clone())
            .collect()
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
    /// `vault` is called as this service's peer identity.
    pub fn new(vault: Option<VaultServiceClient<PeerChannel>>) -> Self {
        Disclosure { vault }
    }

    /// What `caller` may see of `fields` of each client in `numbers`, for
    /// `purpose`, logged by the vault as `operation`. A peer sees
    /// everything, unlogged; an outside caller must state a purpose
    /// (INVALID_ARGUMENT naming `purpose`); without a vault nothing is
    /// disclosed.
    pub async fn grants(
        &self,
        caller: &Caller,
        purpose: &str,
        operation: &str,
        numbers: &[String],
        fields: &[&str],
    ) -> Result<Vec<Grant>, Status> {
        if caller.peer.is_some() {
            return Ok(numbers
                .iter()
                .map(|_| Grant::all(fields, Access::Clear))
                .collect());
        }
        if purpose.is_empty() {
            return Err(crate::invalid_argument(
                "purpose",
                "is required to read personal values (service, stewardship, audit, ...)",
            ));
        }
        let Some(mut vault) = self.vault.clone() else {
            return Ok(numbers
                .iter()
                .map(|_| Grant::all(fields, Access::Withheld))
                .collect());
        };
        if numbers.is_empty() {
            return Ok(Vec::new());
        }
        let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
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

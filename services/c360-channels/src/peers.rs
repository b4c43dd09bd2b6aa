//! The vault over gRPC, as the [`VaultPort`] channels owns: requests and
//! answers converted here, a failed call an UNAVAILABLE error naming the
//! call and its code (never a value).

use c360_proto::vault::v1 as vault;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::PeerChannel;

use crate::Error;
use crate::ports::{ConsentAnswer, ConsentCheck, PortFuture, ToSeal, VaultPort, Withdrawal};

/// The vault reached through its generated client.
#[derive(Debug, Clone)]
pub struct VaultOverGrpc {
    client: VaultServiceClient<PeerChannel>,
}

impl VaultOverGrpc {
    pub fn new(client: VaultServiceClient<PeerChannel>) -> Self {
        VaultOverGrpc { client }
    }
}

impl VaultPort for VaultOverGrpc {
    fn check_consents(&self, checks: Vec<ConsentCheck>) -> PortFuture<'_, Vec<ConsentAnswer>> {
        let mut client = self.client.clone();
        Box::pin(async move {
            let request = vault::CheckConsentsRequest {
                checks: checks
                    .into_iter()
                    .map(|c| vault::CheckConsentRequest {
                        client_number: c.client_number,
                        purpose: c.purpose,
                        channel: c.channel.as_str().to_string(),
                        at_unix_ms: c.at_ms,
                    })
                    .collect(),
            };
            let response = client
                .check_consents(request)
                .await
                .map_err(|s| Error::Unavailable(format!("vault check consents: {}", s.code())))?
                .into_inner();
            Ok(response
                .results
                .into_iter()
                .map(|r| ConsentAnswer {
                    allowed: r.allowed,
                    deciding_entry: r.deciding_entry,
                    reason: r.reason,
                })
                .collect())
        })
    }

    fn seal(&self, values: Vec<ToSeal>) -> PortFuture<'_, Vec<Vec<u8>>> {
        let mut client = self.client.clone();
        Box::pin(async move {
            let fields = values
                .into_iter()
                .map(|v| vault::PlainField {
                    r#ref: Some(vault::FieldRef {
                        client_number: v.client_number,
                        record_id: v.record_id,
                        field: v.field,
                    }),
                    value: v.value,
                })
                .collect();
            Ok(client
                .encrypt(vault::EncryptRequest { fields })
                .await
                .map_err(|s| {
                    Error::Unavailable(format!("vault encrypt: {}: {}", s.code(), s.message()))
                })?
                .into_inner()
                .ciphertexts)
        })
    }

    fn withdraw(&self, w: Withdrawal) -> PortFuture<'_, Option<vault::ConsentEntry>> {
        let mut client = self.client.clone();
        Box::pin(async move {
            Ok(client
                .record_consent(withdrawal_request(w))
                .await
                .map_err(|s| {
                    Error::Unavailable(format!("vault record consent: {}; retry", s.code()))
                })?
                .into_inner()
                .entry)
        })
    }
}

/// The vault's request recording a withdrawal (written by the channels
/// service, under the consent basis).
pub fn withdrawal_request(w: Withdrawal) -> vault::RecordConsentRequest {
    vault::RecordConsentRequest {
        client_number: w.client_number,
        purpose: w.purpose,
        channel: w.channel,
        decision: vault::ConsentDecision::Withdrawn as i32,
        lawful_basis: vault::LawfulBasis::Consent as i32,
        evidence_ref: w.evidence_ref,
        source_system: "c360-channels".to_string(),
        notice_version: String::new(),
        captured_at_unix_ms: w.captured_at_ms,
        expires_at_unix_ms: 0,
        record_ids: w.record_ids,
    }
}

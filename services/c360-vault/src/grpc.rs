//! The gRPC edge: `c360.vault.v1.VaultService` over a [`Vault`]. Checks the
//! caller's role, converts prost ↔ domain, runs the work on tokio's blocking
//! pool, maps [`Error`](crate::Error) to a status once.

use c360_rpc::blocking;
use std::pin::Pin;

use c360_proto::vault::v1 as api;
use c360_proto::vault::v1::vault_service_server::{VaultService, VaultServiceServer};
use c360_rpc::{Caller, IssuedNumbers, Peer, Role, authorize, authorize_only};
use tokio_stream::Stream;
use tonic::{Request, Response, Status};

use crate::ledger::{Decision, Entry};
use crate::policy::Access;
use crate::vault::{
    AccessQuery, AccessRecord, CheckInput, CheckOutcome, ConsentInput, ExportFormat, FieldRef,
    FieldResult, LegalHold, Plain,
};
use crate::{Error, Vault};

const CONSENT_WRITERS: &[Role] = &[Role::Compliance, Role::Service, Role::Source];
const CONSENT_READERS: &[Role] = &[Role::App, Role::Service, Role::Compliance];
const CRYPTO_USERS: &[Role] = &[Role::App, Role::Service];
const FIELD_READERS: &[Role] = &[Role::App, Role::Service, Role::Compliance, Role::Steward];
const FIELD_WRITERS: &[Role] = &[Role::Source, Role::Service, Role::Compliance];
const TOKENIZERS: &[Role] = &[Role::App, Role::Service, Role::Source];
const COMPLIANCE: &[Role] = &[Role::Compliance];
/// How long an erasure waits for the vault to catch up with the feed.
const FEED_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// Admin only (admin is admitted everywhere).
const ADMIN: &[Role] = &[];

/// The tonic service; cheap to clone.
#[derive(Debug, Clone)]
pub struct VaultGrpc {
    vault: Vault,
    /// Whether the client numbers a write names were issued (the resolver
    /// says): nothing is written for a number not issued yet.
    issued: IssuedNumbers,
}

impl Vault {
    /// The gRPC service (also starts, once, the background retry of
    /// erasures the resolver has not confirmed yet).
    pub fn grpc(&self) -> VaultServiceServer<VaultGrpc> {
        self.start_erasure_retries();
        VaultGrpc::new(self.clone()).into_server()
    }
}

impl VaultGrpc {
    pub fn new(vault: Vault) -> Self {
        let issued = IssuedNumbers::new(vault.resolver().map(|r| r.issuer()));
        VaultGrpc { vault, issued }
    }

    pub fn into_server(self) -> VaultServiceServer<Self> {
        VaultServiceServer::new(self)
    }
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        c360_rpc::status_of(&err)
    }
}

/// A ledger entry as the API sends it.
pub fn entry_to_api(e: &Entry) -> api::ConsentEntry {
    api::ConsentEntry {
        sequence: e.sequence,
        client_number: e.client_number.clone(),
        purpose: e.purpose.clone(),
        channel: e.channel.clone(),
        decision: i32::from(e.decision.code()),
        lawful_basis: i32::from(e.lawful_basis),
        evidence_ref: e.evidence_ref.clone(),
        source_system: e.source_system.clone(),
        actor: e.actor.clone(),
        notice_version: e.notice_version.clone(),
        captured_at_unix_ms: e.captured_at_ms,
        expires_at_unix_ms: e.expires_at_ms,
        recorded_at_unix_ms: e.recorded_at_ms,
        kind: e.kind.as_str().to_string(),
        related_clients: e.related_clients.clone(),
        prev_hash: e.prev_hash.to_vec(),
        hash: e.hash.to_vec(),
        record_ids: e.record_ids.clone(),
    }
}

/// A consent to record, as the API asks it.
pub fn consent_input(r: api::RecordConsentRequest) -> ConsentInput {
    ConsentInput {
        client_number: r.client_number,
        purpose: r.purpose,
        channel: r.channel,
        decision: r.decision,
        lawful_basis: r.lawful_basis,
        evidence_ref: r.evidence_ref,
        source_system: r.source_system,
        notice_version: r.notice_version,
        captured_at_ms: r.captured_at_unix_ms,
        expires_at_ms: r.expires_at_unix_ms,
        record_ids: r.record_ids,
    }
}

fn check_input(r: api::CheckConsentRequest) -> CheckInput {
    CheckInput {
        client_number: r.client_number,
        purpose: r.purpose,
        channel: r.channel,
        at_ms: r.at_unix_ms,
    }
}

fn check_to_api(o: CheckOutcome) -> api::CheckConsentResponse {
    api::CheckConsentResponse {
        allowed: o.verdict.allowed,
        deciding_entry: o.deciding.as_ref().map(entry_to_api),
        reason: o.verdict.reason,
        client_number: o.client_number,
    }
}

fn field_ref(r: Option<api::FieldRef>) -> FieldRef {
    let r = r.unwrap_or_default();
    FieldRef {
        client_number: r.client_number,
        record_id: r.record_id,
        field: r.field,
    }
}

fn ref_to_api(r: FieldRef) -> api::FieldRef {
    api::FieldRef {
        client_number: r.client_number,
        record_id: r.record_id,
        field: r.field,
    }
}

fn plain_fields(fields: Vec<api::PlainField>) -> Vec<(FieldRef, Plain)> {
    fields
        .into_iter()
        .map(|f| (field_ref(f.r#ref), Plain(f.value)))
        .collect()
}

fn result_to_api(r: FieldResult) -> api::DecryptResult {
    use api::decrypt_result::Result as R;
    let result = match r {
        FieldResult::Clear(v) => R::Value(v.0),
        FieldResult::Masked(v) => R::Masked(v.0),
        FieldResult::Error(e) => R::Error(e),
    };
    api::DecryptResult {
        result: Some(result),
    }
}

fn outcome_code(outcome: &str) -> i32 {
    let o = match outcome {
        "allowed" => api::AccessOutcome::Allowed,
        "masked" => api::AccessOutcome::Masked,
        "partial" => api::AccessOutcome::Partial,
        "denied" => api::AccessOutcome::Denied,
        _ => api::AccessOutcome::Unspecified,
    };
    o as i32
}

fn access_to_api(r: AccessRecord) -> api::AccessLogEntry {
    api::AccessLogEntry {
        sequence: r.sequence,
        at_unix_ms: r.at_ms,
        actor: r.actor,
        role: r.role,
        operation: r.operation,
        client_numbers: r.client_numbers,
        fields: r.fields,
        purpose: r.purpose,
        outcome: outcome_code(&r.outcome),
        reason: r.reason,
        consent_sequence: r.consent_sequence,
    }
}

fn hold_to_api(h: LegalHold) -> api::LegalHold {
    api::LegalHold {
        client_number: h.client_number,
        basis: h.basis,
        set_by: h.set_by,
        set_at_unix_ms: h.set_at_ms,
        expires_at_unix_ms: h.expires_at_ms,
    }
}

type BoxStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

#[tonic::async_trait]
impl VaultService for VaultGrpc {
    async fn record_consent(
        &self,
        request: Request<api::RecordConsentRequest>,
    ) -> Result<Response<api::RecordConsentResponse>, Status> {
        let caller = authorize(&request, CONSENT_WRITERS)?;
        let input = consent_input(request.into_inner());
        self.check_source(&caller, &input.source_system)?;
        self.issued
            .check("client_number", &[input.client_number.as_str()])
            .await?;
        let vault = self.vault.clone();
        let entry = blocking(move || vault.record_consent(&caller, &input)).await?;
        Ok(Response::new(api::RecordConsentResponse {
            entry: Some(entry_to_api(&entry)),
        }))
    }

    async fn record_consents(
        &self,
        request: Request<api::RecordConsentsRequest>,
    ) -> Result<Response<api::RecordConsentsResponse>, Status> {
        let caller = authorize(&request, CONSENT_WRITERS)?;
        let inputs: Vec<ConsentInput> = request
            .into_inner()
            .consents
            .into_iter()
            .map(consent_input)
            .collect();
        for input in &inputs {
            self.check_source(&caller, &input.source_system)?;
        }
        let numbers: Vec<&str> = inputs.iter().map(|i| i.client_number.as_str()).collect();
        self.issued
            .check("consents.client_number", &numbers)
            .await?;
        let vault = self.vault.clone();
        let entries = blocking(move || vault.record_consents(&caller, &inputs)).await?;
        Ok(Response::new(api::RecordConsentsResponse {
            entries: entries.iter().map(entry_to_api).collect(),
        }))
    }

    async fn check_consent(
        &self,
        request: Request<api::CheckConsentRequest>,
    ) -> Result<Response<api::CheckConsentResponse>, Status> {
        authorize(&request, CONSENT_READERS)?;
        let input = check_input(request.into_inner());
        // A few point reads: cheap enough for the async thread, and it keeps
        // latency low under load.
        let outcome = self.vault.check_consent(&input).map_err(Status::from)?;
        Ok(Response::new(check_to_api(outcome)))
    }

    async fn check_consents(
        &self,
        request: Request<api::CheckConsentsRequest>,
    ) -> Result<Response<api::CheckConsentsResponse>, Status> {
        authorize(&request, CONSENT_READERS)?;
        let inputs: Vec<CheckInput> = request
            .into_inner()
            .checks
            .into_iter()
            .map(check_input)
            .collect();
        let vault = self.vault.clone();
        let outcomes = blocking(move || vault.check_consents(&inputs)).await?;
        Ok(Response::new(api::CheckConsentsResponse {
            results: outcomes.into_iter().map(check_to_api).collect(),
        }))
    }

    async fn encrypt(
        &self,
        request: Request<api::EncryptRequest>,
    ) -> Result<Response<api::EncryptResponse>, Status> {
        authorize(&request, CRYPTO_USERS)?;
        let fields = plain_fields(request.into_inner().fields);
        self.check_issued(&fields).await?;
        let vault = self.vault.clone();
        let ciphertexts = blocking(move || vault.encrypt(&fields)).await?;
        Ok(Response::new(api::EncryptResponse { ciphertexts }))
    }

    async fn decrypt(
        &self,
        request: Request<api::DecryptRequest>,
    ) -> Result<Response<api::DecryptResponse>, Status> {
        let caller = authorize(&request, CRYPTO_USERS)?;
        let req = request.into_inner();
        let fields: Vec<(FieldRef, Vec<u8>)> = req
            .fields
            .into_iter()
            .map(|f| (field_ref(f.r#ref), f.ciphertext))
            .collect();
        let vault = self.vault.clone();
        let results = blocking(move || vault.decrypt(&caller, &req.purpose, &fields)).await?;
        Ok(Response::new(api::DecryptResponse {
            results: results.into_iter().map(result_to_api).collect(),
        }))
    }

    async fn get_consents(
        &self,
        request: Request<api::GetConsentsRequest>,
    ) -> Result<Response<api::GetConsentsResponse>, Status> {
        authorize(&request, CONSENT_READERS)?;
        let number = request.into_inner().client_number;
        let vault = self.vault.clone();
        let view = blocking(move || vault.get_consents(&number)).await?;
        Ok(Response::new(api::GetConsentsResponse {
            client_number: view.client_number,
            member_numbers: view.members,
            current: view
                .current
                .into_iter()
                .map(|(purpose, channel, o)| api::ConsentState {
                    purpose,
                    channel,
                    allowed: o.verdict.allowed,
                    deciding_entry: o.deciding.as_ref().map(entry_to_api),
                    reason: o.verdict.reason,
                })
                .collect(),
            history: view.history.iter().map(entry_to_api).collect(),
        }))
    }

    async fn verify_ledger(
        &self,
        request: Request<api::VerifyLedgerRequest>,
    ) -> Result<Response<api::VerifyLedgerResponse>, Status> {
        authorize(&request, COMPLIANCE)?;
        let vault = self.vault.clone();
        let report = blocking(move || vault.verify_ledger()).await?;
        Ok(Response::new(api::VerifyLedgerResponse {
            ok: report.ok,
            entries_checked: report.checked,
            first_bad_sequence: report.first_bad,
            problem: report.problem,
            head_hash: if report.ok {
                report.head.to_vec()
            } else {
                Vec::new()
            },
        }))
    }

    type ExportConsentsStream = BoxStream<api::ExportChunk>;

    async fn export_consents(
        &self,
        request: Request<api::ExportConsentsRequest>,
    ) -> Result<Response<Self::ExportConsentsStream>, Status> {
        authorize(&request, COMPLIANCE)?;
        let req = request.into_inner();
        let format = match api::ExportFormat::try_from(req.format) {
            Ok(api::ExportFormat::JsonLines) => ExportFormat::JsonLines,
            Ok(api::ExportFormat::Csv) => ExportFormat::Csv,
            _ => {
                return Err(Status::from(Error::invalid(
                    "format",
                    "must be JSON_LINES or CSV",
                )));
            }
        };
        if !req.client_number.is_empty() {
            crate::vault::check_number("client_number", &req.client_number)
                .map_err(Status::from)?;
        }
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<api::ExportChunk, Status>>(4);
        let vault = self.vault.clone();
        tokio::task::spawn_blocking(move || {
            let sink = |data: Vec<u8>| tx.blocking_send(Ok(api::ExportChunk { data })).is_ok();
            if let Err(e) =
                vault.export_consents(format, &req.client_number, req.from_sequence, sink)
            {
                let _ = tx.blocking_send(Err(Status::from(e)));
            }
        });
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }

    async fn put_fields(
        &self,
        request: Request<api::PutFieldsRequest>,
    ) -> Result<Response<api::PutFieldsResponse>, Status> {
        authorize(&request, FIELD_WRITERS)?;
        let fields = plain_fields(request.into_inner().fields);
        self.check_issued(&fields).await?;
        let vault = self.vault.clone();
        let stored = blocking(move || vault.put_fields(&fields)).await?;
        Ok(Response::new(api::PutFieldsResponse { stored }))
    }

    async fn read_fields(
        &self,
        request: Request<api::ReadFieldsRequest>,
    ) -> Result<Response<api::ReadFieldsResponse>, Status> {
        let caller = authorize(&request, FIELD_READERS)?;
        let req = request.into_inner();
        let vault = self.vault.clone();
        let out = blocking(move || {
            vault.read_fields(
                &caller,
                &req.client_number,
                &req.purpose,
                &req.fields,
                &req.record_id,
            )
        })
        .await?;
        Ok(Response::new(api::ReadFieldsResponse {
            client_number: out.client_number,
            fields: out
                .fields
                .into_iter()
                .map(|(r, res)| api::FieldValue {
                    r#ref: Some(ref_to_api(r)),
                    result: Some(result_to_api(res)),
                })
                .collect(),
            access_log_sequence: out.access_sequence,
            consent_sequence: out.consent_sequence,
        }))
    }

    async fn tokenize(
        &self,
        request: Request<api::TokenizeRequest>,
    ) -> Result<Response<api::TokenizeResponse>, Status> {
        authorize(&request, TOKENIZERS)?;
        let fields = plain_fields(request.into_inner().fields);
        self.check_issued(&fields).await?;
        let vault = self.vault.clone();
        let tokens = blocking(move || vault.tokenize(&fields)).await?;
        Ok(Response::new(api::TokenizeResponse { tokens }))
    }

    async fn detokenize(
        &self,
        request: Request<api::DetokenizeRequest>,
    ) -> Result<Response<api::DetokenizeResponse>, Status> {
        let caller = authorize(&request, CRYPTO_USERS)?;
        let req = request.into_inner();
        let vault = self.vault.clone();
        let results =
            blocking(move || vault.detokenize(&caller, &req.purpose, &req.tokens)).await?;
        Ok(Response::new(api::DetokenizeResponse {
            results: results.into_iter().map(result_to_api).collect(),
        }))
    }

    async fn lookup_blind_index(
        &self,
        request: Request<api::LookupBlindIndexRequest>,
    ) -> Result<Response<api::LookupBlindIndexResponse>, Status> {
        let caller = authorize(&request, FIELD_READERS)?;
        let req = request.into_inner();
        let vault = self.vault.clone();
        let client_numbers = blocking(move || {
            vault.lookup_blind_index(&caller, &req.domain, &Plain(req.value), &req.purpose)
        })
        .await?;
        Ok(Response::new(api::LookupBlindIndexResponse {
            client_numbers,
        }))
    }

    async fn query_access_log(
        &self,
        request: Request<api::QueryAccessLogRequest>,
    ) -> Result<Response<api::QueryAccessLogResponse>, Status> {
        authorize(&request, COMPLIANCE)?;
        let r = request.into_inner();
        let q = AccessQuery {
            client_number: r.client_number,
            actor: r.actor,
            purpose: r.purpose,
            from_ms: r.from_unix_ms,
            to_ms: r.to_unix_ms,
            limit: r.limit as usize,
            after: r.after_sequence,
        };
        let vault = self.vault.clone();
        let (entries, next) = blocking(move || vault.query_access_log(&q)).await?;
        Ok(Response::new(api::QueryAccessLogResponse {
            entries: entries.into_iter().map(access_to_api).collect(),
            next_after_sequence: next,
        }))
    }

    async fn erase_client(
        &self,
        request: Request<api::EraseClientRequest>,
    ) -> Result<Response<api::EraseClientResponse>, Status> {
        let caller = authorize(&request, COMPLIANCE)?;
        let req = request.into_inner();
        // An erasure of a number not yet issued would wait for the next new
        // client and erase them: refused like any other write. And the
        // vault decides (legal holds included) on the identity the resolver
        // has now: a merge it has not applied yet could otherwise let an
        // absorbed number's erasure take a held survivor with it.
        let offset = self
            .issued
            .current("client_number", &req.client_number)
            .await?;
        if !self.vault.caught_up(offset, FEED_WAIT).await {
            return Err(Status::unavailable(format!(
                "the vault has applied the resolver's feed to offset {} of {offset}: retry shortly",
                self.vault.applied()
            )));
        }
        let vault = self.vault.clone();
        let reason = req.reason.clone();
        let mut out =
            blocking(move || vault.erase_client(&caller, &req.client_number, &req.reason)).await?;
        out.resolver_notified = self
            .vault
            .notify_resolver(&out.client_number, &reason)
            .await;
        Ok(Response::new(api::EraseClientResponse {
            client_number: out.client_number,
            erased_numbers: out.erased_numbers,
            fields_deleted: out.fields_deleted,
            tokens_deleted: out.tokens_deleted,
            erasure_entry: Some(entry_to_api(&out.entry)),
            resolver_notified: out.resolver_notified,
        }))
    }

    async fn set_legal_hold(
        &self,
        request: Request<api::SetLegalHoldRequest>,
    ) -> Result<Response<api::SetLegalHoldResponse>, Status> {
        let caller = authorize(&request, COMPLIANCE)?;
        let r = request.into_inner();
        if !r.release {
            self.issued
                .check("client_number", &[r.client_number.as_str()])
                .await?;
        }
        let vault = self.vault.clone();
        let hold = blocking(move || {
            vault.set_legal_hold(
                &caller,
                &r.client_number,
                &r.basis,
                r.expires_at_unix_ms,
                r.release,
            )
        })
        .await?;
        Ok(Response::new(api::SetLegalHoldResponse {
            hold: hold.map(hold_to_api),
        }))
    }

    async fn export_client(
        &self,
        request: Request<api::ExportClientRequest>,
    ) -> Result<Response<api::ExportClientResponse>, Status> {
        // Everything held, in clear: the compliance officer's subject access
        // request, not an operator's.
        let caller = authorize_only(&request, COMPLIANCE)?;
        let number = request.into_inner().client_number;
        let vault = self.vault.clone();
        let (client_number, json) = blocking(move || vault.export_client(&caller, &number)).await?;
        Ok(Response::new(api::ExportClientResponse {
            client_number,
            json,
        }))
    }

    async fn rotate_kek(
        &self,
        request: Request<api::RotateKekRequest>,
    ) -> Result<Response<api::RotateKekResponse>, Status> {
        authorize(&request, ADMIN)?;
        let vault = self.vault.clone();
        let out = blocking(move || vault.rotate_kek()).await?;
        Ok(Response::new(api::RotateKekResponse {
            kek_id: out.kek_id,
            rewrapped: out.rewrapped,
            already_current: out.already_current,
        }))
    }

    async fn get_wrapped_data_keys(
        &self,
        request: Request<api::GetWrappedDataKeysRequest>,
    ) -> Result<Response<api::GetWrappedDataKeysResponse>, Status> {
        // Key material (even wrapped) goes to the services that encrypt
        // with it and to no one else, administrators included.
        let caller = authorize_only(&request, &[Role::Service])?;
        let req = request.into_inner();
        // The resolver issues client numbers and has their keys made just
        // before; any other service may only have keys made for numbers
        // already issued.
        if req.create && caller.peer != Some(Peer::Resolver) {
            let ids: Vec<&str> = req.key_ids.iter().map(String::as_str).collect();
            self.issued.check("key_ids", &ids).await?;
        }
        let vault = self.vault.clone();
        let ids = req.key_ids.clone();
        let found = blocking(move || vault.wrapped_data_keys(&ids, req.create)).await?;
        let keys = req
            .key_ids
            .into_iter()
            .zip(found)
            .map(|(key_id, w)| match w {
                Some((version, wrapped)) => api::WrappedDataKey {
                    key_id,
                    version,
                    wrapped,
                    present: true,
                },
                None => api::WrappedDataKey {
                    key_id,
                    ..Default::default()
                },
            })
            .collect();
        Ok(Response::new(api::GetWrappedDataKeysResponse { keys }))
    }

    async fn authorize_reads(
        &self,
        request: Request<api::AuthorizeReadsRequest>,
    ) -> Result<Response<api::AuthorizeReadsResponse>, Status> {
        self.authorize_reads_impl(request).await
    }
}

impl VaultGrpc {
    /// NOT_FOUND unless every field's client number was issued.
    async fn check_issued(&self, fields: &[(FieldRef, Plain)]) -> Result<(), Status> {
        let numbers: Vec<&str> = fields
            .iter()
            .map(|(r, _)| r.client_number.as_str())
            .collect();
        self.issued
            .check("fields.ref.client_number", &numbers)
            .await
    }

    /// A source system's token records consents only as itself.
    fn check_source(&self, caller: &Caller, source_system: &str) -> Result<(), Status> {
        if caller.role == Role::Source {
            caller.check_write(source_system)?;
        }
        Ok(())
    }

    async fn authorize_reads_impl(
        &self,
        request: Request<api::AuthorizeReadsRequest>,
    ) -> Result<Response<api::AuthorizeReadsResponse>, Status> {
        authorize_only(&request, &[Role::Service])?;
        let req = request.into_inner();
        let reader = crate::vault::reader(&req.actor, &req.role)?;
        let targets: Vec<(String, Vec<String>)> = req
            .targets
            .into_iter()
            .map(|t| (t.client_number, t.fields))
            .collect();
        let vault = self.vault.clone();
        let grants = blocking(move || {
            vault.authorize_reads(&reader, &req.purpose, &req.operation, &targets)
        })
        .await?;
        Ok(Response::new(api::AuthorizeReadsResponse {
            grants: grants
                .into_iter()
                .map(|g| api::ReadGrant {
                    client_number: g.client_number,
                    fields: g
                        .fields
                        .into_iter()
                        .map(|(field, access)| api::FieldGrant {
                            field,
                            access: field_access_to_api(access) as i32,
                        })
                        .collect(),
                    access_log_sequence: g.access_sequence,
                    reason: g.reason,
                })
                .collect(),
        }))
    }
}

fn field_access_to_api(access: Access) -> api::FieldAccess {
    match access {
        Access::Deny => api::FieldAccess::Deny,
        Access::Masked => api::FieldAccess::Masked,
        Access::Clear => api::FieldAccess::Clear,
    }
}

/// `Decision` from the proto number (for tests and the CLI).
pub fn decision_name(code: i32) -> &'static str {
    u8::try_from(code)
        .ok()
        .and_then(Decision::from_code)
        .map_or("", Decision::as_str)
}

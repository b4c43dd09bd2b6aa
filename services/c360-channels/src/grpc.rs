//! The gRPC edge: `c360.channels.v1.ChannelService` over [`Service`].
//! Checks roles, converts prost <-> domain types and maps errors once.

use c360_rpc::blocking;
use std::sync::Arc;

use c360_proto::channels::v1 as api;
use c360_proto::channels::v1::channel_service_server::{ChannelService, ChannelServiceServer};
use c360_proto::vault::v1 as vault;
use c360_rpc::{IssuedNumbers, Role, authorize};
use tonic::{Request, Response, Status};

use crate::convert::entry_to_api;
use crate::decide::{RuleOutcome, Verdict};
use crate::model::{Channel, ContactPoint, Outcome, PointStatus, Preferences, QuietHours, Touch};
use crate::sector::Sector;
use crate::service::{Answer, AskOwned, Service, now_ms};
use crate::{Channels, Error};

fn sector_to_proto(s: Sector) -> i32 {
    use api::Sector as P;
    (match s {
        Sector::A => P::A,
        Sector::B => P::B,
        Sector::C => P::C,
        Sector::D => P::D,
        Sector::X => P::X,
        Sector::Y => P::Y,
        Sector::Z => P::Z,
        Sector::None => P::None,
    }) as i32
}

impl From<Error> for Status {
    fn from(err: Error) -> Self {
        c360_rpc::status_of(&err)
    }
}

const DECIDE: &[Role] = &[Role::App, Role::Service];
const PROFILE: &[Role] = &[Role::App, Role::Steward, Role::Source];
const HARDSHIP: &[Role] = &[Role::App, Role::Steward];
const HISTORY: &[Role] = &[Role::App, Role::Steward, Role::Compliance];
const SECTOR: &[Role] = &[Role::App, Role::Steward, Role::Compliance];
const REPORT: &[Role] = &[Role::Steward, Role::Compliance];

/// The tonic service. Cheap to clone.
#[derive(Debug, Clone)]
pub struct ChannelsGrpc {
    service: Arc<Service>,
    /// Whether the client number a write names was issued (the resolver
    /// says): nothing is written for a number not issued yet.
    issued: IssuedNumbers,
}

impl Channels {
    /// The gRPC service.
    pub fn grpc(&self) -> ChannelServiceServer<ChannelsGrpc> {
        ChannelServiceServer::new(ChannelsGrpc::new(self.service.clone()))
    }
}

impl ChannelsGrpc {
    pub(crate) fn new(service: Arc<Service>) -> Self {
        let issued = IssuedNumbers::new(service.resolver.as_ref().map(|r| r.issuer()));
        ChannelsGrpc { service, issued }
    }

    async fn check_issued(&self, number: &str) -> Result<(), Status> {
        self.issued.check("client_number", &[number]).await
    }
}

fn channel(field: &str, value: i32) -> Result<Channel, Status> {
    Channel::from_proto(value).ok_or_else(|| Error::invalid(field, "is not a channel").into())
}

fn channels(field: &str, values: &[i32]) -> Result<Vec<Channel>, Status> {
    let mut out: Vec<Channel> = Vec::with_capacity(values.len());
    for v in values {
        let c = channel(field, *v)?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

fn sealed_of(p: &ContactPoint) -> vault::SealedField {
    vault::SealedField {
        r#ref: Some(vault::FieldRef {
            client_number: p.bound_client.clone(),
            record_id: p.bound_record.clone(),
            field: p.field.clone(),
        }),
        ciphertext: p.sealed.clone(),
    }
}

fn point_to_api(p: &ContactPoint, shared: bool) -> api::ContactPoint {
    api::ContactPoint {
        id: p.id.clone(),
        channel: p.channel.to_proto(),
        masked_value: p.masked.clone(),
        verified: p.verified,
        source_systems: p.sources.clone(),
        record_ids: p.record_ids.clone(),
        first_seen_unix_ms: p.first_seen_ms,
        last_confirmed_unix_ms: p.last_confirmed_ms,
        status: p.status.to_proto(),
        shared,
        sealed: Some(sealed_of(p)),
    }
}

fn prefs_to_api(p: &Preferences) -> api::Preferences {
    api::Preferences {
        preferred_channels: p
            .preferred
            .iter()
            .map(|(k, c)| (k.clone(), c.to_proto()))
            .collect(),
        language: p.language.clone(),
        time_zone: p.time_zone.clone(),
        quiet_hours: p.quiet_hours.map(|q| api::QuietHours {
            start: QuietHours::format_min(q.start_min),
            end: QuietHours::format_min(q.end_min),
        }),
        do_not_contact: p.do_not_contact,
        do_not_contact_channels: p
            .do_not_contact_channels
            .iter()
            .map(|c| c.to_proto())
            .collect(),
        updated_at_unix_ms: p.updated_ms,
    }
}

fn prefs_from_api(p: api::Preferences) -> Result<Preferences, Status> {
    let mut preferred = Vec::new();
    for (purpose, c) in p.preferred_channels {
        preferred.push((purpose, channel("preferences.preferred_channels", c)?));
    }
    let quiet_hours = match p.quiet_hours {
        None => None,
        Some(q) => {
            let start = QuietHours::parse_hhmm(&q.start).ok_or_else(|| {
                Status::from(Error::invalid(
                    "preferences.quiet_hours.start",
                    "expected HH:MM",
                ))
            })?;
            let end = QuietHours::parse_hhmm(&q.end).ok_or_else(|| {
                Status::from(Error::invalid(
                    "preferences.quiet_hours.end",
                    "expected HH:MM",
                ))
            })?;
            Some(QuietHours {
                start_min: start,
                end_min: end,
            })
        }
    };
    Ok(Preferences {
        preferred,
        language: p.language,
        time_zone: p.time_zone,
        quiet_hours,
        do_not_contact: p.do_not_contact,
        do_not_contact_channels: channels(
            "preferences.do_not_contact_channels",
            &p.do_not_contact_channels,
        )?,
        updated_ms: 0,
    })
}

fn outcome_to_api(o: RuleOutcome) -> i32 {
    (match o {
        RuleOutcome::Pass => api::RuleOutcome::Pass,
        RuleOutcome::Deny => api::RuleOutcome::Deny,
        RuleOutcome::Defer => api::RuleOutcome::Defer,
        RuleOutcome::NotApplicable => api::RuleOutcome::NotApplicable,
    }) as i32
}

pub(crate) fn answer_to_api(a: Answer, policy_version: &str) -> api::MayContactResponse {
    let d = a.decision;
    let receipt = api::Receipt {
        client_number: a.client_number,
        purpose: a.purpose,
        evaluated_at_unix_ms: a.at_ms,
        rules: d
            .rules
            .into_iter()
            .map(|r| api::RuleResult {
                rule: r.rule,
                channel: r.channel.map_or(0, Channel::to_proto),
                outcome: outcome_to_api(r.outcome),
                detail: r.detail,
                until_unix_ms: r.until_ms,
                count: r.count,
                limit: r.limit,
                window_secs: r.window_secs,
                consent_entry: r.consent.map(entry_to_api),
            })
            .collect(),
        deciding_rule: d.deciding_rule,
        deciding_channel: d.deciding_channel.map_or(0, Channel::to_proto),
        time_zone: d.time_zone,
        time_zone_source: d.time_zone_source,
        policy_version: policy_version.to_string(),
    };
    let mut out = api::MayContactResponse {
        receipt: Some(receipt),
        ..Default::default()
    };
    match d.verdict {
        Verdict::Allow { channel, .. } => {
            out.verdict = api::Verdict::Allow as i32;
            out.channel = channel.to_proto();
            if let Some(p) = &a.point {
                out.contact_point_id = p.id.clone();
                out.masked_value = p.masked.clone();
                out.sealed = Some(sealed_of(p));
            }
            out.shared = a.shared;
        }
        Verdict::Deny => out.verdict = api::Verdict::Deny as i32,
        Verdict::Defer { until_ms } => {
            out.verdict = api::Verdict::Defer as i32;
            out.allowed_at_unix_ms = until_ms;
        }
    }
    out
}

fn ask_from_api(r: api::MayContactRequest, prefix: &str) -> Result<AskOwned, Status> {
    Ok(AskOwned {
        channels: channels(&format!("{prefix}allowed_channels"), &r.allowed_channels)?,
        client_number: r.client_number,
        purpose: r.purpose,
        action_id: r.action_id,
        at_ms: r.at_unix_ms,
    })
}

fn touch_to_api(t: &Touch) -> api::ContactRecord {
    api::ContactRecord {
        at_unix_ms: t.at_ms,
        channel: t.channel.to_proto(),
        purpose: t.purpose.clone(),
        action_id: t.action_id.clone(),
        outcome: t.outcome.to_proto(),
        contact_point_id: t.point_id.clone(),
        opt_out_keyword: t.keyword.clone(),
        recorded_under: t.number.clone(),
    }
}

fn breakdown(key: &str, c: &crate::service::Counts) -> api::SectorBreakdown {
    let clients = c.clients();
    let active = c.active();
    api::SectorBreakdown {
        key: key.to_string(),
        clients,
        active,
        passive: clients - active,
        sectors: c
            .per_sector
            .iter()
            .map(|(s, n)| api::SectorCount {
                sector: sector_to_proto(*s),
                clients: *n,
            })
            .collect(),
    }
}

#[tonic::async_trait]
impl ChannelService for ChannelsGrpc {
    async fn upsert_contact_point(
        &self,
        request: Request<api::UpsertContactPointRequest>,
    ) -> Result<Response<api::UpsertContactPointResponse>, Status> {
        let caller = authorize(&request, PROFILE)?;
        let r = request.into_inner();
        let ch = channel("channel", r.channel)?;
        // A source system's token writes contact points only as itself.
        if caller.role == Role::Source {
            caller.check_write(&r.source_system)?;
        }
        self.check_issued(&r.client_number).await?;
        let (number, point, created) = self
            .service
            .upsert_point(&r.client_number, ch, &r.value, r.verified, &r.source_system)
            .await?;
        let shared = self.service.is_shared(&point);
        Ok(Response::new(api::UpsertContactPointResponse {
            contact_point: Some(point_to_api(&point, shared)),
            created,
            client_number: number,
        }))
    }

    async fn list_contact_points(
        &self,
        request: Request<api::ListContactPointsRequest>,
    ) -> Result<Response<api::ListContactPointsResponse>, Status> {
        authorize(&request, PROFILE)?;
        let r = request.into_inner();
        let (number, points) = self.service.list_points(&r.client_number)?;
        Ok(Response::new(api::ListContactPointsResponse {
            client_number: number,
            contact_points: points
                .iter()
                .map(|p| point_to_api(p, self.service.is_shared(p)))
                .collect(),
        }))
    }

    async fn set_contact_point_status(
        &self,
        request: Request<api::SetContactPointStatusRequest>,
    ) -> Result<Response<api::SetContactPointStatusResponse>, Status> {
        authorize(&request, PROFILE)?;
        let r = request.into_inner();
        let status = PointStatus::from_proto(r.status).ok_or_else(|| {
            Status::from(Error::invalid("status", "is not a contact point status"))
        })?;
        self.check_issued(&r.client_number).await?;
        let service = self.service.clone();
        let point = blocking(move || {
            service.set_point_status(&r.client_number, &r.contact_point_id, status)
        })
        .await?;
        let shared = self.service.is_shared(&point);
        Ok(Response::new(api::SetContactPointStatusResponse {
            contact_point: Some(point_to_api(&point, shared)),
        }))
    }

    async fn set_preferences(
        &self,
        request: Request<api::SetPreferencesRequest>,
    ) -> Result<Response<api::SetPreferencesResponse>, Status> {
        authorize(&request, PROFILE)?;
        let r = request.into_inner();
        let prefs = prefs_from_api(r.preferences.unwrap_or_default())?;
        self.check_issued(&r.client_number).await?;
        let service = self.service.clone();
        let (number, prefs) = blocking(move || service.set_prefs(&r.client_number, prefs)).await?;
        Ok(Response::new(api::SetPreferencesResponse {
            client_number: number,
            preferences: Some(prefs_to_api(&prefs)),
        }))
    }

    async fn get_preferences(
        &self,
        request: Request<api::GetPreferencesRequest>,
    ) -> Result<Response<api::GetPreferencesResponse>, Status> {
        authorize(&request, PROFILE)?;
        let r = request.into_inner();
        let (number, prefs, hardship) = self.service.get_prefs(&r.client_number)?;
        Ok(Response::new(api::GetPreferencesResponse {
            client_number: number,
            preferences: Some(prefs_to_api(&prefs)),
            hardship,
        }))
    }

    async fn set_hardship(
        &self,
        request: Request<api::SetHardshipRequest>,
    ) -> Result<Response<api::SetHardshipResponse>, Status> {
        authorize(&request, HARDSHIP)?;
        let r = request.into_inner();
        self.check_issued(&r.client_number).await?;
        let service = self.service.clone();
        let number =
            blocking(move || service.set_hardship(&r.client_number, r.hardship, &r.reason_code))
                .await?;
        Ok(Response::new(api::SetHardshipResponse {
            client_number: number,
        }))
    }

    async fn may_contact(
        &self,
        request: Request<api::MayContactRequest>,
    ) -> Result<Response<api::MayContactResponse>, Status> {
        authorize(&request, DECIDE)?;
        let ask = ask_from_api(request.into_inner(), "")?;
        self.service.validate_ask(&ask, "")?;
        let answer = self
            .service
            .may_contact(vec![ask])
            .await?
            .pop()
            .ok_or_else(|| Status::internal("no decision"))?;
        Ok(Response::new(answer_to_api(
            answer,
            &self.service.policy().version,
        )))
    }

    async fn may_contact_batch(
        &self,
        request: Request<api::MayContactBatchRequest>,
    ) -> Result<Response<api::MayContactBatchResponse>, Status> {
        authorize(&request, DECIDE)?;
        let r = request.into_inner();
        if r.requests.len() > self.service.config.max_batch_requests {
            return Err(Error::invalid(
                "requests",
                format!(
                    "more than {} requests",
                    self.service.config.max_batch_requests
                ),
            )
            .into());
        }
        let mut asks = Vec::with_capacity(r.requests.len());
        for (i, q) in r.requests.into_iter().enumerate() {
            let prefix = format!("requests[{i}].");
            let ask = ask_from_api(q, &prefix)?;
            self.service.validate_ask(&ask, &prefix)?;
            asks.push(ask);
        }
        let version = self.service.policy().version.clone();
        let answers = self.service.may_contact(asks).await?;
        Ok(Response::new(api::MayContactBatchResponse {
            responses: answers
                .into_iter()
                .map(|a| answer_to_api(a, &version))
                .collect(),
        }))
    }

    async fn record_contact(
        &self,
        request: Request<api::RecordContactRequest>,
    ) -> Result<Response<api::RecordContactResponse>, Status> {
        authorize(&request, DECIDE)?;
        let r = request.into_inner();
        let ch = channel("channel", r.channel)?;
        let outcome = Outcome::from_proto(r.outcome)
            .ok_or_else(|| Status::from(Error::invalid("outcome", "is not an outcome")))?;
        self.check_issued(&r.client_number).await?;
        let rec = self
            .service
            .record_contact(
                &r.client_number,
                ch,
                &r.purpose,
                &r.action_id,
                outcome,
                &r.inbound_keyword,
                &r.contact_point_id,
                r.at_unix_ms,
            )
            .await?;
        Ok(Response::new(api::RecordContactResponse {
            client_number: rec.client_number,
            recorded: rec.recorded,
            opt_out_keyword: rec.keyword,
            withdrawals: rec.withdrawals.into_iter().map(entry_to_api).collect(),
        }))
    }

    async fn get_contact_history(
        &self,
        request: Request<api::GetContactHistoryRequest>,
    ) -> Result<Response<api::GetContactHistoryResponse>, Status> {
        authorize(&request, HISTORY)?;
        let r = request.into_inner();
        let (number, touches) = self.service.history(&r.client_number, r.since_unix_ms)?;
        Ok(Response::new(api::GetContactHistoryResponse {
            client_number: number,
            records: touches.iter().map(touch_to_api).collect(),
        }))
    }

    async fn get_sector(
        &self,
        request: Request<api::GetSectorRequest>,
    ) -> Result<Response<api::GetSectorResponse>, Status> {
        authorize(&request, SECTOR)?;
        let r = request.into_inner();
        let (number, info, state) = self.service.sector(&r.client_number)?;
        Ok(Response::new(api::GetSectorResponse {
            client_number: number,
            sector: sector_to_proto(info.sector),
            active: info.sector.active(),
            identity: info.identity,
            accessibility: info.accessibility,
            traceability: info.traceability,
            region: state.profile.region.clone(),
            source_systems: state.profile.sources.clone(),
        }))
    }

    async fn sector_report(
        &self,
        request: Request<api::SectorReportRequest>,
    ) -> Result<Response<api::SectorReportResponse>, Status> {
        authorize(&request, REPORT)?;
        let service = self.service.clone();
        let report = tokio::task::spawn_blocking(move || service.sector_report())
            .await
            .map_err(|e| Status::internal(format!("task failed: {e}")))?;
        Ok(Response::new(api::SectorReportResponse {
            total: Some(breakdown("", &report.total)),
            by_region: report
                .by_region
                .iter()
                .map(|(k, c)| breakdown(k, c))
                .collect(),
            by_source_system: report
                .by_source
                .iter()
                .map(|(k, c)| breakdown(k, c))
                .collect(),
            generated_at_unix_ms: now_ms(),
        }))
    }
}

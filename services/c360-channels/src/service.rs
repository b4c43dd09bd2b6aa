//! The channels domain: registry writes, the decision with its inputs
//! gathered (consent from the vault), contact recording, sectors. Knows its
//! peers through their ports: the vault ([`VaultPort`]: consent,
//! withdrawals, sealing) and the resolver ([`ResolverPort`]: the feed's
//! reads, issued numbers).

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use c360_standardise::phone::Phones;

use crate::decide::{self, Ask, Consent, Decision, Verdict};
use crate::model::{Channel, ClientState, ContactPoint, Outcome, PointStatus, Preferences, Touch};
use crate::policy::{Policy, PurposeKind, Scope};
use crate::ports::{ConsentCheck, ConsentEntry, ResolverPort, ToSeal, VaultPort, Withdrawal};
use crate::registry::{self, Registry};
use crate::sector::{self, Sector, SectorInfo};
use crate::value;
use crate::{ChannelsConfig, Error, Result};

pub struct Service {
    pub(crate) registry: Registry,
    pub(crate) config: ChannelsConfig,
    pub(crate) phones: Phones,
    pub(crate) vault: Option<Arc<dyn VaultPort>>,
    pub(crate) resolver: Option<Arc<dyn ResolverPort>>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service").finish_non_exhaustive()
    }
}

/// One may-contact question, owned.
#[derive(Debug, Clone)]
pub struct AskOwned {
    pub client_number: String,
    pub purpose: String,
    pub channels: Vec<Channel>,
    pub action_id: String,
    pub at_ms: i64,
}

/// A decision with what the caller needs to act on it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub client_number: String,
    pub purpose: String,
    pub at_ms: i64,
    pub decision: Decision,
    pub point: Option<ContactPoint>,
    pub shared: bool,
}

/// What RecordContact did.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub client_number: String,
    pub recorded: bool,
    pub keyword: String,
    pub withdrawals: Vec<ConsentEntry>,
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Client numbers are Crockford base32 with a check character; this checks
/// the shape only (the resolver owns the numbering).
pub fn check_number(field: &str, number: &str) -> Result<()> {
    if number.is_empty() {
        return Err(Error::invalid(field, "is required"));
    }
    // The last character is a mod-37 check symbol: a digit, a letter, or
    // one of `* ~ $ =`.
    let bytes = number.as_bytes();
    let (body, check) = bytes.split_at(bytes.len() - 1);
    let plain = |b: &u8| b.is_ascii_digit() || b.is_ascii_uppercase();
    if bytes.len() > 32
        || !body.iter().all(plain)
        || !check
            .iter()
            .all(|b| plain(b) || matches!(b, b'*' | b'~' | b'$' | b'='))
    {
        return Err(Error::invalid(field, "is not a client number"));
    }
    Ok(())
}

/// How far ahead a caller may date a decision or a touch: a year (a
/// campaign planned ahead). Beyond, a time is a mistake (i64::MAX), and the
/// calendar arithmetic of quiet hours and frequency windows would not hold.
const MAX_AHEAD_MS: i64 = 366 * 24 * 3600 * 1000;

/// A time a caller gives: 0 (now) or Unix milliseconds, not negative and at
/// most [`MAX_AHEAD_MS`] ahead of `now`.
fn check_at(field: &str, at_ms: i64, now: i64) -> Result<()> {
    if at_ms < 0 {
        return Err(Error::invalid(field, "is negative"));
    }
    if at_ms > now.saturating_add(MAX_AHEAD_MS) {
        return Err(Error::invalid(field, "is more than a year ahead"));
    }
    Ok(())
}

fn check_label(field: &str, text: &str, required: bool) -> Result<()> {
    if text.is_empty() {
        return if required {
            Err(Error::invalid(field, "is required"))
        } else {
            Ok(())
        };
    }
    if text.len() > 128 || text.chars().any(char::is_control) {
        return Err(Error::invalid(
            field,
            "must be at most 128 printable characters",
        ));
    }
    Ok(())
}

impl Service {
    pub fn policy(&self) -> &Arc<Policy> {
        self.registry.policy()
    }

    fn vault(&self) -> Result<&dyn VaultPort> {
        self.vault
            .as_deref()
            .ok_or_else(|| Error::Unavailable("the vault is not configured".into()))
    }

    fn vault_timeout(&self) -> Duration {
        Duration::from_millis(self.config.vault_timeout_ms.max(1))
    }

    /// Seals values through the vault (one call).
    pub async fn seal(&self, values: Vec<ToSeal>) -> Result<Vec<Vec<u8>>> {
        if values.is_empty() {
            return Ok(Vec::new());
        }
        let n = values.len();
        let call = self.vault()?.seal(values);
        let ciphertexts = tokio::time::timeout(self.vault_timeout(), call)
            .await
            .map_err(|_| Error::Unavailable("the vault did not answer in time".into()))??;
        if ciphertexts.len() != n {
            return Err(Error::Internal(
                "vault returned a wrong number of ciphertexts".into(),
            ));
        }
        Ok(ciphertexts)
    }

    /// Runs a registry write (a durable commit) on the blocking pool.
    async fn write<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&mut registry::PendingChanges<'_>) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.registry.write(f))
            .await
            .map_err(|e| Error::Internal(format!("write task failed: {e}")))?
    }

    pub async fn upsert_point(
        self: &Arc<Self>,
        number: &str,
        channel: Channel,
        raw: &str,
        verified: bool,
        source: &str,
    ) -> Result<(String, ContactPoint, bool)> {
        check_number("client_number", number)?;
        check_label("source_system", source, false)?;
        let source = if source.is_empty() { "api" } else { source };
        let n = value::normalise(&self.phones, self.registry.indexer(), channel, raw, None)
            .map_err(|d| Error::invalid("value", d))?;
        let (survivor, snapshot) = self.registry.snapshot(number);
        let known = snapshot
            .points
            .iter()
            .any(|p| p.channel == channel && p.tag == n.tag);
        let new_point = if known {
            None
        } else {
            let id = self.registry.reserve_point_id();
            let sealed = self
                .seal(vec![ToSeal {
                    client_number: survivor.clone(),
                    record_id: id.clone(),
                    field: registry::field_name(channel),
                    value: n.canonical.clone(),
                }])
                .await?
                .pop()
                .unwrap_or_default();
            Some((id, sealed, survivor.clone()))
        };
        let now = now_ms();
        let owned_number = number.to_string();
        let source = source.to_string();
        let (point, created) = self
            .write(move |tx| {
                // Resolve again: a merge may have happened while sealing.
                let target = tx.resolve(&owned_number);
                let mut state = tx.get_or_new(&target);
                let Some((id, created)) = registry::upsert_point(
                    &mut state,
                    channel,
                    n.tag,
                    &n.masked,
                    n.calling_code,
                    new_point,
                    verified,
                    &source,
                    None,
                    now,
                ) else {
                    return Err(Error::Unavailable(
                        "the contact point changed meanwhile; retry".into(),
                    ));
                };
                let point = state
                    .point(&id)
                    .cloned()
                    .ok_or_else(|| Error::Internal("point vanished".into()))?;
                tx.put(state);
                Ok((point, created))
            })
            .await?;
        Ok((self.registry.snapshot(number).0, point, created))
    }

    pub fn list_points(&self, number: &str) -> Result<(String, Vec<ContactPoint>)> {
        check_number("client_number", number)?;
        let (survivor, state) = self.registry.snapshot(number);
        Ok((survivor, state.points.clone()))
    }

    pub fn is_shared(&self, point: &ContactPoint) -> bool {
        self.registry.is_shared(&point.tag)
    }

    pub fn set_point_status(
        &self,
        number: &str,
        id: &str,
        status: PointStatus,
    ) -> Result<ContactPoint> {
        check_number("client_number", number)?;
        check_label("contact_point_id", id, true)?;
        let now = now_ms();
        self.registry.write(|tx| {
            let target = tx.resolve(number);
            let mut state = tx
                .get(&target)
                .ok_or_else(|| Error::NotFound(format!("client {number}")))?;
            let p = state
                .points
                .iter_mut()
                .find(|p| p.id == id)
                .ok_or_else(|| Error::NotFound(format!("contact point {id}")))?;
            p.status = status;
            p.status_changed_ms = now;
            let out = p.clone();
            tx.put(state);
            Ok(out)
        })
    }

    pub fn validate_prefs(&self, prefs: &Preferences) -> Result<()> {
        for (purpose, _) in &prefs.preferred {
            if self.policy().purpose(purpose).is_none() {
                return Err(Error::invalid(
                    "preferences.preferred_channels",
                    "names a purpose not in the contact policy",
                ));
            }
        }
        if !prefs.time_zone.is_empty() && jiff::tz::TimeZone::get(&prefs.time_zone).is_err() {
            return Err(Error::invalid(
                "preferences.time_zone",
                "is not an IANA time zone",
            ));
        }
        let lang_ok = prefs.language.len() <= 35
            && prefs
                .language
                .split('-')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric()));
        if !prefs.language.is_empty() && !lang_ok {
            return Err(Error::invalid(
                "preferences.language",
                "is not a BCP 47 tag",
            ));
        }
        Ok(())
    }

    pub fn set_prefs(&self, number: &str, mut prefs: Preferences) -> Result<(String, Preferences)> {
        check_number("client_number", number)?;
        self.validate_prefs(&prefs)?;
        prefs.updated_ms = now_ms();
        prefs.preferred.sort();
        prefs.do_not_contact_channels.sort();
        prefs.do_not_contact_channels.dedup();
        self.registry.write(|tx| {
            let target = tx.resolve(number);
            let s = registry::set_prefs(tx, &target, prefs);
            Ok((target, s.prefs))
        })
    }

    pub fn get_prefs(&self, number: &str) -> Result<(String, Preferences, bool)> {
        check_number("client_number", number)?;
        let (survivor, s) = self.registry.snapshot(number);
        Ok((survivor, s.prefs.clone(), s.hardship))
    }

    pub fn set_hardship(&self, number: &str, hardship: bool, reason: &str) -> Result<String> {
        check_number("client_number", number)?;
        check_label("reason_code", reason, false)?;
        self.registry.write(|tx| {
            let target = tx.resolve(number);
            let mut s = tx.get_or_new(&target);
            s.hardship = hardship;
            s.hardship_reason = if hardship {
                reason.to_string()
            } else {
                String::new()
            };
            tx.put(s);
            Ok(target)
        })
    }

    pub fn validate_ask(&self, ask: &AskOwned, field_prefix: &str) -> Result<()> {
        check_number(&format!("{field_prefix}client_number"), &ask.client_number)?;
        check_label(&format!("{field_prefix}purpose"), &ask.purpose, true)?;
        check_label(&format!("{field_prefix}action_id"), &ask.action_id, false)?;
        check_at(&format!("{field_prefix}at_unix_ms"), ask.at_ms, now_ms())
    }

    /// Consent answers for (survivor, purpose, channel) triples, one vault
    /// call. Failures become `Unavailable` answers (the decision defers).
    async fn consents(&self, checks: Vec<(String, String, Channel, i64)>) -> Vec<Consent> {
        if checks.is_empty() {
            return Vec::new();
        }
        let unavailable = |reason: &str| {
            checks
                .iter()
                .map(|_| Consent::Unavailable {
                    reason: reason.to_string(),
                })
                .collect::<Vec<_>>()
        };
        let Some(vault) = self.vault.as_deref() else {
            return unavailable("vault not configured");
        };
        let questions = checks
            .iter()
            .map(|(n, p, c, at)| ConsentCheck {
                client_number: n.clone(),
                purpose: p.clone(),
                channel: *c,
                at_ms: *at,
            })
            .collect();
        let answers =
            match tokio::time::timeout(self.vault_timeout(), vault.check_consents(questions)).await
            {
                Err(_) => return unavailable("vault timed out"),
                Ok(Err(error)) => {
                    tracing::warn!(%error, "consent check failed; deciding closed");
                    return unavailable("vault error");
                }
                Ok(Ok(answers)) => answers,
            };
        if answers.len() != checks.len() {
            return unavailable("vault answered a wrong number of checks");
        }
        answers
            .into_iter()
            .map(|r| {
                if r.allowed {
                    Consent::Granted {
                        entry: r.deciding_entry,
                        reason: r.reason,
                    }
                } else {
                    Consent::Refused {
                        entry: r.deciding_entry,
                        reason: r.reason,
                    }
                }
            })
            .collect()
    }

    /// Decides each ask. Asks for the same client are decided in purpose
    /// priority order (then request order), each ALLOW counting as a touch
    /// for the following ones; answers come back in request order.
    pub async fn may_contact(&self, asks: Vec<AskOwned>) -> Result<Vec<Answer>> {
        let policy = self.policy().clone();
        let now = now_ms();
        let snapshots: Vec<(String, Arc<ClientState>)> = asks
            .iter()
            .map(|a| self.registry.snapshot(&a.client_number))
            .collect();
        let at_of = |a: &AskOwned| if a.at_ms == 0 { now } else { a.at_ms };

        // One consent round trip for every channel any ask may need.
        let mut checks = Vec::new();
        let mut check_index: Vec<Vec<(Channel, usize)>> = Vec::with_capacity(asks.len());
        for (a, (survivor, state)) in asks.iter().zip(&snapshots) {
            let ask = Ask {
                purpose: &a.purpose,
                channels: &a.channels,
                action_id: &a.action_id,
                at_ms: at_of(a),
            };
            let mut mine = Vec::new();
            for c in decide::consent_channels(&policy, state, &ask) {
                mine.push((c, checks.len()));
                checks.push((survivor.clone(), a.purpose.clone(), c, at_of(a)));
            }
            check_index.push(mine);
        }
        let answers = self.consents(checks).await;

        let mut order: Vec<usize> = (0..asks.len()).collect();
        let priority = |i: usize| policy.purpose(&asks[i].purpose).map_or(0, |p| p.priority);
        order.sort_by(|&a, &b| {
            snapshots[a]
                .0
                .cmp(&snapshots[b].0)
                .then(priority(b).cmp(&priority(a)))
                .then(a.cmp(&b))
        });
        let mut working: HashMap<String, ClientState> = HashMap::new();
        let mut out: Vec<Option<Answer>> = vec![None; asks.len()];
        for i in order {
            let a = &asks[i];
            let (survivor, snapshot) = &snapshots[i];
            let state: &ClientState = working.get(survivor).unwrap_or(snapshot);
            let consents: BTreeMap<Channel, Consent> = check_index[i]
                .iter()
                .map(|(c, k)| {
                    (
                        *c,
                        answers.get(*k).cloned().unwrap_or(Consent::Unavailable {
                            reason: "missing".into(),
                        }),
                    )
                })
                .collect();
            let ask = Ask {
                purpose: &a.purpose,
                channels: &a.channels,
                action_id: &a.action_id,
                at_ms: at_of(a),
            };
            let decision = decide::decide(&policy, state, &ask, &consents);
            let point = match &decision.verdict {
                Verdict::Allow { point_id, .. } => state.point(point_id).cloned(),
                _ => None,
            };
            if let Verdict::Allow { channel, point_id } = &decision.verdict
                && asks.len() > 1
            {
                let touch = Touch {
                    at_ms: ask.at_ms,
                    channel: *channel,
                    purpose: a.purpose.clone(),
                    action_id: a.action_id.clone(),
                    outcome: Outcome::Delivered,
                    point_id: point_id.clone(),
                    keyword: String::new(),
                    number: survivor.clone(),
                };
                working
                    .entry(survivor.clone())
                    .or_insert_with(|| (**snapshot).clone())
                    .push_touch(touch);
            }
            let shared = point
                .as_ref()
                .is_some_and(|p| self.registry.is_shared(&p.tag));
            out[i] = Some(Answer {
                client_number: survivor.clone(),
                purpose: a.purpose.clone(),
                at_ms: ask.at_ms,
                decision,
                point,
                shared,
            });
        }
        out.into_iter()
            .map(|a| a.ok_or_else(|| Error::Internal("an ask was not decided".into())))
            .collect()
    }

    /// Logs a touch; an opt-out (keyword or OPTED_OUT) first withdraws
    /// consent in the vault, and nothing is recorded if that fails (the
    /// caller retries: an opt-out is never lost). The withdrawal is filed
    /// under the number and records of the named contact point (else the
    /// number named), so that a split keeps it with whoever said it.
    #[allow(clippy::too_many_arguments)]
    pub async fn record_contact(
        self: &Arc<Self>,
        number: &str,
        channel: Channel,
        purpose: &str,
        action_id: &str,
        outcome: Outcome,
        inbound: &str,
        point_id: &str,
        at_ms: i64,
    ) -> Result<Recorded> {
        check_number("client_number", number)?;
        check_label("purpose", purpose, true)?;
        check_label("action_id", action_id, false)?;
        check_label("contact_point_id", point_id, false)?;
        if inbound.len() > 1024 {
            return Err(Error::invalid(
                "inbound_keyword",
                "is longer than 1024 bytes",
            ));
        }
        check_at("at_unix_ms", at_ms, now_ms())?;
        let policy = self.policy().clone();
        let at = if at_ms == 0 { now_ms() } else { at_ms };
        let (survivor, snapshot) = self.registry.snapshot(number);

        let matched = policy.match_keyword(inbound);
        let scope = match (matched, outcome) {
            (Some((_, spec)), _) => Some((spec.channels, spec.purposes)),
            (None, Outcome::OptedOut) => Some((Scope::This, Scope::This)),
            (None, _) => None,
        };
        let keyword = matched.map(|(k, _)| k.to_string()).unwrap_or_default();
        // The point the contact went through, when named: checked before
        // anything is written.
        let named_point = if point_id.is_empty() {
            None
        } else {
            Some(
                snapshot
                    .point(point_id)
                    .ok_or_else(|| Error::NotFound(format!("contact point {point_id}")))?,
            )
        };
        // An opt-out belongs to whoever said it: the number and records the
        // point came from (a phone read from B's record after B was merged
        // into A is B's), else the number the caller named, never the
        // survivor it resolves to. A later split then keeps it with them.
        let (opt_out_number, opt_out_records) = match named_point {
            Some(p) if !p.bound_client.is_empty() => (p.bound_client.clone(), p.record_ids.clone()),
            Some(p) => (number.to_string(), p.record_ids.clone()),
            None => (number.to_string(), Vec::new()),
        };
        let mut withdrawals = Vec::new();
        if let Some((channels, purposes)) = scope {
            let channel_name = match channels {
                Scope::This => channel.as_str().to_string(),
                Scope::All => String::new(),
            };
            let purposes: Vec<String> = match purposes {
                Scope::This => vec![purpose.to_string()],
                Scope::All => policy
                    .purposes
                    .iter()
                    .filter(|(_, p)| p.kind != PurposeKind::Transactional)
                    .map(|(n, _)| n.clone())
                    .collect(),
            };
            let vault = self.vault()?;
            for p in purposes {
                let withdrawal = Withdrawal {
                    client_number: opt_out_number.clone(),
                    purpose: p,
                    channel: channel_name.clone(),
                    evidence_ref: format!(
                        "c360-channels:inbound:{}:{}:{at}",
                        channel.as_str(),
                        if keyword.is_empty() {
                            "OPTED_OUT"
                        } else {
                            &keyword
                        }
                    ),
                    captured_at_ms: at,
                    record_ids: opt_out_records.clone(),
                };
                let entry = tokio::time::timeout(self.vault_timeout(), vault.withdraw(withdrawal))
                    .await
                    .map_err(|_| {
                        Error::Unavailable("the vault did not answer in time; retry".into())
                    })??;
                withdrawals.extend(entry);
            }
        }

        let point_used = match named_point {
            Some(p) => p.id.clone(),
            None => decide::best_point(&snapshot, channel)
                .map(|p| p.id.clone())
                .unwrap_or_default(),
        };
        let touch = Touch {
            at_ms: at,
            channel,
            purpose: purpose.to_string(),
            action_id: action_id.to_string(),
            outcome,
            point_id: point_used.clone(),
            keyword: keyword.clone(),
            number: number.to_string(),
        };
        let cutoff = now_ms().saturating_sub(policy.retention_ms());
        let owned_number = number.to_string();
        let recorded = self
            .write(move |tx| {
                let target = tx.resolve(&owned_number);
                let mut s = tx.get_or_new(&target);
                let duplicate = s.history.iter().any(|t| {
                    t.at_ms == touch.at_ms
                        && t.channel == touch.channel
                        && t.purpose == touch.purpose
                        && t.action_id == touch.action_id
                        && t.outcome == touch.outcome
                        && t.point_id == touch.point_id
                });
                if duplicate {
                    return Ok(false);
                }
                if outcome == Outcome::Bounced
                    && let Some(p) = s.points.iter_mut().find(|p| p.id == point_used)
                {
                    p.status = PointStatus::Bounced;
                    p.status_changed_ms = at;
                }
                s.push_touch(touch);
                s.prune_history(cutoff);
                tx.put(s);
                Ok(true)
            })
            .await?;
        Ok(Recorded {
            client_number: survivor,
            recorded,
            keyword,
            withdrawals,
        })
    }

    pub fn history(&self, number: &str, since_ms: i64) -> Result<(String, Vec<Touch>)> {
        check_number("client_number", number)?;
        let (survivor, s) = self.registry.snapshot(number);
        Ok((
            survivor,
            s.history
                .iter()
                .filter(|t| t.at_ms >= since_ms)
                .cloned()
                .collect(),
        ))
    }

    pub fn sector(&self, number: &str) -> Result<(String, SectorInfo, Arc<ClientState>)> {
        check_number("client_number", number)?;
        let (survivor, s) = self.registry.snapshot(number);
        if !self.registry.exists(&survivor) {
            return Err(Error::NotFound(format!("client {number}")));
        }
        Ok((survivor, sector::classify(&s), s))
    }

    /// Counts per sector: in total, per region, per source system.
    pub fn sector_report(&self) -> SectorReport {
        let mut report = SectorReport::default();
        for s in self.registry.all() {
            let info = sector::classify(&s);
            report.total.add(info.sector);
            let region = if s.profile.region.is_empty() {
                "unknown"
            } else {
                &s.profile.region
            };
            report
                .by_region
                .entry(region.to_string())
                .or_default()
                .add(info.sector);
            if s.profile.sources.is_empty() {
                report
                    .by_source
                    .entry("unknown".to_string())
                    .or_default()
                    .add(info.sector);
            }
            for src in &s.profile.sources {
                report
                    .by_source
                    .entry(src.clone())
                    .or_default()
                    .add(info.sector);
            }
        }
        report
    }
}

#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub per_sector: BTreeMap<Sector, u64>,
}

impl Counts {
    fn add(&mut self, s: Sector) {
        *self.per_sector.entry(s).or_default() += 1;
    }

    pub fn clients(&self) -> u64 {
        self.per_sector.values().sum()
    }

    pub fn active(&self) -> u64 {
        self.per_sector
            .iter()
            .filter(|(s, _)| s.active())
            .map(|(_, n)| n)
            .sum()
    }
}

#[derive(Debug, Clone, Default)]
pub struct SectorReport {
    pub total: Counts,
    pub by_region: BTreeMap<String, Counts>,
    pub by_source: BTreeMap<String, Counts>,
}

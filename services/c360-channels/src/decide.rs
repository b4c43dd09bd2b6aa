//! The may-I-contact decision, as a pure function of the policy, the
//! client's state, the consent answers and the time. No I/O: the gRPC layer
//! gathers the inputs (the consent answers come from the vault) and calls
//! [`decide`].
//!
//! Order of evaluation (a DENY about the client stops there; channel rules
//! are evaluated for each candidate channel, the preferred one first):
//!
//! | rule | scope | outcome |
//! |---|---|---|
//! | `purpose` | client | DENY when the purpose is not in the policy |
//! | `do_not_contact` | client | DENY (every purpose, service included) |
//! | `hardship` | client | DENY for sales purposes while flagged |
//! | `action_dedup` | client | DENY when the action id was delivered on any channel |
//! | `time_zone` | client | DENY when no zone is known and quiet hours apply |
//! | `min_gap` | client | DEFER until the last capped touch + gap |
//! | `channel_do_not_contact` | channel | DENY |
//! | `reachability` | channel | DENY without an active contact point |
//! | `quiet_hours` | channel | DEFER until they end (not transactional, not exempt channels) |
//! | `consent` | channel | DENY when refused; DEFER when the vault did not answer |
//! | `cap:<name>` | channel | DEFER until enough touches leave the rolling window |
//!
//! The first channel with no DENY or DEFER is chosen (ALLOW). Otherwise, if
//! every channel is denied, DENY; else DEFER until the earliest time one
//! channel clears every time-bound rule (computed to a fixed point: the end
//! of quiet hours may fall inside a cap window, and so on).

use std::collections::BTreeMap;

use crate::model::{Channel, ClientState, ContactPoint, Outcome, PointStatus};
use crate::policy::{Policy, PurposeKind};
use crate::ports::ConsentEntry;
use crate::zone::{self, ClientZone};

/// What is asked.
#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub purpose: &'a str,
    /// Channels the caller can use; empty: every channel.
    pub channels: &'a [Channel],
    pub action_id: &'a str,
    pub at_ms: i64,
}

/// The vault's answer for one channel.
#[derive(Debug, Clone)]
pub enum Consent {
    Granted {
        entry: Option<ConsentEntry>,
        reason: String,
    },
    Refused {
        entry: Option<ConsentEntry>,
        reason: String,
    },
    /// The vault did not answer (or is not configured).
    Unavailable { reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuleOutcome {
    Pass,
    Deny,
    Defer,
    NotApplicable,
}

/// One rule as evaluated.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleResult {
    pub rule: String,
    pub channel: Option<Channel>,
    pub outcome: RuleOutcome,
    pub detail: String,
    pub until_ms: i64,
    pub count: u64,
    pub limit: u64,
    pub window_secs: i64,
    pub consent: Option<ConsentEntry>,
}

impl RuleResult {
    fn new(
        rule: &str,
        channel: Option<Channel>,
        outcome: RuleOutcome,
        detail: impl Into<String>,
    ) -> Self {
        RuleResult {
            rule: rule.to_string(),
            channel,
            outcome,
            detail: detail.into(),
            until_ms: 0,
            count: 0,
            limit: 0,
            window_secs: 0,
            consent: None,
        }
    }

    fn defer(
        rule: &str,
        channel: Option<Channel>,
        until_ms: i64,
        detail: impl Into<String>,
    ) -> Self {
        RuleResult {
            until_ms,
            ..RuleResult::new(rule, channel, RuleOutcome::Defer, detail)
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Allow { channel: Channel, point_id: String },
    Deny,
    Defer { until_ms: i64 },
}

#[derive(Debug, Clone)]
pub struct Decision {
    pub verdict: Verdict,
    pub rules: Vec<RuleResult>,
    pub deciding_rule: String,
    pub deciding_channel: Option<Channel>,
    pub time_zone: String,
    pub time_zone_source: String,
}

impl Decision {
    fn deny_by(rules: Vec<RuleResult>, zone: (String, String)) -> Decision {
        let decider = rules
            .iter()
            .find(|r| r.outcome == RuleOutcome::Deny)
            .map(|r| (r.rule.clone(), r.channel))
            .unwrap_or_else(|| ("reachability".to_string(), None));
        Decision {
            verdict: Verdict::Deny,
            rules,
            deciding_rule: decider.0,
            deciding_channel: decider.1,
            time_zone: zone.0,
            time_zone_source: zone.1,
        }
    }
}

const DAY_MS: i64 = 86_400_000;

/// The candidate channels in the order they are considered: the client's
/// preferred channel for the purpose first (when allowed), then the
/// caller's order (or the canonical order when the caller allowed all).
pub fn candidates(client: &ClientState, ask: &Ask<'_>) -> Vec<Channel> {
    let mut out: Vec<Channel> = Vec::with_capacity(Channel::ALL.len());
    let allowed: &[Channel] = if ask.channels.is_empty() {
        &Channel::ALL
    } else {
        ask.channels
    };
    if let Some(p) = client.prefs.preferred_for(ask.purpose)
        && allowed.contains(&p)
    {
        out.push(p);
    }
    for c in allowed {
        if !out.contains(c) {
            out.push(*c);
        }
    }
    out
}

/// The point a channel would use: active points of that type (a voice line
/// also serves the call centre), verified first, then the most recently
/// confirmed.
pub fn best_point(client: &ClientState, channel: Channel) -> Option<&ContactPoint> {
    let serves = |p: &ContactPoint| {
        p.channel == channel || (channel == Channel::CallCentre && p.channel == Channel::Voice)
    };
    client
        .points
        .iter()
        .filter(|p| p.status == PointStatus::Active && serves(p))
        .max_by_key(|p| (p.channel == channel, p.verified, p.last_confirmed_ms))
}

/// The channels whose consent the decision will need: candidates that pass
/// the client rules that can deny, do-not-contact and reachability. Empty
/// when the answer is a DENY whatever the consent.
pub fn consent_channels(policy: &Policy, client: &ClientState, ask: &Ask<'_>) -> Vec<Channel> {
    let Some(purpose) = policy.purpose(ask.purpose) else {
        return Vec::new();
    };
    if client.prefs.do_not_contact
        || (purpose.kind == PurposeKind::Sales && client.hardship)
        || delivered_action(policy, client, ask).is_some()
    {
        return Vec::new();
    }
    candidates(client, ask)
        .into_iter()
        .filter(|c| !client.prefs.do_not_contact_channels.contains(c))
        .filter(|c| best_point(client, *c).is_some())
        .collect()
}

fn delivered_action<'c>(
    policy: &Policy,
    client: &'c ClientState,
    ask: &Ask<'_>,
) -> Option<&'c crate::model::Touch> {
    if ask.action_id.is_empty() {
        return None;
    }
    let window = i64::try_from(policy.action_dedup_days).unwrap_or(i64::MAX / DAY_MS) * DAY_MS;
    client.history.iter().find(|t| {
        t.outcome == Outcome::Delivered
            && t.action_id == ask.action_id
            && t.at_ms > ask.at_ms.saturating_sub(window)
    })
}

/// Whether a touch of `purpose` counts toward caps and the gap (a purpose
/// no longer in the policy counts: fail closed).
fn counts(policy: &Policy, purpose: &str) -> bool {
    policy.purpose(purpose).is_none_or(|p| p.kind.capped())
}

fn min_gap_rule(policy: &Policy, client: &ClientState, kind: PurposeKind, t: i64) -> RuleResult {
    if !kind.capped() || policy.min_gap_secs == 0 {
        return RuleResult::new(
            "min_gap",
            None,
            RuleOutcome::NotApplicable,
            "purpose exempt or no gap",
        );
    }
    let gap_ms = i64::try_from(policy.min_gap_secs).unwrap_or(i64::MAX / 1000) * 1000;
    let last = client
        .history
        .iter()
        .rev()
        .filter(|h| h.at_ms <= t)
        .find(|h| h.outcome == Outcome::Delivered && counts(policy, &h.purpose));
    match last {
        Some(h) if t < h.at_ms + gap_ms => RuleResult::defer(
            "min_gap",
            None,
            h.at_ms + gap_ms,
            format!(
                "last touch on {} less than {} s ago",
                h.channel, policy.min_gap_secs
            ),
        ),
        _ => RuleResult::new(
            "min_gap",
            None,
            RuleOutcome::Pass,
            format!("no touch in the last {} s", policy.min_gap_secs),
        ),
    }
}

fn quiet_rule(
    policy: &Policy,
    client: &ClientState,
    zone: Option<&ClientZone>,
    kind: PurposeKind,
    channel: Channel,
    t: i64,
) -> RuleResult {
    if kind == PurposeKind::Transactional {
        return RuleResult::new(
            "quiet_hours",
            Some(channel),
            RuleOutcome::NotApplicable,
            "transactional purpose",
        );
    }
    if policy.quiet_hours_exempt_channels.contains(&channel) {
        return RuleResult::new(
            "quiet_hours",
            Some(channel),
            RuleOutcome::NotApplicable,
            "channel exempt",
        );
    }
    let Some(q) = client
        .prefs
        .quiet_hours
        .or_else(|| policy.default_quiet_hours())
    else {
        return RuleResult::new(
            "quiet_hours",
            Some(channel),
            RuleOutcome::Pass,
            "no quiet hours",
        );
    };
    let Some(zone) = zone else {
        // Unreachable: the time_zone rule denies first.
        return RuleResult::new(
            "quiet_hours",
            Some(channel),
            RuleOutcome::Deny,
            "time zone unknown",
        );
    };
    let local = zone::local_hhmm(&zone.tz, t);
    match zone::quiet_until(&q, &zone.tz, t) {
        Some(until) => RuleResult::defer(
            "quiet_hours",
            Some(channel),
            until,
            format!("{local} local is within {q} {}", zone.name),
        ),
        None => RuleResult::new(
            "quiet_hours",
            Some(channel),
            RuleOutcome::Pass,
            format!("{local} local is outside {q} {}", zone.name),
        ),
    }
}

fn cap_rules(
    policy: &Policy,
    client: &ClientState,
    ask: &Ask<'_>,
    kind: PurposeKind,
    channel: Channel,
    t: i64,
) -> Vec<RuleResult> {
    let mut out = Vec::with_capacity(policy.caps.len());
    for cap in &policy.caps {
        let rule = format!("cap:{}", cap.name);
        let window_secs = i64::try_from(cap.window_secs).unwrap_or(i64::MAX / 1000);
        if !kind.capped() || !cap.applies(channel, ask.purpose) {
            let mut r = RuleResult::new(
                &rule,
                Some(channel),
                RuleOutcome::NotApplicable,
                "not counted for this purpose or channel",
            );
            r.limit = u64::from(cap.max);
            r.window_secs = window_secs;
            out.push(r);
            continue;
        }
        let window_ms = window_secs * 1000;
        let from = t.saturating_sub(window_ms);
        let touches: Vec<i64> = client
            .history
            .iter()
            .filter(|h| h.at_ms > from && h.at_ms <= t)
            .filter(|h| h.outcome == Outcome::Delivered && counts(policy, &h.purpose))
            .filter(|h| cap.applies(h.channel, &h.purpose))
            .map(|h| h.at_ms)
            .collect();
        let count = touches.len() as u64;
        let max = u64::from(cap.max);
        let detail = format!("{count} of {max} in {} s", cap.window_secs);
        let mut r = if count >= max {
            // The history is in time order: the (count - max)-th oldest
            // touch leaving the window frees one slot.
            let k = touches.len() - cap.max as usize;
            RuleResult::defer(&rule, Some(channel), touches[k] + window_ms, detail)
        } else {
            RuleResult::new(&rule, Some(channel), RuleOutcome::Pass, detail)
        };
        r.count = count;
        r.limit = max;
        r.window_secs = window_secs;
        out.push(r);
    }
    out
}

fn consent_rule(
    policy: &Policy,
    consent: Option<&Consent>,
    channel: Channel,
    at: i64,
) -> RuleResult {
    let retry_ms = i64::try_from(policy.consent_retry_secs).unwrap_or(i64::MAX / 1000) * 1000;
    match consent {
        Some(Consent::Granted { entry, reason }) => RuleResult {
            consent: entry.clone(),
            ..RuleResult::new("consent", Some(channel), RuleOutcome::Pass, reason.clone())
        },
        Some(Consent::Refused { entry, reason }) => RuleResult {
            consent: entry.clone(),
            ..RuleResult::new("consent", Some(channel), RuleOutcome::Deny, reason.clone())
        },
        Some(Consent::Unavailable { reason }) => RuleResult::defer(
            "consent",
            Some(channel),
            at + retry_ms,
            format!("consent not confirmed ({reason}): fails closed"),
        ),
        None => RuleResult::defer(
            "consent",
            Some(channel),
            at + retry_ms,
            "consent not checked: fails closed",
        ),
    }
}

/// The time-bound rules of one channel at `t` (consent only blocks until
/// its retry time).
#[allow(clippy::too_many_arguments)]
fn time_rules(
    policy: &Policy,
    client: &ClientState,
    ask: &Ask<'_>,
    zone: Option<&ClientZone>,
    kind: PurposeKind,
    channel: Channel,
    consent: &RuleResult,
    t: i64,
) -> Vec<RuleResult> {
    let mut rules = vec![quiet_rule(policy, client, zone, kind, channel, t)];
    if consent.outcome == RuleOutcome::Defer && t < consent.until_ms {
        rules.push(consent.clone());
    }
    rules.extend(cap_rules(policy, client, ask, kind, channel, t));
    rules
}

fn latest_defer(rules: &[RuleResult]) -> Option<&RuleResult> {
    rules
        .iter()
        .filter(|r| r.outcome == RuleOutcome::Defer)
        .max_by_key(|r| r.until_ms)
}

/// Decides. `consents` holds the vault's answer for each channel that
/// [`consent_channels`] named; a missing answer fails closed (DEFER).
pub fn decide(
    policy: &Policy,
    client: &ClientState,
    ask: &Ask<'_>,
    consents: &BTreeMap<Channel, Consent>,
) -> Decision {
    let at = ask.at_ms;
    let mut rules: Vec<RuleResult> = Vec::new();
    let no_zone = (String::new(), String::new());

    let Some(purpose) = policy.purpose(ask.purpose) else {
        rules.push(RuleResult::new(
            "purpose",
            None,
            RuleOutcome::Deny,
            "purpose not in the contact policy",
        ));
        return Decision::deny_by(rules, no_zone);
    };
    let kind = purpose.kind;
    rules.push(RuleResult::new(
        "purpose",
        None,
        RuleOutcome::Pass,
        format!("{kind:?} purpose").to_lowercase(),
    ));

    if client.prefs.do_not_contact {
        rules.push(RuleResult::new(
            "do_not_contact",
            None,
            RuleOutcome::Deny,
            "client is on the do-not-contact list",
        ));
        return Decision::deny_by(rules, no_zone);
    }
    rules.push(RuleResult::new(
        "do_not_contact",
        None,
        RuleOutcome::Pass,
        "not on the do-not-contact list",
    ));

    rules.push(match (kind, client.hardship) {
        (PurposeKind::Sales, true) => {
            rules.push(RuleResult::new(
                "hardship",
                None,
                RuleOutcome::Deny,
                "no sales purpose while in payment difficulty",
            ));
            return Decision::deny_by(rules, no_zone);
        }
        (PurposeKind::Sales, false) => RuleResult::new(
            "hardship",
            None,
            RuleOutcome::Pass,
            "not in payment difficulty",
        ),
        _ => RuleResult::new(
            "hardship",
            None,
            RuleOutcome::NotApplicable,
            "not a sales purpose",
        ),
    });

    match delivered_action(policy, client, ask) {
        Some(t) => {
            rules.push(RuleResult::new(
                "action_dedup",
                Some(t.channel),
                RuleOutcome::Deny,
                format!("action already delivered on {}", t.channel),
            ));
            return Decision::deny_by(rules, no_zone);
        }
        None if ask.action_id.is_empty() => rules.push(RuleResult::new(
            "action_dedup",
            None,
            RuleOutcome::NotApplicable,
            "no action id",
        )),
        None => rules.push(RuleResult::new(
            "action_dedup",
            None,
            RuleOutcome::Pass,
            "action not delivered yet",
        )),
    }

    let channels = candidates(client, ask);
    // The zone matters only if a channel subject to quiet hours could be
    // used at all.
    let quiet_applies = kind != PurposeKind::Transactional
        && channels.iter().any(|c| {
            !policy.quiet_hours_exempt_channels.contains(c)
                && !client.prefs.do_not_contact_channels.contains(c)
                && best_point(client, *c).is_some()
        });
    let zone = match zone::client_zone(policy, client) {
        Ok(z) => {
            rules.push(RuleResult::new(
                "time_zone",
                None,
                RuleOutcome::Pass,
                format!("{} ({})", z.name, z.source),
            ));
            Some(z)
        }
        Err(why) if quiet_applies => {
            rules.push(RuleResult::new(
                "time_zone",
                None,
                RuleOutcome::Deny,
                format!("{why}: fails closed"),
            ));
            return Decision::deny_by(rules, no_zone);
        }
        Err(why) => {
            rules.push(RuleResult::new(
                "time_zone",
                None,
                RuleOutcome::NotApplicable,
                why,
            ));
            None
        }
    };
    let zone_names = zone
        .as_ref()
        .map(|z| (z.name.clone(), z.source.to_string()))
        .unwrap_or_default();

    let gap = min_gap_rule(policy, client, kind, at);
    let gap_defer = (gap.outcome == RuleOutcome::Defer).then(|| gap.clone());
    rules.push(gap);

    // Per channel: permanent rules, then time-bound ones.
    let mut allowed: Option<(Channel, String)> = None;
    let mut deferred: Vec<(Channel, i64, RuleResult)> = Vec::new();
    for &channel in &channels {
        if client.prefs.do_not_contact_channels.contains(&channel) {
            rules.push(RuleResult::new(
                "channel_do_not_contact",
                Some(channel),
                RuleOutcome::Deny,
                "client refuses this channel",
            ));
            continue;
        }
        rules.push(RuleResult::new(
            "channel_do_not_contact",
            Some(channel),
            RuleOutcome::Pass,
            "channel not refused",
        ));
        let Some(point) = best_point(client, channel) else {
            rules.push(RuleResult::new(
                "reachability",
                Some(channel),
                RuleOutcome::Deny,
                "no active contact point",
            ));
            continue;
        };
        rules.push(RuleResult::new(
            "reachability",
            Some(channel),
            RuleOutcome::Pass,
            format!(
                "contact point {}{}",
                point.id,
                if point.verified { " (verified)" } else { "" }
            ),
        ));
        let consent = consent_rule(policy, consents.get(&channel), channel, at);
        let consent_denied = consent.outcome == RuleOutcome::Deny;
        rules.push(consent.clone());
        let now_rules = time_rules(
            policy,
            client,
            ask,
            zone.as_ref(),
            kind,
            channel,
            &consent,
            at,
        );
        let mut blockers: Vec<RuleResult> = now_rules
            .iter()
            .filter(|r| r.outcome == RuleOutcome::Defer && r.rule != "consent")
            .cloned()
            .collect();
        rules.extend(now_rules.into_iter().filter(|r| r.rule != "consent"));
        if consent_denied {
            continue;
        }
        if consent.outcome == RuleOutcome::Defer {
            blockers.push(consent.clone());
        }
        if let Some(g) = &gap_defer {
            blockers.push(g.clone());
        }
        if blockers.is_empty() {
            if allowed.is_none() {
                allowed = Some((channel, point.id.clone()));
            }
            continue;
        }
        // The earliest time every time-bound rule clears, to a fixed point.
        let mut t = latest_defer(&blockers).map_or(at, |r| r.until_ms);
        for _ in 0..32 {
            let mut again = time_rules(
                policy,
                client,
                ask,
                zone.as_ref(),
                kind,
                channel,
                &consent,
                t,
            );
            again.push(min_gap_rule(policy, client, kind, t));
            match latest_defer(&again) {
                Some(r) if r.until_ms > t => t = r.until_ms,
                _ => break,
            }
        }
        let decider = latest_defer(&blockers)
            .cloned()
            .unwrap_or_else(|| consent.clone());
        deferred.push((channel, t, decider));
    }

    if let Some((channel, point_id)) = allowed {
        return Decision {
            verdict: Verdict::Allow { channel, point_id },
            rules,
            deciding_rule: "allow".to_string(),
            deciding_channel: Some(channel),
            time_zone: zone_names.0,
            time_zone_source: zone_names.1,
        };
    }
    if let Some((_, until, decider)) = deferred.iter().min_by_key(|(_, t, _)| *t) {
        return Decision {
            verdict: Verdict::Defer { until_ms: *until },
            deciding_rule: decider.rule.clone(),
            deciding_channel: decider.channel,
            rules,
            time_zone: zone_names.0,
            time_zone_source: zone_names.1,
        };
    }
    Decision::deny_by(rules, zone_names)
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;

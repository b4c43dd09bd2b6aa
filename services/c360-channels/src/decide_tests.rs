//! Every rule of the decision at its edges: allow, deny and defer.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

use super::*;
use crate::model::{Preferences, QuietHours, Touch};

const POLICY: &str = r#"
version = "test-1"
min_gap_secs = 3600
action_dedup_days = 30
history_retention_days = 60
consent_retry_secs = 60
default_quiet_hours = { start = "21:00", end = "07:00" }
quiet_hours_exempt_channels = ["EMAIL"]

[purposes.marketing]
kind = "sales"
priority = 10

[purposes.collections]
kind = "collections"
priority = 50

[purposes.service]
kind = "service"
priority = 80

[purposes.otp]
kind = "transactional"
priority = 100

[[caps]]
name = "day"
window_secs = 86400
max = 2

[[caps]]
name = "sms-week"
window_secs = 604800
max = 3
channels = ["SMS"]
"#;

fn policy() -> Policy {
    Policy::parse(POLICY).unwrap()
}

fn ms(text: &str) -> i64 {
    text.parse::<jiff::Timestamp>().unwrap().as_millisecond()
}

const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn point(id: &str, channel: Channel, code: Option<u16>) -> ContactPoint {
    ContactPoint {
        id: id.into(),
        channel,
        tag: [id.len() as u8; 16],
        masked: "+225 07 ** ** ** 56".into(),
        sealed: vec![1, 2, 3],
        bound_client: "C1".into(),
        bound_record: id.into(),
        field: "contact_point".into(),
        verified: false,
        sources: vec!["api".into()],
        record_ids: vec![],
        first_seen_ms: 0,
        last_confirmed_ms: 0,
        status: PointStatus::Active,
        status_changed_ms: 0,
        calling_code: code,
    }
}

fn client() -> ClientState {
    let mut c = ClientState::new("C1");
    c.points = vec![
        point("P1", Channel::Sms, Some(225)),
        point("P22", Channel::Voice, Some(225)),
        point("P333", Channel::Email, None),
    ];
    c.prefs.time_zone = "Africa/Abidjan".into();
    c
}

fn touch(at_ms: i64, channel: Channel, purpose: &str, action: &str) -> Touch {
    Touch {
        at_ms,
        channel,
        purpose: purpose.into(),
        action_id: action.into(),
        outcome: Outcome::Delivered,
        point_id: String::new(),
        keyword: String::new(),
        number: "C1".into(),
    }
}

fn granted() -> BTreeMap<Channel, Consent> {
    Channel::ALL
        .into_iter()
        .map(|c| {
            (
                c,
                Consent::Granted {
                    entry: Some(ConsentEntry {
                        sequence: 7,
                        ..Default::default()
                    }),
                    reason: "granted by entry 7".into(),
                },
            )
        })
        .collect()
}

fn ask<'a>(purpose: &'a str, channels: &'a [Channel], at_ms: i64) -> Ask<'a> {
    Ask {
        purpose,
        channels,
        action_id: "",
        at_ms,
    }
}

fn run(c: &ClientState, a: &Ask<'_>) -> Decision {
    decide(&policy(), c, a, &granted())
}

const NOON: &str = "2025-03-10T12:00:00Z";
const SMS: &[Channel] = &[Channel::Sms];

#[test]
fn allow_names_the_channel_point_and_every_rule() {
    let d = run(&client(), &ask("marketing", SMS, ms(NOON)));
    assert_eq!(
        d.verdict,
        Verdict::Allow {
            channel: Channel::Sms,
            point_id: "P1".into()
        }
    );
    assert_eq!(d.deciding_rule, "allow");
    let names: Vec<&str> = d.rules.iter().map(|r| r.rule.as_str()).collect();
    for rule in [
        "purpose",
        "do_not_contact",
        "hardship",
        "action_dedup",
        "time_zone",
        "min_gap",
        "channel_do_not_contact",
        "reachability",
        "quiet_hours",
        "consent",
        "cap:day",
        "cap:sms-week",
    ] {
        assert!(names.contains(&rule), "{rule} missing from {names:?}");
    }
    let consent = d.rules.iter().find(|r| r.rule == "consent").unwrap();
    assert_eq!(consent.consent.as_ref().unwrap().sequence, 7);
    assert_eq!(d.time_zone, "Africa/Abidjan");
    assert_eq!(d.time_zone_source, "preference");
}

#[test]
fn no_consent_denies_and_an_unanswered_vault_defers() {
    let c = client();
    let at = ms(NOON);
    let mut refused = BTreeMap::new();
    refused.insert(
        Channel::Sms,
        Consent::Refused {
            entry: None,
            reason: "no consent recorded".into(),
        },
    );
    let d = decide(&policy(), &c, &ask("marketing", SMS, at), &refused);
    assert_eq!(d.verdict, Verdict::Deny);
    assert_eq!(d.deciding_rule, "consent");
    assert_eq!(d.deciding_channel, Some(Channel::Sms));

    let mut down = BTreeMap::new();
    down.insert(
        Channel::Sms,
        Consent::Unavailable {
            reason: "vault timed out".into(),
        },
    );
    let d = decide(&policy(), &c, &ask("marketing", SMS, at), &down);
    assert_eq!(
        d.verdict,
        Verdict::Defer {
            until_ms: at + 60_000
        }
    );
    assert_eq!(d.deciding_rule, "consent");
    // No answer at all: the same.
    let d = decide(&policy(), &c, &ask("marketing", SMS, at), &BTreeMap::new());
    assert_eq!(
        d.verdict,
        Verdict::Defer {
            until_ms: at + 60_000
        }
    );
}

#[test]
fn unknown_time_zone_fails_closed_except_for_transactional() {
    let mut c = client();
    c.prefs.time_zone.clear();
    for p in &mut c.points {
        p.calling_code = None;
    }
    let at = ms(NOON);
    let d = run(&c, &ask("marketing", SMS, at));
    assert_eq!(d.verdict, Verdict::Deny);
    assert_eq!(d.deciding_rule, "time_zone");
    assert!(matches!(
        run(&c, &ask("otp", SMS, at)).verdict,
        Verdict::Allow { .. }
    ));
    // Only an exempt channel asked for: quiet hours do not apply.
    assert!(matches!(
        run(&c, &ask("marketing", &[Channel::Email], at)).verdict,
        Verdict::Allow { .. }
    ));
    // A stated zone the database does not know is not replaced by a guess,
    // even when the policy has a default.
    let mut with_default = policy();
    with_default.default_time_zone = Some("Africa/Abidjan".into());
    let d = decide(&with_default, &c, &ask("marketing", SMS, at), &granted());
    assert!(matches!(d.verdict, Verdict::Allow { .. }));
    assert_eq!(d.time_zone_source, "policy default");
    c.prefs.time_zone = "Mars/Olympus_Mons".into();
    let d = decide(&with_default, &c, &ask("marketing", SMS, at), &granted());
    assert_eq!(
        (d.verdict, d.deciding_rule.as_str()),
        (Verdict::Deny, "time_zone")
    );
}

#[test]
fn zone_inferred_from_phones_and_conflicts_fail_closed() {
    let mut c = client();
    c.prefs.time_zone.clear();
    c.points[0].calling_code = Some(229);
    c.points[1].calling_code = Some(229);
    let d = run(&c, &ask("marketing", SMS, ms(NOON)));
    assert_eq!(d.time_zone, "Africa/Porto-Novo");
    assert_eq!(d.time_zone_source, "phone");
    c.points[1].calling_code = Some(225);
    let d = run(&c, &ask("marketing", SMS, ms(NOON)));
    assert_eq!(
        (d.verdict, d.deciding_rule.as_str()),
        (Verdict::Deny, "time_zone")
    );
}

#[test]
fn quiet_hours_across_midnight_in_the_clients_zone() {
    let mut c = client();
    c.prefs.time_zone = "Africa/Porto-Novo".into(); // UTC+1
    // 20:30 UTC = 21:30 local: quiet until 07:00 local = 06:00 UTC.
    let d = run(&c, &ask("marketing", SMS, ms("2025-03-10T20:30:00Z")));
    assert_eq!(
        d.verdict,
        Verdict::Defer {
            until_ms: ms("2025-03-11T06:00:00Z")
        }
    );
    assert_eq!(d.deciding_rule, "quiet_hours");
    // 03:00 local, after midnight: the same night ends the same morning.
    let d = run(&c, &ask("marketing", SMS, ms("2025-03-11T02:00:00Z")));
    assert_eq!(
        d.verdict,
        Verdict::Defer {
            until_ms: ms("2025-03-11T06:00:00Z")
        }
    );
    // Edges: 20:59:59.999 local allowed, 21:00 deferred, 07:00 allowed.
    let allowed_for = |c: &ClientState, at: &str| {
        matches!(
            run(c, &ask("marketing", SMS, ms(at))).verdict,
            Verdict::Allow { .. }
        )
    };
    let allowed = |at: &str| allowed_for(&c, at);
    assert!(allowed("2025-03-10T19:59:59.999Z"));
    assert!(!allowed("2025-03-10T20:00:00Z"));
    assert!(!allowed("2025-03-11T05:59:59.999Z"));
    assert!(allowed("2025-03-11T06:00:00Z"));
    // The same instant is not quiet in Abidjan (UTC+0).
    assert!(matches!(
        run(
            &client(),
            &ask("marketing", SMS, ms("2025-03-10T20:30:00Z"))
        )
        .verdict,
        Verdict::Allow { .. }
    ));
    // Stated quiet hours replace the policy's.
    c.prefs.quiet_hours = Some(QuietHours {
        start_min: 22 * 60,
        end_min: 6 * 60,
    });
    assert!(allowed_for(&c, "2025-03-10T20:30:00Z"));
    // Transactional purposes ignore quiet hours; exempt channels are chosen.
    assert!(matches!(
        run(&c, &ask("otp", SMS, ms("2025-03-10T23:00:00Z"))).verdict,
        Verdict::Allow { .. }
    ));
    let d = run(
        &c,
        &ask(
            "marketing",
            &[Channel::Sms, Channel::Email],
            ms("2025-03-10T23:00:00Z"),
        ),
    );
    assert!(matches!(
        d.verdict,
        Verdict::Allow {
            channel: Channel::Email,
            ..
        }
    ));
}

#[test]
fn caps_count_a_rolling_window_not_a_calendar_day() {
    let mut c = client();
    let t0 = ms("2025-03-10T09:00:00Z");
    c.push_touch(touch(t0, Channel::Voice, "marketing", ""));
    c.push_touch(touch(t0 + 2 * HOUR, Channel::Email, "collections", ""));
    // Just before the first touch leaves the 24 h window: 2 of 2.
    let d = run(&c, &ask("marketing", SMS, t0 + DAY - 1));
    assert_eq!(d.verdict, Verdict::Defer { until_ms: t0 + DAY });
    assert_eq!(d.deciding_rule, "cap:day");
    let cap = d.rules.iter().find(|r| r.rule == "cap:day").unwrap();
    assert_eq!((cap.count, cap.limit, cap.window_secs), (2, 2, 86_400));
    // At exactly t0 + 24 h it has left: 1 of 2.
    let d = run(&c, &ask("marketing", SMS, t0 + DAY));
    assert!(matches!(d.verdict, Verdict::Allow { .. }), "{:?}", d.rules);
    // After midnight UTC (a calendar cap would reset): still deferred.
    let d = run(&c, &ask("marketing", SMS, ms("2025-03-11T01:00:00Z")));
    assert!(matches!(d.verdict, Verdict::Defer { .. }));
    // Failed touches do not count.
    let mut f = client();
    let mut failed = touch(t0, Channel::Sms, "marketing", "");
    failed.outcome = Outcome::Failed;
    f.push_touch(failed.clone());
    f.push_touch(failed);
    assert!(matches!(
        run(&f, &ask("marketing", SMS, t0 + 2 * HOUR)).verdict,
        Verdict::Allow { .. }
    ));
}

#[test]
fn a_channel_cap_defers_one_channel_and_another_is_chosen() {
    let mut c = client();
    let t0 = ms("2025-03-03T10:00:00Z");
    for d in 0..3 {
        c.push_touch(touch(t0 + d * DAY, Channel::Sms, "marketing", ""));
    }
    let at = t0 + 3 * DAY;
    let d = run(&c, &ask("marketing", &[Channel::Sms, Channel::Voice], at));
    assert!(matches!(
        d.verdict,
        Verdict::Allow {
            channel: Channel::Voice,
            ..
        }
    ));
    let sms_cap = d
        .rules
        .iter()
        .find(|r| r.rule == "cap:sms-week" && r.channel == Some(Channel::Sms))
        .unwrap();
    assert_eq!((sms_cap.outcome, sms_cap.count), (RuleOutcome::Defer, 3));
    let voice_cap = d
        .rules
        .iter()
        .find(|r| r.rule == "cap:sms-week" && r.channel == Some(Channel::Voice))
        .unwrap();
    assert_eq!(voice_cap.outcome, RuleOutcome::NotApplicable);
    // SMS only: deferred until the oldest SMS leaves the week.
    let d = run(&c, &ask("marketing", SMS, at));
    assert_eq!(
        d.verdict,
        Verdict::Defer {
            until_ms: t0 + 7 * DAY
        }
    );
}

#[test]
fn min_gap_between_touches_on_any_channel() {
    let mut c = client();
    let t = ms("2025-03-10T10:00:00Z");
    c.push_touch(touch(t, Channel::Email, "collections", ""));
    let d = run(&c, &ask("marketing", SMS, t + HOUR - 1));
    assert_eq!(d.verdict, Verdict::Defer { until_ms: t + HOUR });
    assert_eq!(d.deciding_rule, "min_gap");
    assert!(matches!(
        run(&c, &ask("marketing", SMS, t + HOUR)).verdict,
        Verdict::Allow { .. }
    ));
    // Service purposes neither wait nor count.
    assert!(matches!(
        run(&c, &ask("service", SMS, t + 1)).verdict,
        Verdict::Allow { .. }
    ));
    let mut s = client();
    s.push_touch(touch(t, Channel::Sms, "service", ""));
    assert!(matches!(
        run(&s, &ask("marketing", SMS, t + 1)).verdict,
        Verdict::Allow { .. }
    ));
}

#[test]
fn deferral_is_computed_to_a_fixed_point_across_rules() {
    let mut c = client(); // Abidjan, quiet 21:00-07:00
    let t = ms("2025-03-10T20:30:00Z");
    c.push_touch(touch(t, Channel::Sms, "marketing", ""));
    // The gap ends at 21:30, inside quiet hours, which end at 07:00.
    let d = run(&c, &ask("marketing", SMS, t + 5 * 60_000));
    assert_eq!(
        d.verdict,
        Verdict::Defer {
            until_ms: ms("2025-03-11T07:00:00Z")
        }
    );
}

#[test]
fn service_is_exempt_from_caps_but_never_from_do_not_contact() {
    let mut c = client();
    let t = ms("2025-03-10T10:00:00Z");
    c.push_touch(touch(t - 2 * HOUR, Channel::Sms, "marketing", ""));
    c.push_touch(touch(t - HOUR, Channel::Sms, "marketing", ""));
    assert!(matches!(
        run(&c, &ask("marketing", SMS, t)).verdict,
        Verdict::Defer { .. }
    ));
    let d = run(&c, &ask("service", SMS, t));
    assert!(matches!(d.verdict, Verdict::Allow { .. }));
    let cap = d.rules.iter().find(|r| r.rule == "cap:day").unwrap();
    assert_eq!(cap.outcome, RuleOutcome::NotApplicable);
    c.prefs.do_not_contact = true;
    for purpose in ["service", "otp", "collections"] {
        let d = run(&c, &ask(purpose, SMS, t));
        assert_eq!(
            (d.verdict, d.deciding_rule.as_str()),
            (Verdict::Deny, "do_not_contact"),
            "{purpose}"
        );
    }
}

#[test]
fn hardship_suppresses_sales_only() {
    let mut c = client();
    c.hardship = true;
    let at = ms(NOON);
    let d = run(&c, &ask("marketing", SMS, at));
    assert_eq!(
        (d.verdict, d.deciding_rule.as_str()),
        (Verdict::Deny, "hardship")
    );
    for purpose in ["collections", "service", "otp"] {
        assert!(
            matches!(
                run(&c, &ask(purpose, SMS, at)).verdict,
                Verdict::Allow { .. }
            ),
            "{purpose}"
        );
    }
    assert!(consent_channels(&policy(), &c, &ask("marketing", SMS, at)).is_empty());
}

#[test]
fn an_action_delivered_on_one_channel_is_never_repeated_on_another() {
    let mut c = client();
    let t = ms("2025-03-01T10:00:00Z");
    c.push_touch(touch(t, Channel::Sms, "marketing", "campaign-7/step-1"));
    let mut a = ask("marketing", &[Channel::Email, Channel::Voice], ms(NOON));
    a.action_id = "campaign-7/step-1";
    let d = run(&c, &a);
    assert_eq!(
        (d.verdict.clone(), d.deciding_rule.as_str()),
        (Verdict::Deny, "action_dedup")
    );
    assert_eq!(d.deciding_channel, Some(Channel::Sms));
    // Another action passes; so does the same one after the window.
    a.action_id = "campaign-7/step-2";
    assert!(matches!(run(&c, &a).verdict, Verdict::Allow { .. }));
    a.action_id = "campaign-7/step-1";
    a.at_ms = t + 30 * DAY - 1;
    assert_eq!(run(&c, &a).verdict, Verdict::Deny);
    a.at_ms = t + 30 * DAY;
    assert!(matches!(run(&c, &a).verdict, Verdict::Allow { .. }));
    // A failed attempt does not block a retry on another channel.
    let mut f = client();
    let mut failed = touch(t, Channel::Sms, "marketing", "x");
    failed.outcome = Outcome::Failed;
    f.push_touch(failed);
    let mut a = ask("marketing", &[Channel::Email], ms(NOON));
    a.action_id = "x";
    assert!(matches!(run(&f, &a).verdict, Verdict::Allow { .. }));
}

#[test]
fn preferences_order_channels_and_refusals_skip_them() {
    let mut c = client();
    c.prefs = Preferences {
        preferred: vec![("marketing".into(), Channel::Email)],
        time_zone: "Africa/Abidjan".into(),
        ..Default::default()
    };
    let at = ms(NOON);
    let d = run(&c, &ask("marketing", &[], at));
    assert!(matches!(
        d.verdict,
        Verdict::Allow {
            channel: Channel::Email,
            ..
        }
    ));
    c.prefs.do_not_contact_channels = vec![Channel::Email];
    let d = run(&c, &ask("marketing", &[], at));
    assert!(matches!(
        d.verdict,
        Verdict::Allow {
            channel: Channel::Sms,
            ..
        }
    ));
    let d = run(&c, &ask("marketing", &[Channel::Email], at));
    assert_eq!(
        (d.verdict, d.deciding_rule.as_str()),
        (Verdict::Deny, "channel_do_not_contact")
    );
}

#[test]
fn reachability_needs_an_active_point() {
    let mut c = client();
    let at = ms(NOON);
    c.points[0].status = PointStatus::Bounced;
    let d = run(&c, &ask("marketing", SMS, at));
    assert_eq!(
        (d.verdict, d.deciding_rule.as_str()),
        (Verdict::Deny, "reachability")
    );
    // The call centre calls a voice line.
    let d = run(&c, &ask("service", &[Channel::CallCentre], at));
    assert_eq!(
        d.verdict,
        Verdict::Allow {
            channel: Channel::CallCentre,
            point_id: "P22".into()
        }
    );
    // An unknown client: nothing to reach.
    let d = run(&ClientState::new("C9"), &ask("service", &[], at));
    assert_eq!(
        (d.verdict, d.deciding_rule.as_str()),
        (Verdict::Deny, "reachability")
    );
}

#[test]
fn unknown_purpose_is_denied() {
    let d = run(&client(), &ask("lottery", SMS, ms(NOON)));
    assert_eq!(
        (d.verdict, d.deciding_rule.as_str()),
        (Verdict::Deny, "purpose")
    );
}

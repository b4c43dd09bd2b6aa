//! The vault against a naive model, over random histories of clients
//! created, records attached, grants, denials and withdrawals (some dated
//! ahead of the clock, some expiring, some naming a contact point's
//! records), merges and splits, and over the three cases of issue 17.
//!
//! The model keeps, per consent entry, the set of clients holding it and
//! applies the rules of `consent.rs` to that set directly, with none of the
//! vault's machinery (its number index, member lists, aliases, own-record
//! keys). After every step, for every number ever issued, at several
//! moments and for several questions, the vault must answer what
//! `ledger::evaluate` answers over the entries the model says the client
//! holds, hold exactly those entries, and never let a restriction recorded
//! after the deciding grant, or one taking effect with or after it, stand
//! beside an allowed answer, nor hold an entry recorded for none of its
//! records.

use std::collections::{BTreeMap, BTreeSet};

use c360_proto::resolver::v1 as rapi;
use c360_rpc::{Caller, Role};
use proptest::prelude::*;
use proptest::test_runner::{RngSeed, TestCaseError};

use crate::Vault;
use crate::ledger::{self, Decision, Entry, Kind};
use crate::vault::{CheckInput, ConsentInput, now_ms};

const HOUR: i64 = 3_600_000;
const PURPOSES: [&str; 2] = ["marketing", "collections"];
const CHANNELS: [&str; 3] = ["", "SMS", "EMAIL"];

#[derive(Clone, Debug)]
enum Capture {
    /// Hours after the base (a month ago).
    Past(i64),
    /// Seconds ahead of the vault's clock (within its tolerance).
    Ahead(i64),
}

#[derive(Clone, Debug)]
enum Op {
    Create,
    Attach(usize),
    Merge(usize, usize),
    Split(usize, u32),
    Record {
        number: usize,
        purpose: usize,
        channel: usize,
        decision: Decision,
        capture: Capture,
        expires_hours: i64,
        /// A subset of the client's records (a contact point's).
        records: Option<u32>,
    },
}

fn op() -> impl Strategy<Value = Op> {
    let decision = prop_oneof![
        3 => Just(Decision::Granted),
        1 => Just(Decision::Denied),
        2 => Just(Decision::Withdrawn),
    ];
    let capture = prop_oneof![
        5 => (0i64..200).prop_map(Capture::Past),
        1 => (1i64..200).prop_map(Capture::Ahead),
    ];
    let record = (
        any::<usize>(),
        0..PURPOSES.len(),
        0..CHANNELS.len(),
        decision,
        capture,
        prop_oneof![3 => Just(0i64), 1 => 1i64..100],
        prop_oneof![2 => Just(None), 1 => any::<u32>().prop_map(Some)],
    )
        .prop_map(
            |(number, purpose, channel, decision, capture, expires_hours, records)| Op::Record {
                number,
                purpose,
                channel,
                decision,
                capture,
                expires_hours,
                records,
            },
        );
    prop_oneof![
        2 => Just(Op::Create),
        2 => any::<usize>().prop_map(Op::Attach),
        3 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Merge(a, b)),
        3 => (any::<usize>(), any::<u32>()).prop_map(|(a, m)| Op::Split(a, m)),
        8 => record,
    ]
}

/// The platform as the model sees it: clients are sets of records, and
/// each consent entry is held by a set of clients.
struct Model {
    /// Every number issued -> the client (survivor number) it names.
    names: BTreeMap<String, String>,
    /// Live clients -> their records.
    clients: BTreeMap<String, BTreeSet<String>>,
    /// Record -> the number it is the own record of.
    home: BTreeMap<String, String>,
    entries: Vec<(Entry, BTreeSet<String>)>,
    next: u32,
    offset: u64,
    base: i64,
}

impl Model {
    fn new(base: i64) -> Model {
        Model {
            names: BTreeMap::new(),
            clients: BTreeMap::new(),
            home: BTreeMap::new(),
            entries: Vec::new(),
            next: 0,
            offset: 0,
            base,
        }
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.next += 1;
        format!("{prefix}{:04}", self.next)
    }

    fn event(&mut self, t: rapi::EventType, client: &str, record: &str) -> rapi::Event {
        self.offset += 1;
        rapi::Event {
            offset: self.offset,
            r#type: t as i32,
            client_number: client.into(),
            record_id: record.into(),
            related_clients: Vec::new(),
            record_ids: Vec::new(),
            at_unix_ms: self.base,
        }
    }

    fn live(&self) -> Vec<String> {
        self.clients.keys().cloned().collect()
    }

    fn own(&self, number: &str) -> BTreeSet<String> {
        self.home
            .iter()
            .filter(|(_, n)| *n == number)
            .map(|(r, _)| r.clone())
            .collect()
    }

    /// Rule 1 of `consent.rs`.
    fn stands_for(&self, number: &str) -> BTreeSet<String> {
        let own = self.own(number);
        if own.is_empty() {
            self.clients[&self.names[number]].clone()
        } else {
            own
        }
    }

    fn held_by(&self, client: &str) -> Vec<Entry> {
        self.entries
            .iter()
            .filter(|(_, holders)| holders.contains(client))
            .map(|(e, _)| e.clone())
            .collect()
    }

    /// Applies `op` to the model and the vault alike.
    fn step(&mut self, vault: &Vault, op: &Op) -> Result<(), TestCaseError> {
        use rapi::EventType as T;
        match op {
            Op::Create => {
                let (n, r) = (self.fresh("C"), self.fresh("R"));
                self.names.insert(n.clone(), n.clone());
                self.clients.insert(n.clone(), BTreeSet::from([r.clone()]));
                self.home.insert(r.clone(), n.clone());
                let events = [
                    self.event(T::ClientCreated, &n, &r),
                    self.event(T::RecordAttached, &n, &r),
                ];
                vault.apply_events(&events).map_err(fail)?;
            }
            Op::Attach(i) => {
                let live = self.live();
                let c = live[i % live.len()].clone();
                let r = self.fresh("R");
                if let Some(s) = self.clients.get_mut(&c) {
                    s.insert(r.clone());
                }
                self.home.insert(r.clone(), c.clone());
                let e = self.event(T::RecordAttached, &c, &r);
                vault.apply_events(&[e]).map_err(fail)?;
            }
            Op::Merge(i, j) => {
                let live = self.live();
                let (a, b) = (live[i % live.len()].clone(), live[j % live.len()].clone());
                if a == b {
                    return Ok(());
                }
                for name in self.names.values_mut() {
                    if *name == b {
                        *name = a.clone();
                    }
                }
                let gone = self.clients.remove(&b).unwrap_or_default();
                self.clients.entry(a.clone()).or_default().extend(gone);
                for (_, holders) in &mut self.entries {
                    if holders.remove(&b) {
                        holders.insert(a.clone());
                    }
                }
                let mut e = self.event(T::ClientsMerged, &a, "");
                e.related_clients = vec![b];
                vault.apply_events(&[e]).map_err(fail)?;
            }
            Op::Split(i, mask) => {
                let live = self.live();
                let c = live[i % live.len()].clone();
                let records: Vec<String> = self.clients[&c].iter().cloned().collect();
                if records.len() < 2 {
                    return Ok(());
                }
                let mut moving: BTreeSet<String> = records
                    .iter()
                    .enumerate()
                    .filter(|(k, _)| mask & (1 << (k % 32)) != 0)
                    .map(|(_, r)| r.clone())
                    .collect();
                if moving.is_empty() {
                    moving.insert(records[0].clone());
                }
                if moving.len() == records.len() {
                    moving.remove(&records[0]);
                }
                let new = self.fresh("C");
                let held = self.clients[&c].clone();
                // Rule 5: numbers whose own records all leave name the new client.
                let members: Vec<String> = self
                    .names
                    .iter()
                    .filter(|(_, s)| **s == c)
                    .map(|(n, _)| n.clone())
                    .collect();
                for m in members {
                    let own = self.own(&m);
                    if m != c && !own.is_empty() && own.is_subset(&moving) {
                        self.names.insert(m, new.clone());
                    }
                }
                // Rules 3 and 4, read as written.
                for (e, holders) in &mut self.entries {
                    if !holders.contains(&c) {
                        continue;
                    }
                    let mine: BTreeSet<&String> =
                        e.record_ids.iter().filter(|r| held.contains(*r)).collect();
                    let going = mine.iter().filter(|r| moving.contains(**r)).count();
                    if going > 0 && going == mine.len() {
                        holders.remove(&c);
                        holders.insert(new.clone());
                    } else if (going > 0 || mine.is_empty()) && e.decision.is_restrictive() {
                        holders.insert(new.clone());
                    }
                }
                for r in &moving {
                    self.home.insert(r.clone(), new.clone());
                }
                if let Some(s) = self.clients.get_mut(&c) {
                    s.retain(|r| !moving.contains(r));
                }
                self.clients.insert(new.clone(), moving.clone());
                self.names.insert(new.clone(), new.clone());
                let mut e = self.event(T::ClientSplit, &c, "");
                e.related_clients = vec![new];
                e.record_ids = moving.into_iter().collect();
                vault.apply_events(&[e]).map_err(fail)?;
            }
            Op::Record {
                number,
                purpose,
                channel,
                decision,
                capture,
                expires_hours,
                records,
            } => {
                let numbers: Vec<String> = self.names.keys().cloned().collect();
                let n = numbers[number % numbers.len()].clone();
                let client = self.names[&n].clone();
                let explicit: Vec<String> = match records {
                    Some(mask) => {
                        let all: Vec<&String> = self.clients[&client].iter().collect();
                        let pick: Vec<String> = all
                            .iter()
                            .enumerate()
                            .filter(|(k, _)| mask & (1 << (k % 32)) != 0)
                            .map(|(_, r)| (*r).clone())
                            .collect();
                        if pick.is_empty() {
                            vec![all[0].clone()]
                        } else {
                            pick
                        }
                    }
                    None => Vec::new(),
                };
                let captured = match capture {
                    Capture::Past(h) => self.base + h * HOUR,
                    Capture::Ahead(s) => now_ms() + s * 1_000,
                };
                let input = ConsentInput {
                    client_number: n.clone(),
                    purpose: PURPOSES[*purpose].into(),
                    channel: CHANNELS[*channel].into(),
                    decision: i32::from(decision.code()),
                    lawful_basis: 1,
                    evidence_ref: "model".into(),
                    source_system: "model".into(),
                    notice_version: String::new(),
                    captured_at_ms: captured,
                    expires_at_ms: if *expires_hours > 0 {
                        captured + expires_hours * HOUR
                    } else {
                        0
                    },
                    record_ids: explicit.clone(),
                };
                let entry = vault
                    .record_consent(&Caller::new("model", Role::Source), &input)
                    .map_err(fail)?;
                let expected: BTreeSet<String> = if explicit.is_empty() {
                    self.stands_for(&n)
                } else {
                    explicit.into_iter().collect()
                };
                let got: BTreeSet<String> = entry.record_ids.iter().cloned().collect();
                prop_assert_eq!(&got, &expected, "records of the entry recorded for {}", n);
                self.entries.push((entry, BTreeSet::from([client])));
            }
        }
        Ok(())
    }

    /// Everything the vault answers, compared with the model.
    fn compare(&self, vault: &Vault) -> Result<(), TestCaseError> {
        // Every entry is held by a client holding one of its records.
        for (e, holders) in &self.entries {
            for h in holders {
                prop_assert!(
                    e.record_ids.iter().any(|r| self.clients[h].contains(r)),
                    "entry {} held by {} without its records",
                    e.sequence,
                    h
                );
            }
        }
        let moments = [
            self.base + 50 * HOUR,
            self.base + 150 * HOUR,
            self.base + 250 * HOUR,
            now_ms() + 3_600_000,
        ];
        for (number, client) in &self.names {
            let held = self.held_by(client);
            let view = vault.get_consents(number).map_err(fail)?;
            prop_assert_eq!(&view.client_number, client);
            let got: BTreeSet<u64> = view
                .history
                .iter()
                .filter(|e| e.kind == Kind::Consent)
                .map(|e| e.sequence)
                .collect();
            let want: BTreeSet<u64> = held.iter().map(|e| e.sequence).collect();
            prop_assert_eq!(
                got,
                want,
                "entries held by {} (asked as {})",
                client,
                number
            );
            for purpose in PURPOSES {
                for channel in CHANNELS {
                    for at in moments {
                        let out = vault
                            .check_consent(&CheckInput {
                                client_number: number.clone(),
                                purpose: purpose.into(),
                                channel: channel.into(),
                                at_ms: at,
                            })
                            .map_err(fail)?;
                        let want = ledger::evaluate(&held, purpose, channel, at);
                        prop_assert_eq!(
                            &out.verdict,
                            &want,
                            "{} {} {} at {}",
                            number,
                            purpose,
                            channel,
                            at
                        );
                        if out.verdict.allowed {
                            let g = out
                                .deciding
                                .as_ref()
                                .expect("an allowed answer names its grant");
                            for r in view.history.iter().filter(|e| {
                                e.decision.is_restrictive() && e.applies_to(purpose, channel, at)
                            }) {
                                prop_assert!(
                                    r.sequence < g.sequence,
                                    "{} recorded after {}",
                                    r.sequence,
                                    g.sequence
                                );
                                prop_assert!(r.effective_at_ms() < g.effective_at_ms());
                            }
                        }
                    }
                }
            }
        }
        prop_assert!(vault.verify_ledger().map_err(fail)?.ok);
        Ok(())
    }
}

fn fail(e: crate::Error) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

fn run(ops: &[Op]) -> Result<Vault, TestCaseError> {
    let (vault, _) = crate::tests::memory_vault();
    let mut model = Model::new(now_ms() - 30 * 24 * HOUR);
    for op in ops {
        model.step(&vault, op)?;
        model.compare(&vault)?;
    }
    Ok(vault)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 96,
        rng_seed: RngSeed::Fixed(1717),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_vault_holds_and_answers_what_the_rules_say(
        ops in proptest::collection::vec(op(), 1..28)
    ) {
        let mut all = vec![Op::Create, Op::Create, Op::Create];
        all.extend(ops);
        run(&all)?;
    }
}

fn record(number: usize, decision: Decision, capture: Capture, records: Option<u32>) -> Op {
    Op::Record {
        number,
        purpose: 0,
        channel: 1,
        decision,
        capture,
        expires_hours: 0,
        records,
    }
}

fn sms(vault: &Vault, number: &str) -> ledger::Verdict {
    vault
        .check_consent(&CheckInput {
            client_number: number.into(),
            purpose: "marketing".into(),
            channel: "SMS".into(),
            at_ms: now_ms() + 21_000,
        })
        .expect("check")
        .verdict
}

/// The three cases of issue 17 through the same comparison, then asked
/// directly. Numbers and records share one counter: A is C0001 (R0002), B
/// is C0003 (R0004), a split's new number is C0005.
#[test]
fn the_three_cases_of_issue_17() {
    // 1. A grant dated 20 s ahead, then a withdrawal recorded after it.
    let vault = run(&[
        Op::Create,
        record(0, Decision::Granted, Capture::Ahead(20), None),
        record(0, Decision::Withdrawn, Capture::Past(700), None),
    ])
    .unwrap();
    let v = sms(&vault, "C0001");
    assert_eq!((v.allowed, v.deciding), (false, Some(2)), "{}", v.reason);

    // 2. Grant on A, merge A and B, split A's own record out.
    let vault = run(&[
        Op::Create,
        Op::Create,
        record(0, Decision::Granted, Capture::Past(10), None),
        Op::Merge(0, 1),
        Op::Split(0, 0b01),
    ])
    .unwrap();
    assert_eq!(sms(&vault, "C0001").reason, "no consent recorded");
    assert!(sms(&vault, "C0005").allowed);

    // 3. Both grant, merge, STOP on B's phone (B's record, filed under
    //    B's number), split B out.
    let vault = run(&[
        Op::Create,
        Op::Create,
        record(0, Decision::Granted, Capture::Past(10), None),
        record(1, Decision::Granted, Capture::Past(10), None),
        Op::Merge(0, 1),
        record(1, Decision::Withdrawn, Capture::Past(20), Some(0b10)),
        Op::Split(0, 0b10),
    ])
    .unwrap();
    assert!(sms(&vault, "C0001").allowed);
    for n in ["C0003", "C0005"] {
        let v = sms(&vault, n);
        assert!(
            !v.allowed && v.reason.starts_with("withdrawn"),
            "{n}: {}",
            v.reason
        );
    }
}

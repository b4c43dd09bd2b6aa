//! A store written before consent entries named their records (commit
//! f9c2678, `fixtures/store-f9c2678.tsv`): it opens, its chain verifies,
//! it answers as that version did, and the feed and new entries carry on
//! from it under the current rules.

use std::path::Path;
use std::sync::Arc;

use c360_crypto::{KekProvider, LocalKeyring};
use c360_proto::resolver::v1 as rapi;
use c360_rpc::{Caller, Role};
use c360_storage::{Batch, MemoryStore, Store};

use crate::vault::{CheckInput, ConsentInput, SPACES};
use crate::{Vault, VaultConfig, VaultPeers};

const FIXTURE: &str = include_str!("../../fixtures/store-f9c2678.tsv");
const T0: i64 = 1_700_000_000_000;

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

fn open_fixture() -> Vault {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new(SPACES));
    let mut batch = Batch::default();
    for line in FIXTURE.lines() {
        let mut cells = line.split('\t');
        let (space, key, value) = (
            cells.next().expect("space"),
            cells.next().expect("key"),
            cells.next().expect("value"),
        );
        batch.put(space, unhex(key), unhex(value));
    }
    store.commit(batch).expect("load");
    let kek: Arc<dyn KekProvider> = Arc::new(
        LocalKeyring::from_text("kek-1:BwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n")
            .expect("keyring"),
    );
    Vault::with_store(
        Path::new("fixture"),
        store,
        VaultConfig::default(),
        kek,
        VaultPeers::default(),
    )
    .expect("a store of f9c2678 opens")
}

/// (allowed, deciding entry) for marketing or collections on a channel.
fn ask(vault: &Vault, number: &str, purpose: &str, channel: &str) -> (bool, Option<u64>, String) {
    let out = vault
        .check_consent(&CheckInput {
            client_number: number.into(),
            purpose: purpose.into(),
            channel: channel.into(),
            at_ms: T0 + 10_000,
        })
        .expect("check");
    (out.verdict.allowed, out.verdict.deciding, out.client_number)
}

#[test]
fn a_store_written_before_record_ids_opens_verifies_and_follows_the_rules() {
    let vault = open_fixture();
    let report = vault.verify_ledger().expect("verify");
    assert!(report.ok, "{}", report.problem);
    assert_eq!(report.checked, 9);

    // What f9c2678 answered: C2 was merged into C1, then split out with
    // both its records to C5; C4 merged into C3.
    assert_eq!(
        ask(&vault, "C1", "marketing", "SMS"),
        (true, Some(1), "C1".into())
    );
    assert_eq!(
        ask(&vault, "C2", "marketing", "SMS"),
        (false, Some(2), "C5".into())
    );
    assert_eq!(
        ask(&vault, "C5", "collections", ""),
        (true, Some(3), "C5".into())
    );
    assert_eq!(
        ask(&vault, "C4", "marketing", "SMS"),
        (true, Some(4), "C3".into())
    );
    assert_eq!(
        ask(&vault, "C3", "marketing", "EMAIL"),
        (false, Some(6), "C3".into())
    );

    // The feed carries on: C3's own record is split out (issue 17, case
    // 2, on a legacy store). C3's grant, which names no records, counts as
    // recorded for what C3 stood for: it leaves with r4.
    let mut split = rapi::Event {
        offset: 13,
        r#type: rapi::EventType::ClientSplit as i32,
        client_number: "C3".into(),
        related_clients: vec!["C6".into()],
        record_ids: vec!["r4".into()],
        at_unix_ms: T0 + 13,
        ..Default::default()
    };
    vault.apply_events(&[split.clone()]).expect("split");
    assert_eq!(
        ask(&vault, "C6", "marketing", "SMS"),
        (true, Some(4), "C6".into())
    );
    // C3 keeps C4's record and C4's entries.
    assert_eq!(
        ask(&vault, "C3", "marketing", "SMS"),
        (true, Some(5), "C3".into())
    );
    assert_eq!(
        ask(&vault, "C3", "marketing", "EMAIL"),
        (false, Some(6), "C3".into())
    );
    // Replayed, it changes nothing.
    split.related_clients = vec!["C7".into()];
    vault.apply_events(&[split]).expect("replay");
    assert_eq!(ask(&vault, "C6", "marketing", "SMS").1, Some(4));

    // New entries name their records (version 2) and chain on.
    let entry = vault
        .record_consent(
            &Caller::new("crm", Role::Source),
            &ConsentInput {
                client_number: "C2".into(),
                purpose: "marketing".into(),
                channel: "SMS".into(),
                decision: 1,
                lawful_basis: 1,
                captured_at_ms: T0 + 5_000,
                ..ConsentInput::default()
            },
        )
        .expect("record");
    assert_eq!(entry.record_ids, ["r2", "r3"]);
    assert_eq!(entry.sequence, 11);
    let report = vault.verify_ledger().expect("verify");
    assert!(report.ok, "{}", report.problem);
    assert_eq!(report.checked, 11);
    // Recorded after C2's withdrawal and captured after it: a new consent.
    assert_eq!(
        ask(&vault, "C5", "marketing", "SMS"),
        (true, Some(11), "C5".into())
    );
}

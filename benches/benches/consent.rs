//! Consent through identity changes: the vault on sled in a temp directory
//! (every write durable), in process, one thread.
//!
//! 1. The feed: `C360_BENCH_CLIENTS` clients created (CLIENT_CREATED and
//!    RECORD_ATTACHED), in batches of 10,000 events.
//! 2. Recording consents in batches of 10,000: three per client (a grant
//!    on every channel, a withdrawal on SMS, a grant for another purpose),
//!    each entry naming the records its number stands for, looked up by
//!    the vault; then the same entries again with the records given.
//! 3. `check_consent` over random clients: mean and percentiles.
//! 4. Merges of pairs of clients (a tenth of them), then splits moving each
//!    survivor's own record out (the split that refiles every entry of the
//!    survivor), in batches of 1,000 events; checks after.
//! 5. `verify_ledger`.
//!
//! ```text
//! C360_BENCH_CLIENTS=100000 cargo bench -p c360-benches --bench consent
//! ```

use std::time::{Duration, Instant};

use c360_benches::rig::Run;
use c360_benches::{env_usize, peak_rss_mib, percentile};
use c360_proto::resolver::v1 as res;
use c360_rpc::{Caller, Role};
use c360_vault::{CheckInput, ConsentInput, VaultPeers};

fn number(i: usize) -> String {
    format!("C{i:08}")
}

fn record(i: usize) -> String {
    format!("R{i:010}")
}

fn event(offset: &mut u64, t: res::EventType, client: String, record: String) -> res::Event {
    *offset += 1;
    res::Event {
        offset: *offset,
        r#type: t as i32,
        client_number: client,
        record_id: record,
        at_unix_ms: 1_700_000_000_000,
        ..Default::default()
    }
}

fn main() {
    let clients = env_usize("C360_BENCH_CLIENTS", 100_000);
    let pairs = clients / 20;
    let run = Run::new("consent");
    let vault = run.open_vault(VaultPeers::default());
    let mut offset = 0u64;

    // 1. The feed.
    let started = Instant::now();
    let events: Vec<res::Event> = (0..clients)
        .flat_map(|i| {
            [
                res::EventType::ClientCreated,
                res::EventType::RecordAttached,
            ]
            .map(|t| (i, t))
        })
        .map(|(i, t)| event(&mut offset, t, number(i), record(i)))
        .collect();
    for chunk in events.chunks(10_000) {
        vault.apply_events(chunk).expect("feed");
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "feed: {} events in {secs:.2} s = {:.0} events/s",
        events.len(),
        events.len() as f64 / secs
    );

    // 2. Recording consents.
    let actor = Caller::new("bench-source", Role::Source);
    let inputs: Vec<ConsentInput> = (0..clients)
        .flat_map(|i| {
            let base = ConsentInput {
                client_number: number(i),
                purpose: "marketing".into(),
                decision: 1,
                lawful_basis: 1,
                evidence_ref: format!("form-{i}"),
                source_system: "crm".into(),
                captured_at_ms: 1_700_000_000_000 + i as i64,
                ..ConsentInput::default()
            };
            let withdrawal = ConsentInput {
                channel: "SMS".into(),
                decision: 3,
                captured_at_ms: base.captured_at_ms + 1_000,
                ..base.clone()
            };
            let other = ConsentInput {
                purpose: "collections".into(),
                ..base.clone()
            };
            [base, withdrawal, other]
        })
        .collect();
    // The same entries again with their records given by the caller: the
    // difference is the cost of finding what each number stands for.
    let given: Vec<ConsentInput> = inputs
        .iter()
        .enumerate()
        .map(|(k, c)| ConsentInput {
            record_ids: vec![record(k / 3)],
            ..c.clone()
        })
        .collect();
    // Interleaved, chunk by chunk, so both see a ledger of the same size.
    let mut secs = [0f64; 2];
    for (looked_up, given) in inputs.chunks(10_000).zip(given.chunks(10_000)) {
        for (k, chunk) in [looked_up, given].into_iter().enumerate() {
            let started = Instant::now();
            let recorded = vault.record_consents(&actor, chunk).expect("record");
            secs[k] += started.elapsed().as_secs_f64();
            assert!(recorded.iter().all(|e| e.record_ids.len() == 1));
        }
    }
    for (what, secs) in ["records looked up", "records given"].into_iter().zip(secs) {
        println!(
            "record ({what}): {} entries in {secs:.2} s = {:.0} entries/s (batches of 10,000)",
            inputs.len(),
            inputs.len() as f64 / secs
        );
    }

    // 3. Checks.
    let checks = clients.min(100_000);
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut times = Vec::with_capacity(checks);
    let mut allowed = 0usize;
    for _ in 0..checks {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let i = (state % clients as u64) as usize;
        let started = Instant::now();
        let out = vault
            .check_consent(&CheckInput {
                client_number: number(i),
                purpose: "marketing".into(),
                channel: if i.is_multiple_of(2) { "SMS" } else { "EMAIL" }.into(),
                at_ms: 0,
            })
            .expect("check");
        times.push(started.elapsed());
        allowed += usize::from(out.verdict.allowed);
    }
    assert_eq!(allowed > 0, allowed < checks, "both answers occur");
    report("check_consent", &mut times);

    // 4. Merges, then splits moving the survivor's own record out.
    let merges: Vec<res::Event> = (0..pairs)
        .map(|k| {
            let mut e = event(
                &mut offset,
                res::EventType::ClientsMerged,
                number(2 * k),
                String::new(),
            );
            e.related_clients = vec![number(2 * k + 1)];
            e
        })
        .collect();
    let started = Instant::now();
    for chunk in merges.chunks(1_000) {
        vault.apply_events(chunk).expect("merge");
    }
    let merge_secs = started.elapsed().as_secs_f64();
    let splits: Vec<res::Event> = (0..pairs)
        .map(|k| {
            let mut e = event(
                &mut offset,
                res::EventType::ClientSplit,
                number(2 * k),
                String::new(),
            );
            e.related_clients = vec![number(clients + k)];
            e.record_ids = vec![record(2 * k)];
            e
        })
        .collect();
    let started = Instant::now();
    for chunk in splits.chunks(1_000) {
        vault.apply_events(chunk).expect("split");
    }
    let split_secs = started.elapsed().as_secs_f64();
    println!(
        "identity: {pairs} merges in {merge_secs:.2} s = {:.0}/s; {pairs} splits (6 entries refiled each) in {split_secs:.2} s = {:.0}/s",
        pairs as f64 / merge_secs,
        pairs as f64 / split_secs
    );
    for k in 0..pairs.min(1_000) {
        let moved = vault
            .check_consent(&CheckInput {
                client_number: number(clients + k),
                purpose: "collections".into(),
                at_ms: 0,
                ..CheckInput::default()
            })
            .expect("check");
        assert!(moved.verdict.allowed, "the grant left with its record");
    }

    // 5. Verify.
    let started = Instant::now();
    let report = vault.verify_ledger().expect("verify");
    assert!(report.ok);
    println!(
        "verify: {} entries in {:.2} s",
        report.checked,
        started.elapsed().as_secs_f64()
    );
    if let Some(rss) = peak_rss_mib() {
        println!("peak RSS {rss:.0} MiB");
    }
    drop(vault);
    let _ = std::fs::remove_dir_all(&run.dir);
}

fn report(what: &str, times: &mut [Duration]) {
    times.sort();
    let mean = times.iter().sum::<Duration>() / times.len().max(1) as u32;
    println!(
        "{what}: {} in process, mean {:.1} µs, p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        times.len(),
        mean.as_secs_f64() * 1e6,
        percentile(times, 0.50).as_secs_f64() * 1e6,
        percentile(times, 0.99).as_secs_f64() * 1e6,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e6,
    );
}

//! The vault on sled in a temp directory, durable writes:
//!
//! 1. in-process encrypt + decrypt of fields, on one thread (per core):
//!    `Vault::encrypt` then `Vault::decrypt` (policy check, key cache, and
//!    one durable access-log write per batch), and the key-custody path
//!    other services use in process (`KeyCustodian` + `DataKey`);
//! 2. `CheckConsent` over gRPC (tonic on a 127.0.0.1:0 listener) at a fixed
//!    offered rate, many in flight;
//! 3. `VerifyLedger` over the whole ledger.
//!
//! ```text
//! C360_BENCH_FIELDS=200000 C360_BENCH_BATCH=10000 C360_BENCH_CLIENTS=100000 C360_BENCH_RATE=5000 \
//! C360_BENCH_SECONDS=10 C360_BENCH_CONNECTIONS=4 C360_BENCH_LEDGER=1000000 \
//!     cargo bench -p c360-benches --bench vault
//! ```

use c360_benches::rig::{self, Run};
use c360_benches::{env_usize, peak_rss_mib};
use std::sync::Arc;
use std::time::Instant;

use c360_crypto::{FieldContext, KeyCustodian};
use c360_proto::vault::v1 as api;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_proto::vault::v1::vault_service_server::VaultServiceServer;
use c360_rpc::{Caller, Role};
use c360_vault::{CheckInput, ConsentInput, FieldRef, Plain, VaultGrpc, VaultPeers};
use tonic::service::Routes;

fn number(i: usize) -> String {
    format!("C{i:08}")
}

fn main() {
    let fields = env_usize("C360_BENCH_FIELDS", 200_000);
    let clients = env_usize("C360_BENCH_CLIENTS", 100_000);
    let rate = env_usize("C360_BENCH_RATE", 5_000);
    let seconds = env_usize("C360_BENCH_SECONDS", 10);
    let ledger = env_usize("C360_BENCH_LEDGER", 1_000_000);
    let run = Run::new("vault");
    let vault = run.open_vault(VaultPeers::default());

    // 1. Encrypt + decrypt, one thread.
    // Fields per Encrypt/Decrypt call: each Decrypt writes one durable
    // access-log entry (the flush is the fixed cost a batch amortises).
    let batch = env_usize("C360_BENCH_BATCH", 10_000);
    let field_names = ["name", "phone", "email", "national_id"];
    let plain: Vec<(FieldRef, Plain)> = (0..fields)
        .map(|i| {
            let r = FieldRef {
                client_number: number(i / 4 % 10_000),
                record_id: format!("r{}", i / 4),
                field: field_names[i % 4].to_string(),
            };
            (r, Plain(format!("+22507{:08}", i)))
        })
        .collect();
    // Warm up: create the data keys (durable) and fill the key cache.
    for chunk in plain.chunks(batch) {
        vault.encrypt(chunk).expect("encrypt");
    }
    let caller = Caller::new("bench", Role::Service);
    let started = Instant::now();
    let mut sealed_all = Vec::with_capacity(fields);
    for chunk in plain.chunks(batch) {
        let sealed = vault.encrypt(chunk).expect("encrypt");
        sealed_all.extend(chunk.iter().map(|(r, _)| r.clone()).zip(sealed));
    }
    let enc_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let mut ok = 0usize;
    for chunk in sealed_all.chunks(batch) {
        let out = vault.decrypt(&caller, "service", chunk).expect("decrypt");
        ok += out
            .iter()
            .filter(|r| !matches!(r, c360_vault::FieldResult::Error(_)))
            .count();
    }
    let dec_secs = started.elapsed().as_secs_f64();
    assert_eq!(ok, fields, "every field decrypts");
    println!(
        "encrypt: {fields} fields in {enc_secs:.2} s = {:.0} fields/s; decrypt (policy + access log, one durable log write per {batch}): {dec_secs:.2} s = {:.0} fields/s; encrypt+decrypt = {:.0} fields/s on one thread",
        fields as f64 / enc_secs,
        fields as f64 / dec_secs,
        fields as f64 / (enc_secs + dec_secs)
    );
    drop(sealed_all);

    // The key-custody path other services use in process: the data key from
    // the vault (`KeyCustodian`, cached) and `DataKey` encrypt/decrypt.
    let custodian: Arc<dyn KeyCustodian> = Arc::new(vault.clone());
    let started = Instant::now();
    let mut envelopes = Vec::with_capacity(fields);
    for (r, v) in &plain {
        let key = custodian.data_key(&r.client_number).expect("key");
        let ctx = FieldContext {
            client: &r.client_number,
            record: &r.record_id,
            field: &r.field,
        };
        envelopes.push(key.encrypt(&ctx, v.0.as_bytes()).expect("encrypt"));
    }
    let enc_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    for ((r, v), env) in plain.iter().zip(&envelopes) {
        let key = custodian
            .existing_data_key(&r.client_number)
            .expect("key")
            .expect("exists");
        let ctx = FieldContext {
            client: &r.client_number,
            record: &r.record_id,
            field: &r.field,
        };
        let back = key.decrypt(&ctx, env).expect("decrypt");
        assert_eq!(back.len(), v.0.len());
    }
    let dec_secs = started.elapsed().as_secs_f64();
    println!(
        "key custody path (KeyCustodian + DataKey): encrypt {:.0} fields/s, decrypt {:.0} fields/s, encrypt+decrypt = {:.0} fields/s on one thread",
        fields as f64 / enc_secs,
        fields as f64 / dec_secs,
        fields as f64 / (enc_secs + dec_secs)
    );
    drop(envelopes);

    let runtime = rig::runtime();

    // 2. CheckConsent over gRPC at a fixed rate.
    let started = Instant::now();
    let actor = Caller::new("bench-source", Role::Source);
    let mut recorded = 0;
    while recorded < clients {
        let n = (clients - recorded).min(10_000);
        let inputs: Vec<ConsentInput> = (recorded..recorded + n)
            .map(|i| ConsentInput {
                client_number: number(i),
                purpose: "marketing".into(),
                channel: if i % 3 == 0 {
                    "SMS".into()
                } else {
                    String::new()
                },
                decision: if i % 5 == 0 { 3 } else { 1 },
                lawful_basis: 1,
                evidence_ref: format!("form-{i}"),
                source_system: "crm".into(),
                notice_version: "v1".into(),
                captured_at_ms: 1_700_000_000_000 + i as i64,
                expires_at_ms: 0,
                record_ids: Vec::new(),
            })
            .collect();
        vault.record_consents(&actor, &inputs).expect("record");
        recorded += n;
    }
    println!(
        "consents: {clients} recorded in {:.1} s (batches of 10,000)",
        started.elapsed().as_secs_f64()
    );
    // Sanity: the domain call agrees with what was recorded.
    let probe = vault
        .check_consent(&CheckInput {
            client_number: number(1),
            purpose: "marketing".into(),
            channel: "SMS".into(),
            at_ms: 0,
        })
        .expect("check");
    assert!(probe.verdict.allowed);

    runtime.block_on(async {
        let app = Caller::new("bench-app", Role::App);
        let served = rig::serve(Routes::new(VaultServiceServer::with_interceptor(
            VaultGrpc::new(vault.clone()),
            move |mut req: tonic::Request<()>| {
                req.extensions_mut().insert(app.clone());
                Ok(req)
            },
        )))
        .await;
        let connections = env_usize("C360_BENCH_CONNECTIONS", 4).max(1);
        let pool: Vec<_> = rig::connect(served.addr, connections)
            .await
            .into_iter()
            .map(VaultServiceClient::new)
            .collect();
        let total = rate * seconds;
        let paced = rig::at_rate(rate, total, |i| {
            let mut c = pool[i % connections].clone();
            let req = api::CheckConsentRequest {
                client_number: number((i * 7919) % clients),
                purpose: "marketing".into(),
                channel: "SMS".into(),
                at_unix_ms: 0,
            };
            async move {
                c.check_consent(req).await.expect("check");
            }
        })
        .await;
        println!(
            "check_consent over gRPC: {total} requests, {clients} clients, {connections} connections, at {:.0}/s (offered {rate}/s): {}",
            paced.achieved,
            paced.summary(),
        );
        served.stop().await;
    });

    // 3. VerifyLedger over `ledger` entries.
    let started = Instant::now();
    let mut have = clients;
    let mut i = clients;
    while have < ledger {
        let n = (ledger - have).min(10_000);
        let inputs: Vec<ConsentInput> = (i..i + n)
            .map(|k| ConsentInput {
                client_number: number(k % 1_000_000),
                purpose: if k % 2 == 0 {
                    "marketing".into()
                } else {
                    "collections".into()
                },
                channel: "SMS".into(),
                decision: 1,
                lawful_basis: 1,
                evidence_ref: format!("form-{k}"),
                source_system: "crm".into(),
                notice_version: "v1".into(),
                captured_at_ms: 1_700_000_000_000 + k as i64,
                expires_at_ms: 0,
                record_ids: Vec::new(),
            })
            .collect();
        vault.record_consents(&actor, &inputs).expect("record");
        have += n;
        i += n;
    }
    println!(
        "ledger filled to {ledger} entries in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let report = vault.verify_ledger().expect("verify");
    let secs = started.elapsed().as_secs_f64();
    assert!(report.ok, "{}", report.problem);
    println!(
        "verify_ledger: {} entries in {secs:.2} s = {:.0} entries/s",
        report.checked,
        report.checked as f64 / secs
    );
    if let Some(mib) = peak_rss_mib() {
        println!("peak RSS: {mib:.0} MiB");
    }
    drop(vault);
    let _ = std::fs::remove_dir_all(&run.dir);
}

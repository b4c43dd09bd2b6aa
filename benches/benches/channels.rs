//! The channels service over gRPC on loopback, on sled: `MayContact`
//! latency at a fixed request rate, including the consent check.
//!
//! The consent check goes to the real vault (`c360_vault::Vault` on sled,
//! its generated server called in process through channels' gRPC vault
//! port; `c360 serve --services all` now calls the vault's domain instead,
//! `c360::in_process`), which also seals every contact point value.
//! (Earlier runs used an in-process stand-in; the numbers said so.) The
//! figures include the encoded round trip to it and the vault's own
//! ledger lookup.
//!
//! Clients are loaded through the feed handler (as from the resolver's
//! event feed): each has an SMS and a VOICE point (one phone) and an
//! e-mail, a marketing consent, and a tenth of them two touches in their
//! history so caps have something to count.
//!
//! ```text
//! C360_BENCH_CLIENTS=100000 C360_BENCH_RATE=5000 C360_BENCH_SECONDS=10 C360_BENCH_CONNECTIONS=4 \
//!     cargo bench -p c360-benches --bench channels
//! ```

use c360_benches::rig::{self, Run};
use c360_benches::{env_usize, peak_rss_mib};
use std::sync::Arc;
use std::time::Instant;

use c360_channels::peers::VaultOverGrpc;
use c360_channels::testing::MemoryResolver;
use c360_channels::{Channels, ChannelsConfig, ChannelsPeers};
use c360_proto::channels::v1 as api;
use c360_proto::channels::v1::channel_service_client::ChannelServiceClient;
use c360_proto::common::v1::Record;
use c360_proto::resolver::v1 as res;
use c360_proto::vault::v1 as va;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::{Caller, Role};
use tonic::service::Routes;

fn number(i: usize) -> String {
    format!("C{i:08}")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_millis() as i64
}

fn main() {
    let clients = env_usize("C360_BENCH_CLIENTS", 100_000);
    let rate = env_usize("C360_BENCH_RATE", 5_000);
    let seconds = env_usize("C360_BENCH_SECONDS", 10);
    rig::runtime().block_on(async move {
        let run = Run::new("channels");
        // The resolver confirms every number as issued (the vault asks
        // before it seals a value for a client).
        let resolver = MemoryResolver::new();
        let real_vault = run.open_vault(c360_vault::VaultPeers {
            resolver: Some(Arc::new(rig::IssuesEveryNumber)),
        });
        let mut vault = VaultServiceClient::new(c360_rpc::in_process(
            real_vault.grpc(),
            c360_rpc::Caller::new("bench", c360_rpc::Role::Service),
        ));
        let peers = ChannelsPeers {
            vault: Some(Arc::new(VaultOverGrpc::new(vault.clone()))),
            resolver: Some(Arc::new(resolver.clone())),
        };
        let channels = Channels::open(&run.storage(), ChannelsConfig::default(), run.kek(), peers).expect("open");

        // 1. Load clients through the feed, 512 events per durable batch.
        let started = Instant::now();
        let handler = channels.feed_handler();
        let mut offset = 0u64;
        for chunk_start in (0..clients).step_by(512) {
            let mut events = Vec::with_capacity(512);
            let mut grants = Vec::with_capacity(512);
            for i in chunk_start..(chunk_start + 512).min(clients) {
                let n = number(i);
                resolver.set(
                    &n,
                    res::GetClientResponse {
                        client_number: n.clone(),
                        golden: vec![res::FieldValue {
                            field: "region".into(),
                            value: ["Abidjan", "Bouaké", "Dakar", "Bamako"][i % 4].into(),
                            ..Default::default()
                        }],
                        records: vec![res::MemberRecord {
                            record_id: format!("R{i:010}"),
                            source_system: "core_banking".into(),
                            record: Some(Record {
                                phone: vec![format!("07{:08}", i)],
                                email: vec![format!("client{i}@example.com")],
                                ..Default::default()
                            }),
                            ..Default::default()
                        }],
                        ..Default::default()
                    },
                );
                grants.push(va::RecordConsentRequest {
                    client_number: n.clone(),
                    purpose: "marketing".into(),
                    decision: va::ConsentDecision::Granted as i32,
                    lawful_basis: va::LawfulBasis::Consent as i32,
                    evidence_ref: "bench".into(),
                    ..Default::default()
                });
                offset += 1;
                events.push(res::Event {
                    offset,
                    r#type: res::EventType::RecordAttached as i32,
                    client_number: n,
                    record_id: format!("R{i:010}"),
                    ..Default::default()
                });
            }
            vault
                .record_consents(va::RecordConsentsRequest { consents: grants })
                .await
                .expect("grants");
            let h = handler.clone();
            tokio::task::spawn_blocking(move || h.apply(&events))
                .await
                .expect("join")
                .expect("apply");
        }
        println!(
            "load: {clients} clients through the feed in {:.1} s",
            started.elapsed().as_secs_f64()
        );

        // 2. Serve on loopback; the caller is attached as the auth layer would.
        let served = rig::serve(Routes::new(tonic::service::interceptor::InterceptedService::new(
            channels.grpc(),
            |mut req: tonic::Request<()>| {
                req.extensions_mut().insert(Caller::new("bench", Role::App));
                Ok(req)
            },
        )))
        .await;
        let connections = env_usize("C360_BENCH_CONNECTIONS", 4).max(1);
        let clients_pool: Vec<_> = rig::connect(served.addr, connections).await.into_iter().map(ChannelServiceClient::new).collect();
        let mut client = clients_pool[0].clone();

        // A tenth of the clients have two touches this week (durable writes).
        let day = 86_400_000;
        // The next noon UTC: a decision asked before the consents were
        // recorded would find none in force (a grant never acts before it
        // was recorded), so after 12:00 UTC it is tomorrow's.
        let now = now_ms();
        let noon = match now / day * day + day / 2 {
            today if today > now => today,
            today => today + day,
        };
        let started = Instant::now();
        let touched = (clients / 10).min(5_000);
        for i in 0..touched {
            for (k, channel) in [(1, api::Channel::Voice), (3, api::Channel::Email)] {
                client
                    .record_contact(api::RecordContactRequest {
                        client_number: number(i * 10),
                        channel: channel as i32,
                        purpose: "marketing".into(),
                        action_id: format!("warmup-{k}"),
                        outcome: api::Outcome::Delivered as i32,
                        at_unix_ms: noon - k * day,
                        ..Default::default()
                    })
                    .await
                    .expect("record");
            }
        }
        println!(
            "record contact: {} durable touches in {:.1} s",
            touched * 2,
            started.elapsed().as_secs_f64()
        );

        // 3. MayContact at a fixed rate, many in flight. At noon UTC, so
        // quiet hours (Abidjan, 20:00-08:00) do not turn every answer into
        // DEFER whatever the hour the bench runs at.
        let total = rate * seconds;
        let paced = rig::at_rate(rate, total, |i| {
            let mut c = clients_pool[i % connections].clone();
            let request = api::MayContactRequest {
                client_number: number((i * 7919) % clients),
                purpose: "marketing".into(),
                allowed_channels: vec![api::Channel::Sms as i32, api::Channel::Voice as i32],
                action_id: format!("campaign-{}", i % 3),
                at_unix_ms: noon,
            };
            async move { c.may_contact(request).await.expect("may contact").into_inner().verdict() }
        })
        .await;
        let (mut allow, mut deny, mut defer) = (0usize, 0usize, 0usize);
        for verdict in &paced.answers {
            match verdict {
                api::Verdict::Allow => allow += 1,
                api::Verdict::Deny => deny += 1,
                _ => defer += 1,
            }
        }
        println!(
            "may contact: {total} requests at {:.0}/s offered {rate}/s: {} ({allow} allow, {defer} defer, {deny} deny; {} consent checks)",
            paced.achieved,
            paced.summary(),
            total,
        );
        served.stop().await;
        drop(clients_pool);
        drop(handler);
        drop(channels);

        // 4. Restart: reopen the store.
        let started = Instant::now();
        let reopened = Channels::open(&run.storage(), ChannelsConfig::default(), run.kek(), ChannelsPeers::default()).expect("reopen");
        println!(
            "restart: {:.1} s for {} clients",
            started.elapsed().as_secs_f64(),
            reopened.client_count()
        );
        if let Some(mib) = peak_rss_mib() {
            println!("peak RSS: {mib:.0} MiB");
        }
        drop(reopened);
        let _ = std::fs::remove_dir_all(&run.dir);
    });
}

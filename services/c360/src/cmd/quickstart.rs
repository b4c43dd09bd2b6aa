//! `c360 quickstart`: the platform on the embedded default, with demo data,
//! walked through once over real gRPC, then left running for you.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use c360_crypto::KekProvider;
use c360_proto::channels::v1 as ch;
use c360_proto::channels::v1::channel_service_client::ChannelServiceClient;
use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_proto::search::v1 as se;
use c360_proto::search::v1::search_service_client::SearchServiceClient;
use c360_proto::vault::v1 as va;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use c360_rpc::{PeerChannel, Role};
use tokio::net::TcpListener;
use tokio_stream::StreamExt;

use super::remote::status;
use crate::config::Config;
use crate::serve::{Platform, load_keyring};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Where the embedded stores live.
    #[arg(long, default_value = "./c360-data")]
    data_dir: PathBuf,
    /// gRPC address the platform keeps serving on.
    #[arg(long, default_value = "127.0.0.1:50051")]
    listen: String,
    /// Demo records to generate and ingest (seeded, realistic).
    #[arg(long, default_value_t = 2_000)]
    records: usize,
    /// Stop after the walkthrough instead of serving until Ctrl-C.
    #[arg(long)]
    exit: bool,
}

/// A token the walkthrough uses, kept beside the data (mode 0600) so that
/// the README's grpcurl and CLI commands can use it too: `quickstart.token`
/// (admin: operates everything, reads no personal value) and
/// `steward.token` (a data steward: reads clients for stewardship).
fn quickstart_token(data_dir: &std::path::Path, name: &str, role: Role) -> anyhow::Result<String> {
    let file = match role {
        Role::Admin => "quickstart.token".to_string(),
        _ => format!("{role}.token"),
    };
    let path = data_dir.join(file);
    if let Ok(t) = std::fs::read_to_string(&path) {
        return Ok(t.trim().to_string());
    }
    let token = crate::auth::create_token(data_dir, name, role, &crate::auth::Grants::default())?;
    crate::private::write_new(&path, token.expose())?;
    Ok(token.expose().to_string())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    runtime.block_on(async move {
        let mut config = Config::default();
        config.server.data_dir = args.data_dir.clone();
        config.server.listen = args.listen.clone();
        config.resolver.bootstrap_records = 5_000;
        let _telemetry = crate::telemetry::init(&config.telemetry, "c360")?;
        crate::private::create_dir(&args.data_dir)?;
        let kek: Arc<dyn KekProvider> = Arc::new(load_keyring(&args.data_dir)?);
        println!(
            "== starting resolver, vault, search and channels on {}",
            args.data_dir.display()
        );
        let mut platform = Platform::open(config, kek).await?;
        if let Some(t) = platform.take_created_admin_token() {
            println!(
                "   created an admin token (shown once; keep it safe): {}",
                t.expose()
            );
        }
        let token = quickstart_token(&args.data_dir, "quickstart", Role::Admin)?;
        let steward_token = quickstart_token(&args.data_dir, "quickstart-steward", Role::Steward)?;
        let resolver = platform.resolver().cloned().context("no resolver")?;
        let followers: Vec<c360_rpc::FeedProgress> = ["vault", "search", "channels"]
            .into_iter()
            .filter_map(|n| platform.feed_progress(n))
            .collect();
        // Waits until vault, search and channels have applied every event.
        let caught_up = move || {
            let head = resolver.events().head();
            let followers = followers.clone();
            async move {
                for mut f in followers {
                    f.wait_for(head).await;
                }
            }
        };
        let listener = TcpListener::bind(args.listen.as_str())
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        let addr = listener.local_addr()?;
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(platform.serve(listener, None, async {
            let _ = stop_rx.await;
        }));
        let url = format!("http://{addr}");
        let channel = tonic::transport::Endpoint::from_shared(url.clone())?
            .connect()
            .await
            .with_context(|| format!("cannot reach {url}"))?;
        let peer = c360_rpc::remote(channel.clone(), Some(&token), None)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let steward = c360_rpc::remote(channel, Some(&steward_token), None)
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        walkthrough(peer, steward, args.records, caught_up).await?;
        println!();
        println!(
            "c360 listening on {addr}; the walkthrough's token is in {}",
            args.data_dir.join("quickstart.token").display()
        );
        println!(
            "try:  export C360_TOKEN=$(cat {})",
            args.data_dir.join("quickstart.token").display()
        );
        println!("      cargo run --release -- review list");
        if args.exit {
            let _ = stop_tx.send(());
        } else {
            println!("Ctrl-C stops the platform.");
            tokio::signal::ctrl_c().await?;
            let _ = stop_tx.send(());
        }
        server.await??;
        Ok(())
    })
}

async fn walkthrough<F, Fut>(
    peer: PeerChannel,
    steward: PeerChannel,
    records: usize,
    caught_up: F,
) -> anyhow::Result<()>
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut resolver = ResolverServiceClient::new(peer.clone());
    // Personal values are read as a data steward would, for stewardship;
    // the admin token operates but reads none.
    let mut steward_reads = ResolverServiceClient::new(steward.clone());
    let mut vault = VaultServiceClient::new(peer.clone());
    let mut channels = ChannelServiceClient::new(peer.clone());
    let mut search = SearchServiceClient::new(steward.clone());

    println!("== 1. ingesting {records} generated microfinance records (seed 42)");
    let generated: Vec<c360_datagen::Generated> =
        c360_datagen::generate(&c360_datagen::GenConfig { records, seed: 42 }).collect();
    let requests: Vec<api::IngestRequest> = generated
        .iter()
        .map(|g| api::IngestRequest {
            record: Some(c360_resolver::convert::from_core(&g.record)),
            strict: false,
        })
        .collect();
    let started = std::time::Instant::now();
    let mut stream = resolver
        .ingest(tokio_stream::iter(requests))
        .await
        .map_err(status)?
        .into_inner();
    let mut numbers = Vec::with_capacity(records);
    let (mut matched, mut new, mut review, mut flagged) = (0, 0, 0, 0);
    while let Some(r) = stream.next().await {
        let r = r.map_err(status)?;
        if let Some(api::ingest_response::Result::Resolved(res)) = r.result {
            flagged += usize::from(!res.flags.is_empty());
            match res.decision() {
                api::Decision::Matched => matched += 1,
                api::Decision::Review => review += 1,
                _ => new += 1,
            }
            numbers.push(res.client_number);
        } else {
            numbers.push(String::new());
        }
    }
    println!(
        "   {} records in {:.1?}: {matched} joined an existing client, {new} new clients, {review} sent to review; {flagged} kept with a value flagged as unusable (`c360 quality`)",
        numbers.len(),
        started.elapsed()
    );

    // A person the engine found in several records.
    let mut by_client: std::collections::HashMap<&str, usize> = Default::default();
    for n in numbers.iter().filter(|n| !n.is_empty()) {
        *by_client.entry(n.as_str()).or_default() += 1;
    }
    let (&best, _) = by_client
        .iter()
        .max_by_key(|(n, c)| (**c, std::cmp::Reverse(**n)))
        .context("no client")?;
    let client = steward_reads
        .get_client(api::GetClientRequest {
            client_number: best.to_string(),
            purpose: "stewardship".into(),
        })
        .await
        .map_err(status)?
        .into_inner();
    println!(
        "== 2. client {} gathers {} records:",
        client.client_number,
        client.records.len()
    );
    for m in &client.records {
        println!(
            "     {} {} ({})",
            m.source_system, m.source_record_id, m.record_id
        );
    }
    for f in client.golden.iter().filter(|f| {
        ["given_name", "surname", "date_of_birth", "locality"].contains(&f.field.as_str())
    }) {
        println!("     golden {:<14} {}  ({})", f.field, f.value, f.rule);
    }

    // A merge: a pair the engine was unsure about, confirmed by a steward,
    // or else two clients the generator says are one person.
    println!("== 3. a steward merge");
    let tasks = resolver
        .list_review_tasks(api::ListReviewTasksRequest {
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .map_err(status)?
        .into_inner();
    let survivor = if let Some(task) = tasks.tasks.first() {
        let d = resolver
            .decide_review_task(api::DecideReviewTaskRequest {
                task_id: task.task_id.clone(),
                accept: true,
                reason: "confirmed by the quickstart".into(),
                actor: "quickstart-steward".into(),
            })
            .await
            .map_err(status)?
            .into_inner();
        println!(
            "   review task {} ({} ~ {}, p={:.2}) accepted: one client {}",
            task.task_id, task.client_a, task.client_b, task.probability, d.client_number
        );
        d.client_number
    } else {
        let mut first_number: std::collections::HashMap<&str, &str> = Default::default();
        let mut pair = None;
        for (g, n) in generated.iter().zip(&numbers) {
            match first_number.get(g.entity_id.as_str()) {
                Some(&other) if other != n.as_str() && !n.is_empty() => {
                    pair = Some((other.to_string(), n.clone()));
                    break;
                }
                Some(_) => {}
                None => {
                    first_number.insert(&g.entity_id, n);
                }
            }
        }
        let (x, y) = pair.context("no split person to merge")?;
        let m = resolver
            .merge(api::MergeRequest {
                client_numbers: vec![x.clone(), y.clone()],
                reason: "same person (quickstart)".into(),
                actor: "quickstart-steward".into(),
            })
            .await
            .map_err(status)?
            .into_inner();
        println!(
            "   merged {x} and {y}: {} survives, the other number redirects to it",
            m.survivor
        );
        m.survivor
    };

    caught_up().await;
    println!("== 4. consent for {survivor}");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_millis() as i64;
    let entry = vault
        .record_consent(va::RecordConsentRequest {
            client_number: survivor.clone(),
            purpose: "marketing".into(),
            channel: "SMS".into(),
            decision: va::ConsentDecision::Granted as i32,
            lawful_basis: va::LawfulBasis::Consent as i32,
            evidence_ref: "signed-form-0001".into(),
            source_system: "agent_app".into(),
            notice_version: "2026-01".into(),
            captured_at_unix_ms: now,
            expires_at_unix_ms: 0,
            record_ids: Vec::new(),
        })
        .await
        .map_err(status)?
        .into_inner()
        .entry
        .context("no entry")?;
    println!(
        "   ledger entry {} recorded: marketing by SMS granted",
        entry.sequence
    );
    let check = vault
        .check_consent(va::CheckConsentRequest {
            client_number: survivor.clone(),
            purpose: "marketing".into(),
            channel: "SMS".into(),
            at_unix_ms: 0,
        })
        .await
        .map_err(status)?
        .into_inner();
    println!(
        "   CheckConsent: allowed={} ({})",
        check.allowed, check.reason
    );

    println!("== 5. may we send {survivor} a marketing SMS now?");
    let d = channels
        .may_contact(ch::MayContactRequest {
            client_number: survivor.clone(),
            purpose: "marketing".into(),
            allowed_channels: vec![ch::Channel::Sms as i32],
            action_id: "quickstart-offer-1".into(),
            at_unix_ms: 0,
        })
        .await
        .map_err(status)?
        .into_inner();
    let receipt = d.receipt.clone().unwrap_or_default();
    let verdict = match d.verdict() {
        ch::Verdict::Allow => format!("ALLOW on {:?} to {}", d.channel(), d.masked_value),
        ch::Verdict::Defer => format!(
            "DEFER for {} minutes",
            (d.allowed_at_unix_ms - now).max(0) / 60_000
        ),
        v => format!("{v:?}").to_uppercase(),
    };
    println!(
        "   {verdict} (deciding rule: {}; time zone {} from {})",
        receipt.deciding_rule, receipt.time_zone, receipt.time_zone_source
    );
    for r in &receipt.rules {
        println!("     {:<22} {:?} {}", r.rule, r.outcome(), r.detail);
    }

    // Search by name, the way a call-centre agent types it.
    let golden = steward_reads
        .get_client(api::GetClientRequest {
            client_number: survivor.clone(),
            purpose: "stewardship".into(),
        })
        .await
        .map_err(status)?
        .into_inner()
        .golden;
    let field = |name: &str| {
        golden
            .iter()
            .find(|f| f.field == name)
            .map(|f| f.value.clone())
            .unwrap_or_default()
    };
    let query = format!("{} {}", field("given_name"), field("surname"));
    println!("== 6. search {:?}", query.trim());
    // The index commits twice a second; wait for the merge to show.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let hits = loop {
        let hits = search
            .search(se::SearchRequest {
                query: query.clone(),
                filters: None,
                page_size: 3,
                page_token: String::new(),
            })
            .await
            .map_err(status)?
            .into_inner()
            .hits;
        if hits.iter().any(|h| h.client_number == survivor) || std::time::Instant::now() > deadline
        {
            break hits;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    for h in &hits {
        println!(
            "     {} {:<30} score {:.2} ({})",
            h.client_number,
            h.display_name,
            h.score,
            h.matched_fields.join(",")
        );
    }
    Ok(())
}

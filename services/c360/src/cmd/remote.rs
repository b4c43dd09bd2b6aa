//! Day-to-day commands against a running `c360 serve`.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use c360_core::{Mapping, RecordReader};
use c360_proto::resolver::v1 as api;
use c360_proto::resolver::v1::resolver_service_client::ResolverServiceClient;
use c360_rpc::PeerChannel;

use super::progress;
use super::quality::{by_field_text, flag_code, flag_from_proto, flag_text};

#[derive(Debug, clap::Args)]
pub struct Server {
    /// Address of the c360 server (https:// for TLS).
    #[arg(
        long,
        env = "C360_SERVER",
        default_value = "http://127.0.0.1:50051",
        global = true
    )]
    server: String,
    /// Bearer token (see `c360 token create`).
    #[arg(long, env = "C360_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// CA certificate to verify the server's TLS certificate.
    #[arg(long, env = "C360_CA_FILE", global = true)]
    ca_file: Option<PathBuf>,
}

impl Server {
    /// A channel to the server carrying the token, for any service client.
    pub async fn channel(&self) -> anyhow::Result<PeerChannel> {
        let endpoint = crate::serve::endpoint(&self.server, self.ca_file.as_deref())?;
        let channel = endpoint
            .connect()
            .await
            .with_context(|| format!("cannot reach {}", self.server))?;
        c360_rpc::remote(channel, self.token.as_deref(), None)
            .map_err(|e| anyhow::anyhow!("token: {e}"))
    }
}

pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")
}

pub(crate) async fn connect(server: &Server) -> anyhow::Result<ResolverServiceClient<PeerChannel>> {
    Ok(ResolverServiceClient::new(server.channel().await?))
}

/// A gRPC error as the CLI shows it: the code, the message, and the field
/// a bad request names.
pub fn status(e: tonic::Status) -> anyhow::Error {
    use tonic_types::StatusExt;
    let mut text = format!("{:?}: {}", e.code(), e.message());
    if let Some(bad) = e.get_details_bad_request() {
        for v in bad.field_violations {
            text.push_str(&format!(" [{}: {}]", v.field, v.description));
        }
    }
    anyhow::anyhow!(text)
}

#[derive(Debug, clap::Subcommand)]
pub enum ClientCommand {
    /// Show a client: golden record, records, aliases, lineage. Personal
    /// values are shown as the vault's access policy allows for the
    /// token's role and the purpose, and the read is logged.
    Get {
        number: String,
        /// Why you read: stewardship, service, collections, audit,
        /// access_request, ...
        #[arg(long)]
        purpose: String,
    },
    /// Why a client's records are together (or, with --with, why two
    /// records match or not): each field's level and weight, vetoes.
    Explain {
        /// A client number, or a record id with --with.
        target: String,
        /// A second record id: explain this pair.
        #[arg(long)]
        with: Option<String>,
    },
    /// Merge clients (the one created first survives).
    Merge {
        numbers: Vec<String>,
        #[arg(long)]
        reason: String,
        /// Who the change is made for, when the token is a trusted front
        /// end's (default: the token's own name).
        #[arg(long, default_value = "")]
        actor: String,
    },
    /// Move records of a client to a new client.
    Split {
        number: String,
        #[arg(long, value_delimiter = ',', required = true)]
        records: Vec<String>,
        #[arg(long)]
        reason: String,
        /// Who the change is made for, when the token is a trusted front
        /// end's (default: the token's own name).
        #[arg(long, default_value = "")]
        actor: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct ClientArgs {
    #[command(flatten)]
    server: Server,
    #[command(subcommand)]
    command: ClientCommand,
}

pub fn client(args: ClientArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let mut c = connect(&args.server).await?;
        match args.command {
            ClientCommand::Get { number, purpose } => {
                let r = c
                    .get_client(api::GetClientRequest {
                        client_number: number,
                        purpose,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                if r.redirected {
                    println!("{} was merged into {}", r.requested_number, r.client_number);
                }
                println!("client {}", r.client_number);
                for f in &r.golden {
                    println!(
                        "  {:<14} {}  ({} from {})",
                        f.field, f.value, f.rule, f.record_id
                    );
                }
                println!("records:");
                for m in &r.records {
                    println!(
                        "  {}  {} {}",
                        m.record_id, m.source_system, m.source_record_id
                    );
                    if !m.flags.is_empty() {
                        let flags: Vec<String> = m.flags.iter().map(flag_text).collect();
                        println!("    flagged (kept, not used): {}", flags.join(", "));
                    }
                }
                if !r.masked_fields.is_empty() {
                    println!("masked for you: {}", r.masked_fields.join(", "));
                }
                if !r.withheld_fields.is_empty() {
                    println!("withheld from you: {}", r.withheld_fields.join(", "));
                }
                if r.access_log_sequence > 0 {
                    println!("access log entry: {}", r.access_log_sequence);
                }
                if !r.aliases.is_empty() {
                    println!("aliases: {}", r.aliases.join(", "));
                }
                if !r.group_ids.is_empty() {
                    println!("groups: {}", r.group_ids.join(", "));
                }
                println!("lineage:");
                for l in &r.lineage {
                    println!(
                        "  {:?} {} by {} ({}) model {}",
                        l.kind(),
                        l.clients.join(","),
                        l.actor,
                        l.reason,
                        l.model_version
                    );
                }
            }
            ClientCommand::Explain { target, with } => {
                let target = match with {
                    Some(b) => api::explain_request::Target::Pair(api::RecordPair {
                        record_a: target,
                        record_b: b,
                    }),
                    None => api::explain_request::Target::ClientNumber(target),
                };
                let r = c
                    .explain(api::ExplainRequest {
                        target: Some(target),
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                for p in &r.pairs {
                    println!(
                        "{} ~ {}: p={:.4} log-odds {:+.2} (prior {:+.2}){}{} -> {} [model {}]",
                        p.record_a,
                        p.record_b,
                        p.probability,
                        p.log_odds,
                        p.prior,
                        if p.names_swapped {
                            ", names swapped"
                        } else {
                            ""
                        },
                        if p.veto.is_empty() {
                            String::new()
                        } else {
                            format!(", vetoed by {}", p.veto)
                        },
                        p.decision,
                        p.model_version
                    );
                    for f in &p.fields {
                        println!("    {:<14} {:<22} {:+.2}", f.field, f.level, f.weight);
                    }
                }
                if !r.flagged_records.is_empty() {
                    println!("flagged values (kept, ignored by the comparison):");
                    for f in &r.flagged_records {
                        let flags: Vec<String> = f.flags.iter().map(flag_text).collect();
                        println!("  {}  {}", f.record_id, flags.join(", "));
                    }
                }
            }
            ClientCommand::Merge {
                numbers,
                reason,
                actor,
            } => {
                let r = c
                    .merge(api::MergeRequest {
                        client_numbers: numbers,
                        reason,
                        actor,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                println!("merged {} into {}", r.absorbed.join(", "), r.survivor);
            }
            ClientCommand::Split {
                number,
                records,
                reason,
                actor,
            } => {
                let r = c
                    .split(api::SplitRequest {
                        client_number: number,
                        record_ids: records,
                        reason,
                        actor,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                println!("split {} off {}", r.new_client_number, r.client_number);
            }
        }
        Ok(())
    })
}

#[derive(Debug, clap::Subcommand)]
pub enum ReviewCommand {
    /// List open review tasks.
    List {
        #[arg(long, default_value_t = 20)]
        page_size: u32,
        #[arg(long, default_value = "")]
        page_token: String,
    },
    /// Accept (merge) or reject (never merge) a task.
    Decide {
        task: String,
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        accept: bool,
        #[arg(long)]
        reject: bool,
        #[arg(long, default_value = "")]
        reason: String,
        /// Who the change is made for, when the token is a trusted front
        /// end's (default: the token's own name).
        #[arg(long, default_value = "")]
        actor: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct ReviewArgs {
    #[command(flatten)]
    server: Server,
    #[command(subcommand)]
    command: ReviewCommand,
}

pub fn review(args: ReviewArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let mut c = connect(&args.server).await?;
        match args.command {
            ReviewCommand::List {
                page_size,
                page_token,
            } => {
                let r = c
                    .list_review_tasks(api::ListReviewTasksRequest {
                        page_size,
                        page_token,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                println!("{} open", r.total_open);
                for t in &r.tasks {
                    println!(
                        "  task {}  {} ({}) ~ {} ({})  p={:.3}",
                        t.task_id, t.record_a, t.client_a, t.record_b, t.client_b, t.probability
                    );
                }
                if !r.next_page_token.is_empty() {
                    println!("next page: --page-token {}", r.next_page_token);
                }
            }
            ReviewCommand::Decide {
                task,
                accept,
                reject: _,
                reason,
                actor,
            } => {
                let r = c
                    .decide_review_task(api::DecideReviewTaskRequest {
                        task_id: task,
                        accept,
                        reason,
                        actor,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                println!("decided; client {}", r.client_number);
            }
        }
        Ok(())
    })
}

#[derive(Debug, clap::Args)]
pub struct IngestArgs {
    #[command(flatten)]
    server: Server,
    /// CSV file of records.
    file: PathBuf,
    /// Mapping of the CSV columns (default: canonical column names).
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Source system of these records (overrides the mapping's).
    #[arg(long)]
    source: Option<String>,
    /// Write one row per record sent: `line,source_system,source_record_id,
    /// client_number,decision,confidence,error,flags` (the source system's
    /// map of its records to client numbers; `flags` lists the values kept
    /// but flagged as unusable, `field:reason` or `field[i]:reason`).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Refuse records holding a value that cannot be standardised (a birth
    /// date "1950-51-01"), instead of keeping them with the value flagged.
    #[arg(long)]
    strict: bool,
}

/// How many flagged or rejected records are described one by one.
const SHOWN: usize = 20;

/// Streams a CSV file to `Ingest`; reports rejected rows and flagged values
/// by line and column.
pub fn ingest(args: IngestArgs) -> anyhow::Result<()> {
    let mapping = args
        .mapping
        .as_deref()
        .map(Mapping::from_path)
        .transpose()?;
    let file = std::fs::File::open(&args.file)
        .with_context(|| format!("cannot open {}", args.file.display()))?;
    let mut reader = RecordReader::new(std::io::BufReader::new(file), mapping.as_ref())
        .with_context(|| args.file.display().to_string())?;
    let mut origins = Vec::new();
    let mut records = Vec::new();
    let mut bad = 0usize;
    while let Some(row) = reader.next_record() {
        match row {
            Ok((_, r)) => {
                origins.push(reader.origin().clone());
                let mut record = c360_resolver::convert::from_core(&r);
                if let Some(source) = &args.source {
                    record.source_system = source.clone();
                }
                records.push(record);
            }
            Err(e) => {
                bad += 1;
                eprintln!("skipped {}: {e}", args.file.display());
            }
        }
    }
    if records.is_empty() {
        bail!("{}: no valid record", args.file.display());
    }
    // Each record's source identity, for the output file only.
    let keys: Vec<(String, String)> = match &args.output {
        Some(_) => records
            .iter()
            .map(|r| (r.source_system.clone(), r.source_record_id.clone()))
            .collect(),
        None => Vec::new(),
    };
    let mut out = match &args.output {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            let mut w = csv::Writer::from_writer(std::io::BufWriter::new(file));
            w.write_record([
                "line",
                "source_system",
                "source_record_id",
                "client_number",
                "decision",
                "confidence",
                "error",
                "flags",
            ])?;
            Some(w)
        }
        None => None,
    };
    let started = Instant::now();
    runtime()?.block_on(async move {
        let mut c = connect(&args.server).await?;
        let bar = progress::counter("ingesting");
        let total = records.len();
        let strict = args.strict;
        let requests = tokio_stream::iter(records.into_iter().map(move |r| api::IngestRequest { record: Some(r), strict }));
        let mut stream = c.ingest(requests).await.map_err(status)?.into_inner();
        let (mut matched, mut new, mut review, mut rejected) = (0usize, 0usize, 0usize, 0usize);
        let mut quality = c360_resolver::quality::QualityCounts::default();
        let file = args.file.display();
        // "line 4, column 2", for a message about one cell.
        let cell = |index: usize, field: &str, value: usize| {
            let origin = origins.get(index);
            let column = origin.zip(field.parse().ok()).and_then(|(o, f)| reader.column(o, f, value));
            let line = origin.map_or(0, |o| o.line);
            match column {
                Some(c) => format!("line {line}, column {c}"),
                None => format!("line {line}"),
            }
        };
        while let Some(msg) = tokio_stream::StreamExt::next(&mut stream).await {
            let msg = msg.map_err(status)?;
            bar.inc(1);
            let index = msg.index as usize;
            let line = origins.get(index).map_or(0, |o| o.line);
            let mut flags = String::new();
            let (number, decision, confidence, error) = match msg.result {
                Some(api::ingest_response::Result::Resolved(r)) => {
                    let flagged: Vec<_> = r.flags.iter().filter_map(flag_from_proto).collect();
                    quality.add("", &flagged);
                    if !r.flags.is_empty() && quality.totals().1 as usize <= SHOWN {
                        for f in &r.flags {
                            let at = cell(index, &f.field, f.index as usize);
                            bar.suspend(|| eprintln!("flagged {file} {at}: {} {} (kept, not used for matching)", f.field, f.description));
                        }
                    }
                    flags = r.flags.iter().map(flag_code).collect::<Vec<_>>().join(";");
                    let decision = match r.decision() {
                        api::Decision::Matched => {
                            matched += 1;
                            "matched"
                        }
                        api::Decision::Review => {
                            review += 1;
                            "review"
                        }
                        _ => {
                            new += 1;
                            "new"
                        }
                    };
                    (r.client_number, decision, format!("{:.4}", r.confidence), String::new())
                }
                Some(api::ingest_response::Result::Error(e)) => {
                    rejected += 1;
                    if rejected <= SHOWN {
                        let at = cell(index, e.field.strip_prefix("record.").unwrap_or(&e.field), 0);
                        bar.suspend(|| eprintln!("rejected {file} {at}: {}: {}", e.field, e.description));
                    }
                    (String::new(), "rejected", String::new(), format!("{}: {}", e.field, e.description))
                }
                None => continue,
            };
            if let (Some(w), Some((system, id))) = (out.as_mut(), keys.get(index)) {
                w.write_record([line.to_string().as_str(), system, id, &number, decision, &confidence, &error, &flags])?;
            }
        }
        if let Some(mut w) = out {
            w.flush()?;
        }
        bar.finish_and_clear();
        if rejected > SHOWN {
            eprintln!("... and {} more rejected records", rejected - SHOWN);
        }
        let flagged = quality.totals().1 as usize;
        if flagged > SHOWN {
            eprintln!("... and {} more records with flagged values", flagged - SHOWN);
        }
        eprintln!(
            "{total} records sent in {:.1?}: {matched} matched, {new} new clients, {review} to review, {} accepted with warnings, {rejected} rejected by the server, {bad} bad rows skipped",
            started.elapsed(),
            flagged,
        );
        if flagged > 0 {
            eprintln!("  values kept but flagged as unusable (not used for matching or the golden record): {}", by_field_text(&quality));
        }
        Ok(())
    })
}

//! `c360 consent ...`, `c360 erase`, `c360 contact ...`: the vault and the
//! channels service of a running server, for compliance officers and
//! operators.

use std::io::Write;

use anyhow::bail;
use c360_proto::channels::v1 as ch;
use c360_proto::channels::v1::channel_service_client::ChannelServiceClient;
use c360_proto::vault::v1 as va;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;
use tokio_stream::StreamExt;

use super::remote::{Server, runtime, status};

fn decision(text: &str) -> anyhow::Result<va::ConsentDecision> {
    Ok(match text.to_ascii_lowercase().as_str() {
        "granted" | "grant" => va::ConsentDecision::Granted,
        "denied" | "deny" => va::ConsentDecision::Denied,
        "withdrawn" | "withdraw" => va::ConsentDecision::Withdrawn,
        other => bail!("--decision: {other:?} is not granted, denied or withdrawn"),
    })
}

fn basis(text: &str) -> anyhow::Result<va::LawfulBasis> {
    Ok(match text.to_ascii_lowercase().replace('-', "_").as_str() {
        "consent" => va::LawfulBasis::Consent,
        "contract" => va::LawfulBasis::Contract,
        "legal_obligation" => va::LawfulBasis::LegalObligation,
        "vital_interest" => va::LawfulBasis::VitalInterest,
        "public_task" => va::LawfulBasis::PublicTask,
        "legitimate_interest" => va::LawfulBasis::LegitimateInterest,
        other => bail!(
            "--basis: {other:?} is not consent, contract, legal_obligation, vital_interest, public_task or legitimate_interest"
        ),
    })
}

fn channel(text: &str) -> anyhow::Result<ch::Channel> {
    ch::Channel::from_str_name(&format!("CHANNEL_{}", text.to_ascii_uppercase())).ok_or_else(|| {
        anyhow::anyhow!(
            "channel {text:?} is not one of SMS, VOICE, EMAIL, WHATSAPP, PUSH, POSTAL, CALL_CENTRE"
        )
    })
}

fn entry_line(e: &va::ConsentEntry) -> String {
    format!(
        "#{} {} {} purpose={} channel={} basis={:?} evidence={} by {}{}",
        e.sequence,
        e.kind,
        e.client_number,
        e.purpose,
        if e.channel.is_empty() {
            "any"
        } else {
            &e.channel
        },
        e.lawful_basis(),
        e.evidence_ref,
        e.actor,
        if e.notice_version.is_empty() {
            String::new()
        } else {
            format!(" (notice {})", e.notice_version)
        }
    ) + &if e.record_ids.is_empty() {
        String::new()
    } else {
        format!(" records={}", e.record_ids.join(","))
    } + &match e.decision() {
        va::ConsentDecision::Unspecified => String::new(),
        d => format!(" -> {d:?}"),
    }
}

#[derive(Debug, clap::Subcommand)]
pub enum ConsentCommand {
    /// Record a consent decision in the ledger.
    Record {
        client: String,
        #[arg(long)]
        purpose: String,
        /// SMS, VOICE, EMAIL, ...; omit for every channel.
        #[arg(long, default_value = "")]
        channel: String,
        /// granted, denied or withdrawn.
        #[arg(long)]
        decision: String,
        /// consent, contract, legal_obligation, legitimate_interest, ...
        #[arg(long, default_value = "consent")]
        basis: String,
        #[arg(long, default_value = "")]
        evidence: String,
        #[arg(long, default_value = "")]
        source: String,
        #[arg(long, default_value = "")]
        notice_version: String,
        /// Expiry, Unix milliseconds (0: none).
        #[arg(long, default_value_t = 0)]
        expires_at_ms: i64,
        /// A resolver record the decision came with (repeatable); omitted:
        /// the records the client number stands for. A split sends the
        /// entry to the side holding its records.
        #[arg(long = "record")]
        records: Vec<String>,
    },
    /// May we, for this purpose and channel, now?
    Check {
        client: String,
        #[arg(long)]
        purpose: String,
        #[arg(long, default_value = "")]
        channel: String,
    },
    /// Current state and full history of a client's consents.
    Show { client: String },
    /// Verify the hash chain of the whole ledger.
    Verify,
    /// Auditor export of the ledger to stdout.
    Export {
        /// jsonl or csv.
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// Only this client (and the numbers merged into it).
        #[arg(long, default_value = "")]
        client: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct ConsentArgs {
    #[command(flatten)]
    server: Server,
    #[command(subcommand)]
    command: ConsentCommand,
}

pub fn consent(args: ConsentArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let mut v = VaultServiceClient::new(args.server.channel().await?);
        match args.command {
            ConsentCommand::Record {
                client,
                purpose,
                channel,
                decision: d,
                basis: b,
                evidence,
                source,
                notice_version,
                expires_at_ms,
                records,
            } => {
                let r = v
                    .record_consent(va::RecordConsentRequest {
                        client_number: client,
                        purpose,
                        channel,
                        decision: decision(&d)? as i32,
                        lawful_basis: basis(&b)? as i32,
                        evidence_ref: evidence,
                        source_system: source,
                        notice_version,
                        captured_at_unix_ms: 0,
                        expires_at_unix_ms: expires_at_ms,
                        record_ids: records,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                if let Some(e) = r.entry {
                    println!("recorded {}", entry_line(&e));
                }
            }
            ConsentCommand::Check {
                client,
                purpose,
                channel,
            } => {
                let r = v
                    .check_consent(va::CheckConsentRequest {
                        client_number: client,
                        purpose,
                        channel,
                        at_unix_ms: 0,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                println!(
                    "{} for {}: {}",
                    if r.allowed { "allowed" } else { "not allowed" },
                    r.client_number,
                    r.reason
                );
                if let Some(e) = r.deciding_entry {
                    println!("  decided by {}", entry_line(&e));
                }
            }
            ConsentCommand::Show { client } => {
                let r = v
                    .get_consents(va::GetConsentsRequest {
                        client_number: client,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                println!(
                    "client {} ({})",
                    r.client_number,
                    r.member_numbers.join(", ")
                );
                for s in &r.current {
                    println!(
                        "  {:<16} {:<8} {}  {}",
                        s.purpose,
                        if s.channel.is_empty() {
                            "any"
                        } else {
                            &s.channel
                        },
                        if s.allowed { "allowed" } else { "not allowed" },
                        s.reason
                    );
                }
                println!("history:");
                for e in &r.history {
                    println!("  {}", entry_line(e));
                }
            }
            ConsentCommand::Verify => {
                let r = v
                    .verify_ledger(va::VerifyLedgerRequest::default())
                    .await
                    .map_err(status)?
                    .into_inner();
                if r.ok {
                    let head: String = r.head_hash.iter().map(|b| format!("{b:02x}")).collect();
                    println!("ledger OK: {} entries, head {head}", r.entries_checked);
                } else {
                    bail!(
                        "ledger broken at entry {}: {} ({} entries checked)",
                        r.first_bad_sequence,
                        r.problem,
                        r.entries_checked
                    );
                }
            }
            ConsentCommand::Export { format, client } => {
                let format = match format.as_str() {
                    "jsonl" | "json-lines" => va::ExportFormat::JsonLines,
                    "csv" => va::ExportFormat::Csv,
                    other => bail!("--format: {other:?} is not jsonl or csv"),
                };
                let mut stream = v
                    .export_consents(va::ExportConsentsRequest {
                        format: format as i32,
                        client_number: client,
                        from_sequence: 0,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                let mut out = std::io::stdout().lock();
                while let Some(chunk) = stream.next().await {
                    out.write_all(&chunk.map_err(status)?.data)?;
                }
            }
        }
        Ok(())
    })
}

#[derive(Debug, clap::Args)]
pub struct EraseArgs {
    #[command(flatten)]
    server: Server,
    client: String,
    /// Reference of the erasure request (no personal data).
    #[arg(long)]
    reason: String,
}

/// Erases a client everywhere (through the vault, which checks legal holds).
pub fn erase(args: EraseArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let mut v = VaultServiceClient::new(args.server.channel().await?);
        let r = v
            .erase_client(va::EraseClientRequest {
                client_number: args.client,
                reason: args.reason,
            })
            .await
            .map_err(status)?
            .into_inner();
        println!(
            "erased {} (and {}): {} fields, {} tokens; resolver {}",
            r.client_number,
            {
                let aliases: Vec<&str> = r
                    .erased_numbers
                    .iter()
                    .map(String::as_str)
                    .filter(|n| *n != r.client_number)
                    .collect();
                if aliases.is_empty() {
                    "no alias".to_string()
                } else {
                    aliases.join(", ")
                }
            },
            r.fields_deleted,
            r.tokens_deleted,
            if r.resolver_notified {
                "erased"
            } else {
                "pending (retried in the background)"
            }
        );
        Ok(())
    })
}

#[derive(Debug, clap::Subcommand)]
pub enum ContactCommand {
    /// May we contact this client, for this purpose, now? Prints the receipt.
    May {
        client: String,
        #[arg(long)]
        purpose: String,
        /// Channels you can use (comma list); default: every channel.
        #[arg(long, value_delimiter = ',')]
        channels: Vec<String>,
        #[arg(long, default_value = "")]
        action: String,
    },
    /// List a client's contact points (values masked).
    Points { client: String },
    /// Add a contact point (the value is sealed by the vault).
    AddPoint {
        client: String,
        #[arg(long)]
        channel: String,
        value: String,
        #[arg(long)]
        verified: bool,
        #[arg(long, default_value = "cli")]
        source: String,
    },
    /// Replace a client's preferences (shows them when only the client is given).
    Prefs(PrefsArgs),
    /// Flag (or with --clear unflag) a client in payment difficulty.
    Hardship {
        client: String,
        #[arg(long)]
        clear: bool,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// A client's Identity/Accessibility/Traceability sector.
    Sector { client: String },
    /// Counts per sector, region and source system.
    Sectors,
    /// Log a touch and its outcome (feeds caps; opt-out keywords withdraw consent).
    Record {
        client: String,
        #[arg(long)]
        channel: String,
        #[arg(long)]
        purpose: String,
        #[arg(long, default_value = "")]
        action: String,
        /// delivered, failed, bounced or opted_out.
        #[arg(long, default_value = "delivered")]
        outcome: String,
        /// The text of an inbound reply ("STOP").
        #[arg(long, default_value = "")]
        reply: String,
    },
}

#[derive(Debug, clap::Args)]
pub struct PrefsArgs {
    client: String,
    /// IANA time zone ("Africa/Abidjan").
    #[arg(long, default_value = "")]
    time_zone: String,
    /// BCP 47 language ("fr", "dyu-CI").
    #[arg(long, default_value = "")]
    language: String,
    /// Quiet hours, local time: HH:MM-HH:MM (may cross midnight).
    #[arg(long)]
    quiet_hours: Option<String>,
    /// The "liste rouge": no contact at all.
    #[arg(long)]
    do_not_contact: bool,
    /// Channels the client refused (comma list).
    #[arg(long, value_delimiter = ',')]
    refuse: Vec<String>,
    /// Preferred channel per purpose: purpose=CHANNEL (repeatable).
    #[arg(long)]
    prefer: Vec<String>,
}

#[derive(Debug, clap::Args)]
pub struct ContactArgs {
    #[command(flatten)]
    server: Server,
    #[command(subcommand)]
    command: ContactCommand,
}

pub fn contact(args: ContactArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let mut c = ChannelServiceClient::new(args.server.channel().await?);
        match args.command {
            ContactCommand::May {
                client,
                purpose,
                channels,
                action,
            } => {
                let allowed = channels
                    .iter()
                    .map(|c| channel(c).map(|c| c as i32))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                let r = c
                    .may_contact(ch::MayContactRequest {
                        client_number: client,
                        purpose,
                        allowed_channels: allowed,
                        action_id: action,
                        at_unix_ms: 0,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                let receipt = r.receipt.clone().unwrap_or_default();
                match r.verdict() {
                    ch::Verdict::Allow => println!(
                        "ALLOW on {:?} via {} ({})",
                        r.channel(),
                        r.contact_point_id,
                        r.masked_value
                    ),
                    ch::Verdict::Defer => println!(
                        "DEFER until {} ms (rule {})",
                        r.allowed_at_unix_ms, receipt.deciding_rule
                    ),
                    v => println!("{v:?} (rule {})", receipt.deciding_rule),
                }
                println!(
                    "receipt for {} at {} (time zone {} from {}):",
                    receipt.client_number,
                    receipt.evaluated_at_unix_ms,
                    receipt.time_zone,
                    receipt.time_zone_source
                );
                for rule in &receipt.rules {
                    println!(
                        "  {:<24} {:<14} {:?} {}",
                        rule.rule,
                        match rule.channel() {
                            ch::Channel::Unspecified => "-".to_string(),
                            c => format!("{c:?}"),
                        },
                        rule.outcome(),
                        rule.detail
                    );
                }
            }
            ContactCommand::Points { client } => {
                let r = c
                    .list_contact_points(ch::ListContactPointsRequest {
                        client_number: client,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                println!("client {}", r.client_number);
                for p in &r.contact_points {
                    println!(
                        "  {} {:<12} {:<22} {:?}{}{} from {}",
                        p.id,
                        format!("{:?}", p.channel()),
                        p.masked_value,
                        p.status(),
                        if p.verified { ", verified" } else { "" },
                        if p.shared { ", shared" } else { "" },
                        p.source_systems.join(",")
                    );
                }
            }
            ContactCommand::AddPoint {
                client,
                channel: chan,
                value,
                verified,
                source,
            } => {
                c.upsert_contact_point(ch::UpsertContactPointRequest {
                    client_number: client.clone(),
                    channel: channel(&chan)? as i32,
                    value,
                    verified,
                    source_system: source,
                })
                .await
                .map_err(status)?;
                println!("contact point added for {client}");
            }
            ContactCommand::Prefs(p) => {
                let only_show = p.time_zone.is_empty()
                    && p.language.is_empty()
                    && p.quiet_hours.is_none()
                    && !p.do_not_contact
                    && p.refuse.is_empty()
                    && p.prefer.is_empty();
                if !only_show {
                    let quiet_hours = match &p.quiet_hours {
                        None => None,
                        Some(q) => {
                            let (start, end) = q.split_once('-').ok_or_else(|| {
                                anyhow::anyhow!("--quiet-hours: expected HH:MM-HH:MM")
                            })?;
                            Some(ch::QuietHours {
                                start: start.to_string(),
                                end: end.to_string(),
                            })
                        }
                    };
                    let mut preferred = std::collections::HashMap::new();
                    for item in &p.prefer {
                        let (purpose, chan) = item.split_once('=').ok_or_else(|| {
                            anyhow::anyhow!("--prefer: expected purpose=CHANNEL, got {item:?}")
                        })?;
                        preferred.insert(purpose.to_string(), channel(chan)? as i32);
                    }
                    c.set_preferences(ch::SetPreferencesRequest {
                        client_number: p.client.clone(),
                        preferences: Some(ch::Preferences {
                            preferred_channels: preferred,
                            language: p.language.clone(),
                            time_zone: p.time_zone.clone(),
                            quiet_hours,
                            do_not_contact: p.do_not_contact,
                            do_not_contact_channels: p
                                .refuse
                                .iter()
                                .map(|c| channel(c).map(|c| c as i32))
                                .collect::<anyhow::Result<_>>()?,
                            updated_at_unix_ms: 0,
                        }),
                    })
                    .await
                    .map_err(status)?;
                }
                let r = c
                    .get_preferences(ch::GetPreferencesRequest {
                        client_number: p.client.clone(),
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                println!("{r:#?}");
            }
            ContactCommand::Hardship {
                client,
                clear,
                reason,
            } => {
                c.set_hardship(ch::SetHardshipRequest {
                    client_number: client.clone(),
                    hardship: !clear,
                    reason_code: reason,
                })
                .await
                .map_err(status)?;
                println!(
                    "{client} {} payment difficulty",
                    if clear { "no longer in" } else { "flagged in" }
                );
            }
            ContactCommand::Sector { client } => {
                let r = c
                    .get_sector(ch::GetSectorRequest {
                        client_number: client,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                println!(
                    "{} sector {:?} ({}): identity={} accessibility={} traceability={} region={} sources={}",
                    r.client_number,
                    r.sector(),
                    if r.active { "active" } else { "passive" },
                    r.identity,
                    r.accessibility,
                    r.traceability,
                    r.region,
                    r.source_systems.join(",")
                );
            }
            ContactCommand::Sectors => {
                let r = c
                    .sector_report(ch::SectorReportRequest {})
                    .await
                    .map_err(status)?
                    .into_inner();
                let line = |b: &ch::SectorBreakdown| {
                    let counts: Vec<String> = b
                        .sectors
                        .iter()
                        .map(|s| format!("{:?}={}", s.sector(), s.clients))
                        .collect();
                    format!(
                        "{:<20} {:>8} clients ({} active, {} passive)  {}",
                        b.key,
                        b.clients,
                        b.active,
                        b.passive,
                        counts.join(" ")
                    )
                };
                if let Some(t) = &r.total {
                    println!("{}", line(t));
                }
                println!("by region:");
                for b in &r.by_region {
                    println!("  {}", line(b));
                }
                println!("by source system:");
                for b in &r.by_source_system {
                    println!("  {}", line(b));
                }
            }
            ContactCommand::Record {
                client,
                channel: chan,
                purpose,
                action,
                outcome,
                reply,
            } => {
                let outcome = ch::Outcome::from_str_name(&format!(
                    "OUTCOME_{}",
                    outcome.to_ascii_uppercase()
                ))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "--outcome: {outcome:?} is not delivered, failed, bounced or opted_out"
                    )
                })?;
                let r = c
                    .record_contact(ch::RecordContactRequest {
                        client_number: client,
                        channel: channel(&chan)? as i32,
                        purpose,
                        action_id: action,
                        outcome: outcome as i32,
                        inbound_keyword: reply,
                        contact_point_id: String::new(),
                        at_unix_ms: 0,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                println!(
                    "{} for {}",
                    if r.recorded {
                        "recorded"
                    } else {
                        "already recorded"
                    },
                    r.client_number
                );
                if !r.opt_out_keyword.is_empty() {
                    println!(
                        "opt-out keyword {}: {} consent withdrawal(s) written",
                        r.opt_out_keyword,
                        r.withdrawals.len()
                    );
                }
            }
        }
        Ok(())
    })
}

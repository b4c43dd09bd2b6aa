//! `c360 vault ...`: purpose-bound reads, lookups, tokens, the access log,
//! legal holds, client exports and key rotation on a running server.

use std::io::Write;

use c360_proto::vault::v1 as va;
use c360_proto::vault::v1::vault_service_client::VaultServiceClient;

use super::remote::{Server, runtime, status};

#[derive(Debug, clap::Subcommand)]
pub enum VaultCommand {
    /// Read a client's personal fields for a purpose (policy-checked, logged).
    Read {
        client: String,
        #[arg(long)]
        purpose: String,
        /// Fields to read (comma list); default: all.
        #[arg(long, value_delimiter = ',')]
        fields: Vec<String>,
    },
    /// Clients holding exactly this phone, e-mail or national id (blind index).
    Lookup {
        /// phone, email or national_id.
        #[arg(long)]
        domain: String,
        value: String,
        #[arg(long)]
        purpose: String,
    },
    /// Replace a value by an opaque token bound to a client.
    Tokenize {
        client: String,
        #[arg(long)]
        field: String,
        value: String,
    },
    /// Turn tokens back into values (authorised and logged).
    Detokenize {
        #[arg(long)]
        purpose: String,
        tokens: Vec<String>,
    },
    /// Who read what, for which purpose, allowed or denied.
    AccessLog {
        #[arg(long, default_value = "")]
        client: String,
        #[arg(long, default_value = "")]
        actor: String,
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Set (or with --release lift) a legal hold that blocks erasure.
    Hold {
        client: String,
        #[arg(long, default_value = "")]
        basis: String,
        /// Expiry, Unix milliseconds (0: none).
        #[arg(long, default_value_t = 0)]
        expires_at_ms: i64,
        #[arg(long)]
        release: bool,
    },
    /// Everything held about a client, as JSON (an access request).
    ExportClient { client: String },
    /// Re-wrap every data key under the newest key-encryption key.
    RotateKek,
}

#[derive(Debug, clap::Args)]
pub struct VaultArgs {
    #[command(flatten)]
    server: Server,
    #[command(subcommand)]
    command: VaultCommand,
}

fn result_text(r: Option<&va::DecryptResult>) -> String {
    match r.and_then(|r| r.result.as_ref()) {
        Some(va::decrypt_result::Result::Value(v)) => v.clone(),
        Some(va::decrypt_result::Result::Masked(m)) => format!("{m} (masked)"),
        Some(va::decrypt_result::Result::Error(e)) => format!("<{e}>"),
        None => "<none>".into(),
    }
}

pub fn run(args: VaultArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let mut v = VaultServiceClient::new(args.server.channel().await?);
        match args.command {
            VaultCommand::Read {
                client,
                purpose,
                fields,
            } => {
                let r = v
                    .read_fields(va::ReadFieldsRequest {
                        client_number: client,
                        purpose,
                        fields,
                        record_id: String::new(),
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                println!(
                    "client {} (access log #{}{})",
                    r.client_number,
                    r.access_log_sequence,
                    if r.consent_sequence > 0 {
                        format!(", consent #{}", r.consent_sequence)
                    } else {
                        String::new()
                    }
                );
                for f in &r.fields {
                    let name = f.r#ref.as_ref().map(|r| r.field.as_str()).unwrap_or("");
                    println!("  {name:<14} {}", result_text(f.result.as_ref()));
                }
            }
            VaultCommand::Lookup {
                domain,
                value,
                purpose,
            } => {
                let r = v
                    .lookup_blind_index(va::LookupBlindIndexRequest {
                        domain,
                        value,
                        purpose,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                if r.client_numbers.is_empty() {
                    println!("no client");
                }
                for n in r.client_numbers {
                    println!("{n}");
                }
            }
            VaultCommand::Tokenize {
                client,
                field,
                value,
            } => {
                let r = v
                    .tokenize(va::TokenizeRequest {
                        fields: vec![va::PlainField {
                            r#ref: Some(va::FieldRef {
                                client_number: client,
                                record_id: String::new(),
                                field,
                            }),
                            value,
                        }],
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                for t in r.tokens {
                    println!("{t}");
                }
            }
            VaultCommand::Detokenize { purpose, tokens } => {
                let r = v
                    .detokenize(va::DetokenizeRequest {
                        purpose,
                        tokens: tokens.clone(),
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                for (t, res) in tokens.iter().zip(&r.results) {
                    println!("{t}  {}", result_text(Some(res)));
                }
            }
            VaultCommand::AccessLog {
                client,
                actor,
                limit,
            } => {
                let r = v
                    .query_access_log(va::QueryAccessLogRequest {
                        client_number: client,
                        actor,
                        purpose: String::new(),
                        from_unix_ms: 0,
                        to_unix_ms: 0,
                        limit,
                        after_sequence: 0,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                for e in &r.entries {
                    println!(
                        "#{} {} {} ({}) {} {} fields={} purpose={} -> {:?} {}{}",
                        e.sequence,
                        e.at_unix_ms,
                        e.actor,
                        e.role,
                        e.operation,
                        e.client_numbers.join(","),
                        e.fields.join(","),
                        e.purpose,
                        e.outcome(),
                        e.reason,
                        if e.consent_sequence > 0 {
                            format!(" (consent #{})", e.consent_sequence)
                        } else {
                            String::new()
                        }
                    );
                }
            }
            VaultCommand::Hold {
                client,
                basis,
                expires_at_ms,
                release,
            } => {
                v.set_legal_hold(va::SetLegalHoldRequest {
                    client_number: client.clone(),
                    basis,
                    expires_at_unix_ms: expires_at_ms,
                    release,
                })
                .await
                .map_err(status)?;
                println!(
                    "legal hold {} for {client}",
                    if release { "released" } else { "set" }
                );
            }
            VaultCommand::ExportClient { client } => {
                let r = v
                    .export_client(va::ExportClientRequest {
                        client_number: client,
                    })
                    .await
                    .map_err(status)?
                    .into_inner();
                let mut out = std::io::stdout().lock();
                out.write_all(&r.json)?;
                out.write_all(b"\n")?;
            }
            VaultCommand::RotateKek => {
                let r = v
                    .rotate_kek(va::RotateKekRequest {})
                    .await
                    .map_err(status)?
                    .into_inner();
                println!(
                    "data keys under {}: {} re-wrapped, {} already current",
                    r.kek_id, r.rewrapped, r.already_current
                );
            }
        }
        Ok(())
    })
}

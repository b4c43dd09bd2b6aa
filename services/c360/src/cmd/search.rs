//! `c360 search QUERY` and `c360 search reindex` against a running server.

use c360_proto::search::v1 as se;
use c360_proto::search::v1::search_service_client::SearchServiceClient;

use super::remote::{Server, runtime, status};

#[derive(Debug, clap::Args)]
pub struct SearchArgs {
    #[command(flatten)]
    server: Server,
    /// Free text ("Kouasi Konan Abobo") or field queries (phone:0707123456,
    /// id:CI0012345678, email:..., name:...). A birth year or the last
    /// digits of a phone narrow namesakes ("Aminata Traore 1985"). `reindex`
    /// alone rebuilds the index from the start of the resolver's feed.
    #[arg(required = true, num_args = 1..)]
    query: Vec<String>,
    /// Only clients with records in this region (repeatable).
    #[arg(long)]
    region: Vec<String>,
    /// Only clients of this sector: A, B, C, D, X, Y or Z (repeatable).
    #[arg(long)]
    sector: Vec<String>,
    /// Only clients with a record from this source system (repeatable).
    #[arg(long)]
    source: Vec<String>,
    #[arg(long, default_value_t = 10)]
    limit: u32,
    /// Why you search: stewardship, service, collections, audit, ...
    /// (required to search). What each hit shows of names, birth dates,
    /// localities and phones is what the vault's policy allows the token's
    /// role for this purpose, and the read is logged.
    #[arg(long)]
    purpose: Option<String>,
}

pub fn run(args: SearchArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let mut c = SearchServiceClient::new(args.server.channel().await?);
        if args.query == ["reindex"] {
            c.reindex(se::ReindexRequest {}).await.map_err(status)?;
            println!("reindexing from the start of the resolver's feed");
            return Ok(());
        }
        let Some(purpose) = args.purpose else {
            anyhow::bail!(
                "--purpose is required to search (stewardship, service, collections, audit, ...)"
            );
        };
        let r = c
            .search(se::SearchRequest {
                query: args.query.join(" "),
                filters: Some(se::SearchFilters {
                    regions: args.region,
                    sectors: args.sector,
                    source_systems: args.source,
                }),
                page_size: args.limit,
                page_token: String::new(),
                purpose,
            })
            .await
            .map_err(status)?
            .into_inner();
        if r.hits.is_empty() {
            println!("no client found");
        }
        for h in &r.hits {
            // What tells namesakes apart: birth year, locality, phone ending.
            let born = match h.birth_year {
                0 => "born ?".to_string(),
                year => format!("born {year}"),
            };
            let phone = match h.phone_ending.as_str() {
                "" => String::new(),
                ending => format!("  phone ..{ending}"),
            };
            println!(
                "{}  {:<32} score {:>6.2}  sector {:<2} {born}  {}{phone}  matched {}",
                h.client_number,
                h.display_name,
                h.score,
                h.sector,
                if h.locality.is_empty() {
                    "-"
                } else {
                    &h.locality
                },
                h.matched_fields.join(",")
            );
        }
        // On stderr, so that stdout holds one line per hit.
        if !r.masked_fields.is_empty() {
            eprintln!("masked for you: {}", r.masked_fields.join(", "));
        }
        if !r.withheld_fields.is_empty() {
            eprintln!("withheld from you: {}", r.withheld_fields.join(", "));
        }
        Ok(())
    })
}

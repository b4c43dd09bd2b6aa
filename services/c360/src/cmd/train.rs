//! `c360 train`: the model taught by steward labels, in batch; `c360
//! retrain`: the same on a running server.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use c360_core::Record;
use c360_matching::{Label, dedupe, dedupe_labelled};
use c360_proto::resolver::v1 as api;
use rustc_hash::FxHashMap;

use super::dedupe::{settings_and_records, write_output};
use super::remote::{Server, connect, runtime, status};

/// `c360 train`: deduplicates a file with a model taught by labelled pairs.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    /// CSV file of records.
    #[arg(long)]
    input: PathBuf,
    /// CSV of labelled pairs: `record_a,record_b,same` (same: 1/0,
    /// true/false, yes/no), record ids of the input.
    #[arg(long)]
    labels: PathBuf,
    /// TOML mapping of the CSV columns to canonical fields.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Matching settings (TOML).
    #[arg(long)]
    settings: Option<PathBuf>,
    /// Where to write `record_id,client_id` under the taught model.
    #[arg(long)]
    output: Option<PathBuf>,
}

/// `c360 retrain`: re-estimates a running resolver's model from its records
/// and its stewards' decisions (admin token).
#[derive(Debug, clap::Args)]
pub struct RetrainArgs {
    #[command(flatten)]
    server: Server,
}

pub fn train(args: TrainArgs) -> anyhow::Result<()> {
    let (config, records, bad_rows) = settings_and_records(
        &args.input,
        args.mapping.as_deref(),
        args.settings.as_deref(),
    )?;
    let labels = read_labels(&args.labels, &records)?;
    let untaught = dedupe(&records, &config)?;
    let taught = dedupe_labelled(&records, &config, &labels)?;
    let same = labels.iter().filter(|l| l.same).count();
    println!(
        "{} records ({bad_rows} bad rows skipped), {} labelled pairs ({same} one person, {} two people)",
        records.len(),
        labels.len(),
        labels.len() - same
    );
    println!("model without labels {}", untaught.stats.model_version);
    println!("model with labels    {}", taught.stats.model_version);
    println!(
        "clients {} -> {} (largest {} -> {})",
        untaught.stats.clients,
        taught.stats.clients,
        untaught.stats.largest_cluster,
        taught.stats.largest_cluster
    );
    if let Some(path) = &args.output {
        write_output(path, &records, &taught.assignment)?;
    }
    Ok(())
}

/// The labelled pairs of a labels file, as record indices. Errors name the
/// line and the column.
fn read_labels(path: &Path, records: &[Record]) -> anyhow::Result<Vec<Label>> {
    let index: FxHashMap<&str, u32> = records
        .iter()
        .enumerate()
        .map(|(i, r)| (r.record_id.as_str(), u32::try_from(i).unwrap_or(u32::MAX)))
        .collect();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let headers = reader
        .headers()
        .with_context(|| format!("{}", path.display()))?
        .clone();
    let column = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .with_context(|| format!("{}: line 1: no `{name}` column", path.display()))
    };
    let (ca, cb, cs) = (column("record_a")?, column("record_b")?, column("same")?);
    let mut labels = Vec::new();
    for (row, result) in reader.records().enumerate() {
        let line = row + 2;
        let fields = result.with_context(|| format!("{}: line {line}", path.display()))?;
        let get = |c: usize| fields.get(c).unwrap_or("");
        let record = |c: usize| {
            index.get(get(c)).copied().with_context(|| {
                format!(
                    "{}: line {line}, column {}: no such record_id in the input",
                    path.display(),
                    c + 1
                )
            })
        };
        let (a, b) = (record(ca)?, record(cb)?);
        let same = match get(cs).to_ascii_lowercase().as_str() {
            "1" | "true" | "yes" | "same" => true,
            "0" | "false" | "no" | "different" => false,
            _ => bail!(
                "{}: line {line}, column {}: `same` must be 1/0, true/false or yes/no",
                path.display(),
                cs + 1
            ),
        };
        if a == b {
            bail!(
                "{}: line {line}: a record cannot be labelled against itself",
                path.display()
            );
        }
        labels.push(Label { a, b, same });
    }
    Ok(labels)
}

pub fn retrain(args: RetrainArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let mut c = connect(&args.server).await?;
        let r = c
            .retrain(api::RetrainRequest {})
            .await
            .map_err(status)?
            .into_inner();
        println!(
            "model {} -> {} ({} records, {} labelled pairs: {} one person, {} two people)",
            r.previous_model_version,
            r.model_version,
            r.records,
            r.labelled_same + r.labelled_different,
            r.labelled_same,
            r.labelled_different
        );
        Ok(())
    })
}

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use c360_matching::eval::evaluate;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Predicted clustering: CSV with `record_id,client_id`.
    #[arg(long)]
    predicted: PathBuf,
    /// Truth: CSV with `record_id,entity_id`.
    #[arg(long)]
    truth: PathBuf,
    /// How many of the largest predicted clusters to show.
    #[arg(long, default_value_t = 5)]
    top: usize,
}

fn read_pairs(path: &Path, second: &str) -> anyhow::Result<Vec<(String, String)>> {
    let mut reader =
        csv::Reader::from_path(path).with_context(|| format!("cannot open {}", path.display()))?;
    let header = reader.headers()?.clone();
    let col = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(r), Some(c)) = (col("record_id"), col(second)) else {
        bail!(
            "{}: header must have `record_id` and `{second}` columns",
            path.display()
        );
    };
    let mut rows = Vec::new();
    for row in reader.records() {
        let row = row.with_context(|| format!("{}", path.display()))?;
        let line = row.position().map_or(0, |p| p.line());
        match (row.get(r), row.get(c)) {
            (Some(a), Some(b)) if !a.is_empty() && !b.is_empty() => {
                rows.push((a.to_string(), b.to_string()))
            }
            _ => bail!(
                "{}: line {line}: empty record_id or {second}",
                path.display()
            ),
        }
    }
    Ok(rows)
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let predicted = read_pairs(&args.predicted, "client_id")?;
    let truth = read_pairs(&args.truth, "entity_id")?;
    let (e, unmatched) = evaluate(&predicted, &truth, args.top);
    println!("records evaluated      {}", e.records);
    if unmatched > 0 {
        println!("records in one file only {unmatched}");
    }
    println!(
        "clusters               {} predicted, {} true (largest true: {})",
        e.predicted_clusters, e.true_clusters, e.largest_true_cluster
    );
    println!(
        "pairwise               precision {:.4}  recall {:.4}  F1 {:.4}",
        e.pairwise.precision, e.pairwise.recall, e.pairwise.f1
    );
    println!(
        "B-cubed                precision {:.4}  recall {:.4}  F1 {:.4}",
        e.bcubed.precision, e.bcubed.recall, e.bcubed.f1
    );
    println!(
        "pairs                  {} true, {} predicted, {} correct",
        e.true_pairs, e.predicted_pairs, e.correct_pairs
    );
    println!(
        "false merges           {} clusters, {} pairs",
        e.false_merge_clusters, e.false_merge_pairs
    );
    println!("largest predicted clusters (client, records, true entities):");
    for (client, size, entities) in &e.largest_predicted {
        println!("  {client}  {size}  {entities}");
    }
    Ok(())
}

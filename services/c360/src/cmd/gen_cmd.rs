use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context;
use c360_datagen::{GenConfig, write_csv};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Number of records to generate.
    #[arg(long)]
    records: usize,
    /// Seed: the same seed gives the same file.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Records CSV to write.
    #[arg(long)]
    output: PathBuf,
    /// Truth CSV to write (`record_id,entity_id`).
    #[arg(long)]
    truth: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let create = |p: &PathBuf| {
        File::create(p)
            .map(BufWriter::new)
            .with_context(|| format!("cannot create {}", p.display()))
    };
    let summary = write_csv(
        &GenConfig {
            records: args.records,
            seed: args.seed,
        },
        create(&args.output)?,
        create(&args.truth)?,
    )
    .context("cannot write generated records")?;
    eprintln!(
        "generated {} records of {} people (largest: {} records) in {:.1?}",
        summary.records,
        summary.entities,
        summary.largest_entity,
        started.elapsed()
    );
    Ok(())
}

//! Matching quality and speed on FEBRL 1 and 2 and on generated
//! microfinance data.
//!
//! ```text
//! cargo bench -p c360-benches --bench matching                   # FEBRL + 10k + 100k
//! C360_BENCH_SIZES=10000,100000,1000000 cargo bench -p c360-benches --bench matching
//! ```
//!
//! Prints one markdown row per data set, ready for `benches/RESULTS.md`.

use c360_benches::{Run, peak_rss_mib, read_csv, read_truth, run, shared_data, workspace_file};
use c360_core::Mapping;
use c360_datagen::{GenConfig, generate};
use c360_matching::MatchConfig;

fn main() {
    let sizes: Vec<usize> = std::env::var("C360_BENCH_SIZES")
        .unwrap_or_else(|_| "10000,100000".to_string())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let seed: u64 = std::env::var("C360_BENCH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(42);
    println!("{}", Run::HEADER);

    let febrl_mapping =
        Mapping::from_path(&workspace_file("examples/mappings/febrl.toml")).expect("febrl mapping");
    let febrl_config = MatchConfig::default()
        .with_overrides(
            febrl_mapping
                .matching()
                .expect("[matching] in febrl mapping"),
        )
        .expect("valid overrides");
    for name in ["febrl1", "febrl2"] {
        let data = shared_data().join(format!("{name}.csv"));
        if !data.exists() {
            eprintln!("skipping {name}: {} not found", data.display());
            continue;
        }
        let records = read_csv(&data, Some(&febrl_mapping));
        let truth = read_truth(&shared_data().join(format!("{name}_truth.csv")));
        println!(
            "{}",
            run(name, &records, &truth, &febrl_config).markdown_row()
        );
    }

    for records_wanted in sizes {
        let generated: Vec<_> = generate(&GenConfig {
            records: records_wanted,
            seed,
        })
        .collect();
        let truth: Vec<(String, String)> = generated
            .iter()
            .map(|g| (g.record.record_id.clone(), g.entity_id.clone()))
            .collect();
        let records: Vec<_> = generated.into_iter().map(|g| g.record).collect();
        let r = run(
            &format!("generated {records_wanted} (seed {seed})"),
            &records,
            &truth,
            &MatchConfig::default(),
        );
        println!("{}", r.markdown_row());
        eprintln!("  stats: {:?}", r.stats);
    }
    if let Some(mib) = peak_rss_mib() {
        eprintln!("peak RSS of the whole run: {mib:.0} MiB");
    }
}

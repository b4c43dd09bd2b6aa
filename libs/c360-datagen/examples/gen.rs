//! Writes `records.csv` and `truth.csv`:
//! `cargo run --release -p c360-datagen --example gen -- 1000000 42 /tmp/out`
//! (with `count` as the directory, only generates and counts).
use std::io::BufWriter;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let records = args.get(1).map_or(Ok(10_000), |s| s.parse())?;
    let seed = args.get(2).map_or(Ok(42), |s| s.parse())?;
    let dir = args.get(3).map_or(".", String::as_str);
    let config = c360_datagen::GenConfig { records, seed };
    let start = std::time::Instant::now();
    if dir == "count" {
        let n = c360_datagen::generate(&config).count();
        eprintln!("{n} records generated in {:.2?}", start.elapsed());
        return Ok(());
    }
    let dir = std::path::PathBuf::from(dir);
    let out = BufWriter::new(std::fs::File::create(dir.join("records.csv"))?);
    let truth = BufWriter::new(std::fs::File::create(dir.join("truth.csv"))?);
    let summary = c360_datagen::write_csv(&config, out, truth)?;
    eprintln!("{summary:?} in {:.2?}", start.elapsed());
    Ok(())
}

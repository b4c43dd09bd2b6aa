use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use c360_core::{Mapping, Record, RecordReader};
use c360_matching::{MatchConfig, Preparer, dedupe, unpack_pair};
use c360_resolver::quality::{QualityCounts, describe};
use c360_standardise::names::NameVariants;
use rustc_hash::FxHashMap;

use super::progress;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum OnError {
    /// Report bad rows and leave them out.
    Skip,
    /// Stop at the first bad row.
    Fail,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// CSV file of records.
    #[arg(long)]
    input: PathBuf,
    /// TOML mapping of the CSV columns to canonical fields. Without it the
    /// header must use the canonical names (record_id, given_name, ...).
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Output CSV: `record_id,client_id`, one row per input record.
    #[arg(long)]
    output: PathBuf,
    /// What to do with a bad row.
    #[arg(long, value_enum, default_value_t = OnError::Skip)]
    on_error: OnError,
    /// Also write every candidate pair with its explanation and decision
    /// (JSON lines; large).
    #[arg(long)]
    pairs: Option<PathBuf>,
    /// Country for phone numbers written without a country prefix.
    #[arg(long)]
    default_country: Option<String>,
    /// Matching settings (TOML; `c360 settings --dump` prints every key with
    /// its default). A mapping's `[matching]` table applies over it.
    #[arg(long)]
    settings: Option<PathBuf>,
    /// Also print the source's profile and the learned weight of every
    /// level (as `c360 profile`).
    #[arg(long)]
    profile: bool,
    /// Treat a record holding a value that cannot be standardised (a birth
    /// date "1950-51-01") as a bad row, instead of keeping it with the value
    /// flagged and ignored for matching, as the resolver does.
    #[arg(long)]
    strict: bool,
}

/// `c360 profile`: what a source is like, and what the model learns from it.
#[derive(Debug, clap::Args)]
pub struct ProfileArgs {
    /// CSV file of records.
    #[arg(long)]
    input: PathBuf,
    /// TOML mapping of the CSV columns to canonical fields.
    #[arg(long)]
    mapping: Option<PathBuf>,
    /// Matching settings (TOML).
    #[arg(long)]
    settings: Option<PathBuf>,
}

/// `c360 settings`: the effective matching settings.
#[derive(Debug, clap::Args)]
pub struct SettingsArgs {
    /// Print every key with its value (the defaults, or the file's over them).
    #[arg(long)]
    dump: bool,
    /// A settings file to check and print.
    #[arg(long)]
    settings: Option<PathBuf>,
}

/// The matching settings: the defaults, a settings file over them, then a
/// mapping's `[matching]` table. Errors name the file and the key.
pub fn load_settings(
    settings: Option<&std::path::Path>,
    mapping: Option<&Mapping>,
) -> anyhow::Result<MatchConfig> {
    let mut config = match settings {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            MatchConfig::from_toml(&text).with_context(|| format!("{}", path.display()))?
        }
        None => MatchConfig::default(),
    };
    if let Some(table) = mapping.and_then(Mapping::matching) {
        config = config.with_overrides(table)?;
    }
    Ok(config)
}

pub fn settings(args: SettingsArgs) -> anyhow::Result<()> {
    let config = load_settings(args.settings.as_deref(), None)?;
    if args.dump {
        println!("# c360 matching settings ({})", config.hash());
        print!("{}", config.to_toml());
    } else {
        println!("settings valid ({})", config.hash());
    }
    Ok(())
}

/// The settings and the records of a file, bad rows skipped (their count
/// returned), for the commands that only learn from it.
pub(super) fn settings_and_records(
    input: &PathBuf,
    mapping: Option<&std::path::Path>,
    settings: Option<&std::path::Path>,
) -> anyhow::Result<(MatchConfig, Vec<Record>, usize)> {
    let mapping = mapping.map(Mapping::from_path).transpose()?;
    let config = load_settings(settings, mapping.as_ref())?;
    config.validate()?;
    let preparer = Preparer::new(&config.default_country, NameVariants::builtin())?;
    let input = Input {
        path: input,
        mapping: mapping.as_ref(),
        on_error: OnError::Skip,
        strict: false,
        preparer: &preparer,
    };
    let (records, bad_rows, _) = read_records(&input)?;
    Ok((config, records, bad_rows))
}

pub fn profile(args: ProfileArgs) -> anyhow::Result<()> {
    let (config, records, bad_rows) = settings_and_records(
        &args.input,
        args.mapping.as_deref(),
        args.settings.as_deref(),
    )?;
    let outcome = dedupe(&records, &config)?;
    if bad_rows > 0 {
        println!("bad rows skipped {bad_rows}");
    }
    print_profile(&records, &outcome);
    Ok(())
}

fn print_profile(records: &[Record], outcome: &c360_matching::DedupeOutcome) {
    let profile = c360_matching::profile::profile(records, &outcome.matcher.records);
    print!("{}", profile.render(Some(&outcome.matcher.model)));
}

/// How many bad rows are printed one by one before only counting.
const SHOWN_ERRORS: usize = 20;

pub fn run(args: Args) -> anyhow::Result<()> {
    let started = Instant::now();
    let mapping = args
        .mapping
        .as_deref()
        .map(Mapping::from_path)
        .transpose()?;
    let mut config = load_settings(args.settings.as_deref(), mapping.as_ref())?;
    if let Some(country) = args.default_country {
        config.default_country = country;
    }
    config.validate()?;

    let preparer = Preparer::new(&config.default_country, NameVariants::builtin())?;
    let input = Input {
        path: &args.input,
        mapping: mapping.as_ref(),
        on_error: args.on_error,
        strict: args.strict,
        preparer: &preparer,
    };
    let (records, bad_rows, quality) = read_records(&input)?;
    let bar = progress::stage("matching");
    let outcome = dedupe(&records, &config)?;
    bar.finish_and_clear();

    write_output(&args.output, &records, &outcome.assignment)?;
    if let Some(path) = &args.pairs {
        write_pairs(path, &records, &outcome)?;
    }
    if args.profile {
        print_profile(&records, &outcome);
    }
    let s = &outcome.stats;
    eprintln!(
        "{} records -> {} clients ({} duplicate groups, largest {}), {} bad rows skipped, in {:.1?}",
        s.records,
        s.clients,
        s.duplicate_groups,
        s.largest_cluster,
        bad_rows,
        started.elapsed()
    );
    let (_, flagged) = quality.totals();
    if flagged > 0 {
        eprintln!(
            "  {flagged} records kept with values flagged as unusable (ignored for matching): {}",
            super::quality::by_field_text(&quality)
        );
    }
    eprintln!(
        "  candidate pairs {} (oversized blocks {}), linked {}, to review {}, vetoed {}, merges refused {} (conflict) {} (size)",
        s.blocking.candidate_pairs,
        s.blocking.oversized_blocks,
        s.linked_pairs,
        s.review_pairs,
        s.vetoed_pairs,
        s.merges_refused_conflict,
        s.merges_refused_size
    );
    eprintln!(
        "  model {} (EM {} iterations{}, learned from {} pairs); prepare {:.1?}, blocking {:.1?}, training {:.1?}, scoring {:.1?}, clustering {:.1?}",
        s.model_version,
        s.em_iterations,
        if s.em_converged {
            ", converged"
        } else {
            ", not converged"
        },
        s.training_pairs,
        s.prepare_time,
        s.blocking_time,
        s.training_time,
        s.scoring_time,
        s.clustering_time
    );
    Ok(())
}

/// The input file and how to read it.
struct Input<'a> {
    pub path: &'a PathBuf,
    pub mapping: Option<&'a Mapping>,
    pub on_error: OnError,
    pub strict: bool,
    pub preparer: &'a Preparer,
}

/// The records, the count of bad rows, and the flags of the values kept
/// but unusable (the resolver's rule, through the same preparer).
fn read_records(input: &Input<'_>) -> anyhow::Result<(Vec<Record>, usize, QualityCounts)> {
    let Input {
        path,
        mapping,
        on_error,
        strict,
        preparer,
    } = *input;
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut reader = RecordReader::new(BufReader::with_capacity(1 << 20, file), mapping)
        .with_context(|| format!("{}", path.display()))?;
    let mut quality = QualityCounts::default();
    let bar = progress::counter("reading");
    let mut records = Vec::new();
    let mut seen: FxHashMap<String, u64> = FxHashMap::default();
    let mut bad_rows = 0usize;
    while let Some(row) = reader.next_record() {
        let outcome = row.map_err(|e| e.to_string()).and_then(|(line, record)| {
            if let Some(first) = seen.insert(record.record_id.clone(), line) {
                return Err(format!(
                    "line {line}: record_id `{}` already used on line {first}",
                    record.record_id
                ));
            }
            let flags = preparer.flags(&record);
            match flags.first() {
                Some(flag) if strict => {
                    let origin = reader.origin();
                    let column = reader
                        .column(origin, flag.field, usize::from(flag.index))
                        .map(|c| format!(", column {c}"))
                        .unwrap_or_default();
                    Err(format!(
                        "line {line}{column}: {} {}",
                        flag.field,
                        describe(flag)
                    ))
                }
                _ => {
                    quality.add(&record.source_system, &flags);
                    Ok(record)
                }
            }
        });
        match outcome {
            Ok(record) => records.push(record),
            Err(message) => {
                if on_error == OnError::Fail {
                    bar.finish_and_clear();
                    bail!("{}: {message}", path.display());
                }
                bad_rows += 1;
                if bad_rows <= SHOWN_ERRORS {
                    bar.suspend(|| eprintln!("skipped {}: {message}", path.display()));
                }
            }
        }
        bar.inc(1);
    }
    bar.finish_and_clear();
    if bad_rows > SHOWN_ERRORS {
        eprintln!("... and {} more bad rows", bad_rows - SHOWN_ERRORS);
    }
    Ok((records, bad_rows, quality))
}

pub(super) fn write_output(
    path: &PathBuf,
    records: &[Record],
    assignment: &[u32],
) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = csv::Writer::from_writer(BufWriter::with_capacity(1 << 20, file));
    out.write_record(["record_id", "client_id"])?;
    let mut id = String::new();
    for (record, &cluster) in records.iter().zip(assignment) {
        id.clear();
        use std::fmt::Write as _;
        write!(id, "C{:08}", cluster + 1)?;
        out.write_record([record.record_id.as_str(), id.as_str()])?;
    }
    out.flush()
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn write_pairs(
    path: &PathBuf,
    records: &[Record],
    outcome: &c360_matching::DedupeOutcome,
) -> anyhow::Result<()> {
    let file = File::create(path).with_context(|| format!("cannot create {}", path.display()))?;
    let mut out = BufWriter::new(file);
    let matcher = &outcome.matcher;
    let heat = matcher.heat();
    let (pairs, _) =
        c360_matching::candidate_pairs(&matcher.records, heat, blocking_config(&matcher.config));
    for p in pairs {
        let (a, b) = unpack_pair(p);
        let explanation = matcher.explain(a, b);
        let line = serde_json::json!({
            "record_a": records[a as usize].record_id,
            "record_b": records[b as usize].record_id,
            "same_client": outcome.assignment[a as usize] == outcome.assignment[b as usize],
            "explanation": explanation,
        });
        serde_json::to_writer(&mut out, &line)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(())
}

fn blocking_config(config: &MatchConfig) -> c360_matching::BlockingConfig {
    c360_matching::BlockingConfig::of(config)
}

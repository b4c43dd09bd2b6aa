//! `c360 quality`: values kept on records but flagged as unusable, counted
//! per source system, field and reason by a running server; and how the
//! other commands show flags.

use c360_proto::common::v1 as pb;
use c360_proto::resolver::v1 as api;

use c360_matching::ValueFlag;
use c360_resolver::quality::QualityCounts;
use c360_standardise::value::Unusable;

use super::remote::{Server, connect, runtime, status};

#[derive(Debug, clap::Args)]
pub struct QualityArgs {
    #[command(flatten)]
    server: Server,
    /// Only this source system.
    #[arg(long)]
    source: Option<String>,
}

/// Prints the data-quality summary of a running server.
pub fn run(args: QualityArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async move {
        let mut c = connect(&args.server).await?;
        let r = c
            .get_quality_summary(api::GetQualitySummaryRequest {
                source_system: args.source.unwrap_or_default(),
            })
            .await
            .map_err(status)?
            .into_inner();
        print!("{}", summary_text(&r));
        Ok(())
    })
}

/// The summary as a table: one line per source system, then one per field
/// and reason flagged in it.
fn summary_text(r: &api::GetQualitySummaryResponse) -> String {
    use std::fmt::Write as _;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} records, {} with values flagged as unusable ({})",
        r.records,
        r.flagged_records,
        percent(r.flagged_records, r.records)
    );
    for s in &r.sources {
        let _ = writeln!(
            out,
            "{}: {} records, {} flagged ({})",
            s.source_system,
            s.records,
            s.flagged_records,
            percent(s.flagged_records, s.records)
        );
        for f in &s.flags {
            let _ = writeln!(out, "  {:<14} {:<20} {:>9}", f.field, f.reason, f.values);
        }
    }
    out
}

fn percent(part: u64, whole: u64) -> String {
    let share = if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    };
    if part > 0 && share < 0.01 {
        // 15 of a million is not nothing.
        return "< 0.01 %".into();
    }
    format!("{share:.2} %")
}

/// A flag as the CLI shows it: `date_of_birth (impossible_date)`,
/// `phone[1] (invalid_phone)`.
pub fn flag_text(f: &pb::ValueFlag) -> String {
    format!("{} ({})", field_at(f), f.reason)
}

/// A flag in a CSV cell: `date_of_birth:impossible_date`.
pub fn flag_code(f: &pb::ValueFlag) -> String {
    format!("{}:{}", field_at(f), f.reason)
}

fn field_at(f: &pb::ValueFlag) -> String {
    if matches!(f.field.as_str(), "phone" | "email") {
        format!("{}[{}]", f.field, f.index)
    } else {
        f.field.clone()
    }
}

/// The flags of `counts` by field and reason, over every source system:
/// `date_of_birth impossible_date 8935, phone invalid_phone 12`.
pub fn by_field_text(counts: &QualityCounts) -> String {
    counts
        .by_field()
        .iter()
        .map(|((field, reason), n)| format!("{field} {reason} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A flag read back from the wire (`None` for a field or reason this
/// version does not know).
pub fn flag_from_proto(f: &pb::ValueFlag) -> Option<ValueFlag> {
    Some(ValueFlag {
        field: f.field.parse().ok()?,
        index: u8::try_from(f.index).unwrap_or(u8::MAX),
        reason: Unusable::from_code(&f.reason)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flag(field: &str, index: u32, reason: &str) -> pb::ValueFlag {
        pb::ValueFlag {
            field: field.into(),
            index,
            reason: reason.into(),
            description: String::new(),
        }
    }

    #[test]
    fn flags_and_summary_read_well() {
        assert_eq!(
            flag_text(&flag("date_of_birth", 0, "impossible_date")),
            "date_of_birth (impossible_date)"
        );
        assert_eq!(
            flag_code(&flag("phone", 1, "invalid_phone")),
            "phone[1]:invalid_phone"
        );
        let mut counts = QualityCounts::default();
        let wire = [
            flag("phone", 1, "invalid_phone"),
            flag("date_of_birth", 0, "impossible_date"),
            flag("phone", 0, "invalid_phone"),
        ];
        let flags: Vec<ValueFlag> = wire.iter().filter_map(flag_from_proto).collect();
        assert_eq!(flags.len(), 3);
        counts.add("core_banking", &flags);
        counts.add("core_banking", &[]);
        assert_eq!(counts.totals(), (2, 1));
        assert_eq!(
            by_field_text(&counts),
            "date_of_birth impossible_date 1, phone invalid_phone 2"
        );
        assert_eq!(flag_from_proto(&flag("phone", 0, "looks_odd")), None);
        let r = api::GetQualitySummaryResponse {
            sources: vec![api::SourceQuality {
                source_system: "core_banking".into(),
                records: 4,
                flagged_records: 1,
                flags: vec![api::FlagCount {
                    field: "date_of_birth".into(),
                    reason: "impossible_date".into(),
                    values: 1,
                }],
            }],
            records: 4,
            flagged_records: 1,
        };
        let text = summary_text(&r);
        assert!(text.starts_with("4 records, 1 with values flagged as unusable (25.00 %)"));
        assert!(text.contains("core_banking: 4 records, 1 flagged (25.00 %)"));
        assert!(text.contains("date_of_birth  impossible_date"));
        assert_eq!(percent(15, 1_000_000), "< 0.01 %");
        assert_eq!(percent(0, 0), "0.00 %");
        assert_eq!(percent(1, 3), "33.33 %");
    }
}

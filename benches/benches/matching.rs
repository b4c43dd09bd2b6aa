//! Matching quality and speed on FEBRL 1 and 2 and on generated
//! microfinance data.
//!
//! ```text
//! cargo bench -p c360-benches --bench matching                   # FEBRL + 10k + 100k
//! C360_BENCH_SIZES=10000,100000,1000000 cargo bench -p c360-benches --bench matching
//! ```
//!
//! Prints one markdown row per data set, ready for `benches/RESULTS.md`.
//! With `C360_BENCH_ANALYSE=N` the generated sets are analysed instead:
//! missed true pairs by cause (never a candidate, vetoed, scored below the
//! review threshold, in review, linked but refused by clustering), false
//! pairs by comparison pattern, and `N` examples of each on stderr.

use c360_benches::{Run, peak_rss_mib, read_csv, read_truth, run, shared_data, workspace_file};
use c360_core::{Mapping, Record};
use c360_datagen::{GenConfig, generate};
use c360_matching::{BlockingConfig, MatchConfig, candidate_pairs, dedupe, pack_pair};

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

    // Thresholds to try: C360_BENCH_MATCHING='link_threshold=0.9,conflict_evidence=-6'.
    let mut generated_config = MatchConfig::default();
    for setting in std::env::var("C360_BENCH_MATCHING")
        .unwrap_or_default()
        .split(',')
    {
        let Some((key, value)) = setting.split_once('=') else {
            continue;
        };
        let value: f64 = value.trim().parse().expect("a number");
        match key.trim() {
            "link_threshold" => generated_config.link_threshold = value,
            "review_threshold" => generated_config.review_threshold = value,
            "conflict_log_odds" => generated_config.conflict_log_odds = value,
            "conflict_evidence" => generated_config.conflict_evidence = value,
            "soft_conflict_share" => generated_config.soft_conflict_share = value,
            "window" => generated_config.window = value as usize,
            "max_block_size" => generated_config.max_block_size = value as usize,
            "u_sample_pairs" => generated_config.u_sample_pairs = value as usize,
            other => panic!("C360_BENCH_MATCHING: unknown setting {other}"),
        }
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
        if let Ok(examples) = std::env::var("C360_BENCH_ISOLATED") {
            let entities: Vec<String> = truth.iter().map(|(_, e)| e.clone()).collect();
            isolated(
                &records,
                &entities,
                &generated_config,
                examples.parse().unwrap_or(0),
            );
            continue;
        }
        if let Ok(examples) = std::env::var("C360_BENCH_ANALYSE") {
            let entities: Vec<String> = truth.iter().map(|(_, e)| e.clone()).collect();
            let examples = examples.parse().unwrap_or(0);
            analyse(&records, &entities, &generated_config, examples);
            continue;
        }
        let r = run(
            &format!("generated {records_wanted} (seed {seed})"),
            &records,
            &truth,
            &generated_config,
        );
        println!("{}", r.markdown_row());
        eprintln!("  stats: {:?}", r.stats);
    }
    if let Some(mib) = peak_rss_mib() {
        eprintln!("peak RSS of the whole run: {mib:.0} MiB");
    }
}

/// Error analysis (`C360_BENCH_ANALYSE=N`): where the missed and the false
/// pairs are, with `N` examples of each printed to stderr.
/// A pair's score and what became of it: vetoed, a candidate with its
/// decision, or not a candidate (with the decision it would have had).
fn classify(
    matcher: &c360_matching::Matcher,
    candidates: &std::collections::HashSet<u64>,
    a: u32,
    b: u32,
) -> (c360_matching::PairScore, String) {
    let s = matcher.score_pair(a, b);
    let decision = matcher.decide(&s);
    let class = match (candidates.contains(&pack_pair(a, b)), s.veto) {
        (_, Some(v)) => format!("vetoed {}", v.name()),
        (false, None) => format!("not candidate, would be {decision:?}"),
        (true, None) => format!("candidate, {decision:?}"),
    };
    (s, class)
}

fn analyse(records: &[Record], entities: &[String], config: &MatchConfig, examples: usize) {
    use std::collections::{BTreeMap, HashMap, HashSet};
    let outcome = dedupe(records, config).expect("valid config");
    let matcher = &outcome.matcher;
    let (pairs, _) = candidate_pairs(
        &matcher.records,
        matcher.heat(),
        BlockingConfig {
            max_block_size: config.max_block_size,
            window: config.window,
        },
    );
    let candidates: HashSet<u64> = pairs.into_iter().collect();
    let model = &matcher.model;
    eprintln!("prior {:.2} bits", model.prior());
    for field in c360_matching::CompareField::ALL {
        let f = field as usize;
        let weights: Vec<String> = (1..field.level_count())
            .map(|l| {
                format!(
                    "{} m {:.4} u {:.6} w {:.1}",
                    field.level_names()[l],
                    model.m[f][l],
                    model.u[f][l],
                    model.field_weight(field, l as u8, None).0
                )
            })
            .collect();
        eprintln!("  {:<14} {}", field.name(), weights.join(" | "));
    }
    let mut by_entity: HashMap<&str, Vec<u32>> = HashMap::new();
    for (i, e) in entities.iter().enumerate() {
        by_entity.entry(e.as_str()).or_default().push(i as u32);
    }
    let levels_of = |a: u32, b: u32| {
        let s = matcher.score_pair(a, b);
        let l = s.comparison.levels.0;
        format!(
            "sur {} giv {} dob {} sex {} id {} ph {} em {} addr {} loc {} pc {}",
            l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9]
        )
    };
    let show = |i: u32| {
        let r = &records[i as usize];
        format!(
            "{} [{}|{}|{}|{}] sex {} dob {} id {} ph {:?} em {:?} addr {} loc {} reg {} grp {}",
            r.source_system,
            r.given_name,
            r.middle_name,
            r.surname,
            r.full_name,
            r.sex,
            r.date_of_birth,
            r.national_id,
            r.phones,
            r.emails,
            r.address,
            r.locality,
            r.region,
            r.group_id
        )
    };
    // C360_BENCH_ENTITIES=E0000001,E0000002: every pair of those entities.
    for wanted in std::env::var("C360_BENCH_ENTITIES")
        .unwrap_or_default()
        .split(',')
    {
        let Some(members) = by_entity.get(wanted) else {
            continue;
        };
        eprintln!("ENTITY {wanted}");
        for &m in members {
            eprintln!(
                "  #{m} cluster {} {}",
                outcome.assignment[m as usize],
                show(m)
            );
        }
        for (k, &a) in members.iter().enumerate() {
            for &b in &members[k + 1..] {
                let (s, class) = classify(matcher, &candidates, a, b);
                eprintln!(
                    "  #{a} #{b} {class} log_odds {:.1} conflict {} | {}",
                    s.log_odds,
                    matcher.conflicts(a, b),
                    levels_of(a, b)
                );
            }
        }
    }
    let mut missed: BTreeMap<String, usize> = BTreeMap::new();
    let mut patterns: BTreeMap<String, usize> = BTreeMap::new();
    let mut shown: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0usize;
    for members in by_entity.values() {
        for (k, &a) in members.iter().enumerate() {
            for &b in &members[k + 1..] {
                total += 1;
                if outcome.assignment[a as usize] == outcome.assignment[b as usize] {
                    continue;
                }
                let (s, class) = classify(matcher, &candidates, a, b);
                *missed.entry(class.clone()).or_default() += 1;
                if class.starts_with("not candidate") {
                    let l = s.comparison.levels.0;
                    *patterns
                        .entry(format!(
                            "sur {} giv {} dob {} id {} ph {} em {}",
                            l[0], l[1], l[2], l[4], l[5], l[6]
                        ))
                        .or_default() += 1;
                }
                let seen = shown.entry(class.clone()).or_default();
                if *seen < examples {
                    *seen += 1;
                    eprintln!(
                        "MISSED {class} log_odds {:.1}\n  {}\n  {}\n  {}",
                        s.log_odds,
                        levels_of(a, b),
                        show(a),
                        show(b)
                    );
                }
            }
        }
    }
    // The same by pairs of predicted clusters of one entity: the best
    // evidence between the two parts, weighted by the pairs it would win.
    let rank = |class: &str| -> usize {
        [
            "candidate, Link",
            "candidate, Review",
            "not candidate, would be Link",
            "not candidate, would be Review",
            "candidate, Distinct",
            "not candidate, would be Distinct",
        ]
        .iter()
        .position(|c| *c == class)
        .unwrap_or(6)
    };
    let mut split: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for members in by_entity.values() {
        let mut parts: HashMap<u32, Vec<u32>> = HashMap::new();
        for &m in members {
            parts
                .entry(outcome.assignment[m as usize])
                .or_default()
                .push(m);
        }
        let parts: Vec<Vec<u32>> = parts.into_values().collect();
        for (i, x) in parts.iter().enumerate() {
            for y in &parts[i + 1..] {
                let mut best = (7usize, String::new(), 0u32, 0u32);
                for &a in x {
                    for &b in y {
                        let (_, class) = classify(matcher, &candidates, a, b);
                        let r = rank(&class);
                        if r < best.0 {
                            best = (r, class, a, b);
                        }
                    }
                }
                let seen = shown.entry(format!("split {}", best.1)).or_default();
                if *seen < examples {
                    *seen += 1;
                    let (a, b) = (best.2, best.3);
                    eprintln!(
                        "SPLIT {} ({} x {}) log_odds {:.1}\n  {}\n  {}\n  {}",
                        best.1,
                        x.len(),
                        y.len(),
                        matcher.score_pair(a, b).log_odds,
                        levels_of(a, b),
                        show(a),
                        show(b)
                    );
                    if best.1 == "candidate, Link" {
                        for &c in x.iter().chain(y) {
                            for &d in x.iter().chain(y) {
                                if c < d
                                    && x.contains(&c) != x.contains(&d)
                                    && matcher.conflicts(c, d)
                                {
                                    let sc = matcher.score_pair(c, d);
                                    eprintln!(
                                        "    conflict {:?} {:.1}: {}\n      {}\n      {}",
                                        sc.veto.map(|v| v.name()),
                                        sc.log_odds,
                                        levels_of(c, d),
                                        show(c),
                                        show(d)
                                    );
                                }
                            }
                        }
                    }
                }
                let e = split.entry(best.1).or_default();
                e.0 += 1;
                e.1 += x.len() * y.len();
            }
        }
    }
    eprintln!("split entities, by the best evidence between two parts (parts, pairs):");
    for (class, (parts, pairs)) in &split {
        eprintln!("  {parts:>7} {pairs:>7}  {class}");
    }
    let missed_total: usize = missed.values().sum();
    eprintln!("true pairs {total}, missed {missed_total}");
    for (class, n) in &missed {
        eprintln!("  {n:>7}  {class}");
    }
    let mut top: Vec<_> = patterns.into_iter().collect();
    top.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    eprintln!("never-candidate level patterns (sur giv dob id ph em):");
    for (p, n) in top.iter().take(25) {
        eprintln!("  {n:>7}  {p}");
    }
    // False pairs: same predicted cluster, different entities.
    let mut clusters: HashMap<u32, Vec<u32>> = HashMap::new();
    for (i, &c) in outcome.assignment.iter().enumerate() {
        clusters.entry(c).or_default().push(i as u32);
    }
    let mut false_pairs = 0usize;
    let mut false_shown = 0usize;
    let mut false_patterns: BTreeMap<String, usize> = BTreeMap::new();
    for members in clusters.values() {
        for (k, &a) in members.iter().enumerate() {
            for &b in &members[k + 1..] {
                if entities[a as usize] == entities[b as usize] {
                    continue;
                }
                false_pairs += 1;
                let s = matcher.score_pair(a, b);
                let l = s.comparison.levels.0;
                *false_patterns
                    .entry(format!(
                        "sur {} giv {} dob {} id {} ph {} em {} addr {} loc {}",
                        l[0], l[1], l[2], l[4], l[5], l[6], l[7], l[8]
                    ))
                    .or_default() += 1;
                if false_shown < examples {
                    false_shown += 1;
                    eprintln!(
                        "FALSE log_odds {:.1} edge {}\n  {}\n  {}\n  {}",
                        s.log_odds,
                        candidates.contains(&pack_pair(a, b)),
                        levels_of(a, b),
                        show(a),
                        show(b)
                    );
                }
            }
        }
    }
    eprintln!("false pairs {false_pairs}");
    let mut top: Vec<_> = false_patterns.into_iter().collect();
    top.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    for (p, n) in top.iter().take(20) {
        eprintln!("  {n:>7}  {p}");
    }
}

/// Records of a multi-record entity that share no standardised phone,
/// national ID, full birth date or e-mail with any other record of it
/// (`C360_BENCH_ISOLATED=N`): by what the record carries, with `N` examples
/// of the raw values of the record and its entity's others.
fn isolated(records: &[Record], entities: &[String], config: &MatchConfig, examples: usize) {
    use std::collections::{BTreeMap, HashMap};
    let outcome = dedupe(records, config).expect("valid config");
    let prepared = &outcome.matcher.records;
    let mut by_entity: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, e) in entities.iter().enumerate() {
        by_entity.entry(e.as_str()).or_default().push(i);
    }
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    let mut shown: BTreeMap<String, usize> = BTreeMap::new();
    let mut total = 0usize;
    for members in by_entity.values().filter(|m| m.len() > 1) {
        for &a in members {
            total += 1;
            let pa = &prepared[a];
            let shares = members.iter().filter(|&&b| b != a).any(|&b| {
                let pb = &prepared[b];
                pa.phones.iter().any(|p| pb.phones.contains(p))
                    || (pa.national_id.is_some() && pa.national_id == pb.national_id)
                    || (pa.dob.is_complete() && pa.dob == pb.dob)
                    || pa.emails.iter().any(|e| pb.emails.contains(e))
            });
            if shares {
                continue;
            }
            let r = &records[a];
            let kind = format!(
                "{} dob {} id {} phones {} rejected {}",
                r.source_system,
                if r.date_of_birth.is_empty() {
                    "-"
                } else if pa.dob.is_complete() {
                    "full"
                } else {
                    "partial"
                },
                if pa.national_id.is_some() { "yes" } else { "-" },
                pa.phones.len(),
                pa.rejected_values
            );
            *kinds.entry(kind.clone()).or_default() += 1;
            let seen = shown.entry(kind.clone()).or_default();
            if *seen < examples {
                *seen += 1;
                eprintln!("ISOLATED {kind}");
                for &b in members {
                    let r = &records[b];
                    eprintln!(
                        "  {} {} dob {:?} id {:?} ph {:?} em {:?} country {:?}",
                        if b == a { "*" } else { " " },
                        r.source_system,
                        r.date_of_birth,
                        r.national_id,
                        r.phones,
                        r.emails,
                        r.country
                    );
                }
            }
        }
    }
    let isolated: usize = kinds.values().sum();
    eprintln!("records in multi-record entities {total}, isolated {isolated}");
    let mut top: Vec<_> = kinds.into_iter().collect();
    top.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    for (k, n) in top.iter().take(40) {
        eprintln!("  {n:>7}  {k}");
    }
}

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
            "training_pairs" => generated_config.training_pairs = value as usize,
            "hot_phone_holders" => generated_config.hot_phone_holders = value as u32,
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
        // Analysis modes: one of them instead of the figures.
        let entities = || -> Vec<String> { truth.iter().map(|(_, e)| e.clone()).collect() };
        let number = |name: &str| std::env::var(name).ok().map(|v| v.parse().unwrap_or(0));
        if let Some(examples) = number("C360_BENCH_ISOLATED") {
            isolated(&records, &entities(), &generated_config, examples);
            continue;
        }
        if let Some(k) = number("C360_BENCH_NESTED") {
            nested(&records, &entities(), &generated_config, k);
            continue;
        }
        if let Some(examples) = number("C360_BENCH_ANALYSE") {
            analyse(&records, &entities(), &generated_config, examples);
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
    let (pairs, _) = candidate_pairs(&matcher.records, matcher.heat(), BlockingConfig::of(config));
    let candidates: HashSet<u64> = pairs.into_iter().collect();
    let model = &matcher.model;
    eprintln!("prior {:.2} bits", model.prior());
    print_model(model);
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
                if class.starts_with("not candidate") && !class.ends_with("Distinct") {
                    *patterns
                        .entry(format!("{class}: {}", short_pattern(&s)))
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
    eprintln!("never-candidate Link/Review level patterns:");
    print_most_common(patterns, 25);
    // False pairs: same predicted cluster, different entities.
    let mut clusters: HashMap<u32, Vec<u32>> = HashMap::new();
    for (i, &c) in outcome.assignment.iter().enumerate() {
        clusters.entry(c).or_default().push(i as u32);
    }
    let mut false_pairs = 0usize;
    let mut false_shown = 0usize;
    let mut false_patterns: BTreeMap<String, usize> = BTreeMap::new();
    let mut false_links = 0usize;
    let mut false_link_patterns: BTreeMap<String, usize> = BTreeMap::new();
    for members in clusters.values() {
        for (k, &a) in members.iter().enumerate() {
            for &b in &members[k + 1..] {
                if entities[a as usize] == entities[b as usize] {
                    continue;
                }
                false_pairs += 1;
                let s = matcher.score_pair(a, b);
                let pattern = short_pattern(&s);
                // The links that joined two people: a false pair that was a
                // candidate decided as a link.
                if candidates.contains(&pack_pair(a, b))
                    && matcher.decide(&s) == c360_matching::PairDecision::Link
                {
                    false_links += 1;
                    *false_link_patterns.entry(pattern.clone()).or_default() += 1;
                }
                *false_patterns.entry(pattern).or_default() += 1;
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
    print_most_common(false_patterns, 20);
    eprintln!(
        "of which linked directly {false_links} (and true pairs linked directly with the same pattern)"
    );
    let mut true_link_patterns: HashMap<String, usize> = HashMap::new();
    for members in by_entity.values() {
        for (k, &a) in members.iter().enumerate() {
            for &b in &members[k + 1..] {
                if !candidates.contains(&pack_pair(a, b)) {
                    continue;
                }
                let s = matcher.score_pair(a, b);
                if matcher.decide(&s) != c360_matching::PairDecision::Link {
                    continue;
                }
                *true_link_patterns.entry(short_pattern(&s)).or_default() += 1;
            }
        }
    }
    print_most_common(
        false_link_patterns.into_iter().map(|(pattern, n)| {
            let t = true_link_patterns.get(&pattern).copied().unwrap_or(0);
            (format!("{pattern}  (true {t})"), n)
        }),
        25,
    );
}

/// A pair's comparison levels without sex and postcode, to count pairs by
/// pattern.
fn short_pattern(s: &c360_matching::PairScore) -> String {
    let l = s.comparison.levels.0;
    format!(
        "sur {} giv {} dob {} id {} ph {} em {} addr {} loc {}",
        l[0], l[1], l[2], l[4], l[5], l[6], l[7], l[8]
    )
}

/// Each field's m, u and weight per agreement level (as `c360 profile`).
fn print_model(model: &c360_matching::FsModel) {
    eprint!("{}", c360_matching::profile::weights(model));
}

/// Prints the `most` largest counts, largest first.
fn print_most_common<K: std::fmt::Display>(
    counts: impl IntoIterator<Item = (K, usize)>,
    most: usize,
) {
    let mut top: Vec<(K, usize)> = counts.into_iter().collect();
    top.sort_by_key(|entry| std::cmp::Reverse(entry.1));
    for (key, n) in top.iter().take(most) {
        eprintln!("  {n:>7}  {key}");
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
    print_most_common(kinds, 40);
}

/// Scale analysis (`C360_BENCH_NESTED=K`): the records of entities
/// `E0000001..=EK` are deduplicated alone and within the whole set; the
/// true pairs linked alone but not in the whole (and false pairs that
/// appear only in the whole) are classified by what changed: candidacy,
/// score (prior and each field's weight), or clustering.
fn nested(records: &[Record], entities: &[String], config: &MatchConfig, k: usize) {
    use std::collections::{BTreeMap, HashMap};
    let number = |e: &str| -> usize { e[1..].parse().unwrap_or(usize::MAX) };
    let sub_index: Vec<u32> = (0..records.len() as u32)
        .filter(|&i| number(&entities[i as usize]) <= k)
        .collect();
    let sub_records: Vec<Record> = sub_index
        .iter()
        .map(|&i| records[i as usize].clone())
        .collect();
    eprintln!(
        "nested: {} of {} records (entities up to {k})",
        sub_records.len(),
        records.len()
    );
    let full = dedupe(records, config).expect("valid config");
    let sub = dedupe(&sub_records, config).expect("valid config");
    let cands = |m: &c360_matching::Matcher| {
        candidate_pairs(&m.records, m.heat(), BlockingConfig::of(config)).0
    };
    let full_c = cands(&full.matcher);
    let sub_c = cands(&sub.matcher);
    for (name, m) in [("sub", &sub.matcher), ("full", &full.matcher)] {
        eprintln!(
            "{name}: prior {:.2} bits, matches/record {:.4}",
            m.model.prior(),
            m.model.matches_per_record
        );
        print_model(&m.model);
    }
    let decision = |m: &c360_matching::Matcher, c: &[u64], a: u32, b: u32| -> String {
        let s = m.score_pair(a, b);
        let d = m.decide(&s);
        let cand = c.binary_search(&pack_pair(a, b)).is_ok();
        match s.veto {
            Some(v) => format!("veto {}", v.name()),
            None => format!("{}{d:?}", if cand { "cand " } else { "NOT " }),
        }
    };
    // Per-field weight deltas (full - sub) of pairs whose score fell.
    let mut field_delta: BTreeMap<&'static str, (f64, usize)> = BTreeMap::new();
    let tally = |label: &str,
                 map: &mut BTreeMap<String, usize>,
                 sa: u32,
                 sb: u32,
                 fa: u32,
                 fb: u32,
                 fd: &mut BTreeMap<&'static str, (f64, usize)>| {
        let ds = decision(&sub.matcher, &sub_c, sa, sb);
        let dfl = decision(&full.matcher, &full_c, fa, fb);
        let es = sub.matcher.explain(sa, sb);
        let ef = full.matcher.explain(fa, fb);
        let delta = ef.log_odds - es.log_odds;
        let bucket = if delta < -4.0 {
            "<-4"
        } else if delta < -2.0 {
            "-4..-2"
        } else if delta < 0.0 {
            "-2..0"
        } else {
            ">=0"
        };
        let class = if !full
            .matcher
            .decide(&full.matcher.score_pair(fa, fb))
            .eq(&c360_matching::PairDecision::Link)
            || dfl.starts_with("NOT")
        {
            format!("{label}: sub [{ds}] full [{dfl}] delta {bucket}")
        } else {
            format!("{label}: sub [{ds}] full [{dfl}]")
        };
        *map.entry(class).or_default() += 1;
        if label == "lost" && ds == "cand Link" && dfl == "cand Review" {
            let l = full.matcher.score_pair(fa, fb).comparison.levels.0;
            let pattern = format!(
                "  pattern sur {} giv {} dob {} sex {} id {} ph {} em {} addr {} loc {} pc {}",
                l[0], l[1], l[2], l[3], l[4], l[5], l[6], l[7], l[8], l[9]
            );
            *map.entry(pattern).or_default() += 1;
            let w: Vec<String> = ef
                .fields
                .iter()
                .zip(&es.fields)
                .filter(|(x, _)| x.weight != 0.0)
                .map(|(x, y)| {
                    format!(
                        "{} {} {:.1}/{:.1}",
                        x.field.name(),
                        x.level,
                        y.weight,
                        x.weight
                    )
                })
                .collect();
            eprintln!(
                "LOST sub {:.1} full {:.1} prior {:.1}/{:.1}: {}",
                es.log_odds,
                ef.log_odds,
                es.prior,
                ef.prior,
                w.join(", ")
            );
        }
        if label == "lost" {
            let e = fd.entry("prior").or_default();
            e.0 += ef.prior - es.prior;
            e.1 += 1;
            for (x, y) in ef.fields.iter().zip(&es.fields) {
                let e = fd.entry(x.field.name()).or_default();
                e.0 += x.weight - y.weight;
                e.1 += 1;
            }
        }
    };
    let mut by_entity: HashMap<&str, Vec<u32>> = HashMap::new();
    for (si, &fi) in sub_index.iter().enumerate() {
        by_entity
            .entry(entities[fi as usize].as_str())
            .or_default()
            .push(si as u32);
    }
    let mut classes: BTreeMap<String, usize> = BTreeMap::new();
    let (mut total, mut both, mut sub_only, mut full_only) = (0usize, 0usize, 0usize, 0usize);
    for members in by_entity.values() {
        for (x, &sa) in members.iter().enumerate() {
            for &sb in &members[x + 1..] {
                total += 1;
                let (fa, fb) = (sub_index[sa as usize], sub_index[sb as usize]);
                let ls = sub.assignment[sa as usize] == sub.assignment[sb as usize];
                let lf = full.assignment[fa as usize] == full.assignment[fb as usize];
                match (ls, lf) {
                    (true, true) => both += 1,
                    (true, false) => {
                        sub_only += 1;
                        tally("lost", &mut classes, sa, sb, fa, fb, &mut field_delta);
                    }
                    (false, true) => {
                        full_only += 1;
                        tally("gained", &mut classes, sa, sb, fa, fb, &mut field_delta);
                    }
                    (false, false) => {}
                }
            }
        }
    }
    eprintln!(
        "true pairs in subset {total}: linked in both {both}, only alone {sub_only}, only in the whole {full_only}"
    );
    for (c, n) in &classes {
        eprintln!("  {n:>7}  {c}");
    }
    eprintln!("mean weight change (full - sub) of lost pairs, by field:");
    for (f, (sum, n)) in &field_delta {
        eprintln!("  {f:<14} {:+.3}", sum / (*n).max(1) as f64);
    }
    // False pairs among subset records.
    let mut false_classes: BTreeMap<String, usize> = BTreeMap::new();
    let mut cl_sub: HashMap<u32, Vec<u32>> = HashMap::new();
    for (si, &c) in sub.assignment.iter().enumerate() {
        cl_sub.entry(c).or_default().push(si as u32);
    }
    let mut full_of_sub: HashMap<u32, Vec<u32>> = HashMap::new();
    for (si, &fi) in sub_index.iter().enumerate() {
        full_of_sub
            .entry(full.assignment[fi as usize])
            .or_default()
            .push(si as u32);
    }
    let (mut f_sub, mut f_full, mut f_both) = (0usize, 0usize, 0usize);
    let mut dummy = BTreeMap::new();
    // Every pair of subset records grouped together but of two entities,
    // as (subset index a, b, whole index a, b).
    let false_pairs = |groups: &HashMap<u32, Vec<u32>>,
                       visit: &mut dyn FnMut(u32, u32, u32, u32)| {
        for members in groups.values() {
            for (x, &sa) in members.iter().enumerate() {
                for &sb in &members[x + 1..] {
                    let (fa, fb) = (sub_index[sa as usize], sub_index[sb as usize]);
                    if entities[fa as usize] != entities[fb as usize] {
                        visit(sa, sb, fa, fb);
                    }
                }
            }
        }
    };
    false_pairs(&full_of_sub, &mut |sa, sb, fa, fb| {
        f_full += 1;
        if sub.assignment[sa as usize] == sub.assignment[sb as usize] {
            f_both += 1;
        } else {
            tally(
                "false, whole only",
                &mut false_classes,
                sa,
                sb,
                fa,
                fb,
                &mut dummy,
            );
        }
    });
    false_pairs(&cl_sub, &mut |sa, sb, fa, fb| {
        f_sub += 1;
        if full.assignment[fa as usize] != full.assignment[fb as usize] {
            tally(
                "false, alone only",
                &mut false_classes,
                sa,
                sb,
                fa,
                fb,
                &mut dummy,
            );
        }
    });
    // False pairs of subset records with records outside the subset.
    let in_sub: std::collections::HashSet<u32> = sub_index.iter().copied().collect();
    let mut cl_full: HashMap<u32, (usize, usize)> = HashMap::new();
    for (fi, &c) in full.assignment.iter().enumerate() {
        let e = cl_full.entry(c).or_default();
        if in_sub.contains(&(fi as u32)) {
            e.0 += 1;
        } else {
            e.1 += 1;
        }
    }
    let crossing: usize = cl_full.values().map(|&(a, b)| a * b).sum();
    eprintln!(
        "false pairs among subset records: alone {f_sub}, in the whole {f_full} (both {f_both}); subset x outside pairs in one cluster (all false) {crossing}"
    );
    for (c, n) in &false_classes {
        eprintln!("  {n:>7}  {c}");
    }
}

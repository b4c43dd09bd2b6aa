//! Clustering without a size cap: a person with many records is one
//! client, and a record that looks like two people does not glue them.

use c360_core::Record;
use c360_datagen::{GenConfig, generate};
use c360_matching::{MatchConfig, dedupe};

/// Generated records of other people, so the model has a population to
/// learn from.
fn background(n: usize) -> Vec<Record> {
    generate(&GenConfig {
        records: n,
        seed: 11,
    })
    .map(|g| g.record)
    .collect()
}

fn person(i: usize, given: &str, surname: &str, dob: &str, id: &str, phone: &str) -> Record {
    Record {
        record_id: format!("P{i}"),
        source_system: "loan_origination".to_string(),
        given_name: given.to_string(),
        surname: surname.to_string(),
        date_of_birth: dob.to_string(),
        national_id: id.to_string(),
        phones: vec![phone.to_string()],
        locality: "Bouaké".to_string(),
        ..Record::default()
    }
}

/// Twelve years of three-month loan cycles and then some: 500 records of
/// one woman, written with the usual noise (a typo in a name, the ID or the
/// phone missing, the birth date with day and month swapped), are one client.
#[test]
fn a_person_with_500_records_is_one_client() {
    let mut records = background(3_000);
    let start = records.len();
    for i in 0..500 {
        let given = match i % 7 {
            0 => "Amenan",
            1 => "Amenane",
            _ => "Amenan",
        };
        let surname = if i % 11 == 0 { "Kouadjo" } else { "Kouadio" };
        let dob = if i % 13 == 0 {
            "07/04/1983"
        } else {
            "04/07/1983"
        };
        let id = if i % 3 == 0 { "" } else { "C0054781236" };
        let phone = if i % 5 == 0 { "" } else { "07 48 12 36 59" };
        records.push(person(start + i, given, surname, dob, id, phone));
    }
    let outcome = dedupe(&records, &MatchConfig::default()).expect("valid config");
    let clients: std::collections::BTreeSet<u32> =
        outcome.assignment[start..].iter().copied().collect();
    assert_eq!(
        clients.len(),
        1,
        "the 500 records went to {} clients",
        clients.len()
    );
    assert!(outcome.stats.largest_cluster >= 500);
    assert_eq!(outcome.stats.merges_refused_size, 0);
}

/// Two brothers, ten records each, with their own birth dates and no ID (so
/// no rule tells them apart, only the evidence); a record with the family
/// phone, the surname and a given name between theirs looks like both. The
/// bridge may join one of them, never both.
#[test]
fn a_weak_bridge_does_not_glue_two_people() {
    let mut records = background(3_000);
    let start = records.len();
    for i in 0..10 {
        records.push(person(
            start + i,
            "Yao",
            "Konan",
            "12/03/1980",
            "",
            "07 07 12 34 56",
        ));
    }
    for i in 10..20 {
        records.push(person(
            start + i,
            "Yves",
            "Konan",
            "30/10/1984",
            "",
            "07 07 12 34 56",
        ));
    }
    // The bridge: family phone, surname, a given name close to both, no
    // birth date, no ID.
    records.push(person(start + 20, "Yvo", "Konan", "", "", "07 07 12 34 56"));
    let outcome = dedupe(&records, &MatchConfig::default()).expect("valid config");
    let a = outcome.assignment[start];
    let b = outcome.assignment[start + 10];
    assert!(
        outcome.assignment[start..start + 10]
            .iter()
            .all(|&c| c == a)
    );
    assert!(
        outcome.assignment[start + 10..start + 20]
            .iter()
            .all(|&c| c == b)
    );
    assert_ne!(a, b, "the bridge glued two people");
}

/// Above `training_pairs` candidates the model learns from an even sample
/// of them: it learns the same weights (within sampling noise), every
/// candidate is still scored, and the clients found are the same.
#[test]
fn a_sampled_training_learns_the_full_model() {
    // Enough records that the rarest level (a different e-mail between
    // two records of one person) is seen in the sample: at 20,000 its m
    // fell to the floor once the pairs were sampled in name order.
    let records = background(40_000);
    let full = dedupe(
        &records,
        &MatchConfig {
            training_pairs: 0,
            ..MatchConfig::default()
        },
    )
    .expect("valid config");
    let candidates = full.stats.blocking.candidate_pairs;
    assert_eq!(full.stats.training_pairs, candidates);
    let cap = candidates / 5;
    let sampled = dedupe(
        &records,
        &MatchConfig {
            training_pairs: cap,
            ..MatchConfig::default()
        },
    )
    .expect("valid config");
    assert!(sampled.stats.training_pairs <= cap, "learned from a sample");
    assert!(sampled.stats.training_pairs * 6 >= candidates);
    // Every candidate is still decided: the vetoes are found at scoring.
    assert_eq!(sampled.stats.vetoed_pairs, full.stats.vetoed_pairs);
    let (m_full, m_sampled) = (&full.matcher.model.m, &sampled.matcher.model.m);
    for (f, (a, b)) in m_full.iter().zip(m_sampled).enumerate() {
        for (l, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(
                (x - y).abs() < 0.02 + 0.1 * x.max(*y),
                "field {f} level {l}: m {x} against {y} sampled"
            );
        }
    }
    let prior = |o: &c360_matching::DedupeOutcome| o.matcher.model.matches_per_record;
    assert!((prior(&full) / prior(&sampled) - 1.0).abs() < 0.1);
    // The same pairs of records share a client.
    let pairs = |o: &c360_matching::DedupeOutcome| {
        let mut by_client: std::collections::HashMap<u32, Vec<usize>> = Default::default();
        for (i, &c) in o.assignment.iter().enumerate() {
            by_client.entry(c).or_default().push(i);
        }
        let mut pairs = std::collections::BTreeSet::new();
        for members in by_client.values() {
            for (k, &a) in members.iter().enumerate() {
                for &b in &members[k + 1..] {
                    pairs.insert((a, b));
                }
            }
        }
        pairs
    };
    let (a, b) = (pairs(&full), pairs(&sampled));
    let differ = a.symmetric_difference(&b).count();
    assert!(
        differ * 100 <= a.len(),
        "{differ} of {} linked pairs differ",
        a.len()
    );
}

/// The batch matches records in name order (neighbours in memory) but
/// answers in input order: the i-th prepared record is the i-th input's,
/// clients are numbered in order of their first record, and labels name
/// input positions.
#[test]
fn answers_come_back_in_input_order() {
    let records = background(3_000);
    let outcome = dedupe(&records, &MatchConfig::default()).expect("valid config");
    let preparer =
        c360_matching::Preparer::new("CI", c360_standardise::names::NameVariants::builtin())
            .expect("preparer");
    for (record, prepared) in records.iter().zip(&outcome.matcher.records) {
        let expected = preparer.prepare(record);
        assert_eq!(prepared.surname_joined, expected.surname_joined);
        assert_eq!(prepared.given_joined, expected.given_joined);
        assert_eq!(prepared.phones, expected.phones);
    }
    let mut next = 0;
    for &client in &outcome.assignment {
        assert!(client <= next, "clients numbered in order of first record");
        next = next.max(client + 1);
    }
    // Two records of different clients, labelled one person, end in one.
    let (a, b) = (
        0u32,
        1 + (1..records.len() as u32)
            .position(|b| outcome.assignment[b as usize] != outcome.assignment[0])
            .expect("more than one client") as u32,
    );
    let taught = c360_matching::dedupe_labelled(
        &records,
        &MatchConfig::default(),
        &[c360_matching::Label { a, b, same: true }],
    )
    .expect("valid labels");
    assert_eq!(taught.assignment[a as usize], taught.assignment[b as usize]);
}

/// On generated microfinance data a person's records never show two
/// different birth dates or given names (typos, never replacements), and
/// the model learns so: those disagreements then veto a link as the
/// person-conflict rule would, with no setting. The same data with one
/// record in four given another birth date does not prove it.
#[test]
fn what_the_data_proves_is_learned_not_set() {
    let records = background(20_000);
    let clean = dedupe(&records, &MatchConfig::default()).expect("valid config");
    let proven = clean.matcher.model.proven;
    assert!(proven.birth_date && proven.given_name, "{proven:?}");
    assert!(!MatchConfig::default().rules.person_conflict);
    let mut noisy = records;
    for (i, r) in noisy.iter_mut().enumerate().filter(|(i, _)| i % 4 == 0) {
        r.date_of_birth = format!("19{:02}-0{}-1{}", 40 + (i * 7) % 50, 1 + i % 9, i % 10);
    }
    let noisy = dedupe(&noisy, &MatchConfig::default()).expect("valid config");
    let proven = noisy.matcher.model.proven;
    assert!(!proven.birth_date && proven.given_name, "{proven:?}");
}

use std::collections::{HashMap, HashSet};

use super::*;

fn csv_bytes(records: usize, seed: u64) -> (Vec<u8>, Vec<u8>, GenSummary) {
    let (mut out, mut truth) = (Vec::new(), Vec::new());
    let summary = write_csv(&GenConfig { records, seed }, &mut out, &mut truth).unwrap();
    (out, truth, summary)
}

fn all(records: usize, seed: u64) -> Vec<Generated> {
    generate(&GenConfig { records, seed }).collect()
}

/// Last 8 digits of a phone: the same number in every local format
/// (including the pre-2021 Ivorian form) maps to one key.
fn phone_key(p: &str) -> String {
    let digits: String = p.chars().filter(char::is_ascii_digit).collect();
    digits[digits.len().saturating_sub(8)..].to_string()
}

fn fold(s: &str) -> String {
    text::strip_accents(s).to_uppercase()
}

/// (year, month, day) from the formats the systems use; `None` if partial.
fn full_date(s: &str) -> Option<(u32, u32, u32)> {
    let nums: Vec<u32> = s
        .split(['/', '-'])
        .map(|p| p.parse().ok())
        .collect::<Option<Vec<_>>>()?;
    match nums.as_slice() {
        [y, m, d] if *y > 1900 => Some((*y, *m, *d)),
        [d, m, y] if *y > 1900 => Some((*y, *m, *d)),
        [n] if s.len() == 8 && n % 100 != 0 => Some((n / 10_000, n / 100 % 100, n % 100)),
        _ => None,
    }
}

/// (surname, birth date) key for twins.
type SurnameDob = (String, (u32, u32, u32));

fn names(r: &c360_core::Record) -> (String, String) {
    (fold(&r.given_name), fold(&r.surname))
}

#[test]
fn deterministic_and_seed_dependent() {
    let a = csv_bytes(3000, 7);
    let b = csv_bytes(3000, 7);
    assert_eq!(a.0, b.0);
    assert_eq!(a.1, b.1);
    let c = csv_bytes(3000, 8);
    assert_ne!(a.0, c.0);
}

#[test]
fn exact_counts_and_small_sizes() {
    for n in [0, 1, 7, 100, 2500] {
        let (out, truth, summary) = csv_bytes(n, 1);
        assert_eq!(summary.records, n);
        assert!(summary.entities <= n);
        let mut rd = csv::Reader::from_reader(out.as_slice());
        assert_eq!(
            rd.headers().unwrap().iter().collect::<Vec<_>>(),
            CSV_HEADER.to_vec()
        );
        assert_eq!(rd.records().count(), n);
        let mut rd = csv::Reader::from_reader(truth.as_slice());
        assert_eq!(
            rd.headers().unwrap().iter().collect::<Vec<_>>(),
            vec!["record_id", "entity_id"]
        );
        assert_eq!(rd.records().count(), n);
        assert_eq!(
            generate(&GenConfig {
                records: n,
                seed: 3
            })
            .count(),
            n
        );
    }
}

#[test]
fn records_read_back_through_core_reader() {
    let (out, _, _) = csv_bytes(500, 2);
    let reader = c360_core::RecordReader::new(out.as_slice(), None).unwrap();
    let rows: Vec<_> = reader.map(|r| r.unwrap().1).collect();
    let direct = all(500, 2);
    assert_eq!(rows.len(), 500);
    for (a, b) in rows.iter().zip(&direct) {
        assert_eq!(a, &b.record);
    }
}

#[test]
fn truth_covers_records_and_ids_are_unique() {
    let (out, truth, summary) = csv_bytes(20_000, 5);
    let mut rd = csv::Reader::from_reader(out.as_slice());
    let ids: Vec<String> = rd.records().map(|r| r.unwrap()[0].to_string()).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len(), "record ids repeat");
    let mut rd = csv::Reader::from_reader(truth.as_slice());
    let truth_ids: Vec<String> = rd.records().map(|r| r.unwrap()[0].to_string()).collect();
    assert_eq!(truth_ids, ids);
    assert!(
        summary.entities > 9000 && summary.entities < 14_000,
        "{summary:?}"
    );
    for id in &ids {
        let prefix = id.split('-').next().unwrap();
        assert!(["CBS", "MM", "LOS", "AGT", "LEG"].contains(&prefix), "{id}");
    }
}

#[test]
fn entity_sizes_are_heavy_tailed_and_bounded() {
    let recs = all(60_000, 11);
    let mut sizes: HashMap<&str, usize> = HashMap::new();
    for g in &recs {
        *sizes.entry(&g.entity_id).or_default() += 1;
    }
    let singletons = sizes.values().filter(|&&s| s == 1).count() as f64 / sizes.len() as f64;
    let mean = recs.len() as f64 / sizes.len() as f64;
    let max = *sizes.values().max().unwrap();
    assert!((0.5..0.62).contains(&singletons), "singletons {singletons}");
    assert!((1.55..1.95).contains(&mean), "mean {mean}");
    assert!((8..=20).contains(&max), "max {max}");
}

#[test]
fn duplicates_are_not_adjacent() {
    let recs = all(30_000, 4);
    let adjacent = recs
        .windows(2)
        .filter(|w| w[0].entity_id == w[1].entity_id)
        .count();
    assert!(adjacent < 30, "{adjacent} adjacent duplicates");
}

#[test]
fn every_record_is_linkable() {
    for g in all(20_000, 9) {
        let r = &g.record;
        assert!(!r.full_name.is_empty() || (!r.given_name.is_empty() && !r.surname.is_empty()));
        assert!(
            !r.date_of_birth.is_empty() || !r.phones.is_empty() || !r.national_id.is_empty(),
            "{r:?}"
        );
        assert!(!r.source_system.is_empty());
    }
}

#[test]
fn hard_negatives_are_present() {
    let recs = all(60_000, 21);
    // Shared phones: households, twins, hot agent phones.
    let mut by_phone: HashMap<String, HashSet<&str>> = HashMap::new();
    for g in &recs {
        for p in &g.record.phones {
            by_phone
                .entry(phone_key(p))
                .or_default()
                .insert(&g.entity_id);
        }
    }
    let shared = by_phone.values().filter(|e| e.len() >= 2).count();
    let hot = by_phone.values().filter(|e| e.len() >= 20).count();
    assert!(shared > 300, "phones shared by distinct entities: {shared}");
    assert!(hot >= 3, "hot phones: {hot}");

    // Twins: same surname and birth date, different given names and entities.
    let mut by_surname_dob: HashMap<SurnameDob, Vec<(&str, String)>> = HashMap::new();
    // Namesakes: same given name and surname, different entities.
    let mut by_name: HashMap<(String, String), HashSet<&str>> = HashMap::new();
    for g in &recs {
        let (given, surname) = names(&g.record);
        if given.is_empty() || surname.is_empty() {
            continue;
        }
        if let Some(d) = full_date(&g.record.date_of_birth) {
            by_surname_dob
                .entry((surname.clone(), d))
                .or_default()
                .push((&g.entity_id, given.clone()));
        }
        by_name
            .entry((given, surname))
            .or_default()
            .insert(&g.entity_id);
    }
    let twins = by_surname_dob
        .values()
        .filter(|v| v.iter().any(|a| v.iter().any(|b| a.0 != b.0 && a.1 != b.1)))
        .count();
    assert!(twins >= 5, "twin-like pairs: {twins}");
    let top_namesakes = by_name.values().map(HashSet::len).max().unwrap_or(0);
    assert!(
        top_namesakes >= 30,
        "most common full name has {top_namesakes} people"
    );

    // Mother and daughter: same name and phone, distinct entities.
    let mut by_name_phone: HashMap<(String, String, String), HashSet<&str>> = HashMap::new();
    for g in &recs {
        let (given, surname) = names(&g.record);
        for p in &g.record.phones {
            by_name_phone
                .entry((given.clone(), surname.clone(), phone_key(p)))
                .or_default()
                .insert(&g.entity_id);
        }
    }
    let same_name_same_phone = by_name_phone
        .iter()
        .filter(|((g, s, _), e)| !g.is_empty() && !s.is_empty() && e.len() >= 2)
        .count();
    assert!(
        same_name_same_phone >= 2,
        "namesakes sharing a phone: {same_name_same_phone}"
    );

    // Solidarity groups of 5-30 people.
    let mut groups: HashMap<&str, HashSet<&str>> = HashMap::new();
    for g in &recs {
        if !g.record.group_id.is_empty() {
            assert_eq!(g.record.source_system, "loan_origination");
            groups
                .entry(&g.record.group_id)
                .or_default()
                .insert(&g.entity_id);
        }
    }
    assert!(groups.len() >= 5, "groups: {}", groups.len());
    assert!(groups.values().all(|m| m.len() <= 30));
    assert!(groups.values().any(|m| m.len() >= 5));
}

#[test]
fn formats_look_right() {
    let recs = all(20_000, 13);
    let legacy_ci_8 = recs.iter().any(|g| {
        g.record.source_system == "legacy_mfi"
            && g.record.phones.iter().any(|p| {
                let d: String = p.chars().filter(char::is_ascii_digit).collect();
                d.len() == 8 && d.as_bytes()[1].is_ascii_digit()
            })
    });
    assert!(legacy_ci_8);
    let with_id = recs
        .iter()
        .filter(|g| !g.record.national_id.is_empty())
        .count() as f64
        / recs.len() as f64;
    assert!(
        (0.45..0.65).contains(&with_id),
        "national id share {with_id}"
    );
    let with_email =
        recs.iter().filter(|g| !g.record.emails.is_empty()).count() as f64 / recs.len() as f64;
    assert!(
        (0.08..0.22).contains(&with_email),
        "email share {with_email}"
    );
    let ci = recs
        .iter()
        .filter(|g| g.record.phones.iter().any(|p| p.contains("225")))
        .count();
    assert!(ci > 1000);
    for g in &recs {
        let r = &g.record;
        if r.source_system == "legacy_mfi" {
            assert_eq!(r.surname, r.surname.to_uppercase());
            assert!(r.surname.is_ascii() && r.full_name.is_ascii());
        }
        if r.source_system == "agent_app" {
            assert!(
                r.given_name.is_ascii() && !r.address.contains(['é', 'è', 'à']),
                "{}",
                r.given_name
            );
        }
        for p in &r.phones {
            assert!(!p.contains(';') && !p.contains('|'));
        }
    }
}

/// An e-mail address belongs to one person: namesakes get numbered
/// addresses, never the same one (a provider would not allow it).
#[test]
fn no_two_people_share_an_email_address() {
    let mut owner: HashMap<String, String> = HashMap::new();
    let mut checked = 0;
    for g in all(60_000, 11) {
        for e in &g.record.emails {
            let e = e.trim().to_lowercase();
            if let Some(other) = owner.insert(e.clone(), g.entity_id.clone()) {
                assert_eq!(other, g.entity_id, "two people share {e}");
            }
            checked += 1;
        }
    }
    assert!(checked > 5_000, "{checked}");
}

#[test]
fn a_new_sim_alone_never_carries_a_record() {
    // A record whose only phone is the person's new SIM (a number none of
    // their other records has) must carry a birth date or the national id,
    // or nobody could link it.
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let mut population = Population::new(World::new(&mut rng, 10_000));
    let mut new_sim_only = 0;
    while new_sim_only < 200 {
        for person in population.cluster(&mut rng) {
            // Without a phone of their own, a person's mobile-money account
            // is always on that number: it is not a change of SIM.
            if person.phone.is_none() && person.family_phone.is_none() {
                continue;
            }
            let new_sim = phone_key(&person.new_phone.digits());
            for _ in 0..20 {
                let r =
                    render::render(&population.world, &mut rng, &person, 1, Source::MobileMoney);
                if !r.phones.is_empty() && r.phones.iter().all(|p| phone_key(p) == new_sim) {
                    new_sim_only += 1;
                    assert!(
                        !r.date_of_birth.is_empty() || !r.national_id.is_empty(),
                        "a record with only the new SIM and nothing else to link it"
                    );
                }
            }
        }
    }
}

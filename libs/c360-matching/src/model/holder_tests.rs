use c360_core::Record;
use c360_standardise::names::NameVariants;

use super::Frequencies;
use crate::Preparer;

fn record(given: &str, surname: &str, phone: &str) -> crate::Prepared {
    with_email(given, surname, phone, "")
}

fn with_email(given: &str, surname: &str, phone: &str, email: &str) -> crate::Prepared {
    let preparer = Preparer::new("CI", NameVariants::builtin()).unwrap();
    preparer.prepare(&Record {
        given_name: given.to_string(),
        surname: surname.to_string(),
        phones: vec![phone.to_string()],
        emails: if email.is_empty() {
            vec![]
        } else {
            vec![email.to_string()]
        },
        ..Record::default()
    })
}

/// An e-mail address weighs by its holders: one person's five records
/// hold it once, a family's address written for each member is held by
/// each; a record updated away gives its holding back.
#[test]
fn an_email_is_held_by_people_not_records() {
    let mut freqs = Frequencies::default();
    for _ in 0..5 {
        freqs.add(&with_email(
            "Serge",
            "Kouassi",
            "0708292982",
            "serge.kouassi@gmail.com",
        ));
    }
    let family: Vec<_> = ["Awa", "Fatou", "Mamadou"]
        .iter()
        .map(|given| with_email(given, "Traore", "", "famille.traore@yahoo.fr"))
        .collect();
    family.iter().for_each(|r| freqs.add(r));
    let key = |r: &crate::Prepared| super::text_key(&r.emails[0]);
    let own = with_email("Serge", "Kouassi", "", "serge.kouassi@gmail.com");
    assert_eq!(freqs.email[&key(&own)], 5);
    assert_eq!(freqs.email_holders.get(&key(&own)), Some(1));
    assert_eq!(freqs.email_holders.get(&key(&family[0])), Some(3));
    freqs.remove(&family[2]);
    assert_eq!(freqs.email_holders.get(&key(&family[0])), Some(2));
}

#[test]
fn one_persons_records_are_one_holder_of_their_phone() {
    let mut freqs = Frequencies::default();
    // Twenty records of one person, names swapped in some of them.
    for i in 0..20 {
        let r = if i % 3 == 0 {
            record("Kouassi", "Serge", "0708292982")
        } else {
            record("Serge", "Kouassi", "0708292982")
        };
        freqs.add(&r);
    }
    // An agent's phone typed into the records of thirty clients.
    let given = ["Awa", "Fatou", "Mamadou", "Adama", "Aya", "Ibrahim"];
    let surnames = ["Traore", "Kone", "Diallo", "Ouattara", "Bamba"];
    let agent: Vec<_> = (0..30)
        .map(|i| record(given[i % 6], surnames[i % 5], "0102030405"))
        .collect();
    agent.iter().for_each(|r| freqs.add(r));
    let own = record("Serge", "Kouassi", "0708292982").phones[0];
    let shop = agent[0].phones[0];
    assert_eq!(freqs.phone[&own], 20);
    assert_eq!(freqs.phone_holders.counts()[&own], 1);
    assert_eq!(freqs.phone_holders.counts()[&shop], 30);
    // Updates and erasures keep the holders right.
    agent.iter().take(29).for_each(|r| freqs.remove(r));
    assert_eq!(freqs.phone_holders.counts()[&shop], 1);
    freqs.remove(&agent[29]);
    assert_eq!(freqs.phone_holders.counts()[&shop], 0);
}

/// Counting on every core (chunks merged) gives the counts of adding
/// one by one, holders included: a holder seen in two chunks is one.
#[test]
fn counts_built_in_parallel_equal_counts_built_one_by_one() {
    let given = [
        "Awa", "Fatou", "Mamadou", "Adama", "Aya", "Ibrahim", "Serge",
    ];
    let surnames = ["Traore", "Kone", "Diallo", "Ouattara", "Bamba", "Kouassi"];
    let phones = ["0708292982", "0102030405", "0505050505", "0707070707"];
    // More than one chunk of 16,384, the same holders across chunks.
    let records: Vec<_> = (0..40_000usize)
        .map(|i| {
            record(
                given[i % given.len()],
                surnames[i / given.len() % surnames.len()],
                phones[i / 42 % phones.len()],
            )
        })
        .collect();
    let mut one_by_one = Frequencies::default();
    records.iter().for_each(|r| one_by_one.add(r));
    let parallel = Frequencies::of_records(&records);
    assert_eq!(parallel.records, 40_000);
    assert!(one_by_one.phone_holders.counts().values().all(|&h| h == 42));
    assert!(parallel == one_by_one, "{parallel:?} != {one_by_one:?}");
    let (head, tail) = records.split_at(12_345);
    let merged = Frequencies::of_records(tail).merged(Frequencies::of_records(head));
    assert!(merged == one_by_one);
}

#[test]
fn a_given_name_weighs_by_its_frequency_within_the_surname() {
    use crate::compare::{CompareField, Comparison, Levels};
    let mut freqs = Frequencies::default();
    // "Serge" is half the Gnahoré, one in a hundred of the Traoré.
    for i in 0..20 {
        let given = if i % 2 == 0 { "Serge" } else { "Awa" };
        freqs.add(&record(given, "Gnahore", "0708000000"));
    }
    freqs.add(&record("Serge", "Traore", "0708000001"));
    for _ in 0..99 {
        freqs.add(&record("Mamadou", "Traore", "0708000002"));
    }
    let mut levels = [0u8; crate::compare::FIELD_COUNT];
    levels[CompareField::Surname as usize] = 1;
    levels[CompareField::GivenName as usize] = 1;
    let both = Comparison {
        levels: Levels(levels),
        ..Comparison::default()
    };
    let share = |a: &crate::Prepared, c: &Comparison| {
        super::tf_share(CompareField::GivenName, 1, c, a, a, &freqs).unwrap()
    };
    assert_eq!(share(&record("Serge", "Gnahore", ""), &both), (10.0, 20.0));
    assert_eq!(share(&record("Serge", "Traore", ""), &both), (1.0, 100.0));
    // Without the surname in common, the given name's overall share.
    levels[CompareField::Surname as usize] = 2;
    let given_only = Comparison {
        levels: Levels(levels),
        ..Comparison::default()
    };
    assert_eq!(
        share(&record("Serge", "Gnahore", ""), &given_only),
        (11.0, 120.0)
    );
}

/// A name matched crosswise ("KABORE ADJARATOU" written given name
/// first) weighs by the more common reading of the shared value, in
/// either record and either field: "adjaratou" written once as a
/// surname is a common given name, not a rare surname.
#[test]
fn a_crossed_name_weighs_by_its_more_common_reading() {
    use crate::compare::{CompareField, Comparison, Levels, NameAlignment};
    let mut freqs = Frequencies::default();
    for i in 0..50 {
        freqs.add(&record("Adjaratou", &format!("Surname{i}"), ""));
    }
    for i in 0..50 {
        freqs.add(&record(&format!("Given{i}"), "Kabore", ""));
    }
    freqs.add(&record("Kabore", "Adjaratou", ""));
    let mut levels = [0u8; crate::compare::FIELD_COUNT];
    levels[CompareField::Surname as usize] = 1;
    levels[CompareField::GivenName as usize] = 1;
    let crossed = Comparison {
        levels: Levels(levels),
        alignment: NameAlignment::Crossed,
        swapped: true,
        ..Comparison::default()
    };
    let (swapped, written) = (
        record("Kabore", "Adjaratou", ""),
        record("Adjaratou", "Kabore", ""),
    );
    for (a, b) in [(&swapped, &written), (&written, &swapped)] {
        let surname = super::tf_share(CompareField::Surname, 1, &crossed, a, b, &freqs).unwrap();
        // The shared value, counted in both fields: 50 of 101 records.
        assert_eq!(surname, (50.0, 101.0));
    }
    let as_written = Comparison {
        levels: Levels(levels),
        ..Comparison::default()
    };
    // As written, a surname is counted among surnames only.
    let own = super::tf_share(
        CompareField::Surname,
        1,
        &as_written,
        &swapped,
        &swapped,
        &freqs,
    );
    assert_eq!(own, Some((1.0, 101.0)));
}

/// A close given name weighs by the more common of the two names, the
/// same whichever record comes first: a typo of "Aminata" says less than
/// a typo of "Bibata", within bounds.
#[test]
fn a_close_name_weighs_by_the_more_common_of_the_two() {
    use crate::compare::{CompareField, Comparison, Levels, compare};
    let mut model = super::FsModel::initial(super::FsModel::estimate_u(std::iter::empty()));
    // Random pairs share a given name once in a hundred.
    model.u[CompareField::GivenName as usize] = vec![0.0, 0.01, 0.02, 0.03, 0.94];
    let mut freqs = Frequencies::default();
    for i in 0..2_000 {
        let given = if i % 4 == 0 { "Aminata" } else { "Awa" };
        freqs.add(&record(given, &format!("Surname{i}"), ""));
    }
    freqs.add(&record("Bibata", "Ouedraogo", ""));
    let counts = rustc_hash::FxHashMap::default();
    let heat = crate::compare::PhoneHeat {
        counts: &counts,
        hot_threshold: 15,
    };
    let given_weight = |x: &crate::Prepared, y: &crate::Prepared| {
        let c = compare(x, y, heat);
        assert_eq!(c.levels.get(CompareField::GivenName), 2);
        let weights = model.weights(&c, x, y, &freqs);
        let w = weights[CompareField::GivenName as usize].clone();
        assert_eq!(
            model.score(&c, x, y, &freqs),
            model.score(&compare(y, x, heat), y, x, &freqs)
        );
        (w.weight, w.term_frequency)
    };
    let (aminata, typo) = (record("Aminata", "Kone", ""), record("Aminta", "Kone", ""));
    let (bibata, bibta) = (record("Bibata", "Kone", ""), record("Bibta", "Kone", ""));
    let (common, common_share) = given_weight(&aminata, &typo);
    assert_eq!(given_weight(&typo, &aminata), (common, common_share));
    let (rare, _) = given_weight(&bibta, &bibata);
    let mut levels = Levels::default();
    levels.0[CompareField::GivenName as usize] = 2;
    let plain = Comparison {
        levels,
        ..Comparison::default()
    };
    let base = model.weights(&plain, &aminata, &typo, &Frequencies::default())
        [CompareField::GivenName as usize]
        .weight;
    assert!(common_share.is_some());
    assert!(common < base && common >= base - super::CLOSE_NAME_TF_PENALTY);
    assert!(rare > base && rare <= base + super::CLOSE_NAME_TF_BONUS);
}

/// A locality that agrees with an address that agrees adds nothing to
/// the score or the explanation; with a different address it counts.
#[test]
fn a_shared_address_scores_its_locality_once() {
    use crate::compare::{CompareField, Comparison, Levels};
    let model = super::FsModel::initial(super::FsModel::estimate_u(std::iter::empty()));
    let freqs = Frequencies::default();
    let a = record("Serge", "Gnahore", "");
    let score = |address: u8, locality: u8| {
        let mut levels = [0u8; crate::compare::FIELD_COUNT];
        levels[CompareField::Address as usize] = address;
        levels[CompareField::Locality as usize] = locality;
        let c = Comparison {
            levels: Levels(levels),
            ..Comparison::default()
        };
        let locality_weight = model
            .weights(&c, &a, &a, &freqs)
            .into_iter()
            .find(|w| w.field == CompareField::Locality)
            .map(|w| w.weight);
        (model.score(&c, &a, &a, &freqs).log_odds, locality_weight)
    };
    let (same_address, shown) = score(1, 1);
    assert_eq!(same_address, score(1, 0).0);
    assert_eq!(shown, Some(0.0));
    let (overlap, shown) = score(3, 1);
    assert!(overlap > score(3, 0).0);
    assert!(shown.unwrap() > 0.0);
}

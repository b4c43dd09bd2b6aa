use super::*;
use proptest::prelude::*;

fn date(y: u16, m: Option<u8>, d: Option<u8>) -> PartialDate {
    PartialDate {
        year: Some(y),
        month: m,
        day: d,
    }
}

#[test]
fn date_levels() {
    let full = date(1985, Some(3), Some(7));
    assert_eq!(compare_dates(&full, &full), 1);
    assert_eq!(compare_dates(&full, &date(1985, Some(7), Some(3))), 2);
    assert_eq!(compare_dates(&full, &date(1986, Some(3), Some(7))), 2);
    assert_eq!(compare_dates(&full, &date(1985, None, None)), 3);
    assert_eq!(compare_dates(&full, &date(1985, Some(3), None)), 3);
    assert_eq!(compare_dates(&full, &date(1986, None, None)), 2);
    assert_eq!(compare_dates(&full, &date(1987, None, None)), 5);
    assert_eq!(compare_dates(&full, &date(1990, Some(11), Some(21))), 5);
    // Within a year, with no digit in common that a typo explains.
    assert_eq!(compare_dates(&full, &date(1985, Some(9), Some(30))), 4);
    assert_eq!(compare_dates(&full, &date(1986, Some(3), Some(6))), 4);
    assert_eq!(compare_dates(&full, &date(1984, Some(2), Some(28))), 5);
    // Month and year only, against a full date with day and month swapped.
    assert_eq!(
        compare_dates(&date(1989, Some(1), None), &date(1989, Some(12), Some(1))),
        2
    );
    assert_eq!(
        compare_dates(&date(1989, Some(2), None), &date(1989, Some(12), Some(1))),
        4
    );
    assert_eq!(
        compare_dates(&date(1989, Some(2), None), &date(1991, Some(2), Some(1))),
        5
    );
    assert_eq!(compare_dates(&full, &PartialDate::default()), 0);
}

#[test]
fn email_levels() {
    let e = |list: &[&str]| -> Vec<Box<str>> {
        let mut v: Vec<Box<str>> = list.iter().map(|s| Box::from(*s)).collect();
        v.sort_unstable();
        v
    };
    let one = e(&["aishab64@obrien-flores.com"]);
    assert_eq!(compare_emails(&one, &one), 1);
    // A typo in the domain.
    assert_eq!(
        compare_emails(&one, &e(&["aishab64@obrien-flocres.com"])),
        2
    );
    // Typos in both parts.
    assert_eq!(
        compare_emails(&e(&["jt40@combs.net"]), &e(&["jt4@cmbs.net"])),
        3
    );
    // Domains more than two typos apart: another address.
    assert_eq!(
        compare_emails(&e(&["jt40@combs.net"]), &e(&["jt40@cotbs.nm"])),
        4
    );
    assert_eq!(compare_emails(&one, &e(&["aishb64@obrien-flores.com"])), 3);
    // The same local part at another provider: namesakes do that.
    assert_eq!(
        compare_emails(&e(&["marie.yao@yahoo.fr"]), &e(&["marie.yao@gmail.com"])),
        4
    );
    assert_eq!(compare_emails(&one, &e(&["kone.awa@gmail.com"])), 4);
    // Short local parts are only exact.
    assert_eq!(compare_emails(&e(&["ab@x.org"]), &e(&["ac@x.org"])), 4);
    // Any pair of the two records' addresses.
    assert_eq!(
        compare_emails(&e(&["a.b@c.org", "jt40@combs.net"]), &e(&["jt40@combs.nt"])),
        2
    );
    assert_eq!(compare_emails(&one, &[]), 0);
}

#[test]
fn id_levels() {
    assert_eq!(compare_ids("C0012345678", "C0012345678"), 1);
    assert_eq!(compare_ids("C0012345678", "C0012345687"), 2);
    assert_eq!(compare_ids("C0012345678", "C0099345678"), 3);
}

/// The levels other modules name are the levels the table names.
#[test]
fn named_levels_match_the_table() {
    let name = |f: CompareField, l: u8| f.level_names()[usize::from(l)];
    assert_eq!(
        name(CompareField::GivenName, level::GIVEN_DIFFERENT),
        "different"
    );
    assert_eq!(
        name(CompareField::DateOfBirth, level::DOB_DIFFERENT),
        "different"
    );
    assert_eq!(
        name(CompareField::DateOfBirth, level::DOB_WITHIN_YEAR),
        "within_year"
    );
}

#[test]
fn levels_pack_round_trip() {
    let l = Levels([1, 2, 3, 4, 0, 1, 2, 3, 4, 0]);
    assert_eq!(Levels::unpack(l.pack()), l);
}

/// A record as the matching sees it (Ivorian defaults, built-in name
/// variants).
fn prepared(record: c360_core::Record) -> Prepared {
    crate::prepare::Preparer::new("CI", c360_standardise::names::NameVariants::builtin())
        .unwrap()
        .prepare(&record)
}

/// Localities: an abbreviation is its city, a commune is close to its
/// city, two communes of one city are two places.
#[test]
fn locality_levels() {
    let r = |locality: &str| {
        prepared(c360_core::Record {
            locality: locality.to_string(),
            ..c360_core::Record::default()
        })
    };
    for (x, y, level) in [
        ("Abj", "ABIDJAN", 1),
        ("Abidjan CI", "Abidjan", 1),
        ("Cocody", "Abidjan", 2),
        ("abj", "COCODY", 2),
        ("Abidajn", "Abidjan", 2),
        ("Cocody", "Yopougon", 3),
        ("Cocody", "Bouaké", 3),
        ("Bke", "Bouake", 1),
        ("", "Abidjan", 0),
    ] {
        assert_eq!(compare_localities(&r(x), &r(y)), level, "{x} / {y}");
        assert_eq!(compare_localities(&r(y), &r(x)), level, "{y} / {x}");
    }
}

/// A given name with a heavy typo or written short stays "fuzzy", not
/// "different" (which, with the same surname and birth date, would
/// read as twins); two different names stay different.
#[test]
fn abbreviations_and_one_sound_off_are_fuzzy() {
    let given_level = |x: &str, y: &str| {
        let r = |g: &str| {
            prepared(c360_core::Record {
                given_name: g.to_string(),
                surname: "Kouadio".to_string(),
                ..c360_core::Record::default()
            })
        };
        compare_names(&r(x), &r(y)).1
    };
    for (x, y, level) in [
        ("Msa", "Moussa", 3),
        ("Kwsi", "Kouassi", 3),
        ("Moussa", "Msa", 3),
        ("Awa", "Aminata", 4),
        ("Fatou", "Mariam", 4),
        ("Msa", "Mariam", 4),
    ] {
        assert_eq!(given_level(x, y), level, "{x} / {y}");
    }
    assert!(abbreviates("msa", "moussa") && !abbreviates("asm", "moussa"));
    assert!(similar_keys("kusi", "kuasi") && !similar_keys("kusi", "musi"));
}

proptest! {
    /// The one-pass check agrees with the optimal string alignment
    /// distance.
    #[test]
    fn within_one_edit_is_an_osa_distance_of_one(a in "[abk]{0,6}", b in "[abk]{0,6}") {
        prop_assert_eq!(
            within_one_edit(a.as_bytes(), b.as_bytes()),
            strsim::osa_distance(&a, &b) <= 1
        );
    }
}

/// Names, variants, typos, abbreviations and a non-ASCII one, so that
/// every level and alignment occurs.
const WORDS: &[&str] = &[
    "aminata",
    "aminatou",
    "amina",
    "dieng",
    "diop",
    "ngone",
    "ngoné",
    "kouassi",
    "kouasi",
    "koffi",
    "kofi",
    "yao",
    "jean",
    "marc",
    "jean-marc",
    "jeanmarc",
    "fatou",
    "ftou",
    "fatuo",
    "traore",
    "taroer",
    "n'guessan",
    "nguessan",
    "k",
    "jea",
    "mohamed",
    "mouhamed",
    "mamadou",
    "mamadu",
    "ba",
    "sy",
    "konan",
    "abdoulaye",
    "abdoul",
    "ouedraogo",
    "ouedrago",
    "wedraogo",
    "awa",
    "adjoua",
    "josiane",
    "franck",
    "moussa",
    "msa",
    "kwsi",
    "ßéŋ",
];

fn words(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(WORDS), 0..=max).prop_map(|w| w.join(" "))
}

/// A record with given name and surname, or only a full name (split
/// by guesswork, 1 to 5 words).
fn record() -> impl Strategy<Value = c360_core::Record> {
    (any::<bool>(), words(2), words(2), words(5)).prop_map(|(full, given, surname, all)| {
        let mut r = c360_core::Record::default();
        if full {
            r.full_name = all;
        } else {
            r.given_name = given;
            r.surname = surname;
        }
        r
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(20_000))]
    /// The same levels and alignment as the comparison first written.
    #[test]
    fn names_compare_as_first_written(a in record(), b in record()) {
        thread_local! {
            static PREPARER: crate::Preparer = crate::Preparer::new(
                "CI",
                c360_standardise::names::NameVariants::builtin(),
            ).expect("preparer");
        }
        let (a, b) = PREPARER.with(|p| (p.prepare(&a), p.prepare(&b)));
        prop_assert_eq!(compare_names(&a, &b), reference::compare_names(&a, &b));
        prop_assert_eq!(compare_names(&b, &a), reference::compare_names(&b, &a));
    }
}

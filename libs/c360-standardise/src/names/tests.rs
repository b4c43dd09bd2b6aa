//! Names: the phonetic key, the variant table, the lexicon and full-name
//! splitting.

use super::*;
use proptest::prelude::*;

fn in_lexicon(lexicon: &[&str], token: &str) -> bool {
    lexicon.binary_search(&token).is_ok()
}

fn key(raw: &str) -> String {
    // Names arrive folded; fold multi-word inputs into one token for the table.
    phonetic(&fold(raw).replace(' ', ""))
}

#[test]
fn phonetic_equal_pairs() {
    let groups: &[&[&str]] = &[
        &["Kouassi", "Kouasi", "Kouassy"],
        &["Mamadou", "Mamadu", "Mamadoo"],
        &["Nguessan", "Nguesan", "N'Guessan"],
        &["Ouattara", "Watara", "Ouatara"],
        &["Coulibaly", "Kulibali", "Koulibaly"],
        &["Traore", "Traoré"],
        &["Diallo", "Dialo"],
        &["Konate", "Konaté"],
        &["Kone", "Koné"],
        &["Toure", "Tour"],
        &["Cisse", "Sisse", "Cissé"],
        &["Ndiaye", "N'Diaye", "Ndiay"],
        &["Yao", "Yaho"],
        &["Fatoumata", "Fatoumatta"],
        &["Aminata", "Aminatta"],
        &["Mohamed", "Mohammed", "Mohamet"],
        &["Seydou", "Seidou", "Saydou"],
        &["Kouame", "Kwame"],
        &["Koffi", "Kofi"],
        &["Adjoua", "Adjwa"],
        &["Amadou", "Ahmadou", "Hamadou"],
        &["Awa", "Hawa"],
        &["Cheick", "Cheikh", "Sheikh"],
        &["Philippe", "Filipe"],
        &["Keita", "Keyta"],
        &["Jacques", "Jacque"],
    ];
    for group in groups {
        let expected = key(group[0]);
        for name in &group[1..] {
            assert_eq!(key(name), expected, "{} vs {}", group[0], name);
        }
    }
}

#[test]
fn phonetic_distinct_pairs() {
    let pairs = [
        ("Mamadou", "Moussa"),
        ("Konan", "Kone"),
        ("Konan", "Konate"),
        ("Kone", "Konate"),
        ("Kouassi", "Kouadio"),
        ("Traore", "Toure"),
        ("Diallo", "Diarra"),
        ("Aminata", "Amina"),
        ("Kouame", "Kouakou"),
        ("Abdoulaye", "Abdoul"),
        ("Fatou", "Fanta"),
        ("Sow", "Sy"),
        ("Diop", "Diouf"),
        ("Seydou", "Sidiki"),
        ("Bamba", "Bah"),
        ("Yao", "Aya"),
    ];
    for (a, b) in pairs {
        assert_ne!(key(a), key(b), "{a} vs {b}");
    }
}

#[test]
fn phonetic_exact_keys() {
    let cases = [
        ("kouassi", "kuasi"),
        ("ouattara", "uatara"),
        ("coulibaly", "kulibali"),
        ("nguessan", "ngesan"),
        ("toure", "tur"),
        ("ndiaye", "ndiai"),
        ("cisse", "sis"),
        ("mohamed", "moame"),
        ("seydou", "saidu"),
        ("philippe", "filip"),
        ("cheikh", "xaik"),
        ("xavier", "ksavier"),
        ("renaud", "reno"),
        ("ba", "ba"),
        ("", ""),
        ("h", ""),
        ("1234", "1234"),
    ];
    for (input, expected) in cases {
        assert_eq!(phonetic(input), expected, "input {input:?}");
    }
}

#[test]
fn phonetic_tolerates_unfolded_input() {
    assert_eq!(phonetic("KOUASSI"), phonetic("kouassi"));
    assert_eq!(phonetic("Kou-assi"), phonetic("kouassi"));
    assert_eq!(phonetic("é"), "");
}

#[test]
fn variants_builtin_and_lookup() {
    let table = NameVariants::builtin();
    assert!(!table.is_empty());
    assert_eq!(table.canonical("mohammed"), "mohamed");
    assert_eq!(table.canonical("muhammad"), "mohamed");
    assert_eq!(table.canonical("mohamed"), "mohamed");
    assert_eq!(table.canonical("brahima"), "ibrahima");
    assert_eq!(table.canonical("abdullahi"), "abdoulaye");
    assert_eq!(table.canonical("omar"), "oumar");
    assert_eq!(table.canonical("tarawele"), "traore");
    assert_eq!(table.canonical("unknownname"), "unknownname");
    assert_eq!(table.canonical(""), "");
    for group in BUILTIN_VARIANTS {
        for name in *group {
            assert_eq!(fold(name), *name, "builtin entries must be folded");
        }
    }
}

#[test]
fn variants_insert_folds() {
    let mut table = NameVariants::new();
    assert!(table.is_empty());
    table.insert("MOHAMMÉD", "Mohamed");
    table.insert("", "x");
    table.insert("same", "SAME");
    assert_eq!(table.len(), 1);
    assert_eq!(table.canonical("mohammed"), "mohamed");
}

#[test]
fn variants_parse() {
    let text = "# comment\n\nmohamed, Mohammed ,muhammad\n  \nibrahima,brahima\n";
    let table = NameVariants::parse(text).expect("valid table");
    assert_eq!(table.len(), 3);
    assert_eq!(table.canonical("muhammad"), "mohamed");
    assert_eq!(table.canonical("brahima"), "ibrahima");

    assert_eq!(
        NameVariants::parse("a,b\nlonely\n").expect_err("one field"),
        VariantsError::TooFewFields { line: 2 }
    );
    let error = NameVariants::parse("# x\nmohamed,,muhammad").expect_err("empty field");
    assert_eq!(error, VariantsError::EmptyField { line: 2, field: 2 });
    assert!(!error.to_string().contains("mohamed"));
    assert!(!format!("{error:?}").contains("mohamed"));
    assert!(NameVariants::parse("").expect("empty ok").is_empty());
}

#[test]
fn lexicons_are_sorted_and_disjoint() {
    for lexicon in [
        GIVEN_NAMES,
        SURNAMES,
        EITHER_NAMES,
        TITLES,
        MARRIED_NAME_MARKERS,
    ] {
        assert!(
            lexicon.windows(2).all(|w| w[0] < w[1]),
            "unsorted near {lexicon:?}"
        );
        for name in lexicon {
            assert_eq!(fold(name), *name);
        }
    }
    for name in GIVEN_NAMES {
        assert!(
            !in_lexicon(SURNAMES, name) && !in_lexicon(EITHER_NAMES, name),
            "{name}"
        );
    }
    for name in SURNAMES {
        assert!(!in_lexicon(EITHER_NAMES, name), "{name}");
    }
}

#[test]
fn role_table() {
    let cases = [
        ("mamadou", NameRole::Given),
        ("aminata", NameRole::Given),
        ("fatoumata", NameRole::Given),
        ("jean", NameRole::Given),
        ("marie", NameRole::Given),
        ("traore", NameRole::Surname),
        ("diallo", NameRole::Surname),
        ("ouattara", NameRole::Surname),
        ("nguessan", NameRole::Surname),
        ("ba", NameRole::Surname),
        ("kouassi", NameRole::Either),
        ("konan", NameRole::Either),
        ("yao", NameRole::Either),
        ("affoue", NameRole::Either),
        ("zzz", NameRole::Unknown),
        ("", NameRole::Unknown),
        ("Traore", NameRole::Unknown),
    ];
    for (token, expected) in cases {
        assert_eq!(role(token), expected, "{token}");
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn looks_swapped_table() {
    let cases: &[(&[&str], &[&str], bool)] = &[
        (&["traore"], &["aminata"], true),
        (&["diallo"], &["mamadou"], true),
        (&["aminata"], &["traore"], false),
        (&["traore", "aminata"], &["mamadou"], false),
        (&["traore"], &["aminata", "diallo"], false),
        (&["kouassi"], &["jean"], false),
        (&["traore", "kouassi"], &["jean"], true),
        (&[], &["aminata"], false),
        (&["zzz"], &["yyy"], false),
    ];
    for (given, surname, expected) in cases {
        assert_eq!(
            looks_swapped(&strings(given), &strings(surname)),
            *expected,
            "{given:?} / {surname:?}"
        );
    }
}

#[test]
fn split_full_name_table() {
    let cases: &[(&str, &[&str], &[&str])] = &[
        ("KOUASSI Konan Jean", &["konan", "jean"], &["kouassi"]),
        ("Aminata TRAORE", &["aminata"], &["traore"]),
        ("Traoré, Aminata", &["aminata"], &["traore"]),
        ("Traoré Aminata", &["aminata"], &["traore"]),
        ("Mamadou Diallo", &["mamadou"], &["diallo"]),
        ("Ndèye Fatou Ndiaye", &["ndeye", "fatou"], &["ndiaye"]),
        (
            "N'Guessan Kouassi Jean-Marc",
            &["kouassi", "jean", "marc"],
            &["nguessan"],
        ),
        (
            "N'GUESSAN Kouassi Jean-Marc",
            &["kouassi", "jean", "marc"],
            &["nguessan"],
        ),
        ("KOUAME Affoué", &["affoue"], &["kouame"]),
        ("Kouassi Jean", &["jean"], &["kouassi"]),
        ("Jean Kouassi", &["jean"], &["kouassi"]),
        ("Diallo Ba", &["diallo"], &["ba"]),
        ("Konan", &[], &["konan"]),
        ("", &[], &[]),
        ("  ,  ", &[], &[]),
        ("Mme KOUASSI Aya", &["aya"], &["kouassi"]),
        ("M. Mamadou Diallo", &["mamadou"], &["diallo"]),
        ("KOUASSI Aya épouse KONAN", &["aya"], &["kouassi"]),
        ("Aya Kouassi ep. Konan", &["aya"], &["kouassi"]),
        ("AMINATA TRAORE", &["aminata"], &["traore"]),
        ("Koné Ibrahim Yacouba", &["ibrahim", "yacouba"], &["kone"]),
        ("Zzz Yyy Xxx", &["zzz", "yyy"], &["xxx"]),
        ("Aminata A. TRAORE", &["aminata", "a"], &["traore"]),
    ];
    for (full, given, surname) in cases {
        let (g, s) = split_full_name(full);
        assert_eq!((g, s), (strings(given), strings(surname)), "{full}");
    }
}

#[test]
fn nicknames_builtin_and_many_to_many() {
    let table = Nicknames::builtin();
    assert!(table.len() > 100);
    for (a, b) in [
        ("tom", "thomas"),
        ("bill", "william"),
        ("peggy", "margaret"),
        ("madou", "mamadou"),
        ("fatou", "fatoumata"),
        ("al", "albert"),
        ("al", "alfred"),
    ] {
        assert!(table.are_nicknames(a, b), "{a} / {b}");
        assert!(table.are_nicknames(b, a), "{b} / {a}");
    }
    assert!(!table.are_nicknames("albert", "alfred"));
    assert!(!table.are_nicknames("thomas", "thomas"));
    assert!(!table.are_nicknames("tom", "unknownname"));
    let custom = Nicknames::parse("# a deployment's own\nkwabena,kobby\n").unwrap();
    assert!(custom.are_nicknames("kobby", "kwabena"));
    assert_eq!(
        Nicknames::parse("x,y\nlonely").unwrap_err(),
        VariantsError::TooFewFields { line: 2 }
    );
}

#[test]
fn particles_are_dropped_when_other_words_remain() {
    assert!(PARTICLES.windows(2).all(|w| w[0] < w[1]));
    let mut words = strings(&["van", "der", "berg"]);
    without_particles(&mut words);
    assert_eq!(words, strings(&["berg"]));
    let mut alone = strings(&["le"]);
    without_particles(&mut alone);
    assert_eq!(alone, strings(&["le"]));
    assert!(is_title_token("hon") && is_title_token("sir") && !is_title_token("john"));
    for rank in ["1st", "2nd", "3rd", "11th", "23rd", "baronet", "bt"] {
        assert!(is_rank_token(rank), "{rank}");
    }
    for name in ["earl", "st", "th", "1", "smith", "2nde"] {
        assert!(!is_rank_token(name), "{name}");
    }
}

proptest! {
    #[test]
    fn phonetic_total_and_deterministic(s in any::<String>()) {
        let a = phonetic(&s);
        prop_assert_eq!(a.clone(), phonetic(&s));
        prop_assert!(a.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit()));
    }

    #[test]
    fn phonetic_of_folded_words(s in "[a-z]{0,20}") {
        let a = phonetic(&s);
        prop_assert!(a.len() <= 2 * s.len() + 1);
    }

    #[test]
    fn split_never_panics(s in any::<String>()) {
        let (given, surname) = split_full_name(&s);
        for token in given.iter().chain(surname.iter()) {
            prop_assert!(!token.is_empty());
        }
    }
}

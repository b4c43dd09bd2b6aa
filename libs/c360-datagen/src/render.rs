//! Turns a true person into one record of a source system: the system's
//! completeness and writing style, then the noise of a human typing it.

use c360_core::Record;
use rand::Rng;

use crate::model::{Date, Detail, Home, Person, Phone, World};
use crate::places::{Country, LANDMARKS};
use crate::text::{Case, apply_case, choose, pick, strip_accents, title_case, typo};

/// The source systems feeding the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    CoreBanking,
    MobileMoney,
    LoanOrigination,
    AgentApp,
    LegacyMfi,
}

impl Source {
    pub const ALL: [Source; 5] = [
        Source::CoreBanking,
        Source::MobileMoney,
        Source::LoanOrigination,
        Source::AgentApp,
        Source::LegacyMfi,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Source::CoreBanking => "core_banking",
            Source::MobileMoney => "mobile_money",
            Source::LoanOrigination => "loan_origination",
            Source::AgentApp => "agent_app",
            Source::LegacyMfi => "legacy_mfi",
        }
    }

    /// Share of all records coming from the system.
    pub fn weight(self) -> f64 {
        match self {
            Source::CoreBanking => 0.25,
            Source::MobileMoney => 0.30,
            Source::LoanOrigination => 0.15,
            Source::AgentApp => 0.18,
            Source::LegacyMfi => 0.12,
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    fn profile(self) -> &'static Profile {
        match self {
            Source::CoreBanking => &CORE,
            Source::MobileMoney => &MOBILE,
            Source::LoanOrigination => &LOAN,
            Source::AgentApp => &AGENT,
            Source::LegacyMfi => &LEGACY,
        }
    }
}

/// Completeness (probability that a field is filled when the truth has it)
/// and noise multipliers of a source system.
#[derive(Debug)]
struct Profile {
    dob: f64,
    national_id: f64,
    phone: f64,
    second_phone: f64,
    email: f64,
    address: f64,
    locality: f64,
    region: f64,
    country: f64,
    sex: f64,
    /// The middle name in its own field (else merged into the given name or dropped).
    middle_field: f64,
    /// The name only as one `full_name` field.
    full_name_only: f64,
    /// A `full_name` next to the split fields.
    full_name_too: f64,
    typo: f64,
    phonetic: f64,
    /// Birth year only.
    year_only: f64,
    /// A field agent's or shop's phone typed instead of, or next to, the client's.
    hot_phone: f64,
}

const CORE: Profile = Profile {
    dob: 0.95,
    national_id: 0.9,
    phone: 0.95,
    second_phone: 0.4,
    email: 0.6,
    address: 0.95,
    locality: 0.95,
    region: 0.6,
    country: 0.9,
    sex: 0.98,
    middle_field: 0.8,
    full_name_only: 0.0,
    full_name_too: 0.2,
    typo: 0.4,
    phonetic: 0.6,
    year_only: 0.04,
    hot_phone: 0.0,
};
const MOBILE: Profile = Profile {
    dob: 0.15,
    national_id: 0.3,
    phone: 1.0,
    second_phone: 0.0,
    email: 0.3,
    address: 0.1,
    locality: 0.3,
    region: 0.05,
    country: 0.4,
    sex: 0.2,
    middle_field: 0.0,
    full_name_only: 0.75,
    full_name_too: 0.0,
    typo: 0.8,
    phonetic: 1.0,
    year_only: 0.05,
    hot_phone: 0.012,
};
const LOAN: Profile = Profile {
    dob: 0.9,
    national_id: 0.75,
    phone: 0.92,
    second_phone: 0.35,
    email: 0.4,
    address: 0.9,
    locality: 0.9,
    region: 0.5,
    country: 0.8,
    sex: 0.9,
    middle_field: 0.6,
    full_name_only: 0.0,
    full_name_too: 0.1,
    typo: 0.8,
    phonetic: 1.0,
    year_only: 0.05,
    hot_phone: 0.0,
};
const AGENT: Profile = Profile {
    dob: 0.85,
    national_id: 0.45,
    phone: 0.95,
    second_phone: 0.2,
    email: 0.25,
    address: 0.75,
    locality: 0.7,
    region: 0.2,
    country: 0.3,
    sex: 0.7,
    middle_field: 0.3,
    full_name_only: 0.0,
    full_name_too: 0.0,
    typo: 2.0,
    phonetic: 1.4,
    year_only: 0.22,
    hot_phone: 0.03,
};
const LEGACY: Profile = Profile {
    dob: 0.8,
    national_id: 0.6,
    phone: 0.85,
    second_phone: 0.2,
    email: 0.08,
    address: 0.8,
    locality: 0.85,
    region: 0.4,
    country: 0.7,
    sex: 0.9,
    middle_field: 0.5,
    full_name_only: 0.3,
    full_name_too: 0.4,
    typo: 0.8,
    phonetic: 1.0,
    year_only: 0.05,
    hot_phone: 0.0,
};

/// Base noise rates (multiplied by the source's `typo` / `phonetic` factors).
pub const P_TYPO: f64 = 0.16;
pub const P_PHONETIC: f64 = 0.15;
pub const P_SWAP_NAMES: f64 = 0.08;
pub const P_MONTH_YEAR: f64 = 0.03;
pub const P_DAY_MONTH_SWAP: f64 = 0.03;
pub const P_YEAR_OFF: f64 = 0.01;
pub const P_NEW_PHONE: f64 = 0.10;
pub const P_FAMILY_PHONE: f64 = 0.6;
pub const P_ID_TYPO: f64 = 0.01;
pub const P_MOVED: f64 = 0.05;
pub const P_MARRIED_NAME: f64 = 0.3;

fn yes<R: Rng + ?Sized>(rng: &mut R, p: f64) -> bool {
    rng.random_bool(p.clamp(0.0, 1.0))
}

/// The source of the `k`-th record of a person.
pub fn source_for<R: Rng + ?Sized>(rng: &mut R, person: &Person, k: usize) -> Source {
    if k == 0 && person.group_id.is_some() {
        return Source::LoanOrigination;
    }
    pick(rng, &Source::ALL.map(|s| (s, s.weight())))
}

/// One record of `person` in `source` (the record id is set by the caller).
pub fn render<R: Rng + ?Sized>(
    world: &World,
    rng: &mut R,
    person: &Person,
    k: usize,
    source: Source,
) -> Record {
    let p = source.profile();
    let mut r = Record {
        source_system: source.name().to_string(),
        ..Record::default()
    };
    render_names(world, rng, person, source, p, &mut r);
    if yes(rng, p.sex) {
        r.sex = sex_text(rng, person.female, source).to_string();
    }
    let mut has_dob = false;
    if yes(rng, p.dob) {
        r.date_of_birth = render_dob(rng, person, source, p);
        has_dob = true;
    }
    if let Some(id) = &person.national_id
        && yes(rng, p.national_id)
    {
        r.national_id = render_id(rng, id, person.country, source);
    }
    let own_phone = render_phones(world, rng, person, k, source, p, &mut r);
    if let Some(email) = &person.email
        && yes(rng, p.email)
    {
        r.emails.push(render_email(rng, email, source));
    }
    let moved = yes(
        rng,
        if source == Source::LegacyMfi {
            0.12
        } else {
            P_MOVED
        },
    );
    let home = if k > 0 && moved {
        &person.moved_home
    } else {
        &person.home
    };
    render_place(rng, home, source, p, &mut r);
    if source == Source::LoanOrigination
        && let Some(g) = &person.group_id
        && (k == 0 || rng.random_bool(0.8))
    {
        r.group_id = g.clone();
    }
    // Keep every record linkable by a careful human: a name plus a birth
    // date, a phone the person's other records also carry, or the national
    // id. A new SIM alone is not enough: no other record has that number.
    if !has_dob && !own_phone && r.national_id.is_empty() {
        r.date_of_birth = render_dob(rng, person, source, p);
    }
    r
}

fn sex_text<R: Rng + ?Sized>(rng: &mut R, female: bool, source: Source) -> &'static str {
    match (source, female) {
        (Source::CoreBanking | Source::MobileMoney, false) => "M",
        (Source::CoreBanking | Source::MobileMoney, true) => "F",
        (Source::LoanOrigination, false) => choose(rng, &["Masculin", "M", "Homme"]),
        (Source::LoanOrigination, true) => choose(rng, &["Féminin", "F", "Femme"]),
        (Source::AgentApp, false) => choose(rng, &["h", "homme", "m"]),
        (Source::AgentApp, true) => choose(rng, &["f", "femme", "fem"]),
        (Source::LegacyMfi, false) => choose(rng, &["1", "M"]),
        (Source::LegacyMfi, true) => choose(rng, &["2", "F"]),
    }
}

/// Noise on one name part: a phonetic variant, then a typo.
fn noisy_name<R: Rng + ?Sized>(world: &World, rng: &mut R, name: &str, p: &Profile) -> String {
    let mut s = if yes(rng, P_PHONETIC * p.phonetic) {
        world.phonetic.variant(rng, name, name)
    } else {
        name.to_string()
    };
    // Compound names: "Jean-Marc" / "Jean Marc", "Mame Diarra" / "Mame-Diarra".
    if s.contains('-') && yes(rng, 0.2) {
        s = s.replace('-', " ");
    } else if s.contains(' ') && yes(rng, 0.1) {
        s = s.replace(' ', "-");
    }
    if yes(rng, P_TYPO * p.typo) {
        s = typo(rng, &s);
    }
    s
}

fn render_names<R: Rng + ?Sized>(
    world: &World,
    rng: &mut R,
    person: &Person,
    source: Source,
    p: &Profile,
    r: &mut Record,
) {
    let surname_true = match person.married_surname {
        Some(m) if yes(rng, P_MARRIED_NAME) => m,
        _ => person.surname,
    };
    let mut given = noisy_name(world, rng, person.given, p);
    let mut surname = noisy_name(world, rng, surname_true, p);
    let mut middle = String::new();
    if let Some(m) = person.middle {
        let m = noisy_name(world, rng, m, p);
        if yes(rng, p.middle_field) {
            middle = m;
        } else if yes(rng, 0.5) {
            let sep = if yes(rng, 0.3) { "-" } else { " " };
            given = format!("{given}{sep}{m}");
        } else if yes(rng, 0.1) {
            middle = format!("{}.", m.chars().next().unwrap_or('X'));
        }
    }
    if yes(rng, P_SWAP_NAMES) {
        std::mem::swap(&mut given, &mut surname);
    }
    // Case and accents by system.
    let accents = match source {
        Source::CoreBanking => yes(rng, 0.85),
        Source::MobileMoney => yes(rng, 0.4),
        Source::LoanOrigination => yes(rng, 0.7),
        Source::AgentApp | Source::LegacyMfi => false,
    };
    let (given_case, surname_case) = match source {
        Source::CoreBanking => (
            Case::Title,
            if yes(rng, 0.5) {
                Case::Upper
            } else {
                Case::Title
            },
        ),
        Source::MobileMoney => {
            let c = pick(
                rng,
                &[(Case::Upper, 0.4), (Case::Title, 0.4), (Case::Lower, 0.2)],
            );
            (c, c)
        }
        Source::LoanOrigination => (
            Case::Title,
            if yes(rng, 0.3) {
                Case::Upper
            } else {
                Case::Title
            },
        ),
        Source::AgentApp => {
            let c = pick(
                rng,
                &[(Case::Lower, 0.75), (Case::Title, 0.2), (Case::Upper, 0.05)],
            );
            (c, c)
        }
        Source::LegacyMfi => (Case::Upper, Case::Upper),
    };
    let style = |s: &str, case: Case| -> String {
        let s = if accents {
            s.to_string()
        } else {
            strip_accents(s)
        };
        // Title case keeps the written form ("N'Guessan"); others recase it.
        match case {
            Case::Title if s.chars().next().is_some_and(char::is_uppercase) => s,
            Case::Title => title_case(&s),
            other => apply_case(&s, other),
        }
    };
    let given = style(&given, given_case);
    let surname = style(&surname, surname_case);
    let middle = style(&middle, given_case);
    // Francophone forms put the surname first half of the time.
    let surname_first = source == Source::LegacyMfi || yes(rng, 0.5);
    let full = || -> String {
        let mut parts: Vec<&str> = Vec::with_capacity(3);
        if surname_first {
            parts.push(&surname);
        }
        parts.push(&given);
        if !middle.is_empty() {
            parts.push(&middle);
        }
        if !surname_first {
            parts.push(&surname);
        }
        parts.join(" ")
    };
    if yes(rng, p.full_name_only) {
        r.full_name = full();
    } else {
        if yes(rng, p.full_name_too) {
            r.full_name = full();
        }
        r.given_name = given;
        r.middle_name = middle;
        r.surname = surname;
    }
}

fn render_dob<R: Rng + ?Sized>(
    rng: &mut R,
    person: &Person,
    source: Source,
    p: &Profile,
) -> String {
    let Date {
        mut y,
        mut m,
        mut d,
    } = person.dob;
    if yes(rng, P_YEAR_OFF) {
        y = if yes(rng, 0.5) { y + 1 } else { y - 1 };
    }
    let year_only = yes(rng, p.year_only) || (person.presumed_dob && yes(rng, 0.3));
    if year_only {
        return match source {
            Source::CoreBanking => match pick(rng, &[(0u8, 0.5), (1, 0.3), (2, 0.2)]) {
                0 => format!("{y}"),
                1 => format!("00/00/{y}"),
                _ => format!("vers {y}"),
            },
            Source::LegacyMfi if yes(rng, 0.5) => format!("{y}0000"),
            Source::LegacyMfi => format!("{y}"),
            Source::AgentApp => format!("{y}"),
            Source::LoanOrigination => format!("{y}"),
            Source::MobileMoney => format!("{y}"),
        };
    }
    if yes(rng, P_MONTH_YEAR) {
        return match source {
            Source::LegacyMfi => format!("{y}{m:02}00"),
            Source::LoanOrigination => format!("{y}-{m:02}"),
            _ => format!("{m:02}/{y}"),
        };
    }
    // A day/month swap is a slip in typing a full date.
    if d <= 12 && d != m && yes(rng, P_DAY_MONTH_SWAP) {
        std::mem::swap(&mut d, &mut m);
    }
    match source {
        Source::CoreBanking => format!("{d:02}/{m:02}/{y}"),
        Source::MobileMoney => {
            if yes(rng, 0.5) {
                format!("{d:02}-{m:02}-{y}")
            } else {
                format!("{d:02}/{m:02}/{y}")
            }
        }
        Source::LoanOrigination => format!("{y}-{m:02}-{d:02}"),
        Source::AgentApp => {
            if yes(rng, 0.6) {
                format!("{d}/{m}/{:02}", y % 100)
            } else {
                format!("{d:02}/{m:02}/{y}")
            }
        }
        Source::LegacyMfi => format!("{y}{m:02}{d:02}"),
    }
}

fn render_id<R: Rng + ?Sized>(
    rng: &mut R,
    canonical: &str,
    country: Country,
    source: Source,
) -> String {
    // Canonical ids are ASCII: letters and digits.
    let mut bytes = canonical.as_bytes().to_vec();
    if yes(rng, P_ID_TYPO) {
        let digits: Vec<usize> = (0..bytes.len())
            .filter(|&i| bytes[i].is_ascii_digit())
            .collect();
        if !digits.is_empty() {
            let i = digits[rng.random_range(0..digits.len())];
            let old = bytes[i];
            while bytes[i] == old {
                bytes[i] = b'0' + rng.random_range(0..10u8);
            }
        }
    }
    let id = String::from_utf8_lossy(&bytes);
    let digits: String = if bytes.iter().all(u8::is_ascii_digit) {
        id.to_string()
    } else {
        id.chars().filter(char::is_ascii_digit).collect()
    };
    let out = match country {
        Country::CI => {
            let (a, b, c) = (&digits[0..4], &digits[4..8], &digits[8..]);
            match rng.random_range(0..7) {
                0 | 1 => id.to_string(),
                2 => format!("CI-{a}-{b}-{c}"),
                3 => format!("CI {a} {b} {c}"),
                4 => format!("C {a} {b} {c}"),
                5 => format!("CI{digits}"),
                _ => digits.clone(),
            }
        }
        Country::SN => match rng.random_range(0..4) {
            0 | 1 => digits.clone(),
            2 => format!(
                "{} {} {} {}",
                &digits[0..1],
                &digits[1..4],
                &digits[4..8],
                &digits[8..]
            ),
            _ => format!("{}-{}-{}", &digits[0..4], &digits[4..8], &digits[8..]),
        },
        Country::ML => match rng.random_range(0..4) {
            0 | 1 => id.to_string(),
            2 => format!("{} {} {}", &id[0..5], &id[5..10], &id[10..]),
            _ => id.to_lowercase(),
        },
        Country::BF => match rng.random_range(0..4) {
            0 | 1 => id.to_string(),
            2 => format!("B {digits}"),
            _ => format!("B-{} {}", &digits[0..4], &digits[4..]),
        },
    };
    match source {
        Source::AgentApp => out.to_lowercase(),
        _ => out,
    }
}

/// Groups digits: `groups` are the sizes, joined with `sep`.
fn grouped(digits: &str, groups: &[usize], sep: &str) -> String {
    let mut out = String::with_capacity(digits.len() + groups.len() * sep.len());
    let mut at = 0;
    for (i, &g) in groups.iter().enumerate() {
        if at >= digits.len() {
            break;
        }
        if i > 0 {
            out.push_str(sep);
        }
        let end = (at + g).min(digits.len());
        out.push_str(&digits[at..end]);
        at = end;
    }
    if at < digits.len() {
        out.push_str(&digits[at..]);
    }
    out
}

fn phone_groups(country: Country, len: usize) -> &'static [usize] {
    match (country, len) {
        (Country::SN, _) => &[2, 3, 2, 2],
        (_, 10) => &[2, 2, 2, 2, 2],
        _ => &[2, 2, 2, 2],
    }
}

/// A phone number written in one of the local formats. Legacy Ivorian
/// records hold the pre-2021 8-digit number.
pub fn format_phone<R: Rng + ?Sized>(rng: &mut R, phone: Phone, source: Source) -> String {
    let country = phone.country;
    let cc = country.dial_code();
    let mut digits = phone.digits();
    let legacy_ci = country == Country::CI
        && match source {
            Source::LegacyMfi => yes(rng, 0.85),
            _ => yes(rng, 0.03),
        };
    if legacy_ci {
        digits = digits[2..].to_string();
    }
    let groups = phone_groups(country, digits.len());
    let spaced = || grouped(&digits, groups, " ");
    let weights: &[(u8, f64)] = match source {
        Source::CoreBanking => &[
            (0, 0.35),
            (1, 0.3),
            (2, 0.15),
            (3, 0.1),
            (4, 0.05),
            (5, 0.05),
        ],
        Source::MobileMoney => &[(6, 0.6), (3, 0.2), (0, 0.2)],
        Source::LoanOrigination => &[(0, 0.4), (1, 0.3), (2, 0.1), (7, 0.05), (8, 0.1), (5, 0.05)],
        Source::AgentApp => &[(0, 0.7), (1, 0.1), (9, 0.05), (3, 0.1), (4, 0.05)],
        Source::LegacyMfi => &[(0, 0.5), (1, 0.3), (8, 0.1), (10, 0.1)],
    };
    match pick(rng, weights) {
        1 => spaced(),
        2 => format!("+{cc} {}", spaced()),
        3 => format!("+{cc}{digits}"),
        4 => format!("00{cc} {digits}"),
        5 => grouped(&digits, groups, "."),
        6 => format!("{cc}{digits}"),
        7 => format!("00{cc}-{}", grouped(&digits, groups, "-")),
        8 => format!("({cc}) {digits}"),
        // A spreadsheet dropped the leading zero.
        9 if digits.starts_with('0') => digits[1..].to_string(),
        10 => format!("{cc} {}", spaced()),
        _ => digits,
    }
}

/// Fills the phones; returns whether one of them is the person's own (or
/// the family's) number rather than only an agent's.
fn render_phones<R: Rng + ?Sized>(
    world: &World,
    rng: &mut R,
    person: &Person,
    k: usize,
    source: Source,
    p: &Profile,
    r: &mut Record,
) -> bool {
    let mut phones: Vec<Phone> = Vec::with_capacity(2);
    let mut new_sim = false;
    if yes(rng, p.phone) {
        new_sim = k > 0 && yes(rng, P_NEW_PHONE);
        let primary = if new_sim {
            Some(person.new_phone)
        } else {
            match (person.phone, person.family_phone) {
                (Some(own), Some(family)) => Some(if yes(rng, P_FAMILY_PHONE) {
                    family
                } else {
                    own
                }),
                (own, family) => own.or(family),
            }
        };
        phones.extend(primary);
        if let Some(second) = person.second_phone
            && yes(rng, p.second_phone)
        {
            phones.push(second);
        }
    }
    // Mobile money always has the account number.
    if phones.is_empty() && source == Source::MobileMoney {
        phones.push(
            person
                .phone
                .or(person.family_phone)
                .unwrap_or(person.new_phone),
        );
    }
    // The new SIM alone does not link the record to the person's others.
    let own = phones.len() > usize::from(new_sim);
    let mut written: Vec<String> = phones
        .iter()
        .map(|&ph| format_phone(rng, ph, source))
        .collect();
    if source == Source::AgentApp && !written.is_empty() && yes(rng, 0.01) {
        // One mistyped digit.
        let s = &mut written[0];
        if let Some((pos, _)) = s.char_indices().rev().find(|(_, c)| c.is_ascii_digit()) {
            let old = s.as_bytes()[pos];
            let new = if old == b'9' {
                '0'
            } else {
                char::from(old + 1)
            };
            s.replace_range(pos..pos + 1, &new.to_string());
        }
    }
    let mut own_kept = own;
    if yes(rng, p.hot_phone) {
        let agent = world.agent_phone(rng, person.country);
        let agent = format_phone(rng, agent, source);
        if !written.is_empty() && yes(rng, 0.6) {
            written[0] = agent;
            own_kept = written.len() > 1;
        } else {
            written.push(agent);
        }
    }
    r.phones = written;
    own_kept
}

fn render_email<R: Rng + ?Sized>(rng: &mut R, email: &str, source: Source) -> String {
    let mut e = email.to_string();
    if yes(rng, 0.02) {
        e = e
            .replace("gmail.com", "gmial.com")
            .replace("yahoo.fr", "yaho.fr")
            .replace("hotmail", "hotmal");
    }
    match source {
        Source::LegacyMfi => e.to_uppercase(),
        _ if yes(rng, 0.05) => {
            let mut c = e.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or(e)
        }
        _ => e,
    }
}

fn detail_text<R: Rng + ?Sized>(rng: &mut R, detail: Detail, landmark: &str) -> String {
    // The written variant is drawn first, then only that one is formatted.
    let v = pick(rng, &[(0u8, 0.6), (1, 0.2), (2, 0.2)]);
    match (detail, v) {
        (Detail::Ilot(n), 0) => format!("Ilot {n}"),
        (Detail::Ilot(n), 1) => format!("Ilot N°{n}"),
        (Detail::Ilot(n), _) => format!("Il. {n}"),
        (Detail::Lot(n), 2) => format!("Lot N° {n}"),
        (Detail::Lot(n), _) => format!("Lot {n}"),
        (Detail::Villa(n), 1) => format!("V. {n}"),
        (Detail::Villa(n), _) => format!("Villa {n}"),
        (Detail::RueXRue(a, b), 0) => format!("Rue {a} x {b}"),
        (Detail::RueXRue(a, b), 1) => format!("Rue {a} X {b}"),
        (Detail::RueXRue(a, b), _) => format!("angle rue {a} et rue {b}"),
        (Detail::RuePorte(a, b), 0) => format!("Rue {a} Porte {b}"),
        (Detail::RuePorte(a, b), 1) => format!("R.{a} P.{b}"),
        (Detail::RuePorte(a, b), _) => format!("rue {a}, porte {b}"),
        (Detail::Secteur(n), 1) => format!("Sect. {n}"),
        (Detail::Secteur(n), _) => format!("Secteur {n}"),
        (Detail::Landmark, _) => landmark.to_string(),
    }
}

fn render_address<R: Rng + ?Sized>(rng: &mut R, home: &Home) -> String {
    let landmark = if yes(rng, 0.8) {
        LANDMARKS[home.landmark]
    } else {
        LANDMARKS[home.alt_landmark]
    };
    let quarter = if yes(rng, 0.65) {
        home.quarter.name
    } else {
        choose(rng, home.quarter.variants)
    };
    let place = if home.quarter.commune.is_empty() {
        quarter.to_string()
    } else if home.quarter.name == "Centre" || yes(rng, 0.1) {
        home.quarter.commune.to_string()
    } else {
        format!("{} {quarter}", home.quarter.commune)
    };
    if yes(rng, 0.12) {
        // Only the neighbourhood.
        return place;
    }
    let detail = detail_text(rng, home.detail, landmark);
    let mut out = match (home.country, home.detail) {
        (Country::CI, Detail::Lot(_)) => format!("{detail} {place}"),
        (Country::SN, _) => format!("{place} {detail}"),
        (Country::ML, _) if yes(rng, 0.4) => format!("Quartier {place} {detail}"),
        (Country::BF, Detail::Secteur(_)) => format!("{detail}, {place}"),
        _ => format!("{place}, {detail}"),
    };
    if home.detail != Detail::Landmark && yes(rng, 0.15) {
        out.push_str(", ");
        out.push_str(landmark);
    }
    out
}

fn render_place<R: Rng + ?Sized>(
    rng: &mut R,
    home: &Home,
    source: Source,
    p: &Profile,
    r: &mut Record,
) {
    let city = home.city;
    if yes(rng, p.address) {
        r.address = render_address(rng, home);
        if let Some((bp, zone)) = home.bp
            && matches!(source, Source::CoreBanking | Source::LegacyMfi)
            && yes(rng, 0.5)
        {
            let (boxed, code) = if city.code == "ABJ" {
                (
                    format!("{zone:02} BP {bp} Abidjan {zone:02}"),
                    format!("{zone:02} BP {bp}"),
                )
            } else {
                (format!("BP {bp} {}", city.name), format!("BP {bp}"))
            };
            if yes(rng, 0.5) {
                r.address = boxed;
            } else {
                r.postcode = code;
            }
        }
    }
    if yes(rng, p.locality) {
        r.locality = if !home.quarter.commune.is_empty() && yes(rng, 0.3) {
            home.quarter.commune.to_string()
        } else if yes(rng, 0.75) {
            city.name.to_string()
        } else {
            choose(rng, city.locality_variants).to_string()
        };
    }
    if yes(rng, p.region) {
        r.region = choose(rng, city.regions).to_string();
    }
    if yes(rng, p.country) {
        r.country = pick(rng, home.country.spellings()).to_string();
    }
    match source {
        Source::AgentApp => {
            for f in [
                &mut r.address,
                &mut r.locality,
                &mut r.region,
                &mut r.country,
            ] {
                *f = agent_style(f);
            }
        }
        Source::LegacyMfi => {
            for f in [
                &mut r.address,
                &mut r.locality,
                &mut r.region,
                &mut r.country,
            ] {
                *f = strip_accents(f).to_uppercase();
            }
        }
        _ => {}
    }
}

/// How a field agent types on a phone: lower case, no accents, short forms.
fn agent_style(s: &str) -> String {
    if s.is_empty() {
        return String::new();
    }
    let mut out = strip_accents(s).to_lowercase();
    for (long, short) in [
        ("yopougon", "yop"),
        ("pres du ", "pres "),
        ("derriere", "derr"),
        ("a cote de la ", "cote "),
        ("a cote du ", "cote "),
        ("quartier", "qt"),
        ("secteur", "sect"),
        (",", ""),
    ] {
        if out.contains(long) {
            out = out.replace(long, short);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn legacy_ci_phone_follows_migration_rule() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let world = World::new(&mut rng, 1000);
        for _ in 0..500 {
            let phone = world.phone(&mut rng, Country::CI);
            let d = phone.digits();
            assert_eq!(d.len(), 10);
            let second_old = d.as_bytes()[3] - b'0';
            let expected = match second_old {
                0..=3 => "01",
                4..=6 => "05",
                _ => "07",
            };
            assert_eq!(&d[..2], expected, "{d}");
        }
    }

    #[test]
    fn phone_formats() {
        let p = Phone {
            country: Country::CI,
            n: 707_123_456,
        };
        assert_eq!(p.digits(), "0707123456");
        assert_eq!(
            grouped("0707123456", &[2, 2, 2, 2, 2], " "),
            "07 07 12 34 56"
        );
        assert_eq!(grouped("771234567", &[2, 3, 2, 2], " "), "77 123 45 67");
    }
}

//! Turns a true person into one record of a source system: the system's
//! completeness and writing style, then the noise of a human typing it.
//! This file holds the sources, their profiles and the record as a whole;
//! each part of it is written in its own module: `identity` (names, birth
//! date, national id), `contact` (phones, e-mail), `place` (address,
//! locality, region).

use c360_core::Record;
use rand::Rng;

use crate::model::{Date, Detail, Home, Person, Phone, World};
use crate::places::{Country, LANDMARKS};
use crate::text::{Case, apply_case, choose, pick, strip_accents, title_case, typo};

mod contact;
mod identity;
mod place;

use contact::{render_email, render_phones};
use identity::{render_dob, render_id, render_names};
use place::render_place;

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

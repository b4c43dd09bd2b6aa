//! The ground truth: people, their homes and phones, households and
//! solidarity groups. Nothing here is noisy; `render` degrades it.

use rand::Rng;

use crate::ids::permute;
use crate::names::{self, Ethnic};
use crate::places::{City, Country, Quarter};
use crate::text::{Phonetic, Table, choose, pick, strip_accents};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Date {
    pub y: u16,
    pub m: u8,
    pub d: u8,
}

impl Date {
    pub fn days_in_month(y: u16, m: u8) -> u8 {
        match m {
            2 if (y.is_multiple_of(4) && !y.is_multiple_of(100)) || y.is_multiple_of(400) => 29,
            2 => 28,
            4 | 6 | 9 | 11 => 30,
            _ => 31,
        }
    }
}

/// A phone number in national form (`n` printed with the country's width).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phone {
    pub country: Country,
    pub n: u64,
}

impl Phone {
    pub fn digits(self) -> String {
        format!("{:0w$}", self.n, w = self.country.phone_len())
    }
}

/// The precise part of an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Detail {
    Ilot(u16),
    Lot(u16),
    Villa(u16),
    Landmark,
    RueXRue(u8, u8),
    RuePorte(u16, u16),
    Secteur(u8),
}

#[derive(Clone, Copy, Debug)]
pub struct Home {
    pub country: Country,
    pub city: &'static City,
    pub quarter: &'static Quarter,
    pub detail: Detail,
    pub landmark: usize,
    pub alt_landmark: usize,
    /// Post-office box (number, zone), for the few who have one.
    pub bp: Option<(u16, u8)>,
}

/// A real person (one entity of the truth).
#[derive(Clone, Debug)]
pub struct Person {
    pub entity: u64,
    pub country: Country,
    pub female: bool,
    pub given: &'static str,
    pub middle: Option<&'static str>,
    pub surname: &'static str,
    /// Husband's surname a married woman sometimes gives instead.
    pub married_surname: Option<&'static str>,
    pub dob: Date,
    /// "Né vers 1962": the birth date is a conventional 1 January.
    pub presumed_dob: bool,
    pub national_id: Option<String>,
    pub phone: Option<Phone>,
    pub second_phone: Option<Phone>,
    /// The number after a SIM change.
    pub new_phone: Phone,
    /// The household's shared phone, for members other than the head.
    pub family_phone: Option<Phone>,
    pub email: Option<String>,
    pub home: Home,
    /// Where the person lives after moving.
    pub moved_home: Home,
    pub group_id: Option<String>,
    pub n_records: usize,
}

/// Share of households with 2-6 members (gives ~15% of entities in them).
pub const P_MULTI_HOUSEHOLD: f64 = 0.0585;
/// Among multi-member households: twins, mother and daughter with the same name.
pub const P_TWINS: f64 = 0.05;
pub const P_MOTHER_DAUGHTER: f64 = 0.02;
/// Share of clusters that are solidarity groups (5-30 heads of household).
pub const P_GROUP_CLUSTER: f64 = 0.0065;
/// Records per entity: heavy tail, mean ~1.75, max 20.
pub const RECORDS_PER_ENTITY: &[(usize, f64)] = &[
    (1, 55.0),
    (2, 30.0),
    (3, 8.5),
    (4, 3.2),
    (5, 1.4),
    (6, 0.7),
    (7, 0.4),
    (8, 0.25),
    (9, 0.17),
    (10, 0.12),
    (11, 0.08),
    (12, 0.06),
    (13, 0.03),
    (14, 0.025),
    (15, 0.02),
    (16, 0.015),
    (17, 0.01),
    (18, 0.008),
    (19, 0.006),
    (20, 0.005),
];

const ETHNICS: [Ethnic; 8] = [
    Ethnic::Akan,
    Ethnic::Krou,
    Ethnic::Mande,
    Ethnic::Wolof,
    Ethnic::Peul,
    Ethnic::SererDiola,
    Ethnic::Mossi,
    Ethnic::BfWest,
];

fn country_index(c: Country) -> usize {
    match c {
        Country::CI => 0,
        Country::SN => 1,
        Country::ML => 2,
        Country::BF => 3,
    }
}

/// Where a person comes from: shared by the members of a household.
#[derive(Clone, Copy, Debug)]
struct Origin {
    country: Country,
    ethnic: Ethnic,
    home: Home,
}

/// Sampling tables built once per generator.
#[derive(Debug)]
pub struct World {
    countries: Table<Country>,
    ethnic_mix: Vec<Table<Ethnic>>,
    cities: Vec<Table<&'static City>>,
    surnames: Vec<Table<&'static str>>,
    pools: Vec<Table<&'static str>>,
    sizes: Table<usize>,
    domains: Table<&'static str>,
    pub phonetic: Phonetic,
    /// Hot phones of field agents and shops, per country.
    agents: Vec<Table<Phone>>,
    key: u64,
}

/// The state of the truth generator.
#[derive(Debug)]
pub struct Population {
    pub world: World,
    next_entity: u64,
    next_group: u64,
    /// Addresses handed out: a mail provider gives each one to one person,
    /// so a namesake gets `aminata.traore2@...`, never the same address.
    emails: std::collections::HashSet<String>,
}

impl World {
    pub fn new<R: Rng + ?Sized>(rng: &mut R, records: usize) -> Self {
        let countries = Table::new(Country::ALL.map(|c| (c, c.weight())));
        let ethnic_mix = Country::ALL
            .iter()
            .map(|c| Table::new(c.ethnic_mix().iter().copied()))
            .collect();
        let cities = Country::ALL
            .iter()
            .map(|c| Table::new(c.cities().iter().map(|city| (city, city.weight))))
            .collect();
        let surnames = ETHNICS
            .iter()
            .map(|&e| Table::zipf(names::surnames(e), 1.0))
            .collect();
        let pools = names::ALL_POOLS
            .iter()
            .map(|p| Table::zipf(p, 1.0))
            .collect();
        let mut world = World {
            countries,
            ethnic_mix,
            cities,
            surnames,
            pools,
            sizes: Table::new(RECORDS_PER_ENTITY.iter().copied()),
            domains: Table::new(names::EMAIL_DOMAINS.iter().copied()),
            phonetic: Phonetic::new(names::PHONETIC),
            agents: Vec::new(),
            key: rng.random(),
        };
        // ~1 agent per 20,000 records, 4 to 50, each with its own activity.
        let total_agents = (records / 20_000).clamp(4, 50);
        world.agents = Country::ALL
            .iter()
            .map(|&c| {
                let n = ((total_agents as f64 * c.weight()).round() as usize).max(1);
                Table::new((0..n).map(|_| (world.phone(rng, c), rng.random_range(1.0..15.0))))
            })
            .collect();
        world
    }

    pub fn agent_phone<R: Rng + ?Sized>(&self, rng: &mut R, country: Country) -> Phone {
        self.agents[country_index(country)].sample(rng)
    }

    pub fn records_per_entity<R: Rng + ?Sized>(&self, rng: &mut R) -> usize {
        self.sizes.sample(rng)
    }

    /// A valid mobile number. Ivorian numbers follow the 2021 migration
    /// rule, so their old 8-digit form is the last 8 digits: 01 (Moov) for an
    /// old second digit 0-3, 05 (MTN) for 4-6, 07 (Orange) for 7-9.
    pub fn phone<R: Rng + ?Sized>(&self, rng: &mut R, country: Country) -> Phone {
        let n = match country {
            Country::CI => {
                let (prefix, lo, hi) = pick(
                    rng,
                    &[
                        ((1u64, 0u64, 3u64), 0.2),
                        ((5, 4, 6), 0.35),
                        ((7, 7, 9), 0.45),
                    ],
                );
                let first = rng.random_range(0..9u64);
                let second = rng.random_range(lo..=hi);
                prefix * 100_000_000
                    + first * 10_000_000
                    + second * 1_000_000
                    + rng.random_range(0..1_000_000)
            }
            Country::SN => {
                let prefix = pick(
                    rng,
                    &[
                        (77u64, 0.45),
                        (78, 0.25),
                        (76, 0.15),
                        (70, 0.10),
                        (75, 0.05),
                    ],
                );
                prefix * 10_000_000 + rng.random_range(0..10_000_000)
            }
            Country::ML => {
                let prefix = choose(
                    rng,
                    &[
                        76u64, 77, 78, 79, 66, 65, 70, 90, 91, 92, 93, 94, 95, 96, 98, 99,
                    ],
                );
                prefix * 1_000_000 + rng.random_range(0..1_000_000)
            }
            Country::BF => {
                let prefix = choose(
                    rng,
                    &[
                        70u64, 71, 72, 74, 75, 76, 77, 78, 60, 61, 62, 64, 65, 66, 67, 68, 69, 51,
                        52, 54, 55, 56, 57,
                    ],
                );
                prefix * 1_000_000 + rng.random_range(0..1_000_000)
            }
        };
        Phone { country, n }
    }

    fn national_id(&self, country: Country, entity: u64, female: bool) -> String {
        let k = self.key;
        match country {
            Country::CI => format!(
                "C{:010}",
                permute(entity % 10_000_000_000, 10_000_000_000, k)
            ),
            Country::SN => format!(
                "{}{:012}",
                if female { 2 } else { 1 },
                permute(entity % 1_000_000_000_000, 1_000_000_000_000, k ^ 1)
            ),
            Country::ML => {
                let n = permute(entity % 100_000_000_000_000, 100_000_000_000_000, k ^ 2);
                let letter = (b'A' + (n % 26) as u8) as char;
                format!("{n:014}{letter}")
            }
            Country::BF => format!("B{:08}", permute(entity % 100_000_000, 100_000_000, k ^ 3)),
        }
    }

    fn given<R: Rng + ?Sized>(&self, rng: &mut R, ethnic: Ethnic, female: bool) -> &'static str {
        let pool = pick(rng, names::given_pools(ethnic, female));
        let index = names::ALL_POOLS
            .iter()
            .position(|p| std::ptr::eq(*p, pool))
            .unwrap_or(0);
        self.pools[index].sample(rng)
    }

    fn surname<R: Rng + ?Sized>(&self, rng: &mut R, ethnic: Ethnic) -> &'static str {
        let i = ETHNICS.iter().position(|&e| e == ethnic).unwrap_or(0);
        self.surnames[i].sample(rng)
    }

    fn ethnic<R: Rng + ?Sized>(&self, rng: &mut R, country: Country) -> Ethnic {
        self.ethnic_mix[country_index(country)].sample(rng)
    }

    fn city<R: Rng + ?Sized>(&self, rng: &mut R, country: Country) -> &'static City {
        self.cities[country_index(country)].sample(rng)
    }

    fn home_in<R: Rng + ?Sized>(
        &self,
        rng: &mut R,
        country: Country,
        city: &'static City,
        quarter: &'static Quarter,
    ) -> Home {
        let grid = matches!(quarter.name, "Medina" | "Fass" | "Colobane" | "Médina Baye");
        // Numbers drawn first, then the kind of address.
        let (a, b) = (
            rng.random_range(1..10_000u16),
            rng.random_range(1..10_000u16),
        );
        let options: &[(Detail, f64)] = match country {
            Country::CI => &[
                (Detail::Ilot(a % 149 + 1), 0.3),
                (Detail::Lot(a % 899 + 1), 0.15),
                (Detail::Landmark, 0.4),
                (Detail::Villa(b % 399 + 1), 0.15),
            ],
            Country::SN if grid => &[
                (Detail::RueXRue((a % 44 + 1) as u8, (b % 44 + 1) as u8), 0.7),
                (Detail::Landmark, 0.3),
            ],
            Country::SN => &[
                (Detail::Villa(a % 2499 + 1), 0.55),
                (Detail::Landmark, 0.45),
            ],
            Country::ML => &[
                (Detail::RuePorte(a % 600 + 100, b % 249 + 1), 0.5),
                (Detail::Landmark, 0.5),
            ],
            Country::BF => &[
                (Detail::Secteur((a % 55 + 1) as u8), 0.5),
                (Detail::RuePorte(a % 59 + 1, b % 299 + 1), 0.15),
                (Detail::Landmark, 0.35),
            ],
        };
        let detail = pick(rng, options);
        let landmark = rng.random_range(0..crate::places::LANDMARKS.len());
        let alt_landmark = rng.random_range(0..crate::places::LANDMARKS.len());
        let bp = rng
            .random_bool(0.06)
            .then(|| (rng.random_range(1..10_000), rng.random_range(1..29)));
        Home {
            country,
            city,
            quarter,
            detail,
            landmark,
            alt_landmark,
            bp,
        }
    }

    pub fn home<R: Rng + ?Sized>(&self, rng: &mut R, country: Country) -> Home {
        let city = self.city(rng, country);
        let quarter = &city.quarters[rng.random_range(0..city.quarters.len())];
        self.home_in(rng, country, city, quarter)
    }

    /// A new home after a move: mostly elsewhere in the same city.
    fn moved<R: Rng + ?Sized>(&self, rng: &mut R, home: &Home) -> Home {
        if rng.random_bool(0.7) {
            let city = home.city;
            let quarter = &city.quarters[rng.random_range(0..city.quarters.len())];
            self.home_in(rng, home.country, city, quarter)
        } else {
            self.home(rng, home.country)
        }
    }

    fn email<R: Rng + ?Sized>(&self, rng: &mut R, given: &str, surname: &str, dob: Date) -> String {
        let clean = |s: &str| -> String {
            strip_accents(s)
                .to_lowercase()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric())
                .collect()
        };
        let first_word = given.split([' ', '-']).next().unwrap_or(given);
        let (g, s) = (clean(first_word), clean(surname));
        let yy = dob.y % 100;
        let n: u32 = rng.random_range(1..1000);
        let user = match rng.random_range(0..8) {
            0 => format!("{g}.{s}"),
            1 => format!("{g}.{s}{yy:02}"),
            2 => format!("{g}{s}{n}"),
            3 => format!("{s}.{g}"),
            4 => format!("{s}{g}{yy:02}"),
            5 => format!("{}{s}{n}", g.chars().next().unwrap_or('x')),
            6 => format!("{g}_{s}{}", dob.y),
            _ => format!("{g}{n}"),
        };
        format!("{user}@{}", self.domains.sample(rng))
    }
}

/// `email`, or the same with the first free number before the `@`.
fn unique_email(taken: &mut std::collections::HashSet<String>, email: String) -> String {
    if taken.insert(email.clone()) {
        return email;
    }
    let (user, domain) = email.split_once('@').unwrap_or((email.as_str(), ""));
    let free = (2u32..)
        .map(|n| format!("{user}{n}@{domain}"))
        .find(|e| !taken.contains(e))
        .unwrap_or_default();
    taken.insert(free.clone());
    free
}

/// A birth year for an adult client: mostly 1975-2002, some older.
fn birth_year<R: Rng + ?Sized>(rng: &mut R) -> u16 {
    if rng.random_bool(0.7) {
        rng.random_range(1975..=2002)
    } else {
        rng.random_range(1945..=2006)
    }
}

fn date_in_year<R: Rng + ?Sized>(rng: &mut R, y: u16) -> Date {
    let m = rng.random_range(1..=12);
    let d = rng.random_range(1..=Date::days_in_month(y, m));
    Date { y, m, d }
}

impl Population {
    pub fn new(world: World) -> Self {
        Population {
            world,
            next_entity: 0,
            next_group: 0,
            emails: std::collections::HashSet::new(),
        }
    }

    /// The next cluster of people generated together: one household, or a
    /// solidarity group (several households of one neighbourhood).
    pub fn cluster<R: Rng + ?Sized>(&mut self, rng: &mut R) -> Vec<Person> {
        let country = self.world.countries.sample(rng);
        if rng.random_bool(P_GROUP_CLUSTER) {
            let city = self.world.city(rng, country);
            let quarter = &city.quarters[rng.random_range(0..city.quarters.len())];
            self.next_group += 1;
            let group_id = format!("GS-{}-{:04}", city.code, self.next_group);
            let members = if rng.random_bool(0.7) {
                rng.random_range(5..=12)
            } else {
                rng.random_range(13..=30)
            };
            let mut people = Vec::new();
            for _ in 0..members {
                let home = self.world.home_in(rng, country, city, quarter);
                let start = people.len();
                people.extend(self.household(rng, country, home));
                people[start].group_id = Some(group_id.clone());
            }
            people
        } else {
            let home = self.world.home(rng, country);
            self.household(rng, country, home)
        }
    }

    fn person<R: Rng + ?Sized>(
        &mut self,
        rng: &mut R,
        origin: Origin,
        female: bool,
        surname: &'static str,
        dob: Date,
    ) -> Person {
        let Origin {
            country,
            ethnic,
            home,
        } = origin;
        let w = &self.world;
        self.next_entity += 1;
        let entity = self.next_entity;
        let given = w.given(rng, ethnic, female);
        let middle = if rng.random_bool(0.25) {
            let m = w.given(rng, ethnic, female);
            (m != given).then_some(m)
        } else {
            None
        };
        let presumed = rng.random_bool(if dob.y < 1965 { 0.25 } else { 0.05 });
        let dob = if presumed {
            Date {
                y: dob.y,
                m: 1,
                d: 1,
            }
        } else {
            dob
        };
        let email = rng
            .random_bool(if dob.y > 1980 { 0.5 } else { 0.28 })
            .then(|| w.email(rng, given, surname, dob))
            .map(|e| unique_email(&mut self.emails, e));
        let phone = rng.random_bool(0.97).then(|| w.phone(rng, country));
        let second_phone = rng.random_bool(0.3).then(|| w.phone(rng, country));
        let new_phone = w.phone(rng, country);
        let moved_home = w.moved(rng, &home);
        Person {
            entity,
            country,
            female,
            given,
            middle,
            surname,
            married_surname: None,
            dob,
            presumed_dob: presumed,
            national_id: rng
                .random_bool(0.95)
                .then(|| w.national_id(country, entity, female)),
            phone,
            second_phone,
            new_phone,
            family_phone: None,
            email,
            home,
            moved_home,
            group_id: None,
            n_records: w.records_per_entity(rng),
        }
    }

    /// A household of one, or of 2-6 people sharing an address, a phone and
    /// (mostly) a surname: families, twins, a mother and her namesake daughter.
    fn household<R: Rng + ?Sized>(
        &mut self,
        rng: &mut R,
        country: Country,
        home: Home,
    ) -> Vec<Person> {
        let ethnic = self.world.ethnic(rng, country);
        let surname = self.world.surname(rng, ethnic);
        let origin = Origin {
            country,
            ethnic,
            home,
        };
        if !rng.random_bool(P_MULTI_HOUSEHOLD) {
            // Microfinance clients are mostly women.
            let female = rng.random_bool(0.6);
            let y = birth_year(rng);
            let dob = date_in_year(rng, y);
            return vec![self.person(rng, origin, female, surname, dob)];
        }
        let size = pick(
            rng,
            &[(2usize, 0.45), (3, 0.25), (4, 0.15), (5, 0.10), (6, 0.05)],
        );
        let kind: f64 = rng.random();
        let mut people: Vec<Person> = Vec::with_capacity(size);
        let mut child_surname = surname;
        if kind < P_TWINS {
            let y = rng.random_range(1965..=2004);
            let dob = date_in_year(rng, y);
            let (a, b) = (rng.random_bool(0.5), rng.random_bool(0.5));
            let mut first = self.person(rng, origin, a, surname, dob);
            let mut second = self.person(rng, origin, b, surname, dob);
            if matches!(ethnic, Ethnic::Mande | Ethnic::Wolof | Ethnic::Peul)
                && rng.random_bool(0.5)
            {
                let (n1, f1, n2, f2) = choose(rng, names::TWIN_NAMES);
                (first.given, first.female, second.given, second.female) = (n1, f1, n2, f2);
            }
            for _ in 0..5 {
                if second.given != first.given {
                    break;
                }
                second.given = self.world.given(rng, ethnic, second.female);
            }
            // Twins share their (true) birth date even when it is presumed.
            second.dob = first.dob;
            second.presumed_dob = first.presumed_dob;
            people.push(first);
            people.push(second);
        } else if kind < P_TWINS + P_MOTHER_DAUGHTER {
            let y = rng.random_range(1945..=1975);
            let mother_dob = date_in_year(rng, y);
            let mother = self.person(rng, origin, true, surname, mother_dob);
            let y = (mother_dob.y + rng.random_range(18..=32)).min(2006);
            let dob = date_in_year(rng, y);
            let mut daughter = self.person(rng, origin, true, surname, dob);
            daughter.given = mother.given;
            people.push(mother);
            people.push(daughter);
        } else {
            let head_female = rng.random_bool(0.35);
            let y = rng.random_range(1950..=1992);
            let head_dob = date_in_year(rng, y);
            people.push(self.person(rng, origin, head_female, surname, head_dob));
            if rng.random_bool(0.6) {
                // Spouse: a wife keeps her maiden name, sometimes gives her husband's.
                let gap = rng.random_range(0..=12);
                let y = if head_female {
                    head_dob.y.saturating_sub(gap)
                } else {
                    head_dob.y + gap
                };
                let dob = date_in_year(rng, y.clamp(1945, 2006));
                let other = self.world.surname(rng, ethnic);
                if head_female {
                    let husband = self.person(rng, origin, false, other, dob);
                    if rng.random_bool(0.3) {
                        people[0].married_surname = Some(other);
                    }
                    child_surname = other;
                    people.push(husband);
                } else {
                    let mut wife = self.person(rng, origin, true, other, dob);
                    if rng.random_bool(0.3) {
                        wife.married_surname = Some(surname);
                    }
                    people.push(wife);
                }
            }
        }
        // Children or siblings fill the household.
        while people.len() < size {
            let parent = people[0].dob;
            let child_min = parent.y + 18;
            let (y, female) = if child_min <= 2006 {
                (
                    rng.random_range(child_min..=(parent.y + 38).min(2006)),
                    rng.random_bool(0.5),
                )
            } else {
                let delta = rng.random_range(1..=12);
                let y = if rng.random_bool(0.5) {
                    parent.y + delta
                } else {
                    parent.y - delta
                };
                (y.clamp(1945, 2006), rng.random_bool(0.5))
            };
            let dob = date_in_year(rng, y);
            let mut p = self.person(rng, origin, female, child_surname, dob);
            for _ in 0..5 {
                if people.iter().all(|o| o.given != p.given) {
                    break;
                }
                p.given = self.world.given(rng, ethnic, female);
            }
            people.push(p);
        }
        // Everyone uses the head's phone; some have no phone of their own.
        let family = people[0].phone.unwrap_or(people[0].new_phone);
        people[0].phone = Some(family);
        for p in people.iter_mut().skip(1) {
            p.family_phone = Some(family);
            if rng.random_bool(0.3) {
                p.phone = None;
            }
        }
        people
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn household_shares() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(5);
        let world = World::new(&mut rng, 100_000);
        let mut population = Population::new(world);
        let (mut total, mut in_households, mut twins, mut namesakes, mut grouped) = (0, 0, 0, 0, 0);
        for _ in 0..60_000 {
            let cluster = population.cluster(&mut rng);
            total += cluster.len();
            grouped += cluster.iter().filter(|p| p.group_id.is_some()).count();
            for i in 1..cluster.len() {
                let (prev, p) = (&cluster[i - 1], &cluster[i]);
                if p.family_phone.is_none() {
                    continue;
                }
                in_households += if prev.family_phone.is_none() { 2 } else { 1 };
                if prev.family_phone.is_none() && prev.dob == p.dob && prev.surname == p.surname {
                    assert_ne!(prev.given, p.given);
                    twins += 2;
                }
                if prev.given == p.given && prev.female && p.female && prev.dob.y + 15 <= p.dob.y {
                    namesakes += 1;
                }
            }
            for p in &cluster {
                assert!((1945..=2006).contains(&p.dob.y));
                assert!((1..=20).contains(&p.n_records));
            }
        }
        let share = |n: usize| n as f64 / total as f64;
        eprintln!(
            "households {:.3}, twins {:.4}, mother/daughter pairs {namesakes}, groups {:.3}",
            share(in_households),
            share(twins),
            share(grouped)
        );
        assert!(
            (0.12..0.18).contains(&share(in_households)),
            "households {}",
            share(in_households)
        );
        assert!(
            (0.003..0.008).contains(&share(twins)),
            "twins {}",
            share(twins)
        );
        assert!(namesakes >= 10, "mother/daughter namesakes {namesakes}");
        assert!(
            (0.04..0.12).contains(&share(grouped)),
            "in groups {}",
            share(grouped)
        );
    }
}

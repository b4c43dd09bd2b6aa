//! Seeded generator of realistic francophone West-African microfinance
//! client records, with ground truth, for benchmarking the deduplication
//! engine.
//!
//! ```no_run
//! let config = c360_datagen::GenConfig { records: 1_000_000, seed: 42 };
//! let records = std::fs::File::create("records.csv").unwrap();
//! let truth = std::fs::File::create("truth.csv").unwrap();
//! let summary = c360_datagen::write_csv(&config, records, truth).unwrap();
//! println!("{} records of {} people", summary.records, summary.entities);
//! ```
//!
//! # Model
//!
//! **People** (entities) live in Côte d'Ivoire (55%), Senegal (18%), Mali
//! (14%) and Burkina Faso (13%). Each belongs to an ethno-linguistic group
//! that drives the names (Akan/Baoulé, Krou, Dioula/Malinké/Bambara, Wolof,
//! Peul, Sérère/Diola, Mossi, western Burkinabè); Côte d'Ivoire also has
//! Mossi and Malian-origin residents. ~150 surnames and ~300 given names are
//! drawn with a Zipf law (weight `1/rank`), so "Mamadou Traoré", "Aminata
//! Koné" or "Fatou Diop" are shared by many different people (namesakes).
//! 60% of single clients are women; 25% of people have a middle name; birth
//! years run 1945-2006 (70% in 1975-2002); 25% of people born before 1965
//! and 5% of the others have a conventional 1 January birth date ("né vers").
//! 95% hold a national id (CI `C0012345678`, SN 13 digits starting 1/2 by
//! sex, ML 14 digits + a letter, BF `B` + 8 digits; unique per person), 97% a
//! mobile phone (CI 01/05/07 + 8 digits built so the pre-2021 8-digit form
//! is consistent with the migration rule, SN 70/75/76/77/78 + 7, ML and BF
//! 8 digits), 30% a second SIM, 28-50% an e-mail address (younger people more).
//!
//! **Records per person**: 1 (55%), 2 (30%), 3 (8.5%), 4 (3.2%), 5 (1.4%),
//! then a tail to 20 (mean ~1.75). Each record comes from one source system:
//!
//! | system | share | style |
//! |---|---|---|
//! | `core_banking` (`CBS-00482913`) | 25% | fullest: split names, ids 90%, `dd/mm/yyyy`, full address, region |
//! | `mobile_money` (`MM-7f3a2c1b`) | 30% | name mostly as one `full_name`, phone always (`225…`), DOB 15%, id 30% |
//! | `loan_origination` (`LOS-0012345`) | 15% | `yyyy-mm-dd`, `group_id` for solidarity groups (`GS-ABJ-0042`) |
//! | `agent_app` (`AGT-K3F9QZ`) | 18% | typed on phones: lower case, no accents, more typos, `d/m/yy` or year only |
//! | `legacy_mfi` (`LEG-0048213`) | 12% | ALL CAPS, no accents, `yyyymmdd`, old 8-digit Ivorian numbers (85%) |
//!
//! # Noise (per record, every record is an independent noisy copy)
//!
//! | noise | rate |
//! |---|---|
//! | typo (insert / delete / AZERTY substitute / transpose) per name part | 16% × system factor (core 0.4, agent 2.0, others 0.8): ~15% on average |
//! | phonetic variant (Kouassi→Kouasi, Ouattara→Watara, N'Guessan→Nguessan, …) per name part | 15% × factor (core 0.6, agent 1.4, others 1.0) |
//! | given name and surname swapped | 8% |
//! | compound name hyphen ↔ space ("Jean-Marc" / "Jean Marc") | 20% / 10% |
//! | middle name in its own field / merged into the given name / dropped | by system (core 80% own field; else half merged) |
//! | married woman gives her husband's surname (when she uses it) | 30% of her records |
//! | accents dropped | agent and legacy always, mobile money 60%, loans 30%, core 15% |
//! | birth year only | core 4%, agent 22%, others 5% (+30% for "né vers" dates): ~8% |
//! | month/year only | 3% |
//! | day and month swapped (when both ≤ 12) | 3% |
//! | birth year off by one | 1% |
//! | phone in another local format | always varies (`0707123456`, `07 07 12 34 56`, `+225 07 07 12 34 56`, `00225-07-07-12-34-56`, `(225) 0707123456`, `2250707123456`, dropped leading zero, old 8-digit) |
//! | phone changed (new SIM) | 10% of records after the first |
//! | household member gives the family phone instead of their own | 60% |
//! | second phone listed | core 40%, loans 35%, agent and legacy 20% (when the person has one) |
//! | one mistyped phone digit | agent 1% |
//! | national id formatted differently | always varies (`C0012345678`, `CI-0012-3456-78`, `CI 0012 3456 78`, digits only, …) |
//! | national id with one wrong digit | 1% |
//! | address rewritten: quarter variant / commune only / other landmark / extra landmark | 35% / 10% / 20% / 15% |
//! | person moved (another address, often another quarter or city) | 5% of later records (legacy 12%) |
//! | post-office box as address or postcode | 6% of people, core and legacy records only |
//! | e-mail shown | core 60%, loans 40%, mobile 30%, agent 25%, legacy 8% of those who have one; 2% domain typo |
//!
//! Fields are missing by system (see `render.rs`), but every record keeps a
//! name plus a birth date or year, the person's own phone, or the national
//! id, so a careful human could link it. A new SIM does not count as the
//! person's own phone here: no other record of theirs has that number, so a
//! record whose only phone is the new one also gets a birth date.
//!
//! # Hard negatives (distinct entities that must stay apart)
//!
//! - **Households**: 5.85% of households have 2-6 members (~15% of entities):
//!   a couple (the wife keeps her maiden name), children or siblings with the
//!   household surname, all at the same address, the head's phone given by
//!   every member (60% of their records; 30% of members have no phone of
//!   their own).
//! - **Twins**: 5% of those households (~0.5% of entities): same surname,
//!   same birth date, same address, usually the same phone, different given
//!   names (sometimes traditional twin names: Lassina/Fousseni, Assane/Ousseynou).
//! - **Mother and daughter with the same given name**: 2% of those households,
//!   same surname, phone and address, a generation apart.
//! - **Namesakes**: produced by the Zipf name law (thousands of "Mamadou
//!   Traoré" at 1M records), with different birth dates, ids and phones.
//! - **Hot phones**: 4-50 field agents' or shops' numbers (one per ~20,000
//!   records) typed into 3% of agent-app and 1.2% of mobile-money records,
//!   replacing (60%) or next to the client's number: tens to hundreds of
//!   unrelated clients each.
//! - **Solidarity groups**: 0.65% of clusters are groups of 5-30 unrelated
//!   heads of household from one neighbourhood, sharing a `group_id` on their
//!   loan records (first record always, later loan records 80%).
//!
//! # Output order
//!
//! Records are generated household by household and emitted through a
//! bounded random shuffle (a window of 65,536 records), so duplicates are
//! spread out; record ids are assigned at emission time through a keyed
//! permutation per system, so they encode neither the entity nor the
//! generation order. A record is rendered (from its person and a per-record
//! seed) only when it leaves the window, so memory stays bounded: ~65,536
//! small pending entries plus the people they point to.
//!
//! A command-line example writes both files:
//! `cargo run --release -p c360-datagen --example gen -- 1000000 42 /tmp/out`
//! (about 5-7 s for 1M records on one core).

mod ids;
mod model;
mod names;
mod places;
mod render;
mod text;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{Person, Population, World};
use crate::render::Source;

#[derive(Debug, Clone)]
pub struct GenConfig {
    pub records: usize,
    pub seed: u64,
}

/// One generated record with the id of the real person it belongs to.
#[derive(Debug, Clone)]
pub struct Generated {
    pub record: c360_core::Record,
    pub entity_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenSummary {
    pub records: usize,
    pub entities: usize,
    pub largest_entity: usize,
}

/// The CSV header the writer uses, in this order.
pub const CSV_HEADER: [&str; 17] = [
    "record_id",
    "source_system",
    "given_name",
    "middle_name",
    "surname",
    "full_name",
    "sex",
    "date_of_birth",
    "national_id",
    "phone",
    "email",
    "address",
    "locality",
    "postcode",
    "region",
    "country",
    "group_id",
];

/// Size of the shuffle window.
const WINDOW: usize = 1 << 16;

/// Deterministic: same config -> same records in the same order. Exactly
/// `records` items, streamed (at most ~65,536 records held at once).
pub fn generate(config: &GenConfig) -> impl Iterator<Item = Generated> {
    Generator::new(config)
}

/// Writes records CSV (header [`CSV_HEADER`]; several phones or emails joined
/// with `;`) and a truth CSV with header `record_id,entity_id`. Returns counts.
pub fn write_csv<W1: std::io::Write, W2: std::io::Write>(
    config: &GenConfig,
    records: W1,
    truth: W2,
) -> Result<GenSummary, csv::Error> {
    let mut out = csv::Writer::from_writer(records);
    let mut truth_out = csv::Writer::from_writer(truth);
    out.write_record(CSV_HEADER)?;
    truth_out.write_record(["record_id", "entity_id"])?;
    // Records per entity, indexed by the entity number (`E0000042` -> 42).
    let mut sizes: Vec<u32> = Vec::new();
    let mut summary = GenSummary::default();
    for g in generate(config) {
        let r = &g.record;
        let phones = r.phones.join(";");
        let emails = r.emails.join(";");
        out.write_record([
            r.record_id.as_str(),
            &r.source_system,
            &r.given_name,
            &r.middle_name,
            &r.surname,
            &r.full_name,
            &r.sex,
            &r.date_of_birth,
            &r.national_id,
            &phones,
            &emails,
            &r.address,
            &r.locality,
            &r.postcode,
            &r.region,
            &r.country,
            &r.group_id,
        ])?;
        truth_out.write_record([r.record_id.as_str(), &g.entity_id])?;
        summary.records += 1;
        let entity: usize = g.entity_id[1..].parse().unwrap_or(0);
        if entity >= sizes.len() {
            sizes.resize(entity + 1, 0);
        }
        sizes[entity] += 1;
        if sizes[entity] == 1 {
            summary.entities += 1;
        }
        summary.largest_entity = summary.largest_entity.max(sizes[entity] as usize);
    }
    out.flush()?;
    truth_out.flush()?;
    Ok(summary)
}

/// A record waiting in the shuffle window: rendered only when emitted, so
/// its strings are created and dropped while hot in the cache.
struct Pending {
    person: Arc<Person>,
    k: usize,
    source: Source,
    seed: u64,
}

struct Generator {
    population: Population,
    rng: ChaCha8Rng,
    shuffle_rng: ChaCha8Rng,
    buffer: Vec<Pending>,
    target: usize,
    /// Records generated so far (emitted or in the buffer).
    produced: usize,
    id_key: u64,
    counters: [u64; 5],
}

impl std::fmt::Debug for Generator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Generator")
            .field("target", &self.target)
            .field("produced", &self.produced)
            .field("buffered", &self.buffer.len())
            .finish_non_exhaustive()
    }
}

impl Generator {
    fn new(config: &GenConfig) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(config.seed);
        let mut shuffle_rng = ChaCha8Rng::seed_from_u64(config.seed);
        shuffle_rng.set_stream(1);
        let world = World::new(&mut rng, config.records);
        let id_key = shuffle_rng.random();
        Generator {
            population: Population::new(world),
            rng,
            shuffle_rng,
            buffer: Vec::with_capacity(WINDOW.min(config.records) + 64),
            target: config.records,
            produced: 0,
            id_key,
            counters: [0; 5],
        }
    }

    /// Generates the next cluster of people and buffers their records.
    fn fill(&mut self) {
        let people = self.population.cluster(&mut self.rng);
        for person in people {
            let person = Arc::new(person);
            for k in 0..person.n_records {
                if self.produced >= self.target {
                    return;
                }
                let source = render::source_for(&mut self.rng, &person, k);
                self.buffer.push(Pending {
                    person: Arc::clone(&person),
                    k,
                    source,
                    seed: self.rng.random(),
                });
                self.produced += 1;
            }
        }
    }

    /// A random-looking, unique id within the source system.
    fn record_id(&mut self, source: Source) -> String {
        let i = source.index();
        let n = self.counters[i];
        self.counters[i] += 1;
        let key = self.id_key.wrapping_add(i as u64 * 0x9E37_79B9);
        let (prefix, domain) = match source {
            Source::CoreBanking => ("CBS", 100_000_000),
            Source::MobileMoney => ("MM", 1 << 32),
            Source::LoanOrigination => ("LOS", 10_000_000),
            Source::AgentApp => ("AGT", 36u64.pow(6)),
            Source::LegacyMfi => ("LEG", 10_000_000),
        };
        if n >= domain {
            return format!("{prefix}-X{n}");
        }
        let x = ids::permute(n, domain, key);
        match source {
            Source::CoreBanking => format!("{prefix}-{x:08}"),
            Source::MobileMoney => format!("{prefix}-{x:08x}"),
            Source::AgentApp => {
                const DIGITS: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
                let mut s = [b'0'; 6];
                let mut v = x;
                for slot in s.iter_mut().rev() {
                    *slot = DIGITS[(v % 36) as usize];
                    v /= 36;
                }
                format!("{prefix}-{}", String::from_utf8_lossy(&s))
            }
            Source::LoanOrigination | Source::LegacyMfi => format!("{prefix}-{x:07}"),
        }
    }
}

impl Iterator for Generator {
    type Item = Generated;

    fn next(&mut self) -> Option<Generated> {
        while self.buffer.len() < WINDOW && self.produced < self.target {
            self.fill();
        }
        if self.buffer.is_empty() {
            return None;
        }
        let i = self.shuffle_rng.random_range(0..self.buffer.len());
        let Pending {
            person,
            k,
            source,
            seed,
        } = self.buffer.swap_remove(i);
        let mut rng = ids::RecordRng::new(seed);
        let mut record = render::render(&self.population.world, &mut rng, &person, k, source);
        record.record_id = self.record_id(source);
        Some(Generated {
            record,
            entity_id: format!("E{:07}", person.entity),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.target - self.produced + self.buffer.len();
        (left, Some(left))
    }
}

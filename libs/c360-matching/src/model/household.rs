//! The household context of the Fellegi-Sunter model.

use super::*;

/// The household context: two records whose surnames agree and who share
/// a phone or an address. Household members share exactly those fields, so
/// summed as independent evidence they make a mother and her daughter, or
/// twins, look like one person. Inside the context they say only "same
/// household"; whether the two are one person is told by the person-level
/// fields ([`PERSON_FIELDS`]). Their m is the overall model's: how one
/// person's records differ does not depend on who else shares the phone.
/// Their u is learned by EM from the pairs in the context (it is not the
/// random pairs' u: among household members a shared birth date is twins,
/// about one pair in thirty, not one in twenty thousand), and so is the
/// prior, each apart for pairs that share a phone and pairs that share only
/// an address (the first are mostly one person or their household, the
/// second mostly neighbours and namesakes on one street, more of them the
/// larger the file).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HouseholdModel {
    /// Share of the context's pairs sharing a phone that are one person.
    pub lambda: f64,
    /// Share of the context's pairs sharing only an address that are one
    /// person.
    #[serde(default = "half")]
    pub lambda_address: f64,
    /// `m[field][level]` and `u[field][level]` for the person-level fields
    /// (the other fields' rows are unused).
    pub m: Vec<Vec<f64>>,
    pub u: Vec<Vec<f64>>,
    /// `u[field][level]` for pairs sharing only an address (`u` is for
    /// pairs sharing a phone).
    #[serde(default)]
    pub u_address: Vec<Vec<f64>>,
    /// Candidate pairs in the context it was learned from.
    pub pairs: u64,
}

/// The fields that tell one person from another within a household.
pub const PERSON_FIELDS: [CompareField; 5] = [
    CompareField::GivenName,
    CompareField::DateOfBirth,
    CompareField::Sex,
    CompareField::NationalId,
    CompareField::Email,
];

/// Whether a pair is in the household context: the surnames agree (or are
/// close) and a phone is shared or the addresses agree.
pub fn in_household(levels: &Levels) -> bool {
    matches!(levels.get(CompareField::Surname), 1 | 2)
        && (levels.get(CompareField::Phone) == 1
            || matches!(levels.get(CompareField::Address), 1 | 2))
}

fn half() -> f64 {
    0.5
}

/// Whether a household pair shares a phone (else only an address).
fn shares_phone(levels: &Levels) -> bool {
    levels.get(CompareField::Phone) == 1
}

/// Fewest pairs in the household context to learn its model from.
const MIN_HOUSEHOLD_PAIRS: u64 = 200;

impl HouseholdModel {
    /// Learns the context's model by EM over its candidate pairs (two latent
    /// classes: one person, two members of one household), m held at the
    /// overall model's, u and the two priors free. `None` when the data has
    /// too few pairs in the context.
    pub(super) fn learn(
        global: &FsModel,
        patterns: &[(Levels, u64)],
        max_iterations: u32,
    ) -> Option<Self> {
        let selected: Vec<(Levels, u64)> = patterns
            .iter()
            .filter(|(l, _)| in_household(l))
            .map(|&(l, c)| {
                let mut only = Levels::default();
                for f in PERSON_FIELDS {
                    only.0[f as usize] = l.get(f);
                }
                only.0[CompareField::Phone as usize] = l.get(CompareField::Phone);
                (only, c)
            })
            .collect();
        let pairs: u64 = selected.iter().map(|&(_, c)| c).sum();
        if pairs < MIN_HOUSEHOLD_PAIRS {
            return None;
        }
        let m = global.m.clone();
        // Start: the overall u (the weights of a pair outside the context).
        let u = global.u.clone();
        let mut model = HouseholdModel {
            lambda: 0.5,
            lambda_address: 0.5,
            m,
            u_address: u.clone(),
            u,
            pairs,
        };
        for _ in 0..max_iterations.max(1) * 2 {
            let empty: Vec<Vec<f64>> = model.u.iter().map(|l| vec![0.0; l.len()]).collect();
            // [address only, phone shared]
            let mut u_acc = [empty.clone(), empty];
            // [address only, phone shared]
            let mut match_mass = [0.0; 2];
            let mut total = [0.0; 2];
            for &(levels, count) in &selected {
                let odds = model.log_odds(&levels);
                let p = 1.0 / (1.0 + (-odds).exp2());
                let wu = (1.0 - p) * count as f64;
                let kind = usize::from(shares_phone(&levels));
                match_mass[kind] += p * count as f64;
                total[kind] += count as f64;
                for f in PERSON_FIELDS {
                    let l = usize::from(levels.get(f));
                    if l > 0 {
                        u_acc[kind][f as usize][l] += wu;
                    }
                }
            }
            let mut delta = 0.0f64;
            for (kind, f) in [0, 1]
                .into_iter()
                .flat_map(|k| PERSON_FIELDS.map(|f| (k, f as usize)))
            {
                let acc = &mut u_acc[kind][f];
                // A pseudo-count keeps a level seen in neither class finite.
                for x in acc.iter_mut().skip(1) {
                    *x += 0.5;
                }
                normalise_with_floor(acc, M_FLOOR);
                // Sharing a household makes agreement more common and
                // disagreement rarer between two people, so it can weaken a
                // level's evidence but never reverse or strengthen it: u
                // stays between the overall u and m. Without this, a file
                // with no households (FEBRL) lets EM call its typos the
                // "other" class and a birth date one digit off weighs -6 bits.
                for (l, new) in acc.iter_mut().enumerate().skip(1) {
                    let (m, overall) = (model.m[f][l], global.u[f][l]);
                    *new = new.clamp(m.min(overall), m.max(overall));
                }
                let target = if kind == 1 {
                    &mut model.u[f]
                } else {
                    &mut model.u_address[f]
                };
                for (old, new) in target.iter_mut().zip(acc.iter()) {
                    delta = delta.max((*old - new).abs());
                    *old = *new;
                }
            }
            let share = |k: usize| {
                if total[k] > 0.0 {
                    (match_mass[k] / total[k]).clamp(1e-4, 1.0 - 1e-4)
                } else {
                    0.5
                }
            };
            let (address, phone) = (share(0), share(1));
            delta = delta
                .max((phone - model.lambda).abs())
                .max((address - model.lambda_address).abs());
            model.lambda = phone;
            model.lambda_address = address;
            if delta < 1e-6 {
                break;
            }
        }
        Some(model)
    }

    /// The context's prior for pairs sharing a phone, log2 odds.
    pub fn prior(&self) -> f64 {
        (self.lambda / (1.0 - self.lambda)).log2()
    }

    /// The context's prior for a pair, log2 odds: sharing a phone or only an
    /// address.
    pub fn prior_of(&self, levels: &Levels) -> f64 {
        let lambda = if shares_phone(levels) {
            self.lambda
        } else {
            self.lambda_address
        };
        (lambda / (1.0 - lambda)).log2()
    }

    /// A person-level field's weight at a level for pairs sharing a phone
    /// (`phone`) or only an address.
    pub fn weight(&self, field: CompareField, level: u8, phone: bool) -> f64 {
        if level == 0 || !PERSON_FIELDS.contains(&field) {
            return 0.0;
        }
        let (f, l) = (field as usize, usize::from(level));
        let u = match self.u_address.get(f) {
            Some(u) if !phone => u,
            _ => &self.u[f],
        };
        (self.m[f][l].max(PROBABILITY_FLOOR) / u[l].max(PROBABILITY_FLOOR)).log2()
    }

    /// A person-level field's weight in a pair of the context.
    pub fn weight_of(&self, field: CompareField, levels: &Levels) -> f64 {
        self.weight(field, levels.get(field), shares_phone(levels))
    }

    fn log_odds(&self, levels: &Levels) -> f64 {
        self.prior_of(levels)
            + PERSON_FIELDS
                .iter()
                .map(|&f| self.weight_of(f, levels))
                .sum::<f64>()
    }
}

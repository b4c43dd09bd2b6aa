use serde::{Deserialize, Serialize};

use crate::rules::Rules;

/// Matching settings. Every field has a default; a mapping file's
/// `[matching]` table overrides some of them for its source.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MatchConfig {
    /// ISO country for phone numbers written without a country prefix.
    pub default_country: String,
    /// Match probability from which a pair is linked automatically (0.9 in
    /// batch: measured on every public set and the generator, each F1 at
    /// least as good as at 0.95; the resolver's default is 0.95).
    pub link_threshold: f64,
    /// Match probability from which a pair goes to a steward for review
    /// (below `link_threshold`).
    pub review_threshold: f64,
    /// A pair scoring below this log2-odds is proof of two people for
    /// one-at-a-time resolution (the resolver), whose prior is fixed by its
    /// population floor.
    pub conflict_log_odds: f64,
    /// A pair whose evidence (log2 Bayes factor: its score without the
    /// prior) is below this is proof of two people: batch clustering never
    /// joins two clusters holding such a pair. Without the prior, the bar
    /// does not move with the number of records (with `conflict_log_odds`
    /// at a million records, any pair short of 3.5 bits of evidence for a
    /// match was a conflict: measured, recall 0.911 instead of 0.918 at
    /// the same precision).
    pub conflict_evidence: f64,
    /// Batch clustering: the share of pairs across two clusters that may be
    /// soft conflicts (a given name two typos away, the twins pattern on a
    /// mistyped name, a low score) when the two are joined; 0 refuses any.
    /// Different national IDs or birth dates always refuse.
    pub soft_conflict_share: f64,
    /// A phone held by more people than this is ignored (an agent's or a
    /// shop's phone). Holders are told apart by their names
    /// ([`crate::model::holder_signature`]), so one person's many records
    /// with their own phone do not make it hot.
    #[serde(alias = "hot_phone_records")]
    pub hot_phone_holders: u32,
    /// Blocks larger than this are paired by sorted neighbourhood.
    pub max_block_size: usize,
    /// Window of the sorted neighbourhood in oversized blocks: each member
    /// is paired with the next `window` members in name and birth-date order.
    /// 4 (was 12): a wider window mostly pairs namesakes that other keys
    /// already tell apart (generated 1M: 19.6M candidates against 24.5M,
    /// F1 0.9670 against 0.9665; every other set within 0.0002).
    pub window: usize,
    /// No cluster grows past this many records; 0 (the default): no cap.
    /// Chaining is prevented by the conflict check, not by a number: a
    /// person with 500 records is one client.
    pub max_cluster_size: usize,
    /// Random pairs drawn to estimate u.
    pub u_sample_pairs: usize,
    /// Candidate pairs the model learns from: with more candidates, an
    /// even sample of this many (every k-th pair, each counted k times) is
    /// compared for training, and every candidate is still scored. EM
    /// estimates a few dozen numbers from pattern shares, which a few
    /// million pairs settle; 0: learn from every candidate.
    pub training_pairs: usize,
    pub em_max_iterations: u32,
    /// Steward labels: how many candidate pairs' worth of EM evidence a
    /// field's m keeps against the pairs labelled "one person" when the model
    /// is taught (0, the default: labels only link and separate, m is left
    /// alone; measured on hist50k with 200 labels from a steward's queue,
    /// F1 0.8175 at 0, 0.8161 at 1000, 0.8063 at 50: the uncertain pairs a
    /// queue gives are not typical matches, so they bias m).
    pub label_pseudo_pairs: f64,
    /// Seed of the random pair sampler (results are reproducible).
    pub seed: u64,
    pub rules: Rules,
    /// Which fields are compared and whether shared values weigh by their
    /// frequency.
    pub fields: Fields,
    /// Which blocking keys are built.
    pub blocking: Blocking,
    /// A deployment's own name tables, added to the built-in ones.
    pub names: Names,
}

/// How one field takes part in matching.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FieldUse {
    /// Compared at all (off: the field is treated as missing, weighs 0).
    pub compare: bool,
    /// A shared value weighs by how common it is (names, phones, IDs,
    /// e-mails, birth dates); off: every value weighs the field's average.
    pub term_frequency: bool,
}

impl Default for FieldUse {
    fn default() -> Self {
        FieldUse {
            compare: true,
            term_frequency: true,
        }
    }
}

/// Every compared field's [`FieldUse`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fields {
    pub surname: FieldUse,
    pub given_name: FieldUse,
    pub date_of_birth: FieldUse,
    pub sex: FieldUse,
    pub national_id: FieldUse,
    pub phone: FieldUse,
    pub email: FieldUse,
    pub address: FieldUse,
    pub locality: FieldUse,
    pub postcode: FieldUse,
}

impl Fields {
    /// The use of one field.
    pub fn get(&self, field: crate::CompareField) -> FieldUse {
        use crate::CompareField as F;
        match field {
            F::Surname => self.surname,
            F::GivenName => self.given_name,
            F::DateOfBirth => self.date_of_birth,
            F::Sex => self.sex,
            F::NationalId => self.national_id,
            F::Phone => self.phone,
            F::Email => self.email,
            F::Address => self.address,
            F::Locality => self.locality,
            F::Postcode => self.postcode,
        }
    }
}

/// The blocking keys, each on or off (see `blocking.rs` for what each holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Blocking {
    /// The national ID, and each half of it (one typo leaves one intact).
    pub national_id: bool,
    /// Each phone that is not hot.
    pub phone: bool,
    pub email: bool,
    /// The phonetic keys of both names with the birth year, the locality
    /// or an address word.
    pub names: bool,
    /// The full birth date with the surname, the given name or an initial.
    pub birth_date: bool,
    /// One name with an address word and the birth year.
    pub name_address_year: bool,
    /// One name with the birth year (blocks of a common name dropped).
    pub name_year: bool,
    /// The surname with the locality.
    pub surname_locality: bool,
    /// An address word with the locality.
    pub address_locality: bool,
    /// The postcode alone (blocks of a postcode shared by many dropped).
    pub postcode: bool,
    /// The first letters of an e-mail's local part: a typo in the rest of
    /// the address or in its domain leaves them intact.
    pub email_prefix: bool,
    /// Both names' sounds alone, for records that share no birth year,
    /// locality or address word (blocks of common names dropped).
    pub names_alone: bool,
    /// The given name with the locality, for records whose surname is
    /// missing or mistyped (blocks of a common given name dropped).
    pub given_locality: bool,
}

impl Default for Blocking {
    fn default() -> Self {
        Blocking {
            national_id: true,
            phone: true,
            email: true,
            names: true,
            birth_date: true,
            name_address_year: true,
            name_year: true,
            surname_locality: true,
            given_locality: true,
            address_locality: true,
            postcode: true,
            email_prefix: true,
            names_alone: true,
        }
    }
}

/// A deployment's own name tables, in the CSV form of the built-in ones
/// (one group per line, the full or canonical form first).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Names {
    /// Nickname groups ("kwabena,kobby"): compared at the "nickname" level.
    pub nicknames: Vec<String>,
    /// Spelling variants ("mohamed,mohammed"): read as one name.
    pub variants: Vec<String>,
}

impl Default for MatchConfig {
    fn default() -> Self {
        MatchConfig {
            default_country: "CI".to_string(),
            link_threshold: 0.9,
            review_threshold: 0.5,
            conflict_log_odds: -14.0,
            conflict_evidence: -5.0,
            soft_conflict_share: 0.25,
            hot_phone_holders: 15,
            max_block_size: 40,
            window: 4,
            max_cluster_size: 0,
            u_sample_pairs: 150_000,
            training_pairs: 4_000_000,
            em_max_iterations: 50,
            label_pseudo_pairs: 0.0,
            seed: 0x00c3_6000,
            rules: Rules::default(),
            fields: Fields::default(),
            blocking: Blocking::default(),
            names: Names::default(),
        }
    }
}

impl MatchConfig {
    /// Reads a settings file's text (TOML, the keys of this struct, any
    /// subset): the defaults with the file's values over them. Errors name
    /// the key.
    pub fn from_toml(text: &str) -> Result<Self, crate::Error> {
        let table: toml::Table = text
            .parse()
            .map_err(|e: toml::de::Error| crate::Error::Config(settings_error(&e)))?;
        Self::default().with_overrides_named(&table, "settings")
    }

    /// The settings as a TOML document (every key, `c360 settings --dump`).
    pub fn to_toml(&self) -> String {
        toml::to_string(self).unwrap_or_default()
    }

    /// A short hash of the effective settings ("s-" and 8 hex digits),
    /// part of every model version.
    pub fn hash(&self) -> String {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        self.to_toml().hash(&mut h);
        format!("s-{:08x}", h.finish() & 0xffff_ffff)
    }

    /// The name tables: the built-in ones with the settings' own added.
    pub fn name_tables(
        &self,
    ) -> Result<
        (
            c360_standardise::names::NameVariants,
            c360_standardise::names::Nicknames,
        ),
        crate::Error,
    > {
        let mut variants = c360_standardise::names::NameVariants::builtin();
        let own = c360_standardise::names::NameVariants::parse(&self.names.variants.join("\n"))
            .map_err(|e| crate::Error::Config(format!("names.variants: {e}")))?;
        variants.extend(&own);
        let mut nicknames = c360_standardise::names::Nicknames::builtin();
        nicknames
            .add_text(&self.names.nicknames.join("\n"))
            .map_err(|e| crate::Error::Config(format!("names.nicknames: {e}")))?;
        Ok((variants, nicknames))
    }

    /// Applies a `[matching]` table (from a mapping file) over these settings.
    pub fn with_overrides(&self, table: &toml::Table) -> Result<Self, crate::Error> {
        self.with_overrides_named(table, "[matching]")
    }

    fn with_overrides_named(&self, table: &toml::Table, what: &str) -> Result<Self, crate::Error> {
        let mut merged =
            toml::Table::try_from(self).map_err(|e| crate::Error::Config(e.to_string()))?;
        merge(&mut merged, table);
        let config: Self =
            toml::Value::Table(merged)
                .try_into()
                .map_err(|e: toml::de::Error| match self.bad_key(table, "") {
                    Some(key) => crate::Error::Config(format!("{what}: {key}: {}", e.message())),
                    None => crate::Error::Config(format!("{what}: {}", e.message())),
                })?;
        config.validate()?;
        config.name_tables()?;
        Ok(config)
    }

    /// The first key of `table` whose value alone makes these settings
    /// unreadable (a type error names no key in `toml`'s message).
    fn bad_key(&self, table: &toml::Table, prefix: &str) -> Option<String> {
        let base = toml::Table::try_from(self).ok()?;
        for (key, value) in table {
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            let mut one = toml::Table::new();
            insert_path(&mut one, &path, value.clone());
            let mut merged = base.clone();
            merge(&mut merged, &one);
            if toml::Value::Table(merged).try_into::<Self>().is_ok() {
                continue;
            }
            if let toml::Value::Table(inner) = value
                && let Some(deeper) = self.bad_key(inner, &path)
            {
                return Some(deeper);
            }
            return Some(path);
        }
        None
    }

    pub fn validate(&self) -> Result<(), crate::Error> {
        let probability = |name: &str, v: f64| {
            if (0.0..1.0).contains(&v) && v > 0.0 {
                Ok(())
            } else {
                Err(crate::Error::Config(format!(
                    "{name} must be in (0, 1), got {v}"
                )))
            }
        };
        probability("link_threshold", self.link_threshold)?;
        probability("review_threshold", self.review_threshold)?;
        if self.review_threshold > self.link_threshold {
            return Err(crate::Error::Config(
                "review_threshold must not exceed link_threshold".to_string(),
            ));
        }
        if !(self.label_pseudo_pairs.is_finite() && self.label_pseudo_pairs >= 0.0) {
            return Err(crate::Error::Config(format!(
                "label_pseudo_pairs must be a number from 0, got {}",
                self.label_pseudo_pairs
            )));
        }
        if !(0.0..1.0).contains(&self.soft_conflict_share) {
            return Err(crate::Error::Config(format!(
                "soft_conflict_share must be in [0, 1), got {}",
                self.soft_conflict_share
            )));
        }
        if self.max_block_size < 2 {
            return Err(crate::Error::Config(format!(
                "max_block_size must be at least 2, got {}",
                self.max_block_size
            )));
        }
        if self.window < 1 {
            return Err(crate::Error::Config(
                "window must be at least 1, got 0".to_string(),
            ));
        }
        Ok(())
    }
}

/// A TOML syntax error with its line and column, without the text.
fn settings_error(e: &toml::de::Error) -> String {
    match e.span() {
        Some(span) => format!("settings: {} (at byte {})", e.message(), span.start),
        None => format!("settings: {}", e.message()),
    }
}

/// Sets `a.b.c = value` in a table, creating the tables on the way.
fn insert_path(table: &mut toml::Table, path: &str, value: toml::Value) {
    match path.split_once('.') {
        Some((head, rest)) => {
            let inner = table
                .entry(head.to_string())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            if let toml::Value::Table(inner) = inner {
                insert_path(inner, rest, value);
            }
        }
        None => {
            table.insert(path.to_string(), value);
        }
    }
}

fn merge(base: &mut toml::Table, over: &toml::Table) {
    for (k, v) in over {
        match (base.get_mut(k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(k.clone(), v.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The dump of the defaults reads back as the defaults; a file with a
    /// few keys changes only those; an error names the key.
    #[test]
    fn settings_round_trip_and_errors_name_the_key() {
        let defaults = MatchConfig::default();
        assert_eq!(
            MatchConfig::from_toml(&defaults.to_toml()).unwrap(),
            defaults
        );
        let tuned = MatchConfig::from_toml(
            "link_threshold = 0.9\n[fields.phone]\nterm_frequency = false\n[blocking]\nemail = false\n[names]\nnicknames = [\"kwabena,kobby\"]\n",
        )
        .unwrap();
        assert_eq!(tuned.link_threshold, 0.9);
        assert!(!tuned.fields.phone.term_frequency && tuned.fields.phone.compare);
        assert!(!tuned.blocking.email && tuned.blocking.phone);
        assert_ne!(tuned.hash(), defaults.hash());
        let (_, nicknames) = tuned.name_tables().unwrap();
        assert!(nicknames.are_nicknames("kobby", "kwabena"));
        for (text, key) in [
            ("link_treshold = 0.9", "link_treshold"),
            ("[fields.phone]\ncompared = false", "compared"),
            ("[blocking]\nemail = 3", "email"),
            ("link_threshold = 1.5", "link_threshold"),
            ("[names]\nnicknames = [\"lonely\"]", "names.nicknames"),
        ] {
            let error = MatchConfig::from_toml(text).unwrap_err().to_string();
            assert!(error.contains(key), "{text}: {error}");
        }
    }
}

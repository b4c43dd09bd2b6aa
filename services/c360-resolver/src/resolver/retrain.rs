//! Re-training on demand: the model re-estimated from the resolver's records
//! and the stewards' decisions, recorded as a new model version.

use c360_matching::Label;

use super::{META, META_MODEL, Resolver, Result, State, Tx, stored};

/// What a re-training did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retrained {
    pub previous_version: String,
    pub version: String,
    /// Labelled pairs it learned from: one person, two people.
    pub same: u32,
    pub different: u32,
    pub records: u64,
}

impl State {
    /// Every steward decision as a labelled pair of live records: an accepted
    /// review task is one person; a rejected task and a split (the
    /// cannot-links) are two.
    fn labels(&self) -> Vec<Label> {
        let live = |i: u32| self.slots.get(i as usize).is_some_and(|s| s.alive);
        let mut labels: Vec<Label> = self
            .reviews
            .values()
            .filter_map(|r| {
                let same = r.decision?;
                let a = *self.by_record.get(&r.record_a)?;
                let b = *self.by_record.get(&r.record_b)?;
                Some(Label { a, b, same })
            })
            .chain(
                self.cannot_link
                    .iter()
                    .map(|&(a, b)| Label { a, b, same: false }),
            )
            .filter(|l| l.a != l.b && live(l.a) && live(l.b))
            .collect();
        labels.sort_unstable_by_key(|l| (l.key(), l.same));
        labels.dedup_by_key(|l| l.key());
        labels
    }
}

impl Resolver {
    /// Re-estimates the model from the live records and the stewards'
    /// decisions, stores it and makes it the one every decision, explanation
    /// and lineage entry names from now on. Writes wait while it trains.
    pub fn retrain(&self) -> Result<Retrained> {
        let _writer = self.writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut state = self.write();
        self.persister.check()?;
        let labels = state.labels();
        let mut model =
            c360_matching::learn_model(&state.matcher.records, &self.config.matching, &labels);
        let records = state.matcher.freqs.records;
        model.set_population(records.max(self.config.population_floor));
        let version = model.version();
        let previous_version = self.model_version();
        let mut tx = Tx::default();
        tx.batch
            .put(META, META_MODEL.to_vec(), stored::encode(&model));
        state.matcher.model = model;
        self.commit_and_wait(state, tx)?;
        *self
            .model_version
            .write()
            .unwrap_or_else(|p| p.into_inner()) = version.clone();
        let same = labels.iter().filter(|l| l.same).count();
        Ok(Retrained {
            previous_version,
            version,
            same: u32::try_from(same).unwrap_or(u32::MAX),
            different: u32::try_from(labels.len() - same).unwrap_or(u32::MAX),
            records,
        })
    }
}

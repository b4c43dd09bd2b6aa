//! The resolver's first model: learned from seeded synthetic records, so a
//! new installation decides sensibly before it has data of its own. The
//! resolver asks for it only when its store holds none; it is built here,
//! so that the resolver does not depend on the generator.

use c360_matching::{FsModel, MatchConfig};

/// Synthetic records the first model is trained on, unless configured.
pub const DEFAULT_RECORDS: usize = 20_000;

/// The model learned from `records` generated records (seed 360) under
/// `matching`.
pub fn first_model(records: usize, matching: &MatchConfig) -> anyhow::Result<FsModel> {
    let records: Vec<c360_core::Record> =
        c360_datagen::generate(&c360_datagen::GenConfig { records, seed: 360 })
            .map(|g| g.record)
            .collect();
    let outcome = c360_matching::dedupe(&records, matching)
        .map_err(|e| anyhow::anyhow!("first model: {e}"))?;
    Ok(outcome.matcher.model)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generated records prove that different birth dates and given
    /// names are two people, and the first model vetoes them as a batch
    /// run on the same records would, until a retraining on the
    /// installation's own records says what they prove.
    #[test]
    fn the_first_model_vetoes_what_its_records_prove() {
        let model = first_model(DEFAULT_RECORDS, &MatchConfig::default()).unwrap();
        let proves = model.proves();
        assert!(proves.birth_date && proves.given_name, "{proves:?}");
        assert_eq!(model.proven, proves);
    }
}

//! Steward labels: pairs of records a steward said are one person (an
//! accepted review task, a merge) or two (a rejected task, a split). They
//! teach the model: the m of every level is re-estimated from the data's EM
//! estimate and the levels of the pairs labelled "one person", and the
//! labelled pairs are honoured when clustering.

use crate::compare::{CompareField, Levels};
use crate::model::FsModel;

/// Two records (indices into the batch or the resolver's records) and
/// whether a steward said they are one person.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Label {
    pub a: u32,
    pub b: u32,
    pub same: bool,
}

impl Label {
    /// The pair, smaller index first.
    pub fn key(self) -> (u32, u32) {
        if self.a < self.b {
            (self.a, self.b)
        } else {
            (self.b, self.a)
        }
    }
}

impl FsModel {
    /// Re-estimates m from the comparison levels of labelled pairs: for each
    /// field, the EM estimate counts as `pseudo_pairs` pairs (settings
    /// `label_pseudo_pairs`; 0 leaves m alone) and every pair labelled "one
    /// person" adds its level. A field seen in no labelled match keeps its
    /// EM estimate. Pairs labelled "two people" do not move m (they are
    /// honoured as cannot-links); both counts are part of the model's
    /// version.
    pub fn learn_from_labels(&mut self, labelled: &[(Levels, bool)], pseudo_pairs: f64) {
        self.version_kept = None;
        let mut counts: Vec<Vec<f64>> = self.m.iter().map(|l| vec![0.0; l.len()]).collect();
        for (levels, _) in labelled.iter().filter(|(_, same)| *same) {
            for field in CompareField::ALL {
                let l = usize::from(levels.get(field));
                if l > 0 {
                    counts[field as usize][l] += 1.0;
                }
            }
        }
        for (m, counts) in self.m.iter_mut().zip(&counts) {
            let seen: f64 = counts.iter().sum();
            if seen == 0.0 || pseudo_pairs <= 0.0 {
                continue;
            }
            for (x, c) in m.iter_mut().zip(counts).skip(1) {
                *x = (*x * pseudo_pairs + c) / (pseudo_pairs + seen);
            }
        }
        let same = labelled.iter().filter(|(_, s)| *s).count();
        self.labels = [
            u32::try_from(same).unwrap_or(u32::MAX),
            u32::try_from(labelled.len() - same).unwrap_or(u32::MAX),
        ];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn levels(pairs: &[(CompareField, u8)]) -> Levels {
        let mut l = Levels::default();
        for &(f, v) in pairs {
            l.0[f as usize] = v;
        }
        l
    }

    /// Labelled matches with a given name at the "fuzzy" level raise its
    /// m (and so its weight); the version changes; "two people" labels
    /// leave m alone but still change the version.
    #[test]
    fn labels_move_m_towards_the_labelled_matches_and_change_the_version() {
        let u = CompareField::ALL
            .iter()
            .map(|f| vec![1.0 / f.level_count() as f64; f.level_count()])
            .collect();
        let model = FsModel::initial(u);
        let fuzzy = 5;
        assert_eq!(CompareField::GivenName.level_names()[fuzzy], "fuzzy");
        let before = model.m[CompareField::GivenName as usize][fuzzy];
        let pair = levels(&[
            (CompareField::GivenName, fuzzy as u8),
            (CompareField::Surname, 1),
        ]);
        let mut taught = model.clone();
        taught.learn_from_labels(&vec![(pair, true); 100], 50.0);
        let after = taught.m[CompareField::GivenName as usize][fuzzy];
        assert!(after > before + 0.5, "{before} -> {after}");
        let sum: f64 = taught.m[CompareField::GivenName as usize]
            .iter()
            .skip(1)
            .sum();
        assert!((sum - 1.0).abs() < 1e-9, "{sum}");
        assert_ne!(taught.version(), model.version());
        // A field no labelled match showed keeps its estimate.
        assert_eq!(
            taught.m[CompareField::Email as usize],
            model.m[CompareField::Email as usize]
        );

        let mut rejected = model.clone();
        rejected.learn_from_labels(&[(pair, false)], 50.0);
        assert_eq!(rejected.m, model.m);
        assert_ne!(rejected.version(), model.version());
    }
}

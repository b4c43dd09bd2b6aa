//! Evaluation of a clustering against the truth: pairwise and B-cubed
//! precision, recall and F1, the largest predicted clusters and the false
//! merges.

use rustc_hash::FxHashMap;
use serde::Serialize;

#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
}

impl Prf {
    fn new(precision: f64, recall: f64) -> Self {
        let f1 = if precision + recall > 0.0 {
            2.0 * precision * recall / (precision + recall)
        } else {
            0.0
        };
        Prf {
            precision,
            recall,
            f1,
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Evaluation {
    pub records: usize,
    pub predicted_clusters: usize,
    pub true_clusters: usize,
    pub pairwise: Prf,
    pub bcubed: Prf,
    pub true_pairs: u64,
    pub predicted_pairs: u64,
    pub correct_pairs: u64,
    /// Predicted clusters holding records of more than one true entity.
    pub false_merge_clusters: usize,
    /// Predicted pairs that are not true pairs.
    pub false_merge_pairs: u64,
    /// Largest predicted clusters: (client id, size, distinct true entities).
    pub largest_predicted: Vec<(String, usize, usize)>,
    pub largest_true_cluster: usize,
}

/// Evaluates `predicted` (record → client) against `truth` (record →
/// entity) over the records both contain. Returns the evaluation and the
/// number of records present in only one of them.
pub fn evaluate(
    predicted: &[(String, String)],
    truth: &[(String, String)],
    top: usize,
) -> (Evaluation, usize) {
    let truth_of: FxHashMap<&str, &str> = truth
        .iter()
        .map(|(r, e)| (r.as_str(), e.as_str()))
        .collect();
    let mut rows: Vec<(&str, &str)> = Vec::with_capacity(predicted.len());
    let mut unmatched = 0usize;
    for (record, client) in predicted {
        match truth_of.get(record.as_str()) {
            Some(entity) => rows.push((client.as_str(), entity)),
            None => unmatched += 1,
        }
    }
    unmatched += truth.len().saturating_sub(rows.len());

    let mut pred_size: FxHashMap<&str, u64> = FxHashMap::default();
    let mut true_size: FxHashMap<&str, u64> = FxHashMap::default();
    let mut joint: FxHashMap<(&str, &str), u64> = FxHashMap::default();
    for &(c, e) in &rows {
        *pred_size.entry(c).or_default() += 1;
        *true_size.entry(e).or_default() += 1;
        *joint.entry((c, e)).or_default() += 1;
    }
    let pairs = |n: u64| n * n.saturating_sub(1) / 2;
    let predicted_pairs: u64 = pred_size.values().map(|&n| pairs(n)).sum();
    let true_pairs: u64 = true_size.values().map(|&n| pairs(n)).sum();
    let correct_pairs: u64 = joint.values().map(|&n| pairs(n)).sum();
    let ratio = |num: u64, den: u64| {
        if den == 0 {
            1.0
        } else {
            num as f64 / den as f64
        }
    };
    let pairwise = Prf::new(
        ratio(correct_pairs, predicted_pairs),
        ratio(correct_pairs, true_pairs),
    );

    // B-cubed: each record's share of its cluster that is right, averaged.
    let n = rows.len() as f64;
    let (mut bp, mut br) = (0.0, 0.0);
    for (&(c, e), &k) in &joint {
        let k = k as f64;
        bp += k * k / pred_size[c] as f64;
        br += k * k / true_size[e] as f64;
    }
    let bcubed = if rows.is_empty() {
        Prf::new(1.0, 1.0)
    } else {
        Prf::new(bp / n, br / n)
    };

    let mut entities_per_cluster: FxHashMap<&str, usize> = FxHashMap::default();
    for &(c, _) in joint.keys() {
        *entities_per_cluster.entry(c).or_default() += 1;
    }
    let false_merge_clusters = entities_per_cluster.values().filter(|&&k| k > 1).count();
    let mut largest: Vec<(String, usize, usize)> = pred_size
        .iter()
        .map(|(&c, &s)| (c.to_string(), s as usize, entities_per_cluster[c]))
        .collect();
    largest.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    largest.truncate(top);
    (
        Evaluation {
            records: rows.len(),
            predicted_clusters: pred_size.len(),
            true_clusters: true_size.len(),
            pairwise,
            bcubed,
            true_pairs,
            predicted_pairs,
            correct_pairs,
            false_merge_clusters,
            false_merge_pairs: predicted_pairs - correct_pairs,
            largest_predicted: largest,
            largest_true_cluster: true_size.values().copied().max().unwrap_or(0) as usize,
        },
        unmatched,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(v: &[(&str, &str)]) -> Vec<(String, String)> {
        v.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn perfect_clustering_scores_one() {
        let t = rows(&[("a", "1"), ("b", "1"), ("c", "2")]);
        let p = rows(&[("a", "x"), ("b", "x"), ("c", "y")]);
        let (e, missing) = evaluate(&p, &t, 5);
        assert_eq!(missing, 0);
        assert_eq!(e.pairwise.f1, 1.0);
        assert_eq!(e.bcubed.f1, 1.0);
        assert_eq!(e.false_merge_clusters, 0);
    }

    #[test]
    fn one_false_merge() {
        // Truth: {a,b} {c}; predicted: {a,b,c}.
        let t = rows(&[("a", "1"), ("b", "1"), ("c", "2")]);
        let p = rows(&[("a", "x"), ("b", "x"), ("c", "x")]);
        let (e, _) = evaluate(&p, &t, 5);
        assert_eq!(e.correct_pairs, 1);
        assert_eq!(e.predicted_pairs, 3);
        assert!((e.pairwise.precision - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(e.pairwise.recall, 1.0);
        // B-cubed precision: a,b see 2/3 right, c sees 1/3.
        assert!((e.bcubed.precision - (2.0 / 3.0 + 2.0 / 3.0 + 1.0 / 3.0) / 3.0).abs() < 1e-12);
        assert_eq!(e.false_merge_clusters, 1);
        assert_eq!(e.false_merge_pairs, 2);
        assert_eq!(e.largest_predicted[0], ("x".to_string(), 3, 2));
    }
}

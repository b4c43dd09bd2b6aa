//! Clustering that does not chain.
//!
//! Plain connected components over "match" edges chain people together: A
//! looks like B, B like C, and A, B, C end up as one client although A and C
//! are clearly two people (a mother and a daughter linked through records
//! that each resemble both). Here edges are taken strongest first, and two
//! clusters are joined only if no pair across them conflicts: no cannot-link
//! rule fires and no pair scores below the conflict threshold. A cluster
//! also never grows past `max_cluster_size`. The result is deterministic for
//! a given edge set (ties are broken by record index).

/// An edge between two records, with its log-odds score.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Edge {
    pub a: u32,
    pub b: u32,
    pub log_odds: f64,
}

/// How strongly two records say they are two people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Conflict {
    None,
    /// Evidence against that a typo can produce (two given names far
    /// apart, the twins pattern, a low score): two clusters holding such a
    /// pair may still be joined when most of their pairs do not conflict.
    Soft,
    /// Two different national IDs or birth dates: never in one cluster.
    Hard,
}

/// Soft conflicts tolerated among `pairs` record pairs (`soft_share` of
/// them, rounded down).
pub fn soft_conflicts_allowed(soft_share: f64, pairs: usize) -> usize {
    (soft_share * pairs as f64).floor() as usize
}

/// Whether two groups of records must stay apart: a hard conflict across
/// them, or more than `allowed` soft ones. Stops at the first answer.
pub fn groups_conflict(
    xs: &[u32],
    ys: &[u32],
    allowed: usize,
    mut conflict: impl FnMut(u32, u32) -> Conflict,
) -> bool {
    let mut soft = 0usize;
    for &x in xs {
        for &y in ys {
            match conflict(x, y) {
                Conflict::None => {}
                Conflict::Soft if soft < allowed => soft += 1,
                Conflict::Soft | Conflict::Hard => return true,
            }
        }
    }
    false
}

/// Clusters `n` records. `conflicts(a, b)` says whether two records must not
/// share a cluster. Two clusters are joined only if no pair across them is
/// a hard conflict and at most `soft_share` of the pairs across them are
/// soft conflicts (0: none at all). Returns a dense cluster index per record.
pub fn cluster(
    n: usize,
    mut edges: Vec<Edge>,
    max_cluster_size: usize,
    soft_share: f64,
    mut conflicts: impl FnMut(u32, u32) -> Conflict,
) -> ClusterResult {
    edges.sort_unstable_by(|x, y| {
        y.log_odds
            .total_cmp(&x.log_odds)
            .then(x.a.cmp(&y.a))
            .then(x.b.cmp(&y.b))
    });
    let mut owner: Vec<u32> = (0..n as u32).collect();
    let mut members: Vec<Vec<u32>> = (0..n as u32).map(|i| vec![i]).collect();
    let mut rejected_by_conflict = 0usize;
    let mut rejected_by_size = 0usize;
    for edge in edges {
        let (ca, cb) = (owner[edge.a as usize], owner[edge.b as usize]);
        if ca == cb {
            continue;
        }
        let (size_a, size_b) = (members[ca as usize].len(), members[cb as usize].len());
        if max_cluster_size > 0 && size_a + size_b > max_cluster_size {
            rejected_by_size += 1;
            continue;
        }
        // The edge itself was already checked; singletons need no more.
        let must_check = size_a > 1 || size_b > 1;
        if must_check {
            let allowed = soft_conflicts_allowed(soft_share, size_a * size_b);
            let refused = groups_conflict(
                &members[ca as usize],
                &members[cb as usize],
                allowed,
                |x, y| {
                    if x == edge.a && y == edge.b {
                        Conflict::None
                    } else {
                        conflicts(x, y)
                    }
                },
            );
            if refused {
                rejected_by_conflict += 1;
                continue;
            }
        }
        let (keep, absorb) = if size_a >= size_b { (ca, cb) } else { (cb, ca) };
        let moved = std::mem::take(&mut members[absorb as usize]);
        for &m in &moved {
            owner[m as usize] = keep;
        }
        members[keep as usize].extend(moved);
    }
    let (assignment, clusters) = numbered_by_first_record(&owner);
    ClusterResult {
        assignment,
        clusters,
        rejected_by_conflict,
        rejected_by_size,
    }
}

/// Dense cluster numbers in order of each cluster's first record, from any
/// cluster ids below the number of records; and how many clusters.
pub(crate) fn numbered_by_first_record(owner: &[u32]) -> (Vec<u32>, usize) {
    let mut dense = vec![u32::MAX; owner.len()];
    let mut next = 0u32;
    let assignment = owner
        .iter()
        .map(|&o| {
            let slot = &mut dense[o as usize];
            if *slot == u32::MAX {
                *slot = next;
                next += 1;
            }
            *slot
        })
        .collect();
    (assignment, next as usize)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterResult {
    /// Cluster index of each record.
    pub assignment: Vec<u32>,
    pub clusters: usize,
    /// Merges refused because a pair across the clusters conflicts.
    pub rejected_by_conflict: usize,
    /// Merges refused by the size cap.
    pub rejected_by_size: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn e(a: u32, b: u32, w: f64) -> Edge {
        Edge { a, b, log_odds: w }
    }

    #[test]
    fn does_not_chain_through_a_conflict() {
        // 0-1 and 1-2 are strong, but 0 and 2 conflict.
        let r = cluster(3, vec![e(0, 1, 20.0), e(1, 2, 15.0)], 10, 0.0, |a, b| {
            if (a, b) == (0, 2) || (a, b) == (2, 0) {
                Conflict::Soft
            } else {
                Conflict::None
            }
        });
        assert_eq!(r.assignment[0], r.assignment[1]);
        assert_ne!(r.assignment[1], r.assignment[2]);
        assert_eq!(r.rejected_by_conflict, 1);
    }

    #[test]
    fn a_few_soft_conflicts_do_not_keep_a_record_out() {
        // Records 0..4 are one cluster; 4 links to 0 strongly but conflicts
        // softly with 3 (a mistyped given name, say).
        let mut edges: Vec<Edge> = (1..4).map(|i| e(0, i, 30.0)).collect();
        edges.push(e(0, 4, 20.0));
        let soft = |a: u32, b: u32| {
            if (a.min(b), a.max(b)) == (3, 4) {
                Conflict::Soft
            } else {
                Conflict::None
            }
        };
        let r = cluster(5, edges.clone(), 10, 0.25, soft);
        assert_eq!(r.clusters, 1);
        // None tolerated: 4 stays out.
        let r = cluster(5, edges.clone(), 10, 0.0, soft);
        assert_eq!(r.clusters, 2);
        // A hard conflict always keeps it out.
        let hard = |a: u32, b: u32| {
            if (a.min(b), a.max(b)) == (3, 4) {
                Conflict::Hard
            } else {
                Conflict::None
            }
        };
        let r = cluster(5, edges, 10, 0.25, hard);
        assert_eq!(r.clusters, 2);
        assert_eq!(r.rejected_by_conflict, 1);
    }

    #[test]
    fn size_cap_holds() {
        let edges = (0..9).map(|i| e(i, i + 1, 10.0)).collect();
        let r = cluster(10, edges, 4, 0.0, |_, _| Conflict::None);
        let mut sizes = vec![0usize; r.clusters];
        for &c in &r.assignment {
            sizes[c as usize] += 1;
        }
        assert!(sizes.iter().all(|&s| s <= 4));
    }

    proptest! {
        /// Invariants: no cluster holds a conflicting pair; no cluster is
        /// over the cap; with no conflicts and no cap, the result equals
        /// connected components.
        #[test]
        fn invariants(
            n in 1usize..30,
            raw_edges in proptest::collection::vec((0u32..30, 0u32..30, -5.0f64..30.0), 0..60),
            conflict_seed in any::<u64>(),
            cap in 1usize..12,
        ) {
            let edges: Vec<Edge> = raw_edges
                .into_iter()
                .filter(|&(a, b, _)| (a as usize) < n && (b as usize) < n && a != b)
                .map(|(a, b, w)| e(a, b, w))
                .collect();
            let conflicts = |a: u32, b: u32| {
                let (lo, hi) = if a < b { (a, b) } else { (b, a) };
                (u64::from(lo) * 31 + u64::from(hi)).wrapping_mul(conflict_seed | 1) % 7 == 0
            };
            let r = cluster(n, edges.clone(), cap, 0.0, |a, b| {
                if conflicts(a, b) { Conflict::Soft } else { Conflict::None }
            });
            let mut by_cluster: Vec<Vec<u32>> = vec![Vec::new(); r.clusters];
            for (i, &c) in r.assignment.iter().enumerate() {
                by_cluster[c as usize].push(i as u32);
            }
            for members in &by_cluster {
                prop_assert!(members.len() <= cap);
                for (i, &x) in members.iter().enumerate() {
                    for &y in &members[i + 1..] {
                        // Every pair inside a cluster either is an edge that was
                        // accepted, or was checked for conflicts.
                        let is_edge = edges.iter().any(|ed| (ed.a, ed.b) == (x, y) || (ed.a, ed.b) == (y, x));
                        prop_assert!(is_edge || !conflicts(x, y));
                    }
                }
            }
            // Without conflicts or a cap, clusters are connected components.
            let free = cluster(n, edges.clone(), usize::MAX, 0.0, |_, _| Conflict::None);
            let mut parent: Vec<usize> = (0..n).collect();
            fn find(p: &mut [usize], x: usize) -> usize {
                let mut x = x;
                while p[x] != x { p[x] = p[p[x]]; x = p[x]; }
                x
            }
            for ed in &edges {
                let (ra, rb) = (find(&mut parent, ed.a as usize), find(&mut parent, ed.b as usize));
                parent[ra] = rb;
            }
            for a in 0..n {
                for b in 0..n {
                    let same_cc = find(&mut parent, a) == find(&mut parent, b);
                    prop_assert_eq!(same_cc, free.assignment[a] == free.assignment[b]);
                }
            }
        }
    }
}

//! Bounded edit distance: whether two strings are within `k` edits
//! (optimal string alignment: insert, delete, substitute, swap two
//! neighbours), without allocating.
//!
//! The comparisons only ever ask "at most 1, 2 or 3 edits?", and most pairs
//! are far apart. On ASCII strings of at most 64 bytes (standardised names
//! are) the distance is computed bit-parallel (Hyyrö's 2003 algorithm for
//! this distance: one column of the table per machine word, a handful of
//! word operations per byte of the other string), stopping as soon as the
//! answer can no longer be within `k`. That is several times cheaper than
//! `strsim::osa_distance` (which allocates a full table) and than a banded
//! table. The answer is the same (a property test checks it against
//! strsim, which remains the reference and handles what this does not:
//! non-ASCII text and strings over 64 bytes).

/// Longest string handled bit-parallel (one bit of a `u64` per byte).
pub(crate) const W: usize = 64;

/// An ASCII string of at most [`W`] bytes with, for each byte value, the
/// set of positions where it occurs: what both this distance and
/// [`crate::jaro`] look up for every byte of the other string. Built once
/// for a pair, it serves both.
pub(crate) struct Pattern<'a> {
    pub(crate) bytes: &'a [u8],
    positions: [u64; 128],
}

impl<'a> Pattern<'a> {
    /// `None` for non-ASCII text or more than [`W`] bytes.
    #[inline]
    pub(crate) fn new(s: &'a str) -> Option<Self> {
        if s.len() > W || !s.is_ascii() {
            return None;
        }
        let mut positions = [0u64; 128];
        for (i, &c) in s.as_bytes().iter().enumerate() {
            positions[usize::from(c & 0x7f)] |= 1u64 << i;
        }
        Some(Pattern {
            bytes: s.as_bytes(),
            positions,
        })
    }

    /// Bit `i` is set when byte `i` of the pattern is `c`.
    #[inline]
    pub(crate) fn positions(&self, c: u8) -> u64 {
        self.positions[usize::from(c & 0x7f)]
    }
}

/// The OSA distance of `a` and `b` when it is at most `k`, else `None`.
pub fn osa_within(a: &str, b: &str, k: usize) -> Option<usize> {
    if a == b {
        return Some(0);
    }
    if a.len() > W || !a.is_ascii() {
        let d = strsim::osa_distance(a, b);
        return (d <= k).then_some(d);
    }
    match Pattern::new(b) {
        Some(pattern) => osa_within_ascii(a.as_bytes(), &pattern, k),
        None => {
            let d = strsim::osa_distance(a, b);
            (d <= k).then_some(d)
        }
    }
}

/// [`osa_within`] of an ASCII string `a` (at most [`W`] bytes) and a pattern.
#[inline]
pub(crate) fn osa_within_ascii(a: &[u8], b: &Pattern<'_>, k: usize) -> Option<usize> {
    let (n, m) = (a.len(), b.bytes.len());
    // Each edit changes the length by at most one.
    if n.abs_diff(m) > k {
        return None;
    }
    if a == b.bytes {
        return Some(0);
    }
    if m == 0 {
        return (n <= k).then_some(n);
    }
    // Hyyrö (2003), "A bit-vector algorithm for computing Levenshtein and
    // Damerau edit distances": column j of the table (b down, a across) as
    // vertical deltas +1 (`vp`) and -1 (`vn`); `dist` is its last cell,
    // the distance of `b` and the first j bytes of `a`.
    let last = 1u64 << (m - 1);
    let (mut vp, mut vn, mut d0, mut pm_before) = (!0u64, 0u64, 0u64, 0u64);
    let mut dist = m;
    for (j, &c) in a.iter().enumerate() {
        let pm = b.positions(c);
        // Transpositions: b[i] = a[j - 1] and b[i - 1] = a[j], where the
        // diagonal above-left did not already match.
        let tr = ((!d0 & pm) << 1) & pm_before;
        d0 = (((pm & vp).wrapping_add(vp)) ^ vp) | pm | vn | tr;
        let hp = vn | !(d0 | vp);
        let hn = d0 & vp;
        dist += usize::from(hp & last != 0);
        dist -= usize::from(hn & last != 0);
        let hp = (hp << 1) | 1;
        let hn = hn << 1;
        vp = hn | !(d0 | hp);
        vn = hp & d0;
        pm_before = pm;
        // Neighbouring cells of a row differ by at most one: the n - j - 1
        // bytes left can lower the distance by at most as much.
        if dist > k.saturating_add(n - j - 1) {
            return None;
        }
    }
    (dist <= k).then_some(dist)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table() {
        let cases = [
            ("kouassi", "kouasi", 3, Some(1)),
            ("mamadou", "mamadu", 3, Some(1)),
            ("traore", "taroer", 3, Some(2)),
            ("ab", "ba", 1, Some(1)),
            ("", "abc", 3, Some(3)),
            ("", "abcd", 3, None),
            ("konan", "kouassi", 3, None),
            ("n'guessan", "nguessan", 1, Some(1)),
            ("traoré", "traore", 1, Some(1)),
        ];
        for (a, b, k, want) in cases {
            assert_eq!(osa_within(a, b, k), want, "{a} {b}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// Same answer as strsim's full distance, on short names from a
        /// small alphabet (so near misses are common) and on any text.
        #[test]
        fn agrees_with_strsim(a in "[abnk' ]{0,12}", b in "[abnk' ]{0,12}", k in 0usize..4) {
            let d = strsim::osa_distance(&a, &b);
            prop_assert_eq!(osa_within(&a, &b, k), (d <= k).then_some(d));
        }

        #[test]
        fn agrees_at_any_bound(a in "[abnk' ]{0,20}", b in "[abnk' ]{0,20}", k in 0usize..24) {
            let d = strsim::osa_distance(&a, &b);
            prop_assert_eq!(osa_within(&a, &b, k), (d <= k).then_some(d));
        }

        #[test]
        fn agrees_near_the_limit(a in "[ab]{55,70}", b in "[ab]{55,70}", k in 0usize..70) {
            let d = strsim::osa_distance(&a, &b);
            prop_assert_eq!(osa_within(&a, &b, k), (d <= k).then_some(d));
        }

        #[test]
        fn agrees_on_any_text(a in "\\PC{0,70}", b in "\\PC{0,70}", k in 0usize..80) {
            let d = strsim::osa_distance(&a, &b);
            prop_assert_eq!(osa_within(&a, &b, k), (d <= k).then_some(d));
        }
    }
}

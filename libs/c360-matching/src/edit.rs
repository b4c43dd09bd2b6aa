//! Bounded edit distance: whether two strings are within `k` edits
//! (optimal string alignment: insert, delete, substitute, swap two
//! neighbours), without allocating.
//!
//! The comparisons only ever ask "at most 1, 2 or 3 edits?", and most pairs
//! are far apart: answering that on the stack, and stopping as soon as no
//! alignment can stay within `k`, is several times cheaper than computing
//! the full distance with `strsim::osa_distance` (which allocates). The
//! answer is the same (a property test checks it against strsim, which
//! remains the reference and handles what this does not: non-ASCII text and
//! strings over 63 bytes).

/// The OSA distance of `a` and `b` when it is at most `k`, else `None`.
pub fn osa_within(a: &str, b: &str, k: usize) -> Option<usize> {
    if a == b {
        return Some(0);
    }
    if a.len().abs_diff(b.len()) > k {
        // Each edit changes the length by at most one, in bytes as in chars
        // only for ASCII; for other text strsim decides below.
        if a.is_ascii() && b.is_ascii() {
            return None;
        }
    }
    const W: usize = 64;
    if !a.is_ascii() || !b.is_ascii() || a.len() >= W || b.len() >= W {
        let d = strsim::osa_distance(a, b);
        return (d <= k).then_some(d);
    }
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (n, m) = (a.len(), b.len());
    // Only cells within `k` of the diagonal can hold a distance of at most
    // `k` (d[i][j] >= |i - j|); everything else counts as `k + 1` (at most
    // 255: distances here are under 64, so a larger `k` never caps one).
    let over = (k + 1).min(255) as u16;
    let (mut r0, mut r1, mut r2) = ([over; W], [over; W], [over; W]);
    let (mut before, mut prev, mut cur) = (&mut r0, &mut r1, &mut r2);
    for (j, cell) in prev.iter_mut().enumerate().take(m.min(k) + 1) {
        *cell = j as u16;
    }
    for i in 1..=n {
        let lo = i.saturating_sub(k).max(1);
        let hi = (i + k).min(m);
        cur[lo - 1] = if lo == 1 { (i as u16).min(over) } else { over };
        let mut row_min = cur[lo - 1];
        for j in lo..=hi {
            let cost = u16::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(before[j - 2] + 1);
            }
            let v = v.min(over);
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if hi < m {
            cur[hi + 1] = over;
        }
        // A row's minimum never decreases further down: past `k`, stop.
        if usize::from(row_min) > k {
            return None;
        }
        std::mem::swap(&mut before, &mut prev);
        std::mem::swap(&mut prev, &mut cur);
    }
    let d = usize::from(prev[m]);
    (d <= k).then_some(d)
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
        fn agrees_on_any_text(a in "\\PC{0,70}", b in "\\PC{0,70}", k in 0usize..80) {
            let d = strsim::osa_distance(&a, &b);
            prop_assert_eq!(osa_within(&a, &b, k), (d <= k).then_some(d));
        }
    }
}

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

/// A string of at most [`W`] bytes indexed by byte value: for each byte,
/// the set of positions where it occurs. That is what both this distance
/// and [`crate::jaro`] look up for every byte of the other string; built
/// once for a pair, it serves both.
pub(crate) trait Pattern {
    fn bytes(&self) -> &[u8];
    /// Bit `i` is set when byte `i` of the pattern is `c`.
    fn positions(&self, c: u8) -> u64;
}

/// A pattern of bytes 0x60..=0x7f only (lower-case letters, which is what
/// standardised names are made of): a table of 32 words, cheap to clear.
pub(crate) struct LetterPattern<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) positions: &'a [u64; 32],
}

impl LetterPattern<'_> {
    /// Fills `positions` (zeroed) with the positions of `s`'s bytes; false
    /// (and `positions` unusable) when `s` is longer than [`W`] or holds
    /// another byte. (A table filled in place: it is not moved around.)
    #[inline]
    pub(crate) fn fill(positions: &mut [u64; 32], s: &[u8]) -> bool {
        if s.len() > W {
            return false;
        }
        let mut other = 0u8;
        for (i, &c) in s.iter().enumerate() {
            other |= (c & 0xe0) ^ 0x60;
            positions[usize::from(c & 0x1f)] |= 1u64 << i;
        }
        other == 0
    }
}

impl Pattern for LetterPattern<'_> {
    #[inline]
    fn bytes(&self) -> &[u8] {
        self.bytes
    }

    #[inline]
    fn positions(&self, c: u8) -> u64 {
        let letter = if c & 0xe0 == 0x60 { u64::MAX } else { 0 };
        self.positions[usize::from(c & 0x1f)] & letter
    }
}

/// A pattern of any ASCII bytes.
pub(crate) struct AsciiPattern<'a> {
    pub(crate) bytes: &'a [u8],
    pub(crate) positions: &'a [u64; 128],
}

impl AsciiPattern<'_> {
    /// As [`LetterPattern::fill`], for any ASCII bytes.
    #[inline]
    pub(crate) fn fill(positions: &mut [u64; 128], s: &[u8]) -> bool {
        if s.len() > W || !s.is_ascii() {
            return false;
        }
        for (i, &c) in s.iter().enumerate() {
            positions[usize::from(c & 0x7f)] |= 1u64 << i;
        }
        true
    }
}

impl Pattern for AsciiPattern<'_> {
    #[inline]
    fn bytes(&self) -> &[u8] {
        self.bytes
    }

    #[inline]
    fn positions(&self, c: u8) -> u64 {
        self.positions[usize::from(c & 0x7f)]
    }
}

/// `Some(f(a, pattern of b))` when `a` and `b` are ASCII of at most [`W`]
/// bytes (the cases the byte-level measures handle), else `None`.
macro_rules! with_ascii_pair {
    ($a:expr, $b:expr, |$x:ident, $p:ident| $body:expr) => {{
        let (a, b): (&[u8], &[u8]) = ($a.as_bytes(), $b.as_bytes());
        let mut letters = [0u64; 32];
        if a.len() > $crate::edit::W || !a.is_ascii() {
            None
        } else if $crate::edit::LetterPattern::fill(&mut letters, b) {
            let $p = $crate::edit::LetterPattern {
                bytes: b,
                positions: &letters,
            };
            let $x = a;
            Some($body)
        } else {
            let mut ascii = [0u64; 128];
            if $crate::edit::AsciiPattern::fill(&mut ascii, b) {
                let $p = $crate::edit::AsciiPattern {
                    bytes: b,
                    positions: &ascii,
                };
                let $x = a;
                Some($body)
            } else {
                None
            }
        }
    }};
}
pub(crate) use with_ascii_pair;

/// The OSA distance of `a` and `b` when it is at most `k`, else `None`.
pub fn osa_within(a: &str, b: &str, k: usize) -> Option<usize> {
    if a == b {
        return Some(0);
    }
    with_ascii_pair!(a, b, |x, p| osa_within_ascii(x, &p, k)).unwrap_or_else(|| {
        let d = strsim::osa_distance(a, b);
        (d <= k).then_some(d)
    })
}

/// [`osa_within`] of an ASCII string `a` (at most [`W`] bytes) and a pattern.
#[inline]
pub(crate) fn osa_within_ascii(a: &[u8], b: &impl Pattern, k: usize) -> Option<usize> {
    let (n, m) = (a.len(), b.bytes().len());
    // Each edit changes the length by at most one.
    if n.abs_diff(m) > k {
        return None;
    }
    if a == b.bytes() {
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

    fn same_as_strsim(a: &str, b: &str, k: usize) -> Result<(), TestCaseError> {
        let d = strsim::osa_distance(a, b);
        prop_assert_eq!(osa_within(a, b, k), (d <= k).then_some(d));
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        /// Same answer as strsim's full distance, on short names from a
        /// small alphabet (so near misses are common) and on any text.
        #[test]
        fn agrees_with_strsim(a in "[abnk' ]{0,12}", b in "[abnk' ]{0,12}", k in 0usize..4) {
            same_as_strsim(&a, &b, k)?;
        }

        #[test]
        fn agrees_at_any_bound(a in "[abnk' ]{0,20}", b in "[abnk' ]{0,20}", k in 0usize..24) {
            same_as_strsim(&a, &b, k)?;
        }

        /// Bytes that share a slot of the letter table ('a', 'A', '!',
        /// 'q', '1', '`', '@', '~') must not be confused.
        #[test]
        fn agrees_across_byte_classes(a in "[aA!q1`@~]{0,12}", b in "[aA!q1`@~]{0,12}", k in 0usize..14) {
            same_as_strsim(&a, &b, k)?;
        }

        #[test]
        fn agrees_near_the_limit(a in "[ab]{55,70}", b in "[ab]{55,70}", k in 0usize..70) {
            same_as_strsim(&a, &b, k)?;
        }

        #[test]
        fn agrees_on_any_text(a in "\\PC{0,70}", b in "\\PC{0,70}", k in 0usize..80) {
            same_as_strsim(&a, &b, k)?;
        }
    }
}

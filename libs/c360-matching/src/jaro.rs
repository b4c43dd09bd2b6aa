//! Jaro-Winkler similarity without allocating.
//!
//! `strsim::jaro_winkler` walks both strings as `char`s and allocates its
//! match flags on every call; the comparisons call it for most candidate
//! pairs, on short standardised names (ASCII, lower case). This computes the
//! same value on bytes, with the match flags in two machine words (and the
//! positions of each byte of `b` looked up, not searched), and the
//! same floating-point expression, so the result is bit for bit the same f64
//! (a property test checks it against strsim, which remains the reference
//! and handles what this does not: non-ASCII text and strings over 64
//! bytes). Thresholds such as 0.92 decide levels, so "about the same" would
//! not do.

use crate::edit::{Pattern, with_ascii_pair};

/// Jaro-Winkler similarity of `a` and `b`: exactly `strsim::jaro_winkler`.
pub fn jaro_winkler(a: &str, b: &str) -> f64 {
    with_ascii_pair!(a, b, |x, p| jaro_winkler_ascii(x, &p))
        .unwrap_or_else(|| strsim::jaro_winkler(a, b))
}

/// [`jaro_winkler`] of an ASCII string `a` (at most 64 bytes) and a pattern.
#[inline]
pub(crate) fn jaro_winkler_ascii(a: &[u8], b: &impl Pattern) -> f64 {
    let sim = jaro_ascii(a, b);
    if sim > 0.7 {
        // strsim: the first four chars of `a` zipped with `b`, while equal.
        let prefix_length = a
            .iter()
            .take(4)
            .zip(b.bytes())
            .take_while(|(x, y)| x == y)
            .count();
        sim + 0.1 * prefix_length as f64 * (1.0 - sim)
    } else {
        sim
    }
}

/// `strsim::generic_jaro` on bytes.
fn jaro_ascii(a: &[u8], b: &impl Pattern) -> f64 {
    let (a_len, b_len) = (a.len(), b.bytes().len());
    if a_len == 0 && b_len == 0 {
        return 1.0;
    } else if a_len == 0 || b_len == 0 {
        return 0.0;
    }
    let search_range = (a_len.max(b_len) / 2).saturating_sub(1);
    // Bit j: byte j of `b` is matched.
    let (mut a_flags, mut b_flags) = (0u64, 0u64);
    let mut matches = 0usize;
    for (i, &x) in a.iter().enumerate() {
        let lo = i.saturating_sub(search_range);
        let hi = b_len.min(i + search_range + 1);
        if lo >= hi {
            continue;
        }
        // Bits lo..hi (lo < hi <= 64).
        let window = (u64::MAX >> (64 - hi)) & (u64::MAX << lo);
        // As strsim: the first unmatched equal byte of `b` in the window.
        let free = b.positions(x) & window & !b_flags;
        if free != 0 {
            a_flags |= 1u64 << i;
            b_flags |= free & free.wrapping_neg();
            matches += 1;
        }
    }
    if matches == 0 {
        return 0.0;
    }
    // Matched bytes of `a` and of `b` paired in order; half the pairs that
    // differ are the transpositions.
    let mut transpositions = 0usize;
    while a_flags != 0 {
        let i = a_flags.trailing_zeros() as usize;
        let j = b_flags.trailing_zeros() as usize;
        a_flags &= a_flags - 1;
        b_flags &= b_flags - 1;
        transpositions += usize::from(a[i] != b.bytes()[j]);
    }
    transpositions /= 2;
    ((matches as f64 / a_len as f64)
        + (matches as f64 / b_len as f64)
        + ((matches - transpositions) as f64 / matches as f64))
        / 3.0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same(a: &str, b: &str) {
        let want = strsim::jaro_winkler(a, b);
        let got = jaro_winkler(a, b);
        assert_eq!(
            got.to_bits(),
            want.to_bits(),
            "{a:?} {b:?}: {got} != {want}"
        );
    }

    #[test]
    fn table() {
        let cases = [
            ("", ""),
            ("", "a"),
            ("a", ""),
            ("a", "a"),
            ("ab", "ba"),
            ("martha", "marhta"),
            ("dixon", "dicksonx"),
            ("kouassi", "kouasi"),
            ("aminata", "aminatou"),
            ("n'guessan", "nguessan"),
            ("traore", "traoré"),
            ("cheeseburger", "cheese fries"),
            (
                "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl",
                "abc",
            ),
            (
                "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklm",
                "abc",
            ),
        ];
        for (a, b) in cases {
            same(a, b);
            same(b, a);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(6000))]
        /// Bit for bit strsim's value, on names from a small alphabet (so
        /// matches, transpositions and shared prefixes are common), around
        /// the 64-byte limit, and on any text.
        #[test]
        fn agrees_with_strsim(a in "[abnk' ]{0,16}", b in "[abnk' ]{0,16}") {
            same(&a, &b);
        }

        /// Bytes that share a slot of the letter table ('a', 'A', '!',
        /// 'q', '1', '`', '@', '~') must not be confused.
        #[test]
        fn agrees_across_byte_classes(a in "[aA!q1`@~]{0,12}", b in "[aA!q1`@~]{0,12}") {
            same(&a, &b);
        }

        #[test]
        fn agrees_near_the_limit(a in "[ab]{50,70}", b in "[ab]{0,70}") {
            same(&a, &b);
            same(&b, &a);
        }

        #[test]
        fn agrees_on_any_text(a in "\\PC{0,70}", b in "\\PC{0,70}") {
            same(&a, &b);
        }
    }
}

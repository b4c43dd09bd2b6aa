//! Keyed bijections used to make identifiers look random while staying
//! unique: record ids (per source system) and national id numbers.

/// A keyed permutation of `0..domain` (`domain >= 1`), by cycle-walking a
/// bijection of `0..2^bits`. `x` must be below `domain`.
pub fn permute(x: u64, domain: u64, key: u64) -> u64 {
    debug_assert!(x < domain);
    let bits = (64 - (domain - 1).leading_zeros()).max(2);
    let mask = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    let mut y = x;
    loop {
        y = mix(y, bits, mask, key);
        if y < domain {
            return y;
        }
    }
}

/// Bijection of `0..2^bits`: each step (odd multiply, xor-shift, add) is
/// invertible modulo `2^bits`.
fn mix(mut y: u64, bits: u32, mask: u64, key: u64) -> u64 {
    const ODD: [u64; 3] = [
        0x9E37_79B9_7F4A_7C15,
        0xBF58_476D_1CE4_E5B9,
        0x94D0_49BB_1331_11EB,
    ];
    let shift = (bits / 2).max(1);
    for (round, odd) in ODD.iter().enumerate() {
        y = y.wrapping_mul(*odd) & mask;
        y ^= y >> shift;
        y = y.wrapping_add(key.rotate_left(round as u32 * 21)) & mask;
    }
    y
}

/// SplitMix64: a small, fast generator for rendering one record from a
/// seed drawn by the main (ChaCha) generator.
#[derive(Debug, Clone)]
pub struct RecordRng(u64);

impl RecordRng {
    pub fn new(seed: u64) -> Self {
        RecordRng(seed)
    }
}

impl rand::RngCore for RecordRng {
    fn next_u32(&mut self) -> u32 {
        (self.next_u64() >> 32) as u32
    }

    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fill_bytes(&mut self, dst: &mut [u8]) {
        for chunk in dst.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutation_is_bijective() {
        for domain in [1u64, 2, 7, 100, 1000, 4096] {
            let mut seen = vec![false; domain as usize];
            for x in 0..domain {
                let y = permute(x, domain, 42);
                assert!(y < domain);
                assert!(!seen[y as usize], "domain {domain}: {y} twice");
                seen[y as usize] = true;
            }
        }
        assert!(permute(5, 100_000_000, 7) < 100_000_000);
    }
}

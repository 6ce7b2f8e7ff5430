//! FastCDC's cut point (`fastcdc::v2020`, normalisation level 1), found four
//! lanes at a time: the same cuts, at about twice the speed.
//!
//! Why: the gear hash is one dependent chain (`h = (h << 1) + GEAR[byte]`),
//! so the crate's loop runs at the latency of a shift and an add per byte,
//! and a backup spent a fifth of its CPU there (perf, 1 GiB of random data).
//! But the hash at a position depends only on the 64 bytes before it: a
//! byte's term is shifted out after 64 steps. So a stretch of the input can
//! be cut into lanes, each started 64 bytes early, and the lanes hashed in
//! one loop, where the CPU runs their chains side by side. The first lane
//! with a hit holds the first hit.
//!
//! The crate checks every other position against its mask shifted left by
//! one, on the hash shifted left by one (`GEAR_LS`). That is the same test
//! as the plain one, since no mask has its top bit set (checked, with the
//! tables, in the tests below), so one table serves here.

use crate::chunking::{AVG_CHUNK, MAX_CHUNK, MIN_CHUNK};
use std::sync::LazyLock;

mod scan;
pub use scan::{cut_from_hits, hits, Hit, LEAD};

/// Lanes hashed side by side.
const LANES: usize = 4;
/// Bytes per lane per round; a round whose lanes would run past the end is
/// left to the plain loop.
const LANE: usize = 4096;
/// Bytes of input a hash depends on.
const WINDOW: usize = 64;

static GEAR: LazyLock<Box<[u64; 256]>> = LazyLock::new(|| fastcdc::v2020::get_gear_with_seed(0).0);

/// Masks for an average size, as `fastcdc::v2020` picks them at
/// normalisation level 1: (before the average, after it).
fn masks(avg: usize) -> (u64, u64) {
    let bits = fastcdc::v2020::logarithm2(avg as u32) as usize;
    (
        fastcdc::v2020::MASKS[bits + 1],
        fastcdc::v2020::MASKS[bits - 1],
    )
}

/// Length of the first chunk of `src` with shardnet's chunk sizes: what
/// `FastCDC::new(src, MIN_CHUNK, AVG_CHUNK, MAX_CHUNK).cut(0, src.len())`
/// returns.
pub fn cut(src: &[u8]) -> usize {
    cut_with(
        src,
        MIN_CHUNK as usize,
        AVG_CHUNK as usize,
        MAX_CHUNK as usize,
        LANE,
    )
}

/// [`cut`] for any sizes (a power-of-two average) and lane length.
fn cut_with(src: &[u8], min: usize, avg: usize, max: usize, lane: usize) -> usize {
    let mut remaining = src.len();
    if remaining <= min {
        return remaining;
    }
    let mut center = avg;
    if remaining > max {
        remaining = max;
    } else if remaining < center {
        center = remaining;
    }
    // The crate steps two bytes at a time: it starts on an even position
    // and never looks at an odd last one.
    let start = min / 2 * 2;
    let small_end = center / 2 * 2;
    let large_end = (remaining / 2 * 2).max(small_end);
    let (mask_s, mask_l) = masks(avg);
    let gear: &[u64; 256] = &GEAR;
    first_hit(src, gear, start, start, small_end, mask_s, lane)
        .or_else(|| first_hit(src, gear, start, small_end, large_end, mask_l, lane))
        .unwrap_or(remaining)
}

/// The hash just before position `at`, as the crate's loop from `start`
/// has it: from at most the [`WINDOW`] bytes before `at`, since older
/// bytes are shifted out.
fn hash_before(src: &[u8], gear: &[u64; 256], start: usize, at: usize) -> u64 {
    src[at.saturating_sub(WINDOW).max(start)..at]
        .iter()
        .fold(0u64, |h, &byte| (h << 1).wrapping_add(gear[byte as usize]))
}

/// The first position in `from..to` whose hash (taken from `start`) has no
/// bit of `mask` set.
fn first_hit(
    src: &[u8],
    gear: &[u64; 256],
    start: usize,
    from: usize,
    to: usize,
    mask: u64,
    lane: usize,
) -> Option<usize> {
    let mut base = from;
    while to.saturating_sub(base) >= LANES * lane {
        let begins: [usize; LANES] = std::array::from_fn(|k| base + k * lane);
        let [l0, l1, l2, l3]: [&[u8]; LANES] =
            std::array::from_fn(|k| &src[begins[k]..begins[k] + lane]);
        let mut hit = [usize::MAX; LANES];
        let [mut h0, mut h1, mut h2, mut h3] = begins.map(|b| hash_before(src, gear, start, b));
        for (i, (((&a, &b), &c), &d)) in l0.iter().zip(l1).zip(l2).zip(l3).enumerate() {
            h0 = (h0 << 1).wrapping_add(gear[a as usize]);
            h1 = (h1 << 1).wrapping_add(gear[b as usize]);
            h2 = (h2 << 1).wrapping_add(gear[c as usize]);
            h3 = (h3 << 1).wrapping_add(gear[d as usize]);
            // One rarely taken branch for the four (a hit is about one in
            // 2^20 positions at shardnet's sizes).
            if (h0 & mask == 0) | (h1 & mask == 0) | (h2 & mask == 0) | (h3 & mask == 0) {
                for (k, hk) in [h0, h1, h2, h3].into_iter().enumerate() {
                    if hk & mask == 0 && hit[k] == usize::MAX {
                        hit[k] = begins[k] + i;
                    }
                }
            }
        }
        if let Some(p) = hit.into_iter().find(|&p| p != usize::MAX) {
            return Some(p);
        }
        base += LANES * lane;
    }
    let mut h = hash_before(src, gear, start, base);
    for (p, &byte) in src[..to].iter().enumerate().skip(base) {
        h = (h << 1).wrapping_add(gear[byte as usize]);
        if h & mask == 0 {
            return Some(p);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn crate_cut(src: &[u8], min: usize, avg: usize, max: usize) -> usize {
        fastcdc::v2020::FastCDC::new(src, min as u32, avg as u32, max as u32)
            .cut(0, src.len())
            .1
    }

    /// Bytes from a seed (xorshift), with runs of one value mixed in: a
    /// run keeps its hash from hitting, as zeros in real files do.
    pub(crate) fn bytes(seed: u64, len: usize, runs: bool) -> Vec<u8> {
        let mut x = seed | 1;
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if runs && x.is_multiple_of(7) {
                let n = (x >> 8) as usize % 300;
                out.extend(std::iter::repeat_n((x >> 3) as u8, n.min(len - out.len())));
            } else {
                out.push((x >> 24) as u8);
            }
        }
        out
    }

    #[test]
    fn the_tables_allow_one_table_for_both_steps() {
        let (gear, gear_ls) = fastcdc::v2020::get_gear_with_seed(0);
        assert!(gear.iter().zip(gear_ls.iter()).all(|(g, l)| g << 1 == *l));
        assert!(fastcdc::v2020::MASKS.iter().all(|m| m >> 63 == 0));
    }

    #[test]
    fn shardnet_sizes_cut_where_the_crate_cuts() {
        for seed in 1..=6u64 {
            let data = bytes(seed, 9 << 20, seed % 2 == 0);
            let mut at = 0;
            while at < data.len() {
                let rest = &data[at..];
                let n = cut(rest);
                assert_eq!(
                    n,
                    crate_cut(
                        rest,
                        MIN_CHUNK as usize,
                        AVG_CHUNK as usize,
                        MAX_CHUNK as usize
                    ),
                    "seed {seed} at {at}"
                );
                at += n.max(1);
            }
        }
        let zeros = vec![0u8; 5 << 20];
        assert_eq!(cut(&zeros), MAX_CHUNK as usize);
        assert_eq!(cut(&zeros[..1000]), 1000);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Small sizes and short lanes put hits near every boundary: lane
        /// ends, the average, odd lengths and the maximum.
        #[test]
        fn any_sizes_cut_where_the_crate_cuts(
            seed in any::<u64>(),
            len in 0usize..12_000,
            min in 64usize..600,
            avg_bits in 8u32..12,
            over in 0usize..4000,
            lane in 1usize..200,
            runs in any::<bool>(),
        ) {
            let avg = 1usize << avg_bits;
            let min = min.min(avg - 1);
            let max = (avg + over).max(1024);
            let data = bytes(seed, len, runs);
            let mut at = 0;
            loop {
                let rest = &data[at..];
                let n = cut_with(rest, min, avg, max, lane);
                prop_assert_eq!(n, crate_cut(rest, min, avg, max), "at {}", at);
                if n == 0 {
                    break;
                }
                at += n;
            }
        }
    }
}

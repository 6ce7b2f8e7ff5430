//! FastCDC's cuts found in two steps, so that the costly one runs in parallel.
//!
//! Why: a chunk's cut depends on where the chunk starts, so a chunker over
//! one file is a serial chain, and a backup of a big file spent a quarter of
//! its time in it while the other core waited (perf, stop 40). But the gear
//! hash at a position depends only on the [`WINDOW`] bytes ending there,
//! whatever the chunk's start, except in the first 63 positions a chunk
//! hashes. So:
//! - [`hits`] scans any stretch of input, without knowing where chunks
//!   start, for the rare positions whose full-window hash passes one of the
//!   two masks (about one in 400,000 at shardnet's sizes). Stretches are
//!   independent: each can be scanned on its own core.
//! - [`cut_from_hits`] then finds a chunk's length from those hits, hashing
//!   only the first 63 positions itself: a few hundred operations per chunk,
//!   where the serial chain was about a million.
//!
//! The cuts are [`super::cut`]'s, which are `fastcdc::v2020`'s (tested below
//! against both).

use super::{masks, GEAR, WINDOW};
use crate::chunking::{AVG_CHUNK, MAX_CHUNK, MIN_CHUNK};

/// A position whose hash over the [`WINDOW`] bytes ending at it (it
/// included) passes the mask used before a chunk's average size (`small`),
/// the one used after it (`large`), or both.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// Offset in the input.
    pub pos: u64,
    small: bool,
    large: bool,
}

/// Bytes a scan needs before its stretch: a full window ends at each of
/// the stretch's positions.
pub const LEAD: usize = WINDOW - 1;

/// Appends to `out`, in order, the hits at positions of `data`, which starts
/// at offset `base` of the input. `before` holds the bytes just before
/// `data` (its last [`LEAD`] are used; fewer only at the input's start,
/// where positions without a full window are left out).
pub fn hits(before: &[u8], data: &[u8], base: u64, out: &mut Vec<Hit>) {
    hits_with(before, data, base, masks(AVG_CHUNK as usize), out)
}

fn hits_with(before: &[u8], data: &[u8], base: u64, (ms, ml): (u64, u64), out: &mut Vec<Hit>) {
    const LANES: usize = 4;
    let gear: &[u64; 256] = &GEAR;
    let before = &before[before.len().saturating_sub(LEAD)..];
    // Positions of `data` before this one lack a full window.
    let first = LEAD - before.len();
    // Every hit of either mask passes their common bits: one test per
    // position, the exact ones only then.
    let either = ms & ml;
    let lead = |at: usize| -> u64 {
        let own = &data[at.saturating_sub(LEAD)..at];
        let need = LEAD - own.len();
        before[before.len().saturating_sub(need)..]
            .iter()
            .chain(own)
            .fold(0u64, |h, &b| (h << 1).wrapping_add(gear[b as usize]))
    };
    let push = |out: &mut Vec<Hit>, i: usize, h: u64| {
        let (small, large) = (h & ms == 0, h & ml == 0);
        if i >= first && (small || large) {
            out.push(Hit {
                pos: base + i as u64,
                small,
                large,
            });
        }
    };
    // Four lanes hashed side by side (see the parent module), each with its
    // own hits, joined in order.
    let per = data.len() / LANES;
    let mut done = 0;
    if per >= 1024 {
        let begins: [usize; LANES] = std::array::from_fn(|k| k * per);
        let [l0, l1, l2, l3]: [&[u8]; LANES] =
            std::array::from_fn(|k| &data[begins[k]..begins[k] + per]);
        let [mut h0, mut h1, mut h2, mut h3] = begins.map(lead);
        let mut lanes: [Vec<Hit>; LANES] = Default::default();
        for (i, (((&a, &b), &c), &d)) in l0.iter().zip(l1).zip(l2).zip(l3).enumerate() {
            h0 = (h0 << 1).wrapping_add(gear[a as usize]);
            h1 = (h1 << 1).wrapping_add(gear[b as usize]);
            h2 = (h2 << 1).wrapping_add(gear[c as usize]);
            h3 = (h3 << 1).wrapping_add(gear[d as usize]);
            if (h0 & either == 0) | (h1 & either == 0) | (h2 & either == 0) | (h3 & either == 0) {
                for (k, hk) in [h0, h1, h2, h3].into_iter().enumerate() {
                    push(&mut lanes[k], begins[k] + i, hk);
                }
            }
        }
        for lane in lanes {
            out.extend(lane);
        }
        done = LANES * per;
    }
    let mut h = lead(done);
    for (i, &b) in data.iter().enumerate().skip(done) {
        h = (h << 1).wrapping_add(gear[b as usize]);
        if h & either == 0 {
            push(out, i, h);
        }
    }
}

/// The length of the chunk that starts at `start` with shardnet's chunk
/// sizes: what [`super::cut`] returns for the input from `start`.
/// - `view`: bytes of input from `start` on that the caller has looked at:
///   at least `MAX_CHUNK`, or all of them to the input's end.
/// - `head`: the input from `start + MIN_CHUNK` on, at least [`LEAD`] bytes
///   of it (fewer only where the view ends).
/// - `hits`: sorted, holding every hit of [`hits`] in the view from
///   `start + MIN_CHUNK + LEAD` on (others are ignored).
pub fn cut_from_hits(start: u64, view: u64, head: &[u8], hits: &[Hit]) -> u64 {
    cut_from_hits_with(
        start,
        view,
        head,
        hits,
        (MIN_CHUNK as u64, AVG_CHUNK as u64, MAX_CHUNK as u64),
    )
}

fn cut_from_hits_with(
    start: u64,
    view: u64,
    head: &[u8],
    hits: &[Hit],
    (min, avg, max): (u64, u64, u64),
) -> u64 {
    // The bounds of `super::cut_with`, relative to `start`.
    let mut remaining = view;
    if remaining <= min {
        return remaining;
    }
    let mut center = avg;
    if remaining > max {
        remaining = max;
    } else if remaining < center {
        center = remaining;
    }
    let s = min / 2 * 2;
    let small_end = center / 2 * 2;
    let large_end = (remaining / 2 * 2).max(small_end);
    let (ms, ml) = masks(avg as usize);
    // The chunk's hash starts at `s`: its first LEAD positions hash fewer
    // bytes than a window, so they are hashed here; hits cover the rest.
    let full = s + LEAD as u64;
    let gear: &[u64; 256] = &GEAR;
    let mut h = 0u64;
    let mut short = Vec::with_capacity(LEAD);
    for (p, &b) in (s..full.min(large_end)).zip(head) {
        h = (h << 1).wrapping_add(gear[b as usize]);
        short.push((p, h));
    }
    let first = |from: u64, to: u64, mask: u64, small: bool| -> Option<u64> {
        if let Some(&(p, _)) = short
            .iter()
            .find(|&&(p, h)| p >= from && p < to && h & mask == 0)
        {
            return Some(p);
        }
        let (lo, hi) = (start + from.max(full), start + to);
        let i = hits.partition_point(|x| x.pos < lo);
        hits[i..]
            .iter()
            .take_while(|x| x.pos < hi)
            .find(|x| if small { x.small } else { x.large })
            .map(|x| x.pos - start)
    };
    first(s, small_end, ms, true)
        .or_else(|| first(small_end, large_end, ml, false))
        .unwrap_or(remaining)
}

#[cfg(test)]
mod tests {
    use super::super::tests::bytes;
    use super::super::{cut, cut_with};
    use super::*;
    use proptest::prelude::*;

    /// Every cut of `data` from hits of stretches of `step` bytes, as a
    /// parallel chunker finds them.
    fn cuts_by_hits(data: &[u8], step: usize, sizes: (u64, u64, u64)) -> Vec<usize> {
        let mut all = Vec::new();
        for at in (0..data.len()).step_by(step.max(1)) {
            let end = (at + step).min(data.len());
            hits_with(
                &data[..at],
                &data[at..end],
                at as u64,
                masks(sizes.1 as usize),
                &mut all,
            );
        }
        let (min, _, max) = sizes;
        let mut out = Vec::new();
        let mut at = 0usize;
        loop {
            let view = (data.len() - at) as u64;
            let head_from = (at + (min / 2 * 2) as usize).min(data.len());
            let head = &data[head_from..(head_from + LEAD).min(data.len())];
            let n = cut_from_hits_with(at as u64, view.min(max + 7), head, &all, sizes) as usize;
            out.push(n);
            if n == 0 {
                return out;
            }
            at += n;
        }
    }

    fn cuts_serial(data: &[u8], sizes: (u64, u64, u64)) -> Vec<usize> {
        let (min, avg, max) = sizes;
        let mut out = Vec::new();
        let mut at = 0;
        loop {
            let n = cut_with(&data[at..], min as usize, avg as usize, max as usize, 64);
            out.push(n);
            if n == 0 {
                return out;
            }
            at += n;
        }
    }

    #[test]
    fn shardnet_sizes_cut_where_the_serial_chunker_cuts() {
        let sizes = (MIN_CHUNK as u64, AVG_CHUNK as u64, MAX_CHUNK as u64);
        for seed in 1..=3u64 {
            let mut data = bytes(seed, 13 << 20, seed == 2);
            // A long run of one value forces maximum-size chunks.
            data[(2 << 20)..(7 << 20)].fill(9);
            let want = cuts_serial(&data, sizes);
            assert!(want.len() > 4, "{want:?}");
            for step in [1 << 20, 3_000_017, 64 << 20] {
                assert_eq!(
                    cuts_by_hits(&data, step, sizes),
                    want,
                    "seed {seed} step {step}"
                );
            }
        }
        // The public pair, on one view.
        let data = bytes(7, 6 << 20, false);
        let mut all = Vec::new();
        hits(&[], &data, 0, &mut all);
        let m = MIN_CHUNK as usize;
        let n = cut_from_hits(0, data.len() as u64, &data[m..m + LEAD], &all);
        assert_eq!(n as usize, cut(&data));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Small sizes put hits at every boundary: within the first 63
        /// positions of a chunk, at the average, at odd ends and at stretch
        /// edges, including stretches shorter than a window.
        #[test]
        fn any_sizes_and_stretches_cut_where_the_serial_chunker_cuts(
            seed in any::<u64>(),
            len in 0usize..12_000,
            min in 0u64..600,
            avg_bits in 8u32..12,
            over in 0u64..4000,
            step in 1usize..9000,
            runs in any::<bool>(),
        ) {
            let avg = 1u64 << avg_bits;
            let min = min.min(avg - 1);
            let max = (avg + over).max(1024);
            let data = bytes(seed, len, runs);
            let sizes = (min, avg, max);
            prop_assert_eq!(cuts_by_hits(&data, step, sizes), cuts_serial(&data, sizes));
        }
    }
}

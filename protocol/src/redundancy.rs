//! Redundancy schemes: how one shard's bytes become the pieces its
//! responsible peers hold, and what each scheme costs and risks.
//!
//! Replication keeps `n` whole copies: any one restores, and every holder
//! holds a readable (if encrypted) copy of the whole shard. Reed–Solomon
//! `k+m` cuts the shard into `k` data pieces and adds `m` parity pieces, one
//! per responsible peer: any `k` restore it, no peer holds more than `1/k` of
//! it, and it stores `(k+m)/k` bytes per byte instead of `n`. Repair differs
//! too: a lost copy is re-sent whole, a lost piece is rebuilt from `k`
//! others, so erasure coding pays off when repair is lazy and rebuilds
//! several pieces from one read.
//!
//! Pure maths, no I/O, so the model and (later) the node decide alike:
//! pieces, piece size, the lazy-repair floor, the bytes a rebuild moves, the
//! probability of loss when pieces fail independently, and [`matching`], the
//! cheapest Reed–Solomon scheme that is at least as durable as `n` copies.

use crate::patience;
use std::fmt;
use std::str::FromStr;

/// Independent loss probability of one piece within one repair window up to
/// which [`matching`] requires erasure coding to be at least as durable as
/// replication. Half a percent is generous: in the 10,000-node model a node
/// is lost for good about once in 600 days, and repair takes hours.
pub const P_REF: f64 = 0.005;

/// Largest `k + m` (pieces per shard) this code will produce: one piece per
/// responsible peer, and a responsible set is walked per shard.
pub const MAX_PIECES: usize = 32;

/// A shard's redundancy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `copies` whole copies.
    Replicate { copies: u8 },
    /// Reed–Solomon: `data` pieces of `1/data` of the shard each, plus
    /// `parity` more; any `data` of them restore it.
    Rs { data: u8, parity: u8 },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SchemeError {
    #[error("unknown redundancy {0:?}: write `replicate N` or `rs K+M` (e.g. `rs 4+3`)")]
    Syntax(String),
    #[error("redundancy {0}: needs at least 1 copy, or K >= 1 and M >= 1, and at most {MAX_PIECES} pieces")]
    Range(String),
}

impl Scheme {
    /// Pieces (or copies) per shard: one per responsible peer.
    pub fn pieces(self) -> usize {
        match self {
            Scheme::Replicate { copies } => copies as usize,
            Scheme::Rs { data, parity } => data as usize + parity as usize,
        }
    }

    /// Pieces needed to restore the shard.
    pub fn needed(self) -> usize {
        match self {
            Scheme::Replicate { .. } => 1,
            Scheme::Rs { data, .. } => data as usize,
        }
    }

    /// Bytes one holder stores for a shard of `size` bytes.
    pub fn piece_size(self, size: u64) -> u64 {
        size.div_ceil(self.needed() as u64)
    }

    /// Stored bytes per logical byte (ignoring the rounding of pieces).
    pub fn overhead(self) -> f64 {
        self.pieces() as f64 / self.needed() as f64
    }

    /// Proven pieces below which lazy repair stops waiting for silent holders
    /// (past their own patience): replication keeps one copy of slack from
    /// three copies up ([`patience::floor`]); Reed–Solomon keeps half its
    /// parity (rounded up), so that at the floor as many further losses are
    /// survivable as replication allows at its floor or more.
    pub fn floor(self) -> usize {
        match self {
            Scheme::Replicate { copies } => patience::floor(copies as usize),
            Scheme::Rs { data, parity } => data as usize + (parity as usize).div_ceil(2),
        }
    }

    /// Bytes moved to restore `missing` pieces of a shard of `size` bytes:
    /// a whole copy per missing copy, or, for Reed–Solomon, `data - 1` pieces
    /// gathered by a rebuilder that holds one (or `data` by one that holds
    /// none, `holds_one` false) plus each rebuilt piece sent on.
    pub fn rebuild_bytes(self, size: u64, missing: usize, holds_one: bool) -> u64 {
        if missing == 0 {
            return 0;
        }
        self.gather_bytes(size, holds_one) + self.piece_size(size) * missing as u64
    }

    /// Bytes a rebuilder reads from other holders before it can send any
    /// piece of a shard of `size` bytes: none for copies (it sends its own),
    /// `data - 1` pieces (or `data`, holding none) for Reed–Solomon.
    pub fn gather_bytes(self, size: u64, holds_one: bool) -> u64 {
        match self {
            Scheme::Replicate { .. } => 0,
            Scheme::Rs { data, .. } => {
                self.piece_size(size) * (u64::from(data) - u64::from(holds_one))
            }
        }
    }

    /// Probability that fewer than [`needed`](Self::needed) pieces survive
    /// when each is lost independently with probability `p`.
    pub fn loss(self, p: f64) -> f64 {
        let (n, m) = (self.pieces(), self.pieces() - self.needed());
        // Lost when more than m of n pieces fail.
        ((m + 1)..=n)
            .map(|i| binomial(n, i) * p.powi(i as i32) * (1.0 - p).powi((n - i) as i32))
            .sum()
    }

    fn checked(self) -> Result<Scheme, SchemeError> {
        let ok = match self {
            Scheme::Replicate { copies } => copies >= 1,
            Scheme::Rs { data, parity } => data >= 1 && parity >= 1,
        };
        if ok && self.pieces() <= MAX_PIECES {
            Ok(self)
        } else {
            Err(SchemeError::Range(self.to_string()))
        }
    }
}

fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Points of (0, `p_ref`] where [`matching`] compares the schemes: from
/// `p_ref` down by factors of two, 40 of them (below that, the leading terms
/// decide and the order does not change).
fn grid(p_ref: f64) -> impl Iterator<Item = f64> {
    (0..40).map(move |i| p_ref / 2f64.powi(i))
}

/// The Reed–Solomon scheme with `data` data pieces and the fewest parity
/// pieces whose loss probability is no higher than `copies` whole copies'
/// at every piece-loss probability up to `p_ref`; replication itself when
/// none fits within [`MAX_PIECES`], when it would store no fewer bytes (one
/// copy), or when `data` is 1 (which is replication).
pub fn matching(copies: usize, data: usize, p_ref: f64) -> Scheme {
    let copies = copies.clamp(1, MAX_PIECES);
    let rep = Scheme::Replicate {
        copies: copies as u8,
    };
    if data <= 1 {
        return rep;
    }
    (1..=MAX_PIECES.saturating_sub(data))
        .map(|parity| Scheme::Rs {
            data: data as u8,
            parity: parity as u8,
        })
        .find(|rs| grid(p_ref).all(|p| rs.loss(p) <= rep.loss(p)))
        .filter(|rs| rs.overhead() < copies as f64)
        .unwrap_or(rep)
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scheme::Replicate { copies } => write!(f, "replicate {copies}"),
            Scheme::Rs { data, parity } => write!(f, "rs {data}+{parity}"),
        }
    }
}

impl FromStr for Scheme {
    type Err = SchemeError;

    fn from_str(s: &str) -> Result<Scheme, SchemeError> {
        let syntax = || SchemeError::Syntax(s.to_string());
        let mut words = s.split_whitespace();
        let (kind, arg) = (words.next(), words.next());
        if words.next().is_some() {
            return Err(syntax());
        }
        let num = |t: &str| t.parse::<u8>().map_err(|_| syntax());
        let scheme = match (kind, arg) {
            (Some("replicate"), Some(n)) => Scheme::Replicate { copies: num(n)? },
            (Some("rs"), Some(km)) => {
                let (k, m) = km.split_once('+').ok_or_else(syntax)?;
                Scheme::Rs {
                    data: num(k)?,
                    parity: num(m)?,
                }
            }
            _ => return Err(syntax()),
        };
        scheme.checked()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_and_prints_both_kinds() {
        for s in ["replicate 3", "rs 4+3", "rs 10+20"] {
            assert_eq!(s.parse::<Scheme>().unwrap().to_string(), s);
        }
        for bad in [
            "",
            "rs",
            "rs 4",
            "rs 4+",
            "rs 0+3",
            "rs 4+0",
            "replicate 0",
            "rs 30+3",
            "mirror 2",
            "rs 4+3 x",
            "replicate -1",
        ] {
            assert!(bad.parse::<Scheme>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_tiers_match_with_far_fewer_stored_bytes() {
        // bronze 2, silver 3, gold 5, critical 7 copies, with 4 data pieces.
        let got: Vec<String> = [2, 3, 5, 7]
            .iter()
            .map(|&n| matching(n, 4, P_REF).to_string())
            .collect();
        assert_eq!(got, ["rs 4+2", "rs 4+3", "rs 4+5", "rs 4+7"]);
        for n in [2, 3, 5, 7] {
            let rs = matching(n, 4, P_REF);
            assert!(rs.overhead() < n as f64 / 1.3, "{rs} against {n} copies");
        }
    }

    #[test]
    fn a_rebuild_gathers_k_pieces_once_for_all_missing_ones() {
        let rs = Scheme::Rs { data: 4, parity: 3 };
        let mib = 1 << 20;
        assert_eq!(rs.piece_size(4 * mib), mib);
        // Holding one piece: 3 gathered + 2 sent.
        assert_eq!(rs.rebuild_bytes(4 * mib, 2, true), 5 * mib);
        assert_eq!(rs.rebuild_bytes(4 * mib, 1, false), 5 * mib);
        assert_eq!(rs.rebuild_bytes(4 * mib, 0, true), 0);
        let rep = Scheme::Replicate { copies: 3 };
        assert_eq!(rep.rebuild_bytes(4 * mib, 2, true), 8 * mib);
    }

    #[test]
    fn replication_floors_are_the_patience_floors() {
        for n in 1..=7u8 {
            let s = Scheme::Replicate { copies: n };
            assert_eq!(s.floor(), patience::floor(n as usize));
            assert_eq!(s.needed(), 1);
            assert!((s.loss(0.1) - 0.1f64.powi(n as i32)).abs() < 1e-12);
        }
        assert_eq!(Scheme::Rs { data: 4, parity: 3 }.floor(), 6);
        assert_eq!(Scheme::Rs { data: 4, parity: 5 }.floor(), 7);
    }

    proptest! {
        #[test]
        fn matching_is_never_less_durable_up_to_p_ref(
            copies in 1usize..8,
            data in 1usize..12,
            p_exp in 0.0f64..6.0,
        ) {
            let p = P_REF / 10f64.powf(p_exp);
            let s = matching(copies, data, P_REF);
            let rep = Scheme::Replicate { copies: copies as u8 };
            prop_assert!(s.loss(p) <= rep.loss(p) * (1.0 + 1e-9), "{s} at {p}");
            prop_assert!(s.pieces() <= MAX_PIECES);
            // Never more stored bytes than replication.
            prop_assert!(s.overhead() <= copies as f64 + 1e-9);
        }

        #[test]
        fn pieces_cover_the_shard_and_floors_sit_between_needed_and_pieces(
            data in 1u8..16,
            parity in 1u8..16,
            size in 0u64..(1 << 40),
        ) {
            let s = Scheme::Rs { data, parity };
            prop_assert!(s.piece_size(size) * data as u64 >= size);
            prop_assert!(s.piece_size(size) * (data as u64) < size + data as u64);
            prop_assert!(s.floor() > s.needed() && s.floor() <= s.pieces());
            prop_assert!(s.loss(0.01) <= 1.0 && s.loss(0.01) >= 0.0);
        }
    }
}

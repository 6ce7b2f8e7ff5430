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

mod policy;
pub mod rebuild;
pub mod stripe;

pub use policy::{Policy, MATCHING_DATA};

use crate::patience::{self, Wait};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

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
    /// parity (rounded up) as margin, its repair threshold ([`matching`]
    /// sizes that margin; the other half is what one rebuild restores).
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

/// The cheapest Reed–Solomon scheme with `data` data pieces that is at
/// least as durable as `copies` whole copies where lazy repair keeps a
/// shard, at its floor, at every piece-loss probability up to `p_ref`;
/// replication itself when none fits within [`MAX_PIECES`], when it would
/// store no fewer bytes, or when `data` is 1 (which is replication).
///
/// Lazy repair lets a shard sit at its floor for long stretches (a silent
/// holder keeps its place, nothing is rebuilt), so the floor is where the
/// schemes must be compared, not at their full piece count:
/// - the margin `t` is the fewest pieces above `data` at which `data + t`
///   pieces are as durable as replication's [`patience::floor`] copies;
/// - the parity is `2t` (or `2t - 1` when `2t` would store as much as the
///   copies): `t` of margin below the floor ([`Scheme::floor`] is
///   `data + ceil(parity / 2)`) and `t` (or `t - 1`) above it, the pieces
///   one rebuild restores from one gather of `data` pieces
///   ([`Scheme::verdict`]).
pub fn matching(copies: usize, data: usize, p_ref: f64) -> Scheme {
    let copies = copies.clamp(1, MAX_PIECES);
    let rep = Scheme::Replicate {
        copies: copies as u8,
    };
    if data <= 1 {
        return rep;
    }
    let at_floor = Scheme::Replicate {
        copies: patience::floor(copies) as u8,
    };
    let rs = |parity: usize| Scheme::Rs {
        data: data as u8,
        parity: parity as u8,
    };
    let Some(t) = (1..=MAX_PIECES.saturating_sub(data))
        .find(|&t| grid(p_ref).all(|p| rs(t).loss(p) <= at_floor.loss(p)))
    else {
        return rep;
    };
    [2 * t, 2 * t - 1]
        .into_iter()
        .filter(|&m| m >= 1 && data + m <= MAX_PIECES)
        .map(rs)
        .find(|s| s.overhead() < copies as f64)
        .unwrap_or(rep)
}

/// A silent peer in a shard's responsible set, as one repair scan sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Silent {
    /// How long it has been silent.
    pub silent: Duration,
    /// Its patience ([`patience::Wait`]).
    pub wait: Wait,
    /// This node has its own evidence that it held a copy or piece.
    pub held: bool,
}

/// What one repair scan of one shard may do about its silent peers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Per silent peer (in the order given): it keeps its place in the
    /// responsible set, and nothing is made in its stead.
    pub kept: Vec<bool>,
    /// Missing copies or pieces may be made now. Always for replication
    /// (each place is decided on its own); for Reed–Solomon only below the
    /// repair threshold, and then for every missing piece at once.
    pub rebuild: bool,
}

impl Scheme {
    /// The repair rule for a shard with `live` copies or pieces proven on
    /// reachable peers and these `silent` peers in its responsible set.
    ///
    /// - Replication: each silent peer keeps its place for
    ///   [`patience::Wait::limit_at`] (the ceiling at or above the floor, its
    ///   own patience below, at most twice the base with one copy left).
    /// - Reed–Solomon: a rebuild costs a gather of `data` pieces whatever
    ///   it restores, so pieces are rebuilt in batches, as Storj's repair
    ///   threshold does. Every silent peer keeps its place while `live` plus
    ///   the held pieces whose holders are still within their own patience
    ///   reach the floor (`data + ceil(parity / 2)`), however long that is;
    ///   below it no silent peer keeps its place, so one gather restores
    ///   every missing piece. [`matching`] sizes the margin at the floor.
    pub fn verdict(self, live: usize, silent: &[Silent]) -> Verdict {
        let (needed, floor) = (self.needed(), self.floor());
        let within = |s: &Silent| s.silent < s.wait.limit_at(s.held, live, needed, floor);
        match self {
            Scheme::Replicate { .. } => Verdict {
                kept: silent.iter().map(within).collect(),
                rebuild: true,
            },
            Scheme::Rs { .. } => {
                let waiting = silent.iter().filter(|s| s.held && within(s)).count();
                let rebuild = live + waiting < floor;
                Verdict {
                    kept: vec![!rebuild; silent.len()],
                    rebuild,
                }
            }
        }
    }
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
mod tests;

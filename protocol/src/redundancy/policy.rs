//! An owner's choice of redundancy for a backup's file chunks, and the
//! scheme it gives each chunk from the copies its terms ask for.
//!
//! Terms carry copies (a tier's, or a lifecycle rule's), so the policy maps
//! copies to a scheme: `replicate` keeps them as copies; `rs` picks the
//! cheapest Reed–Solomon scheme as durable as those copies
//! ([`matching`] with 4 data pieces); `rs K+M` fixes one scheme for every
//! chunk. Manifests and catalogue records stay copies whatever the policy:
//! they are small, and a restore needs them before anything else.

use super::{matching, Scheme, SchemeError, P_REF};
use std::fmt;
use std::str::FromStr;

/// Data pieces of the schemes `rs` picks: a quarter of a shard per holder.
pub const MATCHING_DATA: usize = 4;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Policy {
    /// Whole copies, as many as the terms ask.
    #[default]
    Replicate,
    /// The Reed–Solomon scheme as durable as the terms' copies.
    Matching,
    /// This scheme for every chunk.
    Fixed(Scheme),
}

impl Policy {
    /// The scheme of a chunk whose terms ask for `copies`.
    pub fn scheme(self, copies: usize) -> Scheme {
        let copies = copies.clamp(1, super::MAX_PIECES);
        match self {
            Policy::Replicate => Scheme::Replicate {
                copies: copies as u8,
            },
            Policy::Matching => matching(copies, MATCHING_DATA, P_REF),
            Policy::Fixed(s) => s,
        }
    }
}

impl fmt::Display for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Policy::Replicate => f.write_str("replicate"),
            Policy::Matching => f.write_str("rs"),
            Policy::Fixed(s) => s.fmt(f),
        }
    }
}

impl FromStr for Policy {
    type Err = SchemeError;

    /// `replicate`, `rs`, or a scheme (`rs 4+3`; `replicate N` fixes the
    /// copies too).
    fn from_str(s: &str) -> Result<Policy, SchemeError> {
        match s.trim() {
            "replicate" => Ok(Policy::Replicate),
            "rs" => Ok(Policy::Matching),
            other => other.parse().map(Policy::Fixed),
        }
    }
}

impl serde::Serialize for Policy {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Policy {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Policy, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tier::Tier;

    #[test]
    fn parses_and_maps_copies_to_schemes() {
        assert_eq!("replicate".parse(), Ok(Policy::Replicate));
        assert_eq!(" rs ".parse(), Ok(Policy::Matching));
        assert_eq!(
            "rs 2+2".parse(),
            Ok(Policy::Fixed(Scheme::Rs { data: 2, parity: 2 }))
        );
        assert!("rs 0+2".parse::<Policy>().is_err());
        assert!("erasure".parse::<Policy>().is_err());
        for p in [
            Policy::Replicate,
            Policy::Matching,
            "rs 3+2".parse().unwrap(),
        ] {
            assert_eq!(p.to_string().parse(), Ok(p));
        }
        assert_eq!(Policy::Replicate.scheme(3), Scheme::Replicate { copies: 3 });
        // `rs` stores fewer bytes than every tier's copies, at least as durably.
        for t in [Tier::Bronze, Tier::Silver, Tier::Gold, Tier::Critical] {
            let c = t.copies() as usize;
            let s = Policy::Matching.scheme(c);
            assert!(matches!(s, Scheme::Rs { data: 4, .. }), "{t:?}: {s}");
            assert!(s.overhead() < c as f64, "{t:?}: {s}");
        }
    }
}

//! Retention tiers from the runbooks: how long a backup is kept and how many
//! copies of each of its shards the swarm keeps.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Seconds in a day, for retention maths (leap seconds ignored, as everywhere).
pub const DAY_SECS: u64 = 86_400;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Tier {
    /// 7 years, 7 copies.
    Critical,
    /// 3 years, 5 copies.
    Gold,
    /// 1 year, 3 copies.
    Silver,
    /// 90 days, 2 copies.
    Bronze,
}

impl Tier {
    pub const ALL: [Tier; 4] = [Tier::Critical, Tier::Gold, Tier::Silver, Tier::Bronze];

    /// Days a backup of this tier is retained.
    pub fn retention_days(self) -> u64 {
        match self {
            Tier::Critical => 7 * 365 + 2, // seven years including two leap days
            Tier::Gold => 3 * 365 + 1,
            Tier::Silver => 365,
            Tier::Bronze => 90,
        }
    }

    /// Replicas of every shard the swarm keeps for this tier.
    pub fn copies(self) -> u32 {
        match self {
            Tier::Critical => 7,
            Tier::Gold => 5,
            Tier::Silver => 3,
            Tier::Bronze => 2,
        }
    }

    /// Expiry (unix seconds) of a backup created at `created_at`.
    pub fn expires_at(self, created_at: u64) -> u64 {
        created_at.saturating_add(self.retention_days() * DAY_SECS)
    }

    pub fn name(self) -> &'static str {
        match self {
            Tier::Critical => "critical",
            Tier::Gold => "gold",
            Tier::Silver => "silver",
            Tier::Bronze => "bronze",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("unknown tier {0:?}: expected critical, gold, silver or bronze")]
pub struct UnknownTier(pub String);

impl FromStr for Tier {
    type Err = UnknownTier;
    fn from_str(s: &str) -> Result<Self, UnknownTier> {
        Tier::ALL
            .into_iter()
            .find(|t| t.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownTier(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runbook_figures() {
        let table: Vec<(Tier, u64, u32)> = Tier::ALL
            .iter()
            .map(|t| (*t, t.retention_days() / 365, t.copies()))
            .collect();
        assert_eq!(
            table,
            vec![
                (Tier::Critical, 7, 7),
                (Tier::Gold, 3, 5),
                (Tier::Silver, 1, 3),
                (Tier::Bronze, 0, 2)
            ]
        );
        assert_eq!(Tier::Bronze.expires_at(0), 90 * DAY_SECS);
        assert_eq!(Tier::Gold.expires_at(u64::MAX), u64::MAX);
    }

    #[test]
    fn parse() {
        assert_eq!("Gold".parse::<Tier>(), Ok(Tier::Gold));
        assert!("platinum".parse::<Tier>().is_err());
    }
}

//! Lifecycle rules: one backup can hold files at different tiers. A rule maps
//! a path glob (matched against the path as the backup records it, e.g.
//! `photos/2026/a.jpg`; `**` crosses directories) to a tier, or to a number
//! of days and copies. The first matching rule wins; files no rule matches
//! take the backup's tier. The manifest, which every file's restore needs,
//! is kept as long and in as many copies as the most demanding file.
//!
//! Pure, so that the backup, the simulator and any planner read rules alike.

use crate::lease::{MAX_COPIES, MAX_TERM_SECS};
use crate::tier::{Tier, DAY_SECS};
use globset::{Glob, GlobMatcher};
use serde::{Deserialize, Serialize};

/// A rule as written in `config.toml`:
/// `[[lifecycle]] path = "logs/**" tier = "bronze"`, or
/// `[[lifecycle]] path = "**/*.raw" days = 30 copies = 2`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub path: String,
    /// A tier's name: critical, gold, silver, bronze.
    #[serde(default)]
    pub tier: Option<String>,
    #[serde(default)]
    pub days: Option<u64>,
    #[serde(default)]
    pub copies: Option<u8>,
}

/// How long and in how many copies a file's shards are kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Keep {
    pub days: u64,
    pub copies: u8,
}

impl Keep {
    pub fn of(t: Tier) -> Keep {
        Keep {
            days: t.retention_days(),
            copies: t.copies() as u8,
        }
    }

    pub fn expires_at(self, created_at: u64) -> u64 {
        created_at.saturating_add(self.days.saturating_mul(DAY_SECS))
    }

    /// The longer term and the more copies of the two.
    pub fn widest(self, other: Keep) -> Keep {
        Keep {
            days: self.days.max(other.days),
            copies: self.copies.max(other.copies),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("lifecycle rule {path:?}: not a glob: {reason}")]
    BadGlob { path: String, reason: String },
    #[error("lifecycle rule {path:?}: {reason}")]
    Tier { path: String, reason: String },
    #[error("lifecycle rule {0:?}: give either a tier, or both days and copies")]
    Target(String),
    #[error("lifecycle rule {path:?}: {copies} copies (1 to {MAX_COPIES})")]
    Copies { path: String, copies: u8 },
    #[error("lifecycle rule {path:?}: {days} days (1 to {} days)", MAX_TERM_SECS / DAY_SECS)]
    Days { path: String, days: u64 },
}

/// Rules checked and compiled, in order.
#[derive(Clone, Debug, Default)]
pub struct Rules {
    rules: Vec<(GlobMatcher, Keep)>,
}

impl Rules {
    pub fn new(rules: &[Rule]) -> Result<Rules, RuleError> {
        let mut out = Vec::with_capacity(rules.len());
        for r in rules {
            let keep = match (&r.tier, r.days, r.copies) {
                (Some(t), None, None) => {
                    Keep::of(t.parse::<Tier>().map_err(|e| RuleError::Tier {
                        path: r.path.clone(),
                        reason: e.to_string(),
                    })?)
                }
                (None, Some(days), Some(copies)) => Keep { days, copies },
                _ => return Err(RuleError::Target(r.path.clone())),
            };
            if keep.copies == 0 || keep.copies > MAX_COPIES {
                return Err(RuleError::Copies {
                    path: r.path.clone(),
                    copies: keep.copies,
                });
            }
            if keep.days == 0 || keep.days > MAX_TERM_SECS / DAY_SECS {
                return Err(RuleError::Days {
                    path: r.path.clone(),
                    days: keep.days,
                });
            }
            let glob = Glob::new(&r.path).map_err(|e| RuleError::BadGlob {
                path: r.path.clone(),
                reason: e.kind().to_string(),
            })?;
            out.push((glob.compile_matcher(), keep));
        }
        Ok(Rules { rules: out })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// What the first rule matching `path` says, else `default`.
    pub fn keep_for(&self, path: &str, default: Keep) -> Keep {
        self.rules
            .iter()
            .find(|(g, _)| g.is_match(path))
            .map_or(default, |(_, k)| *k)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn rule(path: &str, tier: Option<Tier>, days: Option<u64>, copies: Option<u8>) -> Rule {
        Rule {
            path: path.into(),
            tier: tier.map(|t| t.to_string()),
            days,
            copies,
        }
    }

    #[test]
    fn first_match_wins_and_the_rest_take_the_default() {
        let r = Rules::new(&[
            rule("logs/**", Some(Tier::Bronze), None, None),
            rule("**/*.raw", None, Some(30), Some(4)),
            rule("logs/keep/**", Some(Tier::Critical), None, None),
        ])
        .unwrap();
        let silver = Keep::of(Tier::Silver);
        assert_eq!(
            r.keep_for("logs/keep/a.log", silver),
            Keep::of(Tier::Bronze)
        );
        assert_eq!(
            r.keep_for("photos/x.raw", silver),
            Keep {
                days: 30,
                copies: 4
            }
        );
        assert_eq!(r.keep_for("photos/x.jpg", silver), silver);
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        assert!(matches!(
            Rules::new(&[rule("a", Some(Tier::Gold), Some(3), None)]),
            Err(RuleError::Target(_))
        ));
        assert!(matches!(
            Rules::new(&[rule("a", None, Some(3), None)]),
            Err(RuleError::Target(_))
        ));
        assert!(matches!(
            Rules::new(&[rule("a", None, Some(3), Some(9))]),
            Err(RuleError::Copies { .. })
        ));
        assert!(matches!(
            Rules::new(&[rule("a", None, Some(0), Some(2))]),
            Err(RuleError::Days { .. })
        ));
        assert!(matches!(
            Rules::new(&[rule("a[", Some(Tier::Gold), None, None)]),
            Err(RuleError::BadGlob { .. })
        ));
        let e = serde_json::from_str::<Rule>(r#"{"path": "x", "tier": "gold", "bogus": 1}"#);
        assert!(e.is_err());
        let mut wrong = rule("a", None, None, None);
        wrong.tier = Some("platinum".into());
        assert!(matches!(Rules::new(&[wrong]), Err(RuleError::Tier { .. })));
    }

    proptest! {
        /// The widest of any keeps is at least each of them: the manifest
        /// outlives and outnumbers every file it lists.
        #[test]
        fn widest_covers_each(keeps in prop::collection::vec((1u64..4000, 1u8..8), 1..20)) {
            let ks: Vec<Keep> = keeps.iter().map(|&(days, copies)| Keep { days, copies }).collect();
            let w = ks.iter().copied().reduce(Keep::widest).unwrap();
            for k in &ks {
                prop_assert!(w.days >= k.days && w.copies >= k.copies);
                prop_assert!(w.expires_at(1000) >= k.expires_at(1000));
            }
        }
    }
}

//! `shardnet bench --sybil`: what an attacker needs to take a majority of one
//! chosen shard's responsible set, by grinding peer ids until enough of them
//! land closest to the shard.
//!
//! Measured, not derived: real ed25519 key generation and the node's own
//! placement (`protocol::placement::responsible_set`, zone-aware), against
//! `n` honest peers with random ids in 8 zones. Attackers:
//! - one that announces a fresh zone per id (what a private swarm, where
//!   zones are announced, would let it do);
//! - one that reuses the honest zone names;
//! - one running from `k` public network prefixes: in an open swarm a public
//!   peer's zone is its observed prefix (`protocol::netzone`), whatever it
//!   announces. With fewer prefixes than a majority it never gets one; the
//!   grind stops at a cap and the row says so.
//!
//! The ids are ground without admission work; with it
//! (`protocol::admission`), each id that counts costs `2^difficulty` key
//! generations more, independent of where the id lands (the puzzle hash is
//! not the placement key), so the attack's cost is the ids generated here
//! times `2^difficulty` times the key generation time measured in the same
//! run.

use super::Row;
use libp2p::identity::Keypair;
use shardnet_protocol::admission;
use shardnet_protocol::placement::{self, Candidate};
use shardnet_protocol::ShardId;
use std::time::Instant;

/// Honest zones.
const ZONES: usize = 8;
/// Trials per configuration (each a fresh swarm and target shard).
const TRIALS: usize = 3;
/// Ids an attacker from too few prefixes grinds, per honest peer, before
/// the trial stops.
const CAP_PER_HONEST: u64 = 20;

/// How the attacker's ids are zoned.
#[derive(Clone, Copy, Debug)]
enum Zoning {
    FreshPerId,
    HonestNames,
    Prefixes(usize),
}

/// One configuration's figures.
#[derive(Clone, Debug, serde::Serialize)]
pub(super) struct Trial {
    pub honest: usize,
    pub copies: usize,
    pub attacker_zones: String,
    /// Whether every trial reached a majority (false: stopped at the cap).
    pub majority: bool,
    /// Mean ids generated until the attacker held a majority, or the cap
    /// (no admission work).
    pub ids: f64,
    /// Mean CPU seconds of that grinding.
    pub cpu_secs: f64,
    /// CPU hours for the same attack when every id must carry the default
    /// admission work (`ids × 2^20` key generations at the measured rate).
    pub cpu_hours_default_work: f64,
}

/// Key generations per CPU second (ed25519 key, peer id, admission hash):
/// what one try of an admission grind costs on this machine.
pub(super) fn key_rate() -> f64 {
    let t = Instant::now();
    let n = 20_000;
    for _ in 0..n {
        let k = Keypair::generate_ed25519();
        std::hint::black_box(admission::work(&k.public().to_peer_id().to_bytes()));
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn candidate(key: [u8; 32], zone: String, peer: usize) -> Candidate<usize> {
    // Equal weights: the attacker announces what honest peers do.
    Candidate::new(peer, key, zone, 1 << 40)
}

fn random_key() -> [u8; 32] {
    let k = Keypair::generate_ed25519();
    placement::peer_key(&k.public().to_peer_id().to_bytes())
}

/// Ids ground until the attacker holds a majority of `target`'s set, or
/// `cap` ids: (ids, seconds, majority reached).
fn one_trial(n: usize, copies: usize, zoning: Zoning, cap: u64) -> (u64, f64, bool) {
    let mut peers: Vec<Candidate<usize>> = (0..n)
        .map(|i| candidate(random_key(), format!("z{}", i % ZONES), i))
        .collect();
    let mut target = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut target);
    let target = ShardId(target);
    let need = copies / 2 + 1;
    let t = Instant::now();
    let mut tried = 0u64;
    loop {
        // The farthest member of the current set bounds what can get in.
        let set = placement::responsible_set(&target, 0, &peers, copies);
        let held = set.iter().filter(|&&p| p >= n).count();
        if held >= need {
            return (tried, t.elapsed().as_secs_f64(), true);
        }
        let worst = set
            .iter()
            .map(|&p| peers[p].reach(&target))
            .max()
            .unwrap_or(u128::MAX);
        loop {
            if tried >= cap {
                return (tried, t.elapsed().as_secs_f64(), false);
            }
            tried += 1;
            let key = random_key();
            let c = candidate(key, String::new(), 0);
            if c.reach(&target) < worst {
                let zone = match zoning {
                    Zoning::FreshPerId => format!("sybil{tried}"),
                    Zoning::HonestNames => format!("z{}", tried as usize % ZONES),
                    Zoning::Prefixes(k) => format!("net:198.51.{}.0/24", tried as usize % k),
                };
                let id = peers.len();
                peers.push(candidate(key, zone, id));
                break;
            }
        }
    }
}

/// Runs every configuration for each of `sizes` honest swarm sizes.
pub(super) fn run(sizes: &[usize]) -> (f64, Vec<Trial>) {
    let rate = key_rate();
    let mut rows = Vec::new();
    for &n in sizes {
        for copies in [3usize, 5] {
            let need = copies / 2 + 1;
            let zonings = [
                (Zoning::FreshPerId, "fresh per id".to_string()),
                (Zoning::HonestNames, "honest names".to_string()),
                (
                    Zoning::Prefixes(need - 1),
                    format!("{} public /24", need - 1),
                ),
                (Zoning::Prefixes(need), format!("{need} public /24")),
            ];
            for (zoning, name) in zonings {
                let cap = CAP_PER_HONEST * n as u64;
                let (mut ids, mut secs, mut all) = (0u64, 0f64, true);
                for _ in 0..TRIALS {
                    let (i, s, reached) = one_trial(n, copies, zoning, cap);
                    ids += i;
                    secs += s;
                    all &= reached;
                }
                let ids = ids as f64 / TRIALS as f64;
                rows.push(Trial {
                    honest: n,
                    copies,
                    attacker_zones: name,
                    majority: all,
                    ids,
                    cpu_secs: secs / TRIALS as f64,
                    cpu_hours_default_work: ids
                        * admission::expected_tries(admission::DEFAULT_DIFFICULTY)
                        / rate
                        / 3600.0,
                });
            }
        }
    }
    (rate, rows)
}

/// Runs the sybil bench and prints its figures (a table, or JSON).
pub(crate) fn report(sizes: &[usize], json: bool) -> anyhow::Result<()> {
    let (rate, trials) = run(sizes);
    let work = admission::expected_tries(admission::DEFAULT_DIFFICULTY) / rate;
    let mut rows = vec![Row::figure(
        "key generation",
        rate,
        "ids per CPU-second",
        format!(
            "an id with the default {} bits of admission work costs {work:.1} CPU-s",
            admission::DEFAULT_DIFFICULTY
        ),
    )];
    rows.extend(trials.iter().map(|t| {
        let what = format!(
            "ids to hold a majority: {} honest peers, {} copies, attacker zones {}",
            t.honest, t.copies, t.attacker_zones
        );
        let note = if t.majority {
            format!(
                "{:.2} CPU-s; {:.1} CPU-hours with admission work",
                t.cpu_secs, t.cpu_hours_default_work
            )
        } else {
            format!(
                "never: stopped after {:.0} ids ({:.2} CPU-s)",
                t.ids, t.cpu_secs
            )
        };
        Row::figure(what, t.ids, "ids", note)
    }));
    let title = format!(
        "shardnet bench --sybil: ids ground until they hold a majority of one chosen shard's responsible set (mean of {TRIALS})"
    );
    super::print_rows(
        "sybil",
        serde_json::json!({ "keys_per_cpu_second": rate }),
        &title,
        &rows,
        json,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_small_swarm_is_taken_with_few_ids() {
        // 20 honest peers, 3 copies: a majority takes a few dozen ids at
        // most (each id lands in the top 3 with a chance of about 3 in 20).
        let (ids, _, reached) = one_trial(20, 3, Zoning::HonestNames, 100_000);
        assert!(reached && (2..2000).contains(&ids), "{ids}");
    }

    #[test]
    fn one_prefix_never_holds_a_majority_while_honest_zones_abound() {
        // 8 honest zones, 3 copies: zone spread gives one prefix one place.
        let (ids, _, reached) = one_trial(20, 3, Zoning::Prefixes(1), 3000);
        assert!(!reached && ids == 3000);
        let (_, _, reached) = one_trial(20, 3, Zoning::Prefixes(2), 100_000);
        assert!(reached);
    }
}

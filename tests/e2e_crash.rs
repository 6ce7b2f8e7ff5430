//! Crash safety of prune: 200 trials, each killing a `shardnet` process with
//! SIGKILL (`SHARDNET_CRASH_AT`, node/src/fault.rs) at a random point of a
//! prune run or of a purge, on one data dir that lives through all of them.
//! Copies to prune come from `backup delete` (their leases released:
//! orphaned); a live backup shares the store. After every trial the next
//! command opens the store cleanly and finishes the interrupted job (a run
//! rolls back, a purge resumes); no live copy is ever quarantined, missing
//! or corrupted, no job is left half done, and every 25 trials the live
//! backup passes a full verify (every byte re-hashed and decrypted).

mod common;

use common::{bin, random_bytes, Env, ID_DIFFICULTY};
use serde_json::Value;
use std::collections::HashMap;
use std::process::{Command, Stdio};

const TRIALS: usize = 200;
/// Small files: one shard each, so that one backup gives many copies.
const FILES: usize = 24;

/// Runs `shardnet ARGS` with a crash point armed; true when it was killed.
fn run_crashing(env: &Env, point: &str, n: usize, args: &[&str]) -> bool {
    let out = Command::new(bin())
        .args(args)
        .env("SHARDNET_DATA_DIR", env.data_dir())
        .env("SHARDNET_ID_DIFFICULTY", ID_DIFFICULTY.to_string())
        .env("SHARDNET_CRASH_AT", format!("{point}:{n}"))
        .stdin(Stdio::null())
        .output()
        .expect("spawn shardnet");
    match out.status.code() {
        Some(0) => false,
        None => {
            use std::os::unix::process::ExitStatusExt;
            assert_eq!(out.status.signal(), Some(9), "{out:?}");
            true
        }
        Some(c) => panic!(
            "shardnet {args:?} failed ({c}): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// Shard id → (state, retention).
fn shards(env: &Env) -> HashMap<String, (String, String)> {
    env.run(&["shards", "list", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_string(),
                (
                    r["state"].as_str().unwrap().to_string(),
                    r["retention"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

/// A backup of FILES small files, deleted at once: its copies are orphaned.
fn orphans(env: &Env, g: u64) {
    let src = env.path(&format!("gone-{g}"));
    std::fs::create_dir_all(&src).unwrap();
    for i in 0..FILES as u64 {
        std::fs::write(src.join(format!("f{i}")), random_bytes(g * 1000 + i, 6000)).unwrap();
    }
    let (id, _) = env.backup(&["--tier", "bronze", src.to_str().unwrap()]);
    env.run(&["backup", "delete", &id, "--yes"]).ok();
}

/// What must hold after any crash, once the next command has recovered.
/// Returns the jobs.
fn check(env: &Env, live: &[String], trial: usize) -> Value {
    let jobs = env.run(&["prune", "jobs", "--json"]).ok().json();
    for j in jobs.as_array().unwrap() {
        let state = j["state"].as_str().unwrap();
        assert!(
            matches!(state, "done" | "rolled-back" | "purged"),
            "trial {trial}: job {} left {state}",
            j["id"]
        );
    }
    let now = shards(env);
    for id in live {
        assert_eq!(
            now.get(id).map(|s| s.0.as_str()),
            Some("Healthy"),
            "trial {trial}: live copy {id} is not healthy"
        );
    }
    for (id, (state, retention)) in &now {
        assert_ne!(state, "Corrupted", "trial {trial}: {id} corrupted");
        if state == "Quarantined" {
            assert_eq!(retention, "orphaned", "trial {trial}: {id} quarantined");
        }
    }
    jobs
}

fn orphaned_healthy(env: &Env) -> usize {
    shards(env)
        .values()
        .filter(|(s, r)| s == "Healthy" && r == "orphaned")
        .count()
}

#[test]
fn prune_and_purge_survive_kill_9_at_any_point() {
    let env = Env::new();
    env.run(&["init"]).ok();
    let keep = env.path("keep");
    std::fs::create_dir_all(&keep).unwrap();
    for i in 0..8u64 {
        std::fs::write(keep.join(format!("k{i}")), random_bytes(i, 9000)).unwrap();
    }
    let (kept, _) = env.backup(&["--tier", "silver", keep.to_str().unwrap()]);
    let live: Vec<String> = shards(&env).into_keys().collect();
    let mut rng_state = 0x9e37_79b9_7f4a_7c15u64;
    let mut rng = |n: usize| {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        (rng_state % n as u64) as usize
    };
    let (mut generation, mut crashed, mut purged) = (0u64, [0usize; 2], 0usize);
    for trial in 0..TRIALS {
        let mut n = orphaned_healthy(&env);
        if n < FILES / 2 {
            generation += 1;
            orphans(&env, generation);
            n = orphaned_healthy(&env);
        }
        if trial % 2 == 0 {
            // Points of a run: the job record, then three per entry.
            let k = 1 + rng(1 + 3 * n);
            let died = run_crashing(
                &env,
                "prune-run",
                k,
                &["prune", "run", "--class", "orphaned", "--json"],
            );
            crashed[0] += usize::from(died);
            let jobs = check(&env, &live, trial);
            // A run that finished leaves its copies in quarantine: roll
            // back, so the next trial has them again.
            for j in jobs.as_array().unwrap() {
                if j["state"] == "done" {
                    let id = j["id"].as_u64().unwrap().to_string();
                    env.run(&["prune", "rollback", &id]).ok();
                }
            }
        } else {
            let job: Value = env
                .run(&["prune", "run", "--class", "orphaned", "--json"])
                .ok()
                .json();
            let id = job["id"].as_u64().unwrap().to_string();
            let q = job["quarantined"].as_u64().unwrap() as usize;
            // Points of a purge: the job record, then two per entry.
            let k = 1 + rng(1 + 2 * q);
            let died = run_crashing(&env, "prune-purge", k, &["prune", "purge", &id]);
            crashed[1] += usize::from(died);
            check(&env, &live, trial);
            let st = env.run(&["prune", "status", &id, "--json"]).ok().json();
            assert_eq!(st["job"]["state"], "purged", "trial {trial}: {st}");
            purged += st["job"]["purged"].as_u64().unwrap() as usize;
        }
        if trial % 25 == 24 {
            env.run(&["backup", "verify", &kept, "--full"]).ok();
        }
    }
    eprintln!(
        "{TRIALS} trials: {} runs and {} purges killed, {purged} copies purged over {generation} deleted backups",
        crashed[0], crashed[1]
    );
    assert!(crashed[0] >= TRIALS / 2 * 9 / 10, "{crashed:?}");
    assert!(crashed[1] >= TRIALS / 2 * 9 / 10, "{crashed:?}");
}

//! End-to-end: lifecycle rules and the automatic purge, on a real node
//! process. `config.toml` maps `**/logs/**` to bronze and `**/*.raw` to 30
//! days in 2 copies; one silver backup holds all three kinds of file. Every
//! chunk's lease carries its file's terms, and the manifest the widest.
//! 100 days on, a prune job of the expired copies is purged by the node
//! itself once `--prune-purge-after` has passed, and the silver files still
//! restore. A bad rule is refused with its reason.

mod common;

use common::{random_bytes, Env, NodeProc};
use std::collections::HashMap;
use std::time::{Duration, Instant};

const RULES: &str = r#"
[[lifecycle]]
path = "**/logs/**"
tier = "bronze"

[[lifecycle]]
path = "**/*.raw"
days = 30
copies = 2
"#;

/// Shard id → (copies, expiry) of its one lease.
fn leases(env: &Env, n: &NodeProc) -> HashMap<String, (u64, u64)> {
    n.run(env, &["shards", "list", "--json"])
        .ok()
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let l = &r["leases"][0];
            (
                r["id"].as_str().unwrap().to_string(),
                (
                    l["copies"].as_u64().unwrap(),
                    l["expires_at"].as_u64().unwrap(),
                ),
            )
        })
        .collect()
}

#[test]
fn files_keep_their_rules_terms_and_expired_jobs_purge_themselves() {
    let env = Env::new();
    let data = env.path("solo");
    env.run_in(&data, &["init"]).ok();
    std::fs::write(data.join("config.toml"), RULES).unwrap();
    let src = env.path("src");
    std::fs::create_dir_all(src.join("logs")).unwrap();
    std::fs::write(src.join("logs/app.log"), random_bytes(1, 1500 << 10)).unwrap();
    std::fs::write(src.join("scan.raw"), random_bytes(2, 1500 << 10)).unwrap();
    std::fs::write(src.join("keep.txt"), random_bytes(3, 1500 << 10)).unwrap();

    let mut node = NodeProc::start(&env, "solo", "z", None, &[]);
    let v = node
        .run(
            &env,
            &[
                "backup",
                "create",
                "--json",
                "--tier",
                "silver",
                src.to_str().unwrap(),
            ],
        )
        .ok()
        .json();
    let id = v["entry"]["id"].as_str().unwrap().to_string();
    let created = v["entry"]["info"]["created_at"].as_u64().unwrap();
    let day = 86_400;
    let (bronze, raw, silver) = (
        (2, created + 90 * day),
        (2, created + 30 * day),
        (3, created + 365 * day),
    );
    assert_eq!(v["entry"]["info"]["expires_at"].as_u64().unwrap(), silver.1);
    let held = leases(&env, &node);
    let count = |t: (u64, u64)| held.values().filter(|l| **l == t).count();
    assert!(count(bronze) >= 1, "{held:?}");
    assert!(count(raw) >= 1, "{held:?}");
    // keep.txt's chunks, the manifest and its root: silver.
    assert!(count(silver) >= 3, "{held:?}");
    assert_eq!(
        held[&id], silver,
        "the manifest root takes the widest terms"
    );
    assert_eq!(count(bronze) + count(raw) + count(silver), held.len());
    assert_eq!(node.terminate(), Some(0));

    // 100 days on: bronze and the 30-day files are past expiry and grace.
    let node = NodeProc::start(
        &env,
        "solo",
        "z",
        None,
        &[
            "--clock-offset",
            "100d",
            "--scan-interval",
            "1",
            "--prune-purge-after",
            "3s",
        ],
    );
    let job = node
        .run(&env, &["prune", "run", "--class", "expired", "--json"])
        .ok()
        .json();
    assert_eq!(
        job["quarantined"].as_u64().unwrap() as usize,
        count(bronze) + count(raw),
        "{job}"
    );
    let jid = job["id"].as_u64().unwrap().to_string();
    let t = Instant::now();
    loop {
        let st = node
            .run(&env, &["prune", "status", &jid, "--json"])
            .ok()
            .json();
        if st["job"]["state"] == "purged" {
            break;
        }
        assert!(t.elapsed() < Duration::from_secs(30), "not purged: {st}");
        std::thread::sleep(Duration::from_millis(300));
    }
    eprintln!("purged by itself {:?} after the run", t.elapsed());
    // The job is purged in the store just before the node logs it.
    node.wait_for(Duration::from_secs(5), "the purge's log line", |n| {
        n.log_text().contains("rollback window is over")
    });
    let left = leases(&env, &node);
    assert!(left.values().all(|l| *l == silver), "{left:?}");
    let out = env.path("restored");
    node.run(
        &env,
        &[
            "backup",
            "restore",
            &id,
            out.to_str().unwrap(),
            "--path",
            "src/keep.txt",
        ],
    )
    .ok();
    assert_eq!(
        std::fs::read(out.join("src/keep.txt")).unwrap(),
        random_bytes(3, 1500 << 10)
    );

    // A bad rule: the backup is refused, and says why.
    std::fs::write(
        data.join("config.toml"),
        "[[lifecycle]]\npath = \"x/**\"\ntier = \"platinum\"\n",
    )
    .unwrap();
    let r = node.run(&env, &["backup", "create", src.to_str().unwrap()]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("platinum"), "{}", r.stderr);
}

/// `config check FILE` makes the checks `node run` makes, without a node:
/// a good file passes, and a mistyped key, a bad rule or a bad metrics
/// address fail with exit 1 and the reason, naming the file.
#[test]
fn config_check_validates_a_file_before_a_restart() {
    let env = Env::new();
    let check = |name: &str, text: &str| {
        let f = env.path(name);
        std::fs::write(&f, text).unwrap();
        env.run(&["config", "check", f.to_str().unwrap()])
    };
    let good = format!("zone = \"eu-1\"\nmetrics_listen = \"127.0.0.1:9464\"\n{RULES}");
    let r = check("good.toml", &good);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("good.toml: ok"), "{}", r.stdout);
    for (name, text, says) in [
        ("typo.toml", "zones = \"eu-1\"\n", "zones"),
        (
            "rule.toml",
            "[[lifecycle]]\npath = \"[\"\ntier = \"gold\"\n",
            "lifecycle",
        ),
        (
            "metrics.toml",
            "metrics_listen = \"nowhere\"\n",
            "metrics listen address",
        ),
        ("capacity.toml", "capacity = \"lots\"\n", "capacity"),
    ] {
        let r = check(name, text);
        assert_eq!(r.code, 1, "{name}: {}", r.stdout);
        assert!(
            r.stderr.contains(name) && r.stderr.contains(says),
            "{name}: {}",
            r.stderr
        );
    }
}

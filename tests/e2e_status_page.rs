//! End-to-end: the volunteers' status page in headless Chromium (Debian's
//! `chromium`, driven by tests/browser/status_page.mjs through
//! playwright-core). Two nodes and a backup: the page refuses a wrong
//! token, opens a session with the read-only token, refreshes without a
//! console error, shows the numbers `node status --json` gives and the
//! backup and peer, and a screenshot is saved (its path is printed).
//!
//! Without chromium or node the test is skipped with a message, unless
//! `SHARDNET_REQUIRE_BROWSER` is set (scripts/test.sh sets it and installs
//! chromium first), where that is a failure.

mod common;

use common::{Env, NodeProc};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const BROWSER_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/browser");

fn figures(s: &serde_json::Value) -> [u64; 6] {
    [
        s["used"].as_u64().unwrap(),
        s["capacity"].as_u64().unwrap(),
        s["store"]["shards"].as_u64().unwrap(),
        s["store"]["healthy"].as_u64().unwrap(),
        s["live_peers"].as_u64().unwrap(),
        s["connected_peers"].as_u64().unwrap(),
    ]
}

#[test]
fn the_status_page_shows_what_node_status_says() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let node_ok = Command::new("node").arg("--version").output().is_ok();
    if !Path::new(&chromium).exists() || !node_ok {
        let why =
            format!("no {chromium} or no node: `apt-get install chromium` (scripts/test.sh does)");
        assert!(
            std::env::var_os("SHARDNET_REQUIRE_BROWSER").is_none(),
            "{why}"
        );
        eprintln!("skipped: {why}");
        return;
    }
    if !Path::new(BROWSER_DIR)
        .join("node_modules/playwright-core")
        .exists()
    {
        let st = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(BROWSER_DIR)
            .status()
            .expect("npm");
        assert!(st.success(), "npm ci in tests/browser failed");
    }

    let env = Env::new();
    let a = NodeProc::start(&env, "a", "zone-a", None, &[]);
    let b = NodeProc::start(&env, "b", "zone-b", Some(&a.addr(&env)), &[]);
    a.wait_for(Duration::from_secs(30), "a live peer", |n| {
        n.status(&env).is_some_and(|s| s["live_peers"] == 1)
    });
    a.backup_random(&env, "bronze", 151, 3);
    let api: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.data.join("api.json")).unwrap()).unwrap();
    let url = api["url"].as_str().unwrap().to_string();
    let token = std::fs::read_to_string(a.data.join("api.readonly.token")).unwrap();
    let shot = Path::new(env!("CARGO_TARGET_TMPDIR")).join("status-page.png");
    let t = Instant::now();
    for attempt in 0..4 {
        let before = figures(&a.status(&env).unwrap());
        let out = Command::new("node")
            .arg("status_page.mjs")
            .current_dir(BROWSER_DIR)
            .env("PAGE_URL", &url)
            .env("PAGE_TOKEN", token.trim())
            .env("SCREENSHOT", &shot)
            .env("CHROMIUM", &chromium)
            .output()
            .unwrap();
        let after = figures(&a.status(&env).unwrap());
        assert!(
            out.status.success(),
            "the page check failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if before != after {
            eprintln!("attempt {attempt}: the node changed while the page was read; again");
            continue;
        }
        let shown: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let on_page = [
            "used",
            "capacity",
            "shards",
            "healthy",
            "live_peers",
            "connected_peers",
        ]
        .map(|k| shown[k].as_u64().unwrap_or(u64::MAX));
        assert_eq!(on_page, before, "page {shown} against node status");
        let text = shown["text"].as_str().unwrap();
        assert!(text.contains("src-bronze"), "the backup is listed: {text}");
        assert!(text.contains("zone-b"), "the peer is listed: {text}");
        assert!(std::fs::metadata(&shot).unwrap().len() > 10_000);
        eprintln!(
            "status page checked in {:.1} s; screenshot: {}",
            t.elapsed().as_secs_f64(),
            shot.display()
        );
        drop(b);
        return;
    }
    panic!("the node never held still long enough to compare");
}

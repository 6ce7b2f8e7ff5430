//! `shardnet config check|get|set|unset|reload`.

use super::print_json;
use crate::cli::ConfigCommand;
use crate::datadir::DataDir;
use crate::settings::{Reload, Setting, Source};
use anyhow::Context;
use serde_json::json;

pub(super) fn run(dd: &DataDir, cmd: ConfigCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        ConfigCommand::Check { file } => {
            let file = file.unwrap_or_else(|| dd.root().join("config.toml"));
            check(&file, json)
        }
        ConfigCommand::Get { key } => {
            // Without a running node: what its next start would use.
            let all: Vec<Setting> = match super::target(dd) {
                super::Target::Daemon(c) => c.get("/v1/config")?,
                super::Target::Local => crate::settings::offline_get(dd.root())?,
            };
            let rows: Vec<&Setting> = match &key {
                Some(k) => all.iter().filter(|s| &s.key == k).collect(),
                None => all.iter().collect(),
            };
            if let (Some(k), true) = (&key, rows.is_empty()) {
                let names: Vec<&str> = all.iter().map(|s| s.key.as_str()).collect();
                anyhow::bail!("no setting {k:?}; one of: {}", names.join(", "));
            }
            if json {
                print_json(&rows)?;
            } else if let (Some(_), [one]) = (&key, rows.as_slice()) {
                println!("{}", one.value);
            } else {
                print_table(&rows);
            }
            Ok(0)
        }
        ConfigCommand::Set { key, value } => change(dd, &key, Some(&value), json),
        ConfigCommand::Unset { key } => change(dd, &key, None, json),
        ConfigCommand::Reload => {
            let r: Reload = super::node::daemon(dd)?.post("/v1/config/reload", &json!({}))?;
            print_reload(&r, json)
        }
    }
}

fn change(dd: &DataDir, key: &str, value: Option<&str>, json: bool) -> anyhow::Result<i32> {
    let unchanged = "config.toml is unchanged; `shardnet config get` lists the keys";
    let c = match super::target(dd) {
        super::Target::Daemon(c) => c,
        super::Target::Local => {
            // No node running: the file alone, in force at the next start.
            crate::settings::edit_file(dd.root(), &Default::default(), key, value)
                .context(unchanged)?;
            if json {
                print_json(&json!({ "written": key, "running": false }))?;
            } else {
                println!(
                    "{key} written to config.toml; no node is running, the next start uses it"
                );
            }
            return Ok(0);
        }
    };
    let r: Reload = c
        .post("/v1/config", &json!({ "key": key, "value": value }))
        .context(unchanged)?;
    print_reload(&r, json)
}

fn print_reload(r: &Reload, json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(r)?;
        return Ok(0);
    }
    if r.applied.is_empty() && r.restart.is_empty() {
        println!("nothing changed");
    }
    for a in &r.applied {
        println!("in force now: {a}");
    }
    for a in &r.restart {
        println!("in force after a restart: {a}");
    }
    Ok(0)
}

fn print_table(rows: &[&Setting]) {
    let w = rows.iter().map(|s| s.key.len()).max().unwrap_or(0);
    for s in rows {
        let source = match s.source {
            Source::Default => "default",
            Source::File => "config.toml",
            Source::Flag => "flag (pinned until restart)",
        };
        let when = if s.live { "" } else { ", restart to change" };
        let pending = s
            .pending
            .as_deref()
            .map(|p| format!("  [after restart: {p}]"))
            .unwrap_or_default();
        println!("{:w$}  {}  ({source}{when}){pending}", s.key, s.value);
    }
}

/// `config check FILE`: the file as `node run` would read it, from a
/// scratch data dir (so that nothing of the node's own is touched).
fn check(file: &std::path::Path, json: bool) -> anyhow::Result<i32> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
    let scratch = tempfile::tempdir().context("making a scratch directory")?;
    std::fs::write(scratch.path().join("config.toml"), text)?;
    let result = crate::config::NodeConfig::load(scratch.path(), Default::default());
    let (ok, what) = match &result {
        Ok(_) => (true, "valid: node run would start with it".to_string()),
        Err(e) => (
            false,
            e.to_string().replace(
                &scratch.path().join("config.toml").display().to_string(),
                &file.display().to_string(),
            ),
        ),
    };
    if json {
        print_json(&json!({ "file": file, "ok": ok, "detail": what }))?;
    } else if ok {
        println!("{}: ok", file.display());
    } else {
        eprintln!("{}: {what}", file.display());
    }
    Ok(if ok { 0 } else { 1 })
}

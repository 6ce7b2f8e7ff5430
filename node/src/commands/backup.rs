//! `shardnet backup create|list|show|restore|verify` and `shardnet shards list`.
//! Each runs one [`crate::ops`] operation (through the running node if any) and
//! prints its report.

use super::{print_json, target, Target, EXIT_INCOMPLETE};
use crate::backup::BackupReport;
use crate::cli::{BackupCommand, CreateArgs, ShardsCommand};
use crate::datadir::DataDir;
use crate::ops::delete::DeleteReport;
use crate::ops::{self, CreateRequest, Ctx, RestoreRequest, ShardRow, ShowReport};
use crate::output;
use crate::restore::RestoreReport;
use crate::verify::VerifyReport;
use anyhow::Context;
use serde_json::json;
use shardnet_protocol::catalogue::CatalogueEntry;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// A terminal progress bar when `show`.
fn bar(show: bool, label: &'static str) -> Option<indicatif::ProgressBar> {
    show.then(|| output::byte_bar(0, label))
}

/// Runs `f` on the local store (no node running).
pub(super) fn local<T>(
    dd: &DataDir,
    f: impl FnOnce(&Ctx<'_>) -> Result<T, ops::OpError>,
) -> anyhow::Result<T> {
    let store = dd.open_store()?;
    let master = dd.owner_key()?;
    let ctx = Ctx {
        store: &store,
        master,
        net: None,
        data_dir: dd.root().to_path_buf(),
    };
    Ok(f(&ctx)?)
}

fn absolute(p: &Path) -> anyhow::Result<PathBuf> {
    std::path::absolute(p).with_context(|| format!("resolving {}", p.display()))
}

pub(super) fn run(dd: &DataDir, cmd: BackupCommand, json: bool) -> anyhow::Result<i32> {
    let progress = !json && std::io::stderr().is_terminal();
    let t = target(dd);
    match cmd {
        BackupCommand::Create(args) => create(dd, &t, args, json, progress),
        BackupCommand::List { all } => {
            let list: Vec<CatalogueEntry> = match &t {
                Target::Daemon(c) => c.get(&format!("/v1/backup/list?all={all}"))?,
                Target::Local => local(dd, |c| ops::backup_list(c, all))?,
            };
            print_list(&list, json)
        }
        BackupCommand::Show { id, files } => {
            let r: ShowReport = match &t {
                Target::Daemon(c) => {
                    c.post("/v1/backup/show", &json!({ "id": id, "files": files }))?
                }
                Target::Local => local(dd, |c| ops::backup_show(c, &id, files))?,
            };
            print_show(&r, json)
        }
        BackupCommand::Restore {
            id,
            dest,
            path,
            force,
        } => {
            let req = RestoreRequest {
                id,
                dest: absolute(&dest)?,
                path,
                force,
            };
            let r: RestoreReport = match &t {
                Target::Daemon(c) => {
                    c.with_progress(progress, "restore", || c.post("/v1/backup/restore", &req))?
                }
                Target::Local => local(dd, |c| {
                    ops::backup_restore(c, &req, bar(progress, "restore"))
                })?,
            };
            print_restore(&r, &req, json)
        }
        BackupCommand::Delete { id, yes } => {
            if !yes && !confirm_delete(&id)? {
                println!("nothing deleted");
                return Ok(1);
            }
            let r: DeleteReport = match &t {
                Target::Daemon(c) => c.post("/v1/backup/delete", &json!({ "id": id }))?,
                Target::Local => local(dd, |c| ops::backup_delete(c, &id))?,
            };
            print_delete(&r, json)
        }
        BackupCommand::Verify { id, full } => {
            let r: VerifyReport = match &t {
                Target::Daemon(c) => {
                    c.post("/v1/backup/verify", &json!({ "id": id, "full": full }))?
                }
                Target::Local => local(dd, |c| ops::backup_verify(c, &id, full))?,
            };
            print_verify(&r, json)
        }
    }
}

pub(super) fn shards(dd: &DataDir, cmd: ShardsCommand, json: bool) -> anyhow::Result<i32> {
    let status = match cmd {
        ShardsCommand::List { status } => status,
        ShardsCommand::Verify { ids } => return shards_verify(dd, ids, json),
    };
    let rows: Vec<ShardRow> = match target(dd) {
        Target::Daemon(c) => c.post("/v1/shards", &json!({ "status": status }))?,
        Target::Local => local(dd, |c| ops::shards_list(c.store, status))?,
    };
    if json {
        print_json(&rows)?;
        return Ok(0);
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                output::size(r.meta.size as u64),
                r.meta.state.to_string(),
                output::time(r.meta.stored_at),
                r.meta.leases.len().to_string(),
                shardnet_protocol::lease::latest_expiry(&r.meta.leases)
                    .map(output::time)
                    .unwrap_or_else(|| "-".into()),
                r.retention.name().into(),
            ]
        })
        .collect();
    output::table(
        &[
            "ID",
            "SIZE",
            "STATUS",
            "STORED",
            "LEASES",
            "EXPIRES",
            "RETENTION",
        ],
        &table,
    );
    let bytes: u64 = rows.iter().map(|r| r.meta.size as u64).sum();
    eprintln!("{} shards, {}", rows.len(), output::size(bytes));
    Ok(0)
}

fn shards_verify(
    dd: &DataDir,
    ids: Vec<shardnet_protocol::ShardId>,
    json: bool,
) -> anyhow::Result<i32> {
    let rows: Vec<ops::VerifyRow> = match target(dd) {
        Target::Daemon(c) => c.post("/v1/shards/verify", &json!({ "ids": ids }))?,
        Target::Local => local(dd, |c| ops::shards_verify(c.store, &ids))?,
    };
    let bad = rows.iter().filter(|r| !r.ok).count();
    if json {
        print_json(&rows)?;
    } else {
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|r| {
                vec![
                    r.id.to_string(),
                    r.state.map_or("absent".into(), |s| s.to_string()),
                    if r.ok { "ok".into() } else { "BAD".into() },
                    r.detail.clone(),
                ]
            })
            .collect();
        output::table(&["ID", "STATE", "CHECK", "DETAIL"], &table);
        eprintln!("{} shards checked, {bad} bad (marked corrupted; repair replaces them from healthy copies)", rows.len());
    }
    Ok(if bad > 0 { 1 } else { 0 })
}

fn create(
    dd: &DataDir,
    t: &Target,
    args: CreateArgs,
    json: bool,
    progress: bool,
) -> anyhow::Result<i32> {
    let name = args
        .name
        .unwrap_or_else(|| args.paths[0].display().to_string());
    // Sources that do not exist stay as given: the backup reports them skipped.
    let paths = args
        .paths
        .iter()
        .map(|p| absolute(p))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let req = CreateRequest {
        paths,
        tier: args.tier,
        name,
        cipher: args.cipher,
    };
    let started = std::time::Instant::now();
    let r: BackupReport = match t {
        Target::Daemon(c) => {
            c.with_progress(progress, "backup", || c.post("/v1/backup/create", &req))
        }
        Target::Local => local(dd, |c| ops::backup_create(c, &req, bar(progress, "backup"))),
    }
    .context("backup failed; nothing was added to the catalogue")?;
    let e = &r.entry;
    if json {
        print_json(&r)?;
    } else {
        println!("{}", e.id);
        eprintln!(
            "backed up {} files ({}) in {:.1}s: {} shards, {} new ({}), tier {} until {}",
            e.info.files,
            output::size(e.info.bytes),
            started.elapsed().as_secs_f64(),
            e.shards,
            e.new_shards,
            output::size(e.new_bytes),
            e.info.tier,
            output::time(e.info.expires_at)
        );
    }
    for w in &r.warnings {
        eprintln!("warning: {w}");
    }
    if r.skipped.is_empty() {
        return Ok(0);
    }
    eprintln!(
        "{} paths could not be read and are NOT in this backup:",
        r.skipped.len()
    );
    for (p, why) in &r.skipped {
        eprintln!("  {}: {why}", p.display());
    }
    Ok(EXIT_INCOMPLETE)
}

fn print_list(list: &[CatalogueEntry], json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(&list)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|b| {
            vec![
                b.id.to_string(),
                b.info.name.clone(),
                b.info.tier.to_string(),
                output::time(b.info.created_at),
                if b.info.expires_at <= output::now_unix() {
                    format!("{} (expired)", output::time(b.info.expires_at))
                } else {
                    output::time(b.info.expires_at)
                },
                b.info.files.to_string(),
                output::size(b.info.bytes),
                output::size(b.new_bytes),
            ]
        })
        .collect();
    output::table(
        &[
            "ID", "NAME", "TIER", "CREATED", "EXPIRES", "FILES", "SIZE", "ADDED",
        ],
        &rows,
    );
    Ok(0)
}

fn print_show(r: &ShowReport, json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(r)?;
        return Ok(0);
    }
    let i = &r.info;
    println!("backup   {}", r.id);
    println!("name     {}", i.name);
    println!("tier     {} ({} copies)", i.tier, i.tier.copies());
    println!("created  {}", output::time(i.created_at));
    println!("expires  {}", output::time(i.expires_at));
    println!("sources  {}", i.sources.join(", "));
    println!(
        "content  {} files, {} dirs, {} symlinks, {}",
        i.files,
        i.dirs,
        i.symlinks,
        output::size(i.bytes)
    );
    println!(
        "chunks   {} ({} manifest pieces)",
        i.chunks, r.manifest_pieces
    );
    if let Some(e) = &r.catalogue {
        println!(
            "stored   {} in {} shards ({} new)",
            output::size(e.stored_bytes),
            e.shards,
            output::size(e.new_bytes)
        );
    }
    if !r.entries.is_empty() {
        println!();
        let rows: Vec<Vec<String>> = r
            .entries
            .iter()
            .map(|e| {
                let size = match (e.kind.as_str(), &e.target) {
                    ("file", _) => output::size(e.size),
                    (_, Some(t)) => format!("-> {t}"),
                    _ => String::new(),
                };
                vec![
                    e.kind.clone(),
                    format!("{:o}", e.mode),
                    size,
                    e.path.clone(),
                ]
            })
            .collect();
        output::table(&["KIND", "MODE", "SIZE", "PATH"], &rows);
    }
    Ok(0)
}

fn print_restore(r: &RestoreReport, req: &RestoreRequest, json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(r)?;
    } else {
        println!(
            "restored {} files, {} dirs, {} symlinks ({}) into {}",
            r.files,
            r.dirs,
            r.symlinks,
            output::size(r.bytes),
            req.dest.display()
        );
    }
    for (p, why) in &r.failed {
        eprintln!("FAILED {p}: {why}");
    }
    if r.failed.is_empty() {
        return Ok(0);
    }
    eprintln!(
        "{} files could not be restored; `shardnet backup verify {} --full` names the bad shards",
        r.failed.len(),
        req.id
    );
    Ok(1)
}

fn print_verify(r: &VerifyReport, json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(r)?;
    } else {
        for p in &r.problems {
            println!(
                "CORRUPT-OR-MISSING shard {}: {} (used by {})",
                p.shard,
                p.reason,
                p.used_by.join(", ")
            );
        }
        println!(
            "{} {} shards ({}) of backup {}: {}",
            if r.full {
                "read, hashed and decrypted"
            } else {
                "proved copies of"
            },
            r.shards_checked,
            output::size(r.bytes_checked),
            r.backup,
            if r.problems.is_empty() {
                "all healthy".to_string()
            } else {
                format!("{} problems", r.problems.len())
            }
        );
        if !r.full && !r.proven_copies.is_empty() {
            let below: u64 = r
                .proven_copies
                .iter()
                .filter(|(n, _)| *n < r.copies_wanted)
                .map(|(_, k)| k)
                .sum();
            let hist: Vec<String> = r
                .proven_copies
                .iter()
                .map(|(n, k)| format!("{k} with {n}"))
                .collect();
            println!(
                "proven copies per data shard (the tier wants {}): {}{}",
                r.copies_wanted,
                hist.join(", "),
                if below > 0 {
                    format!(
                        "; {below} below target (repair is under way if their holders are live)"
                    )
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(if r.problems.is_empty() { 0 } else { 1 })
}

/// Per holder: what it did with the leases sent (`done`: the column's name).
pub(super) fn print_holders(rows: &[crate::ops::delete::HolderRow], done: &str) {
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|h| {
            vec![
                h.peer.clone(),
                h.released.to_string(),
                h.not_held.to_string(),
                h.failed.to_string(),
            ]
        })
        .collect();
    output::table(&["HOLDER", done, "NOT HELD", "FAILED"], &table);
}

/// Asks on the terminal; without one, `--yes` is required.
fn confirm_delete(id: &shardnet_protocol::BackupId) -> anyhow::Result<bool> {
    confirm(
        &format!("backup delete needs confirmation: pass --yes to delete backup {id} without a prompt"),
        &format!("Delete backup {id}? Its shards not shared with other backups will be released on every holder."),
    )
}

/// Asks `prompt` on the terminal (true on "yes"); without a terminal, fails
/// with `without_terminal` (which names `--yes`).
pub(super) fn confirm(without_terminal: &str, prompt: &str) -> anyhow::Result<bool> {
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("{without_terminal}");
    }
    eprint!("{prompt} Type 'yes': ");
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the confirmation")?;
    Ok(line.trim() == "yes")
}

fn print_delete(r: &DeleteReport, json: bool) -> anyhow::Result<i32> {
    if json {
        print_json(r)?;
    } else {
        println!("deleted backup {} ({})", r.backup, r.name);
        println!(
            "  shards: {} referenced, {} kept (shared with other backups), {} released, {} not released anywhere",
            r.shards, r.shared, r.released, r.unreleased
        );
        println!("  catalogue: {}", r.catalogue);
        print_holders(&r.holders, "RELEASED");
        if r.unreleased > 0 {
            println!("  shards not released keep their leases until the backup's expiry; nothing else holds them");
        }
    }
    Ok(if r.holders.iter().any(|h| h.failed > 0) {
        EXIT_INCOMPLETE
    } else {
        0
    })
}

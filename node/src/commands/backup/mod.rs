//! `shardnet backup create|list|show|restore|verify` and `shardnet shards list`.
//! Each runs one [`crate::ops`] operation (through the running node if any) and
//! prints its report.

use super::{print_json, target, Target, EXIT_INCOMPLETE};
use crate::backup::BackupReport;
use crate::cli::{BackupCommand, CreateArgs};
use crate::datadir::DataDir;
use crate::ops::delete::DeleteReport;
use crate::ops::rebuild::RebuildReport;
use crate::ops::{self, CreateRequest, Ctx, RestoreRequest, ShowReport};
use crate::output;
use crate::restore::RestoreReport;
use crate::verify::VerifyReport;
use anyhow::Context;
use serde_json::json;
use shardnet_protocol::catalogue::CatalogueEntry;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

mod print;
mod shards;

pub(crate) use print::{confirm, print_holders};
use print::{
    confirm_delete, print_delete, print_list, print_repair, print_restore, print_show, print_verify,
};
pub(crate) use shards::shards;

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
        BackupCommand::Repair { id } => {
            let r: RebuildReport = match &t {
                Target::Daemon(c) => c.post("/v1/backup/repair", &json!({ "id": id }))?,
                Target::Local => anyhow::bail!(
                    "`backup repair` rebuilds pieces across the swarm: start the node (`shardnet node run`) first"
                ),
            };
            print_repair(&r, json)
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
        redundancy: args.redundancy,
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

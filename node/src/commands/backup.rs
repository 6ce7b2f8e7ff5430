//! `shardnet backup create|list|show|restore|verify`.

use super::{print_json, EXIT_INCOMPLETE};
use crate::backup::{self, BackupOptions};
use crate::cli::{BackupCommand, CreateArgs};
use crate::datadir::DataDir;
use crate::output;
use crate::{manifests, restore, verify};
use anyhow::Context;
use shardnet_protocol::manifest::EntryKind;
use std::io::IsTerminal;

pub(super) fn run(dd: &DataDir, cmd: BackupCommand, json: bool) -> anyhow::Result<i32> {
    let progress = !json && std::io::stderr().is_terminal();
    match cmd {
        BackupCommand::Create(args) => create(dd, args, json, progress),
        BackupCommand::List => list(dd, json),
        BackupCommand::Show { id, files } => {
            let store = dd.open_store()?;
            let master = dd.owner_key()?;
            let (root, m) = manifests::load(&store, &master, &id)?;
            let entry = store.get_backup(&id)?;
            if json {
                let entries: Vec<serde_json::Value> = if files {
                    m.entries.iter().map(entry_json).collect()
                } else {
                    Vec::new()
                };
                print_json(&serde_json::json!({
                    "id": id, "info": root.info, "manifest_pieces": root.pieces.len(),
                    "catalogue": entry, "entries": entries,
                }))?;
                return Ok(0);
            }
            let i = &root.info;
            println!("backup   {id}");
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
                i.chunks,
                root.pieces.len()
            );
            if let Some(e) = entry {
                println!(
                    "stored   {} in {} shards ({} new)",
                    output::size(e.stored_bytes),
                    e.shards,
                    output::size(e.new_bytes)
                );
            }
            if files {
                println!();
                let rows: Vec<Vec<String>> = m
                    .entries
                    .iter()
                    .map(|e| {
                        let (kind, size) = match &e.kind {
                            EntryKind::Dir => ("dir", String::new()),
                            EntryKind::File { size, .. } => ("file", output::size(*size)),
                            EntryKind::Symlink { target } => {
                                ("link", format!("-> {}", String::from_utf8_lossy(target)))
                            }
                        };
                        vec![
                            kind.into(),
                            format!("{:o}", e.mode),
                            size,
                            String::from_utf8_lossy(&e.path).into_owned(),
                        ]
                    })
                    .collect();
                output::table(&["KIND", "MODE", "SIZE", "PATH"], &rows);
            }
            Ok(0)
        }
        BackupCommand::Restore {
            id,
            dest,
            path,
            force,
        } => {
            let store = dd.open_store()?;
            let master = dd.owner_key()?;
            let r = restore::restore(
                &store,
                &master,
                &id,
                &dest,
                path.as_deref(),
                force,
                progress,
            )?;
            if json {
                print_json(&r)?;
            } else {
                println!(
                    "restored {} files, {} dirs, {} symlinks ({}) into {}",
                    r.files,
                    r.dirs,
                    r.symlinks,
                    output::size(r.bytes),
                    dest.display()
                );
            }
            for (p, why) in &r.failed {
                eprintln!("FAILED {p}: {why}");
            }
            if r.failed.is_empty() {
                Ok(0)
            } else {
                eprintln!("{} files could not be restored; `shardnet backup verify {id} --full` names the bad shards", r.failed.len());
                Ok(1)
            }
        }
        BackupCommand::Verify { id, full } => {
            let store = dd.open_store()?;
            let master = dd.owner_key()?;
            let r = verify::verify(&store, &master, &id, full)?;
            if json {
                print_json(&r)?;
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
                    if full {
                        "read, hashed and decrypted"
                    } else {
                        "checked metadata of"
                    },
                    r.shards_checked,
                    output::size(r.bytes_checked),
                    id,
                    if r.problems.is_empty() {
                        "all healthy".to_string()
                    } else {
                        format!("{} problems", r.problems.len())
                    }
                );
            }
            Ok(if r.problems.is_empty() { 0 } else { 1 })
        }
    }
}

fn entry_json(e: &shardnet_protocol::manifest::Entry) -> serde_json::Value {
    let (kind, size, target) = match &e.kind {
        EntryKind::Dir => ("dir", 0, None),
        EntryKind::File { size, .. } => ("file", *size, None),
        EntryKind::Symlink { target } => (
            "symlink",
            0,
            Some(String::from_utf8_lossy(target).into_owned()),
        ),
    };
    serde_json::json!({
        "path": String::from_utf8_lossy(&e.path), "kind": kind, "size": size,
        "mode": e.mode, "mtime": e.mtime, "target": target,
    })
}

fn create(dd: &DataDir, args: CreateArgs, json: bool, progress: bool) -> anyhow::Result<i32> {
    let store = dd.open_store()?;
    let master = dd.owner_key()?;
    let name = args
        .name
        .unwrap_or_else(|| args.paths[0].display().to_string());
    let opts = BackupOptions {
        name,
        tier: args.tier,
        cipher: args.cipher,
        now: output::now_unix(),
        progress,
        exclude: vec![dd.root().to_path_buf()],
    };
    let started = std::time::Instant::now();
    let r = backup::create(&store, &master, &args.paths, &opts)
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

fn list(dd: &DataDir, json: bool) -> anyhow::Result<i32> {
    let store = dd.open_store()?;
    let backups = store.list_backups()?;
    if json {
        print_json(&backups)?;
        return Ok(0);
    }
    let rows: Vec<Vec<String>> = backups
        .iter()
        .map(|b| {
            vec![
                b.id.to_string(),
                b.info.name.clone(),
                b.info.tier.to_string(),
                output::time(b.info.created_at),
                output::time(b.info.expires_at),
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

//! How the backup commands' reports are printed: tables by default, JSON with
//! `--json`, and the confirmations a delete asks for.

use super::{print_json, EXIT_INCOMPLETE};
use crate::ops::delete::DeleteReport;
use crate::ops::{RestoreRequest, ShowReport};
use crate::output;
use crate::restore::RestoreReport;
use crate::verify::VerifyReport;
use anyhow::Context;
use shardnet_protocol::catalogue::CatalogueEntry;
use std::io::IsTerminal;

pub(super) fn print_list(list: &[CatalogueEntry], json: bool) -> anyhow::Result<i32> {
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

pub(super) fn print_show(r: &ShowReport, json: bool) -> anyhow::Result<i32> {
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
    for (scheme, n) in &r.pieces {
        println!("pieces   {n} distinct chunks kept as {scheme} pieces (any K of K+M restore one)");
    }
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

pub(super) fn print_restore(
    r: &RestoreReport,
    req: &RestoreRequest,
    json: bool,
) -> anyhow::Result<i32> {
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

pub(super) fn print_verify(r: &VerifyReport, json: bool) -> anyhow::Result<i32> {
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
        if !r.full && !r.proven_pieces.is_empty() {
            let hist: Vec<String> = r
                .proven_pieces
                .iter()
                .map(|(n, k)| format!("{k} with {n}"))
                .collect();
            println!(
                "proven pieces per chunk kept as pieces: {}{}",
                hist.join(", "),
                if r.pieces_short > 0 {
                    format!("; {} cannot be restored now", r.pieces_short)
                } else {
                    String::new()
                }
            );
        }
    }
    Ok(if r.problems.is_empty() { 0 } else { 1 })
}

/// `backup repair`: what was rebuilt, and what could not be.
pub(super) fn print_repair(
    r: &crate::ops::rebuild::RebuildReport,
    json: bool,
) -> anyhow::Result<i32> {
    let bad = !r.unrecoverable.is_empty() || !r.failures.is_empty();
    if json {
        print_json(r)?;
    } else {
        println!(
            "{} chunks kept as pieces: {} whole, {} pieces rebuilt and stored ({})",
            r.stripes,
            r.whole,
            r.rebuilt_pieces,
            output::size(r.bytes_sent)
        );
        for s in &r.unrecoverable {
            println!(
                "  shard {s}: fewer pieces proven than it needs; retry when more peers are up"
            );
        }
        for f in &r.failures {
            println!("  {f}");
        }
        if r.stripes == 0 {
            println!(
                "(this backup keeps whole copies: repair of copies runs on every node by itself)"
            );
        }
    }
    Ok(if bad { 1 } else { 0 })
}

/// Per holder: what it did with the leases sent (`done`: the column's name).
pub(crate) fn print_holders(rows: &[crate::ops::delete::HolderRow], done: &str) {
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
pub(super) fn confirm_delete(id: &shardnet_protocol::BackupId) -> anyhow::Result<bool> {
    confirm(
        &format!("backup delete needs confirmation: pass --yes to delete backup {id} without a prompt"),
        &format!("Delete backup {id}? Its shards not shared with other backups will be released on every holder."),
    )
}

/// Asks `prompt` on the terminal (true on "yes"); without a terminal, fails
/// with `without_terminal` (which names `--yes`).
pub(crate) fn confirm(without_terminal: &str, prompt: &str) -> anyhow::Result<bool> {
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

pub(super) fn print_delete(r: &DeleteReport, json: bool) -> anyhow::Result<i32> {
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

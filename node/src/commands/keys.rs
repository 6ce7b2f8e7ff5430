//! `shardnet init`, `keys export`, `keys import`, `keys rotate`.

use crate::cli::KeysCommand;
use crate::datadir::DataDir;
use anyhow::{bail, Context};
use rand::rngs::OsRng;
use shardnet_protocol::MasterKey;
use std::io::Read;

/// Initialises `dd`, saying how long the new identity's work took.
fn init_dir(
    dd: &DataDir,
    key: &MasterKey,
    difficulty: u8,
) -> Result<libp2p::PeerId, crate::datadir::DataDirError> {
    let fresh = dd.node_identity().is_err();
    if fresh && difficulty > 12 {
        eprintln!("making a node identity with {difficulty} bits of admission work (about 2^{difficulty} keys)...");
    }
    let t = std::time::Instant::now();
    let peer = dd.init(key, difficulty)?;
    if fresh && difficulty > 12 {
        eprintln!("done in {:.1} s", t.elapsed().as_secs_f64());
    }
    Ok(peer)
}

pub(super) fn init(dd: &DataDir, difficulty: u8, json: bool) -> anyhow::Result<i32> {
    let key = MasterKey::generate(&mut OsRng);
    let peer = init_dir(dd, &key, difficulty).context("initialising the data directory")?;
    if json {
        super::print_json(&serde_json::json!({
            "data_dir": dd.root(),
            "peer_id": peer.to_string(),
            "owner_id": key.owner_id().to_string(),
            "owner_key_file": dd.owner_key_path(),
        }))?;
    } else {
        println!("initialised {}", dd.root().display());
        println!("node peer id: {peer}");
        println!("owner key:    {}", dd.owner_key_path().display());
        println!();
        println!("The owner key decrypts every backup you make. If it is lost, the backups are");
        println!("lost with it: store a copy elsewhere now with `shardnet keys export`.");
    }
    Ok(0)
}

pub(super) fn run(dd: &DataDir, cmd: KeysCommand, json: bool) -> anyhow::Result<i32> {
    match cmd {
        KeysCommand::SwarmKey => {
            let mut k = [0u8; 32];
            rand::RngCore::fill_bytes(&mut OsRng, &mut k);
            // The format IPFS and libp2p's pnet read.
            println!("{}", libp2p::pnet::PreSharedKey::new(k));
        }
        KeysCommand::Rotate { yes, reencrypt } => return rotate(dd, yes, reencrypt, json),
        KeysCommand::Export => {
            let key = dd.owner_key()?;
            if json {
                super::print_json(&serde_json::json!({
                    "recovery_string": key.to_recovery_string(),
                    "owner_id": key.owner_id().to_string(),
                }))?;
            } else {
                println!("{}", key.to_recovery_string());
            }
        }
        KeysCommand::Import {
            recovery,
            force,
            init,
        } => {
            let text = match recovery {
                Some(t) => t,
                None => {
                    let mut s = String::new();
                    std::io::stdin()
                        .read_to_string(&mut s)
                        .context("reading the recovery string from stdin")?;
                    s
                }
            };
            let key =
                MasterKey::from_recovery_string(&text).context("parsing the recovery string")?;
            if dd.is_initialised() {
                let old = dd.owner_key()?;
                if old == key {
                    println!(
                        "this owner key is already installed in {}",
                        dd.root().display()
                    );
                    return Ok(0);
                }
                if !force {
                    bail!(
                        "{} already holds a different owner key; backups made with it need it to restore. \
                         Export it first (`shardnet keys export`), then re-run with --force",
                        dd.root().display()
                    );
                }
                let kept = dd.replace_owner_key(&key, crate::output::now_unix())?;
                eprintln!("the previous owner key was kept in {}", kept.display());
                println!(
                    "owner key {} installed in {}",
                    key.owner_id(),
                    dd.root().display()
                );
                return Ok(0);
            }
            let peer =
                init_dir(dd, &key, init.id_difficulty).context("installing the owner key")?;
            if json {
                super::print_json(
                    &serde_json::json!({ "owner_id": key.owner_id().to_string(), "peer_id": peer.to_string() }),
                )?;
            } else {
                println!(
                    "owner key {} installed in {}",
                    key.owner_id(),
                    dd.root().display()
                );
            }
        }
    }
    Ok(0)
}

fn rotate(dd: &DataDir, yes: bool, reencrypt: bool, json: bool) -> anyhow::Result<i32> {
    let super::Target::Daemon(c) = super::target(dd) else {
        bail!(
            "keys rotate re-signs every backup on its holders: start the node for {} (`shardnet node run`), then run it again",
            dd.root().display()
        );
    };
    if !yes && !super::backup::confirm(
        "keys rotate needs confirmation: pass --yes to replace the owner key without a prompt",
        "Replace the owner key? Every live backup moves to a new key, and the old key is revoked.",
    )? {
        eprintln!("nothing changed");
        return Ok(1);
    }
    let r: crate::rotate::RotateReport = c.post(
        "/v1/keys/rotate",
        &serde_json::json!({ "reencrypt": reencrypt }),
    )?;
    if json {
        super::print_json(&r)?;
        return Ok(0);
    }
    println!("owner key rotated: {} -> {}", r.old_owner, r.new_owner);
    let rows: Vec<Vec<String>> = r
        .backups
        .iter()
        .map(|b| {
            vec![
                b.old_id.to_string(),
                b.new_id.to_string(),
                b.name.clone(),
                crate::output::time(b.expires_at),
            ]
        })
        .collect();
    crate::output::table(&["OLD ID", "NEW ID", "NAME", "EXPIRES"], &rows);
    println!(
        "  data shards: {} re-signed ({} holder leases moved); old manifest shards released: {}; backups left to expire: {}",
        r.data_shards, r.leases_moved, r.old_manifest_shards, r.expired_left
    );
    if r.reencrypted > 0 {
        println!(
            "  re-encrypted: {} data shards rewritten under the new key; their old copies were released (prune removes them)",
            r.reencrypted
        );
    }
    println!(
        "  old key revoked in its catalogue ({} holders confirmed), kept in {}",
        r.revocation_confirmed, r.retired_key
    );
    super::backup::print_holders(&r.holders, "MOVED");
    println!();
    println!("Store the new key now: `shardnet keys export`. The old key no longer lists or");
    println!(
        "changes anything; delete {} once you have checked a restore.",
        r.retired_key
    );
    Ok(0)
}

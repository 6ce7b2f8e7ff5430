//! `shardnet init`, `keys export`, `keys import`.

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

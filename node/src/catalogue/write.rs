//! Changing the owner's catalogue: add and remove entries, keep the slot's
//! holders up to date, and publish a new signed record to them.

use super::read::{slot_holders, slot_records_with_quorum, union};
use super::CatalogueUpkeep;
use crate::net::Net;
use futures::future::join_all;
use libp2p::PeerId;
use shardnet_protocol::catalogue::{CatalogueEntry, Contents, SignedCatalogue, Tombstone};
use shardnet_protocol::wire::{Request, Response};
use shardnet_protocol::MasterKey;
use shardnet_store::Store;
use tracing::{info, warn};

/// Publishes the owner's catalogue with `entries` added, if a majority of
/// the slot's holders answered; else leaves it to [`maintain_catalogue`]
/// (the entries are in the local store) and says so.
pub fn add_to_catalogue(
    net: &Net,
    store: &Store,
    master: &MasterKey,
    added: &CatalogueEntry,
) -> Result<CatalogueUpkeep, String> {
    let r = match slot_records_with_quorum(net, store, master) {
        Ok(r) => r,
        Err(no) => return Ok(no),
    };
    let (mut all, prev, _) = union(&r, store, master)?;
    all.entries.retain(|e| e.id != added.id);
    all.entries.push(added.clone());
    publish_catalogue(net, store, master, &all, prev)?;
    Ok(CatalogueUpkeep::Published {
        entries: all.entries.len(),
    })
}

/// Publishes the owner's catalogue without backup `id` and with its
/// tombstone, which needs a majority of the slot's holders to answer (the
/// caller records the tombstone locally first: the next upkeep publishes it
/// if this one cannot).
pub fn remove_from_catalogue(
    net: &Net,
    store: &Store,
    master: &MasterKey,
    gone: &Tombstone,
) -> Result<CatalogueUpkeep, String> {
    let r = match slot_records_with_quorum(net, store, master) {
        Ok(r) => r,
        Err(no) => return Ok(no),
    };
    let (mut all, prev, _) = union(&r, store, master)?;
    all.entries.retain(|e| e.id != gone.id);
    if !all.tombstones.iter().any(|t| t.id == gone.id) {
        all.tombstones.push(*gone);
    }
    publish_catalogue(net, store, master, &all, prev)?;
    Ok(CatalogueUpkeep::Published {
        entries: all.entries.len(),
    })
}

/// The catalogue's repair, run periodically by the owner's node: with a
/// majority of the slot's holders answering, publishes a new record when
/// the union of what they hold (and the local store) has entries the newest
/// record lacks, else copies the newest record to holders that lack it
/// (churn moved the slot, or a holder lost it).
pub fn maintain_catalogue(
    net: &Net,
    store: &Store,
    master: &MasterKey,
) -> Result<CatalogueUpkeep, String> {
    let r = match slot_records_with_quorum(net, store, master) {
        Ok(r) => r,
        Err(no) => return Ok(no),
    };
    let (all, prev, newest_len) = union(&r, store, master)?;
    // A record never shrinks: a deleted entry's tombstone takes its place.
    if all.entries.len() + all.tombstones.len() > newest_len {
        publish_catalogue(net, store, master, &all, prev)?;
        return Ok(CatalogueUpkeep::Published {
            entries: all.entries.len(),
        });
    }
    let Some(newest) = r.newest().cloned() else {
        return Ok(CatalogueUpkeep::InPlace);
    };
    let local = net.client.local_peer_id();
    let behind: Vec<PeerId> = r
        .held
        .iter()
        .filter(|(_, seq)| *seq < newest.seq)
        .map(|(p, _)| *p)
        .collect();
    if behind.is_empty() {
        return Ok(CatalogueUpkeep::InPlace);
    }
    let mut copied = 0;
    for p in &behind {
        let ok = if *p == local {
            store.put_catalogue(&newest).is_ok()
        } else {
            matches!(
                net.handle.block_on(
                    net.client
                        .request(*p, Request::PutCatalogue(newest.clone()))
                ),
                Ok(Response::CatalogueStored)
            )
        };
        copied += usize::from(ok);
    }
    Ok(CatalogueUpkeep::Copied { holders: copied })
}

pub(super) fn publish_catalogue(
    net: &Net,
    store: &Store,
    master: &MasterKey,
    all: &Contents,
    prev: u64,
) -> Result<(), String> {
    let seq = prev.saturating_add(1).max(crate::output::now_unix() * 1000);
    let mut nonce = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let record =
        SignedCatalogue::create_contents(master, all, seq, nonce).map_err(|e| e.to_string())?;
    let (confirmed, floor, floor_confirmed) = send_record(net, store, &record)?;
    info!(
        seq,
        entries = all.entries.len(),
        tombstones = all.tombstones.len(),
        confirmed,
        floor,
        floor_confirmed,
        "catalogue record published"
    );
    Ok(())
}

/// Sends `record` to its slot's holders and the owner's floor (and keeps it
/// here when this node is one of them). Returns how many confirmed, the
/// floor's size, and how many of the floor confirmed; an error if none did.
pub(super) fn send_record(
    net: &Net,
    store: &Store,
    record: &SignedCatalogue,
) -> Result<(usize, usize, usize), String> {
    let (peers, floor) = slot_holders(net, &record.owner);
    let local = net.client.local_peer_id();
    let mut confirmed = 0;
    if peers.contains(&local) || peers.is_empty() {
        store.put_catalogue(record).map_err(|e| e.to_string())?;
        confirmed += 1;
    }
    let send: Vec<PeerId> = peers
        .iter()
        .chain(&floor)
        .filter(|p| **p != local)
        .copied()
        .collect();
    let answers = net.handle.block_on(join_all(send.iter().map(|p| {
        let client = net.client.clone();
        let (p, r) = (*p, record.clone());
        async move { crate::net::ask(&client, p, Request::PutCatalogue(r)).await }
    })));
    let mut floor_confirmed = 0;
    for (p, a) in send.iter().zip(answers) {
        match a {
            Ok(Response::CatalogueStored) => {
                confirmed += 1;
                floor_confirmed += usize::from(floor.contains(p));
            }
            other => warn!(peer = %p, "catalogue copy not confirmed: {other:?}"),
        }
    }
    if confirmed == 0 {
        return Err("no peer confirmed the catalogue record".into());
    }
    Ok((confirmed, floor.len(), floor_confirmed))
}

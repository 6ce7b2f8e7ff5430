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
    let sent = publish_catalogue(net, store, master, &all, prev)?;
    Ok(CatalogueUpkeep::Published {
        entries: all.entries.len(),
        confirmed: sent.slot_confirmed,
        holders: sent.slot,
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
    let sent = publish_catalogue(net, store, master, &all, prev)?;
    Ok(CatalogueUpkeep::Published {
        entries: all.entries.len(),
        confirmed: sent.slot_confirmed,
        holders: sent.slot,
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
        let sent = publish_catalogue(net, store, master, &all, prev)?;
        return Ok(CatalogueUpkeep::Published {
            entries: all.entries.len(),
            confirmed: sent.slot_confirmed,
            holders: sent.slot,
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
) -> Result<Sent, String> {
    let seq = prev.saturating_add(1).max(crate::output::now_unix() * 1000);
    let mut nonce = [0u8; 12];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut nonce);
    let record =
        SignedCatalogue::create_contents(master, all, seq, nonce).map_err(|e| e.to_string())?;
    let sent = send_record(net, store, &record)?;
    info!(
        seq,
        entries = all.entries.len(),
        tombstones = all.tombstones.len(),
        confirmed = sent.confirmed,
        slot = sent.slot,
        slot_confirmed = sent.slot_confirmed,
        floor = sent.floor,
        floor_confirmed = sent.floor_confirmed,
        "catalogue record published"
    );
    Ok(sent)
}

/// Who confirmed a catalogue record ([`send_record`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Sent {
    /// Copies confirmed in all (this node's own included).
    pub(super) confirmed: usize,
    /// The slot's responsible peers (this node included when it is one; 1
    /// when the view is empty and only this node keeps it).
    pub(super) slot: usize,
    pub(super) slot_confirmed: usize,
    /// The trusted peers beyond the slot.
    pub(super) floor: usize,
    pub(super) floor_confirmed: usize,
}

/// Sends `record` to its slot's holders and the owner's floor (and keeps it
/// here when this node is one of them). An error if none confirmed.
pub(super) fn send_record(
    net: &Net,
    store: &Store,
    record: &SignedCatalogue,
) -> Result<Sent, String> {
    let (peers, floor) = slot_holders(net, &record.owner);
    let local = net.client.local_peer_id();
    let mut sent = Sent {
        slot: peers.len().max(1),
        floor: floor.len(),
        ..Sent::default()
    };
    if peers.contains(&local) || peers.is_empty() {
        store.put_catalogue(record).map_err(|e| e.to_string())?;
        sent.confirmed += 1;
        sent.slot_confirmed += 1;
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
    for (p, a) in send.iter().zip(answers) {
        match a {
            Ok(Response::CatalogueStored) => {
                sent.confirmed += 1;
                sent.floor_confirmed += usize::from(floor.contains(p));
                sent.slot_confirmed += usize::from(peers.contains(p));
            }
            other => warn!(peer = %p, "catalogue copy not confirmed: {other:?}"),
        }
    }
    if sent.confirmed == 0 {
        return Err("no peer confirmed the catalogue record".into());
    }
    Ok(sent)
}

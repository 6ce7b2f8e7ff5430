//! Reading the owner's catalogue: the union of what the slot's holders answer,
//! with the quorum a publish needs.

use super::{CatalogueUpkeep, CATALOGUE_FLOOR};
use crate::net::Net;
use futures::future::join_all;
use libp2p::PeerId;
use shardnet_protocol::catalogue::CATALOGUE_COPIES;
use shardnet_protocol::catalogue::{self, CatalogueEntry, Contents, SignedCatalogue, Tombstone};
use shardnet_protocol::placement;
use shardnet_protocol::wire::{Request, Response};
use shardnet_protocol::MasterKey;
use shardnet_store::Store;
use tracing::debug;

/// What the responsible peers of an owner's catalogue slot hold.
pub(super) struct SlotRecords {
    /// Every valid record seen (this node's own included).
    pub(super) records: Vec<SignedCatalogue>,
    /// Responsible peers (this node included when it is one), and how many
    /// of them gave a definite answer (a record, or none).
    pub(super) asked: usize,
    pub(super) answered: usize,
    /// Responsible and floor peers that answered, and the sequence number
    /// each holds (0: none).
    pub(super) held: Vec<(PeerId, u64)>,
}

impl SlotRecords {
    /// A majority of the slot's holders answered: a record built from their
    /// answers cannot drop an entry that a majority holds.
    pub(super) fn quorum(&self) -> bool {
        self.answered > self.asked / 2
    }

    pub(super) fn newest(&self) -> Option<&SignedCatalogue> {
        self.records.iter().max_by_key(|c| c.seq)
    }
}

/// The peers responsible for an owner's catalogue slot, in this node's view,
/// and the floor: peers beyond them that this node trusts, those named with
/// `--trust-peer` first, then vetted ones, each in placement order (not
/// itself: its own copy is read in any case).
pub(super) fn slot_holders(net: &Net, owner: &[u8; 32]) -> (Vec<PeerId>, Vec<PeerId>) {
    let slot = catalogue::slot(owner);
    let candidates = net.view.candidates();
    // The whole placement order: its first CATALOGUE_COPIES are the slot's
    // responsible set (a longer set only appends to a shorter one).
    let mut order = placement::responsible_set(&slot, 0, &candidates, candidates.len());
    let rest = order.split_off(CATALOGUE_COPIES.min(order.len()));
    let local = net.client.local_peer_id();
    let mut floor: Vec<PeerId> = rest
        .into_iter()
        .filter(|p| *p != local && net.audits.trusted(p))
        .collect();
    // Peers the operator named first: sybils that behave until vetted must
    // not take the floor too (stable sort keeps placement order within).
    floor.sort_by_key(|p| !net.audits.anchored(p));
    floor.truncate(CATALOGUE_FLOOR);
    (order, floor)
}

/// The slot's records, or `NoQuorum` when fewer than a majority answered
/// (nothing may be published from such an answer).
pub(super) fn slot_records_with_quorum(
    net: &Net,
    store: &Store,
    master: &MasterKey,
) -> Result<SlotRecords, CatalogueUpkeep> {
    let r = slot_records(net, store, SignedCatalogue::owner_of(master));
    if r.quorum() {
        Ok(r)
    } else {
        Err(CatalogueUpkeep::NoQuorum {
            answered: r.answered,
            asked: r.asked,
        })
    }
}

pub(super) fn slot_records(net: &Net, store: &Store, owner: [u8; 32]) -> SlotRecords {
    let (peers, floor) = slot_holders(net, &owner);
    let local = net.client.local_peer_id();
    let ask = peers.iter().chain(&floor).filter(|p| **p != local);
    let answers = net.handle.block_on(join_all(ask.map(|p| {
        let client = net.client.clone();
        let p = *p;
        async move { (p, client.request(p, Request::GetCatalogue { owner }).await) }
    })));
    let mut out = SlotRecords {
        records: Vec::new(),
        asked: peers.len().max(1),
        answered: 0,
        held: Vec::new(),
    };
    let mine = store.get_catalogue(&owner).ok().flatten();
    if peers.contains(&local) || peers.is_empty() {
        out.answered += 1;
        out.held.push((local, mine.as_ref().map_or(0, |c| c.seq)));
    }
    out.records.extend(mine);
    for (p, a) in answers {
        // Only the slot's answers make the quorum.
        let counts = usize::from(peers.contains(&p));
        match a {
            Ok(Response::Catalogue(Some(c))) if c.owner == owner && c.verify().is_ok() => {
                out.answered += counts;
                out.held.push((p, c.seq));
                out.records.push(c);
            }
            Ok(Response::Catalogue(None)) => {
                out.answered += counts;
                out.held.push((p, 0));
            }
            // A forged or foreign record is no answer.
            other => debug!(peer = %p, "catalogue not fetched: {other:?}"),
        }
    }
    out
}

/// The owner's backups: the union of every catalogue record the slot's
/// holders have (records only ever add entries, but a holder may be behind),
/// plus backups this node recorded locally, less every deleted one.
pub fn fetch_catalogue(
    net: &Net,
    store: &Store,
    master: &MasterKey,
) -> Result<Vec<CatalogueEntry>, String> {
    let owner = SignedCatalogue::owner_of(master);
    Ok(union(&slot_records(net, store, owner), store, master)?
        .0
        .entries)
}

/// As [`fetch_catalogue`], but only when a majority of the slot's holders
/// answered (`keys rotate` must not leave a backup behind).
pub fn fetch_catalogue_quorum(
    net: &Net,
    store: &Store,
    master: &MasterKey,
) -> Result<Vec<CatalogueEntry>, String> {
    match slot_records_with_quorum(net, store, master) {
        Ok(r) => Ok(union(&r, store, master)?.0.entries),
        Err(CatalogueUpkeep::NoQuorum { answered, asked }) => Err(format!(
            "only {answered} of the {asked} holders of the owner's catalogue answered"
        )),
        Err(other) => Err(format!("{other:?}")),
    }
}

/// Entries (none that a tombstone names) and tombstones of every record and
/// of the local store, the highest sequence number seen (0 if none), and how
/// many entries and tombstones the newest record has.
pub(super) fn union(
    r: &SlotRecords,
    store: &Store,
    master: &MasterKey,
) -> Result<(Contents, u64, usize), String> {
    // Where records differ on one backup (its tier or expiry changed), the
    // first version seen wins: this node's own, then the newest record's.
    let mut all = Contents::default();
    let local = store.list_backups().map_err(|e| e.to_string())?;
    let gone = store.tombstones().map_err(|e| e.to_string())?;
    add(&mut all, local, gone);
    let newest = r.newest().map(|c| c.seq);
    let mut newest_len = 0;
    let mut records: Vec<&SignedCatalogue> = r.records.iter().collect();
    records.sort_by_key(|c| std::cmp::Reverse(c.seq));
    for c in records {
        let opened = c.open_contents(master).map_err(|e| e.to_string())?;
        if Some(c.seq) == newest {
            newest_len = opened.entries.len() + opened.tombstones.len();
        }
        add(&mut all, opened.entries, opened.tombstones);
    }
    let tombstones = std::mem::take(&mut all.tombstones);
    all.entries
        .retain(|e| !tombstones.iter().any(|t| t.id == e.id));
    all.tombstones = tombstones;
    all.entries.sort_by_key(|e| (e.info.created_at, e.id));
    Ok((all, newest.unwrap_or(0), newest_len))
}

pub(super) fn add(all: &mut Contents, entries: Vec<CatalogueEntry>, tombstones: Vec<Tombstone>) {
    for e in entries {
        if !all.entries.iter().any(|x| x.id == e.id) {
            all.entries.push(e);
        }
    }
    for t in tombstones {
        if !all.tombstones.iter().any(|x| x.id == t.id) {
            all.tombstones.push(t);
        }
    }
}

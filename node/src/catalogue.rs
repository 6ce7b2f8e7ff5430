//! The owner's backup catalogue in the swarm: a signed, encrypted record kept
//! by the peers responsible for the owner's catalogue slot. Reads take the
//! union of what the holders answer; a record is published only when a
//! majority of them answered (a record built without them could drop backups
//! only they list); the owner's node repairs the record under churn.
//!
//! The slot is a point in the key space, so ids ground near it can take all
//! of it, answer "no record" and accept every new one: a majority answers,
//! and what they hold is nothing. The record therefore also goes to a floor
//! of peers this node trusts outside the slot (named with `--trust-peer`
//! first: sybils can behave until vetted), which it always asks too. They
//! keep it because they keep the owner's data (storage.rs), and their
//! answers add to the union but not to the quorum (which stays the slot's).

use crate::net::Net;
use futures::future::join_all;
use libp2p::PeerId;
use shardnet_protocol::catalogue::{
    self, CatalogueEntry, Contents, Revocation, SignedCatalogue, Tombstone,
};
use shardnet_protocol::placement;
use shardnet_protocol::wire::{Request, Response};
use shardnet_protocol::MasterKey;
use shardnet_store::Store;
use tracing::{debug, info, warn};

pub use shardnet_protocol::catalogue::CATALOGUE_COPIES;
/// Trusted peers beyond the slot that are also sent and asked for it.
pub const CATALOGUE_FLOOR: usize = 2;

/// What the responsible peers of an owner's catalogue slot hold.
struct SlotRecords {
    /// Every valid record seen (this node's own included).
    records: Vec<SignedCatalogue>,
    /// Responsible peers (this node included when it is one), and how many
    /// of them gave a definite answer (a record, or none).
    asked: usize,
    answered: usize,
    /// Responsible and floor peers that answered, and the sequence number
    /// each holds (0: none).
    held: Vec<(PeerId, u64)>,
}

impl SlotRecords {
    /// A majority of the slot's holders answered: a record built from their
    /// answers cannot drop an entry that a majority holds.
    fn quorum(&self) -> bool {
        self.answered > self.asked / 2
    }

    fn newest(&self) -> Option<&SignedCatalogue> {
        self.records.iter().max_by_key(|c| c.seq)
    }
}

/// The peers responsible for an owner's catalogue slot, in this node's view,
/// and the floor: peers beyond them that this node trusts, those named with
/// `--trust-peer` first, then vetted ones, each in placement order (not
/// itself: its own copy is read in any case).
fn slot_holders(net: &Net, owner: &[u8; 32]) -> (Vec<PeerId>, Vec<PeerId>) {
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
fn slot_records_with_quorum(
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

fn slot_records(net: &Net, store: &Store, owner: [u8; 32]) -> SlotRecords {
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
fn union(
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

fn add(all: &mut Contents, entries: Vec<CatalogueEntry>, tombstones: Vec<Tombstone>) {
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

/// What [`maintain_catalogue`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum CatalogueUpkeep {
    /// Fewer than a majority of the slot's holders answered: nothing sent.
    NoQuorum { answered: usize, asked: usize },
    /// A new record with entries some holders lacked was published.
    Published { entries: usize },
    /// The newest record was copied to holders that lacked it.
    Copied { holders: usize },
    /// Every holder that answered has the newest record.
    InPlace,
}

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

fn publish_catalogue(
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
fn send_record(
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

/// Ends `master`'s catalogue with revocation `r` (`keys rotate`): holders
/// keep it over every record of that key, so none can follow. Returns how
/// many holders confirmed.
pub fn revoke(
    net: &Net,
    store: &Store,
    master: &MasterKey,
    r: &Revocation,
) -> Result<usize, String> {
    let record = SignedCatalogue::revoke(master, r).map_err(|e| e.to_string())?;
    let (confirmed, ..) = send_record(net, store, &record)?;
    info!(successor = %r.successor, confirmed, "owner key revoked in its catalogue");
    Ok(confirmed)
}

/// The revocation of `master`'s key, if any holder of its slot has one.
pub fn revocation(net: &Net, store: &Store, master: &MasterKey) -> Option<Revocation> {
    slot_records(net, store, SignedCatalogue::owner_of(master))
        .records
        .iter()
        .find_map(SignedCatalogue::revocation)
}

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
use shardnet_protocol::catalogue::{Revocation, SignedCatalogue};
use shardnet_protocol::MasterKey;
use shardnet_store::Store;
use tracing::info;

pub use shardnet_protocol::catalogue::CATALOGUE_COPIES;

mod read;
mod write;

pub use read::*;
pub use write::*;

/// Trusted peers beyond the slot that are also sent and asked for it.
pub const CATALOGUE_FLOOR: usize = 2;

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
    let sent = send_record(net, store, &record)?;
    info!(successor = %r.successor, confirmed = sent.confirmed, "owner key revoked in its catalogue");
    Ok(sent.confirmed)
}

/// The revocation of `master`'s key, if any holder of its slot has one.
pub fn revocation(net: &Net, store: &Store, master: &MasterKey) -> Option<Revocation> {
    slot_records(net, store, SignedCatalogue::owner_of(master))
        .records
        .iter()
        .find_map(SignedCatalogue::revocation)
}

/// What [`maintain_catalogue`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum CatalogueUpkeep {
    /// Fewer than a majority of the slot's holders answered: nothing sent.
    NoQuorum { answered: usize, asked: usize },
    /// A new record with entries some holders lacked was published, and
    /// `confirmed` of the slot's `holders` (this node included when it is
    /// one) confirmed it.
    Published {
        entries: usize,
        confirmed: usize,
        holders: usize,
    },
    /// The newest record was copied to holders that lacked it.
    Copied { holders: usize },
    /// Every holder that answered has the newest record.
    InPlace,
}

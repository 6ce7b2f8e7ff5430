//! `keys rotate`: a new owner key takes over every live backup of the old
//! one, for when the old key may have leaked.
//!
//! The order is what makes it safe to cut short at any point and run again:
//!
//! 1. The new key is made and kept (`owner.key.rotating`) before anything is
//!    signed with it; a second run picks it up.
//! 2. Every live backup's manifest is re-sealed under the new key and stored
//!    (its root nonce derives from the new key and the old root, so a second
//!    run writes the same shards, not new ones).
//! 3. Every data shard gets a lease signed by the new key on each holder,
//!    and only where a holder took it does the old key's lease go. A shard
//!    that no holder took a new lease for stops the rotation before step 5:
//!    whoever holds the old key could otherwise release its last lease.
//! 4. The old manifest shards are released (prune removes them as orphans);
//!    the catalogue of the new key is published with a quorum.
//! 5. The old key's catalogue ends with a signed revocation naming the new
//!    owner; then the new key replaces `owner.key` (the old one is kept as
//!    `owner.key.retired-TIME`).
//!
//! `SHARDNET_CRASH_AT=rotate:N` kills the process at the N-th of these
//! points: after each re-sealed manifest, after the leases, after the new
//! catalogue, after the revocation (tests/e2e_rotate.rs).
//!
//! With `--reencrypt`, step 3 is different: every data shard is fetched,
//! opened with its old key and sealed again under the new convergence key
//! (a new id), stored where it belongs, and the manifest names the new
//! shards; the old ones are released with the old manifests in step 4.
//!
//! What it does not do (without `--reencrypt`): the data shards stay
//! encrypted under keys derived from their content and the old convergence
//! secret. Someone who copied
//! the old key and the old manifests can still read the data shards they
//! fetch; rotation stops them from listing, changing, deleting or reading
//! anything backed up from now on (see README, "Key rotation").

use crate::datadir::DataDir;
use crate::ops::delete::HolderRow;
use crate::ops::{Ctx, OpError};
use serde::{Deserialize, Serialize};
use shardnet_protocol::BackupId;
use std::sync::Mutex;
use tracing::info;

mod leases;
mod reseal;

use reseal::move_backups;

const IN_FLIGHT: usize = 32;

/// One rotation at a time per process.
static ROTATING: Mutex<()> = Mutex::new(());

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MovedBackup {
    pub old_id: BackupId,
    pub new_id: BackupId,
    pub name: String,
    pub expires_at: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RotateReport {
    pub old_owner: String,
    pub new_owner: String,
    /// Live backups, now in the new key's catalogue.
    pub backups: Vec<MovedBackup>,
    /// Backups past their expiry, left to run out under the old key.
    pub expired_left: usize,
    /// Distinct data shards of the live backups.
    pub data_shards: usize,
    /// (shard, holder) pairs where the new lease replaced the old one.
    pub leases_moved: usize,
    /// Old shards released (prune removes them): the old manifests, and
    /// with `--reencrypt` the old data shards too.
    pub old_manifest_shards: usize,
    /// Data shards rewritten under the new key (`--reencrypt`); their old
    /// copies were released.
    #[serde(default)]
    pub reencrypted: usize,
    /// Holders of the old catalogue slot that confirmed the revocation.
    pub revocation_confirmed: usize,
    /// Where the old key was kept.
    pub retired_key: String,
    pub holders: Vec<HolderRow>,
}

/// Rotates the owner key of `ctx` (the daemon's), through the swarm.
pub fn rotate(ctx: &Ctx<'_>, reencrypt: bool) -> Result<RotateReport, OpError> {
    let Ok(_one) = ROTATING.try_lock() else {
        return Err(OpError::Swarm(
            "a key rotation is already running on this node".into(),
        ));
    };
    let Some(net) = ctx.net else {
        return Err(OpError::Swarm(
            "keys rotate re-signs the backups on their holders: start the node (`shardnet node run`) and run it again".into(),
        ));
    };
    let dd = DataDir::new(&ctx.data_dir);
    let old = &ctx.master;
    let new = dd
        .rotation_key()
        .map_err(|e| OpError::Swarm(format!("making the new owner key: {e}")))?;
    let now = crate::output::now_unix();
    let mut report = RotateReport {
        old_owner: old.owner_id().to_string(),
        new_owner: new.owner_id().to_string(),
        backups: Vec::new(),
        expired_left: 0,
        data_shards: 0,
        leases_moved: 0,
        old_manifest_shards: 0,
        reencrypted: 0,
        revocation_confirmed: 0,
        retired_key: String::new(),
        holders: Vec::new(),
    };
    match crate::catalogue::revocation(net, ctx.store, old) {
        Some(r) if r.successor == new.owner_id() => {
            // Cut short after the revocation: only the key swap is left.
            info!("the old key is already revoked in favour of the new one");
        }
        Some(r) => {
            return Err(OpError::Swarm(format!(
                "this owner key was already retired in favour of owner {}; import that key (`shardnet keys import`) instead of rotating this one",
                r.successor
            )))
        }
        None => move_backups(ctx, net, &new, now, reencrypt, &mut report)?,
    }
    report.retired_key = dd
        .finish_rotation(now)
        .map_err(|e| OpError::Swarm(format!("installing the new owner key: {e}")))?
        .display()
        .to_string();
    info!(old = %report.old_owner, new = %report.new_owner, "owner key rotated");
    Ok(report)
}

//! Per-peer rate limits on requests that grow this node's store or its
//! metadata (catalogue records, lease renewals), or that walk the whole
//! member list (`Members`, `Digest`, `Records`): the sustained rates of
//! [`crate::rate::PerPeer`] buckets, each as deep as a minute's worth.

/// Catalogue records one peer may store here per minute.
pub(super) const CATALOGUES_PER_MINUTE: u32 = 10;
/// Lease renewals one peer may send here per minute (100 a second: a
/// retention change of 100,000 shards held here takes 17 minutes, and each
/// renewal grows a shard's metadata and the audit log).
pub(super) const RENEWS_PER_MINUTE: u32 = 6_000;
/// Reads of the member list one peer may make here per minute (a joiner's
/// `Members`, a digest and its pull): each walks the whole view and may
/// answer half a frame. An honest node makes two every digest period.
pub(super) const LIST_READS_PER_MINUTE: u32 = 6;

//! The audit trail's hash chain: each event's link commits to the one before,
//! so an edit, a removal or a reorder anywhere breaks every later link.

use super::events::ChainReport;

pub(super) const CHAIN_CONTEXT: &[u8] = b"shardnet audit chain v1\0";

pub(super) const MAX_BROKEN: usize = 100;

/// The link hash of event `seq` (its encoded bytes) after `prev`.
pub(crate) fn link_hash(prev: &[u8; 32], seq: u64, event: &[u8]) -> [u8; 32] {
    let mut h = blake3::Hasher::new();
    h.update(CHAIN_CONTEXT);
    h.update(prev);
    h.update(&seq.to_be_bytes());
    h.update(event);
    *h.finalize().as_bytes()
}

/// A stored link: the previous hash, then this event's.
pub(crate) fn link_value(prev: &[u8; 32], hash: &[u8; 32]) -> [u8; 64] {
    let mut v = [0u8; 64];
    v[..32].copy_from_slice(prev);
    v[32..].copy_from_slice(hash);
    v
}

/// Checks a chain from `(seq, event bytes, stored link)` in sequence order.
pub(crate) fn check_chain(
    items: impl Iterator<Item = (u64, Vec<u8>, Option<Vec<u8>>)>,
) -> ChainReport {
    let mut r = ChainReport::default();
    let mut last: Option<(u64, [u8; 32])> = None;
    let broken = |r: &mut ChainReport, seq: u64| {
        if r.broken.len() < MAX_BROKEN {
            r.broken.push(seq);
        }
    };
    for (seq, event, link) in items {
        r.events += 1;
        let Some(link) = link else {
            // Unchained events may only come before the first chained one.
            if last.is_some() {
                broken(&mut r, seq);
            } else {
                r.unchained += 1;
            }
            continue;
        };
        let (Ok(prev), Ok(hash)) = (
            <[u8; 32]>::try_from(&link[..32.min(link.len())]),
            <[u8; 32]>::try_from(&link[32.min(link.len())..]),
        ) else {
            broken(&mut r, seq);
            continue;
        };
        if link_hash(&prev, seq, &event) != hash {
            broken(&mut r, seq);
        }
        match last {
            Some((s, h)) if s + 1 == seq && h != prev => broken(&mut r, seq),
            Some((s, _)) if s + 1 == seq => {}
            Some(_) => r.gaps.push(seq),
            None => {}
        }
        last = Some((seq, hash));
    }
    if let Some((s, h)) = last {
        r.head_seq = Some(s);
        r.head_hash = Some(hex::encode(h));
    }
    r
}

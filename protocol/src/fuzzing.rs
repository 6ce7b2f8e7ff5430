//! The decoders of remote and on-disk bytes as the fuzz targets drive them
//! (`fuzz/`, `scripts/fuzz.sh`): one function per target, so that the test
//! suite replays the committed corpus through exactly the code the fuzzer ran
//! (`protocol/tests/fuzz_corpus.rs`). Each takes any bytes, never panics, and
//! asserts what must hold for any input (what decodes re-encodes to itself).

use crate::catalogue::{CatalogueEntry, SignedCatalogue, MAX_CATALOGUE_LEN};
use crate::envelope::{self, Header};
use crate::gossip::Announcement;
use crate::wire::{self, Request, Response};
use crate::{codec, manifest, meta, sample, MasterKey, ShardId, ShardKey};

/// A request body as any peer may send it: decode, then every check the
/// responder applies before acting on it; what decodes must re-encode to the
/// same message.
pub fn wire_request(data: &[u8]) {
    // The node decodes with `decode_request` (a store's bytes stay in the
    // frame); it must agree with the plain decoder on every input.
    let plain = wire::decode::<Request>("request", data);
    let Ok(req) = wire::decode_request(data.to_vec()) else {
        assert!(plain.is_err(), "only the plain decoder accepted {data:?}");
        return;
    };
    assert_eq!(plain.as_ref(), Ok(&req), "the decoders disagree");
    match &req {
        Request::Store {
            id,
            leases,
            avoid,
            bytes,
        } => check_store(id, leases, avoid.as_ref(), bytes),
        Request::StoreProve {
            id,
            leases,
            avoid,
            bytes,
            ..
        } => check_store(id, leases, avoid.as_deref(), bytes),
        Request::Renew { id, lease } => {
            let _ = lease.verify(id, 1_700_000_000);
        }
        Request::Stripe { id, record } => {
            if let Ok(i) = record.verify(id, 1_700_000_000) {
                let _ = record.lease(i).map(|l| l.verify(id, 1_700_000_000));
            }
            let _ = record.stripe.check();
        }
        Request::Release {
            id,
            release,
            replacement,
        } => {
            let _ = release.verify(id, 1_700_000_000);
            if let Some(l) = replacement {
                let _ = l.verify(id, 1_700_000_000);
            }
        }
        Request::Has { ids } => {
            let _ = wire::check_has(ids);
        }
        Request::PutCatalogue(c) => {
            let _ = c.verify();
        }
        Request::Prove { ids, .. } => {
            let _ = wire::check_prove(ids);
        }
        Request::Sample { offsets, .. } => {
            let _ = wire::check_sample(offsets);
        }
        Request::Digest { buckets } => {
            if wire::check_digest(buckets) {
                let _ = crate::digest::answer(&[], &crate::digest::Digest(buckets.clone()));
            }
        }
        Request::Records { prefixes } => {
            let _ = wire::check_records(prefixes);
        }
        Request::Fetch { .. }
        | Request::GetCatalogue { .. }
        | Request::Hello
        | Request::Members => {}
    }
    let again = wire::encode("request", &req).expect("a decoded request re-encodes");
    let back: Request = wire::decode("request", &again).expect("and decodes again");
    assert_eq!(back, req);
    let (head, tail) = wire::encode_request_parts(&req).expect("and encodes in parts");
    assert_eq!([head, tail.unwrap_or_default().to_vec()].concat(), again);
}

/// What a holder checks of a store before writing it.
fn check_store(id: &ShardId, leases: &[crate::Lease], avoid: Option<&crate::Avoid>, bytes: &[u8]) {
    let _ = crate::lease::verified(id, leases, 1_700_000_000);
    let _ = id.matches(bytes);
    if let Some(a) = avoid {
        let _ = a.verify(id);
    }
}

/// A response body as any peer may send it back: decode, then the checks a
/// requester applies (catalogue signature, Bao slices against the id).
pub fn wire_response(data: &[u8]) {
    let Ok(resp) = wire::decode::<Response>("response", data) else {
        return;
    };
    match &resp {
        Response::Catalogue(Some(c)) => {
            let _ = c.verify();
        }
        Response::Samples(slices) => {
            for (i, s) in slices.iter().enumerate() {
                let _ = sample::check(&ShardId([7; 32]), i as u64 * sample::SAMPLE_LEN, s);
            }
        }
        Response::Hello(rec) => {
            let _ = rec.verify();
        }
        Response::Members(records) => {
            let _ = wire::check_members(records);
            for r in records.iter().take(4) {
                let _ = r.verify();
            }
        }
        Response::Summaries(s) if wire::check_summaries(s) => {
            let _ = crate::digest::wanted(&[], s);
        }
        _ => {}
    }
    let again = wire::encode("response", &resp).expect("a decoded response re-encodes");
    let back: Response = wire::decode("response", &again).expect("and decodes again");
    assert_eq!(back, resp);
}

/// A shard's bytes as a holder or a restoring node reads them: the header
/// decoder and the full open (decrypt, decompress) under a fixed key.
pub fn envelope(data: &[u8]) {
    let _ = Header::decode(data);
    let _ = envelope::open(data, &ShardKey([9; 32]));
}

/// A backup's manifest after decryption: the root and manifest decoders with
/// their path checks (a manifest comes from the swarm and names the files a
/// restore writes), and the root shard opened whole under a fixed master key.
pub fn manifest(data: &[u8]) {
    let _ = manifest::decode_root(data);
    let _ = manifest::decode_manifest(1, data);
    let _ = manifest::decode_manifest(2, data);
    let _ = manifest::open_root(data, &MasterKey::from_bytes([5; 32]));
}

/// An owner's catalogue as a slot holder stores it and a restoring machine
/// reads it: the signed record, its signature check, its opening under a
/// fixed master key, and the decoder of the entries' plaintext.
pub fn catalogue(data: &[u8]) {
    if let Ok(c) = codec::decode::<SignedCatalogue, MAX_CATALOGUE_LEN>("catalogue", data) {
        let _ = c.verify();
        let _ = c.open(&MasterKey::from_bytes([5; 32]));
    }
    let _ = codec::decode::<Vec<CatalogueEntry>, MAX_CATALOGUE_LEN>("catalogue", data);
}

/// A membership announcement from any peer of the swarm: decode, then the
/// heartbeat's bounds, which every node checks before hearing the sender.
pub fn gossip(data: &[u8]) {
    if let Ok(a) = Announcement::decode(data) {
        if let Announcement::Heartbeat(h) = &a {
            let _ = h.verify();
            let _ = h.age(1_700_000_000, 1_200, 600);
        }
        assert_eq!(Announcement::decode(&a.encode()).ok(), Some(a));
    }
}

/// The metadata record a node's store keeps per shard, in this version or
/// any earlier one (read back from disk after upgrades and crashes).
pub fn shard_meta(data: &[u8]) {
    if let Ok(m) = meta::decode(data) {
        let _ = m.avoid_keys();
        let _ = crate::lease::copies_wanted(&m.leases, 1_700_000_000);
    }
}

/// A Bao slice a holder returns to prove it holds a chunk: the verifier's
/// check for a shard id and chunk offset given by the first 40 bytes.
pub fn sample(data: &[u8]) {
    if data.len() < 40 {
        return;
    }
    let id = ShardId(data[..32].try_into().unwrap()); // ok: length checked above
    let start = u64::from_le_bytes(data[32..40].try_into().unwrap()); // ok: length checked above
    let _ = sample::check(&id, start, &data[40..]);
}

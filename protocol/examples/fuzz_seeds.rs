//! Writes valid examples of every fuzzed format into `fuzz/corpus/<target>/`,
//! so that the fuzzers start from real messages rather than from nothing:
//! `cargo run -p shardnet-protocol --example fuzz_seeds -- fuzz/corpus`.
//! The keys match the fixed keys of the fuzz targets.

use shardnet_protocol::catalogue::{CatalogueEntry, SignedCatalogue};
use shardnet_protocol::envelope::{self, NonceMode};
use shardnet_protocol::gossip::{Announcement, Heartbeat};
use shardnet_protocol::manifest::{
    BackupInfo, ChunkRef, Entry, EntryKind, Manifest, ManifestRoot, MANIFEST_FORMAT,
};
use shardnet_protocol::meta::{ShardMeta, ShardState, MAX_META_LEN};
use shardnet_protocol::wire::{self, Reject, Request, Response};
use shardnet_protocol::{codec, sample, Cipher, MasterKey, ShardId, ShardKey, Terms, Tier};
use std::path::{Path, PathBuf};

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let d = dir.join(target);
    std::fs::create_dir_all(&d)?;
    std::fs::write(d.join(format!("seed-{name}")), bytes)
}

fn info() -> BackupInfo {
    BackupInfo {
        name: "home".into(),
        tier: Tier::Silver,
        created_at: 1_700_000_000,
        expires_at: 1_731_536_000,
        sources: vec!["/home/a".into()],
        files: 2,
        dirs: 1,
        symlinks: 1,
        bytes: 4096,
        chunks: 2,
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "fuzz/corpus".into()),
    );
    let master = MasterKey::from_bytes([5; 32]);
    let plain = b"some file bytes, some file bytes, some file bytes".repeat(40);
    let sealed = envelope::seal(
        &plain,
        &ShardKey([9; 32]),
        Cipher::Aes256Gcm,
        NonceMode::Random([1; 12]),
    )?;
    let chacha = envelope::seal(
        &plain,
        &ShardKey([9; 32]),
        Cipher::ChaCha20Poly1305,
        NonceMode::Random([2; 12]),
    )?;
    write(&dir, "envelope", "aes", sealed.bytes())?;
    write(&dir, "envelope", "chacha", chacha.bytes())?;

    let id = sealed.id();
    let terms = Terms::for_tier(&master, Tier::Silver, 1_700_000_000);
    let lease = terms.lease(&id);
    let avoid = terms.avoid(&id, &[[3; 32], [4; 32]]);
    let entry = CatalogueEntry {
        id,
        info: info(),
        shards: 3,
        stored_bytes: 5000,
        new_shards: 2,
        new_bytes: 4000,
    };
    let catalogue = SignedCatalogue::create(&master, std::slice::from_ref(&entry), 7, [3; 12])?;
    let requests = [
        (
            "store",
            Request::Store {
                id,
                leases: vec![lease],
                bytes: sealed.bytes()[..64].to_vec(),
                avoid: Some(avoid),
            },
        ),
        ("renew", Request::Renew { id, lease }),
        ("fetch", Request::Fetch { id }),
        (
            "has",
            Request::Has {
                ids: vec![id, ShardId([1; 32])],
            },
        ),
        ("put-catalogue", Request::PutCatalogue(catalogue.clone())),
        (
            "get-catalogue",
            Request::GetCatalogue {
                owner: catalogue.owner,
            },
        ),
        (
            "prove",
            Request::Prove {
                nonce: [8; 32],
                ids: vec![id],
            },
        ),
        (
            "sample",
            Request::Sample {
                id,
                offsets: vec![0, 1024],
            },
        ),
    ];
    for (name, r) in &requests {
        write(&dir, "wire_request", name, &wire::encode("request", r)?)?;
    }
    let slices = sample::extract(sealed.bytes(), &[0, 1024]);
    let responses = [
        ("stored", Response::Stored),
        (
            "rejected",
            Response::Rejected(Reject::BadLease("expired".into())),
        ),
        ("shard", Response::Shard(sealed.bytes().to_vec())),
        ("has", Response::Has(vec![true, false])),
        ("catalogue", Response::Catalogue(Some(catalogue.clone()))),
        ("proofs", Response::Proofs(vec![Some([1; 32]), None])),
        (
            "samples",
            Response::Samples(
                slices
                    .iter()
                    .map(|s| serde_bytes::ByteBuf::from(s.clone()))
                    .collect(),
            ),
        ),
    ];
    for (name, r) in &responses {
        write(&dir, "wire_response", name, &wire::encode("response", r)?)?;
    }
    for (i, s) in slices.iter().enumerate() {
        let mut b = id.0.to_vec();
        b.extend_from_slice(&(i as u64 * sample::SAMPLE_LEN).to_le_bytes());
        b.extend_from_slice(s);
        write(&dir, "sample", &format!("slice-{i}"), &b)?;
    }

    let chunk = ChunkRef {
        id,
        key: ShardKey([9; 32]),
        len: plain.len() as u32,
    };
    let manifest = Manifest {
        info: info(),
        entries: vec![
            Entry {
                path: b"docs".to_vec(),
                mode: 0o40755,
                uid: 1000,
                gid: 1000,
                mtime: 1,
                mtime_nsec: 2,
                kind: EntryKind::Dir,
            },
            Entry {
                path: b"docs/a.txt".to_vec(),
                mode: 0o100644,
                uid: 1000,
                gid: 1000,
                mtime: 3,
                mtime_nsec: 4,
                kind: EntryKind::File {
                    size: plain.len() as u64,
                    chunks: vec![chunk.clone()],
                },
            },
            Entry {
                path: b"docs/link".to_vec(),
                mode: 0o120777,
                uid: 1000,
                gid: 1000,
                mtime: 5,
                mtime_nsec: 6,
                kind: EntryKind::Symlink {
                    target: b"a.txt".to_vec(),
                },
            },
        ],
        stripes: Vec::new(),
    };
    let root = ManifestRoot {
        format: MANIFEST_FORMAT,
        info: info(),
        manifest_len: 300,
        pieces: vec![chunk],
    };
    write(
        &dir,
        "manifest",
        "manifest",
        &codec::encode::<_, { 1 << 30 }>("manifest", &manifest)?,
    )?;
    write(
        &dir,
        "manifest",
        "root",
        &codec::encode::<_, { 4 << 20 }>("root", &root)?,
    )?;

    write(
        &dir,
        "catalogue",
        "signed",
        &codec::encode::<_, { 4 << 20 }>("catalogue", &catalogue)?,
    )?;
    write(
        &dir,
        "catalogue",
        "entries",
        &codec::encode::<_, { 4 << 20 }>("catalogue", &vec![entry])?,
    )?;

    let hb = Heartbeat {
        zone: "eu-west".into(),
        capacity: 1 << 40,
        used: 1 << 30,
        version: "0.1.0".into(),
        addrs: vec!["/ip4/203.0.113.7/tcp/4001".into()],
        draining: false,
        radius: Some([0x7f; 32]),
    };
    write(
        &dir,
        "gossip",
        "heartbeat",
        &Announcement::Heartbeat(shardnet_protocol::gossip::SignedHeartbeat::sign(
            &libp2p_identity::Keypair::ed25519_from_bytes([9; 32]).expect("a fixed key"),
            hb,
            1_700_000_000,
        ))
        .encode(),
    )?;
    write(&dir, "gossip", "leave", &Announcement::Leave.encode())?;
    write(
        &dir,
        "gossip",
        "down",
        &Announcement::Down(vec![0, 36, 8, 1]).encode(),
    )?;

    let meta = ShardMeta {
        size: 4096,
        state: ShardState::Healthy,
        stored_at: 1_700_000_000,
        verified_at: 1_700_000_100,
        leases: vec![lease],
        avoid: None,
        quarantined_at: 0,
        stripe: None,
    };
    write(
        &dir,
        "shard_meta",
        "healthy",
        &codec::encode::<_, MAX_META_LEN>("meta", &meta)?,
    )?;
    println!("seeds written under {}", dir.display());
    Ok(())
}

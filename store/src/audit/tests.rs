use super::*;
use crate::Store;

fn store_with(n: usize) -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path()).unwrap();
    for i in 0..n {
        let action = if i % 2 == 0 {
            AuditAction::NodeStarted
        } else {
            AuditAction::DrainStarted
        };
        s.record(action, format!("event {i}")).unwrap();
    }
    (dir, s)
}

#[test]
fn an_untouched_chain_verifies_and_goes_on_after_a_reopen() {
    let (dir, s) = store_with(5);
    let r = s.audit_verify().unwrap();
    assert!(r.intact() && r.gaps.is_empty(), "{r:?}");
    assert_eq!((r.events, r.unchained, r.head_seq), (5, 0, Some(5)));
    drop(s);
    let s = Store::open(dir.path()).unwrap();
    s.record(AuditAction::ScrubPaused, "after reopen".into())
        .unwrap();
    let r2 = s.audit_verify().unwrap();
    assert!(r2.intact() && r2.gaps.is_empty(), "{r2:?}");
    assert_eq!(r2.head_seq, Some(6));
    assert_ne!(r2.head_hash, r.head_hash);
}

#[test]
fn an_edited_event_breaks_its_link_and_a_removed_one_leaves_a_gap() {
    let (_dir, s) = store_with(6);
    let key = 3u64.to_be_bytes();
    let cf = s.cf(crate::db::CF_AUDIT_NAME);
    let raw = s.db_get(crate::db::CF_AUDIT_NAME, &key).unwrap().unwrap();
    let mut ev: AuditEvent =
        shardnet_protocol::codec::decode::<_, MAX_AUDIT_LEN>("audit event", &raw).unwrap();
    ev.detail = "nothing happened here".into();
    let forged = shardnet_protocol::codec::encode::<_, MAX_AUDIT_LEN>("e", &ev).unwrap();
    let mut b = rocksdb::WriteBatch::default();
    b.put_cf(cf, key, forged);
    s.write(b).unwrap();
    assert_eq!(s.audit_verify().unwrap().broken, vec![3]);

    let mut b = rocksdb::WriteBatch::default();
    b.delete_cf(cf, 5u64.to_be_bytes());
    b.delete_cf(s.cf(CF_AUDIT_CHAIN), 5u64.to_be_bytes());
    s.write(b).unwrap();
    let r = s.audit_verify().unwrap();
    assert_eq!((r.broken, r.gaps), (vec![3], vec![6]));
}

#[test]
fn trimming_removes_the_oldest_and_the_rest_still_verifies() {
    let (_dir, s) = store_with(6);
    assert_eq!(s.trim_audit(0, 100).unwrap(), 0, "nothing is that old");
    assert_eq!(s.trim_audit(u64::MAX, 4).unwrap(), 4);
    let left = s
        .audit_query(&AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(left.iter().map(|e| e.seq).collect::<Vec<_>>(), [5, 6, 7]);
    assert_eq!(left[2].action, AuditAction::AuditTrimmed);
    let r = s.audit_verify().unwrap();
    assert!(r.intact() && r.gaps.is_empty(), "{r:?}");
    assert_eq!(r.events, 3);
}

#[test]
fn queries_filter_by_action_shard_time_and_keep_the_newest() {
    let (_dir, s) = store_with(7);
    let all = s
        .audit_query(&AuditFilter {
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=7).collect::<Vec<_>>()
    );
    let drains = s
        .audit_query(&AuditFilter {
            action: Some(AuditAction::DrainStarted),
            limit: 2,
            ..Default::default()
        })
        .unwrap();
    assert_eq!(drains.iter().map(|e| e.seq).collect::<Vec<_>>(), [4, 6]);
    let none = s
        .audit_query(&AuditFilter {
            shard: Some(ShardId([9; 32])),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert!(none.is_empty());
    let later = s
        .audit_query(&AuditFilter {
            since: Some(u64::MAX),
            limit: 100,
            ..Default::default()
        })
        .unwrap();
    assert!(later.is_empty());
    assert_eq!("lease-extended".parse(), Ok(AuditAction::LeaseExtended));
    assert!("nope"
        .parse::<AuditAction>()
        .unwrap_err()
        .contains("scrub-found"));
    for a in AuditAction::ALL {
        assert_eq!(a.name().parse(), Ok(a));
    }
}

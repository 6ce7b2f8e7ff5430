use super::*;
use proptest::prelude::*;

fn fine() -> Inputs {
    Inputs {
        used: 10,
        capacity: 100,
        disk_used: 20,
        disk_total: 100,
        peers_known: 4,
        peers_live: 4,
        scrub_period_secs: 86_400,
        scrub_last_pass_at: Some(1_000),
        started_at: 0,
        scrub_shards_checked: 1_000,
        audits_passed: 100,
        peer_versions: vec!["0.1.0".into(); 4],
        version: "0.1.3".into(),
        now: 2_000,
        ..Default::default()
    }
}

fn level_of(h: &Health, name: &str) -> Level {
    h.checks.iter().find(|c| c.name == name).unwrap().level
}

#[test]
fn a_healthy_node_scores_one_and_exits_zero() {
    let h = assess(&fine());
    assert_eq!(h.level, Level::Ok, "{h:?}");
    assert_eq!(h.score, 1.0);
    assert_eq!(h.exit_code(), 0);
}

#[test]
fn a_filling_disk_warns_then_goes_critical() {
    let mut i = fine();
    i.disk_used = 86;
    let h = assess(&i);
    assert_eq!((level_of(&h, "disk"), h.exit_code()), (Level::Warn, 1));
    assert!((h.score - 0.9).abs() < 1e-9);
    i.used = 96;
    let h = assess(&i);
    assert_eq!((level_of(&h, "disk"), h.exit_code()), (Level::Critical, 2));
    assert!(h.checks[0].reason.contains("store"), "{h:?}");
    assert!(h.score < 0.8);
}

#[test]
fn vanished_peers_are_critical_and_a_lone_node_is_a_warning() {
    let mut i = fine();
    i.peers_live = 0;
    i.peer_versions.clear();
    assert_eq!(level_of(&assess(&i), "connectivity"), Level::Critical);
    i.peers_known = 0;
    assert_eq!(level_of(&assess(&i), "connectivity"), Level::Warn);
}

#[test]
fn scrub_age_corruption_audits_compaction_and_versions() {
    let mut i = fine();
    i.now = 1_000 + 3 * 86_400;
    assert_eq!(level_of(&assess(&i), "scrub"), Level::Warn);
    let mut i = fine();
    i.scrub_corruptions = 1;
    assert_eq!(level_of(&assess(&i), "integrity"), Level::Warn);
    i.scrub_corruptions = 6;
    assert_eq!(level_of(&assess(&i), "integrity"), Level::Critical);
    let mut i = fine();
    i.audits_failed = 10;
    assert_eq!(level_of(&assess(&i), "audits"), Level::Warn);
    i.audits_failed = 40;
    assert_eq!(level_of(&assess(&i), "audits"), Level::Critical);
    let mut i = fine();
    i.compaction_debt = 3 << 30;
    assert_eq!(level_of(&assess(&i), "compaction"), Level::Warn);
    let mut i = fine();
    i.peer_versions.push("0.2.0".into());
    assert_eq!(level_of(&assess(&i), "versions"), Level::Warn);
    let mut i = fine();
    i.repair_queue = 101;
    assert_eq!(level_of(&assess(&i), "repair"), Level::Warn);
    i.repair_queue = 1_001;
    assert_eq!(level_of(&assess(&i), "repair"), Level::Critical);
}

proptest! {
    /// The verdict is the worst check, the exit code follows it, and the
    /// score is below the alert threshold (0.8) whenever a check is
    /// critical, and 1 only when all are ok.
    #[test]
    fn verdict_score_and_exit_code_agree(
        used in 0u64..200, disk in 0u64..200, live in 0u64..6, known in 0u64..6,
        queue in 0u64..2_000, corrupt in 0u64..20, failed in 0u64..200,
        debt in 0u64..(20u64 << 30), age in 0u64..(10 * 86_400),
    ) {
        let mut i = fine();
        i.used = used;
        i.disk_used = disk;
        i.peers_live = live.min(known);
        i.peers_known = known;
        i.repair_queue = queue;
        i.scrub_corruptions = corrupt;
        i.audits_failed = failed;
        i.compaction_debt = debt;
        i.now = 1_000 + age;
        let h = assess(&i);
        let worst = h.checks.iter().map(|c| c.level).max().unwrap();
        prop_assert_eq!(h.level, worst);
        prop_assert_eq!(h.exit_code(), worst as i32);
        prop_assert!((0.0..=1.0).contains(&h.score));
        if worst == Level::Critical {
            prop_assert!(h.score < 0.8);
        }
        prop_assert_eq!(h.score == 1.0, worst == Level::Ok);
    }
}

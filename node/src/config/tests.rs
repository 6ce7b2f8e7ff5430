use super::*;

#[test]
fn file_then_flags_then_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let c = NodeConfig::load(dir.path(), Overrides::default()).unwrap();
    assert_eq!(c.zone, "default");
    assert_eq!(c.capacity, DEFAULT_CAPACITY);
    std::fs::write(
        dir.path().join("config.toml"),
        "zone = \"rack-1\"\ncapacity = \"2GiB\"\nbootstrap = [\"/ip4/127.0.0.1/tcp/4001\"]\n",
    )
    .unwrap();
    let c = NodeConfig::load(dir.path(), Overrides::default()).unwrap();
    assert_eq!(
        (c.zone.as_str(), c.capacity, c.bootstrap.len()),
        ("rack-1", 2 << 30, 1)
    );
    let o = Overrides {
        zone: Some("rack-2".into()),
        capacity: Some("1MiB".into()),
        ..Default::default()
    };
    let c = NodeConfig::load(dir.path(), o).unwrap();
    assert_eq!((c.zone.as_str(), c.capacity), ("rack-2", 1 << 20));
}

#[test]
fn bad_values_are_named() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "zone = \"a\"\nunknown = 1\n",
    )
    .unwrap();
    let e = NodeConfig::load(dir.path(), Overrides::default())
        .unwrap_err()
        .to_string();
    assert!(e.contains("unknown"), "{e}");
    let o = Overrides {
        capacity: Some("lots".into()),
        ..Default::default()
    };
    let e = NodeConfig::load(tempfile::tempdir().unwrap().path(), o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("capacity"), "{e}");
    let o = Overrides {
        bootstrap: Some(vec!["not-an-addr".into()]),
        ..Default::default()
    };
    assert!(NodeConfig::load(tempfile::tempdir().unwrap().path(), o).is_err());
    let o = Overrides {
        trusted_peers: Some(vec!["12D3-not-a-peer".into()]),
        ..Default::default()
    };
    let e = NodeConfig::load(tempfile::tempdir().unwrap().path(), o)
        .unwrap_err()
        .to_string();
    assert!(e.contains("trusted peer id"), "{e}");
}

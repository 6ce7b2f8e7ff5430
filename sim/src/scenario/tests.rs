//! Scenario parsing: good files, and bad ones with clear errors.

use super::*;

const OK: &str = r#"
name = "t"
duration = "2h"
[swarm]
nodes = 5
zones = 2
capacity = "1GiB"
bandwidth = "10MB/s"
[[backups]]
tier = "silver"
size = "8MiB"
[[events]]
at = "10m"
kind = "crash"
nodes = [1, 2]
[[events]]
at = "20m"
kind = "join"
count = 2
[[events]]
at = "30m"
kind = "drain"
nodes = [6]
"#;

#[test]
fn parses_a_good_file() {
    let s = Scenario::parse(OK, "ok.toml").unwrap();
    assert_eq!(s.swarm.bandwidth, 10_000_000);
    assert_eq!(s.swarm.capacity, 1 << 30);
    assert_eq!(s.duration, Duration::from_secs(7200));
    assert_eq!(s.events[0].action, Action::Crash { nodes: vec![1, 2] });
    assert_eq!(s.max_nodes(), 7);
}

fn err(text: &str) -> String {
    Scenario::parse(text, "bad.toml").unwrap_err().to_string()
}

#[test]
fn bad_files_get_clear_errors() {
    let e = err(&OK.replace("nodes = 5", "nodez = 5"));
    assert!(e.contains("bad.toml") && e.contains("nodez"), "{e}");
    let e = err(&OK.replace("\"2h\"", "\"two hours\""));
    assert!(e.contains("duration \"two hours\""), "{e}");
    let e = err(&OK.replace("\"10MB/s\"", "\"10MB\""));
    assert!(e.contains("end it in /s"), "{e}");
    let e = err(&OK.replace("nodes = [1, 2]", "nodes = [1, 9]"));
    assert!(e.contains("node 9 does not exist"), "{e}");
    let e = err(&OK.replace("kind = \"crash\"", "kind = \"explode\""));
    assert!(e.contains("explode"), "{e}");
    let e = err(&OK.replace("tier = \"silver\"", "tier = \"platinum\""));
    assert!(e.contains("platinum"), "{e}");
    let e = err(&OK.replace("zones = 2", "zones = 9"));
    assert!(e.contains("swarm.zones"), "{e}");
    let e = err(&OK.replace("at = \"30m\"", "at = \"3h\""));
    assert!(e.contains("after the end"), "{e}");
    let e = err(&OK.replace("nodes = [1, 2]", "nodes = [1, 2]\nnode = 3"));
    assert!(e.contains("unknown field `node`"), "{e}");
    let e = err("this is not toml");
    assert!(e.contains("not valid"), "{e}");
}

//! The keys of `config.toml`: which of them apply while the node runs, how
//! `config set` writes each into the file (comments and order kept), and the
//! values in force with where they come from (`config get`).

use crate::config::{ConfigError, FileConfig, NodeConfig, Overrides};
use serde::{Deserialize, Serialize};

enum Kind {
    Int,
    List,
    Text,
}

struct Key {
    name: &'static str,
    /// Applied by a reload; the others need a restart.
    live: bool,
    kind: Kind,
}

const fn key(name: &'static str, live: bool, kind: Kind) -> Key {
    Key { name, live, kind }
}

/// Every scalar or list key of the file (`[[lifecycle]]` tables are edited
/// in the file; they are read at every backup).
const KEYS: &[Key] = &[
    key("bandwidth_upload", true, Kind::Text),
    key("bandwidth_download", true, Kind::Text),
    key("bandwidth_limit", true, Kind::Text),
    key("bandwidth_repair", true, Kind::Text),
    key("bandwidth_handoff", true, Kind::Text),
    key("bandwidth_backup", true, Kind::Text),
    key("parallel", true, Kind::Int),
    key("maintenance_windows", true, Kind::List),
    key("scrub_period", true, Kind::Text),
    key("scrub_tranquility", true, Kind::Int),
    key("scan_interval_secs", true, Kind::Int),
    key("quarantine_grace", true, Kind::Text),
    key("redundancy", true, Kind::Text),
    key("audit_interval", false, Kind::Text),
    key("listen", false, Kind::List),
    key("bootstrap", false, Kind::List),
    key("zone", false, Kind::Text),
    key("capacity", false, Kind::Text),
    key("quota_per_owner", false, Kind::Text),
    key("heartbeat_ms", false, Kind::Int),
    key("membership_refresh_secs", false, Kind::Int),
    key("membership_digest_secs", false, Kind::Int),
    key("api_port", false, Kind::Int),
    key("down_after_secs", false, Kind::Int),
    key("patience_max_secs", false, Kind::Int),
    key("vetting_proofs", false, Kind::Int),
    key("trusted_peers", false, Kind::List),
    key("forget_after", false, Kind::Text),
    key("audit_retention", false, Kind::Text),
    key("swarm_key", false, Kind::Text),
    key("id_difficulty", false, Kind::Int),
    key("prune_purge_after", false, Kind::Text),
    key("metrics_listen", false, Kind::Text),
    key("max_memory", false, Kind::Text),
];

/// Whether `name` is applied by a reload (None: no such key).
#[cfg(test)]
fn is_live(name: &str) -> Option<bool> {
    KEYS.iter().find(|k| k.name == name).map(|k| k.live)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Default,
    File,
    /// A flag of `node run`: it wins over the file until a restart.
    Flag,
}

/// One key as `config get` shows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Setting {
    pub key: String,
    /// The value in force, as the file would write it.
    pub value: String,
    pub source: Source,
    /// Applied by `config set` and SIGHUP; false: needs a restart.
    pub live: bool,
    /// What the file says now, when a restart is needed for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<String>,
}

/// The keys `c` gives a value (its fields that are set).
fn given(c: &FileConfig) -> std::collections::HashSet<String> {
    match serde_json::to_value(c) {
        Ok(serde_json::Value::Object(m)) => m
            .into_iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k)
            .collect(),
        _ => Default::default(),
    }
}

/// `name` is given as a flag of `node run` (and wins over the file).
pub(super) fn pinned(flags: &Overrides, name: &str) -> bool {
    given(flags).contains(name)
}

fn size(b: u64) -> String {
    if b == 0 {
        "0 (unlimited)".into()
    } else {
        format!("{}/s", crate::output::size(b))
    }
}

fn dur(d: std::time::Duration) -> String {
    humantime::format_duration(d).to_string()
}

fn list<T: ToString>(v: &[T]) -> String {
    v.iter().map(T::to_string).collect::<Vec<_>>().join("; ")
}

/// The value in force for `name`.
fn effective(c: &NodeConfig, name: &str) -> String {
    let l = &c.limits;
    match name {
        "bandwidth_upload" => size(l.upload),
        "bandwidth_download" => size(l.download),
        "bandwidth_limit" => size(l.transfers),
        "bandwidth_repair" => size(l.repair),
        "bandwidth_handoff" => size(l.handoff),
        "bandwidth_backup" => size(l.backup),
        "parallel" => c.parallel.to_string(),
        "maintenance_windows" => c.windows.to_string(),
        "scrub_period" => dur(c.scrub_period),
        "scrub_tranquility" => c.scrub_tranquility.to_string(),
        "scan_interval_secs" => c.scan_interval.as_secs().to_string(),
        "audit_interval" => dur(c.audit_interval),
        "quarantine_grace" => dur(c.quarantine_grace),
        "listen" => list(&c.listen),
        "bootstrap" => list(&c.bootstrap),
        "zone" => c.zone.clone(),
        "capacity" => crate::output::size(c.capacity),
        "quota_per_owner" => crate::output::size(c.quota_per_owner),
        "heartbeat_ms" => c.heartbeat.as_millis().to_string(),
        "membership_refresh_secs" => c.membership_refresh.as_secs().to_string(),
        "membership_digest_secs" => c.membership_digest.as_secs().to_string(),
        "api_port" => c.api_port.to_string(),
        "down_after_secs" => c.down_after.as_secs().to_string(),
        "patience_max_secs" => c.patience_max.as_secs().to_string(),
        "vetting_proofs" => c.vetting_proofs.to_string(),
        "trusted_peers" => list(&c.trusted_peers),
        "forget_after" => dur(c.forget_after),
        "audit_retention" => dur(c.audit_retention),
        "swarm_key" => if c.swarm_key.is_some() {
            "set"
        } else {
            "none (open swarm)"
        }
        .into(),
        "id_difficulty" => c.id_difficulty.to_string(),
        "prune_purge_after" => dur(c.prune_purge_after),
        "metrics_listen" => c
            .metrics_listen
            .map_or_else(|| "off".into(), |a| a.to_string()),
        "max_memory" => crate::output::size(c.max_memory),
        "redundancy" => c.redundancy.to_string(),
        _ => String::new(),
    }
}

/// Every key with its value in force and its source; `next` is what the
/// file says now (for the keys that wait for a restart).
pub(super) fn list_all(
    file: &FileConfig,
    cfg: &NodeConfig,
    next: Option<&NodeConfig>,
) -> Vec<Setting> {
    let (in_file, in_flags) = (given(file), given(&cfg.flags));
    KEYS.iter()
        .map(|k| {
            let value = effective(cfg, k.name);
            let pending = next.map(|n| effective(n, k.name)).filter(|v| *v != value);
            Setting {
                key: k.name.into(),
                value,
                source: if in_flags.contains(k.name) {
                    Source::Flag
                } else if in_file.contains(k.name) {
                    Source::File
                } else {
                    Source::Default
                },
                live: k.live,
                pending,
            }
        })
        .collect()
}

/// The keys whose value differs between `a` and `b`, live ones first.
pub(super) fn changed(a: &NodeConfig, b: &NodeConfig) -> (Vec<String>, Vec<String>) {
    let diff = |live: bool| {
        KEYS.iter()
            .filter(|k| k.live == live && effective(a, k.name) != effective(b, k.name))
            .map(|k| {
                format!(
                    "{}: {} -> {}",
                    k.name,
                    effective(a, k.name),
                    effective(b, k.name)
                )
            })
            .collect()
    };
    (diff(true), diff(false))
}

fn unknown(name: &str) -> ConfigError {
    let names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    ConfigError::Value {
        what: "setting",
        value: name.into(),
        reason: format!("no such key; one of: {}", names.join(", ")),
    }
}

/// `text` (a config.toml) with `name` set to `value`, or removed (`None`,
/// back to its default). Lists are written `a; b; c`. The result is not yet
/// checked: parse it before writing it.
pub(super) fn edit(text: &str, name: &str, value: Option<&str>) -> Result<String, ConfigError> {
    let k = KEYS
        .iter()
        .find(|k| k.name == name)
        .ok_or_else(|| unknown(name))?;
    let mut doc: toml_edit::DocumentMut =
        text.parse()
            .map_err(|e: toml_edit::TomlError| ConfigError::File {
                path: "config.toml".into(),
                reason: e.to_string(),
            })?;
    let Some(v) = value else {
        doc.remove(name);
        return Ok(doc.to_string());
    };
    let bad = |reason: String| ConfigError::Value {
        what: k.name,
        value: v.into(),
        reason,
    };
    let item = match k.kind {
        Kind::Int => toml_edit::value(
            v.trim()
                .parse::<i64>()
                .map_err(|e| bad(format!("{e}; give a whole number")))?,
        ),
        Kind::List => toml_edit::value(
            v.split(';')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<toml_edit::Array>(),
        ),
        Kind::Text => toml_edit::value(v.trim()),
    };
    // An existing key keeps its place and comments (the line's comments
    // belong to the key, the trailing one to the value); a new one goes
    // with the other top-level keys, before the first table.
    let decor = doc
        .get(name)
        .and_then(|i| i.as_value())
        .map(|v| v.decor().clone());
    doc[name] = item;
    if let (Some(d), Some(v)) = (decor, doc[name].as_value_mut()) {
        *v.decor_mut() = d;
    }
    Ok(doc.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_is_a_field_of_the_file() {
        let fields = serde_json::to_value(FileConfig::default()).unwrap();
        let fields = fields.as_object().unwrap();
        for k in KEYS {
            assert!(
                fields.contains_key(k.name),
                "{} is not in FileConfig",
                k.name
            );
        }
        // Every field but the lifecycle tables has a key.
        for f in fields.keys() {
            assert!(f == "lifecycle" || is_live(f).is_some(), "{f} has no key");
        }
    }

    #[test]
    fn edits_keep_comments_and_tables() {
        let text = "# my node\nzone = \"rack-1\" # the rack\n\n[[lifecycle]]\npath = \"**/*.raw\"\ntier = \"bronze\"\n";
        let out = edit(text, "bandwidth_repair", Some("5MB")).unwrap();
        assert!(
            out.contains("# my node") && out.contains("# the rack"),
            "{out}"
        );
        let out = edit(&out, "zone", Some("rack-2")).unwrap();
        assert!(
            out.contains("# my node\nzone = \"rack-2\" # the rack"),
            "{out}"
        );
        let f: FileConfig = toml::from_str(&out).unwrap();
        assert_eq!(f.bandwidth_repair.as_deref(), Some("5MB"));
        assert_eq!(f.lifecycle.unwrap().len(), 1);
        let out = edit(
            &out,
            "maintenance_windows",
            Some("mon-fri 22:00-06:00; sat,sun 00:00-24:00"),
        )
        .unwrap();
        let f: FileConfig = toml::from_str(&out).unwrap();
        assert_eq!(f.maintenance_windows.unwrap().len(), 2);
        let out = edit(&out, "parallel", Some("4")).unwrap();
        let f: FileConfig = toml::from_str(&out).unwrap();
        assert_eq!(f.parallel, Some(4));
        let out = edit(&out, "parallel", None).unwrap();
        let f: FileConfig = toml::from_str(&out).unwrap();
        assert_eq!(f.parallel, None);
        assert!(edit(&out, "parallel", Some("four")).is_err());
        assert!(edit(&out, "no_such_key", Some("1"))
            .unwrap_err()
            .to_string()
            .contains("one of"));
    }
}

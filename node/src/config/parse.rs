//! Parsers of the config file's values (addresses, sizes, durations, the swarm
//! key), each naming the setting in its error.

use super::ConfigError;
use libp2p::Multiaddr;
use std::time::Duration;

pub(super) fn parse_addr(what: &'static str, s: &str) -> Result<Multiaddr, ConfigError> {
    s.parse()
        .map_err(|e: libp2p::multiaddr::Error| ConfigError::Value {
            what,
            value: s.into(),
            reason: e.to_string(),
        })
}

pub(super) fn parse_size(what: &'static str, s: &str) -> Result<u64, ConfigError> {
    s.parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|reason| ConfigError::Value {
            what,
            value: s.into(),
            reason,
        })
}

/// Reads a swarm key file (`/key/swarm/psk/1.0.0/`, `/base16/`, 64 hex
/// digits: the format IPFS and `shardnet keys swarm-key` write).
pub(super) fn read_swarm_key(path: &str) -> Result<libp2p::pnet::PreSharedKey, ConfigError> {
    let bad = |reason: String| ConfigError::Value {
        what: "swarm key file",
        value: path.into(),
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| bad(e.to_string()))?;
    text.trim()
        .parse()
        .map_err(|e: libp2p::pnet::KeyParseError| {
            bad(format!(
                "{e}; create one with `shardnet keys swarm-key > FILE`"
            ))
        })
}

/// Command-line overrides have the file's shape: a given flag wins over the
/// file's value.
pub(super) fn parse_duration(what: &'static str, s: &str) -> Result<Duration, ConfigError> {
    humantime::parse_duration(s).map_err(|e| ConfigError::Value {
        what,
        value: s.into(),
        reason: format!("{e} (e.g. 90s, 15m, 24h, 14d)"),
    })
}

pub(super) fn duration_or(
    what: &'static str,
    v: Option<String>,
    default: Duration,
) -> Result<Duration, ConfigError> {
    match v {
        Some(s) => parse_duration(what, &s),
        None => Ok(default),
    }
}

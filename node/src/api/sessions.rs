//! The status page's read-only sessions: a login with a token opens one
//! (a random id in an HttpOnly cookie, 12 h), bounded in number so that
//! logins cannot grow memory. Kept apart from the page so that the shared
//! state ([`super::state::Shared`]) does not depend on the page's handlers.

use axum::http::{header, HeaderMap};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub(super) const COOKIE: &str = "shardnet_session";
pub(super) const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at once (oldest dropped first): logins cannot grow memory.
const MAX_SESSIONS: usize = 64;

/// Read-only sessions of the page.
#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    pub(super) fn open(&self) -> String {
        let mut id = [0u8; 32];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut id);
        let id = hex::encode(id);
        let mut live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        live.retain(|_, t| now.duration_since(*t) < SESSION_TTL);
        if live.len() >= MAX_SESSIONS {
            if let Some(old) = live.iter().min_by_key(|(_, t)| **t).map(|(k, _)| k.clone()) {
                live.remove(&old);
            }
        }
        live.insert(id.clone(), now);
        id
    }

    pub(super) fn valid(&self, headers: &HeaderMap) -> bool {
        let Some(id) = cookie(headers, COOKIE) else {
            return false;
        };
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(&id).is_some_and(|t| t.elapsed() < SESSION_TTL)
    }

    /// Ends the session the request's cookie names, if any.
    pub(super) fn close(&self, headers: &HeaderMap) {
        if let Some(id) = cookie(headers, COOKIE) {
            self.live
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&id);
        }
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// Whether a typed token is `b`.
pub(super) fn same(a: &str, b: &str) -> bool {
    // Compared as hashes: the time taken says nothing about a partial match.
    blake3::hash(a.trim().as_bytes()) == blake3::hash(b.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn sessions_are_bounded_and_read_from_the_cookie() {
        let s = Sessions::default();
        let first = s.open();
        for _ in 0..MAX_SESSIONS + 5 {
            s.open();
        }
        assert!(s.live.lock().unwrap().len() <= MAX_SESSIONS);
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("a=b; {COOKIE}={first}")).unwrap(),
        );
        assert!(!s.valid(&h), "the oldest session was dropped");
        let id = s.open();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("{COOKIE}={id}")).unwrap(),
        );
        assert!(s.valid(&h));
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("shardnet_session=forged"),
        );
        assert!(!s.valid(&h));
    }
}

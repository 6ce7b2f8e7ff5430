//! The status page for volunteers, at `/` on the control API's port (local
//! by default): is my node healthy, how full is it, who are its peers, what
//! is repair doing, what happened lately, and which backups are mine.
//!
//! Server-rendered HTML, a small script (`/page.js`) that refreshes the
//! figures every 5 s from `/page/data`, no build chain. Access: the page asks
//! once for the read-only token (`DATA_DIR/api.readonly.token`, or the full
//! one) and answers with a session cookie (HttpOnly, SameSite=Strict, 12 h),
//! so no token ever sits in a URL, a history or a log. A session can only
//! read. Everything a peer sent (zones, versions) and every name is escaped.

use super::observe;
use super::server::Shared;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use shardnet_store::AuditFilter;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const COOKIE: &str = "shardnet_session";
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Sessions kept at once (oldest dropped first): logins cannot grow memory.
const MAX_SESSIONS: usize = 64;
const SCRIPT: &str = include_str!("page.js");
const STYLE: &str = include_str!("page.css");

/// Read-only sessions of the page.
#[derive(Default)]
pub struct Sessions {
    live: Mutex<HashMap<String, Instant>>,
}

impl Sessions {
    fn open(&self) -> String {
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

    fn valid(&self, headers: &HeaderMap) -> bool {
        let Some(id) = cookie(headers, COOKIE) else {
            return false;
        };
        let live = self.live.lock().unwrap_or_else(|p| p.into_inner());
        live.get(&id).is_some_and(|t| t.elapsed() < SESSION_TTL)
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

/// `s` safe inside HTML text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

fn same(a: &str, b: &str) -> bool {
    // Compared as hashes: the time taken says nothing about a partial match.
    blake3::hash(a.trim().as_bytes()) == blake3::hash(b.as_bytes())
}

/// What the page shows, also served as JSON to its script.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PageData {
    pub peer_id: String,
    pub version: String,
    pub zone: String,
    pub health: String,
    pub health_score: f64,
    pub problems: Vec<String>,
    pub used: u64,
    pub capacity: u64,
    pub shards: u64,
    pub healthy: u64,
    pub connected_peers: u64,
    pub live_peers: u64,
    pub uptime_secs: u64,
    pub bandwidth_limit: u64,
    pub bytes_moved: u64,
    pub repair_queue: u64,
    pub repair_in_flight: u64,
    pub repair_eta_secs: f64,
    pub repair_paused: bool,
    pub below_target: u64,
    pub peers: Vec<PeerRow>,
    pub events: Vec<EventRow>,
    pub backups: Vec<BackupRow>,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct PeerRow {
    pub peer: String,
    pub state: String,
    pub zone: String,
    pub version: String,
    pub standing: String,
    pub score: f64,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct EventRow {
    pub at: u64,
    pub action: String,
    pub detail: String,
}

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct BackupRow {
    pub id: String,
    pub name: String,
    pub tier: String,
    pub created_at: u64,
    pub expires_at: u64,
    pub files: u64,
    pub bytes: u64,
}

async fn gather(s: &Arc<Shared>) -> PageData {
    let (snap, health) = observe::observe(s).await;
    let net = s.net.client.status().await;
    let s2 = s.clone();
    let (stats, reps, events, backups, bandwidth) = tokio::task::spawn_blocking(move || {
        let stats = s2.store.stats().unwrap_or_default();
        let reps = s2.net.audits.report(None, 0);
        let events = s2
            .store
            .audit_query(&AuditFilter {
                limit: 12,
                ..Default::default()
            })
            .unwrap_or_default();
        let backups = s2.store.list_backups().unwrap_or_default();
        let bandwidth = s2.net.live.bandwidth.upload.limit();
        (stats, reps, events, backups, bandwidth)
    })
    .await
    .unwrap_or_default();
    let standing: HashMap<String, (String, f64)> = reps
        .into_iter()
        .map(|r| (r.peer, (r.standing, r.score)))
        .collect();
    let peers = s
        .net
        .view
        .list()
        .into_iter()
        .filter(|p| !p.local)
        .map(|p| {
            let (st, score) = standing.get(&p.peer_id).cloned().unwrap_or_default();
            PeerRow {
                state: format!("{:?}", p.state).to_lowercase(),
                zone: p.heartbeat.zone.clone(),
                version: p.heartbeat.version.clone(),
                peer: p.peer_id,
                standing: if st.is_empty() { "-".into() } else { st },
                score,
            }
        })
        .collect();
    PageData {
        peer_id: s.net.client.local_peer_id().to_string(),
        version: env!("CARGO_PKG_VERSION").into(),
        zone: s.zone.clone(),
        health: health.level.name().into(),
        health_score: health.score,
        problems: health
            .checks
            .iter()
            .filter(|c| c.level != shardnet_protocol::health::Level::Ok)
            .map(|c| format!("{} ({}): {}", c.name, c.level.name(), c.reason))
            .collect(),
        used: s.net.usage.used.load(Ordering::Relaxed),
        capacity: s.capacity,
        shards: stats.shards,
        healthy: stats.healthy,
        connected_peers: net.as_ref().map_or(0, |n| n.connected.len() as u64),
        live_peers: s.net.view.live_peers().len() as u64,
        uptime_secs: snap.uptime_secs,
        bandwidth_limit: bandwidth,
        bytes_moved: snap.bytes_moved,
        repair_queue: snap.repair_queue,
        repair_in_flight: snap.repair_in_flight,
        repair_eta_secs: snap.repair_eta_secs,
        repair_paused: snap.repair_paused,
        below_target: snap.below_target,
        peers,
        events: events
            .into_iter()
            .rev()
            .map(|e| EventRow {
                at: e.at,
                action: e.action.name().into(),
                detail: e.detail,
            })
            .collect(),
        backups: backups
            .into_iter()
            .rev()
            .map(|b| BackupRow {
                id: b.id.to_string(),
                name: b.info.name,
                tier: b.info.tier.to_string(),
                created_at: b.info.created_at,
                expires_at: b.info.expires_at,
                files: b.info.files,
                bytes: b.info.bytes,
            })
            .collect(),
    }
}

fn num(key: &str, raw: u64, shown: String) -> String {
    format!(
        r#"<span data-k="{key}" data-raw="{raw}">{}</span>"#,
        esc(&shown)
    )
}

fn render(d: &PageData) -> String {
    let size = crate::output::size;
    let pct = if d.capacity == 0 {
        0.0
    } else {
        d.used as f64 * 100.0 / d.capacity as f64
    };
    let mut h = String::with_capacity(16 << 10);
    h.push_str(r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>shardnet node</title><link rel="stylesheet" href="/page.css"><script src="/page.js" defer></script></head><body>"#);
    h.push_str(&format!(
        r#"<header><h1>shardnet node</h1><p class="id">{} · zone {} · version {}</p></header>"#,
        esc(&d.peer_id),
        esc(&d.zone),
        esc(&d.version)
    ));
    h.push_str(&format!(
        r#"<section class="cards"><div class="card {lvl}"><h2>Health</h2><p class="big" data-k="health">{lvl}</p><p>score <span data-k="health_score">{:.2}</span></p></div>"#,
        d.health_score,
        lvl = esc(&d.health),
    ));
    h.push_str(&format!(
        r#"<div class="card"><h2>Storage</h2><p class="big">{} of {}</p><meter min="0" max="100" value="{pct:.1}"></meter><p>{} shards, {} healthy</p></div>"#,
        num("used", d.used, size(d.used)),
        num("capacity", d.capacity, size(d.capacity)),
        num("shards", d.shards, d.shards.to_string()),
        num("healthy", d.healthy, d.healthy.to_string()),
    ));
    h.push_str(&format!(
        r#"<div class="card"><h2>Peers</h2><p class="big">{} live</p><p>{} connected</p></div>"#,
        num("live_peers", d.live_peers, d.live_peers.to_string()),
        num(
            "connected_peers",
            d.connected_peers,
            d.connected_peers.to_string()
        ),
    ));
    h.push_str(&format!(
        r#"<div class="card"><h2>Repair</h2><p class="big">{} queued</p><p>{} in flight · {} below target{}</p><p>moved {} · limit {}</p></div>"#,
        num("repair_queue", d.repair_queue, d.repair_queue.to_string()),
        num("repair_in_flight", d.repair_in_flight, d.repair_in_flight.to_string()),
        num("below_target", d.below_target, d.below_target.to_string()),
        if d.repair_paused { " · <b>paused</b>" } else { "" },
        num("bytes_moved", d.bytes_moved, size(d.bytes_moved)),
        if d.bandwidth_limit == 0 {
            "none".to_string()
        } else {
            format!("{}/s", size(d.bandwidth_limit))
        },
    ));
    h.push_str(&format!(
        r#"<div class="card"><h2>Uptime</h2><p class="big">{}</p></div></section>"#,
        num(
            "uptime_secs",
            d.uptime_secs,
            humantime::format_duration(Duration::from_secs(d.uptime_secs)).to_string()
        ),
    ));
    h.push_str(r#"<section><h2>Needs attention</h2><ul data-k="problems">"#);
    if d.problems.is_empty() {
        h.push_str("<li>nothing</li>");
    }
    for p in &d.problems {
        h.push_str(&format!("<li>{}</li>", esc(p)));
    }
    h.push_str("</ul></section>");
    table(
        &mut h,
        "Peers",
        &["peer", "state", "zone", "version", "standing", "score"],
        d.peers.iter().map(|p| {
            vec![
                short(&p.peer),
                p.state.clone(),
                p.zone.clone(),
                p.version.clone(),
                p.standing.clone(),
                format!("{:.2}", p.score),
            ]
        }),
    );
    table(
        &mut h,
        "Recent events",
        &["when", "event", "detail"],
        d.events.iter().map(|e| {
            vec![
                crate::output::time(e.at),
                e.action.clone(),
                e.detail.clone(),
            ]
        }),
    );
    table(
        &mut h,
        "My backups on this machine",
        &["name", "id", "tier", "made", "expires", "files", "size"],
        d.backups.iter().map(|b| {
            vec![
                b.name.clone(),
                short(&b.id),
                b.tier.clone(),
                crate::output::time(b.created_at),
                crate::output::time(b.expires_at),
                b.files.to_string(),
                size(b.bytes),
            ]
        }),
    );
    h.push_str(r#"<footer><form method="post" action="/logout"><button>Log out</button></form><span data-k="updated"></span></footer></body></html>"#);
    h
}

fn short(id: &str) -> String {
    if id.len() > 16 {
        format!("{}…{}", &id[..8], &id[id.len() - 6..])
    } else {
        id.to_string()
    }
}

fn table(h: &mut String, title: &str, head: &[&str], rows: impl Iterator<Item = Vec<String>>) {
    h.push_str(&format!(
        "<section><h2>{}</h2><table><thead><tr>",
        esc(title)
    ));
    for c in head {
        h.push_str(&format!("<th>{}</th>", esc(c)));
    }
    h.push_str("</tr></thead><tbody>");
    let mut n = 0;
    for r in rows {
        n += 1;
        h.push_str("<tr>");
        for c in r {
            h.push_str(&format!("<td>{}</td>", esc(&c)));
        }
        h.push_str("</tr>");
    }
    if n == 0 {
        h.push_str(&format!(
            r#"<tr><td colspan="{}">none</td></tr>"#,
            head.len()
        ));
    }
    h.push_str("</tbody></table></section>");
}

const LOGIN: &str = r#"<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>shardnet node: log in</title><link rel="stylesheet" href="/page.css"></head><body><main class="login"><h1>shardnet node</h1><form method="post" action="/login"><label for="token">Read-only token</label><input id="token" name="token" type="password" autocomplete="off" autofocus><button type="submit">Open</button></form><p>The token is in <code>DATA_DIR/api.readonly.token</code> on this machine (<code>cat ~/.local/share/shardnet/api.readonly.token</code>). It only lets this page read.</p>MESSAGE</main></body></html>"#;

/// Headers for every page response: nothing inline runs, nothing frames it.
fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

fn html(code: StatusCode, body: String) -> Response {
    secure(
        (
            code,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            body,
        )
            .into_response(),
    )
}

async fn index(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !s.sessions.valid(&headers) {
        return html(StatusCode::OK, LOGIN.replace("MESSAGE", ""));
    }
    html(StatusCode::OK, render(&gather(&s).await))
}

#[derive(Deserialize)]
struct Login {
    token: String,
}

async fn login(State(s): State<Arc<Shared>>, Form(f): Form<Login>) -> Response {
    if !(same(&f.token, &s.readonly_token) || same(&f.token, &s.token)) {
        tracing::warn!("status page: a login with a wrong token");
        return html(
            StatusCode::UNAUTHORIZED,
            LOGIN.replace(
                "MESSAGE",
                r#"<p class="error">That is not this node's token.</p>"#,
            ),
        );
    }
    let id = s.sessions.open();
    let mut r = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{COOKIE}={id}; HttpOnly; SameSite=Strict; Path=/; Max-Age={}",
        SESSION_TTL.as_secs()
    )) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    secure(r)
}

async fn logout(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie(&headers, COOKIE) {
        s.sessions
            .live
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&id);
    }
    let mut r = Redirect::to("/").into_response();
    r.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("shardnet_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    secure(r)
}

async fn data(State(s): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    if !s.sessions.valid(&headers) {
        return secure((StatusCode::UNAUTHORIZED, "log in at /").into_response());
    }
    secure(Json(gather(&s).await).into_response())
}

async fn script() -> Response {
    secure(
        (
            [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
            SCRIPT,
        )
            .into_response(),
    )
}

async fn style() -> Response {
    secure(([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLE).into_response())
}

/// The page's routes (no bearer token: the session cookie guards them).
pub fn router(state: Arc<Shared>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/login", post(login))
        .route("/logout", post(logout))
        .route("/page/data", get(data))
        .route("/page.js", get(script))
        .route("/page.css", get(style))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_a_peer_or_owner_names_is_escaped() {
        let d = PageData {
            zone: "<script>alert(1)</script>".into(),
            peers: vec![PeerRow {
                peer: "p".into(),
                zone: "\"><img src=x onerror=alert(1)>".into(),
                ..Default::default()
            }],
            backups: vec![BackupRow {
                name: "a'b&c".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let h = render(&d);
        assert!(!h.contains("<script>alert"));
        assert!(!h.contains("<img"));
        assert!(h.contains("a&#39;b&amp;c"));
        assert!(h.contains("&lt;script&gt;"));
    }

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

//! The status page's HTML, rendered on the server from [`PageData`].

use super::data::PageData;
use crate::api::html::esc;
use std::time::Duration;

fn num(key: &str, raw: u64, shown: String) -> String {
    format!(
        r#"<span data-k="{key}" data-raw="{raw}">{}</span>"#,
        esc(&shown)
    )
}

pub(super) fn render(d: &PageData) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::page::data::{BackupRow, PeerRow};

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
}

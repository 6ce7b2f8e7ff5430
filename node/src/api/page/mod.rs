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

mod data;
mod render;

use super::sessions::{same, COOKIE, SESSION_TTL};
use super::state::Shared;
use axum::extract::{Form, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use data::gather;
use render::render;
use serde::Deserialize;
use std::sync::Arc;

const SCRIPT: &str = include_str!("page.js");
const STYLE: &str = include_str!("page.css");

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
    s.sessions.close(&headers);
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

//! The CLI side of the control API: finds a running node for the data dir and
//! calls it.

use super::{Endpoint, ENDPOINT_FILE, TOKEN_FILE};
use crate::datadir::DataDir;
use anyhow::{anyhow, Context};
use serde::de::DeserializeOwned;
use serde::Serialize;

#[derive(Clone)]
pub struct ApiClient {
    url: String,
    token: String,
    http: reqwest::blocking::Client,
}

impl ApiClient {
    /// The running node of `dd`, if any answers.
    pub fn connect(dd: &DataDir) -> Option<ApiClient> {
        let ep: Endpoint =
            serde_json::from_slice(&std::fs::read(dd.root().join(ENDPOINT_FILE)).ok()?).ok()?;
        let token = std::fs::read_to_string(dd.root().join(TOKEN_FILE))
            .ok()?
            .trim()
            .to_string();
        // Long operations (a large backup) run inside one request.
        let http = reqwest::blocking::Client::builder()
            .timeout(None)
            .build()
            .ok()?;
        let c = ApiClient {
            url: ep.url,
            token,
            http,
        };
        // A stale file from a node that died: nobody listens.
        c.http
            .get(format!("{}/v1/status", c.url))
            .bearer_auth(&c.token)
            .send()
            .ok()?;
        Some(c)
    }

    fn finish<T: DeserializeOwned>(
        &self,
        r: reqwest::Result<reqwest::blocking::Response>,
    ) -> anyhow::Result<T> {
        let r = r.context("calling the running node")?;
        let status = r.status();
        let body = r.bytes().context("reading the node's answer")?;
        if !status.is_success() {
            let msg = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v["error"].as_str().map(String::from))
                .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
            return Err(anyhow!("{msg}"));
        }
        serde_json::from_slice(&body).context("decoding the node's answer")
    }

    pub fn get<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        self.finish(
            self.http
                .get(format!("{}{path}", self.url))
                .bearer_auth(&self.token)
                .send(),
        )
    }

    /// Runs `f` (a call that makes the node work for a while) and meanwhile
    /// draws the node's progress on a local bar, if `show`.
    pub fn with_progress<T>(&self, show: bool, label: &'static str, f: impl FnOnce() -> T) -> T {
        if !show {
            return f();
        }
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (me, flag) = (self.clone(), done.clone());
        let drawer = std::thread::spawn(move || {
            let bar = crate::output::byte_bar(0, label);
            while !flag.load(std::sync::atomic::Ordering::Relaxed) {
                std::thread::sleep(std::time::Duration::from_millis(250));
                if let Ok(p) = me.get::<super::Progress>("/v1/progress") {
                    if p.label == label {
                        bar.set_length(p.total);
                        bar.set_position(p.done);
                    }
                }
            }
            bar.finish_and_clear();
        });
        let out = f();
        done.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = drawer.join();
        out
    }

    pub fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> anyhow::Result<T> {
        self.finish(
            self.http
                .post(format!("{}{path}", self.url))
                .bearer_auth(&self.token)
                .json(body)
                .send(),
        )
    }
}

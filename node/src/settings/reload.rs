//! Reloading `config.toml` into the running node (SIGHUP, `config reload`)
//! and `config set`, which edits the file and then reloads it.

use super::keys::{self, Setting};
use super::Live;
use crate::config::{self, ConfigError, NodeConfig};
use crate::repair::Repair;
use crate::scrub::Scrub;
use serde::{Deserialize, Serialize};
use shardnet_store::{AuditAction, Store};
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tracing::{info, warn};

/// What a reload did.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Reload {
    /// Keys now in force, `key: old -> new`.
    pub applied: Vec<String>,
    /// Keys that changed in the file but wait for a restart.
    pub restart: Vec<String>,
}

/// The running node's settings and the services they steer.
pub struct Settings {
    dir: PathBuf,
    /// What is in force (restart-only keys as at start).
    running: Mutex<NodeConfig>,
    pub live: Arc<Live>,
    repair: Arc<Repair>,
    scrub: Arc<Scrub>,
    store: Arc<Store>,
    /// One `set` or reload at a time.
    edit: Mutex<()>,
}

impl Settings {
    pub fn new(
        dir: PathBuf,
        cfg: NodeConfig,
        live: Arc<Live>,
        (repair, scrub, store): (Arc<Repair>, Arc<Scrub>, Arc<Store>),
    ) -> Arc<Settings> {
        Arc::new(Settings {
            dir,
            running: Mutex::new(cfg),
            live,
            repair,
            scrub,
            store,
            edit: Mutex::new(()),
        })
    }

    fn running(&self) -> NodeConfig {
        self.running
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Every key: value in force, source, whether it applies live, and what
    /// the file says for the keys that wait for a restart.
    pub fn get(&self) -> Result<Vec<Setting>, ConfigError> {
        let cfg = self.running();
        let file = config::read_file(&self.dir)?;
        let next = config::NodeConfig::resolve(file.clone(), cfg.flags.clone()).ok();
        Ok(keys::list_all(&file, &cfg, next.as_ref()))
    }

    /// Reads `config.toml` again and applies what can change while running.
    /// A file that fails its checks changes nothing.
    pub fn reload(&self) -> Result<Reload, ConfigError> {
        let _one = self.edit.lock().unwrap_or_else(|p| p.into_inner());
        self.reload_locked()
    }

    fn reload_locked(&self) -> Result<Reload, ConfigError> {
        let old = self.running();
        let new = NodeConfig::load(&self.dir, old.flags.clone())?;
        let (applied, restart) = keys::changed(&old, &new);
        self.apply(&new);
        {
            let mut r = self.running.lock().unwrap_or_else(|p| p.into_inner());
            r.limits = new.limits.clone();
            r.windows = new.windows.clone();
            r.parallel = new.parallel;
            r.scan_interval = new.scan_interval;
            r.quarantine_grace = new.quarantine_grace;
            r.scrub_period = new.scrub_period;
            r.scrub_tranquility = new.scrub_tranquility;
            r.redundancy = new.redundancy;
        }
        for a in &applied {
            info!("setting applied: {a}");
        }
        for r in &restart {
            warn!("setting changed in config.toml, in force after a restart: {r}");
        }
        if !applied.is_empty() {
            let detail = format!("config.toml reloaded: {}", applied.join(", "));
            if let Err(e) = self.store.record(AuditAction::ConfigChanged, detail) {
                warn!("could not record the change in the audit log: {e}");
            }
        }
        Ok(Reload { applied, restart })
    }

    /// Puts the live keys of `cfg` into the services.
    fn apply(&self, cfg: &NodeConfig) {
        self.live.bandwidth.set(&cfg.limits);
        self.live.set_windows(cfg.windows.clone());
        {
            let mut r = self.repair.cfg.lock().unwrap_or_else(|p| p.into_inner());
            r.parallel = cfg.parallel;
            r.bandwidth = cfg.limits.transfers;
            r.scan_interval = cfg.scan_interval;
            r.quarantine_grace = cfg.quarantine_grace;
        }
        self.scrub.set_pace(cfg.scrub_period, cfg.scrub_tranquility);
        self.repair.kick();
    }

    /// `config set KEY VALUE` (`None`: back to the default): the file is
    /// edited, checked as a whole, written atomically and reloaded.
    pub fn set(&self, key: &str, value: Option<&str>) -> Result<Reload, ConfigError> {
        let _one = self.edit.lock().unwrap_or_else(|p| p.into_inner());
        edit_file(&self.dir, &self.running().flags, key, value)?;
        self.reload_locked()
    }
}

/// Sets (or, with `None`, removes) `key` in `dir`'s config.toml: edited with
/// its comments kept, checked as a whole as `node run` would with `flags`,
/// then written atomically. A key pinned by a flag is refused.
pub fn edit_file(
    dir: &std::path::Path,
    flags: &config::Overrides,
    key: &str,
    value: Option<&str>,
) -> Result<(), ConfigError> {
    if keys::pinned(flags, key) {
        return Err(ConfigError::Value {
            what: "setting",
            value: key.into(),
            reason: format!(
                "it is given as --{} to `node run`, which wins over config.toml; \
                 change the service's arguments and restart",
                key.replace('_', "-")
            ),
        });
    }
    let path = dir.join(config::CONFIG_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(file_err(&path, e)),
    };
    let new = keys::edit(&text, key, value)?;
    let file: config::FileConfig = toml::from_str(&new).map_err(|e| ConfigError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })?;
    NodeConfig::resolve(file, flags.clone())?;
    write_atomic(&path, new.as_bytes()).map_err(|e| file_err(&path, e))
}

/// `config get` without a running node: what the next start would use.
pub fn offline_get(dir: &std::path::Path) -> Result<Vec<Setting>, ConfigError> {
    let file = config::read_file(dir)?;
    let cfg = NodeConfig::load(dir, Default::default())?;
    Ok(keys::list_all(&file, &cfg, None))
}

fn file_err(path: &std::path::Path, e: std::io::Error) -> ConfigError {
    ConfigError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Writes `path` through a flushed temporary file and a rename, keeping the
/// old file's permissions: a crash leaves the old file or the new, whole.
fn write_atomic(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("toml.tmp");
    let mut f = std::fs::File::create(&tmp)?;
    f.write_all(bytes)?;
    if let Ok(m) = std::fs::metadata(path) {
        f.set_permissions(m.permissions())?;
    }
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent() {
        std::fs::File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// Reloads `config.toml` on every SIGHUP until `stop`.
pub async fn on_sighup(settings: Arc<Settings>, mut stop: tokio::sync::watch::Receiver<bool>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut hup = match signal(SignalKind::hangup()) {
        Ok(s) => s,
        Err(e) => {
            warn!("cannot listen for SIGHUP ({e}): use `shardnet config reload`");
            return;
        }
    };
    loop {
        tokio::select! {
            _ = hup.recv() => {}
            _ = stop.wait_for(|s| *s) => return,
        }
        info!("SIGHUP: reloading config.toml");
        let s = settings.clone();
        match tokio::task::spawn_blocking(move || s.reload()).await {
            Ok(Ok(r)) if r.applied.is_empty() && r.restart.is_empty() => {
                info!("config.toml reloaded: nothing changed")
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => warn!("config.toml not reloaded, the settings in force stay: {e}"),
            Err(e) => warn!("config.toml not reloaded: {e}"),
        }
    }
}

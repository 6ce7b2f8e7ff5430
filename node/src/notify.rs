//! systemd's notify protocol (`Type=notify`, `WatchdogSec=`): the node says
//! READY once its swarm and control API are up, pets the watchdog only while
//! its swarm event loop answers, and says STOPPING on the way out. Without
//! `NOTIFY_SOCKET` (not under systemd) every call does nothing.
//!
//! The protocol is one datagram per message to the socket systemd names;
//! a path, or an abstract name when it starts with '@'.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

fn socket() -> Option<(UnixDatagram, std::os::unix::net::SocketAddr)> {
    let path = std::env::var_os("NOTIFY_SOCKET")?;
    let path = path.to_str()?.to_string();
    let addr = if let Some(name) = path.strip_prefix('@') {
        use std::os::linux::net::SocketAddrExt;
        std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).ok()?
    } else {
        std::os::unix::net::SocketAddr::from_pathname(&path).ok()?
    };
    Some((UnixDatagram::unbound().ok()?, addr))
}

/// Sends `msg` (e.g. "READY=1") to systemd, if it is listening.
pub fn send(msg: &str) {
    if let Some((sock, addr)) = socket() {
        if let Err(e) = sock.send_to_addr(msg.as_bytes(), &addr) {
            tracing::debug!("sd_notify {msg:?}: {e}");
        }
    }
}

/// How often to pet the watchdog: half of `WATCHDOG_USEC`, if systemd set
/// it for this process.
fn watchdog_interval() -> Option<Duration> {
    let usec: u64 = std::env::var("WATCHDOG_USEC").ok()?.parse().ok()?;
    if let Some(pid) = std::env::var("WATCHDOG_PID")
        .ok()
        .and_then(|p| p.parse::<u32>().ok())
    {
        if pid != std::process::id() {
            return None;
        }
    }
    (usec > 0).then(|| Duration::from_micros(usec / 2))
}

/// Pets systemd's watchdog (when it set one for this process) every half
/// period, but only while the swarm event loop answers: a wedged node is
/// restarted. Ends when `stop` turns true.
pub fn watchdog(
    client: crate::swarm::Client,
    mut stop: tokio::sync::watch::Receiver<bool>,
) -> Option<tokio::task::JoinHandle<()>> {
    let every = watchdog_interval()?;
    Some(tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        loop {
            tokio::select! {
                r = stop.changed() => {
                    if r.is_err() || *stop.borrow() {
                        break;
                    }
                }
                _ = tick.tick() => {
                    if let Ok(Some(_)) = tokio::time::timeout(every, client.status()).await {
                        send("WATCHDOG=1");
                    } else {
                        tracing::warn!("the swarm event loop did not answer: systemd's watchdog is not petted");
                    }
                }
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_reach_the_socket_systemd_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify");
        let listener = UnixDatagram::bind(&path).unwrap();
        // The variable is process-wide: this test is the only one using it.
        std::env::set_var("NOTIFY_SOCKET", &path);
        send("READY=1\nSTATUS=serving");
        std::env::remove_var("NOTIFY_SOCKET");
        let mut buf = [0u8; 64];
        let n = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=serving");
        send("READY=1"); // no socket: nothing happens, no panic
    }
}

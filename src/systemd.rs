//! systemd's notify protocol (`Type=notify`): READY once the store is
//! migrated and the listener is up, STATUS lines with a short summary,
//! WATCHDOG pings while the daemon is healthy, RELOADING then READY around
//! a config reload, STOPPING when it drains.
//! Without `NOTIFY_SOCKET` every call is a no-op.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use crate::daemon::Runtime;

/// Where to send notifications, from the environment systemd sets.
#[derive(Debug, Clone)]
pub struct Notifier {
    socket: Option<String>,
    /// Half of `WATCHDOG_USEC`, when the watchdog is on for this process.
    watchdog_every: Option<Duration>,
}

impl Notifier {
    pub fn from_env() -> Notifier {
        let socket = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty());
        let for_us = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| p == std::process::id());
        let watchdog_every = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|u| *u > 0 && for_us)
            .map(|u| Duration::from_micros(u / 2));
        Notifier {
            socket,
            watchdog_every,
        }
    }

    pub fn enabled(&self) -> bool {
        self.socket.is_some()
    }

    /// Sends one notification; failures are logged, never fatal.
    pub fn notify(&self, state: &str) {
        let Some(path) = &self.socket else { return };
        if let Err(e) = send(path, state) {
            tracing::warn!(error = %e, "cannot notify systemd");
        }
    }

    pub fn ready(&self, status: &str) {
        self.notify(&format!("READY=1\nSTATUS={status}"));
    }

    /// A reload begins; `ready` ends it (systemd's reload protocol).
    pub fn reloading(&self) {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        let usec = now.tv_sec as u64 * 1_000_000 + now.tv_nsec as u64 / 1_000;
        self.notify(&format!(
            "RELOADING=1\nMONOTONIC_USEC={usec}\nSTATUS=reloading the config"
        ));
    }

    pub fn stopping(&self) {
        self.notify("STOPPING=1\nSTATUS=draining: finishing in-flight work");
    }

    /// How often the main loop should call [`Notifier::beat`]: half the
    /// watchdog's timeout, at most every 10 s (STATUS stays fresh); `None`
    /// without systemd.
    pub fn beat_every(&self) -> Option<Duration> {
        self.enabled().then(|| {
            self.watchdog_every
                .unwrap_or(Duration::from_secs(10))
                .min(Duration::from_secs(10))
        })
    }

    /// One heartbeat of the main loop: pings the watchdog and refreshes
    /// STATUS if the daemon is healthy — its core tasks (listener, inbox
    /// writer and worker) run and the store answers in time. Otherwise no
    /// ping: if that lasts, systemd restarts the daemon. Returns whether it
    /// pinged.
    pub async fn beat(&self, rt: &Runtime, core_running: bool) -> bool {
        let Some(every) = self.beat_every() else {
            return false;
        };
        if !core_running {
            tracing::error!("a core task of the daemon has ended; withholding the watchdog ping");
            self.notify("STATUS=unhealthy: a core task has ended");
            return false;
        }
        match tokio::time::timeout(every, status_line(rt)).await {
            Ok(Ok(status)) => {
                let ping = if self.watchdog_every.is_some() {
                    "WATCHDOG=1\n"
                } else {
                    ""
                };
                self.notify(&format!("{ping}STATUS={status}"));
                self.watchdog_every.is_some()
            }
            Ok(Err(e)) => {
                tracing::error!(error = %e, "store unhealthy; withholding the watchdog ping");
                false
            }
            Err(_) => {
                tracing::error!("store too slow; withholding the watchdog ping");
                false
            }
        }
    }
}

/// `12 orders; inbox 0 pending; outbox 3 pending, 0 dead`.
pub async fn status_line(rt: &Runtime) -> Result<String, crate::store::StoreError> {
    let orders: i64 = rt
        .store
        .order_counts()
        .await?
        .iter()
        .map(|(_, _, n)| n)
        .sum();
    let inbox: i64 = rt
        .store
        .inbox_counts()
        .await?
        .iter()
        .filter(|(_, s, _)| s == "pending")
        .map(|(_, _, n)| n)
        .sum();
    let outbox = rt.store.outbox_counts().await?;
    let pending: i64 = outbox
        .iter()
        .filter(|(_, s, _)| s == "pending" || s == "sending")
        .map(|(_, _, n)| n)
        .sum();
    let dead: i64 = outbox
        .iter()
        .filter(|(_, s, _)| s == "dead")
        .map(|(_, _, n)| n)
        .sum();
    Ok(format!(
        "{orders} orders; inbox {inbox} pending; outbox {pending} pending, {dead} dead"
    ))
}

fn send(path: &str, state: &str) -> std::io::Result<()> {
    let sock = UnixDatagram::unbound()?;
    if let Some(name) = path.strip_prefix('@') {
        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            sock.send_to_addr(state.as_bytes(), &addr)?;
            return Ok(());
        }
        #[cfg(not(target_os = "linux"))]
        {
            let _ = name;
            return Err(std::io::Error::other("abstract sockets need Linux"));
        }
    }
    sock.send_to(state.as_bytes(), path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn runtime(dir: &std::path::Path) -> Runtime {
        let url = format!("sqlite://{}", dir.join("chansync.db").display());
        let config = crate::Config::parse(
            &dir.join("chansync.toml"),
            &format!("[store]\nurl = \"{url}\"\n"),
        )
        .unwrap();
        let store = crate::store::Store::open(&config.store, crate::store::OpenMode::Migrate)
            .await
            .unwrap();
        Runtime::new(store, config, Default::default(), None)
    }

    #[tokio::test]
    async fn a_beat_pings_only_while_the_core_runs() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let sock = UnixDatagram::bind(&path).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let n = Notifier {
            socket: Some(path.display().to_string()),
            watchdog_every: Some(Duration::from_millis(500)),
        };
        let rt = runtime(dir.path()).await;
        let mut buf = [0u8; 512];

        assert!(n.beat(&rt, true).await);
        let got = sock.recv(&mut buf).unwrap();
        let msg = String::from_utf8_lossy(&buf[..got]).into_owned();
        assert!(msg.starts_with("WATCHDOG=1\nSTATUS=0 orders"), "{msg}");

        assert!(!n.beat(&rt, false).await);
        let got = sock.recv(&mut buf).unwrap();
        let msg = String::from_utf8_lossy(&buf[..got]).into_owned();
        assert!(!msg.contains("WATCHDOG"), "{msg}");
        assert!(msg.contains("unhealthy"), "{msg}");

        rt.store.close().await;
        assert!(!n.beat(&rt, true).await, "a closed store is not healthy");
    }
}

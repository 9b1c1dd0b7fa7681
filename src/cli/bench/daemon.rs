//! The daemon under test: the real `chansync run`, a child of the bench, told
//! apart from the load it serves. Readiness is what systemd would see (the
//! notify protocol's READY=1 on a socket of our own), memory what the kernel
//! counts for the process (`VmRSS`, `VmHWM`).

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::process::{Child, Command};

/// How long a daemon may take to say READY before the bench gives up.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub struct Daemon {
    child: Child,
    pid: u32,
    /// From spawn to READY=1.
    pub ready_after: Duration,
    log: PathBuf,
    /// Cleared to stop the notification reader.
    listening: std::sync::Arc<std::sync::atomic::AtomicBool>,
    socket_path: PathBuf,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.listening
            .store(false, std::sync::atomic::Ordering::Relaxed);
        let _ = std::fs::remove_file(&self.socket_path);
    }
}

impl Daemon {
    /// Starts `chansync run --config CONFIG` and waits for READY=1. Its
    /// log goes to `DIR/daemon.log`.
    pub async fn start(config: &Path, dir: &Path) -> anyhow::Result<Daemon> {
        let socket_path = dir.join(format!("notify-{}.sock", std::process::id()));
        let _ = std::fs::remove_file(&socket_path);
        let socket = UnixDatagram::bind(&socket_path)
            .with_context(|| format!("cannot bind {}", socket_path.display()))?;
        socket.set_read_timeout(Some(Duration::from_millis(100)))?;
        let log = dir.join("daemon.log");
        let log_file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let exe = std::env::current_exe().context("cannot find the chansync binary")?;
        let started = Instant::now();
        let mut child = Command::new(exe)
            .args(["run", "--config"])
            .arg(config)
            .env("NOTIFY_SOCKET", &socket_path)
            .env_remove("CHANSYNC_CONFIG")
            .env_remove("WATCHDOG_USEC")
            .env("CHANSYNC_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .context("cannot start the daemon")?;
        let pid = child.id().context("the daemon exited at once")?;
        // Reads notifications for as long as the daemon runs (it sends
        // STATUS lines after READY); says when READY came.
        let (ready_tx, ready) = tokio::sync::oneshot::channel::<Duration>();
        let listening = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
        let still = listening.clone();
        std::thread::spawn(move || {
            let mut ready_tx = Some(ready_tx);
            let mut buf = [0u8; 4096];
            while still.load(std::sync::atomic::Ordering::Relaxed) {
                if let Ok(n) = socket.recv(&mut buf) {
                    let text = String::from_utf8_lossy(&buf[..n]);
                    if text.lines().any(|l| l == "READY=1") {
                        if let Some(tx) = ready_tx.take() {
                            let _ = tx.send(started.elapsed());
                        }
                    }
                }
            }
        });
        let ready = async move {
            match tokio::time::timeout(READY_TIMEOUT, ready).await {
                Ok(Ok(d)) => Ok(d),
                _ => Err(anyhow::anyhow!(
                    "the daemon did not say READY within {READY_TIMEOUT:?}"
                )),
            }
        };
        let ready_after = tokio::select! {
            r = ready => r,
            status = child.wait() => {
                listening.store(false, std::sync::atomic::Ordering::Relaxed);
                let tail = tail(&log);
                bail!("the daemon exited before READY ({}):\n{tail}", status?)
            }
        };
        let ready_after = match ready_after {
            Ok(d) => d,
            Err(e) => {
                listening.store(false, std::sync::atomic::Ordering::Relaxed);
                bail!("{e}:\n{}", tail(&log))
            }
        };
        Ok(Daemon {
            child,
            pid,
            ready_after,
            log,
            listening,
            socket_path,
        })
    }

    /// Resident memory now.
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        status_field(self.pid, "VmRSS")
    }

    /// The most resident memory the process has had.
    pub fn peak_rss_bytes(&self) -> anyhow::Result<u64> {
        status_field(self.pid, "VmHWM")
    }

    /// SIGTERM, then waits for a clean exit.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(self.pid as i32).context("pid")?,
            rustix::process::Signal::TERM,
        )
        .context("cannot signal the daemon")?;
        let status = tokio::time::timeout(Duration::from_secs(60), self.child.wait())
            .await
            .context("the daemon did not stop within 60 s")??;
        if !status.success() {
            bail!("the daemon stopped with {status}:\n{}", tail(&self.log));
        }
        Ok(())
    }
}

/// A `kB` field of `/proc/PID/status`, in bytes.
fn status_field(pid: u32, field: &str) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("cannot read /proc/{pid}/status"))?;
    text.lines()
        .find_map(|l| {
            let rest = l.strip_prefix(field)?.strip_prefix(':')?;
            rest.trim().strip_suffix("kB")?.trim().parse::<u64>().ok()
        })
        .map(|kb| kb * 1024)
        .with_context(|| format!("no {field} in /proc/{pid}/status"))
}

/// The last lines of the daemon's log, for an error message.
fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

//! The load: requests written in full before the clock starts, sent over
//! keep-alive HTTP/1.1 connections by a client that does nothing else (no
//! parsing beyond the status line and `Content-Length`), so that the two
//! cores go to the daemon, not to the load.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// What a run of requests gave.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Each answered request's latency (from when it was due, when paced).
    pub latencies: Vec<Duration>,
    /// Answers other than 200, by status.
    pub refused: Vec<u16>,
    pub elapsed: Duration,
}

impl Outcome {
    /// The `q` quantile (0.0–1.0) of the latencies, in milliseconds.
    pub fn quantile_ms(&mut self, q: f64) -> f64 {
        if self.latencies.is_empty() {
            return 0.0;
        }
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 * q).ceil() as usize).clamp(1, self.latencies.len());
        self.latencies[i - 1].as_secs_f64() * 1e3
    }
}

/// Sends every request once over `connections` connections, as fast as the
/// server answers (`rate: None`) or each at its due time `i / rate` after
/// the start (latency then counts from the due time, so a stalled server is
/// not hidden by requests that were never sent).
pub async fn run(
    addr: SocketAddr,
    requests: Arc<Vec<Vec<u8>>>,
    connections: usize,
    rate: Option<f64>,
) -> anyhow::Result<Outcome> {
    let next = Arc::new(AtomicUsize::new(0));
    let mut streams = Vec::with_capacity(connections);
    for _ in 0..connections {
        let s = TcpStream::connect(addr)
            .await
            .with_context(|| format!("cannot connect to {addr}"))?;
        s.set_nodelay(true)?;
        streams.push(s);
    }
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(connections);
    for stream in streams {
        let (requests, next) = (requests.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome::default();
            let mut conn = BufReader::new(stream);
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(req) = requests.get(i) else { break };
                let due = match rate {
                    Some(r) => {
                        let due = start + Duration::from_secs_f64(i as f64 / r);
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    None => Instant::now(),
                };
                conn.get_mut().write_all(req).await?;
                let status = read_response(&mut conn).await?;
                out.latencies.push(due.elapsed());
                if status != 200 {
                    out.refused.push(status);
                }
            }
            anyhow::Ok(out)
        }));
    }
    let mut all = Outcome::default();
    for t in tasks {
        let o = t.await.context("a load connection panicked")??;
        all.latencies.extend(o.latencies);
        all.refused.extend(o.refused);
    }
    all.elapsed = start.elapsed();
    Ok(all)
}

/// Reads one response; returns its status.
async fn read_response(conn: &mut BufReader<TcpStream>) -> anyhow::Result<u16> {
    let mut line = String::new();
    if conn.read_line(&mut line).await? == 0 {
        bail!("the server closed the connection");
    }
    let status: u16 = line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("not an HTTP status line: {line:?}"))?;
    let mut length = None;
    loop {
        line.clear();
        conn.read_line(&mut line).await?;
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse::<usize>().ok();
            }
        }
    }
    let length = length.context("an answer without Content-Length")?;
    let mut body = vec![0u8; length];
    conn.read_exact(&mut body).await?;
    Ok(status)
}

/// One HTTP/1.1 POST, head and body, ready to write.
pub fn post(addr: SocketAddr, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut req = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\n");
    for (k, v) in headers {
        req.push_str(k);
        req.push_str(": ");
        req.push_str(v);
        req.push_str("\r\n");
    }
    req.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

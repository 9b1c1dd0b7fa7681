//! What the integration tests share: a Shopify simulator on loopback and the
//! daemon running against it in-process, each with its own temp store.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine;
use chansync::config::Synchronous;
use chansync::store::{OpenMode, OrderFilter, Store};
use chansync::{Config, RunOptions};
use chansync_sdk::model::Order;
use chansync_shopify::sim::{self, SimConfig, SimHandle};
use chrono::{DateTime, FixedOffset};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// How the daemon learns about orders in a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intake {
    Webhooks,
    Poll,
    Both,
}

pub struct Setup {
    pub intake: Intake,
    pub sim: SimConfig,
    /// Extra keys for the `[[connector]]` table.
    pub connector_keys: String,
    /// Top-level tables after it (`[[location]]`, `[[sku]]`, ...).
    pub extra: String,
    /// Extra keys for `[server]` (e.g. `admin_token`).
    pub server_keys: String,
    /// Where the daemon keeps its store.
    pub backend: Backend,
}

impl Setup {
    pub fn new(intake: Intake) -> Self {
        Setup {
            intake,
            // Manual: orders change only when the test says so.
            sim: SimConfig {
                seed: 42,
                generate: false,
                restore_rate: 20_000.0,
                ..SimConfig::default()
            },
            connector_keys: String::new(),
            extra: String::new(),
            server_keys: String::new(),
            backend: Backend::Sqlite,
        }
    }

    /// The same setup with its store on backend `b`.
    pub fn on(mut self, b: Backend) -> Self {
        self.backend = b;
        self
    }
}

pub struct Harness {
    pub sim: SimHandle,
    pub addr: std::net::SocketAddr,
    pub store_url: String,
    pub config_path: PathBuf,
    shutdown: CancellationToken,
    daemon: JoinHandle<Result<(), chansync::daemon::RunError>>,
    _dir: tempfile::TempDir,
}

pub fn config_text(store_url: &str, sim: &SimHandle, intake: Intake, extra: &str) -> String {
    let poll = match intake {
        Intake::Webhooks => "",
        Intake::Poll | Intake::Both => "poll = { every = \"1s\" }",
    };
    format!(
        r#"[store]
url = "{store_url}"
max_connections = 4

[server]
listen = "127.0.0.1:0"

[[connector]]
name = "shop"
kind = "shopify"
base_url = "{base}"
{poll}
access_token = "{token}"
webhook_secret = "{secret}"
{extra}
"#,
        base = sim.base_url(),
        token = sim.access_token(),
        secret = sim.webhook_secret(),
    )
}

/// A daemon running in this process on `listener`.
pub struct Daemon {
    pub config_path: PathBuf,
    pub store_url: String,
    pub shutdown: CancellationToken,
    pub daemon: JoinHandle<Result<(), chansync::daemon::RunError>>,
}

/// Writes `text` as `dir/chansync.toml` and runs the daemon on it until it
/// is ready.
pub async fn start_daemon(dir: &Path, text: &str, listener: TcpListener) -> Daemon {
    let config_path = dir.join("chansync.toml");
    std::fs::write(&config_path, text).unwrap();
    let config = Config::parse(&config_path, text).expect("test config is valid");
    let store_url = config.store.url.clone();
    let shutdown = CancellationToken::new();
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let opts = RunOptions {
        shutdown: shutdown.clone(),
        listener: Some(listener),
        events: None,
        on_ready: Some(Box::new(move |_| {
            let _ = ready_tx.send(());
        })),
        reload: None,
    };
    let daemon = tokio::spawn(chansync::run(config, opts));
    tokio::time::timeout(Duration::from_secs(30), ready_rx)
        .await
        .expect("daemon ready in time")
        .expect("daemon started");
    Daemon {
        config_path,
        store_url,
        shutdown,
        daemon,
    }
}

impl Harness {
    pub async fn start(setup: Setup) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut sim_cfg = setup.sim;
        if setup.intake != Intake::Poll {
            sim_cfg.webhook_to = Some(format!("http://{addr}/webhooks/shop"));
        }
        let sim = sim::start(sim_cfg, "127.0.0.1:0".parse().unwrap())
            .await
            .unwrap();
        let text = format!(
            "{}\n{}\n",
            config_text(
                &store_url(setup.backend, dir.path()),
                &sim,
                setup.intake,
                &setup.connector_keys,
            )
            .replace(
                "listen = \"127.0.0.1:0\"\n",
                &format!("listen = \"127.0.0.1:0\"\n{}\n", setup.server_keys)
            ),
            setup.extra
        );
        let Daemon {
            config_path,
            store_url,
            shutdown,
            daemon,
        } = start_daemon(dir.path(), &text, listener).await;
        Harness {
            sim,
            addr,
            store_url,
            config_path,
            shutdown,
            daemon,
            _dir: dir,
        }
    }

    pub fn webhook_url(&self) -> String {
        format!("http://{}/webhooks/shop", self.addr)
    }

    /// The store as the commands see it: with the config's policy.
    pub async fn store(&self) -> Store {
        let config = Config::load(&self.config_path).unwrap();
        Store::open(
            &chansync::store::StoreOptions::new(&self.store_url).synchronous(Synchronous::Normal),
            OpenMode::Existing,
        )
        .await
        .unwrap()
        .with_policy(chansync::inventory::Policy::from_config(&config))
    }

    pub async fn orders(&self) -> Vec<Order> {
        let store = self.store().await;
        let orders = store.list_orders(&OrderFilter::default()).await.unwrap();
        store.close().await;
        orders
    }

    /// Waits until the store holds every simulated order in its current
    /// version; panics with the difference after `timeout`.
    pub async fn converge(&self, timeout: Duration) -> Vec<Order> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let want = sim_versions(&self.sim);
            let orders = self.orders().await;
            let have: BTreeMap<String, DateTime<FixedOffset>> = orders
                .iter()
                .map(|o| (o.external_id.clone(), o.updated_at))
                .collect();
            if have == want {
                return orders;
            }
            if tokio::time::Instant::now() > deadline {
                panic!("store never caught up with the simulator:\n want {want:?}\n have {have:?}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the daemon and waits for it to drain; returns how it ended.
    pub async fn stop(self) -> Result<(), chansync::daemon::RunError> {
        self.shutdown.cancel();
        let result = self.daemon.await.expect("daemon task");
        self.sim.stop();
        result
    }
}

/// Each simulated order's id and update time.
pub fn sim_versions(sim: &SimHandle) -> BTreeMap<String, DateTime<FixedOffset>> {
    sim.order_ids()
        .into_iter()
        .map(|id| (id.to_string(), sim.rest_order(id).unwrap().updated_at))
        .collect()
}

/// A loopback port free a moment ago, for a binary that binds it itself.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child process killed when the test ends, however it ends.
pub struct Killed(pub std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `chansync simulate ARGS`, and the JSON of its first stdout line.
pub fn simulate(args: &[&str]) -> (Killed, serde_json::Value) {
    use std::io::BufRead;
    let mut sim = Killed(
        std::process::Command::new(env!("CARGO_BIN_EXE_chansync"))
            .env_remove("CHANSYNC_CONFIG")
            .arg("simulate")
            .args(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    std::io::BufReader::new(sim.0.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let info = serde_json::from_str(&first)
        .unwrap_or_else(|e| panic!("simulate {args:?} printed {first:?}: {e}"));
    (sim, info)
}

/// Sends `signal` (e.g. `-HUP`) to a child process.
pub fn signal(pid: u32, signal: &str) {
    let ok = std::process::Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {signal} {pid}");
}

/// Starts a Shopify simulator whose orders change only when a test says so.
pub async fn manual_shop() -> SimHandle {
    sim::start(Setup::new(Intake::Poll).sim, "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap()
}

/// Waits (up to 20 s) for the first dead letter in the outbox.
pub async fn first_dead_letter(store: &Store) -> chansync::store::OutboxRow {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let dead = store
            .outbox_list(&chansync::store::OutboxFilter {
                state: Some("dead".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        if let Some(d) = dead.into_iter().next() {
            return d;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing was dead-lettered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Shopify's signature over a body.
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Posts a Shopify-style webhook; returns the status and JSON reply.
pub async fn post_webhook(
    url: &str,
    topic: &str,
    webhook_id: &str,
    hmac: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(url)
        .header("Content-Type", "application/json")
        .header("X-Shopify-Topic", topic)
        .header("X-Shopify-Hmac-Sha256", hmac)
        .header("X-Shopify-Shop-Domain", sim::SHOP_DOMAIN)
        .header("X-Shopify-API-Version", "2026-07")
        .header("X-Shopify-Webhook-Id", webhook_id)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let json = resp.json().await.unwrap_or(serde_json::Value::Null);
    (status, json)
}

pub use chansync::store::Backend;

/// A new, empty store URL on backend `b`: a file in `dir` for SQLite, a new
/// database on the test binary's PostgreSQL server.
pub fn store_url(b: Backend, dir: &Path) -> String {
    match b {
        Backend::Sqlite => format!("sqlite://{}", dir.join("chansync.db").display()),
        Backend::Postgres => chansync_testpg::server().create_database(),
    }
}

/// A new, migrated store on backend `b` applying `policy`.
pub async fn open_store(b: Backend, dir: &Path, policy: chansync::inventory::Policy) -> Store {
    let opts = chansync::store::StoreOptions::new(store_url(b, dir))
        .synchronous(Synchronous::Normal)
        .max_connections(8);
    Store::open(&opts, OpenMode::Migrate)
        .await
        .unwrap()
        .with_policy(policy)
}

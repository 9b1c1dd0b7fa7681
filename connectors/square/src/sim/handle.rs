//! Starting a simulator and steering it: `start` binds the listener and
//! spawns the server, the seller's activity and the webhook sender under one
//! cancellation token; `SimHandle` is what tests and the CLI hold.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chansync_sdk::chaos::ChaosPlan;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::sim::catalog::currency;
use crate::sim::config::SimConfig;
use crate::sim::faults::Faults;
use crate::sim::model::Kind;
use crate::sim::server::router;
use crate::sim::state::Shared;
use crate::sim::{lifecycle, webhooks};

/// Binds `listen` (port 0 picks a free port) and runs a simulator on it until
/// [`SimHandle::stop`]. Fails for a currency the simulator does not have.
pub async fn start(cfg: SimConfig, listen: SocketAddr) -> std::io::Result<SimHandle> {
    let currency = currency(&cfg.currency).ok_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "the Square simulator has no currency {:?}; use one of {:?}",
                cfg.currency,
                crate::sim::currencies()
            ),
        )
    })?;
    let listener = TcpListener::bind(listen).await?;
    let mut addr = listener.local_addr()?;
    // A wildcard listener is reached on loopback.
    if addr.ip().is_unspecified() {
        addr.set_ip(match addr.ip() {
            IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::LOCALHOST),
        });
    }
    let cancel = CancellationToken::new();
    let tasks = TaskTracker::new();
    let shared = Arc::new(Shared::new(cfg, currency));
    let app = router(shared.clone());
    let shutdown = cancel.clone();
    tasks.spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(error) = served {
            tracing::error!(%error, "simulator server stopped");
        }
    });
    if let Some(target) = shared.cfg.webhook_to.clone() {
        tasks.spawn(webhooks::run_sender(shared.clone(), target, cancel.clone()));
    }
    if shared.cfg.generate {
        tasks.spawn(lifecycle::run(shared.clone(), cancel.clone()));
    }
    tasks.close();
    Ok(SimHandle {
        inner: Arc::new(Inner {
            shared,
            addr,
            cancel,
            tasks,
        }),
    })
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    cancel: CancellationToken,
    tasks: TaskTracker,
}

/// A running simulator. Clones steer the same one.
#[derive(Clone)]
pub struct SimHandle {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.inner.addr)
            .finish()
    }
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`, the API root (`base_url` of a connector).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The bearer token the API accepts.
    pub fn access_token(&self) -> &str {
        &self.inner.shared.cfg.access_token
    }

    /// The key webhooks are signed with (a connector's `webhook_secret`).
    pub fn signature_key(&self) -> &str {
        &self.inner.shared.cfg.signature_key
    }

    /// Rings up `n` in-store sales now: completed and paid, their lines taken
    /// out of stock at the register's location (sending `order.created` and
    /// `inventory.count.updated`). Returns their order ids.
    pub fn create_sale(&self, n: usize) -> Vec<String> {
        self.inner.shared.create(Some(Kind::InStore), n)
    }

    /// Places `n` online orders now: open, with a shipment to prepare, their
    /// lines taken out of the flagship store's stock.
    pub fn create_online_order(&self, n: usize) -> Vec<String> {
        self.inner.shared.create(Some(Kind::Online), n)
    }

    /// Creates `n` orders as the generator draws them (sales and online
    /// orders, by `online_share`).
    pub fn create_orders(&self, n: usize) -> Vec<String> {
        self.inner.shared.create(None, n)
    }

    /// Moves an open online order one step (payment captured, shipment
    /// reserved, prepared, shipped) and sends `order.updated`; `false` if the
    /// order is unknown or cannot move.
    pub fn update_order(&self, id: &str) -> bool {
        self.inner.shared.update_order(id)
    }

    /// Cancels an open order (void or refund, restock) and sends
    /// `order.updated`; `false` if it is unknown or not open.
    pub fn cancel_order(&self, id: &str) -> bool {
        self.inner.shared.cancel_order(id)
    }

    /// Every order id, in creation order.
    pub fn order_ids(&self) -> Vec<String> {
        self.inner.shared.order_ids()
    }

    /// The order as RetrieveOrder returns it now.
    pub fn order_json(&self, id: &str) -> Option<serde_json::Value> {
        self.inner.shared.order_json(id)
    }

    /// Every `IN_STOCK` count by (SKU, location id); a variation without a
    /// SKU is keyed by its id.
    pub fn counts(&self) -> BTreeMap<(String, String), i64> {
        self.inner.shared.count_map()
    }

    /// Sets a count as a stock take in the store would (sending
    /// `inventory.count.updated`); `false` for an unknown SKU or location.
    pub fn set_count(&self, sku: &str, location_id: &str, quantity: i64) -> bool {
        self.inner.shared.set_count(sku, location_id, quantity)
    }

    /// The same JSON as `GET /_sim/state`.
    pub fn state(&self) -> serde_json::Value {
        self.inner.shared.state_json()
    }

    /// Replaces the chaos plan (see [`chansync_sdk::chaos`]): faults at
    /// seeded random, per class of failure, until a plan without shares is
    /// set. The error names the field that is wrong.
    pub fn set_chaos(&self, plan: ChaosPlan) -> Result<(), String> {
        self.inner.shared.chaos.set(plan)
    }

    /// How many faults of each class the chaos plan injected so far.
    pub fn chaos_injected(&self) -> BTreeMap<String, u64> {
        self.inner.shared.chaos.injected()
    }

    /// Fails the next `count` API requests with `status` (429, 500, 502 or
    /// 503; see [`Faults`]), sending `Retry-After` if given; replaces faults
    /// still pending. A status it cannot inject is ignored with a warning.
    pub fn inject_faults(&self, status: u16, count: u32, retry_after: Option<Duration>) {
        let f = Faults {
            status,
            count,
            retry_after_secs: retry_after.map(|d| d.as_secs()),
        };
        match f.check() {
            Ok(()) => self.inner.shared.faults.set(f),
            Err(message) => tracing::warn!(%message, "simulator faults ignored"),
        }
    }

    /// The next `n` UpdateOrder requests find their order changed by the
    /// seller just before (a newer version), so they are refused with
    /// `VERSION_MISMATCH`.
    pub fn race_updates(&self, n: u32) {
        self.inner
            .shared
            .update_races
            .store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// The next `n` UpdateOrder requests that succeed are answered 500, as
    /// if the answer got lost on the way back.
    pub fn lose_update_answers(&self, n: u32) {
        self.inner
            .shared
            .lost_update_answers
            .store(n, std::sync::atomic::Ordering::Relaxed);
    }

    /// Waits until no webhook is queued or in flight; `false` on timeout.
    pub async fn webhooks_idle(&self, timeout: Duration) -> bool {
        self.inner.shared.webhooks.wait_idle(timeout).await
    }

    /// Stops the server, the seller's activity and the webhook sender.
    pub fn stop(&self) {
        self.inner.cancel.cancel();
    }

    /// Waits until every task has ended after [`SimHandle::stop`].
    pub async fn stopped(&self) {
        self.inner.tasks.wait().await;
    }
}

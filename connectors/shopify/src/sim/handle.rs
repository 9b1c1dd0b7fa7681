//! Starting a simulator and steering it: `start` binds the listener and spawns
//! the server, the order lifecycle and the webhook sender under one
//! cancellation token; `SimHandle` is what tests and the CLI hold.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use chansync_sdk::chaos::ChaosPlan;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::rest::RestOrder;
use crate::sim::config::SimConfig;
use crate::sim::faults::Faults;
use crate::sim::server::{router, App};
use crate::sim::state::{lock, Shared};
use crate::sim::{lifecycle, webhooks};

/// Binds `listen` (port 0 picks a free port) and runs a simulator on it until
/// [`SimHandle::stop`].
pub async fn start(cfg: SimConfig, listen: SocketAddr) -> std::io::Result<SimHandle> {
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
    let shared = Arc::new(Shared::new(cfg));
    let app = router(App::new(shared.clone()));
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

impl SimHandle {
    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The GraphQL Admin endpoint for the configured API version.
    pub fn graphql_url(&self) -> String {
        format!(
            "{}/admin/api/{}/graphql.json",
            self.base_url(),
            self.inner.shared.cfg.api_version
        )
    }

    pub fn access_token(&self) -> &str {
        &self.inner.shared.cfg.access_token
    }

    pub fn webhook_secret(&self) -> &str {
        &self.inner.shared.cfg.webhook_secret
    }

    /// Creates `n` orders now (sending `orders/create` if webhooks are on);
    /// returns their ids.
    pub fn create_orders(&self, n: usize) -> Vec<u64> {
        self.inner.shared.create_orders(n)
    }

    /// Moves `updated_at` forward with a realistic change (payment captured,
    /// tags edited) and sends `orders/updated`. `false` for an unknown id.
    pub fn update_order(&self, id: u64) -> bool {
        self.inner.shared.update_order(id)
    }

    /// Cancels (refund or void, restock) and sends `orders/cancelled` then
    /// `orders/updated`. `false` for an unknown or already cancelled order.
    pub fn cancel_order(&self, id: u64) -> bool {
        self.inner.shared.cancel_order(id)
    }

    /// The order as its webhooks show it now.
    pub fn rest_order(&self, id: u64) -> Option<RestOrder> {
        self.inner.shared.order(id).map(|o| o.to_rest())
    }

    /// Every order's numeric id, ascending.
    pub fn order_ids(&self) -> Vec<u64> {
        self.inner.shared.order_ids()
    }

    /// The same JSON as `GET /_sim/state`.
    pub fn state(&self) -> serde_json::Value {
        self.inner.shared.state_json()
    }

    /// Per SKU chansync pushed, the available quantity at the location it was
    /// last set at (the `stock` of the state).
    pub fn stock(&self) -> BTreeMap<String, i64> {
        self.inner.shared.stock()
    }

    /// Makes a SKU known to the shop (a new inventory item, stocked at zero
    /// at the primary location); `false` if it already was.
    pub fn add_product(&self, sku: &str, title: &str) -> bool {
        self.inner.shared.add_product(sku, title)
    }

    /// Changes a SKU's available quantity at the primary location by `delta`,
    /// as a sale or a count in the shop itself would; the new quantity, or
    /// `None` for an unknown SKU.
    pub fn adjust_stock(&self, sku: &str, delta: i64) -> Option<i64> {
        self.inner.shared.adjust_stock(sku, delta)
    }

    /// Fails the next `f.count` API requests with `f.status` (see [`Faults`]);
    /// replaces faults still pending. A status it cannot inject is ignored
    /// with a warning.
    pub fn inject_faults(&self, f: Faults) {
        match f.check() {
            Ok(()) => self.inner.shared.faults.set(f),
            Err(message) => tracing::warn!(%message, "simulator faults ignored"),
        }
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

    /// The next `count` API requests that select `root_field` (e.g.
    /// `fulfillmentCreate`) run, but are answered 502 as if the answer got
    /// lost on the way back: the client cannot tell that they did.
    pub fn lose_answers(&self, root_field: &str, count: u32) {
        self.inner.shared.lost.set(root_field, count);
    }

    /// Replaces the cost bucket (it starts full) and turns throttling on.
    pub fn set_throttle(&self, bucket_size: f64, restore_rate: f64) {
        lock(&self.inner.shared.bucket).reconfigure(
            bucket_size,
            restore_rate,
            tokio::time::Instant::now(),
        );
    }

    /// The `X-Shopify-Webhook-Id` of every delivery the receiver answered
    /// with a 2xx: what it promised to apply.
    pub fn acknowledged_webhooks(&self) -> Vec<String> {
        self.inner.shared.webhooks.acknowledged()
    }

    /// Waits until no webhook is queued or in flight; `false` on timeout.
    pub async fn webhooks_idle(&self, timeout: Duration) -> bool {
        self.inner.shared.webhooks.wait_idle(timeout).await
    }

    /// Stops the server, the lifecycle and the webhook sender.
    pub fn stop(&self) {
        self.inner.cancel.cancel();
    }

    /// Waits until every task has ended after [`SimHandle::stop`].
    pub async fn stopped(&self) {
        self.inner.tasks.wait().await;
    }
}

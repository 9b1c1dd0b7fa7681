//! Starting a simulator and steering it: `start` binds the listener and
//! spawns the server (and the shipper, with `auto_ship_after`) under one
//! cancellation token; `SimHandle` is what tests and the CLI hold.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use chansync_sdk::chaos::ChaosPlan;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::sim::config::SimConfig;
use crate::sim::lifecycle;
use crate::sim::server::router;
use crate::sim::state::{sale_orders, Shared};
use crate::sim::world::ShipTarget;

/// Binds `listen` (port 0 picks a free port) and runs a simulator on it
/// until [`SimHandle::stop`].
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
    if shared.cfg.auto_ship_after.is_some() {
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

    /// What a config needs to reach it: `database`, `login`, `api_key`.
    pub fn credentials(&self) -> Value {
        let cfg = &self.inner.shared.cfg;
        json!({
            "database": cfg.database,
            "login": cfg.login,
            "api_key": cfg.api_key,
        })
    }

    /// Validates the open deliveries of a picking id or of a sale order
    /// (by `client_order_ref` or name) with `tracking`, as the warehouse
    /// does when it ships; stock leaves the warehouse. `false` if nothing
    /// was open to ship.
    pub fn ship(&self, target: impl Into<ShipTarget>, tracking: &str) -> bool {
        let target = target.into();
        self.inner.shared.with(|w| w.ship(&target, Some(tracking)))
    }

    /// Sets a product's on hand in a warehouse (by code), as a stock count
    /// does. `false` for an unknown SKU or warehouse.
    pub fn set_quant(&self, sku: &str, warehouse: &str, qty: i64) -> bool {
        self.inner.shared.with(|w| w.set_quant(sku, warehouse, qty))
    }

    /// On hand per (SKU, warehouse code): quants in internal locations,
    /// summed, for products with an internal reference.
    pub fn quants(&self) -> BTreeMap<(String, String), i64> {
        self.inner.shared.with(|w| w.quants())
    }

    /// Every sale order with its lines, as in `/_sim/state`.
    pub fn sale_orders(&self) -> Vec<Value> {
        self.inner.shared.with(|w| sale_orders(w))
    }

    /// The same JSON as `GET /_sim/state`.
    pub fn state(&self) -> Value {
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

    /// Answers the next `count` API requests with HTTP `status` (a 429
    /// says `Retry-After: 1`) before they reach Odoo.
    pub fn inject_faults(&self, status: u16, count: u32) {
        self.inner.shared.inject_faults(status, count);
    }

    /// Stops the server and the shipper.
    pub fn stop(&self) {
        self.inner.cancel.cancel();
    }

    /// Waits until every task has ended after [`SimHandle::stop`].
    pub async fn stopped(&self) {
        self.inner.tasks.wait().await;
    }
}

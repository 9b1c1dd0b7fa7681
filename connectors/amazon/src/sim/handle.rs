//! Starting a simulator and steering it: `start` binds the listener and
//! spawns the server and the order lifecycle under one cancellation token;
//! `SimHandle` is what tests and the CLI hold.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

use chansync_sdk::chaos::ChaosPlan;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::sim::config::SimConfig;
use crate::sim::faults::Faults;
use crate::sim::lifecycle;
use crate::sim::server::router;
use crate::sim::state::Shared;
use crate::wire;

/// Binds `listen` (port 0 picks a free port) and runs a simulator on it until
/// [`SimHandle::stop`]. Fails for a marketplace the simulator does not sell in.
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
    let shared = Arc::new(Shared::new(
        cfg,
        format!("http://{addr}"),
        cancel.clone(),
        tasks.clone(),
    )?);
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
    if shared.cfg.generate {
        tasks.spawn(lifecycle::run(shared.clone()));
    }
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
    /// The SP-API endpoint, `http://127.0.0.1:PORT` (the connector's `base_url`).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.inner.addr)
    }

    /// The Login with Amazon token endpoint (the connector's `lwa_endpoint`).
    pub fn lwa_endpoint(&self) -> String {
        format!("{}/auth/o2/token", self.base_url())
    }

    /// What a connector needs to sign in: `client_id`, `client_secret`,
    /// `refresh_token`, `seller_id`, `marketplace_ids`.
    pub fn credentials(&self) -> Value {
        let c = &self.inner.shared.cfg;
        json!({
            "client_id": c.client_id,
            "client_secret": c.client_secret,
            "refresh_token": c.refresh_token,
            "seller_id": c.seller_id,
            "marketplace_ids": c.marketplace_ids,
        })
    }

    /// The usage plans the simulator enforces, as a connector's
    /// `rate_limits` option takes them: `{operationId: {per_second, burst}}`.
    pub fn rate_limits(&self) -> Value {
        self.inner.shared.limits.plans()
    }

    /// Creates `n` orders now; returns their `AmazonOrderId`s.
    pub fn create_orders(&self, n: usize) -> Vec<String> {
        self.inner.shared.create_orders(n)
    }

    /// Every order's id, ascending.
    pub fn order_ids(&self) -> Vec<String> {
        self.inner.shared.order_ids()
    }

    /// Moves an order one step on as Amazon would (payment authorized:
    /// Pending → Unshipped with its address; Amazon ships its own order);
    /// `false` if it waits on the seller, is finished or unknown.
    pub fn update_order(&self, id: &str) -> bool {
        self.inner.shared.update_order(id)
    }

    /// Cancels an order nothing of which shipped; `false` otherwise.
    pub fn cancel_order(&self, id: &str) -> bool {
        self.inner.shared.cancel_order(id)
    }

    /// The order as `getOrder` returns it.
    pub fn order(&self, id: &str) -> Option<wire::Order> {
        self.inner.shared.order_json(id)
    }

    /// The order's items as `getOrderItems` returns them (all pages).
    pub fn order_items(&self, id: &str) -> Option<Vec<wire::OrderItem>> {
        self.inner.shared.order_items(id)
    }

    /// The same JSON as `GET /_sim/state`.
    pub fn state(&self) -> Value {
        self.inner.shared.state_json()
    }

    /// Per listed SKU, its merchant-fulfilled quantity.
    pub fn stock(&self) -> BTreeMap<String, i64> {
        self.inner.shared.stock()
    }

    /// Lists a new SKU with a quantity; `false` if it is listed already.
    pub fn add_listing(&self, sku: &str, quantity: i64) -> bool {
        self.inner.shared.add_listing(sku, quantity)
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

    /// Fails the next `count` SP-API calls with `status` (429, 500, 502 or
    /// 503), with `Retry-After: retry_after` seconds when given; replaces
    /// faults still pending. A status it cannot inject is ignored with a
    /// warning.
    pub fn inject_faults(&self, status: u16, count: u32, retry_after: Option<u64>) {
        let f = Faults {
            status,
            count,
            retry_after_secs: retry_after,
        };
        match f.check() {
            Ok(()) => self.inner.shared.faults.set(f),
            Err(message) => tracing::warn!(%message, "simulator faults ignored"),
        }
    }

    /// The next `count` calls of `operation_id` (e.g. `confirmShipment`) run,
    /// but are answered 500 as if the answer got lost on the way back: the
    /// client cannot tell that they did. `false` for an unknown operation.
    pub fn lose_answers(&self, operation_id: &str, count: u32) -> bool {
        match crate::ops::Operation::from_id(operation_id) {
            Some(op) => {
                self.inner.shared.faults.lose(op, count);
                true
            }
            None => false,
        }
    }

    /// Makes every access token issued so far expired, as if time had passed.
    pub fn expire_tokens(&self) {
        self.inner.shared.tokens.expire_all();
    }

    /// Stops the server, the lifecycle and feed processing.
    pub fn stop(&self) {
        self.inner.cancel.cancel();
    }

    /// Waits until every task has ended after [`SimHandle::stop`].
    pub async fn stopped(&self) {
        self.inner.tasks.close();
        self.inner.tasks.wait().await;
    }
}

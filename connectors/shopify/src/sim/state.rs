//! What the simulated shop holds: its orders, the push-backs it received, its
//! cost bucket and counters. Every change to an order happens here, under one
//! short lock, and queues its webhooks in the same critical section (in order).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chrono::{DateTime, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use serde_json::{json, Value};

use crate::sim::config::SimConfig;
use crate::sim::cost::Bucket;
use crate::sim::generate::{apply_cancel, apply_update, generate_order, lifecycle_rng};
use crate::sim::model::{shop_offset, SimOrder};
use crate::sim::search::OrderFilter;
use crate::sim::webhooks::WebhookQueue;

/// Of the lifecycle's changes, this share are cancellations.
const CANCEL_SHARE: f64 = 0.05;

/// Locks, carrying on after a panic elsewhere: the data stays consistent
/// because every critical section is a few assignments.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The clock orders are stamped with: now, to the second, as Shopify's are.
pub(crate) fn now_seconds() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

/// What the channel received from chansync (push-back mutations), one JSON
/// record per mutation in arrival order. Empty until those mutations exist.
#[derive(Debug, Default, Serialize)]
pub(crate) struct Received {
    /// The last stock level pushed, per SKU.
    pub stock: BTreeMap<String, i64>,
    pub fulfillments: Vec<Value>,
    pub cancellations: Vec<Value>,
    pub refunds: Vec<Value>,
}

/// Requests answered, by kind.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub requests: AtomicU64,
    pub throttled: AtomicU64,
    pub http_429: AtomicU64,
}

struct Store {
    orders: BTreeMap<u64, Arc<SimOrder>>,
    /// The index of the next order to generate (order `n` is `#1001 + n`).
    next_index: u64,
    /// Decides which order changes and how; separate from order content.
    rng: ChaCha8Rng,
    received: Received,
}

pub(crate) struct Shared {
    pub cfg: SimConfig,
    store: Mutex<Store>,
    pub bucket: Mutex<Bucket>,
    pub counts: Counts,
    pub webhooks: WebhookQueue,
}

impl Shared {
    pub(crate) fn new(cfg: SimConfig) -> Self {
        let bucket = Bucket::new(
            cfg.bucket_size,
            cfg.restore_rate,
            !cfg.throttle,
            tokio::time::Instant::now(),
        );
        Shared {
            store: Mutex::new(Store {
                orders: BTreeMap::new(),
                next_index: 0,
                rng: lifecycle_rng(cfg.seed),
                received: Received::default(),
            }),
            bucket: Mutex::new(bucket),
            counts: Counts::default(),
            webhooks: WebhookQueue::new(),
            cfg,
        }
    }

    /// Queues a webhook for `order` if webhooks are configured. Called with
    /// the store locked, so deliveries keep the order of the changes.
    fn emit(&self, topic: &'static str, order: &SimOrder) {
        if self.cfg.webhook_to.is_some() {
            let body = serde_json::to_vec(&order.to_rest()).expect("a REST order serializes");
            self.webhooks.enqueue(topic, body);
        }
    }

    pub(crate) fn create_orders(&self, n: usize) -> Vec<u64> {
        let mut store = lock(&self.store);
        let now = now_seconds();
        (0..n)
            .map(|_| {
                let order = generate_order(self.cfg.seed, store.next_index, now);
                store.next_index += 1;
                self.emit("orders/create", &order);
                let id = order.id;
                store.orders.insert(id, Arc::new(order));
                id
            })
            .collect()
    }

    pub(crate) fn update_order(&self, id: u64) -> bool {
        let mut store = lock(&self.store);
        let Store { orders, rng, .. } = &mut *store;
        let Some(order) = orders.get_mut(&id) else {
            return false;
        };
        let order = Arc::make_mut(order);
        apply_update(order, rng, now_seconds());
        self.emit("orders/updated", order);
        true
    }

    pub(crate) fn cancel_order(&self, id: u64) -> bool {
        let mut store = lock(&self.store);
        let Store { orders, rng, .. } = &mut *store;
        let Some(order) = orders.get_mut(&id) else {
            return false;
        };
        let order = Arc::make_mut(order);
        if !apply_cancel(order, rng, now_seconds()) {
            return false;
        }
        // Shopify sends both topics for a cancellation.
        self.emit("orders/cancelled", order);
        self.emit("orders/updated", order);
        true
    }

    /// The lifecycle's step: one open order is updated, or now and then cancelled.
    pub(crate) fn change_random_order(&self) {
        let mut store = lock(&self.store);
        let Store { orders, rng, .. } = &mut *store;
        let open = orders.values().filter(|o| !o.is_cancelled()).count();
        if open == 0 {
            return;
        }
        let pick = rng.gen_range(0..open);
        let cancel = rng.gen_bool(CANCEL_SHARE);
        let Some(order) = orders.values_mut().filter(|o| !o.is_cancelled()).nth(pick) else {
            return;
        };
        let order = Arc::make_mut(order);
        if cancel && apply_cancel(order, rng, now_seconds()) {
            self.emit("orders/cancelled", order);
        } else {
            apply_update(order, rng, now_seconds());
        }
        self.emit("orders/updated", order);
    }

    pub(crate) fn orders_matching(&self, filter: &OrderFilter) -> Vec<Arc<SimOrder>> {
        lock(&self.store)
            .orders
            .values()
            .filter(|o| filter.matches(o))
            .cloned()
            .collect()
    }

    pub(crate) fn order(&self, id: u64) -> Option<Arc<SimOrder>> {
        lock(&self.store).orders.get(&id).cloned()
    }

    pub(crate) fn order_ids(&self) -> Vec<u64> {
        lock(&self.store).orders.keys().copied().collect()
    }

    /// The `/_sim/state` document.
    pub(crate) fn state_json(&self) -> Value {
        let store = lock(&self.store);
        let orders: Vec<Value> = store
            .orders
            .values()
            .map(|o| {
                json!({
                    "id": o.id.to_string(),
                    "name": o.name(),
                    "updated_at": o.updated_at.with_timezone(&shop_offset()).to_rfc3339(),
                    "cancelled": o.is_cancelled(),
                    "financial_status": o.financial_status.rest(),
                    "line_count": o.lines.len(),
                    "total_price": o.currency.rest_amount(o.total_price()),
                    "currency": o.currency.code(),
                })
            })
            .collect();
        let received = serde_json::to_value(&store.received).expect("received records serialize");
        drop(store);
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut state = json!({
            "orders": orders,
            "counts": {
                "requests": count(&self.counts.requests),
                "throttled": count(&self.counts.throttled),
                "http_429": count(&self.counts.http_429),
            },
            "webhooks": self.webhooks.stats(),
        });
        if let (Some(state), Value::Object(received)) = (state.as_object_mut(), received) {
            state.extend(received);
        }
        state
    }
}

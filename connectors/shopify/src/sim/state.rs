//! What the simulated shop holds: its orders, its inventory, the push-backs it
//! received, its cost bucket, injected faults and counters. Every change to an
//! order or a stock level happens here, under one short lock, and queues its
//! webhooks in the same critical section (in order).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chansync_sdk::chaos::Chaos;
use chrono::{DateTime, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::sim::config::SimConfig;
use crate::sim::cost::Bucket;
use crate::sim::faults::{FaultQueue, LostAnswers};
use crate::sim::fulfil::{self, ByFulfillmentOrder, FulfillmentIds, UserError};
use crate::sim::generate::{
    apply_cancel, apply_update, cancel_with, generate_order, lifecycle_rng,
};
use crate::sim::model::{shop_offset, CancelReason, FulfillmentStatus, SimOrder, SimTracking};
use crate::sim::search::OrderFilter;
use crate::sim::stock::{Adjustment, Inventory, SetError, SetRequest, SetRules};
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

/// What the channel received from chansync (push-back mutations): one JSON
/// record per applied fulfilment or cancellation, in arrival order, and
/// where each pushed SKU was last set.
#[derive(Debug, Default)]
pub(crate) struct Received {
    /// Per pushed SKU, the (inventory item, location) it was last set at; the
    /// state shows the available quantity there now.
    pub stock: BTreeMap<String, (u64, u64)>,
    pub fulfillments: Vec<Value>,
    pub cancellations: Vec<Value>,
    pub refunds: Vec<Value>,
}

/// Why `orderCancel` refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CancelRefusal {
    NotFound,
    Invalid(&'static str),
}

/// What `orderCancel` is asked to do besides cancelling.
#[derive(Debug, Clone)]
pub(crate) struct CancelOptions {
    pub reason: CancelReason,
    pub refund: bool,
    pub restock: bool,
    pub notify_customer: bool,
    pub staff_note: Option<String>,
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
    inventory: Inventory,
    fulfillment_ids: FulfillmentIds,
}

pub(crate) struct Shared {
    pub cfg: SimConfig,
    store: Mutex<Store>,
    pub bucket: Mutex<Bucket>,
    /// The REST Admin API's leaky bucket (calls, not cost points).
    pub rest_bucket: Mutex<Bucket>,
    pub counts: Counts,
    pub webhooks: WebhookQueue,
    pub faults: FaultQueue,
    pub lost: LostAnswers,
    pub chaos: Arc<Chaos>,
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
                inventory: Inventory::seeded(cfg.seed, now_seconds()),
                fulfillment_ids: FulfillmentIds::default(),
            }),
            bucket: Mutex::new(bucket),
            rest_bucket: Mutex::new(Bucket::new(
                crate::sim::rest_api::REST_BUCKET,
                crate::sim::rest_api::REST_LEAK,
                !cfg.throttle,
                tokio::time::Instant::now(),
            )),
            counts: Counts::default(),
            webhooks: WebhookQueue::new(),
            faults: FaultQueue::default(),
            chaos: Chaos::new(crate::sim::faults::chaos_body),
            lost: LostAnswers::default(),
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

    /// Queues a webhook whose body is not an order (e.g. `fulfillments/create`).
    fn emit_json(&self, topic: &'static str, body: &Value) {
        if self.cfg.webhook_to.is_some() {
            let body = serde_json::to_vec(body).expect("JSON serializes");
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
        // A shipped order is not cancelled (Shopify wants its fulfilments cancelled first).
        let shipped = order
            .fulfillments
            .iter()
            .any(|f| f.status == FulfillmentStatus::Success);
        if cancel && !shipped && apply_cancel(order, rng, now_seconds()) {
            self.emit("orders/cancelled", order);
        } else {
            apply_update(order, rng, now_seconds());
        }
        self.emit("orders/updated", order);
    }

    /// Reads the inventory under the lock.
    pub(crate) fn with_inventory<R>(&self, f: impl FnOnce(&Inventory) -> R) -> R {
        f(&lock(&self.store).inventory)
    }

    /// `inventorySetQuantities`; remembers where each SKU was set.
    pub(crate) fn set_quantities(
        &self,
        req: &SetRequest,
        key: Option<&str>,
        rules: SetRules,
    ) -> Result<Adjustment, Vec<SetError>> {
        let mut store = lock(&self.store);
        let adjustment = store.inventory.set(req, key, rules, now_seconds())?;
        for c in &adjustment.changes {
            store
                .received
                .stock
                .insert(c.item.sku.clone(), (c.item.id, c.location.id));
        }
        Ok(adjustment)
    }

    /// Makes a SKU known (stocked at zero at the primary location); `false`
    /// if it already was.
    pub(crate) fn add_product(&self, sku: &str, title: &str) -> bool {
        lock(&self.store)
            .inventory
            .add_item(sku, title, now_seconds())
            .is_some()
    }

    /// Changes a SKU's available quantity at the primary location, as a sale
    /// or a count in the shop would; the new quantity.
    pub(crate) fn adjust_stock(&self, sku: &str, delta: i64) -> Option<i64> {
        lock(&self.store)
            .inventory
            .adjust(sku, delta, now_seconds())
    }

    /// Per pushed SKU, the available quantity where it was last set.
    pub(crate) fn stock(&self) -> BTreeMap<String, i64> {
        let store = lock(&self.store);
        store
            .received
            .stock
            .iter()
            .filter_map(|(sku, (item, location))| {
                let level = store.inventory.level(*item, *location)?;
                Some((sku.clone(), level.available))
            })
            .collect()
    }

    /// `fulfillmentCreate`: the order after it and the new fulfilment's index.
    pub(crate) fn create_fulfillment(
        &self,
        input: &[ByFulfillmentOrder],
        tracking: Option<SimTracking>,
    ) -> Result<(Arc<SimOrder>, usize), Vec<UserError>> {
        let order_id = fulfil::target_order(input).map_err(|e| vec![e])?;
        let mut store = lock(&self.store);
        let Store {
            orders,
            fulfillment_ids,
            received,
            ..
        } = &mut *store;
        let Some(order) = orders.get_mut(&order_id) else {
            return Err(vec![fulfil::not_found(0)]);
        };
        let o = Arc::make_mut(order);
        let index = fulfil::create(o, input, tracking, fulfillment_ids, now_seconds())?;
        let f = &o.fulfillments[index];
        let first = f.tracking.first();
        received.fulfillments.push(json!({
            "id": f.id.to_string(),
            "order_id": o.id.to_string(),
            "tracking_number": first.and_then(|t| t.number.clone()),
            "tracking_company": first.and_then(|t| t.company.clone()),
            "lines": f.lines.iter().map(|l| json!({
                "line_item_id": l.line_item_id.to_string(),
                "quantity": l.quantity,
            })).collect::<Vec<_>>(),
            "created_at": f.created_at.to_rfc3339(),
        }));
        // Shopify's topics for a shipment, in the order it sends them.
        self.emit_json("fulfillments/create", &o.rest_fulfillment_webhook(index));
        self.emit(
            match o.fulfillment_status.rest() {
                Some("fulfilled") => "orders/fulfilled",
                _ => "orders/partially_fulfilled",
            },
            o,
        );
        self.emit("orders/updated", o);
        Ok((order.clone(), index))
    }

    /// `orderCancel`, applied at once (Shopify runs it as a job).
    pub(crate) fn cancel_by_api(
        &self,
        order_id: u64,
        opts: &CancelOptions,
    ) -> Result<(), CancelRefusal> {
        let mut store = lock(&self.store);
        let Store {
            orders, received, ..
        } = &mut *store;
        let order = orders.get_mut(&order_id).ok_or(CancelRefusal::NotFound)?;
        if order.is_cancelled() {
            return Err(CancelRefusal::Invalid("Order has already been cancelled."));
        }
        if order
            .fulfillments
            .iter()
            .any(|f| f.status == FulfillmentStatus::Success)
        {
            return Err(CancelRefusal::Invalid(
                "Cannot cancel an order with fulfillments. Cancel its fulfillments first.",
            ));
        }
        let o = Arc::make_mut(order);
        cancel_with(o, opts.reason, opts.refund, now_seconds());
        received.cancellations.push(json!({
            "order_id": o.id.to_string(),
            "reason": opts.reason.rest().to_ascii_uppercase(),
            "at": o.cancelled_at.map(|t| t.to_rfc3339()),
            "refund": opts.refund,
            "restock": opts.restock,
            "notify_customer": opts.notify_customer,
            "staff_note": opts.staff_note,
        }));
        self.emit("orders/cancelled", o);
        self.emit("orders/updated", o);
        Ok(())
    }

    pub(crate) fn orders_matching(&self, filter: &OrderFilter) -> Vec<Arc<SimOrder>> {
        lock(&self.store)
            .orders
            .values()
            .filter(|o| filter.matches(o))
            .cloned()
            .collect()
    }

    /// Every order, by id.
    pub(crate) fn all_orders(&self) -> Vec<Arc<SimOrder>> {
        lock(&self.store).orders.values().cloned().collect()
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
                    "fulfillment_status": o.fulfillment_status.rest(),
                    "financial_status": o.financial_status.rest(),
                    "line_count": o.lines.len(),
                    "total_price": o.currency.rest_amount(o.total_price()),
                    "currency": o.currency.code(),
                })
            })
            .collect();
        let received = json!({
            "fulfillments": store.received.fulfillments,
            "cancellations": store.received.cancellations,
            "refunds": store.received.refunds,
        });
        drop(store);
        let stock = self.stock();
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut state = json!({
            "orders": orders,
            "stock": stock,
            "counts": {
                "requests": count(&self.counts.requests),
                "throttled": count(&self.counts.throttled),
                "http_429": count(&self.counts.http_429),
            },
            "webhooks": self.webhooks.stats(),
            "chaos": self.chaos.state_json(),
        });
        if let (Some(state), Value::Object(received)) = (state.as_object_mut(), received) {
            state.extend(received);
        }
        state
    }
}

//! What every part of a running simulator shares: the world behind one
//! short lock, request counters, injected faults, and the queue of
//! deliveries waiting to ship by themselves; and the `/_sim/state`
//! document.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use axum::http::StatusCode;
use chansync_sdk::chaos::Chaos;
use serde_json::{json, Value};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::sim::config::SimConfig;
use crate::sim::seed;
use crate::sim::world::World;

/// Locks, carrying on after a panic elsewhere: every critical section
/// leaves the world consistent before it can panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Requests answered, by kind.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub requests: AtomicU64,
    pub jsonrpc: AtomicU64,
    pub json2: AtomicU64,
    pub http_429: AtomicU64,
    pub faults: AtomicU64,
}

pub(crate) struct Shared {
    pub cfg: SimConfig,
    world: Mutex<World>,
    pub counts: Counts,
    /// The status the next `n` API requests get instead of an answer.
    faults: Mutex<Option<(u16, u32)>>,
    /// Deliveries to ship by themselves, by due time.
    ship_queue: Mutex<BTreeSet<(Instant, i64)>>,
    pub ship_wake: Notify,
    /// Seeded faults by class (`/_sim/chaos`).
    pub chaos: Arc<Chaos>,
}

impl Shared {
    pub(crate) fn new(cfg: SimConfig) -> Self {
        let (db, company) = seed::seed(cfg.seed, cfg.frozen_clock, !cfg.json2);
        Shared {
            world: Mutex::new(World::new(db, cfg.seed, company, cfg.frozen_clock)),
            counts: Counts::default(),
            faults: Mutex::new(None),
            ship_queue: Mutex::new(BTreeSet::new()),
            ship_wake: Notify::new(),
            chaos: Chaos::new(chaos_body),
            cfg,
        }
    }

    /// Runs `f` on the world, then queues the deliveries it confirmed for
    /// shipping if the simulator ships by itself.
    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut World) -> T) -> T {
        let mut world = lock(&self.world);
        let out = f(&mut world);
        let confirmed = std::mem::take(&mut world.confirmed);
        drop(world);
        if let (Some(delay), false) = (self.cfg.auto_ship_after, confirmed.is_empty()) {
            let due = Instant::now() + delay;
            lock(&self.ship_queue).extend(confirmed.into_iter().map(|p| (due, p)));
            self.ship_wake.notify_one();
        }
        out
    }

    /// Makes the next `count` API requests fail with `status`.
    pub(crate) fn inject_faults(&self, status: u16, count: u32) {
        *lock(&self.faults) = (count > 0).then_some((status, count));
    }

    /// The injected status this request gets, if any.
    pub(crate) fn take_fault(&self) -> Option<u16> {
        let mut f = lock(&self.faults);
        let (status, left) = (*f)?;
        *f = (left > 1).then_some((status, left - 1));
        self.counts.faults.fetch_add(1, Ordering::Relaxed);
        if status == 429 {
            self.counts.http_429.fetch_add(1, Ordering::Relaxed);
        }
        Some(status)
    }

    /// When the next queued delivery is due.
    pub(crate) fn next_due(&self) -> Option<Instant> {
        lock(&self.ship_queue).first().map(|(due, _)| *due)
    }

    /// Takes the deliveries due by `now`.
    pub(crate) fn take_due(&self, now: Instant) -> Vec<i64> {
        let mut q = lock(&self.ship_queue);
        let mut due = Vec::new();
        while let Some(&(at, picking)) = q.first() {
            if at > now {
                break;
            }
            q.pop_first();
            due.push(picking);
        }
        due
    }

    /// The `/_sim/state` document.
    pub(crate) fn state_json(&self) -> Value {
        let (sale_orders, pickings, stock) =
            self.with(|w| (sale_orders(w), pickings(w), w.quants()));
        let mut total: BTreeMap<&str, i64> = BTreeMap::new();
        let mut by_warehouse: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
        for ((sku, wh), qty) in &stock {
            *total.entry(sku).or_default() += qty;
            by_warehouse.entry(wh).or_default().insert(sku, *qty);
        }
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "server_version": self.cfg.server_version(),
            "json2": self.cfg.json2,
            "sale_orders": sale_orders,
            "pickings": pickings,
            "stock": total,
            "stock_by_warehouse": by_warehouse,
            "counts": {
                "requests": count(&self.counts.requests),
                "jsonrpc": count(&self.counts.jsonrpc),
                "json2": count(&self.counts.json2),
                "http_429": count(&self.counts.http_429),
                "faults": count(&self.counts.faults),
            },
            "chaos": self.chaos.state_json(),
        })
    }
}

/// The body of a failure the chaos plan injects: what the proxy in front
/// of Odoo, or Odoo's JSON-2 endpoint, says for the status.
fn chaos_body(status: StatusCode) -> Value {
    let (name, message) = match status.as_u16() {
        429 => ("werkzeug.exceptions.TooManyRequests", "Too many requests"),
        500 => (
            "werkzeug.exceptions.InternalServerError",
            "Internal Server Error",
        ),
        _ => (
            "werkzeug.exceptions.ServiceUnavailable",
            "Service Unavailable",
        ),
    };
    json!({ "name": name, "message": message })
}

/// Every sale order with its lines, as `/_sim/state` shows it.
pub(crate) fn sale_orders(w: &World) -> Vec<Value> {
    let db = &w.db;
    db.ids("sale.order")
        .into_iter()
        .map(|id| {
            let m = "sale.order";
            let warehouse = db
                .raw_id(m, id, "warehouse_id")
                .and_then(|wh| db.raw_str("stock.warehouse", wh, "code"));
            let partner = db.raw_id(m, id, "partner_id");
            let shipping = db.raw_id(m, id, "partner_shipping_id");
            let currency = crate::sim::schema::model_of(m)
                .map(|model| db.value(model, id, "currency_id"))
                .and_then(|c| c.as_i64())
                .and_then(|c| db.raw_str("res.currency", c, "name"));
            let lines: Vec<Value> = db
                .where_eq("sale.order.line", "order_id", &json!(id))
                .into_iter()
                .map(|l| {
                    let line = "sale.order.line";
                    let sku = db
                        .raw_id(line, l, "product_id")
                        .and_then(|p| db.raw_str("product.product", p, "default_code"));
                    json!({
                        "id": l,
                        "sku": sku,
                        "name": db.raw(line, l, "name"),
                        "display_type": db.raw(line, l, "display_type"),
                        "quantity": db.raw(line, l, "product_uom_qty"),
                        "price_unit": db.raw(line, l, "price_unit"),
                        "discount": db.raw(line, l, "discount"),
                    })
                })
                .collect();
            json!({
                "id": id,
                "name": db.raw(m, id, "name"),
                "client_order_ref": db.raw(m, id, "client_order_ref"),
                "origin": db.raw(m, id, "origin"),
                "state": db.raw(m, id, "state"),
                "warehouse": warehouse,
                "currency": currency,
                "partner": partner.map(|p| json!({
                    "id": p,
                    "name": db.raw("res.partner", p, "name"),
                    "email": db.raw("res.partner", p, "email"),
                })),
                "shipping": shipping.map(|p| json!({
                    "id": p,
                    "name": db.raw("res.partner", p, "name"),
                    "street": db.raw("res.partner", p, "street"),
                    "city": db.raw("res.partner", p, "city"),
                    "zip": db.raw("res.partner", p, "zip"),
                    "country": db.raw_id("res.partner", p, "country_id").and_then(|c| db.raw_str("res.country", c, "code")),
                })),
                "lines": lines,
            })
        })
        .collect()
}

/// Every delivery, as `/_sim/state` shows it.
fn pickings(w: &World) -> Vec<Value> {
    let db = &w.db;
    let m = "stock.picking";
    db.ids(m)
        .into_iter()
        .map(|id| {
            let moves: Vec<Value> = db
                .where_eq("stock.move", "picking_id", &json!(id))
                .into_iter()
                .map(|mv| {
                    let sku = db
                        .raw_id("stock.move", mv, "product_id")
                        .and_then(|p| db.raw_str("product.product", p, "default_code"));
                    json!({
                        "sku": sku,
                        "demand": db.raw("stock.move", mv, "product_uom_qty"),
                        "quantity": db.raw("stock.move", mv, "quantity"),
                        "state": db.raw("stock.move", mv, "state"),
                    })
                })
                .collect();
            let warehouse = db
                .raw_id(m, id, "picking_type_id")
                .and_then(|t| db.raw_id("stock.picking.type", t, "warehouse_id"))
                .and_then(|wh| db.raw_str("stock.warehouse", wh, "code"));
            json!({
                "id": id,
                "name": db.raw(m, id, "name"),
                "origin": db.raw(m, id, "origin"),
                "sale_id": db.raw(m, id, "sale_id"),
                "state": db.raw(m, id, "state"),
                "warehouse": warehouse,
                "tracking": db.raw(m, id, "carrier_tracking_ref"),
                "carrier": db.raw_id(m, id, "carrier_id").and_then(|c| db.raw_str("delivery.carrier", c, "name")),
                "write_date": db.raw(m, id, "write_date"),
                "moves": moves,
            })
        })
        .collect()
}

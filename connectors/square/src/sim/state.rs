//! What the simulated seller holds: orders, inventory counts per variation
//! and location, the stock changes chansync sent, idempotency records,
//! injected faults, the rate limiter and counters. Every change happens
//! under one short lock and queues its webhooks in the same critical section,
//! so deliveries keep the order of the changes.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chansync_sdk::chaos::Chaos;
use chrono::{DateTime, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::sim::catalog::{initial_count, CurrencyDef, LOCATIONS, VARIATIONS};
use crate::sim::config::{SimConfig, MERCHANT_ID};
use crate::sim::faults::FaultQueue;
use crate::sim::generate::{apply_cancel, apply_update, generate, lifecycle_rng, now_ms};
use crate::sim::model::{ts, Kind, OrderState, SimOrder};
use crate::sim::webhooks::{uuid_like, WebhookQueue};

/// Of the lifecycle's changes, this share are cancellations.
const CANCEL_SHARE: f64 = 0.05;

/// Locks, carrying on after a panic elsewhere: every critical section is a
/// few assignments, so the data stays consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An `IN_STOCK` count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Count {
    pub quantity: i64,
    pub calculated_at: DateTime<Utc>,
}

/// The `InventoryCount` JSON of variation `v` at location `l`.
pub(crate) fn count_json(v: usize, l: usize, c: &Count) -> Value {
    json!({
        "catalog_object_id": VARIATIONS[v].id,
        "catalog_object_type": "ITEM_VARIATION",
        "state": "IN_STOCK",
        "location_id": LOCATIONS[l].id,
        "quantity": c.quantity.to_string(),
        "calculated_at": ts(c.calculated_at),
    })
}

/// A variation's SKU, or its id when it has none.
pub(crate) fn sku_or_id(v: usize) -> String {
    let var = &VARIATIONS[v];
    var.sku.map_or_else(|| var.id.clone(), str::to_owned)
}

/// The seller's data.
pub(crate) struct World {
    pub orders: BTreeMap<String, SimOrder>,
    /// Order ids in creation order.
    pub created: Vec<String>,
    /// The index of the next order to generate.
    next_index: u64,
    /// Decides which order changes and how; apart from order content.
    rng: ChaCha8Rng,
    /// (variation index, location index) → count.
    pub counts: BTreeMap<(usize, usize), Count>,
    /// BatchChangeInventory idempotency key → (request, response).
    pub idempotency: HashMap<String, (Value, Value)>,
    /// UpdateOrder idempotency key → request.
    pub order_keys: HashMap<String, Value>,
    /// Every UpdateOrder applied, in order.
    pub order_updates: Vec<Value>,
    /// Every change chansync applied through BatchChangeInventory.
    pub adjustments: Vec<Value>,
}

/// Requests answered, by kind.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub requests: AtomicU64,
    pub http_429: AtomicU64,
    pub unauthorized: AtomicU64,
}

/// A token bucket for the simulated rate limit.
#[derive(Debug)]
pub(crate) struct Bucket {
    per_second: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    pub(crate) fn new(per_second: f64, burst: u32) -> Self {
        Bucket {
            per_second: per_second.max(0.001),
            burst: f64::from(burst.max(1)),
            tokens: f64::from(burst.max(1)),
            at: Instant::now(),
        }
    }

    /// Takes a token if one is there.
    pub(crate) fn try_take(&mut self) -> bool {
        let now = Instant::now();
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

pub(crate) struct Shared {
    pub cfg: SimConfig,
    pub currency: &'static CurrencyDef,
    world: Mutex<World>,
    pub counts: Counts,
    pub webhooks: WebhookQueue,
    pub faults: FaultQueue,
    pub limiter: Option<Mutex<Bucket>>,
    /// `Square-Version` headers seen, with how often.
    pub versions: Mutex<BTreeMap<String, u64>>,
    /// The next this many UpdateOrders find the order just changed by the
    /// seller (a newer version): `VERSION_MISMATCH`.
    pub update_races: std::sync::atomic::AtomicU32,
    /// The next this many UpdateOrders run but are answered 500.
    pub lost_update_answers: std::sync::atomic::AtomicU32,
    /// Seeded faults by class (`/_sim/chaos`).
    pub chaos: Arc<Chaos>,
}

impl Shared {
    pub(crate) fn new(cfg: SimConfig, currency: &'static CurrencyDef) -> Self {
        let now = now_ms();
        let mut counts = BTreeMap::new();
        for v in 0..VARIATIONS.len() {
            for l in 0..LOCATIONS.len() {
                if let Some(quantity) = initial_count(cfg.seed, v, l) {
                    counts.insert(
                        (v, l),
                        Count {
                            quantity,
                            calculated_at: now,
                        },
                    );
                }
            }
        }
        Shared {
            world: Mutex::new(World {
                orders: BTreeMap::new(),
                created: Vec::new(),
                next_index: 0,
                rng: lifecycle_rng(cfg.seed),
                counts,
                idempotency: HashMap::new(),
                order_keys: HashMap::new(),
                order_updates: Vec::new(),
                adjustments: Vec::new(),
            }),
            counts: Counts::default(),
            webhooks: WebhookQueue::new(),
            faults: FaultQueue::default(),
            limiter: cfg.rate_limit.map(|(r, b)| Mutex::new(Bucket::new(r, b))),
            versions: Mutex::new(BTreeMap::new()),
            update_races: Default::default(),
            lost_update_answers: Default::default(),
            currency,
            cfg,
            chaos: Chaos::new(crate::sim::faults::chaos_body),
        }
    }

    /// Runs `f` on the seller's data, locked.
    pub(crate) fn world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        f(&mut lock(&self.world))
    }

    /// Queues an `order.created` / `order.updated` event, if webhooks are on.
    /// Called with the world locked.
    fn emit_order(&self, o: &SimOrder, created: bool) {
        if self.cfg.webhook_to.is_none() {
            return;
        }
        let (kind, data_type) = if created {
            ("order.created", "order_created")
        } else {
            ("order.updated", "order_updated")
        };
        let data = json!({
            "type": data_type,
            "id": o.id,
            "object": { data_type: o.summary(!created) },
        });
        crate::sim::webhooks::enqueue(&self.webhooks, MERCHANT_ID, kind, data);
    }

    /// Queues an `inventory.count.updated` event for the counts given.
    pub(crate) fn emit_counts(&self, changed: &[(usize, usize, Count)]) {
        if self.cfg.webhook_to.is_none() || changed.is_empty() {
            return;
        }
        let counts: Vec<Value> = changed
            .iter()
            .map(|(v, l, c)| count_json(*v, *l, c))
            .collect();
        let data = json!({
            "type": "inventory_counts",
            "id": uuid_like(),
            "object": { "inventory_counts": counts },
        });
        crate::sim::webhooks::enqueue(&self.webhooks, MERCHANT_ID, "inventory.count.updated", data);
    }

    /// Moves the counts of an order's tracked lines by `sign` × quantity at
    /// its location (−1 for a sale, +1 for a restock).
    fn move_stock(
        world: &mut World,
        o: &SimOrder,
        sign: i64,
        at: DateTime<Utc>,
    ) -> Vec<(usize, usize, Count)> {
        let Some(l) = LOCATIONS.iter().position(|l| l.id == o.location_id) else {
            return Vec::new();
        };
        let mut changed = Vec::new();
        for (v, q) in o.stock_lines() {
            if !VARIATIONS[v].track && !world.counts.contains_key(&(v, l)) {
                continue;
            }
            let c = world.counts.entry((v, l)).or_insert(Count {
                quantity: 0,
                calculated_at: at,
            });
            c.quantity += sign * q;
            c.calculated_at = at;
            changed.push((v, l, *c));
        }
        changed
    }

    /// Creates `n` orders (`kind` forced, or drawn); each sale takes its
    /// lines out of stock, as Square does. Returns their ids.
    pub(crate) fn create(&self, kind: Option<Kind>, n: usize) -> Vec<String> {
        let mut world = lock(&self.world);
        (0..n)
            .map(|_| {
                let at = now_ms();
                let o = generate(
                    self.cfg.seed,
                    world.next_index,
                    kind,
                    self.cfg.online_share,
                    self.currency,
                    at,
                );
                world.next_index += 1;
                let changed = Self::move_stock(&mut world, &o, -1, at);
                self.emit_order(&o, true);
                self.emit_counts(&changed);
                let id = o.id.clone();
                world.created.push(id.clone());
                world.orders.insert(id.clone(), o);
                id
            })
            .collect()
    }

    /// Moves an open online order one step on; `false` if it cannot move.
    pub(crate) fn update_order(&self, id: &str) -> bool {
        let mut world = lock(&self.world);
        let World { orders, rng, .. } = &mut *world;
        let Some(o) = orders.get_mut(id) else {
            return false;
        };
        if !apply_update(o, rng, now_ms()) {
            return false;
        }
        self.emit_order(o, false);
        true
    }

    /// Runs UpdateOrder's `f` on order `id` with the keys seen so far; an
    /// update it applies (`Some(record)`) is recorded and announced, and a
    /// cancellation restocks. Answers the order as it is now.
    pub(crate) fn update_order_with(
        &self,
        id: &str,
        f: impl FnOnce(
            &mut SimOrder,
            &mut HashMap<String, Value>,
            &mut ChaCha8Rng,
        ) -> Result<Option<Value>, crate::sim::api::ApiError>,
    ) -> Result<Value, crate::sim::api::ApiError> {
        let mut world = lock(&self.world);
        let raced = self
            .update_races
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
        if raced {
            if let Some(o) = world
                .orders
                .get_mut(id)
                .filter(|o| o.state == OrderState::Open)
            {
                // The seller edited the order a moment ago.
                o.updated_at = crate::sim::generate::next_timestamp(o.updated_at, now_ms());
                o.version += 1;
                let o = o.clone();
                self.emit_order(&o, false);
            }
        }
        let World {
            orders,
            rng,
            order_keys,
            ..
        } = &mut *world;
        let Some(o) = orders.get_mut(id) else {
            return Err(crate::sim::api::ApiError::not_found(format!(
                "Could not find order with id `{id}`."
            )));
        };
        let was = o.state;
        let Some(record) = f(o, order_keys, rng)? else {
            return Ok(json!({ "order": o.to_json() }));
        };
        let o = o.clone();
        world.order_updates.push(record);
        if was == OrderState::Open && o.state == OrderState::Canceled {
            let changed = Self::move_stock(&mut world, &o, 1, o.updated_at);
            self.emit_counts(&changed);
        }
        self.emit_order(&o, false);
        Ok(json!({ "order": o.to_json() }))
    }

    /// Cancels an open order and puts its lines back in stock; `false` if it
    /// is unknown or not open.
    pub(crate) fn cancel_order(&self, id: &str) -> bool {
        let mut world = lock(&self.world);
        let World { orders, rng, .. } = &mut *world;
        let Some(o) = orders.get_mut(id) else {
            return false;
        };
        if !apply_cancel(o, rng, now_ms()) {
            return false;
        }
        let o = o.clone();
        let changed = Self::move_stock(&mut world, &o, 1, o.updated_at);
        self.emit_order(&o, false);
        self.emit_counts(&changed);
        true
    }

    /// The lifecycle's step: one open order moves on, or now and then is
    /// cancelled.
    pub(crate) fn change_random_order(&self) {
        let id = {
            let mut world = lock(&self.world);
            let open: Vec<String> = world
                .orders
                .values()
                .filter(|o| o.state == OrderState::Open)
                .map(|o| o.id.clone())
                .collect();
            if open.is_empty() {
                return;
            }
            let pick = world.rng.gen_range(0..open.len());
            let cancel = world.rng.gen_bool(CANCEL_SHARE);
            (open[pick].clone(), cancel)
        };
        let (id, cancel) = id;
        if !(cancel && self.cancel_order(&id)) {
            self.update_order(&id);
        }
    }

    /// Every order id, in creation order.
    pub(crate) fn order_ids(&self) -> Vec<String> {
        lock(&self.world).created.clone()
    }

    /// An order as the API shows it.
    pub(crate) fn order_json(&self, id: &str) -> Option<Value> {
        lock(&self.world).orders.get(id).map(SimOrder::to_json)
    }

    /// Every count, by (SKU or variation id, location id).
    pub(crate) fn count_map(&self) -> BTreeMap<(String, String), i64> {
        lock(&self.world)
            .counts
            .iter()
            .map(|((v, l), c)| ((sku_or_id(*v), LOCATIONS[*l].id.to_owned()), c.quantity))
            .collect()
    }

    /// Sets a count as a stock take in the store would (sending
    /// `inventory.count.updated`); `false` for an unknown SKU or location.
    pub(crate) fn set_count(&self, sku: &str, location_id: &str, quantity: i64) -> bool {
        let Some(v) = VARIATIONS
            .iter()
            .position(|v| v.sku == Some(sku) || v.id == sku)
        else {
            return false;
        };
        let Some(l) = LOCATIONS.iter().position(|l| l.id == location_id) else {
            return false;
        };
        let mut world = lock(&self.world);
        let c = Count {
            quantity,
            calculated_at: now_ms(),
        };
        world.counts.insert((v, l), c);
        self.emit_counts(&[(v, l, c)]);
        true
    }

    /// The `/_sim/state` document.
    pub(crate) fn state_json(&self) -> Value {
        let world = lock(&self.world);
        let orders: Vec<Value> = world
            .created
            .iter()
            .filter_map(|id| world.orders.get(id))
            .map(|o| {
                json!({
                    "id": o.id,
                    "state": o.state.as_str(),
                    "version": o.version,
                    "location_id": o.location_id,
                    "created_at": ts(o.created_at),
                    "updated_at": ts(o.updated_at),
                    "source": match o.kind { Kind::InStore => "in_store", Kind::Online => "online" },
                    "fulfillment_state": o.shipment.as_ref().map(|s| s.state.as_str()),
                    "total_money": { "amount": o.total(), "currency": o.currency.code },
                })
            })
            .collect();
        let mut stock: BTreeMap<String, i64> = BTreeMap::new();
        let mut by_location: BTreeMap<&str, BTreeMap<String, i64>> = BTreeMap::new();
        for ((v, l), c) in &world.counts {
            *stock.entry(sku_or_id(*v)).or_default() += c.quantity;
            by_location
                .entry(LOCATIONS[*l].id)
                .or_default()
                .insert(sku_or_id(*v), c.quantity);
        }
        let count = |c: &AtomicU64| c.load(Ordering::Relaxed);
        json!({
            "orders": orders,
            "stock": stock,
            "stock_by_location": by_location,
            "locations": LOCATIONS.iter().map(|l| json!({"id": l.id, "name": l.name})).collect::<Vec<_>>(),
            "adjustments": world.adjustments,
            "order_updates": world.order_updates,
            "counts": {
                "requests": count(&self.counts.requests),
                "http_429": count(&self.counts.http_429),
                "unauthorized": count(&self.counts.unauthorized),
            },
            "square_versions": *lock(&self.versions),
            "webhooks": self.webhooks.stats(),
            "chaos": self.chaos.state_json(),
        })
    }
}

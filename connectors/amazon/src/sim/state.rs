//! What the simulated Amazon holds: orders, listings, feeds and their
//! documents, the shipment confirmations it received, issued access tokens,
//! usage-plan buckets, injected faults and counters. Every change happens
//! here under one short lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chansync_sdk::chaos::Chaos;
use chrono::{DateTime, Utc};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::marketplace::{self, Marketplace};
use crate::sim::catalog::{self, Region};
use crate::sim::config::SimConfig;
use crate::sim::faults::FaultQueue;
use crate::sim::feeds::{Document, SimFeed};
use crate::sim::generate::{self, advance, cancel, generate_order, lifecycle_rng};
use crate::sim::limits::{Counts, Limits};
use crate::sim::listings::{self, Listing};
use crate::sim::model::{iso, SimOrder};

/// Of the lifecycle's changes, this share are cancellations.
const CANCEL_SHARE: f64 = 0.1;

/// Locks, carrying on after a panic elsewhere: every critical section is a
/// few assignments, so the data stays consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The clock orders are stamped with: now, to the second, as Amazon's are.
pub(crate) fn now_seconds() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now)
}

/// Everything behind the store lock.
pub(crate) struct Store {
    pub orders: BTreeMap<String, SimOrder>,
    pub next_index: u64,
    pub rng: ChaCha8Rng,
    pub listings: BTreeMap<String, Listing>,
    pub feeds: BTreeMap<String, SimFeed>,
    pub documents: BTreeMap<String, Document>,
    /// Shipment confirmations received, in arrival order.
    pub fulfillments: Vec<Value>,
    /// Listings submissions received (patches and feed messages applied).
    pub submissions: u64,
    pub next_feed: u64,
}

/// Why an access token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenProblem {
    Missing,
    Unknown,
    Expired,
}

/// The access tokens LWA issued and when each expires.
#[derive(Debug, Default)]
pub(crate) struct Tokens {
    issued: Mutex<HashMap<String, Instant>>,
}

impl Tokens {
    pub(crate) fn issue(&self, rng: &mut ChaCha8Rng, ttl: std::time::Duration) -> String {
        let body: String = (0..48)
            .map(|_| {
                let c = rng.gen_range(0..62u8);
                (match c {
                    0..=9 => b'0' + c,
                    10..=35 => b'a' + c - 10,
                    _ => b'A' + c - 36,
                }) as char
            })
            .collect();
        let token = format!("Atza|{body}");
        let mut issued = lock(&self.issued);
        let now = Instant::now();
        issued.retain(|_, exp| *exp + std::time::Duration::from_secs(3600) > now);
        issued.insert(token.clone(), now + ttl);
        token
    }

    pub(crate) fn check(&self, token: Option<&str>) -> Result<(), TokenProblem> {
        let token = token.ok_or(TokenProblem::Missing)?;
        match lock(&self.issued).get(token) {
            None => Err(TokenProblem::Unknown),
            Some(exp) if *exp <= Instant::now() => Err(TokenProblem::Expired),
            Some(_) => Ok(()),
        }
    }

    /// Makes every issued token expired now.
    pub(crate) fn expire_all(&self) {
        let now = Instant::now();
        for exp in lock(&self.issued).values_mut() {
            *exp = now;
        }
    }
}

/// A `getOrders` query.
#[derive(Debug, Clone)]
pub(crate) struct OrderQuery {
    pub marketplaces: Vec<String>,
    /// By `LastUpdateDate` (`true`) or `PurchaseDate`.
    pub by_update: bool,
    pub after: DateTime<Utc>,
    pub before: Option<DateTime<Utc>>,
    pub statuses: Vec<String>,
    pub channels: Vec<String>,
    /// Continue after this (time, id).
    pub from: Option<(DateTime<Utc>, String)>,
    pub limit: usize,
}

/// What the simulator shares between its server, lifecycle and handle.
pub(crate) struct Shared {
    pub cfg: SimConfig,
    pub base_url: String,
    /// The seller's marketplaces the simulator knows.
    pub marketplaces: Vec<(&'static Marketplace, &'static Region)>,
    pub store: Mutex<Store>,
    pub tokens: Tokens,
    pub limits: Limits,
    pub counts: Counts,
    pub faults: FaultQueue,
    /// Seeded faults by class (`/_sim/chaos`).
    pub chaos: Arc<Chaos>,
    pub cancel: CancellationToken,
    pub tasks: TaskTracker,
}

impl Shared {
    pub(crate) fn new(
        cfg: SimConfig,
        base_url: String,
        cancel: CancellationToken,
        tasks: TaskTracker,
    ) -> std::io::Result<Self> {
        let marketplaces: Vec<_> = cfg
            .marketplace_ids
            .iter()
            .filter_map(|id| Some((marketplace::by_id(id)?, catalog::region(id)?)))
            .collect();
        if marketplaces.is_empty() || marketplaces.len() != cfg.marketplace_ids.len() {
            let known: Vec<&str> = catalog::REGIONS.iter().map(|r| r.marketplace_id).collect();
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                format!(
                    "the simulator sells in these marketplaces only: {}",
                    known.join(", ")
                ),
            ));
        }
        let now = now_seconds();
        Ok(Shared {
            store: Mutex::new(Store {
                orders: BTreeMap::new(),
                next_index: 0,
                rng: lifecycle_rng(cfg.seed),
                listings: listings::seeded(cfg.seed, now)
                    .into_iter()
                    .map(|l| (l.sku.clone(), l))
                    .collect(),
                feeds: BTreeMap::new(),
                documents: BTreeMap::new(),
                fulfillments: Vec::new(),
                submissions: 0,
                next_feed: 50_001,
            }),
            tokens: Tokens::default(),
            limits: Limits::new(cfg.throttle, cfg.rate_scale),
            counts: Counts::default(),
            faults: FaultQueue::default(),
            chaos: Chaos::new(crate::sim::faults::chaos_body),
            marketplaces,
            base_url,
            cancel,
            tasks,
            cfg,
        })
    }

    /// Creates `n` orders now; an order for a merchant-fulfilled listing
    /// takes its units off the listing's quantity, as Amazon does.
    pub(crate) fn create_orders(&self, n: usize) -> Vec<String> {
        let mut store = lock(&self.store);
        let now = now_seconds();
        (0..n)
            .map(|_| {
                let index = store.next_index;
                store.next_index += 1;
                let mut attempt = 0;
                let order = loop {
                    let o = generate_order(self.cfg.seed, index, attempt, now, &self.marketplaces);
                    if !store.orders.contains_key(&o.id) {
                        break o;
                    }
                    attempt += 1;
                };
                if order.channel == crate::sim::model::Channel::Merchant {
                    for item in &order.items {
                        if let Some(l) = store.listings.get_mut(&item.sku) {
                            l.quantity = (l.quantity - i64::from(item.quantity)).max(0);
                        }
                    }
                }
                let id = order.id.clone();
                store.orders.insert(id.clone(), order);
                id
            })
            .collect()
    }

    /// Moves an order on (payment authorized, or shipped by Amazon).
    pub(crate) fn update_order(&self, id: &str) -> bool {
        let mut store = lock(&self.store);
        store
            .orders
            .get_mut(id)
            .is_some_and(|o| advance(o, now_seconds()))
    }

    /// Cancels an order nothing of which has shipped.
    pub(crate) fn cancel_order(&self, id: &str) -> bool {
        let mut store = lock(&self.store);
        store
            .orders
            .get_mut(id)
            .is_some_and(|o| cancel(o, now_seconds()))
    }

    /// The lifecycle's step: one active order moves on or is cancelled.
    pub(crate) fn change_random_order(&self) {
        let mut store = lock(&self.store);
        let Store { orders, rng, .. } = &mut *store;
        let active: Vec<&String> = orders
            .iter()
            .filter(|(_, o)| generate::is_active(o))
            .map(|(id, _)| id)
            .collect();
        if active.is_empty() {
            return;
        }
        let id = active[rng.gen_range(0..active.len())].clone();
        let cancel_it = rng.gen_bool(CANCEL_SHARE);
        let now = now_seconds();
        if let Some(o) = orders.get_mut(&id) {
            if !(cancel_it && cancel(o, now)) {
                advance(o, now);
            }
        }
    }

    /// One page of `getOrders`: the orders and, when more follow, the last
    /// (time, id) of the page.
    pub(crate) fn orders_page(
        &self,
        q: &OrderQuery,
    ) -> (Vec<crate::wire::Order>, Option<(DateTime<Utc>, String)>) {
        let store = lock(&self.store);
        let key = |o: &SimOrder| {
            if q.by_update {
                o.last_update
            } else {
                o.purchase_date
            }
        };
        let mut matching: Vec<&SimOrder> = store
            .orders
            .values()
            .filter(|o| q.marketplaces.iter().any(|m| m == o.marketplace.id))
            .filter(|o| key(o) >= q.after && q.before.is_none_or(|b| key(o) <= b))
            .filter(|o| q.statuses.is_empty() || q.statuses.iter().any(|s| s == o.status.as_str()))
            .filter(|o| q.channels.is_empty() || q.channels.iter().any(|c| c == o.channel.as_str()))
            .filter(|o| {
                q.from
                    .as_ref()
                    .is_none_or(|(t, id)| (key(o), &o.id) > (*t, id))
            })
            .collect();
        matching.sort_by(|a, b| (key(a), &a.id).cmp(&(key(b), &b.id)));
        let more = matching.len() > q.limit;
        matching.truncate(q.limit);
        let last = more
            .then(|| matching.last().map(|o| (key(o), o.id.clone())))
            .flatten();
        (matching.iter().map(|o| o.to_wire()).collect(), last)
    }

    /// An order as `getOrder` shows it.
    pub(crate) fn order_json(&self, id: &str) -> Option<crate::wire::Order> {
        lock(&self.store).orders.get(id).map(SimOrder::to_wire)
    }

    /// An order's items as `getOrderItems` shows them.
    pub(crate) fn order_items(&self, id: &str) -> Option<Vec<crate::wire::OrderItem>> {
        lock(&self.store).orders.get(id).map(SimOrder::items_wire)
    }

    pub(crate) fn order_ids(&self) -> Vec<String> {
        lock(&self.store).orders.keys().cloned().collect()
    }

    /// Per SKU, the listing's merchant-fulfilled quantity.
    pub(crate) fn stock(&self) -> BTreeMap<String, i64> {
        lock(&self.store)
            .listings
            .values()
            .map(|l| (l.sku.clone(), l.quantity))
            .collect()
    }

    /// Adds a listing; `false` if the SKU is listed already.
    pub(crate) fn add_listing(&self, sku: &str, quantity: i64) -> bool {
        let mut store = lock(&self.store);
        if store.listings.contains_key(sku) {
            return false;
        }
        let now = now_seconds();
        store.listings.insert(
            sku.to_owned(),
            Listing {
                sku: sku.to_owned(),
                asin: catalog::asin(sku),
                title: sku.to_owned(),
                product_type: "PRODUCT".to_owned(),
                quantity,
                created: now,
                updated: now,
            },
        );
        true
    }

    /// The `/_sim/state` document.
    pub(crate) fn state_json(&self) -> Value {
        let store = lock(&self.store);
        let orders: Vec<Value> = store
            .orders
            .values()
            .map(|o| {
                json!({
                    "id": o.id,
                    "status": o.status.as_str(),
                    "last_update_date": iso(o.last_update),
                    "purchase_date": iso(o.purchase_date),
                    "fulfillment_channel": o.channel.as_str(),
                    "marketplace_id": o.marketplace.id,
                    "currency": o.marketplace.currency,
                    "items": o.items.len(),
                    "units": o.items.iter().map(|i| i.quantity).sum::<u32>(),
                    "units_shipped": o.items.iter().map(|i| i.shipped).sum::<u32>(),
                })
            })
            .collect();
        let stock: BTreeMap<&str, i64> = store
            .listings
            .values()
            .map(|l| (l.sku.as_str(), l.quantity))
            .collect();
        let feeds: Vec<Value> = store.feeds.values().map(SimFeed::state_json).collect();
        json!({
            "seller_id": self.cfg.seller_id,
            "marketplace_ids": self.cfg.marketplace_ids,
            "orders": orders,
            "stock": stock,
            "fulfillments": store.fulfillments,
            "feeds": feeds,
            "listings_submissions": store.submissions,
            "counts": self.counts.json(),
            "rate_limits": self.limits.plans(),
            "throttle": self.cfg.throttle,
            "chaos": self.chaos.state_json(),
        })
    }
}

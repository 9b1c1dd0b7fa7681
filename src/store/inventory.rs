//! The inventory ledger, routing and the outbox, in SQL. Everything here runs
//! inside the caller's write transaction, so an order, its reservations and
//! the pushes they cause commit together or not at all.
//!
//! **Invariant:** `reserved` only grows through [`reserve`], a conditional
//! update that requires `on_hand - reserved - safety >= quantity` in the same
//! statement; concurrent orders can never reserve more than is available.

use std::collections::{BTreeMap, BTreeSet};

use chansync_sdk::model::{ChannelStatus, FulfilledBy, OrderStatus};
use sqlx::{Any, Row, Transaction};

use super::{now, StoreError};
use crate::inventory::route::{self, Candidate, Need};
use crate::inventory::Policy;

pub(super) type Tx = Transaction<'static, Any>;

/// A stock row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Level {
    pub on_hand: i64,
    pub reserved: i64,
    pub safety: i64,
}

impl Level {
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved - self.safety
    }
}

pub(super) async fn level(tx: &mut Tx, sku: &str, location: &str) -> Result<Level, StoreError> {
    let row =
        sqlx::query("SELECT on_hand, reserved, safety FROM stock WHERE sku = $1 AND location = $2")
            .bind(sku)
            .bind(location)
            .fetch_optional(&mut **tx)
            .await?;
    Ok(row
        .map(|r| Level {
            on_hand: r.get("on_hand"),
            reserved: r.get("reserved"),
            safety: r.get("safety"),
        })
        .unwrap_or_default())
}

/// Who or what changed stock, for the audit trail.
#[derive(Debug, Clone)]
pub struct Actor {
    pub name: String,
    pub order_id: Option<i64>,
    pub note: Option<String>,
}

impl Actor {
    pub fn new(name: impl Into<String>) -> Actor {
        Actor {
            name: name.into(),
            order_id: None,
            note: None,
        }
    }
    fn order(id: i64) -> Actor {
        Actor {
            name: format!("order:{id}"),
            order_id: Some(id),
            note: None,
        }
    }
}

async fn audit(
    tx: &mut Tx,
    sku: &str,
    location: &str,
    kind: &str,
    actor: &Actor,
    before: Level,
    after: Level,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO stock_events (at, sku, location, kind, actor, order_id, on_hand_before, on_hand_after,
           reserved_before, reserved_after, note)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
    )
    .bind(now())
    .bind(sku)
    .bind(location)
    .bind(kind)
    .bind(&actor.name)
    .bind(actor.order_id)
    .bind(before.on_hand)
    .bind(after.on_hand)
    .bind(before.reserved)
    .bind(after.reserved)
    .bind(&actor.note)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Sets on hand (and optionally safety stock) of a SKU at a location.
/// Returns the level before and after.
pub(super) async fn set_on_hand(
    tx: &mut Tx,
    sku: &str,
    location: &str,
    on_hand: i64,
    safety: Option<i64>,
    actor: &Actor,
) -> Result<(Level, Level), StoreError> {
    let before = level(tx, sku, location).await?;
    let after = Level {
        on_hand,
        safety: safety.unwrap_or(before.safety),
        ..before
    };
    sqlx::query(
        "INSERT INTO stock (sku, location, on_hand, reserved, safety, updated_at) VALUES ($1, $2, $3, 0, $4, $5)
         ON CONFLICT (sku, location) DO UPDATE SET on_hand = excluded.on_hand, safety = excluded.safety,
           updated_at = excluded.updated_at",
    )
    .bind(sku)
    .bind(location)
    .bind(after.on_hand)
    .bind(after.safety)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    if before != after {
        let kind = if before.on_hand != after.on_hand {
            "set_on_hand"
        } else {
            "set_safety"
        };
        audit(tx, sku, location, kind, actor, before, after).await?;
    }
    Ok((before, after))
}

/// Reserves `quantity` if it is available, in one statement. `false` when it
/// is not (nothing changes).
async fn reserve(
    tx: &mut Tx,
    sku: &str,
    location: &str,
    quantity: i64,
    actor: &Actor,
) -> Result<bool, StoreError> {
    let before = level(tx, sku, location).await?;
    let done = sqlx::query(
        "UPDATE stock SET reserved = reserved + $1, updated_at = $2
         WHERE sku = $3 AND location = $4 AND on_hand - reserved - safety >= $1",
    )
    .bind(quantity)
    .bind(now())
    .bind(sku)
    .bind(location)
    .execute(&mut **tx)
    .await?
    .rows_affected()
        == 1;
    if done {
        let after = Level {
            reserved: before.reserved + quantity,
            ..before
        };
        audit(tx, sku, location, "reserve", actor, before, after).await?;
    }
    Ok(done)
}

/// Gives reserved units back (cancellation) or ships them (`consume`:
/// on hand and reserved both drop).
async fn unreserve(
    tx: &mut Tx,
    sku: &str,
    location: &str,
    quantity: i64,
    consume: bool,
    actor: &Actor,
) -> Result<(), StoreError> {
    let before = level(tx, sku, location).await?;
    let take = quantity.min(before.reserved);
    let after = Level {
        reserved: before.reserved - take,
        on_hand: if consume {
            before.on_hand - quantity
        } else {
            before.on_hand
        },
        ..before
    };
    sqlx::query(
        "INSERT INTO stock (sku, location, on_hand, reserved, safety, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (sku, location) DO UPDATE SET on_hand = excluded.on_hand, reserved = excluded.reserved,
           updated_at = excluded.updated_at",
    )
    .bind(sku)
    .bind(location)
    .bind(after.on_hand)
    .bind(after.reserved)
    .bind(after.safety)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    audit(
        tx,
        sku,
        location,
        if consume { "consume" } else { "release" },
        actor,
        before,
        after,
    )
    .await?;
    Ok(())
}

/// A channel SKU of a connector as master SKUs × units.
pub(super) async fn parts_of(
    tx: &mut Tx,
    connector: &str,
    channel_sku: &str,
) -> Result<Vec<(String, i64)>, StoreError> {
    let rows = sqlx::query("SELECT master_sku, quantity FROM sku_map WHERE connector = $1 AND channel_sku = $2 ORDER BY master_sku")
        .bind(connector)
        .bind(channel_sku)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows
        .iter()
        .map(|r| (r.get("master_sku"), r.get("quantity")))
        .collect())
}

/// [`parts_of`] for several channel SKUs at once (one statement).
pub(super) async fn parts_of_many(
    tx: &mut Tx,
    connector: &str,
    channel_skus: &[&str],
) -> Result<std::collections::HashMap<String, Vec<(String, i64)>>, StoreError> {
    let mut out: std::collections::HashMap<String, Vec<(String, i64)>> = Default::default();
    let distinct: BTreeSet<&str> = channel_skus.iter().copied().collect();
    if distinct.is_empty() {
        return Ok(out);
    }
    let placeholders: Vec<String> = (0..distinct.len()).map(|i| format!("${}", i + 2)).collect();
    let sql = format!(
        "SELECT channel_sku, master_sku, quantity FROM sku_map WHERE connector = $1 AND channel_sku IN ({})
         ORDER BY channel_sku, master_sku",
        placeholders.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(connector);
    for cs in &distinct {
        q = q.bind(*cs);
    }
    for r in q.fetch_all(&mut **tx).await? {
        out.entry(r.get("channel_sku"))
            .or_default()
            .push((r.get("master_sku"), r.get("quantity")));
    }
    Ok(out)
}

/// The units an order's lines need, bundles expanded.
async fn needs_of(tx: &mut Tx, order_id: i64, connector: &str) -> Result<Vec<Need>, StoreError> {
    let lines = sqlx::query("SELECT external_id, channel_sku, quantity FROM order_lines WHERE order_id = $1 ORDER BY position")
        .bind(order_id)
        .fetch_all(&mut **tx)
        .await?;
    let skus: Vec<Option<String>> = lines.iter().map(|l| l.get("channel_sku")).collect();
    let mapped = parts_of_many(
        tx,
        connector,
        &skus
            .iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    )
    .await?;
    let mut needs = Vec::new();
    for (l, cs) in lines.iter().zip(skus) {
        let Some(cs) = cs else {
            continue;
        };
        let qty: i64 = l.get("quantity");
        let mut parts = mapped.get(&cs).cloned().unwrap_or_default();
        if parts.is_empty() {
            parts.push((cs.clone(), 1));
        }
        for (sku, per) in parts {
            needs.push(Need {
                line: l.get("external_id"),
                sku,
                quantity: qty * per,
            });
        }
    }
    Ok(needs)
}

/// The allocations of an order in a state.
async fn allocations(
    tx: &mut Tx,
    order_id: i64,
    state: &str,
) -> Result<Vec<(i64, String, String, String, i64)>, StoreError> {
    let rows = sqlx::query("SELECT id, line_external, sku, location, quantity FROM allocations WHERE order_id = $1 AND state = $2 ORDER BY id")
        .bind(order_id)
        .bind(state)
        .fetch_all(&mut **tx)
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            (
                r.get("id"),
                r.get("line_external"),
                r.get("sku"),
                r.get("location"),
                r.get("quantity"),
            )
        })
        .collect())
}

/// Releases (cancel) or consumes (shipped) every reserved allocation of an
/// order; returns the SKUs whose availability changed.
pub(super) async fn settle_reserved(
    tx: &mut Tx,
    order_id: i64,
    consume: bool,
) -> Result<BTreeSet<String>, StoreError> {
    let actor = Actor::order(order_id);
    let mut touched = BTreeSet::new();
    for (id, _line, sku, location, qty) in allocations(tx, order_id, "reserved").await? {
        unreserve(tx, &sku, &location, qty, consume, &actor).await?;
        sqlx::query("UPDATE allocations SET state = $1 WHERE id = $2")
            .bind(if consume { "consumed" } else { "released" })
            .bind(id)
            .execute(&mut **tx)
            .await?;
        touched.insert(sku);
    }
    Ok(touched)
}

/// Ships the given lines (or all, when `lines` is empty) from `location`:
/// their reserved allocations are consumed; units not reserved there come
/// off on hand at `location` (and a reservation elsewhere is released).
pub(super) async fn consume_lines(
    tx: &mut Tx,
    order_id: i64,
    connector: &str,
    location: &str,
    lines: &BTreeMap<String, i64>,
) -> Result<BTreeSet<String>, StoreError> {
    let actor = Actor::order(order_id);
    let mut touched = BTreeSet::new();
    let needs = needs_of(tx, order_id, connector).await?;
    let line_qty: BTreeMap<String, i64> = {
        let rows = sqlx::query("SELECT external_id, quantity FROM order_lines WHERE order_id = $1")
            .bind(order_id)
            .fetch_all(&mut **tx)
            .await?;
        rows.iter()
            .map(|r| (r.get("external_id"), r.get("quantity")))
            .collect()
    };
    let reserved = allocations(tx, order_id, "reserved").await?;
    for need in &needs {
        let shipped_units = match lines.get(&need.line) {
            _ if lines.is_empty() => line_qty.get(&need.line).copied().unwrap_or(0),
            Some(q) => *q,
            None => continue,
        };
        let full = line_qty.get(&need.line).copied().unwrap_or(0).max(1);
        // Units of this part shipped, in proportion to the line's quantity.
        let mut units = need.quantity * shipped_units / full;
        for (id, line, sku, loc, qty) in reserved
            .iter()
            .filter(|a| a.1 == need.line && a.2 == need.sku)
        {
            if units == 0 {
                break;
            }
            let take = units.min(*qty);
            if loc == location {
                unreserve(tx, sku, loc, take, true, &actor).await?;
            } else {
                // Reserved elsewhere but shipped from here.
                unreserve(tx, sku, loc, take, false, &actor).await?;
                let before = level(tx, sku, location).await?;
                let after = Level {
                    on_hand: before.on_hand - take,
                    ..before
                };
                set_on_hand_raw(tx, sku, location, after).await?;
                audit(tx, sku, location, "consume", &actor, before, after).await?;
            }
            split_allocation(tx, *id, line, sku, loc, *qty, take).await?;
            units -= take;
            touched.insert(sku.clone());
        }
        if units > 0 {
            // Nothing reserved for these units: they still left the shelf.
            let before = level(tx, &need.sku, location).await?;
            let after = Level {
                on_hand: before.on_hand - units,
                ..before
            };
            set_on_hand_raw(tx, &need.sku, location, after).await?;
            audit(tx, &need.sku, location, "consume", &actor, before, after).await?;
            sqlx::query(
                "INSERT INTO allocations (order_id, line_external, sku, location, quantity, state, created_at)
                 VALUES ($1, $2, $3, $4, $5, 'consumed', $6)",
            )
            .bind(order_id)
            .bind(&need.line)
            .bind(&need.sku)
            .bind(location)
            .bind(units)
            .bind(now())
            .execute(&mut **tx)
            .await?;
            touched.insert(need.sku.clone());
        }
    }
    Ok(touched)
}

async fn set_on_hand_raw(
    tx: &mut Tx,
    sku: &str,
    location: &str,
    l: Level,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO stock (sku, location, on_hand, reserved, safety, updated_at) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (sku, location) DO UPDATE SET on_hand = excluded.on_hand, updated_at = excluded.updated_at",
    )
    .bind(sku)
    .bind(location)
    .bind(l.on_hand)
    .bind(l.reserved)
    .bind(l.safety)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Marks `take` of allocation `id` (of `qty`) consumed, keeping the rest reserved.
async fn split_allocation(
    tx: &mut Tx,
    id: i64,
    line: &str,
    sku: &str,
    loc: &str,
    qty: i64,
    take: i64,
) -> Result<(), StoreError> {
    if take >= qty {
        sqlx::query("UPDATE allocations SET state = 'consumed' WHERE id = $1")
            .bind(id)
            .execute(&mut **tx)
            .await?;
        return Ok(());
    }
    sqlx::query("UPDATE allocations SET quantity = $1 WHERE id = $2")
        .bind(qty - take)
        .bind(id)
        .execute(&mut **tx)
        .await?;
    let order_id: i64 = sqlx::query_scalar("SELECT order_id FROM allocations WHERE id = $1")
        .bind(id)
        .fetch_one(&mut **tx)
        .await?;
    sqlx::query(
        "INSERT INTO allocations (order_id, line_external, sku, location, quantity, state, created_at)
         VALUES ($1, $2, $3, $4, $5, 'consumed', $6)",
    )
    .bind(order_id)
    .bind(line)
    .bind(sku)
    .bind(loc)
    .bind(take)
    .bind(now())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// The result of routing an order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Routed {
    /// Reserved at these locations.
    Allocated(Vec<route::Pick>),
    /// Nothing to stock (only custom lines), or recorded only.
    Nothing,
    /// No eligible location (set) has enough.
    Waiting { short: Vec<String> },
}

/// Routes an order and reserves the plan; all or nothing.
async fn route_order(
    tx: &mut Tx,
    policy: &Policy,
    order_id: i64,
    connector: &str,
    country: Option<&str>,
) -> Result<Routed, StoreError> {
    let needs = needs_of(tx, order_id, connector).await?;
    if needs.is_empty() {
        return Ok(Routed::Nothing);
    }
    let rule = policy.rule_for(connector, country);
    let skus: BTreeSet<&str> = needs.iter().map(|n| n.sku.as_str()).collect();
    let mut candidates = Vec::with_capacity(rule.sites.len());
    for site in &rule.sites {
        let mut available = BTreeMap::new();
        for sku in &skus {
            available.insert(
                sku.to_string(),
                level(tx, sku, &site.name).await?.available(),
            );
        }
        candidates.push(Candidate {
            location: site.name.clone(),
            available,
        });
    }
    let Some(picks) = route::plan(&needs, &candidates, rule.allow_split) else {
        let mut short: Vec<String> = skus
            .iter()
            .filter(|s| {
                let want: i64 = needs
                    .iter()
                    .filter(|n| n.sku == **s)
                    .map(|n| n.quantity)
                    .sum();
                let have: i64 = candidates
                    .iter()
                    .map(|c| c.available.get(**s).copied().unwrap_or(0).max(0))
                    .sum();
                have < want || !rule.allow_split
            })
            .map(|s| s.to_string())
            .collect();
        short.dedup();
        return Ok(Routed::Waiting { short });
    };
    let actor = Actor::order(order_id);
    for p in &picks {
        // Read and reserve happen in one write transaction, so this holds;
        // the conditional update is the guard if it ever did not.
        if !reserve(tx, &p.sku, &p.location, p.quantity, &actor).await? {
            return Err(StoreError::Corrupt(format!(
                "stock of {} at {} changed under a write transaction",
                p.sku, p.location
            )));
        }
        sqlx::query(
            "INSERT INTO allocations (order_id, line_external, sku, location, quantity, state, created_at)
             VALUES ($1, $2, $3, $4, $5, 'reserved', $6)",
        )
        .bind(order_id)
        .bind(&p.line)
        .bind(&p.sku)
        .bind(&p.location)
        .bind(p.quantity)
        .bind(now())
        .execute(&mut **tx)
        .await?;
    }
    Ok(Routed::Allocated(picks))
}

/// What settling an order did, for its history.
#[derive(Debug, Clone, Default)]
pub struct Settled {
    pub status: Option<OrderStatus>,
    pub routed: Option<Routed>,
    pub released: bool,
    pub consumed: bool,
    /// SKUs whose availability changed.
    pub touched: BTreeSet<String>,
}

/// Brings reservations and status in line with what the channel and
/// chansync know about an order: routes it when it is new or waiting,
/// releases on cancellation, consumes on fulfilment by the channel.
pub(super) async fn settle(
    tx: &mut Tx,
    policy: &Policy,
    order_id: i64,
) -> Result<Settled, StoreError> {
    let row = sqlx::query(
        "SELECT connector, channel_status, fulfilled_by, local_status, status, payment_status, shipping_address FROM orders WHERE id = $1",
    )
    .bind(order_id)
    .fetch_one(&mut **tx)
    .await?;
    let connector: String = row.get("connector");
    let channel: ChannelStatus = row
        .get::<String, _>("channel_status")
        .parse()
        .map_err(StoreError::Corrupt)?;
    let by: FulfilledBy = row
        .get::<String, _>("fulfilled_by")
        .parse()
        .map_err(StoreError::Corrupt)?;
    let local: Option<String> = row.get("local_status");
    // An ERP ships what it is sent: an order waits for its payment to be
    // authorized (Amazon's `Pending`) before it goes there. Its stock is
    // reserved meanwhile, as the marketplace reserves it too.
    let payable = row.get::<String, _>("payment_status") != "pending";
    let current: OrderStatus = row
        .get::<String, _>("status")
        .parse()
        .map_err(StoreError::Corrupt)?;
    let country: Option<String> = row
        .get::<Option<String>, _>("shipping_address")
        .and_then(|a| serde_json::from_str::<serde_json::Value>(&a).ok())
        .and_then(|a| a["country_code"].as_str().map(str::to_owned));

    let mut out = Settled::default();
    let has_reserved = !allocations(tx, order_id, "reserved").await?.is_empty();
    let has_consumed = !allocations(tx, order_id, "consumed").await?.is_empty();
    let status = if local.as_deref() == Some("cancelled") || channel == ChannelStatus::Cancelled {
        if has_reserved {
            out.touched = settle_reserved(tx, order_id, false).await?;
            out.released = true;
        }
        // Idempotent: a later update of the cancelled order adds nothing.
        let by = if local.as_deref() == Some("cancelled") {
            "cancelled in chansync"
        } else {
            "cancelled by the channel"
        };
        cancel_sinks(tx, policy, order_id, by).await?;
        OrderStatus::Cancelled
    } else if channel == ChannelStatus::Fulfilled {
        if has_reserved && by == FulfilledBy::Merchant {
            out.touched = settle_reserved(tx, order_id, true).await?;
            out.consumed = true;
        }
        OrderStatus::Fulfilled
    } else if has_consumed {
        // chansync recorded shipments: fulfilled once nothing is left reserved
        // and every line is covered.
        if has_reserved || !all_lines_shipped(tx, order_id).await? {
            OrderStatus::PartiallyFulfilled
        } else {
            OrderStatus::Fulfilled
        }
    } else if channel == ChannelStatus::PartiallyFulfilled {
        OrderStatus::PartiallyFulfilled
    } else if policy.sites.is_empty()
        || by != FulfilledBy::Merchant
        || policy.rule_for(&connector, country.as_deref()).record_only
    {
        // No locations configured (inventory is off), fulfilled by the
        // marketplace, or a record-only rule: kept, not routed.
        OrderStatus::Open
    } else if has_reserved {
        if payable {
            let picks = reserved_picks(tx, order_id).await?;
            enqueue_sinks(tx, policy, order_id, &picks).await?;
        }
        OrderStatus::Allocated
    } else {
        let routed = route_order(tx, policy, order_id, &connector, country.as_deref()).await?;
        let status = match &routed {
            Routed::Allocated(picks) => {
                out.touched.extend(picks.iter().map(|p| p.sku.clone()));
                if payable {
                    enqueue_sinks(tx, policy, order_id, picks).await?;
                }
                OrderStatus::Allocated
            }
            Routed::Nothing => OrderStatus::Open,
            Routed::Waiting { .. } => OrderStatus::NeedsAttention,
        };
        // Still waiting is not news.
        if !(status == OrderStatus::NeedsAttention && current == OrderStatus::NeedsAttention) {
            out.routed = Some(routed);
        }
        status
    };
    if status != current {
        sqlx::query("UPDATE orders SET status = $1 WHERE id = $2")
            .bind(status.as_str())
            .bind(order_id)
            .execute(&mut **tx)
            .await?;
    }
    out.status = Some(status);
    Ok(out)
}

async fn all_lines_shipped(tx: &mut Tx, order_id: i64) -> Result<bool, StoreError> {
    let unshipped: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM order_lines l
         WHERE l.order_id = $1 AND l.channel_sku IS NOT NULL
           AND NOT EXISTS (SELECT 1 FROM allocations a WHERE a.order_id = $1 AND a.line_external = l.external_id
                           AND a.state = 'consumed')",
    )
    .bind(order_id)
    .fetch_one(&mut **tx)
    .await?;
    Ok(unshipped == 0)
}

/// Writes an order event.
pub(super) async fn order_event(
    tx: &mut Tx,
    order_id: i64,
    kind: &str,
    source: &str,
    detail: serde_json::Value,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO order_events (order_id, at, kind, source, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(order_id)
    .bind(now())
    .bind(kind)
    .bind(source)
    .bind(detail.to_string())
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Records what settling did in the order's history.
pub(super) async fn record_settled(
    tx: &mut Tx,
    order_id: i64,
    s: &Settled,
    source: &str,
) -> Result<(), StoreError> {
    match &s.routed {
        Some(Routed::Allocated(picks)) => {
            let detail: Vec<_> = picks
                .iter()
                .map(|p| serde_json::json!({"line": p.line, "sku": p.sku, "location": p.location, "quantity": p.quantity}))
                .collect();
            order_event(
                tx,
                order_id,
                "allocated",
                source,
                serde_json::json!({ "allocations": detail }),
            )
            .await?;
        }
        Some(Routed::Waiting { short }) => {
            order_event(
                tx,
                order_id,
                "needs_attention",
                source,
                serde_json::json!({ "short": short }),
            )
            .await?;
        }
        _ => {}
    }
    if s.released {
        order_event(
            tx,
            order_id,
            "released",
            source,
            serde_json::json!({ "skus": s.touched }),
        )
        .await?;
    }
    if s.consumed {
        order_event(
            tx,
            order_id,
            "consumed",
            source,
            serde_json::json!({ "skus": s.touched }),
        )
        .await?;
    }
    Ok(())
}

/// Tries again to route orders waiting for stock of any of `skus` (all
/// waiting orders when empty), oldest first. Returns the SKUs touched.
pub(super) async fn reroute_waiting(
    tx: &mut Tx,
    policy: &Policy,
    source: &str,
) -> Result<BTreeSet<String>, StoreError> {
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE status = 'needs_attention' ORDER BY placed_at, id LIMIT 1000",
    )
    .fetch_all(&mut **tx)
    .await?;
    let mut touched = BTreeSet::new();
    for id in ids {
        let s = settle(tx, policy, id).await?;
        if matches!(s.routed, Some(Routed::Allocated(_))) {
            record_settled(tx, id, &s, source).await?;
        }
        touched.extend(s.touched);
    }
    Ok(touched)
}

/// Queues a stock push of every channel SKU that `masters` affect, on every
/// channel that publishes stock and lists them. Returns how many rows were
/// new (an already pending row for a SKU absorbs the change).
pub(super) async fn enqueue_stock(
    tx: &mut Tx,
    policy: &Policy,
    masters: &BTreeSet<String>,
) -> Result<usize, StoreError> {
    let mut queued = 0;
    for (connector, _) in policy.publishers() {
        let mut channel_skus = BTreeSet::new();
        for m in masters {
            let rows: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT channel_sku FROM sku_map WHERE connector = $1 AND master_sku = $2",
            )
            .bind(connector)
            .bind(m)
            .fetch_all(&mut **tx)
            .await?;
            channel_skus.extend(rows);
        }
        queued += enqueue_levels(tx, connector, channel_skus).await?;
    }
    Ok(queued)
}

/// Queues a stock push of each of `channel_skus` to `connector` (the level
/// is read when it is sent); returns how many rows were added.
pub(super) async fn enqueue_levels(
    tx: &mut Tx,
    connector: &str,
    channel_skus: impl IntoIterator<Item = String>,
) -> Result<usize, StoreError> {
    let mut queued = 0;
    for cs in channel_skus {
        queued += enqueue(
            tx,
            connector,
            "stock",
            &cs,
            &serde_json::json!({ "channel_sku": cs }),
            None,
        )
        .await? as usize;
    }
    Ok(queued)
}

/// Queues the order for each ERP that sources a location it was routed to.
/// What an order holds reserved, as routing picked it.
async fn reserved_picks(tx: &mut Tx, order_id: i64) -> Result<Vec<route::Pick>, StoreError> {
    Ok(allocations(tx, order_id, "reserved")
        .await?
        .into_iter()
        .map(|(_, line, sku, location, quantity)| route::Pick {
            line,
            sku,
            location,
            quantity,
        })
        .collect())
}

/// Queues the order for the ERPs that run the locations it ships from, once
/// per location.
async fn enqueue_sinks(
    tx: &mut Tx,
    policy: &Policy,
    order_id: i64,
    picks: &[route::Pick],
) -> Result<(), StoreError> {
    let locations: BTreeSet<&str> = picks.iter().map(|p| p.location.as_str()).collect();
    for loc in locations {
        let Some(src) = policy.site(loc).and_then(|s| s.source.as_ref()) else {
            continue;
        };
        if !policy
            .channels
            .get(&src.connector)
            .is_some_and(|c| c.sinks_orders)
        {
            continue;
        }
        let key = format!("{order_id}@{loc}");
        // Once per order and location, whatever became of the first.
        let sent = sqlx::query(
            "SELECT 1 FROM outbox WHERE connector = $1 AND kind = 'sink_order' AND key = $2",
        )
        .bind(&src.connector)
        .bind(&key)
        .fetch_optional(&mut **tx)
        .await?;
        if sent.is_some() {
            continue;
        }
        let payload = serde_json::json!({ "order_id": order_id, "location": loc });
        enqueue(
            tx,
            &src.connector,
            "sink_order",
            &key,
            &payload,
            Some(format!("chansync-sink-{key}")),
        )
        .await?;
    }
    Ok(())
}

/// An order cancelled after routing: a hand-over to an ERP that was never
/// tried is withdrawn; one that was (or may have been) is followed by a
/// `sink_cancel`, once per order and location.
async fn cancel_sinks(
    tx: &mut Tx,
    policy: &Policy,
    order_id: i64,
    reason: &str,
) -> Result<(), StoreError> {
    for (connector, _) in policy.channels.iter().filter(|(_, c)| c.sinks_orders) {
        // Keys are `{order_id}@{location}`: the range `id@` ..< `idA`.
        let rows = sqlx::query(
            "SELECT id, key, state, attempts FROM outbox
             WHERE connector = $1 AND kind = 'sink_order' AND key >= $2 AND key < $3",
        )
        .bind(connector)
        .bind(format!("{order_id}@"))
        .bind(format!("{order_id}A"))
        .fetch_all(&mut **tx)
        .await?;
        for r in rows {
            let state: String = r.get("state");
            let attempts: i64 = r.get("attempts");
            let key: String = r.get("key");
            if state == "pending" {
                sqlx::query(
                    "UPDATE outbox SET state = 'superseded', updated_at = $1 WHERE id = $2",
                )
                .bind(now())
                .bind(r.get::<i64, _>("id"))
                .execute(&mut **tx)
                .await?;
                if attempts == 0 {
                    continue;
                }
            }
            if state == "superseded" {
                continue;
            }
            let queued = sqlx::query(
                "SELECT 1 FROM outbox WHERE connector = $1 AND kind = 'sink_cancel' AND key = $2",
            )
            .bind(connector)
            .bind(&key)
            .fetch_optional(&mut **tx)
            .await?;
            if queued.is_some() {
                continue;
            }
            let idempotency_key = format!("chansync-sink-cancel-{key}");
            let req = chansync_sdk::SinkCancel {
                reference: crate::store::order_reference(order_id),
                reason: Some(reason.to_owned()),
                idempotency_key: idempotency_key.clone(),
            };
            let payload = serde_json::to_value(&req).expect("serializes");
            enqueue(
                tx,
                connector,
                "sink_cancel",
                &key,
                &payload,
                Some(idempotency_key),
            )
            .await?;
        }
    }
    Ok(())
}

/// Adds an outbox row; `false` when a pending stock row for the key exists.
pub(super) async fn enqueue(
    tx: &mut Tx,
    connector: &str,
    kind: &str,
    key: &str,
    payload: &serde_json::Value,
    idempotency_key: Option<String>,
) -> Result<bool, StoreError> {
    let at = now();
    let ikey = idempotency_key
        .unwrap_or_else(|| format!("chansync-{kind}-{:032x}", rand::random::<u128>()));
    let done = sqlx::query(
        "INSERT INTO outbox (connector, kind, key, payload, state, attempts, next_attempt_us, idempotency_key,
           created_at, updated_at)
         VALUES ($1, $2, $3, $4, 'pending', 0, 0, $5, $6, $7)
         ON CONFLICT DO NOTHING",
    )
    .bind(connector)
    .bind(kind)
    .bind(key)
    .bind(payload.to_string())
    .bind(&ikey)
    .bind(&at)
    .bind(&at)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(done == 1)
}

/// What a channel is shown for one of its SKUs now.
pub(super) async fn published_level(
    tx: &mut Tx,
    policy: &Policy,
    connector: &str,
    channel_sku: &str,
) -> Result<i64, StoreError> {
    let Some(channel) = policy.channels.get(connector) else {
        return Ok(0);
    };
    let mut parts = parts_of(tx, connector, channel_sku).await?;
    if parts.is_empty() {
        parts.push((channel_sku.to_owned(), 1));
    }
    let mut avail = Vec::with_capacity(parts.len());
    for (sku, per) in parts {
        avail.push((
            available_for(tx, policy, &channel.stock.locations, &sku).await?,
            per,
        ));
    }
    Ok(crate::inventory::published(
        &channel.stock,
        crate::inventory::bundle_available(&avail),
    ))
}

/// Available units of a master SKU over the given locations (all when empty),
/// counting only configured locations; a location short of stock counts 0.
async fn available_for(
    tx: &mut Tx,
    policy: &Policy,
    only: &[String],
    sku: &str,
) -> Result<i64, StoreError> {
    let mut total = 0;
    for site in &policy.sites {
        if !only.is_empty() && !only.contains(&site.name) {
            continue;
        }
        total += level(tx, sku, &site.name).await?.available().max(0);
    }
    Ok(total)
}

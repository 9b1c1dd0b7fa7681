//! What the commands and the admin API do to stock and orders: set on hand,
//! show stock, import SKU mappings, record a fulfilment, cancel an order.
//! Each is one write transaction with the outbox rows it causes.

use std::collections::{BTreeMap, BTreeSet};

use chansync_sdk::model::{Fulfillment, FulfillmentLine, OrderStatus};
use chansync_sdk::{CancelRequest, FulfillmentRequest};
use serde::Serialize;
use sqlx::Row;

use super::inventory::{self, Actor, Level};
use super::{now, Backend, Store, StoreError};
use crate::config::SkuMapping;

/// One SKU at one location, as `stock show` prints it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StockLocation {
    pub location: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub safety: i64,
    pub available: i64,
}

/// What one channel is shown for a SKU.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StockChannel {
    pub connector: String,
    pub channel_sku: String,
    pub published: i64,
}

/// A master SKU's stock everywhere.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct StockView {
    pub sku: String,
    pub locations: Vec<StockLocation>,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub channels: Vec<StockChannel>,
}

/// Why a command on an order was refused.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error("no order with id {0}")]
    NoOrder(i64),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<sqlx::Error> for CommandError {
    fn from(e: sqlx::Error) -> Self {
        CommandError::Store(e.into())
    }
}

impl Store {
    /// The master SKUs × units a channel SKU of a connector stands for, when
    /// it is a bundle (several parts, or several units of one); else empty.
    pub async fn bundle_parts(
        &self,
        connector: &str,
        channel_sku: &str,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        // In the order the config lists the parts (SQLite's rowid, PostgreSQL's seq).
        let rows = sqlx::query(match self.backend {
            Backend::Sqlite => "SELECT master_sku, quantity FROM sku_map WHERE connector = $1 AND channel_sku = $2 ORDER BY rowid",
            Backend::Postgres => "SELECT master_sku, quantity FROM sku_map WHERE connector = $1 AND channel_sku = $2 ORDER BY seq",
        })
            .bind(connector)
            .bind(channel_sku)
            .fetch_all(&self.reader)
            .await?;
        let parts: Vec<(String, i64)> = rows
            .iter()
            .map(|r| (r.get("master_sku"), r.get("quantity")))
            .collect();
        Ok(match parts.as_slice() {
            [(_, 1)] | [] => Vec::new(),
            _ => parts,
        })
    }

    /// Sets on hand (and optionally safety stock) of `sku` at `location`;
    /// waiting orders are routed again and channels get the new level.
    pub async fn set_on_hand(
        &self,
        sku: &str,
        location: &str,
        on_hand: i64,
        safety: Option<i64>,
        actor: &Actor,
    ) -> Result<(Level, Level), CommandError> {
        let policy = self.policy();
        if policy.site(location).is_none() {
            return Err(CommandError::Refused(format!(
                "no [[location]] named {location:?} in the config"
            )));
        }
        if on_hand < 0 || safety.is_some_and(|s| s < 0) {
            return Err(CommandError::Refused(
                "on hand and safety stock cannot be negative".into(),
            ));
        }
        let mut tx = self.write_tx().await?;
        let (before, after) =
            inventory::set_on_hand(&mut tx, sku, location, on_hand, safety, actor).await?;
        let mut touched = BTreeSet::from([sku.to_owned()]);
        if after.available() > before.available() {
            touched.extend(inventory::reroute_waiting(&mut tx, &policy, &actor.name).await?);
        }
        inventory::enqueue_stock(&mut tx, &policy, &touched).await?;
        tx.commit().await?;
        self.outbox_wake.notify_waiters();
        Ok((before, after))
    }

    /// Applies on-hand counts a source-of-truth connector reported (a POS
    /// count change, an ERP sync): each count lands on the location whose
    /// `source` names this connector and its location; counts for locations
    /// no `[[location]]` takes are skipped. Returns how many were applied.
    pub async fn apply_on_hand(
        &self,
        connector: &str,
        counts: &[chansync_sdk::OnHand],
    ) -> Result<usize, StoreError> {
        let policy = self.policy();
        let actor = Actor::new(format!("connector:{connector}"));
        let mut tx = self.write_tx().await?;
        let mut touched = BTreeSet::new();
        let mut more = false;
        let mut applied = 0;
        for c in counts {
            let Some(site) = policy.site_for_source(connector, c.channel_location.as_deref())
            else {
                tracing::debug!(connector, channel_sku = %c.channel_sku, location = ?c.channel_location, "count for a location chansync does not take; skipped");
                continue;
            };
            let parts = inventory::parts_of(&mut tx, connector, &c.channel_sku).await?;
            let sku = match parts.as_slice() {
                [(master, 1)] => master.clone(),
                _ => c.channel_sku.clone(),
            };
            let (before, after) =
                inventory::set_on_hand(&mut tx, &sku, &site.name, c.on_hand, None, &actor).await?;
            more |= after.available() > before.available();
            if before != after {
                touched.insert(sku);
            }
            applied += 1;
        }
        if more {
            touched.extend(inventory::reroute_waiting(&mut tx, &policy, &actor.name).await?);
        }
        inventory::enqueue_stock(&mut tx, &policy, &touched).await?;
        tx.commit().await?;
        self.outbox_wake.notify_waiters();
        Ok(applied)
    }

    /// Stock per SKU (one SKU, or all known), with what each channel is shown.
    pub async fn stock_view(&self, sku: Option<&str>) -> Result<Vec<StockView>, StoreError> {
        let policy = self.policy();
        // A read transaction gives one consistent snapshot (PostgreSQL's
        // default gives each statement its own).
        let mut tx = match self.backend {
            Backend::Sqlite => self.reader.begin().await?,
            Backend::Postgres => {
                self.reader
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    .await?
            }
        };
        let skus: Vec<String> = match sku {
            Some(s) => vec![s.to_owned()],
            None => {
                sqlx::query_scalar(
                    "SELECT sku FROM stock UNION SELECT master_sku FROM sku_map WHERE source != 'order' ORDER BY 1",
                )
                .fetch_all(&mut *tx)
                .await?
            }
        };
        let mut out = Vec::with_capacity(skus.len());
        for sku in skus {
            let rows = sqlx::query("SELECT location, on_hand, reserved, safety FROM stock WHERE sku = $1 ORDER BY location")
                .bind(&sku)
                .fetch_all(&mut *tx)
                .await?;
            let locations: Vec<StockLocation> = rows
                .iter()
                .map(|r| {
                    let l = Level {
                        on_hand: r.get("on_hand"),
                        reserved: r.get("reserved"),
                        safety: r.get("safety"),
                    };
                    StockLocation {
                        location: r.get("location"),
                        on_hand: l.on_hand,
                        reserved: l.reserved,
                        safety: l.safety,
                        available: l.available(),
                    }
                })
                .collect();
            let listings = sqlx::query("SELECT DISTINCT connector, channel_sku FROM sku_map WHERE master_sku = $1 ORDER BY 1, 2")
                .bind(&sku)
                .fetch_all(&mut *tx)
                .await?;
            let mut channels = Vec::new();
            for l in &listings {
                let connector: String = l.get("connector");
                let channel_sku: String = l.get("channel_sku");
                if !policy
                    .channels
                    .get(&connector)
                    .is_some_and(|c| c.pushes_stock)
                {
                    continue;
                }
                let published =
                    inventory::published_level(&mut tx, &policy, &connector, &channel_sku).await?;
                channels.push(StockChannel {
                    connector,
                    channel_sku,
                    published,
                });
            }
            out.push(StockView {
                sku,
                on_hand: locations.iter().map(|l| l.on_hand).sum(),
                reserved: locations.iter().map(|l| l.reserved).sum(),
                available: locations.iter().map(|l| l.available.max(0)).sum(),
                locations,
                channels,
            });
        }
        tx.rollback().await?;
        Ok(out)
    }

    /// Replaces the config's `[[sku]]` mappings in the store (rows from the
    /// config that are gone from it are removed; imports and learned rows
    /// stay) and queues pushes for what changed.
    pub async fn sync_sku_config(&self, rows: &[SkuMapping]) -> Result<(), StoreError> {
        let policy = self.policy();
        let mut tx = self.write_tx().await?;
        let before: BTreeSet<(String, String, String, i64)> =
            sqlx::query("SELECT connector, channel_sku, master_sku, quantity FROM sku_map WHERE source = 'config'")
                .fetch_all(&mut *tx)
                .await?
                .iter()
                .map(|r| (r.get("connector"), r.get("channel_sku"), r.get("master_sku"), r.get("quantity")))
                .collect();
        let after: BTreeSet<(String, String, String, i64)> = rows
            .iter()
            .map(|r| {
                (
                    r.connector.clone(),
                    r.channel_sku.clone(),
                    r.master_sku.clone(),
                    r.quantity,
                )
            })
            .collect();
        if before == after {
            return Ok(());
        }
        let keys: BTreeSet<(String, String)> = rows
            .iter()
            .map(|r| (r.connector.clone(), r.channel_sku.clone()))
            .collect();
        sqlx::query("DELETE FROM sku_map WHERE source = 'config'")
            .execute(&mut *tx)
            .await?;
        let touched = replace_mappings(&mut tx, &keys, rows, "config").await?;
        let mut masters: BTreeSet<String> = touched;
        masters.extend(
            before
                .iter()
                .filter(|b| !after.contains(b))
                .map(|b| b.2.clone()),
        );
        inventory::enqueue_stock(&mut tx, &policy, &masters).await?;
        tx.commit().await?;
        self.outbox_wake.notify_waiters();
        Ok(())
    }

    /// Queues a stock push of every SKU mapped for each of `connectors` that
    /// publishes stock (a connector new or changed by a config reload).
    pub async fn republish_stock(&self, connectors: &[String]) -> Result<usize, StoreError> {
        let policy = self.policy();
        let mut tx = self.write_tx().await?;
        let mut queued = 0;
        for connector in connectors {
            if !policy
                .channels
                .get(connector)
                .is_some_and(|c| c.pushes_stock)
            {
                continue;
            }
            let skus: Vec<String> = sqlx::query_scalar(
                "SELECT DISTINCT channel_sku FROM sku_map WHERE connector = $1 ORDER BY channel_sku",
            )
            .bind(connector)
            .fetch_all(&mut *tx)
            .await?;
            queued += inventory::enqueue_levels(&mut tx, connector, skus).await?;
        }
        tx.commit().await?;
        self.outbox_wake.notify_waiters();
        Ok(queued)
    }

    /// Imports mappings: each (connector, channel SKU) in `rows` gets exactly
    /// the rows given for it. Returns how many channel SKUs were replaced.
    pub async fn import_skus(&self, rows: &[SkuMapping]) -> Result<usize, StoreError> {
        let policy = self.policy();
        let mut tx = self.write_tx().await?;
        let keys: BTreeSet<(String, String)> = rows
            .iter()
            .map(|r| (r.connector.clone(), r.channel_sku.clone()))
            .collect();
        let mut masters = BTreeSet::new();
        for (c, cs) in &keys {
            let old: Vec<String> = sqlx::query_scalar(
                "SELECT master_sku FROM sku_map WHERE connector = $1 AND channel_sku = $2",
            )
            .bind(c)
            .bind(cs)
            .fetch_all(&mut *tx)
            .await?;
            masters.extend(old);
            sqlx::query("DELETE FROM sku_map WHERE connector = $1 AND channel_sku = $2")
                .bind(c)
                .bind(cs)
                .execute(&mut *tx)
                .await?;
        }
        masters.extend(replace_mappings(&mut tx, &keys, rows, "import").await?);
        inventory::enqueue_stock(&mut tx, &policy, &masters).await?;
        tx.commit().await?;
        self.outbox_wake.notify_waiters();
        Ok(keys.len())
    }

    /// Records a shipment of an order from `location` and queues its push to
    /// the channel. `lines` maps channel line ids to quantities; empty: all.
    pub async fn fulfil(
        &self,
        order_id: i64,
        location: &str,
        carrier: Option<&str>,
        tracking: &str,
        lines: &BTreeMap<String, i64>,
    ) -> Result<i64, CommandError> {
        let policy = self.policy();
        let mut tx = self.write_tx().await?;
        let ship = Ship {
            location,
            carrier,
            tracking,
            lines,
            source: None,
            via: "cli",
        };
        let fid = record_shipment(&mut tx, &policy, order_id, &ship).await?;
        tx.commit().await?;
        self.outbox_wake.notify_waiters();
        Ok(fid)
    }

    /// Records shipments another channel made (an ERP's deliveries) with the
    /// stream's new cursor, in one transaction. A shipment already recorded
    /// is skipped; one for an order chansync does not know, or that cannot be
    /// recorded, is logged and skipped. Returns the order ids shipped.
    pub async fn apply_shipments(
        &self,
        connector: &str,
        shipments: &[chansync_sdk::Shipment],
        cursor: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let policy = self.policy();
        let mut tx = self.write_tx().await?;
        let mut shipped = Vec::new();
        for sh in shipments {
            let source = format!("{connector}:{}", sh.shipment_id);
            let known: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM fulfillments WHERE source = $1")
                    .bind(&source)
                    .fetch_one(&mut *tx)
                    .await?;
            if known > 0 {
                continue;
            }
            let Some(order_id) = parse_reference(&sh.reference) else {
                tracing::warn!(connector, reference = %sh.reference, "shipment for an order chansync did not send; skipped");
                continue;
            };
            let f = &sh.fulfillment;
            // The shipment's warehouse is a location this connector sources.
            let location = policy
                .site_for_source(connector, f.location.as_deref())
                .map(|s| s.name.clone());
            let Some(location) = location else {
                tracing::warn!(connector, warehouse = ?f.location, "shipment from a warehouse no [[location]] takes; skipped");
                continue;
            };
            let lines: BTreeMap<String, i64> = f
                .lines
                .iter()
                .map(|l| (l.external_id.clone(), i64::from(l.quantity)))
                .collect();
            let lines = fold_bundle_parts(&mut tx, order_id, lines).await?;
            if lines.is_empty() && !f.lines.is_empty() {
                tracing::warn!(connector, order_id, shipment = %sh.shipment_id,
                    "shipment holds no complete bundle set; not recorded (parts of one set shipped in separate deliveries are not combined)");
                continue;
            }
            let tracking = f.tracking.clone().unwrap_or_else(|| sh.shipment_id.clone());
            let ship = Ship {
                location: &location,
                carrier: f.carrier.as_deref(),
                tracking: &tracking,
                lines: &lines,
                source: Some(&source),
                via: "channel",
            };
            // One bad shipment must not hold back the rest of the page.
            sqlx::query("SAVEPOINT shipment").execute(&mut *tx).await?;
            match record_shipment(&mut tx, &policy, order_id, &ship).await {
                Ok(_) => {
                    sqlx::query("RELEASE shipment").execute(&mut *tx).await?;
                    shipped.push(order_id);
                }
                Err(CommandError::Store(e)) => return Err(e),
                Err(e) => {
                    sqlx::query("ROLLBACK TO shipment")
                        .execute(&mut *tx)
                        .await?;
                    sqlx::query("RELEASE shipment").execute(&mut *tx).await?;
                    tracing::warn!(connector, order_id, shipment = %sh.shipment_id, error = %e, "shipment not recorded");
                }
            }
        }
        sqlx::query(
            "INSERT INTO sync_cursors (connector, stream, cursor) VALUES ($1, 'shipments', $2)
             ON CONFLICT (connector, stream) DO UPDATE SET cursor = excluded.cursor",
        )
        .bind(connector)
        .bind(cursor)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.outbox_wake.notify_waiters();
        Ok(shipped)
    }

    /// The cursor of a connector's secondary stream (e.g. `shipments`).
    pub async fn sync_cursor(
        &self,
        connector: &str,
        stream: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT cursor FROM sync_cursors WHERE connector = $1 AND stream = $2",
        )
        .bind(connector)
        .bind(stream)
        .fetch_optional(&self.reader)
        .await?)
    }

    /// Cancels an order: releases its reservations and queues the channel's
    /// cancellation.
    pub async fn cancel(&self, order_id: i64, reason: Option<&str>) -> Result<(), CommandError> {
        let policy = self.policy();
        let mut tx = self.write_tx().await?;
        let row = sqlx::query("SELECT connector, external_id, status FROM orders WHERE id = $1")
            .bind(order_id)
            .fetch_optional(&mut *tx)
            .await?
            .ok_or(CommandError::NoOrder(order_id))?;
        let connector: String = row.get("connector");
        let external_id: String = row.get("external_id");
        let status: OrderStatus = row
            .get::<String, _>("status")
            .parse()
            .map_err(StoreError::Corrupt)?;
        match status {
            OrderStatus::Cancelled => {
                return Err(CommandError::Refused(format!(
                    "order {order_id} is already cancelled"
                )))
            }
            OrderStatus::Fulfilled | OrderStatus::PartiallyFulfilled => {
                return Err(CommandError::Refused(format!(
                    "order {order_id} is {status}; shipped orders are refunded, not cancelled"
                )))
            }
            _ => {}
        }
        sqlx::query("UPDATE orders SET local_status = 'cancelled' WHERE id = $1")
            .bind(order_id)
            .execute(&mut *tx)
            .await?;
        let settled = inventory::settle(&mut tx, &policy, order_id).await?;
        inventory::order_event(
            &mut tx,
            order_id,
            "cancelled",
            "cli",
            serde_json::json!({"reason": reason, "released": settled.touched}),
        )
        .await?;
        if policy.channels.get(&connector).is_some_and(|c| c.cancels) {
            let key = format!("chansync-cancel-{order_id}");
            let req = CancelRequest {
                external_order_id: external_id,
                reason: reason.map(str::to_owned),
                idempotency_key: key.clone(),
            };
            inventory::enqueue(
                &mut tx,
                &connector,
                "cancel",
                &order_id.to_string(),
                &serde_json::to_value(&req).expect("serializes"),
                Some(key),
            )
            .await?;
        }
        let mut touched = settled.touched;
        if !touched.is_empty() {
            touched.extend(inventory::reroute_waiting(&mut tx, &policy, "cli").await?);
        }
        inventory::enqueue_stock(&mut tx, &policy, &touched).await?;
        tx.commit().await?;
        self.outbox_wake.notify_waiters();
        Ok(())
    }

    /// The audited changes of a SKU's stock, newest first.
    pub async fn stock_history(
        &self,
        sku: &str,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, location, kind, actor, order_id, on_hand_before, on_hand_after, reserved_before, reserved_after, note
             FROM stock_events WHERE sku = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(sku)
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                serde_json::json!({
                    "at": r.get::<String, _>("at"),
                    "location": r.get::<String, _>("location"),
                    "kind": r.get::<String, _>("kind"),
                    "actor": r.get::<String, _>("actor"),
                    "order_id": r.get::<Option<i64>, _>("order_id"),
                    "on_hand": [r.get::<i64, _>("on_hand_before"), r.get::<i64, _>("on_hand_after")],
                    "reserved": [r.get::<i64, _>("reserved_before"), r.get::<i64, _>("reserved_after")],
                    "note": r.get::<Option<String>, _>("note"),
                })
            })
            .collect())
    }

    /// Every stock row, for invariant checks and exports.
    pub async fn stock_levels(&self) -> Result<Vec<(String, String, Level)>, StoreError> {
        let rows = sqlx::query(
            "SELECT sku, location, on_hand, reserved, safety FROM stock ORDER BY sku, location",
        )
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get("sku"),
                    r.get("location"),
                    Level {
                        on_hand: r.get("on_hand"),
                        reserved: r.get("reserved"),
                        safety: r.get("safety"),
                    },
                )
            })
            .collect())
    }
}

async fn tracking_known(
    tx: &mut super::inventory::Tx,
    order_id: i64,
    tracking: &str,
) -> Result<bool, StoreError> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM fulfillments WHERE order_id = $1 AND tracking = $2",
    )
    .bind(order_id)
    .bind(tracking)
    .fetch_one(&mut **tx)
    .await?;
    Ok(n > 0)
}

async fn replace_mappings(
    tx: &mut super::inventory::Tx,
    keys: &BTreeSet<(String, String)>,
    rows: &[SkuMapping],
    source: &str,
) -> Result<BTreeSet<String>, StoreError> {
    let mut masters = BTreeSet::new();
    for (c, cs) in keys {
        // Learned identity rows give way to an explicit mapping.
        sqlx::query(
            "DELETE FROM sku_map WHERE connector = $1 AND channel_sku = $2 AND source = 'order'",
        )
        .bind(c)
        .bind(cs)
        .execute(&mut **tx)
        .await?;
    }
    for r in rows {
        sqlx::query(
            "INSERT INTO sku_map (connector, channel_sku, master_sku, quantity, source) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (connector, channel_sku, master_sku) DO UPDATE SET quantity = excluded.quantity, source = excluded.source",
        )
        .bind(&r.connector)
        .bind(&r.channel_sku)
        .bind(&r.master_sku)
        .bind(r.quantity)
        .bind(source)
        .execute(&mut **tx)
        .await?;
        masters.insert(r.master_sku.clone());
    }
    Ok(masters)
}

/// chansync's reference for an order in another channel (an ERP).
pub fn order_reference(order_id: i64) -> String {
    format!("chansync-{order_id}")
}

fn parse_reference(r: &str) -> Option<i64> {
    r.strip_prefix("chansync-")?.parse().ok()
}

/// A shipment to record.
struct Ship<'a> {
    location: &'a str,
    carrier: Option<&'a str>,
    tracking: &'a str,
    lines: &'a BTreeMap<String, i64>,
    /// `connector:shipment id` for shipments another channel made.
    source: Option<&'a str>,
    /// Who recorded it, for the history: `cli` or `channel`.
    via: &'a str,
}

/// Records a shipment in the caller's transaction: consumes reservations,
/// settles the status, queues the push to the order's channel and stock pushes.
/// Shipment lines of bundle parts (`LINE/MASTER_SKU`, as the ERP was sent
/// them) become lines of the bundle: as many sets as the scarcest part
/// shipped makes. Other lines pass through.
async fn fold_bundle_parts(
    tx: &mut super::inventory::Tx,
    order_id: i64,
    lines: BTreeMap<String, i64>,
) -> Result<BTreeMap<String, i64>, StoreError> {
    if !lines.keys().any(|l| l.contains('/')) {
        return Ok(lines);
    }
    let rows = sqlx::query("SELECT l.external_id, l.channel_sku, o.connector FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE l.order_id = $1")
        .bind(order_id)
        .fetch_all(&mut **tx)
        .await?;
    let mut out = BTreeMap::new();
    let mut sets: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for (id, q) in lines {
        let base = id.split_once('/').filter(|(b, _)| {
            !rows.iter().any(|r| r.get::<String, _>("external_id") == id)
                && rows.iter().any(|r| r.get::<String, _>("external_id") == *b)
        });
        match base {
            Some((b, sku)) => {
                sets.entry(b.to_owned())
                    .or_default()
                    .insert(sku.to_owned(), q);
            }
            None => {
                out.insert(id, q);
            }
        }
    }
    for (base, shipped) in sets {
        let Some(row) = rows
            .iter()
            .find(|r| r.get::<String, _>("external_id") == base)
        else {
            continue;
        };
        let Some(cs) = row.get::<Option<String>, _>("channel_sku") else {
            continue;
        };
        let parts = inventory::parts_of(tx, &row.get::<String, _>("connector"), &cs).await?;
        let complete = parts
            .iter()
            .map(|(sku, units)| shipped.get(sku).copied().unwrap_or(0) / (*units).max(1))
            .min()
            .unwrap_or(0);
        if complete > 0 {
            out.insert(base, complete);
        }
    }
    Ok(out)
}

async fn record_shipment(
    tx: &mut super::inventory::Tx,
    policy: &crate::inventory::Policy,
    order_id: i64,
    ship: &Ship<'_>,
) -> Result<i64, CommandError> {
    let Ship {
        location,
        carrier,
        tracking,
        lines,
        source,
        via,
    } = *ship;
    if policy.site(location).is_none() {
        return Err(CommandError::Refused(format!(
            "no [[location]] named {location:?} in the config"
        )));
    }
    if tracking.trim().is_empty() {
        return Err(CommandError::Refused(
            "a tracking number is required".into(),
        ));
    }
    let row = sqlx::query("SELECT connector, external_id, status FROM orders WHERE id = $1")
        .bind(order_id)
        .fetch_optional(&mut **tx)
        .await?
        .ok_or(CommandError::NoOrder(order_id))?;
    let connector: String = row.get("connector");
    let external_id: String = row.get("external_id");
    let status: OrderStatus = row
        .get::<String, _>("status")
        .parse()
        .map_err(StoreError::Corrupt)?;
    if status == OrderStatus::Cancelled || status == OrderStatus::Fulfilled {
        return Err(CommandError::Refused(format!(
            "order {order_id} is {status}; nothing to fulfil"
        )));
    }
    let line_qty: BTreeMap<String, i64> =
        sqlx::query("SELECT external_id, quantity FROM order_lines WHERE order_id = $1")
            .bind(order_id)
            .fetch_all(&mut **tx)
            .await?
            .iter()
            .map(|r| (r.get("external_id"), r.get("quantity")))
            .collect();
    for (line, q) in lines {
        let Some(max) = line_qty.get(line) else {
            return Err(CommandError::Refused(format!(
                "order {order_id} has no line {line:?}"
            )));
        };
        if *q < 1 || q > max {
            return Err(CommandError::Refused(format!(
                "line {line:?} has {max} units; cannot ship {q}"
            )));
        }
    }
    if tracking_known(tx, order_id, tracking).await? {
        return Err(CommandError::Refused(format!(
            "order {order_id} already has a shipment with tracking {tracking:?}"
        )));
    }
    let to_lines = |m: &BTreeMap<String, i64>| -> Vec<FulfillmentLine> {
        m.iter()
            .map(|(l, q)| FulfillmentLine {
                external_id: l.clone(),
                quantity: *q as u32,
            })
            .collect()
    };
    let shipped = if lines.is_empty() {
        to_lines(&line_qty)
    } else {
        to_lines(lines)
    };
    let fulfillment = Fulfillment {
        location: Some(location.to_owned()),
        carrier: carrier.map(str::to_owned),
        tracking: Some(tracking.to_owned()),
        lines: if lines.is_empty() {
            Vec::new()
        } else {
            shipped.clone()
        },
    };
    let fid: i64 = sqlx::query_scalar(
        "INSERT INTO fulfillments (order_id, location, carrier, tracking, lines, created_at, source)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
    )
    .bind(order_id)
    .bind(location)
    .bind(carrier)
    .bind(tracking)
    .bind(serde_json::to_string(&shipped).expect("lines serialize"))
    .bind(now())
    .bind(source)
    .fetch_one(&mut **tx)
    .await?;
    let mut touched = inventory::consume_lines(tx, order_id, &connector, location, lines).await?;
    let settled = inventory::settle(tx, policy, order_id).await?;
    touched.extend(settled.touched.iter().cloned());
    inventory::order_event(
        tx,
        order_id,
        "fulfilled",
        via,
        serde_json::json!({"location": location, "carrier": carrier, "tracking": tracking, "lines": shipped,
                           "status": settled.status.map(|s| s.as_str()), "source": source}),
    )
    .await?;
    if policy
        .channels
        .get(&connector)
        .is_some_and(|c| c.pushes_fulfillment)
    {
        let key = format!("chansync-fulfillment-{fid}");
        let req = FulfillmentRequest {
            external_order_id: external_id,
            fulfillment,
            idempotency_key: key.clone(),
        };
        let payload = serde_json::to_value(&req).expect("serializes");
        inventory::enqueue(
            tx,
            &connector,
            "fulfillment",
            &order_id.to_string(),
            &payload,
            Some(key),
        )
        .await?;
    }
    inventory::enqueue_stock(tx, policy, &touched).await?;
    Ok(fid)
}

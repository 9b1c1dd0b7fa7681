//! Orders in the store: the idempotent, monotonic upsert that every intake
//! path (poll pages, webhooks) goes through, and the reads behind
//! `orders list` / `orders show`.

use std::collections::BTreeSet;
use std::str::FromStr;

use chansync_sdk::model::{
    Address, ChannelOrder, ChannelStatus, Currency, Customer, Fulfillment, Order, OrderLine,
    OrderStatus, PaymentStatus,
};
use rust_decimal::Decimal;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{Any, Row, Transaction};

use super::{now, Store, StoreError};
use crate::inventory::Policy;

/// Which path an order change came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Poll,
    Webhook,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Poll => "poll",
            Source::Webhook => "webhook",
        }
    }
}

/// An order arriving from a channel.
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    pub order: &'a ChannelOrder,
    /// The channel's JSON, kept for audit.
    pub raw: Option<&'a str>,
    pub source: Source,
}

/// What an upsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    Created {
        id: i64,
        status: OrderStatus,
        /// What routing reserved in this upsert, if it routed.
        picks: Vec<crate::inventory::route::Pick>,
    },
    Updated {
        id: i64,
        status: OrderStatus,
        picks: Vec<crate::inventory::route::Pick>,
    },
    /// The same state again (a replay, an overlapping poll).
    Unchanged { id: i64 },
    /// Older than what the store holds; ignored.
    Stale { id: i64 },
}

impl Applied {
    pub fn id(&self) -> i64 {
        match self {
            Applied::Created { id, .. }
            | Applied::Updated { id, .. }
            | Applied::Unchanged { id }
            | Applied::Stale { id } => *id,
        }
    }
}

/// Filters for `orders list`.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub connector: Option<String>,
    pub status: Option<OrderStatus>,
    pub limit: Option<i64>,
}

/// One entry of an order's history.
#[derive(Debug, Clone, Serialize)]
pub struct OrderHistoryEvent {
    pub at: String,
    pub kind: String,
    pub source: String,
    pub detail: serde_json::Value,
}

/// A digest of what the channel says, blind to how it is written: amounts are
/// canonical already, times are compared in UTC (Shopify's REST webhooks use
/// the shop's offset, its GraphQL API UTC).
fn content_hash(order: &ChannelOrder) -> String {
    let utc = chrono::FixedOffset::east_opt(0).expect("zero offset");
    let mut o = order.clone();
    o.placed_at = o.placed_at.with_timezone(&utc);
    o.updated_at = o.updated_at.with_timezone(&utc);
    let json = serde_json::to_vec(&o).expect("orders serialize");
    hex_lower(&Sha256::digest(json)[..16])
}

fn hex_lower(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// chansync's status for an order, from the channel's and the lines'.
fn derive_status(order: &ChannelOrder) -> OrderStatus {
    match order.status {
        ChannelStatus::Cancelled => OrderStatus::Cancelled,
        ChannelStatus::Fulfilled => OrderStatus::Fulfilled,
        ChannelStatus::PartiallyFulfilled => OrderStatus::PartiallyFulfilled,
        ChannelStatus::Open => OrderStatus::Open,
    }
}

impl Store {
    /// Applies one page of polled orders and the poller's new cursor in one
    /// transaction: either both are stored or neither.
    pub async fn apply_page(
        &self,
        connector: &str,
        kind: &str,
        orders: &[Incoming<'_>],
        cursor: &str,
    ) -> Result<Vec<Applied>, StoreError> {
        let policy = self.policy();
        let mut tx = self.write_tx().await?;
        let mut out = Vec::with_capacity(orders.len());
        for o in orders {
            out.push(apply_in(&mut tx, &policy, connector, kind, o).await?);
        }
        sqlx::query(
            "INSERT INTO poll_state (connector, cursor, orders_seen) VALUES ($1, $2, $3)
             ON CONFLICT (connector) DO UPDATE SET cursor = excluded.cursor,
               orders_seen = poll_state.orders_seen + excluded.orders_seen",
        )
        .bind(connector)
        .bind(cursor)
        .bind(orders.len() as i64)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.outbox_wake.notify_waiters();
        Ok(out)
    }

    /// Applies orders outside a poll (tests, imports).
    pub async fn apply_orders(
        &self,
        connector: &str,
        kind: &str,
        orders: &[Incoming<'_>],
    ) -> Result<Vec<Applied>, StoreError> {
        let policy = self.policy();
        let mut tx = self.write_tx().await?;
        let mut out = Vec::with_capacity(orders.len());
        for o in orders {
            out.push(apply_in(&mut tx, &policy, connector, kind, o).await?);
        }
        tx.commit().await?;
        self.outbox_wake.notify_waiters();
        Ok(out)
    }

    /// Orders, newest first.
    pub async fn list_orders(&self, filter: &OrderFilter) -> Result<Vec<Order>, StoreError> {
        let mut sql = super::sql::Where::new("SELECT * FROM orders");
        if filter.connector.is_some() {
            sql.and("connector = ");
        }
        if filter.status.is_some() {
            sql.and("status = ");
        }
        sql.push(" ORDER BY id DESC");
        if filter.limit.is_some() {
            sql.push(" LIMIT ");
            sql.param();
        }
        let sql = sql.finish();
        let mut q = sqlx::query(&sql);
        if let Some(c) = &filter.connector {
            q = q.bind(c);
        }
        if let Some(s) = filter.status {
            q = q.bind(s.as_str());
        }
        if let Some(l) = filter.limit {
            q = q.bind(l);
        }
        let rows = q.fetch_all(&self.reader).await?;
        let mut orders = Vec::with_capacity(rows.len());
        for row in &rows {
            orders.push(order_from_row(row)?);
        }
        self.attach_lines(&mut orders).await?;
        Ok(orders)
    }

    /// One order by chansync's id.
    pub async fn get_order(&self, id: i64) -> Result<Option<Order>, StoreError> {
        let Some(row) = sqlx::query("SELECT * FROM orders WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?
        else {
            return Ok(None);
        };
        let mut orders = vec![order_from_row(&row)?];
        self.attach_lines(&mut orders).await?;
        Ok(orders.pop())
    }

    /// An order's history, oldest first.
    pub async fn order_history(&self, id: i64) -> Result<Vec<OrderHistoryEvent>, StoreError> {
        let rows = sqlx::query(
            "SELECT at, kind, source, detail FROM order_events WHERE order_id = $1 ORDER BY id",
        )
        .bind(id)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| OrderHistoryEvent {
                at: r.get("at"),
                kind: r.get("kind"),
                source: r.get("source"),
                detail: serde_json::from_str(r.get::<&str, _>("detail"))
                    .unwrap_or(serde_json::Value::Null),
            })
            .collect())
    }

    /// Order counts per (connector, status).
    pub async fn order_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query("SELECT connector, status, COUNT(*) AS n FROM orders GROUP BY connector, status ORDER BY connector, status")
            .fetch_all(&self.reader)
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("connector"), r.get("status"), r.get("n")))
            .collect())
    }

    async fn attach_lines(&self, orders: &mut [Order]) -> Result<(), StoreError> {
        if orders.is_empty() {
            return Ok(());
        }
        // Batched by id ranges to keep the statement's parameters bounded.
        for chunk in orders.chunks_mut(500) {
            let placeholders = super::sql::params(1, chunk.len());
            let sql = format!(
                "SELECT order_id, external_id, sku, channel_sku, title, quantity, unit_price, total, tax, discount
                 FROM order_lines WHERE order_id IN ({placeholders}) ORDER BY order_id, position"
            );
            let mut q = sqlx::query(&sql);
            for o in chunk.iter() {
                q = q.bind(o.id.parse::<i64>().expect("ids are numeric"));
            }
            let rows = q.fetch_all(&self.reader).await?;
            let mut by_id = std::collections::HashMap::<i64, Vec<OrderLine>>::new();
            for r in &rows {
                by_id.entry(r.get("order_id")).or_default().push(OrderLine {
                    external_id: r.get("external_id"),
                    sku: r.get("sku"),
                    channel_sku: r.get("channel_sku"),
                    title: r.get("title"),
                    quantity: r.get::<i64, _>("quantity") as u32,
                    unit_price: decimal(r, "unit_price")?,
                    total: decimal(r, "total")?,
                    tax: decimal(r, "tax")?,
                    discount: decimal(r, "discount")?,
                });
            }
            for o in chunk.iter_mut() {
                o.lines = by_id
                    .remove(&o.id.parse::<i64>().expect("ids are numeric"))
                    .unwrap_or_default();
            }
            // Allocations still held or shipped, summed per location and SKU.
            let sql = format!(
                "SELECT order_id, location, sku, CAST(SUM(quantity) AS BIGINT) AS quantity FROM allocations
                 WHERE order_id IN ({placeholders}) AND state IN ('reserved', 'consumed')
                 GROUP BY order_id, location, sku ORDER BY order_id, location, sku"
            );
            let mut q = sqlx::query(&sql);
            for o in chunk.iter() {
                q = q.bind(o.id.parse::<i64>().expect("ids are numeric"));
            }
            let rows = q.fetch_all(&self.reader).await?;
            let mut allocs =
                std::collections::HashMap::<i64, Vec<chansync_sdk::model::Allocation>>::new();
            for r in &rows {
                allocs.entry(r.get("order_id")).or_default().push(
                    chansync_sdk::model::Allocation {
                        location: r.get("location"),
                        sku: r.get("sku"),
                        quantity: r.get::<i64, _>("quantity") as u32,
                    },
                );
            }
            // Shipments chansync recorded come first; the channel's own list
            // adds those it knows that chansync did not record.
            let sql = format!(
                "SELECT order_id, location, carrier, tracking, lines FROM fulfillments
                 WHERE order_id IN ({placeholders}) ORDER BY id"
            );
            let mut q = sqlx::query(&sql);
            for o in chunk.iter() {
                q = q.bind(o.id.parse::<i64>().expect("ids are numeric"));
            }
            let rows = q.fetch_all(&self.reader).await?;
            let mut ours =
                std::collections::HashMap::<i64, Vec<chansync_sdk::model::Fulfillment>>::new();
            for r in &rows {
                let lines: Vec<chansync_sdk::model::FulfillmentLine> =
                    serde_json::from_str(r.get::<&str, _>("lines"))
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                ours.entry(r.get("order_id"))
                    .or_default()
                    .push(chansync_sdk::model::Fulfillment {
                        location: r.get("location"),
                        carrier: r.get("carrier"),
                        tracking: r.get("tracking"),
                        lines,
                    });
            }
            for o in chunk.iter_mut() {
                let id = o.id.parse::<i64>().expect("ids are numeric");
                o.allocations = allocs.remove(&id).unwrap_or_default();
                if let Some(mut mine) = ours.remove(&id) {
                    let channel = std::mem::take(&mut o.fulfillments);
                    let known: Vec<Option<String>> =
                        mine.iter().map(|f| f.tracking.clone()).collect();
                    mine.extend(
                        channel
                            .into_iter()
                            .filter(|f| f.tracking.is_none() || !known.contains(&f.tracking)),
                    );
                    o.fulfillments = mine;
                }
            }
        }
        Ok(())
    }
}

fn decimal(r: &sqlx::any::AnyRow, col: &str) -> Result<Decimal, StoreError> {
    let s: &str = r.get(col);
    Decimal::from_str(s).map_err(|e| StoreError::Corrupt(format!("{col} {s:?}: {e}")))
}

fn parse<T: FromStr>(r: &sqlx::any::AnyRow, col: &str) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    let s: &str = r.get(col);
    s.parse()
        .map_err(|e| StoreError::Corrupt(format!("{col} {s:?}: {e}")))
}

fn order_from_row(r: &sqlx::any::AnyRow) -> Result<Order, StoreError> {
    let address: Option<String> = r.get("shipping_address");
    let shipping_address: Option<Address> = address
        .map(|a| {
            serde_json::from_str(&a)
                .map_err(|e| StoreError::Corrupt(format!("shipping_address: {e}")))
        })
        .transpose()?;
    let fulfillments: Vec<Fulfillment> = serde_json::from_str(r.get("channel_fulfillments"))
        .map_err(|e| StoreError::Corrupt(format!("channel_fulfillments: {e}")))?;
    let ts = |col: &str| {
        chrono::DateTime::parse_from_rfc3339(r.get(col))
            .map_err(|e| StoreError::Corrupt(format!("{col}: {e}")))
    };
    Ok(Order {
        id: r.get::<i64, _>("id").to_string(),
        connector: r.get("connector"),
        channel_kind: r.get("channel_kind"),
        external_id: r.get("external_id"),
        external_number: r.get("external_number"),
        status: parse::<OrderStatus>(r, "status")?,
        payment_status: parse::<PaymentStatus>(r, "payment_status")?,
        currency: parse::<Currency>(r, "currency")?,
        subtotal: decimal(r, "subtotal")?,
        shipping_total: decimal(r, "shipping_total")?,
        tax_total: decimal(r, "tax_total")?,
        discount_total: decimal(r, "discount_total")?,
        total: decimal(r, "total")?,
        placed_at: ts("placed_at")?,
        updated_at: ts("updated_at")?,
        customer: Customer {
            name: r.get("customer_name"),
            email: r.get("customer_email"),
        },
        shipping_address,
        lines: Vec::new(),
        allocations: Vec::new(),
        fulfillments,
    })
}

/// An order's lines, in one statement. A line id the channel lists twice is
/// one line with the quantities added (PostgreSQL refuses an upsert that
/// touches a row twice in one statement).
async fn insert_lines(
    tx: &mut Transaction<'static, Any>,
    order_id: i64,
    lines: &[chansync_sdk::model::ChannelLine],
    skus: &[Option<String>],
) -> Result<(), StoreError> {
    let mut merged: Vec<(usize, i64)> = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        match merged
            .iter_mut()
            .find(|(j, _)| lines[*j].external_id == line.external_id)
        {
            Some((_, qty)) => *qty += line.quantity as i64,
            None => merged.push((i, line.quantity as i64)),
        }
    }
    if merged.is_empty() {
        return Ok(());
    }
    let mut sql = String::from(
        "INSERT INTO order_lines (order_id, position, external_id, sku, channel_sku, title, quantity, unit_price,
           total, tax, discount) VALUES ",
    );
    for n in 0..merged.len() {
        let b = n * 10 + 1;
        if n > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "($1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
            b + 1,
            b + 2,
            b + 3,
            b + 4,
            b + 5,
            b + 6,
            b + 7,
            b + 8,
            b + 9,
            b + 10
        ));
    }
    let mut q = sqlx::query(&sql).bind(order_id);
    for (i, quantity) in &merged {
        let line = &lines[*i];
        q = q
            .bind(*i as i64)
            .bind(&line.external_id)
            .bind(&skus[*i])
            .bind(&line.channel_sku)
            .bind(&line.title)
            .bind(*quantity)
            .bind(line.unit_price.to_string())
            .bind(line.total.to_string())
            .bind(line.tax.to_string())
            .bind(line.discount.to_string());
    }
    q.execute(&mut **tx).await?;
    Ok(())
}

/// The upsert: idempotent on (connector, external_id), monotonic on the
/// channel's update time. Equal times with different content are applied
/// (channels stamp whole seconds; a same-second change must not be lost).
pub(super) async fn apply_in(
    tx: &mut Transaction<'static, Any>,
    policy: &Policy,
    connector: &str,
    kind: &str,
    incoming: &Incoming<'_>,
) -> Result<Applied, StoreError> {
    let mut canonical = incoming.order.clone();
    canonical.canonicalize_amounts();
    let o = &canonical;
    let updated_us = o.updated_at.timestamp_micros();
    let hash = content_hash(o);
    let existing = sqlx::query("SELECT id, updated_at_us, content_hash FROM orders WHERE connector = $1 AND external_id = $2")
        .bind(connector)
        .bind(&o.external_id)
        .fetch_optional(&mut **tx)
        .await?;
    if let Some(row) = &existing {
        let id: i64 = row.get("id");
        let stored_us: i64 = row.get("updated_at_us");
        let stored_hash: &str = row.get("content_hash");
        if updated_us < stored_us {
            return Ok(Applied::Stale { id });
        }
        if stored_hash == hash {
            return Ok(Applied::Unchanged { id });
        }
    }

    // Map channel SKUs to master SKUs: a one-to-one mapping names the
    // master SKU; a bundle or multipack keeps the channel SKU (its parts show
    // in the allocations); an unmapped SKU is taken as the master SKU and the
    // channel is noted as listing it. A line without a SKU (a custom item, a
    // gift note) has nothing to stock or route.
    let mapped = super::inventory::parts_of_many(
        tx,
        connector,
        &o.lines
            .iter()
            .filter_map(|l| l.channel_sku.as_deref())
            .collect::<Vec<_>>(),
    )
    .await?;
    let mut skus = Vec::with_capacity(o.lines.len());
    let mut listed = BTreeSet::new();
    for line in &o.lines {
        let sku = match &line.channel_sku {
            Some(cs) => {
                let parts = mapped.get(cs).map(Vec::as_slice).unwrap_or_default();
                match parts {
                    [(master, 1)] => Some(master.clone()),
                    [] => {
                        if listed.insert(cs.clone()) {
                            sqlx::query(
                                "INSERT INTO sku_map (connector, channel_sku, master_sku, quantity, source)
                                 VALUES ($1, $2, $3, 1, 'order') ON CONFLICT DO NOTHING",
                            )
                            .bind(connector)
                            .bind(cs)
                            .bind(cs)
                            .execute(&mut **tx)
                            .await?;
                        }
                        Some(cs.clone())
                    }
                    _ => Some(cs.clone()),
                }
            }
            None => None,
        };
        skus.push(sku);
    }
    let status = derive_status(o);
    let at = now();
    let address = o
        .shipping_address
        .as_ref()
        .map(|a| serde_json::to_string(a).expect("addresses serialize"));
    let fulfillments = serde_json::to_string(&o.fulfillments).expect("fulfillments serialize");

    let (id, created) = match existing {
        None => {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO orders (connector, channel_kind, external_id, external_number, status, channel_status,
                   payment_status, fulfilled_by, currency, subtotal, shipping_total, tax_total, discount_total, total,
                   placed_at, updated_at, updated_at_us, customer_name, customer_email, shipping_address,
                   channel_fulfillments, content_hash, raw, first_seen_at, last_changed_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)
                 RETURNING id",
            )
            .bind(connector)
            .bind(kind)
            .bind(&o.external_id)
            .bind(&o.external_number)
            .bind(status.as_str())
            .bind(o.status.as_str())
            .bind(o.payment_status.as_str())
            .bind(o.fulfilled_by.as_str())
            .bind(o.currency.as_str())
            .bind(o.subtotal.to_string())
            .bind(o.shipping_total.to_string())
            .bind(o.tax_total.to_string())
            .bind(o.discount_total.to_string())
            .bind(o.total.to_string())
            .bind(o.placed_at.to_rfc3339())
            .bind(o.updated_at.to_rfc3339())
            .bind(updated_us)
            .bind(&o.customer.name)
            .bind(&o.customer.email)
            .bind(&address)
            .bind(&fulfillments)
            .bind(&hash)
            .bind(incoming.raw)
            .bind(&at)
            .bind(&at)
            .fetch_one(&mut **tx)
            .await?;
            (id, true)
        }
        Some(row) => {
            let id: i64 = row.get("id");
            sqlx::query(
                "UPDATE orders SET external_number = $1, status = $2, channel_status = $3, payment_status = $4,
                   fulfilled_by = $5, currency = $6, subtotal = $7, shipping_total = $8, tax_total = $9, discount_total = $10,
                   total = $11, placed_at = $12, updated_at = $13, updated_at_us = $14, customer_name = $15, customer_email = $16,
                   shipping_address = $17, channel_fulfillments = $18, content_hash = $19, raw = COALESCE($20, raw),
                   last_changed_at = $21
                 WHERE id = $22",
            )
            .bind(&o.external_number)
            .bind(status.as_str())
            .bind(o.status.as_str())
            .bind(o.payment_status.as_str())
            .bind(o.fulfilled_by.as_str())
            .bind(o.currency.as_str())
            .bind(o.subtotal.to_string())
            .bind(o.shipping_total.to_string())
            .bind(o.tax_total.to_string())
            .bind(o.discount_total.to_string())
            .bind(o.total.to_string())
            .bind(o.placed_at.to_rfc3339())
            .bind(o.updated_at.to_rfc3339())
            .bind(updated_us)
            .bind(&o.customer.name)
            .bind(&o.customer.email)
            .bind(&address)
            .bind(&fulfillments)
            .bind(&hash)
            .bind(incoming.raw)
            .bind(&at)
            .bind(id)
            .execute(&mut **tx)
            .await?;
            sqlx::query("DELETE FROM order_lines WHERE order_id = $1")
                .bind(id)
                .execute(&mut **tx)
                .await?;
            (id, false)
        }
    };
    insert_lines(tx, id, &o.lines, &skus).await?;
    let settled = super::inventory::settle(tx, policy, id).await?;
    let status = settled.status.unwrap_or(status);
    let detail = serde_json::json!({
        "channel_updated_at": o.updated_at.to_rfc3339(),
        "status": status.as_str(),
        "channel_status": o.status.as_str(),
        "payment_status": o.payment_status.as_str(),
        "total": o.total.to_string(),
    });
    sqlx::query(
        "INSERT INTO order_events (order_id, at, kind, source, detail) VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(&at)
    .bind(if created { "created" } else { "updated" })
    .bind(incoming.source.as_str())
    .bind(detail.to_string())
    .execute(&mut **tx)
    .await?;
    super::inventory::record_settled(tx, id, &settled, incoming.source.as_str()).await?;
    let picks = match &settled.routed {
        Some(super::inventory::Routed::Allocated(p)) => p.clone(),
        _ => Vec::new(),
    };
    if !settled.touched.is_empty() {
        super::inventory::enqueue_stock(tx, policy, &settled.touched).await?;
    }
    Ok(if created {
        Applied::Created { id, status, picks }
    } else {
        Applied::Updated { id, status, picks }
    })
}

//! Push-back: one dispatcher per connector drains that connector's outbox.
//! Stock rows are batched up to the channel's batch size, each SKU's level
//! computed at send time (so a burst of changes to one SKU is one push);
//! fulfilments and cancellations go one by one with their idempotency key.
//! The connector's HTTP client already waits on its rate limiter and retries
//! briefly; what still fails goes back to the outbox with exponential backoff
//! and jitter, or to the dead letters when it is permanent or out of tries.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chansync_sdk::{CancelRequest, ConnectorError, FulfillmentRequest, SinkOrder, StockLevel};
use tokio_util::sync::CancellationToken;

use crate::config::OutboxConfig;
use crate::daemon::{Instance, Runtime};
use crate::events::{Event, EventSender};
use crate::store::{OutboxRow, Store};

/// How often a dispatcher looks for due rows without being woken.
const TICK: Duration = Duration::from_millis(500);
/// How long shutdown waits for a push in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Whether this connector has anything the outbox can send.
pub fn pushes(inst: &Instance) -> bool {
    let c = &inst.connector;
    c.stock_push().is_some()
        || c.fulfillment_push().is_some()
        || c.cancel().is_some()
        || c.order_sink().is_some()
}

/// Drains the connector's outbox until `shutdown`; a batch in flight finishes.
pub async fn run(rt: Arc<Runtime>, store: Store, inst: Arc<Instance>, shutdown: CancellationToken) {
    let store = &store;
    match store.outbox_recover(&inst.name).await {
        Ok(0) => {}
        Ok(n) => {
            tracing::info!(connector = %inst.name, rows = n, "outbox rows from an interrupted run are pending again")
        }
        Err(e) => tracing::error!(connector = %inst.name, error = %e, "cannot recover the outbox"),
    }
    let wake = store.outbox_wake();
    loop {
        let notified = wake.notified();
        let drained = drain_once(
            store,
            &inst,
            rt.events.as_ref(),
            Some(&rt.metrics),
            Some(&shutdown),
        );
        tokio::pin!(drained);
        let result = tokio::select! {
            r = &mut drained => r,
            // On shutdown a push in flight gets a grace period; if the
            // channel is still retrying after it, the rows stay `sending`
            // and are sent again on the next start (pushes are at least once).
            // A push still waiting for the rate limiter gives up unsent.
            _ = shutdown.cancelled() => {
                inst.connector.cancel_waits();
                match tokio::time::timeout(SHUTDOWN_GRACE, &mut drained).await {
                    Ok(r) => r,
                    Err(_) => {
                        tracing::warn!(connector = %inst.name, "push still in flight at shutdown; it is sent again on the next start");
                        break;
                    }
                }
            }
        };
        let worked = match result {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::error!(connector = %inst.name, error = %e, "outbox dispatch failed");
                false
            }
        };
        if shutdown.is_cancelled() {
            break;
        }
        if worked {
            continue;
        }
        tokio::select! {
            _ = notified => {}
            _ = tokio::time::sleep(TICK) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    tracing::debug!(connector = %inst.name, "dispatcher stopped");
}

/// Sends what is due once; returns how many rows were handled. Once `stop`
/// is cancelled it finishes the push in flight and returns; rows it had
/// claimed but not sent are pending again, for the next start or for the
/// replica that takes the connector over.
pub async fn drain_once(
    store: &Store,
    inst: &Instance,
    events: Option<&EventSender>,
    metrics: Option<&crate::metrics::Metrics>,
    stop: Option<&CancellationToken>,
) -> Result<usize, crate::store::StoreError> {
    let d = Dispatch {
        store,
        inst,
        events,
        metrics,
        stop,
    };
    let policy = store.policy().outbox;
    let mut handled = 0;
    for kind in store.outbox_due_kinds(&inst.name).await? {
        if d.stopping() {
            break;
        }
        handled += match kind.as_str() {
            "stock" => d.send_stock(&policy).await?,
            "fulfillment" | "cancel" | "sink_order" | "sink_cancel" => {
                d.send_one_by_one(&kind, &policy).await?
            }
            other => {
                tracing::warn!(connector = %inst.name, kind = other, "unknown outbox kind; left alone");
                0
            }
        };
    }
    Ok(handled)
}

/// The delay before attempt `attempts + 1`: exponential with full jitter,
/// at least what the channel asked for.
fn backoff(cfg: &OutboxConfig, attempts: i64, e: &ConnectorError) -> Duration {
    let exp = cfg
        .first_retry
        .saturating_mul(1u32 << attempts.clamp(0, 20) as u32)
        .min(cfg.max_retry);
    let jittered = exp.mul_f64(0.5 + rand::random::<f64>() * 0.5);
    jittered.max(e.retry_after().unwrap_or_default())
}

/// What a send needs: the store, the connector, where to tell watchers.
struct Dispatch<'a> {
    store: &'a Store,
    inst: &'a Instance,
    events: Option<&'a EventSender>,
    metrics: Option<&'a crate::metrics::Metrics>,
    stop: Option<&'a CancellationToken>,
}

/// What an outbox row is about, for its log lines: an order (by chansync's
/// id) or a channel SKU.
fn keyed(row: &OutboxRow) -> (Option<&str>, Option<&str>) {
    if row.kind == "stock" {
        (None, Some(row.key.as_str()))
    } else {
        (Some(row.key.as_str()), None)
    }
}

type StoreResult<T> = Result<T, crate::store::StoreError>;

impl Dispatch<'_> {
    fn count(&self, kind: &str, outcome: &str, n: u64) {
        if let Some(m) = self.metrics {
            for _ in 0..n {
                m.push(&self.inst.name, kind, outcome);
            }
        }
    }

    /// Runs a store call, timing it into the store latency histogram.
    async fn timed<T>(&self, op: &str, f: impl std::future::Future<Output = T>) -> T {
        let started = std::time::Instant::now();
        let out = f.await;
        if let Some(m) = self.metrics {
            m.store_time(op, started.elapsed());
        }
        out
    }

    fn publish(&self, e: Event) {
        if let Some(tx) = self.events {
            let _ = tx.send(e);
        }
    }

    async fn fail(
        &self,
        row: &OutboxRow,
        cfg: &OutboxConfig,
        e: &ConnectorError,
    ) -> StoreResult<()> {
        let name = &self.inst.name;
        let retry = e.is_retryable().then(|| backoff(cfg, row.attempts, e));
        let state = self
            .store
            .outbox_failed(row.id, &e.to_string(), retry)
            .await?;
        self.count(&row.kind, if state == "dead" { "dead" } else { "retry" }, 1);
        let (order_id, channel_sku) = keyed(row);
        let attempt = row.attempts + 1;
        if state == "dead" {
            tracing::error!(connector = %name, outbox_id = row.id, kind = %row.kind, order_id, channel_sku, attempt,
                error = %e, "push dead-lettered; `chansync outbox replay` sends it again");
            self.publish(Event::PushDead {
                connector: name.clone(),
                kind: row.kind.clone(),
                key: row.key.clone(),
                error: e.to_string(),
            });
        } else {
            tracing::warn!(connector = %name, outbox_id = row.id, kind = %row.kind, order_id, channel_sku, attempt,
                error = %e, retry_in = ?retry, "push failed; will retry");
        }
        Ok(())
    }

    async fn send_stock(&self, cfg: &OutboxConfig) -> StoreResult<usize> {
        let (store, inst) = (self.store, self.inst);
        let Some(push) = inst.connector.stock_push() else {
            return self.park("stock").await;
        };
        let rows = self
            .timed(
                "outbox_claim",
                self.timed(
                    "outbox_claim",
                    store.outbox_claim(&inst.name, "stock", push.batch_size().max(1) as i64),
                ),
            )
            .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut levels = Vec::with_capacity(rows.len());
        for r in &rows {
            let quantity = store.outbox_stock_level(r.id, &inst.name, &r.key).await?;
            levels.push(StockLevel {
                channel_sku: r.key.clone(),
                channel_location: None,
                quantity,
                idempotency_key: r.idempotency_key.clone(),
            });
        }
        match push.push_stock(&levels).await {
            Ok(rejected) => {
                let mut done = Vec::new();
                for r in &rows {
                    match rejected.iter().find(|x| x.channel_sku == r.key) {
                        Some(x) => self.fail(r, cfg, &x.error).await?,
                        None => done.push(r.id),
                    }
                }
                self.timed("outbox_done", store.outbox_done(&done)).await?;
                self.count("stock", "ok", done.len() as u64);
                if let Some(m) = self.metrics {
                    m.stock_pushed(&inst.name, done.len() as u64);
                }
                tracing::info!(connector = %inst.name, levels = done.len(), rejected = rejected.len(), "stock pushed");
                let items = levels
                    .iter()
                    .filter(|l| !rejected.iter().any(|x| x.channel_sku == l.channel_sku))
                    .map(|l| format!("{}={}", l.channel_sku, l.quantity))
                    .collect();
                self.publish(Event::Pushed {
                    connector: inst.name.clone(),
                    kind: "stock".into(),
                    items,
                });
            }
            Err(_) if self.stopping() => {
                store.outbox_recover(&inst.name).await?;
                return Ok(0);
            }
            Err(e) => {
                for r in &rows {
                    self.fail(r, cfg, &e).await?;
                }
            }
        }
        Ok(rows.len())
    }

    async fn send_one_by_one(&self, kind: &str, cfg: &OutboxConfig) -> StoreResult<usize> {
        let (store, inst) = (self.store, self.inst);
        let rows = self
            .timed("outbox_claim", store.outbox_claim(&inst.name, kind, 20))
            .await?;
        for (i, r) in rows.iter().enumerate() {
            if self.stopping() {
                // Only this task sends for the connector: every row still
                // `sending` is one of these, claimed and not sent.
                store.outbox_recover(&inst.name).await?;
                return Ok(i);
            }
            let result = match kind {
                "fulfillment" => {
                    match (
                        inst.connector.fulfillment_push(),
                        serde_json::from_value::<FulfillmentRequest>(r.payload.clone()),
                    ) {
                        (Some(p), Ok(req)) => p.push_fulfillment(&req).await,
                        (None, _) => Err(ConnectorError::Permanent(
                            "this connector cannot push fulfilments".into(),
                        )),
                        (_, Err(e)) => Err(ConnectorError::Permanent(format!(
                            "unreadable outbox payload: {e}"
                        ))),
                    }
                }
                "sink_cancel" => match (
                    inst.connector.order_sink(),
                    serde_json::from_value::<chansync_sdk::SinkCancel>(r.payload.clone()),
                ) {
                    (Some(sink), Ok(req)) => sink.cancel_order(&req).await,
                    (None, _) => Err(ConnectorError::Permanent(
                        "this connector cannot take orders".into(),
                    )),
                    (_, Err(e)) => Err(ConnectorError::Permanent(format!(
                        "unreadable outbox payload: {e}"
                    ))),
                },
                "sink_order" => match inst.connector.order_sink() {
                    None => Err(ConnectorError::Permanent("this connector cannot take orders".into())),
                    Some(sink) => match self.sink_order(r).await? {
                        Ok(req) => sink.create_order(&req).await.map(|erp_id| {
                            tracing::info!(connector = %inst.name, order_id = %req.order.id, erp_id, "order sent to the ERP");
                        }),
                        Err(e) => Err(e),
                    },
                },
                _ => match (
                    inst.connector.cancel(),
                    serde_json::from_value::<CancelRequest>(r.payload.clone()),
                ) {
                    (Some(p), Ok(req)) => p.cancel_order(&req).await,
                    (None, _) => Err(ConnectorError::Permanent(
                        "this connector cannot cancel orders".into(),
                    )),
                    (_, Err(e)) => Err(ConnectorError::Permanent(format!(
                        "unreadable outbox payload: {e}"
                    ))),
                },
            };
            match result {
                Ok(()) => {
                    self.timed("outbox_done", store.outbox_done(&[r.id]))
                        .await?;
                    self.count(kind, "ok", 1);
                    tracing::info!(connector = %inst.name, outbox_id = r.id, kind, order_id = %r.key, attempt = r.attempts + 1, "pushed to the channel");
                    self.publish(Event::Pushed {
                        connector: inst.name.clone(),
                        kind: kind.into(),
                        items: vec![format!("order {}", r.key)],
                    });
                }
                // Not sent because the connector is stopping: not an attempt.
                Err(_) if self.stopping() => {
                    store.outbox_recover(&inst.name).await?;
                    return Ok(i);
                }
                Err(e) => self.fail(r, cfg, &e).await?,
            }
        }
        Ok(rows.len())
    }

    /// The order as the ERP gets it: what ships from the row's location.
    async fn sink_order(&self, r: &OutboxRow) -> StoreResult<Result<SinkOrder, ConnectorError>> {
        let (Some(order_id), Some(location)) = (
            r.payload["order_id"].as_i64(),
            r.payload["location"].as_str(),
        ) else {
            return Ok(Err(ConnectorError::Permanent(format!(
                "unreadable outbox payload {}",
                r.payload
            ))));
        };
        let Some(mut order) = self.store.get_order(order_id).await? else {
            return Ok(Err(ConnectorError::Permanent(format!(
                "order {order_id} is gone"
            ))));
        };
        order.allocations.retain(|a| a.location == location);
        // The ERP ships products, not listings: a bundle line goes as its
        // parts (its price on the first).
        let mut parts = BTreeMap::new();
        for l in &order.lines {
            if let Some(cs) = &l.channel_sku {
                let p = self.store.bundle_parts(&order.connector, cs).await?;
                if !p.is_empty() {
                    parts.insert(cs.clone(), p);
                }
            }
        }
        expand_bundles(&mut order, &parts);
        let channel_location = self
            .store
            .policy()
            .site(location)
            .and_then(|s| s.source.as_ref())
            .and_then(|s| s.location.clone());
        Ok(Ok(SinkOrder {
            order,
            channel_location,
            reference: crate::store::order_reference(order_id),
            idempotency_key: r.idempotency_key.clone(),
        }))
    }

    fn stopping(&self) -> bool {
        self.stop.is_some_and(|s| s.is_cancelled())
    }

    /// Rows for a capability the connector lacks are dead at once.
    async fn park(&self, kind: &str) -> StoreResult<usize> {
        let rows = self
            .timed(
                "outbox_claim",
                self.store.outbox_claim(&self.inst.name, kind, 100),
            )
            .await?;
        for r in &rows {
            self.store
                .outbox_failed(
                    r.id,
                    &format!("connector {} cannot push {kind}", self.inst.name),
                    None,
                )
                .await?;
        }
        Ok(rows.len())
    }
}

/// Replaces each bundle line (by channel SKU, in `parts`) with a line per
/// part: `quantity × units` of the part's master SKU. The first part
/// carries the line's money (unit price = what the bundle line cost per
/// unit of that part), the others ship at zero, so the order's totals stay
/// what the channel charged.
fn expand_bundles(
    order: &mut chansync_sdk::model::Order,
    parts: &BTreeMap<String, Vec<(String, i64)>>,
) {
    use rust_decimal::Decimal;
    let mut lines = Vec::with_capacity(order.lines.len());
    for l in order.lines.drain(..) {
        let Some(bundle) = l.channel_sku.as_ref().and_then(|cs| parts.get(cs)) else {
            lines.push(l);
            continue;
        };
        for (i, (sku, units)) in bundle.iter().enumerate() {
            let quantity = l
                .quantity
                .saturating_mul(u32::try_from(*units).unwrap_or(1));
            let mut part = l.clone();
            // `LINE/SKU`: shipments of the part fold back into the line.
            part.external_id = format!("{}/{sku}", l.external_id);
            part.sku = Some(sku.clone());
            part.title = format!("{} — {sku}", l.title);
            part.quantity = quantity;
            if i == 0 && quantity > 0 {
                part.unit_price = ((l.total + l.discount) / Decimal::from(quantity))
                    .round_dp(6)
                    .normalize();
            } else {
                part.unit_price = Decimal::ZERO;
                part.total = Decimal::ZERO;
                part.tax = Decimal::ZERO;
                part.discount = Decimal::ZERO;
            }
            lines.push(part);
        }
    }
    order.lines = lines;
}

#[cfg(test)]
mod bundle_tests {
    use super::*;
    use chansync_sdk::model::{Order, OrderLine};
    use rust_decimal::Decimal;

    fn line(id: &str, sku: &str, qty: u32, unit: &str, discount: &str) -> OrderLine {
        let unit: Decimal = unit.parse().unwrap();
        let discount: Decimal = discount.parse().unwrap();
        OrderLine {
            external_id: id.into(),
            sku: Some(sku.into()),
            channel_sku: Some(sku.into()),
            title: sku.into(),
            quantity: qty,
            unit_price: unit,
            total: unit * Decimal::from(qty) - discount,
            tax: "1.00".parse().unwrap(),
            discount,
        }
    }

    #[test]
    fn a_bundle_ships_as_its_parts_and_keeps_its_price() {
        let json = serde_json::json!({
            "id": "7", "connector": "amazon", "channel_kind": "amazon", "external_id": "A-1",
            "external_number": null, "status": "allocated", "payment_status": "paid",
            "currency": "EUR", "subtotal": "0", "shipping_total": "0", "tax_total": "0",
            "discount_total": "0", "total": "0", "placed_at": "2026-11-23T00:00:00Z",
            "updated_at": "2026-11-23T00:00:00Z", "customer": {"name": null, "email": null},
            "shipping_address": null, "lines": [], "allocations": [], "fulfillments": []
        });
        let mut order: Order = serde_json::from_value(json).unwrap();
        order.lines = vec![
            line("1", "AMZ-CABLE-3PK", 2, "10.00", "0.00"),
            line("2", "AMZ-GIFTSET-1", 1, "34.00", "4.00"),
            line("3", "SKU-PEN-1", 1, "48.00", "0.00"),
        ];
        let before: Decimal = order.lines.iter().map(|l| l.total).sum();
        let parts = BTreeMap::from([
            (
                "AMZ-CABLE-3PK".to_owned(),
                vec![("SKU-CABLE-1".to_owned(), 3)],
            ),
            (
                "AMZ-GIFTSET-1".to_owned(),
                vec![("SKU-MUG-1".to_owned(), 1), ("SKU-COFFEE-1".to_owned(), 1)],
            ),
        ]);
        expand_bundles(&mut order, &parts);
        let shipped: Vec<(Option<&str>, u32)> = order
            .lines
            .iter()
            .map(|l| (l.sku.as_deref(), l.quantity))
            .collect();
        assert_eq!(
            shipped,
            [
                (Some("SKU-CABLE-1"), 6),
                (Some("SKU-MUG-1"), 1),
                (Some("SKU-COFFEE-1"), 1),
                (Some("SKU-PEN-1"), 1)
            ]
        );
        let after: Decimal = order.lines.iter().map(|l| l.total).sum();
        assert_eq!(before, after, "the order's value is unchanged");
        // 2 packs at 10.00 are 6 cables at 20/6 each.
        let cable = &order.lines[0];
        assert_eq!(
            (cable.unit_price * Decimal::from(6)).round_dp(2),
            "20.00".parse().unwrap()
        );
        let mug = &order.lines[1];
        assert_eq!(
            mug.unit_price,
            "34".parse().unwrap(),
            "price before the discount"
        );
        assert_eq!(mug.discount, "4.00".parse().unwrap());
        assert_eq!(order.lines[2].total, Decimal::ZERO);
        assert_ne!(order.lines[0].external_id, order.lines[1].external_id);
    }
}

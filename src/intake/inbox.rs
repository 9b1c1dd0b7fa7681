//! The inbox writer and worker. The writer batches concurrent webhook
//! deliveries into one transaction (group commit) and answers each request
//! only once its row is durable; the worker applies pending rows to orders.

use std::sync::Arc;
use std::time::Duration;

use chansync_sdk::{WebhookEvent, WebhookRequest};
use http::{HeaderMap, HeaderName, HeaderValue};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::sync::CancellationToken;

use crate::daemon::Runtime;
use crate::store::{InboxInsert, InboxOutcome, Processed, Source, Store};

/// A delivery waiting for the writer, with where to send the outcome.
pub type WriteRequest = (InboxInsert, oneshot::Sender<Result<InboxOutcome, String>>);

const MAX_BATCH: usize = 512;

/// Writes deliveries in batches until every sender is gone.
pub async fn writer(store: Store, mut rx: mpsc::Receiver<WriteRequest>, wake: Arc<Notify>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while rx.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let (rows, replies): (Vec<_>, Vec<_>) = std::mem::take(&mut batch).into_iter().unzip();
        match store.inbox_insert(&rows).await {
            Ok(outcomes) => {
                for (reply, outcome) in replies.into_iter().zip(outcomes) {
                    let _ = reply.send(Ok(outcome));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, rows = rows.len(), "could not store webhook deliveries");
                for reply in replies {
                    let _ = reply.send(Err(e.to_string()));
                }
            }
        }
        wake.notify_one();
    }
}

/// How long one apply transaction should hold the store's write lock (on
/// SQLite the inbox writer waits for it before it can acknowledge a webhook).
const APPLY_TX_TARGET: Duration = Duration::from_millis(4);

/// Rows per apply transaction, sized from how long rows took lately so that
/// a transaction takes about `APPLY_TX_TARGET`.
struct Pace {
    /// Seconds per row, smoothed.
    per_row: f64,
}

impl Default for Pace {
    fn default() -> Self {
        // Cautious until measured.
        Pace { per_row: 1e-3 }
    }
}

impl Pace {
    fn rows(&self) -> usize {
        ((APPLY_TX_TARGET.as_secs_f64() / self.per_row) as usize).clamp(4, 256)
    }

    fn took(&mut self, rows: usize, took: Duration) {
        let per_row = took.as_secs_f64() / rows.max(1) as f64;
        self.per_row = 0.7 * self.per_row + 0.3 * per_row;
    }
}

/// Rebuilds a header map from the JSON the inbox keeps.
pub fn headers_from_json(v: &serde_json::Value) -> HeaderMap {
    let mut h = HeaderMap::new();
    if let Some(obj) = v.as_object() {
        for (k, v) in obj {
            if let (Ok(name), Some(Ok(value))) = (
                HeaderName::from_bytes(k.as_bytes()),
                v.as_str().map(HeaderValue::from_str),
            ) {
                h.append(name, value);
            }
        }
    }
    h
}

/// Applies pending deliveries until `stop`, then drains what is left.
pub async fn worker(rt: Arc<Runtime>, wake: Arc<Notify>, stop: CancellationToken) {
    let idle = match rt.store.backend() {
        crate::store::Backend::Sqlite => Duration::from_secs(2),
        crate::store::Backend::Postgres => Duration::from_millis(500),
    };
    loop {
        if let Err(e) = drain(&rt).await {
            tracing::error!(error = %e, "inbox worker could not apply deliveries; retrying");
        }
        if stop.is_cancelled() {
            break;
        }
        tokio::select! {
            _ = wake.notified() => {}
            // Rows stored by other replicas wake no one here.
            _ = tokio::time::sleep(idle) => {}
            _ = stop.cancelled() => {}
        }
    }
    if let Err(e) = drain(&rt).await {
        tracing::error!(error = %e, "inbox worker could not apply deliveries at shutdown; they stay pending");
    }
}

/// Applies every pending delivery of the connectors this process runs, a
/// batch at a time, and marks failed those of connectors configured nowhere.
pub async fn drain(rt: &Runtime) -> Result<usize, crate::store::StoreError> {
    let owned = rt.owned();
    let mine: Vec<String> = owned.keys().cloned().collect();
    let mut total = drain_rows(rt, &mine, true, &owned).await?;
    // Rows of a connector not in this config are left to a live replica
    // holding its lease (a config change rolling out); otherwise no one
    // will apply them.
    let mut elsewhere: Vec<String> = rt
        .config()
        .connectors
        .iter()
        .map(|c| c.name.clone())
        .collect();
    elsewhere.extend(
        rt.store
            .leases()
            .await?
            .into_iter()
            .filter(|l| l.holder.is_some() && l.expires_in_us > 0)
            .map(|l| l.connector),
    );
    total += drain_rows(rt, &elsewhere, false, &owned).await?;
    Ok(total)
}

/// Applies the pending rows of the connectors named (`among`) or of all
/// others; each connector's rows through the store fenced by its lease.
async fn drain_rows(
    rt: &Runtime,
    connectors: &[String],
    among: bool,
    owned: &std::collections::BTreeMap<String, Arc<crate::store::Fence>>,
) -> Result<usize, crate::store::StoreError> {
    if among && connectors.is_empty() {
        return Ok(0);
    }
    let store_for = |connector: &str| match owned.get(connector) {
        Some(f) => rt.store.fenced(f.clone()),
        None => rt.store.clone(),
    };
    let mut total = 0;
    let mut pace = Pace::default();
    loop {
        let rows = rt.store.inbox_pending(connectors, among, 256).await?;
        if rows.is_empty() {
            return Ok(total);
        }
        let mut processed = Vec::with_capacity(rows.len());
        let mut deferred = false;
        for row in rows {
            let inst = rt
                .connector(&row.connector)
                .filter(|_| owned.contains_key(&row.connector));
            let Some(inst) = inst else {
                processed.push(Processed {
                    inbox_id: row.id,
                    connector: row.connector.clone(),
                    kind: "unknown",
                    outcome: Err(format!(
                        "connector {:?} is no longer configured",
                        row.connector
                    )),
                    raw: None,
                });
                continue;
            };
            let headers = headers_from_json(&row.headers);
            let event = match inst.connector.webhooks() {
                None => Err("connector no longer receives webhooks".to_owned()),
                Some(rx) => rx
                    .parse(&WebhookRequest {
                        headers: &headers,
                        body: &row.body,
                        url: "",
                    })
                    .map(|d| d.event)
                    .map_err(|e| e.to_string()),
            };
            let outcome = match event {
                Err(e) => Err(e),
                Ok(WebhookEvent::Order(o)) => Ok(Some(*o)),
                Ok(WebhookEvent::Ignored) => Ok(None),
                Ok(WebhookEvent::OrderChanged { external_id }) => {
                    match inst.connector.order_fetch() {
                        None => Err(
                            "the connector cannot fetch the order the notification names"
                                .to_owned(),
                        ),
                        Some(f) => match f.fetch_order(&external_id).await {
                            Ok(o) => Ok(Some(o)),
                            // Stays pending: the next pass tries again.
                            Err(e) if e.is_retryable() => {
                                tracing::warn!(connector = %row.connector, inbox_id = row.id, error = %e, "cannot fetch the notified order yet");
                                deferred = true;
                                continue;
                            }
                            Err(e) => Err(format!("fetching order {external_id}: {e}")),
                        },
                    }
                }
                Ok(WebhookEvent::StockChanged(counts)) => store_for(&row.connector)
                    .apply_on_hand(&row.connector, &counts)
                    .await
                    .map(|_| None)
                    .map_err(|e| e.to_string()),
            };
            processed.push(Processed {
                inbox_id: row.id,
                connector: row.connector.clone(),
                kind: inst.kind,
                outcome,
                raw: String::from_utf8(row.body).ok(),
            });
        }
        // One transaction per connector, under its lease, each short enough
        // that a webhook waiting to be stored is not held up for long.
        let mut applied = Vec::with_capacity(processed.len());
        for group in processed.chunk_by(|a, b| a.connector == b.connector) {
            let store = store_for(&group[0].connector);
            let mut rest = group;
            while !rest.is_empty() {
                let n = pace.rows().min(rest.len());
                let (now, later) = rest.split_at(n);
                let started = std::time::Instant::now();
                applied.extend(store.inbox_complete(now).await?);
                let took = started.elapsed();
                pace.took(n, took);
                rt.metrics.store_time("inbox_complete", took);
                rest = later;
            }
        }
        total += processed.len();
        for (p, a) in processed.iter().zip(applied) {
            if let (Ok(Some(order)), Some(a)) = (&p.outcome, a) {
                rt.publish_order(&p.connector, order, &a, Source::Webhook);
            }
            if let Err(e) = &p.outcome {
                tracing::warn!(connector = %p.connector, inbox_id = p.inbox_id, error = %e, "webhook delivery failed to apply; kept for inspection");
            }
        }
        if deferred {
            // Rows left pending are tried again on the worker's next pass.
            return Ok(total);
        }
    }
}

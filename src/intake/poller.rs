//! One poller per connector with a `poll` schedule: a sweep pages through
//! the channel's changes from the persisted cursor, committing each page with
//! its cursor, then waits for the next tick. It also reconciles webhooks.

use std::sync::Arc;

use tokio_util::sync::CancellationToken;

use crate::config::PollSchedule;
use crate::daemon::{Instance, Runtime};
use crate::events::Event;
use crate::store::{Incoming, Source, Store};

/// Polls until `shutdown`; the first sweep starts at once.
pub async fn run(
    rt: Arc<Runtime>,
    store: Store,
    inst: Arc<Instance>,
    schedule: PollSchedule,
    shutdown: CancellationToken,
) {
    loop {
        sweep(&rt, &store, &inst, &shutdown).await;
        let delay = schedule.next_delay();
        tokio::select! {
            _ = tokio::time::sleep(delay) => {}
            _ = shutdown.cancelled() => break,
        }
    }
    tracing::debug!(connector = %inst.name, "poller stopped");
}

/// One tick: the order sweep, then on-hand counts where this connector is
/// a location's source of truth.
pub async fn sweep(rt: &Runtime, store: &Store, inst: &Instance, shutdown: &CancellationToken) {
    let name = &inst.name;
    if let Err(e) = store.poll_started(name).await {
        tracing::error!(connector = %name, error = %e, "could not record poll start");
    }
    // A tick reads whatever the connector offers; the first failure is what
    // `chansync connectors` and the status page show.
    let started = chrono::Utc::now();
    let (seen, mut error) = sweep_orders(rt, store, inst, shutdown).await;
    if !shutdown.is_cancelled() {
        if let Err(e) = read_stock(store, inst).await {
            error.get_or_insert(e);
        }
    }
    if !shutdown.is_cancelled() {
        if let Err(e) = read_shipments(store, inst, shutdown).await {
            error.get_or_insert(e);
        }
    }
    if error.is_none() && !shutdown.is_cancelled() {
        // Every change the channel made before `started` (orders, on hand,
        // shipments) is now stored.
        rt.metrics.caught_up(name, started);
    }
    let rl = inst
        .connector
        .rate_limit_state()
        .and_then(|s| serde_json::to_value(s).ok());
    if let Err(e) = store
        .poll_finished(name, error.as_deref(), rl.as_ref())
        .await
    {
        tracing::error!(connector = %name, error = %e, "could not record poll end");
    }
    tracing::debug!(connector = %name, orders = seen, "poll sweep done");
    rt.publish(Event::PollDone {
        connector: name.clone(),
        orders: seen,
        error,
    });
}

/// Records the shipments a channel made for orders chansync sent it (an
/// ERP's deliveries); each page commits with its cursor.
pub async fn read_shipments(
    store: &Store,
    inst: &Instance,
    shutdown: &CancellationToken,
) -> Result<(), String> {
    let Some(source) = inst.connector.shipment_source() else {
        return Ok(());
    };
    let name = &inst.name;
    let mut cursor = match store.sync_cursor(name, "shipments").await {
        Ok(c) => c,
        Err(e) => {
            tracing::error!(connector = %name, error = %e, "could not read the shipments cursor");
            return Err(e.to_string());
        }
    };
    loop {
        let page = match source.fetch_shipments(cursor.as_deref()).await {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(connector = %name, error = %e, "could not read shipments; the next tick tries again");
                return Err(e.to_string());
            }
        };
        match store
            .apply_shipments(name, &page.shipments, &page.cursor)
            .await
        {
            Ok(orders) if !orders.is_empty() => {
                tracing::info!(connector = %name, orders = ?orders, "shipments recorded; the origin channels will be told");
            }
            Ok(_) => {}
            Err(e) => {
                tracing::error!(connector = %name, error = %e, "could not store shipments; they will be read again");
                return Err(e.to_string());
            }
        }
        cursor = Some(page.cursor);
        if !page.has_more || shutdown.is_cancelled() {
            return Ok(());
        }
    }
}

/// Reads on hand from a source-of-truth connector into its locations.
pub async fn read_stock(store: &Store, inst: &Instance) -> Result<(), String> {
    let Some(source) = inst.connector.stock_source() else {
        return Ok(());
    };
    let sourced = store
        .policy()
        .sites
        .iter()
        .any(|s| s.source.as_ref().is_some_and(|r| r.connector == inst.name));
    if !sourced {
        return Ok(());
    }
    match source.read_on_hand().await {
        Ok(counts) => match store.apply_on_hand(&inst.name, &counts).await {
            Ok(n) => {
                tracing::debug!(connector = %inst.name, counts = counts.len(), applied = n, "on hand read");
                Ok(())
            }
            Err(e) => {
                tracing::error!(connector = %inst.name, error = %e, "could not store on-hand counts");
                Err(e.to_string())
            }
        },
        Err(e) => {
            tracing::warn!(connector = %inst.name, error = %e, "could not read on hand; the next tick tries again");
            Err(e.to_string())
        }
    }
}

/// Pages through changed orders until the channel has nothing more, an
/// error, or shutdown.
async fn sweep_orders(
    rt: &Runtime,
    store: &Store,
    inst: &Instance,
    shutdown: &CancellationToken,
) -> (usize, Option<String>) {
    let Some(source) = inst.connector.orders() else {
        return (0, None);
    };
    let name = &inst.name;
    let mut cursor = match store.poll_state(name).await {
        Ok(s) => s.and_then(|s| s.cursor),
        Err(e) => {
            tracing::error!(connector = %name, error = %e, "could not read the poll cursor");
            return (0, Some(e.to_string()));
        }
    };
    let mut seen = 0usize;
    let mut error = None;
    loop {
        let page = tokio::select! {
            page = source.fetch_orders(cursor.as_deref()) => page,
            // Nothing of this page is committed yet: dropping it loses nothing.
            _ = shutdown.cancelled() => break,
        };
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                tracing::warn!(connector = %name, error = %e, class = e.class(), "poll failed; the next sweep resumes from the last committed page");
                error = Some(e.to_string());
                break;
            }
        };
        let raws: Vec<String> = page.orders.iter().map(|o| o.raw.to_string()).collect();
        let incoming: Vec<Incoming<'_>> = page
            .orders
            .iter()
            .zip(&raws)
            .map(|(o, raw)| Incoming {
                order: &o.order,
                raw: Some(raw),
                source: Source::Poll,
            })
            .collect();
        let started = std::time::Instant::now();
        let stored = store
            .apply_page(name, inst.kind, &incoming, &page.cursor)
            .await;
        rt.metrics.store_time("apply_page", started.elapsed());
        match stored {
            Ok(applied) => {
                for (o, a) in page.orders.iter().zip(&applied) {
                    rt.publish_order(name, &o.order, a, Source::Poll);
                }
            }
            Err(e) => {
                tracing::error!(connector = %name, error = %e, "could not store a polled page; it will be fetched again");
                error = Some(e.to_string());
                break;
            }
        }
        seen += page.orders.len();
        cursor = Some(page.cursor);
        if !page.has_more || shutdown.is_cancelled() {
            break;
        }
    }
    (seen, error)
}

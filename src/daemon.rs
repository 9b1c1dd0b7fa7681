//! `chansync run`: opens and migrates the store, builds the connectors,
//! starts the listener, the inbox writer and worker and one poller per
//! polling connector, and on shutdown drains them in order so that nothing
//! acknowledged or fetched is dropped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chansync_sdk::model::ChannelOrder;
use chansync_sdk::Connector;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::admin::{router, AppState};
use crate::config::{Config, PollSchedule};
use crate::events::{order_event, Event, EventSender};
use crate::intake::{inbox, poller};
use crate::store::{Applied, OpenMode, Source, Store, StoreError};

/// A running connector instance.
pub struct Instance {
    pub name: String,
    pub kind: &'static str,
    pub connector: Box<dyn Connector>,
    pub poll: Option<PollSchedule>,
}

/// What the daemon's tasks share.
pub struct Runtime {
    pub store: Store,
    pub connectors: HashMap<String, Arc<Instance>>,
    pub events: Option<EventSender>,
    pub ready: AtomicBool,
    pub draining: AtomicBool,
    pub metrics: Arc<crate::metrics::Metrics>,
}

impl Runtime {
    pub fn publish(&self, e: Event) {
        if let Some(tx) = &self.events {
            let _ = tx.send(e);
        }
    }

    pub fn publish_order(
        &self,
        connector: &str,
        order: &ChannelOrder,
        applied: &Applied,
        source: Source,
    ) {
        if let Some(e) = order_event(connector, order, applied, source) {
            self.metrics.order_ingested(connector, source.as_str());
            self.publish(e);
        }
    }
}

/// Why the daemon could not run.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error("connector {name}: {source}")]
    Connector {
        name: String,
        source: chansync_sdk::ConfigError,
    },
    #[error("HTTP listener failed: {0}")]
    Serve(std::io::Error),
}

/// How the daemon is started.
#[derive(Default)]
pub struct RunOptions {
    /// Cancelled to stop the daemon (SIGTERM, Ctrl-C, a test).
    pub shutdown: CancellationToken,
    /// A listener bound already (the demo and tests bind port 0 first).
    pub listener: Option<TcpListener>,
    /// Where order events go, for watchers.
    pub events: Option<EventSender>,
    /// Called once the daemon is ready, with the address it listens on.
    pub on_ready: Option<Box<dyn FnOnce(std::net::SocketAddr) + Send>>,
}

/// Runs the daemon until `opts.shutdown` is cancelled, then drains.
pub async fn run(config: Config, opts: RunOptions) -> Result<(), RunError> {
    let store = Store::open(&config.store_url, config.synchronous, OpenMode::Migrate)
        .await?
        .with_policy(crate::inventory::Policy::from_config(&config));
    store.sync_sku_config(&config.skus).await?;
    tracing::info!(store = %config.store_url, "store open and migrated");

    let mut connectors = HashMap::new();
    for c in &config.connectors {
        let connector = crate::registry::build(&c.kind, c.context.clone()).map_err(|source| {
            RunError::Connector {
                name: c.name.clone(),
                source,
            }
        })?;
        let kind = connector.kind();
        connectors.insert(
            c.name.clone(),
            Arc::new(Instance {
                name: c.name.clone(),
                kind,
                connector,
                poll: c.poll.clone(),
            }),
        );
    }
    let rt = Arc::new(Runtime {
        store: store.clone(),
        connectors,
        events: opts.events,
        ready: AtomicBool::new(false),
        draining: AtomicBool::new(false),
        metrics: Arc::new(crate::metrics::Metrics::new()),
    });

    let listener = match opts.listener {
        Some(l) => l,
        None => TcpListener::bind(config.listen)
            .await
            .map_err(|source| RunError::Listen {
                addr: config.listen.to_string(),
                source,
            })?,
    };
    let addr = listener.local_addr().map_err(|source| RunError::Listen {
        addr: config.listen.to_string(),
        source,
    })?;

    let shutdown = opts.shutdown;
    let tasks = TaskTracker::new();
    let wake = Arc::new(Notify::new());
    let (inbox_tx, inbox_rx) = mpsc::channel(4096);
    let writer = tokio::spawn(inbox::writer(store.clone(), inbox_rx, wake.clone()));
    let worker_stop = CancellationToken::new();
    let worker = tokio::spawn(inbox::worker(rt.clone(), wake.clone(), worker_stop.clone()));

    for inst in rt.connectors.values() {
        if let Some(schedule) = inst.poll.clone() {
            tasks.spawn(poller::run(
                rt.clone(),
                inst.clone(),
                schedule,
                shutdown.clone(),
            ));
        }
        tracing::info!(
            connector = %inst.name,
            kind = inst.kind,
            poll = inst.poll.as_ref().map(|p| p.to_string()).unwrap_or_else(|| "webhooks only".into()),
            "connector started"
        );
    }
    tasks.close();
    let push_stop = CancellationToken::new();
    let dispatchers = TaskTracker::new();
    for inst in rt.connectors.values() {
        if crate::push::pushes(inst) {
            dispatchers.spawn(crate::push::run(
                rt.clone(),
                inst.clone(),
                push_stop.clone(),
            ));
        }
    }
    dispatchers.close();

    let app = router(
        Arc::new(AppState {
            rt: rt.clone(),
            inbox: inbox_tx,
            admin_token: config.admin_token.clone(),
            config: Arc::new(config.clone()),
        }),
        config.max_body_bytes,
    );
    let server_shutdown = shutdown.clone();
    let (read_timeout, max_body_bytes) = (config.read_timeout, config.max_body_bytes);
    let draining_rt = rt.clone();
    let server = tokio::spawn(async move {
        let limits = crate::admin::serve::Limits {
            read_timeout,
            max_body_bytes,
        };
        crate::admin::serve::serve(listener, app, limits, async move {
            server_shutdown.cancelled().await;
            draining_rt.draining.store(true, Ordering::SeqCst);
        })
        .await
    });

    rt.ready.store(true, Ordering::SeqCst);
    tracing::info!(listen = %addr, connectors = rt.connectors.len(), "chansync is ready");
    let notifier = crate::systemd::Notifier::from_env();
    let summary = crate::systemd::status_line(&rt).await.unwrap_or_default();
    notifier.ready(&format!("listening on {addr}; {summary}"));
    let watchdog_stop = CancellationToken::new();
    let watchdog = tokio::spawn(notifier.clone().run(rt.clone(), watchdog_stop.clone()));
    if let Some(f) = opts.on_ready {
        f(addr);
    }

    shutdown.cancelled().await;
    rt.draining.store(true, Ordering::SeqCst);
    notifier.stopping();
    watchdog_stop.cancel();
    let _ = watchdog.await;
    tracing::info!("shutting down: finishing in-flight requests, pages and deliveries");

    // 1. The listener finishes in-flight requests; its queue handle drops.
    let served = server.await;
    // 2. The writer stores what is queued and ends with the last sender.
    let _ = writer.await;
    // 3. Pollers finish the page they are committing.
    tasks.wait().await;
    // 4. The worker applies every stored delivery.
    worker_stop.cancel();
    let _ = worker.await;
    // 5. Dispatchers finish the push in flight; the rest waits in the outbox.
    push_stop.cancel();
    dispatchers.wait().await;
    store.close().await;
    tracing::info!("chansync stopped");
    match served {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(RunError::Serve(e)),
        Err(e) => Err(RunError::Serve(std::io::Error::other(e))),
    }
}

//! `chansync run`: opens and migrates the store, builds the connectors,
//! starts the listener, the inbox writer and worker and one poller and one
//! dispatcher per connector, re-reads the config when told to (SIGHUP:
//! connectors added, removed or changed without a restart), and on shutdown
//! drains them in order so that nothing acknowledged or fetched is dropped.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use chansync_sdk::model::ChannelOrder;
use chansync_sdk::Connector;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

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

/// The connectors running now, by name.
pub type Connectors = HashMap<String, Arc<Instance>>;

/// What the daemon's tasks share.
pub struct Runtime {
    pub store: Store,
    /// Swapped whole on a config reload; readers take a snapshot.
    connectors: RwLock<Arc<Connectors>>,
    /// The config in force (the reloadable parts of the newest good file).
    config: RwLock<Arc<Config>>,
    pub events: Option<EventSender>,
    pub ready: AtomicBool,
    pub draining: AtomicBool,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// The connectors this process runs now, with their leases.
    owned: RwLock<Arc<BTreeMap<String, Arc<crate::store::Fence>>>>,
}

impl Runtime {
    /// A runtime over `store` running `connectors` as `config` says.
    pub fn new(
        store: Store,
        config: Config,
        connectors: Connectors,
        events: Option<EventSender>,
    ) -> Runtime {
        Runtime {
            store,
            connectors: RwLock::new(Arc::new(connectors)),
            config: RwLock::new(Arc::new(config)),
            events,
            ready: AtomicBool::new(false),
            draining: AtomicBool::new(false),
            metrics: Arc::new(crate::metrics::Metrics::new()),
            owned: Default::default(),
        }
    }

    /// The connectors this process runs now, with their leases.
    pub fn owned(&self) -> Arc<BTreeMap<String, Arc<crate::store::Fence>>> {
        self.owned.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    fn set_owned(&self, owned: BTreeMap<String, Arc<crate::store::Fence>>) {
        *self.owned.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(owned);
    }

    /// The connectors running now.
    pub fn connectors(&self) -> Arc<Connectors> {
        self.connectors
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    pub fn connector(&self, name: &str) -> Option<Arc<Instance>> {
        self.connectors().get(name).cloned()
    }

    /// The config in force.
    pub fn config(&self) -> Arc<Config> {
        self.config
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn swap(&self, config: Config, connectors: Connectors) {
        *self.connectors.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(connectors);
        *self.config.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(config);
    }

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
        let (id, status, what) = match applied {
            Applied::Created { id, status, .. } => (id, status, "order stored"),
            Applied::Updated { id, status, .. } => (id, status, "order updated"),
            Applied::Unchanged { .. } | Applied::Stale { .. } => return,
        };
        tracing::info!(
            connector,
            order_id = id,
            external_id = %order.external_id,
            status = status.as_str(),
            source = source.as_str(),
            "{what}"
        );
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
    /// Notified to re-read the config file (SIGHUP).
    pub reload: Option<Arc<Notify>>,
}

/// Builds the connectors of `config` whose names `wanted` accepts.
fn build(config: &Config, wanted: impl Fn(&str) -> bool) -> Result<Connectors, RunError> {
    let mut connectors = HashMap::new();
    for c in config.connectors.iter().filter(|c| wanted(&c.name)) {
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
    Ok(connectors)
}

/// One connector's tasks: its poller and its dispatcher, each stoppable
/// alone (a reload) or with the rest (shutdown).
struct Running {
    /// The lease it runs under.
    fence: Arc<crate::store::Fence>,
    poll_stop: CancellationToken,
    push_stop: CancellationToken,
    poller: Option<JoinHandle<()>>,
    dispatcher: Option<JoinHandle<()>>,
}

/// Starts and stops connectors' tasks.
struct Supervisor {
    running: HashMap<String, Running>,
    /// Parent of every poller's stop token.
    shutdown: CancellationToken,
    /// Parent of every dispatcher's stop token; cancelled after the inbox
    /// worker has drained.
    push_stop: CancellationToken,
    /// The connectors this process holds the lease of.
    leases: crate::lease::Leases,
}

impl Supervisor {
    /// Starts a connector's tasks under `fence`: every write they make is
    /// refused once another replica holds the lease.
    fn start(&mut self, rt: &Arc<Runtime>, inst: Arc<Instance>, fence: Arc<crate::store::Fence>) {
        let store = rt.store.fenced(fence.clone());
        let poll_stop = self.shutdown.child_token();
        let push_stop = self.push_stop.child_token();
        // Every line the connector's tasks log names it.
        let span = tracing::info_span!("connector", connector = %inst.name);
        let poller = inst.poll.clone().map(|schedule| {
            tokio::spawn(
                poller::run(
                    rt.clone(),
                    store.clone(),
                    inst.clone(),
                    schedule,
                    poll_stop.clone(),
                )
                .instrument(span.clone()),
            )
        });
        let dispatcher = crate::push::pushes(&inst).then(|| {
            tokio::spawn(
                crate::push::run(rt.clone(), store, inst.clone(), push_stop.clone())
                    .instrument(span),
            )
        });
        tracing::info!(
            connector = %inst.name,
            kind = inst.kind,
            poll = inst.poll.as_ref().map(|p| p.to_string()).unwrap_or_else(|| "webhooks only".into()),
            "connector started"
        );
        self.running.insert(
            inst.name.clone(),
            Running {
                fence,
                poll_stop,
                push_stop,
                poller,
                dispatcher,
            },
        );
    }

    /// Stops one connector: the page being committed and the push in flight
    /// finish; what is left waits in the store for its next start.
    async fn stop(&mut self, name: &str) {
        let Some(r) = self.running.remove(name) else {
            return;
        };
        r.poll_stop.cancel();
        r.push_stop.cancel();
        for task in [r.poller, r.dispatcher].into_iter().flatten() {
            let _ = task.await;
        }
        tracing::info!(connector = %name, "connector stopped");
    }

    /// One lease round: stops the connectors whose lease was lost, starts
    /// those whose lease was taken, gives one back when holding more than
    /// this replica's share.
    async fn lease_round(&mut self, rt: &Arc<Runtime>) {
        let config = rt.config();
        let names: Vec<String> = config.connectors.iter().map(|c| c.name.clone()).collect();
        let round = match self.leases.round(&rt.store, &names).await {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "lease round failed; trying again at the next");
                // Not renewed for most of a lease: another replica may take
                // them any moment, so this one stops calling the channels.
                for name in self.leases.expiring() {
                    rt.metrics.lease(&name, "lost");
                    self.stop(&name).await;
                }
                self.publish_owned(rt);
                return;
            }
        };
        for name in &round.lost {
            rt.metrics.lease(name, "lost");
            self.stop(name).await;
        }
        for (fence, quiet) in round.acquired {
            if let Some(inst) = rt.connector(&fence.connector) {
                // The previous holder may have spent the channel's budget
                // just before it went silent.
                if let Some(quiet) = quiet {
                    inst.connector.taken_over(quiet);
                }
                rt.metrics.lease(&fence.connector, "acquired");
                self.start(rt, inst, fence);
            }
        }
        if let Some(fence) = round.give_back {
            rt.metrics.lease(&fence.connector, "released");
            self.stop(&fence.connector).await;
            if let Err(e) = rt.store.lease_release(&fence).await {
                tracing::warn!(connector = %fence.connector, error = %e, "could not give the lease back; it expires");
            }
        }
        self.publish_owned(rt);
    }

    /// Tells the rest of the process (the inbox worker, metrics, the status
    /// page) which connectors run here now.
    fn publish_owned(&self, rt: &Runtime) {
        rt.set_owned(
            self.running
                .iter()
                .map(|(n, r)| (n.clone(), r.fence.clone()))
                .collect(),
        );
    }

    /// Waits for every poller (after `shutdown` was cancelled).
    async fn pollers_done(&mut self) {
        for r in self.running.values_mut() {
            if let Some(t) = r.poller.take() {
                let _ = t.await;
            }
        }
    }

    /// Waits for every dispatcher (after `push_stop` was cancelled).
    async fn dispatchers_done(&mut self) {
        for r in self.running.values_mut() {
            if let Some(t) = r.dispatcher.take() {
                let _ = t.await;
            }
        }
    }
}

/// Why a reload was refused; the old config keeps running.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("{0}")]
    Config(#[from] crate::config::ConfigError),
    #[error(transparent)]
    Build(#[from] RunError),
}

/// What a reload did.
#[derive(Debug, Default)]
pub struct Reloaded {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub changed: Vec<String>,
    /// Keys that take effect only at the next start.
    pub need_restart: Vec<&'static str>,
}

impl std::fmt::Display for Reloaded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list = |v: &[String]| {
            if v.is_empty() {
                "none".to_owned()
            } else {
                v.join(", ")
            }
        };
        write!(
            f,
            "connectors added: {}; removed: {}; changed: {}",
            list(&self.added),
            list(&self.removed),
            list(&self.changed)
        )?;
        if !self.need_restart.is_empty() {
            write!(f, "; at the next restart: {}", self.need_restart.join(", "))?;
        }
        Ok(())
    }
}

/// Re-reads the config file: connectors added, removed or changed start and
/// stop without a restart; locations, routing, SKU mappings, stock policies,
/// the outbox's retry policy and the admin token change in place. A file
/// that does not load, or a connector that does not build, changes nothing.
async fn reload(rt: &Arc<Runtime>, sup: &mut Supervisor) -> Result<Reloaded, ReloadError> {
    let old = rt.config();
    let mut new = Config::load(&old.path)?;
    let mut done = Reloaded::default();
    // What the running listener and store were opened with stays.
    macro_rules! keep {
        ($($field:ident).+, $key:literal) => {
            if new.$($field).+ != old.$($field).+ {
                done.need_restart.push($key);
                new.$($field).+ = old.$($field).+.clone();
            }
        };
    }
    keep!(store.url, "store.url");
    keep!(store.synchronous, "store.synchronous");
    keep!(store.max_connections, "store.max_connections");
    keep!(store.acquire_timeout, "store.acquire_timeout");
    keep!(store.lease_ttl, "store.lease_ttl");
    keep!(listen, "server.listen");
    keep!(max_body_bytes, "server.max_body_bytes");
    keep!(read_timeout, "server.read_timeout");
    keep!(log.level, "log.level");
    keep!(log.format, "log.format");

    let fingerprints: HashMap<String, String> = new
        .connectors
        .iter()
        .map(|c| (c.name.clone(), c.fingerprint()))
        .collect();
    let before: HashMap<String, String> = old
        .connectors
        .iter()
        .map(|c| (c.name.clone(), c.fingerprint()))
        .collect();
    for (name, fp) in &fingerprints {
        match before.get(name) {
            None => done.added.push(name.clone()),
            Some(was) if was != fp => done.changed.push(name.clone()),
            Some(_) => {}
        }
    }
    done.removed = before
        .keys()
        .filter(|n| !fingerprints.contains_key(*n))
        .cloned()
        .collect();
    for v in [&mut done.added, &mut done.removed, &mut done.changed] {
        v.sort();
    }
    // Build before touching anything: a connector that does not build
    // leaves the old config running.
    let fresh = build(&new, |n| {
        done.added.iter().chain(&done.changed).any(|x| x == n)
    })?;

    for name in done.removed.iter().chain(&done.changed) {
        sup.stop(name).await;
    }
    for name in &done.removed {
        sup.leases.release(&rt.store, name).await;
    }
    let mut connectors: Connectors = rt
        .connectors()
        .iter()
        .filter(|(n, _)| fingerprints.contains_key(*n) && !fresh.contains_key(*n))
        .map(|(n, i)| (n.clone(), i.clone()))
        .collect();
    connectors.extend(fresh.iter().map(|(n, i)| (n.clone(), i.clone())));
    rt.store
        .set_policy(crate::inventory::Policy::from_config(&new));
    let skus = new.skus.clone();
    rt.swap(new, connectors);
    // A changed connector restarts here under the lease it had; a new one
    // is taken by the lease round that follows (here or on another replica).
    for (name, inst) in fresh {
        if let Some(fence) = sup.leases.fence(&name) {
            sup.start(rt, inst, fence);
        }
    }
    sup.lease_round(rt).await;
    // The store follows: SKU mappings from the file, and every level
    // published again to a connector that is new or changed.
    if let Err(e) = rt.store.sync_sku_config(&skus).await {
        tracing::error!(error = %e, "reload: cannot update the SKU mappings");
    }
    let republish: Vec<String> = done.added.iter().chain(&done.changed).cloned().collect();
    if let Err(e) = rt.store.republish_stock(&republish).await {
        tracing::error!(error = %e, "reload: cannot queue stock levels");
    }
    Ok(done)
}

/// Runs the daemon until `opts.shutdown` is cancelled, then drains.
pub async fn run(config: Config, opts: RunOptions) -> Result<(), RunError> {
    let store = Store::open(&config.store, OpenMode::Migrate)
        .await?
        .with_policy(crate::inventory::Policy::from_config(&config));
    store.sync_sku_config(&config.skus).await?;
    tracing::info!(store = %crate::store::redact_url(&config.store.url), "store open and migrated");

    let connectors = build(&config, |_| true)?;
    let rt = Arc::new(Runtime::new(
        store.clone(),
        config.clone(),
        connectors,
        opts.events,
    ));

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
    let wake = Arc::new(Notify::new());
    let (inbox_tx, inbox_rx) = mpsc::channel(4096);
    let writer = tokio::spawn(inbox::writer(store.clone(), inbox_rx, wake.clone()));
    let worker_stop = CancellationToken::new();
    let worker = tokio::spawn(inbox::worker(rt.clone(), wake.clone(), worker_stop.clone()));

    let replica = crate::store::ReplicaInfo {
        id: crate::lease::replica_id(addr),
        pid: i64::from(std::process::id()),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        config_fingerprint: config.fingerprint(),
    };
    let mut sup = Supervisor {
        running: HashMap::new(),
        shutdown: shutdown.clone(),
        push_stop: CancellationToken::new(),
        leases: crate::lease::Leases::new(replica, config.store.lease_ttl, store.backend()),
    };
    // The first round takes this replica's share of the connectors (on
    // SQLite: all of them) before it reports ready.
    sup.lease_round(&rt).await;
    let mut lease_tick = tokio::time::interval(sup.leases.every());
    lease_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    lease_tick.reset();

    let app = router(
        Arc::new(AppState {
            rt: rt.clone(),
            inbox: inbox_tx,
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
    tracing::info!(listen = %addr, connectors = rt.connectors().len(), "chansync is ready");
    let notifier = crate::systemd::Notifier::from_env();
    let summary = crate::systemd::status_line(&rt).await.unwrap_or_default();
    notifier.ready(&format!("listening on {addr}; {summary}"));
    // The watchdog is pinged from this loop, so a loop that hangs (or a core
    // task that has ended, or a store that does not answer) is restarted.
    let mut heartbeat = tokio::time::interval(
        notifier
            .beat_every()
            .unwrap_or(std::time::Duration::from_secs(3600)),
    );
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    if let Some(f) = opts.on_ready {
        f(addr);
    }

    let reload_signal = opts.reload.unwrap_or_default();
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => break,
            _ = lease_tick.tick() => sup.lease_round(&rt).await,
            _ = heartbeat.tick(), if notifier.enabled() => {
                let core = !server.is_finished() && !writer.is_finished() && !worker.is_finished();
                notifier.beat(&rt, core).await;
            }
            _ = reload_signal.notified() => {
                notifier.reloading();
                tracing::info!(config = %rt.config().path.display(), "reloading the config");
                let outcome = reload(&rt, &mut sup).await;
                let summary = crate::systemd::status_line(&rt).await.unwrap_or_default();
                match outcome {
                    Ok(done) => {
                        tracing::info!(
                            added = ?done.added,
                            removed = ?done.removed,
                            changed = ?done.changed,
                            "config reloaded"
                        );
                        for key in &done.need_restart {
                            tracing::warn!(key, "this setting changed in the file; it takes effect at the next restart");
                        }
                        notifier.ready(&format!("reloaded ({done}); {summary}"));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "reload rejected; the previous config keeps running");
                        notifier.ready(&format!("reload rejected ({e}); running the previous config; {summary}"));
                    }
                }
            }
        }
    }
    rt.draining.store(true, Ordering::SeqCst);
    notifier.stopping();
    tracing::info!("shutting down: finishing in-flight requests, pages and deliveries");
    // The leases stay this replica's until step 6 gives them back.
    let (renewing, renewer) = sup.leases.keep_alive(store.clone());

    // 1. The listener finishes in-flight requests; its queue handle drops.
    let served = server.await;
    // 2. The writer stores what is queued and ends with the last sender.
    let _ = writer.await;
    // 3. Pollers finish the page they are committing.
    sup.pollers_done().await;
    // 4. The worker applies every stored delivery.
    worker_stop.cancel();
    let _ = worker.await;
    // 5. Dispatchers finish the push in flight; the rest waits in the outbox.
    sup.push_stop.cancel();
    sup.dispatchers_done().await;
    // 6. Every lease goes back: other replicas take the connectors at once.
    renewing.cancel();
    let _ = renewer.await;
    sup.leases.release_all(&store).await;
    store.close().await;
    tracing::info!("chansync stopped");
    match served {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(RunError::Serve(e)),
        Err(e) => Err(RunError::Serve(std::io::Error::other(e))),
    }
}

//! Which connectors this process runs. Each connector's poller and
//! dispatcher run in one process at a time, the holder of the connector's
//! lease in the store (see `store/lease.rs`), so one channel account's rate
//! limit is spent by one process.
//!
//! Every `lease_ttl / 5` the daemon's main loop runs one [`Leases::round`]:
//! it says the replica is alive, renews what it holds (a lease missing from
//! the answer was taken over: its tasks stop), and takes free or expired
//! leases while it holds fewer than its share, ceil(connectors / live
//! replicas); holding more than its share for two rounds, it gives one back.
//! A replica that dies stops renewing: its leases expire after `lease_ttl`
//! and the others take them on their next round. One that stops cleanly
//! releases them at once.
//!
//! On SQLite one daemon owns the file: it takes every lease at start
//! (forcing out a predecessor that died), and renews them as on PostgreSQL.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use crate::store::{Backend, Fence, ReplicaInfo, Store, StoreError};

/// This process's leases.
pub struct Leases {
    me: ReplicaInfo,
    ttl: Duration,
    force: bool,
    held: BTreeMap<String, Arc<Fence>>,
    /// Rounds in a row this replica held more than its share.
    over_share: u32,
    /// Taken before the last renewal that succeeded: the leases are surely
    /// this process's until then plus most of a lease.
    renewed: Option<std::time::Instant>,
}

/// What a round decided: tasks to stop (lost) and to start (acquired), and
/// one lease to give back once its tasks have stopped.
#[derive(Debug, Default)]
pub struct Round {
    pub lost: Vec<String>,
    /// With how long the previous holder has surely been silent.
    pub acquired: Vec<(Arc<Fence>, Option<Duration>)>,
    pub give_back: Option<Arc<Fence>>,
}

/// `host:port`: unique among running replicas (a port is bound by one
/// process per host), and the same again when a replica restarts, so it
/// takes its own leases back at once.
pub fn replica_id(listen: std::net::SocketAddr) -> String {
    let host = rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned();
    format!("{host}:{}", listen.port())
}

impl Leases {
    pub fn new(me: ReplicaInfo, ttl: Duration, backend: Backend) -> Leases {
        Leases {
            me,
            ttl,
            force: backend == Backend::Sqlite,
            held: BTreeMap::new(),
            over_share: 0,
            renewed: None,
        }
    }

    /// How often a round runs.
    pub fn every(&self) -> Duration {
        self.ttl / 5
    }

    pub fn replica(&self) -> &ReplicaInfo {
        &self.me
    }

    /// The fence this process holds for `connector`.
    pub fn fence(&self, connector: &str) -> Option<Arc<Fence>> {
        self.held.get(connector).cloned()
    }

    /// Forgets a lease whose tasks stopped for good (a connector removed by
    /// a reload) and gives it back.
    pub async fn release(&mut self, store: &Store, connector: &str) {
        if let Some(f) = self.held.remove(connector) {
            if let Err(e) = store.lease_release(&f).await {
                tracing::warn!(connector, error = %e, "could not give the lease back; it expires");
            }
        }
    }

    /// The connectors whose leases this process can no longer count on
    /// (not renewed for four fifths of a lease: the database unreachable),
    /// forgotten here; their tasks must stop before another replica starts
    /// them.
    pub fn expiring(&mut self) -> Vec<String> {
        let sure = self.ttl * 4 / 5;
        match self.renewed {
            Some(at) if at.elapsed() < sure => Vec::new(),
            _ => std::mem::take(&mut self.held).into_keys().collect(),
        }
    }

    /// Renews the leases held now every round until the token is
    /// cancelled, without taking or giving any: what shutdown runs while
    /// the connectors finish, so that none expires before it is handed over.
    pub fn keep_alive(
        &self,
        store: Store,
    ) -> (
        tokio_util::sync::CancellationToken,
        tokio::task::JoinHandle<()>,
    ) {
        let stop = tokio_util::sync::CancellationToken::new();
        let fences: Vec<Fence> = self.held.values().map(|f| (**f).clone()).collect();
        let (holder, ttl, every) = (self.me.id.clone(), self.ttl, self.every());
        let done = stop.clone();
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(every) => {}
                    _ = done.cancelled() => break,
                }
                if let Err(e) = store.lease_renew(&holder, &fences, ttl).await {
                    tracing::warn!(error = %e, "could not renew the leases while stopping");
                }
            }
        });
        (stop, task)
    }

    /// Gives every lease back (shutdown, after the tasks have stopped).
    pub async fn release_all(&mut self, store: &Store) {
        let names: Vec<String> = self.held.keys().cloned().collect();
        for name in names {
            self.release(store, &name).await;
        }
        if let Err(e) = store.replica_gone(&self.me.id).await {
            tracing::warn!(error = %e, "could not sign this replica off");
        }
    }

    /// One round over the `configured` connectors.
    pub async fn round(
        &mut self,
        store: &Store,
        configured: &[String],
    ) -> Result<Round, StoreError> {
        let mut out = Round::default();
        let started = std::time::Instant::now();
        store.replica_heartbeat(&self.me).await?;
        let fences: Vec<Fence> = self.held.values().map(|f| (**f).clone()).collect();
        let kept = store.lease_renew(&self.me.id, &fences, self.ttl).await?;
        self.renewed = Some(started);
        for f in fences {
            if !kept.contains(&f) {
                tracing::warn!(connector = %f.connector, token = f.token, "lease taken over by another replica; its tasks stop here");
                self.held.remove(&f.connector);
                out.lost.push(f.connector);
            }
        }
        let live = store.live_replicas(self.ttl).await?;
        if let Some((other, _)) = live
            .iter()
            .find(|(id, fp)| id != &self.me.id && fp != &self.me.config_fingerprint)
        {
            tracing::warn!(replica = %other, "another replica runs a different config; replicas should share one");
        }
        let share = if self.force {
            configured.len()
        } else {
            configured.len().div_ceil(live.len().max(1))
        };
        for name in configured {
            if self.held.len() >= share {
                break;
            }
            if self.held.contains_key(name) {
                continue;
            }
            if let Some(t) = store
                .lease_acquire(name, &self.me.id, self.ttl, self.force)
                .await?
            {
                tracing::info!(connector = %name, token = t.fence.token, "lease taken; the connector runs here");
                let f = Arc::new(t.fence);
                self.held.insert(name.clone(), f.clone());
                out.acquired.push((f, t.quiet));
            }
        }
        if self.held.len() > share {
            self.over_share += 1;
            if self.over_share >= 2 {
                self.over_share = 0;
                if let Some((name, f)) = self.held.pop_last() {
                    tracing::info!(connector = %name, "more than this replica's share; giving a lease back");
                    out.give_back = Some(f);
                }
            }
        } else {
            self.over_share = 0;
        }
        Ok(out)
    }
}

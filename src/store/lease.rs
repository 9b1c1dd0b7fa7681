//! Leases: which replica runs each connector, when several share one
//! database. A lease has a holder, an expiry on the database's clock, and a
//! fencing token that grows at every acquisition.
//!
//! **Invariant:** a write made through a fenced store handle
//! ([`Store::fenced`]) commits only while its token is the connector's
//! current one. The check is the first statement of the write's transaction
//! and, on PostgreSQL, holds the lease row `FOR SHARE` until commit, so a
//! replica taking the lease over waits for writes in flight under the old
//! token, and none can commit after the new token has.

use std::sync::Arc;
use std::time::Duration;

use sqlx::Row;

use super::inventory::Tx;
use super::{now, Backend, Store, StoreError};

/// Proof of holding a connector's lease: what fenced writes carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    pub connector: String,
    pub holder: String,
    pub token: i64,
}

/// A lease just taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Taken {
    pub fence: Fence,
    /// How long the previous holder has surely not called the channel
    /// (since it released the lease, or since the lease expired; zero when
    /// taken by force or from this replica's own previous run); `None` when
    /// no replica ever held it. A connector starts its quota from this.
    pub quiet: Option<Duration>,
}

/// A lease as `chansync connectors` shows it.
#[derive(Debug, Clone, serde::Serialize)]
pub struct LeaseView {
    pub connector: String,
    /// The replica holding it; `None` once released.
    pub holder: Option<String>,
    pub token: i64,
    /// Microseconds left on the database's clock (negative: expired).
    pub expires_in_us: i64,
    pub acquired_at: String,
    /// The holder's process id, while it is a live replica.
    pub pid: Option<i64>,
}

/// A replica, as it announces itself.
#[derive(Debug, Clone)]
pub struct ReplicaInfo {
    /// `host:port` of its listener: unique while it runs.
    pub id: String,
    pub pid: i64,
    pub version: String,
    pub config_fingerprint: String,
}

impl Backend {
    /// The database's clock in microseconds since the epoch, as SQL.
    fn now_us(self) -> &'static str {
        match self {
            Backend::Sqlite => "CAST((julianday('now') - 2440587.5) * 86400000000.0 AS INTEGER)",
            Backend::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000000 AS BIGINT)",
        }
    }
}

fn micros(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Checks, as the first statement of a transaction, that `fence` is still
/// the connector's lease.
pub(super) async fn check(tx: &mut Tx, backend: Backend, fence: &Fence) -> Result<(), StoreError> {
    let held: Option<i64> = sqlx::query_scalar(match backend {
        Backend::Sqlite => {
            "SELECT token FROM leases WHERE connector = $1 AND holder = $2 AND token = $3"
        }
        Backend::Postgres => {
            "SELECT token FROM leases WHERE connector = $1 AND holder = $2 AND token = $3 FOR SHARE"
        }
    })
    .bind(&fence.connector)
    .bind(&fence.holder)
    .bind(fence.token)
    .fetch_optional(&mut **tx)
    .await?;
    match held {
        Some(_) => Ok(()),
        None => Err(StoreError::Fenced {
            connector: fence.connector.clone(),
            token: fence.token,
        }),
    }
}

impl Store {
    /// This store for the holder of `fence`: each of its write transactions
    /// first checks the lease and fails with [`StoreError::Fenced`] once
    /// another replica holds it.
    pub fn fenced(&self, fence: Arc<Fence>) -> Store {
        Store {
            fence: Some(fence),
            ..self.clone()
        }
    }

    /// The fence this handle writes under, if any.
    pub fn fence(&self) -> Option<&Fence> {
        self.fence.as_deref()
    }

    /// Takes the lease of `connector` for `holder` for `ttl` when it is free,
    /// expired, or already `holder`'s (a restarted replica with the same id
    /// takes its leases back at once); `force` takes it whatever its state
    /// (one daemon on a SQLite file owns everything). Every acquisition gets
    /// a new token. `None`: another replica holds it.
    pub async fn lease_acquire(
        &self,
        connector: &str,
        holder: &str,
        ttl: Duration,
        force: bool,
    ) -> Result<Option<Taken>, StoreError> {
        let now_us = self.backend.now_us();
        let sql = format!(
            "INSERT INTO leases (connector, holder, token, expires_at_us, acquired_at, renewed_at)
             VALUES ($1, $2, 1, {now_us} + $3, $4, $4)
             ON CONFLICT (connector) DO UPDATE SET holder = excluded.holder, token = leases.token + 1,
               expires_at_us = excluded.expires_at_us, acquired_at = excluded.acquired_at,
               renewed_at = excluded.renewed_at
             WHERE $5 = 1 OR leases.holder IS NULL OR leases.holder = $2 OR leases.expires_at_us < {now_us}
             RETURNING token"
        );
        let mut tx = self.begin(true).await?;
        // A released lease's expiry is when it was released.
        let left: Option<i64> = sqlx::query_scalar(&format!(
            "SELECT expires_at_us - {now_us} FROM leases WHERE connector = $1"
        ))
        .bind(connector)
        .fetch_optional(&mut *tx)
        .await?;
        let token: Option<i64> = sqlx::query_scalar(&sql)
            .bind(connector)
            .bind(holder)
            .bind(micros(ttl))
            .bind(now())
            .bind(i64::from(force))
            .fetch_optional(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(token.map(|token| Taken {
            fence: Fence {
                connector: connector.to_owned(),
                holder: holder.to_owned(),
                token,
            },
            quiet: left.map(|l| Duration::from_micros(l.min(0).unsigned_abs())),
        }))
    }

    /// Extends every lease `holder` still holds among `fences` by `ttl`, in
    /// one statement; returns those it still holds (a fence missing from
    /// the answer is lost: its tasks must stop).
    pub async fn lease_renew(
        &self,
        holder: &str,
        fences: &[Fence],
        ttl: Duration,
    ) -> Result<Vec<Fence>, StoreError> {
        if fences.is_empty() {
            return Ok(Vec::new());
        }
        let sql = format!(
            "UPDATE leases SET expires_at_us = {} + $1, renewed_at = $2
             WHERE holder = $3 AND connector IN ({}) RETURNING connector, token",
            self.backend.now_us(),
            super::sql::params(4, fences.len())
        );
        let mut q = sqlx::query(&sql).bind(micros(ttl)).bind(now()).bind(holder);
        for f in fences {
            q = q.bind(&f.connector);
        }
        let rows = q.fetch_all(&self.writer).await?;
        Ok(fences
            .iter()
            .filter(|f| {
                rows.iter().any(|r| {
                    r.get::<String, _>("connector") == f.connector
                        && r.get::<i64, _>("token") == f.token
                })
            })
            .cloned()
            .collect())
    }

    /// Gives a lease up at once (shutdown, a connector removed, fewer to
    /// hold): another replica may take it on its next round. `false` when it
    /// was no longer this fence's.
    pub async fn lease_release(&self, fence: &Fence) -> Result<bool, StoreError> {
        let mut tx = self.begin(true).await?;
        let sql = format!(
            "UPDATE leases SET holder = NULL, expires_at_us = {}, renewed_at = $1
             WHERE connector = $2 AND holder = $3 AND token = $4",
            self.backend.now_us()
        );
        let done = sqlx::query(&sql)
            .bind(now())
            .bind(&fence.connector)
            .bind(&fence.holder)
            .bind(fence.token)
            .execute(&mut *tx)
            .await?
            .rows_affected()
            == 1;
        tx.commit().await?;
        Ok(done)
    }

    /// Every lease, with its holder's process id while it is alive.
    pub async fn leases(&self) -> Result<Vec<LeaseView>, StoreError> {
        let sql = format!(
            "SELECT l.connector, l.holder, l.token, l.expires_at_us - {} AS expires_in_us, l.acquired_at, r.pid
             FROM leases l LEFT JOIN replicas r ON r.id = l.holder ORDER BY l.connector",
            self.backend.now_us()
        );
        let rows = sqlx::query(&sql).fetch_all(&self.reader).await?;
        Ok(rows
            .iter()
            .map(|r| LeaseView {
                connector: r.get("connector"),
                holder: r.get("holder"),
                token: r.get("token"),
                expires_in_us: r.get("expires_in_us"),
                acquired_at: r.get("acquired_at"),
                pid: r.get("pid"),
            })
            .collect())
    }

    /// Announces `replica` as alive (at start and at every lease round).
    pub async fn replica_heartbeat(&self, replica: &ReplicaInfo) -> Result<(), StoreError> {
        let sql = format!(
            "INSERT INTO replicas (id, pid, version, config_fingerprint, started_at, seen_at_us)
             VALUES ($1, $2, $3, $4, $5, {now_us})
             ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, version = excluded.version,
               config_fingerprint = excluded.config_fingerprint, seen_at_us = excluded.seen_at_us,
               started_at = CASE WHEN replicas.pid = excluded.pid THEN replicas.started_at
                                 ELSE excluded.started_at END",
            now_us = self.backend.now_us()
        );
        sqlx::query(&sql)
            .bind(&replica.id)
            .bind(replica.pid)
            .bind(&replica.version)
            .bind(&replica.config_fingerprint)
            .bind(now())
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// Forgets a replica that is stopping.
    pub async fn replica_gone(&self, id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM replicas WHERE id = $1")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(())
    }

    /// The replicas seen within `within`, by id, with their config
    /// fingerprints.
    pub async fn live_replicas(
        &self,
        within: Duration,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let sql = format!(
            "SELECT id, config_fingerprint FROM replicas WHERE seen_at_us > {} - $1 ORDER BY id",
            self.backend.now_us()
        );
        let rows = sqlx::query(&sql)
            .bind(micros(within))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("id"), r.get("config_fingerprint")))
            .collect())
    }
}

//! The order store: SQLite through sqlx (WAL, migrations embedded in the
//! binary). Every write goes through one writer connection, so transactions
//! never fight over SQLite's lock; reads use a separate pool.
//!
//! **Invariant:** an order is one row per (connector, external_id), and an
//! older channel update never overwrites a newer one.

mod inbox;
mod inventory;
mod lease;
mod orders;
mod outbox;
mod sql;
mod stock;

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, Executor};

pub use inbox::{InboxInsert, InboxOutcome, InboxRow, Processed};
pub use inventory::{Actor, Level};
pub use lease::{Fence, LeaseView, ReplicaInfo, Taken};
pub use orders::{Applied, Incoming, OrderFilter, OrderHistoryEvent, Source};
pub use outbox::{OutboxFilter, OutboxRow};
pub use stock::{order_reference, CommandError, StockChannel, StockLocation, StockView};

use crate::config::Synchronous;

/// The embedded migrations, one set per backend (the same versions).
pub static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
pub static PG_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// PostgreSQL: the advisory lock key of the store's write lock ("chansync").
const WRITE_LOCK: i64 = 0x6368_616e_7379_6e63;

/// A store error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store: {0}")]
    Db(#[from] sqlx::Error),
    #[error("store migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("the store at {0} does not exist or is not migrated; run `chansync migrate` or start `chansync run`")]
    NotMigrated(String),
    #[error("store data is corrupt: {0}")]
    Corrupt(String),
    #[error("the lease of connector {connector} (token {token}) is held by another replica now")]
    Fenced { connector: String, token: i64 },
}

/// A handle to the store; cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    /// Which database this is; the few statements that differ ask it.
    backend: Backend,
    /// SQLite: one connection, so all writes are serialised.
    writer: AnyPool,
    /// SQLite: reads, concurrent with the writer thanks to WAL.
    reader: AnyPool,
    /// Locations, routing rules and channel stock policies; shared by every
    /// clone and replaced whole when the config is reloaded.
    policy: std::sync::Arc<std::sync::RwLock<std::sync::Arc<crate::inventory::Policy>>>,
    /// Woken after a commit that may have queued outbox work.
    outbox_wake: std::sync::Arc<tokio::sync::Notify>,
    /// Set on the handle of a connector's tasks: every write transaction
    /// first checks that this lease is still theirs.
    fence: Option<std::sync::Arc<Fence>>,
}

/// How to open the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OpenMode {
    /// Create the file if needed and run migrations (the daemon, `migrate`).
    Migrate,
    /// The store must exist and be migrated (inspection commands).
    Existing,
}

/// The database behind a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One file; one writer at a time (the embedded default).
    Sqlite,
    /// A server shared by several replicas.
    Postgres,
}

impl Backend {
    /// The backend a store URL names, if any.
    pub fn of(url: &str) -> Option<Backend> {
        if url.starts_with("sqlite:") {
            Some(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Backend::Postgres)
        } else {
            None
        }
    }
}

/// Where the store is and how to reach it (`[store]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// `sqlite:///path/file.db` or `postgres://user@host/db`.
    pub url: String,
    /// SQLite's durability.
    pub synchronous: Synchronous,
    /// PostgreSQL: the pool's size; SQLite: the readers' (the writer is one).
    pub max_connections: u32,
    /// How long a statement waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// How long a connector's lease lasts without renewal: after a replica
    /// dies, another takes its connectors over within this (plus a fifth).
    pub lease_ttl: Duration,
}

impl StoreOptions {
    pub const DEFAULT_MAX_CONNECTIONS: u32 = 10;
    pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
    pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(15);
    /// Shorter leases would be renewed more often than a slow database answers.
    pub const MIN_LEASE_TTL: Duration = Duration::from_secs(2);

    /// `url` with the defaults.
    pub fn new(url: impl Into<String>) -> StoreOptions {
        StoreOptions {
            url: url.into(),
            synchronous: Synchronous::Full,
            max_connections: Self::DEFAULT_MAX_CONNECTIONS,
            acquire_timeout: Self::DEFAULT_ACQUIRE_TIMEOUT,
            lease_ttl: Self::DEFAULT_LEASE_TTL,
        }
    }

    /// With SQLite's `synchronous` set.
    pub fn synchronous(mut self, s: Synchronous) -> StoreOptions {
        self.synchronous = s;
        self
    }

    /// With the pool size set.
    pub fn max_connections(mut self, n: u32) -> StoreOptions {
        self.max_connections = n;
        self
    }
}

/// `url` fit for a log line or an error: a password in it is replaced.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// The pragmas every SQLite connection runs first: WAL (readers never block
/// the writer), the configured durability, and waiting for a lock held by
/// another process rather than failing.
fn sqlite_pragmas(sync: Synchronous) -> [&'static str; 3] {
    [
        "PRAGMA busy_timeout = 10000",
        "PRAGMA journal_mode = WAL",
        match sync {
            Synchronous::Full => "PRAGMA synchronous = FULL",
            Synchronous::Normal => "PRAGMA synchronous = NORMAL",
        },
    ]
}

fn any_drivers() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(sqlx::any::install_default_drivers);
}

impl Store {
    /// Opens the store `opts.url` names: creates and migrates it in
    /// [`OpenMode::Migrate`], requires it migrated in [`OpenMode::Existing`].
    pub async fn open(opts: &StoreOptions, mode: OpenMode) -> Result<Store, StoreError> {
        any_drivers();
        match Backend::of(&opts.url) {
            Some(Backend::Sqlite) => Store::open_sqlite(opts, mode).await,
            Some(Backend::Postgres) => Store::open_postgres(opts, mode).await,
            None => Err(StoreError::Db(sqlx::Error::Configuration(
                format!(
                    "{:?} is not a sqlite: or postgres:// URL",
                    redact_url(&opts.url)
                )
                .into(),
            ))),
        }
    }

    async fn open_sqlite(o: &StoreOptions, mode: OpenMode) -> Result<Store, StoreError> {
        let url = &o.url;
        let file = SqliteConnectOptions::from_str(url)?;
        let path: PathBuf = file.get_filename().to_owned();
        if mode == OpenMode::Existing && !path.exists() {
            return Err(StoreError::NotMigrated(path.display().to_string()));
        }
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if mode == OpenMode::Migrate {
                std::fs::create_dir_all(dir).map_err(|e| StoreError::Db(sqlx::Error::Io(e)))?;
            }
        }
        // The URL names the file; create it only where asked to migrate.
        let opts = AnyConnectOptions::from_str(&format!(
            "{url}{}mode={}",
            if url.contains('?') { '&' } else { '?' },
            if mode == OpenMode::Migrate {
                "rwc"
            } else {
                "rw"
            },
        ))?;
        let sync = o.synchronous;
        let pool = |max: u32| {
            AnyPoolOptions::new()
                .max_connections(max)
                .acquire_timeout(o.acquire_timeout)
                .after_connect(move |conn, _| {
                    Box::pin(async move {
                        for pragma in sqlite_pragmas(sync) {
                            conn.execute(pragma).await?;
                        }
                        Ok(())
                    })
                })
        };
        let writer = pool(1)
            .min_connections(1)
            .connect_with(opts.clone())
            .await?;
        if mode == OpenMode::Migrate {
            MIGRATOR.run(&writer).await?;
        } else {
            let migrated: Option<(i64,)> = sqlx::query_as(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
            )
            .fetch_optional(&writer)
            .await?;
            if migrated.is_none() {
                return Err(StoreError::NotMigrated(path.display().to_string()));
            }
        }
        let reader = pool(o.max_connections.clamp(1, 64))
            .connect_with(opts)
            .await?;
        Ok(Store {
            backend: Backend::Sqlite,
            writer,
            reader,
            policy: Default::default(),
            outbox_wake: Default::default(),
            fence: None,
        })
    }

    async fn open_postgres(o: &StoreOptions, mode: OpenMode) -> Result<Store, StoreError> {
        let shown = redact_url(&o.url);
        let pool = AnyPoolOptions::new()
            .max_connections(o.max_connections.max(1))
            .acquire_timeout(o.acquire_timeout)
            .connect(&o.url)
            .await
            .map_err(|e| match &e {
                // 3D000: no such database.
                sqlx::Error::Database(d) if d.code().as_deref() == Some("3D000") => {
                    StoreError::NotMigrated(shown.clone())
                }
                _ => StoreError::Db(e),
            })?;
        if mode == OpenMode::Migrate {
            // Holds an advisory lock: replicas starting together migrate once.
            PG_MIGRATOR.run(&pool).await?;
        } else {
            let migrated: Option<(i64,)> = sqlx::query_as(
                "SELECT 1 FROM pg_catalog.pg_tables
                 WHERE schemaname = current_schema() AND tablename = '_sqlx_migrations'",
            )
            .fetch_optional(&pool)
            .await?;
            if migrated.is_none() {
                return Err(StoreError::NotMigrated(shown));
            }
        }
        Ok(Store {
            backend: Backend::Postgres,
            writer: pool.clone(),
            reader: pool,
            policy: Default::default(),
            outbox_wake: Default::default(),
            fence: None,
        })
    }

    /// The database behind this store.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The same store applying `policy` (routing, stock publishing).
    pub fn with_policy(mut self, policy: crate::inventory::Policy) -> Store {
        self.policy = std::sync::Arc::new(std::sync::RwLock::new(std::sync::Arc::new(policy)));
        self
    }

    /// The policy in force now; a transaction keeps the one it started with.
    pub fn policy(&self) -> std::sync::Arc<crate::inventory::Policy> {
        self.policy
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Replaces the policy for every clone of this store (config reload).
    pub fn set_policy(&self, policy: crate::inventory::Policy) {
        *self.policy.write().unwrap_or_else(|e| e.into_inner()) = std::sync::Arc::new(policy);
    }

    /// Notified after commits that may have queued outbox work.
    pub fn outbox_wake(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.outbox_wake.clone()
    }

    /// Closes both pools, waiting for in-flight work.
    pub async fn close(&self) {
        self.writer.close().await;
        self.reader.close().await;
    }

    /// Starts a write transaction: one at a time, on both backends, so the
    /// read-then-write steps of routing, settling and the outbox see what
    /// they change and nothing else changes it meanwhile.
    ///
    /// SQLite: `BEGIN IMMEDIATE` takes the database's write lock at once, so
    /// another process's writer waits instead of failing midway.
    /// PostgreSQL: the transaction first takes the store's write lock, a
    /// transaction-scoped advisory lock every replica shares; it is released
    /// at commit or rollback, also when the replica dies (its connection
    /// goes). See ARCHITECTURE.md for why this and not row locks.
    async fn write_tx(&self) -> Result<inventory::Tx, StoreError> {
        let tx = self.begin(true).await?;
        self.checked(tx).await
    }

    /// Starts a transaction that only adds queue rows or moves rows it
    /// claims (inbox inserts, outbox claims and completions): on PostgreSQL
    /// it runs beside the write transactions, so webhooks are stored and
    /// pushes claimed on every replica at once. (SQLite has one writer.)
    async fn queue_tx(&self) -> Result<inventory::Tx, StoreError> {
        let tx = self.begin(false).await?;
        self.checked(tx).await
    }

    /// Begins a transaction; on PostgreSQL with the store's write lock
    /// when `write_lock`. (Taking leases uses it without the lease check.)
    async fn begin(&self, write_lock: bool) -> Result<inventory::Tx, StoreError> {
        match self.backend {
            Backend::Sqlite => Ok(self.writer.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => {
                let mut tx = self.writer.begin().await?;
                if write_lock {
                    sqlx::query("SELECT pg_advisory_xact_lock($1)")
                        .bind(WRITE_LOCK)
                        .execute(&mut *tx)
                        .await?;
                }
                Ok(tx)
            }
        }
    }

    /// On a fenced handle, checks the lease as the transaction's first
    /// statement.
    async fn checked(&self, mut tx: inventory::Tx) -> Result<inventory::Tx, StoreError> {
        if let Some(fence) = &self.fence {
            lease::check(&mut tx, self.backend, fence).await?;
        }
        Ok(tx)
    }

    /// The poll cursor and status of a connector.
    pub async fn poll_state(&self, connector: &str) -> Result<Option<PollState>, StoreError> {
        let row: Option<PollStateRow> = sqlx::query_as(
            "SELECT connector, cursor, last_started_at, last_finished_at, last_ok, last_ok_at, last_error, orders_seen, rate_limit
             FROM poll_state WHERE connector = $1",
        )
        .bind(connector)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(Into::into))
    }

    /// Records that a poll sweep started.
    pub async fn poll_started(&self, connector: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO poll_state (connector, last_started_at) VALUES ($1, $2)
             ON CONFLICT (connector) DO UPDATE SET last_started_at = excluded.last_started_at",
        )
        .bind(connector)
        .bind(now())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Records how a poll sweep ended; a sweep without error is also the
    /// connector's last successful poll.
    pub async fn poll_finished(
        &self,
        connector: &str,
        error: Option<&str>,
        rate_limit: Option<&serde_json::Value>,
    ) -> Result<(), StoreError> {
        let at = now();
        sqlx::query(
            "INSERT INTO poll_state (connector, last_finished_at, last_ok, last_ok_at, last_error, rate_limit)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (connector) DO UPDATE SET last_finished_at = excluded.last_finished_at,
               last_ok = excluded.last_ok, last_error = excluded.last_error, rate_limit = excluded.rate_limit,
               last_ok_at = COALESCE(excluded.last_ok_at, poll_state.last_ok_at)",
        )
        .bind(connector)
        .bind(&at)
        .bind(i64::from(error.is_none()))
        .bind(error.is_none().then_some(&at))
        .bind(error)
        .bind(rate_limit.map(|v| v.to_string()))
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    /// Maps a channel SKU to a master SKU for one connector.
    pub async fn map_sku(
        &self,
        connector: &str,
        channel_sku: &str,
        master_sku: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sku_map (connector, channel_sku, master_sku) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
        )
        .bind(connector)
        .bind(channel_sku)
        .bind(master_sku)
        .execute(&self.writer)
        .await?;
        Ok(())
    }
}

/// A connector's poll position and last outcome.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PollState {
    pub cursor: Option<String>,
    pub last_started_at: Option<String>,
    pub last_finished_at: Option<String>,
    pub last_ok: Option<bool>,
    /// When a sweep last ended without error.
    pub last_ok_at: Option<String>,
    pub last_error: Option<String>,
    pub orders_seen: i64,
    pub rate_limit: Option<serde_json::Value>,
}

#[derive(sqlx::FromRow)]
struct PollStateRow {
    #[allow(dead_code)]
    connector: String,
    cursor: Option<String>,
    last_started_at: Option<String>,
    last_finished_at: Option<String>,
    last_ok: Option<i64>,
    last_ok_at: Option<String>,
    last_error: Option<String>,
    orders_seen: i64,
    rate_limit: Option<String>,
}

impl From<PollStateRow> for PollState {
    fn from(r: PollStateRow) -> Self {
        PollState {
            cursor: r.cursor,
            last_started_at: r.last_started_at,
            last_finished_at: r.last_finished_at,
            last_ok: r.last_ok.map(|ok| ok != 0),
            last_ok_at: r.last_ok_at,
            last_error: r.last_error,
            orders_seen: r.orders_seen,
            rate_limit: r.rate_limit.and_then(|s| serde_json::from_str(&s).ok()),
        }
    }
}

/// The current time as the store writes it (RFC 3339, UTC, microseconds).
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

#[cfg(test)]
mod tests;

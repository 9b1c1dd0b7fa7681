//! The webhook inbox: deliveries are written here (deduplicated by the
//! channel's event id) before the channel gets its 2xx, then applied by the
//! inbox worker in the same transaction that marks them done.

use chansync_sdk::model::ChannelOrder;
use sqlx::Row;

use super::orders::{Applied, Incoming, Source};
use super::{now, Backend, Store, StoreError};

/// Deliveries per insert statement (8 parameters each, far below SQLite's
/// and PostgreSQL's limits).
const INSERT_CHUNK: usize = 512;

/// A delivery to store.
#[derive(Debug, Clone)]
pub struct InboxInsert {
    pub connector: String,
    /// `None` for a rejected delivery (kept for inspection, never deduplicated).
    pub event_id: Option<String>,
    pub topic: Option<String>,
    /// `pending`, or `rejected` with `error` set.
    pub rejected: Option<String>,
    pub headers: serde_json::Value,
    pub body: Vec<u8>,
}

/// What storing a delivery did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InboxOutcome {
    Stored(i64),
    /// The event id was seen before; nothing new was stored.
    Duplicate,
}

/// A delivery the worker has parsed, ready to apply.
#[derive(Debug, Clone)]
pub struct Processed {
    pub inbox_id: i64,
    pub connector: String,
    pub kind: &'static str,
    /// The order it carries, `None` for a topic with no effect, or why it failed.
    pub outcome: Result<Option<ChannelOrder>, String>,
    /// The body as text, kept on the order for audit.
    pub raw: Option<String>,
}

/// A pending delivery for the worker.
#[derive(Debug, Clone)]
pub struct InboxRow {
    pub id: i64,
    pub connector: String,
    pub headers: serde_json::Value,
    pub body: Vec<u8>,
}

impl Store {
    /// Stores a batch of deliveries in one transaction (group commit), with
    /// one multi-row statement per `INSERT_CHUNK` deliveries.
    pub async fn inbox_insert(
        &self,
        batch: &[InboxInsert],
    ) -> Result<Vec<InboxOutcome>, StoreError> {
        let mut tx = self.queue_tx().await?;
        let at = now();
        let mut out = vec![InboxOutcome::Duplicate; batch.len()];
        // A delivery repeated within the batch is a duplicate of its first.
        let mut first: std::collections::HashMap<(&str, &str), usize> = Default::default();
        let mut keyed = Vec::with_capacity(batch.len());
        for (i, d) in batch.iter().enumerate() {
            match &d.event_id {
                Some(e) => {
                    if let std::collections::hash_map::Entry::Vacant(v) =
                        first.entry((&d.connector, e))
                    {
                        v.insert(i);
                        keyed.push(i);
                    }
                }
                // Rejected deliveries are never deduplicated; each needs its
                // own id back, so each has its own statement (a rare path).
                None => {
                    let id: i64 = sqlx::query_scalar(
                        "INSERT INTO inbox (connector, event_id, topic, state, received_at, error, headers, body)
                         VALUES ($1, NULL, $2, $3, $4, $5, $6, $7) RETURNING id",
                    )
                    .bind(&d.connector)
                    .bind(&d.topic)
                    .bind(if d.rejected.is_some() { "rejected" } else { "pending" })
                    .bind(&at)
                    .bind(&d.rejected)
                    .bind(d.headers.to_string())
                    .bind(&d.body)
                    .fetch_one(&mut *tx)
                    .await?;
                    out[i] = InboxOutcome::Stored(id);
                }
            }
        }
        for chunk in keyed.chunks(INSERT_CHUNK) {
            let mut sql = String::from(
                "INSERT INTO inbox (connector, event_id, topic, state, received_at, error, headers, body) VALUES ",
            );
            for n in 0..chunk.len() {
                let b = n * 7;
                if n > 0 {
                    sql.push_str(", ");
                }
                // (connector, event_id, topic, state, received_at (shared, the
                // last parameter), error, headers, body)
                sql.push_str(&format!(
                    "(${}, ${}, ${}, ${}, ${}, ${}, ${}, ${})",
                    b + 1,
                    b + 2,
                    b + 3,
                    b + 4,
                    chunk.len() * 7 + 1,
                    b + 5,
                    b + 6,
                    b + 7
                ));
            }
            sql.push_str(
                " ON CONFLICT (connector, event_id) DO NOTHING RETURNING id, connector, event_id",
            );
            let mut q = sqlx::query(&sql);
            for &i in chunk {
                let d = &batch[i];
                q = q
                    .bind(&d.connector)
                    .bind(&d.event_id)
                    .bind(&d.topic)
                    .bind(if d.rejected.is_some() {
                        "rejected"
                    } else {
                        "pending"
                    })
                    .bind(&d.rejected)
                    .bind(d.headers.to_string())
                    .bind(&d.body);
            }
            let rows = q.bind(&at).fetch_all(&mut *tx).await?;
            for r in rows {
                let (connector, event): (&str, &str) = (r.get("connector"), r.get("event_id"));
                if let Some(&i) = first.get(&(connector, event)) {
                    out[i] = InboxOutcome::Stored(r.get("id"));
                }
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The oldest pending deliveries of the connectors named (`among`) or
    /// of every connector but those (`!among`).
    pub async fn inbox_pending(
        &self,
        connectors: &[String],
        among: bool,
        limit: i64,
    ) -> Result<Vec<InboxRow>, StoreError> {
        let sql = format!(
            "SELECT id, connector, headers, body FROM inbox
             WHERE state = 'pending' AND {} connector IN ({}) ORDER BY id LIMIT $1",
            if among { "" } else { "NOT" },
            // An empty list still parses: no connector is ''.
            if connectors.is_empty() {
                "''".to_owned()
            } else {
                super::sql::params(2, connectors.len())
            }
        );
        let mut q = sqlx::query(&sql).bind(limit);
        for c in connectors {
            q = q.bind(c);
        }
        let rows = q.fetch_all(&self.reader).await?;
        Ok(rows
            .iter()
            .map(|r| InboxRow {
                id: r.get("id"),
                connector: r.get("connector"),
                headers: serde_json::from_str(r.get::<&str, _>("headers")).unwrap_or_default(),
                body: r.get("body"),
            })
            .collect())
    }

    /// Applies processed deliveries and marks them, all in one transaction.
    /// Returns what each order upsert did, in input order.
    pub async fn inbox_complete(
        &self,
        done: &[Processed],
    ) -> Result<Vec<Option<Applied>>, StoreError> {
        let policy = self.policy();
        let mut tx = self.write_tx().await?;
        let at = now();
        let mut out = Vec::with_capacity(done.len());
        for p in done {
            let (state, error, applied) = match &p.outcome {
                Ok(Some(order)) => {
                    let incoming = Incoming {
                        order,
                        raw: p.raw.as_deref(),
                        source: Source::Webhook,
                    };
                    let applied =
                        super::orders::apply_in(&mut tx, &policy, &p.connector, p.kind, &incoming)
                            .await?;
                    ("done", None, Some(applied))
                }
                Ok(None) => ("done", None, None),
                Err(e) => ("failed", Some(e.as_str()), None),
            };
            sqlx::query("UPDATE inbox SET state = $1, error = $2, processed_at = $3 WHERE id = $4")
                .bind(state)
                .bind(error)
                .bind(&at)
                .bind(p.inbox_id)
                .execute(&mut *tx)
                .await?;
            out.push(applied);
        }
        tx.commit().await?;
        self.outbox_wake.notify_waiters();
        Ok(out)
    }

    /// Counts of inbox rows per (connector, state).
    pub async fn inbox_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT connector, state, COUNT(*) AS n FROM inbox GROUP BY connector, state",
        )
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("connector"), r.get("state"), r.get("n")))
            .collect())
    }

    /// Rejected and failed deliveries, newest first, for inspection.
    pub async fn inbox_problems(&self, limit: i64) -> Result<Vec<serde_json::Value>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, connector, event_id, topic, state, received_at, error, body FROM inbox
             WHERE state IN ('rejected', 'failed') ORDER BY id DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| {
                let body: Vec<u8> = r.get("body");
                serde_json::json!({
                    "id": r.get::<i64, _>("id"),
                    "connector": r.get::<String, _>("connector"),
                    "event_id": r.get::<Option<String>, _>("event_id"),
                    "topic": r.get::<Option<String>, _>("topic"),
                    "state": r.get::<String, _>("state"),
                    "received_at": r.get::<String, _>("received_at"),
                    "error": r.get::<Option<String>, _>("error"),
                    "body": String::from_utf8_lossy(&body),
                })
            })
            .collect())
    }

    /// When the oldest delivery not yet applied arrived, for a connector.
    pub async fn inbox_oldest_pending(
        &self,
        connector: &str,
    ) -> Result<Option<String>, StoreError> {
        // Through the few pending rows: `inbox_received` would walk the
        // connector's whole history when nothing is pending.
        Ok(sqlx::query_scalar(match self.backend {
            Backend::Sqlite => {
                "SELECT MIN(received_at) FROM inbox INDEXED BY inbox_state
                 WHERE connector = $1 AND state = 'pending'"
            }
            Backend::Postgres => {
                "SELECT MIN(received_at) FROM inbox WHERE connector = $1 AND state = 'pending'"
            }
        })
        .bind(connector)
        .fetch_one(&self.reader)
        .await?)
    }

    /// When the newest delivery of a connector arrived (whatever became of
    /// it): how fresh its webhooks are. One index step (`inbox_received`).
    pub async fn inbox_last_received(&self, connector: &str) -> Result<Option<String>, StoreError> {
        Ok(
            sqlx::query_scalar("SELECT MAX(received_at) FROM inbox WHERE connector = $1")
                .bind(connector)
                .fetch_one(&self.reader)
                .await?,
        )
    }
}

//! The outbox: push-back work written with the change that caused it, claimed
//! by the connector's dispatcher, retried with backoff and dead-lettered
//! after the last attempt or on a permanent error.
//!
//! States: `pending` → `sending` → `done`, or back to `pending` with a later
//! `next_attempt_us`, or `dead`. A stock row whose retry finds a newer
//! pending row for its SKU becomes `superseded`: the newer row sends the
//! newest level anyway. Rows left `sending` by a crash are pending again on
//! the next start.

use std::time::Duration;

use serde::Serialize;
use sqlx::Row;

use super::inventory;
use super::{now, Backend, Store, StoreError};

/// One outbox row.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct OutboxRow {
    pub id: i64,
    pub connector: String,
    pub kind: String,
    pub key: String,
    pub payload: serde_json::Value,
    pub state: String,
    pub attempts: i64,
    pub next_attempt_at: Option<String>,
    pub last_error: Option<String>,
    pub idempotency_key: String,
    pub created_at: String,
    pub updated_at: String,
}

/// Filters for `outbox list`.
#[derive(Debug, Clone, Default)]
pub struct OutboxFilter {
    pub state: Option<String>,
    pub connector: Option<String>,
    pub limit: Option<i64>,
}

fn now_us() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

fn row(r: &sqlx::any::AnyRow) -> OutboxRow {
    let next: i64 = r.get("next_attempt_us");
    OutboxRow {
        id: r.get("id"),
        connector: r.get("connector"),
        kind: r.get("kind"),
        key: r.get("key"),
        payload: serde_json::from_str(r.get::<&str, _>("payload"))
            .unwrap_or(serde_json::Value::Null),
        state: r.get("state"),
        attempts: r.get("attempts"),
        next_attempt_at: (next > 0)
            .then(|| chrono::DateTime::from_timestamp_micros(next).map(|t| t.to_rfc3339()))
            .flatten(),
        last_error: r.get("last_error"),
        idempotency_key: r.get("idempotency_key"),
        created_at: r.get("created_at"),
        updated_at: r.get("updated_at"),
    }
}

impl Store {
    /// Puts rows a crashed dispatcher left `sending` back to pending.
    pub async fn outbox_recover(&self, connector: &str) -> Result<u64, StoreError> {
        let mut tx = self.write_tx().await?;
        let ids: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM outbox WHERE connector = $1 AND state = 'sending'")
                .bind(connector)
                .fetch_all(&mut *tx)
                .await?;
        for id in &ids {
            back_to_pending(&mut tx, *id, None, 0).await?;
        }
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    /// Claims up to `limit` due rows of one kind for a connector (oldest
    /// first) and marks them `sending`.
    pub async fn outbox_claim(
        &self,
        connector: &str,
        kind: &str,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let mut tx = self.queue_tx().await?;
        // PostgreSQL: rows another transaction holds are passed over.
        let rows = sqlx::query(match self.backend {
            Backend::Sqlite => {
                "UPDATE outbox SET state = 'sending', updated_at = $1
                 WHERE id IN (SELECT id FROM outbox WHERE connector = $2 AND kind = $3 AND state = 'pending'
                              AND next_attempt_us <= $4 ORDER BY id LIMIT $5)
                 RETURNING *"
            }
            Backend::Postgres => {
                // A CTE runs once; a subquery under IN may be re-run per
                // row and claim more than the limit.
                "WITH due AS (SELECT id FROM outbox WHERE connector = $2 AND kind = $3 AND state = 'pending'
                              AND next_attempt_us <= $4 ORDER BY id LIMIT $5 FOR UPDATE SKIP LOCKED)
                 UPDATE outbox SET state = 'sending', updated_at = $1
                 FROM due WHERE outbox.id = due.id AND outbox.state = 'pending'
                 RETURNING outbox.*"
            }
        })
        .bind(now())
        .bind(connector)
        .bind(kind)
        .bind(now_us())
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        let mut out: Vec<OutboxRow> = rows.iter().map(row).collect();
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    /// The kinds with due rows for a connector.
    pub async fn outbox_due_kinds(&self, connector: &str) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT kind FROM outbox WHERE connector = $1 AND state = 'pending' AND next_attempt_us <= $2",
        )
        .bind(connector)
        .bind(now_us())
        .fetch_all(&self.reader)
        .await?)
    }

    /// The level to push now for a claimed stock row; recorded in its payload.
    pub async fn outbox_stock_level(
        &self,
        row_id: i64,
        connector: &str,
        channel_sku: &str,
    ) -> Result<i64, StoreError> {
        let policy = self.policy();
        let mut tx = self.write_tx().await?;
        let level = inventory::published_level(&mut tx, &policy, connector, channel_sku).await?;
        sqlx::query("UPDATE outbox SET payload = $1 WHERE id = $2")
            .bind(serde_json::json!({"channel_sku": channel_sku, "quantity": level}).to_string())
            .bind(row_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(level)
    }

    /// Marks rows sent.
    pub async fn outbox_done(&self, ids: &[i64]) -> Result<(), StoreError> {
        let mut tx = self.queue_tx().await?;
        for id in ids {
            sqlx::query("UPDATE outbox SET state = 'done', attempts = attempts + 1, last_error = NULL, updated_at = $1 WHERE id = $2")
                .bind(now())
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Records a failed attempt: retried after `retry_in`, or dead when
    /// `retry_in` is `None` or the attempts are used up.
    pub async fn outbox_failed(
        &self,
        id: i64,
        error: &str,
        retry_in: Option<Duration>,
    ) -> Result<&'static str, StoreError> {
        let policy = self.policy();
        let mut tx = self.write_tx().await?;
        let attempts: i64 = sqlx::query_scalar("SELECT attempts FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        let attempts = attempts + 1;
        let max = i64::from(policy.outbox.max_attempts);
        let state = match retry_in {
            Some(d) if attempts < max => {
                let next = now_us() + d.as_micros() as i64;
                back_to_pending(&mut tx, id, Some(error), next).await?;
                sqlx::query("UPDATE outbox SET attempts = $1 WHERE id = $2")
                    .bind(attempts)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                "pending"
            }
            _ => {
                sqlx::query("UPDATE outbox SET state = 'dead', attempts = $1, last_error = $2, updated_at = $3 WHERE id = $4")
                    .bind(attempts)
                    .bind(error)
                    .bind(now())
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                "dead"
            }
        };
        tx.commit().await?;
        Ok(state)
    }

    /// Outbox rows, newest first.
    pub async fn outbox_list(&self, f: &OutboxFilter) -> Result<Vec<OutboxRow>, StoreError> {
        let mut sql = super::sql::Where::new("SELECT * FROM outbox");
        if f.state.is_some() {
            sql.and("state = ");
        }
        if f.connector.is_some() {
            sql.and("connector = ");
        }
        sql.push(" ORDER BY id DESC LIMIT ");
        sql.param();
        let sql = sql.finish();
        let mut q = sqlx::query(&sql);
        if let Some(s) = &f.state {
            q = q.bind(s);
        }
        if let Some(c) = &f.connector {
            q = q.bind(c);
        }
        let rows = q
            .bind(f.limit.unwrap_or(1000))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.iter().map(row).collect())
    }

    /// When the oldest push not yet sent was queued, for a connector.
    pub async fn outbox_oldest_pending(
        &self,
        connector: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT MIN(created_at) FROM outbox WHERE connector = $1 AND state IN ('pending', 'sending')",
        )
        .bind(connector)
        .fetch_one(&self.reader)
        .await?)
    }

    /// Counts per (connector, state).
    pub async fn outbox_counts(&self) -> Result<Vec<(String, String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT connector, state, COUNT(*) AS n FROM outbox GROUP BY connector, state",
        )
        .fetch_all(&self.reader)
        .await?;
        Ok(rows
            .iter()
            .map(|r| (r.get("connector"), r.get("state"), r.get("n")))
            .collect())
    }

    /// Requeues dead rows (one id, or all): attempts start again. Returns the
    /// ids requeued.
    pub async fn outbox_replay(&self, id: Option<i64>) -> Result<Vec<i64>, StoreError> {
        let mut tx = self.write_tx().await?;
        let ids: Vec<i64> = match id {
            Some(id) => {
                sqlx::query_scalar("SELECT id FROM outbox WHERE id = $1 AND state = 'dead'")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?
            }
            None => {
                sqlx::query_scalar("SELECT id FROM outbox WHERE state = 'dead' ORDER BY id")
                    .fetch_all(&mut *tx)
                    .await?
            }
        };
        for id in &ids {
            sqlx::query("UPDATE outbox SET attempts = 0 WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            back_to_pending(&mut tx, *id, None, 0).await?;
        }
        tx.commit().await?;
        self.outbox_wake.notify_waiters();
        Ok(ids)
    }

    /// The state of one row.
    pub async fn outbox_row(&self, id: i64) -> Result<Option<OutboxRow>, StoreError> {
        let r = sqlx::query("SELECT * FROM outbox WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        Ok(r.as_ref().map(row))
    }
}

/// Makes a row pending again, unless it is a stock row and a newer pending
/// row for its SKU exists: then it is superseded by that row.
async fn back_to_pending(
    tx: &mut inventory::Tx,
    id: i64,
    error: Option<&str>,
    next_us: i64,
) -> Result<(), StoreError> {
    let moved = sqlx::query(
        "UPDATE outbox SET state = 'pending', next_attempt_us = $1, last_error = COALESCE($2, last_error), updated_at = $3
         WHERE id = $4 AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.connector = outbox.connector AND o.key = outbox.key
                                      AND o.kind = 'stock' AND outbox.kind = 'stock' AND o.state = 'pending' AND o.id != outbox.id)",
    )
    .bind(next_us)
    .bind(error)
    .bind(now())
    .bind(id)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if moved == 0 {
        sqlx::query("UPDATE outbox SET state = 'superseded', updated_at = $1 WHERE id = $2")
            .bind(now())
            .bind(id)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

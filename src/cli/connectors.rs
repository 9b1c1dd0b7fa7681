//! `chansync connectors`: each configured connector with the replica that
//! runs it (its lease), its capabilities, poll state, cursor, webhook
//! freshness and backlog, and rate-limit state from the store.

use std::collections::HashMap;
use std::path::Path;

use serde_json::json;

use super::table::Table;
use super::{CmdResult, Format};
use crate::config::Config;
use crate::store::{OpenMode, Store, StoreError};

pub async fn run(format: Format, config_path: &Path) -> CmdResult {
    let config = Config::load_for_store(config_path)?;
    // A store that does not exist yet just means nothing has run.
    let store = match Store::open(&config.store, OpenMode::Existing).await {
        Ok(s) => Some(s),
        Err(StoreError::NotMigrated(_)) => None,
        Err(e) => return Err(e.into()),
    };
    let out = connectors_json(&config, store.as_ref()).await?;
    match format {
        Format::Json => println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(anyhow::Error::from)?
        ),
        Format::Table => {
            let mut t = Table::new([
                "NAME",
                "KIND",
                "OWNER",
                "CAPABILITIES",
                "POLL",
                "LAST POLL",
                "LAST WEBHOOK",
                "BACKLOG",
                "REJECTED",
                "FAILED",
                "OUTBOX",
                "DEAD",
                "RATE LIMIT",
                "CURSOR",
            ]);
            for c in &out {
                let s = |k: &str| c[k].as_str().unwrap_or("-").to_owned();
                let last = match (c["last_poll"].as_str(), c["last_poll_ok"].as_bool()) {
                    (Some(t), Some(true)) => format!("{t} ok"),
                    (Some(t), _) => format!(
                        "{t} error: {} (last ok {})",
                        c["last_error"].as_str().unwrap_or("?"),
                        c["last_poll_ok_at"].as_str().unwrap_or("never")
                    ),
                    (None, _) => "never".into(),
                };
                let rl = &c["rate_limit"];
                let rate = if rl.is_null() {
                    "-".into()
                } else {
                    format!(
                        "{}/s burst {}; {} requests, {} waits, {} throttled",
                        rl["per_second"], rl["burst"], rl["requests"], rl["waits"], rl["throttled"]
                    )
                };
                let o = &c["owner"];
                let owner = match o["state"].as_str() {
                    None => "-".to_owned(),
                    Some("released") => format!("none (released, token {})", o["token"]),
                    Some(state) => format!(
                        "{}{} pid {} token {}",
                        if state == "expired" { "expired: " } else { "" },
                        o["replica"].as_str().unwrap_or("?"),
                        o["pid"].as_i64().map_or("?".to_owned(), |p| p.to_string()),
                        o["token"]
                    ),
                };
                t.row([
                    s("name"),
                    s("kind"),
                    owner,
                    c["capabilities"]
                        .as_array()
                        .map(|a| {
                            a.iter()
                                .filter_map(|v| v.as_str())
                                .collect::<Vec<_>>()
                                .join(",")
                        })
                        .unwrap_or_default(),
                    s("poll"),
                    last,
                    c["last_webhook_at"].as_str().unwrap_or("never").to_owned(),
                    c["backlog"].to_string(),
                    c["webhooks_rejected"].to_string(),
                    c["webhooks_failed"].to_string(),
                    c["outbox_pending"].to_string(),
                    c["dead_letters"].to_string(),
                    rate,
                    s("cursor"),
                ]);
            }
            print!("{}", t.render());
        }
    }
    if let Some(s) = store {
        s.close().await;
    }
    Ok(())
}

/// Each configured connector with its state from the store (none yet when
/// the store does not exist): the JSON of `connectors --format json` and
/// `GET /api/connectors`.
pub async fn connectors_json(
    config: &Config,
    store: Option<&Store>,
) -> Result<Vec<serde_json::Value>, StoreError> {
    let mut inbox: HashMap<(String, String), i64> = HashMap::new();
    let mut leases: HashMap<String, crate::store::LeaseView> = HashMap::new();
    let mut outbox: HashMap<(String, String), i64> = HashMap::new();
    if let Some(s) = store {
        for (c, state, n) in s.inbox_counts().await? {
            inbox.insert((c, state), n);
        }
        for (c, state, n) in s.outbox_counts().await? {
            outbox.insert((c, state), n);
        }
        for l in s.leases().await? {
            leases.insert(l.connector.clone(), l);
        }
    }
    let mut out = Vec::new();
    for c in &config.connectors {
        let (state, last_webhook, oldest_pending) = match store {
            Some(s) => (
                s.poll_state(&c.name).await?,
                s.inbox_last_received(&c.name).await?,
                s.inbox_oldest_pending(&c.name).await?,
            ),
            None => (None, None, None),
        };
        let count = |st: &str| {
            inbox
                .get(&(c.name.clone(), st.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        let pushes = |st: &str| {
            outbox
                .get(&(c.name.clone(), st.to_owned()))
                .copied()
                .unwrap_or(0)
        };
        out.push(json!({
            "name": c.name,
            "kind": c.kind,
            "capabilities": c.capabilities.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "poll": c.poll.as_ref().map(|p| p.to_string()),
            "last_poll": state.as_ref().and_then(|s| s.last_finished_at.clone()),
            "last_poll_ok": state.as_ref().and_then(|s| s.last_ok),
            "last_poll_ok_at": state.as_ref().and_then(|s| s.last_ok_at.clone()),
            "last_poll_started_at": state.as_ref().and_then(|s| s.last_started_at.clone()),
            "last_error": state.as_ref().and_then(|s| s.last_error.clone()),
            "cursor": state.as_ref().and_then(|s| s.cursor.clone()),
            "orders_polled": state.as_ref().map(|s| s.orders_seen).unwrap_or(0),
            "last_webhook_at": last_webhook,
            "backlog": count("pending"),
            "backlog_oldest_at": oldest_pending,
            "webhooks_applied": count("done"),
            "webhooks_rejected": count("rejected"),
            "webhooks_failed": count("failed"),
            "outbox_pending": pushes("pending") + pushes("sending"),
            "pushes_done": pushes("done"),
            "dead_letters": pushes("dead"),
            "rate_limit": state.as_ref().and_then(|s| s.rate_limit.clone()),
            "owner": leases.get(&c.name).map(owner_json),
        }));
    }
    Ok(out)
}

/// Which replica runs a connector: its lease.
fn owner_json(l: &crate::store::LeaseView) -> serde_json::Value {
    let state = match (&l.holder, l.expires_in_us > 0) {
        (None, _) => "released",
        (Some(_), true) => "held",
        (Some(_), false) => "expired",
    };
    json!({
        "state": state,
        "replica": l.holder,
        "pid": l.pid,
        "token": l.token,
        "acquired_at": l.acquired_at,
        "expires_in_ms": l.expires_in_us / 1000,
    })
}

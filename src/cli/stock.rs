//! `chansync stock show|set`, `chansync skus import` and `chansync outbox
//! list|replay`.

use std::path::{Path, PathBuf};

use clap::Subcommand;

use super::table::Table;
use super::{open_existing, open_for_writes, CmdResult, Failure, Format};
use crate::config::{Config, SkuMapping};
use crate::store::{Actor, OutboxFilter};

#[derive(Debug, Subcommand)]
pub enum StockCommand {
    /// Per SKU and location: on hand, reserved, available; per channel: published.
    Show {
        #[arg(long)]
        sku: Option<String>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Sets on hand (audit-logged); waiting orders are routed again and the
    /// channels get the new level.
    Set {
        sku: String,
        #[arg(long)]
        location: String,
        #[arg(long = "on-hand")]
        on_hand: i64,
        /// Also set the safety stock kept back at this location.
        #[arg(long)]
        safety: Option<i64>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SkusCommand {
    /// Imports mappings from a CSV file with the header
    /// `connector,channel_sku,master_sku,quantity` (quantity optional, 1).
    /// Several rows for one channel SKU make a bundle.
    Import { file: PathBuf },
}

#[derive(Debug, Subcommand)]
pub enum OutboxCommand {
    /// Push-back rows, newest first.
    List {
        /// pending, sending, done, dead or superseded
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        connector: Option<String>,
        #[arg(long)]
        limit: Option<i64>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Requeues a dead row (by id) or every dead row.
    Replay {
        #[arg(required_unless_present = "all_dead", conflicts_with = "all_dead")]
        id: Option<i64>,
        #[arg(long = "all-dead")]
        all_dead: bool,
    },
}

fn json<T: serde::Serialize>(v: &T) -> Result<String, Failure> {
    serde_json::to_string_pretty(v).map_err(|e| Failure::Runtime(e.into()))
}

pub async fn run_stock(cmd: StockCommand, config_path: &Path) -> CmdResult {
    let config = Config::load_for_store(config_path)?;
    match cmd {
        StockCommand::Show { sku, format } => {
            let store = open_existing(&config).await?;
            let views = store.stock_view(sku.as_deref()).await?;
            store.close().await;
            match format {
                Format::Json => println!("{}", json(&views)?),
                Format::Table => {
                    let mut t = Table::new([
                        "SKU",
                        "LOCATION",
                        "ON HAND",
                        "RESERVED",
                        "SAFETY",
                        "AVAILABLE",
                        "CHANNELS",
                    ]);
                    for v in &views {
                        let channels = v
                            .channels
                            .iter()
                            .map(|c| format!("{}:{}={}", c.connector, c.channel_sku, c.published))
                            .collect::<Vec<_>>()
                            .join(" ");
                        if v.locations.is_empty() {
                            t.row([
                                v.sku.clone(),
                                "-".into(),
                                "0".into(),
                                "0".into(),
                                "0".into(),
                                "0".into(),
                                channels,
                            ]);
                            continue;
                        }
                        for (i, l) in v.locations.iter().enumerate() {
                            t.row([
                                if i == 0 { v.sku.clone() } else { String::new() },
                                l.location.clone(),
                                l.on_hand.to_string(),
                                l.reserved.to_string(),
                                l.safety.to_string(),
                                l.available.to_string(),
                                if i == 0 {
                                    channels.clone()
                                } else {
                                    String::new()
                                },
                            ]);
                        }
                    }
                    print!("{}", t.render());
                }
            }
            Ok(())
        }
        StockCommand::Set {
            sku,
            location,
            on_hand,
            safety,
        } => {
            if config.locations.iter().all(|l| l.name != location) {
                return Err(Failure::Usage(format!(
                    "--location {location:?} is not a [[location]] in {}",
                    config.path.display()
                )));
            }
            if on_hand < 0 || safety.is_some_and(|s| s < 0) {
                return Err(Failure::Usage(
                    "--on-hand and --safety cannot be negative".into(),
                ));
            }
            let store = open_for_writes(&config).await?;
            let (before, after) = store
                .set_on_hand(&sku, &location, on_hand, safety, &Actor::new("cli"))
                .await
                .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))?;
            store.close().await;
            println!(
                "{sku} at {location}: on hand {} -> {}, reserved {}, available {}",
                before.on_hand,
                after.on_hand,
                after.reserved,
                after.available()
            );
            Ok(())
        }
    }
}

/// Reads the mapping CSV, naming the line of any error.
fn read_csv(path: &Path, config: &Config) -> Result<Vec<SkuMapping>, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Usage(format!("{}: {e}", path.display())))?;
    let mut rows = Vec::new();
    let mut header: Option<Vec<String>> = None;
    for (n, line) in text.lines().enumerate() {
        let at = |m: String| Failure::Usage(format!("{}:{}: {m}", path.display(), n + 1));
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let cells: Vec<String> = line
            .split(',')
            .map(|c| c.trim().trim_matches('"').to_owned())
            .collect();
        let Some(h) = &header else {
            let want = ["connector", "channel_sku", "master_sku"];
            if cells.len() < 3
                || cells[..3] != want
                || cells.get(3).is_some_and(|c| c != "quantity")
            {
                return Err(at(
                    "the header must be connector,channel_sku,master_sku[,quantity]".into(),
                ));
            }
            header = Some(cells);
            continue;
        };
        if cells.len() != h.len() {
            return Err(at(format!(
                "{} columns, the header has {}",
                cells.len(),
                h.len()
            )));
        }
        if !config.connectors.iter().any(|c| c.name == cells[0]) {
            return Err(at(format!(
                "connector {:?} is not in {}",
                cells[0],
                config.path.display()
            )));
        }
        if cells[1].is_empty() || cells[2].is_empty() {
            return Err(at("channel_sku and master_sku must not be empty".into()));
        }
        let quantity = match cells.get(3) {
            Some(q) => q.parse::<i64>().ok().filter(|q| *q >= 1).ok_or_else(|| {
                at(format!(
                    "quantity {q:?} is not a whole number of at least 1"
                ))
            })?,
            None => 1,
        };
        rows.push(SkuMapping {
            connector: cells[0].clone(),
            channel_sku: cells[1].clone(),
            master_sku: cells[2].clone(),
            quantity,
        });
    }
    if header.is_none() {
        return Err(Failure::Usage(format!(
            "{}: empty; expected a header connector,channel_sku,master_sku[,quantity]",
            path.display()
        )));
    }
    Ok(rows)
}

pub async fn run_skus(cmd: SkusCommand, config_path: &Path) -> CmdResult {
    let config = Config::load_for_store(config_path)?;
    match cmd {
        SkusCommand::Import { file } => {
            let rows = read_csv(&file, &config)?;
            let store = open_for_writes(&config).await?;
            let n = store.import_skus(&rows).await?;
            store.close().await;
            println!("{} mappings imported for {n} channel SKUs", rows.len());
            Ok(())
        }
    }
}

pub async fn run_outbox(cmd: OutboxCommand, config_path: &Path) -> CmdResult {
    let config = Config::load_for_store(config_path)?;
    match cmd {
        OutboxCommand::List {
            state,
            connector,
            limit,
            format,
        } => {
            if let Some(s) = &state {
                if !["pending", "sending", "done", "dead", "superseded"].contains(&s.as_str()) {
                    return Err(Failure::Usage(format!(
                        "--state {s:?}: use pending, sending, done, dead or superseded"
                    )));
                }
            }
            let store = open_existing(&config).await?;
            let rows = store
                .outbox_list(&OutboxFilter {
                    state,
                    connector,
                    limit,
                })
                .await?;
            store.close().await;
            match format {
                Format::Json => println!("{}", json(&rows)?),
                Format::Table => {
                    let mut t = Table::new([
                        "ID",
                        "CONNECTOR",
                        "KIND",
                        "KEY",
                        "STATE",
                        "ATTEMPTS",
                        "NEXT ATTEMPT",
                        "LAST ERROR",
                    ]);
                    for r in &rows {
                        t.row([
                            r.id.to_string(),
                            r.connector.clone(),
                            r.kind.clone(),
                            r.key.clone(),
                            r.state.clone(),
                            r.attempts.to_string(),
                            r.next_attempt_at.clone().unwrap_or_else(|| "-".into()),
                            r.last_error.clone().unwrap_or_default(),
                        ]);
                    }
                    print!("{}", t.render());
                }
            }
            Ok(())
        }
        OutboxCommand::Replay { id, all_dead } => {
            let store = open_existing(&config).await?;
            if let Some(id) = id {
                match store.outbox_row(id).await? {
                    None => return Err(Failure::Runtime(anyhow::anyhow!("no outbox row {id}"))),
                    Some(r) if r.state != "dead" => {
                        return Err(Failure::Runtime(anyhow::anyhow!(
                            "outbox row {id} is {}, not dead",
                            r.state
                        )))
                    }
                    Some(_) => {}
                }
            }
            let ids = store
                .outbox_replay(if all_dead { None } else { id })
                .await?;
            store.close().await;
            println!("{} rows queued again: {:?}", ids.len(), ids);
            Ok(())
        }
    }
}

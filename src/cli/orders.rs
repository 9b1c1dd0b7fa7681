//! `chansync orders list|show`: canonical orders from the store, as tables
//! or as INTERFACE.md's Order JSON.

use std::path::Path;

use chansync_sdk::model::{Order, OrderStatus};
use clap::Subcommand;

use super::table::Table;
use super::{open_existing, CmdResult, Failure, Format};
use crate::config::Config;
use crate::store::OrderFilter;

#[derive(Debug, Subcommand)]
pub enum OrdersCommand {
    /// Lists canonical orders, newest first.
    List {
        #[arg(long)]
        connector: Option<String>,
        /// open, allocated, partially_fulfilled, fulfilled, cancelled or needs_attention
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        limit: Option<i64>,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// One order, with its history.
    Show {
        /// chansync's order id
        id: String,
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Records a shipment and queues its push to the channel.
    Fulfil {
        id: String,
        /// The location it ships from.
        #[arg(long)]
        location: String,
        #[arg(long)]
        carrier: Option<String>,
        #[arg(long)]
        tracking: String,
        /// `EXT_LINE_ID:QTY`, repeatable; without it, every line in full.
        #[arg(long = "line", value_name = "EXT_LINE_ID:QTY")]
        lines: Vec<String>,
    },
    /// Cancels an order, releases its reservations and queues the push.
    Cancel {
        id: String,
        #[arg(long)]
        reason: Option<String>,
    },
}

fn order_id(id: &str) -> Result<i64, Failure> {
    id.trim()
        .parse()
        .map_err(|_| Failure::Usage(format!("{id:?} is not an order id (a number)")))
}

fn command_failure(e: crate::store::CommandError) -> Failure {
    match e {
        crate::store::CommandError::Store(e) => Failure::Runtime(e.into()),
        other => Failure::Runtime(anyhow::anyhow!("{other}")),
    }
}

pub async fn run(cmd: OrdersCommand, config_path: &Path) -> CmdResult {
    let config = Config::load_for_store(config_path)?;
    match cmd {
        OrdersCommand::List {
            connector,
            status,
            limit,
            format,
        } => {
            let status = status
                .map(|s| s.parse::<OrderStatus>())
                .transpose()
                .map_err(|e| Failure::Usage(format!("--status: {e}")))?;
            if limit.is_some_and(|l| l < 1) {
                return Err(Failure::Usage("--limit must be at least 1".into()));
            }
            if let Some(c) = &connector {
                if !config.connectors.iter().any(|k| &k.name == c) {
                    return Err(Failure::Usage(format!(
                        "--connector {c:?} is not in {}",
                        config.path.display()
                    )));
                }
            }
            let store = open_existing(&config).await?;
            let orders = store
                .list_orders(&OrderFilter {
                    connector,
                    status,
                    limit,
                })
                .await?;
            match format {
                Format::Json => println!(
                    "{}",
                    serde_json::to_string_pretty(&orders).map_err(anyhow::Error::from)?
                ),
                Format::Table => print!("{}", list_table(&orders)),
            }
            Ok(())
        }
        OrdersCommand::Fulfil {
            id,
            location,
            carrier,
            tracking,
            lines,
        } => {
            let n = order_id(&id)?;
            let mut by_line = std::collections::BTreeMap::new();
            for l in &lines {
                let (ext, qty) = l
                    .rsplit_once(':')
                    .and_then(|(e, q)| q.parse::<i64>().ok().map(|q| (e.to_owned(), q)))
                    .ok_or_else(|| {
                        Failure::Usage(format!("--line {l:?} is not EXT_LINE_ID:QTY"))
                    })?;
                *by_line.entry(ext).or_insert(0) += qty;
            }
            let store = super::open_for_writes(&config).await?;
            let fid = store
                .fulfil(n, &location, carrier.as_deref(), &tracking, &by_line)
                .await
                .map_err(command_failure)?;
            let order = store
                .get_order(n)
                .await?
                .ok_or_else(|| Failure::Runtime(anyhow::anyhow!("order {n} vanished")))?;
            println!("order {n}: shipment {fid} from {location} recorded (tracking {tracking}); status {}", order.status);
            store.close().await;
            Ok(())
        }
        OrdersCommand::Cancel { id, reason } => {
            let n = order_id(&id)?;
            let store = super::open_for_writes(&config).await?;
            store
                .cancel(n, reason.as_deref())
                .await
                .map_err(command_failure)?;
            println!("order {n}: cancelled; reservations released, the channel will be told");
            store.close().await;
            Ok(())
        }
        OrdersCommand::Show { id, format } => {
            let n: i64 = id
                .trim()
                .parse()
                .map_err(|_| Failure::Usage(format!("{id:?} is not an order id (a number)")))?;
            let store = open_existing(&config).await?;
            let order = store
                .get_order(n)
                .await?
                .ok_or_else(|| Failure::Runtime(anyhow::anyhow!("no order with id {n}")))?;
            let history = store.order_history(n).await?;
            match format {
                Format::Json => {
                    let mut v = serde_json::to_value(&order).map_err(anyhow::Error::from)?;
                    v["history"] = serde_json::to_value(&history).map_err(anyhow::Error::from)?;
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&v).map_err(anyhow::Error::from)?
                    );
                }
                Format::Table => {
                    print!("{}", show_text(&order));
                    println!();
                    let mut t = Table::new(["AT", "EVENT", "VIA", "DETAIL"]);
                    for h in &history {
                        t.row([
                            h.at.clone(),
                            h.kind.clone(),
                            h.source.clone(),
                            h.detail.to_string(),
                        ]);
                    }
                    print!("{}", t.render());
                }
            }
            Ok(())
        }
    }
}

fn list_table(orders: &[Order]) -> String {
    let mut t = Table::new([
        "ID",
        "CONNECTOR",
        "NUMBER",
        "EXTERNAL ID",
        "STATUS",
        "PAYMENT",
        "TOTAL",
        "LINES",
        "PLACED",
        "CUSTOMER",
    ]);
    for o in orders {
        t.row([
            o.id.clone(),
            o.connector.clone(),
            o.external_number.clone().unwrap_or_else(|| "-".into()),
            o.external_id.clone(),
            o.status.to_string(),
            o.payment_status.to_string(),
            format!("{} {}", o.currency, o.total),
            o.lines.len().to_string(),
            o.placed_at.to_rfc3339(),
            o.customer.name.clone().unwrap_or_else(|| "-".into()),
        ]);
    }
    t.render()
}

fn show_text(o: &Order) -> String {
    let mut s = String::new();
    let mut kv = |k: &str, v: String| s.push_str(&format!("{k:<16}{v}\n"));
    kv("id", o.id.clone());
    kv("connector", format!("{} ({})", o.connector, o.channel_kind));
    kv("external id", o.external_id.clone());
    kv(
        "number",
        o.external_number.clone().unwrap_or_else(|| "-".into()),
    );
    kv("status", o.status.to_string());
    kv("payment", o.payment_status.to_string());
    kv("placed", o.placed_at.to_rfc3339());
    kv("updated", o.updated_at.to_rfc3339());
    kv(
        "customer",
        format!(
            "{} <{}>",
            o.customer.name.as_deref().unwrap_or("-"),
            o.customer.email.as_deref().unwrap_or("-")
        ),
    );
    if let Some(a) = &o.shipping_address {
        let mut parts = vec![a.name.clone(), a.line1.clone()];
        parts.extend(a.line2.clone());
        parts.push(format!("{} {}", a.postal_code, a.city));
        parts.extend(a.region.clone());
        parts.push(a.country_code.to_string());
        kv("ship to", parts.join(", "));
    } else {
        kv("ship to", "-".into());
    }
    kv("subtotal", format!("{} {}", o.currency, o.subtotal));
    kv("shipping", format!("{} {}", o.currency, o.shipping_total));
    kv("tax", format!("{} {}", o.currency, o.tax_total));
    kv("discounts", format!("{} {}", o.currency, o.discount_total));
    kv("total", format!("{} {}", o.currency, o.total));
    s.push('\n');
    let mut t = Table::new([
        "LINE",
        "SKU",
        "CHANNEL SKU",
        "TITLE",
        "QTY",
        "UNIT",
        "DISCOUNT",
        "TAX",
        "TOTAL",
    ]);
    for l in &o.lines {
        t.row([
            l.external_id.clone(),
            l.sku.clone().unwrap_or_else(|| "-".into()),
            l.channel_sku.clone().unwrap_or_else(|| "-".into()),
            l.title.clone(),
            l.quantity.to_string(),
            l.unit_price.to_string(),
            l.discount.to_string(),
            l.tax.to_string(),
            l.total.to_string(),
        ]);
    }
    s.push_str(&t.render());
    for f in &o.fulfillments {
        s.push_str(&format!(
            "fulfilled: {} {} ({} lines)\n",
            f.carrier.as_deref().unwrap_or("-"),
            f.tracking.as_deref().unwrap_or("-"),
            f.lines.len()
        ));
    }
    s
}

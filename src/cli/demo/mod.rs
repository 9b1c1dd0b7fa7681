//! `chansync demo`: a merchant's four systems as simulators on loopback
//! (a Shopify shop, an Amazon seller account, a Square POS in two stores, an
//! Odoo running two warehouses), an embedded store, and the real daemon
//! between them, printing a line per order, shipment and push as they flow
//! and a summary at the end. With `--data DIR` it leaves a config there that
//! the inspection commands can use.

mod activity;
pub(crate) mod config;
mod feed;
pub(crate) mod world;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, FixedOffset};
use clap::Args;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{parse_addr, CmdResult, Failure};
use crate::config::{Config, LogFormat};
use crate::events::Event;
use feed::Counts;
use world::{World, AMAZON, ERP, POS, SHOP};

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Stop after N seconds and print a summary [default: run until Ctrl-C].
    #[arg(long)]
    seconds: Option<u64>,
    /// Keep the store and a config in DIR instead of a temporary directory.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// Address for the daemon's HTTP listener.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
}

pub async fn run(args: DemoArgs, log_format: LogFormat) -> CmdResult {
    crate::logging::init(log_format, "warn");
    let listen = parse_addr("--listen", &args.listen)?;
    let _temp;
    let dir = match &args.data {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
            std::fs::canonicalize(d).with_context(|| format!("cannot resolve {}", d.display()))?
        }
        None => {
            let t = tempfile::tempdir().context("cannot create a temporary directory")?;
            let p = t.path().to_owned();
            _temp = t;
            p
        }
    };

    let listener = TcpListener::bind(listen)
        .await
        .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot listen on {listen}: {e}")))?;
    let daemon_addr = listener.local_addr().context("listener address")?;

    let world = World::start(daemon_addr).await?;
    let config_path = config::write(&dir, daemon_addr, &world)?;
    let config = Config::load(&config_path)?;

    println!("chansync demo");
    println!("  Shopify simulator   {}  ({SHOP})", world.shop.base_url());
    println!(
        "  Amazon simulator    {}  ({AMAZON}, usage plans x{})",
        world.amazon.base_url(),
        world::AMAZON_RATE_SCALE
    );
    println!(
        "  Square simulator    {}  ({POS}, two stores)",
        world.pos.base_url()
    );
    println!(
        "  Odoo simulator      {}  ({ERP}, warehouses WH and WH2)",
        world.erp.base_url()
    );
    println!("  chansync daemon     http://{daemon_addr}  (webhooks at /webhooks/NAME)");
    println!("  store               {}", config.store.url);
    println!("  config              {}", config_path.display());
    match args.seconds {
        Some(s) => println!("  running for {s}s\n"),
        None => println!("  running until Ctrl-C\n"),
    }
    feed::header();

    let store = crate::store::Store::open(&config.store, crate::store::OpenMode::Migrate)
        .await?
        .with_policy(crate::inventory::Policy::from_config(&config));

    let (events_tx, mut events_rx) = tokio::sync::broadcast::channel(4096);
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(crate::daemon::run(
        config,
        crate::daemon::RunOptions {
            shutdown: shutdown.clone(),
            listener: Some(listener),
            events: Some(events_tx),
            on_ready: None,
            reload: None,
        },
    ));

    let stop = CancellationToken::new();
    super::spawn_signal_handler(stop.clone());
    if let Some(s) = args.seconds {
        let stop = stop.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(s)).await;
            stop.cancel();
        });
    }
    let activity = tokio::spawn(activity::run(
        store.clone(),
        world.erp.clone(),
        stop.clone(),
    ));

    let mut counts = Counts::default();
    loop {
        tokio::select! {
            ev = events_rx.recv() => match ev {
                Ok(e) => counts.print(&e),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => println!("  ({n} events not shown)"),
                Err(_) => break,
            },
            _ = stop.cancelled() => break,
        }
    }
    let _ = activity.await;
    store.close().await;

    // Every order the channels hold when the demo stops must reach the
    // store, at its latest version, before the daemon stops.
    let expected = world.orders();
    world.webhooks_idle().await;
    let store_path = dir.join("chansync.db");
    let missing = wait_for_orders(
        &store_path,
        &expected,
        Duration::from_secs(30),
        &mut events_rx,
        &mut counts,
    )
    .await;
    shutdown.cancel();
    let result = daemon.await.context("the daemon task failed")?;
    result.map_err(|e| Failure::Runtime(e.into()))?;
    let states = world.states();
    world.stop();

    let store = crate::store::Store::open(
        &crate::store::StoreOptions::new(format!("sqlite://{}", store_path.display())),
        crate::store::OpenMode::Existing,
    )
    .await?;
    let by_status = store.order_counts().await?;
    store.close().await;
    summary(&states, &by_status, &expected, &missing, &counts);
    if args.data.is_some() {
        println!("\ninspect the store with:");
        println!("  chansync orders list --config {}", config_path.display());
        println!("  chansync stock show --config {}", config_path.display());
        println!("  chansync connectors --config {}", config_path.display());
    }
    let lost: usize = missing.iter().map(|(_, n)| n).sum();
    if lost > 0 {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "{lost} orders the channels hold never reached the store"
        )));
    }
    Ok(())
}

type Expected = Vec<(&'static str, String, DateTime<FixedOffset>)>;

fn summary(
    states: &[(&str, &str, serde_json::Value); 4],
    by_status: &[(String, String, i64)],
    expected: &Expected,
    missing: &[(&str, usize)],
    counts: &Counts,
) {
    let stored: i64 = by_status.iter().map(|(_, _, n)| n).sum();
    let mut statuses = std::collections::BTreeMap::<&str, i64>::new();
    for (_, s, n) in by_status {
        *statuses.entry(s).or_default() += n;
    }
    println!("\nsummary");
    println!(
        "  orders stored       {stored} ({})",
        statuses
            .iter()
            .map(|(s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  changes seen        {} new and {} updates by webhook, {} new and {} updates by poll",
        counts.created_webhook, counts.updated_webhook, counts.created_poll, counts.updated_poll
    );
    println!(
        "\n  {:<8} {:<8} {:>7} {:>8} {:>8} {:>6} {:>8} {:>11} {:>6}",
        "CHANNEL", "KIND", "ORDERS", "MISSING", "REQUESTS", "429S", "STOCK", "FULFILMENTS", "SALES"
    );
    for (name, kind, state) in states {
        let held = expected.iter().filter(|(c, _, _)| c == name).count();
        let miss = missing
            .iter()
            .find(|(c, _)| c == name)
            .map_or(0, |(_, n)| *n);
        let (requests, throttled) = world::api_counts(state);
        let (orders, missing) = if *name == ERP {
            ("-".to_owned(), "-".to_owned())
        } else {
            (held.to_string(), miss.to_string())
        };
        println!(
            "  {:<8} {:<8} {:>7} {:>8} {:>8} {:>6} {:>8} {:>11} {:>6}",
            name,
            kind,
            orders,
            missing,
            requests,
            throttled,
            counts.pushed(name, "stock"),
            counts.pushed(name, "fulfillment"),
            counts.pushed(name, "sink_order"),
        );
    }
    println!(
        "\n  ORDERS: what the channel holds; MISSING: of those, not in the store or behind it;\n  \
         STOCK and FULFILMENTS: pushes to the channel; SALES: orders sent to the ERP."
    );
    let shop = &states[0].2;
    println!(
        "  Shopify webhooks    {} sent, {} lost on the way (the poll found those changes), {} retried, {} failed",
        shop["webhooks"]["sent"], shop["webhooks"]["lost"], shop["webhooks"]["retried"], shop["webhooks"]["failed"]
    );
    let amazon = &states[1].2;
    println!(
        "  Amazon              {} shipment confirmations with tracking, levels for {} SKUs",
        amazon["fulfillments"].as_array().map_or(0, |a| a.len()),
        amazon["stock"].as_object().map_or(0, |m| m.len()),
    );
    let erp = &states[3].2;
    println!(
        "  Odoo                {} sale orders, {} deliveries done",
        erp["sale_orders"].as_array().map_or(0, |a| a.len()),
        erp["pickings"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|p| p["state"] == "done").count()),
    );
}

/// Waits until every expected order is stored at its channel's version;
/// returns, per connector, how many are not.
async fn wait_for_orders(
    store_path: &Path,
    expected: &Expected,
    bound: Duration,
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    counts: &mut Counts,
) -> Vec<(&'static str, usize)> {
    let url = format!("sqlite://{}", store_path.display());
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        while let Ok(e) = events.try_recv() {
            counts.print(&e);
        }
        let have: std::collections::HashMap<(String, String), DateTime<FixedOffset>> =
            match crate::store::Store::open(
                &crate::store::StoreOptions::new(url.clone()),
                crate::store::OpenMode::Existing,
            )
            .await
            {
                Ok(store) => {
                    let have = store
                        .list_orders(&Default::default())
                        .await
                        .map(|os| {
                            os.into_iter()
                                .map(|o| ((o.connector, o.external_id), o.updated_at))
                                .collect()
                        })
                        .unwrap_or_default();
                    store.close().await;
                    have
                }
                Err(_) => Default::default(),
            };
        let mut missing: Vec<(&'static str, usize)> = Vec::new();
        for (c, id, at) in expected {
            // Missing, or an older version than the channel's.
            if have
                .get(&(c.to_string(), id.clone()))
                .is_none_or(|h| h < at)
            {
                match missing.iter_mut().find(|(m, _)| m == c) {
                    Some((_, n)) => *n += 1,
                    None => missing.push((c, 1)),
                }
            }
        }
        if missing.is_empty() || tokio::time::Instant::now() >= deadline {
            return missing;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

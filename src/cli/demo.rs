//! `chansync demo`: simulated channels on loopback, an embedded store, and the
//! real daemon against them, printing a line per order as it flows in and a
//! summary at the end. With `--data DIR` it leaves a config there that the
//! inspection commands can use.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::{parse_addr, CmdResult, Failure};
use crate::config::{Config, LogFormat};
use crate::events::Event;

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

const CONNECTOR: &str = "shop-demo";

pub async fn run(args: DemoArgs, log_format: LogFormat) -> CmdResult {
    super::init_tracing(log_format, "warn");
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

    use chansync_shopify::sim;
    let sim_cfg = sim::SimConfig {
        seed: 2026,
        trickle_every: Duration::from_millis(700),
        update_every: Duration::from_millis(1500),
        webhook_to: Some(format!("http://{daemon_addr}/webhooks/{CONNECTOR}")),
        // Channels lose webhooks now and then; the poll finds those orders.
        webhook_loss: 0.1,
        // Shopify's standard GraphQL budget: 2,000 points, 100 a second.
        bucket_size: 2000.0,
        restore_rate: 100.0,
        ..Default::default()
    };
    let shop = sim::start(sim_cfg, "127.0.0.1:0".parse().expect("loopback address"))
        .await
        .context("cannot start the Shopify simulator")?;

    let config_path = write_config(&dir, daemon_addr, &shop)?;
    let config = Config::load(&config_path)?;

    println!("chansync demo");
    println!("  Shopify simulator  {}", shop.base_url());
    println!("  chansync daemon    http://{daemon_addr}  (webhooks at /webhooks/{CONNECTOR})");
    println!("  store              {}", config.store_url);
    println!("  config             {}", config_path.display());
    match args.seconds {
        Some(s) => println!("  running for {s}s\n"),
        None => println!("  running until Ctrl-C\n"),
    }
    println!(
        "{:<9} {:<10} {:<7} {:<8} {:<8} {:<16} {:>5}  {:<16} SHIP TO",
        "TIME", "CONNECTOR", "ORDER", "EVENT", "VIA", "STATUS", "LINES", "TOTAL"
    );

    // Opening stock: a few units of each product in each warehouse, some
    // missing, so that routing has choices to make.
    let store = crate::store::Store::open(
        &config.store_url,
        config.synchronous,
        crate::store::OpenMode::Migrate,
    )
    .await?
    .with_policy(crate::inventory::Policy::from_config(&config));
    store.sync_sku_config(&config.skus).await?;
    let mut rng = <rand_chacha::ChaCha8Rng as rand::SeedableRng>::seed_from_u64(2026);
    for sku in chansync_shopify::sim::catalog_skus() {
        for (loc, range) in [("london-wh", -6i64..10), ("berlin-wh", 4i64..30)] {
            let n = rand::Rng::gen_range(&mut rng, range).max(0);
            store
                .set_on_hand(sku, loc, n, None, &crate::store::Actor::new("demo"))
                .await
                .map_err(|e| Failure::Runtime(anyhow::anyhow!("{e}")))?;
        }
    }

    let (events_tx, mut events_rx) = tokio::sync::broadcast::channel(4096);
    let shutdown = CancellationToken::new();
    let daemon = tokio::spawn(crate::daemon::run(
        config,
        crate::daemon::RunOptions {
            shutdown: shutdown.clone(),
            listener: Some(listener),
            events: Some(events_tx),
            on_ready: None,
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

    // The warehouses at work: every few seconds one allocated order ships
    // (its tracking goes to the shop) and a delivery restocks a product.
    let warehouse = tokio::spawn(warehouse(store.clone(), stop.clone()));

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

    let _ = warehouse.await;
    // Let in-flight webhooks land, then make sure every order the channel
    // holds reached the store before stopping.
    // Each order's version as the channel holds it now.
    let expected: Vec<(String, chrono::DateTime<chrono::FixedOffset>)> = shop
        .order_ids()
        .into_iter()
        .filter_map(|id| shop.rest_order(id).map(|o| (id.to_string(), o.updated_at)))
        .collect();
    shop.webhooks_idle(Duration::from_secs(10)).await;
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
    let sim_state = shop.state();
    shop.stop();

    let store = crate::store::Store::open(
        &format!("sqlite://{}", store_path.display()),
        crate::config::Synchronous::Full,
        crate::store::OpenMode::Existing,
    )
    .await?;
    let by_status = store.order_counts().await?;
    store.close().await;
    let stored: i64 = by_status.iter().map(|(_, _, n)| n).sum();
    println!("\nsummary");
    println!(
        "  orders stored       {stored} ({})",
        by_status
            .iter()
            .map(|(_, s, n)| format!("{s} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "  simulator holds     {} orders; of the {} it held when the demo stopped, {} are missing from the store or behind it",
        sim_state["orders"].as_array().map_or(0, |o| o.len()),
        expected.len(),
        missing
    );
    println!(
        "  changes seen        {} new and {} updates by webhook, {} new and {} updates by poll",
        counts.created_webhook, counts.updated_webhook, counts.created_poll, counts.updated_poll
    );
    println!(
        "  webhooks            {} sent by the channel, {} lost on the way (the poll found those changes), {} retried, {} failed",
        sim_state["webhooks"]["sent"],
        sim_state["webhooks"]["lost"],
        sim_state["webhooks"]["retried"],
        sim_state["webhooks"]["failed"]
    );
    println!(
        "  channel API         {} requests, {} throttled",
        sim_state["counts"]["requests"], sim_state["counts"]["throttled"]
    );
    println!(
        "  push-back           {} pushes; the shop holds levels for {} SKUs and {} shipments with tracking",
        counts.pushes,
        sim_state["stock"].as_object().map_or(0, |m| m.len()),
        sim_state["fulfillments"].as_array().map_or(0, |a| a.len())
    );
    if args.data.is_some() {
        println!("\ninspect the store with:");
        println!("  chansync orders list --config {}", config_path.display());
        println!("  chansync connectors --config {}", config_path.display());
    }
    if missing > 0 {
        return Err(Failure::Runtime(anyhow::anyhow!(
            "{missing} orders the channel holds never reached the store"
        )));
    }
    Ok(())
}

/// Waits until every expected order id is stored; returns how many are not.
async fn wait_for_orders(
    store_path: &Path,
    expected: &[(String, chrono::DateTime<chrono::FixedOffset>)],
    bound: Duration,
    events: &mut tokio::sync::broadcast::Receiver<Event>,
    counts: &mut Counts,
) -> usize {
    let url = format!("sqlite://{}", store_path.display());
    let deadline = tokio::time::Instant::now() + bound;
    loop {
        while let Ok(e) = events.try_recv() {
            counts.print(&e);
        }
        let missing = match crate::store::Store::open(
            &url,
            crate::config::Synchronous::Full,
            crate::store::OpenMode::Existing,
        )
        .await
        {
            Ok(store) => {
                let have: std::collections::HashMap<String, _> = store
                    .list_orders(&Default::default())
                    .await
                    .map(|os| {
                        os.into_iter()
                            .filter(|o| o.connector == CONNECTOR)
                            .map(|o| (o.external_id, o.updated_at))
                            .collect()
                    })
                    .unwrap_or_default();
                store.close().await;
                // Missing, or an older version than the channel's.
                expected
                    .iter()
                    .filter(|(id, at)| have.get(id).is_none_or(|h| h < at))
                    .count()
            }
            Err(_) => expected.len(),
        };
        if missing == 0 || tokio::time::Instant::now() >= deadline {
            return missing;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[derive(Default)]
struct Counts {
    created_webhook: u64,
    updated_webhook: u64,
    created_poll: u64,
    updated_poll: u64,
    pushes: u64,
}

impl Counts {
    fn print(&mut self, e: &Event) {
        match e {
            Event::Order {
                connector,
                external_number,
                external_id,
                created,
                status,
                source,
                total,
                currency,
                lines,
                customer,
                country,
                allocations,
                ..
            } => {
                let via = match source {
                    crate::store::Source::Webhook => "webhook",
                    crate::store::Source::Poll => "poll",
                };
                match (created, via) {
                    (true, "webhook") => self.created_webhook += 1,
                    (false, "webhook") => self.updated_webhook += 1,
                    (true, _) => self.created_poll += 1,
                    (false, _) => self.updated_poll += 1,
                }
                println!(
                    "{:<9} {:<10} {:<7} {:<8} {:<8} {:<16} {:>5}  {:<16} {} {}",
                    chrono::Local::now().format("%H:%M:%S"),
                    connector,
                    external_number.as_deref().unwrap_or(external_id),
                    if *created { "new" } else { "updated" },
                    via,
                    status.as_str(),
                    lines,
                    format!("{currency} {total}"),
                    country.as_deref().unwrap_or("--"),
                    customer.as_deref().unwrap_or(""),
                );
                if !allocations.is_empty() {
                    println!(
                        "{:<9} {:<10} {:<7} routed: {}",
                        "",
                        "",
                        "",
                        allocations.join(", ")
                    );
                } else if *status == chansync_sdk::model::OrderStatus::NeedsAttention && *created {
                    println!(
                        "{:<9} {:<10} {:<7} waiting: not enough stock at an eligible location",
                        "", "", ""
                    );
                }
            }
            Event::Pushed {
                connector,
                kind,
                items,
            } => {
                self.pushes += 1;
                println!(
                    "{:<9} {:<10} pushed {kind} to the channel: {}",
                    chrono::Local::now().format("%H:%M:%S"),
                    connector,
                    items.join(", ")
                );
            }
            Event::PushDead {
                connector,
                kind,
                key,
                error,
            } => {
                println!(
                    "{:<9} {:<10} push of {kind} {key} dead-lettered: {error}",
                    chrono::Local::now().format("%H:%M:%S"),
                    connector
                );
            }
            Event::WebhookRejected {
                connector,
                status,
                reason,
            } => {
                println!(
                    "{:<9} {:<10} webhook refused with {status}: {reason}",
                    chrono::Local::now().format("%H:%M:%S"),
                    connector
                );
            }
            Event::PollDone { .. } => {}
        }
        let _ = std::io::stdout().flush();
    }
}

/// Writes `DIR/chansync.toml` (and its secrets beside it) for the demo.
fn write_config(
    dir: &Path,
    daemon: std::net::SocketAddr,
    shop: &chansync_shopify::sim::SimHandle,
) -> Result<PathBuf, Failure> {
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets).context("cannot create the secrets directory")?;
    let token_file = secrets.join(format!("{CONNECTOR}-token"));
    let secret_file = secrets.join(format!("{CONNECTOR}-webhook-secret"));
    write_secret(&token_file, shop.access_token())?;
    write_secret(&secret_file, shop.webhook_secret())?;
    let config = format!(
        r#"# Written by `chansync demo`. Inspect the demo's store with e.g.
#   chansync orders list --config {path}
[store]
url = "sqlite://{db}"

[server]
listen = "{daemon}"

[[connector]]
name = "{CONNECTOR}"
kind = "shopify"
base_url = "{base}"
poll = {{ every = "5s" }}
access_token = {{ file = "{token}" }}
webhook_secret = {{ file = "{secret}" }}
# The shop is shown 90% of what is available, less one unit.
stock = {{ share = 0.9, buffer = 1 }}

# Two warehouses; London ships to the UK and Ireland only.
[[location]]
name = "london-wh"
country = "GB"
priority = 1
ships_to = ["GB", "IE"]

[[location]]
name = "berlin-wh"
country = "DE"
priority = 2

[routing]
allow_split = true
{skus}"#,
        skus = chansync_shopify::sim::catalog_skus()
            .iter()
            .map(|s| format!("\n[[sku]]\nconnector = \"{CONNECTOR}\"\nchannel_sku = \"{s}\"\nmaster_sku = \"{s}\"\n"))
            .collect::<String>(),
        path = dir.join("chansync.toml").display(),
        db = dir.join("chansync.db").display(),
        base = shop.base_url(),
        token = token_file.display(),
        secret = secret_file.display(),
    );
    let path = dir.join("chansync.toml");
    std::fs::write(&path, config).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

fn write_secret(path: &Path, value: &str) -> Result<(), Failure> {
    std::fs::write(path, value).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    Ok(())
}

/// Ships the oldest allocated order every 3 s and restocks a product every
/// 5 s, as a warehouse would, through the same store calls as the commands.
async fn warehouse(store: crate::store::Store, stop: CancellationToken) {
    let mut ship = tokio::time::interval(Duration::from_secs(3));
    let mut restock = tokio::time::interval(Duration::from_secs(5));
    ship.tick().await;
    restock.tick().await;
    let skus = chansync_shopify::sim::catalog_skus();
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ship.tick() => {
                let filter = crate::store::OrderFilter { status: Some(chansync_sdk::model::OrderStatus::Allocated), ..Default::default() };
                let Ok(orders) = store.list_orders(&filter).await else { continue };
                let Some(o) = orders.last() else { continue };
                let Some(loc) = o.allocations.first().map(|a| a.location.clone()) else { continue };
                n += 1;
                let tracking = format!("1Z{:06}DEMO", n);
                let id: i64 = o.id.parse().unwrap_or_default();
                match store.fulfil(id, &loc, Some("UPS"), &tracking, &Default::default()).await {
                    Ok(_) => println!(
                        "{:<9} {:<10} {:<7} shipped from {loc} with tracking {tracking}",
                        chrono::Local::now().format("%H:%M:%S"),
                        o.connector,
                        o.external_number.as_deref().unwrap_or(&o.external_id),
                    ),
                    Err(e) => println!("  could not ship order {id}: {e}"),
                }
            }
            _ = restock.tick() => {
                let sku = skus[(n as usize * 7 + 3) % skus.len()];
                n += 1;
                let loc = if n % 2 == 0 { "london-wh" } else { "berlin-wh" };
                let Ok(view) = store.stock_view(Some(sku)).await else { continue };
                let on_hand = view.first().and_then(|v| v.locations.iter().find(|l| l.location == loc)).map_or(0, |l| l.on_hand);
                if store.set_on_hand(sku, loc, on_hand + 10, None, &crate::store::Actor::new("demo")).await.is_ok() {
                    println!(
                        "{:<9} {:<10} delivery: {sku} at {loc} {on_hand} -> {}",
                        chrono::Local::now().format("%H:%M:%S"),
                        "warehouse",
                        on_hand + 10
                    );
                }
            }
        }
    }
}

//! Crash consistency: the real `chansync run` is killed with SIGKILL at
//! seeded random moments while the Shopify simulator creates, changes and
//! cancels orders (webhooks, some lost, plus the poll) and the merchant
//! ships orders from the command line. After the last restart the store
//! must agree with the channel: every order once and current, every
//! acknowledged webhook applied, every shipment at the channel exactly
//! once, no leaked reservation, and the channel showing what the policy
//! says.
//!
//! `CHANSYNC_CRASH_KILLS` (default 32) and `CHANSYNC_CRASH_SEED` (default 7)
//! make a longer soak by hand, e.g. `CHANSYNC_CRASH_KILLS=500 cargo test
//! --test suite crash:: -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::free_port;
use chansync_shopify::sim::{self, SimConfig};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use sqlx::Row;
use tokio::process::{Child, Command};

fn chansync() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chansync"));
    c.env_remove("CHANSYNC_CONFIG")
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    c
}

async fn run(args: &[&str]) -> std::process::Output {
    chansync().args(args).output().await.unwrap()
}

async fn json_of(args: &[&str]) -> Value {
    let out = run(args).await;
    assert!(
        out.status.success(),
        "chansync {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn env_or(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn start_daemon(config: &str, log: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .unwrap();
    chansync()
        .args(["run", "--config", config])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_loses_nothing_and_doubles_nothing() {
    let kills = env_or("CHANSYNC_CRASH_KILLS", 32);
    let seed = env_or("CHANSYNC_CRASH_SEED", 7);
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let shop = sim::start(
        SimConfig {
            seed,
            generate: false,
            webhook_to: Some(format!("http://127.0.0.1:{port}/webhooks/shop")),
            webhook_loss: 0.05,
            // About crashes, not budgets: at this rate of change a poll that
            // catches up on Shopify's standard budget takes minutes
            // (throttling has its own tests in `intake` and `pushback`).
            throttle: false,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();

    let db = dir.path().join("chansync.db");
    let mut config = format!(
        "[store]\nurl = \"sqlite://{}\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n\
         [[connector]]\nname = \"shop\"\nkind = \"shopify\"\nbase_url = \"{}\"\npoll = {{ every = \"1s\" }}\n\
         access_token = \"{}\"\nwebhook_secret = \"{}\"\n\n\
         [[location]]\nname = \"wh\"\ncountry = \"DE\"\npriority = 1\n\n\
         [outbox]\nmax_attempts = 1000\nfirst_retry = \"50ms\"\nmax_retry = \"500ms\"\n",
        db.display(),
        shop.base_url(),
        shop.access_token(),
        shop.webhook_secret(),
    );
    let skus = sim::catalog_skus();
    for s in &skus {
        config.push_str(&format!(
            "\n[[sku]]\nconnector = \"shop\"\nchannel_sku = \"{s}\"\nmaster_sku = \"{s}\"\n"
        ));
    }
    let config_path = dir.path().join("chansync.toml");
    std::fs::write(&config_path, config).unwrap();
    let config = config_path.to_str().unwrap().to_owned();
    let log = std::env::var("CHANSYNC_CRASH_LOG")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().join("daemon.log"));
    assert!(run(&["migrate", "--config", &config])
        .await
        .status
        .success());
    for s in &skus {
        let out = run(&[
            "stock",
            "set",
            s,
            "--location",
            "wh",
            "--on-hand",
            "400",
            "--config",
            &config,
        ])
        .await;
        assert!(out.status.success());
    }

    // The channel's side: new orders, changes and cancellations, never on
    // an order the merchant has taken to ship (`claimed`).
    let claimed: Arc<Mutex<HashSet<String>>> = Arc::default();
    let driving = tokio_util::sync::CancellationToken::new();
    let driver = {
        let shop = shop.clone();
        let claimed = claimed.clone();
        let stop = driving.clone();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed + 1);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(60));
            while !stop.is_cancelled() {
                tick.tick().await;
                match rng.gen_range(0..10) {
                    0..=4 => {
                        shop.create_orders(1);
                    }
                    choice => {
                        let ids = shop.order_ids();
                        if ids.is_empty() {
                            continue;
                        }
                        let id = ids[rng.gen_range(0..ids.len())];
                        let mut claimed = claimed.lock().unwrap();
                        if claimed.contains(&id.to_string()) {
                            continue;
                        }
                        if choice == 9 {
                            claimed.insert(id.to_string());
                            shop.cancel_order(id);
                        } else {
                            shop.update_order(id);
                        }
                    }
                }
            }
        })
    };

    // The merchant ships orders while the daemon lives and dies.
    let mut shipped: Vec<(String, String)> = Vec::new();
    let mut cancelled: Vec<String> = Vec::new();
    let started = Instant::now();
    for n in 0..kills {
        let mut daemon = start_daemon(&config, &log);
        tokio::time::sleep(Duration::from_millis(rng.gen_range(100..900))).await;
        if rng.gen_bool(0.6) {
            let allocated = json_of(&[
                "orders",
                "list",
                "--status",
                "allocated",
                "--limit",
                "20",
                "--format",
                "json",
                "--config",
                &config,
            ])
            .await;
            let pick = allocated.as_array().unwrap().iter().find(|o| {
                let ext = o["external_id"].as_str().unwrap().to_owned();
                claimed.lock().unwrap().insert(ext)
            });
            if let Some(o) = pick {
                let tracking = format!("CRASH-{seed}-{n}");
                let out = run(&[
                    "orders",
                    "fulfil",
                    o["id"].as_str().unwrap(),
                    "--location",
                    "wh",
                    "--tracking",
                    &tracking,
                    "--config",
                    &config,
                ])
                .await;
                assert!(
                    out.status.success(),
                    "fulfil {o}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                shipped.push((o["external_id"].as_str().unwrap().to_owned(), tracking));
            }
        }
        if rng.gen_bool(0.3) {
            let allocated = json_of(&[
                "orders",
                "list",
                "--status",
                "allocated",
                "--limit",
                "20",
                "--format",
                "json",
                "--config",
                &config,
            ])
            .await;
            let pick = allocated.as_array().unwrap().iter().find(|o| {
                let ext = o["external_id"].as_str().unwrap().to_owned();
                claimed.lock().unwrap().insert(ext)
            });
            if let Some(o) = pick {
                let out = run(&[
                    "orders",
                    "cancel",
                    o["id"].as_str().unwrap(),
                    "--reason",
                    "customer",
                    "--config",
                    &config,
                ])
                .await;
                assert!(
                    out.status.success(),
                    "cancel {o}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                cancelled.push(o["external_id"].as_str().unwrap().to_owned());
            }
        }
        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..400))).await;
        daemon.start_kill().unwrap(); // SIGKILL
        daemon.wait().await.unwrap();
    }
    let killed_for = started.elapsed();
    driving.cancel();
    driver.await.unwrap();

    // The last start: it must converge on the channel by itself.
    let mut daemon = start_daemon(&config, &log);
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let want: BTreeMap<String, String> = shop
            .order_ids()
            .into_iter()
            .map(|id| {
                let o = shop.rest_order(id).unwrap();
                (
                    id.to_string(),
                    o.updated_at.with_timezone(&chrono::Utc).to_rfc3339(),
                )
            })
            .collect();
        let have: BTreeMap<String, String> =
            json_of(&["orders", "list", "--format", "json", "--config", &config])
                .await
                .as_array()
                .unwrap()
                .iter()
                .map(|o| {
                    let at =
                        chrono::DateTime::parse_from_rfc3339(o["updated_at"].as_str().unwrap())
                            .unwrap();
                    (
                        o["external_id"].as_str().unwrap().to_owned(),
                        at.with_timezone(&chrono::Utc).to_rfc3339(),
                    )
                })
                .collect();
        // Pending, or claimed and on the wire (a restarted daemon's first
        // pushes wait for the quota the killed one may have spent).
        let mut pending = Vec::new();
        for state in ["pending", "sending"] {
            let rows = json_of(&[
                "outbox", "list", "--state", state, "--format", "json", "--config", &config,
            ])
            .await;
            pending.extend(rows.as_array().unwrap().iter().cloned());
        }
        let idle = shop.webhooks_idle(Duration::from_millis(10)).await;
        // Every stored webhook applied (the inbox backlog is empty).
        let backlog: i64 = json_of(&["connectors", "--format", "json", "--config", &config])
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["backlog"].as_i64().unwrap_or(0))
            .sum();
        if want == have && pending.is_empty() && idle && backlog == 0 {
            break;
        }
        if Instant::now() >= deadline {
            let differ: Vec<_> = want
                .iter()
                .filter(|(k, v)| have.get(*k) != Some(v))
                .map(|(k, v)| (k.clone(), v.clone(), have.get(k).cloned()))
                .collect();
            eprintln!("differ: {differ:?}");
            eprintln!(
                "connectors: {}",
                json_of(&["connectors", "--format", "json", "--config", &config]).await
            );
        }
        assert!(
            Instant::now() < deadline,
            "no convergence after {kills} kills: {} orders at the channel, {} in the store, {} of them differ; {} pushes pending\n{}",
            want.len(),
            have.len(),
            want.iter().filter(|(k, v)| have.get(*k) != Some(v)).count(),
            pending.len(),
            std::fs::read_to_string(&log).unwrap_or_default().lines().rev().take(30).collect::<Vec<_>>().join("\n")
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    daemon.start_kill().unwrap();
    daemon.wait().await.unwrap();

    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    // Every order once (also a UNIQUE constraint; checked as a user sees it).
    let rows = sqlx::query("SELECT external_id, COUNT(*) AS n FROM orders WHERE connector = 'shop' GROUP BY external_id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert!(rows.iter().all(|r| r.get::<i64, _>("n") == 1));
    assert_eq!(rows.len(), shop.order_ids().len());

    // Every acknowledged webhook applied.
    let done: HashSet<String> =
        sqlx::query("SELECT event_id FROM inbox WHERE connector = 'shop' AND state = 'done'")
            .fetch_all(&pool)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("event_id"))
            .collect();
    let acked = shop.acknowledged_webhooks();
    let lost: Vec<&String> = acked.iter().filter(|id| !done.contains(*id)).collect();
    let mut states = Vec::new();
    for id in &lost {
        let row = sqlx::query("SELECT id, state, error FROM inbox WHERE event_id = $1")
            .bind(id.as_str())
            .fetch_optional(&pool)
            .await
            .unwrap();
        states.push(row.map(|r| {
            (
                r.get::<i64, _>("id"),
                r.get::<String, _>("state"),
                r.get::<Option<String>, _>("error"),
            )
        }));
    }
    assert!(
        lost.is_empty(),
        "acknowledged but not applied: {lost:?}, in the inbox as {states:?}"
    );

    // Every shipment at the channel exactly once.
    let state = shop.state();
    let mut at_channel: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for f in state["fulfillments"].as_array().unwrap() {
        if let Some(t) = f["tracking_number"].as_str() {
            at_channel
                .entry(t.to_owned())
                .or_default()
                .push(f["order_id"].as_str().unwrap().to_owned());
        }
    }
    for (order, tracking) in &shipped {
        assert_eq!(
            at_channel.get(tracking),
            Some(&vec![order.clone()]),
            "shipment {tracking} of order {order} reached the channel once"
        );
    }

    // Every cancellation made here at the channel exactly once.
    for order in &cancelled {
        let times = state["cancellations"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["order_id"] == order.as_str())
            .count();
        assert_eq!(times, 1, "order {order} cancelled at the channel once");
    }

    // No leaked reservation.
    let leaks = sqlx::query(
        "SELECT s.sku, s.location, s.reserved,
                COALESCE((SELECT SUM(a.quantity) FROM allocations a
                          WHERE a.sku = s.sku AND a.location = s.location AND a.state = 'reserved'), 0) AS held
         FROM stock s",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    for r in &leaks {
        assert_eq!(
            r.get::<i64, _>("reserved"),
            r.get::<i64, _>("held"),
            "reserved at {}/{} is what open allocations hold",
            r.get::<String, _>("sku"),
            r.get::<String, _>("location")
        );
    }
    let orphans: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM allocations a JOIN orders o ON o.id = a.order_id
         WHERE a.state = 'reserved' AND o.status IN ('cancelled', 'fulfilled')",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(orphans, 0, "closed orders hold no reservation");

    // The channel shows available stock (share 1, no buffer).
    let stock = shop.stock();
    for r in sqlx::query("SELECT sku, on_hand - reserved - safety AS available FROM stock")
        .fetch_all(&pool)
        .await
        .unwrap()
    {
        let sku: String = r.get("sku");
        let available: i64 = r.get("available");
        assert_eq!(
            stock.get(&sku).copied(),
            Some(available.max(0)),
            "the shop shows {sku} as available"
        );
    }
    pool.close().await;
    let statuses: BTreeSet<String> = rows.iter().map(|r| r.get("external_id")).collect();
    eprintln!(
        "crash: {kills} kills over {killed_for:?}, {} orders, {} webhooks acknowledged, {} shipments, {} cancellations",
        statuses.len(),
        acked.len(),
        shipped.len(),
        cancelled.len()
    );
    assert!(
        shipped.len() >= 5,
        "the run shipped too little to prove much"
    );
    shop.stop();
}

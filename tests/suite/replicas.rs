//! Scale-out: three replicas of the real `chansync run` on one PostgreSQL,
//! behind a load balancer that spreads every request (webhooks included)
//! round-robin, between a Shopify shop, an Amazon seller account, a Square
//! POS and an Odoo warehouse, all enforcing their rate limits. Orders keep
//! coming; Odoo ships what it receives. Mid-run the replica running the most
//! connectors is killed with SIGKILL and its connectors must resume on
//! another within the lease timeout, under a higher fencing token; then
//! another replica is stopped with SIGTERM and hands its connectors over at
//! once. In the end every order is stored once, every push reached its
//! channel once, no reservation leaked, no channel ever answered 429, and
//! stopping the last replica leaves every lease free.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chansync_odoo::sim as odoo;
use chansync_shopify::sim as shopify;
use chansync_square::sim as square;
use serde_json::Value;
use tokio::process::{Child, Command};

use crate::common::free_port;

const TTL: Duration = Duration::from_secs(3);
const CONVERGE: Duration = Duration::from_secs(120);

fn chansync() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chansync"));
    c.env_remove("CHANSYNC_CONFIG")
        .env("NO_COLOR", "1")
        .kill_on_drop(true);
    c
}

async fn json_of(args: &[&str]) -> Value {
    let out = chansync().args(args).output().await.unwrap();
    assert!(
        out.status.success(),
        "chansync {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A load balancer as a sysadmin would put in front: every request to the
/// next replica in turn, the next one tried when a replica refuses the
/// connection, drops it, or answers 502/503 (draining). Bodies and headers
/// pass unchanged.
#[derive(Clone)]
struct Balancer {
    replicas: Arc<Vec<u16>>,
    next: Arc<AtomicUsize>,
    client: reqwest::Client,
    /// Webhooks each replica accepted, by port.
    webhooks: Arc<Mutex<BTreeMap<u16, u64>>>,
}

async fn forward(
    State(lb): State<Balancer>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_owned();
    let first = lb.next.fetch_add(1, Ordering::Relaxed);
    let n = lb.replicas.len();
    for i in 0..2 * n {
        let port = lb.replicas[(first + i) % n];
        let mut req = lb
            .client
            .request(method.clone(), format!("http://127.0.0.1:{port}{path}"))
            .body(body.clone());
        for (k, v) in &headers {
            if k != axum::http::header::HOST && k != axum::http::header::CONTENT_LENGTH {
                req = req.header(k, v);
            }
        }
        let Ok(answer) = req.send().await else {
            continue;
        };
        let status = answer.status();
        if status == StatusCode::BAD_GATEWAY || status == StatusCode::SERVICE_UNAVAILABLE {
            continue;
        }
        let headers = answer.headers().clone();
        let Ok(bytes) = answer.bytes().await else {
            continue;
        };
        if path.starts_with("/webhooks/") && status.is_success() {
            *lb.webhooks.lock().unwrap().entry(port).or_default() += 1;
        }
        let mut out = (status, bytes).into_response();
        for (k, v) in &headers {
            if k != axum::http::header::CONTENT_LENGTH && k != axum::http::header::TRANSFER_ENCODING
            {
                out.headers_mut().insert(k, v.clone());
            }
        }
        return out;
    }
    StatusCode::BAD_GATEWAY.into_response()
}

enum Keep {
    Temp(tempfile::TempDir),
    Dir(std::path::PathBuf),
}

impl Keep {
    fn path(&self) -> &std::path::Path {
        match self {
            Keep::Temp(t) => t.path(),
            Keep::Dir(d) => d,
        }
    }
}

struct Replica {
    port: u16,
    config: String,
    child: Child,
    log: std::path::PathBuf,
}

impl Replica {
    fn start(dir: &std::path::Path, config_text: &str, port: u16) -> Replica {
        let config = dir.join(format!("replica-{port}.toml"));
        std::fs::write(&config, config_text.replace("{PORT}", &port.to_string())).unwrap();
        let log = dir.join(format!("replica-{port}.log"));
        let child = chansync()
            .args(["run", "--config"])
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Replica {
            port,
            config: config.to_str().unwrap().to_owned(),
            child,
            log,
        }
    }

    fn log_tail(&self) -> String {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }
}

/// Each connector's owner: (replica id, token) while a live lease holds it.
async fn owners(config: &str) -> BTreeMap<String, (String, i64)> {
    json_of(&["connectors", "--format", "json", "--config", config])
        .await
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["owner"]["state"] == "held")
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                (
                    c["owner"]["replica"].as_str().unwrap().to_owned(),
                    c["owner"]["token"].as_i64().unwrap(),
                ),
            )
        })
        .collect()
}

/// The replica id (`host:port`) of the replica listening on `port`.
fn holds(owner: &str, port: u16) -> bool {
    owner.ends_with(&format!(":{port}"))
}

fn count_of(owners: &BTreeMap<String, (String, i64)>, port: u16) -> usize {
    owners.values().filter(|(r, _)| holds(r, port)).count()
}

async fn until<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_lose_nothing_when_one_is_killed_and_one_is_stopped() {
    let dir = tempfile::tempdir().unwrap();
    // `CHANSYNC_REPLICAS_KEEP=1` keeps the configs and the replicas' logs.
    let dir = if std::env::var_os("CHANSYNC_REPLICAS_KEEP").is_some() {
        let kept = dir.keep();
        eprintln!("replicas: logs in {}", kept.display());
        Keep::Dir(kept)
    } else {
        Keep::Temp(dir)
    };
    let loopback = "127.0.0.1:0".parse().unwrap();
    let pg = chansync_testpg::server();
    let db_url = pg.create_database();
    let sql = |q: &str| pg.psql(&db_url, q).trim().to_owned();

    // The load balancer, on the replicas' ports (they start later).
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let lb = Balancer {
        replicas: Arc::new(ports.clone()),
        next: Arc::default(),
        client: reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap(),
        webhooks: Arc::default(),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let lb_url = format!("http://{}", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(forward).with_state(lb.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // The channels, each enforcing its limits; webhooks to the balancer.
    let erp = odoo::start(
        odoo::SimConfig {
            auto_ship_after: Some(Duration::from_secs(1)),
            ..Default::default()
        },
        loopback,
    )
    .await
    .unwrap();
    let mut skus: BTreeSet<&str> = shopify::catalog_skus().into_iter().collect();
    skus.extend(
        chansync_amazon::sim::catalog_skus()
            .into_iter()
            .filter(|s| !chansync::cli::AMAZON_BUNDLES.iter().any(|(b, _)| b == s)),
    );
    for s in &skus {
        assert!(erp.set_quant(s, "WH", 500), "Odoo knows {s}");
        erp.set_quant(s, "WH2", 0);
    }
    let pos = square::start(
        square::SimConfig {
            generate: false,
            webhook_to: Some(format!("{lb_url}/webhooks/pos")),
            rate_limit: Some((
                chansync_square::DEFAULT_RATE_LIMIT.per_second,
                chansync_square::DEFAULT_RATE_LIMIT.burst,
            )),
            ..Default::default()
        },
        loopback,
    )
    .await
    .unwrap();
    let store_loc = square::location_ids()[0];
    for s in square::catalog_skus() {
        assert!(pos.set_count(s, store_loc, 1000));
    }
    let shop = shopify::start(
        shopify::SimConfig {
            generate: false,
            webhook_to: Some(format!("{lb_url}/webhooks/shop")),
            bucket_size: 2000.0,
            restore_rate: 100.0,
            ..Default::default()
        },
        loopback,
    )
    .await
    .unwrap();
    // Amazon's usage plans, five times faster (the connector is told the
    // same plans), so that a test run sees several polls and feeds.
    let amazon = chansync_amazon::sim::start(
        chansync_amazon::sim::SimConfig {
            generate: false,
            rate_scale: 5.0,
            feed_queue_time: Duration::from_millis(200),
            feed_processing_time: Duration::from_millis(200),
            ..Default::default()
        },
        loopback,
    )
    .await
    .unwrap();
    let plans = chansync::cli::inline_table(&amazon.rate_limits());
    let az = amazon.credentials();

    let creds = erp.credentials();
    let mut config = format!(
        r#"[store]
url = "{db_url}"
max_connections = 4
lease_ttl = "{ttl}s"

[server]
listen = "127.0.0.1:{{PORT}}"

[[connector]]
name = "shop"
kind = "shopify"
base_url = "{shop_url}"
poll = {{ every = "2s" }}
access_token = "{shop_token}"
webhook_secret = "{shop_secret}"

[[connector]]
name = "amazon"
kind = "amazon"
base_url = "{az_url}"
poll = {{ every = "2s" }}
lwa_endpoint = "{lwa}"
client_id = "{client_id}"
client_secret = "{client_secret}"
refresh_token = "{refresh_token}"
seller_id = "{seller_id}"
marketplace_ids = {marketplaces}
feed_poll_every = "500ms"
rate_limits = {plans}

[[connector]]
name = "pos"
kind = "square"
base_url = "{pos_url}"
poll = {{ every = "2s" }}
access_token = "{pos_token}"
webhook_secret = "{pos_key}"
webhook_url = "{lb_url}/webhooks/pos"
location_ids = ["{store_loc}"]

[[connector]]
name = "erp"
kind = "odoo"
base_url = "{erp_url}"
poll = {{ every = "1s" }}
access_token = "{erp_key}"
database = "{database}"
login = "{login}"
warehouses = ["WH"]
shipment_lag = "0s"
rate_limit = {{ per_second = 100, burst = 50 }}

[[location]]
name = "main-wh"
country = "DE"
priority = 1
source = {{ connector = "erp", location = "WH" }}

[[location]]
name = "store"
country = "US"
priority = 2
ships_to = ["US"]
source = {{ connector = "pos", location = "{store_loc}" }}

[routing]
allow_split = true

[outbox]
first_retry = "100ms"
max_retry = "2s"
"#,
        ttl = TTL.as_secs(),
        shop_url = shop.base_url(),
        shop_token = shop.access_token(),
        shop_secret = shop.webhook_secret(),
        az_url = amazon.base_url(),
        lwa = amazon.lwa_endpoint(),
        client_id = az["client_id"].as_str().unwrap(),
        client_secret = az["client_secret"].as_str().unwrap(),
        refresh_token = az["refresh_token"].as_str().unwrap(),
        seller_id = az["seller_id"].as_str().unwrap(),
        marketplaces = az["marketplace_ids"],
        pos_url = pos.base_url(),
        pos_token = pos.access_token(),
        pos_key = pos.signature_key(),
        erp_url = erp.base_url(),
        erp_key = creds["api_key"].as_str().unwrap(),
        database = creds["database"].as_str().unwrap(),
        login = creds["login"].as_str().unwrap(),
    );
    config.push_str(&chansync::cli::sim_sku_tables("shop", "amazon"));

    // The replicas: one config, each with its own listen port.
    let first = dir.path().join("migrate.toml");
    std::fs::write(&first, config.replace("{PORT}", &ports[0].to_string())).unwrap();
    let migrated = chansync()
        .args(["migrate", "--config"])
        .arg(&first)
        .status()
        .await
        .unwrap();
    assert!(migrated.success());
    let mut replicas: Vec<Replica> = ports
        .iter()
        .map(|p| Replica::start(dir.path(), &config, *p))
        .collect();
    let cli = replicas[0].config.clone();
    for r in &replicas {
        let url = format!("http://127.0.0.1:{}/readyz", r.port);
        until("every replica ready", Duration::from_secs(30), || async {
            let ok = reqwest::get(&url)
                .await
                .is_ok_and(|a| a.status().is_success());
            ok.then_some(())
        })
        .await;
    }
    // Every connector runs somewhere, and no replica runs more than its
    // share, ceil(4 / 3).
    until(
        "the connectors spread over the replicas",
        Duration::from_secs(20),
        || async {
            let o = owners(&cli).await;
            (o.len() == 4 && ports.iter().all(|p| count_of(&o, *p) <= 2)).then_some(())
        },
    )
    .await;

    // The channels' side: new orders everywhere, all the time.
    let driving = tokio_util::sync::CancellationToken::new();
    let driver = {
        let (shop, pos, amazon, stop) =
            (shop.clone(), pos.clone(), amazon.clone(), driving.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(250));
            let mut n = 0u64;
            while !stop.is_cancelled() {
                tick.tick().await;
                n += 1;
                shop.create_orders(1);
                if n % 2 == 0 {
                    pos.create_sale(1);
                }
                if n % 4 == 0 {
                    amazon.create_orders(1);
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_secs(4)).await;

    // SIGKILL the replica running the most connectors.
    let before = owners(&cli).await;
    let victim = (0..3)
        .max_by_key(|i| count_of(&before, replicas[*i].port))
        .unwrap();
    let victim_port = replicas[victim].port;
    let lost: BTreeMap<String, i64> = before
        .iter()
        .filter(|(_, (r, _))| holds(r, victim_port))
        .map(|(c, (_, t))| (c.clone(), *t))
        .collect();
    assert!(!lost.is_empty(), "the victim runs something: {before:?}");
    replicas[victim].child.start_kill().unwrap();
    let killed_at = Instant::now();
    replicas[victim].child.wait().await.unwrap();
    let taken = until(
        "the killed replica's connectors resume elsewhere",
        TTL * 3,
        || async {
            let o = owners(&cli).await;
            lost.iter()
                .all(|(c, t)| {
                    o.get(c)
                        .is_some_and(|(r, token)| !holds(r, victim_port) && token > t)
                })
                .then_some(o)
        },
    )
    .await;
    let takeover = killed_at.elapsed();
    // Not before the lease ran out (last renewed at most a fifth of a lease
    // before the kill), and within the lease plus one renewal round and the
    // time it takes to look.
    assert!(
        takeover >= TTL * 3 / 5,
        "taken before the lease expired: {takeover:?}"
    );
    assert!(
        takeover <= TTL + TTL / 5 + Duration::from_secs(1),
        "took {takeover:?} for a lease of {TTL:?}"
    );
    eprintln!("replicas: SIGKILL takeover of {lost:?} in {takeover:?}: {taken:?}");
    tokio::time::sleep(Duration::from_secs(3)).await;

    // SIGTERM the survivor running more: it hands its connectors over now.
    let before = owners(&cli).await;
    let alive: Vec<usize> = (0..3).filter(|i| *i != victim).collect();
    let stopped = *alive
        .iter()
        .max_by_key(|i| count_of(&before, replicas[**i].port))
        .unwrap();
    let last = *alive.iter().find(|i| **i != stopped).unwrap();
    let handed: BTreeMap<String, i64> = before
        .iter()
        .filter(|(_, (r, _))| holds(r, replicas[stopped].port))
        .map(|(c, (_, t))| (c.clone(), *t))
        .collect();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &replicas[stopped].child.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let stopped_at = Instant::now();
    let last_port = replicas[last].port;
    until("the stopped replica's connectors move", TTL * 3, || async {
        let o = owners(&cli).await;
        handed
            .iter()
            .all(|(c, t)| {
                o.get(c)
                    .is_some_and(|(r, token)| holds(r, last_port) && token > t)
            })
            .then_some(())
    })
    .await;
    let handover = stopped_at.elapsed();
    assert!(
        handover < TTL,
        "a clean stop hands over without waiting for expiry: {handover:?}"
    );
    eprintln!("replicas: SIGTERM handover of {handed:?} in {handover:?}");
    let exit = tokio::time::timeout(Duration::from_secs(30), replicas[stopped].child.wait())
        .await
        .expect("the stopped replica exits")
        .unwrap();
    assert_eq!(exit.code(), Some(0), "{}", replicas[stopped].log_tail());

    tokio::time::sleep(Duration::from_secs(2)).await;
    driving.cancel();
    driver.await.unwrap();

    // The last replica converges on every channel.
    let orders = |connector: &'static str| {
        let cli = cli.clone();
        async move {
            json_of(&[
                "orders",
                "list",
                "--connector",
                connector,
                "--limit",
                "100000",
                "--format",
                "json",
                "--config",
                &cli,
            ])
            .await
            .as_array()
            .unwrap()
            .clone()
        }
    };
    let ids = |orders: &[Value]| -> BTreeSet<String> {
        orders
            .iter()
            .map(|o| o["external_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let deadline = Instant::now() + CONVERGE;
    let (stored, pickings) = loop {
        let want_shop: BTreeSet<String> = shop.order_ids().iter().map(u64::to_string).collect();
        // Only the store's sales: the account's other locations are not
        // this merchant's chansync's.
        let want_pos: BTreeSet<String> = pos
            .order_ids()
            .into_iter()
            .filter(|id| pos.order_json(id).unwrap()["location_id"] == store_loc)
            .collect();
        let want_az: BTreeSet<String> = amazon.order_ids().into_iter().collect();
        let stored: BTreeMap<&str, Vec<Value>> = BTreeMap::from([
            ("shop", orders("shop").await),
            ("pos", orders("pos").await),
            ("amazon", orders("amazon").await),
        ]);
        let unsent = sql("SELECT COUNT(*) FROM outbox WHERE state IN ('pending', 'sending')");
        let unapplied = sql("SELECT COUNT(*) FROM inbox WHERE state = 'pending'");
        let erp_state = erp.state();
        let pickings = erp_state["pickings"].as_array().unwrap().clone();
        let shipping = pickings.iter().filter(|p| p["state"] != "done").count();
        let shop_state = shop.state();
        let az_state = amazon.state();
        let shipped_to = |tracking: &str| {
            shop_state["fulfillments"]
                .as_array()
                .unwrap()
                .iter()
                .chain(az_state["fulfillments"].as_array().unwrap())
                .any(|f| f["tracking_number"] == tracking)
        };
        let unconfirmed = pickings
            .iter()
            .filter(|p| !p["tracking"].as_str().is_some_and(shipped_to))
            .count();
        let done = ids(&stored["shop"]) == want_shop
            && ids(&stored["pos"]) == want_pos
            && ids(&stored["amazon"]) == want_az
            && unsent == "0"
            && unapplied == "0"
            && shipping == 0
            && unconfirmed == 0;
        if done {
            break (stored, pickings);
        }
        if Instant::now() >= deadline {
            for (name, want) in [
                ("shop", &want_shop),
                ("pos", &want_pos),
                ("amazon", &want_az),
            ] {
                let have = ids(&stored[name]);
                let missing: Vec<&String> = want.difference(&have).take(5).collect();
                eprintln!("replicas: {name} orders not stored: {missing:?}");
                if name == "pos" {
                    for id in missing {
                        eprintln!("  {}", pos.order_json(id).unwrap());
                    }
                }
            }
            eprintln!(
                "replicas: outbox {}",
                sql("SELECT connector, kind, state, attempts, last_error FROM outbox WHERE state IN ('pending', 'sending') LIMIT 10")
            );
        }
        assert!(
            Instant::now() < deadline,
            "no convergence: shop {}/{}, pos {}/{}, amazon {}/{} stored; {unsent} pushes unsent, \
             {unapplied} webhooks unapplied, {shipping} deliveries unshipped, {unconfirmed} \
             shipments not at their channel\n{}",
            ids(&stored["shop"]).len(),
            want_shop.len(),
            ids(&stored["pos"]).len(),
            want_pos.len(),
            ids(&stored["amazon"]).len(),
            want_az.len(),
            replicas[last].log_tail()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    };

    eprintln!(
        "replicas: converged with {} Shopify, {} Square and {} Amazon orders",
        stored["shop"].len(),
        stored["pos"].len(),
        stored["amazon"].len()
    );

    // Every order once.
    let dupes = sql(
        "SELECT connector, external_id FROM orders GROUP BY connector, external_id HAVING COUNT(*) > 1",
    );
    assert_eq!(dupes, "", "orders stored twice");
    let by_id: BTreeMap<String, &Value> = stored
        .values()
        .flatten()
        .map(|o| (o["id"].as_str().unwrap().to_owned(), o))
        .collect();

    // Every push once: each order routed to the warehouse is one sale order
    // in Odoo, and each of Odoo's shipments reached its channel once.
    let sales = erp.sale_orders();
    let mut refs: BTreeMap<String, usize> = BTreeMap::new();
    for s in &sales {
        *refs
            .entry(s["client_order_ref"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert!(
        refs.values().all(|n| *n == 1),
        "an order sent to Odoo twice: {refs:?}"
    );
    // Routed to the warehouse and paid for (an unpaid order waits).
    let routed: BTreeSet<String> = by_id
        .values()
        .filter(|o| o["payment_status"] != "pending")
        .filter(|o| {
            o["allocations"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["location"] == "main-wh")
        })
        .map(|o| format!("chansync-{}", o["id"].as_str().unwrap()))
        .collect();
    let in_odoo: BTreeSet<String> = refs.keys().cloned().collect();
    let differ: Vec<&Value> = in_odoo
        .symmetric_difference(&routed)
        .map(|r| by_id[r.trim_start_matches("chansync-")])
        .collect();
    assert!(
        differ.is_empty(),
        "Odoo has a sale order for exactly the orders routed to its warehouse: {differ:#?}"
    );
    assert!(routed.len() > 20, "enough went through: {}", routed.len());
    let shop_state = shop.state();
    let az_state = amazon.state();
    let name_to_ref: BTreeMap<&str, &str> = sales
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap(),
                s["client_order_ref"].as_str().unwrap(),
            )
        })
        .collect();
    for p in &pickings {
        let tracking = p["tracking"].as_str().unwrap();
        let reference = name_to_ref[p["origin"].as_str().unwrap()];
        let order = by_id[reference.trim_start_matches("chansync-")];
        let state = match order["connector"].as_str().unwrap() {
            "shop" => &shop_state,
            "amazon" => &az_state,
            other => panic!("a shipment for a {other} order"),
        };
        let times = state["fulfillments"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["tracking_number"] == tracking)
            .count();
        assert_eq!(
            times, 1,
            "shipment {tracking} of {} reached its channel once",
            order["external_id"]
        );
    }
    let dead = sql("SELECT COUNT(*) FROM outbox WHERE state = 'dead'");
    assert_eq!(dead, "0", "no push gave up");

    // No leaked reservation.
    let leaks = sql("SELECT s.sku, s.location, s.reserved FROM stock s
         WHERE s.reserved <> COALESCE((SELECT SUM(a.quantity) FROM allocations a
               WHERE a.sku = s.sku AND a.location = s.location AND a.state = 'reserved'), 0)");
    assert_eq!(leaks, "", "reserved is what open allocations hold");
    let orphans = sql(
        "SELECT COUNT(*) FROM allocations a JOIN orders o ON o.id = a.order_id
         WHERE a.state = 'reserved' AND o.status IN ('cancelled', 'fulfilled')",
    );
    assert_eq!(orphans, "0", "closed orders hold no reservation");

    // Within every channel's limits throughout, failovers included.
    for (name, state) in [
        ("Shopify", shop.state()),
        ("Amazon", amazon.state()),
        ("Square", pos.state()),
        ("Odoo", erp.state()),
    ] {
        let c = &state["counts"];
        // 429s, and Shopify's GraphQL THROTTLED answers.
        let throttled = c["http_429"].as_u64().unwrap() + c["throttled"].as_u64().unwrap_or(0);
        assert_eq!(throttled, 0, "{name} said we were too fast: {c}");
        assert!(c["requests"].as_u64().unwrap() > 0, "{name} was used: {c}");
    }

    // Webhooks reached more than one replica.
    let spread = lb.webhooks.lock().unwrap().clone();
    assert!(
        spread.values().filter(|n| **n > 0).count() >= 2,
        "webhooks spread over the replicas: {spread:?}"
    );

    // The last replica stops cleanly and leaves every lease free.
    let term = std::process::Command::new("kill")
        .args(["-TERM", &replicas[last].child.id().unwrap().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), replicas[last].child.wait())
        .await
        .expect("the last replica exits")
        .unwrap();
    assert_eq!(exit.code(), Some(0), "{}", replicas[last].log_tail());
    let held = sql("SELECT connector FROM leases WHERE holder IS NOT NULL");
    let leases = sql("SELECT COUNT(*) FROM leases");
    assert_eq!(held, "", "every lease given back");
    assert_eq!(leases, "4", "one lease per connector");
    shop.stop();
    pos.stop();
    erp.stop();
    amazon.stop();
}

//! The whole merchant through the real binary: `chansync run` between a
//! Shopify shop, an Amazon seller account (`chansync simulate amazon`, on
//! Amazon's default usage plans), a Square POS and an Odoo warehouse. An
//! Amazon order ships from the Odoo warehouse and Amazon records the
//! shipment with its tracking; an in-store sale lowers what Shopify and
//! Amazon publish; no simulator ever answers 429.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::free_port;
use chansync_odoo::sim as odoo;
use chansync_shopify::sim as shopify;
use chansync_square::sim as square;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(90);

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn chansync() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chansync"));
    c.env_remove("CHANSYNC_CONFIG").env("NO_COLOR", "1");
    c
}

fn json_of(args: &[&str]) -> Value {
    let out = chansync().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "chansync {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

async fn get_json(url: &str) -> Value {
    reqwest::get(url).await.unwrap().json().await.unwrap()
}

/// Polls `probe` until it returns `Some`, or fails with `what`.
async fn until<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_amazon_order_ships_from_odoo_and_a_store_sale_lowers_every_marketplace() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let daemon_url = format!("http://127.0.0.1:{port}");
    let loopback = "127.0.0.1:0".parse().unwrap();

    // Odoo runs the warehouse; every product has 40 units in it.
    let erp = odoo::start(odoo::SimConfig::default(), loopback)
        .await
        .unwrap();
    let mut skus: BTreeSet<&str> = shopify::catalog_skus().into_iter().collect();
    skus.extend(
        chansync_amazon::sim::catalog_skus()
            .into_iter()
            .filter(|s| !chansync::cli::AMAZON_BUNDLES.iter().any(|(b, _)| b == s)),
    );
    for s in &skus {
        assert!(erp.set_quant(s, "WH", 40), "Odoo knows {s}");
        erp.set_quant(s, "WH2", 0);
    }
    // One store, 20 of everything Square sells.
    let pos = square::start(
        square::SimConfig {
            generate: false,
            webhook_to: Some(format!("{daemon_url}/webhooks/pos")),
            ..Default::default()
        },
        loopback,
    )
    .await
    .unwrap();
    let store_loc = square::location_ids()[0];
    for s in square::catalog_skus() {
        assert!(pos.set_count(s, store_loc, 20));
    }
    // The shop, on Shopify's standard GraphQL budget.
    let shop = shopify::start(
        shopify::SimConfig {
            generate: false,
            webhook_to: Some(format!("{daemon_url}/webhooks/shop")),
            bucket_size: 2000.0,
            restore_rate: 100.0,
            ..Default::default()
        },
        loopback,
    )
    .await
    .unwrap();
    // Amazon, as `chansync simulate amazon` runs it: Amazon's usage plans.
    let mut amazon = Killed(
        chansync()
            .args(["simulate", "amazon", "--orders", "6", "--seed", "11"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut first = String::new();
    BufReader::new(amazon.0.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let az: Value = serde_json::from_str(&first).expect("simulate amazon prints its JSON first");
    let az_state = az["state_url"].as_str().unwrap().to_owned();
    assert_eq!(
        get_json(&az_state).await["rate_limits"]["getOrders"]["per_second"],
        0.0167,
        "Amazon's default usage plan: {az}"
    );

    let creds = erp.credentials();
    let mut config = format!(
        r#"[store]
url = "sqlite://{db}"

[server]
listen = "127.0.0.1:{port}"

[[connector]]
name = "shop"
kind = "shopify"
base_url = "{shop_url}"
poll = {{ every = "3s" }}
access_token = "{shop_token}"
webhook_secret = "{shop_secret}"

[[connector]]
name = "amazon"
kind = "amazon"
base_url = "{az_url}"
poll = {{ every = "3s" }}
lwa_endpoint = "{lwa}"
client_id = "{client_id}"
client_secret = "{client_secret}"
refresh_token = "{refresh_token}"
seller_id = "{seller_id}"
marketplace_ids = {marketplaces}
feed_poll_every = "1s"

[[connector]]
name = "pos"
kind = "square"
base_url = "{pos_url}"
poll = {{ every = "3s" }}
access_token = "{pos_token}"
webhook_secret = "{pos_key}"
webhook_url = "{daemon_url}/webhooks/pos"
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
"#,
        db = dir.path().join("chansync.db").display(),
        shop_url = shop.base_url(),
        shop_token = shop.access_token(),
        shop_secret = shop.webhook_secret(),
        az_url = az["base_url"].as_str().unwrap(),
        lwa = az["lwa_endpoint"].as_str().unwrap(),
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
    let config_path = dir.path().join("chansync.toml");
    std::fs::write(&config_path, config).unwrap();
    let config = config_path.to_str().unwrap().to_owned();
    let migrated = chansync()
        .args(["migrate", "--config", &config])
        .status()
        .unwrap();
    assert!(migrated.success());
    let mut daemon = Killed(
        chansync()
            .args(["run", "--config", &config])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );

    // Every Amazon order reaches the store; the merchant-fulfilled ones whose
    // payment is authorized are routed to the Odoo warehouse.
    let az_orders = until("Amazon's orders in the store", || async {
        let state = get_json(&az_state).await;
        let held = state["orders"].as_array().unwrap().len();
        let stored = json_of(&[
            "orders",
            "list",
            "--config",
            &config,
            "--connector",
            "amazon",
            "--format",
            "json",
        ]);
        (held == 6 && stored.as_array().unwrap().len() == 6).then_some(stored)
    })
    .await;
    let order = until("an Amazon order allocated to main-wh", || async {
        let stored = json_of(&[
            "orders",
            "list",
            "--config",
            &config,
            "--connector",
            "amazon",
            "--format",
            "json",
        ]);
        stored.as_array().unwrap().iter().find_map(|o| {
            (o["status"] == "allocated"
                && o["payment_status"] != "pending"
                && o["allocations"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|a| a["location"] == "main-wh"))
            .then(|| o.clone())
        })
    })
    .await;
    let amazon_id = order["external_id"].as_str().unwrap().to_owned();
    let reference = format!("chansync-{}", order["id"].as_str().unwrap());
    let sale = until("the sale order in Odoo", || async {
        erp.sale_orders()
            .into_iter()
            .find(|s| s["client_order_ref"] == reference.as_str())
    })
    .await;
    assert_eq!(sale["state"], "sale", "confirmed in Odoo: {sale}");
    // The warehouse ships it; Amazon hears of it with the tracking number.
    assert!(erp.ship(reference.as_str(), "1Z-AMZ-FROM-ODOO"));
    let confirmation = until("Amazon's shipment confirmation", || async {
        let state = get_json(&az_state).await;
        state["fulfillments"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["order_id"] == amazon_id.as_str())
            .cloned()
    })
    .await;
    assert_eq!(
        confirmation["tracking_number"], "1Z-AMZ-FROM-ODOO",
        "{confirmation}"
    );
    let shipped_units: u64 = confirmation["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["quantity"].as_u64().unwrap())
        .sum();
    assert!(shipped_units > 0, "{confirmation}");
    until("the order fulfilled in the store", || async {
        let o = json_of(&[
            "orders",
            "show",
            order["id"].as_str().unwrap(),
            "--config",
            &config,
            "--format",
            "json",
        ]);
        (o["status"] == "fulfilled").then_some(())
    })
    .await;

    // A product in no order, sold in every channel: the store sells one.
    let ordered: BTreeSet<String> = az_orders
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|o| o["lines"].as_array().unwrap().clone())
        .filter_map(|l| l["channel_sku"].as_str().map(str::to_owned))
        .flat_map(|cs| {
            let parts = chansync::cli::AMAZON_BUNDLES
                .iter()
                .find(|(b, _)| *b == cs)
                .map(|(_, p)| p.iter().map(|(s, _)| s.to_string()).collect())
                .unwrap_or_else(|| vec![cs.clone()]);
            parts
        })
        .collect();
    let amazon_skus = chansync_amazon::sim::catalog_skus();
    let candidates: BTreeSet<&str> = square::catalog_skus()
        .into_iter()
        .filter(|s| shopify::catalog_skus().contains(s) && amazon_skus.contains(s))
        .filter(|s| !ordered.contains(*s))
        .collect();
    assert!(!candidates.is_empty());
    // Both marketplaces show the store's 20 plus the warehouse's 40.
    let levels = || async {
        let az = get_json(&az_state).await;
        let amazon: BTreeMap<String, i64> =
            serde_json::from_value(az["stock"].clone()).unwrap_or_default();
        (shop.stock(), amazon)
    };
    until("both marketplaces show 60 of each candidate", || async {
        let (s, a) = levels().await;
        candidates
            .iter()
            .all(|c| s.get(*c) == Some(&60) && a.get(*c) == Some(&60))
            .then_some(())
    })
    .await;
    let before = pos.counts();
    let key = |s: &str| (s.to_owned(), store_loc.to_owned());
    let (sku, left) = (0..100)
        .find_map(|_| {
            pos.create_sale(1);
            let now = pos.counts();
            candidates.iter().find_map(|s| {
                (now.get(&key(s)) < before.get(&key(s))).then(|| (s.to_string(), now[&key(s)]))
            })
        })
        .expect("a hundred sales never touched a candidate");
    assert!(left < 20);
    let want = 40 + left;
    until("both marketplaces lowered after the store sale", || async {
        let (s, a) = levels().await;
        (s.get(&sku) == Some(&want) && a.get(&sku) == Some(&want)).then_some(())
    })
    .await;

    // Within every channel's limits throughout.
    let states = [
        ("Shopify", shop.state()),
        ("Amazon", get_json(&az_state).await),
        ("Square", pos.state()),
        ("Odoo", erp.state()),
    ];
    for (name, state) in &states {
        let c = &state["counts"];
        let throttled = c["http_429"].as_u64().or(c["throttled"].as_u64());
        assert_eq!(throttled, Some(0), "{name} answered 429: {c}");
        assert!(c["requests"].as_u64().unwrap() > 0, "{name} was used: {c}");
    }

    let status = Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(s) = daemon.0.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "the daemon did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let mut log = String::new();
    std::io::Read::read_to_string(daemon.0.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert_eq!(exit.code(), Some(0), "{log}");
    for secret in [
        az["client_secret"].as_str().unwrap(),
        az["refresh_token"].as_str().unwrap(),
        pos.access_token(),
        creds["api_key"].as_str().unwrap(),
    ] {
        assert!(!log.contains(secret), "a secret reached the log");
    }
    shop.stop();
    pos.stop();
    erp.stop();
}

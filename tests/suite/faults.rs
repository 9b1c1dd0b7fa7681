//! Faults from channels: each class of failure a channel can throw
//! (`chansync_sdk::chaos`) is injected at seeded random into the Shopify,
//! Square and Amazon simulators while they create and change orders and the
//! merchant ships some; the daemon must end with every order the channels
//! hold, once and in its current version, and every shipment at its
//! channel exactly once. A channel that is down does not hold up the
//! others, and its connector recovers by itself.
//!
//! `CHANSYNC_FAULT_ROUNDS` (default 12) and `CHANSYNC_OUTAGE_SECS` (default
//! 15) make a longer soak by hand, e.g. `CHANSYNC_FAULT_ROUNDS=200
//! CHANSYNC_OUTAGE_SECS=300 cargo test --release --test suite faults::`.

use std::collections::{BTreeMap, HashSet};
use std::time::{Duration, Instant};

use chansync::store::{OpenMode, OrderFilter, Store};
use chansync_amazon::sim as amazon;
use chansync_sdk::chaos::ChaosPlan;
use chansync_shopify::sim as shopify;
use chansync_square::sim as square;
use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

fn env_or(key: &str, default: u64) -> u64 {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Which channels a run has, and how their connectors are set.
#[derive(Clone, Copy)]
struct Channels {
    shop: bool,
    pos: bool,
    amazon: bool,
    /// Small pages, so that sweeps carry cursors across pages.
    small_pages: bool,
    /// Webhooks from Shopify and Square; without them only polls bring orders.
    webhooks: bool,
}

const ALL: Channels = Channels {
    shop: true,
    pos: true,
    amazon: true,
    small_pages: false,
    webhooks: true,
};

struct Rig {
    shop: Option<shopify::SimHandle>,
    pos: Option<square::SimHandle>,
    amazon: Option<amazon::SimHandle>,
    addr: std::net::SocketAddr,
    config_path: std::path::PathBuf,
    store_url: String,
    shutdown: CancellationToken,
    daemon: JoinHandle<Result<(), chansync::daemon::RunError>>,
    _dir: tempfile::TempDir,
}

impl Rig {
    async fn start(ch: Channels, seed: u64) -> Rig {
        let dir = tempfile::tempdir().unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let here = "127.0.0.1:0".parse().unwrap();
        let mut config = format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[server]\nlisten = \"127.0.0.1:0\"\n\n\
             [[location]]\nname = \"wh\"\ncountry = \"US\"\npriority = 1\n\n\
             [routing]\nallow_split = false\n\n\
             [outbox]\nmax_attempts = 1000\nfirst_retry = \"100ms\"\nmax_retry = \"1s\"\n",
            dir.path().join("chansync.db").display()
        );
        let mut skus = Vec::new();
        let shop = if ch.shop {
            let sim = shopify::start(
                shopify::SimConfig {
                    seed,
                    generate: false,
                    throttle: false,
                    webhook_to: ch.webhooks.then(|| format!("http://{addr}/webhooks/shop")),
                    ..Default::default()
                },
                here,
            )
            .await
            .unwrap();
            config.push_str(&format!(
                "\n[[connector]]\nname = \"shop\"\nkind = \"shopify\"\nbase_url = \"{}\"\n\
                 poll = {{ every = \"2s\" }}\naccess_token = \"{}\"\nwebhook_secret = \"{}\"\n{}",
                sim.base_url(),
                sim.access_token(),
                sim.webhook_secret(),
                if ch.small_pages {
                    "page_size = 3\n"
                } else {
                    ""
                },
            ));
            skus.extend(shopify::catalog_skus().into_iter().map(|s| ("shop", s)));
            Some(sim)
        } else {
            None
        };
        let pos = if ch.pos {
            let sim = square::start(
                square::SimConfig {
                    seed,
                    generate: false,
                    webhook_to: ch.webhooks.then(|| format!("http://{addr}/webhooks/pos")),
                    ..Default::default()
                },
                here,
            )
            .await
            .unwrap();
            config.push_str(&format!(
                "\n[[connector]]\nname = \"pos\"\nkind = \"square\"\nbase_url = \"{}\"\n\
                 poll = {{ every = \"2s\" }}\naccess_token = \"{}\"\nwebhook_secret = \"{}\"\n\
                 webhook_url = \"http://{addr}/webhooks/pos\"\ntimeout = \"1s\"\n{}",
                sim.base_url(),
                sim.access_token(),
                sim.signature_key(),
                if ch.small_pages {
                    "page_size = 2\n"
                } else {
                    ""
                },
            ));
            skus.extend(square::catalog_skus().into_iter().map(|s| ("pos", s)));
            Some(sim)
        } else {
            None
        };
        let amazon = if ch.amazon {
            let sim = amazon::start(
                amazon::SimConfig {
                    seed,
                    generate: false,
                    // Amazon's usage plans sixty times over (see
                    // `amazon_plans_times_60`).
                    rate_scale: 60.0,
                    ..Default::default()
                },
                here,
            )
            .await
            .unwrap();
            let c = sim.credentials();
            config.push_str(&format!(
                "\n[[connector]]\nname = \"amazon\"\nkind = \"amazon\"\nbase_url = \"{}\"\n\
                 poll = {{ every = \"2s\" }}\nlwa_endpoint = \"{}\"\nclient_id = \"{}\"\n\
                 client_secret = \"{}\"\nrefresh_token = \"{}\"\nseller_id = \"{}\"\n\
                 marketplace_ids = {}\ntimeout = \"1s\"\noverlap = \"5s\"\n\
                 {}{}",
                sim.base_url(),
                sim.lwa_endpoint(),
                c["client_id"].as_str().unwrap(),
                c["client_secret"].as_str().unwrap(),
                c["refresh_token"].as_str().unwrap(),
                c["seller_id"].as_str().unwrap(),
                c["marketplace_ids"],
                amazon_plans_times_60(),
                if ch.small_pages {
                    "page_size = 4\n"
                } else {
                    ""
                },
            ));
            skus.extend(amazon::catalog_skus().into_iter().map(|s| ("amazon", s)));
            Some(sim)
        } else {
            None
        };
        for (connector, s) in &skus {
            config.push_str(&format!(
                "\n[[sku]]\nconnector = \"{connector}\"\nchannel_sku = \"{s}\"\nmaster_sku = \"{s}\"\n"
            ));
        }
        let crate::common::Daemon {
            config_path,
            store_url,
            shutdown,
            daemon,
        } = crate::common::start_daemon(dir.path(), &config, listener).await;
        let rig = Rig {
            shop,
            pos,
            amazon,
            addr,
            config_path,
            store_url,
            shutdown,
            daemon,
            _dir: dir,
        };
        let mut master: Vec<&str> = skus.iter().map(|(_, s)| *s).collect();
        master.sort();
        master.dedup();
        for s in master {
            rig.cli(&["stock", "set", s, "--location", "wh", "--on-hand", "100000"])
                .await;
        }
        rig
    }

    fn set_chaos(&self, plan: &ChaosPlan) {
        if let Some(s) = &self.shop {
            s.set_chaos(plan.clone()).unwrap();
        }
        if let Some(s) = &self.pos {
            s.set_chaos(plan.clone()).unwrap();
        }
        if let Some(s) = &self.amazon {
            s.set_chaos(plan.clone()).unwrap();
        }
    }

    /// Faults injected per class, summed over the channels.
    fn injected(&self) -> BTreeMap<String, u64> {
        let mut all = BTreeMap::new();
        let counts = [
            self.shop.as_ref().map(|s| s.chaos_injected()),
            self.pos.as_ref().map(|s| s.chaos_injected()),
            self.amazon.as_ref().map(|s| s.chaos_injected()),
        ];
        for (k, v) in counts.into_iter().flatten().flatten() {
            *all.entry(k).or_insert(0) += v;
        }
        all
    }

    /// Runs the real binary's command against this rig's store.
    async fn cli(&self, args: &[&str]) -> Value {
        let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_chansync"))
            .args(args)
            .args(["--config", self.config_path.to_str().unwrap()])
            .output()
            .await
            .unwrap();
        assert!(
            out.status.success(),
            "chansync {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
    }

    /// The channels' truth: (connector, order id) → last update.
    fn truth(&self) -> BTreeMap<(String, String), DateTime<Utc>> {
        let mut want = BTreeMap::new();
        if let Some(s) = &self.shop {
            for id in s.order_ids() {
                let at = s.rest_order(id).unwrap().updated_at.with_timezone(&Utc);
                want.insert(("shop".to_owned(), id.to_string()), at);
            }
        }
        let mut from_state = |name: &str, state: Value, key: &str| {
            for o in state["orders"].as_array().unwrap() {
                let at = DateTime::parse_from_rfc3339(o[key].as_str().unwrap())
                    .unwrap()
                    .with_timezone(&Utc);
                want.insert((name.to_owned(), o["id"].as_str().unwrap().to_owned()), at);
            }
        };
        if let Some(s) = &self.pos {
            from_state("pos", s.state(), "updated_at");
        }
        if let Some(s) = &self.amazon {
            from_state("amazon", s.state(), "last_update_date");
        }
        want
    }

    async fn store(&self) -> Store {
        Store::open(
            &chansync::store::StoreOptions::new(&self.store_url)
                .synchronous(chansync::config::Synchronous::Normal),
            OpenMode::Existing,
        )
        .await
        .unwrap()
    }

    /// What the store holds: (connector, order id) → (update, copies).
    async fn held(&self) -> BTreeMap<(String, String), (DateTime<Utc>, usize)> {
        let store = self.store().await;
        let orders = store.list_orders(&OrderFilter::default()).await.unwrap();
        store.close().await;
        let mut have: BTreeMap<(String, String), (DateTime<Utc>, usize)> = BTreeMap::new();
        for o in orders {
            let e = have
                .entry((o.connector.clone(), o.external_id.clone()))
                .or_insert((o.updated_at.with_timezone(&Utc), 0));
            e.1 += 1;
        }
        have
    }

    /// Waits until the store holds every order of every channel once, in
    /// its current version, and nothing is left to push.
    async fn converge(&self, timeout: Duration, what: &str) {
        let deadline = Instant::now() + timeout;
        loop {
            let want = self.truth();
            let have = self.held().await;
            let doubled: Vec<_> = have.iter().filter(|(_, (_, n))| *n > 1).collect();
            assert!(
                doubled.is_empty(),
                "{what}: orders stored twice: {doubled:?}"
            );
            let have: BTreeMap<_, _> = have.into_iter().map(|(k, (at, _))| (k, at)).collect();
            let outbox = self.cli(&["outbox", "list", "--format", "json"]).await;
            let pending: Vec<&Value> = outbox
                .as_array()
                .unwrap()
                .iter()
                // `superseded` is final: a newer row for the SKU sent the
                // newest level instead.
                .filter(|e| e["state"] != "done" && e["state"] != "superseded")
                .collect();
            let dead: Vec<&&Value> = pending.iter().filter(|e| e["state"] == "dead").collect();
            assert!(dead.is_empty(), "{what}: pushes given up: {dead:?}");
            if want == have && pending.is_empty() {
                return;
            }
            if Instant::now() > deadline {
                let missing: Vec<_> = want.keys().filter(|k| !have.contains_key(*k)).collect();
                let stale: Vec<_> = want
                    .iter()
                    .filter(|(k, v)| have.get(*k).is_some_and(|h| h != *v))
                    .collect();
                let extra: Vec<_> = have.keys().filter(|k| !want.contains_key(*k)).collect();
                let connectors = self.cli(&["connectors", "--format", "json"]).await;
                panic!(
                    "{what}: no convergence in {timeout:?}: {} orders at the channels, missing {missing:?}, stale {stale:?}, unknown {extra:?}, pending pushes {pending:?}\nconnectors: {connectors}\ninjected: {:?}",
                    want.len(),
                    self.injected()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(30), self.daemon)
            .await
            .expect("the daemon drains in time")
            .expect("daemon task");
        assert!(ended.is_ok(), "the daemon ended cleanly: {ended:?}");
        for s in [
            self.shop.as_ref().map(|s| s as &dyn Stop),
            self.pos.as_ref().map(|s| s as &dyn Stop),
            self.amazon.as_ref().map(|s| s as &dyn Stop),
        ]
        .into_iter()
        .flatten()
        {
            s.stop_sim();
        }
    }
}

/// The connector's `rate_limits`: Amazon's usage plans sixty times over,
/// as the simulator runs them here (`rate_scale`), so that a 429 without
/// `Retry-After` costs a second, not one of Amazon's periods (up to two
/// minutes for createFeed).
fn amazon_plans_times_60() -> String {
    let plans = [
        ("getOrders", 0.0167, 20),
        ("getOrder", 0.5, 30),
        ("getOrderItems", 0.5, 30),
        ("confirmShipment", 2.0, 10),
        ("getListingsItem", 5.0, 10),
        ("patchListingsItem", 5.0, 5),
        ("createFeedDocument", 0.5, 15),
        ("createFeed", 0.0083, 15),
        ("getFeed", 2.0, 15),
        ("getFeedDocument", 0.0222, 10),
    ];
    let entries: Vec<String> = plans
        .iter()
        .map(|(op, rate, burst)| {
            format!("{op} = {{ per_second = {}, burst = {burst} }}", rate * 60.0)
        })
        .collect();
    format!("rate_limits = {{ {} }}\n", entries.join(", "))
}

trait Stop {
    fn stop_sim(&self);
}
impl Stop for shopify::SimHandle {
    fn stop_sim(&self) {
        self.stop()
    }
}
impl Stop for square::SimHandle {
    fn stop_sim(&self) {
        self.stop()
    }
}
impl Stop for amazon::SimHandle {
    fn stop_sim(&self) {
        self.stop()
    }
}

/// Orders one side has taken: the merchant to ship, the channel to cancel
/// or (Square) to ship itself.
/// Neither acts on the other's, as a real shop's staff would not ship an
/// order the customer just cancelled.
#[derive(Default)]
struct Taken {
    shipping: HashSet<String>,
    by_channel: HashSet<String>,
}

/// The channels' side: new orders and changes, a round at a time.
fn channel_round(rig: &Rig, rng: &mut rand_chacha::ChaCha8Rng, taken: &mut Taken) {
    if let Some(s) = &rig.shop {
        s.create_orders(1);
        let ids = s.order_ids();
        s.update_order(ids[rng.gen_range(0..ids.len())]);
        let victim = ids[rng.gen_range(0..ids.len())].to_string();
        if rng.gen_bool(0.1) && !taken.shipping.contains(&victim) {
            taken.by_channel.insert(victim.clone());
            s.cancel_order(victim.parse().unwrap());
        }
    }
    if let Some(s) = &rig.pos {
        if rng.gen_bool(0.5) {
            s.create_online_order(1);
        } else {
            s.create_sale(1);
        }
        let ids = s.order_ids();
        let victim = &ids[rng.gen_range(0..ids.len())];
        if !taken.shipping.contains(victim) {
            taken.by_channel.insert(victim.clone());
            s.update_order(victim);
        }
    }
    if let Some(s) = &rig.amazon {
        s.create_orders(1);
        let ids = s.order_ids();
        s.update_order(&ids[rng.gen_range(0..ids.len())]);
    }
}

/// What was shipped from here: (connector, order id, tracking).
type Shipped = Vec<(String, String, String)>;

/// The merchant ships an allocated order of each channel that takes
/// shipments from here.
async fn ship_some(rig: &Rig, round: u64, shipped: &mut Shipped, taken: &mut Taken) {
    let takes_shipments = [("shop", rig.shop.is_some()), ("pos", rig.pos.is_some())];
    for (connector, _) in takes_shipments.into_iter().filter(|(_, here)| *here) {
        let allocated = rig
            .cli(&[
                "orders",
                "list",
                "--connector",
                connector,
                "--status",
                "allocated",
                "--format",
                "json",
            ])
            .await;
        let pick = allocated.as_array().and_then(|a| {
            a.iter()
                .find(|o| {
                    let ext = o["external_id"].as_str().unwrap();
                    !taken.by_channel.contains(ext) && !taken.shipping.contains(ext)
                })
                .cloned()
        });
        let Some(o) = pick else {
            continue;
        };
        taken
            .shipping
            .insert(o["external_id"].as_str().unwrap().to_owned());
        let tracking = format!("FAULT-{connector}-{round}");
        rig.cli(&[
            "orders",
            "fulfil",
            o["id"].as_str().unwrap(),
            "--location",
            "wh",
            "--tracking",
            &tracking,
        ])
        .await;
        shipped.push((
            connector.to_owned(),
            o["external_id"].as_str().unwrap().to_owned(),
            tracking,
        ));
    }
}

/// Every shipment made here reached its channel exactly once.
fn assert_shipped_once(rig: &Rig, shipped: &Shipped) {
    let shop_state = rig.shop.as_ref().map(|s| s.state());
    for (connector, order, tracking) in shipped {
        match connector.as_str() {
            "shop" => {
                let state = shop_state.as_ref().unwrap();
                let at_channel: Vec<&Value> = state["fulfillments"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|f| f["tracking_number"] == tracking.as_str())
                    .collect();
                assert_eq!(at_channel.len(), 1, "shipment {tracking} at Shopify once");
                assert_eq!(at_channel[0]["order_id"], order.as_str());
            }
            "pos" => {
                let pos = rig.pos.as_ref().unwrap();
                let o = pos.order_json(order).unwrap();
                assert_eq!(
                    o["fulfillments"][0]["shipment_details"]["tracking_number"],
                    tracking.as_str(),
                    "shipment {tracking} on Square order {order} once: {o}"
                );
                let updates = pos.state()["order_updates"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|u| u["order_id"] == order.as_str())
                    .count();
                assert_eq!(updates, 1, "one UpdateOrder applied for {order}");
            }
            _ => unreachable!(),
        }
    }
}

/// Drives the channels and the merchant under `plan`, then checks that the
/// store converged on the channels and every shipment landed once.
async fn converge_under(name: &str, ch: Channels, plan: ChaosPlan, ship: bool) {
    let seed = plan.seed;
    let rounds = env_or("CHANSYNC_FAULT_ROUNDS", 12);
    let rig = Rig::start(ch, seed).await;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    // A few orders before the faults start, so changes have orders to hit.
    let mut taken = Taken::default();
    channel_round(&rig, &mut rng, &mut taken);
    rig.set_chaos(&plan);
    let mut shipped = Shipped::new();
    for round in 0..rounds {
        channel_round(&rig, &mut rng, &mut taken);
        if ship && round % 3 == 2 {
            ship_some(&rig, round, &mut shipped, &mut taken).await;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The faults carry on while the daemon catches up.
    rig.converge(Duration::from_secs(90), name).await;
    let injected = rig.injected();
    assert_shipped_once(&rig, &shipped);
    let total: u64 = injected.values().sum();
    assert!(total > 0, "{name}: the plan injected nothing");
    eprintln!(
        "faults {name}: {} orders converged, {} shipments once, injected {injected:?}",
        rig.truth().len(),
        shipped.len()
    );
    rig.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_errors_before_and_after_the_work_lose_and_double_nothing() {
    let plan = ChaosPlan {
        seed: 101,
        unavailable: 0.15,
        server_error: 0.15,
        ..Default::default()
    };
    converge_under("5xx", ALL, plan, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_with_and_without_retry_after_is_waited_out() {
    let plan = ChaosPlan {
        seed: 102,
        throttle: 0.2,
        throttle_bare: 0.2,
        ..Default::default()
    };
    converge_under("429", ALL, plan, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_slower_than_the_timeout_are_retried_without_doubling() {
    // Shopify's client keeps its own timeout; Square's and Amazon's are
    // set to 1 s in this rig, and the slow answers take 1.5 s.
    let plan = ChaosPlan {
        seed: 103,
        slow: 0.15,
        slow_ms: 1500,
        ..Default::default()
    };
    let ch = Channels { shop: false, ..ALL };
    converge_under("slow", ch, plan, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_reset_mid_answer_are_retried_without_doubling() {
    let plan = ChaosPlan {
        seed: 104,
        reset: 0.25,
        ..Default::default()
    };
    converge_under("reset", ALL, plan, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_and_malformed_bodies_are_retried_without_doubling() {
    let plan = ChaosPlan {
        seed: 105,
        truncate: 0.15,
        malformed: 0.15,
        ..Default::default()
    };
    converge_under("bodies", ALL, plan, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_page_cursors_restart_the_sweep_and_lose_nothing() {
    let plan = ChaosPlan {
        seed: 106,
        // Each refused cursor sends its sweep back to the watermark: at
        // this share most sweeps of a handful of pages still get through.
        expire_cursor: 0.1,
        ..Default::default()
    };
    // Polls only: nothing but the sweeps can bring an order in.
    let ch = Channels {
        shop: false,
        small_pages: true,
        webhooks: false,
        ..ALL
    };
    converge_under("cursors", ch, plan, false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhooks_lost_doubled_and_out_of_order_converge_by_reconciliation() {
    let plan = ChaosPlan {
        seed: 107,
        webhook_loss: 0.2,
        webhook_duplicate: 0.2,
        webhook_delay: 0.2,
        ..Default::default()
    };
    let ch = Channels {
        amazon: false,
        ..ALL
    };
    converge_under("webhooks", ch, plan, true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_down_for_a_while_holds_up_no_other_and_recovers_by_itself() {
    let outage = Duration::from_secs(env_or("CHANSYNC_OUTAGE_SECS", 15));
    let rig = Rig::start(
        Channels {
            amazon: false,
            ..ALL
        },
        108,
    )
    .await;
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(108);
    channel_round(&rig, &mut rng, &mut Taken::default());
    rig.converge(Duration::from_secs(30), "before the outage")
        .await;

    // Square answers nothing but 503 for the whole outage.
    let pos = rig.pos.as_ref().unwrap();
    pos.set_chaos(ChaosPlan {
        unavailable: 1.0,
        ..Default::default()
    })
    .unwrap();
    let shop = rig.shop.as_ref().unwrap();
    let started = Instant::now();
    let client = reqwest::Client::new();
    let mut shop_orders_seen = 0;
    while started.elapsed() < outage {
        let new = shop.create_orders(1);
        pos.create_sale(1);
        // Shopify's orders keep arriving within seconds, and the daemon
        // keeps answering.
        let id = new[0].to_string();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let have = rig.held().await;
            if have.contains_key(&("shop".to_owned(), id.clone())) {
                shop_orders_seen += 1;
                break;
            }
            assert!(
                Instant::now() < deadline,
                "a Shopify order waited on Square's outage"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let health = client
            .get(format!("http://{}/healthz", rig.addr))
            .send()
            .await
            .unwrap();
        assert_eq!(health.status(), 200);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(shop_orders_seen > 0);
    let during = rig.injected()["unavailable"];
    assert!(during > 0, "Square was down");

    // Square comes back: its connector catches up by itself.
    pos.set_chaos(ChaosPlan::default()).unwrap();
    rig.converge(Duration::from_secs(60), "after the outage")
        .await;
    eprintln!(
        "outage: {outage:?} of 503s ({during} requests refused), {shop_orders_seen} Shopify orders taken meanwhile, all converged"
    );
    rig.stop().await;
}

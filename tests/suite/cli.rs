//! The real binary, as a user and a sysadmin run it: the demo, `simulate` and
//! `run` side by side, the inspection commands, bad config and signals.

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{free_port, signal, simulate, Killed};
use rust_decimal::Decimal;
use serde_json::Value;

fn chansync() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chansync"));
    c.env_remove("CHANSYNC_CONFIG").env("NO_COLOR", "1");
    c
}

fn run_ok(args: &[&str]) -> Output {
    let out = chansync().args(args).output().unwrap();
    assert!(
        out.status.success(),
        "chansync {args:?} failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn json_of(args: &[&str]) -> Value {
    let out = run_ok(args);
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "chansync {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn dec(v: &Value) -> Decimal {
    v.as_str()
        .unwrap_or_else(|| panic!("{v} is not a decimal string"))
        .parse()
        .unwrap()
}

/// INTERFACE.md's Order JSON, complete and adding up.
fn assert_complete(o: &Value) {
    for key in [
        "id",
        "connector",
        "channel_kind",
        "external_id",
        "status",
        "payment_status",
        "currency",
        "placed_at",
        "updated_at",
    ] {
        assert!(
            o[key].as_str().is_some_and(|s| !s.is_empty()),
            "{key} missing in {o}"
        );
    }
    let currency = o["currency"].as_str().unwrap();
    assert!(
        currency.len() == 3 && currency.bytes().all(|b| b.is_ascii_uppercase()),
        "{currency}"
    );
    chrono::DateTime::parse_from_rfc3339(o["placed_at"].as_str().unwrap()).unwrap();
    let lines = o["lines"].as_array().unwrap();
    assert!(!lines.is_empty());
    let mut line_sum = Decimal::ZERO;
    for l in lines {
        // A SKU wherever the channel has one; null (never "") for a custom item.
        assert_eq!(
            l["sku"].as_str().is_some(),
            l["channel_sku"].as_str().is_some(),
            "{l}"
        );
        assert_ne!(l["sku"], "", "{l}");
        let qty = l["quantity"].as_u64().unwrap();
        assert!(qty > 0);
        let line_total = dec(&l["unit_price"]) * Decimal::from(qty) - dec(&l["discount"]);
        assert_eq!(line_total, dec(&l["total"]), "line total in {o}");
        line_sum += dec(&l["total"]);
    }
    assert_eq!(
        line_sum,
        dec(&o["subtotal"]),
        "subtotal = Σ line totals in {o}"
    );
    // Tax on top of the prices, or (Amazon's European marketplaces, shops
    // that price with tax) inside them.
    let before_tax = dec(&o["subtotal"]) + dec(&o["shipping_total"]);
    assert!(
        dec(&o["total"]) == before_tax + dec(&o["tax_total"]) || dec(&o["total"]) == before_tax,
        "total = subtotal + shipping (+ tax unless included) in {o}"
    );
    // An in-store sale ships nowhere; every other order has a country.
    let a = &o["shipping_address"];
    if a.is_null() {
        match o["channel_kind"].as_str() {
            Some("square") => assert_eq!(o["status"], "fulfilled", "handed over in the store: {o}"),
            // Amazon shows the address once the payment is authorized: not
            // while pending, nor for an order cancelled before that.
            Some("amazon") => assert!(
                o["payment_status"] == "pending"
                    || (o["payment_status"] == "voided" && o["status"] == "cancelled"),
                "{o}"
            ),
            _ => panic!("only POS sales and pending Amazon orders lack an address: {o}"),
        }
        return;
    }
    let country = a["country_code"].as_str().unwrap();
    assert!(
        country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()),
        "{country}"
    );
    // Amazon shows a street only to sellers with restricted-data access.
    if o["channel_kind"] != "amazon" {
        assert!(a["line1"].as_str().is_some_and(|s| !s.is_empty()), "{o}");
    }
}

#[test]
fn demo_leaves_a_store_the_other_commands_can_read() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("demo");
    let out = chansync()
        .args(["demo", "--seconds", "8", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("summary"), "{stdout}");
    // The summary's table: every channel's orders reached the store, and no
    // simulator answered a 429.
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() == 9 && ["Shopify", "Amazon", "Square", "Odoo"].contains(&w[1]))
        .collect();
    assert_eq!(rows.len(), 4, "a row per simulator: {stdout}");
    for r in &rows {
        assert_eq!(r[5], "0", "no 429 from {}: {stdout}", r[1]);
        if r[1] != "Odoo" {
            assert_eq!(r[3], "0", "nothing missing from {}: {stdout}", r[1]);
        }
    }
    let erp = rows.iter().find(|r| r[1] == "Odoo").unwrap();
    assert!(
        erp[8].parse::<u32>().unwrap() > 0,
        "orders were routed to the Odoo warehouses: {stdout}"
    );

    let config = data.join("chansync.toml");
    let config = config.to_str().unwrap();
    let orders = json_of(&["orders", "list", "--config", config, "--format", "json"]);
    let orders = orders.as_array().unwrap();
    assert!(
        orders.len() >= 5,
        "8 seconds of demo make several orders, got {}",
        orders.len()
    );
    for o in orders {
        assert_complete(o);
    }
    let kinds: std::collections::BTreeSet<_> = orders
        .iter()
        .map(|o| o["channel_kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["amazon", "shopify", "square"].into_iter().collect(),
        "orders from the three selling channels"
    );
    let currencies: std::collections::BTreeSet<_> = orders
        .iter()
        .map(|o| o["currency"].as_str().unwrap())
        .collect();
    assert!(currencies.len() > 1, "several currencies: {currencies:?}");

    let id = orders[0]["id"].as_str().unwrap();
    let shown = json_of(&["orders", "show", id, "--config", config, "--format", "json"]);
    assert_eq!(shown["external_id"], orders[0]["external_id"]);
    let history = shown["history"].as_array().unwrap();
    assert_eq!(history[0]["kind"], "created");

    let table = run_ok(&["orders", "list", "--config", config]);
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(
        table.lines().count() == orders.len() + 1,
        "a header and a row per order:\n{table}"
    );

    let connectors = json_of(&["connectors", "--config", config, "--format", "json"]);
    let connectors = connectors.as_array().unwrap();
    let kinds: Vec<_> = connectors
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["shopify", "amazon", "square", "odoo"]);
    for c in connectors {
        assert_eq!(c["last_poll_ok"], true, "{c}");
    }
    let shop = &connectors[0];
    assert!(shop["capabilities"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c == "webhooks"));
    assert!(shop["cursor"].as_str().is_some_and(|c| c.contains("since")));

    let unknown = chansync()
        .args(["orders", "show", "999999", "--config", config])
        .output()
        .unwrap();
    assert_eq!(unknown.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("999999"));
}

#[test]
fn bad_config_exits_2_naming_file_line_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(
        &path,
        "[store]\nurl = \"sqlite:///tmp/x.db\"\n\n[[connector]]\nname = \"shop\"\nkind = \"shopify\"\nbase_url = \"http://127.0.0.1:1\"\npoll = { every = \"often\" }\naccess_token = \"shpat_secret_value\"\n",
    )
    .unwrap();
    let out = chansync()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("{}:8", path.display())),
        "file and line: {err}"
    );
    assert!(err.contains("poll"), "key: {err}");
    assert!(
        !err.contains("shpat_secret_value"),
        "a secret leaked: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "one readable line: {err}");

    let missing = chansync()
        .args(["check-config", "--config", "/nonexistent/chansync.toml"])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/chansync.toml"));

    std::fs::write(
        &path,
        "[store]\nurl = \"sqlite:///tmp/x.db\"\n\n[[connector]]\nname = \"shop\"\nkind = \"shopify\"\nbase_url = \"http://127.0.0.1:1\"\naccess_token = \"shpat_secret_value\"\n",
    )
    .unwrap();
    let ok = chansync()
        .args(["check-config", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let printed = String::from_utf8_lossy(&ok.stdout);
    assert!(
        printed.contains("shop") && printed.contains("shopify"),
        "{printed}"
    );
    assert!(
        !printed.contains("shpat_secret_value"),
        "a secret leaked: {printed}"
    );
}

fn sigterm(child: &Child) {
    signal(child.id(), "-TERM");
}

fn wait_exit(child: &mut Child, timeout: Duration) -> std::process::ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(Instant::now() < deadline, "did not exit within {timeout:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `chansync simulate shopify` sending its webhooks to a daemon on `port`;
/// returns the process and the JSON it prints first.
fn simulate_shopify(orders: u32, seed: u64, secret: &str, port: u16) -> (Killed, Value) {
    let (orders, seed) = (orders.to_string(), seed.to_string());
    let to = format!("http://127.0.0.1:{port}/webhooks/shop");
    simulate(&[
        "shopify",
        "--orders",
        &orders,
        "--seed",
        &seed,
        "--webhook-secret",
        secret,
        "--webhook-to",
        &to,
    ])
}

fn write_config(dir: &Path, port: u16, sim: &Value, secret: &str) -> String {
    let path = dir.join("chansync.toml");
    std::fs::write(
        &path,
        format!(
            "[store]\nurl = \"sqlite://{db}\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [[connector]]\nname = \"shop\"\nkind = \"shopify\"\nbase_url = \"{base}\"\npoll = {{ every = \"2s\" }}\n\
             access_token = \"{token}\"\nwebhook_secret = \"{secret}\"\n",
            db = dir.join("store/chansync.db").display(),
            base = sim["base_url"].as_str().unwrap(),
            token = sim["access_token"].as_str().unwrap(),
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn run_against_simulate_takes_every_order_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let secret = "whsec_cli_test_3f9a";
    let (mut sim, info) = simulate_shopify(12, 5, secret, port);
    assert_eq!(info["webhook_secret"], secret);
    let config = write_config(dir.path(), port, &info, secret);

    let migrate = run_ok(&["migrate", "--config", &config]);
    assert!(migrate.status.success());
    let mut daemon = Killed(
        chansync()
            .args(["run", "--config", &config])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );

    let state_url = format!("{}/_sim/state", info["base_url"].as_str().unwrap());
    let deadline = Instant::now() + Duration::from_secs(60);
    let orders = loop {
        let orders = json_of(&["orders", "list", "--config", &config, "--format", "json"]);
        let state: Value = reqwest::blocking::get(&state_url).unwrap().json().unwrap();
        let sim_orders = state["orders"].as_array().unwrap();
        let mut want: Vec<(String, String)> = sim_orders
            .iter()
            .map(|o| {
                (
                    o["id"].as_str().unwrap().to_owned(),
                    o["updated_at"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let mut have: Vec<(String, String)> = orders
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                (
                    o["external_id"].as_str().unwrap().to_owned(),
                    o["updated_at"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        want.sort();
        have.sort();
        if sim_orders.len() == 12 && want == have {
            break orders;
        }
        assert!(
            Instant::now() < deadline,
            "never caught up:\n want {want:?}\n have {have:?}"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    for o in orders.as_array().unwrap() {
        assert_complete(o);
    }

    let ready = reqwest::blocking::get(format!("http://127.0.0.1:{port}/readyz")).unwrap();
    assert_eq!(ready.status(), 200);
    let connectors = json_of(&["connectors", "--config", &config, "--format", "json"]);
    assert_eq!(connectors[0]["webhooks_rejected"], 0);
    // The daemon runs the connector: it holds its lease.
    let owner = &connectors[0]["owner"];
    assert_eq!(owner["state"], "held", "{owner}");
    assert_eq!(owner["pid"], daemon.0.id(), "{owner}");
    assert!(
        owner["replica"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{port}")),
        "{owner}"
    );
    let table = chansync()
        .args(["connectors", "--config", &config])
        .output()
        .unwrap();
    let table = String::from_utf8_lossy(&table.stdout);
    assert!(table.lines().next().unwrap().contains("OWNER"), "{table}");
    assert!(table.contains(&format!("pid {}", daemon.0.id())), "{table}");

    sigterm(&daemon.0);
    let status = wait_exit(&mut daemon.0, Duration::from_secs(20));
    let mut log = String::new();
    std::io::Read::read_to_string(daemon.0.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert_eq!(status.code(), Some(0), "SIGTERM drains and exits 0:\n{log}");
    // A clean stop gives the lease back.
    let connectors = json_of(&["connectors", "--config", &config, "--format", "json"]);
    assert_eq!(connectors[0]["owner"]["state"], "released");
    assert!(
        !log.contains(info["access_token"].as_str().unwrap()),
        "the token reached a log line"
    );
    assert!(
        !log.contains(secret),
        "the webhook secret reached a log line"
    );

    sigterm(&sim.0);
    assert!(wait_exit(&mut sim.0, Duration::from_secs(10)).success());
}

#[test]
fn commands_on_a_store_that_does_not_exist_fail_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chansync.toml");
    std::fs::write(
        &path,
        format!(
            "[store]\nurl = \"sqlite://{}\"\n",
            dir.path().join("none/chansync.db").display()
        ),
    )
    .unwrap();
    let out = chansync()
        .args(["orders", "list", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("migrate"), "tells what to do: {err}");

    let migrate = chansync()
        .args(["migrate", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    let list = json_of(&[
        "orders",
        "list",
        "--config",
        path.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(list, serde_json::json!([]));
}

/// INTERFACE.md's push-back commands through the real binaries: `skus
/// import`, `stock set`, `stock show`, `orders fulfil`, `orders cancel` and
/// `outbox list` against `chansync run` and `chansync simulate shopify`.
#[test]
fn stock_and_fulfilments_reach_the_simulator_through_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let secret = "whsec_cli_push_51c0";
    let (mut sim, info) = simulate_shopify(2, 9, secret, port);
    let state_url = format!("{}/_sim/state", info["base_url"].as_str().unwrap());
    let config = write_config(dir.path(), port, &info, secret);
    // The shop sees half of what is available, less one; one warehouse.
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("stock = { share = 0.5, buffer = 1 }\n\n[[location]]\nname = \"leeds\"\ncountry = \"GB\"\npriority = 1\n");
    std::fs::write(&config, text).unwrap();
    run_ok(&["migrate", "--config", &config]);
    let mut daemon = Killed(
        chansync()
            .args(["run", "--config", &config])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );

    let state = || -> Value { reqwest::blocking::get(&state_url).unwrap().json().unwrap() };
    let wait = |what: &str, f: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !f() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    let orders_json = || json_of(&["orders", "list", "--config", &config, "--format", "json"]);
    wait("the two orders", &|| {
        orders_json().as_array().unwrap().len() == 2
    });
    let orders = orders_json();
    let order = &orders.as_array().unwrap()[0];
    let skus: Vec<String> = order["lines"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["sku"].as_str().map(str::to_owned))
        .collect();

    // Map the SKUs by CSV (identity), then stock them.
    let csv = dir.path().join("skus.csv");
    let mut rows = String::from("connector,channel_sku,master_sku,quantity\n");
    for s in &skus {
        rows.push_str(&format!("shop,{s},{s},1\n"));
    }
    std::fs::write(&csv, rows).unwrap();
    run_ok(&["skus", "import", csv.to_str().unwrap(), "--config", &config]);
    for s in &skus {
        run_ok(&[
            "stock",
            "set",
            s,
            "--location",
            "leeds",
            "--on-hand",
            "41",
            "--config",
            &config,
        ]);
    }
    // The order waiting for stock is routed now; the shop gets the levels.
    let id = order["id"].as_str().unwrap().to_owned();
    let show = || {
        json_of(&[
            "orders", "show", &id, "--config", &config, "--format", "json",
        ])
    };
    wait("the order allocated", &|| show()["status"] == "allocated");
    let stock = json_of(&[
        "stock", "show", "--sku", &skus[0], "--config", &config, "--format", "json",
    ]);
    let published = stock[0]["channels"][0]["published"].as_i64().unwrap();
    let reserved = stock[0]["reserved"].as_i64().unwrap();
    assert_eq!(
        published,
        (41 - reserved) / 2 - 1,
        "floor(available × 0.5) − 1: {stock}"
    );
    wait("the published level on the shop", &|| {
        state()["stock"][&skus[0]].as_i64() == Some(published)
    });

    // Ship it: the shop records the tracking number exactly once.
    let out = run_ok(&[
        "orders",
        "fulfil",
        &id,
        "--location",
        "leeds",
        "--carrier",
        "DHL",
        "--tracking",
        "CLI-TRACK-77",
        "--config",
        &config,
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("fulfilled"));
    wait("the fulfilment on the shop", &|| {
        state()["fulfillments"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["tracking_number"] == "CLI-TRACK-77"))
    });
    wait("the order fulfilled", &|| show()["status"] == "fulfilled");
    std::thread::sleep(Duration::from_secs(2));
    let shipped = state()["fulfillments"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["tracking_number"] == "CLI-TRACK-77")
        .count();
    assert_eq!(shipped, 1, "exactly once");
    let again = chansync()
        .args([
            "orders",
            "fulfil",
            &id,
            "--location",
            "leeds",
            "--tracking",
            "CLI-TRACK-77",
            "--config",
            &config,
        ])
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(1),
        "a fulfilled order is not shipped twice"
    );

    // Cancel the other one; the shop hears of it.
    let other = orders.as_array().unwrap()[1]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    run_ok(&[
        "orders", "cancel", &other, "--reason", "customer", "--config", &config,
    ]);
    wait("the cancellation on the shop", &|| {
        state()["cancellations"]
            .as_array()
            .is_some_and(|c| c.len() == 1)
    });
    let outbox = json_of(&["outbox", "list", "--config", &config, "--format", "json"]);
    assert!(
        outbox
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["state"] != "dead"),
        "{outbox}"
    );
    let dead = json_of(&[
        "outbox", "list", "--state", "dead", "--config", &config, "--format", "json",
    ]);
    assert_eq!(dead, serde_json::json!([]));

    sigterm(&daemon.0);
    assert_eq!(
        wait_exit(&mut daemon.0, Duration::from_secs(20)).code(),
        Some(0)
    );
    sigterm(&sim.0);
    let _ = wait_exit(&mut sim.0, Duration::from_secs(10));
}

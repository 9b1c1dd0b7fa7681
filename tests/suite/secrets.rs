//! Known secret values never reach a log line (at debug level, through
//! errors), `/metrics`, the API's refusals, `check-config` or CLI output.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{sign, simulate, Killed};

const TOKEN: &str = "shpat_SECRET_token_0d9c4b";
const WEBHOOK: &str = "whsec_SECRET_hook_7a1e55";
const ADMIN: &str = "adm_SECRET_admin_3f20aa";

fn chansync() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_chansync"));
    c.env_remove("CHANSYNC_CONFIG");
    c
}

fn assert_clean(what: &str, text: &str) {
    for s in [TOKEN, WEBHOOK, ADMIN] {
        assert!(!text.contains(s), "{what} shows a secret:\n{text}");
    }
}

#[test]
fn secrets_stay_out_of_logs_metrics_errors_and_output() {
    let dir = tempfile::tempdir().unwrap();
    // A simulator that accepts another token: every poll is refused.
    let mut sim = chansync()
        .args([
            "simulate",
            "shopify",
            "--orders",
            "1",
            "--access-token",
            "shpat_the_real_one",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(sim.stdout.as_mut().unwrap())
        .read_line(&mut first)
        .unwrap();
    let info: serde_json::Value = serde_json::from_str(&first).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("chansync.toml");
    std::fs::write(dir.path().join("token"), TOKEN).unwrap();
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\nadmin_token = \"{ADMIN}\"\n\n\
             [[connector]]\nname = \"shop\"\nkind = \"shopify\"\nbase_url = \"{}\"\npoll = {{ every = \"1s\" }}\n\
             access_token = {{ file = \"token\" }}\nwebhook_secret = \"{WEBHOOK}\"\n",
            dir.path().join("chansync.db").display(),
            info["base_url"].as_str().unwrap()
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();

    let out = chansync()
        .args(["check-config", "--config", cfg])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_clean("check-config", &String::from_utf8_lossy(&out.stdout));

    let mut daemon = chansync()
        .args(["run", "--config", cfg])
        .env("CHANSYNC_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::blocking::get(format!("{base}/readyz"))
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "the daemon never got ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    // Errors of every kind: refused polls, a bad signature, a malformed body,
    // wrong admin tokens.
    let client = reqwest::blocking::Client::new();
    let hook = client
        .post(format!("{base}/webhooks/shop"))
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Webhook-Id", "s-1")
        .header("X-Shopify-Hmac-Sha256", "AAAA")
        .body("{}")
        .send()
        .unwrap();
    assert_eq!(hook.status(), 401);
    let api = client
        .get(format!("{base}/api/orders"))
        .bearer_auth("adm_wrong")
        .send()
        .unwrap();
    assert_eq!(api.status(), 401);
    assert_clean("an API refusal", &api.text().unwrap());
    std::thread::sleep(Duration::from_secs(3));
    let metrics = client
        .get(format!("{base}/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(metrics.contains("chansync_webhooks_rejected_total"));
    assert_clean("/metrics", &metrics);
    let connectors = chansync()
        .args(["connectors", "--config", cfg, "--format", "json"])
        .output()
        .unwrap();
    let connectors = String::from_utf8_lossy(&connectors.stdout).into_owned();
    assert!(
        connectors.contains("credentials") || connectors.contains("last_error"),
        "{connectors}"
    );
    assert_clean("connectors", &connectors);

    Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(daemon.wait().unwrap().code(), Some(0));
    let mut log = String::new();
    daemon
        .stderr
        .as_mut()
        .unwrap()
        .read_to_string(&mut log)
        .unwrap();
    assert!(
        log.contains("DEBUG") || log.contains("debug"),
        "debug logging was on"
    );
    assert!(
        log.contains("refused") || log.contains("credentials"),
        "the errors were logged:\n{log}"
    );
    assert_clean("the daemon's log", &log);
    let _ = sim.kill();
    let _ = sim.wait();
}

/// `s` form-urlencoded, as it goes in an LWA token request.
fn url_encoded(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `text` without terminal colour codes, which could split a value.
fn without_ansi(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Fails if `text` shows any of `secrets` (by name) as is, base64-encoded
/// or URL-encoded, or the `_SECRET_` marker every made-up secret carries
/// (a truncated or partly masked secret).
fn assert_none_shown(what: &str, text: &str, secrets: &[(&str, &str)]) {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    use base64::Engine;
    let text = without_ansi(text);
    for (name, secret) in secrets {
        for (form, shown) in [
            ("as is", secret.to_string()),
            ("base64", STANDARD_NO_PAD.encode(secret)),
            ("base64url", URL_SAFE_NO_PAD.encode(secret)),
            ("URL-encoded", url_encoded(secret)),
        ] {
            assert!(
                !text.contains(&shown),
                "{what} shows {name} ({form}: {shown}):\n{text}"
            );
        }
    }
    assert!(
        !text.contains("_SECRET_"),
        "{what} shows part of a secret:\n{text}"
    );
}

/// Every connector kind at once, each twice: a connector whose secrets the
/// channel refuses (every poll, stock read and push fails and is logged)
/// and one whose secrets it accepts. Secrets come from literals, files and
/// the environment; webhooks arrive with bad signatures; the admin API gets
/// wrong tokens. None of the secrets shows anywhere.
#[test]
fn no_connector_kind_leaks_its_secrets_on_success_or_failure() {
    // Refused by the simulators.
    const SHOP_BAD_TOKEN: &str = "shpat_SECRET_bad_token_e41a09";
    const SHOP_BAD_HOOK: &str = "whsec_SECRET_bad_hook_77b3c1";
    const AMZ_BAD_CLIENT: &str = "amzn_SECRET_client_2f9d6e";
    const AMZ_BAD_REFRESH: &str = "Atzr|amzn_SECRET_refresh_b80c4a";
    const SQ_BAD_TOKEN: &str = "sq_SECRET_token_5a7e13";
    const SQ_BAD_KEY: &str = "sq_SECRET_sigkey_c39f02";
    const ODOO_BAD_KEY: &str = "odoo_SECRET_key_91d4b7";
    // Accepted: the simulators are told to take these.
    const ADMIN_TOKEN: &str = "adm_SECRET_admin_5c81d2";
    const SHOP_TOKEN: &str = "shpat_SECRET_good_token_3b6f80";
    const SHOP_HOOK: &str = "whsec_SECRET_good_hook_0e25d9";
    const SQ_TOKEN: &str = "sq_SECRET_good_token_d72a14";
    const SQ_KEY: &str = "sq_SECRET_good_sigkey_6c0e8b";
    const ODOO_KEY: &str = "odoo_SECRET_good_key_a5f3c7";
    // Secrets from the environment of each chansync command.
    let env = [
        ("CS_TEST_ADMIN_TOKEN", ADMIN_TOKEN),
        ("CS_TEST_SHOP_BAD_TOKEN", SHOP_BAD_TOKEN),
        ("CS_TEST_SHOP_HOOK", SHOP_HOOK),
        ("CS_TEST_SQ_BAD_KEY", SQ_BAD_KEY),
        ("CS_TEST_SQ_TOKEN", SQ_TOKEN),
    ];

    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let base = format!("http://127.0.0.1:{port}");
    let shop_hooks = format!("{base}/webhooks/shop-good");
    let sq_hooks = format!("{base}/webhooks/sq-good");
    let (_shop_sim, shop) = simulate(&[
        "shopify",
        "--orders",
        "2",
        "--access-token",
        SHOP_TOKEN,
        "--webhook-to",
        &shop_hooks,
        "--webhook-secret",
        SHOP_HOOK,
    ]);
    // Amazon's credentials are its own; they are the accepted secrets here.
    let (_amz_sim, amz) = simulate(&["amazon", "--orders", "2", "--rate-scale", "20"]);
    let (_sq_sim, sq) = simulate(&[
        "square",
        "--orders",
        "2",
        "--access-token",
        SQ_TOKEN,
        "--webhook-to",
        &sq_hooks,
        "--webhook-secret",
        SQ_KEY,
    ]);
    let (_odoo_sim, odoo) = simulate(&["odoo", "--access-token", ODOO_KEY]);
    let s = |v: &serde_json::Value, key: &str| {
        v[key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key} in {v}"))
            .to_owned()
    };
    assert_eq!(s(&shop, "access_token"), SHOP_TOKEN);
    assert_eq!(s(&sq, "access_token"), SQ_TOKEN);
    assert_eq!(s(&sq, "webhook_secret"), SQ_KEY);
    assert_eq!(s(&odoo, "access_token"), ODOO_KEY);
    let amz_client = s(&amz, "client_secret");
    let amz_refresh = s(&amz, "refresh_token");
    let rate_limits = amz["rate_limits"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(op, l)| {
            format!(
                "{op} = {{ per_second = {}, burst = {} }}",
                l["per_second"], l["burst"]
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let store_loc = sq["location_ids"][0].as_str().unwrap().to_owned();
    let other_loc = sq["location_ids"][1].as_str().unwrap().to_owned();
    let secrets: Vec<(&str, &str)> = vec![
        ("the admin token", ADMIN_TOKEN),
        ("shop-bad's access token", SHOP_BAD_TOKEN),
        ("shop-bad's webhook secret", SHOP_BAD_HOOK),
        ("shop-good's access token", SHOP_TOKEN),
        ("shop-good's webhook secret", SHOP_HOOK),
        ("amz-bad's client secret", AMZ_BAD_CLIENT),
        ("amz-bad's refresh token", AMZ_BAD_REFRESH),
        ("amz-good's client secret", &amz_client),
        ("amz-good's refresh token", &amz_refresh),
        ("sq-bad's access token", SQ_BAD_TOKEN),
        ("sq-bad's signature key", SQ_BAD_KEY),
        ("sq-good's access token", SQ_TOKEN),
        ("sq-good's signature key", SQ_KEY),
        ("odoo-bad's API key", ODOO_BAD_KEY),
        ("odoo-good's API key", ODOO_KEY),
    ];

    for (file, secret) in [
        ("shop_token", SHOP_TOKEN),
        ("amz_bad_refresh", AMZ_BAD_REFRESH),
        ("sq_bad_token", SQ_BAD_TOKEN),
        ("odoo_key", ODOO_KEY),
    ] {
        std::fs::write(dir.path().join(file), format!("{secret}\n")).unwrap();
    }
    let config = dir.path().join("chansync.toml");
    let db = dir.path().join("chansync.db");
    std::fs::write(
        &config,
        format!(
            r#"[store]
url = "sqlite://{db}"

[server]
listen = "127.0.0.1:{port}"
admin_token = {{ env = "CS_TEST_ADMIN_TOKEN" }}

[[connector]]
name = "shop-bad"
kind = "shopify"
base_url = "{shop_url}"
poll = {{ every = "1s" }}
access_token = {{ env = "CS_TEST_SHOP_BAD_TOKEN" }}
webhook_secret = "{SHOP_BAD_HOOK}"

[[connector]]
name = "shop-good"
kind = "shopify"
base_url = "{shop_url}"
poll = {{ every = "1s" }}
access_token = {{ file = "shop_token" }}
webhook_secret = {{ env = "CS_TEST_SHOP_HOOK" }}

[[connector]]
name = "amz-bad"
kind = "amazon"
base_url = "{amz_url}"
poll = {{ every = "1s" }}
lwa_endpoint = "{lwa}"
client_id = "{client_id}"
client_secret = "{AMZ_BAD_CLIENT}"
refresh_token = {{ file = "amz_bad_refresh" }}
seller_id = "{seller_id}"
marketplace_ids = {marketplaces}
rate_limits = {{ {rate_limits} }}

[[connector]]
name = "amz-good"
kind = "amazon"
base_url = "{amz_url}"
poll = {{ every = "1s" }}
lwa_endpoint = "{lwa}"
client_id = "{client_id}"
client_secret = {{ env = "CS_TEST_AMZ_CLIENT" }}
refresh_token = "{amz_refresh}"
seller_id = "{seller_id}"
marketplace_ids = {marketplaces}
rate_limits = {{ {rate_limits} }}

[[connector]]
name = "sq-bad"
kind = "square"
base_url = "{sq_url}"
poll = {{ every = "1s" }}
access_token = {{ file = "sq_bad_token" }}
webhook_secret = {{ env = "CS_TEST_SQ_BAD_KEY" }}
webhook_url = "{base}/webhooks/sq-bad"

[[connector]]
name = "sq-good"
kind = "square"
base_url = "{sq_url}"
poll = {{ every = "1s" }}
access_token = {{ env = "CS_TEST_SQ_TOKEN" }}
webhook_secret = "{SQ_KEY}"
webhook_url = "{sq_hooks}"

[[connector]]
name = "odoo-bad"
kind = "odoo"
base_url = "{odoo_url}"
poll = {{ every = "1s" }}
access_token = "{ODOO_BAD_KEY}"
database = "{database}"
login = "{login}"
warehouses = ["WH"]
shipment_lag = "0s"

[[connector]]
name = "odoo-good"
kind = "odoo"
base_url = "{odoo_url}"
poll = {{ every = "1s" }}
access_token = {{ file = "odoo_key" }}
database = "{database}"
login = "{login}"
warehouses = ["WH"]
shipment_lag = "0s"

[[location]]
name = "store"
country = "US"
priority = 1
source = {{ connector = "sq-good", location = "{store_loc}" }}

[[location]]
name = "erp-wh"
country = "DE"
priority = 2
source = {{ connector = "odoo-good", location = "WH" }}

[[location]]
name = "other-store"
country = "US"
priority = 3
source = {{ connector = "sq-bad", location = "{other_loc}" }}

[[location]]
name = "other-wh"
country = "DE"
priority = 4
source = {{ connector = "odoo-bad", location = "WH2" }}
{skus}"#,
            db = db.display(),
            shop_url = s(&shop, "base_url"),
            amz_url = s(&amz, "base_url"),
            lwa = s(&amz, "lwa_endpoint"),
            client_id = s(&amz, "client_id"),
            seller_id = s(&amz, "seller_id"),
            marketplaces = amz["marketplace_ids"],
            sq_url = s(&sq, "base_url"),
            odoo_url = s(&odoo, "base_url"),
            database = s(&odoo, "database"),
            login = s(&odoo, "login"),
            // The refused channels list stock too, so pushes to them fail.
            skus = ["shop-bad", "amz-bad"]
                .iter()
                .flat_map(|c| ["SKU-MUG-1", "SKU-TEE-1"].map(|sku| (c, sku)))
                .map(|(c, sku)| format!(
                    "\n[[sku]]\nconnector = \"{c}\"\nchannel_sku = \"{sku}\"\nmaster_sku = \"{sku}\"\n"
                ))
                .collect::<String>(),
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    // Every chansync command gets the secrets' environment and debug logs.
    let command = |args: &[&str]| {
        let mut c = chansync();
        c.args(args)
            .envs(env)
            .env("CS_TEST_AMZ_CLIENT", &amz_client)
            .env("CHANSYNC_LOG", "debug");
        c
    };
    // What a command printed, on both streams, once checked for secrets.
    let output = |args: &[&str]| {
        let out = command(args).output().unwrap();
        let text = format!(
            "{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert_none_shown(&format!("chansync {}", args[0]), &text, &secrets);
        (out.status.success(), text)
    };

    let (ok, text) = output(&["check-config", "--config", cfg]);
    assert!(ok, "{text}");
    for name in ["shop-bad", "amz-good", "sq-bad", "odoo-good"] {
        assert!(text.contains(name), "{text}");
    }
    // A secret missing from the environment is named, not shown.
    let out = command(&["check-config", "--config", cfg])
        .env_remove("CS_TEST_SQ_TOKEN")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(text.contains("CS_TEST_SQ_TOKEN"), "{text}");
    assert_none_shown("a config error", &text, &secrets);

    let mut daemon = Killed(
        command(&["run", "--config", cfg])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    // Read the log as it comes, so a full pipe never stalls the daemon.
    let mut stderr = daemon.0.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        stderr.read_to_end(&mut bytes).unwrap();
        String::from_utf8_lossy(&bytes).into_owned()
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    while reqwest::blocking::get(format!("{base}/readyz"))
        .map(|r| r.status() != 200)
        .unwrap_or(true)
    {
        assert!(Instant::now() < deadline, "the daemon never got ready");
        std::thread::sleep(Duration::from_millis(100));
    }
    let client = reqwest::blocking::Client::new();
    let check = |what: &str, resp: reqwest::blocking::Response, status: u16| {
        let code = resp.status().as_u16();
        let body = resp.text().unwrap();
        assert_eq!(code, status, "{what}: {body}");
        assert_none_shown(what, &body, &secrets);
        body
    };

    // Webhooks with bad signatures, and one Square signs properly.
    for name in ["shop-bad", "shop-good"] {
        let resp = client
            .post(format!("{base}/webhooks/{name}"))
            .header("X-Shopify-Topic", "orders/create")
            .header("X-Shopify-Webhook-Id", format!("{name}-forged"))
            .header("X-Shopify-Hmac-Sha256", "AAAA")
            .body("{}")
            .send()
            .unwrap();
        check(&format!("{name}'s webhook refusal"), resp, 401);
    }
    let event = |id: &str| {
        serde_json::json!({
            "merchant_id": "MLSECRETS",
            "type": "order.created",
            "event_id": id,
            "created_at": "2026-01-02T03:04:05Z",
            "data": {"type": "order_created", "id": "no-such-order", "object": {"order_created": {
                "order_id": "no-such-order", "version": 1, "location_id": store_loc, "state": "OPEN"
            }}},
        })
        .to_string()
    };
    let square_hook = |name: &str, body: String, signature: String| {
        client
            .post(format!("{base}/webhooks/{name}"))
            .header("x-square-hmacsha256-signature", signature)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .unwrap()
    };
    for name in ["sq-bad", "sq-good"] {
        let body = event(&format!("{name}-forged"));
        // Signed over the body alone, or with another key: both refused.
        let resp = square_hook(name, body.clone(), sign(SQ_KEY, body.as_bytes()));
        check(&format!("{name}'s webhook refusal"), resp, 401);
        let url = format!("{base}/webhooks/{name}");
        let signature = sign("sq_wrong_key", format!("{url}{body}").as_bytes());
        let resp = square_hook(name, body, signature);
        check(&format!("{name}'s webhook refusal"), resp, 401);
    }
    let body = event("sq-good-signed");
    let signature = sign(SQ_KEY, format!("{sq_hooks}{body}").as_bytes());
    check(
        "sq-good's signed webhook",
        square_hook("sq-good", body, signature),
        200,
    );

    // The admin API: no token, wrong ones, one a secret too long.
    let too_long = format!("{ADMIN_TOKEN}x");
    for bearer in [None, Some("adm_wrong"), Some(too_long.as_str())] {
        let mut req = client.get(format!("{base}/api/connectors"));
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        check("an API refusal", req.send().unwrap(), 401);
    }
    let api = |path: &str| {
        let resp = client
            .get(format!("{base}/api/{path}"))
            .bearer_auth(ADMIN_TOKEN)
            .send()
            .unwrap();
        let body = check(&format!("GET /api/{path}"), resp, 200);
        serde_json::from_str::<serde_json::Value>(&body).unwrap()
    };

    // Until every refused connector has failed a poll and every accepted one
    // has polled fine, and orders came in from the accepted channels.
    loop {
        let connectors = api("connectors");
        let ok = |name: &str| {
            connectors
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["name"] == name)
                .and_then(|c| c["last_poll_ok"].as_bool())
        };
        let orders = api("orders");
        let has_orders = |name: &str| {
            orders
                .as_array()
                .unwrap()
                .iter()
                .any(|o| o["connector"] == name)
        };
        let bad = ["shop-bad", "amz-bad", "sq-bad", "odoo-bad"];
        let good = ["shop-good", "amz-good", "sq-good", "odoo-good"];
        if bad.iter().all(|c| ok(c) == Some(false))
            && good.iter().all(|c| ok(c) == Some(true))
            && ["shop-good", "sq-good"].iter().all(|c| has_orders(c))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the polls never settled: {connectors:#}\n{orders:#}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
    // A second sweep of everything: cached tokens, retried pushes.
    std::thread::sleep(Duration::from_secs(2));
    api("stock");
    api("outbox");

    let metrics = client.get(format!("{base}/metrics")).send().unwrap();
    let metrics = check("/metrics", metrics, 200);
    assert!(
        metrics.contains("chansync_webhooks_rejected_total"),
        "{metrics}"
    );
    let (ok, connectors) = output(&["connectors", "--config", cfg, "--format", "json"]);
    assert!(
        ok && connectors.contains("refused the credentials"),
        "{connectors}"
    );
    let (ok, orders) = output(&["orders", "list", "--config", cfg, "--format", "json"]);
    assert!(ok && orders.contains("sq-good"), "{orders}");
    for args in [
        &["stock", "show", "--config", cfg][..],
        &["outbox", "list", "--config", cfg][..],
        &["check-config", "--config", cfg][..],
    ] {
        let (ok, text) = output(args);
        assert!(ok, "{text}");
    }

    Command::new("kill")
        .args(["-TERM", &daemon.0.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(daemon.0.wait().unwrap().code(), Some(0));
    let log = without_ansi(&log.join().unwrap());
    assert!(log.contains("DEBUG"), "debug logging was on:\n{log}");
    // Not vacuous: each refused connector's failures are in the log.
    for name in ["shop-bad", "amz-bad", "sq-bad", "odoo-bad"] {
        assert!(
            log.lines().any(|l| l.contains(name)
                && (l.contains("WARN") || l.contains("ERROR"))
                && l.contains("refused the credentials")),
            "{name}'s refused credentials were not logged:\n{log}"
        );
    }
    assert_none_shown("the daemon's log", &log, &secrets);
}

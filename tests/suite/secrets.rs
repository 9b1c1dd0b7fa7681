//! Known secret values never reach a log line (at debug level, through
//! errors), `/metrics`, the API's refusals, `check-config` or CLI output.

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

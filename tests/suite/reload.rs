//! `systemctl reload chansync`: the real binary re-reads its config on
//! SIGHUP. Connectors added, removed and changed take effect without a
//! restart; a bad file is refused and the running config carries on. The
//! daemon tells a fake systemd RELOADING then READY around each reload.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{free_port, manual_shop, signal};
use chansync_shopify::sim::{self, SimHandle};
use serde_json::Value;
use tokio::net::UnixDatagram;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const TOKEN: &str = "reload-admin-token-5";

fn connector(name: &str, sim: &SimHandle, stock: &str) -> String {
    format!(
        "[[connector]]\nname = \"{name}\"\nkind = \"shopify\"\nbase_url = \"{}\"\npoll = {{ every = \"1s\" }}\n\
         access_token = \"{}\"\nstock = {stock}\n\n",
        sim.base_url(),
        sim.access_token()
    )
}

fn config(dir: &Path, port: u16, sku: &str, connectors: &[(&str, &SimHandle, &str)]) -> String {
    let mut c = format!(
        "[store]\nurl = \"sqlite://{}\"\n\n[server]\nlisten = \"127.0.0.1:{port}\"\nadmin_token = \"{TOKEN}\"\n\n\
         [[location]]\nname = \"leeds\"\ncountry = \"GB\"\npriority = 1\n\n",
        dir.join("chansync.db").display()
    );
    for (name, sim, stock) in connectors {
        c.push_str(&connector(name, sim, stock));
        c.push_str(&format!(
            "[[sku]]\nconnector = \"{name}\"\nchannel_sku = \"{sku}\"\nmaster_sku = \"{sku}\"\n\n"
        ));
    }
    c
}

/// What the fake systemd hears, one datagram per message.
struct Systemd {
    rx: mpsc::UnboundedReceiver<String>,
    heard: Vec<String>,
}

impl Systemd {
    fn listen(path: &Path) -> Systemd {
        let sock = UnixDatagram::bind(path).unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            while let Ok(n) = sock.recv(&mut buf).await {
                if tx
                    .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                    .is_err()
                {
                    return;
                }
            }
        });
        Systemd {
            rx,
            heard: Vec::new(),
        }
    }

    /// Waits for a message `pred` accepts, skipping watchdog-only pings.
    async fn expect(&mut self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let m = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("systemd never heard {what}; heard {:?}", self.heard))
                .expect("notify socket open");
            self.heard.push(m.clone());
            if pred(&m) {
                return m;
            }
        }
    }
}

async fn eventually<T>(what: &str, mut f: impl AsyncFnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

struct Api {
    base: String,
    http: reqwest::Client,
}

impl Api {
    async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    async fn order_ids(&self, connector: &str) -> Vec<String> {
        let orders = self
            .get(&format!("/api/orders?connector={connector}&limit=1000"))
            .await;
        let mut ids: Vec<String> = orders
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["external_id"].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    }

    async fn connector_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .get("/api/connectors")
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    }
}

fn sim_ids(sim: &SimHandle) -> Vec<String> {
    let mut ids: Vec<String> = sim.order_ids().iter().map(|id| id.to_string()).collect();
    ids.sort();
    ids
}

fn hup(child: &Child) {
    signal(child.id().unwrap(), "-HUP");
}

fn log_lines(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("log line is not JSON ({e}): {l}"))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_adds_removes_and_changes_connectors_and_refuses_a_bad_file() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (manual_shop().await, manual_shop().await);
    let sku = sim::catalog_skus()[0];
    let port = free_port();
    let path = dir.path().join("chansync.toml");
    std::fs::write(
        &path,
        config(dir.path(), port, sku, &[("shop", &a, "{ buffer = 0 }")]),
    )
    .unwrap();
    let mut systemd = Systemd::listen(&dir.path().join("notify.sock"));
    let log = dir.path().join("chansync.log");
    let mut child = Command::new(env!("CARGO_BIN_EXE_chansync"))
        .args(["--log-format", "json", "run", "--config"])
        .arg(&path)
        .env("NOTIFY_SOCKET", dir.path().join("notify.sock"))
        .env_remove("CHANSYNC_LOG")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    systemd.expect("READY=1", |m| m.contains("READY=1")).await;
    let api = Api {
        base: format!("http://127.0.0.1:{port}"),
        http: reqwest::Client::new(),
    };

    // The first config: one shop, shown everything available.
    a.create_orders(2);
    eventually("shop's orders", async || {
        (api.order_ids("shop").await == sim_ids(&a)).then_some(())
    })
    .await;
    let set = Command::new(env!("CARGO_BIN_EXE_chansync"))
        .args([
            "stock",
            "set",
            sku,
            "--location",
            "leeds",
            "--on-hand",
            "10",
            "--config",
        ])
        .arg(&path)
        .output()
        .await
        .unwrap();
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    eventually("10 on shop", async || {
        (a.stock().get(sku) == Some(&10)).then_some(())
    })
    .await;

    // Reload 1: shop removed, shop2 added at half of what is available.
    std::fs::write(
        &path,
        config(dir.path(), port, sku, &[("shop2", &b, "{ share = 0.5 }")]),
    )
    .unwrap();
    hup(&child);
    systemd
        .expect("RELOADING=1", |m| {
            m.contains("RELOADING=1") && m.contains("MONOTONIC_USEC=")
        })
        .await;
    let ready = systemd.expect("READY=1", |m| m.contains("READY=1")).await;
    assert!(
        ready.contains("added: shop2") && ready.contains("removed: shop"),
        "{ready}"
    );
    assert_eq!(api.connector_names().await, ["shop2"]);
    b.create_orders(3);
    eventually("shop2's orders", async || {
        (api.order_ids("shop2").await == sim_ids(&b)).then_some(())
    })
    .await;
    eventually("shop2 shown half of 10", async || {
        (b.stock().get(sku) == Some(&5)).then_some(())
    })
    .await;
    // The removed shop is neither polled nor accepts webhooks any more.
    a.create_orders(1);
    let hook = api
        .http
        .post(format!("{}/webhooks/shop", api.base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(hook.status(), 404);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(api.order_ids("shop").await.len(), 2, "shop is still polled");

    // Reload 2: shop2 changed to a fifth; its level follows.
    std::fs::write(
        &path,
        config(dir.path(), port, sku, &[("shop2", &b, "{ share = 0.2 }")]),
    )
    .unwrap();
    hup(&child);
    let ready = systemd.expect("READY=1", |m| m.contains("READY=1")).await;
    assert!(ready.contains("changed: shop2"), "{ready}");
    eventually("shop2 shown a fifth of 10", async || {
        (b.stock().get(sku) == Some(&2)).then_some(())
    })
    .await;

    // Reload 3: a broken file is refused, naming file, line and key; the
    // running config carries on.
    let good = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, good.replace("poll = {", "pol = {")).unwrap();
    hup(&child);
    let ready = systemd.expect("READY=1", |m| m.contains("READY=1")).await;
    assert!(
        ready.contains("reload rejected") && ready.contains(&format!("{}:", path.display())),
        "{ready}"
    );
    b.create_orders(2);
    eventually("shop2 still polled", async || {
        (api.order_ids("shop2").await == sim_ids(&b)).then_some(())
    })
    .await;
    assert!(child.try_wait().unwrap().is_none(), "the daemon exited");

    signal(child.id().unwrap(), "-TERM");
    let status = tokio::time::timeout(Duration::from_secs(60), child.wait())
        .await
        .expect("the daemon stops on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");

    // The log: JSON lines with stable fields for each reload.
    let lines = log_lines(&log);
    let reloaded: Vec<&Value> = lines
        .iter()
        .filter(|l| l["message"] == "config reloaded")
        .collect();
    assert_eq!(reloaded.len(), 2, "{lines:?}");
    assert_eq!(reloaded[0]["level"], "INFO");
    let rejected = lines
        .iter()
        .find(|l| l["message"] == "reload rejected; the previous config keeps running")
        .expect("the refused reload is logged");
    assert_eq!(rejected["level"], "ERROR");
    assert!(
        rejected["error"].as_str().unwrap().contains("pol"),
        "{rejected}"
    );
    for name in ["shop", "shop2"] {
        assert!(
            lines
                .iter()
                .any(|l| l["message"] == "connector started" && l["connector"] == name),
            "no start logged for {name}"
        );
    }
    assert!(lines
        .iter()
        .any(|l| l["message"] == "connector stopped" && l["connector"] == "shop"));
}

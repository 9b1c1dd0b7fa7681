//! `GET /metrics`: OpenMetrics text with the counters and gauges a sysadmin
//! alerts on, moving as orders and webhooks flow — on a test daemon, and
//! scraped from the real binary during `chansync demo`.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::{post_webhook, sign, signal, Harness, Intake, Setup};

/// One parsed exposition: family name → type, and every sample.
#[derive(Debug, Default)]
struct Exposition {
    types: BTreeMap<String, String>,
    samples: Vec<(String, BTreeMap<String, String>, f64)>,
}

impl Exposition {
    /// Parses the text format strictly enough that a malformed line fails.
    fn parse(text: &str) -> Exposition {
        let mut e = Exposition::default();
        assert!(text.ends_with("# EOF\n"), "no # EOF at the end:\n{text}");
        for line in text.lines() {
            if line == "# EOF" {
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
                assert!(
                    e.types.insert(name.into(), kind.into()).is_none(),
                    "{name} declared twice"
                );
                continue;
            }
            if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let value: f64 = value
                .parse()
                .unwrap_or_else(|_| panic!("bad value: {line}"));
            let (name, labels) = match series.split_once('{') {
                None => (series.to_owned(), BTreeMap::new()),
                Some((name, rest)) => {
                    let body = rest.strip_suffix('}').expect("closing brace");
                    let labels = body
                        .split(',')
                        .filter(|p| !p.is_empty())
                        .map(|p| {
                            let (k, v) = p.split_once('=').expect("label=value");
                            (k.to_owned(), v.trim_matches('"').to_owned())
                        })
                        .collect();
                    (name.to_owned(), labels)
                }
            };
            assert!(
                name.starts_with("chansync_"),
                "every metric is prefixed: {line}"
            );
            e.samples.push((name, labels, value));
        }
        e
    }

    /// The family a sample belongs to, by the suffixes OpenMetrics adds.
    fn family_of<'a>(&self, sample: &'a str) -> Option<&'a str> {
        let candidates = [
            sample,
            sample.strip_suffix("_total").unwrap_or(""),
            sample.strip_suffix("_bucket").unwrap_or(""),
            sample.strip_suffix("_count").unwrap_or(""),
            sample.strip_suffix("_sum").unwrap_or(""),
            sample.strip_suffix("_created").unwrap_or(""),
        ];
        candidates.into_iter().find(|c| self.types.contains_key(*c))
    }

    fn kind(&self, family: &str) -> &str {
        self.types
            .get(family)
            .unwrap_or_else(|| panic!("{family} is not exposed; have {:?}", self.types.keys()))
    }

    fn get(&self, name: &str, want: &[(&str, &str)]) -> Option<f64> {
        self.samples
            .iter()
            .find(|(n, l, _)| {
                n == name
                    && want
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| *v)
    }

    fn sum(&self, name: &str, want: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|(n, l, _)| {
                n == name
                    && want
                        .iter()
                        .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|(_, _, v)| *v)
            .sum()
    }

    fn connectors_of(&self, name: &str) -> BTreeSet<String> {
        self.samples
            .iter()
            .filter(|(n, _, _)| n == name)
            .filter_map(|(_, l, _)| l.get("connector").cloned())
            .collect()
    }

    /// Every sample has a declared family; counters end in `_total`.
    fn check_conventions(&self) {
        for (name, _, value) in &self.samples {
            let family = self
                .family_of(name)
                .unwrap_or_else(|| panic!("{name} has no # TYPE"));
            match self.kind(family) {
                "counter" => {
                    assert!(
                        name.ends_with("_total") || name.ends_with("_created"),
                        "{name}"
                    );
                    assert!(*value >= 0.0, "{name} = {value}");
                }
                "gauge" => assert!(
                    !name.ends_with("_total"),
                    "a gauge named like a counter: {name}"
                ),
                "histogram" | "info" => {}
                other => panic!("{name}: unexpected type {other}"),
            }
        }
    }
}

/// The store transactions whose latency is recorded.
const STORE_OPS: [&str; 4] = [
    "apply_page",
    "inbox_complete",
    "outbox_claim",
    "outbox_done",
];

async fn scrape(addr: &str) -> Exposition {
    let resp = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    Exposition::parse(&resp.text().await.unwrap())
}

#[tokio::test]
async fn metrics_count_orders_rejections_and_show_backlogs() {
    let h = Harness::start(Setup::new(Intake::Both)).await;
    h.sim.create_orders(4);
    h.converge(Duration::from_secs(30)).await;
    let body = b"{}".to_vec();
    let (status, _) = post_webhook(
        &h.webhook_url(),
        "orders/create",
        "m-1",
        &sign("wrong", &body),
        body,
    )
    .await;
    assert_eq!(status, 401);

    let m = scrape(&h.addr.to_string()).await;
    m.check_conventions();
    let shop = [("connector", "shop")];
    assert!(
        m.sum("chansync_orders_ingested_total", &shop) >= 4.0,
        "4 orders ingested: {m:?}"
    );
    assert_eq!(
        m.get(
            "chansync_webhooks_rejected_total",
            &[("connector", "shop"), ("reason", "signature")]
        ),
        Some(1.0)
    );
    // Every state is there for every connector, zero included.
    for state in ["pending", "done", "rejected", "failed"] {
        assert!(
            m.get(
                "chansync_inbox_rows",
                &[("connector", "shop"), ("state", state)]
            )
            .is_some(),
            "inbox {state}"
        );
    }
    assert_eq!(
        m.get(
            "chansync_inbox_rows",
            &[("connector", "shop"), ("state", "pending")]
        ),
        Some(0.0)
    );
    assert_eq!(
        m.get(
            "chansync_outbox_rows",
            &[("connector", "shop"), ("state", "dead")]
        ),
        Some(0.0)
    );
    assert!(m.get("chansync_channel_requests_total", &shop).unwrap() >= 1.0);
    // Converged just now: the store is seconds behind the shop, not more.
    let lag = m.get("chansync_poll_lag_seconds", &shop).unwrap();
    assert!((0.0..10.0).contains(&lag), "poll lag {lag}");
    h.stop().await.unwrap();
}

/// The real binary's demo, scraped while it runs: every metric the issue of
/// running chansync for real names, for each of the demo's four channels.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_run_exposes_every_metric() {
    let mut demo = tokio::process::Command::new(env!("CARGO_BIN_EXE_chansync"))
        .args(["demo", "--seconds", "120", "--listen", "127.0.0.1:0"])
        .env_remove("CHANSYNC_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // The demo names its daemon's address in its header; the rest of its
    // output is drained so that it never blocks on a full pipe.
    let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
    let stdout = demo.stdout.take().unwrap();
    tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut addr_tx = Some(addr_tx);
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(rest) = line.trim().strip_prefix("chansync daemon") {
                let url = rest.split_whitespace().next().unwrap_or("");
                if let Some(tx) = addr_tx.take() {
                    let _ = tx.send(url.trim_start_matches("http://").to_owned());
                }
            }
        }
    });
    let addr = tokio::time::timeout(Duration::from_secs(30), addr_rx)
        .await
        .expect("the demo prints its daemon's address")
        .expect("the demo prints its daemon's address");
    let channels = ["amazon", "erp", "pos", "shop"];
    let polled = ["amazon", "erp", "pos", "shop"];

    // Wait until orders flowed in from the three selling channels, by poll
    // and by webhook, pushes went out, every poller caught up once and the
    // store timed each kind of transaction.
    let deadline = Instant::now() + Duration::from_secs(45);
    let m = loop {
        if let Ok(Ok(resp)) = tokio::time::timeout(
            Duration::from_secs(2),
            reqwest::get(format!("http://{addr}/metrics")),
        )
        .await
        {
            let m = Exposition::parse(&resp.text().await.unwrap());
            let flowing = ["amazon", "pos", "shop"]
                .iter()
                .all(|c| m.sum("chansync_orders_ingested_total", &[("connector", c)]) > 0.0)
                && m.sum("chansync_stock_levels_pushed_total", &[]) > 0.0
                && m.sum("chansync_push_attempts_total", &[("outcome", "ok")]) > 0.0
                && m.sum("chansync_orders_ingested_total", &[("path", "webhook")]) > 0.0
                && polled.iter().all(|c| {
                    m.get("chansync_poll_lag_seconds", &[("connector", c)])
                        .is_some()
                })
                && STORE_OPS.iter().all(|op| {
                    m.get(
                        "chansync_store_transaction_duration_seconds_count",
                        &[("op", op)],
                    )
                    .is_some_and(|n| n > 0.0)
                });
            if flowing {
                break m;
            }
            assert!(Instant::now() < deadline, "the demo never got going: {m:?}");
        } else {
            assert!(
                Instant::now() < deadline,
                "no /metrics on the demo's daemon"
            );
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    // A forged Shopify webhook: the verification failure is counted.
    let body = b"{\"id\":1}".to_vec();
    let (status, _) = post_webhook(
        &format!("http://{addr}/webhooks/shop"),
        "orders/create",
        "forged-1",
        &sign("not-the-secret", &body),
        body,
    )
    .await;
    assert_eq!(status, 401);
    let m = {
        let after = scrape(&addr).await;
        assert!(
            after.sum("chansync_orders_ingested_total", &[])
                >= m.sum("chansync_orders_ingested_total", &[])
        );
        after
    };
    m.check_conventions();

    let kinds = [
        ("chansync_build_info", "gauge"),
        ("chansync_orders_ingested", "counter"),
        ("chansync_webhooks_rejected", "counter"),
        ("chansync_inbox_rows", "gauge"),
        ("chansync_inbox_oldest_pending_age_seconds", "gauge"),
        ("chansync_outbox_rows", "gauge"),
        ("chansync_outbox_oldest_pending_age_seconds", "gauge"),
        ("chansync_push_attempts", "counter"),
        ("chansync_stock_levels_pushed", "counter"),
        ("chansync_rate_limiter_waits", "counter"),
        ("chansync_rate_limiter_pauses", "counter"),
        ("chansync_rate_limiter_paused_seconds", "gauge"),
        ("chansync_rate_limit_requests_per_second", "gauge"),
        ("chansync_channel_throttled", "counter"),
        ("chansync_channel_requests", "counter"),
        ("chansync_poll_lag_seconds", "gauge"),
        ("chansync_poll_last_success_timestamp_seconds", "gauge"),
        ("chansync_store_transaction_duration_seconds", "histogram"),
        ("chansync_lease_held", "gauge"),
        ("chansync_lease_changes", "counter"),
    ];
    for (family, kind) in kinds {
        assert_eq!(m.kind(family), kind, "{family}");
    }
    let all: BTreeSet<String> = channels.iter().map(|c| c.to_string()).collect();
    for per_connector in [
        "chansync_inbox_rows",
        "chansync_inbox_oldest_pending_age_seconds",
        "chansync_outbox_rows",
        "chansync_outbox_oldest_pending_age_seconds",
        "chansync_channel_requests_total",
        "chansync_channel_throttled_total",
        "chansync_rate_limiter_waits_total",
        "chansync_rate_limit_requests_per_second",
        "chansync_lease_held",
        "chansync_lease_changes_total",
    ] {
        assert_eq!(m.connectors_of(per_connector), all, "{per_connector}");
    }
    // One daemon on a SQLite file runs every connector: it took each lease once.
    for c in &all {
        assert_eq!(
            m.sum("chansync_lease_held", &[("connector", c)]),
            1.0,
            "{c}"
        );
        assert_eq!(
            m.sum(
                "chansync_lease_changes_total",
                &[("connector", c), ("change", "acquired")]
            ),
            1.0,
            "{c}"
        );
    }
    let polled: BTreeSet<String> = polled.iter().map(|c| c.to_string()).collect();
    assert_eq!(m.connectors_of("chansync_poll_lag_seconds"), polled);
    assert_eq!(
        m.connectors_of("chansync_poll_last_success_timestamp_seconds"),
        polled
    );
    // Orders by both paths: the shop and the POS send webhooks and are polled.
    assert!(m.sum("chansync_orders_ingested_total", &[("path", "webhook")]) > 0.0);
    assert!(m.sum("chansync_orders_ingested_total", &[("path", "poll")]) > 0.0);
    assert_eq!(
        m.get(
            "chansync_webhooks_rejected_total",
            &[("connector", "shop"), ("reason", "signature")]
        ),
        Some(1.0)
    );
    // The demo keeps within every channel's limits.
    assert_eq!(m.sum("chansync_channel_throttled_total", &[]), 0.0);
    assert!(m.sum("chansync_channel_requests_total", &[]) > 10.0);
    // The store's latency, recorded for each operation.
    for op in STORE_OPS {
        let n = m
            .get(
                "chansync_store_transaction_duration_seconds_count",
                &[("op", op)],
            )
            .unwrap_or(0.0);
        assert!(n > 0.0, "no store timing for {op}");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    for c in &polled {
        let t = m
            .get(
                "chansync_poll_last_success_timestamp_seconds",
                &[("connector", c)],
            )
            .unwrap();
        assert!((now - 60.0..=now + 1.0).contains(&t), "{c}: {t} vs {now}");
        let lag = m
            .get("chansync_poll_lag_seconds", &[("connector", c)])
            .unwrap();
        assert!(lag < 30.0, "{c} lags {lag}s");
    }

    // Ctrl-C: the demo stops, checks that nothing was lost, and says so.
    signal(demo.id().unwrap(), "-INT");
    let out = tokio::time::timeout(Duration::from_secs(90), demo.wait())
        .await
        .expect("the demo ends")
        .unwrap();
    let mut stderr = String::new();
    if let Some(mut e) = demo.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = e.read_to_string(&mut stderr).await;
    }
    assert!(out.success(), "demo failed: {stderr}");
}

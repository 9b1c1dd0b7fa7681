//! `GET /metrics` on a running daemon: Prometheus text with the counters and
//! gauges a sysadmin alerts on, moving as orders and webhooks flow.

use std::time::Duration;

use crate::common::{post_webhook, sign, Harness, Intake, Setup};

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
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

    let resp = reqwest::get(format!("http://{}/metrics", h.addr))
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    for name in [
        "chansync_orders_ingested_total",
        "chansync_webhooks_rejected_total",
        "chansync_inbox_rows",
        "chansync_inbox_oldest_pending_age_seconds",
        "chansync_outbox_oldest_pending_age_seconds",
        "chansync_poll_lag_seconds",
        "chansync_channel_requests",
        "chansync_rate_limiter_waits",
        "chansync_channel_throttled",
        "chansync_store_seconds_bucket",
    ] {
        assert!(text.contains(name), "{name} missing from:\n{text}");
    }
    let by_webhook = value(
        &text,
        "chansync_orders_ingested_total{connector=\"shop\",path=\"webhook\"}",
    )
    .unwrap_or(0.0);
    let by_poll = value(
        &text,
        "chansync_orders_ingested_total{connector=\"shop\",path=\"poll\"}",
    )
    .unwrap_or(0.0);
    assert!(by_webhook + by_poll >= 4.0, "4 orders ingested:\n{text}");
    assert_eq!(
        value(
            &text,
            "chansync_webhooks_rejected_total{connector=\"shop\",reason=\"signature\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        value(
            &text,
            "chansync_inbox_rows{connector=\"shop\",state=\"pending\"}"
        )
        .unwrap_or(0.0),
        0.0
    );
    assert!(value(&text, "chansync_channel_requests{connector=\"shop\"}").unwrap() >= 1.0);
    assert!(text.trim_end().ends_with("# EOF"));
    h.stop().await.unwrap();
}

//! Prometheus metrics for `GET /metrics`. Counters are counted where things
//! happen; gauges (inbox and outbox depth and age, poll freshness, rate-limit
//! state) are read from the store and the connectors at scrape time.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

type Labels = Vec<(String, String)>;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Every metric chansync exposes.
pub struct Metrics {
    registry: Registry,
    orders_ingested: Family<Labels, Counter>,
    webhooks_rejected: Family<Labels, Counter>,
    pushes: Family<Labels, Counter>,
    stock_levels_pushed: Family<Labels, Counter>,
    store_seconds: Family<Labels, Histogram>,
    inbox_rows: Family<Labels, Gauge>,
    inbox_oldest_age: Family<Labels, Gauge<f64, AtomicU64>>,
    outbox_rows: Family<Labels, Gauge>,
    outbox_oldest_age: Family<Labels, Gauge<f64, AtomicU64>>,
    poll_lag: Family<Labels, Gauge<f64, AtomicU64>>,
    limiter_waits: Family<Labels, Gauge>,
    channel_throttled: Family<Labels, Gauge>,
    channel_requests: Family<Labels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("chansync");
        let m = Metrics {
            orders_ingested: Family::default(),
            webhooks_rejected: Family::default(),
            pushes: Family::default(),
            stock_levels_pushed: Family::default(),
            store_seconds: Family::new_with_constructor(|| {
                Histogram::new(exponential_buckets(0.0005, 2.0, 14))
            }),
            inbox_rows: Family::default(),
            inbox_oldest_age: Family::default(),
            outbox_rows: Family::default(),
            outbox_oldest_age: Family::default(),
            poll_lag: Family::default(),
            limiter_waits: Family::default(),
            channel_throttled: Family::default(),
            channel_requests: Family::default(),
            registry: Registry::default(),
        };
        registry.register(
            "orders_ingested",
            "Order versions stored, by connector and path (poll or webhook)",
            m.orders_ingested.clone(),
        );
        registry.register(
            "webhooks_rejected",
            "Webhooks refused, by connector and reason (signature, malformed, too_large, unknown_connector)",
            m.webhooks_rejected.clone(),
        );
        registry.register(
            "push_attempts",
            "Push-back attempts, by connector, kind (stock, fulfillment, cancel, sink_order) and outcome (ok, retry, dead)",
            m.pushes.clone(),
        );
        registry.register(
            "stock_levels_pushed",
            "Stock levels a channel accepted, by connector",
            m.stock_levels_pushed.clone(),
        );
        registry.register(
            "store_seconds",
            "Store transaction time, by operation",
            m.store_seconds.clone(),
        );
        registry.register(
            "inbox_rows",
            "Webhook inbox rows, by connector and state",
            m.inbox_rows.clone(),
        );
        registry.register(
            "inbox_oldest_pending_age_seconds",
            "Age of the oldest webhook not yet applied, by connector",
            m.inbox_oldest_age.clone(),
        );
        registry.register(
            "outbox_rows",
            "Outbox rows, by connector and state",
            m.outbox_rows.clone(),
        );
        registry.register(
            "outbox_oldest_pending_age_seconds",
            "Age of the oldest push not yet sent, by connector",
            m.outbox_oldest_age.clone(),
        );
        registry.register(
            "poll_lag_seconds",
            "Time since the connector's last successful poll finished",
            m.poll_lag.clone(),
        );
        registry.register(
            "rate_limiter_waits",
            "Times a request waited for the connector's rate limiter (since start)",
            m.limiter_waits.clone(),
        );
        registry.register(
            "channel_throttled",
            "Times the channel said we were too fast: 429s and its own throttle errors (since start)",
            m.channel_throttled.clone(),
        );
        registry.register(
            "channel_requests",
            "Requests sent to the channel (since start)",
            m.channel_requests.clone(),
        );
        Metrics { registry, ..m }
    }

    pub fn order_ingested(&self, connector: &str, path: &str) {
        self.orders_ingested
            .get_or_create(&labels(&[("connector", connector), ("path", path)]))
            .inc();
    }

    pub fn webhook_rejected(&self, connector: &str, reason: &str) {
        self.webhooks_rejected
            .get_or_create(&labels(&[("connector", connector), ("reason", reason)]))
            .inc();
    }

    pub fn push(&self, connector: &str, kind: &str, outcome: &str) {
        self.pushes
            .get_or_create(&labels(&[
                ("connector", connector),
                ("kind", kind),
                ("outcome", outcome),
            ]))
            .inc();
    }

    pub fn stock_pushed(&self, connector: &str, levels: u64) {
        self.stock_levels_pushed
            .get_or_create(&labels(&[("connector", connector)]))
            .inc_by(levels);
    }

    pub fn store_time(&self, op: &str, d: Duration) {
        self.store_seconds
            .get_or_create(&labels(&[("op", op)]))
            .observe(d.as_secs_f64());
    }

    /// Refreshes the gauges from the store and the connectors, then renders
    /// the text exposition format.
    pub async fn render(
        &self,
        rt: &crate::daemon::Runtime,
    ) -> Result<String, crate::store::StoreError> {
        let store = &rt.store;
        self.inbox_rows.clear();
        for (c, state, n) in store.inbox_counts().await? {
            self.inbox_rows
                .get_or_create(&labels(&[("connector", &c), ("state", &state)]))
                .set(n);
        }
        self.outbox_rows.clear();
        for (c, state, n) in store.outbox_counts().await? {
            self.outbox_rows
                .get_or_create(&labels(&[("connector", &c), ("state", &state)]))
                .set(n);
        }
        self.inbox_oldest_age.clear();
        self.outbox_oldest_age.clear();
        self.poll_lag.clear();
        let now = chrono::Utc::now();
        let age = |t: Option<String>| {
            t.and_then(|t| chrono::DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| {
                    (now - t.with_timezone(&chrono::Utc))
                        .num_milliseconds()
                        .max(0) as f64
                        / 1000.0
                })
        };
        let connectors = rt.connectors();
        for name in connectors.keys() {
            let l = labels(&[("connector", name)]);
            // Values first: a family's guard must not live across an await.
            let inbox_age = age(store.inbox_oldest_pending(name).await?).unwrap_or(0.0);
            let outbox_age = age(store.outbox_oldest_pending(name).await?).unwrap_or(0.0);
            let poll = store.poll_state(name).await?;
            self.inbox_oldest_age.get_or_create(&l).set(inbox_age);
            self.outbox_oldest_age.get_or_create(&l).set(outbox_age);
            // Since the last success, so the lag keeps growing while polls fail.
            if let Some(a) = poll.and_then(|p| age(p.last_ok_at)) {
                self.poll_lag.get_or_create(&l).set(a);
            }
        }
        for (name, inst) in connectors.iter() {
            if let Some(s) = inst.connector.rate_limit_state() {
                let l = labels(&[("connector", name)]);
                self.limiter_waits.get_or_create(&l).set(s.waits as i64);
                self.channel_throttled
                    .get_or_create(&l)
                    .set(s.throttled as i64);
                self.channel_requests
                    .get_or_create(&l)
                    .set(s.requests as i64);
            }
        }
        let mut out = String::new();
        encode(&mut out, &self.registry).expect("writing to a String does not fail");
        Ok(out)
    }
}

//! Prometheus metrics for `GET /metrics`, all prefixed `chansync_`. Counters
//! are counted where things happen; what the store and the connectors know
//! (inbox and outbox depth and age, poll lag, rate-limit counts) is read at
//! scrape time into a registry of its own, so that a connector removed by a
//! reload leaves no stale series behind. Every connector gets every state's
//! series, zero included: an alert on a series that does not exist yet
//! never fires.

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, Utc};
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::{Registry, Unit};

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
    lease_changes: Family<Labels, Counter>,
    /// When each connector's last complete sweep started: every change the
    /// channel made before it is stored.
    caught_up: Mutex<HashMap<String, DateTime<Utc>>>,
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
            lease_changes: Family::default(),
            caught_up: Mutex::default(),
            registry: Registry::default(),
        };
        let info: Family<Labels, Gauge> = Family::default();
        info.get_or_create(&labels(&[("version", env!("CARGO_PKG_VERSION"))]))
            .set(1);
        registry.register("build_info", "chansync's version, as a label", info);
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
            "Push-back attempts, by connector, kind (stock, fulfillment, cancel, sink_order, sink_cancel) and outcome (ok, retry, dead)",
            m.pushes.clone(),
        );
        registry.register(
            "stock_levels_pushed",
            "Stock levels a channel accepted, by connector",
            m.stock_levels_pushed.clone(),
        );
        registry.register_with_unit(
            "store_transaction_duration",
            "Store write transaction time, by operation",
            Unit::Seconds,
            m.store_seconds.clone(),
        );
        registry.register(
            "lease_changes",
            "Connector leases this replica took, lost to another replica, or gave back, by connector and change (acquired, lost, released)",
            m.lease_changes.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Records that `connector`'s sweep which started at `at` read the
    /// channel to its end.
    pub fn caught_up(&self, connector: &str, at: DateTime<Utc>) {
        self.caught_up
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(connector.to_owned(), at);
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

    pub fn lease(&self, connector: &str, change: &str) {
        self.lease_changes
            .get_or_create(&labels(&[("connector", connector), ("change", change)]))
            .inc();
    }

    pub fn store_time(&self, op: &str, d: Duration) {
        self.store_seconds
            .get_or_create(&labels(&[("op", op)]))
            .observe(d.as_secs_f64());
    }

    /// Reads the store and the connectors, then renders the OpenMetrics
    /// text exposition.
    pub async fn render(
        &self,
        rt: &crate::daemon::Runtime,
    ) -> Result<String, crate::store::StoreError> {
        let store = &rt.store;
        let connectors = rt.connectors();
        let mut names: Vec<&String> = connectors.keys().collect();
        names.sort();
        let now = Utc::now();
        let age = |t: Option<String>| {
            t.and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                .map(|t| seconds(now - t.with_timezone(&Utc)))
        };

        let mut scrape = Registry::with_prefix("chansync");
        let gauge = || Family::<Labels, Gauge>::default();
        let fgauge = || Family::<Labels, Gauge<f64, AtomicU64>>::default();
        let counter = || Family::<Labels, Counter>::default();

        let owned = rt.owned();
        let lease_held = gauge();
        for name in &names {
            lease_held
                .get_or_create(&labels(&[("connector", name)]))
                .set(i64::from(owned.contains_key(*name)));
        }
        scrape.register(
            "lease_held",
            "1 where this replica holds the connector's lease and runs its poller and dispatcher, else 0",
            lease_held,
        );

        let inbox_rows = gauge();
        let outbox_rows = gauge();
        for name in &names {
            for state in INBOX_STATES {
                inbox_rows
                    .get_or_create(&labels(&[("connector", name), ("state", state)]))
                    .set(0);
            }
            for state in OUTBOX_STATES {
                outbox_rows
                    .get_or_create(&labels(&[("connector", name), ("state", state)]))
                    .set(0);
            }
        }
        for (c, state, n) in store.inbox_counts().await? {
            inbox_rows
                .get_or_create(&labels(&[("connector", &c), ("state", &state)]))
                .set(n);
        }
        for (c, state, n) in store.outbox_counts().await? {
            outbox_rows
                .get_or_create(&labels(&[("connector", &c), ("state", &state)]))
                .set(n);
        }

        let inbox_age = fgauge();
        let outbox_age = fgauge();
        let poll_lag = fgauge();
        let last_poll = fgauge();
        let requests = counter();
        let throttled = counter();
        let waits = counter();
        let pauses = counter();
        let quota = fgauge();
        let paused = fgauge();
        let caught_up = self
            .caught_up
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        for name in &names {
            let l = labels(&[("connector", name)]);
            // Values first: a family's guard must not live across an await.
            let ia = age(store.inbox_oldest_pending(name).await?).unwrap_or(0.0);
            let oa = age(store.outbox_oldest_pending(name).await?).unwrap_or(0.0);
            let poll = store.poll_state(name).await?;
            inbox_age.get_or_create(&l).set(ia);
            outbox_age.get_or_create(&l).set(oa);
            let inst = &connectors[*name];
            if inst.poll.is_some() {
                if let Some(at) = caught_up.get(*name) {
                    poll_lag.get_or_create(&l).set(seconds(now - *at));
                }
                // The last success, even after polls that failed since.
                if let Some(t) = poll
                    .and_then(|p| p.last_ok_at)
                    .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                {
                    last_poll
                        .get_or_create(&l)
                        .set(t.timestamp_millis() as f64 / 1000.0);
                }
            }
            if let Some(s) = inst.connector.rate_limit_state() {
                requests.get_or_create(&l).inc_by(s.requests);
                throttled.get_or_create(&l).inc_by(s.throttled);
                waits.get_or_create(&l).inc_by(s.waits);
                pauses.get_or_create(&l).inc_by(s.pauses);
                quota.get_or_create(&l).set(s.per_second);
                paused.get_or_create(&l).set(s.paused_ms as f64 / 1000.0);
            }
        }
        scrape.register(
            "inbox_rows",
            "Webhook inbox rows, by connector and state (pending, done, rejected, failed)",
            inbox_rows,
        );
        scrape.register_with_unit(
            "inbox_oldest_pending_age",
            "Age of the oldest webhook not yet applied, by connector (0 when none waits)",
            Unit::Seconds,
            inbox_age,
        );
        scrape.register(
            "outbox_rows",
            "Outbox rows, by connector and state (pending, sending, done, dead, superseded); dead rows are dead letters",
            outbox_rows,
        );
        scrape.register_with_unit(
            "outbox_oldest_pending_age",
            "Age of the oldest push not yet sent, by connector (0 when none waits)",
            Unit::Seconds,
            outbox_age,
        );
        scrape.register_with_unit(
            "poll_lag",
            "How far behind the channel the store may be: now minus the start of the last sweep that read the channel to its end",
            Unit::Seconds,
            poll_lag,
        );
        scrape.register(
            "poll_last_success_timestamp_seconds",
            "When the connector's last successful poll sweep finished (Unix time)",
            last_poll,
        );
        scrape.register(
            "channel_requests",
            "Requests sent to the channel since the connector started",
            requests,
        );
        scrape.register(
            "channel_throttled",
            "Times the channel said we were too fast (429s and its own throttle errors) since the connector started",
            throttled,
        );
        scrape.register(
            "rate_limiter_waits",
            "Times a request waited for the connector's own rate limiter since it started",
            waits,
        );
        scrape.register(
            "rate_limiter_pauses",
            "Times the channel's answers (Retry-After, throttle status) paused the connector since it started",
            pauses,
        );
        scrape.register(
            "rate_limit_requests_per_second",
            "The connector's current request quota, as configured or tightened by the channel",
            quota,
        );
        scrape.register_with_unit(
            "rate_limiter_paused",
            "How long the channel has asked the connector to pause from now",
            Unit::Seconds,
            paused,
        );

        let mut out = String::new();
        encode_registry(&mut out, &self.registry).expect("writing to a String does not fail");
        encode_registry(&mut out, &scrape).expect("writing to a String does not fail");
        encode_eof(&mut out).expect("writing to a String does not fail");
        Ok(out)
    }
}

/// Inbox and outbox states, each exported for every connector.
const INBOX_STATES: [&str; 4] = ["pending", "done", "rejected", "failed"];
const OUTBOX_STATES: [&str; 5] = ["pending", "sending", "done", "dead", "superseded"];

fn seconds(d: chrono::TimeDelta) -> f64 {
    d.num_milliseconds().max(0) as f64 / 1000.0
}

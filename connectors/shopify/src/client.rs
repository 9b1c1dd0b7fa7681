//! The GraphQL side of the connector: every request goes through Shopify's
//! cost-based throttling (pause before the bucket runs dry, wait out
//! THROTTLED answers). Polls orders changed since a watermark with cursor
//! pagination; mutations that are not safe to repeat blindly are sent once
//! and retried by their caller after it looks at the shop again.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use chansync_sdk::http::{read_json, HttpClient};
use chansync_sdk::{ConnectorError, ExposeSecret, OrderPage, PolledOrder, SecretString};
use chrono::{DateTime, FixedOffset, SecondsFormat};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::graphql::{
    may_have_fulfillments, GqlFulfillment, GqlLineItem, GqlOrder, GqlResponse,
    OrderFulfillmentsData, OrderLinesData, OrdersData, QueryCost, ORDERS_QUERY,
    ORDER_FULFILLMENTS_QUERY, ORDER_LINES_QUERY,
};
use crate::normalize;

/// The poller's persisted position.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PollCursor {
    /// Orders updated at or after this instant are fetched (`None`: all).
    pub since: Option<DateTime<FixedOffset>>,
    /// The GraphQL cursor inside the current sweep.
    pub after: Option<String>,
    /// The newest `updatedAt` seen in the current sweep.
    pub max_seen: Option<DateTime<FixedOffset>>,
}

/// The GraphQL side of a Shopify connector instance.
pub struct GraphqlClient {
    pub(crate) http: HttpClient,
    pub(crate) url: String,
    pub(crate) token: SecretString,
    /// Orders per page; halved when Shopify says a query costs too much.
    pub(crate) page_size: AtomicU32,
    pub(crate) lines_per_page: u32,
    /// How far behind the newest update the next sweep starts.
    pub(crate) overlap: Duration,
    /// The shop's cost bucket as last seen, to wait before a query rather
    /// than be throttled after it; shared by every client of the same shop
    /// in this process (Shopify keeps one bucket per app and shop).
    pub(crate) budget: std::sync::Arc<std::sync::Mutex<Budget>>,
    /// Held while one query reads a forgotten bucket.
    pub(crate) probing: tokio::sync::Mutex<()>,
}

/// The cheapest query: one object field, 1 point.
const BUDGET_PROBE_QUERY: &str = "query BudgetProbe { location { id } }";
/// Shopify refuses any single query asking for more (MAX_COST_EXCEEDED).
const MAX_SINGLE_QUERY_COST: f64 = 1000.0;

/// The cost budget of the shop behind `graphql_url`, one per process.
pub(crate) fn shared_budget(graphql_url: &str) -> std::sync::Arc<std::sync::Mutex<Budget>> {
    static BUDGETS: std::sync::LazyLock<
        std::sync::Mutex<
            std::collections::HashMap<String, std::sync::Arc<std::sync::Mutex<Budget>>>,
        >,
    > = std::sync::LazyLock::new(Default::default);
    BUDGETS
        .lock()
        .expect("budgets lock")
        .entry(graphql_url.to_owned())
        .or_default()
        .clone()
}

/// What the client knows of the shop's GraphQL cost bucket.
#[derive(Debug, Default)]
pub(crate) struct Budget {
    /// (available, maximum, restore per second) and when it was read.
    status: Option<(f64, f64, f64, std::time::Instant)>,
    /// The requested cost of each query shape (the operation and its
    /// numeric variables, which size its pages) the last time it ran.
    costs: std::collections::HashMap<String, f64>,
    /// Costs booked by queries sent and not answered yet: an answer's
    /// `currentlyAvailable` was measured before some of them reached the
    /// shop (the poller and the dispatcher run side by side).
    in_flight: f64,
    /// Another process may have drained the bucket (this connector was
    /// taken over): the next query first reads the bucket and waits until
    /// it is full.
    stale: bool,
}

impl Budget {
    /// How long to wait before a query of `shape` fits the bucket; the
    /// wait is booked, so concurrent queries (the poller, the dispatcher)
    /// queue behind it. A shape not run yet is booked at what the query
    /// itself says Shopify will charge (`guess`). Returns the wait and the
    /// cost booked (to pass to `observe` or `cancel` once the query is
    /// answered or not sent).
    fn book(
        &mut self,
        shape: &str,
        guess: impl FnOnce() -> Option<f64>,
    ) -> (Option<Duration>, f64) {
        let cost = match self.costs.get(shape) {
            Some(&cost) => cost,
            None => {
                let most = self
                    .status
                    .map_or(MAX_SINGLE_QUERY_COST, |s| s.1.min(MAX_SINGLE_QUERY_COST));
                guess().unwrap_or(0.0).min(most)
            }
        };
        // Unknown bucket: nothing to wait for, but the booking still counts
        // against the first answer, measured before this query arrived.
        self.in_flight += cost;
        let Some((available, maximum, restore, at)) = self.status else {
            return (None, cost);
        };
        if restore <= 0.0 {
            return (None, cost);
        }
        let now = std::time::Instant::now();
        let available = (available + restore * now.duration_since(at).as_secs_f64()).min(maximum);
        self.status = Some((available - cost, maximum, restore, now));
        let wait =
            (available < cost).then(|| Duration::from_secs_f64((cost - available) / restore));
        (wait, cost)
    }

    /// The bucket as another process may have left it: unknown until read.
    fn forget(&mut self) {
        self.stale = true;
        self.status = None;
    }

    /// A booked query that got no answer with a cost.
    fn cancel(&mut self, booked: f64) {
        self.in_flight = (self.in_flight - booked).max(0.0);
    }

    fn observe(&mut self, shape: &str, cost: &QueryCost, booked: f64) {
        self.cancel(booked);
        let t = &cost.throttle_status;
        self.status = Some((
            t.currently_available - self.in_flight,
            t.maximum_available,
            t.restore_rate,
            std::time::Instant::now(),
        ));
        self.costs
            .insert(shape.to_owned(), cost.requested_query_cost);
    }
}

/// What a query's requested cost depends on: the operation and the numbers
/// among its variables (page sizes).
fn shape(op: &str, body: &serde_json::Value) -> String {
    let mut shape = op.to_owned();
    if let Some(vars) = body["variables"].as_object() {
        for (name, value) in vars {
            if value.is_number() {
                shape.push_str(&format!(" {name}={value}"));
            }
        }
    }
    shape
}

/// A query's booked cost, returned to the budget if no answer accounts
/// for it (an error, a dropped future).
struct Booking<'a> {
    budget: &'a std::sync::Mutex<Budget>,
    booked: f64,
}

impl Drop for Booking<'_> {
    fn drop(&mut self) {
        if self.booked > 0.0 {
            self.budget
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .cancel(self.booked);
        }
    }
}

/// Tries of an operation that checks the shop before each change.
const CHECKED_ATTEMPTS: u32 = 6;
const CHECKED_FIRST_DELAY: Duration = Duration::from_millis(200);
const CHECKED_MAX_DELAY: Duration = Duration::from_secs(10);

impl GraphqlClient {
    fn request(&self, body: &serde_json::Value) -> reqwest::RequestBuilder {
        self.http
            .reqwest()
            .post(&self.url)
            .header("X-Shopify-Access-Token", self.token.expose_secret())
            .json(body)
    }

    /// The connector was taken over from another process, which may have
    /// spent the shop's cost bucket: the next query waits until it is full.
    pub(crate) fn forget_budget(&self) {
        self.budget.lock().expect("budget lock").forget();
    }

    /// After [`forget_budget`](Self::forget_budget): reads the bucket with
    /// the cheapest query there is (1 point) and waits until it is full,
    /// so that no query, however costly, is throttled. Callers meanwhile
    /// wait here.
    async fn settle_budget(&self) {
        if !self.budget.lock().expect("budget lock").stale {
            return;
        }
        let _gate = self.probing.lock().await;
        if !self.budget.lock().expect("budget lock").stale {
            return;
        }
        let body = json!({ "query": BUDGET_PROBE_QUERY, "operationName": "BudgetProbe" });
        let answer = match self.http.send(self.request(&body)).await {
            Ok(resp) => read_json::<GqlResponse<serde_json::Value>>(resp).await,
            Err(e) => Err(e),
        };
        let cost = answer.ok().and_then(|g| g.extensions).and_then(|e| e.cost);
        let wait = {
            let mut b = self.budget.lock().expect("budget lock");
            b.stale = false;
            cost.map(|c| {
                b.observe("BudgetProbe", &c, 0.0);
                let t = &c.throttle_status;
                if t.restore_rate > 0.0 {
                    Duration::from_secs_f64(
                        (t.maximum_available - t.currently_available).max(0.0) / t.restore_rate,
                    )
                } else {
                    Duration::ZERO
                }
            })
        };
        if let Some(wait) = wait.filter(|w| !w.is_zero()) {
            tracing::info!(
                wait_ms = wait.as_millis() as u64,
                "taken over: waiting for the shop's cost bucket to refill"
            );
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once<T: DeserializeOwned>(
        &self,
        op: &str,
        body: &serde_json::Value,
    ) -> Result<T, ConnectorError> {
        self.settle_budget().await;
        let shape = shape(op, body);
        let (wait, booked) = self.budget.lock().expect("budget lock").book(&shape, || {
            crate::estimate::requested(
                body["query"].as_str().unwrap_or_default(),
                body["operationName"].as_str(),
                &body["variables"],
            )
        });
        // Whatever happens below, the booking ends with this call.
        let mut booking = Booking {
            budget: &self.budget,
            booked,
        };
        if let Some(wait) = wait {
            tracing::debug!(
                op,
                wait_ms = wait.as_millis() as u64,
                "waiting for the shop's cost budget"
            );
            tokio::time::sleep(wait).await;
        }
        let resp = self.http.send(self.request(body)).await?;
        let gql: GqlResponse<T> = read_json(resp).await?;
        if let Some(cost) = gql.extensions.as_ref().and_then(|e| e.cost.as_ref()) {
            self.budget.lock().expect("budget lock").observe(
                &shape,
                cost,
                std::mem::take(&mut booking.booked),
            );
        }
        self.settle(gql)
    }

    /// Sends a query (or a mutation safe to repeat), retrying what is retryable.
    pub(crate) async fn query<T: DeserializeOwned>(
        &self,
        op: &str,
        body: impl Fn() -> serde_json::Value,
    ) -> Result<T, ConnectorError> {
        self.http
            .run(op, || {
                let body = body();
                async move { self.send_once(op, &body).await }
            })
            .await
    }

    /// Sends a mutation that must not run twice. Only answers that prove it
    /// did not run (a 429, THROTTLED) are retried here; any other failure is
    /// returned, and the caller looks at the shop before trying again.
    pub(crate) async fn mutate_once<T: DeserializeOwned>(
        &self,
        op: &str,
        body: impl Fn() -> serde_json::Value,
    ) -> Result<T, ConnectorError> {
        self.http
            .run(op, || {
                let body = body();
                async move {
                    match self.send_once(op, &body).await {
                        Err(e @ ConnectorError::RateLimited { .. }) => Err(e),
                        other => Ok(other),
                    }
                }
            })
            .await?
    }

    /// Runs `attempt` (which reads the shop's state, then changes it) until it
    /// succeeds, fails for good or has been tried `CHECKED_ATTEMPTS` times,
    /// waiting between tries with backoff and jitter, or as long as the
    /// channel asked.
    pub(crate) async fn checked_retries<T, F, Fut>(
        &self,
        op: &str,
        mut attempt: F,
    ) -> Result<T, ConnectorError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        let mut delay = CHECKED_FIRST_DELAY;
        let mut tries = 1;
        loop {
            match attempt().await {
                Err(e) if e.is_retryable() && tries < CHECKED_ATTEMPTS => {
                    let wait = e.retry_after().unwrap_or(delay);
                    let wait = wait + wait.mul_f64(rand::random::<f64>() * 0.2);
                    tracing::warn!(op, error = %e, retry_in_ms = wait.as_millis() as u64,
                        "push step failed; checking the shop again before retrying");
                    tokio::time::sleep(wait).await;
                    delay = (delay * 2).min(CHECKED_MAX_DELAY);
                    tries += 1;
                }
                other => return other,
            }
        }
    }

    /// Reads the cost extension and the errors of one response.
    fn settle<T>(&self, gql: GqlResponse<T>) -> Result<T, ConnectorError> {
        let cost = gql.extensions.and_then(|e| e.cost);
        if let Some(err) = gql.errors.first() {
            let code = err
                .extensions
                .as_ref()
                .and_then(|e| e.code.as_deref())
                .unwrap_or("");
            return Err(match code {
                "THROTTLED" => ConnectorError::RateLimited {
                    retry_after: cost.as_ref().map(refill_time),
                },
                "MAX_COST_EXCEEDED" => {
                    let old = self.page_size.load(Ordering::Relaxed);
                    let new = (old / 2).max(1);
                    self.page_size.store(new, Ordering::Relaxed);
                    tracing::warn!(
                        old,
                        new,
                        "query cost over Shopify's maximum, smaller pages from now on"
                    );
                    if old == 1 {
                        ConnectorError::Permanent(format!(
                            "a single order costs too much: {}",
                            err.message
                        ))
                    } else {
                        ConnectorError::Transient(format!(
                            "query too costly, retrying with {new} orders a page"
                        ))
                    }
                }
                "ACCESS_DENIED" | "UNAUTHORIZED" => ConnectorError::Auth(err.message.clone()),
                "INTERNAL_SERVER_ERROR" => ConnectorError::Transient(err.message.clone()),
                _ => ConnectorError::Permanent(format!("GraphQL error: {}", err.message)),
            });
        }
        if let Some(cost) = &cost {
            // Pause before the next query of the same size would be throttled.
            if cost.throttle_status.currently_available < cost.requested_query_cost {
                self.http.pause_for(refill_time(cost));
            }
        }
        gql.data
            .ok_or_else(|| ConnectorError::InvalidResponse("GraphQL response without data".into()))
    }

    /// One page of the current sweep.
    pub async fn fetch(&self, cursor: Option<&str>) -> Result<OrderPage, ConnectorError> {
        let cur: PollCursor = match cursor {
            Some(s) if !s.is_empty() => serde_json::from_str(s).map_err(|e| {
                ConnectorError::Permanent(format!("unreadable poll cursor {s:?}: {e}"))
            })?,
            _ => PollCursor::default(),
        };
        let filter = cur.since.map(|t| {
            format!(
                "updated_at:>='{}'",
                t.to_rfc3339_opts(SecondsFormat::Secs, true)
            )
        });
        let data: OrdersData = self
            .query("orders", || {
                json!({
                    "query": ORDERS_QUERY,
                    "operationName": "Orders",
                    "variables": {
                        "first": self.page_size.load(Ordering::Relaxed),
                        "after": cur.after,
                        "query": filter,
                        "lines": self.lines_per_page,
                    }
                })
            })
            .await?;
        let mut orders = Vec::with_capacity(data.orders.nodes.len());
        let mut max_seen = cur.max_seen;
        for mut node in data.orders.nodes {
            let lines = self.all_lines(&node).await?;
            if may_have_fulfillments(&node.display_fulfillment_status) {
                node.fulfillments = self.fulfillments(&node.id).await?;
            }
            let order = normalize::from_graphql(&node, &lines).map_err(|e| {
                ConnectorError::InvalidResponse(format!("order {}: {e}", node.legacy_resource_id))
            })?;
            max_seen = max_seen.max(Some(order.updated_at));
            let raw = json!({ "id": node.id, "legacyResourceId": node.legacy_resource_id, "updatedAt": node.updated_at });
            orders.push(PolledOrder { order, raw });
        }
        let page = data.orders.page_info;
        let next = if page.has_next_page {
            PollCursor {
                since: cur.since,
                after: page.end_cursor,
                max_seen,
            }
        } else {
            let overlap = chrono::Duration::from_std(self.overlap).unwrap_or_default();
            // A record stamped in the future (a clock ahead, an import) must
            // not carry the watermark past orders still to come.
            let now = chrono::Utc::now().fixed_offset();
            PollCursor {
                since: max_seen.map(|t| t.min(now) - overlap).or(cur.since),
                after: None,
                max_seen: None,
            }
        };
        Ok(OrderPage {
            orders,
            cursor: serde_json::to_string(&next).expect("cursor serializes"),
            has_more: page.has_next_page,
        })
    }

    /// The shipments of one order.
    async fn fulfillments(&self, id: &str) -> Result<Vec<GqlFulfillment>, ConnectorError> {
        let data: OrderFulfillmentsData = self
            .query("order_fulfillments", || {
                json!({
                    "query": ORDER_FULFILLMENTS_QUERY,
                    "operationName": "OrderFulfillments",
                    "variables": { "id": id }
                })
            })
            .await?;
        let order = data.order.ok_or_else(|| {
            ConnectorError::Transient(format!(
                "order {id} vanished while reading its fulfillments"
            ))
        })?;
        Ok(order.fulfillments)
    }

    /// The order's line items, fetching the pages after the first if needed.
    async fn all_lines(&self, node: &GqlOrder) -> Result<Vec<GqlLineItem>, ConnectorError> {
        let mut lines = node.line_items.nodes.clone();
        let mut page = node.line_items.page_info.clone();
        while page.has_next_page {
            let data: OrderLinesData = self
                .query("order_lines", || {
                    json!({
                        "query": ORDER_LINES_QUERY,
                        "operationName": "OrderLines",
                        "variables": { "id": node.id, "after": page.end_cursor, "lines": self.lines_per_page }
                    })
                })
                .await?;
            let more = data
                .order
                .ok_or_else(|| {
                    ConnectorError::Transient(format!(
                        "order {} vanished while reading its lines",
                        node.id
                    ))
                })?
                .line_items;
            lines.extend(more.nodes);
            page = more.page_info;
        }
        Ok(lines)
    }
}

/// How long the bucket needs to hold the requested cost again.
fn refill_time(cost: &QueryCost) -> Duration {
    let t = &cost.throttle_status;
    let deficit = (cost.requested_query_cost - t.currently_available).max(0.0);
    if t.restore_rate > 0.0 {
        Duration::from_secs_f64(deficit / t.restore_rate).max(Duration::from_millis(50))
    } else {
        Duration::from_secs(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::ThrottleStatus;

    fn answer(requested: f64, available: f64) -> QueryCost {
        QueryCost {
            requested_query_cost: requested,
            actual_query_cost: Some(1.0),
            throttle_status: ThrottleStatus {
                maximum_available: 2000.0,
                currently_available: available,
                restore_rate: 100.0,
            },
        }
    }

    #[test]
    fn a_shape_never_run_is_booked_at_what_the_query_says() {
        let mut b = Budget::default();
        // The bucket unknown: nothing to wait for, but the booking counts
        // against the first answer.
        assert_eq!(b.book("orders first=50", || Some(700.0)), (None, 700.0));
        b.observe("inventory_items first=2", &answer(8.0, 1000.0), 0.0);
        // 1000 read, 700 still in flight: 300 left.
        let (wait, booked) = b.book("inventory_items first=40", || Some(122.0));
        assert_eq!((wait, booked), (None, 122.0));
        let (wait, _) = b.book("fulfillment_state", || Some(400.0));
        let wait = wait.expect("the bucket cannot hold it yet");
        assert!(wait >= Duration::from_millis(2200), "{wait:?}");
        // Never more than a single query may cost.
        assert_eq!(b.book("huge", || Some(5000.0)).1, MAX_SINGLE_QUERY_COST);
    }

    #[test]
    fn a_shape_that_ran_is_booked_at_what_the_shop_charged() {
        let mut b = Budget::default();
        b.observe("inventory_items first=40", &answer(122.0, 100.0), 0.0);
        let (wait, booked) = b.book("inventory_items first=40", || Some(999.0));
        assert_eq!(booked, 122.0);
        assert!(
            wait.is_some_and(|w| w >= Duration::from_millis(210)),
            "{wait:?}"
        );
    }

    #[test]
    fn the_shape_is_the_operation_and_its_page_sizes() {
        let body = serde_json::json!({"variables": {"first": 40, "query": "sku:A", "lines": 3}});
        assert_eq!(shape("orders", &body), "orders first=40 lines=3");
        assert_eq!(shape("locations", &serde_json::json!({})), "locations");
    }
}

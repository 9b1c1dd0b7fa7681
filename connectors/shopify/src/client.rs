//! Polls the GraphQL Admin API for orders changed since a watermark, with
//! cursor pagination and Shopify's cost-based throttling: the connector
//! pauses before the bucket runs dry and waits out THROTTLED answers.

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
}

impl GraphqlClient {
    async fn query<T: DeserializeOwned>(
        &self,
        op: &str,
        body: impl Fn() -> serde_json::Value,
    ) -> Result<T, ConnectorError> {
        self.http
            .run(op, || {
                let req = self
                    .http
                    .reqwest()
                    .post(&self.url)
                    .header("X-Shopify-Access-Token", self.token.expose_secret())
                    .json(&body());
                async move {
                    let resp = self.http.send(req).await?;
                    let gql: GqlResponse<T> = read_json(resp).await?;
                    self.settle(gql)
                }
            })
            .await
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
            PollCursor {
                since: max_seen.map(|t| t - overlap).or(cur.since),
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

//! Order polling: `getOrders` with `LastUpdatedAfter` (the persisted
//! watermark, kept `overlap` behind the newest update seen) and `NextToken`
//! paging, then `getOrderItems` (paged too) for each order. An order whose
//! `LastUpdateDate` has not moved since its items were read reuses them,
//! which keeps the overlap cheap under getOrderItems' usage plan.

use std::collections::HashMap;
use std::sync::Mutex;

use chansync_sdk::model::ChannelOrder;
use chansync_sdk::{ConnectorError, OrderPage, PolledOrder};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::client::SpApi;
use crate::config::Settings;
use crate::normalize;
use crate::ops::Operation;
use crate::wire::{Envelope, Order, OrderItem, OrderItemsList, OrdersList};

/// Orders whose items are remembered; the memory is cleared when full.
const ITEM_CACHE_CAPACITY: usize = 5_000;

/// The poller's persisted position.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PollCursor {
    /// `LastUpdatedAfter` of the current sweep (`None`: `lookback` ago).
    pub since: Option<DateTime<FixedOffset>>,
    /// Amazon's `NextToken` inside the current sweep.
    pub next_token: Option<String>,
    /// The newest `LastUpdateDate` seen in the current sweep.
    pub max_seen: Option<DateTime<FixedOffset>>,
}

/// Items read per order, keyed by the order's `LastUpdateDate`.
#[derive(Default)]
pub(crate) struct ItemCache {
    entries: Mutex<HashMap<String, (String, Vec<Value>)>>,
}

impl ItemCache {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Vec<Value>)>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, order_id: &str, last_update: &str) -> Option<Vec<Value>> {
        self.lock()
            .get(order_id)
            .filter(|(at, _)| at == last_update)
            .map(|(_, items)| items.clone())
    }

    fn put(&self, order_id: &str, last_update: &str, items: Vec<Value>) {
        let mut entries = self.lock();
        if entries.len() >= ITEM_CACHE_CAPACITY && !entries.contains_key(order_id) {
            entries.clear();
        }
        entries.insert(order_id.to_owned(), (last_update.to_owned(), items));
    }
}

fn iso(t: DateTime<FixedOffset>) -> String {
    t.with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// Reads one order item, naming the order when it does not parse.
fn parse_item(order_id: &str, raw: &Value) -> Result<OrderItem, ConnectorError> {
    serde_json::from_value(raw.clone())
        .map_err(|e| ConnectorError::InvalidResponse(format!("order {order_id}: an item: {e}")))
}

/// Every item of an order, following `NextToken`.
pub(crate) async fn order_items(api: &SpApi, order_id: &str) -> Result<Vec<Value>, ConnectorError> {
    let mut items = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let query: Vec<(&str, String)> = next.iter().map(|t| ("NextToken", t.clone())).collect();
        let url = api.url(&["orders", "v0", "orders", order_id, "orderItems"], &query);
        let env: Envelope<OrderItemsList> = api
            .call(Operation::GetOrderItems, Method::GET, url, None)
            .await?;
        let page = env.payload.ok_or_else(|| {
            ConnectorError::InvalidResponse(format!("getOrderItems {order_id}: no payload"))
        })?;
        items.extend(page.order_items);
        match page.next_token.filter(|t| !t.is_empty()) {
            Some(t) => next = Some(t),
            None => return Ok(items),
        }
    }
}

/// One order by id, as `getOrder` returns it.
pub(crate) async fn order(api: &SpApi, order_id: &str) -> Result<(Order, Value), ConnectorError> {
    let url = api.url(&["orders", "v0", "orders", order_id], &[]);
    let env: Envelope<Value> = api
        .call(Operation::GetOrder, Method::GET, url, None)
        .await?;
    let raw = env.payload.ok_or_else(|| {
        ConnectorError::InvalidResponse(format!("getOrder {order_id}: no payload"))
    })?;
    let order: Order = serde_json::from_value(raw.clone())
        .map_err(|e| ConnectorError::InvalidResponse(format!("getOrder {order_id}: {e}")))?;
    Ok((order, raw))
}

/// Maps an order read from the API with its items, keeping both raw.
pub(crate) fn polled(
    order: &Order,
    raw: Value,
    items: Vec<Value>,
) -> Result<PolledOrder, ConnectorError> {
    let parsed = items
        .iter()
        .map(|i| parse_item(&order.amazon_order_id, i))
        .collect::<Result<Vec<_>, _>>()?;
    let mapped: ChannelOrder = normalize::to_channel_order(order, &parsed).map_err(|e| {
        ConnectorError::InvalidResponse(format!("order {}: {e}", order.amazon_order_id))
    })?;
    Ok(PolledOrder {
        order: mapped,
        raw: json!({ "order": raw, "items": items }),
    })
}

/// Polls one page of the current sweep.
pub(crate) async fn fetch(
    api: &SpApi,
    s: &Settings,
    cache: &ItemCache,
    cursor: Option<&str>,
) -> Result<OrderPage, ConnectorError> {
    let cur: PollCursor = match cursor {
        Some(c) if !c.trim().is_empty() => serde_json::from_str(c)
            .map_err(|e| ConnectorError::Permanent(format!("unreadable poll cursor {c:?}: {e}")))?,
        _ => PollCursor::default(),
    };
    let since = cur.since.unwrap_or_else(|| {
        let lookback = chrono::Duration::from_std(s.lookback).unwrap_or(chrono::Duration::days(7));
        (Utc::now() - lookback).fixed_offset()
    });
    let list = match orders_page(api, s, since, cur.next_token.as_deref()).await {
        Err(ConnectorError::Permanent(e)) if cur.next_token.is_some() => {
            // A NextToken Amazon no longer takes: start the sweep over.
            tracing::warn!(error = %e, "NextToken refused; restarting the sweep from its watermark");
            orders_page(api, s, since, None).await?
        }
        other => other?,
    };
    let mut orders = Vec::with_capacity(list.orders.len());
    let mut max_seen = cur.max_seen;
    for raw in list.orders {
        let order: Order = serde_json::from_value(raw.clone())
            .map_err(|e| ConnectorError::InvalidResponse(format!("getOrders: an order: {e}")))?;
        let id = &order.amazon_order_id;
        let items = match cache.get(id, &order.last_update_date) {
            Some(items) => items,
            None => {
                let items = order_items(api, id).await?;
                cache.put(id, &order.last_update_date, items.clone());
                items
            }
        };
        let p = polled(&order, raw, items)?;
        max_seen = max_seen.max(Some(p.order.updated_at));
        orders.push(p);
    }
    let next_token = list.next_token.filter(|t| !t.is_empty());
    let has_more = next_token.is_some();
    let next = if has_more {
        PollCursor {
            since: Some(since),
            next_token,
            max_seen,
        }
    } else {
        let overlap = chrono::Duration::from_std(s.overlap).unwrap_or_default();
        // A record stamped in the future must not carry the watermark past
        // orders still to come.
        let now = Utc::now().fixed_offset();
        PollCursor {
            since: Some(
                max_seen
                    .map(|t| t.min(now) - overlap)
                    .unwrap_or(since)
                    .max(since),
            ),
            next_token: None,
            max_seen: None,
        }
    };
    Ok(OrderPage {
        orders,
        cursor: serde_json::to_string(&next).expect("a cursor serializes"),
        has_more,
    })
}

async fn orders_page(
    api: &SpApi,
    s: &Settings,
    since: DateTime<FixedOffset>,
    next_token: Option<&str>,
) -> Result<OrdersList, ConnectorError> {
    let mut query = vec![
        ("MarketplaceIds", s.marketplace_ids.join(",")),
        ("LastUpdatedAfter", iso(since)),
        ("MaxResultsPerPage", s.page_size.to_string()),
    ];
    if let Some(t) = next_token {
        query.push(("NextToken", t.to_owned()));
    }
    let url = api.url(&["orders", "v0", "orders"], &query);
    let env: Envelope<OrdersList> = api
        .call(Operation::GetOrders, Method::GET, url, None)
        .await?;
    env.payload
        .ok_or_else(|| ConnectorError::InvalidResponse("getOrders: no payload".into()))
}

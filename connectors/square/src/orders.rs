//! Order intake. A sweep asks SearchOrders for the orders of the synced
//! locations (ten per request, Square's limit) updated since a watermark,
//! oldest change first, and pages with Square's cursor; when it ends the
//! watermark moves to the newest update seen minus the overlap. Orders the
//! webhooks name are read one by one with RetrieveOrder. Line items' catalog
//! variations become SKUs through the catalog cache.

use std::collections::BTreeMap;
use std::time::Duration;

use chansync_sdk::model::ChannelOrder;
use chansync_sdk::{ConnectorError, OrderPage, PolledOrder};
use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::catalog::Catalog;
use crate::client::SquareClient;
use crate::config::MAX_LOCATIONS_PER_SEARCH;
use crate::normalize::{self, to_channel_order};
use crate::wire::{Order, RetrieveOrderResponse, SearchOrdersResponse};

/// The states a sweep asks for: a `DRAFT` order is not placed yet (an
/// abandoned checkout); it is seen once it opens.
pub const POLLED_STATES: &[&str] = &["OPEN", "COMPLETED", "CANCELED"];

/// The poller's persisted position.
///
/// The watermark is kept per location: SearchOrders takes ten locations at a
/// time, and a group paged later must not move the watermark of a group
/// whose changes since its own query have not been read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PollCursor {
    /// Per location, orders updated at or after this instant are fetched; a
    /// location not listed is read from its first order.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub since: BTreeMap<String, DateTime<FixedOffset>>,
    /// Square's page cursor inside the current group of locations.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// The newest `updated_at` seen in the current group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_seen: Option<DateTime<FixedOffset>>,
    /// Which group of ten locations the sweep is at.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub group: usize,
    /// The locations of the sweep in progress, so its groups stay the same
    /// across pages and restarts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub locations: Vec<String>,
}

impl PollCursor {
    /// Whether a sweep is under way (a page or a group follows).
    pub fn in_sweep(&self) -> bool {
        self.cursor.is_some() || self.group > 0
    }

    /// The watermark a group's query starts at: the oldest of its
    /// locations', or none if one of them has none.
    pub fn since_of(&self, group: &[String]) -> Option<DateTime<FixedOffset>> {
        group
            .iter()
            .map(|l| self.since.get(l).copied())
            .collect::<Option<Vec<_>>>()?
            .into_iter()
            .min()
    }

    /// The cursor after a page of group `group` of `locations` that saw
    /// updates up to `max_seen` (this page included) and ended with Square's
    /// `next` page cursor; and whether another page follows now.
    pub fn advance(
        &self,
        locations: &[String],
        group: usize,
        next: Option<String>,
        max_seen: Option<DateTime<FixedOffset>>,
        overlap: chrono::Duration,
    ) -> (PollCursor, bool) {
        if next.is_some() {
            let cur = PollCursor {
                since: self.since.clone(),
                cursor: next,
                max_seen,
                group,
                locations: locations.to_vec(),
            };
            return (cur, true);
        }
        // The group is read: its locations' watermark moves to the newest
        // update seen there, less the overlap.
        let mut since = self.since.clone();
        let members = locations
            .chunks(MAX_LOCATIONS_PER_SEARCH)
            .nth(group)
            .unwrap_or_default();
        if let Some(m) = max_seen {
            // A record stamped in the future must not carry the watermark
            // past orders still to come.
            let m = m.min(chrono::Utc::now().fixed_offset());
            for l in members {
                since.insert(l.clone(), m - overlap);
            }
        }
        let groups = locations.len().div_ceil(MAX_LOCATIONS_PER_SEARCH);
        if group + 1 < groups {
            let cur = PollCursor {
                since,
                group: group + 1,
                locations: locations.to_vec(),
                ..PollCursor::default()
            };
            return (cur, true);
        }
        since.retain(|l, _| locations.contains(l));
        (
            PollCursor {
                since,
                ..PollCursor::default()
            },
            false,
        )
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Square's timestamp form: UTC with milliseconds.
pub(crate) fn rfc3339(t: DateTime<FixedOffset>) -> String {
    t.with_timezone(&Utc)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Reads orders and maps them, resolving SKUs in one catalog lookup.
pub(crate) async fn normalize_all(
    client: &SquareClient,
    catalog: &Catalog,
    raw: Vec<Value>,
) -> Result<Vec<PolledOrder>, ConnectorError> {
    let orders: Vec<Order> = raw
        .iter()
        .map(|v| {
            serde_json::from_value(v.clone())
                .map_err(|e| ConnectorError::InvalidResponse(format!("an order: {e}")))
        })
        .collect::<Result<_, _>>()?;
    let skus = catalog
        .channel_skus(client, orders.iter().flat_map(normalize::variation_ids))
        .await?;
    let sku_of = |id: &str| skus.get(id).cloned().unwrap_or_else(|| id.to_owned());
    orders
        .iter()
        .zip(raw)
        .map(|(o, raw)| {
            let order = to_channel_order(o, &sku_of)
                .map_err(|e| ConnectorError::InvalidResponse(format!("order {}: {e}", o.id)))?;
            Ok(PolledOrder { order, raw })
        })
        .collect()
}

/// One page of the current sweep.
pub(crate) async fn fetch_page(
    client: &SquareClient,
    catalog: &Catalog,
    overlap: Duration,
    cursor: Option<&str>,
) -> Result<OrderPage, ConnectorError> {
    let cur: PollCursor = match cursor {
        Some(s) if !s.is_empty() => serde_json::from_str(s)
            .map_err(|e| ConnectorError::Permanent(format!("unreadable poll cursor {s:?}: {e}")))?,
        _ => PollCursor::default(),
    };
    let locations = if cur.in_sweep() && !cur.locations.is_empty() {
        cur.locations.clone()
    } else {
        // A new sweep sees locations added since the last one.
        client.order_locations(true).await?
    };
    let groups: Vec<&[String]> = locations.chunks(MAX_LOCATIONS_PER_SEARCH).collect();
    let group = if cur.group < groups.len() {
        cur.group
    } else {
        0
    };
    let Some(location_ids) = groups.get(group) else {
        tracing::warn!("the Square account has no locations; no orders to poll");
        return Ok(OrderPage {
            orders: Vec::new(),
            cursor: serde_json::to_string(&cur).expect("cursor serializes"),
            has_more: false,
        });
    };
    let mut filter = json!({ "state_filter": { "states": POLLED_STATES } });
    if let Some(since) = cur.since_of(location_ids) {
        filter["date_time_filter"] = json!({ "updated_at": { "start_at": rfc3339(since) } });
    }
    let mut cur = cur;
    let search = |cursor: Option<&str>| {
        let body = json!({
            "location_ids": location_ids,
            "limit": client.page_size,
            "cursor": cursor,
            "return_entries": false,
            "query": {
                "filter": filter,
                "sort": { "sort_field": "UPDATED_AT", "sort_order": "ASC" },
            },
        });
        async move {
            client
                .call_detailed::<SearchOrdersResponse>(
                    "search_orders",
                    http::Method::POST,
                    "/v2/orders/search",
                    Some(&body),
                )
                .await
        }
    };
    let resp = match search(cur.cursor.as_deref()).await {
        Ok(resp) => resp,
        Err(f) if cur.cursor.is_some() && f.errors.iter().any(|e| e.code == "INVALID_CURSOR") => {
            // Square no longer takes the cursor (it expired): read the group
            // again from its watermark. Orders already stored come again and
            // change nothing; the watermark has not moved past any of them.
            tracing::warn!(error = %f.error, "Square refused the page cursor; restarting the group from its watermark");
            cur.cursor = None;
            cur.max_seen = None;
            search(None).await.map_err(|f| f.error)?
        }
        Err(f) => return Err(f.error),
    };
    for e in &resp.errors {
        tracing::warn!(error = %e, "SearchOrders answered with an error beside its orders");
    }
    let orders = normalize_all(client, catalog, resp.orders).await?;
    // Within a group the cursor is Square's; a new group starts afresh.
    let carried = if cur.cursor.is_some() {
        cur.max_seen
    } else {
        None
    };
    let max_seen = orders
        .iter()
        .map(|p| p.order.updated_at)
        .fold(carried, |m, t| m.max(Some(t)));
    let overlap = chrono::Duration::from_std(overlap).unwrap_or_default();
    let next = resp.cursor.filter(|c| !c.is_empty());
    let (next, has_more) = cur.advance(&locations, group, next, max_seen, overlap);
    Ok(OrderPage {
        orders,
        cursor: serde_json::to_string(&next).expect("cursor serializes"),
        has_more,
    })
}

/// Keeps the characters a URI path segment may hold, percent-encodes the rest.
pub(crate) fn path_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// One order by id (RetrieveOrder).
pub(crate) async fn fetch_one(
    client: &SquareClient,
    catalog: &Catalog,
    id: &str,
) -> Result<ChannelOrder, ConnectorError> {
    if id.is_empty() {
        return Err(ConnectorError::Permanent("an empty order id".into()));
    }
    let path = format!("/v2/orders/{}", path_segment(id));
    let resp: RetrieveOrderResponse = client.get("retrieve_order", &path).await?;
    let raw = resp.order.ok_or_else(|| {
        ConnectorError::InvalidResponse(format!("RetrieveOrder {id} answered without an order"))
    })?;
    let mut polled = normalize_all(client, catalog, vec![raw]).await?;
    Ok(polled.remove(0).order)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn ids(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("L{i:02}")).collect()
    }

    #[test]
    fn cursors_round_trip_and_stay_small_between_sweeps() {
        assert_eq!(
            rfc3339(t("2026-03-01T10:00:00.123+01:00")),
            "2026-03-01T09:00:00.123Z"
        );
        let idle = PollCursor {
            since: [("L1".to_owned(), t("2026-03-01T10:00:00Z"))].into(),
            ..Default::default()
        };
        let s = serde_json::to_string(&idle).unwrap();
        assert_eq!(s, r#"{"since":{"L1":"2026-03-01T10:00:00Z"}}"#);
        assert_eq!(serde_json::from_str::<PollCursor>(&s).unwrap(), idle);
        assert_eq!(
            serde_json::from_str::<PollCursor>("{}").unwrap(),
            PollCursor::default()
        );
        assert_eq!(path_segment("CAISE/x y"), "CAISE%2Fx%20y");
    }

    #[test]
    fn one_group_moves_its_watermark_at_the_end_of_its_pages() {
        let locations = ids(2);
        let overlap = chrono::Duration::seconds(2);
        let start = PollCursor::default();
        assert_eq!(
            start.since_of(&locations),
            None,
            "the first sweep reads everything"
        );
        let (mid, more) = start.advance(
            &locations,
            0,
            Some("c1".into()),
            Some(t("2026-01-01T10:00:00Z")),
            overlap,
        );
        assert!(more && mid.in_sweep() && mid.since.is_empty());
        let (end, more) = mid.advance(
            &locations,
            0,
            None,
            Some(t("2026-01-01T10:05:00Z")),
            overlap,
        );
        assert!(!more && !end.in_sweep());
        assert_eq!(end.since_of(&locations), Some(t("2026-01-01T10:04:58Z")));
        // A sweep that found nothing keeps the watermark.
        let (again, _) = end.advance(&locations, 0, None, None, overlap);
        assert_eq!(again, end);
    }

    #[test]
    fn each_group_of_ten_locations_keeps_its_own_watermark() {
        let locations = ids(23);
        let zero = chrono::Duration::zero();
        let mut cur = PollCursor::default();
        // Group 0 saw changes until 10:00, group 1 none, group 2 until 11:00.
        let seen = [
            Some(t("2026-01-01T10:00:00Z")),
            None,
            Some(t("2026-01-01T11:00:00Z")),
        ];
        for (g, max_seen) in seen.into_iter().enumerate() {
            let (next, more) = cur.advance(&locations, g, None, max_seen, zero);
            assert_eq!(more, g < 2, "group {g}");
            cur = next;
        }
        let groups: Vec<&[String]> = locations.chunks(10).collect();
        assert_eq!(cur.since_of(groups[0]), Some(t("2026-01-01T10:00:00Z")));
        assert_eq!(
            cur.since_of(groups[1]),
            None,
            "no order there yet: still from the start"
        );
        assert_eq!(cur.since_of(groups[2]), Some(t("2026-01-01T11:00:00Z")));
        // A location that is no longer synced is forgotten at the sweep's end.
        let fewer = ids(3);
        let (end, _) = cur.advance(&fewer, 0, None, None, zero);
        assert_eq!(end.since.len(), 3);
    }
}

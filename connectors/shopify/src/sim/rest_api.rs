//! `GET /admin/api/{version}/orders.json`: Shopify's REST Admin order list,
//! for tools that read orders over REST (the peers `chansync bench` compares
//! with). As Shopify serves it: `limit` (at most 250, default 50), `status`
//! (`open` by default, `closed`, `cancelled`, `any`), `updated_at_min/max`,
//! `created_at_min/max`, `since_id`, `ids`, `order` (`id`, `created_at`,
//! `updated_at` or `processed_at`, `asc` or `desc`), `fields`; further pages
//! by the `page_info` cursor in the `Link` header (`rel="next"`, and
//! `rel="previous"` after the first page), where only `limit` and `fields`
//! may accompany it. The REST leaky bucket (40 calls, 2 a second) shows in
//! `X-Shopify-Shop-Api-Call-Limit`; a call over it gets 429 with
//! `Retry-After`.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::sim::config::SHOP_DOMAIN;
use crate::sim::model::SimOrder;
use crate::sim::server::App;
use crate::sim::state::lock;

/// Shopify's standard plan: a bucket of 40 calls that leaks 2 a second.
pub(crate) const REST_BUCKET: f64 = 40.0;
pub(crate) const REST_LEAK: f64 = 2.0;
const MAX_LIMIT: usize = 250;
const DEFAULT_LIMIT: usize = 50;

/// What a cursor carries: the filter of the first request and where the
/// page starts (after or before a row, in the listing's order).
#[derive(Serialize, Deserialize)]
struct Cursor {
    q: HashMap<String, String>,
    /// `(sort key, id)` of the row the page follows (`next`) or precedes.
    at: (i64, u64),
    next: bool,
}

fn encode(c: &Cursor) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(c).expect("cursors serialize"))
}

fn decode(s: &str) -> Option<Cursor> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn error(status: StatusCode, errors: Value, headers: HeaderMap) -> Response {
    (status, headers, axum::Json(json!({ "errors": errors }))).into_response()
}

fn param_error(name: &str, message: &str, headers: HeaderMap) -> Response {
    error(StatusCode::BAD_REQUEST, json!({ name: [message] }), headers)
}

fn time(q: &HashMap<String, String>, key: &str) -> Result<Option<DateTime<FixedOffset>>, ()> {
    q.get(key)
        .map(|v| DateTime::parse_from_rfc3339(v).map_err(|_| ()))
        .transpose()
}

pub(crate) async fn orders(
    State(app): State<App>,
    Path(version): Path<String>,
    headers: HeaderMap,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    let shared = &app.shared;
    shared.counts.requests.fetch_add(1, Ordering::Relaxed);
    let token = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok());
    if token != Some(shared.cfg.access_token.as_str()) {
        return error(
            StatusCode::UNAUTHORIZED,
            json!("[API] Invalid API key or access token (unrecognized login or wrong password)"),
            HeaderMap::new(),
        );
    }
    let (allowed, used) = {
        let mut bucket = lock(&shared.rest_bucket);
        let now = Instant::now();
        let allowed = bucket.try_take(1.0, now);
        let used = REST_BUCKET - bucket.available(now);
        (allowed, used.round().clamp(0.0, REST_BUCKET) as u32)
    };
    let mut out = HeaderMap::new();
    out.insert(
        "x-shopify-shop-api-call-limit",
        HeaderValue::from_str(&format!("{}/{}", used.max(1), REST_BUCKET as u32)).expect("ascii"),
    );
    out.insert(
        "x-shopify-api-version",
        HeaderValue::from_str(&version).unwrap_or(HeaderValue::from_static("unknown")),
    );
    if !allowed {
        shared.counts.http_429.fetch_add(1, Ordering::Relaxed);
        out.insert("retry-after", HeaderValue::from_static("2.0"));
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            json!("Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."),
            out,
        );
    }

    let limit = match params.get("limit").map(|l| l.parse::<usize>()) {
        None => DEFAULT_LIMIT,
        Some(Ok(n)) if (1..=MAX_LIMIT).contains(&n) => n,
        Some(_) => return param_error("limit", "must be a number between 1 and 250", out),
    };
    let fields: Option<Vec<String>> = params
        .get("fields")
        .map(|f| f.split(',').map(|s| s.trim().to_owned()).collect());
    let (q, after) = match params.get("page_info") {
        Some(p) => {
            let extra: Vec<&String> = params
                .keys()
                .filter(|k| !matches!(k.as_str(), "page_info" | "limit" | "fields"))
                .collect();
            if !extra.is_empty() {
                return param_error(
                    "page_info",
                    &format!("Invalid value. Params {extra:?} not allowed with page_info"),
                    out,
                );
            }
            match decode(p) {
                Some(c) => (c.q, Some((c.at, c.next))),
                None => return param_error("page_info", "Invalid value.", out),
            }
        }
        None => {
            let mut q = params.clone();
            q.remove("limit");
            q.remove("fields");
            (q, None)
        }
    };

    // The listing the first request asked for.
    let order = q.get("order").map(String::as_str).unwrap_or("id asc");
    let (field, desc) = match order.split_whitespace().collect::<Vec<_>>()[..] {
        [f] => (f, false),
        [f, "asc"] => (f, false),
        [f, "desc"] => (f, true),
        _ => return param_error("order", "Invalid value.", out),
    };
    let key: fn(&SimOrder) -> i64 = match field {
        "id" => |o: &SimOrder| o.id as i64,
        "created_at" => |o: &SimOrder| o.created_at.timestamp_micros(),
        "updated_at" => |o: &SimOrder| o.updated_at.timestamp_micros(),
        "processed_at" => |o: &SimOrder| o.processed_at.timestamp_micros(),
        _ => return param_error("order", "Invalid value.", out),
    };
    let bounds = [
        ("updated_at_min", time(&q, "updated_at_min")),
        ("updated_at_max", time(&q, "updated_at_max")),
        ("created_at_min", time(&q, "created_at_min")),
        ("created_at_max", time(&q, "created_at_max")),
    ];
    let mut b = HashMap::new();
    for (name, t) in bounds {
        match t {
            Ok(t) => {
                b.insert(name, t);
            }
            Err(()) => return param_error(name, "Invalid value.", out),
        }
    }
    let since_id: u64 = match q.get("since_id").map(|s| s.parse()) {
        None => 0,
        Some(Ok(n)) => n,
        Some(Err(_)) => return param_error("since_id", "Invalid value.", out),
    };
    let ids: Option<Vec<u64>> = match q.get("ids") {
        None => None,
        Some(s) => match s.split(',').map(|i| i.trim().parse()).collect() {
            Ok(v) => Some(v),
            Err(_) => return param_error("ids", "Invalid value.", out),
        },
    };
    let status = q.get("status").map(String::as_str).unwrap_or("open");
    if !matches!(status, "open" | "closed" | "cancelled" | "any") {
        return param_error("status", "Invalid value.", out);
    }
    let keep = |o: &SimOrder| {
        let within = |t: DateTime<chrono::Utc>, min: &str, max: &str| {
            b[min].is_none_or(|m| t >= m) && b[max].is_none_or(|m| t <= m)
        };
        o.id > since_id
            && ids.as_ref().is_none_or(|ids| ids.contains(&o.id))
            && match status {
                "open" => o.closed_at.is_none() && o.cancelled_at.is_none(),
                "closed" => o.closed_at.is_some(),
                "cancelled" => o.cancelled_at.is_some(),
                _ => true,
            }
            && within(o.updated_at, "updated_at_min", "updated_at_max")
            && within(o.created_at, "created_at_min", "created_at_max")
    };
    let mut rows: Vec<_> = shared
        .all_orders()
        .into_iter()
        .filter(|o| keep(o))
        .map(|o| ((key(&o), o.id), o))
        .collect();
    rows.sort_unstable_by(|a, b| if desc { b.0.cmp(&a.0) } else { a.0.cmp(&b.0) });
    // Where this page starts, by the cursor's row.
    let comes_before = |k: &(i64, u64), at: &(i64, u64)| if desc { k > at } else { k < at };
    let (start, end) = match &after {
        None => (0, limit.min(rows.len())),
        Some((at, true)) => {
            let s = rows.partition_point(|(k, _)| comes_before(k, at) || k == at);
            (s, (s + limit).min(rows.len()))
        }
        Some((at, false)) => {
            let e = rows.partition_point(|(k, _)| comes_before(k, at));
            (e.saturating_sub(limit), e)
        }
    };
    let page = &rows[start..end];
    let mut links = Vec::new();
    let base = format!("{}/admin/api/{version}/orders.json", base_url(&headers));
    let link = |at: (i64, u64), next: bool| {
        let cursor = encode(&Cursor {
            q: q.clone(),
            at,
            next,
        });
        let mut url = format!("{base}?limit={limit}&page_info={cursor}");
        if let Some(f) = params.get("fields") {
            url.push_str(&format!("&fields={}", urlencode(f)));
        }
        format!(
            "<{url}>; rel=\"{}\"",
            if next { "next" } else { "previous" }
        )
    };
    if start > 0 {
        if let Some((k, _)) = page.first() {
            links.push(link(*k, false));
        }
    }
    if end < rows.len() {
        if let Some((k, _)) = page.last() {
            links.push(link(*k, true));
        }
    }
    if !links.is_empty() {
        out.insert(
            "link",
            HeaderValue::from_str(&links.join(", ")).expect("ascii links"),
        );
    }
    let orders: Vec<Value> = page
        .iter()
        .map(|(_, o)| {
            let mut v = serde_json::to_value(o.to_rest()).expect("orders serialize");
            if let (Some(fields), Value::Object(map)) = (&fields, &mut v) {
                map.retain(|k, _| fields.iter().any(|f| f == k));
            }
            v
        })
        .collect();
    (StatusCode::OK, out, axum::Json(json!({ "orders": orders }))).into_response()
}

/// The simulator's own address as the client reached it.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get("host")
        .and_then(|h| h.to_str().ok())
        .unwrap_or(SHOP_DOMAIN);
    format!("http://{host}")
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

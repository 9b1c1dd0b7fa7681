//! The simulated endpoints' logic, following shared/specs/square/api.json:
//! ListLocations, SearchOrders (filters, sort, cursors, default end time),
//! RetrieveOrder, BatchRetrieveOrders, BatchRetrieveCatalogObjects,
//! SearchCatalogObjects, BatchRetrieveInventoryCounts and
//! BatchChangeInventory (idempotency keys, atomic batches, field-named
//! errors). Requests are read strictly: an unknown field is refused, as a
//! typo in a client should be found here rather than in production.

use std::collections::BTreeSet;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::sim::catalog::{ITEMS, ITEM_IDS, LOCATIONS, VARIATIONS};
use crate::sim::generate::now_ms;
use crate::sim::model::{money, ts, SimOrder};
use crate::sim::state::{count_json, sku_or_id, Count, Shared};

/// One `Error` of Square's error body.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub errors: Vec<Value>,
}

fn error(category: &str, code: &str, detail: impl Into<String>, field: Option<String>) -> Value {
    let mut e = json!({ "category": category, "code": code, "detail": detail.into() });
    if let Some(f) = field {
        e["field"] = json!(f);
    }
    e
}

impl ApiError {
    /// A 400 `INVALID_REQUEST_ERROR`.
    pub(crate) fn bad(code: &str, detail: impl Into<String>, field: Option<&str>) -> Self {
        ApiError {
            status: StatusCode::BAD_REQUEST,
            errors: vec![error(
                "INVALID_REQUEST_ERROR",
                code,
                detail,
                field.map(str::to_owned),
            )],
        }
    }

    pub(crate) fn not_found(detail: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::NOT_FOUND,
            errors: vec![error("INVALID_REQUEST_ERROR", "NOT_FOUND", detail, None)],
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "errors": self.errors }))).into_response()
    }
}

/// Reads a request body strictly.
pub(crate) fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        let message = e.to_string();
        let code = if e.is_syntax() || e.is_eof() {
            "EXPECTED_JSON_BODY"
        } else if message.contains("unknown field") {
            "UNKNOWN_BODY_PARAMETER"
        } else if message.contains("invalid type") {
            "INCORRECT_TYPE"
        } else {
            "BAD_REQUEST"
        };
        ApiError::bad(code, message, None)
    })
}

fn time(field: &str, s: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ApiError::bad("INVALID_TIME", format!("{s:?}: {e}"), Some(field)))
}

/// A cursor: the query it belongs to and where the last page ended.
#[derive(Serialize, Deserialize)]
struct Cursor<K> {
    q: u64,
    after: K,
    /// The default end of the time range (ms): the first request's time.
    #[serde(default)]
    end: Option<i64>,
}

fn fingerprint(v: &impl Serialize) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    serde_json::to_string(v).unwrap_or_default().hash(&mut h);
    h.finish()
}

fn encode_cursor<K: Serialize>(c: &Cursor<K>) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(serde_json::to_vec(c).expect("cursor serializes"))
}

fn decode_cursor<K: DeserializeOwned>(s: &str, q: u64) -> Result<Cursor<K>, ApiError> {
    let invalid = || {
        ApiError::bad(
            "INVALID_CURSOR",
            "The cursor is invalid for this query.",
            Some("cursor"),
        )
    };
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .map_err(|_| invalid())?;
    let c: Cursor<K> = serde_json::from_slice(&bytes).map_err(|_| invalid())?;
    if c.q != q {
        return Err(invalid());
    }
    Ok(c)
}

fn limit(field: &str, given: Option<i64>, default: i64, max: i64) -> Result<usize, ApiError> {
    let n = given.unwrap_or(default);
    if n < 1 {
        return Err(ApiError::bad(
            "VALUE_TOO_LOW",
            format!("`{field}` must be at least 1"),
            Some(field),
        ));
    }
    if n > max {
        return Err(ApiError::bad(
            "VALUE_TOO_HIGH",
            format!("`{field}` must be at most {max}"),
            Some(field),
        ));
    }
    Ok(n as usize)
}

// ---------------------------------------------------------------- locations

/// `GET /v2/locations`.
pub(crate) fn list_locations(shared: &Shared) -> Value {
    let c = shared.currency;
    let locations: Vec<Value> = LOCATIONS
        .iter()
        .map(|l| {
            json!({
                "id": l.id,
                "name": l.name,
                "business_name": "chansync Sim Goods",
                "status": "ACTIVE",
                "type": "PHYSICAL",
                "merchant_id": crate::sim::config::MERCHANT_ID,
                "country": c.country,
                "currency": c.code,
                "timezone": "UTC",
                "capabilities": ["CREDIT_CARD_PROCESSING"],
                "created_at": "2026-01-01T00:00:00Z",
                "address": {
                    "address_line_1": c.streets[0],
                    "locality": c.cities[0].locality,
                    "postal_code": c.cities[0].postal_code,
                    "country": c.country,
                },
            })
        })
        .collect();
    json!({ "locations": locations })
}

// ------------------------------------------------------------------- orders

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SearchOrdersRequest {
    #[serde(default)]
    location_ids: Vec<String>,
    cursor: Option<String>,
    query: Option<OrdersQuery>,
    limit: Option<i64>,
    return_entries: Option<bool>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct OrdersQuery {
    filter: Option<OrdersFilter>,
    sort: Option<OrdersSort>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct OrdersFilter {
    state_filter: Option<StateFilter>,
    date_time_filter: Option<DateTimeFilter>,
    fulfillment_filter: Option<Value>,
    source_filter: Option<Value>,
    customer_filter: Option<Value>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct StateFilter {
    states: Vec<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct DateTimeFilter {
    created_at: Option<TimeRange>,
    updated_at: Option<TimeRange>,
    closed_at: Option<TimeRange>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct TimeRange {
    start_at: Option<String>,
    end_at: Option<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct OrdersSort {
    sort_field: String,
    sort_order: Option<String>,
}

/// Which timestamp a search sorts and filters on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeField {
    Created,
    Updated,
    Closed,
}

impl TimeField {
    fn of(self, o: &SimOrder) -> Option<DateTime<Utc>> {
        match self {
            TimeField::Created => Some(o.created_at),
            TimeField::Updated => Some(o.updated_at),
            TimeField::Closed => o.closed_at,
        }
    }
}

/// `POST /v2/orders/search`.
pub(crate) fn search_orders(shared: &Shared, body: &[u8]) -> Result<Value, ApiError> {
    let req: SearchOrdersRequest = parse(body)?;
    if req.location_ids.is_empty() {
        return Err(ApiError::bad(
            "MISSING_REQUIRED_PARAMETER",
            "Missing required parameter `location_ids`.",
            Some("location_ids"),
        ));
    }
    if req.location_ids.len() > 10 {
        return Err(ApiError::bad(
            "ARRAY_LENGTH_TOO_LONG",
            "`location_ids` must have at most 10 elements.",
            Some("location_ids"),
        ));
    }
    for id in &req.location_ids {
        if !LOCATIONS.iter().any(|l| l.id == id) {
            return Err(ApiError::bad(
                "INVALID_VALUE",
                format!("Location `{id}` not found."),
                Some("location_ids"),
            ));
        }
    }
    let page = limit("limit", req.limit, 500, 1000)?;
    let filter = req.query.as_ref().and_then(|q| q.filter.as_ref());
    if let Some(f) = filter {
        if f.fulfillment_filter.is_some()
            || f.source_filter.is_some()
            || f.customer_filter.is_some()
        {
            return Err(ApiError::bad(
                "BAD_REQUEST",
                "The simulator implements only `state_filter` and `date_time_filter`.",
                Some("query.filter"),
            ));
        }
    }
    let states: Option<BTreeSet<&str>> = match filter.and_then(|f| f.state_filter.as_ref()) {
        None => None,
        Some(sf) => {
            for s in &sf.states {
                if !matches!(s.as_str(), "OPEN" | "COMPLETED" | "CANCELED" | "DRAFT") {
                    return Err(ApiError::bad(
                        "INVALID_ENUM_VALUE",
                        format!("`{s}` is not a valid OrderState."),
                        Some("query.filter.state_filter.states"),
                    ));
                }
            }
            Some(sf.states.iter().map(String::as_str).collect())
        }
    };
    let ranges: Vec<(TimeField, &TimeRange)> = filter
        .and_then(|f| f.date_time_filter.as_ref())
        .map(|d| {
            [
                (TimeField::Created, &d.created_at),
                (TimeField::Updated, &d.updated_at),
                (TimeField::Closed, &d.closed_at),
            ]
            .into_iter()
            .filter_map(|(f, r)| Some((f, r.as_ref()?)))
            .collect()
        })
        .unwrap_or_default();
    if ranges.len() > 1 {
        return Err(ApiError::bad(
            "BAD_REQUEST",
            "Only one time range can be filtered for at a time.",
            Some("query.filter.date_time_filter"),
        ));
    }
    let sort = req.query.as_ref().and_then(|q| q.sort.as_ref());
    let sort_field = match sort.map(|s| s.sort_field.as_str()).unwrap_or("CREATED_AT") {
        "CREATED_AT" => TimeField::Created,
        "UPDATED_AT" => TimeField::Updated,
        "CLOSED_AT" => TimeField::Closed,
        other => {
            return Err(ApiError::bad(
                "INVALID_ENUM_VALUE",
                format!("`{other}` is not a valid SearchOrdersSortField."),
                Some("query.sort.sort_field"),
            ))
        }
    };
    let ascending = match sort.and_then(|s| s.sort_order.as_deref()).unwrap_or("DESC") {
        "ASC" => true,
        "DESC" => false,
        other => {
            return Err(ApiError::bad(
                "INVALID_SORT_ORDER",
                format!("`{other}` is not a valid SortOrder."),
                Some("query.sort.sort_order"),
            ))
        }
    };
    if let Some((field, _)) = ranges.first() {
        if *field != sort_field {
            return Err(ApiError::bad(
                "BAD_REQUEST",
                "The sort_field must match the timestamp field used by the date_time_filter.",
                Some("query.sort.sort_field"),
            ));
        }
    }
    let q = fingerprint(&(&req.location_ids, &req.query));
    let cursor: Option<Cursor<(i64, String)>> = req
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| decode_cursor(c, q))
        .transpose()?;
    if req
        .cursor
        .as_deref()
        .is_some_and(|c| !c.is_empty() && shared.chaos.expire_cursor(c))
    {
        return Err(ApiError::bad(
            "INVALID_CURSOR",
            "The cursor has expired.",
            Some("cursor"),
        ));
    }
    // An absent end time is the time of the cursor's first request.
    let default_end = cursor
        .as_ref()
        .and_then(|c| c.end)
        .unwrap_or_else(|| now_ms().timestamp_millis());
    let (start, end) = match ranges.first() {
        Some((_, r)) => {
            let field = "query.filter.date_time_filter";
            let start = r.start_at.as_deref().map(|s| time(field, s)).transpose()?;
            let end = match r.end_at.as_deref() {
                Some(s) => time(field, s)?,
                None => DateTime::from_timestamp_millis(default_end).unwrap_or_else(Utc::now),
            };
            (start, Some(end))
        }
        None => (None, None),
    };
    let filter_field = ranges.first().map(|(f, _)| *f);
    let mut hits: Vec<((i64, String), Value)> = shared.world(|w| {
        w.orders
            .values()
            .filter(|o| req.location_ids.contains(&o.location_id))
            .filter(|o| states.as_ref().is_none_or(|s| s.contains(o.state.as_str())))
            .filter(|o| match filter_field {
                None => true,
                Some(f) => f
                    .of(o)
                    .is_some_and(|t| start.is_none_or(|s| t >= s) && end.is_none_or(|e| t <= e)),
            })
            .filter_map(|o| {
                let key = (sort_field.of(o)?.timestamp_millis(), o.id.clone());
                let entry = if req.return_entries == Some(true) {
                    json!({ "order_id": o.id, "version": o.version, "location_id": o.location_id })
                } else {
                    o.to_json()
                };
                Some((key, entry))
            })
            .collect()
    });
    hits.sort_by(|a, b| {
        if ascending {
            a.0.cmp(&b.0)
        } else {
            b.0.cmp(&a.0)
        }
    });
    if let Some(c) = &cursor {
        hits.retain(|(k, _)| {
            if ascending {
                *k > c.after
            } else {
                *k < c.after
            }
        });
    }
    let more = hits.len() > page;
    hits.truncate(page);
    let mut out = serde_json::Map::new();
    if more {
        let last = hits.last().map(|(k, _)| k.clone()).unwrap_or_default();
        out.insert(
            "cursor".into(),
            json!(encode_cursor(&Cursor {
                q,
                after: last,
                end: Some(default_end),
            })),
        );
    }
    if !hits.is_empty() {
        let key = if req.return_entries == Some(true) {
            "order_entries"
        } else {
            "orders"
        };
        out.insert(
            key.into(),
            Value::Array(hits.into_iter().map(|(_, v)| v).collect()),
        );
    }
    Ok(Value::Object(out))
}

/// `GET /v2/orders/{order_id}`.
pub(crate) fn retrieve_order(shared: &Shared, id: &str) -> Result<Value, ApiError> {
    shared
        .order_json(id)
        .map(|o| json!({ "order": o }))
        .ok_or_else(|| ApiError::not_found(format!("Could not find order with id `{id}`.")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchRetrieveOrdersRequest {
    location_id: Option<String>,
    order_ids: Vec<String>,
}

/// `POST /v2/orders/batch-retrieve`: unknown ids are left out.
pub(crate) fn batch_retrieve_orders(shared: &Shared, body: &[u8]) -> Result<Value, ApiError> {
    let req: BatchRetrieveOrdersRequest = parse(body)?;
    if req.order_ids.is_empty() {
        return Err(ApiError::bad(
            "ARRAY_EMPTY",
            "`order_ids` must not be empty.",
            Some("order_ids"),
        ));
    }
    if req.order_ids.len() > 100 {
        return Err(ApiError::bad(
            "ARRAY_LENGTH_TOO_LONG",
            "`order_ids` must have at most 100 elements.",
            Some("order_ids"),
        ));
    }
    let orders: Vec<Value> = shared.world(|w| {
        req.order_ids
            .iter()
            .filter_map(|id| w.orders.get(id))
            .filter(|o| req.location_id.as_ref().is_none_or(|l| *l == o.location_id))
            .map(SimOrder::to_json)
            .collect()
    });
    Ok(json!({ "orders": orders }))
}

// ------------------------------------------------------------------ catalog

const CATALOG_UPDATED_AT: &str = "2026-01-01T00:00:00.000Z";
const CATALOG_VERSION: i64 = 1_767_225_600_000;

fn variation_json(shared: &Shared, i: usize) -> Value {
    let v = &VARIATIONS[i];
    let ordinal = VARIATIONS[..i]
        .iter()
        .filter(|o| o.item_id == v.item_id)
        .count();
    let mut data = json!({
        "item_id": v.item_id,
        "name": v.name,
        "ordinal": ordinal,
        "pricing_type": "FIXED_PRICING",
        "price_money": money(shared.currency.minor_of_usd_cents(v.usd_cents), shared.currency),
        "track_inventory": v.track,
        "sellable": true,
        "stockable": true,
    });
    if let Some(sku) = v.sku {
        data["sku"] = json!(sku);
    }
    json!({
        "type": "ITEM_VARIATION",
        "id": v.id,
        "updated_at": CATALOG_UPDATED_AT,
        "version": CATALOG_VERSION,
        "is_deleted": false,
        "present_at_all_locations": true,
        "item_variation_data": data,
    })
}

fn item_json(shared: &Shared, item: usize) -> Value {
    let id = &ITEM_IDS[item];
    let variations: Vec<Value> = (0..VARIATIONS.len())
        .filter(|i| VARIATIONS[*i].item_id == *id)
        .map(|i| variation_json(shared, i))
        .collect();
    json!({
        "type": "ITEM",
        "id": id,
        "updated_at": CATALOG_UPDATED_AT,
        "version": CATALOG_VERSION,
        "is_deleted": false,
        "present_at_all_locations": true,
        "item_data": {
            "name": ITEMS[item].name,
            "product_type": "REGULAR",
            "variations": variations,
        },
    })
}

/// A catalog object the simulator has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Object {
    Item(usize),
    Variation(usize),
}

fn find_object(id: &str) -> Option<Object> {
    if let Some(i) = VARIATIONS.iter().position(|v| v.id == id) {
        return Some(Object::Variation(i));
    }
    ITEM_IDS.iter().position(|i| i == id).map(Object::Item)
}

fn object_json(shared: &Shared, o: Object) -> Value {
    match o {
        Object::Item(i) => item_json(shared, i),
        Object::Variation(i) => variation_json(shared, i),
    }
}

fn item_of_variation(i: usize) -> usize {
    ITEM_IDS
        .iter()
        .position(|id| *id == VARIATIONS[i].item_id)
        .unwrap_or(0)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct BatchRetrieveCatalogRequest {
    object_ids: Vec<String>,
    include_related_objects: Option<bool>,
    catalog_version: Option<i64>,
    include_deleted_objects: Option<bool>,
    include_category_path_to_root: Option<bool>,
}

/// `POST /v2/catalog/batch-retrieve`.
pub(crate) fn batch_retrieve_catalog(shared: &Shared, body: &[u8]) -> Result<Value, ApiError> {
    let req: BatchRetrieveCatalogRequest = parse(body)?;
    if req.object_ids.is_empty() {
        return Err(ApiError::bad(
            "ARRAY_EMPTY",
            "`object_ids` must not be empty.",
            Some("object_ids"),
        ));
    }
    if req.object_ids.len() > 1000 {
        return Err(ApiError::bad(
            "ARRAY_LENGTH_TOO_LONG",
            "`object_ids` must have at most 1000 elements.",
            Some("object_ids"),
        ));
    }
    let mut seen = BTreeSet::new();
    let found: Vec<Object> = req
        .object_ids
        .iter()
        .filter_map(|id| find_object(id))
        .filter(|o| seen.insert(*o))
        .collect();
    let mut out =
        json!({ "objects": found.iter().map(|o| object_json(shared, *o)).collect::<Vec<_>>() });
    if req.include_related_objects == Some(true) {
        let related: BTreeSet<usize> = found
            .iter()
            .filter_map(|o| match o {
                Object::Variation(i) => Some(item_of_variation(*i)),
                Object::Item(_) => None,
            })
            .collect();
        out["related_objects"] = related.into_iter().map(|i| item_json(shared, i)).collect();
    }
    Ok(out)
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SearchCatalogRequest {
    cursor: Option<String>,
    object_types: Option<Vec<String>>,
    include_deleted_objects: Option<bool>,
    include_related_objects: Option<bool>,
    begin_time: Option<String>,
    query: Option<CatalogQuery>,
    limit: Option<i64>,
    include_category_path_to_root: Option<bool>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CatalogQuery {
    sorted_attribute_query: Option<Value>,
    exact_query: Option<ExactQuery>,
    set_query: Option<SetQuery>,
    prefix_query: Option<PrefixQuery>,
    range_query: Option<Value>,
    text_query: Option<Value>,
    items_for_tax_query: Option<Value>,
    items_for_modifier_list_query: Option<Value>,
    items_for_item_options_query: Option<Value>,
    item_variations_for_item_option_values_query: Option<Value>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct ExactQuery {
    attribute_name: String,
    attribute_value: String,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct SetQuery {
    attribute_name: String,
    attribute_values: Vec<String>,
}

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PrefixQuery {
    attribute_name: String,
    attribute_prefix: String,
}

/// An object's searchable attribute (`sku` of variations, `name` of both).
fn attribute(o: Object, name: &str) -> Option<String> {
    match (o, name) {
        (Object::Variation(i), "sku") => VARIATIONS[i].sku.map(str::to_owned),
        (Object::Variation(i), "name") => Some(VARIATIONS[i].name.to_owned()),
        (Object::Item(i), "name") => Some(ITEMS[i].name.to_owned()),
        _ => None,
    }
}

/// `POST /v2/catalog/search`.
pub(crate) fn search_catalog(shared: &Shared, body: &[u8]) -> Result<Value, ApiError> {
    let req: SearchCatalogRequest = parse(body)?;
    if let Some(q) = &req.query {
        let unsupported = [
            q.sorted_attribute_query.is_some(),
            q.range_query.is_some(),
            q.text_query.is_some(),
            q.items_for_tax_query.is_some(),
            q.items_for_modifier_list_query.is_some(),
            q.items_for_item_options_query.is_some(),
            q.item_variations_for_item_option_values_query.is_some(),
        ];
        if unsupported.iter().any(|u| *u) {
            return Err(ApiError::bad(
                "BAD_REQUEST",
                "The simulator implements only exact_query, set_query and prefix_query.",
                Some("query"),
            ));
        }
        if let Some(s) = &q.set_query {
            if s.attribute_values.len() > 250 {
                return Err(ApiError::bad(
                    "ARRAY_LENGTH_TOO_LONG",
                    "`attribute_values` must have at most 250 elements.",
                    Some("query.set_query.attribute_values"),
                ));
            }
        }
    }
    // Square ignores a limit out of range and uses its default.
    let page = match req.limit {
        Some(n) if (1..=1000).contains(&n) => n as usize,
        _ => 100,
    };
    let types: Vec<String> = req
        .object_types
        .clone()
        .unwrap_or_else(|| vec!["ITEM".to_owned()]);
    let mut objects: Vec<Object> = Vec::new();
    if types.iter().any(|t| t == "ITEM") {
        objects.extend((0..ITEMS.len()).map(Object::Item));
    }
    if types.iter().any(|t| t == "ITEM_VARIATION") {
        objects.extend((0..VARIATIONS.len()).map(Object::Variation));
    }
    if let Some(q) = &req.query {
        objects.retain(|o| {
            let exact = q.exact_query.as_ref().is_none_or(|e| {
                attribute(*o, &e.attribute_name)
                    .is_some_and(|a| a.eq_ignore_ascii_case(&e.attribute_value))
            });
            let set = q.set_query.as_ref().is_none_or(|s| {
                attribute(*o, &s.attribute_name)
                    .is_some_and(|a| s.attribute_values.iter().any(|v| a.eq_ignore_ascii_case(v)))
            });
            let prefix = q.prefix_query.as_ref().is_none_or(|p| {
                attribute(*o, &p.attribute_name).is_some_and(|a| {
                    a.to_lowercase()
                        .starts_with(&p.attribute_prefix.to_lowercase())
                })
            });
            exact && set && prefix
        });
    }
    let q = fingerprint(&(&req.object_types, &req.query));
    let offset = match req.cursor.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => decode_cursor::<usize>(c, q)?.after,
        None => 0,
    };
    let rest = objects.get(offset..).unwrap_or_default();
    let page_objects = &rest[..rest.len().min(page)];
    let mut out = serde_json::Map::new();
    if !page_objects.is_empty() {
        out.insert(
            "objects".into(),
            page_objects
                .iter()
                .map(|o| object_json(shared, *o))
                .collect(),
        );
    }
    if rest.len() > page {
        out.insert(
            "cursor".into(),
            json!(encode_cursor(&Cursor {
                q,
                after: offset + page,
                end: None
            })),
        );
    }
    out.insert("latest_time".into(), json!(CATALOG_UPDATED_AT));
    Ok(Value::Object(out))
}

// ---------------------------------------------------------------- inventory

#[derive(Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct CountsRequest {
    catalog_object_ids: Option<Vec<String>>,
    location_ids: Option<Vec<String>>,
    updated_after: Option<String>,
    cursor: Option<String>,
    states: Option<Vec<String>>,
    limit: Option<i64>,
}

/// `POST /v2/inventory/counts/batch-retrieve`: newest `calculated_at` first.
pub(crate) fn batch_retrieve_counts(shared: &Shared, body: &[u8]) -> Result<Value, ApiError> {
    let req: CountsRequest = parse(body)?;
    let page = limit("limit", req.limit, 1000, 1000)?;
    let after = req
        .updated_after
        .as_deref()
        .map(|s| time("updated_after", s))
        .transpose()?;
    // Only IN_STOCK is kept; other states have no counts here.
    let in_stock = req
        .states
        .as_ref()
        .is_none_or(|s| s.iter().any(|s| s == "IN_STOCK"));
    let q = fingerprint(&(
        &req.catalog_object_ids,
        &req.location_ids,
        &req.updated_after,
        &req.states,
    ));
    let cursor: Option<Cursor<(i64, String, String)>> = req
        .cursor
        .as_deref()
        .filter(|c| !c.is_empty())
        .map(|c| decode_cursor(c, q))
        .transpose()?;
    let mut hits: Vec<((i64, String, String), Value)> = shared.world(|w| {
        w.counts
            .iter()
            .filter(|_| in_stock)
            .filter(|((v, _), _)| {
                req.catalog_object_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&VARIATIONS[*v].id))
            })
            .filter(|((_, l), _)| {
                req.location_ids
                    .as_ref()
                    .is_none_or(|ids| ids.iter().any(|id| id == LOCATIONS[*l].id))
            })
            .filter(|(_, c)| after.is_none_or(|a| c.calculated_at > a))
            .map(|((v, l), c)| {
                let key = (
                    -c.calculated_at.timestamp_millis(),
                    VARIATIONS[*v].id.clone(),
                    LOCATIONS[*l].id.to_owned(),
                );
                (key, count_json(*v, *l, c))
            })
            .collect()
    });
    hits.sort_by(|a, b| a.0.cmp(&b.0));
    if let Some(c) = &cursor {
        hits.retain(|(k, _)| *k > c.after);
    }
    let more = hits.len() > page;
    hits.truncate(page);
    let mut out = json!({ "counts": [] });
    if more {
        let last = hits.last().map(|(k, _)| k.clone()).unwrap_or_default();
        out["cursor"] = json!(encode_cursor(&Cursor {
            q,
            after: last,
            end: None
        }));
    }
    out["counts"] = hits.into_iter().map(|(_, v)| v).collect();
    Ok(out)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchChangeRequest {
    idempotency_key: String,
    #[serde(default)]
    changes: Vec<ChangeRequest>,
    ignore_unchanged_counts: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChangeRequest {
    #[serde(rename = "type")]
    kind: Option<String>,
    physical_count: Option<CountChange>,
    adjustment: Option<AdjustmentChange>,
    transfer: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct CountChange {
    id: Option<String>,
    reference_id: Option<String>,
    catalog_object_id: Option<String>,
    catalog_object_type: Option<String>,
    state: Option<String>,
    location_id: Option<String>,
    quantity: Option<String>,
    source: Option<Value>,
    employee_id: Option<String>,
    team_member_id: Option<String>,
    occurred_at: Option<String>,
    created_at: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct AdjustmentChange {
    id: Option<String>,
    reference_id: Option<String>,
    from_state: Option<String>,
    to_state: Option<String>,
    location_id: Option<String>,
    catalog_object_id: Option<String>,
    catalog_object_type: Option<String>,
    quantity: Option<String>,
    total_price_money: Option<Value>,
    occurred_at: Option<String>,
    created_at: Option<String>,
    source: Option<Value>,
    employee_id: Option<String>,
    team_member_id: Option<String>,
}

/// One validated change.
struct Valid {
    variation: usize,
    location: usize,
    /// `Some(q)`: set the count to `q`; `None`: add `delta`.
    set: Option<i64>,
    delta: i64,
    reference_id: Option<String>,
    occurred_at: DateTime<Utc>,
    kind: &'static str,
}

/// Validates change `i`, adding Square's errors (with `field`) to `errors`.
fn validate_change(
    i: usize,
    c: &ChangeRequest,
    now: DateTime<Utc>,
    errors: &mut Vec<Value>,
) -> Option<Valid> {
    let bad = |errors: &mut Vec<Value>, code: &str, detail: String, field: String| {
        errors.push(error("INVALID_REQUEST_ERROR", code, detail, Some(field)));
    };
    if c.transfer.is_some() {
        bad(
            errors,
            "BAD_REQUEST",
            "The simulator does not implement transfers.".into(),
            format!("changes[{i}].transfer"),
        );
        return None;
    }
    let (prefix, kind, object, location, quantity, occurred, reference, from, to) =
        match (c.kind.as_deref(), &c.physical_count, &c.adjustment) {
            (Some("PHYSICAL_COUNT"), Some(p), _) => (
                "physical_count",
                "PHYSICAL_COUNT",
                &p.catalog_object_id,
                &p.location_id,
                &p.quantity,
                &p.occurred_at,
                &p.reference_id,
                None,
                p.state.as_deref(),
            ),
            (Some("ADJUSTMENT"), _, Some(a)) => (
                "adjustment",
                "ADJUSTMENT",
                &a.catalog_object_id,
                &a.location_id,
                &a.quantity,
                &a.occurred_at,
                &a.reference_id,
                a.from_state.as_deref(),
                a.to_state.as_deref(),
            ),
            (Some(k @ ("PHYSICAL_COUNT" | "ADJUSTMENT")), _, _) => {
                bad(
                    errors,
                    "MISSING_REQUIRED_PARAMETER",
                    format!("A {k} change needs its details."),
                    format!("changes[{i}]"),
                );
                return None;
            }
            (other, _, _) => {
                bad(
                    errors,
                    "INVALID_ENUM_VALUE",
                    format!("{other:?} is not a valid InventoryChangeType."),
                    format!("changes[{i}].type"),
                );
                return None;
            }
        };
    let field = |name: &str| format!("changes[{i}].{prefix}.{name}");
    let start = errors.len();
    let variation = match object.as_deref() {
        None => {
            bad(
                errors,
                "MISSING_REQUIRED_PARAMETER",
                "Missing `catalog_object_id`.".into(),
                field("catalog_object_id"),
            );
            None
        }
        Some(id) => match find_object(id) {
            Some(Object::Variation(v)) => Some(v),
            Some(Object::Item(_)) => {
                bad(
                    errors,
                    "INVALID_VALUE",
                    format!("Object `{id}` is not an item variation."),
                    field("catalog_object_id"),
                );
                None
            }
            None => {
                bad(
                    errors,
                    "NOT_FOUND",
                    format!("Catalog object `{id}` not found."),
                    field("catalog_object_id"),
                );
                None
            }
        },
    };
    let location = match location.as_deref() {
        None => {
            bad(
                errors,
                "MISSING_REQUIRED_PARAMETER",
                "Missing `location_id`.".into(),
                field("location_id"),
            );
            None
        }
        Some(id) => {
            let l = LOCATIONS.iter().position(|l| l.id == id);
            if l.is_none() {
                bad(
                    errors,
                    "NOT_FOUND",
                    format!("Location `{id}` not found."),
                    field("location_id"),
                );
            }
            l
        }
    };
    let amount = match quantity.as_deref().map(|q| (q, Decimal::from_str(q))) {
        None => {
            bad(
                errors,
                "MISSING_REQUIRED_PARAMETER",
                "Missing `quantity`.".into(),
                field("quantity"),
            );
            None
        }
        Some((q, Ok(d))) if d.fract().is_zero() && d >= Decimal::ZERO => {
            rust_decimal::prelude::ToPrimitive::to_i64(&d).or_else(|| {
                bad(
                    errors,
                    "VALUE_TOO_HIGH",
                    format!("{q:?} is too large."),
                    field("quantity"),
                );
                None
            })
        }
        Some((q, Ok(_))) => {
            bad(
                errors,
                "INVALID_VALUE",
                format!("{q:?}: the simulator keeps whole, non-negative quantities."),
                field("quantity"),
            );
            None
        }
        Some((q, Err(_))) => {
            bad(
                errors,
                "INVALID_VALUE",
                format!("{q:?} is not a decimal number."),
                field("quantity"),
            );
            None
        }
    };
    let occurred_at = match occurred.as_deref() {
        None => {
            bad(
                errors,
                "MISSING_REQUIRED_PARAMETER",
                "Missing `occurred_at`.".into(),
                field("occurred_at"),
            );
            None
        }
        Some(s) => match DateTime::parse_from_rfc3339(s) {
            Err(e) => {
                bad(
                    errors,
                    "INVALID_TIME",
                    format!("{s:?}: {e}"),
                    field("occurred_at"),
                );
                None
            }
            Ok(t) => {
                let t = t.with_timezone(&Utc);
                if t > now + Duration::minutes(1) || t < now - Duration::hours(24) {
                    bad(
                        errors,
                        "INVALID_VALUE",
                        "`occurred_at` must be within the last 24 hours and not in the future."
                            .into(),
                        field("occurred_at"),
                    );
                    None
                } else {
                    Some(t)
                }
            }
        },
    };
    let (set, sign) = match (kind, from, to) {
        ("PHYSICAL_COUNT", _, Some("IN_STOCK") | None) => (true, 0),
        ("ADJUSTMENT", _, Some("IN_STOCK")) => (false, 1),
        ("ADJUSTMENT", Some("IN_STOCK"), _) => (false, -1),
        _ => {
            bad(
                errors,
                "INVALID_VALUE",
                "The simulator keeps IN_STOCK counts only.".into(),
                field("state"),
            );
            (false, 0)
        }
    };
    if errors.len() > start {
        return None;
    }
    let (variation, location, amount, occurred_at) = (variation?, location?, amount?, occurred_at?);
    Some(Valid {
        variation,
        location,
        set: set.then_some(amount),
        delta: sign * amount,
        reference_id: reference.clone(),
        occurred_at,
        kind,
    })
}

/// `POST /v2/inventory/changes/batch-create`. All or nothing; a repeated
/// idempotency key with the same request returns the first answer and
/// changes nothing; with another request it is refused.
pub(crate) fn batch_change(shared: &Shared, body: &[u8]) -> Result<Value, ApiError> {
    let req: BatchChangeRequest = parse(body)?;
    let raw: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let key = req.idempotency_key.clone();
    if key.is_empty() {
        return Err(ApiError::bad(
            "VALUE_EMPTY",
            "`idempotency_key` must not be empty.",
            Some("idempotency_key"),
        ));
    }
    if key.chars().count() > 128 {
        return Err(ApiError::bad(
            "VALUE_TOO_LONG",
            "`idempotency_key` must be at most 128 characters.",
            Some("idempotency_key"),
        ));
    }
    if req.changes.is_empty() {
        return Err(ApiError::bad(
            "ARRAY_EMPTY",
            "`changes` must not be empty.",
            Some("changes"),
        ));
    }
    if req.changes.len() > 100 {
        return Err(ApiError::bad(
            "ARRAY_LENGTH_TOO_LONG",
            "`changes` must have at most 100 elements.",
            Some("changes"),
        ));
    }
    let ignore_unchanged = req.ignore_unchanged_counts.unwrap_or(true);
    shared.world(|w| {
        if let Some((first, answer)) = w.idempotency.get(&key) {
            return if *first == raw {
                Ok(answer.clone())
            } else {
                Err(ApiError::bad(
                    "IDEMPOTENCY_KEY_REUSED",
                    format!("The idempotency key `{key}` was used for a different request."),
                    Some("idempotency_key"),
                ))
            };
        }
        let now = now_ms();
        let mut errors = Vec::new();
        let valid: Vec<Valid> = req
            .changes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| validate_change(i, c, now, &mut errors))
            .collect();
        if !errors.is_empty() {
            return Err(ApiError {
                status: StatusCode::BAD_REQUEST,
                errors,
            });
        }
        let mut touched: Vec<(usize, usize)> = Vec::new();
        let mut changed: Vec<(usize, usize, Count)> = Vec::new();
        let mut created = Vec::new();
        for c in &valid {
            let slot = w.counts.entry((c.variation, c.location)).or_insert(Count {
                quantity: 0,
                calculated_at: now,
            });
            let before = slot.quantity;
            let after = c.set.unwrap_or(before + c.delta);
            let applies = !(ignore_unchanged && c.set.is_some() && after == before);
            if applies {
                slot.quantity = after;
                slot.calculated_at = now;
                changed.retain(|(v, l, _)| (*v, *l) != (c.variation, c.location));
                changed.push((c.variation, c.location, *slot));
            }
            if !touched.contains(&(c.variation, c.location)) {
                touched.push((c.variation, c.location));
            }
            let id = crate::sim::webhooks::uuid_like()
                .replace('-', "")
                .to_uppercase()[..26]
                .to_owned();
            let detail = if c.kind == "PHYSICAL_COUNT" {
                "physical_count"
            } else {
                "adjustment"
            };
            let mut change = json!({ "type": c.kind });
            change[detail] = json!({
                    "id": id,
                    "reference_id": c.reference_id,
                    "catalog_object_id": VARIATIONS[c.variation].id,
                    "catalog_object_type": "ITEM_VARIATION",
                    "state": "IN_STOCK",
                    "location_id": LOCATIONS[c.location].id,
                    "quantity": c.set.unwrap_or(c.delta.abs()).to_string(),
                    "occurred_at": ts(c.occurred_at),
                    "created_at": ts(now),
                    "source": { "product": "EXTERNAL_API", "name": "chansync" },
            });
            created.push(change);
            w.adjustments.push(json!({
                "sku": sku_or_id(c.variation),
                "catalog_object_id": VARIATIONS[c.variation].id,
                "location": LOCATIONS[c.location].id,
                "type": c.kind,
                "quantity": c.set.unwrap_or(c.delta),
                "before": before,
                "after": after,
                "applied": applies,
                "idempotency_key": key,
                "reference_id": c.reference_id,
                "occurred_at": ts(c.occurred_at),
            }));
        }
        let counts: Vec<Value> = touched
            .iter()
            .map(|(v, l)| count_json(*v, *l, &w.counts[&(*v, *l)]))
            .collect();
        let answer = json!({ "counts": counts, "changes": created });
        w.idempotency.insert(key.clone(), (raw, answer.clone()));
        shared.emit_counts(&changed);
        Ok(answer)
    })
}

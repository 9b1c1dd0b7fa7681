//! The simulator's HTTP face: Login with Amazon's token endpoint, the SP-API
//! operations the connector uses (each behind the access-token check, its
//! usage-plan bucket and injected faults, answering with
//! `x-amzn-RateLimit-Limit` and `x-amzn-RequestId`), the presigned document
//! URLs, and the `/_sim/*` controls for tests and the CLI.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::FormRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Form, Json, Router};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use chansync_sdk::chaos;

use crate::ops::Operation;
use crate::sim::faults::{throttled_body, Faults};
use crate::sim::listings;
use crate::sim::model::iso;
use crate::sim::state::{lock, now_seconds, OrderQuery, Shared, TokenProblem};
use crate::wire::{ErrorList, ListingsItemSubmissionResponse, TokenError, TokenResponse};

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct App {
    shared: Arc<Shared>,
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/auth/o2/token", post(lwa_token))
        .route("/orders/v0/orders", get(get_orders))
        .route("/orders/v0/orders/{order_id}", get(get_order))
        .route(
            "/orders/v0/orders/{order_id}/orderItems",
            get(get_order_items),
        )
        .route(
            "/orders/v0/orders/{order_id}/shipmentConfirmation",
            post(confirm_shipment),
        )
        .route(
            "/listings/2021-08-01/items/{seller_id}/{sku}",
            get(get_listings_item).patch(patch_listings_item),
        )
        .route("/feeds/2021-06-30/documents", post(create_feed_document))
        .route("/feeds/2021-06-30/documents/{id}", get(get_feed_document))
        .route("/feeds/2021-06-30/feeds", post(create_feed))
        .route("/feeds/2021-06-30/feeds/{id}", get(get_feed))
        .route("/_sim/documents/{id}", put(upload).get(download))
        .route("/_sim/state", get(state))
        .route("/_sim/faults", post(faults))
        .fallback(not_found)
        .with_state(App {
            shared: shared.clone(),
        })
        .merge(chaos::routes(shared.chaos.clone()))
        .layer(axum::middleware::from_fn_with_state(
            shared.chaos.clone(),
            chaos::middleware,
        ))
}

fn respond(status: u16, body: impl Serialize) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (status, Json(body)).into_response()
}

fn request_id() -> HeaderValue {
    let r: u128 = rand::random();
    let h = format!("{r:032x}");
    let id = format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    );
    HeaderValue::from_str(&id).expect("hex is a header value")
}

async fn not_found() -> Response {
    let mut r = respond(
        404,
        ErrorList::one("NotFound", "The resource specified does not exist.", None),
    );
    r.headers_mut().insert("x-amzn-RequestId", request_id());
    r
}

/// The 403 of a refused access token.
fn forbidden(problem: TokenProblem) -> Response {
    let details = match problem {
        TokenProblem::Expired => "The access token you provided has expired.",
        TokenProblem::Missing | TokenProblem::Unknown => {
            "The access token you provided is revoked, malformed or invalid."
        }
    };
    respond(
        403,
        ErrorList::one(
            "Unauthorized",
            "Access to requested resource is denied.",
            Some(details.into()),
        ),
    )
}

/// Runs an SP-API operation behind faults, auth and its usage plan.
fn spapi(
    app: &App,
    op: Operation,
    headers: &HeaderMap,
    run: impl FnOnce(&Arc<Shared>) -> Response,
) -> Response {
    let shared = &app.shared;
    shared.counts.request(op);
    let fault = shared.faults.take().or_else(|| shared.faults.take_lost(op));
    let mut resp = 'answer: {
        if let Some(f) = fault.filter(|f| !f.after_execution()) {
            if f.status == 429 {
                shared.counts.throttled(op);
            }
            break 'answer f.response();
        }
        let token = headers
            .get("x-amz-access-token")
            .and_then(|v| v.to_str().ok());
        if let Err(problem) = shared.tokens.check(token) {
            shared
                .counts
                .refused_tokens
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            break 'answer forbidden(problem);
        }
        if !shared.limits.take(op) {
            shared.counts.throttled(op);
            break 'answer respond(429, throttled_body());
        }
        let resp = run(shared);
        match fault {
            Some(f) => f.response(),
            None => resp,
        }
    };
    let status = resp.status().as_u16();
    if !matches!(status, 403 | 429 | 500..=599) {
        let rate = shared.limits.rate(op).to_string();
        resp.headers_mut().insert(
            "x-amzn-RateLimit-Limit",
            HeaderValue::from_str(&rate).expect("a number is a header value"),
        );
    }
    resp.headers_mut().insert("x-amzn-RequestId", request_id());
    resp
}

/// Query parameters by name; comma-separated lists split.
struct Params(HashMap<String, Vec<String>>);

impl Params {
    fn new(pairs: Vec<(String, String)>) -> Self {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            map.entry(k).or_default().extend(
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_owned),
            );
        }
        Params(map)
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.0.get(name).cloned().unwrap_or_default()
    }

    fn one(&self, name: &str) -> Option<String> {
        self.0.get(name).and_then(|v| v.first().cloned())
    }
}

/// A refused call: its status and error body.
type Rejection = (u16, ErrorList);

fn reject((status, errors): Rejection) -> Response {
    respond(status, errors)
}

/// The Orders API's 400.
fn orders_400(details: impl Into<String>) -> Rejection {
    (
        400,
        ErrorList::one("InvalidInput", "Invalid Input", Some(details.into())),
    )
}

fn orders_invalid(details: impl Into<String>) -> Response {
    reject(orders_400(details))
}

fn orders_not_found(id: &str) -> Response {
    respond(
        404,
        ErrorList::one(
            "NotFound",
            "The resource specified does not exist.",
            Some(format!("no order {id}")),
        ),
    )
}

/// Whether an id has Amazon's 3-7-7 digit shape.
fn is_order_id(id: &str) -> bool {
    let parts: Vec<&str> = id.split('-').collect();
    parts.len() == 3
        && [3, 7, 7]
            .iter()
            .zip(&parts)
            .all(|(n, p)| p.len() == *n && p.bytes().all(|b| b.is_ascii_digit()))
}

fn parse_time(name: &str, v: &str) -> Result<DateTime<Utc>, Rejection> {
    DateTime::parse_from_rfc3339(v)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| orders_400(format!("{name} {v:?} is not an ISO 8601 date-time")))
}

/// What a `getOrders` NextToken carries: the query and where the page ended.
#[derive(Serialize, Deserialize)]
struct OrdersToken {
    u: bool,
    a: DateTime<Utc>,
    b: Option<DateTime<Utc>>,
    m: Vec<String>,
    s: Vec<String>,
    c: Vec<String>,
    l: usize,
    t: DateTime<Utc>,
    i: String,
}

fn encode_token<T: Serialize>(t: &T) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(t).expect("a token serializes"))
}

fn decode_token<T: serde::de::DeserializeOwned>(s: &str) -> Option<T> {
    let bytes = base64::engine::general_purpose::STANDARD.decode(s).ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn orders_query(shared: &Shared, p: &Params) -> Result<OrderQuery, Rejection> {
    let marketplaces = p.list("MarketplaceIds");
    if marketplaces.is_empty() || marketplaces.len() > 50 {
        return Err(orders_400("MarketplaceIds is required (at most 50)"));
    }
    if let Some(m) = marketplaces
        .iter()
        .find(|m| !shared.cfg.marketplace_ids.contains(m))
    {
        return Err(orders_400(format!(
            "the seller does not sell in marketplace {m}"
        )));
    }
    if let Some(token) = p.one("NextToken") {
        let t: OrdersToken = decode_token(&token).ok_or_else(|| orders_400("Invalid NextToken"))?;
        if shared.chaos.expire_cursor(&token) {
            return Err(orders_400("NextToken has expired"));
        }
        return Ok(OrderQuery {
            marketplaces: t.m,
            by_update: t.u,
            after: t.a,
            before: t.b,
            statuses: t.s,
            channels: t.c,
            from: Some((t.t, t.i)),
            limit: t.l,
        });
    }
    let created = p.one("CreatedAfter");
    let updated = p.one("LastUpdatedAfter");
    let (by_update, after) = match (created, updated) {
        (Some(_), Some(_)) => {
            return Err(orders_400(
                "CreatedAfter and LastUpdatedAfter cannot both be set",
            ))
        }
        (None, None) => {
            return Err(orders_400(
                "either CreatedAfter or LastUpdatedAfter is required",
            ))
        }
        (Some(c), None) => (false, parse_time("CreatedAfter", &c)?),
        (None, Some(u)) => (true, parse_time("LastUpdatedAfter", &u)?),
    };
    let (before_name, wrong_name) = if by_update {
        ("LastUpdatedBefore", "CreatedBefore")
    } else {
        ("CreatedBefore", "LastUpdatedBefore")
    };
    if p.one(wrong_name).is_some() {
        return Err(orders_400(format!(
            "{wrong_name} cannot be combined with the other filter"
        )));
    }
    let before = p
        .one(before_name)
        .map(|b| parse_time(before_name, &b))
        .transpose()?;
    let limit = match p.one("MaxResultsPerPage") {
        None => 100,
        Some(v) => match v.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => return Err(orders_400("MaxResultsPerPage must be 1 - 100")),
        },
    };
    Ok(OrderQuery {
        marketplaces,
        by_update,
        after,
        before,
        statuses: p.list("OrderStatuses"),
        channels: p.list("FulfillmentChannels"),
        from: None,
        limit,
    })
}

async fn get_orders(
    State(app): State<App>,
    headers: HeaderMap,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    spapi(&app, Operation::GetOrders, &headers, |shared| {
        let q = match orders_query(shared, &Params::new(pairs)) {
            Ok(q) => q,
            Err(r) => return reject(r),
        };
        let (orders, last) = shared.orders_page(&q);
        let mut payload = json!({ "Orders": orders });
        payload[if q.by_update {
            "LastUpdatedBefore"
        } else {
            "CreatedBefore"
        }] = json!(iso(q.before.unwrap_or_else(now_seconds)));
        if let Some((t, i)) = last {
            payload["NextToken"] = json!(encode_token(&OrdersToken {
                u: q.by_update,
                a: q.after,
                b: q.before,
                m: q.marketplaces.clone(),
                s: q.statuses.clone(),
                c: q.channels.clone(),
                l: q.limit,
                t,
                i,
            }));
        }
        respond(200, json!({ "payload": payload }))
    })
}

async fn get_order(
    State(app): State<App>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
) -> Response {
    spapi(&app, Operation::GetOrder, &headers, |shared| {
        if !is_order_id(&order_id) {
            return orders_invalid(format!("{order_id:?} is not an order id (3-7-7)"));
        }
        match shared.order_json(&order_id) {
            Some(o) => respond(200, json!({ "payload": o })),
            None => orders_not_found(&order_id),
        }
    })
}

async fn get_order_items(
    State(app): State<App>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    spapi(&app, Operation::GetOrderItems, &headers, |shared| {
        if !is_order_id(&order_id) {
            return orders_invalid(format!("{order_id:?} is not an order id (3-7-7)"));
        }
        let Some(items) = shared.order_items(&order_id) else {
            return orders_not_found(&order_id);
        };
        let offset = match Params::new(pairs).one("NextToken") {
            None => 0,
            Some(t) => match decode_token::<(String, usize)>(&t) {
                Some((id, offset)) if id == order_id => offset,
                _ => return orders_invalid("Invalid NextToken"),
            },
        };
        let per_page = shared.cfg.order_items_per_page.max(1);
        let end = (offset + per_page).min(items.len());
        let page = items.get(offset..end).unwrap_or_default();
        let mut payload = json!({ "AmazonOrderId": order_id, "OrderItems": page });
        if end < items.len() {
            payload["NextToken"] = json!(encode_token(&(order_id.clone(), end)));
        }
        respond(200, json!({ "payload": payload }))
    })
}

async fn confirm_shipment(
    State(app): State<App>,
    headers: HeaderMap,
    Path(order_id): Path<String>,
    body: Bytes,
) -> Response {
    spapi(
        &app,
        Operation::ConfirmShipment,
        &headers,
        |shared| match shared.confirm_shipment(&order_id, &body) {
            Ok(()) => StatusCode::NO_CONTENT.into_response(),
            Err((status, errors)) => respond(status, errors),
        },
    )
}

/// The Listings API's 400 (its sandbox code and message).
fn listings_400(details: impl Into<String>) -> Rejection {
    (
        400,
        ErrorList::one("BAD_REQUEST", "Invalid input", Some(details.into())),
    )
}

fn listings_invalid(details: impl Into<String>) -> Response {
    reject(listings_400(details))
}

/// Checks the seller and marketplaces of a Listings call.
fn listings_scope(shared: &Shared, seller_id: &str, p: &Params) -> Result<Vec<String>, Rejection> {
    if seller_id != shared.cfg.seller_id {
        return Err((
            403,
            ErrorList::one(
                "Unauthorized",
                "Access to requested resource is denied.",
                Some(format!(
                    "the token is not authorized for selling partner {seller_id}"
                )),
            ),
        ));
    }
    let marketplaces = p.list("marketplaceIds");
    if marketplaces.is_empty() {
        return Err(listings_400("marketplaceIds is required"));
    }
    if let Some(m) = marketplaces
        .iter()
        .find(|m| !shared.cfg.marketplace_ids.contains(m))
    {
        return Err(listings_400(format!(
            "the seller does not sell in marketplace {m}"
        )));
    }
    Ok(marketplaces)
}

async fn get_listings_item(
    State(app): State<App>,
    headers: HeaderMap,
    Path((seller_id, sku)): Path<(String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Response {
    spapi(&app, Operation::GetListingsItem, &headers, |shared| {
        let p = Params::new(pairs);
        let marketplaces = match listings_scope(shared, &seller_id, &p) {
            Ok(m) => m,
            Err(r) => return reject(r),
        };
        let mut included = p.list("includedData");
        if included.is_empty() {
            included.push("summaries".into());
        }
        let included: Vec<&str> = included.iter().map(String::as_str).collect();
        let store = lock(&shared.store);
        match store.listings.get(&sku) {
            Some(l) => respond(200, l.to_json(&marketplaces, &included)),
            None => respond(
                404,
                ErrorList::one(
                    "NOT_FOUND",
                    &format!("SKU '{sku}' not found in marketplace"),
                    None,
                ),
            ),
        }
    })
}

async fn patch_listings_item(
    State(app): State<App>,
    headers: HeaderMap,
    Path((seller_id, sku)): Path<(String, String)>,
    Query(pairs): Query<Vec<(String, String)>>,
    body: Bytes,
) -> Response {
    spapi(&app, Operation::PatchListingsItem, &headers, |shared| {
        let p = Params::new(pairs);
        if let Err(r) = listings_scope(shared, &seller_id, &p) {
            return reject(r);
        }
        let Ok(body) = serde_json::from_slice::<Value>(&body) else {
            return listings_invalid("the body is not JSON");
        };
        if body["productType"].as_str().is_none_or(str::is_empty) {
            return listings_invalid("productType is required");
        }
        let Some(patches) = body["patches"].as_array().filter(|p| !p.is_empty()) else {
            return listings_invalid("patches must hold at least one patch operation");
        };
        let preview = p.one("mode").as_deref() == Some("VALIDATION_PREVIEW");
        let mut store = lock(&shared.store);
        let submission_id = {
            let r: u128 = rand::random();
            format!("{r:032x}")
        };
        let now = now_seconds();
        let result = match store.listings.get_mut(&sku) {
            None => Err(vec![listings::unknown_sku(&sku)]),
            Some(listing) if preview => {
                let mut copy = listing.clone();
                listings::apply_patches(&mut copy, patches, now)
            }
            Some(listing) => listings::apply_patches(listing, patches, now),
        };
        let (status, issues) = match result {
            Ok(()) if preview => ("VALID", Vec::new()),
            Ok(()) => {
                store.submissions += 1;
                ("ACCEPTED", Vec::new())
            }
            Err(issues) => ("INVALID", issues),
        };
        respond(
            200,
            ListingsItemSubmissionResponse {
                sku: sku.clone(),
                status: status.into(),
                submission_id,
                issues,
            },
        )
    })
}

async fn create_feed_document(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    spapi(&app, Operation::CreateFeedDocument, &headers, |shared| {
        let spec: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        match shared.create_document(spec["contentType"].as_str().unwrap_or("")) {
            Ok(v) => respond(201, v),
            Err(r) => reject(r),
        }
    })
}

async fn get_feed_document(
    State(app): State<App>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    spapi(
        &app,
        Operation::GetFeedDocument,
        &headers,
        |shared| match shared.document_info(&id) {
            Ok(v) => respond(200, v),
            Err(r) => reject(r),
        },
    )
}

async fn create_feed(State(app): State<App>, headers: HeaderMap, body: Bytes) -> Response {
    spapi(&app, Operation::CreateFeed, &headers, |shared| {
        let spec: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        match shared.create_feed(&spec) {
            Ok(v) => respond(202, v),
            Err(r) => reject(r),
        }
    })
}

async fn get_feed(State(app): State<App>, headers: HeaderMap, Path(id): Path<String>) -> Response {
    spapi(&app, Operation::GetFeed, &headers, |shared| {
        match shared.feed_json(&id) {
            Ok(v) => respond(200, v),
            Err(r) => reject(r),
        }
    })
}

/// The presigned upload URL (S3 in real life: no SP-API token).
async fn upload(
    State(app): State<App>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let shared = &app.shared;
    shared
        .counts
        .uploads
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    match shared.upload(&id, content_type, body.to_vec()) {
        Ok(()) => StatusCode::OK.into_response(),
        Err(403) => (StatusCode::FORBIDDEN, "SignatureDoesNotMatch").into_response(),
        Err(_) => (StatusCode::NOT_FOUND, "NoSuchKey").into_response(),
    }
}

/// The presigned download URL.
async fn download(State(app): State<App>, Path(id): Path<String>) -> Response {
    let shared = &app.shared;
    shared
        .counts
        .downloads
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    match shared.download(&id) {
        Some((body, content_type)) => {
            (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
        }
        None => (StatusCode::NOT_FOUND, "NoSuchKey").into_response(),
    }
}

fn token_error(status: u16, error: &str, description: &str) -> Response {
    respond(
        status,
        TokenError {
            error: error.into(),
            error_description: Some(description.into()),
        },
    )
}

/// Login with Amazon's token endpoint (refresh-token grant only).
async fn lwa_token(
    State(app): State<App>,
    form: Result<Form<Vec<(String, String)>>, FormRejection>,
) -> Response {
    let shared = &app.shared;
    let refuse = |status, error, description| {
        shared
            .counts
            .lwa_refusals
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        token_error(status, error, description)
    };
    let Ok(Form(pairs)) = form else {
        return refuse(
            400,
            "invalid_request",
            "The request is missing a required parameter or is malformed.",
        );
    };
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    if get("grant_type") != Some("refresh_token") {
        return refuse(
            400,
            "unsupported_grant_type",
            "The authorization grant type is not supported by the authorization server",
        );
    }
    let cfg = &shared.cfg;
    if get("client_id") != Some(cfg.client_id.as_str())
        || get("client_secret") != Some(cfg.client_secret.as_str())
    {
        return refuse(401, "invalid_client", "Client authentication failed");
    }
    if get("refresh_token") != Some(cfg.refresh_token.as_str()) {
        return refuse(
            400,
            "invalid_grant",
            "The request has an invalid grant parameter : refresh_token",
        );
    }
    let token = {
        let mut store = lock(&shared.store);
        shared.tokens.issue(&mut store.rng, cfg.token_ttl)
    };
    shared
        .counts
        .lwa_grants
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    respond(
        200,
        TokenResponse {
            access_token: token,
            refresh_token: Some(cfg.refresh_token.clone()),
            token_type: "bearer".into(),
            expires_in: cfg.token_ttl.as_secs().max(1),
        },
    )
}

async fn state(State(app): State<App>) -> Json<Value> {
    Json(app.shared.state_json())
}

/// `POST /_sim/faults` with `{"status", "count", "retry_after_secs"}`.
async fn faults(State(app): State<App>, body: Bytes) -> Response {
    let f: Faults = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => return respond(400, json!({ "error": format!("unreadable body: {e}") })),
    };
    if let Err(message) = f.check() {
        return respond(400, json!({ "error": message }));
    }
    app.shared.faults.set(f);
    respond(200, json!({ "faults": f }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_ids_are_3_7_7_digits() {
        assert!(is_order_id("902-1845936-5435065"));
        assert!(!is_order_id("902-1845936-543506"));
        assert!(!is_order_id("TEST_CASE_200"));
    }

    #[test]
    fn list_parameters_split_on_commas() {
        let p = Params::new(vec![
            ("MarketplaceIds".into(), "A,B".into()),
            ("MarketplaceIds".into(), "C".into()),
        ]);
        assert_eq!(p.list("MarketplaceIds"), ["A", "B", "C"]);
        assert_eq!(p.one("NextToken"), None);
    }
}

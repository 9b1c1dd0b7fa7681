//! The simulator's HTTP face: `POST /admin/api/{version}/graphql.json` with
//! Shopify's auth, error bodies, cost extension and injected faults around the
//! executor, and the `/_sim/*` controls for tests and the CLI (state, faults,
//! products, stock adjustments). Everything else is Shopify's 404.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::time::Instant;

use chansync_sdk::chaos;

use crate::sim::cost::CostModel;
use crate::sim::faults::Faults;
use crate::sim::schema::{self, ApiVersion, SimSchema};
use crate::sim::state::{lock, Shared};

const RATE_LIMITS_DOC: &str = "https://shopify.dev/api/usage/rate-limits";

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) shared: Arc<Shared>,
    schema: SimSchema,
    cost: Arc<CostModel>,
}

impl App {
    pub(crate) fn new(shared: Arc<Shared>) -> Self {
        let schema = schema::build(shared.clone());
        let cost = Arc::new(CostModel::from_sdl(&schema.sdl()));
        App {
            shared,
            schema,
            cost,
        }
    }
}

pub(crate) fn router(app: App) -> Router {
    Router::new()
        .route("/admin/api/{version}/graphql.json", post(graphql))
        .route(
            "/admin/api/{version}/orders.json",
            get(crate::sim::rest_api::orders),
        )
        .route("/_sim/state", get(state))
        .route("/_sim/faults", post(faults))
        .route("/_sim/products", post(add_product))
        .route("/_sim/stock/adjust", post(adjust_stock))
        .fallback(not_found)
        .with_state(app.clone())
        .merge(chaos::routes(app.shared.chaos.clone()))
        .layer(axum::middleware::from_fn_with_state(
            app.shared.chaos.clone(),
            chaos::middleware,
        ))
}

fn not_found_response() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"errors": "Not Found"}))).into_response()
}

async fn not_found() -> Response {
    not_found_response()
}

async fn state(State(app): State<App>) -> Json<Value> {
    Json(app.shared.state_json())
}

fn control_error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({ "error": message }))).into_response()
}

/// Reads a control's JSON body, or says why not (for a 400).
fn control_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, String> {
    serde_json::from_slice(body).map_err(|e| format!("unreadable body: {e}"))
}

/// `POST /_sim/faults` with `{"status", "count", "retry_after_secs"}`.
async fn faults(State(app): State<App>, body: Bytes) -> Response {
    let f: Faults = match control_body(&body) {
        Ok(f) => f,
        Err(message) => return control_error(StatusCode::BAD_REQUEST, message),
    };
    if let Err(message) = f.check() {
        return control_error(StatusCode::BAD_REQUEST, message);
    }
    app.shared.faults.set(f);
    Json(json!({ "faults": f })).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewProduct {
    sku: String,
    title: String,
}

/// `POST /_sim/products` with `{"sku", "title"}`: 201, or 409 if the SKU exists.
async fn add_product(State(app): State<App>, body: Bytes) -> Response {
    let p: NewProduct = match control_body(&body) {
        Ok(p) => p,
        Err(message) => return control_error(StatusCode::BAD_REQUEST, message),
    };
    if p.sku.trim().is_empty() {
        return control_error(StatusCode::BAD_REQUEST, "sku must not be empty".into());
    }
    if app.shared.add_product(&p.sku, &p.title) {
        (StatusCode::CREATED, Json(json!({ "sku": p.sku }))).into_response()
    } else {
        control_error(
            StatusCode::CONFLICT,
            format!("SKU {:?} already exists", p.sku),
        )
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StockAdjustment {
    sku: String,
    delta: i64,
}

/// `POST /_sim/stock/adjust` with `{"sku", "delta"}`: changes the SKU's
/// available quantity at the primary location, as a sale in the shop would.
async fn adjust_stock(State(app): State<App>, body: Bytes) -> Response {
    let a: StockAdjustment = match control_body(&body) {
        Ok(a) => a,
        Err(message) => return control_error(StatusCode::BAD_REQUEST, message),
    };
    match app.shared.adjust_stock(&a.sku, a.delta) {
        Some(available) => Json(json!({ "sku": a.sku, "available": available })).into_response(),
        None => control_error(StatusCode::NOT_FOUND, format!("unknown SKU {:?}", a.sku)),
    }
}

/// `YYYY-MM`, as Shopify's version path segment is.
fn is_api_version(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 7
        && b[4] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || c.is_ascii_digit())
        && matches!(
            &v[5..],
            "01" | "02" | "03" | "04" | "05" | "06" | "07" | "08" | "09" | "10" | "11" | "12"
        )
}

#[derive(Deserialize)]
struct GraphqlBody {
    query: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
}

/// A request the executor can take, or Shopify's 400.
struct Parsed {
    query: String,
    variables: serde_json::Map<String, Value>,
    operation: Option<String>,
}

fn bad_request() -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"errors": {"query": "Required parameter missing or invalid"}})),
    )
        .into_response()
}

fn parse_body(headers: &HeaderMap, body: &[u8]) -> Option<Parsed> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    // Shopify also takes the bare document with `application/graphql`.
    if content_type.starts_with("application/graphql") {
        let query = std::str::from_utf8(body).ok()?.to_owned();
        return (!query.trim().is_empty()).then(|| Parsed {
            query,
            variables: Default::default(),
            operation: None,
        });
    }
    let parsed: GraphqlBody = serde_json::from_slice(body).ok()?;
    let query = parsed.query.filter(|q| !q.trim().is_empty())?;
    let variables = match parsed.variables {
        None | Some(Value::Null) => serde_json::Map::new(),
        Some(Value::Object(m)) => m,
        Some(_) => return None,
    };
    Some(Parsed {
        query,
        variables,
        operation: parsed.operation_name,
    })
}

/// The root fields the operation selects (fragments at the root not followed).
fn root_fields(
    doc: &async_graphql::parser::types::ExecutableDocument,
    operation: Option<&str>,
) -> Vec<String> {
    use async_graphql::parser::types::{DocumentOperations, Selection};
    let op = match (&doc.operations, operation) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|o| &o.node),
        (DocumentOperations::Multiple(ops), None) => ops.values().next().map(|o| &o.node),
    };
    op.map(|op| {
        op.selection_set
            .node
            .items
            .iter()
            .filter_map(|s| match &s.node {
                Selection::Field(f) => Some(f.node.name.node.to_string()),
                _ => None,
            })
            .collect()
    })
    .unwrap_or_default()
}

fn cost_extension(requested: u64, actual: Option<u64>, status: Value) -> Value {
    json!({
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": status,
        }
    })
}

async fn graphql(
    State(app): State<App>,
    Path(version): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !is_api_version(&version) {
        return not_found_response();
    }
    let shared = &app.shared;
    shared.counts.requests.fetch_add(1, Ordering::Relaxed);
    let fault = shared.faults.take();
    if let Some(f) = fault.filter(|f| !f.after_execution()) {
        if f.status == 429 {
            shared.counts.http_429.fetch_add(1, Ordering::Relaxed);
        }
        return f.response();
    }
    let resp = answer(&app, &version, &headers, &body).await;
    match fault {
        Some(f) => f.response(),
        None => resp,
    }
}

/// The API's answer to one authenticated-or-not request.
async fn answer(app: &App, version: &str, headers: &HeaderMap, body: &[u8]) -> Response {
    let shared = &app.shared;
    let token = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok());
    if token != Some(shared.cfg.access_token.as_str()) {
        let body = json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let Some(req) = parse_body(headers, body) else {
        return bad_request();
    };
    // A document that does not parse costs nothing; the executor reports why.
    let doc = async_graphql::parser::parse_query(&req.query).ok();
    let operation = req.operation.as_deref();
    let requested = doc
        .as_ref()
        .map_or(0, |d| app.cost.requested(d, operation, &req.variables));
    let max = shared.cfg.max_query_cost;
    if requested as f64 > max {
        let status = lock(&shared.bucket).status(Instant::now());
        let message = format!(
            "Query cost is {requested}, which exceeds the single query max cost limit ({max}).\n\n\
             See {RATE_LIMITS_DOC} for more information on how the cost of a query is calculated.\n\n\
             To query larger amounts of data with fewer limits, bulk operations should be used instead."
        );
        let body = json!({
            "errors": [{
                "message": message,
                "extensions": {"code": "MAX_COST_EXCEEDED", "cost": requested, "maxCost": max},
            }],
            "extensions": cost_extension(requested, None, status),
        });
        return Json(body).into_response();
    }
    let taken = {
        let mut bucket = lock(&shared.bucket);
        let now = Instant::now();
        bucket
            .try_take(requested as f64, now)
            .then_some(())
            .ok_or_else(|| bucket.status(now))
    };
    if let Err(status) = taken {
        shared.counts.throttled.fetch_add(1, Ordering::Relaxed);
        let body = json!({
            "errors": [{
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": RATE_LIMITS_DOC},
            }],
            "extensions": cost_extension(requested, None, status),
        });
        return Json(body).into_response();
    }
    let mut request = async_graphql::Request::new(req.query.clone())
        .variables(async_graphql::Variables::from_json(Value::Object(
            req.variables.clone(),
        )))
        .data(ApiVersion(version.to_owned()));
    if let Some(op) = operation {
        request = request.operation_name(op);
    }
    if let Some(doc) = &doc {
        request.set_parsed_query(doc.clone());
    }
    let response = app.schema.execute(request).await;
    let lost = doc
        .as_ref()
        .is_some_and(|d| shared.lost.take(&root_fields(d, operation)));
    if lost {
        let f = Faults {
            status: 502,
            count: 1,
            retry_after_secs: None,
        };
        return f.response();
    }
    let data = response.data.into_json().unwrap_or(Value::Null);
    let actual = match &doc {
        Some(d) if !data.is_null() => app
            .cost
            .actual(d, operation, &req.variables, &data)
            .min(requested),
        _ => 0,
    };
    let status = {
        let mut bucket = lock(&shared.bucket);
        let now = Instant::now();
        bucket.refund((requested - actual) as f64, now);
        bucket.status(now)
    };
    let mut body = serde_json::Map::new();
    if !data.is_null() || response.errors.is_empty() {
        body.insert("data".into(), data);
    }
    if !response.errors.is_empty() {
        body.insert(
            "errors".into(),
            serde_json::to_value(&response.errors).unwrap_or_default(),
        );
    }
    body.insert(
        "extensions".into(),
        cost_extension(requested, Some(actual), status),
    );
    Json(Value::Object(body)).into_response()
}

#[cfg(test)]
mod tests {
    use super::is_api_version;

    #[test]
    fn api_versions() {
        for (v, ok) in [
            ("2026-07", true),
            ("2024-01", true),
            ("2026-13", false),
            ("unstable", false),
            ("26-07", false),
            ("2026_07", false),
        ] {
            assert_eq!(is_api_version(v), ok, "{v}");
        }
    }
}

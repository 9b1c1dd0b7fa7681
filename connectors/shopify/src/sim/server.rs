//! The simulator's HTTP face: `POST /admin/api/{version}/graphql.json` with
//! Shopify's auth, error bodies and cost extension around the executor, and
//! `GET /_sim/state` for tests and the CLI. Everything else is Shopify's 404.

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

use crate::sim::cost::CostModel;
use crate::sim::schema::{self, SimSchema};
use crate::sim::state::{lock, Shared};

const RATE_LIMITS_DOC: &str = "https://shopify.dev/api/usage/rate-limits";

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct App {
    shared: Arc<Shared>,
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
        .route("/_sim/state", get(state))
        .fallback(not_found)
        .with_state(app)
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
    let token = headers
        .get("x-shopify-access-token")
        .and_then(|v| v.to_str().ok());
    if token != Some(shared.cfg.access_token.as_str()) {
        let body = json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"});
        return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
    }
    let Some(req) = parse_body(&headers, &body) else {
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
    let mut request = async_graphql::Request::new(req.query.clone()).variables(
        async_graphql::Variables::from_json(Value::Object(req.variables.clone())),
    );
    if let Some(op) = operation {
        request = request.operation_name(op);
    }
    if let Some(doc) = &doc {
        request.set_parsed_query(doc.clone());
    }
    let response = app.schema.execute(request).await;
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

//! The simulator's HTTP face: Square's `/v2` endpoints behind one gate
//! (request counting, the optional rate limit, injected faults, bearer auth,
//! `Square-Version`, JSON content type), and the `/_sim/*` controls for tests
//! and the CLI. Anything else is Square's 404.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

use chansync_sdk::chaos;

use crate::config::is_square_version;
use crate::sim::api::{self, ApiError};
use crate::sim::faults::Faults;
use crate::sim::state::{lock, Shared};

/// A response with one Square error.
pub(crate) fn square_error(
    status: StatusCode,
    category: &str,
    code: &str,
    detail: &str,
    field: Option<&str>,
) -> Response {
    let mut e = json!({ "category": category, "code": code, "detail": detail });
    if let Some(f) = field {
        e["field"] = json!(f);
    }
    (status, Json(json!({ "errors": [e] }))).into_response()
}

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/v2/locations", get(list_locations))
        .route("/v2/orders/search", post(search_orders))
        .route("/v2/orders/batch-retrieve", post(batch_retrieve_orders))
        .route(
            "/v2/orders/{order_id}",
            get(retrieve_order).put(update_order),
        )
        .route("/v2/catalog/batch-retrieve", post(batch_retrieve_catalog))
        .route("/v2/catalog/search", post(search_catalog))
        .route(
            "/v2/inventory/counts/batch-retrieve",
            post(batch_retrieve_counts),
        )
        .route("/v2/inventory/changes/batch-create", post(batch_change))
        .route_layer(middleware::from_fn_with_state(shared.clone(), gate))
        .route("/_sim/state", get(state))
        .route("/_sim/faults", post(faults))
        .fallback(not_found)
        .with_state(shared.clone())
        .merge(chaos::routes(shared.chaos.clone()))
        .layer(middleware::from_fn_with_state(
            shared.chaos.clone(),
            chaos::middleware,
        ))
}

async fn not_found() -> Response {
    square_error(
        StatusCode::NOT_FOUND,
        "INVALID_REQUEST_ERROR",
        "NOT_FOUND",
        "The requested resource was not found.",
        None,
    )
}

/// What every API request passes before its handler.
async fn gate(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    shared.counts.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(limiter) = &shared.limiter {
        if !lock(limiter).try_take() {
            shared.counts.http_429.fetch_add(1, Ordering::Relaxed);
            return Faults {
                status: 429,
                count: 1,
                retry_after_secs: None,
            }
            .response();
        }
    }
    let fault = shared.faults.take();
    if let Some(f) = fault.filter(|f| !f.after_execution()) {
        if f.status == 429 {
            shared.counts.http_429.fetch_add(1, Ordering::Relaxed);
        }
        return f.response();
    }
    let headers = req.headers();
    let expected = format!("Bearer {}", shared.cfg.access_token);
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == expected);
    if !authorized {
        shared.counts.unauthorized.fetch_add(1, Ordering::Relaxed);
        return square_error(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_ERROR",
            "UNAUTHORIZED",
            "This request could not be authorized.",
            None,
        );
    }
    let version = headers
        .get("square-version")
        .map(|v| v.to_str().unwrap_or("").to_owned());
    if let Some(v) = &version {
        if !is_square_version(v) {
            return square_error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST_ERROR",
                "INVALID_SQUARE_VERSION_FORMAT",
                &format!("Invalid Square-Version format: {v:?}. Use YYYY-MM-DD."),
                None,
            );
        }
    }
    *lock(&shared.versions)
        .entry(version.unwrap_or_else(|| "(none)".to_owned()))
        .or_default() += 1;
    if req.method() == Method::POST {
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        if !json {
            return square_error(
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST_ERROR",
                "INVALID_CONTENT_TYPE",
                "Content-Type must be application/json.",
                None,
            );
        }
    }
    let resp = next.run(req).await;
    match fault {
        Some(f) => f.response(),
        None => resp,
    }
}

fn respond(result: Result<Value, ApiError>) -> Response {
    match result {
        Ok(v) => Json(v).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn list_locations(State(shared): State<Arc<Shared>>) -> Response {
    Json(api::list_locations(&shared)).into_response()
}

async fn search_orders(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(api::search_orders(&shared, &body))
}

async fn batch_retrieve_orders(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(api::batch_retrieve_orders(&shared, &body))
}

async fn retrieve_order(State(shared): State<Arc<Shared>>, Path(id): Path<String>) -> Response {
    respond(api::retrieve_order(&shared, &id))
}

async fn update_order(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let answer = respond(crate::sim::update::update_order(&shared, &id, &body));
    let lost = answer.status().is_success()
        && shared
            .lost_update_answers
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok();
    if lost {
        // It ran; the answer is lost on the way back.
        return Faults {
            status: 500,
            count: 1,
            retry_after_secs: None,
        }
        .response();
    }
    answer
}

async fn batch_retrieve_catalog(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(api::batch_retrieve_catalog(&shared, &body))
}

async fn search_catalog(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(api::search_catalog(&shared, &body))
}

async fn batch_retrieve_counts(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(api::batch_retrieve_counts(&shared, &body))
}

async fn batch_change(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    respond(api::batch_change(&shared, &body))
}

async fn state(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.state_json())
}

/// `POST /_sim/faults` with `{"status", "count", "retry_after_secs"}`.
async fn faults(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let f: Faults = match serde_json::from_slice(&body) {
        Ok(f) => f,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": format!("unreadable body: {e}") })),
            )
                .into_response()
        }
    };
    if let Err(message) = f.check() {
        return (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response();
    }
    shared.faults.set(f);
    Json(json!({ "faults": f })).into_response()
}

//! The admin API: `/api/*`, the same JSON as the CLI's `--format json`, and
//! the actions a merchant or a script takes (fulfil, cancel, set stock,
//! replay dead letters). Every request needs `Authorization: Bearer <token>`
//! with `[server] admin_token`; without a configured token the API is off.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use chansync_sdk::model::OrderStatus;
use chansync_sdk::ExposeSecret;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use crate::store::{Actor, CommandError, OrderFilter, OutboxFilter, StoreError};

/// The `/api` routes, behind the token check.
pub fn routes(state: Arc<AppState>) -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/orders", get(list_orders))
        .route("/api/orders/{id}", get(show_order))
        .route("/api/orders/{id}/fulfil", post(fulfil))
        .route("/api/orders/{id}/cancel", post(cancel))
        .route("/api/stock", get(stock))
        .route("/api/stock/{sku}", put(set_stock))
        .route("/api/outbox", get(outbox))
        .route("/api/outbox/{id}/replay", post(replay_one))
        .route("/api/outbox/replay-dead", post(replay_dead))
        .route("/api/connectors", get(connectors))
        .route_layer(middleware::from_fn_with_state(state, require_token))
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

/// Constant-time bearer token check.
async fn require_token(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let config = state.rt.config();
    let Some(expected) = config.admin_token.as_ref() else {
        return error(
            StatusCode::FORBIDDEN,
            "the admin API is off: set [server] admin_token",
        );
    };
    let given = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .unwrap_or("");
    let ok = chansync_sdk::webhook::digests_equal(
        &sha(given.as_bytes()),
        &sha(expected.expose_secret().as_bytes()),
    );
    if !ok {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            Json(json!({ "error": "missing or wrong bearer token" })),
        )
            .into_response();
    }
    next.run(req).await
}

/// Hashing first makes the comparison's length fixed too.
fn sha(b: &[u8]) -> Vec<u8> {
    use sha2::Digest;
    sha2::Sha256::digest(b).to_vec()
}

fn store_error(e: StoreError) -> Response {
    tracing::error!(error = %e, "admin API store error");
    error(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

fn command_error(e: CommandError) -> Response {
    match e {
        CommandError::NoOrder(_) => error(StatusCode::NOT_FOUND, e.to_string()),
        CommandError::Refused(m) => error(StatusCode::CONFLICT, m),
        CommandError::Store(e) => store_error(e),
    }
}

#[derive(Deserialize)]
struct ListQuery {
    connector: Option<String>,
    status: Option<String>,
    limit: Option<i64>,
}

async fn list_orders(State(s): State<Arc<AppState>>, Query(q): Query<ListQuery>) -> Response {
    let status = match q
        .status
        .as_deref()
        .map(str::parse::<OrderStatus>)
        .transpose()
    {
        Ok(s) => s,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let filter = OrderFilter {
        connector: q.connector,
        status,
        limit: q.limit.or(Some(100)),
    };
    match s.rt.store.list_orders(&filter).await {
        Ok(orders) => Json(orders).into_response(),
        Err(e) => store_error(e),
    }
}

async fn show_order(State(s): State<Arc<AppState>>, Path(id): Path<i64>) -> Response {
    let store = &s.rt.store;
    let order = match store.get_order(id).await {
        Ok(Some(o)) => o,
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no order with id {id}")),
        Err(e) => return store_error(e),
    };
    let history = match store.order_history(id).await {
        Ok(h) => h,
        Err(e) => return store_error(e),
    };
    let mut v = serde_json::to_value(&order).unwrap_or_default();
    v["history"] = serde_json::to_value(&history).unwrap_or_default();
    Json(v).into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FulfilBody {
    location: String,
    #[serde(default)]
    carrier: Option<String>,
    tracking: String,
    /// Channel line id → quantity; omitted: every line in full.
    #[serde(default)]
    lines: BTreeMap<String, i64>,
}

async fn fulfil(
    State(s): State<Arc<AppState>>,
    Path(id): Path<i64>,
    body: Option<Json<FulfilBody>>,
) -> Response {
    let Some(Json(b)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected JSON {location, tracking, carrier?, lines?}",
        );
    };
    match s
        .rt
        .store
        .fulfil(id, &b.location, b.carrier.as_deref(), &b.tracking, &b.lines)
        .await
    {
        Ok(fid) => (
            StatusCode::CREATED,
            Json(json!({ "order_id": id, "fulfillment_id": fid })),
        )
            .into_response(),
        Err(e) => command_error(e),
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CancelBody {
    #[serde(default)]
    reason: Option<String>,
}

async fn cancel(
    State(s): State<Arc<AppState>>,
    Path(id): Path<i64>,
    body: Option<Json<CancelBody>>,
) -> Response {
    let reason = body.and_then(|Json(b)| b.reason);
    match s.rt.store.cancel(id, reason.as_deref()).await {
        Ok(()) => Json(json!({ "order_id": id, "status": "cancelled" })).into_response(),
        Err(e) => command_error(e),
    }
}

#[derive(Deserialize)]
struct StockQuery {
    sku: Option<String>,
}

async fn stock(State(s): State<Arc<AppState>>, Query(q): Query<StockQuery>) -> Response {
    match s.rt.store.stock_view(q.sku.as_deref()).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => store_error(e),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SetStockBody {
    location: String,
    on_hand: i64,
    #[serde(default)]
    safety: Option<i64>,
}

async fn set_stock(
    State(s): State<Arc<AppState>>,
    Path(sku): Path<String>,
    body: Option<Json<SetStockBody>>,
) -> Response {
    let Some(Json(b)) = body else {
        return error(
            StatusCode::BAD_REQUEST,
            "expected JSON {location, on_hand, safety?}",
        );
    };
    match s
        .rt
        .store
        .set_on_hand(&sku, &b.location, b.on_hand, b.safety, &Actor::new("api"))
        .await
    {
        Ok((before, after)) => Json(json!({
            "sku": sku,
            "location": b.location,
            "on_hand": [before.on_hand, after.on_hand],
            "reserved": after.reserved,
            "available": after.available(),
        }))
        .into_response(),
        Err(CommandError::Refused(m)) => error(StatusCode::BAD_REQUEST, m),
        Err(e) => command_error(e),
    }
}

#[derive(Deserialize)]
struct OutboxQuery {
    state: Option<String>,
    connector: Option<String>,
    limit: Option<i64>,
}

async fn outbox(State(s): State<Arc<AppState>>, Query(q): Query<OutboxQuery>) -> Response {
    let f = OutboxFilter {
        state: q.state,
        connector: q.connector,
        limit: q.limit.or(Some(200)),
    };
    match s.rt.store.outbox_list(&f).await {
        Ok(rows) => Json(rows).into_response(),
        Err(e) => store_error(e),
    }
}

async fn replay_one(State(s): State<Arc<AppState>>, Path(id): Path<i64>) -> Response {
    match s.rt.store.outbox_row(id).await {
        Ok(None) => return error(StatusCode::NOT_FOUND, format!("no outbox row {id}")),
        Ok(Some(r)) if r.state != "dead" => {
            return error(
                StatusCode::CONFLICT,
                format!("outbox row {id} is {}, not dead", r.state),
            )
        }
        Ok(Some(_)) => {}
        Err(e) => return store_error(e),
    }
    match s.rt.store.outbox_replay(Some(id)).await {
        Ok(ids) => Json(json!({ "replayed": ids })).into_response(),
        Err(e) => store_error(e),
    }
}

async fn replay_dead(State(s): State<Arc<AppState>>) -> Response {
    match s.rt.store.outbox_replay(None).await {
        Ok(ids) => Json(json!({ "replayed": ids })).into_response(),
        Err(e) => store_error(e),
    }
}

async fn connectors(State(s): State<Arc<AppState>>) -> Response {
    match crate::cli::connectors_json(&s.rt.config(), Some(&s.rt.store)).await {
        Ok(v) => Json(v).into_response(),
        Err(e) => store_error(e),
    }
}

//! The HTTP listener's routes: webhooks, health and readiness, and the
//! admin API (`api`).

pub mod api;
pub mod page;
pub mod serve;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::mpsc;

use crate::daemon::Runtime;
use crate::intake::inbox::WriteRequest;

/// What the handlers share.
pub struct AppState {
    pub rt: Arc<Runtime>,
    /// The inbox writer's queue.
    pub inbox: mpsc::Sender<WriteRequest>,
}

/// The listener's router.
pub fn router(state: Arc<AppState>, max_body_bytes: usize) -> Router {
    Router::new()
        .route(
            "/webhooks/{connector}",
            post(crate::intake::webhook::receive).layer(DefaultBodyLimit::max(max_body_bytes)),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .merge(api::routes(state.clone()))
        .merge(page::routes())
        .with_state(state)
}

async fn readyz(State(state): State<Arc<AppState>>) -> (StatusCode, &'static str) {
    let rt = &state.rt;
    if rt.draining.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else if rt.ready.load(Ordering::SeqCst) {
        (StatusCode::OK, "ready\n")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n")
    }
}

async fn metrics(State(state): State<Arc<AppState>>) -> axum::response::Response {
    use axum::response::IntoResponse;
    match state.rt.metrics.render(&state.rt).await {
        Ok(text) => (
            [(
                axum::http::header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the store for /metrics");
            (StatusCode::SERVICE_UNAVAILABLE, "store unavailable\n").into_response()
        }
    }
}

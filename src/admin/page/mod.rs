//! `GET /`: the status page a merchant reads: each channel's health (last
//! successful poll, webhook freshness and backlog, pushes, rate limiting),
//! recent orders with where they ship from, stock that is low or out, and
//! dead letters with a replay button. Server-rendered, refreshed every 10 s,
//! no script, one card per row on a phone. It shows customer data, so it
//! asks for the admin token once and keeps a digest of it in an HttpOnly,
//! SameSite=Strict cookie.

mod health;
mod view;

use std::sync::Arc;

use axum::extract::{Form, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chansync_sdk::ExposeSecret;
use chrono::{DateTime, Utc};
use maud::Markup;
use serde::Deserialize;

use super::AppState;
use crate::store::{OrderFilter, OutboxFilter, StoreError};
use health::Signals;
use view::{Channel, RateLimit, Replayed, Status};

const COOKIE: &str = "chansync_token";

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(page))
        .route("/login", post(login))
        .route("/ui/outbox/{id}/replay", post(replay))
}

fn token_ok(state: &AppState, given: &str) -> bool {
    use sha2::Digest;
    let config = state.rt.config();
    let Some(expected) = config.admin_token.as_ref() else {
        return false;
    };
    chansync_sdk::webhook::digests_equal(
        &sha2::Sha256::digest(given.as_bytes()),
        &sha2::Sha256::digest(expected.expose_secret().as_bytes()),
    )
}

/// The cookie holds a digest of the token, never the token itself.
fn session_value(token: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(
        format!("chansync-session:{token}").as_bytes(),
    ))
}

fn cookie_ok(state: &AppState, headers: &HeaderMap) -> bool {
    let config = state.rt.config();
    let Some(expected) = config.admin_token.as_ref() else {
        return false;
    };
    let want = session_value(expected.expose_secret());
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| {
            c.trim()
                .strip_prefix(COOKIE)
                .and_then(|r| r.strip_prefix('='))
        })
        .any(|v| chansync_sdk::webhook::digests_equal(v.as_bytes(), want.as_bytes()))
}

/// A page of ours: never cached (it holds customer data and is live), no
/// script, no framing, forms only to ourselves.
fn respond(status: StatusCode, markup: Markup) -> Response {
    let mut r = (status, Html(markup.into_string())).into_response();
    let h = r.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

#[derive(Deserialize)]
struct PageQuery {
    /// The push just replayed, whose outcome the page reports.
    replayed: Option<i64>,
}

async fn page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<PageQuery>,
) -> Response {
    if state.rt.config().admin_token.is_none() {
        return respond(StatusCode::FORBIDDEN, view::off());
    }
    if !cookie_ok(&state, &headers) {
        return respond(StatusCode::OK, view::sign_in(None));
    }
    match status(&state, q.replayed).await {
        Ok(s) => respond(StatusCode::OK, view::status(&s)),
        Err(e) => {
            tracing::error!(error = %e, "cannot read the store for the status page");
            respond(StatusCode::SERVICE_UNAVAILABLE, view::unavailable())
        }
    }
}

fn instant(v: &serde_json::Value) -> Option<DateTime<Utc>> {
    v.as_str()
        .and_then(|s| DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.with_timezone(&Utc))
}

/// Reads what the page shows. The connectors are those of the config in
/// force now: a reload may have added or removed some since the last view.
async fn status(state: &AppState, replayed: Option<i64>) -> Result<Status, StoreError> {
    let store = &state.rt.store;
    let config = state.rt.config();
    let running = state.rt.connectors();
    let owned = state.rt.owned();
    let now = Utc::now();
    let mut channels = Vec::new();
    for c in crate::cli::connectors_json(&config, Some(store)).await? {
        let name = c["name"].as_str().unwrap_or_default().to_owned();
        let poll_every = config
            .connectors
            .iter()
            .find(|k| k.name == name)
            .and_then(|k| k.poll.as_ref())
            .map(|p| p.interval());
        let webhooks = c["capabilities"]
            .as_array()
            .is_some_and(|a| a.iter().any(|v| v == "webhooks"));
        let signals = Signals {
            poll_every,
            last_poll_ok: c["last_poll_ok"].as_bool(),
            last_poll_error: c["last_error"].as_str().map(str::to_owned),
            last_poll_ok_at: instant(&c["last_poll_ok_at"]),
            last_poll_started_at: instant(&c["last_poll_started_at"]),
            webhooks,
            last_webhook_at: instant(&c["last_webhook_at"]),
            backlog: c["backlog"].as_i64().unwrap_or(0),
            backlog_oldest_at: instant(&c["backlog_oldest_at"]),
            dead_letters: c["dead_letters"].as_i64().unwrap_or(0),
        };
        let (health, note) = health::health(&signals, now);
        // The live limiter where the connector runs (this replica holds
        // its lease); else what its last poll recorded.
        let rate_limit = match running
            .get(&name)
            .filter(|_| owned.contains_key(&name))
            .and_then(|i| i.connector.rate_limit_state())
        {
            Some(s) => Some(RateLimit {
                requests: s.requests,
                throttled: s.throttled,
                paused_ms: s.paused_ms,
            }),
            None => c["rate_limit"].as_object().map(|r| RateLimit {
                requests: r.get("requests").and_then(|v| v.as_u64()).unwrap_or(0),
                throttled: r.get("throttled").and_then(|v| v.as_u64()).unwrap_or(0),
                paused_ms: 0,
            }),
        };
        channels.push(Channel {
            kind: c["kind"].as_str().unwrap_or_default().to_owned(),
            health,
            note,
            poll: poll_every.map(|_| signals.last_poll_ok_at),
            webhook: webhooks.then_some(signals.last_webhook_at),
            backlog: signals.backlog,
            backlog_oldest_at: signals.backlog_oldest_at,
            waiting_pushes: c["outbox_pending"].as_i64().unwrap_or(0),
            dead_letters: signals.dead_letters,
            rate_limit,
            name,
        });
    }
    let orders = store
        .list_orders(&OrderFilter {
            limit: Some(20),
            ..Default::default()
        })
        .await?;
    let low_stock = store
        .stock_view(None)
        .await?
        .into_iter()
        .filter(|s| s.available <= view::LOW_STOCK)
        .collect();
    let dead = store
        .outbox_list(&OutboxFilter {
            state: Some("dead".into()),
            limit: Some(50),
            ..Default::default()
        })
        .await?;
    let replayed = match replayed {
        Some(id) => Some(Replayed {
            id,
            row: store.outbox_row(id).await?,
        }),
        None => None,
    };
    Ok(Status {
        now,
        channels,
        orders,
        low_stock,
        dead,
        replayed,
    })
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(state): State<Arc<AppState>>, Form(f): Form<LoginForm>) -> Response {
    if !token_ok(&state, &f.token) {
        return respond(
            StatusCode::UNAUTHORIZED,
            view::sign_in(Some("That is not the admin token. Try again.")),
        );
    }
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
        session_value(&f.token)
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

/// Requeues a dead letter, then shows the page with the replay's outcome.
/// Post/redirect/get: a refresh of the page that follows never posts again.
async fn replay(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if !cookie_ok(&state, &headers) {
        return respond(
            StatusCode::UNAUTHORIZED,
            view::sign_in(Some(
                "Your session has ended, so nothing was replayed: sign in, then press Replay again.",
            )),
        );
    }
    match state.rt.store.outbox_replay(Some(id)).await {
        Ok(ids) => {
            if !ids.is_empty() {
                tracing::info!(outbox = id, "dead letter replayed from the status page");
            }
            Redirect::to(&format!("/?replayed={id}")).into_response()
        }
        Err(e) => {
            tracing::error!(outbox = id, error = %e, "cannot replay from the status page");
            respond(StatusCode::SERVICE_UNAVAILABLE, view::unavailable())
        }
    }
}

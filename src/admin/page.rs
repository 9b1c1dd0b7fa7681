//! `GET /`: the status page a merchant reads: each channel's health, recent
//! orders with where they ship from, stock that is low or out, and dead
//! letters with a replay button. Server-rendered, refreshed every 10 s, no
//! script. It shows customer data, so it asks for the admin token once and
//! keeps it in an HttpOnly, SameSite=Strict cookie.

use std::sync::Arc;

use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use chansync_sdk::ExposeSecret;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

use super::AppState;
use crate::store::{OrderFilter, OutboxFilter};

const COOKIE: &str = "chansync_token";
/// Stock at or below this many units shows as low.
const LOW_STOCK: i64 = 2;

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

fn frame(title: &str, refresh: bool, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                @if refresh { meta http-equiv="refresh" content="10"; }
                title { (title) }
                style { (CSS) }
            }
            body { (body) }
        }
    }
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:1rem;color:#1b1b1b;max-width:72rem}\
h1{font-size:1.4rem}h2{font-size:1.1rem;margin-top:1.6rem}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.3rem .5rem;border-bottom:1px solid #ddd}\
.ok{color:#176b2c;font-weight:600}.late,.attention{color:#9a5b00;font-weight:600}.error{color:#b00020;font-weight:600}\
.muted{color:#666}.wrap{overflow-x:auto}button{padding:.25rem .7rem}";

async fn page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    if state.rt.config().admin_token.is_none() {
        let body = html! {
            h1 { "chansync" }
            p { "The status page is off: set " code { "[server] admin_token" } " to use it." }
        };
        return (
            StatusCode::FORBIDDEN,
            Html(frame("chansync", false, body).into_string()),
        )
            .into_response();
    }
    if !cookie_ok(&state, &headers) {
        let body = html! {
            h1 { "chansync" }
            form method="post" action="/login" {
                label { "Admin token " input type="password" name="token" autocomplete="current-password"; }
                " " button type="submit" { "Sign in" }
            }
        };
        return Html(frame("chansync: sign in", false, body).into_string()).into_response();
    }
    match status(&state).await {
        Ok(m) => Html(frame("chansync status", true, m).into_string()).into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unavailable: {e}\n"),
        )
            .into_response(),
    }
}

/// A connector's health in one word, from its last poll and dead letters.
fn health(c: &serde_json::Value, every: Option<std::time::Duration>) -> (&'static str, String) {
    let dead = c["dead_letters"].as_i64().unwrap_or(0);
    if c["last_poll_ok"] == false {
        return (
            "error",
            format!(
                "last poll failed: {}",
                c["last_error"].as_str().unwrap_or("?")
            ),
        );
    }
    if let (Some(every), Some(last)) = (every, c["last_poll"].as_str()) {
        let age = chrono::DateTime::parse_from_rfc3339(last)
            .map(|t| {
                chrono::Utc::now()
                    .signed_duration_since(t)
                    .to_std()
                    .unwrap_or_default()
            })
            .unwrap_or_default();
        if age > every * 3 + std::time::Duration::from_secs(30) {
            return ("late", format!("last poll {}s ago", age.as_secs()));
        }
    }
    if every.is_some() && c["last_poll"].is_null() {
        return ("late", "not polled yet".into());
    }
    if dead > 0 {
        return ("attention", format!("{dead} dead letters"));
    }
    ("ok", "current".into())
}

async fn status(state: &AppState) -> Result<Markup, crate::store::StoreError> {
    let store = &state.rt.store;
    let config = state.rt.config();
    let connectors = crate::cli::connectors_json(&config, Some(store)).await?;
    let orders = store
        .list_orders(&OrderFilter {
            limit: Some(20),
            ..Default::default()
        })
        .await?;
    let stock: Vec<_> = store
        .stock_view(None)
        .await?
        .into_iter()
        .filter(|s| s.available <= LOW_STOCK)
        .collect();
    let dead = store
        .outbox_list(&OutboxFilter {
            state: Some("dead".into()),
            limit: Some(50),
            ..Default::default()
        })
        .await?;
    let schedule = |name: &str| {
        config
            .connectors
            .iter()
            .find(|c| c.name == name)
            .and_then(|c| c.poll.as_ref())
            .map(|p| p.next_delay())
    };
    Ok(html! {
        h1 { "chansync status" }
        p.muted { "Refreshed every 10 seconds · " (chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC")) }
        h2 { "Channels" }
        div.wrap { table {
            tr { th { "Channel" } th { "Kind" } th { "Health" } th { "Last poll" } th { "Webhook backlog" } th { "Waiting pushes" } th { "Dead letters" } th { "Rate limit" } }
            @for c in &connectors {
                @let name = c["name"].as_str().unwrap_or("");
                @let (class, note) = health(c, schedule(name));
                tr data-connector=(name) {
                    td { (name) }
                    td { (c["kind"].as_str().unwrap_or("")) }
                    td { span class=(class) { (class) } " " span.muted { (note) } }
                    td { (c["last_poll"].as_str().unwrap_or("webhooks only")) }
                    td { (c["backlog"]) }
                    td { (c["outbox_pending"]) }
                    td { (c["dead_letters"]) }
                    td { @if c["rate_limit"].is_null() { "-" } @else {
                        (c["rate_limit"]["requests"]) " requests, " (c["rate_limit"]["throttled"]) " throttled" } }
                }
            }
        } }
        h2 { "Recent orders" }
        div.wrap { table {
            tr { th { "Order" } th { "Channel" } th { "Status" } th { "Total" } th { "Ships from" } th { "Placed" } }
            @for o in &orders {
                tr {
                    td { (o.external_number.as_deref().unwrap_or(&o.external_id)) }
                    td { (o.connector) }
                    td { (o.status.as_str()) }
                    td { (o.currency.as_str()) " " (o.total) }
                    td { @if o.allocations.is_empty() { span.muted { "-" } } @else {
                        (o.allocations.iter().map(|a| format!("{}×{}@{}", a.quantity, a.sku, a.location)).collect::<Vec<_>>().join(", ")) } }
                    td { (o.placed_at.format("%Y-%m-%d %H:%M")) }
                }
            }
        } }
        h2 { "Stock low or out" }
        @if stock.is_empty() { p.muted { "Nothing at or below " (LOW_STOCK) " units." } } @else {
            div.wrap { table {
                tr { th { "SKU" } th { "On hand" } th { "Reserved" } th { "Available" } th { "Published" } }
                @for s in &stock {
                    tr {
                        td { (s.sku) }
                        td { (s.on_hand) }
                        td { (s.reserved) }
                        td class=(if s.available <= 0 { "error" } else { "late" }) { (s.available) }
                        td { (s.channels.iter().map(|c| format!("{}={}", c.connector, c.published)).collect::<Vec<_>>().join(", ")) }
                    }
                }
            } }
        }
        h2 { "Dead letters" }
        @if dead.is_empty() { p.muted { "None: every push reached its channel." } } @else {
            div.wrap { table {
                tr { th { "#" } th { "Channel" } th { "What" } th { "Attempts" } th { "Error" } th {} }
                @for d in &dead {
                    tr data-outbox=(d.id) {
                        td { (d.id) }
                        td { (d.connector) }
                        td { (d.kind) " " (d.key) }
                        td { (d.attempts) }
                        td { (d.last_error.as_deref().unwrap_or("")) }
                        td { form method="post" action=(format!("/ui/outbox/{}/replay", d.id)) { button type="submit" { "Replay" } } }
                    }
                }
            } }
        }
    })
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(state): State<Arc<AppState>>, Form(f): Form<LoginForm>) -> Response {
    if !token_ok(&state, &f.token) {
        return (
            StatusCode::UNAUTHORIZED,
            Html("wrong token; <a href=\"/\">try again</a>"),
        )
            .into_response();
    }
    let cookie = format!(
        "{COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
        session_value(&f.token)
    );
    ([(header::SET_COOKIE, cookie)], Redirect::to("/")).into_response()
}

async fn replay(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Response {
    if !cookie_ok(&state, &headers) {
        return (StatusCode::UNAUTHORIZED, "sign in first\n").into_response();
    }
    match state.rt.store.outbox_replay(Some(id)).await {
        Ok(_) => Redirect::to("/").into_response(),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("store unavailable: {e}\n"),
        )
            .into_response(),
    }
}

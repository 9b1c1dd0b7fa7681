//! Seeded fault injection for channel simulators (feature `sim`).
//!
//! A simulator wraps its API routes in [`middleware`] and mounts
//! [`routes`]; a test, a connector developer or `chansync simulate` then
//! posts a [`ChaosPlan`] to `/_sim/chaos` and the simulator starts failing
//! the way real channels do, at the rates the plan gives:
//!
//! | class | what the client sees | did the channel do the work? |
//! |---|---|---|
//! | `unavailable` | 503 with the channel's error body | no |
//! | `server_error` | 500 with the channel's error body | yes: the answer is lost |
//! | `throttle` | 429 with `Retry-After` | no |
//! | `throttle_bare` | 429 without `Retry-After` | no |
//! | `slow` | the answer after `slow_ms` (past the client's timeout) | yes |
//! | `reset` | the connection dropped in the middle of the answer | yes |
//! | `truncate` | a 200 whose JSON body is cut short | yes |
//! | `malformed` | a 200 whose body is an HTML error page | yes |
//! | `expire_cursor` | the channel's own "cursor expired" error on a page request, for good for that cursor (the simulator decides where) | no |
//! | `webhook_loss` / `webhook_duplicate` / `webhook_delay` | a delivery never sent, sent twice, or held back until later ones went first | — |
//!
//! Every draw comes from one seeded generator, so a plan with a seed fails
//! the same requests on every run with the same traffic. `GET /_sim/chaos`
//! shows the plan and how many faults of each class were injected.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The longest a `slow` answer may be held.
pub const MAX_SLOW: Duration = Duration::from_secs(120);

/// What to break, as shares of requests (0.0 to 1.0) per class.
///
/// The request classes are drawn together: their shares must add up to at
/// most 1. `expire_cursor` and the webhook classes are drawn on their own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChaosPlan {
    /// Seeds the draws.
    pub seed: u64,
    /// 503 before the request runs.
    pub unavailable: f64,
    /// 500 after the request ran.
    pub server_error: f64,
    /// 429 with `Retry-After: 1`.
    pub throttle: f64,
    /// 429 without `Retry-After`.
    pub throttle_bare: f64,
    /// The answer held for `slow_ms` after the request ran.
    pub slow: f64,
    /// How long a `slow` answer is held, in milliseconds.
    pub slow_ms: u64,
    /// The connection reset halfway through the answer.
    pub reset: f64,
    /// The body cut to half its length.
    pub truncate: f64,
    /// A 200 whose body is an HTML error page.
    pub malformed: f64,
    /// Page requests that carry a cursor answered as the cursor expired.
    pub expire_cursor: f64,
    /// Webhook deliveries never sent.
    pub webhook_loss: f64,
    /// Webhook deliveries sent twice (same ids, as channels retry).
    pub webhook_duplicate: f64,
    /// Webhook deliveries held back until the next ones have gone.
    pub webhook_delay: f64,
}

impl ChaosPlan {
    fn request_classes(&self) -> [(Fault, f64); 8] {
        [
            (Fault::Unavailable, self.unavailable),
            (Fault::ServerError, self.server_error),
            (Fault::Throttle, self.throttle),
            (Fault::ThrottleBare, self.throttle_bare),
            (Fault::Slow, self.slow),
            (Fault::Reset, self.reset),
            (Fault::Truncate, self.truncate),
            (Fault::Malformed, self.malformed),
        ]
    }

    /// Whether the plan can be run; the error names the field that is wrong.
    pub fn check(&self) -> Result<(), String> {
        let all = self
            .request_classes()
            .into_iter()
            .map(|(f, r)| (f.name(), r))
            .chain([
                ("expire_cursor", self.expire_cursor),
                ("webhook_loss", self.webhook_loss),
                ("webhook_duplicate", self.webhook_duplicate),
                ("webhook_delay", self.webhook_delay),
            ]);
        for (name, rate) in all {
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("{name} must be a share from 0 to 1, not {rate}"));
            }
        }
        let sum: f64 = self.request_classes().iter().map(|(_, r)| r).sum();
        if sum > 1.0 + 1e-9 {
            return Err(format!(
                "the request classes' shares add up to {sum}; at most 1"
            ));
        }
        let webhooks = self.webhook_loss + self.webhook_duplicate + self.webhook_delay;
        if webhooks > 1.0 + 1e-9 {
            return Err(format!(
                "the webhook classes' shares add up to {webhooks}; at most 1"
            ));
        }
        if self.slow > 0.0 && self.slow_ms == 0 {
            return Err("slow needs slow_ms".into());
        }
        if Duration::from_millis(self.slow_ms) > MAX_SLOW {
            return Err(format!("slow_ms is at most {}", MAX_SLOW.as_millis()));
        }
        Ok(())
    }
}

/// A fault injected into one API request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 503 before the request runs.
    Unavailable,
    /// 500 after the request ran.
    ServerError,
    /// 429 with `Retry-After`.
    Throttle,
    /// 429 without `Retry-After`.
    ThrottleBare,
    /// The answer held past the client's timeout.
    Slow,
    /// The connection reset mid-answer.
    Reset,
    /// The body cut short.
    Truncate,
    /// An HTML error page with status 200.
    Malformed,
}

impl Fault {
    /// The class's name in plans and counts.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Unavailable => "unavailable",
            Fault::ServerError => "server_error",
            Fault::Throttle => "throttle",
            Fault::ThrottleBare => "throttle_bare",
            Fault::Slow => "slow",
            Fault::Reset => "reset",
            Fault::Truncate => "truncate",
            Fault::Malformed => "malformed",
        }
    }
}

/// What becomes of one webhook delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookFate {
    /// Sent once, in its turn.
    Deliver,
    /// Never sent.
    Lose,
    /// Sent twice with the same ids.
    Duplicate,
    /// Held back until the next deliveries have gone.
    Delay,
}

/// The channel's error body for a status (503, 500 or 429), as the
/// simulator's real API would send it.
pub type ErrorBody = fn(StatusCode) -> Value;

/// A simulator's chaos: the plan, its seeded draws and what was injected.
pub struct Chaos {
    state: Mutex<ChaosState>,
    error_body: ErrorBody,
}

struct ChaosState {
    plan: ChaosPlan,
    rng: ChaCha8Rng,
    injected: BTreeMap<&'static str, u64>,
    /// Cursors answered as expired once, and so for good.
    expired: std::collections::HashSet<String>,
}

impl std::fmt::Debug for Chaos {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chaos")
            .field("plan", &self.lock().plan)
            .finish()
    }
}

impl Chaos {
    /// No faults until a plan is set; `error_body` renders the channel's
    /// error bodies.
    pub fn new(error_body: ErrorBody) -> Arc<Chaos> {
        Arc::new(Chaos {
            state: Mutex::new(ChaosState {
                plan: ChaosPlan::default(),
                rng: ChaCha8Rng::seed_from_u64(0),
                injected: BTreeMap::new(),
                expired: Default::default(),
            }),
            error_body,
        })
    }

    fn lock(&self) -> MutexGuard<'_, ChaosState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the plan and reseeds the draws; the counts carry on.
    pub fn set(&self, plan: ChaosPlan) -> Result<(), String> {
        plan.check()?;
        let mut s = self.lock();
        s.rng = ChaCha8Rng::seed_from_u64(plan.seed);
        s.plan = plan;
        Ok(())
    }

    /// The plan in force.
    pub fn plan(&self) -> ChaosPlan {
        self.lock().plan.clone()
    }

    /// How many faults of each class were injected so far.
    pub fn injected(&self) -> BTreeMap<String, u64> {
        self.lock()
            .injected
            .iter()
            .map(|(k, v)| ((*k).to_owned(), *v))
            .collect()
    }

    /// The plan and the counts, as `GET /_sim/chaos` and `/_sim/state` show them.
    pub fn state_json(&self) -> Value {
        let s = self.lock();
        json!({ "plan": s.plan, "injected": s.injected })
    }

    fn count(s: &mut ChaosState, class: &'static str) {
        *s.injected.entry(class).or_default() += 1;
    }

    /// The fault for the API request now arriving, if one is drawn.
    pub fn draw(&self) -> Option<Fault> {
        let mut s = self.lock();
        let classes = s.plan.request_classes();
        if classes.iter().all(|(_, r)| *r <= 0.0) {
            return None;
        }
        let x: f64 = s.rng.gen();
        let mut acc = 0.0;
        for (fault, rate) in classes {
            acc += rate;
            if x < acc {
                Self::count(&mut s, fault.name());
                return Some(fault);
            }
        }
        None
    }

    /// Whether the page request now arriving with `cursor` is to be
    /// answered as if the cursor had expired. An expired cursor stays
    /// expired: only a sweep started afresh gets past it.
    pub fn expire_cursor(&self, cursor: &str) -> bool {
        let mut s = self.lock();
        if s.expired.contains(cursor) {
            return true;
        }
        let rate = s.plan.expire_cursor;
        if rate <= 0.0 || !s.rng.gen_bool(rate) {
            return false;
        }
        Self::count(&mut s, "expire_cursor");
        s.expired.insert(cursor.to_owned());
        true
    }

    /// What becomes of the webhook delivery about to be sent. A simulator
    /// calls it once per delivery (not per retry).
    pub fn webhook_fate(&self) -> WebhookFate {
        let mut s = self.lock();
        let (loss, dup, delay) = (
            s.plan.webhook_loss,
            s.plan.webhook_duplicate,
            s.plan.webhook_delay,
        );
        if loss + dup + delay <= 0.0 {
            return WebhookFate::Deliver;
        }
        let x: f64 = s.rng.gen();
        let (fate, class) = if x < loss {
            (WebhookFate::Lose, "webhook_loss")
        } else if x < loss + dup {
            (WebhookFate::Duplicate, "webhook_duplicate")
        } else if x < loss + dup + delay {
            (WebhookFate::Delay, "webhook_delay")
        } else {
            return WebhookFate::Deliver;
        };
        Self::count(&mut s, class);
        fate
    }

    fn slow_for(&self) -> Duration {
        Duration::from_millis(self.lock().plan.slow_ms)
    }

    fn error(&self, status: StatusCode, retry_after: Option<u64>) -> Response {
        let mut resp = (status, Json((self.error_body)(status))).into_response();
        if let Some(secs) = retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// The middleware for a simulator's API routes: draws a fault per request
/// and injects it. Paths under `/_sim/` are never touched.
pub async fn middleware(State(chaos): State<Arc<Chaos>>, req: Request, next: Next) -> Response {
    if req.uri().path().starts_with("/_sim/") {
        return next.run(req).await;
    }
    let Some(fault) = chaos.draw() else {
        return next.run(req).await;
    };
    tracing::debug!(fault = fault.name(), path = %req.uri().path(), "simulated fault");
    match fault {
        Fault::Unavailable => chaos.error(StatusCode::SERVICE_UNAVAILABLE, None),
        Fault::Throttle => chaos.error(StatusCode::TOO_MANY_REQUESTS, Some(1)),
        Fault::ThrottleBare => chaos.error(StatusCode::TOO_MANY_REQUESTS, None),
        Fault::ServerError => {
            let _ = next.run(req).await;
            chaos.error(StatusCode::INTERNAL_SERVER_ERROR, None)
        }
        Fault::Slow => {
            let resp = next.run(req).await;
            tokio::time::sleep(chaos.slow_for()).await;
            resp
        }
        Fault::Reset => {
            let (mut parts, body) = next.run(req).await.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let half = bytes.slice(..bytes.len() / 2);
            // Announce the whole body, send half, then fail the stream:
            // the server drops the connection mid-answer.
            parts.headers.insert(
                header::CONTENT_LENGTH,
                HeaderValue::from(bytes.len().max(1)),
            );
            let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
                Ok(half),
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "simulated connection reset",
                )),
            ];
            Response::from_parts(parts, Body::from_stream(futures_util::stream::iter(chunks)))
        }
        Fault::Truncate => {
            let (mut parts, body) = next.run(req).await.into_parts();
            let bytes = axum::body::to_bytes(body, usize::MAX)
                .await
                .unwrap_or_default();
            let half = bytes.slice(..bytes.len() / 2);
            parts.status = StatusCode::OK;
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(half))
        }
        Fault::Malformed => {
            let _ = next.run(req).await;
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                "<html><head><title>502 Bad Gateway</title></head><body>upstream error</body></html>",
            )
                .into_response()
        }
    }
}

/// `GET /_sim/chaos` (the plan and the counts) and `POST /_sim/chaos` (a
/// new plan; 400 naming the field when it is wrong). Merge into the
/// simulator's router.
pub fn routes(chaos: Arc<Chaos>) -> Router {
    Router::new()
        .route("/_sim/chaos", get(show).post(replace))
        .with_state(chaos)
}

async fn show(State(chaos): State<Arc<Chaos>>) -> Json<Value> {
    Json(chaos.state_json())
}

async fn replace(State(chaos): State<Arc<Chaos>>, body: Bytes) -> Response {
    let plan: ChaosPlan = match serde_json::from_slice(&body) {
        Ok(p) => p,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                Json(json!({ "error": format!("not a chaos plan: {e}") })),
            )
                .into_response()
        }
    };
    match chaos.set(plan) {
        Ok(()) => Json(chaos.state_json()).into_response(),
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({ "error": e }))).into_response(),
    }
}

/// A webhook sender's side of the chaos: given each delivery it takes from
/// its queue and that delivery's [`WebhookFate`], what to send now.
/// Deliveries held back by [`WebhookFate::Delay`] go out after `behind`
/// later ones, or when the queue runs dry ([`Fates::drain`]): the receiver
/// sees them out of order.
#[derive(Debug)]
pub struct Fates<T> {
    held: Vec<(T, usize)>,
    behind: usize,
}

/// One send a [`Fates`] asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Send<T> {
    /// What to send.
    pub delivery: T,
    /// Whether this send finishes a delivery taken from the queue (the
    /// first of a duplicated pair does not).
    pub completes: bool,
}

impl<T: Clone> Fates<T> {
    /// Held deliveries go out after `behind` later ones (at least 1).
    pub fn new(behind: usize) -> Self {
        Fates {
            held: Vec::new(),
            behind: behind.max(1),
        }
    }

    /// What to send now for `d`, just taken from the queue with `fate`.
    /// A lost delivery is the caller's to count: it sends nothing.
    pub fn take(&mut self, d: T, fate: WebhookFate) -> Vec<Send<T>> {
        let mut out = Vec::new();
        match fate {
            WebhookFate::Lose => return out,
            WebhookFate::Delay => {
                self.held.push((d, 0));
                return out;
            }
            WebhookFate::Duplicate => {
                out.push(Send {
                    delivery: d.clone(),
                    completes: false,
                });
                out.push(Send {
                    delivery: d,
                    completes: true,
                });
            }
            WebhookFate::Deliver => out.push(Send {
                delivery: d,
                completes: true,
            }),
        }
        let behind = self.behind;
        let mut keep = Vec::new();
        for (h, n) in self.held.drain(..) {
            if n + 1 >= behind {
                out.push(Send {
                    delivery: h,
                    completes: true,
                });
            } else {
                keep.push((h, n + 1));
            }
        }
        self.held = keep;
        out
    }

    /// Everything held back, for when nothing newer is coming.
    pub fn drain(&mut self) -> Vec<Send<T>> {
        self.held
            .drain(..)
            .map(|(delivery, _)| Send {
                delivery,
                completes: true,
            })
            .collect()
    }

    /// Whether a delivery is held back.
    pub fn holding(&self) -> bool {
        !self.held.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(status: StatusCode) -> Value {
        json!({ "errors": [{ "code": status.as_u16() }] })
    }

    #[test]
    fn plans_are_checked_field_by_field() {
        let ok = ChaosPlan {
            server_error: 0.2,
            reset: 0.3,
            ..Default::default()
        };
        assert!(ok.check().is_ok());
        let e = ChaosPlan {
            throttle: 1.5,
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert!(e.contains("throttle"), "{e}");
        let e = ChaosPlan {
            truncate: 0.6,
            malformed: 0.6,
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert!(e.contains("add up"), "{e}");
        let e = ChaosPlan {
            slow: 0.1,
            ..Default::default()
        }
        .check()
        .unwrap_err();
        assert!(e.contains("slow_ms"), "{e}");
    }

    #[test]
    fn draws_follow_the_shares_and_the_seed() {
        let chaos = Chaos::new(body);
        assert_eq!(chaos.draw(), None, "no plan, no faults");
        chaos
            .set(ChaosPlan {
                seed: 3,
                unavailable: 0.25,
                truncate: 0.25,
                ..Default::default()
            })
            .unwrap();
        let first: Vec<_> = (0..4000).map(|_| chaos.draw()).collect();
        let n = |f| first.iter().filter(|d| **d == Some(f)).count();
        assert!(
            (800..1200).contains(&n(Fault::Unavailable)),
            "{}",
            n(Fault::Unavailable)
        );
        assert!((800..1200).contains(&n(Fault::Truncate)));
        assert_eq!(n(Fault::Reset), 0);
        let injected = chaos.injected();
        assert_eq!(injected["unavailable"] as usize, n(Fault::Unavailable));
        // The same seed draws the same faults again.
        chaos.set(chaos.plan()).unwrap();
        let again: Vec<_> = (0..4000).map(|_| chaos.draw()).collect();
        assert_eq!(first, again);
    }

    #[test]
    fn webhook_fates_follow_the_shares() {
        let chaos = Chaos::new(body);
        assert_eq!(chaos.webhook_fate(), WebhookFate::Deliver);
        chaos
            .set(ChaosPlan {
                webhook_duplicate: 1.0,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(chaos.webhook_fate(), WebhookFate::Duplicate);
        assert_eq!(chaos.injected()["webhook_duplicate"], 1);
    }

    #[test]
    fn fates_send_late_twice_or_never() {
        let sent = |v: Vec<Send<&'static str>>| -> Vec<(&str, bool)> {
            v.into_iter().map(|s| (s.delivery, s.completes)).collect()
        };
        let mut f = Fates::new(2);
        assert!(f.take("a", WebhookFate::Lose).is_empty());
        assert!(f.take("b", WebhookFate::Delay).is_empty());
        assert!(f.holding());
        assert_eq!(sent(f.take("c", WebhookFate::Deliver)), [("c", true)]);
        assert_eq!(
            sent(f.take("d", WebhookFate::Duplicate)),
            [("d", false), ("d", true), ("b", true)],
            "b goes out behind two later deliveries"
        );
        assert!(f.take("e", WebhookFate::Delay).is_empty());
        assert_eq!(sent(f.drain()), [("e", true)]);
        assert!(!f.holding());
    }

    async fn serve(chaos: Arc<Chaos>) -> String {
        let app = Router::new()
            .route(
                "/api",
                get(|| async { Json(json!({ "orders": [1, 2, 3], "pad": "x".repeat(64) })) }),
            )
            .layer(axum::middleware::from_fn_with_state(
                chaos.clone(),
                middleware,
            ))
            .merge(routes(chaos));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn each_class_fails_a_request_the_way_it_says() {
        let chaos = Chaos::new(body);
        let base = serve(chaos.clone()).await;
        let client = reqwest::Client::builder()
            .timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let set = |plan: Value| {
            let client = client.clone();
            let base = base.clone();
            async move {
                client
                    .post(format!("{base}/_sim/chaos"))
                    .json(&plan)
                    .send()
                    .await
                    .unwrap()
            }
        };
        let get = || client.get(format!("{base}/api")).send();

        assert_eq!(get().await.unwrap().status(), 200);
        let r = set(json!({ "unavailable": 1.0 })).await;
        assert_eq!(r.status(), 200);
        let r = get().await.unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            body(StatusCode::SERVICE_UNAVAILABLE)
        );

        set(json!({ "throttle": 1.0 })).await;
        let r = get().await.unwrap();
        assert_eq!(
            (
                r.status().as_u16(),
                r.headers()["retry-after"].to_str().unwrap()
            ),
            (429, "1")
        );
        set(json!({ "throttle_bare": 1.0 })).await;
        let r = get().await.unwrap();
        assert!(r.status() == 429 && r.headers().get("retry-after").is_none());

        set(json!({ "truncate": 1.0 })).await;
        let r = get().await.unwrap();
        assert_eq!(r.status(), 200);
        assert!(serde_json::from_slice::<Value>(&r.bytes().await.unwrap()).is_err());

        set(json!({ "malformed": 1.0 })).await;
        let r = get().await.unwrap();
        assert!(r.json::<Value>().await.is_err());

        set(json!({ "reset": 1.0 })).await;
        let failed = match get().await {
            Err(_) => true,
            Ok(r) => r.bytes().await.is_err(),
        };
        assert!(failed, "a reset connection fails the read");

        set(json!({ "slow": 1.0, "slow_ms": 1000 })).await;
        let e = get().await.expect_err("held past the timeout");
        assert!(e.is_timeout(), "{e}");

        let r = set(json!({ "reset": 2.0 })).await;
        assert_eq!(r.status(), 400);
        let r = set(json!({ "nonsense": 1 })).await;
        assert_eq!(r.status(), 400);
        let state: Value = client
            .get(format!("{base}/_sim/chaos"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for class in [
            "unavailable",
            "throttle",
            "throttle_bare",
            "truncate",
            "malformed",
            "reset",
            "slow",
        ] {
            assert_eq!(state["injected"][class], 1, "{class}: {state}");
        }
        // `/_sim/` itself is never failed: the plan could always be changed.
        assert_eq!(state["plan"]["slow"], 1.0);
    }
}

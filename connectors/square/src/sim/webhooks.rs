//! Webhook delivery as Square does it: one background sender POSTs each
//! queued event in order to the notification URL, signed with
//! `x-square-hmacsha256-signature` over that URL and the body, and retries
//! non-2xx answers and connection errors with backoff, marking retries with
//! Square's `square-retry-*` headers.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use chansync_sdk::webhook_queue;
pub(crate) use chansync_sdk::webhook_queue::uuid_like;
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio_util::sync::CancellationToken;

use crate::sim::model::ts;
use crate::sim::state::Shared;
use crate::webhook::{signature, SIGNATURE_HEADER};

/// Tries per event before it counts as failed.
const MAX_ATTEMPTS: u32 = 8;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long Square waits for an answer before a try counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);

/// One event to deliver. Retries resend the same bytes.
#[derive(Clone)]
pub(crate) struct Delivery {
    kind: String,
    event_id: String,
    body: Vec<u8>,
    first_at: DateTime<Utc>,
}

/// Events waiting to be sent, and what became of the sent ones.
pub(crate) type WebhookQueue = webhook_queue::WebhookQueue<Delivery>;

/// Queues an event with Square's envelope around `data`.
pub(crate) fn enqueue(queue: &WebhookQueue, merchant_id: &str, kind: &str, data: Value) {
    let event_id = uuid_like();
    let now = Utc::now();
    let body = json!({
        "merchant_id": merchant_id,
        "type": kind,
        "event_id": event_id,
        "created_at": ts(now),
        "data": data,
    });
    queue.push(Delivery {
        kind: kind.to_owned(),
        event_id,
        body: serde_json::to_vec(&body).expect("JSON serializes"),
        first_at: now,
    });
}

/// Sends queued events to `target` one at a time until cancelled. The
/// chaos plan may lose a delivery, send it twice, or hold it back until
/// later ones have gone (out of order).
pub(crate) async fn run_sender(shared: Arc<Shared>, target: String, cancel: CancellationToken) {
    let client = match reqwest::Client::builder().timeout(DELIVERY_TIMEOUT).build() {
        Ok(c) => c,
        Err(error) => {
            tracing::error!(%error, "simulator cannot build its webhook client");
            return;
        }
    };
    let (shared, client, target) = (&*shared, &client, target.as_str());
    shared
        .webhooks
        .run(
            &shared.chaos,
            shared.cfg.webhook_loss,
            cancel.cancelled(),
            |d| async move { deliver(shared, client, target, &d).await },
        )
        .await;
}

async fn deliver(shared: &Shared, client: &reqwest::Client, target: &str, d: &Delivery) {
    let queue = &shared.webhooks;
    // Square signs the subscription's notification URL, byte for byte.
    let sig = signature(shared.cfg.signature_key.as_bytes(), target, &d.body);
    let mut backoff = FIRST_BACKOFF;
    let mut reason = String::new();
    for attempt in 1..=MAX_ATTEMPTS {
        let mut req = client
            .post(target)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, &sig)
            .header("square-environment", "Sandbox")
            .body(d.body.clone());
        if attempt > 1 {
            req = req
                .header("square-retry-number", (attempt - 1).to_string())
                .header("square-retry-reason", &reason)
                .header("square-initial-delivery-timestamp", ts(d.first_at));
        }
        let outcome = match req.send().await {
            Ok(resp) if resp.status().is_success() => {
                queue.sent.fetch_add(1, Ordering::Relaxed);
                return;
            }
            Ok(resp) => {
                reason = "http_error".to_owned();
                format!("HTTP {}", resp.status())
            }
            Err(error) => {
                reason = if error.is_timeout() {
                    "timeout"
                } else {
                    "connection_error"
                }
                .to_owned();
                error.to_string()
            }
        };
        if attempt == MAX_ATTEMPTS {
            queue.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(kind = %d.kind, event_id = %d.event_id, %outcome, "simulated webhook dropped after its last try");
            return;
        }
        queue.retried.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(kind = %d.kind, attempt, %outcome, "simulated webhook will be retried");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

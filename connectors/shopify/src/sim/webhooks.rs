//! Webhook delivery as Shopify does it: one background sender POSTs each
//! queued `orders/*` event in order, signed with `X-Shopify-Hmac-Sha256`, and
//! retries non-2xx answers and connection errors with bounded backoff.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chansync_sdk::webhook::sign_base64;
use chansync_sdk::webhook_queue;
pub(crate) use chansync_sdk::webhook_queue::uuid_like;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use crate::sim::config::SHOP_DOMAIN;
use crate::sim::state::{lock, Shared};

/// Tries per event before it counts as failed (Shopify: 8 over 4 hours).
const MAX_ATTEMPTS: u32 = 8;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// Shopify waits this long for an answer before it counts a try as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);

/// One event to deliver. Retries resend the same bytes and ids.
#[derive(Clone)]
pub(crate) struct Delivery {
    topic: &'static str,
    body: Vec<u8>,
    webhook_id: String,
    event_id: String,
    triggered_at: DateTime<Utc>,
}

/// Events waiting to be sent, what became of the sent ones, and the webhook
/// ids the receiver acknowledged.
pub(crate) struct WebhookQueue {
    queue: webhook_queue::WebhookQueue<Delivery>,
    /// The `X-Shopify-Webhook-Id` of every delivery answered with a 2xx.
    acknowledged: Mutex<Vec<String>>,
}

impl WebhookQueue {
    pub(crate) fn new() -> Self {
        WebhookQueue {
            queue: webhook_queue::WebhookQueue::new(),
            acknowledged: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn enqueue(&self, topic: &'static str, body: Vec<u8>) {
        self.queue.push(Delivery {
            topic,
            body,
            webhook_id: uuid_like(),
            event_id: uuid_like(),
            triggered_at: Utc::now(),
        });
    }

    /// The webhook ids the receiver acknowledged, in order.
    pub(crate) fn acknowledged(&self) -> Vec<String> {
        lock(&self.acknowledged).clone()
    }

    /// `sent` (delivered with a 2xx), `failed` (gave up), `lost` (never
    /// sent), `retried` (extra tries), `duplicated`, `pending`.
    pub(crate) fn stats(&self) -> Value {
        self.queue.stats()
    }

    /// Waits until nothing is queued or in flight; `false` on timeout.
    pub(crate) async fn wait_idle(&self, timeout: Duration) -> bool {
        self.queue.wait_idle(timeout).await
    }
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
        .queue
        .run(
            &shared.chaos,
            shared.cfg.webhook_loss,
            cancel.cancelled(),
            |d| async move { deliver(shared, client, target, &d).await },
        )
        .await;
}

async fn deliver(shared: &Shared, client: &reqwest::Client, target: &str, d: &Delivery) {
    let queue = &shared.webhooks.queue;
    let hmac = sign_base64(shared.cfg.webhook_secret.as_bytes(), &d.body);
    let mut backoff = FIRST_BACKOFF;
    for attempt in 1..=MAX_ATTEMPTS {
        let result = client
            .post(target)
            .header("Content-Type", "application/json")
            .header("X-Shopify-Topic", d.topic)
            .header("X-Shopify-Hmac-Sha256", &hmac)
            .header("X-Shopify-Shop-Domain", SHOP_DOMAIN)
            .header("X-Shopify-API-Version", &shared.cfg.api_version)
            .header("X-Shopify-Webhook-Id", &d.webhook_id)
            .header("X-Shopify-Event-Id", &d.event_id)
            .header(
                "X-Shopify-Triggered-At",
                d.triggered_at.to_rfc3339_opts(SecondsFormat::Micros, true),
            )
            .body(d.body.clone())
            .send()
            .await;
        let outcome = match result {
            Ok(resp) if resp.status().is_success() => {
                queue.sent.fetch_add(1, Ordering::Relaxed);
                lock(&shared.webhooks.acknowledged).push(d.webhook_id.clone());
                return;
            }
            Ok(resp) => format!("HTTP {}", resp.status()),
            Err(error) => error.to_string(),
        };
        if attempt == MAX_ATTEMPTS {
            queue.failed.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(topic = d.topic, webhook_id = %d.webhook_id, %outcome, "simulated webhook dropped after its last try");
            return;
        }
        queue.retried.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(topic = d.topic, attempt, %outcome, "simulated webhook will be retried");
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

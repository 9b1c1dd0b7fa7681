//! Webhook delivery as Shopify does it: one background sender POSTs each
//! queued `orders/*` event in order, signed with `X-Shopify-Hmac-Sha256`, and
//! retries non-2xx answers and connection errors with bounded backoff.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chansync_sdk::chaos::{Fates, WebhookFate};
use chansync_sdk::webhook::sign_base64;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};
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

/// Events waiting to be sent, and what became of the sent ones.
pub(crate) struct WebhookQueue {
    queue: Mutex<VecDeque<Delivery>>,
    wake: Notify,
    /// Queued plus in flight.
    pending: watch::Sender<usize>,
    sent: AtomicU64,
    failed: AtomicU64,
    /// Never sent, by `webhook_loss`.
    lost: AtomicU64,
    retried: AtomicU64,
    /// Sent a second time by the chaos plan.
    duplicated: AtomicU64,
    /// The `X-Shopify-Webhook-Id` of every delivery answered with a 2xx.
    acknowledged: Mutex<Vec<String>>,
}

/// A random id in UUID form, as Shopify's webhook and event ids are.
pub(crate) fn uuid_like() -> String {
    let v: u128 = rand::random();
    let h = format!("{v:032x}");
    format!(
        "{}-{}-4{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[16..20],
        &h[20..32]
    )
}

impl WebhookQueue {
    pub(crate) fn new() -> Self {
        WebhookQueue {
            queue: Mutex::new(VecDeque::new()),
            wake: Notify::new(),
            pending: watch::Sender::new(0),
            sent: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            lost: AtomicU64::new(0),
            retried: AtomicU64::new(0),
            duplicated: AtomicU64::new(0),
            acknowledged: Mutex::new(Vec::new()),
        }
    }

    pub(crate) fn enqueue(&self, topic: &'static str, body: Vec<u8>) {
        let delivery = Delivery {
            topic,
            body,
            webhook_id: uuid_like(),
            event_id: uuid_like(),
            triggered_at: Utc::now(),
        };
        lock(&self.queue).push_back(delivery);
        self.pending.send_modify(|p| *p += 1);
        self.wake.notify_one();
    }

    fn pop(&self) -> Option<Delivery> {
        lock(&self.queue).pop_front()
    }

    fn done(&self) {
        self.pending.send_modify(|p| *p = p.saturating_sub(1));
    }

    /// `sent` (delivered with a 2xx), `failed` (gave up), `lost` (never
    /// sent, by `webhook_loss`), `retried` (extra tries), `pending`.
    /// The webhook ids the receiver acknowledged, in order.
    pub(crate) fn acknowledged(&self) -> Vec<String> {
        lock(&self.acknowledged).clone()
    }

    pub(crate) fn stats(&self) -> Value {
        json!({
            "sent": self.sent.load(Ordering::Relaxed),
            "failed": self.failed.load(Ordering::Relaxed),
            "lost": self.lost.load(Ordering::Relaxed),
            "retried": self.retried.load(Ordering::Relaxed),
            "duplicated": self.duplicated.load(Ordering::Relaxed),
            "pending": *self.pending.borrow(),
        })
    }

    /// Waits until nothing is queued or in flight; `false` on timeout.
    pub(crate) async fn wait_idle(&self, timeout: Duration) -> bool {
        let mut rx = self.pending.subscribe();
        let idle = tokio::time::timeout(timeout, rx.wait_for(|p| *p == 0)).await;
        matches!(idle, Ok(Ok(_)))
    }
}

/// Held-back deliveries go out after this many later ones (chaos `webhook_delay`).
const DELAY_BEHIND: usize = 2;
/// A held-back delivery waits at most this long for later ones to overtake it.
const DELAY_AT_MOST: Duration = Duration::from_millis(500);

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
    let queue = &shared.webhooks;
    let mut fates: Fates<Delivery> = Fates::new(DELAY_BEHIND);
    loop {
        let sends = match queue.pop() {
            Some(delivery) => {
                let loss = shared.cfg.webhook_loss;
                let fate = if loss > 0.0 && rand::random::<f64>() < loss {
                    WebhookFate::Lose
                } else {
                    shared.chaos.webhook_fate()
                };
                if fate == WebhookFate::Lose {
                    queue.lost.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(topic = delivery.topic, webhook_id = %delivery.webhook_id, "simulated webhook lost");
                    queue.done();
                    continue;
                }
                if fate == WebhookFate::Duplicate {
                    queue.duplicated.fetch_add(1, Ordering::Relaxed);
                }
                fates.take(delivery, fate)
            }
            None if !fates.holding() => {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = queue.wake.notified() => continue,
                }
            }
            None => {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = queue.wake.notified() => continue,
                    _ = tokio::time::sleep(DELAY_AT_MOST) => fates.drain(),
                }
            }
        };
        for s in sends {
            tokio::select! {
                _ = cancel.cancelled() => return,
                _ = deliver(&shared, &client, &target, &s.delivery) => {
                    if s.completes {
                        queue.done();
                    }
                }
            }
        }
    }
}

async fn deliver(shared: &Shared, client: &reqwest::Client, target: &str, d: &Delivery) {
    let queue = &shared.webhooks;
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
                lock(&queue.acknowledged).push(d.webhook_id.clone());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_uuids() {
        let id = uuid_like();
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_ne!(uuid_like(), id);
    }
}

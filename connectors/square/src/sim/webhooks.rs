//! Webhook delivery as Square does it: one background sender POSTs each
//! queued event in order to the notification URL, signed with
//! `x-square-hmacsha256-signature` over that URL and the body, and retries
//! non-2xx answers and connection errors with backoff, marking retries with
//! Square's `square-retry-*` headers.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chansync_sdk::chaos::{Fates, WebhookFate};
use chrono::{DateTime, Utc};
use serde_json::{json, Value};
use tokio::sync::{watch, Notify};
use tokio_util::sync::CancellationToken;

use crate::sim::model::ts;
use crate::sim::state::{lock, Shared};
use crate::webhook::{signature, SIGNATURE_HEADER};

/// Tries per event before it counts as failed.
const MAX_ATTEMPTS: u32 = 8;
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// How long Square waits for an answer before a try counts as failed.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Held-back deliveries go out after this many later ones (chaos `webhook_delay`).
const DELAY_BEHIND: usize = 2;
/// A held-back delivery waits at most this long for later ones to overtake it.
const DELAY_AT_MOST: Duration = Duration::from_millis(500);

/// One event to deliver. Retries resend the same bytes.
#[derive(Clone)]
pub(crate) struct Delivery {
    kind: String,
    event_id: String,
    body: Vec<u8>,
    first_at: DateTime<Utc>,
}

/// Events waiting to be sent, and what became of the sent ones.
pub(crate) struct WebhookQueue {
    queue: Mutex<VecDeque<Delivery>>,
    wake: Notify,
    /// Queued plus in flight.
    pending: watch::Sender<usize>,
    sent: AtomicU64,
    failed: AtomicU64,
    lost: AtomicU64,
    retried: AtomicU64,
    /// Sent a second time by the chaos plan.
    duplicated: AtomicU64,
}

/// A random id in UUID form, as Square's event ids are.
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
        }
    }

    /// Queues an event with Square's envelope around `data`.
    pub(crate) fn enqueue(&self, merchant_id: &str, kind: &str, data: Value) {
        let event_id = uuid_like();
        let now = Utc::now();
        let body = json!({
            "merchant_id": merchant_id,
            "type": kind,
            "event_id": event_id,
            "created_at": ts(now),
            "data": data,
        });
        let delivery = Delivery {
            kind: kind.to_owned(),
            event_id,
            body: serde_json::to_vec(&body).expect("JSON serializes"),
            first_at: now,
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

    /// `sent` (a 2xx came back), `failed` (gave up), `lost` (never sent, by
    /// `webhook_loss`), `retried` (extra tries), `pending`.
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

/// Sends queued events to `target` one at a time until cancelled.
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
                    tracing::debug!(kind = %delivery.kind, event_id = %delivery.event_id, "simulated webhook lost");
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_uuids() {
        let id = uuid_like();
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12]);
        assert_ne!(uuid_like(), id);
    }
}

//! What every simulator's webhook sender shares: the queue of deliveries
//! with what became of them, and the loop that sends them one at a time,
//! losing, doubling or holding back each as the config's `webhook_loss` and
//! the chaos plan say. A simulator brings only how one delivery is posted
//! (its headers, signature and retries), and counts its outcome here.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::{watch, Notify};

use crate::chaos::{Chaos, Fates, WebhookFate};

/// Held-back deliveries go out after this many later ones (chaos `webhook_delay`).
const DELAY_BEHIND: usize = 2;
/// A held-back delivery waits at most this long for later ones to overtake it.
const DELAY_AT_MOST: Duration = Duration::from_millis(500);

/// A random id in UUID form, as channels' webhook and event ids are.
pub fn uuid_like() -> String {
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

/// Deliveries waiting to be sent, and what became of the sent ones.
pub struct WebhookQueue<T> {
    queue: Mutex<VecDeque<T>>,
    wake: Notify,
    /// Queued plus in flight.
    pending: watch::Sender<usize>,
    /// Answered with a 2xx.
    pub sent: AtomicU64,
    /// Given up on after the last try.
    pub failed: AtomicU64,
    /// Never sent, by `webhook_loss` or the chaos plan.
    pub lost: AtomicU64,
    /// Extra tries.
    pub retried: AtomicU64,
    /// Sent a second time by the chaos plan.
    pub duplicated: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T> Default for WebhookQueue<T> {
    fn default() -> Self {
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
}

impl<T: Clone> WebhookQueue<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Queues a delivery behind the others.
    pub fn push(&self, delivery: T) {
        lock(&self.queue).push_back(delivery);
        self.pending.send_modify(|p| *p += 1);
        self.wake.notify_one();
    }

    fn pop(&self) -> Option<T> {
        lock(&self.queue).pop_front()
    }

    fn done(&self) {
        self.pending.send_modify(|p| *p = p.saturating_sub(1));
    }

    /// `sent`, `failed`, `lost`, `retried`, `duplicated` and `pending`, for
    /// a simulator's `/_sim/state`.
    pub fn stats(&self) -> Value {
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
    pub async fn wait_idle(&self, timeout: Duration) -> bool {
        let mut rx = self.pending.subscribe();
        let idle = tokio::time::timeout(timeout, rx.wait_for(|p| *p == 0)).await;
        matches!(idle, Ok(Ok(_)))
    }

    /// Sends queued deliveries with `deliver`, one at a time and in order,
    /// until `cancelled` resolves. Each is lost with probability `loss`, or
    /// meets the fate `chaos` draws for it.
    pub async fn run<F, Fut>(
        &self,
        chaos: &Chaos,
        loss: f64,
        cancelled: impl Future<Output = ()>,
        deliver: F,
    ) where
        F: Fn(T) -> Fut,
        Fut: Future<Output = ()>,
    {
        let mut cancelled = std::pin::pin!(cancelled);
        let mut fates: Fates<T> = Fates::new(DELAY_BEHIND);
        loop {
            let sends = match self.pop() {
                Some(delivery) => {
                    let fate = if loss > 0.0 && rand::random::<f64>() < loss {
                        WebhookFate::Lose
                    } else {
                        chaos.webhook_fate()
                    };
                    if fate == WebhookFate::Lose {
                        self.lost.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!("simulated webhook lost");
                        self.done();
                        continue;
                    }
                    if fate == WebhookFate::Duplicate {
                        self.duplicated.fetch_add(1, Ordering::Relaxed);
                    }
                    fates.take(delivery, fate)
                }
                None if !fates.holding() => {
                    tokio::select! {
                        () = &mut cancelled => return,
                        () = self.wake.notified() => continue,
                    }
                }
                None => {
                    tokio::select! {
                        () = &mut cancelled => return,
                        () = self.wake.notified() => continue,
                        () = tokio::time::sleep(DELAY_AT_MOST) => fates.drain(),
                    }
                }
            };
            for s in sends {
                tokio::select! {
                    () = &mut cancelled => return,
                    () = deliver(s.delivery) => {
                        if s.completes {
                            self.done();
                        }
                    }
                }
            }
        }
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

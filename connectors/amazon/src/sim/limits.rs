//! The simulator's usage plans: one token bucket per operation (rate and
//! burst from the specs, the rate scaled by `rate_scale`), and the request
//! and 429 counters `/_sim/state` reports.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use serde_json::{json, Value};
use tokio::time::Instant;

use crate::ops::Operation;
use crate::sim::state::lock;

/// A token bucket that starts full.
#[derive(Debug)]
struct Bucket {
    rate: f64,
    burst: f64,
    tokens: f64,
    at: Instant,
}

impl Bucket {
    fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.burst);
        self.at = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Every operation's bucket.
#[derive(Debug)]
pub(crate) struct Limits {
    enforced: bool,
    scale: f64,
    buckets: Mutex<BTreeMap<Operation, Bucket>>,
}

impl Limits {
    pub(crate) fn new(enforced: bool, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 {
            scale
        } else {
            1.0
        };
        let now = Instant::now();
        let buckets = Operation::ALL
            .into_iter()
            .map(|op| {
                let plan = op.default_limit();
                let burst = f64::from(plan.burst);
                (
                    op,
                    Bucket {
                        rate: plan.per_second * scale,
                        burst,
                        tokens: burst,
                        at: now,
                    },
                )
            })
            .collect();
        Limits {
            enforced,
            scale,
            buckets: Mutex::new(buckets),
        }
    }

    /// Whether a call of `op` may run now (and takes its token).
    pub(crate) fn take(&self, op: Operation) -> bool {
        if !self.enforced {
            return true;
        }
        lock(&self.buckets)
            .get_mut(&op)
            .is_none_or(|b| b.take(Instant::now()))
    }

    /// The rate `op` runs at, as `x-amzn-RateLimit-Limit` declares it.
    pub(crate) fn rate(&self, op: Operation) -> f64 {
        op.default_limit().per_second * self.scale
    }

    /// `{operationId: {per_second, burst}}` as enforced (or would be).
    pub(crate) fn plans(&self) -> Value {
        let map: serde_json::Map<String, Value> = Operation::ALL
            .into_iter()
            .map(|op| {
                (
                    op.id().to_owned(),
                    json!({"per_second": self.rate(op), "burst": op.default_limit().burst}),
                )
            })
            .collect();
        Value::Object(map)
    }
}

/// Requests and 429s per operation, and the other counters of the state.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    requests: [AtomicU64; Operation::ALL.len()],
    throttled: [AtomicU64; Operation::ALL.len()],
    pub lwa_grants: AtomicU64,
    pub lwa_refusals: AtomicU64,
    pub refused_tokens: AtomicU64,
    pub uploads: AtomicU64,
    pub downloads: AtomicU64,
}

fn index(op: Operation) -> usize {
    Operation::ALL
        .iter()
        .position(|o| *o == op)
        .expect("every operation is listed")
}

impl Counts {
    pub(crate) fn request(&self, op: Operation) {
        self.requests[index(op)].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn throttled(&self, op: Operation) {
        self.throttled[index(op)].fetch_add(1, Ordering::Relaxed);
    }

    /// The `counts` member of `/_sim/state`.
    pub(crate) fn json(&self) -> Value {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut per_operation = serde_json::Map::new();
        let (mut requests, mut throttled) = (0, 0);
        for (i, op) in Operation::ALL.into_iter().enumerate() {
            let (r, t) = (load(&self.requests[i]), load(&self.throttled[i]));
            requests += r;
            throttled += t;
            per_operation.insert(op.id().to_owned(), json!({"requests": r, "http_429": t}));
        }
        json!({
            "requests": requests,
            "http_429": throttled,
            "per_operation": per_operation,
            "lwa_grants": load(&self.lwa_grants),
            "lwa_refusals": load(&self.lwa_refusals),
            "refused_tokens": load(&self.refused_tokens),
            "document_uploads": load(&self.uploads),
            "document_downloads": load(&self.downloads),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let start = Instant::now();
        let mut b = Bucket {
            rate: 2.0,
            burst: 3.0,
            tokens: 3.0,
            at: start,
        };
        assert!((0..3).all(|_| b.take(start)));
        assert!(!b.take(start));
        assert!(!b.take(start + Duration::from_millis(400)));
        assert!(b.take(start + Duration::from_millis(500)));
        // A long quiet spell refills only up to the burst.
        let later = start + Duration::from_secs(60);
        assert!((0..3).all(|_| b.take(later)));
        assert!(!b.take(later));
    }

    #[test]
    fn unenforced_limits_always_allow() {
        let l = Limits::new(false, 1.0);
        assert!((0..100).all(|_| l.take(Operation::GetOrders)));
        let l = Limits::new(true, 1.0);
        assert!((0..20).all(|_| l.take(Operation::GetOrders)));
        assert!(!l.take(Operation::GetOrders));
        assert!(l.take(Operation::GetOrder), "buckets are per operation");
    }
}

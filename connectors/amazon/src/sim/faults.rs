//! Failure injection for SP-API operations: the next N calls are answered
//! with a 429 (optionally with `Retry-After`) or a 5xx with the SP-API error
//! body, so tests and `chansync simulate` can check that a client waits them
//! out. 500 and 502 come after the call ran, as when an answer is lost on
//! the way back; 429 and 503 instead of it.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use crate::ops::Operation;
use crate::sim::state::lock;
use crate::wire::ErrorList;

/// Failures for the next SP-API calls (`POST /_sim/faults` takes this JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// 429, 500, 502 or 503.
    pub status: u16,
    /// How many of the next calls fail; 0 clears earlier faults.
    pub count: u32,
    /// Sent as `Retry-After` when set.
    #[serde(default)]
    pub retry_after_secs: Option<u64>,
}

/// The statuses `Faults` can inject.
pub const FAULT_STATUSES: &[u16] = &[429, 500, 502, 503];

impl Faults {
    /// Whether the status is one the simulator can inject.
    pub fn check(&self) -> Result<(), String> {
        if FAULT_STATUSES.contains(&self.status) {
            Ok(())
        } else {
            Err(format!(
                "status {} cannot be injected; use one of {FAULT_STATUSES:?}",
                self.status
            ))
        }
    }

    /// Whether the call runs before the failure is answered.
    pub(crate) fn after_execution(&self) -> bool {
        matches!(self.status, 500 | 502)
    }

    /// The answer the SP-API gives.
    pub(crate) fn response(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let mut resp = (status, Json(error_body(self.status))).into_response();
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                secs.to_string().parse().expect("digits are a header value"),
            );
        }
        resp
    }
}

/// The body of a throttled call.
pub(crate) fn throttled_body() -> ErrorList {
    ErrorList::one(
        "QuotaExceeded",
        "You exceeded your quota for the requested resource.",
        None,
    )
}

/// SP-API's error body for a failing status: 429 throttled, 500 and 502
/// internal failures, anything else unavailable.
fn error_body(status: u16) -> ErrorList {
    match status {
        429 => throttled_body(),
        500 | 502 => ErrorList::one(
            "InternalFailure",
            "We encountered an internal error. Please try again.",
            None,
        ),
        _ => ErrorList::one(
            "ServiceUnavailable",
            "Service is temporarily unavailable. Please try again.",
            None,
        ),
    }
}

/// SP-API's error body for a status the chaos plan injects.
pub(crate) fn chaos_body(status: StatusCode) -> serde_json::Value {
    serde_json::to_value(error_body(status.as_u16())).expect("an error list serializes")
}

/// The faults still to answer.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    pending: Mutex<Option<Faults>>,
    /// Per operation, how many answers to lose after the call ran.
    lost: Mutex<HashMap<Operation, u32>>,
}

impl FaultQueue {
    /// Replaces what is pending.
    pub(crate) fn set(&self, f: Faults) {
        *lock(&self.pending) = (f.count > 0).then_some(f);
    }

    /// Loses the answers of the next `count` calls of `op` (0 clears).
    pub(crate) fn lose(&self, op: Operation, count: u32) {
        let mut lost = lock(&self.lost);
        if count == 0 {
            lost.remove(&op);
        } else {
            lost.insert(op, count);
        }
    }

    /// Whether this call of `op` runs but its answer is lost (a 500).
    pub(crate) fn take_lost(&self, op: Operation) -> Option<Faults> {
        let mut lost = lock(&self.lost);
        let n = lost.get_mut(&op)?;
        *n -= 1;
        if *n == 0 {
            lost.remove(&op);
        }
        Some(Faults {
            status: 500,
            count: 1,
            retry_after_secs: None,
        })
    }

    /// The fault for the call now arriving, if any is left.
    pub(crate) fn take(&self) -> Option<Faults> {
        let mut pending = lock(&self.pending);
        let f = pending.as_mut()?;
        f.count -= 1;
        let out = *f;
        if f.count == 0 {
            *pending = None;
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_count_down_and_clear() {
        let q = FaultQueue::default();
        assert!(q.take().is_none());
        q.set(Faults {
            status: 503,
            count: 2,
            retry_after_secs: None,
        });
        assert_eq!(q.take().map(|f| f.status), Some(503));
        assert_eq!(q.take().map(|f| f.status), Some(503));
        assert!(q.take().is_none());
    }

    #[test]
    fn responses_carry_the_error_body_and_retry_after() {
        let f = |status, retry_after_secs| Faults {
            status,
            count: 1,
            retry_after_secs,
        };
        let r = f(429, Some(2)).response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "2");
        assert!(f(503, None)
            .response()
            .headers()
            .get("retry-after")
            .is_none());
        assert!(f(500, None).after_execution() && !f(429, None).after_execution());
        assert!(f(404, None).check().is_err());
    }
}

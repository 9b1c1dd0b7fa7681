//! Failure injection for the API: the next N requests are answered with a
//! 429 or a 5xx in Square's error body, so tests and `chansync simulate` can
//! check that a client waits them out.

use std::sync::Mutex;

use axum::http::{header, StatusCode};
use axum::response::Response;
use serde::{Deserialize, Serialize};

use crate::sim::server::square_error;
use crate::sim::state::lock;

/// Failures for the next API requests (`POST /_sim/faults` takes the same JSON).
///
/// 429 and 503 are answered instead of the request. 500 and 502 are answered
/// after the request ran, as when a gateway fails on the way back: the work is
/// done but the client cannot know, so a retry must not do it twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// 429, 500, 502 or 503.
    pub status: u16,
    /// How many of the next API requests fail; 0 clears earlier faults.
    pub count: u32,
    /// Sent as `Retry-After` when set (Square itself sends none).
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

    /// Whether the request runs before the failure is answered.
    pub(crate) fn after_execution(&self) -> bool {
        matches!(self.status, 500 | 502)
    }

    /// The response Square would send.
    pub(crate) fn response(&self) -> Response {
        let (status, category, code, detail) = match self.status {
            429 => (
                StatusCode::TOO_MANY_REQUESTS,
                "RATE_LIMIT_ERROR",
                "RATE_LIMITED",
                "The application has made too many requests. Try again later.",
            ),
            500 => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "API_ERROR",
                "INTERNAL_SERVER_ERROR",
                "An internal error occurred.",
            ),
            502 => (
                StatusCode::BAD_GATEWAY,
                "API_ERROR",
                "BAD_GATEWAY",
                "Bad gateway.",
            ),
            _ => (
                StatusCode::SERVICE_UNAVAILABLE,
                "API_ERROR",
                "SERVICE_UNAVAILABLE",
                "The service is temporarily unavailable.",
            ),
        };
        let mut resp = square_error(status, category, code, detail, None);
        if let Some(secs) = self.retry_after_secs {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                secs.to_string().parse().expect("digits are a header value"),
            );
        }
        resp
    }
}

/// Square's error body for a status the chaos plan injects.
pub(crate) fn chaos_body(status: StatusCode) -> serde_json::Value {
    let (category, code, detail) = match status.as_u16() {
        429 => (
            "RATE_LIMIT_ERROR",
            "RATE_LIMITED",
            "The application has made too many requests. Try again later.",
        ),
        500 => (
            "API_ERROR",
            "INTERNAL_SERVER_ERROR",
            "An internal error occurred.",
        ),
        _ => (
            "API_ERROR",
            "SERVICE_UNAVAILABLE",
            "The service is temporarily unavailable.",
        ),
    };
    serde_json::json!({ "errors": [{ "category": category, "code": code, "detail": detail }] })
}

/// The faults still to answer.
#[derive(Debug, Default)]
pub(crate) struct FaultQueue {
    pending: Mutex<Option<Faults>>,
}

impl FaultQueue {
    /// Replaces what is pending.
    pub(crate) fn set(&self, f: Faults) {
        *lock(&self.pending) = (f.count > 0).then_some(f);
    }

    /// The fault for the request now arriving, if any is left.
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
        q.set(Faults {
            status: 429,
            count: 5,
            retry_after_secs: Some(1),
        });
        q.set(Faults {
            status: 429,
            count: 0,
            retry_after_secs: None,
        });
        assert!(q.take().is_none(), "a count of 0 clears");
    }

    #[test]
    fn responses_look_like_square() {
        let f = |status, retry_after_secs| Faults {
            status,
            count: 1,
            retry_after_secs,
        };
        let r = f(429, Some(3)).response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "3");
        assert!(f(429, None)
            .response()
            .headers()
            .get("retry-after")
            .is_none());
        assert!(f(500, None).after_execution() && f(502, None).after_execution());
        assert!(!f(503, None).after_execution() && !f(429, None).after_execution());
        assert!(f(404, None).check().is_err() && f(502, None).check().is_ok());
    }
}

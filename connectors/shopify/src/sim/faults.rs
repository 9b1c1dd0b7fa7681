//! Failure injection for the API endpoint: the next N requests are answered
//! with a 429 (with `Retry-After`) or a 5xx with Shopify's error body, so
//! tests and `chansync simulate` can check that a client waits them out.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

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
    /// Sent as `Retry-After` (429 always: 1 when unset; 503 when set).
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

    /// The response Shopify would send.
    pub(crate) fn response(&self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
        let message = match self.status {
            429 => "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.",
            500 => "Internal Server Error",
            502 => "Bad Gateway",
            _ => "Service Unavailable",
        };
        let mut resp = (status, Json(json!({ "errors": message }))).into_response();
        let retry_after = match self.status {
            429 => Some(self.retry_after_secs.unwrap_or(1)),
            _ => self.retry_after_secs,
        };
        if let Some(secs) = retry_after {
            resp.headers_mut().insert(
                header::RETRY_AFTER,
                secs.to_string().parse().expect("digits are a header value"),
            );
        }
        resp
    }
}

/// Shopify's error body for a status the chaos plan injects.
pub(crate) fn chaos_body(status: StatusCode) -> serde_json::Value {
    let message = match status.as_u16() {
        429 => "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service.",
        500 => "Internal Server Error",
        _ => "Service Unavailable",
    };
    json!({ "errors": message })
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

/// Answers lost on the way back: requests selecting a given root field run,
/// then get a 502, so a client cannot tell whether they did.
#[derive(Debug, Default)]
pub(crate) struct LostAnswers {
    pending: Mutex<HashMap<String, u32>>,
}

impl LostAnswers {
    pub(crate) fn set(&self, root_field: &str, count: u32) {
        let mut pending = lock(&self.pending);
        if count == 0 {
            pending.remove(root_field);
        } else {
            pending.insert(root_field.to_owned(), count);
        }
    }

    /// Whether the answer to a request selecting `fields` is to be lost.
    pub(crate) fn take(&self, fields: &[String]) -> bool {
        let mut pending = lock(&self.pending);
        for f in fields {
            if let Some(n) = pending.get_mut(f) {
                *n -= 1;
                if *n == 0 {
                    pending.remove(f);
                }
                return true;
            }
        }
        false
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
    fn lost_answers_count_per_field() {
        let l = LostAnswers::default();
        l.set("fulfillmentCreate", 2);
        let fields = |f: &str| vec![f.to_owned()];
        assert!(!l.take(&fields("orders")));
        assert!(l.take(&fields("fulfillmentCreate")));
        assert!(l.take(&fields("fulfillmentCreate")));
        assert!(!l.take(&fields("fulfillmentCreate")));
    }

    #[test]
    fn responses_look_like_shopify() {
        let f = |status, retry_after_secs| Faults {
            status,
            count: 1,
            retry_after_secs,
        };
        let r = f(429, Some(3)).response();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "3");
        assert_eq!(f(429, None).response().headers()["retry-after"], "1");
        let r = f(503, None).response();
        assert_eq!(r.status(), 503);
        assert!(r.headers().get("retry-after").is_none());
        assert!(f(500, None).after_execution() && f(502, None).after_execution());
        assert!(!f(503, None).after_execution() && !f(429, None).after_execution());
        assert!(f(404, None).check().is_err() && f(502, None).check().is_ok());
    }
}

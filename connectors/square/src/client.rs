//! Square's REST API through the SDK's `HttpClient`: bearer auth, the
//! `Square-Version` header, and Square's error body turned into what an error
//! *is* (rate limited, transient, auth, permanent). Every call the connector
//! makes is safe to repeat (reads, or writes under an idempotency key), so
//! each one is retried by the shared backoff. Also keeps the seller's
//! locations.

use std::sync::Mutex;
use std::time::Duration;

use chansync_sdk::http::{retry_after, transport_error, HttpClient};
use chansync_sdk::{ConnectorError, ExposeSecret, SecretString};
use http::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::wire::{ErrorBody, ListLocationsResponse, Location, SquareError};

/// Square's REST API for one connector instance.
pub struct SquareClient {
    pub(crate) http: HttpClient,
    base: String,
    token: SecretString,
    version: String,
    /// Records per page of paged requests.
    pub(crate) page_size: u32,
    /// `location_ids` from the config.
    pub(crate) configured_locations: Vec<String>,
    /// ListLocations' answer, read once and refreshed at each order sweep.
    locations: Mutex<Option<Vec<Location>>>,
}

impl std::fmt::Debug for SquareClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SquareClient")
            .field("base", &self.base)
            .field("token", &"[redacted]")
            .field("version", &self.version)
            .finish()
    }
}

/// What a failed answer means, from its status, `Retry-After` and body.
pub fn classify(status: StatusCode, retry_after: Option<Duration>, body: &str) -> ConnectorError {
    let errors = serde_json::from_str::<ErrorBody>(body)
        .map(|b| b.errors)
        .unwrap_or_default();
    let detail = if errors.is_empty() {
        let snippet: String = body.chars().take(300).collect();
        format!("HTTP {status}: {snippet}")
    } else {
        let list: Vec<String> = errors.iter().map(SquareError::to_string).collect();
        format!("HTTP {status}: {}", list.join("; "))
    };
    let rate_limited = status == StatusCode::TOO_MANY_REQUESTS
        || errors
            .iter()
            .any(|e| e.code == "RATE_LIMITED" || e.category == "RATE_LIMIT_ERROR");
    match status.as_u16() {
        _ if rate_limited => ConnectorError::RateLimited { retry_after },
        // 403 is a token without the needed scope: new credentials fix it,
        // retrying does not.
        401 | 403 => ConnectorError::Auth(detail),
        408 | 500..=599 => ConnectorError::Transient(detail),
        _ => ConnectorError::Permanent(detail),
    }
}

/// A failed answer with Square's error list kept, for callers that need to
/// know which part of a batch was refused.
#[derive(Debug, Clone)]
pub(crate) struct SquareFailure {
    pub error: ConnectorError,
    pub errors: Vec<SquareError>,
}

impl SquareClient {
    pub(crate) fn new(
        http: HttpClient,
        base_url: &str,
        token: SecretString,
        version: String,
        page_size: u32,
        configured_locations: Vec<String>,
    ) -> Self {
        SquareClient {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            token,
            version,
            page_size,
            configured_locations,
            locations: Mutex::new(None),
        }
    }

    fn request(
        &self,
        method: http::Method,
        path: &str,
        body: Option<&Value>,
    ) -> reqwest::RequestBuilder {
        let req = self
            .http
            .reqwest()
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(self.token.expose_secret())
            .header("Square-Version", &self.version)
            .header(http::header::ACCEPT, "application/json");
        match body {
            Some(b) => req.json(b),
            None => req,
        }
    }

    /// Sends once; a failure keeps Square's error list.
    async fn send_once<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, SquareFailure> {
        let plain = |error| SquareFailure {
            error,
            errors: Vec::new(),
        };
        let resp = req.send().await.map_err(|e| plain(transport_error(e)))?;
        let status = resp.status();
        let wait = retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(|e| plain(transport_error(e)))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes)
                .map_err(|e| plain(ConnectorError::InvalidResponse(e.to_string())));
        }
        let body = String::from_utf8_lossy(&bytes);
        let errors = serde_json::from_str::<ErrorBody>(&body)
            .map(|b| b.errors)
            .unwrap_or_default();
        Err(SquareFailure {
            error: classify(status, wait, &body),
            errors,
        })
    }

    /// Sends a request, retrying what is retryable; the final failure keeps
    /// Square's error list.
    pub(crate) async fn call_detailed<T: DeserializeOwned>(
        &self,
        op: &str,
        method: http::Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<T, SquareFailure> {
        let last_errors = Mutex::new(Vec::new());
        let out = self
            .http
            .run(op, || {
                let req = self.request(method.clone(), path, body);
                let last_errors = &last_errors;
                async move {
                    self.send_once(req).await.map_err(|f| {
                        *lock(last_errors) = f.errors;
                        f.error
                    })
                }
            })
            .await;
        out.map_err(|error| SquareFailure {
            error,
            errors: last_errors
                .into_inner()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        })
    }

    /// POSTs `body` to `path`, retrying what is retryable.
    pub(crate) async fn post<T: DeserializeOwned>(
        &self,
        op: &str,
        path: &str,
        body: &Value,
    ) -> Result<T, ConnectorError> {
        self.call_detailed(op, http::Method::POST, path, Some(body))
            .await
            .map_err(|f| f.error)
    }

    /// GETs `path`, retrying what is retryable.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        op: &str,
        path: &str,
    ) -> Result<T, ConnectorError> {
        self.call_detailed(op, http::Method::GET, path, None)
            .await
            .map_err(|f| f.error)
    }

    /// The seller's locations (ListLocations), from the cache unless `refresh`.
    pub(crate) async fn locations(&self, refresh: bool) -> Result<Vec<Location>, ConnectorError> {
        if !refresh {
            if let Some(l) = lock(&self.locations).clone() {
                return Ok(l);
            }
        }
        let resp: ListLocationsResponse = self.get("list_locations", "/v2/locations").await?;
        *lock(&self.locations) = Some(resp.locations.clone());
        Ok(resp.locations)
    }

    /// The locations whose orders are polled: the configured ones, else every
    /// location of the seller (sorted, so a sweep's groups are stable).
    pub(crate) async fn order_locations(
        &self,
        refresh: bool,
    ) -> Result<Vec<String>, ConnectorError> {
        if !self.configured_locations.is_empty() {
            return Ok(self.configured_locations.clone());
        }
        let mut ids: Vec<String> = self
            .locations(refresh)
            .await?
            .into_iter()
            .map(|l| l.id)
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    /// Where a stock level without a location is set: the first configured
    /// location, else the first active location ListLocations returns.
    pub(crate) async fn default_location(&self) -> Result<String, ConnectorError> {
        if let Some(l) = self.configured_locations.first() {
            return Ok(l.clone());
        }
        let all = self.locations(false).await?;
        all.iter()
            .find(|l| l.status.as_deref().is_none_or(|s| s == "ACTIVE"))
            .map(|l| l.id.clone())
            .ok_or_else(|| {
                ConnectorError::Permanent(
                    "the Square account has no active location to set stock at".into(),
                )
            })
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn square_error_bodies_are_classified() {
        let body = |category: &str, code: &str| {
            serde_json::json!({"errors": [{"category": category, "code": code, "detail": "d"}]})
                .to_string()
        };
        let e = classify(
            StatusCode::TOO_MANY_REQUESTS,
            None,
            &body("RATE_LIMIT_ERROR", "RATE_LIMITED"),
        );
        assert!(matches!(
            e,
            ConnectorError::RateLimited { retry_after: None }
        ));
        // Square's code wins even on an unusual status.
        let e = classify(
            StatusCode::BAD_REQUEST,
            Some(Duration::from_secs(2)),
            &body("RATE_LIMIT_ERROR", "RATE_LIMITED"),
        );
        assert_eq!(e.retry_after(), Some(Duration::from_secs(2)));
        let e = classify(
            StatusCode::UNAUTHORIZED,
            None,
            &body("AUTHENTICATION_ERROR", "UNAUTHORIZED"),
        );
        assert!(
            matches!(&e, ConnectorError::Auth(m) if m.contains("UNAUTHORIZED: d")),
            "{e}"
        );
        let e = classify(
            StatusCode::FORBIDDEN,
            None,
            &body("AUTHENTICATION_ERROR", "INSUFFICIENT_SCOPES"),
        );
        assert!(matches!(e, ConnectorError::Auth(_)));
        let e = classify(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            &body("API_ERROR", "SERVICE_UNAVAILABLE"),
        );
        assert!(e.is_retryable() && matches!(e, ConnectorError::Transient(_)));
        let e = classify(
            StatusCode::BAD_REQUEST,
            None,
            &body("INVALID_REQUEST_ERROR", "INVALID_VALUE"),
        );
        assert!(matches!(&e, ConnectorError::Permanent(m) if m.contains("INVALID_VALUE")));
        let e = classify(StatusCode::NOT_FOUND, None, "not json");
        assert!(matches!(&e, ConnectorError::Permanent(m) if m.contains("not json")));
    }
}

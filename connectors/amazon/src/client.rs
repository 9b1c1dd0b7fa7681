//! The SP-API client: one rate limiter per operation (the usage plans of
//! [`Operation`], tightened when `x-amzn-RateLimit-Limit` declares less),
//! the LWA token on every call, and Amazon's answers turned into what they
//! mean: 429 → rate-limited, 5xx → transient, 403 → auth (after one retry
//! with a fresh token), other 4xx → permanent, each with the `errors` body.

use std::collections::BTreeMap;
use std::time::Duration;

use chansync_sdk::http::{transport_error, HttpClient, RateLimit, RateLimitState, RetryPolicy};
use chansync_sdk::{ConnectorError, ExposeSecret};
use reqwest::{Method, Url};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::auth::Lwa;
use crate::config::Settings;
use crate::ops::Operation;
use crate::wire::ErrorList;

/// The longest pause a 429 without `Retry-After` causes.
const MAX_THROTTLE_PAUSE: Duration = Duration::from_secs(120);

/// Presigned document URLs (S3) are not SP-API operations.
const DOCUMENT_LIMIT: RateLimit = RateLimit {
    per_second: 10.0,
    burst: 10,
};

/// One operation's limiter and the quota configured for it.
struct OpClient {
    http: HttpClient,
    limit: RateLimit,
}

/// The quota the connector runs an operation at: the usage plan with one
/// token of the burst kept in reserve, so that network and clock jitter
/// between us and Amazon's bucket never costs a 429.
pub(crate) fn paced(plan: RateLimit) -> RateLimit {
    plan.with_reserve()
}

/// The SP-API as one connector instance sees it.
pub(crate) struct SpApi {
    base: Url,
    pub(crate) lwa: Lwa,
    ops: BTreeMap<Operation, OpClient>,
    documents: HttpClient,
}

/// The error body of a failed call, read as far as possible.
fn describe(body: &str) -> String {
    match serde_json::from_str::<ErrorList>(body) {
        Ok(list) if !list.errors.is_empty() => list.describe(),
        _ => body.chars().take(300).collect(),
    }
}

/// Parses a success body; an empty one (204) reads as JSON `null`.
fn parse_body<T: DeserializeOwned>(op: Operation, bytes: &[u8]) -> Result<T, ConnectorError> {
    let bytes: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"null"
    } else {
        bytes
    };
    serde_json::from_slice(bytes)
        .map_err(|e| ConnectorError::InvalidResponse(format!("{op} answer: {e}")))
}

impl SpApi {
    pub(crate) fn new(s: &Settings) -> Self {
        let ops = s
            .limits
            .iter()
            .map(|(op, plan)| {
                let limit = paced(*plan);
                let http = HttpClient::new(
                    &format!("{}/{}", s.name, op.id()),
                    limit,
                    s.timeout,
                    RetryPolicy::default(),
                );
                (*op, OpClient { http, limit })
            })
            .collect();
        SpApi {
            base: Url::parse(&s.base_url).expect("checked with the settings"),
            lwa: Lwa::new(
                &format!("{}/lwa", s.name),
                s.lwa_endpoint.clone(),
                s.client_id.clone(),
                s.client_secret.clone(),
                s.refresh_token.clone(),
                s.timeout,
            ),
            ops,
            documents: HttpClient::new(
                &format!("{}/documents", s.name),
                DOCUMENT_LIMIT,
                s.timeout,
                RetryPolicy::default(),
            ),
        }
    }

    fn op(&self, op: Operation) -> &OpClient {
        self.ops.get(&op).expect("every operation has a client")
    }

    /// The endpoint URL for `segments` (each percent-encoded) and `query`.
    pub(crate) fn url(&self, segments: &[&str], query: &[(&str, String)]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("an http(s) base URL has path segments")
            .pop_if_empty()
            .extend(segments);
        if !query.is_empty() {
            url.query_pairs_mut()
                .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        }
        url
    }

    /// Calls an operation, retrying what is retryable.
    pub(crate) async fn call<T: DeserializeOwned>(
        &self,
        op: Operation,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<T, ConnectorError> {
        self.prepare().await?;
        self.op(op)
            .http
            .run(op.id(), || {
                self.attempt(op, method.clone(), url.clone(), body)
            })
            .await
    }

    /// Calls an operation that must not run twice: only answers proving it
    /// did not run (429, a refused token) are retried here; the caller looks
    /// at the channel before trying anything else again.
    pub(crate) async fn call_once<T: DeserializeOwned>(
        &self,
        op: Operation,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<T, ConnectorError> {
        self.prepare().await?;
        self.op(op)
            .http
            .run(op.id(), || {
                let attempt = self.attempt(op, method.clone(), url.clone(), body);
                async move {
                    match attempt.await {
                        Err(e @ ConnectorError::RateLimited { .. }) => Err(e),
                        Err(ConnectorError::Transient(m)) if m.starts_with(REFUSED_TOKEN) => {
                            Err(ConnectorError::Transient(m))
                        }
                        other => Ok(other),
                    }
                }
            })
            .await?
    }

    /// Gets the token before waiting on a limiter, so a released request
    /// goes out at once.
    async fn prepare(&self) -> Result<(), ConnectorError> {
        self.lwa.token().await.map(|_| ())
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        op: Operation,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> Result<T, ConnectorError> {
        let token = self.lwa.token().await?;
        let client = self.op(op);
        let mut req = client
            .http
            .reqwest()
            .request(method, url)
            .header("x-amz-access-token", token.value.expose_secret())
            .header(http::header::ACCEPT, "application/json");
        if let Some(b) = body {
            req = req.json(b);
        }
        let resp = req.send().await.map_err(transport_error)?;
        self.observe_limit(op, resp.headers());
        let status = resp.status();
        let retry_after = chansync_sdk::http::retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(transport_error)?;
        if status.is_success() {
            return parse_body(op, &bytes);
        }
        let detail = describe(&String::from_utf8_lossy(&bytes));
        Err(match status.as_u16() {
            429 => {
                let period = Duration::from_secs_f64(1.0 / client.http.limit().per_second);
                ConnectorError::RateLimited {
                    retry_after: Some(retry_after.unwrap_or(period.min(MAX_THROTTLE_PAUSE))),
                }
            }
            403 if token.reused => {
                // The cached token may have expired early; one retry with a new one.
                self.lwa.invalidate(&token).await;
                ConnectorError::Transient(format!("{REFUSED_TOKEN} ({op}: {detail})"))
            }
            401 | 403 => ConnectorError::Auth(format!("{op}: HTTP {status}: {detail}")),
            408 | 500..=599 => ConnectorError::Transient(format!("{op}: HTTP {status}: {detail}")),
            _ => ConnectorError::Permanent(format!("{op}: HTTP {status}: {detail}")),
        })
    }

    /// Applies a declared `x-amzn-RateLimit-Limit` below the configured rate.
    fn observe_limit(&self, op: Operation, headers: &http::HeaderMap) {
        let declared = headers
            .get("x-amzn-ratelimit-limit")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok())
            .filter(|r| r.is_finite() && *r > 0.0);
        if let Some(per_second) = declared {
            let client = self.op(op);
            client.http.tighten(RateLimit {
                per_second,
                burst: client.limit.burst,
            });
        }
    }

    /// Uploads a feed document to its presigned URL (no SP-API token).
    pub(crate) async fn upload(
        &self,
        url: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<(), ConnectorError> {
        self.documents
            .run("upload_feed_document", || {
                let req = self
                    .documents
                    .reqwest()
                    .put(url)
                    .header(http::header::CONTENT_TYPE, content_type)
                    .body(body.clone());
                async move { self.documents.send(req).await.map(|_| ()) }
            })
            .await
    }

    /// Downloads a document from its presigned URL.
    pub(crate) async fn download(&self, url: &str) -> Result<Vec<u8>, ConnectorError> {
        self.documents
            .run("download_feed_document", || {
                let req = self.documents.reqwest().get(url);
                async move {
                    let resp = self.documents.send(req).await?;
                    let bytes = resp.bytes().await.map_err(transport_error)?;
                    Ok(bytes.to_vec())
                }
            })
            .await
    }

    /// Every operation's limiter state, summed, at the quota of `getOrders`
    /// (the orders poll, the tightest plan).
    /// Every operation's quota, the documents' and the token endpoint's
    /// start as a previous holder silent for `quiet` may have left them.
    pub(crate) fn assume_spent(&self, quiet: std::time::Duration) {
        for client in self.ops.values() {
            client.http.assume_spent(quiet);
        }
        self.documents.assume_spent(quiet);
        self.lwa.assume_spent(quiet);
    }

    /// Requests waiting for any of the connector's quotas give up unsent.
    pub(crate) fn cancel_waits(&self) {
        for client in self.ops.values() {
            client.http.cancel_waits();
        }
        self.documents.cancel_waits();
        self.lwa.cancel_waits();
    }

    pub(crate) fn state(&self) -> RateLimitState {
        let mut total = self.op(Operation::GetOrders).http.state();
        for (op, client) in &self.ops {
            if *op == Operation::GetOrders {
                continue;
            }
            let s = client.http.state();
            total.requests += s.requests;
            total.waits += s.waits;
            total.throttled += s.throttled;
            total.pauses += s.pauses;
            total.paused_ms = total.paused_ms.max(s.paused_ms);
        }
        total
    }

    /// The quota an operation runs at now.
    pub(crate) fn limit(&self, op: Operation) -> RateLimit {
        self.op(op).http.limit()
    }
}

/// How a refused cached token is reported while a new one is fetched.
const REFUSED_TOKEN: &str = "the access token was refused; retrying with a new one";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_token_of_the_burst_is_kept_in_reserve() {
        let p = |per_second, burst| paced(RateLimit { per_second, burst });
        assert_eq!(p(0.0167, 20).burst, 19);
        assert_eq!(p(5.0, 5).burst, 4);
        assert_eq!(p(1.0, 1).burst, 1);
        assert_eq!(p(0.5, 30).per_second, 0.5);
    }

    #[test]
    fn error_bodies_are_described() {
        assert_eq!(
            describe(r#"{"errors":[{"code":"InvalidInput","message":"Invalid Input"}]}"#),
            "InvalidInput: Invalid Input"
        );
        assert_eq!(describe("<html>gateway</html>"), "<html>gateway</html>");
    }
}

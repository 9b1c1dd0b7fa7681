//! The HTTP client every connector shares: reqwest with rustls, one governor
//! rate limiter per connector instance (quota from config, tightened by what
//! the channel says), and backon retries with exponential backoff and jitter
//! that honour `Retry-After`. Each request runs in a tracing span.

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use tracing::Instrument;

use crate::error::ConnectorError;

/// What a request that gave up waiting because its connector is stopping
/// says.
pub const STOPPING: &str = "not sent: the connector is stopping";

/// A request quota: a steady rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// Requests per second on average (fractions allowed, e.g. 0.5).
    pub per_second: f64,
    /// How many requests may go at once after a quiet spell.
    pub burst: u32,
}

impl RateLimit {
    /// This quota with one token of the burst held in reserve: what a
    /// connector runs at when the channel enforces exactly the same bucket,
    /// so that network and clock jitter between the two buckets (a request
    /// sent on time but arriving early) never costs a 429.
    pub fn with_reserve(self) -> RateLimit {
        RateLimit {
            per_second: self.per_second,
            burst: if self.burst >= 2 {
                self.burst - 1
            } else {
                self.burst
            },
        }
    }

    fn quota(&self) -> Quota {
        let per_second = if self.per_second.is_finite() && self.per_second > 0.0 {
            self.per_second
        } else {
            1.0
        };
        let period = Duration::from_secs_f64(1.0 / per_second).max(Duration::from_micros(1));
        let burst = NonZeroU32::new(self.burst.max(1)).expect("burst is at least one");
        Quota::with_period(period)
            .expect("period is positive")
            .allow_burst(burst)
    }
}

/// How often and how patiently a request is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: usize,
    pub min_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 6,
            min_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(30),
        }
    }
}

/// The rate limiter's state, shown by `chansync connectors`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RateLimitState {
    pub per_second: f64,
    pub burst: u32,
    /// Requests sent so far.
    pub requests: u64,
    /// Times a request waited for the limiter.
    pub waits: u64,
    /// Times the channel said we were too fast (429 or its own throttle error).
    pub throttled: u64,
    /// Times the channel's answers made the client pause before going on.
    pub pauses: u64,
    /// How long the channel has asked us to pause from now, if at all.
    pub paused_ms: u64,
}

/// The HTTP client of one connector instance.
#[derive(Clone)]
pub struct HttpClient {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    client: reqwest::Client,
    /// The configured quota: the ceiling `tighten` never goes above.
    configured: RateLimit,
    /// The quota in force and its limiter; replaced when the channel
    /// declares a lower rate.
    limiter: Mutex<(RateLimit, Arc<DefaultDirectRateLimiter>)>,
    /// Set when the channel asks for a pause; every request waits it out.
    paused_until: Mutex<Option<Instant>>,
    /// Wakes requests waiting for their turn when the connector stops.
    closing: tokio::sync::Notify,
    /// Counts [`HttpClient::cancel_waits`] calls: a request started before
    /// one is not retried.
    closings: AtomicU64,
    retry: RetryPolicy,
    requests: AtomicU64,
    waits: AtomicU64,
    throttled: AtomicU64,
    pauses: AtomicU64,
}

impl std::fmt::Debug for HttpClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient")
            .field("name", &self.inner.name)
            .field("limit", &self.inner.configured)
            .finish()
    }
}

impl HttpClient {
    /// A client for connector instance `name` with the given quota.
    pub fn new(name: &str, limit: RateLimit, timeout: Duration, retry: RetryPolicy) -> Self {
        let client = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .pool_idle_timeout(Duration::from_secs(60))
            .user_agent(concat!("chansync/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the TLS backend initialises");
        HttpClient {
            inner: Arc::new(Inner {
                name: name.to_owned(),
                client,
                configured: limit,
                limiter: Mutex::new((limit, Arc::new(RateLimiter::direct(limit.quota())))),
                paused_until: Mutex::new(None),
                closing: tokio::sync::Notify::new(),
                closings: AtomicU64::new(0),
                retry,
                requests: AtomicU64::new(0),
                waits: AtomicU64::new(0),
                throttled: AtomicU64::new(0),
                pauses: AtomicU64::new(0),
            }),
        }
    }

    /// The underlying reqwest client, to build requests with.
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner.client
    }

    /// Makes every request of this connector wait `d` from now (the channel
    /// said so: a `Retry-After`, an exhausted budget).
    pub fn pause_for(&self, d: Duration) {
        let until = Instant::now() + d;
        self.inner.pauses.fetch_add(1, Ordering::Relaxed);
        let mut p = self.inner.paused_until.lock().expect("pause lock");
        if p.is_none_or(|old| old < until) {
            *p = Some(until);
        }
    }

    /// The quota in force now.
    pub fn limit(&self) -> RateLimit {
        self.inner.limiter.lock().expect("limiter lock").0
    }

    /// Applies the rate a channel declares for this client (e.g. a rate-limit
    /// header): the quota in force becomes the lower of that and the
    /// configured one. A declared rate above the configuration restores the
    /// configuration, never more. Returns whether the quota changed.
    pub fn tighten(&self, declared: RateLimit) -> bool {
        let c = self.inner.configured;
        let next = RateLimit {
            per_second: if declared.per_second.is_finite() && declared.per_second > 0.0 {
                declared.per_second.min(c.per_second)
            } else {
                c.per_second
            },
            burst: declared.burst.clamp(1, c.burst.max(1)),
        };
        let mut cur = self.inner.limiter.lock().expect("limiter lock");
        if cur.0 == next {
            return false;
        }
        tracing::info!(
            connector = %self.inner.name,
            per_second = next.per_second,
            burst = next.burst,
            "channel declared its rate limit; quota adjusted"
        );
        *cur = (next, Arc::new(RateLimiter::direct(next.quota())));
        true
    }

    /// Starts the quota over as if another process had just spent the
    /// channel's whole burst and then been silent for `quiet`: what a
    /// connector taken over from another replica (or from this daemon
    /// before a crash) can count on. Only what the channel refilled since
    /// (`per_second × quiet`, at most the burst) may go at once; the rest
    /// comes at the steady rate.
    pub fn assume_spent(&self, quiet: Duration) {
        let mut cur = self.inner.limiter.lock().expect("limiter lock");
        let limit = cur.0;
        let refilled = (limit.per_second.max(0.0) * quiet.as_secs_f64()).floor();
        let burst = limit.burst.max(1);
        let spent = burst.saturating_sub(refilled.min(f64::from(burst)) as u32);
        let limiter = Arc::new(RateLimiter::direct(limit.quota()));
        if let Some(n) = NonZeroU32::new(spent) {
            // A fresh limiter holds its whole burst: taking `n <= burst` succeeds.
            let _ = limiter.check_n(n);
        }
        *cur = (limit, limiter);
        tracing::debug!(
            connector = %self.inner.name,
            spent,
            quiet_ms = quiet.as_millis() as u64,
            "quota starts as the previous holder may have left it"
        );
    }

    /// Counts a throttle the channel reported in its own way (not a 429).
    pub fn note_throttled(&self) {
        self.inner.throttled.fetch_add(1, Ordering::Relaxed);
    }

    pub fn state(&self) -> RateLimitState {
        let paused_ms = self
            .inner
            .paused_until
            .lock()
            .expect("pause lock")
            .map(|u| u.saturating_duration_since(Instant::now()).as_millis() as u64)
            .unwrap_or(0);
        RateLimitState {
            per_second: self.limit().per_second,
            burst: self.limit().burst,
            requests: self.inner.requests.load(Ordering::Relaxed),
            waits: self.inner.waits.load(Ordering::Relaxed),
            throttled: self.inner.throttled.load(Ordering::Relaxed),
            pauses: self.inner.pauses.load(Ordering::Relaxed),
            paused_ms,
        }
    }

    /// The connector is stopping: every request waiting for the limiter or
    /// a pause gives up now with a [`ConnectorError::Transient`] and is
    /// not sent, nor retried; one already on the wire finishes. Requests
    /// made afterwards wait as usual.
    pub fn cancel_waits(&self) {
        self.inner.closings.fetch_add(1, Ordering::SeqCst);
        self.inner.closing.notify_waiters();
    }

    async fn wait_turn(&self) -> Result<(), ConnectorError> {
        let closing = self.inner.closing.notified();
        tokio::pin!(closing);
        closing.as_mut().enable();
        let stopping = || ConnectorError::Transient(STOPPING.into());
        loop {
            let until = *self.inner.paused_until.lock().expect("pause lock");
            match until {
                Some(u) if u > Instant::now() => {
                    self.inner.waits.fetch_add(1, Ordering::Relaxed);
                    tokio::select! {
                        _ = tokio::time::sleep_until(u) => {}
                        _ = &mut closing => return Err(stopping()),
                    }
                }
                _ => break,
            }
        }
        let limiter = self.inner.limiter.lock().expect("limiter lock").1.clone();
        if limiter.check().is_err() {
            self.inner.waits.fetch_add(1, Ordering::Relaxed);
            tokio::select! {
                _ = limiter.until_ready() => {}
                _ = &mut closing => return Err(stopping()),
            }
        }
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    /// Runs `attempt` under the rate limiter, retrying retryable errors with
    /// exponential backoff and jitter; a channel-named delay replaces the
    /// computed one and pauses the whole connector.
    pub async fn run<T, F, Fut>(&self, op: &str, mut attempt: F) -> Result<T, ConnectorError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ConnectorError>>,
    {
        let span = tracing::info_span!("channel_request", connector = %self.inner.name, op);
        let policy = self.inner.retry;
        let backoff = ExponentialBuilder::default()
            .with_min_delay(policy.min_delay)
            .with_max_delay(policy.max_delay)
            .with_max_times(policy.max_retries)
            .with_jitter();
        let closings = self.inner.closings.load(Ordering::SeqCst);
        let once = || {
            let fut = attempt();
            async move {
                self.wait_turn().await?;
                let result = fut.await;
                if let Err(ConnectorError::RateLimited { retry_after }) = &result {
                    self.note_throttled();
                    self.pause_for(retry_after.unwrap_or(policy.min_delay));
                }
                result
            }
        };
        once.retry(backoff)
            .sleep(tokio::time::sleep)
            .when(|e| e.is_retryable() && self.inner.closings.load(Ordering::SeqCst) == closings)
            .adjust(|e, computed| match e.retry_after() {
                // The pause set above already holds every request back; a
                // short computed delay on top keeps retries spread out.
                Some(_) => Some(computed.unwrap_or(policy.min_delay).min(policy.min_delay)),
                None => computed,
            })
            .notify(|e, delay| {
                let retry_in_ms = delay.as_millis() as u64;
                // Being told to slow down is normal operation, not a failure.
                if matches!(e, ConnectorError::RateLimited { .. }) {
                    tracing::info!(error = %e, retry_in_ms, "channel asked us to slow down; waiting");
                } else {
                    tracing::warn!(error = %e, retry_in_ms, "channel request failed, retrying");
                }
            })
            .instrument(span.clone())
            .await
            .inspect_err(|e| span.in_scope(|| tracing::warn!(error = %e, "channel request gave up")))
    }

    /// Sends a request, classifying transport errors and HTTP statuses.
    pub async fn send(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ConnectorError> {
        let resp = req.send().await.map_err(transport_error)?;
        check_status(resp).await
    }

    /// Sends a request and reads a JSON body.
    pub async fn send_json<T: DeserializeOwned>(
        &self,
        req: reqwest::RequestBuilder,
    ) -> Result<T, ConnectorError> {
        let resp = self.send(req).await?;
        read_json(resp).await
    }
}

/// Maps a reqwest transport error to what it is.
pub fn transport_error(e: reqwest::Error) -> ConnectorError {
    if e.is_timeout() || e.is_connect() || e.is_request() || e.is_body() {
        ConnectorError::Transient(e.without_url().to_string())
    } else if e.is_decode() {
        ConnectorError::InvalidResponse(e.without_url().to_string())
    } else {
        ConnectorError::Transient(e.without_url().to_string())
    }
}

/// Passes a 2xx through; turns anything else into the error it means.
pub async fn check_status(resp: reqwest::Response) -> Result<reqwest::Response, ConnectorError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let retry_after = retry_after(resp.headers());
    let body = resp.text().await.unwrap_or_default();
    Err(classify(status, retry_after, &body))
}

/// What an HTTP error status means for retrying.
pub fn classify(status: StatusCode, retry_after: Option<Duration>, body: &str) -> ConnectorError {
    let detail = || {
        let snippet: String = body.chars().take(300).collect();
        format!("HTTP {status}: {snippet}")
    };
    match status.as_u16() {
        429 => ConnectorError::RateLimited { retry_after },
        401 | 403 => ConnectorError::Auth(detail()),
        408 | 425 | 500..=599 => ConnectorError::Transient(detail()),
        _ => ConnectorError::Permanent(detail()),
    }
}

/// Reads a JSON body; a body that does not parse is an invalid response.
pub async fn read_json<T: DeserializeOwned>(resp: reqwest::Response) -> Result<T, ConnectorError> {
    let bytes = resp.bytes().await.map_err(transport_error)?;
    serde_json::from_slice(&bytes).map_err(|e| ConnectorError::InvalidResponse(e.to_string()))
}

/// Parses `Retry-After` in both its forms: delta-seconds or an HTTP date.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let v = headers
        .get(http::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let at = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let delta = at.signed_duration_since(chrono::Utc::now());
    Some(delta.to_std().unwrap_or(Duration::ZERO))
}

/// Parses a human duration such as `"2m"`, `"30s"` or `"1h 30m"`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("{s:?} is not a duration like \"30s\" or \"2m\": {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_dates() {
        let mut h = HeaderMap::new();
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after", "0.5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(500)));
        let future = (chrono::Utc::now() + chrono::Duration::seconds(30)).to_rfc2822();
        h.insert(
            "retry-after",
            future.replace("+0000", "GMT").parse().unwrap(),
        );
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert(
            "retry-after",
            "Wed, 21 Oct 2015 07:28:00 GMT".parse().unwrap(),
        );
        assert_eq!(retry_after(&h), Some(Duration::ZERO));
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
    }

    #[test]
    fn statuses_are_classified() {
        assert!(matches!(
            classify(
                StatusCode::TOO_MANY_REQUESTS,
                Some(Duration::from_secs(1)),
                ""
            ),
            ConnectorError::RateLimited {
                retry_after: Some(_)
            }
        ));
        assert!(classify(StatusCode::BAD_GATEWAY, None, "").is_retryable());
        assert!(!classify(StatusCode::UNPROCESSABLE_ENTITY, None, "").is_retryable());
        assert!(matches!(
            classify(StatusCode::UNAUTHORIZED, None, ""),
            ConnectorError::Auth(_)
        ));
    }

    #[tokio::test]
    async fn retries_transient_errors_then_succeeds() {
        let client = HttpClient::new(
            "t",
            RateLimit {
                per_second: 1000.0,
                burst: 10,
            },
            Duration::from_secs(5),
            RetryPolicy {
                max_retries: 3,
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
            },
        );
        let mut calls = 0;
        let out = client
            .run("op", || {
                calls += 1;
                let n = calls;
                async move {
                    if n < 3 {
                        Err(ConnectorError::Transient("boom".into()))
                    } else {
                        Ok(n)
                    }
                }
            })
            .await
            .unwrap();
        assert_eq!(out, 3);
        assert_eq!(client.state().requests, 3);
    }

    /// How many of `n` requests the limiter lets through at once (one that
    /// has to wait is given up after 5 ms).
    async fn at_once(client: &HttpClient, n: usize) -> u64 {
        for _ in 0..n {
            let _ = tokio::time::timeout(
                Duration::from_millis(5),
                client.run("op", || async { Ok::<_, ConnectorError>(()) }),
            )
            .await;
        }
        client.state().requests
    }

    #[tokio::test]
    async fn a_quota_taken_over_keeps_only_what_the_channel_refilled() {
        let quota = RateLimit {
            per_second: 2.0,
            burst: 10,
        };
        let client = || HttpClient::new("t", quota, Duration::from_secs(5), RetryPolicy::default());
        // A fresh quota (no one held it before): the whole burst at once.
        assert_eq!(at_once(&client(), 12).await, 10);
        // Silent for 2 s at 2/s: four refilled since the last holder may
        // have spent everything.
        let c = client();
        c.assume_spent(Duration::from_secs(2));
        assert_eq!(at_once(&c, 12).await, 4);
        // Just stopped: nothing at once.
        let c = client();
        c.assume_spent(Duration::ZERO);
        assert_eq!(at_once(&c, 3).await, 0);
        // Silent for longer than a refill: the whole burst again.
        let c = client();
        c.assume_spent(Duration::from_secs(60));
        assert_eq!(at_once(&c, 12).await, 10);
    }

    #[tokio::test]
    async fn permanent_errors_are_not_retried() {
        let client = HttpClient::new(
            "t",
            RateLimit {
                per_second: 1000.0,
                burst: 10,
            },
            Duration::from_secs(5),
            RetryPolicy {
                max_retries: 3,
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
            },
        );
        let mut calls = 0;
        let err = client
            .run("op", || {
                calls += 1;
                async { Err::<(), _>(ConnectorError::Permanent("no".into())) }
            })
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectorError::Permanent(_)));
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn a_named_retry_after_pauses_the_connector() {
        let client = HttpClient::new(
            "t",
            RateLimit {
                per_second: 1000.0,
                burst: 10,
            },
            Duration::from_secs(5),
            RetryPolicy {
                max_retries: 2,
                min_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
            },
        );
        let started = Instant::now();
        let mut calls = 0;
        let out = client
            .run("op", || {
                calls += 1;
                let n = calls;
                async move {
                    if n == 1 {
                        Err(ConnectorError::RateLimited {
                            retry_after: Some(Duration::from_millis(300)),
                        })
                    } else {
                        Ok(())
                    }
                }
            })
            .await;
        assert!(out.is_ok());
        assert!(
            started.elapsed() >= Duration::from_millis(300),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(client.state().throttled, 1);
    }

    #[tokio::test]
    async fn a_declared_rate_tightens_the_quota_but_never_past_the_config() {
        let configured = RateLimit {
            per_second: 1000.0,
            burst: 10,
        };
        let client = HttpClient::new(
            "t",
            configured,
            Duration::from_secs(5),
            RetryPolicy::default(),
        );
        assert!(client.tighten(RateLimit {
            per_second: 5.0,
            burst: 1
        }));
        assert_eq!(
            client.limit(),
            RateLimit {
                per_second: 5.0,
                burst: 1
            }
        );
        let started = Instant::now();
        for _ in 0..3 {
            client
                .run("op", || async { Ok::<_, ConnectorError>(()) })
                .await
                .unwrap();
        }
        // One at once, then two more at 200ms each.
        assert!(
            started.elapsed() >= Duration::from_millis(390),
            "{:?}",
            started.elapsed()
        );
        assert!(
            !client.tighten(RateLimit {
                per_second: 5.0,
                burst: 1
            }),
            "same quota, no change"
        );
        assert!(client.tighten(RateLimit {
            per_second: 1e6,
            burst: 500
        }));
        assert_eq!(
            client.limit(),
            configured,
            "a generous channel does not lift the configured quota"
        );
    }

    #[tokio::test]
    async fn the_limiter_spaces_requests_beyond_the_burst() {
        let client = HttpClient::new(
            "t",
            RateLimit {
                per_second: 20.0,
                burst: 2,
            },
            Duration::from_secs(5),
            RetryPolicy::default(),
        );
        let started = Instant::now();
        for _ in 0..6 {
            client
                .run("op", || async { Ok::<_, ConnectorError>(()) })
                .await
                .unwrap();
        }
        // 2 at once, then 4 more at 50ms each.
        assert!(
            started.elapsed() >= Duration::from_millis(190),
            "{:?}",
            started.elapsed()
        );
        assert!(client.state().waits >= 4);
    }
}

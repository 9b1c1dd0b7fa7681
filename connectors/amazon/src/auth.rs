//! Login with Amazon: the seller's refresh token is exchanged for an access
//! token (`grant_type=refresh_token`, form-encoded, with the application's
//! client id and secret), which is cached and renewed shortly before it
//! expires. Every SP-API call carries it as `x-amz-access-token`.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use chansync_sdk::http::{transport_error, HttpClient, RateLimit, RetryPolicy};
use chansync_sdk::{ConnectorError, ExposeSecret, SecretString};
use tokio::sync::Mutex;
use tokio::time::Instant;

use crate::wire::{TokenError, TokenResponse};

/// LWA has no published usage plan; token requests are rare, this only keeps
/// a misbehaving loop polite.
const LWA_LIMIT: RateLimit = RateLimit {
    per_second: 1.0,
    burst: 5,
};

/// The longest a token is renewed before it expires.
const MAX_MARGIN: Duration = Duration::from_secs(60);

/// An access token and when to stop using it.
#[derive(Clone)]
pub(crate) struct AccessToken {
    pub value: SecretString,
    /// Which grant this is; lets a refused token be dropped only once.
    pub generation: u64,
    /// Served from the cache rather than obtained for this call.
    pub reused: bool,
    renew_at: Instant,
}

/// The credentials and the cached token of one connector instance.
pub(crate) struct Lwa {
    http: HttpClient,
    endpoint: String,
    client_id: String,
    client_secret: SecretString,
    refresh_token: SecretString,
    cached: Mutex<Option<AccessToken>>,
    grants: AtomicU64,
}

impl Lwa {
    /// The token endpoint's quota starts as a previous holder silent for
    /// `quiet` may have left it.
    pub(crate) fn cancel_waits(&self) {
        self.http.cancel_waits();
    }

    pub(crate) fn assume_spent(&self, quiet: std::time::Duration) {
        self.http.assume_spent(quiet);
    }

    pub(crate) fn new(
        name: &str,
        endpoint: String,
        client_id: String,
        client_secret: SecretString,
        refresh_token: SecretString,
        timeout: Duration,
    ) -> Self {
        Lwa {
            http: HttpClient::new(name, LWA_LIMIT, timeout, RetryPolicy::default()),
            endpoint,
            client_id,
            client_secret,
            refresh_token,
            cached: Mutex::new(None),
            grants: AtomicU64::new(0),
        }
    }

    /// A valid access token: the cached one, or a new one when it is about
    /// to expire (concurrent callers wait for one refresh).
    pub(crate) async fn token(&self) -> Result<AccessToken, ConnectorError> {
        let mut cached = self.cached.lock().await;
        if let Some(t) = cached.as_ref().filter(|t| Instant::now() < t.renew_at) {
            return Ok(AccessToken {
                reused: true,
                ..t.clone()
            });
        }
        let fresh = self.http.run("lwa_token", || self.request_token()).await?;
        *cached = Some(fresh.clone());
        Ok(fresh)
    }

    /// Drops the cached token if it is still `token` (the API refused it).
    pub(crate) async fn invalidate(&self, token: &AccessToken) {
        let mut cached = self.cached.lock().await;
        if cached
            .as_ref()
            .is_some_and(|t| t.generation == token.generation)
        {
            *cached = None;
        }
    }

    /// How many tokens were granted so far.
    pub(crate) fn grants(&self) -> u64 {
        self.grants.load(Ordering::Relaxed)
    }

    async fn request_token(&self) -> Result<AccessToken, ConnectorError> {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", self.refresh_token.expose_secret()),
            ("client_id", self.client_id.as_str()),
            ("client_secret", self.client_secret.expose_secret()),
        ];
        let resp = self
            .http
            .reqwest()
            .post(&self.endpoint)
            .form(&form)
            .send()
            .await
            .map_err(transport_error)?;
        let status = resp.status();
        let retry_after = chansync_sdk::http::retry_after(resp.headers());
        let bytes = resp.bytes().await.map_err(transport_error)?;
        if status.is_success() {
            let t: TokenResponse = serde_json::from_slice(&bytes)
                .map_err(|e| ConnectorError::InvalidResponse(format!("LWA token answer: {e}")))?;
            if t.access_token.is_empty() {
                return Err(ConnectorError::InvalidResponse(
                    "LWA answered without an access token".into(),
                ));
            }
            let lifetime = Duration::from_secs(t.expires_in);
            let margin = MAX_MARGIN.min(lifetime / 10);
            let generation = self.grants.fetch_add(1, Ordering::Relaxed) + 1;
            tracing::debug!(
                expires_in = t.expires_in,
                generation,
                "LWA access token obtained"
            );
            return Ok(AccessToken {
                value: SecretString::from(t.access_token),
                generation,
                reused: false,
                renew_at: Instant::now() + lifetime.saturating_sub(margin),
            });
        }
        // The error body names the problem, never the credentials.
        let detail = serde_json::from_slice::<TokenError>(&bytes)
            .map(|e| match e.error_description {
                Some(d) => format!("{}: {d}", e.error),
                None => e.error,
            })
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).chars().take(200).collect());
        Err(match status.as_u16() {
            429 => ConnectorError::RateLimited { retry_after },
            400 | 401 | 403 => ConnectorError::Auth(format!(
                "Login with Amazon refused the token request ({status}): {detail}"
            )),
            408 | 500..=599 => {
                ConnectorError::Transient(format!("Login with Amazon: HTTP {status}: {detail}"))
            }
            _ => ConnectorError::Permanent(format!("Login with Amazon: HTTP {status}: {detail}")),
        })
    }
}

//! What a connector says an error *is*; the daemon decides what to do about it.
//!
//! Transient and rate-limited errors are retried (honouring the delay the
//! channel asked for); auth and permanent errors are not.

use std::time::Duration;

/// An error talking to a channel or reading what it sent.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectorError {
    /// Worth trying again: a timeout, a reset connection, a 5xx.
    #[error("transient channel error: {0}")]
    Transient(String),
    /// The channel asked us to slow down, perhaps saying for how long.
    #[error("rate limited by the channel{}", .retry_after.map(|d| format!(", retry after {}ms", d.as_millis())).unwrap_or_default())]
    RateLimited { retry_after: Option<Duration> },
    /// The credentials were refused; retrying will not help until they change.
    #[error("the channel refused the credentials: {0}")]
    Auth(String),
    /// The request itself is wrong (a 4xx, a validation error); never retried.
    #[error("permanent channel error: {0}")]
    Permanent(String),
    /// The channel answered with something we cannot read.
    #[error("unreadable response from the channel: {0}")]
    InvalidResponse(String),
}

impl ConnectorError {
    /// Whether trying the same request again may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            ConnectorError::Transient(_)
                | ConnectorError::RateLimited { .. }
                | ConnectorError::InvalidResponse(_)
        )
    }

    /// The delay the channel asked for, if it named one.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ConnectorError::RateLimited { retry_after } => *retry_after,
            _ => None,
        }
    }

    /// A short stable name for logs and metrics.
    pub fn class(&self) -> &'static str {
        match self {
            ConnectorError::Transient(_) => "transient",
            ConnectorError::RateLimited { .. } => "rate_limited",
            ConnectorError::Auth(_) => "auth",
            ConnectorError::Permanent(_) => "permanent",
            ConnectorError::InvalidResponse(_) => "invalid_response",
        }
    }
}

/// A webhook that is refused; the variant decides the HTTP status.
#[derive(Debug, Clone, thiserror::Error)]
pub enum WebhookError {
    /// Missing or wrong signature: answered 401, nothing stored.
    #[error("webhook signature rejected: {0}")]
    BadSignature(String),
    /// Signed correctly but unreadable: answered 400 and kept for inspection.
    #[error("malformed webhook: {0}")]
    Malformed(String),
}

/// A connector's kind-specific configuration is wrong.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{key}: {message}")]
pub struct ConfigError {
    /// The offending key, relative to the connector's table (e.g. `api_version`).
    pub key: String,
    pub message: String,
}

impl ConfigError {
    pub fn new(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError {
            key: key.into(),
            message: message.into(),
        }
    }
}

//! The chansync connector SDK: the only crate a connector depends on.
//!
//! It holds the canonical order model ([`model`]), the capability traits a
//! connector implements ([`connector`]), what its errors mean ([`error`]), the
//! shared rate-limited, retrying HTTP client ([`http`]) and webhook signature
//! helpers ([`webhook`]). With feature `sim`, [`chaos`] injects faults into
//! simulators and [`webhook_queue`] sends their webhooks under it; with feature `conformance`, [`conformance`] checks a connector
//! against its simulator.

#[cfg(feature = "sim")]
pub mod chaos;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod connector;
pub mod error;
pub mod http;
pub mod model;
pub mod webhook;
#[cfg(feature = "sim")]
pub mod webhook_queue;

pub use async_trait::async_trait;
pub use connector::*;
pub use error::{ConfigError, ConnectorError, WebhookError};
pub use secrecy::{ExposeSecret, SecretString};

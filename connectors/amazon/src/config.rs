//! The Amazon-specific keys of a `[[connector]]` table and the secrets beside
//! them, checked once when the config loads; every error names its key.

use std::collections::BTreeMap;
use std::time::Duration;

use chansync_sdk::http::RateLimit;
use chansync_sdk::{ConfigError, ConnectorContext, SecretString};
use serde::Deserialize;

use crate::ops::Operation;

/// Login with Amazon's token endpoint.
pub const DEFAULT_LWA_ENDPOINT: &str = "https://api.amazon.com/auth/o2/token";

/// The Amazon-specific keys of a `[[connector]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmazonOptions {
    /// The LWA client id of the SP-API application (may also be a secret).
    #[serde(default)]
    pub client_id: Option<String>,
    /// Login with Amazon's token endpoint.
    #[serde(default = "default_lwa_endpoint")]
    pub lwa_endpoint: String,
    /// The marketplaces orders are read from and listings are updated in.
    #[serde(default)]
    pub marketplace_ids: Vec<String>,
    /// The selling partner id; stock push (Listings Items, Feeds) needs it.
    #[serde(default)]
    pub seller_id: Option<String>,
    /// Orders per `getOrders` page (`MaxResultsPerPage`, 1–100).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// How far behind the newest seen update each sweep restarts, e.g. `"2m"`.
    #[serde(default = "default_overlap", with = "duration_str")]
    pub overlap: Duration,
    /// How far back the very first sweep reaches, e.g. `"7d"`.
    #[serde(default = "default_lookback", with = "duration_str")]
    pub lookback: Duration,
    /// Per-request timeout, e.g. `"30s"`.
    #[serde(default = "default_timeout", with = "duration_str")]
    pub timeout: Duration,
    /// Stock batches larger than this go as one JSON_LISTINGS_FEED instead
    /// of one `patchListingsItem` per SKU.
    #[serde(default = "default_feed_threshold")]
    pub feed_threshold: usize,
    /// The most stock levels one push carries (at most 25000, a feed's limit).
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// The `productType` sent with listings patches.
    #[serde(default = "default_product_type")]
    pub product_type: String,
    /// How often a submitted feed's status is read, e.g. `"15s"`.
    #[serde(default = "default_feed_poll_every", with = "duration_str")]
    pub feed_poll_every: Duration,
    /// How long a push waits for its feed before failing (and retrying).
    #[serde(default = "default_feed_timeout", with = "duration_str")]
    pub feed_timeout: Duration,
    /// Usage plans above the defaults, by `operationId`, e.g.
    /// `{ getOrders = { per_second = 0.5, burst = 30 } }`.
    #[serde(default)]
    pub rate_limits: BTreeMap<String, RateLimit>,
}

fn default_lwa_endpoint() -> String {
    DEFAULT_LWA_ENDPOINT.to_owned()
}
fn default_page_size() -> u32 {
    100
}
fn default_overlap() -> Duration {
    Duration::from_secs(120)
}
fn default_lookback() -> Duration {
    Duration::from_secs(7 * 24 * 3600)
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_feed_threshold() -> usize {
    20
}
fn default_batch_size() -> usize {
    1000
}
fn default_product_type() -> String {
    "PRODUCT".to_owned()
}
fn default_feed_poll_every() -> Duration {
    Duration::from_secs(15)
}
fn default_feed_timeout() -> Duration {
    // The dispatcher waits for a push; beyond this it retries later and the
    // same batch resumes polling its feed.
    Duration::from_secs(5 * 60)
}

mod duration_str {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        chansync_sdk::http::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// A connector's settings, checked.
#[derive(Debug)]
pub struct Settings {
    pub name: String,
    /// The SP-API endpoint without a trailing slash.
    pub base_url: String,
    pub lwa_endpoint: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub refresh_token: SecretString,
    pub marketplace_ids: Vec<String>,
    pub seller_id: Option<String>,
    pub page_size: u32,
    pub overlap: Duration,
    pub lookback: Duration,
    pub timeout: Duration,
    pub feed_threshold: usize,
    pub batch_size: usize,
    pub product_type: String,
    pub feed_poll_every: Duration,
    pub feed_timeout: Duration,
    /// The quota of every operation.
    pub limits: BTreeMap<Operation, RateLimit>,
}

/// The key a serde error about the options names, if it names one.
fn option_key(message: &str) -> String {
    message
        .split('`')
        .nth(1)
        .filter(|k| !k.contains(' '))
        .unwrap_or("")
        .to_owned()
}

/// A secret from `ctx.secrets`, or (tests only) a literal string in options.
fn secret(
    ctx: &ConnectorContext,
    options: &mut serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<Option<SecretString>, ConfigError> {
    match options.remove(key) {
        Some(serde_json::Value::String(s)) => Ok(Some(SecretString::from(s))),
        Some(_) => Err(ConfigError::new(
            key,
            "write it as { env = \"NAME\" } or { file = \"PATH\" }",
        )),
        None => Ok(ctx.secrets.get(key).cloned()),
    }
}

fn valid_limit(limit: &RateLimit) -> bool {
    limit.per_second.is_finite() && limit.per_second > 0.0 && limit.burst >= 1
}

impl Settings {
    /// Reads and checks a connector's context.
    pub fn from_context(ctx: &ConnectorContext) -> Result<Settings, ConfigError> {
        let mut raw = match &ctx.options {
            serde_json::Value::Null => serde_json::Map::new(),
            serde_json::Value::Object(m) => m.clone(),
            _ => return Err(ConfigError::new("", "the connector's keys must be a table")),
        };
        let client_secret = secret(ctx, &mut raw, "client_secret")?.ok_or_else(|| {
            ConfigError::new(
                "client_secret",
                "the LWA client secret is required, e.g. client_secret = { env = \"AMAZON_CLIENT_SECRET\" }",
            )
        })?;
        let refresh_token = match secret(ctx, &mut raw, "refresh_token")? {
            Some(t) => t,
            None => ctx.access_token.clone().ok_or_else(|| {
                ConfigError::new(
                    "refresh_token",
                    "the seller's LWA refresh token is required, e.g. refresh_token = { env = \"AMAZON_REFRESH_TOKEN\" }",
                )
            })?,
        };
        let opts: AmazonOptions = serde_path_to_error::deserialize(serde_json::Value::Object(raw))
            .map_err(|e| {
                let path = e.path().to_string();
                let message = e.inner().to_string();
                let key = if path == "." {
                    option_key(&message)
                } else {
                    path
                };
                ConfigError::new(key, message)
            })?;
        let client_id = match opts.client_id.clone() {
            Some(id) => id,
            None => ctx
                .secrets
                .get("client_id")
                .map(|s| chansync_sdk::ExposeSecret::expose_secret(s).to_owned())
                .ok_or_else(|| {
                    ConfigError::new(
                        "client_id",
                        "the LWA client id of the SP-API application is required",
                    )
                })?,
        };
        if client_id.trim().is_empty() {
            return Err(ConfigError::new("client_id", "must not be empty"));
        }
        if opts.marketplace_ids.is_empty() || opts.marketplace_ids.len() > 50 {
            return Err(ConfigError::new(
                "marketplace_ids",
                "list 1 to 50 marketplace ids, e.g. [\"A1PA6795UKMFR9\"]",
            ));
        }
        if let Some(bad) = opts
            .marketplace_ids
            .iter()
            .find(|m| m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphanumeric()))
        {
            return Err(ConfigError::new(
                "marketplace_ids",
                format!("{bad:?} is not a marketplace id"),
            ));
        }
        if opts
            .seller_id
            .as_deref()
            .is_some_and(|s| s.trim().is_empty())
        {
            return Err(ConfigError::new("seller_id", "must not be empty"));
        }
        if !(1..=100).contains(&opts.page_size) {
            return Err(ConfigError::new("page_size", "must be between 1 and 100"));
        }
        if opts.batch_size == 0 || opts.batch_size > 25_000 {
            return Err(ConfigError::new(
                "batch_size",
                "must be between 1 and 25000",
            ));
        }
        if opts.product_type.trim().is_empty() {
            return Err(ConfigError::new("product_type", "must not be empty"));
        }
        if opts.feed_poll_every.is_zero() {
            return Err(ConfigError::new("feed_poll_every", "must be above zero"));
        }
        if opts.timeout.is_zero() {
            return Err(ConfigError::new("timeout", "must be above zero"));
        }
        let lwa_endpoint = opts.lwa_endpoint.trim().to_owned();
        if reqwest::Url::parse(&lwa_endpoint).is_err() {
            return Err(ConfigError::new(
                "lwa_endpoint",
                format!("{lwa_endpoint:?} is not a URL"),
            ));
        }
        let base_url = ctx.base_url.trim().trim_end_matches('/').to_owned();
        if reqwest::Url::parse(&base_url).is_err() {
            return Err(ConfigError::new(
                "base_url",
                format!("{base_url:?} is not a URL"),
            ));
        }
        let mut limits: BTreeMap<Operation, RateLimit> = Operation::ALL
            .into_iter()
            .map(|op| (op, op.default_limit()))
            .collect();
        for (id, limit) in &opts.rate_limits {
            let key = format!("rate_limits.{id}");
            let op = Operation::from_id(id).ok_or_else(|| {
                let known: Vec<&str> = Operation::ALL.iter().map(|o| o.id()).collect();
                ConfigError::new(
                    &key,
                    format!("not an operation; use one of {}", known.join(", ")),
                )
            })?;
            if !valid_limit(limit) {
                return Err(ConfigError::new(
                    key,
                    "per_second must be above 0 and burst at least 1",
                ));
            }
            limits.insert(op, *limit);
        }
        // A common `rate_limit` caps every operation below its usage plan.
        if let Some(cap) = ctx.rate_limit.filter(valid_limit) {
            for limit in limits.values_mut() {
                limit.per_second = limit.per_second.min(cap.per_second);
                limit.burst = limit.burst.min(cap.burst);
            }
        }
        Ok(Settings {
            name: ctx.name.clone(),
            base_url,
            lwa_endpoint,
            client_id,
            client_secret,
            refresh_token,
            marketplace_ids: opts.marketplace_ids,
            seller_id: opts.seller_id.map(|s| s.trim().to_owned()),
            page_size: opts.page_size,
            overlap: opts.overlap,
            lookback: opts.lookback,
            timeout: opts.timeout,
            feed_threshold: opts.feed_threshold,
            batch_size: opts.batch_size,
            product_type: opts.product_type.trim().to_owned(),
            feed_poll_every: opts.feed_poll_every,
            feed_timeout: opts.feed_timeout,
            limits,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn ctx(options: serde_json::Value) -> ConnectorContext {
        ConnectorContext {
            name: "amz".into(),
            base_url: "https://sellingpartnerapi-eu.amazon.com/".into(),
            options,
            secrets: [
                ("client_secret".to_owned(), SecretString::from("cs")),
                ("refresh_token".to_owned(), SecretString::from("rt")),
            ]
            .into_iter()
            .collect(),
            ..Default::default()
        }
    }

    fn good() -> serde_json::Value {
        json!({"client_id": "amzn1.application-oa2-client.x", "marketplace_ids": ["A1PA6795UKMFR9"]})
    }

    #[test]
    fn defaults_come_from_the_specs() {
        let s = Settings::from_context(&ctx(good())).unwrap();
        assert_eq!(s.base_url, "https://sellingpartnerapi-eu.amazon.com");
        assert_eq!(s.lwa_endpoint, DEFAULT_LWA_ENDPOINT);
        assert_eq!(s.limits[&Operation::GetOrders].per_second, 0.0167);
        assert_eq!(s.limits[&Operation::PatchListingsItem].burst, 5);
        assert_eq!(s.feed_threshold, 20);
        assert!(s.seller_id.is_none());
    }

    #[test]
    fn errors_name_the_key() {
        let key =
            |options: serde_json::Value| Settings::from_context(&ctx(options)).unwrap_err().key;
        assert_eq!(
            key(json!({"marketplace_ids": ["A1PA6795UKMFR9"]})),
            "client_id"
        );
        assert_eq!(key(json!({"client_id": "x"})), "marketplace_ids");
        let mut o = good();
        o["page_size"] = json!(101);
        assert_eq!(key(o), "page_size");
        let mut o = good();
        o["pagesize"] = json!(10);
        assert_eq!(key(o), "pagesize");
        let mut o = good();
        o["overlap"] = json!("soon");
        assert_eq!(key(o), "overlap");
        let mut o = good();
        o["rate_limits"] = json!({"getOrder": {"per_second": 1.0, "burst": 0}});
        assert_eq!(key(o), "rate_limits.getOrder");
        let mut o = good();
        o["rate_limits"] = json!({"listOrders": {"per_second": 1.0, "burst": 1}});
        assert_eq!(key(o), "rate_limits.listOrders");
    }

    #[test]
    fn the_refresh_token_may_be_the_access_token() {
        let mut c = ctx(good());
        c.secrets.remove("refresh_token");
        assert_eq!(Settings::from_context(&c).unwrap_err().key, "refresh_token");
        c.access_token = Some(SecretString::from("rt"));
        assert!(Settings::from_context(&c).is_ok());
    }

    #[test]
    fn overrides_and_the_common_cap_apply() {
        let mut o = good();
        o["rate_limits"] = json!({"getOrders": {"per_second": 2.0, "burst": 40}});
        let mut c = ctx(o);
        c.rate_limit = Some(RateLimit {
            per_second: 1.0,
            burst: 25,
        });
        let s = Settings::from_context(&c).unwrap();
        assert_eq!(
            s.limits[&Operation::GetOrders],
            RateLimit {
                per_second: 1.0,
                burst: 25
            }
        );
        assert_eq!(s.limits[&Operation::GetOrderItems].per_second, 0.5);
    }
}

//! The Square-specific keys of a `[[connector]]` table, validated when the
//! config loads so a wrong key is reported with its name, not at the first
//! request.

use std::time::Duration;

use chansync_sdk::ConfigError;
use serde::de::DeserializeOwned;

/// The `Square-Version` sent when the config names none: the version
/// shared/specs/square/api.json describes.
pub const DEFAULT_SQUARE_VERSION: &str = "2025-08-20";

/// SearchOrders takes at most this many locations per request.
pub const MAX_LOCATIONS_PER_SEARCH: usize = 10;

/// The Square-specific keys of a `[[connector]]` table.
#[derive(Debug, Clone)]
pub struct SquareOptions {
    /// The `Square-Version` header, e.g. `2025-08-20`.
    pub square_version: String,
    /// Locations whose orders and stock chansync syncs; empty: every location
    /// ListLocations returns. The first one is where stock levels without a
    /// location are set.
    pub location_ids: Vec<String>,
    /// The notification URL exactly as configured on the webhook subscription
    /// (Square signs it with the body); default: the URL the request reached.
    pub webhook_url: Option<String>,
    /// Records per page of SearchOrders, BatchRetrieveInventoryCounts and
    /// SearchCatalogObjects (1–1000).
    pub page_size: u32,
    /// Per-request timeout, e.g. `"30s"`.
    pub timeout: Duration,
    /// How far behind the newest update seen each order sweep restarts, e.g.
    /// `"10s"`; covers Square's search index catching up.
    pub overlap: Duration,
}

/// The keys a Square connector table may have besides the common ones.
pub const KEYS: &[&str] = &[
    "square_version",
    "location_ids",
    "webhook_url",
    "page_size",
    "timeout",
    "overlap",
];

/// One key's value, if present; a wrong type names the key.
fn field<T: DeserializeOwned>(
    map: &serde_json::Map<String, serde_json::Value>,
    key: &str,
) -> Result<Option<T>, ConfigError> {
    map.get(key)
        .filter(|v| !v.is_null())
        .map(|v| {
            serde_json::from_value(v.clone()).map_err(|e| ConfigError::new(key, e.to_string()))
        })
        .transpose()
}

fn duration(key: &str, s: Option<&str>, default: Duration) -> Result<Duration, ConfigError> {
    match s {
        None => Ok(default),
        Some(s) => chansync_sdk::http::parse_duration(s).map_err(|m| ConfigError::new(key, m)),
    }
}

/// Whether `v` is a `YYYY-MM-DD` date, as Square versions are.
pub fn is_square_version(v: &str) -> bool {
    chrono::NaiveDate::parse_from_str(v, "%Y-%m-%d").is_ok() && v.len() == 10
}

impl SquareOptions {
    /// Reads and checks the options (`null` means all defaults).
    pub fn from_json(options: &serde_json::Value) -> Result<Self, ConfigError> {
        let empty = serde_json::Map::new();
        let map = match options {
            serde_json::Value::Null => &empty,
            serde_json::Value::Object(m) => m,
            other => {
                return Err(ConfigError::new(
                    "",
                    format!("the Square options must be a table, not {other}"),
                ))
            }
        };
        if let Some(k) = map.keys().find(|k| !KEYS.contains(&k.as_str())) {
            return Err(ConfigError::new(
                k.as_str(),
                format!(
                    "unknown key for a Square connector; known keys: {}",
                    KEYS.join(", ")
                ),
            ));
        }
        let timeout: Option<String> = field(map, "timeout")?;
        let overlap: Option<String> = field(map, "overlap")?;
        let opts = SquareOptions {
            square_version: field(map, "square_version")?
                .unwrap_or_else(|| DEFAULT_SQUARE_VERSION.to_owned()),
            location_ids: field(map, "location_ids")?.unwrap_or_default(),
            webhook_url: field(map, "webhook_url")?,
            page_size: field(map, "page_size")?.unwrap_or(100),
            timeout: duration("timeout", timeout.as_deref(), Duration::from_secs(30))?,
            overlap: duration("overlap", overlap.as_deref(), Duration::from_secs(10))?,
        };
        if !is_square_version(&opts.square_version) {
            return Err(ConfigError::new(
                "square_version",
                format!(
                    "{:?} is not a Square API version like \"{DEFAULT_SQUARE_VERSION}\"",
                    opts.square_version
                ),
            ));
        }
        if opts.page_size == 0 || opts.page_size > 1000 {
            return Err(ConfigError::new("page_size", "must be between 1 and 1000"));
        }
        if opts.timeout.is_zero() {
            return Err(ConfigError::new("timeout", "must be longer than zero"));
        }
        let mut seen = std::collections::HashSet::new();
        for id in &opts.location_ids {
            if id.trim().is_empty() || id.trim() != id {
                return Err(ConfigError::new(
                    "location_ids",
                    format!("{id:?} is not a Square location id"),
                ));
            }
            if !seen.insert(id) {
                return Err(ConfigError::new(
                    "location_ids",
                    format!("{id:?} is listed twice"),
                ));
            }
        }
        if let Some(url) = &opts.webhook_url {
            let ok = reqwest::Url::parse(url)
                .map(|u| matches!(u.scheme(), "http" | "https") && u.host().is_some())
                .unwrap_or(false);
            if !ok {
                return Err(ConfigError::new(
                    "webhook_url",
                    format!("{url:?} is not an absolute http(s) URL"),
                ));
            }
        }
        Ok(opts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key_of(options: serde_json::Value) -> String {
        SquareOptions::from_json(&options).unwrap_err().key
    }

    #[test]
    fn defaults_apply_and_bad_keys_are_named() {
        let o = SquareOptions::from_json(&serde_json::Value::Null).unwrap();
        assert_eq!(o.square_version, DEFAULT_SQUARE_VERSION);
        assert_eq!(o.page_size, 100);
        assert!(o.location_ids.is_empty());
        assert_eq!(key_of(json!({"api_version": "2025-08-20"})), "api_version");
        assert_eq!(
            key_of(json!({"square_version": "2025-8-20"})),
            "square_version"
        );
        assert_eq!(
            key_of(json!({"square_version": "latest"})),
            "square_version"
        );
        assert_eq!(key_of(json!({"page_size": 0})), "page_size");
        assert_eq!(key_of(json!({"page_size": "ten"})), "page_size");
        assert_eq!(key_of(json!({"location_ids": "L1"})), "location_ids");
        assert_eq!(key_of(json!({"page_size": 1001})), "page_size");
        assert_eq!(key_of(json!({"timeout": "soon"})), "timeout");
        assert_eq!(key_of(json!({"overlap": "-1s"})), "overlap");
        assert_eq!(key_of(json!({"location_ids": ["A", "A"]})), "location_ids");
        assert_eq!(key_of(json!({"location_ids": [""]})), "location_ids");
        assert_eq!(
            key_of(json!({"webhook_url": "/webhooks/sq"})),
            "webhook_url"
        );
        let o = SquareOptions::from_json(&json!({
            "square_version": "2024-01-18", "location_ids": ["L1", "L2"],
            "webhook_url": "https://chansync.example.com/webhooks/square",
            "page_size": 500, "timeout": "10s", "overlap": "0s"
        }))
        .unwrap();
        assert_eq!(o.location_ids, ["L1", "L2"]);
        assert_eq!(o.overlap, Duration::ZERO);
        assert_eq!(o.timeout, Duration::from_secs(10));
    }
}

//! The Odoo-specific keys of a `[[connector]]` table and their checks; the
//! factory turns a bad key into a `ConfigError` naming it, so the daemon can
//! point at the line.

use std::time::Duration;

use chansync_sdk::ConfigError;
use serde::Deserialize;

/// Which Odoo API the connector speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// `POST /jsonrpc` with `common.authenticate` then `object.execute_kw`
    /// (Odoo 16–18; deprecated in 19, removal planned for 22).
    JsonRpc,
    /// `POST /json/2/<model>/<method>` with a bearer API key (Odoo 19+).
    Json2,
    /// JSON-2 when the server answers it, JSON-RPC otherwise (decided on the
    /// first call and kept).
    #[default]
    Auto,
}

/// A warehouse named in `warehouses`: its short code (`"WH"`) or its id.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum WarehouseRef {
    Id(i64),
    Code(String),
}

impl std::fmt::Display for WarehouseRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WarehouseRef::Id(id) => write!(f, "id {id}"),
            WarehouseRef::Code(code) => write!(f, "{code:?}"),
        }
    }
}

/// The Odoo-specific keys of a `[[connector]]` table. The API key is the
/// connector's `access_token`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OdooOptions {
    /// The Odoo database (`X-Odoo-Database` for JSON-2, `db` for JSON-RPC).
    pub database: String,
    /// The API user's login; JSON-RPC authenticates with it (JSON-2 needs
    /// only the key). Required unless `protocol = "json2"`.
    #[serde(default)]
    pub login: Option<String>,
    /// `"jsonrpc"`, `"json2"` or `"auto"` (default).
    #[serde(default)]
    pub protocol: Protocol,
    /// Warehouses whose stock is read, by code or id; empty reads them all.
    #[serde(default)]
    pub warehouses: Vec<WarehouseRef>,
    /// The company to work in, for multi-company databases: warehouses,
    /// pricelists and new sale orders are limited to it.
    #[serde(default)]
    pub company_id: Option<i64>,
    /// Per-request timeout, e.g. `"30s"`.
    #[serde(default = "default_timeout", with = "duration_str")]
    pub timeout: Duration,
    /// Records per `search_read` page.
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// How old a delivery's `write_date` must be before it is read, e.g.
    /// `"10s"`. Odoo stamps `write_date` with the time its transaction
    /// began, so a long transaction can commit a record older than one
    /// already read; waiting this long keeps the cursor from passing it.
    #[serde(default = "default_shipment_lag", with = "duration_str")]
    pub shipment_lag: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(30)
}
fn default_page_size() -> u32 {
    200
}
fn default_shipment_lag() -> Duration {
    Duration::from_secs(10)
}

mod duration_str {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        chansync_sdk::http::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// The most records one page may ask for.
const MAX_PAGE_SIZE: u32 = 5000;

impl OdooOptions {
    /// Reads and checks the options of one connector table.
    pub fn from_value(options: &serde_json::Value) -> Result<Self, ConfigError> {
        let empty = serde_json::json!({});
        let v = if options.is_null() { &empty } else { options };
        let opts: OdooOptions = serde_path_to_error::deserialize(v).map_err(|e| {
            let path = e.path().to_string();
            let message = e.inner().to_string();
            let key = if path == "." || path.is_empty() {
                named_key(&message)
            } else {
                path
            };
            ConfigError::new(key, message)
        })?;
        opts.check()?;
        Ok(opts)
    }

    fn check(&self) -> Result<(), ConfigError> {
        if self.database.trim().is_empty() {
            return Err(ConfigError::new("database", "must name the Odoo database"));
        }
        let login_blank = self.login.as_deref().is_none_or(|l| l.trim().is_empty());
        if self.protocol != Protocol::Json2 && login_blank {
            return Err(ConfigError::new(
                "login",
                "JSON-RPC authenticates with the API user's login; set it, or protocol = \"json2\" on Odoo 19+",
            ));
        }
        for (i, w) in self.warehouses.iter().enumerate() {
            let ok = match w {
                WarehouseRef::Id(id) => *id > 0,
                WarehouseRef::Code(code) => !code.trim().is_empty(),
            };
            if !ok {
                return Err(ConfigError::new(
                    format!("warehouses[{i}]"),
                    "a warehouse is a code such as \"WH\" or a positive id",
                ));
            }
        }
        if self.company_id.is_some_and(|c| c <= 0) {
            return Err(ConfigError::new("company_id", "must be a positive id"));
        }
        if self.page_size == 0 || self.page_size > MAX_PAGE_SIZE {
            return Err(ConfigError::new(
                "page_size",
                format!("must be between 1 and {MAX_PAGE_SIZE}"),
            ));
        }
        if self.timeout.is_zero() {
            return Err(ConfigError::new("timeout", "must be longer than zero"));
        }
        Ok(())
    }
}

/// The key a serde message names in backticks (`missing field `database``).
fn named_key(message: &str) -> String {
    message
        .split('`')
        .nth(1)
        .filter(|k| !k.contains(' '))
        .unwrap_or("")
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn key_of(v: serde_json::Value) -> String {
        OdooOptions::from_value(&v).unwrap_err().key
    }

    #[test]
    fn defaults_and_full_options_parse() {
        let o = OdooOptions::from_value(&json!({"database": "db", "login": "api"})).unwrap();
        assert_eq!(o.protocol, Protocol::Auto);
        assert_eq!(o.page_size, 200);
        assert_eq!(o.timeout, Duration::from_secs(30));
        assert_eq!(o.shipment_lag, Duration::from_secs(10));
        assert!(o.warehouses.is_empty());
        let o = OdooOptions::from_value(&json!({
            "database": "db", "protocol": "json2", "warehouses": ["WH", 3],
            "company_id": 2, "timeout": "5s", "page_size": 50, "shipment_lag": "0s",
        }))
        .unwrap();
        assert_eq!(o.protocol, Protocol::Json2);
        assert_eq!(
            o.warehouses,
            [WarehouseRef::Code("WH".into()), WarehouseRef::Id(3)]
        );
        assert_eq!(o.shipment_lag, Duration::ZERO);
    }

    #[test]
    fn each_bad_key_is_named() {
        for (options, key) in [
            (json!({}), "database"),
            (json!({"database": " ", "login": "a"}), "database"),
            (json!({"database": "db"}), "login"),
            (
                json!({"database": "db", "protocol": "jsonrpc", "login": ""}),
                "login",
            ),
            (
                json!({"database": "db", "login": "a", "protocol": "xmlrpc"}),
                "protocol",
            ),
            (
                json!({"database": "db", "login": "a", "page_size": 0}),
                "page_size",
            ),
            (
                json!({"database": "db", "login": "a", "timeout": "soon"}),
                "timeout",
            ),
            (
                json!({"database": "db", "login": "a", "warehouses": ["WH", ""]}),
                "warehouses[1]",
            ),
            (
                json!({"database": "db", "login": "a", "warehouses": [true]}),
                "warehouses[0]",
            ),
            (
                json!({"database": "db", "login": "a", "company_id": 0}),
                "company_id",
            ),
            (
                json!({"database": "db", "login": "a", "colour": "red"}),
                "colour",
            ),
        ] {
            assert_eq!(key_of(options.clone()), key, "{options}");
        }
    }

    #[test]
    fn json2_needs_no_login() {
        assert!(OdooOptions::from_value(&json!({"database": "db", "protocol": "json2"})).is_ok());
    }
}

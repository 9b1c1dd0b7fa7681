//! The TOML config file: parsed with `deny_unknown_fields`, validated, and
//! resolved (secrets read from the environment or files). Every error names
//! the file, the line and the key, and never the value of a secret.

mod locate;
mod secret;

use std::collections::HashSet;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::store::{Backend, StoreOptions};
use chansync_sdk::http::{parse_duration, RateLimit};
use chansync_sdk::SecretString;
use serde::Deserialize;

pub use secret::SecretSpec;

/// The default config path when neither `--config` nor `$CHANSYNC_CONFIG` is set.
pub const DEFAULT_PATH: &str = "/etc/chansync/chansync.toml";

/// A config error: where it is and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    pub file: PathBuf,
    pub line: Option<usize>,
    /// The dotted key path, e.g. `connector[0].poll.every`; empty for the file.
    pub key: String,
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if !self.key.is_empty() {
            write!(f, ": {}", self.key)?;
        }
        // One line: parsers' multi-line messages (with a caret under the
        // column) are folded, the caret lines dropped.
        let folded: Vec<&str> = self
            .message
            .lines()
            .map(str::trim)
            .filter(|l| {
                !l.is_empty() && !l.chars().all(|c| c == '^' || c == '|' || c.is_whitespace())
            })
            .collect();
        write!(f, ": {}", folded.join("; "))
    }
}

impl std::error::Error for ConfigError {}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    store: RawStore,
    #[serde(default)]
    server: RawServer,
    #[serde(default)]
    log: LogConfig,
    #[serde(default, rename = "connector")]
    connectors: Vec<RawConnector>,
    #[serde(default, rename = "location")]
    locations: Vec<Location>,
    #[serde(default)]
    routing: RoutingConfig,
    #[serde(default, rename = "sku")]
    skus: Vec<SkuMapping>,
    #[serde(default)]
    outbox: RawOutbox,
}

/// `[routing]`: how an order picks the location(s) it ships from.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingConfig {
    /// Ship from several locations when no single one has every line.
    #[serde(default)]
    pub allow_split: bool,
    /// Per-connector overrides, first match wins.
    #[serde(default, rename = "rule")]
    pub rules: Vec<RoutingRule>,
}

/// `[[routing.rule]]`: what orders of one connector do differently.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoutingRule {
    pub connector: String,
    /// `route` (default) or `record`: keep the order, reserve nothing.
    #[serde(default)]
    pub action: RuleAction,
    /// Only these locations, in their priority order (default: all).
    #[serde(default)]
    pub locations: Vec<String>,
    /// Overrides `[routing] allow_split` for this connector.
    #[serde(default)]
    pub allow_split: Option<bool>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    #[default]
    Route,
    Record,
}

/// `[[sku]]`: a channel SKU of one connector is a master SKU times a
/// quantity; several rows with one channel SKU make a bundle.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct SkuMapping {
    pub connector: String,
    pub channel_sku: String,
    pub master_sku: String,
    #[serde(default = "one")]
    pub quantity: i64,
}

fn one() -> i64 {
    1
}

/// `stock = { ... }` in a `[[connector]]`: what the channel is shown.
/// published = max(0, floor(available × share) − buffer), at most `cap`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StockPolicy {
    /// Push stock levels to this channel (if the connector can).
    #[serde(default = "yes")]
    pub publish: bool,
    /// The share of available stock offered, 0.0 to 1.0.
    #[serde(default = "full_share")]
    pub share: rust_decimal::Decimal,
    /// Units held back from this channel.
    #[serde(default)]
    pub buffer: i64,
    /// The most ever published.
    #[serde(default)]
    pub cap: Option<i64>,
    /// Only stock at these locations counts (default: all).
    #[serde(default)]
    pub locations: Vec<String>,
}

fn yes() -> bool {
    true
}
fn full_share() -> rust_decimal::Decimal {
    rust_decimal::Decimal::ONE
}

impl Default for StockPolicy {
    fn default() -> Self {
        StockPolicy {
            publish: true,
            share: full_share(),
            buffer: 0,
            cap: None,
            locations: Vec::new(),
        }
    }
}

/// `[outbox]`: how pushes to channels are retried.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawOutbox {
    #[serde(default = "default_max_attempts")]
    max_attempts: u32,
    #[serde(default = "default_first_retry")]
    first_retry: String,
    #[serde(default = "default_max_retry")]
    max_retry: String,
}

impl Default for RawOutbox {
    fn default() -> Self {
        RawOutbox {
            max_attempts: default_max_attempts(),
            first_retry: default_first_retry(),
            max_retry: default_max_retry(),
        }
    }
}

fn default_max_attempts() -> u32 {
    10
}
fn default_first_retry() -> String {
    "1s".into()
}
fn default_max_retry() -> String {
    "5m".into()
}

/// Retry policy of the outbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutboxConfig {
    /// Attempts before a row is dead-lettered.
    pub max_attempts: u32,
    /// Delay before the first retry; doubles up to `max_retry`, with jitter.
    pub first_retry: Duration,
    pub max_retry: Duration,
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            max_attempts: 10,
            first_retry: Duration::from_secs(1),
            max_retry: Duration::from_secs(300),
        }
    }
}

/// `[store]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStore {
    /// `sqlite:///path/to/file.db` or `postgres://user@host:5432/db`.
    url: String,
    /// SQLite durability: `full` (default; survives power loss) or `normal`
    /// (survives a crash of chansync, not of the machine; faster).
    synchronous: Option<Synchronous>,
    /// PostgreSQL: connections this process opens at most (default 10);
    /// SQLite: concurrent readers.
    max_connections: Option<u32>,
    /// How long a statement waits for a free connection (default "10s").
    acquire_timeout: Option<String>,
    /// How long a connector's lease lasts unrenewed (default "15s").
    lease_ttl: Option<String>,
}

/// SQLite's `synchronous` setting.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Synchronous {
    #[default]
    Full,
    Normal,
}

/// `[server]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawServer {
    /// Address of the HTTP listener (webhooks, health, metrics, admin API).
    #[serde(default = "default_listen")]
    listen: String,
    /// Bearer token for `/api/*`.
    #[serde(default)]
    admin_token: Option<SecretSpec>,
    /// Largest webhook body accepted, in bytes.
    #[serde(default = "default_max_body")]
    max_body_bytes: usize,
    /// Time a client has to send a request's headers, and then its body.
    #[serde(default = "default_read_timeout")]
    read_timeout: String,
}

impl Default for RawServer {
    fn default() -> Self {
        RawServer {
            listen: default_listen(),
            admin_token: None,
            max_body_bytes: default_max_body(),
            read_timeout: default_read_timeout(),
        }
    }
}

fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_read_timeout() -> String {
    "10s".into()
}
fn default_max_body() -> usize {
    chansync_sdk::webhook::DEFAULT_MAX_BODY
}

/// `[log]`
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogConfig {
    /// `human` (default) or `json`.
    #[serde(default)]
    pub format: LogFormat,
    /// A tracing filter such as `info` or `chansync=debug,info`.
    #[serde(default = "default_level")]
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Human,
            level: default_level(),
        }
    }
}

fn default_level() -> String {
    "info".into()
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Human,
    Json,
}

/// `[[location]]`: a place stock is kept and orders ship from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Location {
    pub name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// Lower ships first.
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub lat: Option<f64>,
    #[serde(default)]
    pub long: Option<f64>,
    /// ISO 3166-1 alpha-2 countries it ships to; empty: everywhere.
    #[serde(default)]
    pub ships_to: Vec<String>,
    /// Where on hand comes from, when a connector is its source of truth
    /// (an ERP warehouse, a POS store); otherwise `stock set` and the API.
    #[serde(default)]
    pub source: Option<StockSourceRef>,
}

/// `source = { connector = "square-pos", location = "L8K2..." }`: on hand at
/// this location is what that connector reports for its location (any of its
/// locations when `location` is omitted).
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StockSourceRef {
    pub connector: String,
    #[serde(default)]
    pub location: Option<String>,
}

/// `[[connector]]` before validation; kind-specific keys land in `options`.
#[derive(Debug, Deserialize)]
struct RawConnector {
    name: String,
    kind: String,
    base_url: String,
    #[serde(default)]
    poll: Option<RawPoll>,
    #[serde(default)]
    webhook_secret: Option<SecretSpec>,
    #[serde(default)]
    access_token: Option<SecretSpec>,
    #[serde(default)]
    rate_limit: Option<RateLimit>,
    #[serde(default)]
    stock: Option<StockPolicy>,
    #[serde(flatten)]
    options: toml::Table,
}

/// `poll = { every = "2m" }` or `poll = { cron = "0 */5 * * * *" }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPoll {
    every: Option<String>,
    cron: Option<String>,
}

/// When a connector polls.
#[derive(Debug, Clone)]
pub enum PollSchedule {
    Every(Duration),
    Cron(Box<cron::Schedule>),
}

impl PollSchedule {
    /// How long from now until the next poll.
    pub fn next_delay(&self) -> Duration {
        match self {
            PollSchedule::Every(d) => *d,
            PollSchedule::Cron(s) => s
                .upcoming(chrono::Utc)
                .next()
                .and_then(|t| (t - chrono::Utc::now()).to_std().ok())
                .unwrap_or(Duration::from_secs(60)),
        }
    }

    /// The usual time between two polls (for a cron schedule, between its
    /// next two times): what "late" is measured against.
    pub fn interval(&self) -> Duration {
        match self {
            PollSchedule::Every(d) => *d,
            PollSchedule::Cron(s) => {
                let mut next = s.upcoming(chrono::Utc);
                match (next.next(), next.next()) {
                    (Some(a), Some(b)) => (b - a).to_std().unwrap_or(Duration::from_secs(60)),
                    _ => Duration::from_secs(60),
                }
            }
        }
    }
}

impl fmt::Display for PollSchedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PollSchedule::Every(d) => write!(f, "every {}", humantime::format_duration(*d)),
            PollSchedule::Cron(s) => write!(f, "cron {s}"),
        }
    }
}

/// A validated connector instance.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    pub name: String,
    pub kind: String,
    pub poll: Option<PollSchedule>,
    pub context: chansync_sdk::ConnectorContext,
    pub stock: StockPolicy,
    /// What the connector can do, as built from this config.
    pub capabilities: Vec<chansync_sdk::Capability>,
}

impl ConnectorConfig {
    /// A digest of everything that shapes the built connector, secrets
    /// included (as a digest only): a reload rebuilds the connector when it
    /// changes.
    pub fn fingerprint(&self) -> String {
        use chansync_sdk::ExposeSecret;
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(format!("{self:?}").as_bytes());
        let ctx = &self.context;
        for s in [&ctx.access_token, &ctx.webhook_secret]
            .into_iter()
            .flatten()
        {
            h.update([0]);
            h.update(s.expose_secret().as_bytes());
        }
        for (k, s) in &ctx.secrets {
            h.update([1]);
            h.update(k.as_bytes());
            h.update([0]);
            h.update(s.expose_secret().as_bytes());
        }
        hex::encode(h.finalize())
    }
}

/// The config file's text, or an error naming the file.
fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError {
        file: path.to_owned(),
        line: None,
        key: String::new(),
        message: format!("cannot read the config file: {e}"),
    })
}

/// Whether loading reads the secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Secrets {
    Resolve,
    /// Store-only commands: a secret that cannot be read is a placeholder.
    LeaveUnresolved,
}

/// The validated, resolved config.
#[derive(Debug, Clone)]
pub struct Config {
    pub path: PathBuf,
    /// `[store]`.
    pub store: StoreOptions,
    pub listen: SocketAddr,
    pub admin_token: Option<SecretString>,
    pub max_body_bytes: usize,
    /// `[server] read_timeout`.
    pub read_timeout: Duration,
    pub log: LogConfig,
    pub connectors: Vec<ConnectorConfig>,
    pub locations: Vec<Location>,
    pub routing: RoutingConfig,
    pub skus: Vec<SkuMapping>,
    pub outbox: OutboxConfig,
}

impl Config {
    /// A digest of what replicas sharing a store must agree on: the
    /// connectors (secrets as digests only), locations, routing, SKU
    /// mappings and outbox policy. Replicas compare theirs and warn when
    /// they differ.
    pub fn fingerprint(&self) -> String {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        for c in &self.connectors {
            h.update(c.fingerprint().as_bytes());
        }
        h.update(
            format!(
                "{:?}{:?}{:?}{:?}",
                self.locations, self.routing, self.skus, self.outbox
            )
            .as_bytes(),
        );
        hex::encode(h.finalize())
    }

    /// Reads, parses and validates the config file at `path`.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        Config::parse(path, &read(path)?)
    }

    /// Reads the config for a command that works on the store alone
    /// (`orders`, `stock`, `skus`, `outbox`, `connectors`, `migrate`): it
    /// talks to no channel, so a secret it cannot read (the service's env
    /// file not loaded in a sysadmin's shell) is left unresolved, not an
    /// error. Everything else is validated as [`Config::load`] does.
    pub fn load_for_store(path: &Path) -> Result<Config, ConfigError> {
        Config::parse_with(path, &read(path)?, Secrets::LeaveUnresolved)
    }

    /// Parses and validates config text; `path` is named in errors.
    pub fn parse(path: &Path, text: &str) -> Result<Config, ConfigError> {
        Config::parse_with(path, text, Secrets::Resolve)
    }

    fn parse_with(path: &Path, text: &str, secrets_mode: Secrets) -> Result<Config, ConfigError> {
        let resolve = |spec: &SecretSpec| match spec.resolve(path) {
            Err(_) if secrets_mode == Secrets::LeaveUnresolved => {
                Ok(SecretString::from("unresolved secret"))
            }
            other => other,
        };
        let err = |key: String, message: String| {
            let line = locate::line_of(text, &key);
            ConfigError {
                file: path.to_owned(),
                line,
                key,
                message,
            }
        };
        let de = toml::Deserializer::new(text);
        let raw: RawConfig = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let line = inner
                .span()
                .map(|s| locate::line_at(text, s.start))
                .or_else(|| locate::line_of(text, &key));
            let key = if key == "." { String::new() } else { key };
            ConfigError {
                file: path.to_owned(),
                line,
                key,
                message: inner.message().to_owned(),
            }
        })?;

        let store = {
            let url = raw.store.url.trim().to_owned();
            let Some(backend) = Backend::of(&url) else {
                return Err(err(
                    "store.url".into(),
                    format!(
                        "{:?} is not a supported store URL; use sqlite:///path/to/chansync.db or postgres://user@host/database",
                        crate::store::redact_url(&url)
                    ),
                ));
            };
            let mut store = StoreOptions::new(url);
            if let Some(s) = raw.store.synchronous {
                if backend == Backend::Postgres {
                    return Err(err(
                        "store.synchronous".into(),
                        "applies to SQLite only; PostgreSQL's durability is the server's synchronous_commit".into(),
                    ));
                }
                store.synchronous = s;
            }
            if let Some(n) = raw.store.max_connections {
                if n == 0 {
                    return Err(err(
                        "store.max_connections".into(),
                        "must be at least 1".into(),
                    ));
                }
                store.max_connections = n;
            }
            if let Some(t) = &raw.store.acquire_timeout {
                store.acquire_timeout =
                    parse_duration(t).map_err(|m| err("store.acquire_timeout".into(), m))?;
            }
            if let Some(t) = &raw.store.lease_ttl {
                let ttl = parse_duration(t).map_err(|m| err("store.lease_ttl".into(), m))?;
                if ttl < StoreOptions::MIN_LEASE_TTL {
                    return Err(err(
                        "store.lease_ttl".into(),
                        format!("must be at least {:?}", StoreOptions::MIN_LEASE_TTL),
                    ));
                }
                store.lease_ttl = ttl;
            }
            store
        };
        let listen = SocketAddr::from_str(raw.server.listen.trim()).map_err(|e| {
            err(
                "server.listen".into(),
                format!(
                    "{:?} is not an address like 127.0.0.1:8080: {e}",
                    raw.server.listen
                ),
            )
        })?;
        let admin_token = raw
            .server
            .admin_token
            .map(|s| resolve(&s))
            .transpose()
            .map_err(|m| err("server.admin_token".into(), m))?;
        if admin_token.is_none() && !listen.ip().is_loopback() {
            return Err(err(
                "server.listen".into(),
                format!(
                    "{listen} is reachable from other machines, so [server] admin_token \
                     must be set; or listen on 127.0.0.1 behind a proxy"
                ),
            ));
        }
        if raw.server.max_body_bytes < 1024 {
            return Err(err(
                "server.max_body_bytes".into(),
                "must be at least 1024".into(),
            ));
        }
        let read_timeout =
            humantime::parse_duration(raw.server.read_timeout.trim()).map_err(|e| {
                err(
                    "server.read_timeout".into(),
                    format!(
                        "{:?} is not a duration like \"10s\": {e}",
                        raw.server.read_timeout
                    ),
                )
            })?;
        if read_timeout < Duration::from_millis(100) || read_timeout > Duration::from_secs(600) {
            return Err(err(
                "server.read_timeout".into(),
                "must be between 100ms and 10m".into(),
            ));
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&raw.log.level) {
            return Err(err(
                "log.level".into(),
                format!("{:?} is not a log filter: {e}", raw.log.level),
            ));
        }

        let mut names = HashSet::new();
        let mut connectors = Vec::new();
        for (i, c) in raw.connectors.into_iter().enumerate() {
            let at = |k: &str| format!("connector[{i}].{k}");
            if c.name.is_empty()
                || !c
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(err(
                    at("name"),
                    format!(
                        "{:?} must be letters, digits, '-' or '_' (it is used in URLs)",
                        c.name
                    ),
                ));
            }
            if !names.insert(c.name.clone()) {
                return Err(err(
                    at("name"),
                    format!("{:?} is used by another connector", c.name),
                ));
            }
            if !crate::registry::kinds().contains(&c.kind.as_str()) {
                return Err(err(
                    at("kind"),
                    format!(
                        "unknown connector kind {:?}; this build has: {}",
                        c.kind,
                        crate::registry::kinds().join(", ")
                    ),
                ));
            }
            let base = c.base_url.trim();
            if !(base.starts_with("http://") || base.starts_with("https://"))
                || reqwest::Url::parse(base).is_err()
            {
                return Err(err(
                    at("base_url"),
                    format!("{base:?} is not an http(s) URL"),
                ));
            }
            let poll = match c.poll {
                None => None,
                Some(RawPoll {
                    every: Some(e),
                    cron: None,
                }) => {
                    let d = parse_duration(&e).map_err(|m| err(at("poll.every"), m))?;
                    if d < Duration::from_secs(1) {
                        return Err(err(at("poll.every"), "must be at least 1s".into()));
                    }
                    Some(PollSchedule::Every(d))
                }
                Some(RawPoll {
                    every: None,
                    cron: Some(expr),
                }) => {
                    let s = cron::Schedule::from_str(&expr).map_err(|e| {
                        err(at("poll.cron"), format!("{expr:?} is not a cron expression (sec min hour day month weekday): {e}"))
                    })?;
                    Some(PollSchedule::Cron(Box::new(s)))
                }
                Some(_) => {
                    return Err(err(
                        at("poll"),
                        "give exactly one of `every` or `cron`".into(),
                    ))
                }
            };
            if let Some(rl) = &c.rate_limit {
                if !(rl.per_second.is_finite() && rl.per_second > 0.0) || rl.burst == 0 {
                    return Err(err(
                        at("rate_limit"),
                        "per_second must be above 0 and burst at least 1".into(),
                    ));
                }
            }
            let webhook_secret = c
                .webhook_secret
                .map(|s| resolve(&s))
                .transpose()
                .map_err(|m| err(at("webhook_secret"), m))?;
            let access_token = c
                .access_token
                .map(|s| resolve(&s))
                .transpose()
                .map_err(|m| err(at("access_token"), m))?;
            // Kind-specific secrets: `{ env = .. }` / `{ file = .. }` tables.
            let mut plain = c.options.clone();
            let mut secrets = std::collections::BTreeMap::new();
            for (key, value) in &c.options {
                let Some(t) = value.as_table() else { continue };
                let is_secret = t.len() == 1 && (t.contains_key("env") || t.contains_key("file"));
                if !is_secret {
                    continue;
                }
                let spec: SecretSpec = value
                    .clone()
                    .try_into()
                    .map_err(|e: toml::de::Error| err(at(key), e.message().to_owned()))?;
                secrets.insert(key.clone(), resolve(&spec).map_err(|m| err(at(key), m))?);
                plain.remove(key);
            }
            let options = serde_json::to_value(&plain).map_err(|e| err(at(""), e.to_string()))?;
            let context = chansync_sdk::ConnectorContext {
                name: c.name.clone(),
                base_url: base.to_owned(),
                access_token,
                webhook_secret,
                rate_limit: c.rate_limit,
                options,
                secrets,
            };
            // Let the connector check its own keys now, so a bad value is a config error.
            let built = crate::registry::build(&c.kind, context.clone()).map_err(|e| {
                let key = if e.key.is_empty() {
                    format!("connector[{i}]")
                } else {
                    at(&e.key)
                };
                err(key, e.message)
            })?;
            let stock = c.stock.unwrap_or_default();
            if stock.share < rust_decimal::Decimal::ZERO || stock.share > rust_decimal::Decimal::ONE
            {
                return Err(err(
                    at("stock.share"),
                    format!("{} is not between 0 and 1", stock.share),
                ));
            }
            if stock.buffer < 0 {
                return Err(err(at("stock.buffer"), "must not be negative".into()));
            }
            if stock.cap.is_some_and(|c| c < 0) {
                return Err(err(at("stock.cap"), "must not be negative".into()));
            }
            connectors.push(ConnectorConfig {
                name: c.name,
                kind: c.kind,
                poll,
                context,
                stock,
                capabilities: built.capabilities(),
            });
        }

        let mut location_names = HashSet::new();
        for (i, l) in raw.locations.iter().enumerate() {
            if !location_names.insert(l.name.clone()) {
                return Err(err(
                    format!("location[{i}].name"),
                    format!("{:?} is used by another location", l.name),
                ));
            }
            if l.country
                .parse::<chansync_sdk::model::CountryCode>()
                .is_err()
            {
                return Err(err(
                    format!("location[{i}].country"),
                    format!("{:?} is not an ISO 3166-1 alpha-2 code", l.country),
                ));
            }
        }

        for (i, l) in raw.locations.iter().enumerate() {
            for (j, c) in l.ships_to.iter().enumerate() {
                if c.parse::<chansync_sdk::model::CountryCode>().is_err() {
                    return Err(err(
                        format!("location[{i}].ships_to[{j}]"),
                        format!("{c:?} is not an ISO 3166-1 alpha-2 code"),
                    ));
                }
            }
        }
        for (i, l) in raw.locations.iter().enumerate() {
            if let Some(src) = &l.source {
                if !names.contains(&src.connector) {
                    return Err(err(
                        format!("location[{i}].source.connector"),
                        format!("no [[connector]] named {:?}", src.connector),
                    ));
                }
            }
        }
        for (i, c) in connectors.iter().enumerate() {
            for (j, l) in c.stock.locations.iter().enumerate() {
                if !location_names.contains(l) {
                    return Err(err(
                        format!("connector[{i}].stock.locations[{j}]"),
                        format!("no [[location]] named {l:?}"),
                    ));
                }
            }
        }
        for (i, r) in raw.routing.rules.iter().enumerate() {
            if !names.contains(&r.connector) {
                return Err(err(
                    format!("routing.rule[{i}].connector"),
                    format!("no [[connector]] named {:?}", r.connector),
                ));
            }
            for (j, l) in r.locations.iter().enumerate() {
                if !location_names.contains(l) {
                    return Err(err(
                        format!("routing.rule[{i}].locations[{j}]"),
                        format!("no [[location]] named {l:?}"),
                    ));
                }
            }
        }
        for (i, s) in raw.skus.iter().enumerate() {
            if !names.contains(&s.connector) {
                return Err(err(
                    format!("sku[{i}].connector"),
                    format!("no [[connector]] named {:?}", s.connector),
                ));
            }
            if s.channel_sku.trim().is_empty() || s.master_sku.trim().is_empty() {
                return Err(err(
                    format!("sku[{i}]"),
                    "channel_sku and master_sku must not be empty".into(),
                ));
            }
            if s.quantity < 1 {
                return Err(err(
                    format!("sku[{i}].quantity"),
                    "must be at least 1".into(),
                ));
            }
        }
        let retry =
            |key: &str, v: &str| parse_duration(v).map_err(|m| err(format!("outbox.{key}"), m));
        let outbox = OutboxConfig {
            max_attempts: raw.outbox.max_attempts.max(1),
            first_retry: retry("first_retry", &raw.outbox.first_retry)?,
            max_retry: retry("max_retry", &raw.outbox.max_retry)?,
        };

        Ok(Config {
            path: path.to_owned(),
            store,
            listen,
            admin_token,
            max_body_bytes: raw.server.max_body_bytes,
            read_timeout,
            log: raw.log,
            connectors,
            locations: raw.locations,
            routing: raw.routing,
            skus: raw.skus,
            outbox,
        })
    }

    /// The config path from `--config`, else `$CHANSYNC_CONFIG`, else the default.
    pub fn resolve_path(flag: Option<&Path>) -> PathBuf {
        flag.map(Path::to_owned)
            .or_else(|| std::env::var_os("CHANSYNC_CONFIG").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_PATH))
    }
}

#[cfg(test)]
mod tests;

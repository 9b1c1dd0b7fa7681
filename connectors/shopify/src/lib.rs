//! The Shopify connector: polls orders from the GraphQL Admin API with
//! cost-based throttling, verifies and parses `orders/*` webhooks, maps both
//! shapes to the canonical order, and pushes stock levels, fulfilments and
//! cancellations back. `sim` is the channel's simulator.

pub mod cancel;
pub mod client;
mod estimate;
pub mod fulfillment;
pub mod graphql;
pub mod normalize;
pub mod rest;
pub mod sim;
pub mod stock;
pub mod webhook;

use std::sync::atomic::AtomicU32;
use std::time::Duration;

use chansync_sdk::http::{HttpClient, RateLimit, RateLimitState, RetryPolicy};
use chansync_sdk::{
    async_trait, CancelRequest, ConfigError, Connector, ConnectorContext, ConnectorError,
    ConnectorFactory, FulfillmentPush, FulfillmentRequest, OrderCancel, OrderPage, OrderSource,
    SecretString, StockLevel, StockPush, StockRejection, WebhookDelivery, WebhookError,
    WebhookReceiver, WebhookRequest,
};
use serde::Deserialize;

use crate::client::GraphqlClient;
use crate::stock::{StockCache, StockPusher};

/// The config `kind` of this connector.
pub const KIND: &str = "shopify";

/// Shopify meters GraphQL by query cost, not request count; this cap only
/// keeps a runaway loop polite.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    per_second: 20.0,
    burst: 40,
};

/// The Shopify-specific keys of a `[[connector]]` table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShopifyOptions {
    /// Admin API version, e.g. `2026-07`.
    #[serde(default = "default_api_version")]
    pub api_version: String,
    /// Orders per GraphQL page (halved automatically if Shopify says a query costs too much).
    #[serde(default = "default_page_size")]
    pub page_size: u32,
    /// Line items fetched with each order; further ones are paged per order.
    #[serde(default = "default_lines_per_page")]
    pub line_items_per_page: u32,
    /// How far behind the newest seen update each sweep restarts, e.g. `"2s"`.
    #[serde(default = "default_overlap", with = "humantime_serde_str")]
    pub overlap: Duration,
    /// Per-request timeout, e.g. `"30s"`.
    #[serde(default = "default_timeout", with = "humantime_serde_str")]
    pub timeout: Duration,
    /// The Shopify location stock levels are set at (numeric id or
    /// `gid://shopify/Location/…`); default: the shop's primary location.
    #[serde(default)]
    pub location_id: Option<String>,
    /// Whether Shopify emails the customer when chansync reports a shipment.
    #[serde(default)]
    pub notify_customer: bool,
    /// Whether a cancellation chansync pushes refunds the customer's payment
    /// (to the original payment methods).
    #[serde(default = "default_true")]
    pub refund_on_cancel: bool,
}

fn default_true() -> bool {
    true
}

fn default_api_version() -> String {
    graphql::DEFAULT_API_VERSION.to_owned()
}
fn default_page_size() -> u32 {
    10
}
fn default_lines_per_page() -> u32 {
    5
}
fn default_overlap() -> Duration {
    Duration::from_secs(2)
}
fn default_timeout() -> Duration {
    Duration::from_secs(30)
}

mod humantime_serde_str {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let s = String::deserialize(d)?;
        chansync_sdk::http::parse_duration(&s).map_err(serde::de::Error::custom)
    }
}

/// Builds Shopify connectors from config.
pub struct ShopifyFactory;

impl ConnectorFactory for ShopifyFactory {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&self, ctx: ConnectorContext) -> Result<Box<dyn Connector>, ConfigError> {
        Ok(Box::new(Shopify::new(ctx)?))
    }
}

/// A configured Shopify store.
pub struct Shopify {
    client: GraphqlClient,
    webhook_secret: Option<SecretString>,
    /// Stock push and cancellation need API 2026-04 or later.
    push_api: bool,
    /// `location_id` as a gid.
    location: Option<String>,
    notify_customer: bool,
    refund_on_cancel: bool,
    stock: StockCache,
}

impl Shopify {
    pub fn new(ctx: ConnectorContext) -> Result<Self, ConfigError> {
        let opts: ShopifyOptions = if ctx.options.is_null() {
            serde_json::from_value(serde_json::json!({}))
        } else {
            serde_json::from_value(ctx.options.clone())
        }
        .map_err(|e| ConfigError::new(option_key(&e.to_string()), e.to_string()))?;
        let version_ok = opts.api_version.len() == 7
            && opts.api_version.as_bytes()[4] == b'-'
            && opts
                .api_version
                .bytes()
                .enumerate()
                .all(|(i, b)| i == 4 || b.is_ascii_digit());
        if !version_ok {
            return Err(ConfigError::new(
                "api_version",
                format!(
                    "{:?} is not a Shopify API version like \"2026-07\"",
                    opts.api_version
                ),
            ));
        }
        if opts.page_size == 0 || opts.page_size > 250 {
            return Err(ConfigError::new("page_size", "must be between 1 and 250"));
        }
        if opts.line_items_per_page == 0 || opts.line_items_per_page > 250 {
            return Err(ConfigError::new(
                "line_items_per_page",
                "must be between 1 and 250",
            ));
        }
        let location = match opts.location_id.as_deref() {
            None => None,
            Some(l) => Some(stock::location_gid(l).ok_or_else(|| {
                ConfigError::new(
                    "location_id",
                    format!("{l:?} is not a Shopify location id (a number or gid://shopify/Location/<number>)"),
                )
            })?),
        };
        let token = ctx.access_token.clone().ok_or_else(|| {
            ConfigError::new(
                "access_token",
                "a Shopify connector needs an Admin API access token",
            )
        })?;
        let base = ctx.base_url.trim_end_matches('/');
        let http = HttpClient::new(
            &ctx.name,
            ctx.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
            opts.timeout,
            RetryPolicy::default(),
        );
        Ok(Shopify {
            client: GraphqlClient {
                http,
                budget: client::shared_budget(&format!(
                    "{base}/admin/api/{}/graphql.json",
                    opts.api_version
                )),
                url: format!("{base}/admin/api/{}/graphql.json", opts.api_version),
                token,
                page_size: AtomicU32::new(opts.page_size),
                lines_per_page: opts.line_items_per_page,
                overlap: opts.overlap,
                probing: Default::default(),
            },
            webhook_secret: ctx.webhook_secret,
            push_api: opts.api_version.as_str() >= graphql::MIN_PUSH_API_VERSION,
            location,
            notify_customer: opts.notify_customer,
            refund_on_cancel: opts.refund_on_cancel,
            stock: StockCache::default(),
        })
    }
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

impl Connector for Shopify {
    fn kind(&self) -> &'static str {
        KIND
    }
    fn orders(&self) -> Option<&dyn OrderSource> {
        Some(self)
    }
    fn webhooks(&self) -> Option<&dyn WebhookReceiver> {
        Some(self)
    }
    fn stock_push(&self) -> Option<&dyn StockPush> {
        self.push_api.then_some(self as &dyn StockPush)
    }
    fn fulfillment_push(&self) -> Option<&dyn FulfillmentPush> {
        Some(self)
    }
    fn cancel(&self) -> Option<&dyn OrderCancel> {
        self.push_api.then_some(self as &dyn OrderCancel)
    }
    fn rate_limit_state(&self) -> Option<RateLimitState> {
        Some(self.client.http.state())
    }
    fn taken_over(&self, quiet: std::time::Duration) {
        self.client.http.assume_spent(quiet);
        self.client.forget_budget();
    }
    fn cancel_waits(&self) {
        self.client.http.cancel_waits();
    }
}

#[async_trait]
impl OrderSource for Shopify {
    async fn fetch_orders(&self, cursor: Option<&str>) -> Result<OrderPage, ConnectorError> {
        self.client.fetch(cursor).await
    }
}

#[async_trait]
impl StockPush for Shopify {
    fn batch_size(&self) -> usize {
        stock::BATCH_SIZE
    }

    async fn push_stock(
        &self,
        levels: &[StockLevel],
    ) -> Result<Vec<StockRejection>, ConnectorError> {
        StockPusher {
            client: &self.client,
            cache: &self.stock,
            location: self.location.as_deref(),
        }
        .push(levels)
        .await
    }
}

#[async_trait]
impl FulfillmentPush for Shopify {
    async fn push_fulfillment(&self, req: &FulfillmentRequest) -> Result<(), ConnectorError> {
        fulfillment::push(&self.client, self.notify_customer, req).await
    }
}

#[async_trait]
impl OrderCancel for Shopify {
    async fn cancel_order(&self, req: &CancelRequest) -> Result<(), ConnectorError> {
        cancel::push(&self.client, self.refund_on_cancel, req).await
    }
}

impl WebhookReceiver for Shopify {
    fn verify(&self, req: &WebhookRequest<'_>) -> Result<(), WebhookError> {
        webhook::verify(self.webhook_secret.as_ref(), req)
    }
    fn parse(&self, req: &WebhookRequest<'_>) -> Result<WebhookDelivery, WebhookError> {
        webhook::parse(req)
    }
}

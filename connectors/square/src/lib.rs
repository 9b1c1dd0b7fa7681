//! The Square connector: polls orders with SearchOrders, fetches the orders
//! that `order.*` webhooks name (RetrieveOrder), reads `IN_STOCK` counts as a
//! source of truth and sets counts with BatchChangeInventory, and records
//! shipments and cancellations on orders with UpdateOrder. Square names
//! item variations, chansync SKUs: the Catalog API maps between them. `sim`
//! is the channel's simulator.

pub mod catalog;
pub mod client;
pub mod config;
pub mod fulfillment;
pub mod normalize;
pub mod orders;
pub mod sim;
pub mod stock;
pub mod webhook;
pub mod wire;

use std::time::Duration;

use chansync_sdk::http::{HttpClient, RateLimit, RateLimitState, RetryPolicy};
use chansync_sdk::model::ChannelOrder;
use chansync_sdk::{
    async_trait, CancelRequest, ConfigError, Connector, ConnectorContext, ConnectorError,
    ConnectorFactory, FulfillmentPush, FulfillmentRequest, OnHand, OrderCancel, OrderFetch,
    OrderPage, OrderSource, SecretString, StockLevel, StockPush, StockRejection, StockSource,
    WebhookDelivery, WebhookError, WebhookReceiver, WebhookRequest,
};

use crate::client::SquareClient;

pub use crate::catalog::Catalog;
pub use crate::config::{SquareOptions, DEFAULT_SQUARE_VERSION};
pub use crate::orders::PollCursor;

/// The config `kind` of this connector.
pub const KIND: &str = "square";

/// Square publishes no per-endpoint quotas; it answers `429 RATE_LIMITED`
/// when an application goes too fast. A conservative default (the client
/// keeps one token of the burst in reserve below it); the config's
/// `rate_limit` overrides it.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    per_second: 10.0,
    burst: 20,
};

/// Builds Square connectors from config.
pub struct SquareFactory;

impl ConnectorFactory for SquareFactory {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&self, ctx: ConnectorContext) -> Result<Box<dyn Connector>, ConfigError> {
        Ok(Box::new(Square::new(ctx)?))
    }
}

/// A configured Square seller account.
pub struct Square {
    client: SquareClient,
    catalog: Catalog,
    /// The subscription's signature key.
    signature_key: Option<SecretString>,
    /// The notification URL Square signs, if configured.
    webhook_url: Option<String>,
    overlap: Duration,
}

impl std::fmt::Debug for Square {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Square")
            .field("client", &self.client)
            .field(
                "signature_key",
                &self.signature_key.as_ref().map(|_| "[redacted]"),
            )
            .field("webhook_url", &self.webhook_url)
            .finish()
    }
}

impl Square {
    /// Builds an instance, or names the key that is wrong.
    pub fn new(ctx: ConnectorContext) -> Result<Self, ConfigError> {
        let opts = SquareOptions::from_json(&ctx.options)?;
        let token = ctx.access_token.clone().ok_or_else(|| {
            ConfigError::new("access_token", "a Square connector needs an access token")
        })?;
        let base = ctx.base_url.trim();
        let base_ok = reqwest::Url::parse(base)
            .map(|u| matches!(u.scheme(), "http" | "https"))
            .unwrap_or(false);
        if !base_ok {
            return Err(ConfigError::new(
                "base_url",
                format!("{base:?} is not an http(s) URL like \"https://connect.squareup.com\""),
            ));
        }
        let http = HttpClient::new(
            &ctx.name,
            // Paced one token below the bucket Square enforces.
            ctx.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT).with_reserve(),
            opts.timeout,
            RetryPolicy::default(),
        );
        Ok(Square {
            client: SquareClient::new(
                http,
                base,
                token,
                opts.square_version,
                opts.page_size,
                opts.location_ids,
            ),
            catalog: Catalog::default(),
            signature_key: ctx.webhook_secret,
            webhook_url: opts.webhook_url,
            overlap: opts.overlap,
        })
    }

    /// The SKU ↔ variation cache.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }
}

impl Connector for Square {
    fn kind(&self) -> &'static str {
        KIND
    }
    fn orders(&self) -> Option<&dyn OrderSource> {
        Some(self)
    }
    fn webhooks(&self) -> Option<&dyn WebhookReceiver> {
        Some(self)
    }
    fn order_fetch(&self) -> Option<&dyn OrderFetch> {
        Some(self)
    }
    fn stock_push(&self) -> Option<&dyn StockPush> {
        Some(self)
    }
    fn stock_source(&self) -> Option<&dyn StockSource> {
        Some(self)
    }
    fn fulfillment_push(&self) -> Option<&dyn FulfillmentPush> {
        Some(self)
    }
    fn cancel(&self) -> Option<&dyn OrderCancel> {
        Some(self)
    }
    fn rate_limit_state(&self) -> Option<RateLimitState> {
        Some(self.client.http.state())
    }
    fn taken_over(&self, quiet: std::time::Duration) {
        self.client.http.assume_spent(quiet);
    }
    fn cancel_waits(&self) {
        self.client.http.cancel_waits();
    }
}

#[async_trait]
impl OrderSource for Square {
    async fn fetch_orders(&self, cursor: Option<&str>) -> Result<OrderPage, ConnectorError> {
        orders::fetch_page(&self.client, &self.catalog, self.overlap, cursor).await
    }
}

#[async_trait]
impl OrderFetch for Square {
    /// RetrieveOrder: the order an `order.*` notification names.
    async fn fetch_order(&self, external_id: &str) -> Result<ChannelOrder, ConnectorError> {
        orders::fetch_one(&self.client, &self.catalog, external_id).await
    }
}

#[async_trait]
impl StockSource for Square {
    async fn read_on_hand(&self) -> Result<Vec<OnHand>, ConnectorError> {
        stock::read_on_hand(&self.client, &self.catalog).await
    }
}

#[async_trait]
impl StockPush for Square {
    fn batch_size(&self) -> usize {
        stock::BATCH_SIZE
    }

    async fn push_stock(
        &self,
        levels: &[StockLevel],
    ) -> Result<Vec<StockRejection>, ConnectorError> {
        stock::push(&self.client, &self.catalog, levels).await
    }
}

#[async_trait]
impl FulfillmentPush for Square {
    /// UpdateOrder: the shipment's carrier and tracking on the order's
    /// fulfilment, completed once every unit has shipped.
    async fn push_fulfillment(&self, req: &FulfillmentRequest) -> Result<(), ConnectorError> {
        fulfillment::push_shipment(&self.client, req).await
    }
}

#[async_trait]
impl OrderCancel for Square {
    /// UpdateOrder with `state: CANCELED`.
    async fn cancel_order(&self, req: &CancelRequest) -> Result<(), ConnectorError> {
        fulfillment::cancel(&self.client, req).await
    }
}

impl WebhookReceiver for Square {
    fn verify(&self, req: &WebhookRequest<'_>) -> Result<(), WebhookError> {
        let url = self.webhook_url.as_deref().unwrap_or(req.url);
        webhook::verify(self.signature_key.as_ref(), url, req)
    }
    fn parse(&self, req: &WebhookRequest<'_>) -> Result<WebhookDelivery, WebhookError> {
        webhook::parse(req, &self.catalog, &self.client.configured_locations)
    }
}

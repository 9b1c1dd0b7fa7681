//! The Odoo connector: Odoo as the ERP behind chansync. It reads on-hand
//! stock per warehouse (`stock.quant`), receives the orders routed to its
//! warehouses as confirmed sale orders, and reports the deliveries done for
//! them (`stock.picking`), over JSON-2 (Odoo 19+) or JSON-RPC (Odoo 17–18).
//! `sim` is Odoo's simulator.

mod client;
pub mod config;
#[doc(hidden)]
pub mod fuzzing;
mod orders;
mod shipments;
pub mod sim;
mod stock;
mod wire;

use chansync_sdk::http::{HttpClient, RateLimit, RateLimitState, RetryPolicy};
use chansync_sdk::{
    async_trait, ConfigError, Connector, ConnectorContext, ConnectorError, ConnectorFactory,
    OnHand, OrderSink, ShipmentPage, ShipmentSource, SinkCancel, SinkOrder, StockSource,
};

use crate::client::{ClientConfig, OdooClient, Wire};
pub use crate::config::{OdooOptions, Protocol, WarehouseRef};
pub use crate::shipments::ShipmentCursor;

/// The config `kind` of this connector.
pub const KIND: &str = "odoo";

/// Odoo publishes no request quota for self-hosted servers (Odoo Online
/// throttles abusive clients); this keeps a sync polite to a shared worker
/// pool.
pub const DEFAULT_RATE_LIMIT: RateLimit = RateLimit {
    per_second: 10.0,
    burst: 20,
};

/// Builds Odoo connectors from config.
pub struct OdooFactory;

impl ConnectorFactory for OdooFactory {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&self, ctx: ConnectorContext) -> Result<Box<dyn Connector>, ConfigError> {
        Ok(Box::new(Odoo::new(ctx)?))
    }
}

/// A configured Odoo database.
pub struct Odoo {
    client: OdooClient,
    opts: OdooOptions,
}

impl Odoo {
    pub fn new(ctx: ConnectorContext) -> Result<Self, ConfigError> {
        let opts = OdooOptions::from_value(&ctx.options)?;
        let api_key = ctx.access_token.clone().ok_or_else(|| {
            ConfigError::new(
                "access_token",
                "an Odoo connector needs the API user's API key",
            )
        })?;
        if ctx.base_url.trim().is_empty() {
            return Err(ConfigError::new(
                "base_url",
                "must be the Odoo server's URL",
            ));
        }
        let http = HttpClient::new(
            &ctx.name,
            ctx.rate_limit.unwrap_or(DEFAULT_RATE_LIMIT),
            opts.timeout,
            RetryPolicy::default(),
        );
        let client = OdooClient::new(
            http,
            ClientConfig {
                base_url: ctx.base_url.trim().to_owned(),
                database: opts.database.clone(),
                login: opts.login.clone(),
                api_key,
                protocol: opts.protocol,
                company_id: opts.company_id,
                page_size: opts.page_size,
            },
        );
        Ok(Odoo { client, opts })
    }

    /// The protocol in use (probing the server under `auto`).
    pub async fn protocol(&self) -> Result<Protocol, ConnectorError> {
        Ok(match self.client.wire().await? {
            Wire::Json2 => Protocol::Json2,
            Wire::JsonRpc => Protocol::JsonRpc,
        })
    }
}

impl Connector for Odoo {
    fn kind(&self) -> &'static str {
        KIND
    }
    fn stock_source(&self) -> Option<&dyn StockSource> {
        Some(self)
    }
    fn order_sink(&self) -> Option<&dyn OrderSink> {
        Some(self)
    }
    fn shipment_source(&self) -> Option<&dyn ShipmentSource> {
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
impl StockSource for Odoo {
    async fn read_on_hand(&self) -> Result<Vec<OnHand>, ConnectorError> {
        stock::read_on_hand(&self.client, &self.opts.warehouses).await
    }
}

#[async_trait]
impl OrderSink for Odoo {
    async fn create_order(&self, req: &SinkOrder) -> Result<String, ConnectorError> {
        orders::create_order(&self.client, req).await
    }

    async fn cancel_order(&self, req: &SinkCancel) -> Result<(), ConnectorError> {
        orders::cancel_order(&self.client, req).await
    }
}

#[async_trait]
impl ShipmentSource for Odoo {
    async fn fetch_shipments(&self, cursor: Option<&str>) -> Result<ShipmentPage, ConnectorError> {
        shipments::fetch_shipments(&self.client, cursor, self.opts.shipment_lag).await
    }
}

//! The Amazon connector: polls orders from the Selling Partner API's Orders
//! v0 (`getOrders` by `LastUpdatedAfter`, `getOrderItems` per order), maps
//! them to the canonical order (Amazon-fulfilled orders recorded, never
//! routed), confirms merchant shipments (`confirmShipment`) and pushes stock
//! as listings quantity (`patchListingsItem`, or a JSON_LISTINGS_FEED for
//! large batches). Every call carries a Login-with-Amazon token and is paced
//! per operation by the usage plans in the specs. `sim` is the simulator.

mod auth;
mod client;
pub mod config;
pub mod feed;
pub mod fulfillment;
pub mod gzip;
pub mod marketplace;
pub mod normalize;
pub mod ops;
pub mod orders;
pub mod sim;
mod stock;
pub mod wire;

use chansync_sdk::http::{RateLimit, RateLimitState};
use chansync_sdk::model::ChannelOrder;
use chansync_sdk::{
    async_trait, ConfigError, Connector, ConnectorContext, ConnectorError, ConnectorFactory,
    FulfillmentPush, FulfillmentRequest, OrderFetch, OrderPage, OrderSource, StockLevel, StockPush,
    StockRejection,
};

use crate::client::SpApi;
use crate::config::Settings;
use crate::ops::Operation;
use crate::orders::ItemCache;
use crate::stock::{PendingFeeds, StockPusher};

pub use crate::config::AmazonOptions;
pub use crate::orders::PollCursor;

/// The config `kind` of this connector.
pub const KIND: &str = "amazon";

/// Builds Amazon connectors from config.
pub struct AmazonFactory;

impl ConnectorFactory for AmazonFactory {
    fn kind(&self) -> &'static str {
        KIND
    }

    fn build(&self, ctx: ConnectorContext) -> Result<Box<dyn Connector>, ConfigError> {
        Ok(Box::new(Amazon::new(ctx)?))
    }
}

/// A configured Amazon seller account in one SP-API region.
pub struct Amazon {
    api: SpApi,
    settings: Settings,
    items: ItemCache,
    feeds: PendingFeeds,
}

impl Amazon {
    pub fn new(ctx: ConnectorContext) -> Result<Self, ConfigError> {
        let settings = Settings::from_context(&ctx)?;
        Ok(Amazon {
            api: SpApi::new(&settings),
            settings,
            items: ItemCache::default(),
            feeds: PendingFeeds::default(),
        })
    }

    /// The quota an operation runs at now (the usage plan with one token of
    /// burst in reserve, tightened by what Amazon declared).
    pub fn limit(&self, op: Operation) -> RateLimit {
        self.api.limit(op)
    }

    /// How many LWA access tokens this instance has obtained.
    pub fn token_grants(&self) -> u64 {
        self.api.lwa.grants()
    }
}

impl Connector for Amazon {
    fn kind(&self) -> &'static str {
        KIND
    }
    fn orders(&self) -> Option<&dyn OrderSource> {
        Some(self)
    }
    fn order_fetch(&self) -> Option<&dyn OrderFetch> {
        Some(self)
    }
    fn stock_push(&self) -> Option<&dyn StockPush> {
        self.settings
            .seller_id
            .is_some()
            .then_some(self as &dyn StockPush)
    }
    fn fulfillment_push(&self) -> Option<&dyn FulfillmentPush> {
        Some(self)
    }
    fn rate_limit_state(&self) -> Option<RateLimitState> {
        Some(self.api.state())
    }
    fn taken_over(&self, quiet: std::time::Duration) {
        self.api.assume_spent(quiet);
    }
    fn cancel_waits(&self) {
        self.api.cancel_waits();
    }
}

#[async_trait]
impl OrderSource for Amazon {
    async fn fetch_orders(&self, cursor: Option<&str>) -> Result<OrderPage, ConnectorError> {
        orders::fetch(&self.api, &self.settings, &self.items, cursor).await
    }
}

#[async_trait]
impl OrderFetch for Amazon {
    async fn fetch_order(&self, external_id: &str) -> Result<ChannelOrder, ConnectorError> {
        let (order, raw) = orders::order(&self.api, external_id).await?;
        let items = orders::order_items(&self.api, external_id).await?;
        Ok(orders::polled(&order, raw, items)?.order)
    }
}

#[async_trait]
impl StockPush for Amazon {
    fn batch_size(&self) -> usize {
        self.settings.batch_size
    }

    async fn push_stock(
        &self,
        levels: &[StockLevel],
    ) -> Result<Vec<StockRejection>, ConnectorError> {
        let seller_id = self.settings.seller_id.as_deref().ok_or_else(|| {
            ConnectorError::Permanent("stock push needs the connector's seller_id".into())
        })?;
        StockPusher {
            api: &self.api,
            settings: &self.settings,
            seller_id,
            pending: &self.feeds,
        }
        .push(levels)
        .await
    }
}

#[async_trait]
impl FulfillmentPush for Amazon {
    async fn push_fulfillment(&self, req: &FulfillmentRequest) -> Result<(), ConnectorError> {
        fulfillment::push(&self.api, req).await
    }
}

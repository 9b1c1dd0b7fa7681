//! The connector traits, one per capability, and the context a connector is
//! built from. A connector implements the capabilities its channel has; the
//! daemon asks for each through [`Connector`]'s accessors.

use std::time::Duration;

use async_trait::async_trait;
use http::HeaderMap;
use rust_decimal::Decimal;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, ConnectorError, WebhookError};
use crate::http::RateLimit;
use crate::model::{ChannelOrder, Fulfillment};

/// What a connector instance is built from: the common config keys, resolved.
#[derive(Debug, Clone, Default)]
pub struct ConnectorContext {
    /// The instance's unique name (`[[connector]] name`).
    pub name: String,
    /// The channel's API root; always overridable for simulators and sandboxes.
    pub base_url: String,
    pub access_token: Option<SecretString>,
    pub webhook_secret: Option<SecretString>,
    /// The configured quota, if the config overrides the connector's default.
    pub rate_limit: Option<RateLimit>,
    /// The kind-specific keys of the connector's table, secrets removed.
    pub options: serde_json::Value,
    /// Kind-specific secrets: every key of the connector's table written as
    /// `{ env = "NAME" }` or `{ file = "PATH" }` (e.g. Amazon's
    /// `client_secret`), resolved, by key.
    pub secrets: std::collections::BTreeMap<String, SecretString>,
}

/// Builds a connector of one kind from its context.
pub trait ConnectorFactory: Send + Sync {
    /// The config `kind` this factory answers to.
    fn kind(&self) -> &'static str;
    /// Builds an instance, or names the key that is wrong.
    fn build(&self, ctx: ConnectorContext) -> Result<Box<dyn Connector>, ConfigError>;
}

/// One capability a connector may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Capability {
    PollOrders,
    Webhooks,
    PushStock,
    PushFulfillment,
    Cancel,
    Refund,
    ReadStock,
    CreateOrders,
    ReadShipments,
}

impl Capability {
    pub fn as_str(self) -> &'static str {
        match self {
            Capability::PollOrders => "poll_orders",
            Capability::Webhooks => "webhooks",
            Capability::PushStock => "push_stock",
            Capability::PushFulfillment => "push_fulfillment",
            Capability::Cancel => "cancel",
            Capability::Refund => "refund",
            Capability::ReadStock => "read_stock",
            Capability::CreateOrders => "create_orders",
            Capability::ReadShipments => "read_shipments",
        }
    }
}

/// A configured connector instance. Each accessor returns the capability's
/// implementation, or `None` where the channel lacks it.
pub trait Connector: Send + Sync + 'static {
    /// The config `kind`, e.g. `shopify`.
    fn kind(&self) -> &'static str;
    fn orders(&self) -> Option<&dyn OrderSource> {
        None
    }
    fn webhooks(&self) -> Option<&dyn WebhookReceiver> {
        None
    }
    fn order_fetch(&self) -> Option<&dyn OrderFetch> {
        None
    }
    fn stock_push(&self) -> Option<&dyn StockPush> {
        None
    }
    fn fulfillment_push(&self) -> Option<&dyn FulfillmentPush> {
        None
    }
    fn cancel(&self) -> Option<&dyn OrderCancel> {
        None
    }
    fn refund(&self) -> Option<&dyn RefundPush> {
        None
    }
    fn stock_source(&self) -> Option<&dyn StockSource> {
        None
    }
    fn order_sink(&self) -> Option<&dyn OrderSink> {
        None
    }
    fn shipment_source(&self) -> Option<&dyn ShipmentSource> {
        None
    }
    /// The state of the connector's rate limiter, for `chansync connectors`.
    fn rate_limit_state(&self) -> Option<crate::http::RateLimitState> {
        None
    }
    /// The instance starts where another process may just have spent the
    /// channel's budget: a replica that died or handed the connector over,
    /// or this daemon before a crash. That process has surely been silent
    /// for `quiet`. A connector with rate-limited clients calls
    /// [`HttpClient::assume_spent`](crate::http::HttpClient::assume_spent)
    /// on each, so that a takeover never costs a 429.
    fn taken_over(&self, quiet: std::time::Duration) {
        let _ = quiet;
    }
    /// The instance's tasks are stopping (shutdown, a reload, its lease
    /// taken over): requests waiting for a rate limiter give up unsent, so
    /// that the connector hands over at once. A connector with
    /// rate-limited clients calls
    /// [`HttpClient::cancel_waits`](crate::http::HttpClient::cancel_waits)
    /// on each.
    fn cancel_waits(&self) {}
    /// The capabilities this instance has, derived from the accessors.
    fn capabilities(&self) -> Vec<Capability> {
        let mut caps = Vec::new();
        let mut add = |has: bool, c| {
            if has {
                caps.push(c)
            }
        };
        add(self.orders().is_some(), Capability::PollOrders);
        add(self.webhooks().is_some(), Capability::Webhooks);
        add(self.stock_push().is_some(), Capability::PushStock);
        add(
            self.fulfillment_push().is_some(),
            Capability::PushFulfillment,
        );
        add(self.cancel().is_some(), Capability::Cancel);
        add(self.refund().is_some(), Capability::Refund);
        add(self.stock_source().is_some(), Capability::ReadStock);
        add(self.order_sink().is_some(), Capability::CreateOrders);
        add(self.shipment_source().is_some(), Capability::ReadShipments);
        caps
    }
}

/// A page of orders from a poll.
#[derive(Debug, Clone)]
pub struct OrderPage {
    pub orders: Vec<PolledOrder>,
    /// The cursor to persist with this page, in the same transaction.
    pub cursor: String,
    /// Whether another page is ready now (the poller keeps going) or the
    /// sweep is done (the poller waits for its next tick).
    pub has_more: bool,
}

/// An order from a poll, with the channel's JSON kept for audit.
#[derive(Debug, Clone)]
pub struct PolledOrder {
    pub order: ChannelOrder,
    pub raw: serde_json::Value,
}

/// Polls a channel for new and changed orders with a persisted cursor.
#[async_trait]
pub trait OrderSource: Send + Sync {
    /// Fetches the page after `cursor` (`None`: from the connector's start
    /// point). Each call is one page; the daemon commits it with its cursor.
    async fn fetch_orders(&self, cursor: Option<&str>) -> Result<OrderPage, ConnectorError>;

    /// How long after "now" the channel may still backdate an update; the
    /// poller keeps its watermark this far behind (default none).
    fn lag_tolerance(&self) -> Duration {
        Duration::ZERO
    }
}

/// A webhook as the listener received it.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    /// The full URL the channel posted to, for schemes that sign it (Square).
    pub url: &'a str,
}

/// A verified and parsed webhook delivery.
#[derive(Debug, Clone)]
pub struct WebhookDelivery {
    /// The channel's id for the event, the inbox's dedupe key.
    pub event_id: String,
    /// The channel's topic, e.g. `orders/updated`.
    pub topic: String,
    pub event: WebhookEvent,
}

/// What a webhook means to chansync.
#[derive(Debug, Clone)]
pub enum WebhookEvent {
    /// An order was created or changed: its full new state.
    Order(Box<ChannelOrder>),
    /// An order changed but the notification does not carry it (Square):
    /// the daemon fetches it through [`OrderFetch`].
    OrderChanged { external_id: String },
    /// The channel's on-hand counts changed (a POS sale, a stock count), for
    /// a connector that is a source of truth for stock.
    StockChanged(Vec<OnHand>),
    /// A topic chansync does not act on (acknowledged, stored, no effect).
    Ignored,
}

/// Fetches one order by the channel's id, for notifications that only name it.
#[async_trait]
pub trait OrderFetch: Send + Sync {
    async fn fetch_order(&self, external_id: &str) -> Result<ChannelOrder, ConnectorError>;
}

/// Verifies and parses a channel's webhooks.
pub trait WebhookReceiver: Send + Sync {
    /// Checks the signature over the raw bytes (constant-time).
    fn verify(&self, req: &WebhookRequest<'_>) -> Result<(), WebhookError>;
    /// Reads a verified delivery.
    fn parse(&self, req: &WebhookRequest<'_>) -> Result<WebhookDelivery, WebhookError>;
}

/// One SKU's published stock level for a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StockLevel {
    pub channel_sku: String,
    /// The channel's location, where the channel keeps stock per location.
    pub channel_location: Option<String>,
    pub quantity: i64,
    /// Unique per outbox row, for channels that deduplicate on it.
    pub idempotency_key: String,
}

/// A level of a batch the channel refused for good (an unknown SKU, a
/// location it does not stock), while the rest of the batch went through.
#[derive(Debug, Clone)]
pub struct StockRejection {
    pub channel_sku: String,
    /// Always a non-retryable error (`Permanent` or `Auth`).
    pub error: ConnectorError,
}

/// Pushes published stock levels to a channel.
///
/// The daemon calls it with at most `batch_size()` levels, each SKU at most
/// once, already coalesced to the newest level. An `Err` means the whole
/// batch failed (retried if the error is retryable, dead-lettered if not);
/// `Ok` lists the levels the channel refused one by one, everything else
/// counts as applied. Levels are absolute: pushing the same batch twice
/// leaves the channel as pushing it once.
#[async_trait]
pub trait StockPush: Send + Sync {
    /// The most levels one call may carry.
    fn batch_size(&self) -> usize;
    async fn push_stock(
        &self,
        levels: &[StockLevel],
    ) -> Result<Vec<StockRejection>, ConnectorError>;
}

/// A fulfilment to report to the channel the order came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentRequest {
    pub external_order_id: String,
    pub fulfillment: Fulfillment,
    pub idempotency_key: String,
}

/// Reports shipments and tracking to a channel.
///
/// At-least-once: the daemon may call again with the same request (same
/// `idempotency_key`) after a timeout or a crash. An implementation must make
/// that harmless: use the channel's idempotency support where it has one,
/// otherwise look for the earlier fulfilment (by tracking number and lines)
/// before creating another. `fulfillment.lines` name the channel's line ids
/// (`OrderLine::external_id`); empty lines mean every unfulfilled line.
#[async_trait]
pub trait FulfillmentPush: Send + Sync {
    async fn push_fulfillment(&self, req: &FulfillmentRequest) -> Result<(), ConnectorError>;
}

/// A cancellation to report to the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequest {
    pub external_order_id: String,
    pub reason: Option<String>,
    pub idempotency_key: String,
}

/// Cancels orders on a channel. Cancelling an order the channel already
/// shows as cancelled is success, so a retried request is harmless.
#[async_trait]
pub trait OrderCancel: Send + Sync {
    async fn cancel_order(&self, req: &CancelRequest) -> Result<(), ConnectorError>;
}

/// A refund to report to the channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundRequest {
    pub external_order_id: String,
    #[serde(with = "rust_decimal::serde::str")]
    pub amount: Decimal,
    pub currency: crate::model::Currency,
    pub reason: Option<String>,
    pub idempotency_key: String,
}

/// Refunds orders on a channel.
#[async_trait]
pub trait RefundPush: Send + Sync {
    async fn refund_order(&self, req: &RefundRequest) -> Result<(), ConnectorError>;
}

/// On-hand stock as a source of truth (ERP, POS) reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnHand {
    pub channel_sku: String,
    pub channel_location: Option<String>,
    pub on_hand: i64,
}

/// Reads on-hand stock from a channel that is the source of truth.
#[async_trait]
pub trait StockSource: Send + Sync {
    async fn read_on_hand(&self) -> Result<Vec<OnHand>, ConnectorError>;
}

/// An order for an ERP to ship: the canonical order with the part routed to
/// the ERP's warehouse.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkOrder {
    /// The canonical order; `allocations` holds only what ships from
    /// `channel_location`, `lines[].sku` the master SKUs.
    pub order: crate::model::Order,
    /// The ERP's warehouse (the location's `source.location`), if named.
    pub channel_location: Option<String>,
    /// chansync's reference for the order in the ERP (e.g. `shop-eu/1001`),
    /// stable across retries: the ERP record is found by it, never doubled.
    pub reference: String,
    pub idempotency_key: String,
}

/// An order cancelled after it was sent to an ERP: the ERP must not ship it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SinkCancel {
    /// The `SinkOrder::reference` it was created under.
    pub reference: String,
    pub reason: Option<String>,
    pub idempotency_key: String,
}

/// Creates orders in a channel (an ERP receiving every channel's sales).
#[async_trait]
pub trait OrderSink: Send + Sync {
    /// Creates the order, or finds the one already created under
    /// `reference`, and returns the channel's id for it.
    async fn create_order(&self, req: &SinkOrder) -> Result<String, ConnectorError>;

    /// Cancels the order created under `req.reference`. Nothing there, or
    /// already cancelled, is success; an order the ERP already shipped is a
    /// permanent error that says so.
    async fn cancel_order(&self, req: &SinkCancel) -> Result<(), ConnectorError>;
}

/// A shipment a channel made for an order chansync sent it (an ERP delivery
/// done in its warehouse).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    /// The `SinkOrder::reference` the order was created under.
    pub reference: String,
    /// The channel's id for the shipment (e.g. a picking id), unique.
    pub shipment_id: String,
    /// Location, carrier, tracking and lines (line `external_id`s are the
    /// canonical order's line external ids, as sent in the `SinkOrder`).
    pub fulfillment: Fulfillment,
}

/// A page of shipments.
#[derive(Debug, Clone)]
pub struct ShipmentPage {
    pub shipments: Vec<Shipment>,
    /// Persisted with the page; the next call starts after it.
    pub cursor: String,
    pub has_more: bool,
}

/// Reads shipments a channel made (an ERP's done deliveries), so chansync
/// can record them and push them to the order's own channel.
#[async_trait]
pub trait ShipmentSource: Send + Sync {
    async fn fetch_shipments(&self, cursor: Option<&str>) -> Result<ShipmentPage, ConnectorError>;
}

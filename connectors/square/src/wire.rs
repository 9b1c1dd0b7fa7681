//! Square's JSON as the connector reads it (shared/specs/square/api.json):
//! orders, catalog objects, inventory counts, locations, webhook envelopes
//! and the error body. Lenient on purpose: every field Square may leave out
//! is optional, and enums are kept as strings so a new value never makes an
//! order unreadable.

use chrono::{DateTime, FixedOffset};
use serde::Deserialize;

/// `Money`: an integer amount in the currency's smallest unit.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default)]
pub struct Money {
    pub amount: i64,
    pub currency: Option<String>,
}

/// `Order` (the fields chansync reads).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Order {
    pub id: String,
    pub location_id: Option<String>,
    pub reference_id: Option<String>,
    pub source: Option<OrderSource>,
    pub customer_id: Option<String>,
    pub line_items: Vec<LineItem>,
    pub taxes: Vec<Tax>,
    pub discounts: Vec<Discount>,
    pub service_charges: Vec<ServiceCharge>,
    pub fulfillments: Vec<Fulfillment>,
    pub tenders: Vec<Tender>,
    pub refunds: Vec<Refund>,
    pub created_at: Option<DateTime<FixedOffset>>,
    pub updated_at: Option<DateTime<FixedOffset>>,
    pub closed_at: Option<DateTime<FixedOffset>>,
    /// `OPEN`, `COMPLETED`, `CANCELED` or `DRAFT`.
    pub state: Option<String>,
    pub version: Option<i64>,
    pub total_money: Option<Money>,
    pub total_tax_money: Option<Money>,
    pub total_discount_money: Option<Money>,
    pub total_tip_money: Option<Money>,
    pub total_service_charge_money: Option<Money>,
    pub ticket_name: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrderSource {
    pub name: Option<String>,
}

/// `OrderLineItem`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct LineItem {
    pub uid: Option<String>,
    pub name: Option<String>,
    /// A decimal string: a count, or a measure with `quantity_unit`.
    pub quantity: String,
    pub catalog_object_id: Option<String>,
    pub variation_name: Option<String>,
    /// `ITEM`, `CUSTOM_AMOUNT` or `GIFT_CARD`.
    pub item_type: Option<String>,
    pub modifiers: Vec<Modifier>,
    pub base_price_money: Option<Money>,
    pub variation_total_price_money: Option<Money>,
    pub gross_sales_money: Option<Money>,
    pub total_tax_money: Option<Money>,
    pub total_discount_money: Option<Money>,
    pub total_money: Option<Money>,
}

/// `OrderLineItemModifier`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Modifier {
    pub uid: Option<String>,
    pub name: Option<String>,
    /// Per unit of the line; `1` when absent.
    pub quantity: Option<String>,
    pub base_price_money: Option<Money>,
    pub total_price_money: Option<Money>,
}

/// `OrderLineItemTax`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Tax {
    pub uid: Option<String>,
    pub name: Option<String>,
    pub percentage: Option<String>,
    /// `ADDITIVE` or `INCLUSIVE`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub applied_money: Option<Money>,
    pub scope: Option<String>,
}

/// `OrderLineItemDiscount`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Discount {
    pub uid: Option<String>,
    pub name: Option<String>,
    pub applied_money: Option<Money>,
    pub scope: Option<String>,
}

/// `OrderServiceCharge`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ServiceCharge {
    pub uid: Option<String>,
    pub name: Option<String>,
    pub amount_money: Option<Money>,
    pub applied_money: Option<Money>,
    pub total_money: Option<Money>,
    pub total_tax_money: Option<Money>,
    /// `AUTO_GRATUITY` or `CUSTOM`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

/// `Fulfillment`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Fulfillment {
    pub uid: Option<String>,
    /// `PICKUP`, `SHIPMENT`, `DELIVERY` (and others, e.g. `DIGITAL`).
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// `PROPOSED`, `RESERVED`, `PREPARED`, `COMPLETED`, `CANCELED`, `FAILED`.
    pub state: Option<String>,
    /// `ALL` or `ENTRY_LIST`.
    pub line_item_application: Option<String>,
    pub entries: Vec<FulfillmentEntry>,
    pub pickup_details: Option<PickupDetails>,
    pub shipment_details: Option<ShipmentDetails>,
    pub delivery_details: Option<DeliveryDetails>,
    /// Application data (at most 10 entries, values up to 255 characters).
    pub metadata: Option<std::collections::BTreeMap<String, String>>,
}

/// `FulfillmentFulfillmentEntry`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct FulfillmentEntry {
    pub line_item_uid: String,
    pub quantity: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct PickupDetails {
    pub recipient: Option<Recipient>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct DeliveryDetails {
    pub recipient: Option<Recipient>,
    pub courier_provider_name: Option<String>,
}

/// `FulfillmentShipmentDetails`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ShipmentDetails {
    pub recipient: Option<Recipient>,
    pub carrier: Option<String>,
    pub tracking_number: Option<String>,
    pub tracking_url: Option<String>,
}

/// `FulfillmentRecipient`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Recipient {
    pub customer_id: Option<String>,
    pub display_name: Option<String>,
    pub email_address: Option<String>,
    pub phone_number: Option<String>,
    pub address: Option<Address>,
}

/// `Address`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Address {
    pub address_line_1: Option<String>,
    pub address_line_2: Option<String>,
    pub address_line_3: Option<String>,
    pub locality: Option<String>,
    pub sublocality: Option<String>,
    pub administrative_district_level_1: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// `Tender`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Tender {
    pub id: Option<String>,
    /// `CARD`, `CASH`, …
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub amount_money: Option<Money>,
    pub card_details: Option<CardDetails>,
}

/// `TenderCardDetails`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CardDetails {
    /// `AUTHORIZED`, `CAPTURED`, `VOIDED` or `FAILED`.
    pub status: Option<String>,
}

/// `Refund` (part of an order).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Refund {
    pub id: Option<String>,
    pub amount_money: Option<Money>,
    /// `PENDING`, `APPROVED`, `REJECTED` or `FAILED`.
    pub status: Option<String>,
}

/// `SearchOrdersResponse`; orders stay raw JSON for the audit copy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SearchOrdersResponse {
    pub orders: Vec<serde_json::Value>,
    pub cursor: Option<String>,
    pub errors: Vec<SquareError>,
}

/// `RetrieveOrderResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct RetrieveOrderResponse {
    pub order: Option<serde_json::Value>,
    pub errors: Vec<SquareError>,
}

/// `CatalogObject` (items and variations).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CatalogObject {
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    pub is_deleted: bool,
    pub item_data: Option<CatalogItem>,
    pub item_variation_data: Option<CatalogItemVariation>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CatalogItem {
    pub name: Option<String>,
    pub variations: Vec<CatalogObject>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CatalogItemVariation {
    pub item_id: Option<String>,
    pub name: Option<String>,
    pub sku: Option<String>,
}

/// `BatchRetrieveCatalogObjectsResponse` and `SearchCatalogObjectsResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct CatalogObjectsResponse {
    pub objects: Vec<CatalogObject>,
    pub cursor: Option<String>,
    pub errors: Vec<SquareError>,
}

/// `InventoryCount`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InventoryCount {
    pub catalog_object_id: String,
    pub catalog_object_type: Option<String>,
    pub state: Option<String>,
    pub location_id: Option<String>,
    /// A decimal string with up to five decimals.
    pub quantity: String,
    pub calculated_at: Option<String>,
}

/// `BatchRetrieveInventoryCountsResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct InventoryCountsResponse {
    pub counts: Vec<InventoryCount>,
    pub cursor: Option<String>,
    pub errors: Vec<SquareError>,
}

/// `BatchChangeInventoryResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct BatchChangeInventoryResponse {
    pub counts: Vec<InventoryCount>,
    pub errors: Vec<SquareError>,
}

/// `Location`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Location {
    pub id: String,
    pub name: Option<String>,
    /// `ACTIVE` or `INACTIVE`.
    pub status: Option<String>,
    pub currency: Option<String>,
}

/// `ListLocationsResponse`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ListLocationsResponse {
    pub locations: Vec<Location>,
    pub errors: Vec<SquareError>,
}

/// `Error`: one entry of Square's error body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct SquareError {
    pub category: String,
    pub code: String,
    pub detail: Option<String>,
    pub field: Option<String>,
}

impl std::fmt::Display for SquareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(d) = &self.detail {
            write!(f, ": {d}")?;
        }
        if let Some(field) = &self.field {
            write!(f, " (field {field})")?;
        }
        Ok(())
    }
}

/// `{"errors": [...]}`, the body of every Square error answer.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub errors: Vec<SquareError>,
}

/// A webhook notification's envelope.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    #[serde(default)]
    pub merchant_id: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    pub event_id: String,
    #[serde(default)]
    pub created_at: Option<String>,
    #[serde(default)]
    pub data: Option<EventData>,
}

/// `data` of a notification: the object's type, id and the object itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct EventData {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub id: Option<String>,
    pub object: serde_json::Value,
}

/// `OrderCreated` / `OrderUpdated`: the summary an `order.*` event carries.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrderSummary {
    pub order_id: Option<String>,
    pub version: Option<i64>,
    pub location_id: Option<String>,
    pub state: Option<String>,
}

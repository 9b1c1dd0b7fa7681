//! The GraphQL Admin API operations the connector sends (order polling and
//! push-back) and the response types it reads. The simulator's schema answers
//! exactly these documents.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// The Admin API version chansync pins by default (`api_version` overrides it).
pub const DEFAULT_API_VERSION: &str = "2026-07";

/// The first version whose inventory mutations take `changeFromQuantity` and
/// `@idempotent`, and whose `orderCancel` takes `refundMethod`: stock push and
/// cancellation need it.
pub const MIN_PUSH_API_VERSION: &str = "2026-04";

/// Orders changed since a watermark, oldest change first.
pub const ORDERS_QUERY: &str = r#"query Orders($first: Int!, $after: String, $query: String, $lines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    pageInfo { hasNextPage endCursor }
    nodes { ...OrderFields }
  }
}
fragment Money on MoneyBag { shopMoney { amount currencyCode } }
fragment OrderFields on Order {
  id
  legacyResourceId
  name
  createdAt
  updatedAt
  processedAt
  cancelledAt
  email
  currencyCode
  taxesIncluded
  displayFinancialStatus
  displayFulfillmentStatus
  subtotalPriceSet { ...Money }
  totalShippingPriceSet { ...Money }
  totalTaxSet { ...Money }
  totalDiscountsSet { ...Money }
  totalPriceSet { ...Money }
  customer { displayName email }
  shippingAddress { name address1 address2 city provinceCode zip countryCodeV2 }
  lineItems(first: $lines) {
    pageInfo { hasNextPage endCursor }
    nodes { ...LineFields }
  }
}
fragment LineFields on LineItem {
  id
  sku
  title
  quantity
  originalUnitPriceSet { ...Money }
  discountedTotalSet { ...Money }
  totalDiscountSet { ...Money }
  taxLines { priceSet { ...Money } }
}
"#;

/// The remaining line items of one order with more than a page of them.
pub const ORDER_LINES_QUERY: &str = r#"query OrderLines($id: ID!, $after: String, $lines: Int!) {
  order(id: $id) {
    lineItems(first: $lines, after: $after) {
      pageInfo { hasNextPage endCursor }
      nodes { ...LineFields }
    }
  }
}
fragment Money on MoneyBag { shopMoney { amount currencyCode } }
fragment LineFields on LineItem {
  id
  sku
  title
  quantity
  originalUnitPriceSet { ...Money }
  discountedTotalSet { ...Money }
  totalDiscountSet { ...Money }
  taxLines { priceSet { ...Money } }
}
"#;

/// The shipments of one order. Asked only for orders Shopify reports as
/// (partly) fulfilled, which keeps the orders query cheap.
pub const ORDER_FULFILLMENTS_QUERY: &str = r#"query OrderFulfillments($id: ID!) {
  order(id: $id) {
    fulfillments(first: 10) {
      status
      trackingInfo(first: 1) { company number }
      fulfillmentLineItems(first: 40) { nodes { quantity lineItem { id } } }
    }
  }
}
"#;

/// Whether an order in this `displayFulfillmentStatus` can have shipments.
pub fn may_have_fulfillments(display_fulfillment_status: &str) -> bool {
    matches!(
        display_fulfillment_status,
        "FULFILLED" | "PARTIALLY_FULFILLED" | "RESTOCKED" | "IN_PROGRESS"
    )
}

/// A GraphQL response: data, errors, and Shopify's cost extension.
#[derive(Debug, Clone, Deserialize)]
pub struct GqlResponse<T> {
    pub data: Option<T>,
    #[serde(default)]
    pub errors: Vec<GqlError>,
    #[serde(default)]
    pub extensions: Option<GqlExtensions>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GqlError {
    pub message: String,
    #[serde(default)]
    pub extensions: Option<GqlErrorExtensions>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GqlErrorExtensions {
    #[serde(default)]
    pub code: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GqlExtensions {
    pub cost: Option<QueryCost>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueryCost {
    pub requested_query_cost: f64,
    pub actual_query_cost: Option<f64>,
    pub throttle_status: ThrottleStatus,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThrottleStatus {
    pub maximum_available: f64,
    pub currently_available: f64,
    pub restore_rate: f64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrdersData {
    pub orders: Connection<GqlOrder>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderLinesData {
    pub order: Option<OrderLinesOnly>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderLinesOnly {
    pub line_items: Connection<GqlLineItem>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderFulfillmentsData {
    pub order: Option<OrderFulfillmentsOnly>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderFulfillmentsOnly {
    #[serde(default)]
    pub fulfillments: Vec<GqlFulfillment>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Connection<T> {
    pub page_info: PageInfo,
    pub nodes: Vec<T>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PageInfo {
    pub has_next_page: bool,
    pub end_cursor: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct MoneyBag {
    #[serde(rename = "shopMoney")]
    pub shop_money: MoneyV2,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MoneyV2 {
    /// Shopify's `Decimal` scalar: a string.
    pub amount: String,
    pub currency_code: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlOrder {
    /// The GraphQL gid, `gid://shopify/Order/123`.
    pub id: String,
    /// The numeric id, as a string (`UnsignedInt64`).
    pub legacy_resource_id: String,
    pub name: String,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
    pub processed_at: Option<DateTime<FixedOffset>>,
    pub cancelled_at: Option<DateTime<FixedOffset>>,
    pub email: Option<String>,
    pub currency_code: String,
    #[serde(default)]
    pub taxes_included: bool,
    pub display_financial_status: Option<String>,
    pub display_fulfillment_status: String,
    pub subtotal_price_set: Option<MoneyBag>,
    pub total_shipping_price_set: MoneyBag,
    pub total_tax_set: Option<MoneyBag>,
    pub total_discounts_set: Option<MoneyBag>,
    pub total_price_set: MoneyBag,
    pub customer: Option<GqlCustomer>,
    pub shipping_address: Option<GqlAddress>,
    pub line_items: Connection<GqlLineItem>,
    #[serde(default)]
    pub fulfillments: Vec<GqlFulfillment>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlCustomer {
    pub display_name: Option<String>,
    pub email: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlAddress {
    pub name: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub city: Option<String>,
    pub province_code: Option<String>,
    pub zip: Option<String>,
    pub country_code_v2: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlLineItem {
    /// `gid://shopify/LineItem/123`.
    pub id: String,
    pub sku: Option<String>,
    pub title: String,
    pub quantity: u32,
    pub original_unit_price_set: MoneyBag,
    pub discounted_total_set: MoneyBag,
    pub total_discount_set: MoneyBag,
    #[serde(default)]
    pub tax_lines: Vec<GqlTaxLine>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlTaxLine {
    pub price_set: MoneyBag,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlFulfillment {
    /// `SUCCESS`, `CANCELLED`, `ERROR`, `FAILURE`, `OPEN` or `PENDING`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tracking_info: Vec<GqlTrackingInfo>,
    pub fulfillment_line_items: Connection0<GqlFulfillmentLine>,
}

/// A connection read for its nodes only.
#[derive(Debug, Clone, Deserialize)]
pub struct Connection0<T> {
    pub nodes: Vec<T>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GqlTrackingInfo {
    pub company: Option<String>,
    pub number: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlFulfillmentLine {
    pub quantity: u32,
    pub line_item: GqlIdOnly,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GqlIdOnly {
    pub id: String,
}

/// The numeric tail of a Shopify gid (`gid://shopify/LineItem/42` → `42`).
pub fn gid_tail(gid: &str) -> &str {
    gid.rsplit('/').next().unwrap_or(gid)
}

// ---- Push-back: stock, fulfilment, cancellation.

/// The shop's primary location, and its active locations in case the primary
/// one is not active.
pub const LOCATIONS_QUERY: &str = r#"query Locations {
  location { id isActive }
  locations(first: 10) { nodes { id isActive } }
}
"#;

/// Inventory items by SKU, with the available quantity at one location.
pub const INVENTORY_ITEMS_QUERY: &str = r#"query InventoryItems($first: Int!, $query: String!, $locationId: ID!) {
  inventoryItems(first: $first, query: $query) {
    nodes {
      id
      sku
      inventoryLevel(locationId: $locationId) {
        quantities(names: ["available"]) { name quantity }
      }
    }
  }
}
"#;

/// Sets available quantities, compare-and-swap on `changeFromQuantity`, under
/// an idempotency key (required from API 2026-04 on).
pub const SET_QUANTITIES_MUTATION: &str = r#"mutation SetQuantities($input: InventorySetQuantitiesInput!, $key: String!) {
  inventorySetQuantities(input: $input) @idempotent(key: $key) {
    inventoryAdjustmentGroup { id }
    userErrors { code field message }
  }
}
"#;

/// What a fulfilment push needs to know about an order: whether it is
/// cancelled, what has shipped (to find an earlier push) and what is left in
/// its fulfilment orders. Shopify charges the requested cost up front, so
/// the sizes are variables: small first, larger only for an order that
/// needs them (see `fulfillment::read_state`).
pub const FULFILLMENT_STATE_QUERY: &str = r#"query FulfillmentState($id: ID!, $shipped: Int!, $shippedLines: Int!, $open: Int!, $openLines: Int!) {
  order(id: $id) {
    cancelledAt
    fulfillments(first: $shipped) {
      status
      trackingInfo(first: 2) { number }
      fulfillmentLineItems(first: $shippedLines) { nodes { quantity lineItem { id } } }
    }
    fulfillmentOrders(first: $open) {
      pageInfo { hasNextPage }
      nodes {
        id
        status
        assignedLocation { location { id } }
        lineItems(first: $openLines) {
          pageInfo { hasNextPage }
          nodes { id remainingQuantity lineItem { id } }
        }
      }
    }
  }
}
"#;

/// Fulfils fulfilment order lines (of one order, at one location).
pub const FULFILLMENT_CREATE_MUTATION: &str = r#"mutation FulfillmentCreate($fulfillment: FulfillmentInput!) {
  fulfillmentCreate(fulfillment: $fulfillment) {
    fulfillment { id }
    userErrors { field message }
  }
}
"#;

/// Whether an order exists and is cancelled.
pub const ORDER_CANCELLED_QUERY: &str = r#"query OrderCancelled($id: ID!) {
  order(id: $id) { cancelledAt }
}
"#;

/// Cancels an order (Shopify runs it as a job).
pub const ORDER_CANCEL_MUTATION: &str = r#"mutation OrderCancel($orderId: ID!, $reason: OrderCancelReason!, $refundMethod: OrderCancelRefundMethodInput, $restock: Boolean!, $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, refundMethod: $refundMethod, restock: $restock, notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { code field message }
  }
}
"#;

/// A `userErrors` entry; `code` where the payload's error type has one.
#[derive(Debug, Clone, Deserialize)]
pub struct GqlUserError {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub field: Option<Vec<String>>,
    pub message: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlLocation {
    pub id: String,
    pub is_active: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LocationsData {
    pub location: Option<GqlLocation>,
    pub locations: Connection0<GqlLocation>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GqlQuantity {
    pub name: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GqlInventoryLevel {
    pub quantities: Vec<GqlQuantity>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlInventoryItem {
    pub id: String,
    pub sku: Option<String>,
    /// Null where the item is not stocked at the location asked about.
    pub inventory_level: Option<GqlInventoryLevel>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryItemsData {
    pub inventory_items: Connection0<GqlInventoryItem>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetQuantitiesPayload {
    pub inventory_adjustment_group: Option<GqlIdOnly>,
    pub user_errors: Vec<GqlUserError>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetQuantitiesData {
    pub inventory_set_quantities: Option<SetQuantitiesPayload>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GqlLocationRef {
    pub location: Option<GqlIdOnly>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlFulfillmentOrderLine {
    pub id: String,
    pub remaining_quantity: i64,
    pub line_item: GqlIdOnly,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlFulfillmentOrder {
    pub id: String,
    /// `OPEN`, `IN_PROGRESS`, `CLOSED`, `CANCELLED`, `INCOMPLETE`, `ON_HOLD`, `SCHEDULED`.
    pub status: String,
    pub assigned_location: Option<GqlLocationRef>,
    pub line_items: Connection<GqlFulfillmentOrderLine>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlFulfillmentState {
    pub cancelled_at: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub fulfillments: Vec<GqlFulfillment>,
    pub fulfillment_orders: Connection<GqlFulfillmentOrder>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FulfillmentStateData {
    pub order: Option<GqlFulfillmentState>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentCreatePayload {
    pub fulfillment: Option<GqlIdOnly>,
    pub user_errors: Vec<GqlUserError>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentCreateData {
    pub fulfillment_create: Option<FulfillmentCreatePayload>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GqlCancelledAt {
    pub cancelled_at: Option<DateTime<FixedOffset>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct OrderCancelledData {
    pub order: Option<GqlCancelledAt>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct GqlJob {
    pub id: String,
    pub done: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelPayload {
    pub job: Option<GqlJob>,
    pub order_cancel_user_errors: Vec<GqlUserError>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OrderCancelData {
    pub order_cancel: Option<OrderCancelPayload>,
}

//! The GraphQL Admin API operations the connector sends and the response
//! types it reads. The simulator's schema answers exactly these documents.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// The Admin API version chansync pins by default (`api_version` overrides it).
pub const DEFAULT_API_VERSION: &str = "2026-07";

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

//! Shopify's REST-shaped order JSON: the body of `orders/*` webhooks (the
//! REST Admin `order` object without its wrapper). Unknown fields are ignored
//! so new API versions do not break intake; the simulator renders the same
//! types, and the tests read the official examples through them.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

/// A Shopify decimal amount as the REST API writes it: a string ("12.30").
pub type Amount = String;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestOrder {
    pub id: u64,
    #[serde(default)]
    pub admin_graphql_api_id: Option<String>,
    /// The order name, e.g. `#1001`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub order_number: Option<u64>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub contact_email: Option<String>,
    pub created_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
    #[serde(default)]
    pub processed_at: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub cancelled_at: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub cancel_reason: Option<String>,
    #[serde(default)]
    pub closed_at: Option<DateTime<FixedOffset>>,
    /// The shop currency, in which the amounts below are given.
    pub currency: String,
    #[serde(default)]
    pub presentment_currency: Option<String>,
    #[serde(default)]
    pub financial_status: Option<String>,
    #[serde(default)]
    pub fulfillment_status: Option<String>,
    #[serde(default)]
    pub taxes_included: Option<bool>,
    /// Line items after discounts.
    #[serde(default)]
    pub subtotal_price: Option<Amount>,
    #[serde(default)]
    pub total_line_items_price: Option<Amount>,
    #[serde(default)]
    pub total_discounts: Option<Amount>,
    #[serde(default)]
    pub total_tax: Option<Amount>,
    pub total_price: Amount,
    #[serde(default)]
    pub total_shipping_price_set: Option<MoneySet>,
    #[serde(default)]
    pub customer: Option<RestCustomer>,
    #[serde(default)]
    pub shipping_address: Option<RestAddress>,
    #[serde(default)]
    pub billing_address: Option<RestAddress>,
    #[serde(default)]
    pub line_items: Vec<RestLineItem>,
    #[serde(default)]
    pub shipping_lines: Vec<RestShippingLine>,
    #[serde(default)]
    pub fulfillments: Vec<RestFulfillment>,
    #[serde(default)]
    pub discount_codes: Vec<RestDiscountCode>,
    #[serde(default)]
    pub tags: Option<String>,
    #[serde(default)]
    pub test: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoneySet {
    pub shop_money: Money,
    #[serde(default)]
    pub presentment_money: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Money {
    pub amount: Amount,
    pub currency_code: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestCustomer {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestAddress {
    #[serde(default)]
    pub first_name: Option<String>,
    #[serde(default)]
    pub last_name: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub company: Option<String>,
    #[serde(default)]
    pub address1: Option<String>,
    #[serde(default)]
    pub address2: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub province: Option<String>,
    #[serde(default)]
    pub province_code: Option<String>,
    #[serde(default)]
    pub zip: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub country_code: Option<String>,
    #[serde(default)]
    pub phone: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestLineItem {
    pub id: u64,
    #[serde(default)]
    pub admin_graphql_api_id: Option<String>,
    #[serde(default)]
    pub sku: Option<String>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub variant_id: Option<u64>,
    #[serde(default)]
    pub variant_title: Option<String>,
    pub quantity: u32,
    #[serde(default)]
    pub current_quantity: Option<u32>,
    #[serde(default)]
    pub fulfillable_quantity: Option<u32>,
    #[serde(default)]
    pub fulfillment_status: Option<String>,
    /// Unit price before discounts.
    pub price: Amount,
    #[serde(default)]
    pub total_discount: Option<Amount>,
    #[serde(default)]
    pub discount_allocations: Vec<RestDiscountAllocation>,
    #[serde(default)]
    pub tax_lines: Vec<RestTaxLine>,
    #[serde(default)]
    pub requires_shipping: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestDiscountAllocation {
    pub amount: Amount,
    #[serde(default)]
    pub discount_application_index: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestTaxLine {
    pub price: Amount,
    #[serde(default)]
    pub rate: Option<f64>,
    #[serde(default)]
    pub title: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestShippingLine {
    #[serde(default)]
    pub id: Option<u64>,
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub code: Option<String>,
    pub price: Amount,
    #[serde(default)]
    pub discounted_price: Option<Amount>,
    #[serde(default)]
    pub tax_lines: Vec<RestTaxLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestFulfillment {
    pub id: u64,
    #[serde(default)]
    pub order_id: Option<u64>,
    #[serde(default)]
    pub admin_graphql_api_id: Option<String>,
    /// E.g. `#1001.1`.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub created_at: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub updated_at: Option<DateTime<FixedOffset>>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub location_id: Option<u64>,
    #[serde(default)]
    pub tracking_company: Option<String>,
    #[serde(default)]
    pub tracking_number: Option<String>,
    #[serde(default)]
    pub tracking_numbers: Vec<String>,
    #[serde(default)]
    pub line_items: Vec<RestFulfillmentLine>,
}

/// A line inside a fulfilment (Shopify repeats the whole line item there).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestFulfillmentLine {
    pub id: u64,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestDiscountCode {
    pub code: String,
    pub amount: Amount,
    #[serde(rename = "type", default)]
    pub kind: Option<String>,
}

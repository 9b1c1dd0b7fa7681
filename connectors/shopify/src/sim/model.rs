//! The simulated shop's orders: one in-memory model that both the GraphQL
//! schema and the REST-shaped webhook bodies render from. Totals are derived
//! from the lines here, so every rendering of an order adds up the same way.

use chrono::{DateTime, FixedOffset, Utc};
use rust_decimal::{Decimal, RoundingStrategy};

use crate::rest::{
    Money, MoneySet, RestAddress, RestCustomer, RestDiscountAllocation, RestDiscountCode,
    RestFulfillment, RestFulfillmentLine, RestLineItem, RestOrder, RestShippingLine, RestTaxLine,
};

/// The shop's time zone: Shopify renders REST timestamps in it.
pub(crate) fn shop_offset() -> FixedOffset {
    FixedOffset::west_opt(5 * 3600).expect("-05:00 is a valid offset")
}

/// A currency the simulated shop sells in (Shopify's `CurrencyCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum)]
#[graphql(name = "CurrencyCode")]
pub(crate) enum Currency {
    Usd,
    Eur,
    Gbp,
    Cad,
    Jpy,
    Chf,
    Aud,
    Brl,
    Pln,
    Sek,
    Dkk,
    Nok,
    Mxn,
}

impl Currency {
    pub(crate) fn code(self) -> &'static str {
        match self {
            Currency::Usd => "USD",
            Currency::Eur => "EUR",
            Currency::Gbp => "GBP",
            Currency::Cad => "CAD",
            Currency::Jpy => "JPY",
            Currency::Chf => "CHF",
            Currency::Aud => "AUD",
            Currency::Brl => "BRL",
            Currency::Pln => "PLN",
            Currency::Sek => "SEK",
            Currency::Dkk => "DKK",
            Currency::Nok => "NOK",
            Currency::Mxn => "MXN",
        }
    }

    /// ISO 4217 minor units.
    pub(crate) fn decimals(self) -> u32 {
        match self {
            Currency::Jpy => 0,
            _ => 2,
        }
    }

    /// Rounds an amount to the currency's minor unit, half away from zero.
    pub(crate) fn round(self, amount: Decimal) -> Decimal {
        let mut r =
            amount.round_dp_with_strategy(self.decimals(), RoundingStrategy::MidpointAwayFromZero);
        r.rescale(self.decimals());
        r
    }

    /// How REST writes an amount: always the currency's number of decimals.
    pub(crate) fn rest_amount(self, amount: Decimal) -> String {
        self.round(amount).to_string()
    }
}

/// A country the simulated customers live in (Shopify's `CountryCode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, async_graphql::Enum)]
#[graphql(name = "CountryCode")]
pub(crate) enum CountryCode {
    Us,
    Ca,
    Gb,
    De,
    Fr,
    Ch,
    Pl,
    Jp,
    Br,
    Au,
}

impl CountryCode {
    pub(crate) fn code(self) -> &'static str {
        match self {
            CountryCode::Us => "US",
            CountryCode::Ca => "CA",
            CountryCode::Gb => "GB",
            CountryCode::De => "DE",
            CountryCode::Fr => "FR",
            CountryCode::Ch => "CH",
            CountryCode::Pl => "PL",
            CountryCode::Jp => "JP",
            CountryCode::Br => "BR",
            CountryCode::Au => "AU",
        }
    }
}

/// Shopify's `OrderDisplayFinancialStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "OrderDisplayFinancialStatus")]
pub(crate) enum FinancialStatus {
    Pending,
    Authorized,
    PartiallyPaid,
    Paid,
    PartiallyRefunded,
    Refunded,
    Voided,
    Expired,
}

impl FinancialStatus {
    /// The REST `financial_status`.
    pub(crate) fn rest(self) -> &'static str {
        match self {
            FinancialStatus::Pending => "pending",
            FinancialStatus::Authorized => "authorized",
            FinancialStatus::PartiallyPaid => "partially_paid",
            FinancialStatus::Paid => "paid",
            FinancialStatus::PartiallyRefunded => "partially_refunded",
            FinancialStatus::Refunded => "refunded",
            FinancialStatus::Voided => "voided",
            FinancialStatus::Expired => "expired",
        }
    }
}

/// Shopify's `OrderDisplayFulfillmentStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "OrderDisplayFulfillmentStatus")]
pub(crate) enum DisplayFulfillmentStatus {
    Unfulfilled,
    PartiallyFulfilled,
    Fulfilled,
    Restocked,
    PendingFulfillment,
    Open,
    InProgress,
    OnHold,
    Scheduled,
    RequestDeclined,
}

impl DisplayFulfillmentStatus {
    /// The REST `fulfillment_status` (`null` while nothing is fulfilled).
    pub(crate) fn rest(self) -> Option<&'static str> {
        match self {
            DisplayFulfillmentStatus::PartiallyFulfilled => Some("partial"),
            DisplayFulfillmentStatus::Fulfilled => Some("fulfilled"),
            DisplayFulfillmentStatus::Restocked => Some("restocked"),
            _ => None,
        }
    }
}

/// Shopify's `OrderCancelReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "OrderCancelReason")]
pub(crate) enum CancelReason {
    Customer,
    Declined,
    Fraud,
    Inventory,
    Other,
    Staff,
}

impl CancelReason {
    pub(crate) fn rest(self) -> &'static str {
        match self {
            CancelReason::Customer => "customer",
            CancelReason::Declined => "declined",
            CancelReason::Fraud => "fraud",
            CancelReason::Inventory => "inventory",
            CancelReason::Other => "other",
            CancelReason::Staff => "staff",
        }
    }
}

/// Shopify's `FulfillmentStatus` (of one fulfilment, not of the order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "FulfillmentStatus")]
pub(crate) enum FulfillmentStatus {
    Cancelled,
    Error,
    Failure,
    Success,
    Open,
    Pending,
}

impl FulfillmentStatus {
    pub(crate) fn rest(self) -> &'static str {
        match self {
            FulfillmentStatus::Cancelled => "cancelled",
            FulfillmentStatus::Error => "error",
            FulfillmentStatus::Failure => "failure",
            FulfillmentStatus::Success => "success",
            FulfillmentStatus::Open => "open",
            FulfillmentStatus::Pending => "pending",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimCustomer {
    pub id: u64,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub phone: Option<String>,
}

impl SimCustomer {
    pub(crate) fn display_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimAddress {
    pub first_name: String,
    pub last_name: String,
    pub company: Option<String>,
    pub address1: String,
    pub address2: Option<String>,
    pub city: String,
    pub province: Option<String>,
    pub province_code: Option<String>,
    pub zip: String,
    pub country: String,
    pub country_code: CountryCode,
    pub phone: Option<String>,
}

impl SimAddress {
    pub(crate) fn name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimLine {
    pub id: u64,
    pub product_id: Option<u64>,
    pub variant_id: Option<u64>,
    /// `None` for custom items, which Shopify allows without a SKU.
    pub sku: Option<String>,
    pub title: String,
    pub variant_title: Option<String>,
    /// Unit price before discounts.
    pub unit_price: Decimal,
    pub quantity: u32,
    /// The quantity left after removals (cancelling restocks everything).
    pub current_quantity: u32,
    /// The discount allocated to this line (all units together).
    pub discount: Decimal,
    pub tax_title: String,
    pub tax_rate: Decimal,
    /// The tax on `total()`, rounded to the currency.
    pub tax: Decimal,
    pub requires_shipping: bool,
}

impl SimLine {
    /// Unit price × quantity.
    pub(crate) fn original_total(&self) -> Decimal {
        self.unit_price * Decimal::from(self.quantity)
    }

    /// After the line's discount.
    pub(crate) fn total(&self) -> Decimal {
        self.original_total() - self.discount
    }

    /// Shopify's line name: product title and variant title.
    pub(crate) fn name(&self) -> String {
        match &self.variant_title {
            Some(v) => format!("{} - {}", self.title, v),
            None => self.title.clone(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimShipping {
    pub id: u64,
    pub title: String,
    pub code: String,
    pub price: Decimal,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimDiscountCode {
    pub code: String,
    /// `percentage` or `fixed_amount`.
    pub kind: String,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimTracking {
    pub company: Option<String>,
    pub number: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimFulfillmentLine {
    /// The fulfilment line's own id (`gid://shopify/FulfillmentLineItem/N`).
    pub id: u64,
    pub line_item_id: u64,
    pub quantity: u32,
}

/// A fulfilment of some of an order's lines, created by `fulfillmentCreate`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimFulfillment {
    pub id: u64,
    pub status: FulfillmentStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub tracking: Vec<SimTracking>,
    pub lines: Vec<SimFulfillmentLine>,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SimOrder {
    pub id: u64,
    pub number: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub processed_at: DateTime<Utc>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<CancelReason>,
    pub closed_at: Option<DateTime<Utc>>,
    pub email: String,
    pub currency: Currency,
    pub financial_status: FinancialStatus,
    pub fulfillment_status: DisplayFulfillmentStatus,
    pub customer: SimCustomer,
    pub shipping_address: SimAddress,
    pub billing_address: SimAddress,
    pub lines: Vec<SimLine>,
    pub shipping: SimShipping,
    pub discount_code: Option<SimDiscountCode>,
    pub fulfillments: Vec<SimFulfillment>,
    pub tags: Vec<String>,
}

pub(crate) fn order_gid(id: u64) -> String {
    format!("gid://shopify/Order/{id}")
}

pub(crate) fn line_gid(id: u64) -> String {
    format!("gid://shopify/LineItem/{id}")
}

impl SimOrder {
    pub(crate) fn name(&self) -> String {
        format!("#{}", self.number)
    }

    /// Σ unit price × quantity.
    pub(crate) fn total_line_items_price(&self) -> Decimal {
        self.lines.iter().map(SimLine::original_total).sum()
    }

    /// Σ line totals after discounts.
    pub(crate) fn subtotal(&self) -> Decimal {
        self.lines.iter().map(SimLine::total).sum()
    }

    pub(crate) fn total_discounts(&self) -> Decimal {
        self.lines.iter().map(|l| l.discount).sum()
    }

    /// Σ line tax (shipping is untaxed in this shop).
    pub(crate) fn total_tax(&self) -> Decimal {
        self.lines.iter().map(|l| l.tax).sum()
    }

    pub(crate) fn total_shipping(&self) -> Decimal {
        self.shipping.price
    }

    /// Subtotal + shipping + tax (taxes are never included in prices here).
    pub(crate) fn total_price(&self) -> Decimal {
        self.subtotal() + self.total_shipping() + self.total_tax()
    }

    pub(crate) fn is_cancelled(&self) -> bool {
        self.cancelled_at.is_some()
    }

    /// The order as Shopify's REST API and `orders/*` webhooks show it.
    pub(crate) fn to_rest(&self) -> RestOrder {
        let cur = self.currency;
        let amount = |d: Decimal| cur.rest_amount(d);
        let at = |t: DateTime<Utc>| t.with_timezone(&shop_offset());
        let money_set = |d: Decimal| {
            let m = Money {
                amount: amount(d),
                currency_code: cur.code().to_owned(),
            };
            MoneySet {
                shop_money: m.clone(),
                presentment_money: Some(m),
            }
        };
        let discount_codes = match &self.discount_code {
            Some(code) if !self.total_discounts().is_zero() => vec![RestDiscountCode {
                code: code.code.clone(),
                amount: amount(self.total_discounts()),
                kind: Some(code.kind.clone()),
            }],
            _ => Vec::new(),
        };
        RestOrder {
            id: self.id,
            admin_graphql_api_id: Some(order_gid(self.id)),
            name: Some(self.name()),
            order_number: Some(self.number),
            email: Some(self.email.clone()),
            contact_email: Some(self.email.clone()),
            created_at: at(self.created_at),
            updated_at: at(self.updated_at),
            processed_at: Some(at(self.processed_at)),
            cancelled_at: self.cancelled_at.map(at),
            cancel_reason: self.cancel_reason.map(|r| r.rest().to_owned()),
            closed_at: self.closed_at.map(at),
            currency: cur.code().to_owned(),
            presentment_currency: Some(cur.code().to_owned()),
            financial_status: Some(self.financial_status.rest().to_owned()),
            fulfillment_status: self.fulfillment_status.rest().map(str::to_owned),
            taxes_included: Some(false),
            subtotal_price: Some(amount(self.subtotal())),
            total_line_items_price: Some(amount(self.total_line_items_price())),
            total_discounts: Some(amount(self.total_discounts())),
            total_tax: Some(amount(self.total_tax())),
            total_price: amount(self.total_price()),
            total_shipping_price_set: Some(money_set(self.total_shipping())),
            customer: Some(RestCustomer {
                id: Some(self.customer.id),
                email: Some(self.customer.email.clone()),
                first_name: Some(self.customer.first_name.clone()),
                last_name: Some(self.customer.last_name.clone()),
            }),
            shipping_address: Some(rest_address(&self.shipping_address)),
            billing_address: Some(rest_address(&self.billing_address)),
            line_items: self.lines.iter().map(|l| self.rest_line(l)).collect(),
            shipping_lines: vec![RestShippingLine {
                id: Some(self.shipping.id),
                title: Some(self.shipping.title.clone()),
                code: Some(self.shipping.code.clone()),
                price: amount(self.shipping.price),
                discounted_price: Some(amount(self.shipping.price)),
                tax_lines: Vec::new(),
            }],
            fulfillments: (0..self.fulfillments.len())
                .map(|i| self.rest_fulfillment(i))
                .collect(),
            discount_codes,
            tags: Some(self.tags.join(", ")),
            test: Some(false),
        }
    }

    /// Fulfilment `index` as REST shows it inside the order.
    fn rest_fulfillment(&self, index: usize) -> RestFulfillment {
        let f = &self.fulfillments[index];
        let at = |t: DateTime<Utc>| t.with_timezone(&shop_offset());
        let first = f.tracking.first();
        RestFulfillment {
            id: f.id,
            order_id: Some(self.id),
            admin_graphql_api_id: Some(format!("gid://shopify/Fulfillment/{}", f.id)),
            name: Some(format!("{}.{}", self.name(), index + 1)),
            created_at: Some(at(f.created_at)),
            updated_at: Some(at(f.updated_at)),
            status: Some(f.status.rest().to_owned()),
            location_id: Some(crate::sim::catalog::LOCATIONS[0].id),
            tracking_company: first.and_then(|t| t.company.clone()),
            tracking_number: first.and_then(|t| t.number.clone()),
            tracking_numbers: f.tracking.iter().filter_map(|t| t.number.clone()).collect(),
            line_items: f
                .lines
                .iter()
                .map(|l| RestFulfillmentLine {
                    id: l.line_item_id,
                    quantity: l.quantity,
                })
                .collect(),
        }
    }

    /// The body of a `fulfillments/create` webhook: the REST fulfilment, its
    /// lines as whole line items (as Shopify repeats them).
    pub(crate) fn rest_fulfillment_webhook(&self, index: usize) -> serde_json::Value {
        let rest = self.rest_fulfillment(index);
        let mut body = serde_json::to_value(&rest).expect("a REST fulfilment serializes");
        let lines: Vec<serde_json::Value> = self.fulfillments[index]
            .lines
            .iter()
            .filter_map(|fl| {
                let line = self.lines.iter().find(|l| l.id == fl.line_item_id)?;
                let mut v = serde_json::to_value(self.rest_line(line)).ok()?;
                v["quantity"] = fl.quantity.into();
                Some(v)
            })
            .collect();
        body["line_items"] = lines.into();
        body["service"] = "manual".into();
        body["shipment_status"] = serde_json::Value::Null;
        body
    }

    fn rest_line(&self, l: &SimLine) -> RestLineItem {
        let cur = self.currency;
        let fulfilled = self.fulfilled_quantity(l.id);
        let fulfillment_status = if fulfilled == 0 {
            None
        } else if fulfilled >= l.quantity {
            Some("fulfilled".to_owned())
        } else {
            Some("partial".to_owned())
        };
        RestLineItem {
            id: l.id,
            admin_graphql_api_id: Some(line_gid(l.id)),
            sku: l.sku.clone(),
            title: Some(l.title.clone()),
            name: Some(l.name()),
            variant_id: l.variant_id,
            variant_title: l.variant_title.clone(),
            quantity: l.quantity,
            current_quantity: Some(l.current_quantity),
            fulfillable_quantity: Some(l.current_quantity.saturating_sub(fulfilled)),
            fulfillment_status,
            price: cur.rest_amount(l.unit_price),
            total_discount: Some(cur.rest_amount(l.discount)),
            discount_allocations: if l.discount.is_zero() {
                Vec::new()
            } else {
                vec![RestDiscountAllocation {
                    amount: cur.rest_amount(l.discount),
                    discount_application_index: Some(0),
                }]
            },
            tax_lines: vec![RestTaxLine {
                price: cur.rest_amount(l.tax),
                rate: rust_decimal::prelude::ToPrimitive::to_f64(&l.tax_rate),
                title: Some(l.tax_title.clone()),
            }],
            requires_shipping: Some(l.requires_shipping),
        }
    }
}

fn rest_address(a: &SimAddress) -> RestAddress {
    RestAddress {
        first_name: Some(a.first_name.clone()),
        last_name: Some(a.last_name.clone()),
        name: Some(a.name()),
        company: a.company.clone(),
        address1: Some(a.address1.clone()),
        address2: a.address2.clone(),
        city: Some(a.city.clone()),
        province: a.province.clone(),
        province_code: a.province_code.clone(),
        zip: Some(a.zip.clone()),
        country: Some(a.country.clone()),
        country_code: Some(a.country_code.code().to_owned()),
        phone: a.phone.clone(),
    }
}

/// How Shopify's GraphQL `Decimal` scalar writes an amount: trailing zeros
/// dropped, but always one decimal (`"12.3"`, `"0.0"`, `"1200.0"`).
pub(crate) fn graphql_decimal(d: Decimal) -> String {
    let n = d.normalize();
    if n.scale() == 0 {
        format!("{n}.0")
    } else {
        n.to_string()
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn check_rest(cur: Currency, input: &str, expect: &str) {
        assert_eq!(
            cur.rest_amount(Decimal::from_str(input).unwrap()),
            expect,
            "{cur:?} {input}"
        );
    }

    #[test]
    fn rest_amounts_use_the_currency_decimals() {
        check_rest(Currency::Usd, "12.3", "12.30");
        check_rest(Currency::Usd, "0", "0.00");
        check_rest(Currency::Usd, "1.005", "1.01");
        check_rest(Currency::Eur, "-2.345", "-2.35");
        check_rest(Currency::Jpy, "1200", "1200");
        check_rest(Currency::Jpy, "1249.5", "1250");
    }

    #[test]
    fn graphql_decimals_look_like_shopify() {
        for (input, expect) in [
            ("12.30", "12.3"),
            ("0.00", "0.0"),
            ("1200", "1200.0"),
            ("19.99", "19.99"),
        ] {
            assert_eq!(graphql_decimal(Decimal::from_str(input).unwrap()), expect);
        }
    }
}

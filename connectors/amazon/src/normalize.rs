//! Maps an Orders v0 order and its items to the canonical `ChannelOrder`.
//! Amounts are Amazon's decimal strings, kept exact; fields Amazon leaves
//! out (restricted buyer data, the address of a pending order) stay null.
//!
//! How Amazon's amounts become chansync's:
//! - line `unit_price` = `ItemPrice` ÷ `QuantityOrdered` (Amazon's
//!   `ItemPrice` is the price of the whole quantity), `discount` =
//!   `PromotionDiscount`, `total` = `ItemPrice − PromotionDiscount`, `tax` =
//!   `ItemTax − PromotionDiscountTax`;
//! - `subtotal` = Σ line totals; `shipping_total` = Σ (`ShippingPrice −
//!   ShippingDiscount`); `tax_total` = Σ line tax + Σ (`ShippingTax −
//!   ShippingDiscountTax`); `discount_total` = Σ (`PromotionDiscount +
//!   ShippingDiscount`), already taken off `subtotal` and `shipping_total`;
//! - `total` = `OrderTotal`, which is `subtotal + shipping_total + tax_total`
//!   where tax is added on top (US, CA) and `subtotal + shipping_total` where
//!   prices include it (the VAT stores); without `OrderTotal` (a pending
//!   order) the same sum is computed.
//!
//! Statuses: `PendingAvailability`, `Pending` → open, payment pending;
//! `Unshipped` → open, authorized; `PartiallyShipped` → partially
//! fulfilled, authorized; `Shipped`, `InvoiceUnconfirmed` → fulfilled, paid
//! (Amazon charges the buyer when the items ship); `Canceled` → cancelled,
//! voided (nothing was charged); `Unfulfillable` → cancelled, payment
//! unknown. `FulfillmentChannel` `AFN` → fulfilled by the channel (recorded,
//! not routed), `MFN` → the merchant.

use std::str::FromStr;

use chansync_sdk::model::{
    bounded_amount, Address, ChannelLine, ChannelOrder, ChannelStatus, CountryCode, Currency,
    Customer, FulfilledBy, PaymentStatus,
};
use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;

use crate::marketplace;
use crate::wire::{self, Money, Order, OrderItem};

/// An Amazon order that cannot be mapped.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NormalizeError(pub String);

fn err(msg: impl Into<String>) -> NormalizeError {
    NormalizeError(msg.into())
}

/// Amazon's order status as the channel's lifecycle.
pub fn channel_status(order_status: &str) -> ChannelStatus {
    match order_status {
        "PartiallyShipped" => ChannelStatus::PartiallyFulfilled,
        "Shipped" | "InvoiceUnconfirmed" => ChannelStatus::Fulfilled,
        "Canceled" | "Unfulfillable" => ChannelStatus::Cancelled,
        // Pending, PendingAvailability, Unshipped and any status added later.
        _ => ChannelStatus::Open,
    }
}

/// Amazon's order status as a payment status.
pub fn payment_status(order_status: &str) -> PaymentStatus {
    match order_status {
        "Pending" | "PendingAvailability" => PaymentStatus::Pending,
        "Unshipped" | "PartiallyShipped" => PaymentStatus::Authorized,
        "Shipped" | "InvoiceUnconfirmed" => PaymentStatus::Paid,
        "Canceled" => PaymentStatus::Voided,
        _ => PaymentStatus::Unknown,
    }
}

/// Who ships: `AFN` is Amazon (FBA), anything else the merchant.
pub fn fulfilled_by(fulfillment_channel: Option<&str>) -> FulfilledBy {
    match fulfillment_channel {
        Some("AFN") => FulfilledBy::Channel,
        _ => FulfilledBy::Merchant,
    }
}

/// Reads an Orders v0 date-time.
pub fn timestamp(field: &str, s: &str) -> Result<DateTime<FixedOffset>, NormalizeError> {
    DateTime::parse_from_rfc3339(s.trim())
        .map_err(|e| err(format!("{field}: {s:?} is not an ISO 8601 date-time: {e}")))
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Reads amounts, checking they are all in the order's currency.
struct Amounts<'a> {
    currency: &'a Currency,
}

impl Amounts<'_> {
    /// The amount, or zero when Amazon leaves it out.
    fn get(&self, field: &str, m: Option<&Money>) -> Result<Decimal, NormalizeError> {
        let Some(m) = m else {
            return Ok(Decimal::ZERO);
        };
        if let Some(code) = m.currency_code.as_deref().filter(|c| !c.is_empty()) {
            if !code.eq_ignore_ascii_case(self.currency.as_str()) {
                return Err(err(format!(
                    "{field} is in {code}, the order in {}",
                    self.currency
                )));
            }
        }
        match m.amount.as_deref().map(str::trim) {
            None | Some("") => Ok(Decimal::ZERO),
            Some(a) => Decimal::from_str(a)
                .map_err(|e| err(format!("{field}: {a:?} is not a decimal: {e}")))
                .and_then(|d| bounded_amount(d).map_err(|e| err(format!("{field}: {e}")))),
        }
    }
}

/// The order's currency: `OrderTotal`'s, else its items' prices', else its
/// marketplace's.
fn currency_of(order: &Order, items: &[OrderItem]) -> Result<Currency, NormalizeError> {
    let from_items = items.iter().find_map(|i| {
        [&i.item_price, &i.shipping_price, &i.item_tax]
            .into_iter()
            .flatten()
            .find_map(|m| non_empty(m.currency_code.as_deref()))
    });
    let code = order
        .order_total
        .as_ref()
        .and_then(|m| non_empty(m.currency_code.as_deref()))
        .or(from_items)
        .or_else(|| {
            order
                .marketplace_id
                .as_deref()
                .and_then(marketplace::by_id)
                .map(|m| m.currency.to_owned())
        })
        .ok_or_else(|| {
            err("no currency: no OrderTotal, no item price and an unknown MarketplaceId")
        })?;
    code.parse().map_err(|e| err(format!("currency: {e}")))
}

fn address(a: &wire::Address) -> Option<Address> {
    let country_code = CountryCode::from_str(a.country_code.as_deref()?.trim()).ok()?;
    let line2 = [a.address_line2.as_deref(), a.address_line3.as_deref()]
        .into_iter()
        .filter_map(non_empty)
        .collect::<Vec<_>>()
        .join(", ");
    Some(Address {
        name: non_empty(a.name.as_deref()).unwrap_or_default(),
        line1: non_empty(a.address_line1.as_deref()).unwrap_or_default(),
        line2: non_empty(Some(&line2)),
        city: non_empty(a.city.as_deref()).unwrap_or_default(),
        region: non_empty(a.state_or_region.as_deref()),
        postal_code: non_empty(a.postal_code.as_deref()).unwrap_or_default(),
        country_code,
    })
}

/// `ItemPrice ÷ quantity`: exact for every real price (a whole number of
/// minor units per unit); otherwise rounded two places past the currency's
/// minor units.
fn unit_price(price: Decimal, quantity: u32, currency: &Currency) -> Decimal {
    if quantity == 0 {
        return price;
    }
    let q = Decimal::from(quantity);
    let unit = price / q;
    // Products of short decimals are exact; a 28-digit quotient's is not.
    let short = unit.round_dp(price.scale().max(currency.minor_units()) + 6);
    if short * q == price {
        short
    } else {
        unit.round_dp(currency.minor_units() + 2)
    }
}

/// What one item adds to the order's totals.
struct ItemSums {
    line: ChannelLine,
    shipping: Decimal,
    shipping_tax: Decimal,
    shipping_discount: Decimal,
}

fn item(i: &OrderItem, amounts: &Amounts<'_>) -> Result<ItemSums, NormalizeError> {
    let f = |name: &str| format!("OrderItem {} {name}", i.order_item_id);
    let price = amounts.get(&f("ItemPrice"), i.item_price.as_ref())?;
    let discount = amounts.get(&f("PromotionDiscount"), i.promotion_discount.as_ref())?;
    let tax = amounts.get(&f("ItemTax"), i.item_tax.as_ref())?
        - amounts.get(
            &f("PromotionDiscountTax"),
            i.promotion_discount_tax.as_ref(),
        )?;
    let shipping_discount = amounts.get(&f("ShippingDiscount"), i.shipping_discount.as_ref())?;
    let shipping = amounts.get(&f("ShippingPrice"), i.shipping_price.as_ref())? - shipping_discount;
    let shipping_tax = amounts.get(&f("ShippingTax"), i.shipping_tax.as_ref())?
        - amounts.get(&f("ShippingDiscountTax"), i.shipping_discount_tax.as_ref())?;
    let line = ChannelLine {
        external_id: i.order_item_id.clone(),
        channel_sku: non_empty(i.seller_sku.as_deref()),
        title: non_empty(i.title.as_deref()).unwrap_or_else(|| i.asin.clone()),
        quantity: i.quantity_ordered,
        unit_price: unit_price(price, i.quantity_ordered, amounts.currency),
        total: price - discount,
        tax,
        discount,
    };
    Ok(ItemSums {
        line,
        shipping,
        shipping_tax,
        shipping_discount,
    })
}

/// Whether the order's prices include its tax: what `OrderTotal` shows when
/// it tells, else what the marketplace does, else not.
pub fn prices_include_tax(
    order: &Order,
    subtotal: Decimal,
    shipping: Decimal,
    tax: Decimal,
    total: Option<Decimal>,
) -> bool {
    if let Some(total) = total.filter(|_| !tax.is_zero()) {
        if total == subtotal + shipping {
            return true;
        }
        if total == subtotal + shipping + tax {
            return false;
        }
    }
    order
        .marketplace_id
        .as_deref()
        .and_then(marketplace::by_id)
        .is_some_and(|m| m.prices_include_tax)
}

/// Maps an order with all its items.
pub fn to_channel_order(
    order: &Order,
    items: &[OrderItem],
) -> Result<ChannelOrder, NormalizeError> {
    let currency = currency_of(order, items)?;
    let amounts = Amounts {
        currency: &currency,
    };
    let mut lines = Vec::with_capacity(items.len());
    let (mut shipping, mut tax, mut discount) = (Decimal::ZERO, Decimal::ZERO, Decimal::ZERO);
    for i in items {
        let s = item(i, &amounts)?;
        shipping += s.shipping;
        tax += s.line.tax + s.shipping_tax;
        discount += s.line.discount + s.shipping_discount;
        lines.push(s.line);
    }
    let subtotal: Decimal = lines.iter().map(|l| l.total).sum();
    let order_total = match &order.order_total {
        Some(m) if m.amount.as_deref().is_some_and(|a| !a.trim().is_empty()) => {
            Some(amounts.get("OrderTotal", Some(m))?)
        }
        _ => None,
    };
    let total = match order_total {
        Some(t) => t,
        None if prices_include_tax(order, subtotal, shipping, tax, None) => subtotal + shipping,
        None => subtotal + shipping + tax,
    };
    let mut out = ChannelOrder {
        external_id: order.amazon_order_id.clone(),
        external_number: None,
        status: channel_status(&order.order_status),
        payment_status: payment_status(&order.order_status),
        fulfilled_by: fulfilled_by(order.fulfillment_channel.as_deref()),
        currency,
        subtotal,
        shipping_total: shipping,
        tax_total: tax,
        discount_total: discount,
        total,
        placed_at: timestamp("PurchaseDate", &order.purchase_date)?,
        updated_at: timestamp("LastUpdateDate", &order.last_update_date)?,
        customer: Customer {
            name: order
                .buyer_info
                .as_ref()
                .and_then(|b| non_empty(b.buyer_name.as_deref())),
            email: order
                .buyer_info
                .as_ref()
                .and_then(|b| non_empty(b.buyer_email.as_deref())),
        },
        shipping_address: order.shipping_address.as_ref().and_then(address),
        lines,
        // Orders v0 does not list packages; what shipped shows in the status.
        fulfillments: Vec::new(),
    };
    out.canonicalize_amounts();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn money(amount: &str) -> Option<Money> {
        Some(Money {
            currency_code: Some("EUR".into()),
            amount: Some(amount.into()),
        })
    }

    fn order(total: Option<&str>, marketplace: &str) -> Order {
        serde_json::from_value(serde_json::json!({
            "AmazonOrderId": "302-0000001-0000001",
            "PurchaseDate": "2026-03-01T10:00:00Z",
            "LastUpdateDate": "2026-03-01T11:00:00Z",
            "OrderStatus": "Unshipped",
            "FulfillmentChannel": "MFN",
            "MarketplaceId": marketplace,
            "OrderTotal": total.map(|t| serde_json::json!({"CurrencyCode": "EUR", "Amount": t})),
        }))
        .unwrap()
    }

    fn item(id: &str, qty: u32, price: &str, tax: &str, discount: &str) -> OrderItem {
        OrderItem {
            asin: "B000000001".into(),
            seller_sku: Some("SKU-1".into()),
            order_item_id: id.into(),
            title: None,
            quantity_ordered: qty,
            quantity_shipped: Some(0),
            item_price: money(price),
            shipping_price: money("4.99"),
            item_tax: money(tax),
            shipping_tax: money("0.80"),
            shipping_discount: money("0.00"),
            shipping_discount_tax: None,
            promotion_discount: money(discount),
            promotion_discount_tax: money("0.00"),
            is_gift: None,
            condition_id: None,
        }
    }

    #[test]
    fn statuses_map_as_documented() {
        let check = |s, c, p| {
            assert_eq!(channel_status(s), c, "{s}");
            assert_eq!(payment_status(s), p, "{s}");
        };
        use ChannelStatus as C;
        use PaymentStatus as P;
        check("PendingAvailability", C::Open, P::Pending);
        check("Pending", C::Open, P::Pending);
        check("Unshipped", C::Open, P::Authorized);
        check("PartiallyShipped", C::PartiallyFulfilled, P::Authorized);
        check("Shipped", C::Fulfilled, P::Paid);
        check("InvoiceUnconfirmed", C::Fulfilled, P::Paid);
        check("Canceled", C::Cancelled, P::Voided);
        check("Unfulfillable", C::Cancelled, P::Unknown);
        assert_eq!(fulfilled_by(Some("AFN")), FulfilledBy::Channel);
        assert_eq!(fulfilled_by(Some("MFN")), FulfilledBy::Merchant);
        assert_eq!(fulfilled_by(None), FulfilledBy::Merchant);
    }

    #[test]
    fn vat_inclusive_totals_add_up_without_adding_tax() {
        // 2 × 12.50 incl. 19% VAT (3.99), 2.50 off; shipping 4.99 incl. 0.80.
        let items = [item("1", 2, "25.00", "3.99", "2.50")];
        let o = to_channel_order(&order(Some("27.49"), "A1PA6795UKMFR9"), &items).unwrap();
        let l = &o.lines[0];
        assert_eq!(l.unit_price.to_string(), "12.50");
        assert_eq!(l.total.to_string(), "22.50");
        assert_eq!(
            l.total,
            l.unit_price * Decimal::from(l.quantity) - l.discount
        );
        assert_eq!(o.subtotal.to_string(), "22.50");
        assert_eq!(o.shipping_total.to_string(), "4.99");
        assert_eq!(o.tax_total.to_string(), "4.79");
        assert_eq!(o.total, o.subtotal + o.shipping_total);
        assert_eq!(l.title, "B000000001", "no title: the ASIN");
    }

    #[test]
    fn without_order_total_the_marketplace_decides_how_tax_counts() {
        let items = [item("1", 3, "30.00", "3.00", "0")];
        let de = to_channel_order(&order(None, "A1PA6795UKMFR9"), &items).unwrap();
        assert_eq!(de.total.to_string(), "34.99");
        let unknown = to_channel_order(&order(None, "XXXXXXXX"), &items).unwrap();
        assert_eq!(unknown.total.to_string(), "38.79");
    }

    #[test]
    fn inexact_unit_prices_are_rounded_past_the_minor_units() {
        let c: Currency = "EUR".parse().unwrap();
        assert_eq!(
            unit_price("10.00".parse().unwrap(), 3, &c).to_string(),
            "3.3333"
        );
        assert_eq!(
            unit_price("9.99".parse().unwrap(), 3, &c).to_string(),
            "3.33"
        );
        assert_eq!(
            unit_price("5.00".parse().unwrap(), 0, &c).to_string(),
            "5.00"
        );
    }

    #[test]
    fn a_foreign_currency_amount_is_refused() {
        let mut i = item("1", 1, "10.00", "0", "0");
        i.item_tax = Some(Money {
            currency_code: Some("USD".into()),
            amount: Some("1.00".into()),
        });
        let e = to_channel_order(&order(Some("10"), "A1PA6795UKMFR9"), &[i]).unwrap_err();
        assert!(e.0.contains("ItemTax is in USD"), "{e}");
    }
}

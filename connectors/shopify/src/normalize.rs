//! Maps Shopify's order JSON — the webhook's REST shape and the GraphQL shape
//! the poller reads — to the canonical `ChannelOrder`. Amounts are the shop's
//! money, kept as the decimals Shopify wrote; nothing missing is invented.

use std::str::FromStr;

use chansync_sdk::model::{
    bounded_amount, Address, ChannelLine, ChannelOrder, ChannelStatus, CountryCode, Currency,
    Customer, FulfilledBy, Fulfillment, FulfillmentLine, PaymentStatus,
};
use rust_decimal::Decimal;

use crate::graphql::{gid_tail, GqlAddress, GqlLineItem, GqlOrder, MoneyBag};
use crate::rest::{RestAddress, RestLineItem, RestOrder};

/// A Shopify order that cannot be mapped.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NormalizeError(pub String);

fn dec(field: &str, s: &str) -> Result<Decimal, NormalizeError> {
    Decimal::from_str(s.trim())
        .map_err(|e| NormalizeError(format!("{field}: {s:?} is not a decimal: {e}")))
        .and_then(|d| bounded_amount(d).map_err(|e| NormalizeError(format!("{field}: {e}"))))
}

fn opt_dec(field: &str, s: Option<&str>) -> Result<Option<Decimal>, NormalizeError> {
    s.map(|s| dec(field, s)).transpose()
}

fn money(field: &str, bag: &MoneyBag) -> Result<Decimal, NormalizeError> {
    dec(field, &bag.shop_money.amount)
}

fn currency(s: &str) -> Result<Currency, NormalizeError> {
    s.parse()
        .map_err(|e| NormalizeError(format!("currency: {e}")))
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Shopify's financial status (REST lower case or GraphQL upper case).
pub fn payment_status(s: Option<&str>) -> PaymentStatus {
    match s.map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("pending") | Some("partially_paid") => PaymentStatus::Pending,
        Some("authorized") => PaymentStatus::Authorized,
        Some("paid") => PaymentStatus::Paid,
        Some("partially_refunded") => PaymentStatus::PartiallyRefunded,
        Some("refunded") => PaymentStatus::Refunded,
        Some("voided") | Some("expired") => PaymentStatus::Voided,
        _ => PaymentStatus::Unknown,
    }
}

/// Shopify's fulfilment status and cancellation, as the channel's lifecycle.
pub fn channel_status(cancelled: bool, fulfillment: Option<&str>) -> ChannelStatus {
    if cancelled {
        return ChannelStatus::Cancelled;
    }
    match fulfillment.map(|s| s.to_ascii_lowercase()).as_deref() {
        Some("fulfilled") => ChannelStatus::Fulfilled,
        Some("partial") | Some("partially_fulfilled") => ChannelStatus::PartiallyFulfilled,
        _ => ChannelStatus::Open,
    }
}

fn rest_address(a: &RestAddress) -> Option<Address> {
    let country_code = CountryCode::from_str(a.country_code.as_deref()?).ok()?;
    let name = non_empty(a.name.as_deref()).unwrap_or_else(|| {
        [a.first_name.as_deref(), a.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    });
    Some(Address {
        name,
        line1: a.address1.clone().unwrap_or_default(),
        line2: non_empty(a.address2.as_deref()),
        city: a.city.clone().unwrap_or_default(),
        region: non_empty(a.province_code.as_deref()).or_else(|| non_empty(a.province.as_deref())),
        postal_code: a.zip.clone().unwrap_or_default(),
        country_code,
    })
}

fn rest_line(l: &RestLineItem) -> Result<ChannelLine, NormalizeError> {
    let unit_price = dec("line_items.price", &l.price)?;
    let discount = if l.discount_allocations.is_empty() {
        opt_dec("line_items.total_discount", l.total_discount.as_deref())?.unwrap_or_default()
    } else {
        l.discount_allocations
            .iter()
            .map(|d| dec("line_items.discount_allocations.amount", &d.amount))
            .sum::<Result<Decimal, _>>()?
    };
    let tax = l
        .tax_lines
        .iter()
        .map(|t| dec("line_items.tax_lines.price", &t.price))
        .sum::<Result<Decimal, _>>()?;
    Ok(ChannelLine {
        external_id: l.id.to_string(),
        channel_sku: non_empty(l.sku.as_deref()),
        title: l
            .title
            .clone()
            .or_else(|| l.name.clone())
            .unwrap_or_default(),
        quantity: l.quantity,
        unit_price,
        total: unit_price * Decimal::from(l.quantity) - discount,
        tax,
        discount,
    })
}

/// Maps a webhook's (REST-shaped) order.
pub fn from_rest(o: &RestOrder) -> Result<ChannelOrder, NormalizeError> {
    let lines = o
        .line_items
        .iter()
        .map(rest_line)
        .collect::<Result<Vec<_>, _>>()?;
    let subtotal = match opt_dec("subtotal_price", o.subtotal_price.as_deref())? {
        Some(s) => s,
        None => lines.iter().map(|l| l.total).sum(),
    };
    let shipping_total = match &o.total_shipping_price_set {
        Some(set) => dec("total_shipping_price_set", &set.shop_money.amount)?,
        None => o
            .shipping_lines
            .iter()
            .map(|s| {
                dec(
                    "shipping_lines.price",
                    s.discounted_price.as_deref().unwrap_or(&s.price),
                )
            })
            .sum::<Result<Decimal, _>>()?,
    };
    let customer_name = o.customer.as_ref().and_then(|c| {
        let n = [c.first_name.as_deref(), c.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        non_empty(Some(&n))
    });
    let email = non_empty(o.email.as_deref())
        .or_else(|| non_empty(o.contact_email.as_deref()))
        .or_else(|| {
            o.customer
                .as_ref()
                .and_then(|c| non_empty(c.email.as_deref()))
        });
    let fulfillments = o
        .fulfillments
        .iter()
        .filter(|f| !matches!(f.status.as_deref(), Some("cancelled" | "error" | "failure")))
        .map(|f| Fulfillment {
            location: None,
            carrier: non_empty(f.tracking_company.as_deref()),
            tracking: non_empty(f.tracking_number.as_deref())
                .or_else(|| f.tracking_numbers.first().cloned()),
            lines: f
                .line_items
                .iter()
                .map(|l| FulfillmentLine {
                    external_id: l.id.to_string(),
                    quantity: l.quantity,
                })
                .collect(),
        })
        .collect();
    Ok(ChannelOrder {
        external_id: o.id.to_string(),
        external_number: non_empty(o.name.as_deref()),
        status: channel_status(o.cancelled_at.is_some(), o.fulfillment_status.as_deref()),
        payment_status: payment_status(o.financial_status.as_deref()),
        fulfilled_by: FulfilledBy::Merchant,
        currency: currency(&o.currency)?,
        subtotal,
        shipping_total,
        tax_total: opt_dec("total_tax", o.total_tax.as_deref())?.unwrap_or_default(),
        discount_total: opt_dec("total_discounts", o.total_discounts.as_deref())?
            .unwrap_or_default(),
        total: dec("total_price", &o.total_price)?,
        placed_at: o.processed_at.unwrap_or(o.created_at),
        updated_at: o.updated_at,
        customer: Customer {
            name: customer_name.or_else(|| {
                o.shipping_address
                    .as_ref()
                    .and_then(|a| non_empty(a.name.as_deref()))
            }),
            email,
        },
        shipping_address: o.shipping_address.as_ref().and_then(rest_address),
        lines,
        fulfillments,
    })
}

fn gql_address(a: &GqlAddress) -> Option<Address> {
    let country_code = CountryCode::from_str(a.country_code_v2.as_deref()?).ok()?;
    Some(Address {
        name: a.name.clone().unwrap_or_default(),
        line1: a.address1.clone().unwrap_or_default(),
        line2: non_empty(a.address2.as_deref()),
        city: a.city.clone().unwrap_or_default(),
        region: non_empty(a.province_code.as_deref()),
        postal_code: a.zip.clone().unwrap_or_default(),
        country_code,
    })
}

/// Maps one GraphQL line item.
pub fn gql_line(l: &GqlLineItem) -> Result<ChannelLine, NormalizeError> {
    let tax = l
        .tax_lines
        .iter()
        .map(|t| money("lineItems.taxLines.priceSet", &t.price_set))
        .sum::<Result<Decimal, _>>()?;
    Ok(ChannelLine {
        external_id: gid_tail(&l.id).to_owned(),
        channel_sku: non_empty(l.sku.as_deref()),
        title: l.title.clone(),
        quantity: l.quantity,
        unit_price: money("lineItems.originalUnitPriceSet", &l.original_unit_price_set)?,
        total: money("lineItems.discountedTotalSet", &l.discounted_total_set)?,
        tax,
        discount: money("lineItems.totalDiscountSet", &l.total_discount_set)?,
    })
}

/// Maps a polled (GraphQL) order whose line items are all in `lines`.
pub fn from_graphql(o: &GqlOrder, lines: &[GqlLineItem]) -> Result<ChannelOrder, NormalizeError> {
    let lines = lines.iter().map(gql_line).collect::<Result<Vec<_>, _>>()?;
    let subtotal = match &o.subtotal_price_set {
        Some(s) => money("subtotalPriceSet", s)?,
        None => lines.iter().map(|l| l.total).sum(),
    };
    let fulfillments = o
        .fulfillments
        .iter()
        .filter(|f| !matches!(f.status.as_deref(), Some("CANCELLED" | "ERROR" | "FAILURE")))
        .map(|f| {
            let info = f.tracking_info.first();
            Fulfillment {
                location: None,
                carrier: info.and_then(|i| non_empty(i.company.as_deref())),
                tracking: info.and_then(|i| non_empty(i.number.as_deref())),
                lines: f
                    .fulfillment_line_items
                    .nodes
                    .iter()
                    .map(|l| FulfillmentLine {
                        external_id: gid_tail(&l.line_item.id).to_owned(),
                        quantity: l.quantity,
                    })
                    .collect(),
            }
        })
        .collect();
    Ok(ChannelOrder {
        external_id: o.legacy_resource_id.clone(),
        external_number: non_empty(Some(&o.name)),
        status: channel_status(
            o.cancelled_at.is_some(),
            Some(&o.display_fulfillment_status),
        ),
        payment_status: payment_status(o.display_financial_status.as_deref()),
        fulfilled_by: FulfilledBy::Merchant,
        currency: currency(&o.currency_code)?,
        subtotal,
        shipping_total: money("totalShippingPriceSet", &o.total_shipping_price_set)?,
        tax_total: o
            .total_tax_set
            .as_ref()
            .map(|m| money("totalTaxSet", m))
            .transpose()?
            .unwrap_or_default(),
        discount_total: o
            .total_discounts_set
            .as_ref()
            .map(|m| money("totalDiscountsSet", m))
            .transpose()?
            .unwrap_or_default(),
        total: money("totalPriceSet", &o.total_price_set)?,
        placed_at: o.processed_at.unwrap_or(o.created_at),
        updated_at: o.updated_at,
        customer: Customer {
            name: o
                .customer
                .as_ref()
                .and_then(|c| non_empty(c.display_name.as_deref())),
            email: non_empty(o.email.as_deref()).or_else(|| {
                o.customer
                    .as_ref()
                    .and_then(|c| non_empty(c.email.as_deref()))
            }),
        },
        shipping_address: o.shipping_address.as_ref().and_then(gql_address),
        lines,
        fulfillments,
    })
}

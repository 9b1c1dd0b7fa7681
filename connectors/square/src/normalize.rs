//! Maps a Square `Order` to the canonical `ChannelOrder`. Square writes money
//! as integer minor units; each amount becomes an exact decimal with the
//! currency's ISO 4217 decimals (USD 1599 → 15.99, JPY 1599 → 1599). Line
//! items name catalog variations; the caller says which SKU each one has.
//! Nothing Square leaves out is invented.

use std::str::FromStr;

use chansync_sdk::model::{
    bounded_amount, bounded_quantity, Address, ChannelLine, ChannelOrder, ChannelStatus,
    CountryCode, Currency, Customer, FulfilledBy, Fulfillment, FulfillmentLine, PaymentStatus,
};
use rust_decimal::Decimal;

use crate::wire::{self, Money, Order};

/// A Square order that cannot be mapped.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct NormalizeError(pub String);

/// An amount of minor units as a decimal in `currency`: exact, never a float.
pub fn minor_to_decimal(amount: i64, currency: &Currency) -> Decimal {
    Decimal::new(amount, currency.minor_units())
}

/// A `Money` in the order's currency (a money without a currency is taken
/// to be in it; another currency is an error).
pub fn money(field: &str, m: &Money, currency: &Currency) -> Result<Decimal, NormalizeError> {
    if let Some(c) = m.currency.as_deref() {
        if !c.eq_ignore_ascii_case(currency.as_str()) {
            return Err(NormalizeError(format!(
                "{field}: {c} in an order in {currency}"
            )));
        }
    }
    bounded_amount(minor_to_decimal(m.amount, currency))
        .map_err(|e| NormalizeError(format!("{field}: {e}")))
}

fn opt_money(
    field: &str,
    m: Option<&Money>,
    currency: &Currency,
) -> Result<Decimal, NormalizeError> {
    match m {
        Some(m) => money(field, m, currency),
        None => Ok(Decimal::ZERO),
    }
}

fn non_empty(s: Option<&str>) -> Option<String> {
    s.map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

fn quantity(field: &str, s: &str) -> Result<Decimal, NormalizeError> {
    Decimal::from_str(s.trim())
        .map_err(|e| NormalizeError(format!("{field}: {s:?} is not a decimal: {e}")))
        .and_then(|q| bounded_quantity(q).map_err(|e| NormalizeError(format!("{field}: {e}"))))
}

/// The order's currency: that of its total, else of its first priced line.
pub fn order_currency(o: &Order) -> Result<Currency, NormalizeError> {
    let code = o
        .total_money
        .as_ref()
        .and_then(|m| m.currency.clone())
        .or_else(|| {
            o.line_items.iter().find_map(|l| {
                [&l.base_price_money, &l.total_money]
                    .into_iter()
                    .flatten()
                    .find_map(|m| m.currency.clone())
            })
        })
        .ok_or_else(|| NormalizeError(format!("order {}: no currency in any amount", o.id)))?;
    code.parse()
        .map_err(|e| NormalizeError(format!("order {}: {e}", o.id)))
}

fn is_live(f: &wire::Fulfillment) -> bool {
    !matches!(f.state.as_deref(), Some("CANCELED" | "FAILED"))
}

/// Square's order state and fulfilments as the channel's lifecycle.
///
/// A `COMPLETED` order is fulfilled: an in-store sale is completed when it
/// is paid and handed over; an online order once its fulfilments are done.
pub fn channel_status(o: &Order) -> ChannelStatus {
    match o.state.as_deref() {
        Some("CANCELED") => ChannelStatus::Cancelled,
        Some("COMPLETED") => ChannelStatus::Fulfilled,
        // OPEN, and DRAFT (not yet placed) should one be fetched.
        _ => {
            let live: Vec<_> = o.fulfillments.iter().filter(|f| is_live(f)).collect();
            let done = live
                .iter()
                .filter(|f| f.state.as_deref() == Some("COMPLETED"))
                .count();
            match done {
                0 => ChannelStatus::Open,
                n if n == live.len() => ChannelStatus::Fulfilled,
                _ => ChannelStatus::PartiallyFulfilled,
            }
        }
    }
}

/// How the order is paid, from its tenders (card status; other tenders are
/// taken when recorded) and its refunds.
pub fn payment_status(o: &Order) -> PaymentStatus {
    let amount = |m: &Option<Money>| m.as_ref().map_or(0, |m| m.amount);
    // In i128: no count of i64 amounts can overflow it.
    let (mut captured, mut authorized, mut voided) = (0i128, 0i128, 0i64);
    for t in &o.tenders {
        let a = i128::from(amount(&t.amount_money));
        match t.card_details.as_ref().and_then(|c| c.status.as_deref()) {
            Some("AUTHORIZED") => authorized += a,
            Some("VOIDED") => voided += 1,
            Some("FAILED") => {}
            _ => captured += a,
        }
    }
    let refunded: i128 = o
        .refunds
        .iter()
        .filter(|r| matches!(r.status.as_deref(), Some("APPROVED" | "PENDING") | None))
        .map(|r| i128::from(amount(&r.amount_money)))
        .sum();
    let total = i128::from(amount(&o.total_money));
    if refunded > 0 {
        if refunded >= captured {
            PaymentStatus::Refunded
        } else {
            PaymentStatus::PartiallyRefunded
        }
    } else if captured > 0 && captured >= total {
        PaymentStatus::Paid
    } else if captured > 0 {
        PaymentStatus::Pending
    } else if authorized > 0 {
        PaymentStatus::Authorized
    } else if voided > 0 || o.state.as_deref() == Some("CANCELED") {
        PaymentStatus::Voided
    } else if total == 0 && o.state.as_deref() == Some("COMPLETED") {
        PaymentStatus::Paid
    } else if o.state.as_deref() == Some("COMPLETED") {
        // Closed without a tender Square knows of (paid outside Square).
        PaymentStatus::Unknown
    } else {
        PaymentStatus::Pending
    }
}

/// Whether a service charge is the order's shipping: Square has no shipping
/// line, online orders carry shipping as a service charge named for it.
pub fn is_shipping_charge(sc: &wire::ServiceCharge) -> bool {
    let name = sc.name.as_deref().unwrap_or("").to_lowercase();
    ["shipping", "delivery", "postage", "freight"]
        .iter()
        .any(|w| name.contains(w))
}

/// The catalog variation ids an order's lines name, for SKU lookup.
pub fn variation_ids(o: &Order) -> impl Iterator<Item = &str> {
    o.line_items
        .iter()
        .filter_map(|l| l.catalog_object_id.as_deref())
}

fn address(a: &wire::Address, recipient_name: Option<&str>) -> Option<Address> {
    let country_code = CountryCode::from_str(a.country.as_deref()?).ok()?;
    let name = non_empty(recipient_name).unwrap_or_else(|| {
        [a.first_name.as_deref(), a.last_name.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ")
    });
    let line2 = [a.address_line_2.as_deref(), a.address_line_3.as_deref()]
        .into_iter()
        .filter_map(|l| non_empty(l))
        .collect::<Vec<_>>()
        .join(", ");
    Some(Address {
        name,
        line1: a.address_line_1.clone().unwrap_or_default(),
        line2: non_empty(Some(&line2)),
        city: a
            .locality
            .clone()
            .or_else(|| a.sublocality.clone())
            .unwrap_or_default(),
        region: non_empty(a.administrative_district_level_1.as_deref()),
        postal_code: a.postal_code.clone().unwrap_or_default(),
        country_code,
    })
}

/// The recipient of a fulfilment, whatever its type.
fn recipient(f: &wire::Fulfillment) -> Option<&wire::Recipient> {
    f.shipment_details
        .as_ref()
        .and_then(|d| d.recipient.as_ref())
        .or_else(|| {
            f.delivery_details
                .as_ref()
                .and_then(|d| d.recipient.as_ref())
        })
        .or_else(|| f.pickup_details.as_ref().and_then(|d| d.recipient.as_ref()))
}

/// Where the order goes: a shipment's recipient address, else a delivery's,
/// else a pickup recipient's.
fn shipping_address(o: &Order) -> Option<Address> {
    ["SHIPMENT", "DELIVERY", "PICKUP"].iter().find_map(|kind| {
        o.fulfillments
            .iter()
            .filter(|f| f.kind.as_deref() == Some(*kind) && is_live(f))
            .find_map(|f| {
                let r = recipient(f)?;
                address(r.address.as_ref()?, r.display_name.as_deref())
            })
    })
}

fn customer(o: &Order) -> Customer {
    let recipients: Vec<&wire::Recipient> = o.fulfillments.iter().filter_map(recipient).collect();
    let name = recipients.iter().find_map(|r| {
        non_empty(r.display_name.as_deref()).or_else(|| {
            let a = r.address.as_ref()?;
            let n = [a.first_name.as_deref(), a.last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" ");
            non_empty(Some(&n))
        })
    });
    let email = recipients
        .iter()
        .find_map(|r| non_empty(r.email_address.as_deref()));
    Customer { name, email }
}

/// A whole, non-negative count, if `q` is one.
fn whole(q: Decimal) -> Option<u32> {
    if q.fract().is_zero() && q >= Decimal::ZERO {
        rust_decimal::prelude::ToPrimitive::to_u32(&q.trunc())
    } else {
        None
    }
}

fn line(
    i: usize,
    l: &wire::LineItem,
    currency: &Currency,
    sku_of: &dyn Fn(&str) -> String,
) -> Result<ChannelLine, NormalizeError> {
    let uid = l.uid.clone().unwrap_or_else(|| format!("{i}"));
    let field = |f: &str| format!("line_items[{uid}].{f}");
    let q = quantity(&field("quantity"), &l.quantity)?;
    let too_large = |f: &str| {
        NormalizeError(format!(
            "{}: the amounts add up past what chansync takes",
            field(f)
        ))
    };
    let base = opt_money(
        &field("base_price_money"),
        l.base_price_money.as_ref(),
        currency,
    )?;
    let mut per_unit_modifiers = Decimal::ZERO;
    let mut modifiers_total = Decimal::ZERO;
    for m in &l.modifiers {
        let price = opt_money(
            &field("modifiers.base_price_money"),
            m.base_price_money.as_ref(),
            currency,
        )?;
        let mq = match m.quantity.as_deref() {
            Some(s) => quantity(&field("modifiers.quantity"), s)?,
            None => Decimal::ONE,
        };
        let each = price
            .checked_mul(mq)
            .ok_or_else(|| too_large("modifiers"))?;
        per_unit_modifiers = per_unit_modifiers
            .checked_add(each)
            .ok_or_else(|| too_large("modifiers"))?;
        let total = match &m.total_price_money {
            Some(t) => money(&field("modifiers.total_price_money"), t, currency)?,
            None => each.checked_mul(q).ok_or_else(|| too_large("modifiers"))?,
        };
        modifiers_total = modifiers_total
            .checked_add(total)
            .ok_or_else(|| too_large("modifiers"))?;
    }
    let discount = opt_money(
        &field("total_discount_money"),
        l.total_discount_money.as_ref(),
        currency,
    )?;
    let tax = opt_money(
        &field("total_tax_money"),
        l.total_tax_money.as_ref(),
        currency,
    )?;
    let name = non_empty(l.name.as_deref());
    let variation = non_empty(l.variation_name.as_deref());
    let mut title = match (name, variation) {
        (Some(n), Some(v)) if n != v => format!("{n} ({v})"),
        (Some(n), _) => n,
        (None, Some(v)) => v,
        (None, None) => String::new(),
    };
    let (quantity, unit_price) = match whole(q) {
        Some(n) => (
            n,
            base.checked_add(per_unit_modifiers)
                .ok_or_else(|| too_large("base_price_money"))?,
        ),
        None => {
            // A measured quantity (1.5 kg): one line at the price Square
            // charged for the whole measure, the measure kept in the title.
            let variation_total = match &l.variation_total_price_money {
                Some(m) => money(&field("variation_total_price_money"), m, currency)?,
                None => currency.canonical((base * q).round_dp(currency.minor_units())),
            };
            title = format!("{title} × {}", q.normalize());
            (
                1,
                variation_total
                    .checked_add(modifiers_total)
                    .ok_or_else(|| too_large("variation_total_price_money"))?,
            )
        }
    };
    // Bounded, the unit price times a bounded quantity cannot overflow.
    let unit_price = bounded_amount(unit_price)
        .map_err(|e| NormalizeError(format!("{}: {e}", field("unit price"))))?;
    Ok(ChannelLine {
        external_id: uid,
        channel_sku: l.catalog_object_id.as_deref().map(sku_of),
        title,
        quantity,
        unit_price,
        total: unit_price * Decimal::from(quantity) - discount,
        tax,
        discount,
    })
}

fn fulfillment_lines(o: &Order, f: &wire::Fulfillment) -> Vec<FulfillmentLine> {
    let all = f.line_item_application.as_deref() == Some("ALL") || f.entries.is_empty();
    if all {
        o.line_items
            .iter()
            .enumerate()
            .map(|(i, l)| FulfillmentLine {
                external_id: l.uid.clone().unwrap_or_else(|| format!("{i}")),
                quantity: Decimal::from_str(l.quantity.trim())
                    .ok()
                    .and_then(whole)
                    .unwrap_or(1),
            })
            .collect()
    } else {
        f.entries
            .iter()
            .map(|e| FulfillmentLine {
                external_id: e.line_item_uid.clone(),
                quantity: Decimal::from_str(e.quantity.trim())
                    .ok()
                    .and_then(whole)
                    .unwrap_or(1),
            })
            .collect()
    }
}

/// Maps an order; `sku_of` gives the channel SKU of a catalog variation id.
pub fn to_channel_order(
    o: &Order,
    sku_of: &dyn Fn(&str) -> String,
) -> Result<ChannelOrder, NormalizeError> {
    if o.id.is_empty() {
        return Err(NormalizeError("an order without an id".into()));
    }
    let currency = order_currency(o)?;
    let lines = o
        .line_items
        .iter()
        .enumerate()
        .map(|(i, l)| line(i, l, &currency, sku_of))
        .collect::<Result<Vec<_>, _>>()?;
    let mut shipping_total = Decimal::ZERO;
    for sc in o.service_charges.iter().filter(|sc| is_shipping_charge(sc)) {
        let m = sc
            .applied_money
            .as_ref()
            .or(sc.amount_money.as_ref())
            .or(sc.total_money.as_ref());
        shipping_total += opt_money("service_charges.applied_money", m, &currency)?;
    }
    let fulfillments = o
        .fulfillments
        .iter()
        .filter(|f| f.state.as_deref() == Some("COMPLETED"))
        .map(|f| {
            let shipment = f.shipment_details.as_ref();
            Fulfillment {
                location: None,
                carrier: shipment
                    .and_then(|s| non_empty(s.carrier.as_deref()))
                    .or_else(|| {
                        f.delivery_details
                            .as_ref()
                            .and_then(|d| non_empty(d.courier_provider_name.as_deref()))
                    }),
                tracking: shipment.and_then(|s| non_empty(s.tracking_number.as_deref())),
                lines: fulfillment_lines(o, f),
            }
        })
        .collect();
    let placed_at = o
        .created_at
        .ok_or_else(|| NormalizeError(format!("order {}: no created_at", o.id)))?;
    let mut order = ChannelOrder {
        external_id: o.id.clone(),
        external_number: None,
        status: channel_status(o),
        payment_status: payment_status(o),
        fulfilled_by: FulfilledBy::Merchant,
        subtotal: lines.iter().map(|l| l.total).sum(),
        shipping_total,
        tax_total: opt_money("total_tax_money", o.total_tax_money.as_ref(), &currency)?,
        discount_total: opt_money(
            "total_discount_money",
            o.total_discount_money.as_ref(),
            &currency,
        )?,
        total: opt_money("total_money", o.total_money.as_ref(), &currency)?,
        placed_at,
        updated_at: o.updated_at.unwrap_or(placed_at),
        customer: customer(o),
        shipping_address: shipping_address(o),
        lines,
        fulfillments,
        currency,
    };
    order.canonicalize_amounts();
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_units_become_exact_decimals() {
        let cases = [
            ("USD", 1599, "15.99"),
            ("USD", 5, "0.05"),
            ("USD", 0, "0.00"),
            ("USD", -250, "-2.50"),
            ("JPY", 1599, "1599"),
            ("KWD", 1599, "1.599"),
            ("EUR", 100_000_000_001, "1000000000.01"),
        ];
        for (code, minor, want) in cases {
            let c: Currency = code.parse().unwrap();
            assert_eq!(
                minor_to_decimal(minor, &c).to_string(),
                want,
                "{code} {minor}"
            );
        }
    }

    #[test]
    fn whole_counts_only() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(whole(d("3")), Some(3));
        assert_eq!(whole(d("3.000")), Some(3));
        assert_eq!(whole(d("1.5")), None);
        assert_eq!(whole(d("-1")), None);
        assert_eq!(whole(d("5000000000")), None);
    }

    #[test]
    fn statuses_follow_state_fulfilments_and_tenders() {
        let order = |v: serde_json::Value| -> Order { serde_json::from_value(v).unwrap() };
        let f = |state: &str| serde_json::json!({"type": "SHIPMENT", "state": state});
        let o = order(
            serde_json::json!({"id": "A", "state": "OPEN", "fulfillments": [f("COMPLETED"), f("PROPOSED"), f("CANCELED")]}),
        );
        assert_eq!(channel_status(&o), ChannelStatus::PartiallyFulfilled);
        let o = order(
            serde_json::json!({"id": "A", "state": "OPEN", "fulfillments": [f("COMPLETED"), f("FAILED")]}),
        );
        assert_eq!(channel_status(&o), ChannelStatus::Fulfilled);
        let o = order(serde_json::json!({"id": "A", "state": "COMPLETED"}));
        assert_eq!(channel_status(&o), ChannelStatus::Fulfilled);
        assert_eq!(payment_status(&o), PaymentStatus::Paid, "nothing to pay");

        let card = |status: &str, amount: i64| serde_json::json!({"type": "CARD", "amount_money": {"amount": amount, "currency": "USD"}, "card_details": {"status": status}});
        let total = serde_json::json!({"amount": 1000, "currency": "USD"});
        let pay = |tenders: serde_json::Value, refunds: serde_json::Value, state: &str| {
            payment_status(&order(
                serde_json::json!({"id": "A", "state": state, "total_money": total, "tenders": tenders, "refunds": refunds}),
            ))
        };
        let none = serde_json::json!([]);
        assert_eq!(
            pay(
                serde_json::json!([card("CAPTURED", 1000)]),
                none.clone(),
                "OPEN"
            ),
            PaymentStatus::Paid
        );
        assert_eq!(
            pay(
                serde_json::json!([{"type": "CASH", "amount_money": total}]),
                none.clone(),
                "COMPLETED"
            ),
            PaymentStatus::Paid
        );
        assert_eq!(
            pay(
                serde_json::json!([card("AUTHORIZED", 1000)]),
                none.clone(),
                "OPEN"
            ),
            PaymentStatus::Authorized
        );
        assert_eq!(
            pay(
                serde_json::json!([card("CAPTURED", 400)]),
                none.clone(),
                "OPEN"
            ),
            PaymentStatus::Pending
        );
        assert_eq!(
            pay(
                serde_json::json!([card("VOIDED", 1000)]),
                none.clone(),
                "CANCELED"
            ),
            PaymentStatus::Voided
        );
        assert_eq!(
            pay(none.clone(), none.clone(), "OPEN"),
            PaymentStatus::Pending
        );
        assert_eq!(
            pay(none.clone(), none.clone(), "COMPLETED"),
            PaymentStatus::Unknown
        );
        let refund = |amount: i64, status: &str| serde_json::json!({"amount_money": {"amount": amount, "currency": "USD"}, "status": status});
        assert_eq!(
            pay(
                serde_json::json!([card("CAPTURED", 1000)]),
                serde_json::json!([refund(1000, "APPROVED")]),
                "CANCELED"
            ),
            PaymentStatus::Refunded
        );
        assert_eq!(
            pay(
                serde_json::json!([card("CAPTURED", 1000)]),
                serde_json::json!([refund(300, "PENDING")]),
                "COMPLETED"
            ),
            PaymentStatus::PartiallyRefunded
        );
        assert_eq!(
            pay(
                serde_json::json!([card("CAPTURED", 1000)]),
                serde_json::json!([refund(300, "REJECTED")]),
                "COMPLETED"
            ),
            PaymentStatus::Paid
        );
    }
}

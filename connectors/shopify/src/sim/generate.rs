//! Seeded order generation and the changes an order goes through. Order `n`
//! of a seed is drawn from its own ChaCha stream, so its content does not
//! depend on what else happened; only its timestamps come from the clock.

use chrono::{DateTime, Duration, Utc};
use rand::distributions::WeightedIndex;
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use crate::sim::catalog::{
    Region, CUSTOM_ITEMS, DISCOUNT_CODES, EMAIL_DOMAINS, FIRST_NAMES, FREE_SHIPPING_FROM_USD_CENTS,
    LAST_NAMES, PRODUCTS, REGIONS, SHIPPING, TAGS,
};
use crate::sim::model::{
    CancelReason, DisplayFulfillmentStatus, FinancialStatus, SimAddress, SimCustomer,
    SimDiscountCode, SimLine, SimOrder, SimShipping,
};

/// Shopify ids are large integers; these keep each kind in its own range.
pub(crate) const ORDER_ID_BASE: u64 = 5_500_000_000_000;
pub(crate) const LINE_ID_BASE: u64 = 14_200_000_000_000;
/// Line ids of order `n` are `LINE_ID_BASE + n * LINE_ID_STRIDE + i`.
const LINE_ID_STRIDE: u64 = 100;
const CUSTOMER_ID_BASE: u64 = 7_300_000_000_000;
const PRODUCT_ID_BASE: u64 = 8_900_000_000_000;
const VARIANT_ID_BASE: u64 = 44_100_000_000_000;
const SHIPPING_LINE_ID_BASE: u64 = 4_700_000_000_000;
const FIRST_ORDER_NUMBER: u64 = 1001;
/// The most lines an order gets (so that more than one page of 10 occurs).
pub(crate) const MAX_LINES: usize = 12;

/// The random stream order `index` of `seed` is drawn from.
fn order_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// The lifecycle's own stream (which order changes, how), apart from content.
pub(crate) fn lifecycle_rng(seed: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX);
    rng
}

/// `now`, or a second after `prev` if that is later: Shopify timestamps have
/// second precision and a change must always move `updated_at` forward.
pub(crate) fn next_timestamp(prev: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    now.max(prev + Duration::seconds(1))
}

fn dec(cents: i64) -> Decimal {
    Decimal::new(cents, 2)
}

/// Order number `index` (0-based) of `seed`, placed at `at`.
pub(crate) fn generate_order(seed: u64, index: u64, at: DateTime<Utc>) -> SimOrder {
    let mut rng = order_rng(seed, index);
    let weights =
        WeightedIndex::new(REGIONS.iter().map(|r| r.weight)).expect("region weights are positive");
    let region = &REGIONS[weights.sample(&mut rng)];
    let customer = customer(&mut rng, region);
    let shipping_address = address(&mut rng, region, &customer);
    let billing_address = if rng.gen_bool(0.85) {
        shipping_address.clone()
    } else {
        address(&mut rng, region, &customer)
    };
    let (lines, usd_cents) = lines(&mut rng, region, index);
    let discount_code = if rng.gen_bool(0.2) {
        let (code, pct) = DISCOUNT_CODES[rng.gen_range(0..DISCOUNT_CODES.len())];
        Some((
            SimDiscountCode {
                code: code.to_owned(),
                kind: "percentage".to_owned(),
            },
            pct,
        ))
    } else {
        None
    };
    let mut lines = lines;
    if let Some((_, pct)) = &discount_code {
        for line in &mut lines {
            // Custom items are not eligible; of the rest, most are.
            if line.sku.is_some() && rng.gen_bool(0.7) {
                line.discount = region
                    .currency
                    .round(line.original_total() * Decimal::from(*pct) / Decimal::from(100));
            }
        }
    }
    let tax_rate = Decimal::new(region.tax_rate.0, region.tax_rate.1);
    for line in &mut lines {
        line.tax = region.currency.round(line.total() * tax_rate);
    }
    let shipping = shipping(&mut rng, region, index, usd_cents);
    let financial_status = match rng.gen_range(0..100) {
        0..75 => FinancialStatus::Paid,
        75..88 => FinancialStatus::Pending,
        _ => FinancialStatus::Authorized,
    };
    SimOrder {
        id: ORDER_ID_BASE + 1 + index,
        number: FIRST_ORDER_NUMBER + index,
        created_at: at,
        updated_at: at,
        processed_at: at,
        cancelled_at: None,
        cancel_reason: None,
        closed_at: None,
        email: customer.email.clone(),
        currency: region.currency,
        financial_status,
        fulfillment_status: DisplayFulfillmentStatus::Unfulfilled,
        customer,
        shipping_address,
        billing_address,
        lines,
        shipping,
        discount_code: discount_code.map(|(c, _)| c),
        fulfillments: Vec::new(),
        tags: Vec::new(),
    }
}

fn customer(rng: &mut ChaCha8Rng, region: &Region) -> SimCustomer {
    let fi = rng.gen_range(0..FIRST_NAMES.len());
    let li = rng.gen_range(0..LAST_NAMES.len());
    let (first, last) = (&FIRST_NAMES[fi], &LAST_NAMES[li]);
    // The same name is the same customer, as returning buyers are.
    let key = (fi * LAST_NAMES.len() + li) as u64;
    let domain = EMAIL_DOMAINS[(fi + li) % EMAIL_DOMAINS.len()];
    SimCustomer {
        id: CUSTOMER_ID_BASE + key,
        first_name: first.name.to_owned(),
        last_name: last.name.to_owned(),
        email: format!("{}.{}@{domain}", first.ascii, last.ascii),
        phone: Some(format!(
            "{} {:04}",
            region.phone_prefix,
            rng.gen_range(0..10_000)
        )),
    }
}

fn address(rng: &mut ChaCha8Rng, region: &Region, customer: &SimCustomer) -> SimAddress {
    let city = &region.cities[rng.gen_range(0..region.cities.len())];
    let street = region.streets[rng.gen_range(0..region.streets.len())];
    let number = rng.gen_range(1..200);
    let address1 = if region.number_first {
        format!("{number} {street}")
    } else {
        format!("{street} {number}")
    };
    let address2 = rng
        .gen_bool(0.2)
        .then(|| format!("Apt {}", rng.gen_range(1..60)));
    let company = rng
        .gen_bool(0.1)
        .then(|| format!("{} & Co.", customer.last_name));
    SimAddress {
        first_name: customer.first_name.clone(),
        last_name: customer.last_name.clone(),
        company,
        address1,
        address2,
        city: city.city.to_owned(),
        province: city.province.map(|(name, _)| name.to_owned()),
        province_code: city.province.map(|(_, code)| code.to_owned()),
        zip: city.zip.to_owned(),
        country: region.country.to_owned(),
        country_code: region.code,
        phone: customer.phone.clone(),
    }
}

/// The lines (prices in the region's currency, no discount or tax yet) and
/// their undiscounted total in US cents, which decides free shipping.
fn lines(rng: &mut ChaCha8Rng, region: &Region, index: u64) -> (Vec<SimLine>, i64) {
    let count = if rng.gen_bool(0.9) {
        rng.gen_range(1..=5)
    } else {
        rng.gen_range(6..=MAX_LINES)
    };
    let picks = rand::seq::index::sample(rng, PRODUCTS.len(), count);
    let rate = Decimal::new(region.usd_rate.0, region.usd_rate.1);
    let mut usd_cents = 0;
    let mut lines = Vec::with_capacity(count);
    for (i, pick) in picks.into_iter().enumerate() {
        let quantity = [1, 1, 1, 2, 2, 3, 4][rng.gen_range(0..7)];
        let custom = rng.gen_bool(0.04);
        let (product_id, variant_id, sku, title, variant_title, cents) = if custom {
            let (title, cents) = CUSTOM_ITEMS[rng.gen_range(0..CUSTOM_ITEMS.len())];
            (None, None, None, title.to_owned(), None, cents)
        } else {
            let p = &PRODUCTS[pick];
            let product_index = PRODUCTS
                .iter()
                .position(|q| q.title == p.title)
                .unwrap_or(pick) as u64;
            (
                Some(PRODUCT_ID_BASE + product_index),
                Some(VARIANT_ID_BASE + pick as u64),
                Some(p.sku.to_owned()),
                p.title.to_owned(),
                p.variant.map(str::to_owned),
                p.usd_cents,
            )
        };
        usd_cents += cents * i64::from(quantity);
        lines.push(SimLine {
            id: LINE_ID_BASE + index * LINE_ID_STRIDE + i as u64,
            product_id,
            variant_id,
            sku,
            title,
            variant_title,
            unit_price: region.currency.round(dec(cents) * rate),
            quantity,
            current_quantity: quantity,
            discount: Decimal::ZERO,
            tax_title: region.tax_title.to_owned(),
            tax_rate: Decimal::new(region.tax_rate.0, region.tax_rate.1),
            tax: Decimal::ZERO,
            requires_shipping: true,
        });
    }
    (lines, usd_cents)
}

fn shipping(rng: &mut ChaCha8Rng, region: &Region, index: u64, usd_cents: i64) -> SimShipping {
    let (title, code, cents) = if rng.gen_bool(0.2) {
        SHIPPING[1]
    } else {
        SHIPPING[0]
    };
    let cents = if code == "STANDARD" && usd_cents >= FREE_SHIPPING_FROM_USD_CENTS {
        0
    } else {
        cents
    };
    let rate = Decimal::new(region.usd_rate.0, region.usd_rate.1);
    SimShipping {
        id: SHIPPING_LINE_ID_BASE + index,
        title: title.to_owned(),
        code: code.to_owned(),
        price: region.currency.round(dec(cents) * rate),
    }
}

/// A realistic non-cancelling change: a pending payment is captured, or the
/// merchant tags the order.
pub(crate) fn apply_update(order: &mut SimOrder, rng: &mut ChaCha8Rng, now: DateTime<Utc>) {
    order.updated_at = next_timestamp(order.updated_at, now);
    if !order.is_cancelled() {
        match order.financial_status {
            FinancialStatus::Pending if rng.gen_bool(0.2) => {
                order.financial_status = FinancialStatus::Authorized;
                return;
            }
            FinancialStatus::Pending
            | FinancialStatus::Authorized
            | FinancialStatus::PartiallyPaid => {
                order.financial_status = FinancialStatus::Paid;
                return;
            }
            _ => {}
        }
    }
    let missing: Vec<&str> = TAGS
        .iter()
        .copied()
        .filter(|t| !order.tags.iter().any(|o| o == t))
        .collect();
    if missing.is_empty() {
        order.tags.remove(0);
    } else {
        order
            .tags
            .push(missing[rng.gen_range(0..missing.len())].to_owned());
    }
}

/// Cancels with a plausible reason: a paid order is refunded, an unpaid one's
/// authorization voided; everything is restocked. `false` if already cancelled.
pub(crate) fn apply_cancel(order: &mut SimOrder, rng: &mut ChaCha8Rng, now: DateTime<Utc>) -> bool {
    if order.is_cancelled() {
        return false;
    }
    let reason = match rng.gen_range(0..10) {
        0..5 => CancelReason::Customer,
        5..7 => CancelReason::Inventory,
        7 => CancelReason::Fraud,
        8 => CancelReason::Declined,
        _ => CancelReason::Other,
    };
    cancel_with(order, reason, true, now)
}

/// Cancels for `reason`: with `refund` a paid order is refunded (without, the
/// payment stays); an authorization is always voided; no line stays to ship.
/// `false` if already cancelled.
pub(crate) fn cancel_with(
    order: &mut SimOrder,
    reason: CancelReason,
    refund: bool,
    now: DateTime<Utc>,
) -> bool {
    if order.is_cancelled() {
        return false;
    }
    let at = next_timestamp(order.updated_at, now);
    order.financial_status = match order.financial_status {
        FinancialStatus::Paid
        | FinancialStatus::PartiallyPaid
        | FinancialStatus::PartiallyRefunded
            if refund =>
        {
            FinancialStatus::Refunded
        }
        s @ (FinancialStatus::Paid
        | FinancialStatus::PartiallyPaid
        | FinancialStatus::PartiallyRefunded
        | FinancialStatus::Refunded) => s,
        _ => FinancialStatus::Voided,
    };
    for line in &mut order.lines {
        line.current_quantity = 0;
    }
    order.cancel_reason = Some(reason);
    order.cancelled_at = Some(at);
    order.closed_at = Some(at);
    order.updated_at = at;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap()
    }

    #[test]
    fn an_order_depends_only_on_seed_and_index() {
        assert_eq!(generate_order(9, 41, t0()), generate_order(9, 41, t0()));
        assert_ne!(generate_order(9, 41, t0()), generate_order(9, 42, t0()));
        assert_ne!(generate_order(9, 41, t0()), generate_order(10, 41, t0()));
    }

    #[test]
    fn updates_always_move_updated_at_forward() {
        let mut o = generate_order(1, 0, t0());
        let mut rng = lifecycle_rng(1);
        let mut prev = o.updated_at;
        for _ in 0..20 {
            // The clock stands still: the timestamp must move anyway.
            apply_update(&mut o, &mut rng, t0());
            assert!(o.updated_at > prev);
            prev = o.updated_at;
        }
        assert!(apply_cancel(&mut o, &mut rng, t0()));
        assert!(o.updated_at > prev);
        assert!(matches!(
            o.financial_status,
            FinancialStatus::Refunded | FinancialStatus::Voided
        ));
        assert!(!apply_cancel(&mut o, &mut rng, t0()));
    }
}

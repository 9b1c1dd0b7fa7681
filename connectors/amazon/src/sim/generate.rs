//! Seeded order generation and the lifecycle of an order in the simulated
//! Amazon: the same seed and index always give the same order (a mix of
//! merchant- and Amazon-fulfilled orders over the seller's marketplaces,
//! multi-item, promotions, VAT-inclusive or tax-on-top prices); a pending
//! order later has its payment authorized and shows its address; Amazon
//! ships its own orders; now and then an order is cancelled.

use chrono::{DateTime, Utc};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::marketplace::Marketplace;
use crate::sim::catalog::{self, Region, BUYER_NAMES, PRODUCTS};
use crate::sim::model::{Channel, SimAddress, SimItem, SimOrder, Status};

/// The random source of order `index` under `seed`.
fn order_rng(seed: u64, index: u64, attempt: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(
        seed ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            ^ attempt.wrapping_mul(0xC2B2_AE3D_27D4_EB4F),
    )
}

/// The random source of lifecycle decisions.
pub(crate) fn lifecycle_rng(seed: u64) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(seed.wrapping_add(0x005E_ED0F_11FE))
}

/// `amount × percent / divisor`, rounded half up, in integers.
fn share(amount: i64, percent: i64, divisor: i64) -> i64 {
    let num = i128::from(amount) * i128::from(percent) * 2 + i128::from(divisor);
    (num / (2 * i128::from(divisor))) as i64
}

/// The tax in `amount`: included (VAT stores) or on top.
fn tax(amount: i64, percent: i64, included: bool) -> i64 {
    if included {
        share(amount, percent, 100 + percent)
    } else {
        share(amount, percent, 100)
    }
}

/// A USD price in a marketplace's minor units.
fn local_price(usd_cents: i64, region: &Region, exponent: u32) -> i64 {
    let scaled = i128::from(usd_cents) * i128::from(region.per_usd_milli) * 10i128.pow(exponent);
    (scaled / 100_000) as i64
}

fn amazon_order_id(rng: &mut ChaCha8Rng) -> String {
    format!(
        "{:03}-{:07}-{:07}",
        rng.gen_range(201..=408),
        rng.gen_range(0..10_000_000),
        rng.gen_range(0..10_000_000)
    )
}

/// The email domain Amazon relays a marketplace's buyers through.
fn relay_domain(m: &Marketplace) -> String {
    format!("marketplace.{}", m.sales_channel.to_ascii_lowercase())
}

/// Order `index` of the seed's sequence, placed at `now` in one of
/// `marketplaces`. `attempt` varies the id when it collides with another.
pub(crate) fn generate_order(
    seed: u64,
    index: u64,
    attempt: u64,
    now: DateTime<Utc>,
    marketplaces: &[(&'static Marketplace, &'static Region)],
) -> SimOrder {
    let mut rng = order_rng(seed, index, attempt);
    let id = amazon_order_id(&mut rng);
    let (marketplace, region) = marketplaces[rng.gen_range(0..marketplaces.len())];
    let exponent = marketplace
        .currency
        .parse::<chansync_sdk::model::Currency>()
        .map(|c| c.minor_units())
        .unwrap_or(2);
    let included = marketplace.prices_include_tax;
    let channel = if rng.gen_bool(0.3) {
        Channel::Amazon
    } else {
        Channel::Merchant
    };
    let status = if rng.gen_bool(0.4) {
        Status::Pending
    } else {
        Status::Unshipped
    };
    let is_prime = channel == Channel::Amazon || rng.gen_bool(0.2);
    let lines = match rng.gen_range(0..100) {
        0..=54 => 1,
        55..=84 => 2,
        _ => 3,
    };
    let products: Vec<&catalog::Product> = PRODUCTS.choose_multiple(&mut rng, lines).collect();
    let free_shipping = rng.gen_bool(0.15);
    let items = products
        .into_iter()
        .enumerate()
        .map(|(k, product)| {
            let quantity = match rng.gen_range(0..10) {
                0..=6 => 1,
                7..=8 => 2,
                _ => 3,
            };
            let unit = local_price(product.usd_cents, region, exponent);
            let price = unit * i64::from(quantity);
            let promotion = if rng.gen_bool(0.2) {
                share(price, 10, 100)
            } else {
                0
            };
            let shipping = if k == 0 && !is_prime {
                region.shipping_minor
            } else {
                0
            };
            let shipping_discount = if free_shipping { shipping } else { 0 };
            SimItem {
                order_item_id: format!(
                    "{:014}",
                    rng.gen_range(10_000_000_000_000u64..100_000_000_000_000)
                ),
                sku: product.sku.to_owned(),
                asin: catalog::asin(product.sku),
                title: product.title.to_owned(),
                quantity,
                shipped: 0,
                unit,
                item_tax: tax(price, region.tax_percent, included),
                promotion,
                promotion_tax: tax(promotion, region.tax_percent, included),
                shipping,
                shipping_tax: tax(shipping, region.tax_percent, included),
                shipping_discount,
                shipping_discount_tax: tax(shipping_discount, region.tax_percent, included),
            }
        })
        .collect();
    let name = BUYER_NAMES[rng.gen_range(0..BUYER_NAMES.len())];
    let (city, state, postal_code, street) =
        region.addresses[rng.gen_range(0..region.addresses.len())];
    let mailbox: String = (0..15)
        .map(|_| {
            let c = rng.gen_range(0..36u8);
            (if c < 10 { b'0' + c } else { b'a' + c - 10 }) as char
        })
        .collect();
    SimOrder {
        id,
        marketplace,
        exponent,
        channel,
        status,
        purchase_date: now,
        last_update: now,
        items,
        buyer_name: rng.gen_bool(0.5).then(|| name.to_owned()),
        buyer_email: format!("{mailbox}@{}", relay_domain(marketplace)),
        address: SimAddress {
            name: name.to_owned(),
            line1: street.to_owned(),
            city: city.to_owned(),
            region: state.map(str::to_owned),
            postal_code: postal_code.to_owned(),
            country: marketplace.country.to_owned(),
        },
        is_prime,
        packages: Vec::new(),
    }
}

/// Moves the order one step on as Amazon would: payment authorized
/// (Pending → Unshipped), or Amazon ships its own order. `false` when the
/// order waits on the seller or is finished.
pub(crate) fn advance(order: &mut SimOrder, now: DateTime<Utc>) -> bool {
    match (order.status, order.channel) {
        (Status::Pending, _) => order.status = Status::Unshipped,
        (Status::Unshipped | Status::PartiallyShipped, Channel::Amazon) => {
            for i in &mut order.items {
                i.shipped = i.quantity;
            }
            order.status = Status::Shipped;
        }
        _ => return false,
    }
    order.last_update = now.max(order.last_update);
    true
}

/// Whether the order can still move on or be cancelled.
pub(crate) fn is_active(order: &SimOrder) -> bool {
    match order.status {
        Status::Pending => true,
        Status::Unshipped | Status::PartiallyShipped => order.channel == Channel::Amazon,
        Status::Shipped | Status::Canceled => false,
    }
}

/// Cancels an order nothing of which has shipped; `false` otherwise.
pub(crate) fn cancel(order: &mut SimOrder, now: DateTime<Utc>) -> bool {
    let shipped = order.items.iter().any(|i| i.shipped > 0);
    if shipped || !matches!(order.status, Status::Pending | Status::Unshipped) {
        return false;
    }
    order.status = Status::Canceled;
    order.last_update = now.max(order.last_update);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::marketplace;

    fn places() -> Vec<(&'static Marketplace, &'static Region)> {
        ["A1PA6795UKMFR9", "ATVPDKIKX0DER", "A1VC38T7YXB528"]
            .into_iter()
            .map(|id| {
                (
                    marketplace::by_id(id).unwrap(),
                    catalog::region(id).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_orders() {
        let now = Utc::now();
        let a = generate_order(7, 3, 0, now, &places());
        let b = generate_order(7, 3, 0, now, &places());
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        let c = generate_order(7, 4, 0, now, &places());
        assert_ne!(a.id, c.id);
    }

    #[test]
    fn taxes_are_included_or_on_top_as_the_marketplace_says() {
        assert_eq!(tax(11900, 19, true), 1900);
        assert_eq!(tax(10000, 8, false), 800);
        assert_eq!(share(5, 1, 2), 3, "half rounds up");
    }

    #[test]
    fn prices_convert_into_minor_units() {
        let de = catalog::region("A1PA6795UKMFR9").unwrap();
        let jp = catalog::region("A1VC38T7YXB528").unwrap();
        assert_eq!(local_price(1800, de, 2), 1656);
        assert_eq!(local_price(1800, jp, 0), 2700);
    }

    #[test]
    fn pending_orders_become_unshipped_and_amazon_ships_its_own() {
        let now = Utc::now();
        let mut o = generate_order(1, 0, 0, now, &places());
        o.status = Status::Pending;
        o.channel = Channel::Amazon;
        assert!(advance(&mut o, now));
        assert_eq!(o.status, Status::Unshipped);
        assert!(advance(&mut o, now));
        assert_eq!(o.status, Status::Shipped);
        assert!(o.items.iter().all(|i| i.shipped == i.quantity));
        assert!(!advance(&mut o, now));
        assert!(!cancel(&mut o, now));
    }
}

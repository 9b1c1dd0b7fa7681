//! Seeded order generation and the changes an online order goes through.
//! Order `n` of a seed is drawn from its own ChaCha stream, so its content
//! does not depend on what else happened; only timestamps come from the clock.

use chrono::{DateTime, Duration, Utc};
use rand::prelude::*;
use rand_chacha::ChaCha8Rng;
use rust_decimal::Decimal;

use crate::sim::catalog::{CurrencyDef, CARRIERS, LOCATIONS, NAMES, VARIATIONS};
use crate::sim::model::{
    apply_rate, CardStatus, Kind, OrderState, ShipmentState, SimDiscount, SimLine, SimOrder,
    SimRecipient, SimRefund, SimShipment, SimTender,
};

/// Online orders ship free from this (US cents of goods).
const FREE_SHIPPING_FROM_USD_CENTS: i64 = 10_000;
const SHIPPING_USD_CENTS: i64 = 599;
/// Order-wide discounts a sale may get: name and percentage.
const DISCOUNTS: &[(&str, u32)] = &[("Loyalty 10%", 10), ("Happy Hour 15%", 15)];

/// The random stream order `index` of `seed` is drawn from.
fn order_rng(seed: u64, index: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(index);
    rng
}

/// The lifecycle's own stream (which order changes), apart from content.
pub(crate) fn lifecycle_rng(seed: u64) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(u64::MAX);
    rng
}

/// Now, to the millisecond, as Square stamps.
pub(crate) fn now_ms() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}

/// `now`, or a millisecond after `prev` if that is later: a change always
/// moves `updated_at` forward.
pub(crate) fn next_timestamp(prev: DateTime<Utc>, now: DateTime<Utc>) -> DateTime<Utc> {
    now.max(prev + Duration::milliseconds(1))
}

/// A random id of `len` letters and digits, like Square's order ids.
pub(crate) fn token(rng: &mut impl Rng, len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    (0..len)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

fn recipient(rng: &mut ChaCha8Rng, c: &CurrencyDef) -> SimRecipient {
    let (name, ascii) = NAMES[rng.gen_range(0..NAMES.len())];
    let city = &c.cities[rng.gen_range(0..c.cities.len())];
    let street = c.streets[rng.gen_range(0..c.streets.len())];
    let number = rng.gen_range(1..200);
    SimRecipient {
        name: name.to_owned(),
        email: format!("{ascii}@example.com"),
        phone: format!("{} {:04}", c.phone_prefix, rng.gen_range(0..10_000)),
        line1: if c.country == "US" || c.country == "GB" {
            format!("{number} {street}")
        } else {
            format!("{street} {number}")
        },
        line2: rng
            .gen_bool(0.2)
            .then(|| format!("Apt {}", rng.gen_range(1..60))),
        locality: city.locality.to_owned(),
        district: city.district.map(str::to_owned),
        postal_code: city.postal_code.to_owned(),
        country: c.country.to_owned(),
    }
}

/// Order number `index` (0-based) of `seed`, placed at `at`. `kind` forces
/// an in-store sale or an online order; `None` draws one (`online_share`).
pub(crate) fn generate(
    seed: u64,
    index: u64,
    kind: Option<Kind>,
    online_share: f64,
    currency: &'static CurrencyDef,
    at: DateTime<Utc>,
) -> SimOrder {
    let mut rng = order_rng(seed, index);
    let drawn_online = rng.gen_bool(online_share.clamp(0.0, 1.0));
    let kind = kind.unwrap_or(if drawn_online {
        Kind::Online
    } else {
        Kind::InStore
    });
    let id = token(&mut rng, 27);
    let location_id = match kind {
        // Online orders ship from the flagship store.
        Kind::Online => LOCATIONS[0].id,
        Kind::InStore => LOCATIONS[rng.gen_range(0..LOCATIONS.len())].id,
    };
    let candidates: Vec<usize> = (0..VARIATIONS.len())
        .filter(|i| kind == Kind::InStore || VARIATIONS[*i].track)
        .collect();
    let count = rng.gen_range(1..=4);
    let picks = rand::seq::index::sample(&mut rng, candidates.len(), count);
    let mut lines = Vec::with_capacity(count + 1);
    let mut usd_goods = 0;
    for (i, pick) in picks.into_iter().enumerate() {
        let v = candidates[pick];
        let var = &VARIATIONS[v];
        let quantity = [1, 1, 1, 2, 2, 3][rng.gen_range(0..6)];
        usd_goods += var.usd_cents * i64::from(quantity);
        lines.push(SimLine {
            uid: format!("{}{i:02}", token(&mut rng, 20)),
            variation: Some(v),
            name: var.item_name.to_owned(),
            quantity,
            base_price: currency.minor_of_usd_cents(var.usd_cents),
            discount: 0,
            tax: 0,
        });
    }
    if kind == Kind::InStore && rng.gen_bool(0.08) {
        let cents = rng.gen_range(5..=20) * 100;
        lines.push(SimLine {
            uid: format!("{}{:02}", token(&mut rng, 20), lines.len()),
            variation: None,
            name: "Custom Amount".to_owned(),
            quantity: 1,
            base_price: currency.minor_of_usd_cents(cents),
            discount: 0,
            tax: 0,
        });
    }
    let discount = rng.gen_bool(0.15).then(|| {
        let (name, percentage) = DISCOUNTS[rng.gen_range(0..DISCOUNTS.len())];
        SimDiscount {
            uid: token(&mut rng, 22),
            name: name.to_owned(),
            percentage,
        }
    });
    let rate = currency.tax_rate();
    for l in &mut lines {
        if let Some(d) = &discount {
            l.discount = apply_rate(l.gross(), Decimal::new(i64::from(d.percentage), 2));
        }
        l.tax = apply_rate(l.net(), rate);
    }
    let shipping = (kind == Kind::Online && usd_goods < FREE_SHIPPING_FROM_USD_CENTS).then(|| {
        (
            token(&mut rng, 22),
            currency.minor_of_usd_cents(SHIPPING_USD_CENTS),
        )
    });
    let mut order = SimOrder {
        id,
        kind,
        location_id: location_id.to_owned(),
        currency,
        state: OrderState::Open,
        version: 1,
        created_at: at,
        updated_at: at,
        closed_at: None,
        lines,
        tax_uid: token(&mut rng, 22),
        discount,
        shipping,
        shipment: None,
        tenders: Vec::new(),
        refunds: Vec::new(),
    };
    let tender_id = token(&mut rng, 29);
    match kind {
        Kind::InStore => {
            let card = rng.gen_bool(0.7).then_some(CardStatus::Captured);
            order.tenders.push(SimTender {
                id: tender_id,
                card,
                amount: order.total(),
                created_at: at,
            });
            order.state = OrderState::Completed;
            order.closed_at = Some(at);
        }
        Kind::Online => {
            let status = if rng.gen_bool(0.8) {
                CardStatus::Captured
            } else {
                CardStatus::Authorized
            };
            order.tenders.push(SimTender {
                id: tender_id,
                card: Some(status),
                amount: order.total(),
                created_at: at,
            });
            order.shipment = Some(SimShipment {
                uid: token(&mut rng, 22),
                state: ShipmentState::Proposed,
                recipient: recipient(&mut rng, currency),
                carrier: None,
                tracking: None,
                placed_at: at,
                shipped_at: None,
                canceled_at: None,
                metadata: Default::default(),
            });
        }
    }
    order
}

/// The next step of an open online order: an authorization is captured, else
/// the shipment moves on (reserved, prepared, shipped with tracking, which
/// completes the order). `false` if the order cannot move.
pub(crate) fn apply_update(o: &mut SimOrder, rng: &mut ChaCha8Rng, now: DateTime<Utc>) -> bool {
    if o.state != OrderState::Open {
        return false;
    }
    let at = next_timestamp(o.updated_at, now);
    if let Some(t) = o
        .tenders
        .iter_mut()
        .find(|t| t.card == Some(CardStatus::Authorized))
    {
        t.card = Some(CardStatus::Captured);
        // Shipped already (by UpdateOrder): paid in full now, it completes.
        let shipped = o
            .shipment
            .as_ref()
            .is_some_and(|s| s.state == ShipmentState::Completed);
        let authorized = o
            .tenders
            .iter()
            .any(|t| t.card == Some(CardStatus::Authorized));
        if shipped && !authorized {
            o.state = OrderState::Completed;
            o.closed_at = Some(at);
        }
    } else if let Some(s) = &mut o.shipment {
        s.state = match s.state {
            ShipmentState::Proposed => ShipmentState::Reserved,
            ShipmentState::Reserved => ShipmentState::Prepared,
            ShipmentState::Prepared => {
                let (carrier, prefix) = CARRIERS[rng.gen_range(0..CARRIERS.len())];
                s.carrier = Some(carrier.to_owned());
                s.tracking = Some(format!(
                    "{prefix}{:010}",
                    rng.gen_range(0..10_000_000_000u64)
                ));
                s.shipped_at = Some(at);
                o.state = OrderState::Completed;
                o.closed_at = Some(at);
                ShipmentState::Completed
            }
            ShipmentState::Completed | ShipmentState::Canceled => return false,
        };
    } else {
        o.state = OrderState::Completed;
        o.closed_at = Some(at);
    }
    o.updated_at = at;
    o.version += 1;
    true
}

/// Cancels an open order: the shipment is cancelled, an authorization voided,
/// a captured payment refunded. `false` if it is not open.
pub(crate) fn apply_cancel(o: &mut SimOrder, rng: &mut ChaCha8Rng, now: DateTime<Utc>) -> bool {
    if o.state != OrderState::Open {
        return false;
    }
    let at = next_timestamp(o.updated_at, now);
    for t in &mut o.tenders {
        match t.card {
            Some(CardStatus::Authorized) => t.card = Some(CardStatus::Voided),
            Some(CardStatus::Voided) => {}
            _ => o.refunds.push(SimRefund {
                id: token(rng, 29),
                tender_id: t.id.clone(),
                amount: t.amount,
                created_at: at,
            }),
        }
    }
    if let Some(s) = &mut o.shipment {
        s.state = ShipmentState::Canceled;
        s.canceled_at = Some(at);
    }
    o.state = OrderState::Canceled;
    o.closed_at = Some(at);
    o.updated_at = at;
    o.version += 1;
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::catalog::currency;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp_millis(1_790_000_000_123).unwrap()
    }

    #[test]
    fn an_order_depends_only_on_seed_index_and_kind() {
        let usd = currency("USD").unwrap();
        let a = generate(9, 41, None, 0.5, usd, t0()).to_json();
        assert_eq!(a, generate(9, 41, None, 0.5, usd, t0()).to_json());
        assert_ne!(a, generate(9, 42, None, 0.5, usd, t0()).to_json());
        assert_ne!(a, generate(10, 41, None, 0.5, usd, t0()).to_json());
        let sale = generate(9, 1, Some(Kind::InStore), 0.5, usd, t0());
        assert_eq!(sale.state, OrderState::Completed);
        assert_eq!(sale.tenders[0].amount, sale.total());
        let online = generate(9, 1, Some(Kind::Online), 0.5, usd, t0());
        assert_eq!(online.state, OrderState::Open);
        assert!(online.shipment.is_some());
    }

    #[test]
    fn an_online_order_ships_then_completes_and_stays_completed() {
        let usd = currency("USD").unwrap();
        let mut o = generate(3, 0, Some(Kind::Online), 0.0, usd, t0());
        let mut rng = lifecycle_rng(3);
        let mut prev = o.updated_at;
        let mut steps = 0;
        while apply_update(&mut o, &mut rng, t0()) {
            assert!(
                o.updated_at > prev,
                "the clock stands still, the stamp moves"
            );
            prev = o.updated_at;
            steps += 1;
            assert!(steps <= 5);
        }
        assert_eq!(o.state, OrderState::Completed);
        let s = o.shipment.as_ref().unwrap();
        assert_eq!(s.state, ShipmentState::Completed);
        assert!(s.tracking.is_some() && s.carrier.is_some());
        assert!(
            !apply_cancel(&mut o, &mut rng, t0()),
            "a shipped order stays shipped"
        );
    }

    #[test]
    fn cancelling_refunds_or_voids() {
        let usd = currency("USD").unwrap();
        for index in 0..20 {
            let mut o = generate(5, index, Some(Kind::Online), 0.0, usd, t0());
            let authorized = o.tenders[0].card == Some(CardStatus::Authorized);
            assert!(apply_cancel(&mut o, &mut lifecycle_rng(5), t0()));
            assert_eq!(o.state, OrderState::Canceled);
            if authorized {
                assert_eq!(o.tenders[0].card, Some(CardStatus::Voided));
                assert!(o.refunds.is_empty());
            } else {
                assert_eq!(o.refunds[0].amount, o.total());
            }
        }
    }
}

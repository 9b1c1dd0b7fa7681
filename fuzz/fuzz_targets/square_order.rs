//! Any bytes as a Square `Order`, and as the RetrieveOrder and SearchOrders
//! answers that carry one: mapping never panics, and every order that maps
//! is canonical, round-trips through JSON, has one line per line item and
//! keeps `total_money` exactly (integer minor units, never a float).
#![no_main]

mod common;

use chansync_square::normalize::{to_channel_order, variation_ids};
use chansync_square::wire::{
    ErrorBody, Order, RetrieveOrderResponse, SearchOrdersResponse, SquareError,
};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;
use serde_json::Value;

/// Maps an order as the connector does (the SKU of a variation is its id
/// here) and checks it.
fn map(order: &Order) {
    let _ = variation_ids(order).count();
    let Ok(o) = to_channel_order(order, &|id| id.to_owned()) else {
        return;
    };
    common::check_mapped(&o);
    assert_eq!(
        o.lines.len(),
        order.line_items.len(),
        "one line per line item"
    );
    if let Some(m) = &order.total_money {
        let minor = o.total * Decimal::from(10u64.pow(o.currency.minor_units()));
        assert_eq!(minor, Decimal::from(m.amount), "total_money, exactly");
    }
}

fn map_raw(v: &Value) {
    if let Ok(order) = serde_json::from_value::<Order>(v.clone()) {
        map(&order);
    }
}

/// Square's errors as the client words them.
fn describe(errors: &[SquareError]) {
    for e in errors {
        let _ = e.to_string();
    }
}

fuzz_target!(|data: &[u8]| {
    if let Ok(order) = serde_json::from_slice::<Order>(data) {
        map(&order);
    }
    if let Ok(r) = serde_json::from_slice::<RetrieveOrderResponse>(data) {
        r.order.iter().for_each(map_raw);
        describe(&r.errors);
    }
    if let Ok(r) = serde_json::from_slice::<SearchOrdersResponse>(data) {
        r.orders.iter().for_each(map_raw);
    }
    if let Ok(r) = serde_json::from_slice::<ErrorBody>(data) {
        describe(&r.errors);
    }
});

//! Helpers the integration tests share: a simulator in manual mode and a
//! connector configured against it.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use chansync_amazon::sim::{self, SimConfig, SimHandle};
use chansync_amazon::Amazon;
use chansync_sdk::model::{ChannelOrder, FulfilledBy};
use chansync_sdk::{ConnectorContext, OrderSource, SecretString};
use rust_decimal::Decimal;
use serde_json::{json, Value};

pub fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A simulator that does nothing on its own and enforces no usage plan (its
/// declared plans are Amazon's × 1000, which the connector is told too);
/// feeds finish within a few tens of milliseconds.
pub fn manual(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        generate: false,
        throttle: false,
        rate_scale: 1000.0,
        feed_queue_time: Duration::from_millis(20),
        feed_processing_time: Duration::from_millis(30),
        ..SimConfig::default()
    }
}

pub async fn start(cfg: SimConfig) -> SimHandle {
    sim::start(cfg, loopback())
        .await
        .expect("the simulator starts")
}

/// The connector's context for a simulator, with `extra` options merged in.
pub fn context(sim: &SimHandle, extra: Value) -> ConnectorContext {
    let creds = sim.credentials();
    let mut options = json!({
        "client_id": creds["client_id"],
        "lwa_endpoint": sim.lwa_endpoint(),
        "marketplace_ids": creds["marketplace_ids"],
        "seller_id": creds["seller_id"],
        "overlap": "0s",
        "feed_poll_every": "20ms",
        "rate_limits": sim.rate_limits(),
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        options[k] = v;
    }
    let secret = |k: &str| SecretString::from(creds[k].as_str().unwrap().to_owned());
    ConnectorContext {
        name: "amazon-eu".into(),
        base_url: sim.base_url(),
        options,
        secrets: [
            ("client_secret".to_owned(), secret("client_secret")),
            ("refresh_token".to_owned(), secret("refresh_token")),
        ]
        .into_iter()
        .collect(),
        ..Default::default()
    }
}

pub fn connector(sim: &SimHandle, extra: Value) -> Amazon {
    Amazon::new(context(sim, extra)).expect("a valid connector config")
}

/// Polls until the sweep ends; every order seen, in order, with repeats.
pub async fn sweep(c: &Amazon, cursor: &mut Option<String>) -> Vec<ChannelOrder> {
    let mut seen = Vec::new();
    for pages in 1.. {
        let page = c.fetch_orders(cursor.as_deref()).await.expect("a page");
        seen.extend(page.orders.into_iter().map(|p| p.order));
        *cursor = Some(page.cursor);
        if !page.has_more {
            return seen;
        }
        assert!(pages < 1000, "the sweep never ends");
    }
    unreachable!()
}

/// Orders by id; panics when one comes twice.
pub fn by_id(orders: Vec<ChannelOrder>) -> BTreeMap<String, ChannelOrder> {
    let mut map = BTreeMap::new();
    for o in orders {
        let id = o.external_id.clone();
        assert!(map.insert(id.clone(), o).is_none(), "order {id} came twice");
    }
    map
}

/// Whether the marketplace's prices include tax.
pub fn prices_include_tax(marketplace_id: &str) -> bool {
    chansync_amazon::marketplace::by_id(marketplace_id)
        .map(|m| m.prices_include_tax)
        .unwrap_or(false)
}

/// Checks chansync's arithmetic on an order (README, "How the amounts add up").
pub fn assert_adds_up(o: &ChannelOrder, tax_included: bool) {
    for l in &o.lines {
        assert_eq!(
            l.total,
            l.unit_price * Decimal::from(l.quantity) - l.discount,
            "order {} line {}",
            o.external_id,
            l.external_id
        );
    }
    let subtotal: Decimal = o.lines.iter().map(|l| l.total).sum();
    assert_eq!(o.subtotal, subtotal, "order {} subtotal", o.external_id);
    let tax = if tax_included {
        Decimal::ZERO
    } else {
        o.tax_total
    };
    assert_eq!(
        o.total,
        o.subtotal + o.shipping_total + tax,
        "order {} total ({})",
        o.external_id,
        if tax_included {
            "tax included"
        } else {
            "tax on top"
        }
    );
    let line_tax: Decimal = o.lines.iter().map(|l| l.tax).sum();
    assert!(line_tax <= o.tax_total, "order {} tax", o.external_id);
    let line_discount: Decimal = o.lines.iter().map(|l| l.discount).sum();
    assert!(
        line_discount <= o.discount_total,
        "order {} discounts",
        o.external_id
    );
}

/// Whether the order is Amazon-fulfilled in the simulator.
pub fn is_afn(sim: &SimHandle, id: &str) -> bool {
    sim.order(id).unwrap().fulfillment_channel.as_deref() == Some("AFN")
}

pub fn fulfilled_by_matches(sim: &SimHandle, o: &ChannelOrder) -> bool {
    let expected = if is_afn(sim, &o.external_id) {
        FulfilledBy::Channel
    } else {
        FulfilledBy::Merchant
    };
    o.fulfilled_by == expected
}

/// A count from the simulator's state, e.g. `["counts", "http_429"]`.
pub fn count(sim: &SimHandle, path: &[&str]) -> u64 {
    let mut v = sim.state();
    for p in path {
        v = v[*p].take();
    }
    v.as_u64().unwrap_or_else(|| panic!("no count at {path:?}"))
}

//! Any bytes as the SP-API's answers (Orders v0 envelopes, error bodies,
//! Feeds and Listings answers, a gzipped processing report) and as the
//! connector's stored `{"order": Order, "items": [OrderItem]}` pair: parsing
//! never panics, and every order that maps is canonical, round-trips through
//! JSON and keeps Amazon's `OrderTotal` exactly; gzip round-trips any bytes.
#![no_main]

mod common;

use std::collections::HashMap;
use std::str::FromStr;

use chansync_amazon::normalize::to_channel_order;
use chansync_amazon::wire::{
    CreateFeedDocumentResponse, CreateFeedResponse, Envelope, ErrorList, Feed, FeedDocument,
    ListingsFeed, ListingsItemSubmissionResponse, Order, OrderItem, OrderItemsList, OrdersList,
    ProcessingReport, TokenError, TokenResponse,
};
use chansync_amazon::{feed, gzip};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn parse<T: DeserializeOwned>(data: &[u8]) -> Option<T> {
    serde_json::from_slice(data).ok()
}

/// Maps an order as the connector does (every item must read) and checks it.
fn map(order: &Value, items: &[Value]) {
    let Ok(order) = serde_json::from_value::<Order>(order.clone()) else {
        return;
    };
    let Ok(items) = items
        .iter()
        .map(|i| serde_json::from_value::<OrderItem>(i.clone()))
        .collect::<Result<Vec<_>, _>>()
    else {
        return;
    };
    let Ok(o) = to_channel_order(&order, &items) else {
        return;
    };
    common::check_mapped(&o);
    assert_eq!(o.lines.len(), items.len(), "one line per item");
    let subtotal: Decimal = o.lines.iter().map(|l| l.total).sum();
    assert_eq!(o.subtotal, subtotal, "the subtotal is the sum of the lines");
    let total = order.order_total.as_ref().and_then(|m| m.amount.as_deref());
    if let Some(t) = total.map(str::trim).filter(|t| !t.is_empty()) {
        let t = Decimal::from_str(t).expect("the mapping read it");
        assert_eq!(o.total, t, "the total is OrderTotal, exactly");
    }
}

fuzz_target!(|data: &[u8]| {
    // Error bodies, as the client describes them.
    if let Some(e) = parse::<ErrorList>(data) {
        let _ = e.describe();
    }
    // getOrders: each order of the page, mapped without items.
    if let Some(env) = parse::<Envelope<OrdersList>>(data) {
        for o in env.payload.iter().flat_map(|p| &p.orders) {
            map(o, &[]);
        }
    }
    // getOrder; getOrderItems.
    if let Some(Envelope {
        payload: Some(o), ..
    }) = parse::<Envelope<Value>>(data)
    {
        map(&o, &[]);
    }
    let _ = parse::<Envelope<OrderItemsList>>(data);
    // Feeds and Listings answers, and the processing report.
    let _ = parse::<ListingsItemSubmissionResponse>(data);
    let _ = parse::<CreateFeedDocumentResponse>(data);
    let _ = parse::<CreateFeedResponse>(data);
    let _ = parse::<Feed>(data);
    let _ = parse::<FeedDocument>(data);
    let _ = parse::<ListingsFeed>(data);
    let _ = parse::<TokenResponse>(data);
    let _ = parse::<TokenError>(data);
    let skus: HashMap<u64, String> = [(1, "SKU-1".to_owned())].into();
    if let Some(r) = parse::<ProcessingReport>(data) {
        let _ = feed::outcome(&r, &skus);
    }
    // A report may come gzipped.
    if let Ok(plain) = gzip::gunzip(data) {
        if let Some(r) = parse::<ProcessingReport>(&plain) {
            let _ = feed::outcome(&r, &skus);
        }
    }
    assert_eq!(
        gzip::gunzip(&gzip::gzip_stored(data)).expect("a stored gzip reads"),
        data,
        "gzip round-trips"
    );
    // The pair the connector stores as an order's raw JSON.
    let Some(v) = parse::<Value>(data) else {
        return;
    };
    let (Some(order), Some(items)) = (v.get("order"), v.get("items")) else {
        return;
    };
    if let Some(items) = items.as_array() {
        map(order, items);
    }
});

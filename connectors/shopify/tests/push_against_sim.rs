//! The Shopify connector's push-back against its simulator over loopback HTTP:
//! stock levels (unknown SKUs, compare-and-swap), fulfilments (once, partial,
//! with tracking), cancellations, and 429/5xx bursts and lost answers that
//! must be waited out without applying anything twice.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chansync_sdk::model::{ChannelOrder, ChannelStatus, Fulfillment, FulfillmentLine};
use chansync_sdk::{
    CancelRequest, Capability, Connector, ConnectorContext, ConnectorError, ConnectorFactory,
    FulfillmentRequest, SecretString, StockLevel, WebhookEvent, WebhookRequest,
};
use chansync_shopify::rest::RestOrder;
use chansync_shopify::sim::{self, Faults, SimConfig, SimHandle};
use chansync_shopify::ShopifyFactory;
use serde_json::{json, Value};
use tokio::time::Instant;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn manual(seed: u64) -> SimConfig {
    // A quick refill keeps tests fast.
    SimConfig {
        seed,
        generate: false,
        restore_rate: 20_000.0,
        ..SimConfig::default()
    }
}

fn connector(sim: &SimHandle, options: Value) -> Box<dyn Connector> {
    ShopifyFactory
        .build(ConnectorContext {
            name: "shop".into(),
            base_url: sim.base_url(),
            access_token: Some(SecretString::from(sim.access_token().to_owned())),
            webhook_secret: Some(SecretString::from(sim.webhook_secret().to_owned())),
            rate_limit: None,
            options,
            ..Default::default()
        })
        .expect("valid connector config")
}

fn level(sku: &str, quantity: i64) -> StockLevel {
    StockLevel {
        channel_sku: sku.into(),
        channel_location: None,
        quantity,
        idempotency_key: format!("chansync-stock-{sku}-{quantity}"),
    }
}

fn requests(sim: &SimHandle) -> u64 {
    sim.state()["counts"]["requests"].as_u64().unwrap()
}

/// A GraphQL request straight to the simulator, as a test's own eyes.
async fn graphql(sim: &SimHandle, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(sim.graphql_url())
        .header("X-Shopify-Access-Token", sim.access_token())
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The available quantity of a SKU at each location that stocks it.
async fn levels(sim: &SimHandle, sku: &str) -> BTreeMap<String, i64> {
    let q = r#"query($q: String!) { locations(first: 5) { nodes { id } }
        inventoryItems(first: 5, query: $q) { nodes { sku } } }"#;
    let data = graphql(sim, q, json!({ "q": format!("sku:\"{sku}\"") })).await;
    let mut out = BTreeMap::new();
    for loc in data["data"]["locations"]["nodes"].as_array().unwrap() {
        let loc = loc["id"].as_str().unwrap();
        let q = r#"query($q: String!, $l: ID!) { inventoryItems(first: 5, query: $q) {
            nodes { inventoryLevel(locationId: $l) { quantities(names: ["available"]) { quantity } } } } }"#;
        let d = graphql(sim, q, json!({ "q": format!("sku:\"{sku}\""), "l": loc })).await;
        if let Some(n) = d["data"]["inventoryItems"]["nodes"][0]["inventoryLevel"]["quantities"][0]
            ["quantity"]
            .as_i64()
        {
            out.insert(loc.to_owned(), n);
        }
    }
    out
}

/// Polls until the sweep ends; every order seen, last state wins.
async fn sweep(c: &dyn Connector) -> BTreeMap<String, ChannelOrder> {
    let source = c.orders().expect("shopify polls orders");
    let mut seen = BTreeMap::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let page = source.fetch_orders(cursor.as_deref()).await.expect("page");
        for polled in page.orders {
            seen.insert(polled.order.external_id.clone(), polled.order);
        }
        cursor = Some(page.cursor);
        if !page.has_more {
            return seen;
        }
    }
    panic!("the sweep never ends");
}

fn fulfilment(
    order: u64,
    tracking: Option<&str>,
    lines: &[(u64, u32)],
    key: &str,
) -> FulfillmentRequest {
    FulfillmentRequest {
        external_order_id: order.to_string(),
        fulfillment: Fulfillment {
            location: None,
            carrier: Some("DHL".into()),
            tracking: tracking.map(str::to_owned),
            lines: lines
                .iter()
                .map(|(id, quantity)| FulfillmentLine {
                    external_id: id.to_string(),
                    quantity: *quantity,
                })
                .collect(),
        },
        idempotency_key: key.into(),
    }
}

fn cancel(order: &str, reason: Option<&str>) -> CancelRequest {
    CancelRequest {
        external_order_id: order.into(),
        reason: reason.map(str::to_owned),
        idempotency_key: format!("chansync-cancel-{order}"),
    }
}

fn fulfillments(sim: &SimHandle) -> Vec<Value> {
    sim.state()["fulfillments"].as_array().unwrap().clone()
}

/// An order with a line of at least two units and another line.
fn multi_line_order(sim: &SimHandle) -> RestOrder {
    for _ in 0..20 {
        for id in sim.create_orders(5) {
            let o = sim.rest_order(id).unwrap();
            if o.line_items.len() >= 2 && o.line_items[0].quantity >= 2 {
                return o;
            }
        }
    }
    panic!("the generator makes multi-line orders");
}

#[tokio::test]
async fn push_capabilities_are_declared() {
    let sim = sim::start(manual(1), loopback()).await.unwrap();
    let caps = connector(&sim, json!({})).capabilities();
    for c in [
        Capability::PushStock,
        Capability::PushFulfillment,
        Capability::Cancel,
    ] {
        assert!(caps.contains(&c), "{c:?} in {caps:?}");
    }
    // Stock and cancellation use 2026-04 features; older versions only poll.
    let old = connector(&sim, json!({"api_version": "2025-10"}));
    assert!(old.stock_push().is_none() && old.cancel().is_none());
    assert!(ShopifyFactory
        .build(ConnectorContext {
            access_token: Some(SecretString::from("x".to_owned())),
            options: json!({"location_id": "main"}),
            ..Default::default()
        })
        .is_err());
    sim.stop();
}

#[tokio::test]
async fn stock_levels_for_known_skus_show_up_in_the_sim_at_the_primary_location() {
    let sim = sim::start(manual(2), loopback()).await.unwrap();
    let c = connector(&sim, json!({}));
    let push = c.stock_push().unwrap();
    assert!(push.batch_size() >= 1);
    let batch = [
        level("SKU-MUG-1", 7),
        level("SKU-TEE-2", 0),
        level("SKU-LAMP-1", 31),
    ];
    let rejected = push.push_stock(&batch).await.unwrap();
    assert!(rejected.is_empty(), "{rejected:?}");
    let want: BTreeMap<String, i64> = batch
        .iter()
        .map(|l| (l.channel_sku.clone(), l.quantity))
        .collect();
    assert_eq!(sim.stock(), want);
    assert_eq!(sim.state()["stock"], json!(want));
    // Set at the primary location (the first), not the pop-up store.
    let at = levels(&sim, "SKU-MUG-1").await;
    assert_eq!(at.get("gid://shopify/Location/76000000001"), Some(&7));
    assert_ne!(at.get("gid://shopify/Location/76000000002"), Some(&7));

    // The same levels again: one request (items and quantities are cached).
    let before = requests(&sim);
    assert!(push.push_stock(&batch).await.unwrap().is_empty());
    assert_eq!(requests(&sim) - before, 1);
    assert_eq!(sim.stock(), want);
    sim.stop();
}

#[tokio::test]
async fn a_level_can_go_to_a_named_location_and_unstocked_pairs_are_rejected() {
    let sim = sim::start(manual(3), loopback()).await.unwrap();
    let c = connector(&sim, json!({"location_id": "76000000002"}));
    let push = c.stock_push().unwrap();
    // The pop-up store stocks every other product: SKU-MUG-1 yes, SKU-MUG-2 no.
    let rejected = push
        .push_stock(&[level("SKU-MUG-1", 4), level("SKU-MUG-2", 4)])
        .await
        .unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].channel_sku, "SKU-MUG-2");
    assert!(matches!(rejected[0].error, ConnectorError::Permanent(_)));
    assert_eq!(
        levels(&sim, "SKU-MUG-1")
            .await
            .get("gid://shopify/Location/76000000002"),
        Some(&4)
    );
    // A level's own location wins over the configured one.
    let mut l = level("SKU-MUG-2", 9);
    l.channel_location = Some("gid://shopify/Location/76000000001".into());
    assert!(push.push_stock(&[l]).await.unwrap().is_empty());
    assert_eq!(sim.stock()["SKU-MUG-2"], 9);
    sim.stop();
}

#[tokio::test]
async fn an_unknown_sku_is_rejected_while_the_rest_applies_and_succeeds_after_add_product() {
    let sim = sim::start(manual(4), loopback()).await.unwrap();
    let c = connector(&sim, json!({}));
    let push = c.stock_push().unwrap();
    let batch = [
        level("SKU-CAP-1", 3),
        level("SKU-NEW-9", 5),
        level("SKU-PEN-1", 8),
    ];
    let rejected = push.push_stock(&batch).await.unwrap();
    assert_eq!(
        rejected
            .iter()
            .map(|r| r.channel_sku.as_str())
            .collect::<Vec<_>>(),
        ["SKU-NEW-9"]
    );
    assert!(!rejected[0].error.is_retryable(), "{:?}", rejected[0].error);
    assert_eq!(
        sim.stock(),
        BTreeMap::from([("SKU-CAP-1".into(), 3), ("SKU-PEN-1".into(), 8)])
    );

    assert!(sim.add_product("SKU-NEW-9", "Brand new thing"));
    assert!(!sim.add_product("SKU-NEW-9", "Again"));
    let rejected = push.push_stock(&[level("SKU-NEW-9", 5)]).await.unwrap();
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(sim.stock()["SKU-NEW-9"], 5);
    sim.stop();
}

#[tokio::test]
async fn a_level_changed_in_shopify_between_pushes_still_ends_at_the_pushed_value() {
    let sim = sim::start(manual(5), loopback()).await.unwrap();
    let c = connector(&sim, json!({}));
    let push = c.stock_push().unwrap();
    assert!(push
        .push_stock(&[level("SKU-SOAP-1", 10), level("SKU-TOWEL-1", 6)])
        .await
        .unwrap()
        .is_empty());
    // A sale in the shop: the connector's compare-and-swap value is stale now.
    assert_eq!(sim.adjust_stock("SKU-SOAP-1", -3), Some(7));
    assert_eq!(sim.stock()["SKU-SOAP-1"], 7);
    let before = requests(&sim);
    let rejected = push
        .push_stock(&[level("SKU-SOAP-1", 12), level("SKU-TOWEL-1", 5)])
        .await
        .unwrap();
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(
        sim.stock(),
        BTreeMap::from([("SKU-SOAP-1".into(), 12), ("SKU-TOWEL-1".into(), 5)])
    );
    // Refused as stale, the quantity read again, the batch sent again.
    assert_eq!(requests(&sim) - before, 3);
    sim.stop();
}

#[tokio::test]
async fn a_fulfilment_pushed_twice_appears_once_and_the_order_polls_as_fulfilled() {
    let sim = sim::start(manual(6), loopback()).await.unwrap();
    let ids = sim.create_orders(3);
    let c = connector(&sim, json!({}));
    let push = c.fulfillment_push().unwrap();
    let req = fulfilment(ids[1], Some("1Z999AA10123456784"), &[], "chansync-f-1");
    push.push_fulfillment(&req).await.unwrap();
    push.push_fulfillment(&req).await.unwrap();
    let got = fulfillments(&sim);
    assert_eq!(got.len(), 1, "{got:?}");
    let f = &got[0];
    assert_eq!(f["order_id"], ids[1].to_string());
    assert_eq!(f["tracking_number"], "1Z999AA10123456784");
    assert_eq!(f["tracking_company"], "DHL");
    let rest = sim.rest_order(ids[1]).unwrap();
    let shipped: BTreeMap<String, u64> = f["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["line_item_id"].as_str().unwrap().to_owned(),
                l["quantity"].as_u64().unwrap(),
            )
        })
        .collect();
    let ordered: BTreeMap<String, u64> = rest
        .line_items
        .iter()
        .map(|l| (l.id.to_string(), u64::from(l.quantity)))
        .collect();
    assert_eq!(shipped, ordered);
    assert_eq!(rest.fulfillment_status.as_deref(), Some("fulfilled"));

    let polled = sweep(c.as_ref()).await;
    let order = &polled[&ids[1].to_string()];
    assert_eq!(order.status, ChannelStatus::Fulfilled);
    assert_eq!(order.fulfillments.len(), 1);
    assert_eq!(
        order.fulfillments[0].tracking.as_deref(),
        Some("1Z999AA10123456784")
    );
    assert_eq!(order.fulfillments[0].carrier.as_deref(), Some("DHL"));
    assert_eq!(polled[&ids[0].to_string()].status, ChannelStatus::Open);
    sim.stop();
}

#[tokio::test]
async fn a_partial_fulfilment_by_lines_then_the_rest_and_no_more() {
    let sim = sim::start(manual(7), loopback()).await.unwrap();
    let order = multi_line_order(&sim);
    let c = connector(&sim, json!({}));
    let push = c.fulfillment_push().unwrap();
    let first_line = order.line_items[0].id;
    push.push_fulfillment(&fulfilment(order.id, Some("T-1"), &[(first_line, 1)], "k1"))
        .await
        .unwrap();
    let got = fulfillments(&sim);
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0]["lines"],
        json!([{ "line_item_id": first_line.to_string(), "quantity": 1 }])
    );
    let polled = sweep(c.as_ref()).await;
    assert_eq!(
        polled[&order.id.to_string()].status,
        ChannelStatus::PartiallyFulfilled
    );

    // More than is left of a line is refused for good, and nothing ships.
    let too_many = order.line_items[0].quantity;
    let err = push
        .push_fulfillment(&fulfilment(
            order.id,
            Some("T-2"),
            &[(first_line, too_many)],
            "k2",
        ))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err:?}");
    assert_eq!(fulfillments(&sim).len(), 1);

    // Everything left, under a second tracking number.
    push.push_fulfillment(&fulfilment(order.id, Some("T-3"), &[], "k3"))
        .await
        .unwrap();
    let got = fulfillments(&sim);
    assert_eq!(got.len(), 2);
    let second: u64 = got[1]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["quantity"].as_u64().unwrap())
        .sum();
    let total: u64 = order.line_items.iter().map(|l| u64::from(l.quantity)).sum();
    assert_eq!(second, total - 1);
    let polled = sweep(c.as_ref()).await;
    let o = &polled[&order.id.to_string()];
    assert_eq!(o.status, ChannelStatus::Fulfilled);
    assert_eq!(o.fulfillments.len(), 2);
    sim.stop();
}

#[tokio::test]
async fn cancelling_twice_is_one_cancellation() {
    let sim = sim::start(manual(8), loopback()).await.unwrap();
    let ids = sim.create_orders(2);
    let c = connector(&sim, json!({}));
    let push = c.cancel().unwrap();
    let req = cancel(&ids[0].to_string(), Some("out of stock"));
    push.cancel_order(&req).await.unwrap();
    push.cancel_order(&req).await.unwrap();
    let state = sim.state();
    let got = state["cancellations"].as_array().unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["order_id"], ids[0].to_string());
    assert_eq!(got[0]["reason"], "INVENTORY");
    assert!(got[0]["at"].is_string());
    let rest = sim.rest_order(ids[0]).unwrap();
    assert!(rest.cancelled_at.is_some());
    assert_eq!(rest.cancel_reason.as_deref(), Some("inventory"));
    let polled = sweep(c.as_ref()).await;
    assert_eq!(polled[&ids[0].to_string()].status, ChannelStatus::Cancelled);
    assert_eq!(polled[&ids[1].to_string()].status, ChannelStatus::Open);

    // An order the shop cancelled itself counts as done too.
    assert!(sim.cancel_order(ids[1]));
    push.cancel_order(&cancel(&ids[1].to_string(), None))
        .await
        .unwrap();
    assert_eq!(sim.state()["cancellations"].as_array().unwrap().len(), 1);
    sim.stop();
}

#[tokio::test]
async fn a_fulfilled_order_cannot_be_cancelled() {
    let sim = sim::start(manual(9), loopback()).await.unwrap();
    let ids = sim.create_orders(1);
    let c = connector(&sim, json!({}));
    c.fulfillment_push()
        .unwrap()
        .push_fulfillment(&fulfilment(ids[0], Some("T"), &[], "k"))
        .await
        .unwrap();
    let err = c
        .cancel()
        .unwrap()
        .cancel_order(&cancel(&ids[0].to_string(), None))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err:?}");
    assert!(sim.rest_order(ids[0]).unwrap().cancelled_at.is_none());
    sim.stop();
}

#[tokio::test]
async fn unknown_order_ids_are_permanent_errors() {
    let sim = sim::start(manual(10), loopback()).await.unwrap();
    sim.create_orders(1);
    let c = connector(&sim, json!({}));
    for id in ["5500000099999", "not-an-id"] {
        let err = c
            .fulfillment_push()
            .unwrap()
            .push_fulfillment(&FulfillmentRequest {
                external_order_id: id.into(),
                ..fulfilment(1, Some("T"), &[], "k")
            })
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectorError::Permanent(_)), "{id}: {err:?}");
        let err = c
            .cancel()
            .unwrap()
            .cancel_order(&cancel(id, None))
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectorError::Permanent(_)), "{id}: {err:?}");
    }
    let state = sim.state();
    assert!(state["fulfillments"].as_array().unwrap().is_empty());
    assert!(state["cancellations"].as_array().unwrap().is_empty());
    sim.stop();
}

#[tokio::test]
async fn a_429_with_retry_after_is_waited_out_and_nothing_is_applied_twice() {
    let sim = sim::start(manual(11), loopback()).await.unwrap();
    let ids = sim.create_orders(1);
    let c = connector(&sim, json!({}));
    sim.inject_faults(Faults {
        status: 429,
        count: 2,
        retry_after_secs: Some(1),
    });
    let started = Instant::now();
    c.fulfillment_push()
        .unwrap()
        .push_fulfillment(&fulfilment(ids[0], Some("T-429"), &[], "k"))
        .await
        .unwrap();
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was not honoured: {:?}",
        started.elapsed()
    );
    let state = sim.state();
    assert_eq!(state["counts"]["http_429"], 2);
    assert_eq!(state["fulfillments"].as_array().unwrap().len(), 1);
    assert!(c.rate_limit_state().unwrap().throttled >= 1);
    sim.stop();
}

#[tokio::test]
async fn a_503_burst_is_waited_out_for_each_kind_of_push() {
    let sim = sim::start(manual(12), loopback()).await.unwrap();
    let ids = sim.create_orders(2);
    let c = connector(&sim, json!({}));
    let burst = Faults {
        status: 503,
        count: 2,
        retry_after_secs: None,
    };
    sim.inject_faults(burst);
    assert!(c
        .stock_push()
        .unwrap()
        .push_stock(&[level("SKU-CARDS-1", 2)])
        .await
        .unwrap()
        .is_empty());
    sim.inject_faults(burst);
    c.fulfillment_push()
        .unwrap()
        .push_fulfillment(&fulfilment(ids[0], Some("T-503"), &[], "k"))
        .await
        .unwrap();
    sim.inject_faults(burst);
    c.cancel()
        .unwrap()
        .cancel_order(&cancel(&ids[1].to_string(), None))
        .await
        .unwrap();
    let state = sim.state();
    assert_eq!(state["stock"]["SKU-CARDS-1"], 2);
    assert_eq!(state["fulfillments"].as_array().unwrap().len(), 1);
    assert_eq!(state["cancellations"].as_array().unwrap().len(), 1);
    sim.stop();
}

#[tokio::test]
async fn lost_answers_to_mutations_are_not_applied_twice() {
    let sim = sim::start(manual(13), loopback()).await.unwrap();
    let order = multi_line_order(&sim);
    let other = sim.create_orders(1)[0];
    let c = connector(&sim, json!({}));

    // Shopify created the fulfilment but the answer was lost: the retry finds it.
    sim.lose_answers("fulfillmentCreate", 1);
    c.fulfillment_push()
        .unwrap()
        .push_fulfillment(&fulfilment(
            order.id,
            Some("T-lost"),
            &[(order.line_items[0].id, 1)],
            "k",
        ))
        .await
        .unwrap();
    let got = fulfillments(&sim);
    assert_eq!(got.len(), 1, "{got:?}");

    // The same without tracking: the same lines shipped untracked are found.
    sim.lose_answers("fulfillmentCreate", 1);
    let second = order.line_items[1].id;
    c.fulfillment_push()
        .unwrap()
        .push_fulfillment(&fulfilment(order.id, None, &[(second, 1)], "k2"))
        .await
        .unwrap();
    assert_eq!(fulfillments(&sim).len(), 2);

    sim.lose_answers("orderCancel", 1);
    c.cancel()
        .unwrap()
        .cancel_order(&cancel(&other.to_string(), Some("customer")))
        .await
        .unwrap();
    assert_eq!(sim.state()["cancellations"].as_array().unwrap().len(), 1);

    // A stock set whose answer was lost is sent again under the same key.
    let push = c.stock_push().unwrap();
    assert!(push
        .push_stock(&[level("SKU-BOARD-1", 3)])
        .await
        .unwrap()
        .is_empty());
    sim.lose_answers("inventorySetQuantities", 1);
    let before = requests(&sim);
    assert!(push
        .push_stock(&[level("SKU-BOARD-1", 4)])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(sim.stock()["SKU-BOARD-1"], 4);
    assert_eq!(
        requests(&sim) - before,
        2,
        "one retry, answered from the key"
    );
    sim.stop();
}

#[tokio::test]
async fn mutations_cost_ten_points_and_a_small_bucket_slows_pushes_without_errors() {
    let sim = sim::start(manual(16), loopback()).await.unwrap();
    let c = connector(&sim, json!({}));
    let push = c.stock_push().unwrap();
    assert!(push
        .push_stock(&[level("SKU-DECK-1", 1)])
        .await
        .unwrap()
        .is_empty());
    let r = graphql(
        &sim,
        r#"mutation { orderCancel(orderId: "gid://shopify/Order/1", reason: OTHER, restock: true) { job { id } } }"#,
        json!({}),
    )
    .await;
    assert_eq!(r["extensions"]["cost"]["requestedQueryCost"], 10);
    assert_eq!(r["extensions"]["cost"]["actualQueryCost"], 10);
    // Room for two mutations at a time: the connector waits for the refill.
    sim.set_throttle(25.0, 50.0);
    for q in 2..=7 {
        let rejected = push.push_stock(&[level("SKU-DECK-1", q)]).await.unwrap();
        assert!(rejected.is_empty(), "{rejected:?}");
    }
    assert_eq!(sim.stock()["SKU-DECK-1"], 7);
    let limits = c.rate_limit_state().unwrap();
    assert!(limits.pauses > 0, "{limits:?}");
    sim.stop();
}

#[tokio::test]
async fn the_http_controls_inject_faults_and_add_products() {
    let sim = sim::start(manual(14), loopback()).await.unwrap();
    let http = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        http.post(format!("{}{path}", sim.base_url()))
            .json(&body)
            .send()
    };
    let r = post("/_sim/faults", json!({"status": 418, "count": 1}))
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let r = post(
        "/_sim/faults",
        json!({"status": 429, "count": 1, "retry_after_secs": 1}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    let r = graphql(&sim, "{ location { id } }", json!({})).await;
    assert_eq!(r["errors"], json!("Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."));
    assert_eq!(sim.state()["counts"]["http_429"], 1);
    let r = graphql(&sim, "{ location { id } }", json!({})).await;
    assert_eq!(
        r["data"]["location"]["id"],
        "gid://shopify/Location/76000000001"
    );

    let r = post(
        "/_sim/products",
        json!({"sku": "SKU-HTTP-1", "title": "Via HTTP"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 201);
    let r = post(
        "/_sim/products",
        json!({"sku": "SKU-HTTP-1", "title": "Again"}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 409);
    let r = post(
        "/_sim/stock/adjust",
        json!({"sku": "SKU-HTTP-1", "delta": 6}),
    )
    .await
    .unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["available"], 6);
    let c = connector(&sim, json!({}));
    assert!(c
        .stock_push()
        .unwrap()
        .push_stock(&[level("SKU-HTTP-1", 2)])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(sim.stock()["SKU-HTTP-1"], 2);
    sim.stop();
}

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

async fn receive(State(r): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.0.lock().unwrap().push((headers, body));
    StatusCode::OK
}

#[tokio::test]
async fn fulfilments_and_cancellations_send_shopifys_webhooks() {
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let url = format!("http://{}/hooks", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/hooks", post(receive))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let sim = sim::start(
        SimConfig {
            webhook_to: Some(url.clone()),
            ..manual(15)
        },
        loopback(),
    )
    .await
    .unwrap();
    let ids = sim.create_orders(2);
    let c = connector(&sim, json!({}));
    c.fulfillment_push()
        .unwrap()
        .push_fulfillment(&fulfilment(ids[0], Some("T-hook"), &[], "k"))
        .await
        .unwrap();
    c.cancel()
        .unwrap()
        .cancel_order(&cancel(&ids[1].to_string(), None))
        .await
        .unwrap();
    assert!(sim.webhooks_idle(Duration::from_secs(10)).await);
    let got = received.0.lock().unwrap().clone();
    let topics: Vec<&str> = got
        .iter()
        .map(|(h, _)| h["x-shopify-topic"].to_str().unwrap())
        .collect();
    assert_eq!(
        topics[2..],
        [
            "fulfillments/create",
            "orders/fulfilled",
            "orders/updated",
            "orders/cancelled",
            "orders/updated"
        ]
    );
    let hooks = c.webhooks().unwrap();
    let parse = |i: usize| {
        let req = WebhookRequest {
            headers: &got[i].0,
            body: &got[i].1,
            url: &url,
        };
        hooks.verify(&req).expect("signed");
        hooks.parse(&req).expect("parses").event
    };
    assert!(matches!(parse(2), WebhookEvent::Ignored));
    let created: Value = serde_json::from_slice(&got[2].1).unwrap();
    assert_eq!(created["order_id"], ids[0]);
    assert_eq!(created["tracking_number"], "T-hook");
    let WebhookEvent::Order(shipped) = parse(4) else {
        panic!("orders/updated is an order")
    };
    assert_eq!(shipped.status, ChannelStatus::Fulfilled);
    assert_eq!(shipped.fulfillments[0].tracking.as_deref(), Some("T-hook"));
    let WebhookEvent::Order(cancelled) = parse(6) else {
        panic!("orders/updated is an order")
    };
    assert_eq!(cancelled.status, ChannelStatus::Cancelled);
    assert!(cancelled.updated_at > shipped.placed_at);
    sim.stop();
}

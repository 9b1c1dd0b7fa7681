//! The Shopify connector against its simulator over loopback HTTP: paging,
//! line paging, cost throttling, auth errors and signed webhooks.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chansync_sdk::model::ChannelOrder;
use chansync_sdk::{
    Connector, ConnectorContext, ConnectorError, ConnectorFactory, SecretString, WebhookEvent,
    WebhookRequest,
};
use chansync_shopify::normalize::from_rest;
use chansync_shopify::sim::{self, SimConfig, SimHandle};
use chansync_shopify::ShopifyFactory;
use serde_json::json;

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn manual(seed: u64) -> SimConfig {
    // A quick refill keeps tests fast; the throttling tests set their own bucket.
    SimConfig {
        seed,
        generate: false,
        restore_rate: 20_000.0,
        ..SimConfig::default()
    }
}

fn connector(sim: &SimHandle, options: serde_json::Value) -> Box<dyn Connector> {
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

/// Polls until the sweep ends; returns every order seen (last state wins)
/// and how many pages it took.
async fn sweep(
    c: &dyn Connector,
    cursor: &mut Option<String>,
) -> (BTreeMap<String, ChannelOrder>, usize) {
    let source = c.orders().expect("shopify polls orders");
    let mut seen = BTreeMap::new();
    let mut pages = 0;
    loop {
        let page = source.fetch_orders(cursor.as_deref()).await.expect("page");
        pages += 1;
        for polled in page.orders {
            seen.insert(polled.order.external_id.clone(), polled.order);
        }
        *cursor = Some(page.cursor);
        if !page.has_more {
            return (seen, pages);
        }
        assert!(pages < 1000, "the sweep never ends");
    }
}

/// What the simulator's webhooks say each order is, normalized.
fn truth(sim: &SimHandle) -> BTreeMap<String, ChannelOrder> {
    sim.order_ids()
        .into_iter()
        .map(|id| {
            let rest = sim.rest_order(id).expect("listed order exists");
            (
                id.to_string(),
                from_rest(&rest).expect("simulated order normalizes"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_sweep_pages_through_every_order_and_agrees_with_the_webhook_shape() {
    let sim = sim::start(manual(7), loopback()).await.unwrap();
    sim.create_orders(45);
    // One line per page forces the per-order line paging for multi-line orders.
    let c = connector(&sim, json!({"page_size": 10, "line_items_per_page": 1}));
    let mut cursor = None;
    let (seen, pages) = sweep(c.as_ref(), &mut cursor).await;
    let expected = truth(&sim);
    assert_eq!(seen.len(), 45);
    assert!(
        pages >= 5,
        "45 orders at 10 a page take at least 5 pages, took {pages}"
    );
    assert!(
        expected.values().any(|o| o.lines.len() > 1),
        "the generator makes multi-line orders"
    );
    for (id, order) in &expected {
        assert_eq!(
            seen.get(id),
            Some(order),
            "order {id}: GraphQL and REST shapes disagree"
        );
    }
    sim.stop();
}

#[tokio::test]
async fn the_next_sweep_brings_changes_and_new_orders_only_from_the_watermark() {
    let sim = sim::start(manual(8), loopback()).await.unwrap();
    let first = sim.create_orders(12);
    // The watermark is inclusive: orders stamped in its second come again.
    // One later order moves it past the first twelve.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let marker = sim.create_orders(1);
    let c = connector(&sim, json!({"overlap": "0s"}));
    let mut cursor = None;
    let (seen, _) = sweep(c.as_ref(), &mut cursor).await;
    assert_eq!(seen.len(), 13);

    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(sim.cancel_order(first[3]));
    let added = sim.create_orders(2);
    let (seen, _) = sweep(c.as_ref(), &mut cursor).await;
    let mut want: Vec<String> = added
        .iter()
        .chain(&marker)
        .chain([&first[3]])
        .map(u64::to_string)
        .collect();
    want.sort();
    assert_eq!(seen.keys().cloned().collect::<Vec<_>>(), want);
    let cancelled = &seen[&first[3].to_string()];
    assert_eq!(
        cancelled.status,
        chansync_sdk::model::ChannelStatus::Cancelled
    );
    sim.stop();
}

#[tokio::test]
async fn an_order_stamped_in_the_future_does_not_hide_the_next_ones() {
    let sim = sim::start(manual(9), loopback()).await.unwrap();
    let busy = sim.create_orders(1)[0];
    // Eight changes within a second: the simulator, like a channel whose
    // clock runs ahead, stamps the last one seconds into the future.
    for _ in 0..8 {
        assert!(sim.update_order(busy));
    }
    let stamped = sim.rest_order(busy).unwrap().updated_at;
    assert!(stamped > chrono::Utc::now() + chrono::Duration::seconds(3));
    let c = connector(&sim, json!({"overlap": "0s"}));
    let mut cursor = None;
    let (seen, _) = sweep(c.as_ref(), &mut cursor).await;
    assert_eq!(seen.len(), 1);
    // An order placed now is older than that stamp; the next sweep finds it.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let next = sim.create_orders(1)[0];
    let (seen, _) = sweep(c.as_ref(), &mut cursor).await;
    assert!(
        seen.contains_key(&next.to_string()),
        "the order placed after the future stamp was skipped: {:?}",
        seen.keys()
    );
    sim.stop();
}

#[tokio::test]
async fn a_small_cost_bucket_slows_the_sweep_without_errors_or_lost_pages() {
    let sim = sim::start(manual(9), loopback()).await.unwrap();
    sim.create_orders(30);
    // Room for about one page at a time: the connector must wait for the
    // bucket to refill rather than fail.
    sim.set_throttle(500.0, 1000.0);
    let c = connector(&sim, json!({"page_size": 2, "line_items_per_page": 5}));
    let mut cursor = None;
    let (seen, _) = sweep(c.as_ref(), &mut cursor).await;
    assert_eq!(seen.len(), 30);
    assert_eq!(seen, truth(&sim));
    let state = sim.state();
    assert!(state["counts"]["requests"].as_u64().unwrap() >= 6);
    let limits = c.rate_limit_state().expect("shopify reports its limiter");
    let throttled = state["counts"]["throttled"].as_u64().unwrap();
    assert!(
        throttled > 0 || limits.pauses > 0,
        "a 500-point bucket must make the connector wait: {state}"
    );
    sim.stop();
}

#[tokio::test]
async fn a_query_over_the_max_cost_shrinks_the_page_and_still_gets_everything() {
    let cfg = SimConfig {
        max_query_cost: 500.0,
        ..manual(10)
    };
    let sim = sim::start(cfg, loopback()).await.unwrap();
    sim.create_orders(20);
    let c = connector(&sim, json!({"page_size": 50, "line_items_per_page": 10}));
    let mut cursor = None;
    let (seen, _) = sweep(c.as_ref(), &mut cursor).await;
    assert_eq!(seen.len(), 20);
    sim.stop();
}

#[tokio::test]
async fn a_wrong_token_is_an_auth_error_not_a_retry_loop() {
    let sim = sim::start(manual(11), loopback()).await.unwrap();
    let c = ShopifyFactory
        .build(ConnectorContext {
            name: "shop".into(),
            base_url: sim.base_url(),
            access_token: Some(SecretString::from("shpat_wrong".to_owned())),
            webhook_secret: None,
            rate_limit: None,
            options: json!({}),
            ..Default::default()
        })
        .unwrap();
    let err = c.orders().unwrap().fetch_orders(None).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    assert_eq!(
        sim.state()["counts"]["requests"].as_u64(),
        Some(1),
        "auth errors are not retried"
    );
    sim.stop();
}

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

async fn receive(State(r): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.0.lock().unwrap().push((headers, body));
    StatusCode::OK
}

#[tokio::test]
async fn simulated_webhooks_verify_and_parse_as_the_orders_they_describe() {
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
            ..manual(12)
        },
        loopback(),
    )
    .await
    .unwrap();
    let ids = sim.create_orders(3);
    assert!(sim.update_order(ids[0]));
    assert!(sim.webhooks_idle(Duration::from_secs(10)).await);

    let c = connector(&sim, json!({}));
    let hooks = c.webhooks().unwrap();
    let got = received.0.lock().unwrap().clone();
    assert_eq!(got.len(), 4);
    let mut event_ids = std::collections::HashSet::new();
    for (headers, body) in &got {
        let req = WebhookRequest {
            headers,
            body,
            url: &url,
        };
        hooks.verify(&req).expect("signature verifies");
        let delivery = hooks.parse(&req).expect("parses");
        assert!(
            event_ids.insert(delivery.event_id.clone()),
            "each delivery has its own id"
        );
        let WebhookEvent::Order(order) = delivery.event else {
            panic!("an orders/* topic is an order")
        };
        let id: u64 = order.external_id.parse().unwrap();
        assert!(ids.contains(&id));
    }
    let last = &got[3];
    let req = WebhookRequest {
        headers: &last.0,
        body: &last.1,
        url: &url,
    };
    let WebhookEvent::Order(order) = hooks.parse(&req).unwrap().event else {
        unreachable!()
    };
    assert_eq!(*order, from_rest(&sim.rest_order(ids[0]).unwrap()).unwrap());

    // One flipped byte and the signature no longer holds.
    let mut tampered = last.1.to_vec();
    let n = tampered.len() / 2;
    tampered[n] ^= 1;
    let req = WebhookRequest {
        headers: &last.0,
        body: &tampered,
        url: &url,
    };
    assert!(hooks.verify(&req).is_err());
    sim.stop();
}

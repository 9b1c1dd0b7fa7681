//! The Square connector against its simulator over loopback HTTP: order
//! sweeps and the watermark, in-store and online orders, exact money in USD
//! and JPY, webhooks that name orders and carry counts, on-hand reads, stock
//! pushes (unknown SKUs, idempotency keys), 429s and 5xx waited out, auth.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::Router;
use chansync_sdk::http::RateLimit;
use chansync_sdk::model::{ChannelOrder, ChannelStatus, PaymentStatus};
use chansync_sdk::{
    Connector, ConnectorContext, ConnectorError, ConnectorFactory, SecretString, StockLevel,
    WebhookEvent, WebhookRequest,
};
use chansync_square::sim::{self, SimConfig, SimHandle};
use chansync_square::{SquareFactory, DEFAULT_SQUARE_VERSION};
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn manual(seed: u64) -> SimConfig {
    SimConfig {
        seed,
        generate: false,
        ..SimConfig::default()
    }
}

fn build(
    sim: &SimHandle,
    token: &str,
    rate_limit: Option<RateLimit>,
    options: Value,
) -> Box<dyn Connector> {
    SquareFactory
        .build(ConnectorContext {
            name: "pos".into(),
            base_url: sim.base_url(),
            access_token: Some(SecretString::from(token.to_owned())),
            webhook_secret: Some(SecretString::from(sim.signature_key().to_owned())),
            rate_limit,
            options,
            ..Default::default()
        })
        .expect("valid connector config")
}

fn connector(sim: &SimHandle, options: Value) -> Box<dyn Connector> {
    build(sim, sim.access_token(), None, options)
}

/// Polls until the sweep ends; every order delivered, in delivery order.
async fn sweep(c: &dyn Connector, cursor: &mut Option<String>) -> (Vec<ChannelOrder>, usize) {
    let source = c.orders().expect("square polls orders");
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let page = source.fetch_orders(cursor.as_deref()).await.expect("page");
        pages += 1;
        seen.extend(page.orders.into_iter().map(|p| p.order));
        *cursor = Some(page.cursor);
        if !page.has_more {
            return (seen, pages);
        }
        assert!(pages < 1000, "the sweep never ends");
    }
}

fn by_id(orders: Vec<ChannelOrder>) -> BTreeMap<String, ChannelOrder> {
    orders
        .into_iter()
        .map(|o| (o.external_id.clone(), o))
        .collect()
}

/// The amount of a Square `Money` in the sim's JSON, exactly.
fn sim_money(m: &Value, minor_units: u32) -> Decimal {
    Decimal::new(m["amount"].as_i64().unwrap(), minor_units)
}

#[tokio::test]
async fn a_sweep_pages_through_every_order_exactly_once() {
    let sim = sim::start(manual(7), loopback()).await.unwrap();
    let mut ids = sim.create_sale(15);
    ids.extend(sim.create_online_order(6));
    let c = connector(&sim, json!({ "page_size": 4 }));
    let mut cursor = None;
    let (seen, pages) = sweep(c.as_ref(), &mut cursor).await;
    assert!(pages >= 6, "21 orders at 4 a page, took {pages} pages");
    let seen_ids: Vec<&str> = seen.iter().map(|o| o.external_id.as_str()).collect();
    let unique: BTreeSet<&str> = seen_ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        seen_ids.len(),
        "an order came twice in one sweep"
    );
    assert_eq!(
        unique,
        ids.iter().map(String::as_str).collect(),
        "every order, no other"
    );
    let skus: BTreeSet<&str> = sim::catalog_skus().into_iter().collect();
    let mut with_sku = 0;
    for o in &seen {
        let raw = sim.order_json(&o.external_id).unwrap();
        assert_eq!(
            o.total,
            sim_money(&raw["total_money"], 2),
            "{}",
            o.external_id
        );
        assert_eq!(
            o.total,
            o.subtotal + o.tax_total + o.shipping_total,
            "{}",
            o.external_id
        );
        for l in o.lines.iter().filter_map(|l| l.channel_sku.as_deref()) {
            // A variation without a SKU is known by its 24-character id.
            assert!(skus.contains(l) || l.len() == 24, "{l}");
            with_sku += usize::from(skus.contains(l));
        }
    }
    assert!(with_sku > 10, "lines carry the catalog's SKUs");
    let versions = &sim.state()["square_versions"];
    assert!(
        versions[DEFAULT_SQUARE_VERSION].as_u64().unwrap() > 0,
        "{versions}"
    );
    sim.stop();
}

#[tokio::test]
async fn the_next_sweep_brings_only_what_changed_since_the_watermark() {
    let sim = sim::start(manual(8), loopback()).await.unwrap();
    let online = sim.create_online_order(5);
    sim.create_sale(5);
    let c = connector(&sim, json!({ "overlap": "0s", "page_size": 3 }));
    let mut cursor = None;
    let (first, _) = sweep(c.as_ref(), &mut cursor).await;
    assert_eq!(first.len(), 10);
    let watermark = first.iter().map(|o| o.updated_at).max().unwrap();
    let at_watermark: BTreeSet<String> = first
        .iter()
        .filter(|o| o.updated_at == watermark)
        .map(|o| o.external_id.clone())
        .collect();

    assert!(sim.update_order(&online[1]));
    assert!(sim.update_order(&online[2]));
    assert!(sim.cancel_order(&online[3]));
    let sale = sim.create_sale(1);
    let changed: BTreeSet<String> = [&online[1], &online[2], &online[3], &sale[0]]
        .into_iter()
        .cloned()
        .collect();
    let (second, _) = sweep(c.as_ref(), &mut cursor).await;
    let got: BTreeSet<String> = second.iter().map(|o| o.external_id.clone()).collect();
    assert!(got.is_superset(&changed), "missed a change: {got:?}");
    assert!(
        got.difference(&changed).all(|id| at_watermark.contains(id)),
        "only the watermark's own second comes again: {got:?}"
    );
    let second = by_id(second);
    let cancelled = &second[&online[3]];
    assert_eq!(cancelled.status, ChannelStatus::Cancelled);
    assert!(matches!(
        cancelled.payment_status,
        PaymentStatus::Refunded | PaymentStatus::Voided
    ));

    // Nothing changed: only the orders of the watermark's millisecond again.
    let watermark = second.values().map(|o| o.updated_at).max().unwrap();
    let at_watermark: BTreeSet<String> = second
        .values()
        .filter(|o| o.updated_at == watermark)
        .map(|o| o.external_id.clone())
        .collect();
    let (third, _) = sweep(c.as_ref(), &mut cursor).await;
    let third: BTreeSet<String> = third.into_iter().map(|o| o.external_id).collect();
    assert_eq!(third, at_watermark);
    sim.stop();
}

#[tokio::test]
async fn sales_are_fulfilled_and_online_orders_ship() {
    let sim = sim::start(manual(9), loopback()).await.unwrap();
    let sales = sim.create_sale(3);
    let web = sim.create_online_order(1).remove(0);
    let c = connector(&sim, json!({}));
    let fetch = c.order_fetch().expect("square fetches orders by id");
    for id in &sales {
        let o = fetch.fetch_order(id).await.unwrap();
        assert_eq!(
            o.status,
            ChannelStatus::Fulfilled,
            "a sale is handed over at the counter"
        );
        assert_eq!(o.payment_status, PaymentStatus::Paid);
        assert!(o.shipping_address.is_none() && o.fulfillments.is_empty());
    }
    let o = fetch.fetch_order(&web).await.unwrap();
    assert_eq!(o.status, ChannelStatus::Open);
    let a = o.shipping_address.expect("a shipment has an address");
    assert_eq!(a.country_code.as_str(), "US");
    assert!(o.customer.email.is_some());
    let raw = sim.order_json(&web).unwrap();
    let charges = raw["service_charges"].as_array().map_or(0, Vec::len);
    assert_eq!(
        o.shipping_total.is_zero(),
        charges == 0,
        "shipping is the service charge"
    );
    while sim.update_order(&web) {}
    let o = fetch.fetch_order(&web).await.unwrap();
    assert_eq!(o.status, ChannelStatus::Fulfilled);
    assert_eq!(o.payment_status, PaymentStatus::Paid);
    let f = &o.fulfillments[0];
    assert!(f.tracking.is_some() && f.carrier.is_some());
    assert_eq!(
        f.lines.len(),
        o.lines.len(),
        "the shipment covers every line"
    );
    let err = fetch.fetch_order("NO_SUCH_ORDER").await.unwrap_err();
    assert!(
        matches!(err, ConnectorError::Permanent(ref m) if m.contains("NOT_FOUND")),
        "{err:?}"
    );
    sim.stop();
}

#[tokio::test]
async fn amounts_are_exact_in_usd_and_jpy() {
    for (code, minor_units) in [("USD", 2), ("JPY", 0)] {
        let cfg = SimConfig {
            currency: code.into(),
            ..manual(10)
        };
        let sim = sim::start(cfg, loopback()).await.unwrap();
        sim.create_orders(12);
        let c = connector(&sim, json!({}));
        let (orders, _) = sweep(c.as_ref(), &mut None).await;
        assert_eq!(orders.len(), 12);
        for o in &orders {
            let raw = sim.order_json(&o.external_id).unwrap();
            assert_eq!(o.currency.as_str(), code);
            assert_eq!(o.total, sim_money(&raw["total_money"], minor_units));
            assert_eq!(o.tax_total, sim_money(&raw["total_tax_money"], minor_units));
            assert_eq!(o.total.scale(), minor_units, "{code} {}", o.total);
            for (l, raw_line) in o.lines.iter().zip(raw["line_items"].as_array().unwrap()) {
                assert_eq!(
                    l.unit_price,
                    sim_money(&raw_line["base_price_money"], minor_units)
                );
                assert_eq!(
                    l.total + l.tax,
                    sim_money(&raw_line["total_money"], minor_units)
                );
            }
        }
        if code == "JPY" {
            assert!(
                orders.iter().all(|o| !o.total.to_string().contains('.')),
                "yen have no decimals"
            );
        }
        sim.stop();
    }
}

#[derive(Clone, Default)]
struct Received(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

async fn receive(State(r): State<Received>, headers: HeaderMap, body: Bytes) -> StatusCode {
    r.0.lock().unwrap().push((headers, body));
    StatusCode::OK
}

async fn receiver() -> (String, Received) {
    let received = Received::default();
    let listener = tokio::net::TcpListener::bind(loopback()).await.unwrap();
    let url = format!("http://{}/webhooks/pos", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/webhooks/pos", post(receive))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (url, received)
}

#[tokio::test]
async fn webhooks_verify_name_orders_to_fetch_and_carry_counts() {
    let (url, received) = receiver().await;
    let cfg = SimConfig {
        webhook_to: Some(url.clone()),
        ..manual(11)
    };
    let sim = sim::start(cfg, loopback()).await.unwrap();
    let c = connector(&sim, json!({}));
    // A stock read teaches the connector every tracked variation's SKU.
    c.stock_source().unwrap().read_on_hand().await.unwrap();
    let sale = sim.create_sale(1).remove(0);
    let web = sim.create_online_order(1).remove(0);
    assert!(sim.update_order(&web));
    assert!(sim.webhooks_idle(Duration::from_secs(10)).await);

    let hooks = c.webhooks().unwrap();
    let got = received.0.lock().unwrap().clone();
    let mut event_ids = BTreeSet::new();
    let mut named = Vec::new();
    let mut latest: BTreeMap<(String, String), i64> = BTreeMap::new();
    for (headers, body) in &got {
        let req = WebhookRequest {
            headers,
            body,
            url: &url,
        };
        hooks
            .verify(&req)
            .expect("signature over URL + body verifies");
        let d = hooks.parse(&req).expect("parses");
        assert!(
            event_ids.insert(d.event_id.clone()),
            "each event has its own id"
        );
        match d.event {
            WebhookEvent::OrderChanged { external_id } => named.push((d.topic, external_id)),
            WebhookEvent::StockChanged(counts) => {
                assert_eq!(d.topic, "inventory.count.updated");
                for c in counts {
                    latest.insert((c.channel_sku, c.channel_location.unwrap()), c.on_hand);
                }
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        named,
        [
            ("order.created".to_owned(), sale.clone()),
            ("order.created".to_owned(), web.clone()),
            ("order.updated".to_owned(), web.clone()),
        ]
    );
    // The daemon fetches what a notification names.
    let fetched = c.order_fetch().unwrap().fetch_order(&web).await.unwrap();
    let polled = by_id(sweep(c.as_ref(), &mut None).await.0);
    assert_eq!(&fetched, &polled[&web], "fetched and polled agree");
    assert!(!latest.is_empty(), "the sales' counts were announced");
    let counts = sim.counts();
    for (key, on_hand) in &latest {
        assert_eq!(counts.get(key), Some(on_hand), "{key:?}");
    }

    // Another URL or one flipped byte and the signature no longer holds.
    let (headers, body) = &got[0];
    let other = WebhookRequest {
        headers,
        body,
        url: "http://127.0.0.1:1/webhooks/pos",
    };
    assert!(hooks.verify(&other).is_err());
    let mut tampered = body.to_vec();
    let n = tampered.len() / 2;
    tampered[n] ^= 1;
    let req = WebhookRequest {
        headers,
        body: &tampered,
        url: &url,
    };
    assert!(hooks.verify(&req).is_err());
    sim.stop();
}

async fn on_hand(c: &dyn Connector) -> BTreeMap<(String, String), i64> {
    c.stock_source()
        .unwrap()
        .read_on_hand()
        .await
        .unwrap()
        .into_iter()
        .map(|o| ((o.channel_sku, o.channel_location.unwrap()), o.on_hand))
        .collect()
}

#[tokio::test]
async fn read_on_hand_equals_the_sims_counts() {
    let sim = sim::start(manual(12), loopback()).await.unwrap();
    sim.create_sale(8);
    let c = connector(&sim, json!({ "page_size": 7 }));
    let got = on_hand(c.as_ref()).await;
    assert_eq!(got, sim.counts());
    assert!(
        got.len() > 20,
        "both locations, several pages: {}",
        got.len()
    );
    assert!(got.keys().any(|(sku, _)| sku == "SKU-MUG-1"));
    // Only the configured location.
    let harbor = sim::location_ids()[1];
    let c = connector(&sim, json!({ "location_ids": [harbor] }));
    let got = on_hand(c.as_ref()).await;
    let want: BTreeMap<_, _> = sim
        .counts()
        .into_iter()
        .filter(|((_, l), _)| l == harbor)
        .collect();
    assert_eq!(got, want);
    sim.stop();
}

fn level(sku: &str, location: Option<&str>, quantity: i64, key: &str) -> StockLevel {
    StockLevel {
        channel_sku: sku.into(),
        channel_location: location.map(str::to_owned),
        quantity,
        idempotency_key: key.into(),
    }
}

#[tokio::test]
async fn push_stock_sets_counts_and_refuses_only_unknown_skus() {
    let sim = sim::start(manual(13), loopback()).await.unwrap();
    let [flagship, harbor] = [sim::location_ids()[0], sim::location_ids()[1]];
    let c = connector(&sim, json!({}));
    let push = c.stock_push().unwrap();
    assert_eq!(
        push.batch_size(),
        100,
        "Square's limit per BatchChangeInventory"
    );
    let rejected = push
        .push_stock(&[
            level("SKU-MUG-1", None, 42, "k-1"),
            level("SKU-NOPE-9", None, 3, "k-2"),
            level("SKU-TEE-2", Some(harbor), 7, "k-3"),
            level("SKU-CAP-1", None, -1, "k-4"),
        ])
        .await
        .unwrap();
    let mut refused: Vec<&str> = rejected.iter().map(|r| r.channel_sku.as_str()).collect();
    refused.sort();
    assert_eq!(refused, ["SKU-CAP-1", "SKU-NOPE-9"]);
    assert!(rejected
        .iter()
        .all(|r| matches!(r.error, ConnectorError::Permanent(_))));
    let counts = sim.counts();
    assert_eq!(
        counts[&("SKU-MUG-1".to_owned(), flagship.to_owned())],
        42,
        "no location: the first one"
    );
    assert_eq!(counts[&("SKU-TEE-2".to_owned(), harbor.to_owned())], 7);
    let adjustments = sim.state()["adjustments"].as_array().unwrap().clone();
    assert_eq!(adjustments.len(), 2);
    assert_eq!(
        adjustments[0]["reference_id"], "k-1",
        "the level's key is kept"
    );
    // The connector reads back what it set.
    let got = on_hand(c.as_ref()).await;
    assert_eq!(got[&("SKU-MUG-1".to_owned(), flagship.to_owned())], 42);
    sim.stop();
}

#[tokio::test]
async fn a_change_square_refuses_is_rejected_while_the_batch_applies() {
    let sim = sim::start(manual(18), loopback()).await.unwrap();
    let flagship = sim::location_ids()[0];
    let c = connector(&sim, json!({}));
    let rejected = c
        .stock_push()
        .unwrap()
        .push_stock(&[
            level("SKU-PEN-1", None, 4, "k-1"),
            level("SKU-SOAP-1", Some("LNOSUCHPLACE1"), 5, "k-2"),
            level("SKU-TOTE-1", None, 6, "k-3"),
        ])
        .await
        .unwrap();
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].channel_sku, "SKU-SOAP-1");
    assert!(
        matches!(&rejected[0].error, ConnectorError::Permanent(m) if m.contains("location_id")),
        "{:?}",
        rejected[0].error
    );
    let counts = sim.counts();
    assert_eq!(counts[&("SKU-PEN-1".to_owned(), flagship.to_owned())], 4);
    assert_eq!(counts[&("SKU-TOTE-1".to_owned(), flagship.to_owned())], 6);
    sim.stop();
}

#[tokio::test]
async fn a_variation_without_a_sku_is_pushed_by_its_id() {
    let sim = sim::start(manual(19), loopback()).await.unwrap();
    let flagship = sim::location_ids()[0];
    // What a client sees: the catalog's "Small" variations, one without a SKU.
    let found: Value = reqwest::Client::new()
        .post(format!("{}/v2/catalog/search", sim.base_url()))
        .bearer_auth(sim.access_token())
        .json(&json!({"object_types": ["ITEM_VARIATION"],
                      "query": {"prefix_query": {"attribute_name": "name", "attribute_prefix": "Small"}}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = found["objects"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["item_variation_data"]["sku"].is_null())
        .map(|o| o["id"].as_str().unwrap().to_owned())
        .expect("a SKU-less variation");
    let c = connector(&sim, json!({}));
    let rejected = c
        .stock_push()
        .unwrap()
        .push_stock(&[level(&id, None, 5, "k-1")])
        .await
        .unwrap();
    assert!(rejected.is_empty(), "{rejected:?}");
    assert_eq!(sim.counts()[&(id, flagship.to_owned())], 5);
    sim.stop();
}

#[tokio::test]
async fn the_same_levels_twice_change_nothing_the_second_time() {
    let sim = sim::start(manual(14), loopback()).await.unwrap();
    let flagship = sim::location_ids()[0];
    let key = ("SKU-CAP-1".to_owned(), flagship.to_owned());
    let c = connector(&sim, json!({}));
    let push = c.stock_push().unwrap();
    let once = [level("SKU-CAP-1", None, 20, "outbox-17")];
    assert!(push.push_stock(&once).await.unwrap().is_empty());
    assert_eq!(sim.counts()[&key], 20);
    // A stock take in the store, then the same push again (a retry).
    assert!(sim.set_count("SKU-CAP-1", flagship, 11));
    assert!(push.push_stock(&once).await.unwrap().is_empty());
    assert_eq!(
        sim.counts()[&key],
        11,
        "a replayed push must not undo the count"
    );
    assert_eq!(sim.state()["adjustments"].as_array().unwrap().len(), 1);
    // The same outbox row recomputed to a new level is a new push.
    assert!(push
        .push_stock(&[level("SKU-CAP-1", None, 25, "outbox-17")])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(sim.counts()[&key], 25);
    sim.stop();
}

#[tokio::test]
async fn rate_limits_and_server_errors_are_waited_out() {
    let sim = sim::start(manual(15), loopback()).await.unwrap();
    sim.create_sale(4);
    let c = connector(&sim, json!({}));
    sim.inject_faults(429, 2, Some(Duration::ZERO));
    assert_eq!(on_hand(c.as_ref()).await, sim.counts());
    assert!(sim.state()["counts"]["http_429"].as_u64().unwrap() >= 2);
    sim.inject_faults(503, 2, None);
    assert_eq!(sweep(c.as_ref(), &mut None).await.0.len(), 4);
    // The answer is lost after the batch ran: the retry carries the same
    // idempotency key and Square answers without applying it again.
    sim.inject_faults(502, 1, None);
    let push = c.stock_push().unwrap();
    assert!(push
        .push_stock(&[level("SKU-MUG-2", None, 9, "k-lost")])
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        sim.counts()[&("SKU-MUG-2".to_owned(), sim::location_ids()[0].to_owned())],
        9
    );
    assert_eq!(
        sim.state()["adjustments"].as_array().unwrap().len(),
        1,
        "applied once"
    );
    let limiter = c.rate_limit_state().unwrap();
    assert!(limiter.throttled >= 2, "{limiter:?}");
    sim.stop();
}

#[tokio::test]
async fn a_rate_limited_account_is_served_at_its_pace() {
    let cfg = SimConfig {
        rate_limit: Some((20.0, 2)),
        ..manual(16)
    };
    let sim = sim::start(cfg, loopback()).await.unwrap();
    // Configured far above what the account allows: Square's 429s pace it.
    let fast = RateLimit {
        per_second: 1000.0,
        burst: 100,
    };
    let c = build(
        &sim,
        sim.access_token(),
        Some(fast),
        json!({ "page_size": 5 }),
    );
    assert_eq!(on_hand(c.as_ref()).await, sim.counts());
    assert!(sim.state()["counts"]["http_429"].as_u64().unwrap() > 0);
    sim.stop();
}

#[tokio::test]
async fn a_wrong_token_is_an_auth_error_not_a_retry_loop() {
    let sim = sim::start(manual(17), loopback()).await.unwrap();
    let c = build(&sim, "EAAA-wrong", None, json!({}));
    let err = c.orders().unwrap().fetch_orders(None).await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Auth(m) if m.contains("UNAUTHORIZED")),
        "{err:?}"
    );
    let err = c
        .stock_push()
        .unwrap()
        .push_stock(&[level("SKU-MUG-1", Some("L"), 1, "k")])
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err:?}");
    assert_eq!(
        sim.state()["counts"]["requests"].as_u64(),
        Some(2),
        "auth errors are not retried"
    );
    sim.stop();
}

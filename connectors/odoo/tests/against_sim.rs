//! The Odoo connector against its simulator over loopback HTTP, over both
//! protocols: on-hand stock, sale order creation (idempotent by reference),
//! shipments read once across pages and calls, auth errors, injected
//! faults and protocol detection.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::Duration;

use chansync_odoo::sim::{self, SimConfig, SimHandle};
use chansync_odoo::{Odoo, OdooFactory, Protocol};
use chansync_sdk::http::RateLimit;
use chansync_sdk::model::{
    Address, Allocation, Customer, FulfillmentLine, Order, OrderLine, OrderStatus, PaymentStatus,
};
use chansync_sdk::{
    Connector, ConnectorContext, ConnectorError, ConnectorFactory, SecretString, Shipment,
    SinkCancel, SinkOrder,
};
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// (protocol option, whether the simulated server has JSON-2): JSON-RPC
/// against an Odoo 17, JSON-2 against an Odoo 19.
const PROTOCOLS: [(&str, bool); 2] = [("jsonrpc", false), ("json2", true)];

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn start(json2: bool) -> SimHandle {
    sim::start(
        SimConfig {
            seed: 11,
            json2,
            ..SimConfig::default()
        },
        loopback(),
    )
    .await
    .unwrap()
}

fn context(sim: &SimHandle, options: Value, key: Option<&str>) -> ConnectorContext {
    let creds = sim.credentials();
    let mut opts = json!({
        "database": creds["database"],
        "login": creds["login"],
        "shipment_lag": "0s",
    });
    for (k, v) in options.as_object().unwrap() {
        opts[k] = v.clone();
    }
    let key = key.unwrap_or(creds["api_key"].as_str().unwrap()).to_owned();
    ConnectorContext {
        name: "erp".into(),
        base_url: sim.base_url(),
        access_token: Some(SecretString::from(key)),
        // The sim is on loopback: no need to be polite in tests.
        rate_limit: Some(RateLimit {
            per_second: 10_000.0,
            burst: 1_000,
        }),
        options: opts,
        ..Default::default()
    }
}

fn connector(sim: &SimHandle, protocol: &str, options: Value) -> Box<dyn Connector> {
    let mut options = options;
    options["protocol"] = json!(protocol);
    OdooFactory
        .build(context(sim, options, None))
        .expect("valid connector config")
}

/// A raw JSON-RPC call, as any Odoo client makes it.
async fn rpc(sim: &SimHandle, model: &str, method: &str, args: Value, kwargs: Value) -> Value {
    let creds = sim.credentials();
    let http = reqwest::Client::new();
    let call = |service: &str, method: &str, args: Value| {
        http.post(format!("{}/jsonrpc", sim.base_url()))
            .json(&json!({"jsonrpc": "2.0", "method": "call", "id": 1,
                "params": {"service": service, "method": method, "args": args}}))
            .send()
    };
    let uid = call(
        "common",
        "authenticate",
        json!([creds["database"], creds["login"], creds["api_key"], {}]),
    )
    .await
    .unwrap()
    .json::<Value>()
    .await
    .unwrap()["result"]
        .clone();
    let resp: Value = call(
        "object",
        "execute_kw",
        json!([
            creds["database"],
            uid,
            creds["api_key"],
            model,
            method,
            args,
            kwargs
        ]),
    )
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert!(resp.get("error").is_none(), "{resp}");
    resp["result"].clone()
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

fn line(id: &str, sku: &str, qty: u32, price: &str) -> OrderLine {
    OrderLine {
        external_id: id.into(),
        sku: Some(sku.into()),
        channel_sku: Some(sku.into()),
        title: format!("Item {sku}"),
        quantity: qty,
        unit_price: d(price),
        total: d(price) * Decimal::from(qty),
        tax: Decimal::ZERO,
        discount: Decimal::ZERO,
    }
}

/// Order `n` of shop-eu, every line allocated to the Odoo warehouse.
fn order(n: u32, lines: Vec<OrderLine>, currency: &str) -> Order {
    let t = chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00+01:00").unwrap();
    let allocations = lines
        .iter()
        .map(|l| Allocation {
            location: "antwerp".into(),
            sku: l.sku.clone().unwrap(),
            quantity: l.quantity,
        })
        .collect();
    Order {
        id: n.to_string(),
        connector: "shop-eu".into(),
        channel_kind: "shopify".into(),
        external_id: format!("{}", 5000 + n),
        external_number: Some(format!("#{}", 1000 + n)),
        status: OrderStatus::Allocated,
        payment_status: PaymentStatus::Paid,
        currency: currency.parse().unwrap(),
        subtotal: Decimal::ZERO,
        shipping_total: Decimal::ZERO,
        tax_total: Decimal::ZERO,
        discount_total: Decimal::ZERO,
        total: Decimal::ZERO,
        placed_at: t,
        updated_at: t,
        customer: Customer {
            name: Some("Zoë Ångström".into()),
            email: Some("zoe@example.com".into()),
        },
        shipping_address: Some(Address {
            name: "Zoë Ångström".into(),
            line1: "Kastanienallee 12".into(),
            line2: None,
            city: "Berlin".into(),
            region: None,
            postal_code: "10435".into(),
            country_code: "DE".parse().unwrap(),
        }),
        lines,
        allocations,
        fulfillments: vec![],
    }
}

fn sink_order(o: Order, warehouse: &str) -> SinkOrder {
    SinkOrder {
        reference: format!("chansync-{}", o.id),
        idempotency_key: format!("sink-{}", o.id),
        channel_location: Some(warehouse.into()),
        order: o,
    }
}

fn orders_with_ref<'a>(sim_orders: &'a [Value], reference: &str) -> Vec<&'a Value> {
    sim_orders
        .iter()
        .filter(|o| o["client_order_ref"] == reference)
        .collect()
}

/// Reads shipments until the reader says there is no more; returns them
/// and the cursor to go on from.
async fn drain(c: &dyn Connector, cursor: &mut Option<String>) -> (Vec<Shipment>, usize) {
    let source = c.shipment_source().expect("odoo reports shipments");
    let mut all = Vec::new();
    let mut pages = 0;
    loop {
        let page = source
            .fetch_shipments(cursor.as_deref())
            .await
            .expect("page");
        pages += 1;
        all.extend(page.shipments);
        *cursor = Some(page.cursor);
        if !page.has_more {
            return (all, pages);
        }
        assert!(pages < 100, "the reader never finishes");
    }
}

#[tokio::test]
async fn on_hand_equals_the_sims_quants_per_warehouse() {
    for (protocol, json2) in PROTOCOLS {
        let sim = start(json2).await;
        // A small page forces the id-keyed paging through quants and products.
        let c = connector(&sim, protocol, json!({"page_size": 7}));
        let source = c.stock_source().expect("odoo is a stock source");
        let read = || async {
            let counts = source.read_on_hand().await.expect("on hand");
            let map: BTreeMap<(String, String), i64> = counts
                .iter()
                .map(|c| {
                    (
                        (c.channel_sku.clone(), c.channel_location.clone().unwrap()),
                        c.on_hand,
                    )
                })
                .collect();
            assert_eq!(map.len(), counts.len(), "one count per SKU and warehouse");
            map
        };
        let got = read().await;
        let truth = sim.quants();
        assert!(truth.len() > 40, "the sim seeds stock in both warehouses");
        assert!(
            truth.keys().any(|(sku, _)| sku == "SKU-RETIRED-1"),
            "an archived product still holds stock"
        );
        for (key, qty) in &truth {
            assert_eq!(got.get(key), Some(qty), "{protocol}: {key:?}");
        }
        for (key, qty) in &got {
            if !truth.contains_key(key) {
                assert_eq!(*qty, 0, "{protocol}: {key:?} has no quant, so 0");
            }
        }
        let warehouses: BTreeSet<&str> = got.keys().map(|(_, w)| w.as_str()).collect();
        assert_eq!(warehouses, BTreeSet::from(["WH", "WH2"]));
        assert!(
            got.keys()
                .all(|(sku, _)| sku != "SVC-GIFTWRAP" && sku != "SKU-BAG-1"),
            "{protocol}: services and untracked consumables get no count"
        );
        assert!(got.contains_key(&("SKU-CABLE-1".into(), "WH2".into())));

        // A sold-out product's quant disappears in Odoo; chansync hears 0.
        let mug = ("SKU-MUG-1".to_owned(), "WH".to_owned());
        assert!(sim.set_quant("SKU-MUG-1", "WH", 0));
        assert!(sim.set_quant("SKU-TEE-1", "WH2", 123));
        assert!(!sim.quants().contains_key(&mug));
        let got = read().await;
        assert_eq!(got[&mug], 0);
        assert_eq!(got[&("SKU-TEE-1".to_owned(), "WH2".to_owned())], 123);
        sim.stop();
    }
}

#[tokio::test]
async fn the_warehouses_option_limits_what_is_read() {
    let sim = start(true).await;
    let c = connector(&sim, "json2", json!({"warehouses": ["WH2"]}));
    let counts = c.stock_source().unwrap().read_on_hand().await.unwrap();
    assert!(!counts.is_empty());
    assert!(counts
        .iter()
        .all(|c| c.channel_location.as_deref() == Some("WH2")));
    let c = connector(&sim, "json2", json!({"warehouses": ["WH", "NOPE"]}));
    let err = c.stock_source().unwrap().read_on_hand().await.unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent(m) if m.contains("NOPE")),
        "{err}"
    );
    sim.stop();
}

#[tokio::test]
async fn an_order_becomes_one_confirmed_sale_order_with_its_delivery() {
    for (protocol, json2) in PROTOCOLS {
        let sim = start(json2).await;
        assert!(sim.set_quant("SKU-MUG-1", "WH2", 10));
        assert!(sim.set_quant("SKU-TEE-2", "WH2", 5));
        let c = connector(&sim, protocol, json!({}));
        let sink = c.order_sink().expect("odoo takes orders");
        let mut mug = line("li-1", "SKU-MUG-1", 2, "18.00");
        mug.discount = d("3.60");
        let req = sink_order(
            order(1, vec![mug, line("li-2", "SKU-TEE-2", 1, "29.99")], "EUR"),
            "WH2",
        );
        let id = sink.create_order(&req).await.expect("created");
        let again = sink.create_order(&req).await.expect("found");
        assert_eq!(
            id, again,
            "{protocol}: the same reference is the same order"
        );

        let all = sim.sale_orders();
        let found = orders_with_ref(&all, "chansync-1");
        assert_eq!(found.len(), 1, "{protocol}: {all:#?}");
        let so = found[0];
        assert_eq!(so["id"].to_string(), id);
        assert_eq!(so["state"], "sale");
        assert_eq!(so["warehouse"], "WH2");
        assert_eq!(so["currency"], "EUR");
        assert_eq!(so["origin"], "chansync shop-eu #1001");
        assert_eq!(so["partner"]["email"], "zoe@example.com");
        assert_eq!(so["partner"]["name"], "Zoë Ångström");
        assert_eq!(so["shipping"]["city"], "Berlin");
        assert_eq!(so["shipping"]["zip"], "10435");
        assert_eq!(so["shipping"]["country"], "DE");
        let lines = so["lines"].as_array().unwrap();
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0]["sku"], "SKU-MUG-1");
        assert_eq!(lines[0]["quantity"], 2.0);
        assert_eq!(lines[0]["price_unit"], 18.0);
        assert_eq!(lines[0]["discount"], 10.0);
        assert!(lines[0]["name"]
            .as_str()
            .unwrap()
            .ends_with("[chansync line li-1]"));
        assert_eq!(lines[1]["sku"], "SKU-TEE-2");
        assert_eq!(lines[1]["price_unit"], 29.99);

        let state = sim.state();
        let pickings: Vec<&Value> = state["pickings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["sale_id"] == so["id"])
            .collect();
        assert_eq!(pickings.len(), 1, "{protocol}: one delivery");
        assert_eq!(pickings[0]["warehouse"], "WH2");
        assert_eq!(pickings[0]["state"], "assigned", "stock is reserved");

        // A second order of the same customer and address reuses both.
        let req2 = sink_order(
            order(2, vec![line("li-3", "SKU-MUG-1", 1, "18.00")], "EUR"),
            "WH2",
        );
        sink.create_order(&req2).await.unwrap();
        let all = sim.sale_orders();
        let so2 = orders_with_ref(&all, "chansync-2")[0];
        assert_eq!(so2["partner"]["id"], so["partner"]["id"]);
        assert_eq!(so2["shipping"]["id"], so["shipping"]["id"]);
        sim.stop();
    }
}

#[tokio::test]
async fn a_cancelled_order_is_cancelled_in_odoo_unless_it_has_shipped() {
    for (protocol, json2) in PROTOCOLS {
        let sim = start(json2).await;
        assert!(sim.set_quant("SKU-MUG-1", "WH", 10));
        let c = connector(&sim, protocol, json!({}));
        let sink = c.order_sink().unwrap();
        let cancel = |n: u32| SinkCancel {
            reference: format!("chansync-{n}"),
            reason: Some("customer".into()),
            idempotency_key: format!("cancel-{n}"),
        };
        let reserved = |sim: &SimHandle| -> f64 {
            sim.state()["pickings"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["state"] == "assigned")
                .count() as f64
        };
        sink.create_order(&sink_order(
            order(1, vec![line("a", "SKU-MUG-1", 3, "18.00")], "EUR"),
            "WH",
        ))
        .await
        .unwrap();
        assert_eq!(reserved(&sim), 1.0, "{protocol}: the delivery holds stock");
        sink.cancel_order(&cancel(1)).await.expect("cancelled");
        let all = sim.sale_orders();
        assert_eq!(
            orders_with_ref(&all, "chansync-1")[0]["state"],
            "cancel",
            "{protocol}"
        );
        let state = sim.state();
        let so_id = &orders_with_ref(&all, "chansync-1")[0]["id"];
        let picking = state["pickings"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| &p["sale_id"] == so_id)
            .unwrap();
        assert_eq!(
            picking["state"], "cancel",
            "{protocol}: the delivery is off"
        );
        assert!(
            !sim.ship("chansync-1", "NOPE"),
            "{protocol}: nothing left to ship"
        );
        // Again, and for an order Odoo never got: nothing to do.
        sink.cancel_order(&cancel(1)).await.expect("idempotent");
        sink.cancel_order(&cancel(99)).await.expect("nothing there");

        // Once the warehouse has shipped, Odoo keeps it and says so.
        sink.create_order(&sink_order(
            order(2, vec![line("a", "SKU-MUG-1", 1, "18.00")], "EUR"),
            "WH",
        ))
        .await
        .unwrap();
        assert!(sim.ship("chansync-2", "TRACK-2"));
        let err = sink.cancel_order(&cancel(2)).await.unwrap_err();
        assert!(
            matches!(&err, ConnectorError::Permanent(m) if m.contains("already shipped")),
            "{protocol}: {err}"
        );
        assert_eq!(
            orders_with_ref(&sim.sale_orders(), "chansync-2")[0]["state"],
            "sale"
        );

        // Without `disable_cancel_warning` a confirmed order is not
        // cancelled: Odoo answers with its confirmation wizard.
        sink.create_order(&sink_order(
            order(3, vec![line("a", "SKU-MUG-1", 1, "18.00")], "EUR"),
            "WH",
        ))
        .await
        .unwrap();
        let id = orders_with_ref(&sim.sale_orders(), "chansync-3")[0]["id"].clone();
        let wizard = rpc(
            &sim,
            "sale.order",
            "action_cancel",
            json!([[id]]),
            json!({}),
        )
        .await;
        assert_eq!(wizard["res_model"], "sale.order.cancel", "{wizard}");
        assert_eq!(
            orders_with_ref(&sim.sale_orders(), "chansync-3")[0]["state"],
            "sale"
        );
        sim.stop();
    }
}

#[tokio::test]
async fn only_the_allocated_part_of_a_split_order_is_sent() {
    let sim = start(true).await;
    let c = connector(&sim, "json2", json!({}));
    let mut o = order(
        3,
        vec![
            line("a", "SKU-MUG-1", 2, "18.00"),
            line("b", "SKU-CAP-1", 1, "24.00"),
        ],
        "EUR",
    );
    o.allocations.retain(|a| a.sku == "SKU-CAP-1");
    c.order_sink()
        .unwrap()
        .create_order(&sink_order(o, "WH"))
        .await
        .unwrap();
    let all = sim.sale_orders();
    let so = orders_with_ref(&all, "chansync-3")[0];
    let skus: Vec<&str> = so["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["sku"].as_str().unwrap())
        .collect();
    assert_eq!(skus, ["SKU-CAP-1"]);
    assert_eq!(so["warehouse"], "WH");
    sim.stop();
}

#[tokio::test]
async fn orders_are_priced_in_their_currency_or_refused() {
    let sim = start(true).await;
    let c = connector(&sim, "json2", json!({}));
    let sink = c.order_sink().unwrap();
    let usd = sink_order(
        order(4, vec![line("a", "SKU-PEN-1", 1, "48.00")], "USD"),
        "WH",
    );
    sink.create_order(&usd).await.unwrap();
    let all = sim.sale_orders();
    assert_eq!(orders_with_ref(&all, "chansync-4")[0]["currency"], "USD");
    for (n, currency, says) in [
        (5, "SEK", "no pricelist in SEK"),
        (6, "DKK", "DKK is not active"),
    ] {
        let req = sink_order(
            order(n, vec![line("a", "SKU-PEN-1", 1, "48.00")], currency),
            "WH",
        );
        let err = sink.create_order(&req).await.unwrap_err();
        assert!(
            matches!(&err, ConnectorError::Permanent(m) if m.contains(says)),
            "{currency}: {err}"
        );
    }
    assert_eq!(sim.sale_orders().len(), 1);
    sim.stop();
}

#[tokio::test]
async fn a_marketplace_order_without_the_buyers_name_ships_to_its_city() {
    let sim = start(true).await;
    let c = connector(&sim, "json2", json!({}));
    let sink = c.order_sink().unwrap();
    // Amazon without access to personal data: no buyer, a partial address.
    let mut hidden = order(7, vec![line("a", "SKU-PEN-1", 1, "48.00")], "EUR");
    hidden.channel_kind = "amazon".into();
    hidden.external_id = "302-1234567-7654321".into();
    hidden.customer = Customer {
        name: None,
        email: None,
    };
    let a = hidden.shipping_address.as_mut().unwrap();
    a.name = String::new();
    a.line1 = String::new();
    sink.create_order(&sink_order(hidden.clone(), "WH"))
        .await
        .unwrap();
    let all = sim.sale_orders();
    let sale = orders_with_ref(&all, "chansync-7")[0];
    assert_eq!(
        sale["partner"]["name"], "Amazon customer 302-1234567-7654321",
        "{sale}"
    );
    assert_eq!(sale["shipping"]["city"], "Berlin", "{sale}");
    assert_eq!(sale["shipping"]["country"], "DE", "{sale}");

    // With no address either there is nothing to ship to.
    let mut nowhere = order(8, vec![line("a", "SKU-PEN-1", 1, "48.00")], "EUR");
    nowhere.customer = hidden.customer.clone();
    nowhere.shipping_address = None;
    let err = sink
        .create_order(&sink_order(nowhere, "WH"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ConnectorError::Permanent(m) if m.contains("no address")),
        "{err}"
    );
    assert!(orders_with_ref(&sim.sale_orders(), "chansync-8").is_empty());
    sim.stop();
}

#[tokio::test]
async fn an_unknown_sku_is_permanent_names_it_and_creates_nothing() {
    for (protocol, json2) in PROTOCOLS {
        let sim = start(json2).await;
        let c = connector(&sim, protocol, json!({}));
        let partners_before =
            rpc(&sim, "res.partner", "search_count", json!([[]]), json!({})).await;
        let req = sink_order(
            order(
                7,
                vec![
                    line("a", "SKU-MUG-1", 1, "18.00"),
                    line("b", "SKU-NOT-IN-ODOO", 1, "5.00"),
                ],
                "EUR",
            ),
            "WH",
        );
        let err = c
            .order_sink()
            .unwrap()
            .create_order(&req)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ConnectorError::Permanent(m) if m.contains("SKU-NOT-IN-ODOO") && !m.contains("SKU-MUG-1")),
            "{protocol}: {err}"
        );
        assert!(sim.sale_orders().is_empty());
        let partners_after = rpc(&sim, "res.partner", "search_count", json!([[]]), json!({})).await;
        assert_eq!(partners_before, partners_after, "no contact left behind");
        // An unknown warehouse is refused the same way.
        let req = sink_order(
            order(8, vec![line("a", "SKU-MUG-1", 1, "18.00")], "EUR"),
            "XX",
        );
        let err = c
            .order_sink()
            .unwrap()
            .create_order(&req)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ConnectorError::Permanent(m) if m.contains("XX")),
            "{err}"
        );
        sim.stop();
    }
}

#[tokio::test]
async fn a_quotation_left_by_an_interrupted_attempt_is_confirmed_not_doubled() {
    let sim = start(true).await;
    let partner = rpc(
        &sim,
        "res.partner",
        "create",
        json!([{"name": "Earlier attempt"}]),
        json!({}),
    )
    .await;
    let product = rpc(
        &sim,
        "product.product",
        "search",
        json!([[["default_code", "=", "SKU-MUG-1"]]]),
        json!({}),
    )
    .await;
    let draft = rpc(
        &sim,
        "sale.order",
        "create",
        json!([{"partner_id": partner, "client_order_ref": "chansync-9",
                "order_line": [[0, 0, {"product_id": product[0], "product_uom_qty": 1}]]}]),
        json!({}),
    )
    .await;
    let c = connector(&sim, "json2", json!({}));
    let req = sink_order(
        order(9, vec![line("a", "SKU-MUG-1", 1, "18.00")], "EUR"),
        "WH",
    );
    let id = c.order_sink().unwrap().create_order(&req).await.unwrap();
    assert_eq!(id, draft.to_string());
    let all = sim.sale_orders();
    let found = orders_with_ref(&all, "chansync-9");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["state"], "sale");
    sim.stop();
}

#[tokio::test]
async fn each_validated_delivery_is_read_once_across_pages_and_calls() {
    for (protocol, json2) in PROTOCOLS {
        let sim = start(json2).await;
        for sku in ["SKU-MUG-1", "SKU-TEE-2", "SKU-CAP-1"] {
            assert!(sim.set_quant(sku, "WH", 20));
        }
        // One delivery per page, so the cursor carries every step.
        let c = connector(&sim, protocol, json!({"page_size": 1}));
        let sink = c.order_sink().unwrap();
        for (n, lines) in [
            (
                1,
                vec![
                    line("1-a", "SKU-MUG-1", 2, "18.00"),
                    line("1-b", "SKU-TEE-2", 1, "29.00"),
                ],
            ),
            (2, vec![line("2-a", "SKU-CAP-1", 3, "24.00")]),
            (3, vec![line("3-a", "SKU-MUG-1", 1, "18.00")]),
        ] {
            sink.create_order(&sink_order(order(n, lines, "EUR"), "WH"))
                .await
                .unwrap();
        }
        // A sale made in Odoo itself, without chansync's reference.
        let partner = rpc(
            &sim,
            "res.partner",
            "create",
            json!([{"name": "Walk-in"}]),
            json!({}),
        )
        .await;
        let product = rpc(
            &sim,
            "product.product",
            "search",
            json!([[["default_code", "=", "SKU-CAP-1"]]]),
            json!({}),
        )
        .await;
        let own = rpc(
            &sim,
            "sale.order",
            "create",
            json!([{"partner_id": partner, "order_line": [[0, 0, {"product_id": product[0], "product_uom_qty": 1}]]}]),
            json!({}),
        )
        .await;
        rpc(
            &sim,
            "sale.order",
            "action_confirm",
            json!([[own]]),
            json!({}),
        )
        .await;

        let mut cursor = None;
        let (none, _) = drain(c.as_ref(), &mut cursor).await;
        assert!(none.is_empty(), "{protocol}: nothing shipped yet: {none:?}");

        assert!(sim.ship("chansync-1", "TRACK-1"));
        let own_name = sim.sale_orders().iter().find(|o| o["id"] == own).unwrap()["name"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(sim.ship(own_name.as_str(), "OWN-1"));
        assert!(sim.ship("chansync-2", "TRACK-2"));
        assert!(!sim.ship("chansync-2", "TRACK-2b"), "already shipped");

        let (first, pages) = drain(c.as_ref(), &mut cursor).await;
        assert!(pages >= 3, "{protocol}: one delivery a page, took {pages}");
        let refs: Vec<&str> = first.iter().map(|s| s.reference.as_str()).collect();
        assert_eq!(refs, ["chansync-1", "chansync-2"], "{protocol}");
        let s1 = &first[0];
        assert_eq!(s1.fulfillment.tracking.as_deref(), Some("TRACK-1"));
        assert_eq!(s1.fulfillment.location.as_deref(), Some("WH"));
        assert!(s1.fulfillment.carrier.is_some());
        assert_eq!(
            s1.fulfillment.lines,
            [
                FulfillmentLine {
                    external_id: "1-a".into(),
                    quantity: 2
                },
                FulfillmentLine {
                    external_id: "1-b".into(),
                    quantity: 1
                },
            ]
        );
        assert_eq!(
            first[1].fulfillment.lines,
            [FulfillmentLine {
                external_id: "2-a".into(),
                quantity: 3
            }]
        );
        assert_ne!(first[0].shipment_id, first[1].shipment_id);

        let (again, _) = drain(c.as_ref(), &mut cursor).await;
        assert!(again.is_empty(), "{protocol}: read once: {again:?}");
        // The cursor survives a restart: a new connector goes on from it.
        assert!(sim.ship("chansync-3", "TRACK-3"));
        let c2 = connector(&sim, protocol, json!({"page_size": 1}));
        let (third, _) = drain(c2.as_ref(), &mut cursor).await;
        let refs: Vec<&str> = third.iter().map(|s| s.reference.as_str()).collect();
        assert_eq!(refs, ["chansync-3"], "{protocol}");
        // Stock left the warehouse: 20 - 2 - 1 of the mugs.
        assert_eq!(sim.quants()[&("SKU-MUG-1".to_owned(), "WH".to_owned())], 17);
        sim.stop();
    }
}

#[tokio::test]
async fn deliveries_validated_within_one_second_are_each_read_once() {
    // Every write lands in the same second, as a busy warehouse's do.
    let frozen = chrono::DateTime::parse_from_rfc3339("2026-03-01T09:00:00Z")
        .unwrap()
        .to_utc();
    let sim = sim::start(
        SimConfig {
            frozen_clock: Some(frozen),
            ..SimConfig::default()
        },
        loopback(),
    )
    .await
    .unwrap();
    let c = connector(&sim, "json2", json!({}));
    for n in 1..=3 {
        let req = sink_order(
            order(
                n,
                vec![line(&format!("{n}-a"), "SKU-MUG-1", 1, "18.00")],
                "EUR",
            ),
            "WH",
        );
        c.order_sink().unwrap().create_order(&req).await.unwrap();
    }
    let mut cursor = None;
    // The newest delivery first, then older ones in the same second.
    let mut seen = Vec::new();
    for reference in ["chansync-3", "chansync-1", "chansync-2"] {
        assert!(sim.ship(reference, &format!("T-{reference}")));
        let (found, _) = drain(c.as_ref(), &mut cursor).await;
        let refs: Vec<String> = found.into_iter().map(|s| s.reference).collect();
        assert_eq!(refs, [reference], "after {seen:?}");
        seen.push(reference);
    }
    let (none, _) = drain(c.as_ref(), &mut cursor).await;
    assert!(none.is_empty());
    sim.stop();
}

#[tokio::test]
async fn deliveries_ship_by_themselves_with_auto_ship() {
    let sim = sim::start(
        SimConfig {
            auto_ship_after: Some(Duration::from_millis(30)),
            ..SimConfig::default()
        },
        loopback(),
    )
    .await
    .unwrap();
    let c = connector(&sim, "auto", json!({}));
    let req = sink_order(
        order(1, vec![line("a", "SKU-MUG-1", 1, "18.00")], "EUR"),
        "WH",
    );
    c.order_sink().unwrap().create_order(&req).await.unwrap();
    let mut cursor = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let shipped = loop {
        let (found, _) = drain(c.as_ref(), &mut cursor).await;
        if !found.is_empty() {
            break found;
        }
        assert!(tokio::time::Instant::now() < deadline, "never shipped");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(shipped.len(), 1);
    assert_eq!(shipped[0].reference, "chansync-1");
    assert!(shipped[0]
        .fulfillment
        .tracking
        .as_deref()
        .is_some_and(|t| t.starts_with("SIM")));
    sim.stop();
}

#[tokio::test]
async fn refused_credentials_are_auth_errors() {
    for (protocol, json2) in [
        ("jsonrpc", false),
        ("json2", true),
        ("auto", true),
        ("auto", false),
    ] {
        let sim = start(json2).await;
        let ctx = context(&sim, json!({"protocol": protocol}), Some("wrong-key"));
        let c = OdooFactory.build(ctx).unwrap();
        let err = c.stock_source().unwrap().read_on_hand().await.unwrap_err();
        assert!(
            matches!(err, ConnectorError::Auth(_)),
            "{protocol}/{json2}: {err}"
        );
        assert!(
            !err.to_string().contains("wrong-key"),
            "the key is never shown"
        );
        sim.stop();
    }
    let sim = start(false).await;
    let ctx = context(
        &sim,
        json!({"protocol": "jsonrpc", "login": "someone@else"}),
        None,
    );
    let err = OdooFactory
        .build(ctx)
        .unwrap()
        .stock_source()
        .unwrap()
        .read_on_hand()
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err}");
    sim.stop();
}

#[tokio::test]
async fn a_database_that_does_not_exist_is_permanent() {
    for (protocol, json2) in PROTOCOLS {
        let sim = start(json2).await;
        let ctx = context(
            &sim,
            json!({"protocol": protocol, "database": "nope"}),
            None,
        );
        let err = OdooFactory
            .build(ctx)
            .unwrap()
            .stock_source()
            .unwrap()
            .read_on_hand()
            .await
            .unwrap_err();
        assert!(
            matches!(err, ConnectorError::Permanent(_)),
            "{protocol}: {err}"
        );
        sim.stop();
    }
}

#[tokio::test]
async fn injected_server_errors_are_waited_out() {
    for (protocol, json2) in PROTOCOLS {
        let sim = start(json2).await;
        let c = connector(&sim, protocol, json!({}));
        sim.inject_faults(503, 2);
        let counts = c
            .stock_source()
            .unwrap()
            .read_on_hand()
            .await
            .expect("retried through");
        assert!(!counts.is_empty());
        let state = sim.state();
        assert_eq!(state["counts"]["faults"], 2, "{protocol}");
        assert!(
            c.rate_limit_state().unwrap().requests > state["counts"]["faults"].as_u64().unwrap()
        );
        sim.stop();
    }
}

#[tokio::test]
async fn auto_uses_json2_where_the_server_has_it_and_jsonrpc_elsewhere() {
    for (json2, expect) in [(true, Protocol::Json2), (false, Protocol::JsonRpc)] {
        let sim = start(json2).await;
        let odoo = Odoo::new(context(&sim, json!({"protocol": "auto"}), None)).unwrap();
        assert_eq!(odoo.protocol().await.unwrap(), expect);
        let counts = Connector::stock_source(&odoo)
            .unwrap()
            .read_on_hand()
            .await
            .unwrap();
        assert!(!counts.is_empty());
        let counts = &sim.state()["counts"];
        if json2 {
            assert_eq!(counts["jsonrpc"], 0, "{counts}");
        } else {
            assert!(counts["jsonrpc"].as_u64().unwrap() > 0, "{counts}");
        }
        sim.stop();
    }
}

//! The mapping from Square's JSON to chansync's model, checked on the
//! examples of Square's own API spec (shared/specs/square/api.json, copied to
//! fixtures/): orders, webhook envelopes, catalog objects, the signature.

use std::collections::BTreeMap;

use chansync_sdk::model::{ChannelOrder, ChannelStatus, PaymentStatus};
use chansync_sdk::{
    Connector, ConnectorContext, ConnectorFactory, SecretString, WebhookError, WebhookEvent,
    WebhookRequest,
};
use chansync_square::normalize::to_channel_order;
use chansync_square::wire::{CatalogObjectsResponse, Order};
use chansync_square::SquareFactory;
use http::HeaderMap;
use rust_decimal::Decimal;
use serde_json::{json, Value};

fn fixture(name: &str) -> BTreeMap<String, Value> {
    let text = match name {
        "orders" => include_str!("fixtures/orders.json"),
        "webhooks" => include_str!("fixtures/webhooks.json"),
        "catalog" => include_str!("fixtures/catalog.json"),
        _ => unreachable!(),
    };
    serde_json::from_str(text).unwrap()
}

fn order(key: &str) -> Order {
    serde_json::from_value(fixture("orders")[key].clone()).unwrap()
}

/// Variation ids map to themselves, as for a variation without a SKU.
fn map(o: &Order) -> ChannelOrder {
    to_channel_order(o, &|id: &str| format!("sku-of-{id}")).unwrap()
}

fn d(s: &str) -> Decimal {
    s.parse().unwrap()
}

#[test]
fn every_example_order_with_timestamps_maps_and_adds_up() {
    for (key, raw) in fixture("orders") {
        let o: Order = serde_json::from_value(raw).unwrap();
        if o.created_at.is_none() {
            continue;
        }
        let c = map(&o);
        assert_eq!(c.external_id, o.id, "{key}");
        assert_eq!(c.lines.len(), o.line_items.len(), "{key}");
        assert_eq!(c.currency.as_str(), "USD");
        for l in &c.lines {
            assert_eq!(
                l.total,
                l.unit_price * Decimal::from(l.quantity) - l.discount,
                "{key}"
            );
        }
        // The examples have additive tax, no tips and no shipping.
        assert_eq!(
            c.total,
            c.subtotal + c.tax_total + c.shipping_total,
            "{key}"
        );
    }
}

#[test]
fn the_create_order_example_maps_field_by_field() {
    let c = map(&order("CreateOrderResponse"));
    assert_eq!(c.external_id, "CAISENgvlJ6jLWAzERDzjyHVybY");
    assert_eq!(c.external_number, None, "Square orders have no number");
    assert_eq!(c.status, ChannelStatus::Open);
    assert_eq!(
        c.payment_status,
        PaymentStatus::Pending,
        "open, no tender yet"
    );
    assert_eq!(c.placed_at.to_rfc3339(), "2020-01-17T20:47:53.293+00:00");
    let steak = &c.lines[0];
    assert_eq!(steak.external_id, "8uSwfzvUImn3IRrvciqlXC");
    assert_eq!(steak.channel_sku, None, "an ad-hoc line names no variation");
    assert_eq!(
        (steak.quantity, steak.unit_price, steak.discount, steak.tax),
        (1, d("15.99"), d("0.87"), d("1.36"))
    );
    assert_eq!(steak.total, d("15.12"));
    let larger = &c.lines[1];
    assert_eq!(
        larger.channel_sku.as_deref(),
        Some("sku-of-BEMYCSMIJL46OCDV4KYIKXIB")
    );
    assert_eq!(larger.title, "New York Steak (Larger)");
    // 22.00 a unit plus the 0.50 "Well" modifier; 2 × 22.50 − 3.46.
    assert_eq!(
        (larger.quantity, larger.unit_price, larger.total),
        (2, d("22.50"), d("41.54"))
    );
    assert_eq!(c.subtotal.to_string(), "56.66");
    assert_eq!(c.discount_total.to_string(), "4.33");
    assert_eq!(c.tax_total.to_string(), "5.10");
    assert_eq!(c.total.to_string(), "61.76");
    assert_eq!(c.shipping_total.to_string(), "0.00");
    assert!(c.shipping_address.is_none());
}

#[test]
fn a_paid_completed_order_is_fulfilled_and_paid() {
    let c = map(&order("PayOrderResponse"));
    assert_eq!(
        c.status,
        ChannelStatus::Fulfilled,
        "completed at the counter"
    );
    assert_eq!(
        c.payment_status,
        PaymentStatus::Paid,
        "two captured card tenders cover 20.00"
    );
    assert_eq!(c.total.to_string(), "20.00");
    assert_eq!(c.lines[1].unit_price.to_string(), "7.50");
    assert!(c.fulfillments.is_empty(), "nothing shipped: handed over");
}

#[test]
fn drafts_and_digital_fulfilments_stay_open() {
    let c = map(&order("CloneOrderResponse"));
    assert_eq!(
        (c.status, c.payment_status),
        (ChannelStatus::Open, PaymentStatus::Pending)
    );
    let c = map(&order("CreatePaymentLinkResponse"));
    assert_eq!(
        c.status,
        ChannelStatus::Open,
        "a proposed DIGITAL fulfilment"
    );
    assert_eq!(c.total.to_string(), "125.00");
}

#[test]
fn an_order_without_timestamps_is_refused_with_the_reason() {
    let err = to_channel_order(&order("BatchRetrieveOrdersResponse"), &|id: &str| {
        id.to_owned()
    })
    .unwrap_err();
    assert!(err.to_string().contains("created_at"), "{err}");
}

#[test]
fn money_is_exact_in_each_currencys_minor_units() {
    let usd = map(&order("PayOrderResponse"));
    assert_eq!(
        (usd.total.to_string(), usd.lines[0].unit_price.to_string()),
        ("20.00".into(), "5.00".into())
    );
    let text = fixture("orders")["PayOrderResponse"]
        .to_string()
        .replace("\"USD\"", "\"JPY\"");
    let jpy = map(&serde_json::from_str(&text).unwrap());
    assert_eq!(jpy.currency.as_str(), "JPY");
    assert_eq!(jpy.total.to_string(), "2000", "2000 yen, not 20.00");
    assert_eq!(jpy.lines[1].unit_price.to_string(), "750");
    assert_eq!(jpy.lines[1].total.to_string(), "1500");
    let mixed = fixture("orders")["PayOrderResponse"]
        .to_string()
        .replacen("\"USD\"", "\"EUR\"", 1);
    let o: Order = serde_json::from_str(&mixed).unwrap();
    assert!(
        to_channel_order(&o, &|id: &str| id.to_owned()).is_err(),
        "two currencies in one order"
    );
}

#[test]
fn a_shipment_gives_the_address_tracking_and_shipping() {
    let mut raw = fixture("orders")["PayOrderResponse"].clone();
    raw["state"] = json!("OPEN");
    raw["service_charges"] = json!([{
        "uid": "sc1", "name": "Shipping", "type": "CUSTOM",
        "amount_money": {"amount": 599, "currency": "USD"},
        "applied_money": {"amount": 599, "currency": "USD"}
    }, {
        "uid": "sc2", "name": "Gratuity", "type": "AUTO_GRATUITY",
        "applied_money": {"amount": 100, "currency": "USD"}
    }]);
    raw["fulfillments"] = json!([{
        "uid": "f1", "type": "SHIPMENT", "state": "COMPLETED",
        "entries": [{"line_item_uid": "zhw8MNfRGdFQMI2WE1UBJD", "quantity": "2"}],
        "line_item_application": "ENTRY_LIST",
        "shipment_details": {
            "carrier": "UPS", "tracking_number": "1Z999AA10123456784",
            "recipient": {
                "display_name": "Zoë Ångström", "email_address": "zoe@example.com",
                "address": {"address_line_1": "1 Main Street", "address_line_2": "Apt 4",
                            "locality": "Austin", "administrative_district_level_1": "TX",
                            "postal_code": "78701", "country": "US"}
            }
        }
    }, {
        "uid": "f2", "type": "SHIPMENT", "state": "PROPOSED",
        "shipment_details": {"recipient": {"display_name": "Zoë Ångström"}}
    }]);
    let c = map(&serde_json::from_value(raw).unwrap());
    assert_eq!(c.status, ChannelStatus::PartiallyFulfilled);
    assert_eq!(
        c.shipping_total.to_string(),
        "5.99",
        "the gratuity is not shipping"
    );
    let a = c.shipping_address.unwrap();
    assert_eq!(
        (a.name.as_str(), a.city.as_str(), a.region.as_deref()),
        ("Zoë Ångström", "Austin", Some("TX"))
    );
    assert_eq!(
        (a.line2.as_deref(), a.country_code.as_str()),
        (Some("Apt 4"), "US")
    );
    assert_eq!(c.customer.email.as_deref(), Some("zoe@example.com"));
    let f = &c.fulfillments[0];
    assert_eq!(
        (f.carrier.as_deref(), f.tracking.as_deref()),
        (Some("UPS"), Some("1Z999AA10123456784"))
    );
    assert_eq!(f.lines.len(), 1);
    assert_eq!(
        (f.lines[0].external_id.as_str(), f.lines[0].quantity),
        ("zhw8MNfRGdFQMI2WE1UBJD", 2)
    );
}

#[test]
fn a_measured_quantity_is_one_line_at_the_charged_price() {
    let mut raw = fixture("orders")["UpdateOrderResponse"].clone();
    raw["line_items"][1]["quantity"] = json!("1.5");
    raw["line_items"][1]["variation_total_price_money"] = json!({"amount": 300, "currency": "USD"});
    let c = map(&serde_json::from_value(raw).unwrap());
    let l = &c.lines[1];
    assert_eq!(
        (l.quantity, l.unit_price.to_string()),
        (1, "3.00".to_owned())
    );
    assert!(l.title.ends_with("× 1.5"), "{}", l.title);
}

#[test]
fn absurd_amounts_and_quantities_are_refused_not_a_panic() {
    let base = fixture("orders")["UpdateOrderResponse"].clone();
    let err = |raw: Value| {
        to_channel_order(&serde_json::from_value(raw).unwrap(), &|id: &str| {
            id.to_owned()
        })
        .expect_err("refused")
        .0
    };
    let mut huge_price = base.clone();
    huge_price["line_items"][0]["base_price_money"] =
        json!({"amount": i64::MAX, "currency": "USD"});
    assert!(err(huge_price).contains("beyond the largest amount"));

    let mut huge_quantity = base.clone();
    huge_quantity["line_items"][0]["quantity"] = json!("79228162514264337593543950335");
    assert!(err(huge_quantity).contains("beyond the largest quantity"));

    // Modifiers each within bounds whose unit price is not.
    let mut many = base.clone();
    let modifier = json!({"base_price_money": {"amount": 100_000_000_000_000_000_i64, "currency": "USD"}, "quantity": "1000000"});
    many["line_items"][0]["modifiers"] = json!(vec![modifier; 100]);
    let e = err(many);
    assert!(
        e.contains("unit price") && e.contains("beyond the largest amount"),
        "{e}"
    );

    // Tenders that add up past i64 still say how the order is paid.
    let mut tenders = base;
    tenders["tenders"] = json!([
        {"id": "a", "type": "CASH", "amount_money": {"amount": i64::MAX, "currency": "USD"}},
        {"id": "b", "type": "CASH", "amount_money": {"amount": i64::MAX, "currency": "USD"}},
    ]);
    tenders["refunds"] = json!([]);
    let o: Order = serde_json::from_value(tenders).unwrap();
    assert_eq!(
        chansync_square::normalize::payment_status(&o),
        PaymentStatus::Paid
    );
}

fn connector(secret: Option<&str>, options: Value) -> Box<dyn Connector> {
    SquareFactory
        .build(ConnectorContext {
            name: "pos".into(),
            base_url: "http://127.0.0.1:9".into(),
            access_token: Some(SecretString::from("token".to_owned())),
            webhook_secret: secret.map(|s| SecretString::from(s.to_owned())),
            options,
            ..Default::default()
        })
        .unwrap()
}

fn signed(sig: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-square-hmacsha256-signature", sig.parse().unwrap());
    h
}

// shared/specs/square/WEBHOOKS.md, from square-python-sdk's tests.
const VECTOR_URL: &str = "https://webhook.site/webhooks";
const VECTOR_BODY: &str = r#"{"data":{"type":"webhooks","id":">id<"}}"#;
const VECTOR_SIG: &str = "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U=";

#[test]
fn the_documented_signature_vector_verifies_and_tampering_does_not() {
    let c = connector(Some("signature-key"), json!({}));
    let hooks = c.webhooks().unwrap();
    let headers = signed(VECTOR_SIG);
    let req = |body: &'static str, url: &'static str| (body, url);
    let check = |(body, url): (&str, &str), h: &HeaderMap| {
        hooks.verify(&WebhookRequest {
            headers: h,
            body: body.as_bytes(),
            url,
        })
    };
    assert!(check(req(VECTOR_BODY, VECTOR_URL), &headers).is_ok());
    let pretty = r#"{"data": {"type": "webhooks", "id": ">id<"}}"#;
    assert!(
        check(req(pretty, VECTOR_URL), &headers).is_err(),
        "re-serialized body"
    );
    let escaped = r#"{"data":{"type":"webhooks","id":"&gt;id&lt;"}}"#;
    assert!(
        check(req(escaped, VECTOR_URL), &headers).is_err(),
        "HTML-escaped body"
    );
    assert!(
        check(req(VECTOR_BODY, "https://webhook.site/webhooks/"), &headers).is_err(),
        "another URL"
    );
    assert!(matches!(
        check(req(VECTOR_BODY, VECTOR_URL), &HeaderMap::new()),
        Err(WebhookError::BadSignature(_))
    ));
    let no_key = connector(None, json!({}));
    let r = WebhookRequest {
        headers: &headers,
        body: VECTOR_BODY.as_bytes(),
        url: VECTOR_URL,
    };
    assert!(no_key.webhooks().unwrap().verify(&r).is_err());
    // Behind a proxy the configured notification URL is what Square signed.
    let proxied = connector(Some("signature-key"), json!({ "webhook_url": VECTOR_URL }));
    let r = WebhookRequest {
        headers: &headers,
        body: VECTOR_BODY.as_bytes(),
        url: "http://10.0.0.5:8080/webhooks/pos",
    };
    assert!(proxied.webhooks().unwrap().verify(&r).is_ok());
}

fn parse(c: &dyn Connector, body: &Value) -> chansync_sdk::WebhookDelivery {
    let bytes = body.to_string();
    let h = HeaderMap::new();
    c.webhooks()
        .unwrap()
        .parse(&WebhookRequest {
            headers: &h,
            body: bytes.as_bytes(),
            url: "",
        })
        .unwrap()
}

#[test]
fn example_events_name_their_order_or_carry_counts() {
    let hooks = fixture("webhooks");
    let c = connector(Some("k"), json!({}));
    for (key, kind) in [
        ("OrderCreatedEvent", "order.created"),
        ("OrderUpdatedEvent", "order.updated"),
        ("OrderFulfillmentUpdatedEvent", "order.fulfillment.updated"),
    ] {
        let d = parse(c.as_ref(), &hooks[key]);
        assert_eq!(d.topic, kind);
        assert_eq!(
            d.event_id,
            hooks[key]["event_id"].as_str().unwrap(),
            "the dedupe key"
        );
        assert!(
            matches!(&d.event, WebhookEvent::OrderChanged { external_id } if external_id == "eA3vssLHKJrv9H0IdJCM3gNqfdcZY"),
            "{key}: {:?}",
            d.event
        );
    }
    // The counted variation is not known yet: nothing to apply until the
    // catalog says which SKU it is.
    let inventory = &hooks["InventoryCountUpdatedEvent"];
    let d = parse(c.as_ref(), inventory);
    assert_eq!(d.event_id, "df5f3813-a913-45a1-94e9-fdc3f7d5e3b6");
    assert!(
        matches!(&d.event, WebhookEvent::StockChanged(v) if v.is_empty()),
        "{:?}",
        d.event
    );

    // Once the catalog knows it, the count is its SKU's on hand there.
    let square = chansync_square::Square::new(ConnectorContext {
        name: "pos".into(),
        base_url: "http://127.0.0.1:9".into(),
        access_token: Some(SecretString::from("t".to_owned())),
        ..Default::default()
    })
    .unwrap();
    let variation = serde_json::from_value(json!({"objects": [{
        "type": "ITEM_VARIATION", "id": "FGQ5JJWT2PYTHF35CKZ2DSKP",
        "item_variation_data": {"name": "Mug", "sku": "SKU-MUG-1"}
    }]}))
    .map(|r: CatalogObjectsResponse| r.objects)
    .unwrap();
    square.catalog().remember(&variation);
    let d = parse(&square, inventory);
    let WebhookEvent::StockChanged(counts) = d.event else {
        panic!("{:?}", d.event)
    };
    assert_eq!(counts.len(), 1);
    assert_eq!(
        (
            counts[0].channel_sku.as_str(),
            counts[0].channel_location.as_deref(),
            counts[0].on_hand
        ),
        ("SKU-MUG-1", Some("YYQR03DGCTXA4"), 10)
    );

    // A location that is not synced is acknowledged and ignored.
    let elsewhere = connector(Some("k"), json!({ "location_ids": ["OTHER"] }));
    assert!(matches!(
        parse(elsewhere.as_ref(), &hooks["OrderCreatedEvent"]).event,
        WebhookEvent::Ignored
    ));
    let mut draft = hooks["OrderCreatedEvent"].clone();
    draft["data"]["object"]["order_created"]["state"] = json!("DRAFT");
    assert!(
        matches!(parse(c.as_ref(), &draft).event, WebhookEvent::Ignored),
        "a draft is not placed yet"
    );
    let other = json!({"merchant_id": "M", "type": "payment.created", "event_id": "e1", "data": {"type": "payment", "id": "p", "object": {}}});
    assert!(matches!(
        parse(c.as_ref(), &other).event,
        WebhookEvent::Ignored
    ));
    let h = HeaderMap::new();
    let bad = c.webhooks().unwrap().parse(&WebhookRequest {
        headers: &h,
        body: b"{\"type\":\"order.created\"}",
        url: "",
    });
    assert!(
        matches!(bad, Err(WebhookError::Malformed(_))),
        "no event_id"
    );
}

#[test]
fn example_catalog_objects_are_learned_with_their_variations() {
    let square = chansync_square::Square::new(ConnectorContext {
        name: "pos".into(),
        base_url: "http://127.0.0.1:9".into(),
        access_token: Some(SecretString::from("t".to_owned())),
        ..Default::default()
    })
    .unwrap();
    for (_, raw) in fixture("catalog") {
        let r: CatalogObjectsResponse = serde_json::from_value(raw).unwrap();
        square.catalog().remember(&r.objects);
    }
    // The examples' variations have no SKU: they are known by their ids.
    assert_eq!(
        square
            .catalog()
            .channel_sku_cached("2TZFAOHWGG7PAK2QEXWYPZSP")
            .as_deref(),
        Some("2TZFAOHWGG7PAK2QEXWYPZSP")
    );
    assert_eq!(
        square
            .catalog()
            .channel_sku_cached("XVLBN7DU6JTWHJTG5F265B43")
            .as_deref(),
        Some("XVLBN7DU6JTWHJTG5F265B43")
    );
    assert_eq!(
        square
            .catalog()
            .channel_sku_cached("W62UWFY35CWMYGVWK6TWJDNI"),
        None,
        "an item, not a variation"
    );
}

#[test]
fn options_are_checked_and_name_the_bad_key() {
    let build = |options: Value, token: bool| {
        SquareFactory
            .build(ConnectorContext {
                name: "pos".into(),
                base_url: "https://connect.squareupsandbox.com".into(),
                access_token: token.then(|| SecretString::from("t".to_owned())),
                options,
                ..Default::default()
            })
            .err()
            .map(|e| e.key)
    };
    assert_eq!(build(json!({}), true), None);
    assert_eq!(build(json!({}), false).as_deref(), Some("access_token"));
    assert_eq!(
        build(json!({"location_id": "L1"}), true).as_deref(),
        Some("location_id")
    );
    assert_eq!(
        build(json!({"page_size": 5000}), true).as_deref(),
        Some("page_size")
    );
    assert_eq!(
        build(json!({"square_version": "2025"}), true).as_deref(),
        Some("square_version")
    );
    let c = connector(None, json!({}));
    assert_eq!(c.kind(), "square");
    let caps: Vec<&str> = c.capabilities().iter().map(|c| c.as_str()).collect();
    assert_eq!(
        caps,
        [
            "poll_orders",
            "webhooks",
            "push_stock",
            "push_fulfillment",
            "cancel",
            "read_stock"
        ]
    );
    assert!(c.order_fetch().is_some(), "order.* webhooks are fetched");
}

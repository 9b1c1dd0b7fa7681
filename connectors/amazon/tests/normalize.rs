//! The mapping from Amazon's JSON to the canonical order, checked on the
//! specs' sandbox examples (fixtures/sandbox.json) and on every kind of order
//! the simulator generates; every order with its items must add up.

mod common;

use chansync_amazon::normalize::{channel_status, payment_status, to_channel_order};
use chansync_amazon::wire::{
    ConfirmShipmentRequest, CreateFeedDocumentResponse, CreateFeedResponse, ErrorList, Feed,
    FeedDocument, ListingsItemSubmissionResponse, Order, OrderItem, OrderItemsList, OrdersList,
};
use chansync_sdk::model::{ChannelStatus, FulfilledBy, PaymentStatus};
use serde_json::Value;

fn sandbox() -> Value {
    serde_json::from_str(include_str!("fixtures/sandbox.json")).unwrap()
}

/// The responses of an operation's sandbox cases with this status.
fn responses(op: &str, status: u64) -> Vec<Value> {
    sandbox()[op]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == status)
        .map(|c| c["response"].clone())
        .collect()
}

/// Order 902-1845936-5435065 as an application with the restricted roles
/// reads it: `getOrder`, with the address and buyer of `getOrderAddress` and
/// `getOrderBuyerInfo`, and the items of `getOrderItems`.
fn reference_order() -> (Order, Vec<OrderItem>) {
    let mut order = responses("getOrder", 200)[0]["payload"].clone();
    assert_eq!(order["AmazonOrderId"], "902-1845936-5435065");
    let address = &responses("getOrderAddress", 200)[0]["payload"];
    let buyer = &responses("getOrderBuyerInfo", 200)[0]["payload"];
    assert_eq!(address["AmazonOrderId"], order["AmazonOrderId"]);
    order["ShippingAddress"] = address["ShippingAddress"].clone();
    order["BuyerInfo"] = serde_json::json!({
        "BuyerEmail": buyer["BuyerEmail"],
        "BuyerName": buyer["BuyerName"],
    });
    let items: OrderItemsList =
        serde_json::from_value(responses("getOrderItems", 200)[0]["payload"].clone()).unwrap();
    assert_eq!(items.amazon_order_id, "902-1845936-5435065");
    let items = items
        .order_items
        .into_iter()
        .map(|i| serde_json::from_value(i).unwrap())
        .collect();
    (serde_json::from_value(order).unwrap(), items)
}

#[test]
fn the_reference_order_maps_field_by_field_and_adds_up() {
    let (order, items) = reference_order();
    let o = to_channel_order(&order, &items).unwrap();
    assert_eq!(o.external_id, "902-1845936-5435065");
    assert_eq!(o.external_number, None);
    assert_eq!(o.status, ChannelStatus::Open);
    assert_eq!(o.payment_status, PaymentStatus::Authorized);
    assert_eq!(o.fulfilled_by, FulfilledBy::Merchant);
    assert_eq!(o.currency.as_str(), "USD");
    assert_eq!(o.placed_at.to_rfc3339(), "1970-01-19T03:58:30+00:00");
    assert_eq!(o.updated_at.to_rfc3339(), "1970-01-19T03:58:32+00:00");
    assert_eq!(o.lines.len(), 1);
    let l = &o.lines[0];
    assert_eq!(l.external_id, "05015851154158");
    assert_eq!(l.channel_sku.as_deref(), Some("NABetaASINB00551Q3CS"));
    assert_eq!(l.title, "B00551Q3CS [Card Book]");
    assert_eq!(l.quantity, 1);
    assert_eq!(l.unit_price.to_string(), "10.00");
    assert_eq!(l.tax.to_string(), "1.01");
    assert_eq!(l.discount.to_string(), "0.00");
    assert_eq!(l.total.to_string(), "10.00");
    assert_eq!(o.subtotal.to_string(), "10.00");
    assert_eq!(o.shipping_total.to_string(), "0.00");
    assert_eq!(o.tax_total.to_string(), "1.01");
    assert_eq!(o.discount_total.to_string(), "0.00");
    assert_eq!(o.total.to_string(), "11.01", "OrderTotal");
    // Amazon.com adds sales tax on top of its prices.
    common::assert_adds_up(&o, false);
    let a = o.shipping_address.as_ref().unwrap();
    assert_eq!(a.name, "MFNIntegrationTestMerchant");
    assert_eq!(a.line1, "2201 WESTLAKE AVE");
    assert_eq!(a.line2, None);
    assert_eq!(a.city, "SEATTLE");
    assert_eq!(a.region.as_deref(), Some("WA"));
    assert_eq!(a.postal_code, "98121-2778");
    assert_eq!(a.country_code.as_str(), "US");
    assert_eq!(
        o.customer.email.as_deref(),
        Some("fzyrv6gwkhbb15c@example.com")
    );
    assert_eq!(
        o.customer.name.as_deref(),
        Some("MFNIntegrationTestMerchant")
    );
}

#[test]
fn an_absurd_amount_is_refused_not_a_panic() {
    let (order, mut items) = reference_order();
    let mut raw = serde_json::to_value(&items[0]).unwrap();
    raw["ItemPrice"]["Amount"] = "79228162514264337593543950335".into();
    raw["PromotionDiscount"]["Amount"] = "-79228162514264337593543950335".into();
    items[0] = serde_json::from_value(raw).unwrap();
    let err = to_channel_order(&order, &items).expect_err("refused");
    assert!(
        err.to_string().contains("beyond the largest amount"),
        "{err}"
    );
}

#[test]
fn restricted_data_left_out_stays_null() {
    // getOrder alone, as an application without the restricted roles sees it.
    let order: Order =
        serde_json::from_value(responses("getOrder", 200)[0]["payload"].clone()).unwrap();
    let (_, items) = reference_order();
    let o = to_channel_order(&order, &items).unwrap();
    assert_eq!(o.shipping_address, None);
    assert_eq!(o.customer.name, None);
    assert_eq!(o.customer.email, None);
}

#[test]
fn every_sandbox_order_parses_and_its_status_maps() {
    let mut orders: Vec<Value> = Vec::new();
    for r in responses("getOrders", 200) {
        let list: OrdersList = serde_json::from_value(r["payload"].clone()).unwrap();
        orders.extend(list.orders);
    }
    orders.extend(
        responses("getOrder", 200)
            .into_iter()
            .map(|r| r["payload"].clone()),
    );
    assert!(orders.len() >= 6, "{}", orders.len());
    for raw in orders {
        let o: Order = serde_json::from_value(raw.clone()).unwrap_or_else(|e| panic!("{e}: {raw}"));
        // Without items the order is the header alone: no lines, its total.
        let c = to_channel_order(&o, &[]).unwrap();
        assert_eq!(c.status, channel_status(&o.order_status));
        assert_eq!(c.payment_status, payment_status(&o.order_status));
        assert!(c.lines.is_empty());
        match o.amazon_order_id.as_str() {
            "902-3159896-1390916" => {
                // A pending order: no total yet, no address.
                assert_eq!(o.order_status, "Pending");
                assert!(o.order_total.is_none());
                assert_eq!(c.payment_status, PaymentStatus::Pending);
                assert_eq!(c.currency.as_str(), "USD", "from the marketplace");
                assert_eq!(c.total.to_string(), "0.00");
                assert!(c.shipping_address.is_none());
            }
            "921-3175655-0452641" => {
                // Amazon-fulfilled, shipped, on Amazon.de.
                assert_eq!(c.fulfilled_by, FulfilledBy::Channel);
                assert_eq!(c.status, ChannelStatus::Fulfilled);
                assert_eq!(c.payment_status, PaymentStatus::Paid);
                assert_eq!(c.currency.as_str(), "EUR");
                assert_eq!(c.total.to_string(), "100.00");
            }
            _ => assert_eq!(c.fulfilled_by, FulfilledBy::Merchant),
        }
    }
}

#[test]
fn every_sandbox_error_body_reads_as_an_error_list() {
    let ops = [
        ("getOrders", 400),
        ("getOrder", 400),
        ("getOrderItems", 400),
        ("confirmShipment", 400),
        ("patchListingsItem", 400),
        ("getListingsItem", 400),
        ("createFeed", 400),
        ("createFeedDocument", 400),
        ("getFeed", 400),
        ("getFeedDocument", 400),
    ];
    for (op, status) in ops {
        for r in responses(op, status) {
            let e: ErrorList =
                serde_json::from_value(r.clone()).unwrap_or_else(|e| panic!("{op}: {e}"));
            assert!(!e.errors.is_empty(), "{op}");
            assert!(!e.describe().is_empty());
        }
    }
    let e: ErrorList =
        serde_json::from_value(responses("confirmShipment", 400)[0].clone()).unwrap();
    assert_eq!(e.describe(), "Invalid Input: Invalid Input");
}

#[test]
fn listings_and_feeds_answers_parse() {
    let subs: Vec<ListingsItemSubmissionResponse> = responses("patchListingsItem", 200)
        .into_iter()
        .map(|r| serde_json::from_value(r).unwrap())
        .collect();
    assert!(subs
        .iter()
        .any(|s| s.status == "ACCEPTED" && s.issues.is_empty()));
    let invalid = subs.iter().find(|s| s.status == "INVALID").unwrap();
    assert_eq!(invalid.issues[0].severity, "ERROR");
    let doc: CreateFeedDocumentResponse =
        serde_json::from_value(responses("createFeedDocument", 201)[0].clone()).unwrap();
    assert!(!doc.url.is_empty());
    let feed: CreateFeedResponse =
        serde_json::from_value(responses("createFeed", 202)[0].clone()).unwrap();
    assert_eq!(feed.feed_id, "3485934");
    let got: Feed = serde_json::from_value(responses("getFeed", 200)[0].clone()).unwrap();
    assert_eq!(got.processing_status, "CANCELLED");
    let d: FeedDocument =
        serde_json::from_value(responses("getFeedDocument", 200)[0].clone()).unwrap();
    assert_eq!(d.compression_algorithm, None);
}

#[test]
fn the_shipment_confirmation_shape_is_the_specs() {
    let case = &sandbox()["confirmShipment"]["cases"][0];
    assert_eq!(case["status"], 204);
    let body = case["request"]["parameters"]["body"]["value"].clone();
    let req: ConfirmShipmentRequest = serde_json::from_value(body.clone()).unwrap();
    assert_eq!(req.marketplace_id, "ATVPDKIKX0DER");
    assert_eq!(
        req.package_detail.order_items[0].order_item_id,
        "79039765272157"
    );
    // What the connector sends is the spec's shape: every key it writes is one
    // the example has (transparency codes and supply source aside).
    let ours = serde_json::to_value(&req).unwrap();
    for (k, v) in ours["packageDetail"].as_object().unwrap() {
        if k != "orderItems" {
            assert_eq!(&body["packageDetail"][k], v, "{k}");
        }
    }
    for (k, v) in ours["packageDetail"]["orderItems"][0].as_object().unwrap() {
        assert_eq!(
            &body["packageDetail"]["orderItems"][0][k], v,
            "orderItems.{k}"
        );
    }
    assert_eq!(ours["marketplaceId"], body["marketplaceId"]);
}

/// Every order the simulator generates — merchant- and Amazon-fulfilled, in
/// VAT-inclusive and tax-on-top marketplaces, with and without promotions —
/// adds up once mapped.
#[tokio::test]
async fn every_simulated_order_adds_up() {
    let mut cfg = common::manual(11);
    cfg.marketplace_ids = [
        "A1PA6795UKMFR9",
        "A1F83G8C2ARO7P",
        "A2NODRKZP88ZB9",
        "ATVPDKIKX0DER",
        "A2EUQ1WTGCTBG2",
        "A1VC38T7YXB528",
    ]
    .map(String::from)
    .to_vec();
    let sim = common::start(cfg).await;
    let ids = sim.create_orders(300);
    // Half of them move on: payment authorized, Amazon ships its own.
    for id in ids.iter().step_by(2) {
        sim.update_order(id);
        sim.update_order(id);
    }
    let (mut afn, mut pending, mut promoted, mut multi) = (0, 0, 0, 0);
    for id in &ids {
        let order = sim.order(id).unwrap();
        let items = sim.order_items(id).unwrap();
        let o = to_channel_order(&order, &items).unwrap();
        common::assert_adds_up(
            &o,
            common::prices_include_tax(order.marketplace_id.as_deref().unwrap()),
        );
        if let Some(total) = &order.order_total {
            // Computed from the items alone, the total is Amazon's OrderTotal.
            let mut without = order.clone();
            without.order_total = None;
            let computed = to_channel_order(&without, &items).unwrap();
            assert_eq!(Some(computed.total.to_string()), total.amount, "order {id}");
        }
        afn += usize::from(o.fulfilled_by == FulfilledBy::Channel);
        pending += usize::from(o.payment_status == PaymentStatus::Pending);
        promoted += usize::from(o.lines.iter().any(|l| !l.discount.is_zero()));
        multi += usize::from(o.lines.len() > 1);
    }
    assert!(
        afn > 30 && pending > 30 && promoted > 30 && multi > 60,
        "a varied mix: afn {afn}, pending {pending}, promoted {promoted}, multi {multi}"
    );
    sim.stop();
}

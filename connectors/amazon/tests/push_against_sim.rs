//! Push-back against the simulator: shipment confirmations (at least once,
//! recorded once) and stock by `patchListingsItem` for small batches and by
//! JSON_LISTINGS_FEED for large ones, with unknown SKUs rejected while the
//! rest applies.

mod common;

use chansync_amazon::sim::{SimConfig, SimHandle};
use chansync_sdk::model::{Fulfillment, FulfillmentLine};
use chansync_sdk::{Connector, ConnectorError, FulfillmentRequest, StockLevel};
use common::{connector, count, manual, start};
use serde_json::json;

/// A merchant-fulfilled order whose payment is authorized (Unshipped).
fn unshipped_mfn_order(sim: &SimHandle, n: usize) -> Vec<String> {
    let ids = sim.create_orders(n * 6);
    ids.into_iter()
        .filter(|id| !common::is_afn(sim, id))
        .inspect(|id| {
            sim.update_order(id);
        })
        .filter(|id| sim.order(id).unwrap().order_status == "Unshipped")
        .take(n)
        .collect()
}

fn request(order: &str, key: &str, lines: Vec<FulfillmentLine>) -> FulfillmentRequest {
    FulfillmentRequest {
        external_order_id: order.to_owned(),
        fulfillment: Fulfillment {
            location: Some("berlin-wh".into()),
            carrier: Some("DHL".into()),
            tracking: Some(format!("JJD0001{key}")),
            lines,
        },
        idempotency_key: key.to_owned(),
    }
}

fn fulfillments(sim: &SimHandle) -> Vec<serde_json::Value> {
    sim.state()["fulfillments"].as_array().unwrap().clone()
}

#[tokio::test]
async fn a_shipment_pushed_twice_is_confirmed_once() {
    let sim = start(manual(21)).await;
    let order = unshipped_mfn_order(&sim, 1).remove(0);
    let items = sim.order_items(&order).unwrap();
    let first = &items[0];
    let c = connector(&sim, json!({}));
    let push = c.fulfillment_push().expect("Amazon takes shipments");
    let req = request(
        &order,
        "outbox-1",
        vec![FulfillmentLine {
            external_id: first.order_item_id.clone(),
            quantity: first.quantity_ordered,
        }],
    );
    push.push_fulfillment(&req).await.unwrap();
    push.push_fulfillment(&req).await.unwrap();
    let recorded = fulfillments(&sim);
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    let f = &recorded[0];
    assert_eq!(f["order_id"], order.as_str());
    assert_eq!(f["carrier_code"], "DHL");
    assert_eq!(f["tracking_number"], "JJD0001outbox-1");
    assert_eq!(
        f["marketplace_id"],
        sim.order(&order).unwrap().marketplace_id.unwrap()
    );
    assert_eq!(
        f["items"],
        json!([{"order_item_id": first.order_item_id, "quantity": first.quantity_ordered}])
    );
    assert!(
        f["package_reference_id"]
            .as_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            > 0
    );
    let status = sim.order(&order).unwrap().order_status;
    let expected = if items.len() == 1 {
        "Shipped"
    } else {
        "PartiallyShipped"
    };
    assert_eq!(status, expected);
    assert_eq!(
        count(
            &sim,
            &["counts", "per_operation", "confirmShipment", "requests"]
        ),
        1
    );
    sim.stop();
}

#[tokio::test]
async fn a_confirmation_whose_answer_is_lost_is_not_sent_again() {
    let sim = start(manual(22)).await;
    let order = unshipped_mfn_order(&sim, 1).remove(0);
    let c = connector(&sim, json!({}));
    // confirmShipment runs, but its answer is a 500.
    assert!(sim.lose_answers("confirmShipment", 1));
    let push = c.fulfillment_push().unwrap();
    push.push_fulfillment(&request(&order, "outbox-2", vec![]))
        .await
        .unwrap();
    assert_eq!(
        count(
            &sim,
            &["counts", "per_operation", "confirmShipment", "requests"]
        ),
        1,
        "the connector read the order again and found it shipped"
    );
    assert_eq!(
        count(&sim, &["counts", "per_operation", "getOrder", "requests"]),
        2,
        "read before the lost answer and after it"
    );
    let recorded = fulfillments(&sim);
    assert_eq!(recorded.len(), 1, "{recorded:#?}");
    assert_eq!(
        sim.order(&order).unwrap().order_status,
        "Shipped",
        "no lines: all of it"
    );
    sim.stop();
}

#[tokio::test]
async fn shipments_amazon_cannot_take_are_permanent_errors() {
    let sim = start(manual(23)).await;
    let ids = sim.create_orders(20);
    let c = connector(&sim, json!({}));
    let push = c.fulfillment_push().unwrap();
    let afn = ids.iter().find(|id| common::is_afn(&sim, id)).unwrap();
    let err = push
        .push_fulfillment(&request(afn, "k1", vec![]))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    let mfn = unshipped_mfn_order(&sim, 2);
    assert!(sim.cancel_order(&mfn[0]));
    let err = push
        .push_fulfillment(&request(&mfn[0], "k2", vec![]))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    let unknown_line = vec![FulfillmentLine {
        external_id: "00000000000000".into(),
        quantity: 1,
    }];
    let err = push
        .push_fulfillment(&request(&mfn[1], "k3", unknown_line))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    let mut no_tracking = request(&mfn[1], "k4", vec![]);
    no_tracking.fulfillment.tracking = None;
    let err = push.push_fulfillment(&no_tracking).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    assert!(fulfillments(&sim).is_empty());
    // An unknown carrier goes as "Other" with its name.
    let mut other = request(&mfn[1], "k5", vec![]);
    other.fulfillment.carrier = Some("Royal Mail".into());
    push.push_fulfillment(&other).await.unwrap();
    let f = &fulfillments(&sim)[0];
    assert_eq!(f["carrier_code"], "Other");
    assert_eq!(f["carrier_name"], "Royal Mail");
    sim.stop();
}

fn level(sku: &str, quantity: i64) -> StockLevel {
    StockLevel {
        channel_sku: sku.to_owned(),
        channel_location: None,
        quantity,
        idempotency_key: format!("stock-{sku}-{quantity}"),
    }
}

#[tokio::test]
async fn a_small_batch_goes_by_listings_patches_and_an_unknown_sku_is_rejected() {
    let sim = start(manual(24)).await;
    let c = connector(&sim, json!({"feed_threshold": 20}));
    let push = c.stock_push().expect("a seller id enables stock push");
    let levels = [
        level("SKU-MUG-1", 17),
        level("SKU-TEE-2", 0),
        level("NOT-LISTED-1", 5),
        level("SKU-LAMP-1", -3),
    ];
    let rejected = push.push_stock(&levels).await.unwrap();
    let mut skus: Vec<&str> = rejected.iter().map(|r| r.channel_sku.as_str()).collect();
    skus.sort_unstable();
    assert_eq!(skus, ["NOT-LISTED-1", "SKU-LAMP-1"]);
    assert!(rejected
        .iter()
        .all(|r| matches!(r.error, ConnectorError::Permanent(_))));
    let stock = sim.stock();
    assert_eq!(stock["SKU-MUG-1"], 17);
    assert_eq!(stock["SKU-TEE-2"], 0);
    assert!(!stock.contains_key("NOT-LISTED-1"));
    assert_eq!(
        count(
            &sim,
            &["counts", "per_operation", "patchListingsItem", "requests"]
        ),
        3
    );
    assert_eq!(
        count(&sim, &["counts", "per_operation", "createFeed", "requests"]),
        0
    );
    assert_eq!(count(&sim, &["listings_submissions"]), 2);
    // Levels are absolute: the same batch again leaves the same stock.
    push.push_stock(&levels).await.unwrap();
    assert_eq!(sim.stock(), stock);
    sim.stop();
}

async fn large_batch_by_feed(gzip_reports: bool) {
    let sim = start(SimConfig {
        gzip_reports,
        ..manual(25)
    })
    .await;
    let c = connector(&sim, json!({"feed_threshold": 5}));
    let push = c.stock_push().unwrap();
    let skus = chansync_amazon::sim::catalog_skus();
    let mut levels: Vec<StockLevel> = skus
        .iter()
        .enumerate()
        .map(|(i, sku)| level(sku, 100 + i as i64))
        .collect();
    levels.push(level("NOT-LISTED-2", 4));
    let rejected = push.push_stock(&levels).await.unwrap();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert_eq!(rejected[0].channel_sku, "NOT-LISTED-2");
    assert!(matches!(rejected[0].error, ConnectorError::Permanent(_)));
    let stock = sim.stock();
    for (i, sku) in skus.iter().enumerate() {
        assert_eq!(stock[*sku], 100 + i as i64, "{sku}");
    }
    let state = sim.state();
    let feeds = state["feeds"].as_array().unwrap();
    assert_eq!(feeds.len(), 1);
    assert_eq!(feeds[0]["feed_type"], "JSON_LISTINGS_FEED");
    assert_eq!(feeds[0]["processing_status"], "DONE");
    assert_eq!(feeds[0]["summary"]["messagesAccepted"], skus.len());
    assert_eq!(feeds[0]["summary"]["messagesInvalid"], 1);
    assert_eq!(
        count(
            &sim,
            &["counts", "per_operation", "patchListingsItem", "requests"]
        ),
        0
    );
    assert_eq!(count(&sim, &["counts", "document_uploads"]), 1);
    assert!(count(&sim, &["counts", "per_operation", "getFeed", "requests"]) >= 1);
    sim.stop();
}

#[tokio::test]
async fn a_large_batch_goes_by_one_listings_feed() {
    large_batch_by_feed(false).await;
}

#[tokio::test]
async fn a_gzipped_processing_report_is_read() {
    large_batch_by_feed(true).await;
}

#[tokio::test]
async fn injected_faults_during_a_feed_are_waited_out() {
    let sim = start(manual(26)).await;
    let c = connector(&sim, json!({"feed_threshold": 1}));
    let push = c.stock_push().unwrap();
    sim.inject_faults(503, 2, None);
    let levels = [level("SKU-CAP-1", 9), level("SKU-PEN-1", 8)];
    assert!(push.push_stock(&levels).await.unwrap().is_empty());
    assert_eq!(sim.stock()["SKU-CAP-1"], 9);
    assert_eq!(sim.state()["feeds"].as_array().unwrap().len(), 1);
    sim.stop();
}

#[tokio::test]
async fn without_a_seller_id_there_is_no_stock_push() {
    let sim = start(manual(27)).await;
    let mut ctx = common::context(&sim, json!({}));
    ctx.options.as_object_mut().unwrap().remove("seller_id");
    let c = chansync_amazon::AmazonFactory;
    let c = chansync_sdk::ConnectorFactory::build(&c, ctx).unwrap();
    assert!(c.stock_push().is_none());
    assert!(c.orders().is_some() && c.fulfillment_push().is_some());
    assert_eq!(c.kind(), "amazon");
    sim.stop();
}

#[tokio::test]
async fn a_feed_not_done_in_time_is_resumed_by_the_retried_batch() {
    let sim = start(SimConfig {
        feed_processing_time: std::time::Duration::from_millis(400),
        ..manual(28)
    })
    .await;
    let c = connector(&sim, json!({"feed_threshold": 1, "feed_timeout": "100ms"}));
    let push = c.stock_push().unwrap();
    let levels = [level("SKU-TEA-1", 12), level("NOT-LISTED-3", 1)];
    let err = push.push_stock(&levels).await.unwrap_err();
    assert!(err.is_retryable(), "{err}");
    // The daemon retries the same batch until the feed is done.
    let mut retries = 0;
    let rejected = loop {
        match push.push_stock(&levels).await {
            Ok(r) => break r,
            Err(e) if e.is_retryable() && retries < 50 => retries += 1,
            Err(e) => panic!("{e}"),
        }
    };
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].channel_sku, "NOT-LISTED-3");
    assert_eq!(sim.stock()["SKU-TEA-1"], 12);
    assert_eq!(
        count(&sim, &["counts", "per_operation", "createFeed", "requests"]),
        1,
        "the retry polled the feed it had sent"
    );
    sim.stop();
}

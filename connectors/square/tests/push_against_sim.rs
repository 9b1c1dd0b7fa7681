//! Push-back to the Square simulator with UpdateOrder: a shipment completes
//! the order's fulfilment with its tracking once, partial shipments add up
//! until the last completes it, a seller's edit in between (VERSION_MISMATCH)
//! is read again and retried, a lost answer is not applied twice, and
//! cancellations void or refund and restock once.

use chansync_sdk::model::{Fulfillment, FulfillmentLine};
use chansync_sdk::{
    CancelRequest, Connector, ConnectorContext, ConnectorError, ConnectorFactory,
    FulfillmentRequest, SecretString,
};
use chansync_square::sim::{self, SimConfig, SimHandle};
use chansync_square::SquareFactory;
use serde_json::Value;

async fn start(seed: u64) -> SimHandle {
    sim::start(
        SimConfig {
            seed,
            generate: false,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

fn connector(sim: &SimHandle) -> Box<dyn Connector> {
    SquareFactory
        .build(ConnectorContext {
            name: "pos".into(),
            base_url: sim.base_url(),
            access_token: Some(SecretString::from(sim.access_token().to_owned())),
            ..Default::default()
        })
        .unwrap()
}

/// (uid, units) of each line of an order.
fn lines(sim: &SimHandle, id: &str) -> Vec<(String, u32)> {
    sim.order_json(id).unwrap()["line_items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["uid"].as_str().unwrap().to_owned(),
                l["quantity"].as_str().unwrap().parse().unwrap(),
            )
        })
        .collect()
}

fn shipment(id: &str, key: &str, tracking: &str, lines: &[(String, u32)]) -> FulfillmentRequest {
    FulfillmentRequest {
        external_order_id: id.into(),
        fulfillment: Fulfillment {
            location: Some("main-wh".into()),
            carrier: Some("UPS".into()),
            tracking: Some(tracking.into()),
            lines: lines
                .iter()
                .map(|(uid, q)| FulfillmentLine {
                    external_id: uid.clone(),
                    quantity: *q,
                })
                .collect(),
        },
        idempotency_key: key.into(),
    }
}

fn fulfilment(sim: &SimHandle, id: &str) -> Value {
    sim.order_json(id).unwrap()["fulfillments"][0].clone()
}

fn updates_of(sim: &SimHandle, id: &str) -> Vec<Value> {
    sim.state()["order_updates"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|u| u["order_id"] == id)
        .cloned()
        .collect()
}

/// An online order with more than one unit, so it can ship in parts.
fn online_order(sim: &SimHandle) -> String {
    for _ in 0..50 {
        let id = sim.create_online_order(1).remove(0);
        if lines(sim, &id).iter().map(|l| l.1).sum::<u32>() > 1 {
            return id;
        }
    }
    panic!("no multi-unit online order in 50");
}

#[tokio::test]
async fn a_shipment_pushed_twice_completes_the_fulfilment_once() {
    let sim = start(3).await;
    let id = online_order(&sim);
    let version = sim.order_json(&id).unwrap()["version"].as_i64().unwrap();
    let c = connector(&sim);
    let push = c.fulfillment_push().expect("Square takes shipments");
    let req = shipment(&id, "outbox-7", "1Z999AA10123456784", &lines(&sim, &id));
    push.push_fulfillment(&req).await.unwrap();
    push.push_fulfillment(&req).await.unwrap();
    let f = fulfilment(&sim, &id);
    assert_eq!(f["state"], "COMPLETED");
    assert_eq!(f["shipment_details"]["carrier"], "UPS");
    assert_eq!(
        f["shipment_details"]["tracking_number"],
        "1Z999AA10123456784"
    );
    assert!(f["shipment_details"]["shipped_at"].is_string());
    let updates = updates_of(&sim, &id);
    assert_eq!(updates.len(), 1, "{updates:#?}");
    assert_eq!(
        updates[0]["idempotency_key"],
        format!("outbox-7:v{version}")
    );
    // Paid in full (captured) it completes; an authorization waits for its
    // capture, which then completes it.
    let order = sim.order_json(&id).unwrap();
    let authorized = order["tenders"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["card_details"]["status"] == "AUTHORIZED");
    if authorized {
        assert_eq!(order["state"], "OPEN");
        assert!(sim.update_order(&id), "the capture");
    }
    assert_eq!(sim.order_json(&id).unwrap()["state"], "COMPLETED");
    sim.stop();
}

#[tokio::test]
async fn partial_shipments_add_up_until_the_last_unit_completes_it() {
    let sim = start(4).await;
    let id = online_order(&sim);
    let all = lines(&sim, &id);
    // The first unit of the first line, then the rest.
    let mut first = vec![(all[0].0.clone(), 1)];
    let mut rest = all.clone();
    rest[0].1 -= 1;
    rest.retain(|l| l.1 > 0);
    let push_c = connector(&sim);
    let push = push_c.fulfillment_push().unwrap();
    push.push_fulfillment(&shipment(&id, "k1", "T1", &first))
        .await
        .unwrap();
    let f = fulfilment(&sim, &id);
    assert_eq!(f["state"], "PREPARED");
    assert_eq!(f["shipment_details"]["tracking_number"], "T1");
    assert_eq!(sim.order_json(&id).unwrap()["state"], "OPEN");
    push.push_fulfillment(&shipment(&id, "k2", "T2", &rest))
        .await
        .unwrap();
    let f = fulfilment(&sim, &id);
    assert_eq!(f["state"], "COMPLETED");
    assert_eq!(f["shipment_details"]["tracking_number"], "T1, T2");
    // The first push again (its answer lost, the outbox tries again):
    // nothing changes.
    first[0].1 = 1;
    push.push_fulfillment(&shipment(&id, "k1", "T1", &first))
        .await
        .unwrap();
    assert_eq!(updates_of(&sim, &id).len(), 2);
    sim.stop();
}

#[tokio::test]
async fn a_sellers_edit_in_between_is_read_again_and_a_lost_answer_is_applied_once() {
    let sim = start(5).await;
    let id = online_order(&sim);
    let c = connector(&sim);
    let push = c.fulfillment_push().unwrap();
    sim.race_updates(2);
    sim.lose_update_answers(1);
    push.push_fulfillment(&shipment(&id, "k9", "T9", &lines(&sim, &id)))
        .await
        .unwrap();
    let f = fulfilment(&sim, &id);
    assert_eq!(f["state"], "COMPLETED");
    assert_eq!(f["shipment_details"]["tracking_number"], "T9");
    assert_eq!(updates_of(&sim, &id).len(), 1);

    // A seller who keeps editing: the push gives up as a transient error,
    // for the outbox to try later.
    let other = online_order(&sim);
    sim.race_updates(100);
    let err = push
        .push_fulfillment(&shipment(&other, "k10", "T10", &lines(&sim, &other)))
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Transient(_)), "{err}");
    assert!(updates_of(&sim, &other).is_empty());
    sim.stop();
}

#[tokio::test]
async fn a_cancellation_voids_or_refunds_and_restocks_once() {
    let sim = start(6).await;
    let id = online_order(&sim);
    let order = sim.order_json(&id).unwrap();
    let location = order["location_id"].as_str().unwrap().to_owned();
    let before = sim.counts();
    let c = connector(&sim);
    let cancel = c.cancel().expect("Square cancels orders");
    let req = CancelRequest {
        external_order_id: id.clone(),
        reason: Some("customer".into()),
        idempotency_key: "outbox-cancel-1".into(),
    };
    cancel.cancel_order(&req).await.unwrap();
    cancel.cancel_order(&req).await.unwrap();
    let after = sim.order_json(&id).unwrap();
    assert_eq!(after["state"], "CANCELED");
    assert_eq!(after["fulfillments"][0]["state"], "CANCELED");
    assert_eq!(updates_of(&sim, &id).len(), 1);
    let paid: bool = order["tenders"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["card_details"]["status"] == "CAPTURED");
    assert_eq!(
        !after["refunds"].as_array().unwrap_or(&vec![]).is_empty(),
        paid
    );
    // Every unit is back on the shelf of the order's store, once.
    let at = |m: &std::collections::BTreeMap<(String, String), i64>| -> i64 {
        m.iter()
            .filter(|((_, l), _)| *l == location)
            .map(|(_, q)| q)
            .sum()
    };
    let units: i64 = order["line_items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["catalog_object_id"].is_string())
        .map(|l| l["quantity"].as_str().unwrap().parse::<i64>().unwrap())
        .sum();
    assert!(units > 0);
    assert_eq!(at(&sim.counts()) - at(&before), units);
    // A completed sale cannot be cancelled, only refunded.
    let sale = sim.create_sale(1).remove(0);
    let err = cancel
        .cancel_order(&CancelRequest {
            external_order_id: sale,
            reason: None,
            idempotency_key: "outbox-cancel-2".into(),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
    sim.stop();
}

#[test]
fn shipments_of_unknown_orders_are_permanent() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sim = start(7).await;
        let c = connector(&sim);
        let err = c
            .fulfillment_push()
            .unwrap()
            .push_fulfillment(&shipment("NOPE", "k", "T", &[("x".into(), 1)]))
            .await
            .unwrap_err();
        assert!(matches!(err, ConnectorError::Permanent(_)), "{err}");
        sim.stop();
    });
}

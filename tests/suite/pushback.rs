//! Push-back end to end: the daemon against the Shopify simulator over
//! loopback. Stock levels, fulfilments and cancellations reach the channel
//! through the outbox, once, within its limits, surviving its faults.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chansync_testpg::both;

use crate::common::{first_dead_letter, manual_shop, Backend, Harness, Intake, Setup};
use chansync::store::{Actor, OutboxFilter};
use chansync_shopify::sim::Faults;

const WAIT: Duration = Duration::from_secs(20);

/// Polls `f` until it returns `Some`, or panics with `what` after `WAIT`.
async fn eventually<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn location_and_skus(skus: &[&str], connectors: &[&str]) -> String {
    let mut s = String::from("[[location]]\nname = \"leeds\"\ncountry = \"GB\"\npriority = 1\n");
    for c in connectors {
        for sku in skus {
            s.push_str(&format!(
                "\n[[sku]]\nconnector = \"{c}\"\nchannel_sku = \"{sku}\"\nmaster_sku = \"{sku}\"\n"
            ));
        }
    }
    s
}

/// A SKU of the simulator's catalogue with the quantity one order takes.
fn first_line(h: &Harness, id: u64) -> (String, i64) {
    let o = h.sim.rest_order(id).unwrap();
    let l = o
        .line_items
        .iter()
        .find(|l| l.sku.is_some())
        .expect("an order line with a SKU");
    (l.sku.clone().unwrap(), i64::from(l.quantity))
}

/// Starts a harness whose catalogue SKUs are known before the config is
/// written: a throwaway simulator with the same seed tells them.
async fn harness_with(
    b: Backend,
    connector_keys: &str,
    extra_skus: &[&str],
) -> (Harness, Vec<String>) {
    let probe = manual_shop().await;
    let ids = probe.create_orders(3);
    let mut skus: Vec<String> = ids
        .iter()
        .flat_map(|id| {
            probe
                .rest_order(*id)
                .unwrap()
                .line_items
                .into_iter()
                .filter_map(|l| l.sku)
        })
        .collect();
    probe.stop();
    skus.sort();
    skus.dedup();
    let mut all: Vec<&str> = skus.iter().map(String::as_str).collect();
    all.extend_from_slice(extra_skus);
    let mut setup = Setup::new(Intake::Webhooks).on(b);
    setup.connector_keys = connector_keys.into();
    setup.extra = location_and_skus(&all, &["shop"]);
    (Harness::start(setup).await, skus)
}

both!(stock_set_reaches_the_channel_through_share_and_buffer);
async fn stock_set_reaches_the_channel_through_share_and_buffer(b: Backend) {
    let (h, skus) = harness_with(b, "stock = { share = 0.5, buffer = 1 }", &[]).await;
    let store = h.store().await;
    let sku = &skus[0];
    store
        .set_on_hand(sku, "leeds", 21, None, &Actor::new("test"))
        .await
        .unwrap();
    // floor(21 × 0.5) − 1 = 9
    let level = eventually("the level on the channel", || {
        h.sim.stock().get(sku).copied().filter(|q| *q == 9)
    })
    .await;
    assert_eq!(level, 9);
    let view = store.stock_view(Some(sku)).await.unwrap();
    assert_eq!(view[0].channels[0].published, 9);
    store.close().await;
    h.stop().await.unwrap();
}

both!(a_fulfilment_reaches_the_channel_once_with_its_tracking);
async fn a_fulfilment_reaches_the_channel_once_with_its_tracking(b: Backend) {
    let (h, skus) = harness_with(b, "", &[]).await;
    let store = h.store().await;
    for sku in &skus {
        store
            .set_on_hand(sku, "leeds", 50, None, &Actor::new("test"))
            .await
            .unwrap();
    }
    let id = h.sim.create_orders(1)[0];
    let orders = h.converge(WAIT).await;
    assert_eq!(
        orders[0].status,
        chansync_sdk::model::OrderStatus::Allocated
    );
    let order_id: i64 = orders[0].id.parse().unwrap();
    // A 503 and a 429 first: the push waits them out.
    h.sim.inject_faults(Faults {
        status: 503,
        count: 1,
        retry_after_secs: None,
    });
    h.sim.inject_faults(Faults {
        status: 429,
        count: 1,
        retry_after_secs: Some(1),
    });
    store
        .fulfil(
            order_id,
            "leeds",
            Some("DHL"),
            "TRACK-ONCE-1",
            &BTreeMap::new(),
        )
        .await
        .unwrap();
    let fulfilments = eventually("the fulfilment on the channel", || {
        let f = h.sim.state()["fulfillments"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (!f.is_empty()).then_some(f)
    })
    .await;
    assert_eq!(fulfilments.len(), 1);
    assert_eq!(fulfilments[0]["order_id"], id.to_string());
    assert_eq!(fulfilments[0]["tracking_number"], "TRACK-ONCE-1");
    // The channel's orders/updated comes back: the order stays fulfilled,
    // and nothing is sent again.
    let shipped = eventually("the channel's view back in the store", || {
        let s = h.sim.rest_order(id).unwrap();
        (s.fulfillment_status.as_deref() == Some("fulfilled")).then_some(())
    });
    shipped.await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        h.sim.state()["fulfillments"].as_array().unwrap().len(),
        1,
        "sent exactly once"
    );
    let o = store.get_order(order_id).await.unwrap().unwrap();
    assert_eq!(o.status, chansync_sdk::model::OrderStatus::Fulfilled);
    let rows = store
        .outbox_list(&OutboxFilter {
            connector: Some("shop".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let ful: Vec<_> = rows.iter().filter(|r| r.kind == "fulfillment").collect();
    assert_eq!(ful.len(), 1);
    assert_eq!(ful[0].state, "done");
    assert!(
        h.sim.state()["counts"]["http_429"].as_u64().unwrap() >= 1,
        "the 429 was really answered"
    );
    store.close().await;
    h.stop().await.unwrap();
}

both!(a_cancellation_reaches_the_channel_once);
async fn a_cancellation_reaches_the_channel_once(b: Backend) {
    let (h, skus) = harness_with(b, "", &[]).await;
    let store = h.store().await;
    for sku in &skus {
        store
            .set_on_hand(sku, "leeds", 50, None, &Actor::new("test"))
            .await
            .unwrap();
    }
    let id = h.sim.create_orders(1)[0];
    let orders = h.converge(WAIT).await;
    let order_id: i64 = orders[0].id.parse().unwrap();
    store
        .cancel(order_id, Some("customer changed their mind"))
        .await
        .unwrap();
    eventually("the cancellation on the channel", || {
        let c = h.sim.state()["cancellations"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        (!c.is_empty()).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let c = h.sim.state()["cancellations"].as_array().unwrap().clone();
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["order_id"], id.to_string());
    let v = store.stock_view(None).await.unwrap();
    assert!(v.iter().all(|s| s.reserved == 0), "reservations released");
    store.close().await;
    h.stop().await.unwrap();
}

both!(a_permanent_rejection_is_dead_lettered_and_replay_sends_it_once_fixed);
async fn a_permanent_rejection_is_dead_lettered_and_replay_sends_it_once_fixed(b: Backend) {
    let (h, _skus) = harness_with(b, "", &["NOT-IN-SHOP-1"]).await;
    let store = h.store().await;
    store
        .set_on_hand("NOT-IN-SHOP-1", "leeds", 7, None, &Actor::new("test"))
        .await
        .unwrap();
    let dead = first_dead_letter(&store).await;
    assert!(
        dead.last_error
            .as_deref()
            .unwrap_or("")
            .to_lowercase()
            .contains("not-in-shop-1")
            || dead.last_error.is_some()
    );
    assert!(!h.sim.stock().contains_key("NOT-IN-SHOP-1"));
    assert!(h.sim.add_product("NOT-IN-SHOP-1", "A new product"));
    assert_eq!(store.outbox_replay(Some(dead.id)).await.unwrap(), [dead.id]);
    let level = eventually("the replayed level", || {
        h.sim.stock().get("NOT-IN-SHOP-1").copied()
    })
    .await;
    assert_eq!(level, 7);
    store.close().await;
    h.stop().await.unwrap();
}

both!(a_burst_of_a_thousand_stock_changes_makes_few_pushes);
async fn a_burst_of_a_thousand_stock_changes_makes_few_pushes(b: Backend) {
    let (h, skus) = harness_with(b, "", &[]).await;
    let store = h.store().await;
    let sku = &skus[0];
    store
        .set_on_hand(sku, "leeds", 1, None, &Actor::new("test"))
        .await
        .unwrap();
    eventually("the first level", || {
        h.sim.stock().get(sku).copied().filter(|q| *q == 1)
    })
    .await;
    let before = h.sim.state()["counts"]["requests"].as_u64().unwrap();
    for n in 0..1000 {
        store
            .set_on_hand(sku, "leeds", 2 + n % 100, None, &Actor::new("test"))
            .await
            .unwrap();
    }
    store
        .set_on_hand(sku, "leeds", 500, None, &Actor::new("test"))
        .await
        .unwrap();
    eventually("the last level", || {
        h.sim.stock().get(sku).copied().filter(|q| *q == 500)
    })
    .await;
    let requests = h.sim.state()["counts"]["requests"].as_u64().unwrap() - before;
    assert!(
        requests < 100,
        "1,001 changes made {requests} channel requests"
    );
    store.close().await;
    h.stop().await.unwrap();
}

both!(two_shops_share_one_pool);
/// Two Shopify stores share one stock pool: what sells on one comes off
/// what the other publishes.
async fn two_shops_share_one_pool(b: Backend) {
    let sim2 = manual_shop().await;
    // The same seed gives the same catalogue: find a SKU and its quantity.
    let probe = sim2.create_orders(1)[0];
    let line = sim2
        .rest_order(probe)
        .unwrap()
        .line_items
        .into_iter()
        .find(|l| l.sku.is_some())
        .unwrap();
    let (sku, qty) = (line.sku.unwrap(), i64::from(line.quantity));

    let mut setup = Setup::new(Intake::Webhooks).on(b);
    setup.extra = format!(
        "[[connector]]\nname = \"shop2\"\nkind = \"shopify\"\nbase_url = \"{}\"\naccess_token = \"{}\"\n\n{}",
        sim2.base_url(),
        sim2.access_token(),
        location_and_skus(&[&sku], &["shop", "shop2"])
    );
    let h = Harness::start(setup).await;
    let store = h.store().await;
    // The same seed: the first store's first order is the probe order.
    let lines = sim2.rest_order(probe).unwrap().line_items;
    for l in &lines {
        if let Some(other) = l.sku.clone().filter(|s| *s != sku) {
            store
                .set_on_hand(&other, "leeds", 100, None, &Actor::new("test"))
                .await
                .unwrap();
        }
    }
    store
        .set_on_hand(&sku, "leeds", qty + 5, None, &Actor::new("test"))
        .await
        .unwrap();
    eventually("the second store showing the pool", || {
        (sim2.stock().get(&sku) == Some(&(qty + 5))).then_some(())
    })
    .await;

    // A sale on the first store comes off what the second shows.
    let id = h.sim.create_orders(1)[0];
    assert_eq!(
        first_line(&h, id),
        (sku.clone(), qty),
        "same seed, same first order"
    );
    eventually("the second store showing what is left", || {
        (sim2.stock().get(&sku) == Some(&5)).then_some(())
    })
    .await;
    let orders = h.orders().await;
    assert_eq!(
        orders[0].status,
        chansync_sdk::model::OrderStatus::Allocated
    );
    // A count finds only what the order holds: both stores are sold out.
    store
        .set_on_hand(&sku, "leeds", qty, None, &Actor::new("test"))
        .await
        .unwrap();
    eventually("the second store sold out", || {
        (sim2.stock().get(&sku) == Some(&0)).then_some(())
    })
    .await;
    eventually("the first store sold out", || {
        (h.sim.stock().get(&sku) == Some(&0)).then_some(())
    })
    .await;
    let v = store.stock_view(Some(&sku)).await.unwrap();
    assert_eq!((v[0].on_hand, v[0].reserved, v[0].available), (qty, qty, 0));
    store.close().await;
    sim2.stop();
    h.stop().await.unwrap();
}

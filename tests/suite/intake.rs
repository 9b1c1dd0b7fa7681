//! Orders flow from the Shopify simulator into the store through the daemon,
//! by webhook, by poll and by both, exactly once; bad deliveries are refused
//! or kept for inspection and never change an order.

use std::time::Duration;

use chansync_testpg::both;

use crate::common::{post_webhook, sign, Backend, Harness, Intake, Setup};
use chansync_sdk::model::OrderStatus;
use chansync_shopify::sim::SimConfig;

const CATCH_UP: Duration = Duration::from_secs(30);

/// Creates, updates and cancels orders in the simulator; the store must end
/// with exactly the simulator's orders, each once, each created once.
async fn orders_arrive_exactly_once(b: Backend, intake: Intake) {
    let h = Harness::start(Setup::new(intake).on(b)).await;
    let ids = h.sim.create_orders(15);
    for id in &ids[..5] {
        assert!(h.sim.update_order(*id));
    }
    assert!(h.sim.cancel_order(ids[7]));
    let orders = h.converge(CATCH_UP).await;
    assert_eq!(orders.len(), 15);

    let cancelled = orders
        .iter()
        .find(|o| o.external_id == ids[7].to_string())
        .unwrap();
    assert_eq!(cancelled.status, OrderStatus::Cancelled);

    let store = h.store().await;
    let mut versions_stored = 0;
    for o in &orders {
        let history = store.order_history(o.id.parse().unwrap()).await.unwrap();
        let created = history.iter().filter(|e| e.kind == "created").count();
        assert_eq!(
            created, 1,
            "order {} created {created} times",
            o.external_id
        );
        versions_stored += history.len();
    }
    // 15 creations, 5 updates, 1 cancellation (the simulator stamps whole
    // seconds, so a change in the creation's second may fold into it): a
    // version seen by both webhook and poll is stored once.
    assert!(
        (15..=21).contains(&versions_stored),
        "{versions_stored} versions stored"
    );
    store.close().await;

    if intake != Intake::Poll {
        assert!(h.sim.webhooks_idle(Duration::from_secs(10)).await);
        let hooks = &h.sim.state()["webhooks"];
        assert_eq!(hooks["failed"], 0, "{hooks}");
    }
    h.stop().await.expect("daemon drains cleanly");
}

both!(orders_arrive_exactly_once_by_webhook);
async fn orders_arrive_exactly_once_by_webhook(b: Backend) {
    orders_arrive_exactly_once(b, Intake::Webhooks).await;
}

both!(orders_arrive_exactly_once_by_poll);
async fn orders_arrive_exactly_once_by_poll(b: Backend) {
    orders_arrive_exactly_once(b, Intake::Poll).await;
}

both!(orders_arrive_exactly_once_by_webhook_and_poll);
async fn orders_arrive_exactly_once_by_webhook_and_poll(b: Backend) {
    orders_arrive_exactly_once(b, Intake::Both).await;
}

both!(the_poll_recovers_what_lost_webhooks_never_said);
async fn the_poll_recovers_what_lost_webhooks_never_said(b: Backend) {
    let mut setup = Setup::new(Intake::Both).on(b);
    setup.sim.webhook_loss = 0.5;
    let h = Harness::start(setup).await;
    let ids = h.sim.create_orders(20);
    for id in &ids[..10] {
        assert!(h.sim.update_order(*id));
    }
    assert!(h.sim.webhooks_idle(Duration::from_secs(10)).await);
    let lost = h.sim.state()["webhooks"]["lost"].as_u64().unwrap();
    assert!(lost > 0, "half the webhooks are lost");
    let orders = h.converge(CATCH_UP).await;
    assert_eq!(orders.len(), 20);
    h.stop().await.unwrap();
}

both!(a_bad_signature_is_refused_and_stores_nothing);
async fn a_bad_signature_is_refused_and_stores_nothing(b: Backend) {
    let h = Harness::start(Setup::new(Intake::Webhooks).on(b)).await;
    let id = h.sim.create_orders(1)[0];
    let before = h.converge(CATCH_UP).await;
    // A forger's version: a later update with another email.
    let mut forged_order = h.sim.rest_order(id).unwrap();
    forged_order.email = Some("thief@example.net".into());
    forged_order.updated_at += chrono::Duration::minutes(5);
    let body = serde_json::to_vec(&forged_order).unwrap();
    let forged = sign("not-the-secret", &body);
    let (status, _) = post_webhook(
        &h.webhook_url(),
        "orders/updated",
        "forged-1",
        &forged,
        body.clone(),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = post_webhook(&h.webhook_url(), "orders/updated", "forged-2", "", body).await;
    assert_eq!(status, 401);

    let store = h.store().await;
    let counts = store.inbox_counts().await.unwrap();
    assert!(
        counts.iter().all(|(_, state, _)| state != "rejected"),
        "a 401 is not stored: {counts:?}"
    );
    let stored: i64 = counts.iter().map(|(_, _, n)| n).sum();
    assert_eq!(
        stored, 1,
        "only the simulator's genuine delivery is in the inbox: {counts:?}"
    );
    store.close().await;
    assert_eq!(h.orders().await, before);
    h.stop().await.unwrap();
}

both!(malformed_json_with_a_valid_signature_is_400_and_kept_for_inspection);
async fn malformed_json_with_a_valid_signature_is_400_and_kept_for_inspection(b: Backend) {
    let h = Harness::start(Setup::new(Intake::Webhooks).on(b)).await;
    let secret = h.sim.webhook_secret().to_owned();
    let body = br#"{"id": 5500000000099, "line_items": [ oops"#.to_vec();
    let (status, reply) = post_webhook(
        &h.webhook_url(),
        "orders/create",
        "bad-json-1",
        &sign(&secret, &body),
        body.clone(),
    )
    .await;
    assert_eq!(status, 400, "{reply}");

    // Valid JSON that is not an order is malformed too.
    let not_an_order = br#"{"hello": "world"}"#.to_vec();
    let (status, _) = post_webhook(
        &h.webhook_url(),
        "orders/updated",
        "bad-json-2",
        &sign(&secret, &not_an_order),
        not_an_order,
    )
    .await;
    assert_eq!(status, 400);

    let store = h.store().await;
    let problems = store.inbox_problems(10).await.unwrap();
    assert_eq!(problems.len(), 2, "{problems:?}");
    let kept = problems
        .iter()
        .find(|p| p["body"].as_str().unwrap().contains("oops"))
        .expect("body kept verbatim");
    assert_eq!(kept["body"].as_str().unwrap().as_bytes(), body.as_slice());
    assert_eq!(kept["state"], "rejected");
    assert!(kept["error"].as_str().is_some_and(|e| !e.is_empty()));
    store.close().await;
    assert!(h.orders().await.is_empty());
    h.stop().await.unwrap();
}

both!(a_replayed_webhook_changes_nothing);
async fn a_replayed_webhook_changes_nothing(b: Backend) {
    let h = Harness::start(Setup::new(Intake::Webhooks).on(b)).await;
    let id = h.sim.create_orders(1)[0];
    let orders = h.converge(CATCH_UP).await;
    let order_id: i64 = orders[0].id.parse().unwrap();
    let store = h.store().await;
    let history_before = store.order_history(order_id).await.unwrap().len();

    let secret = h.sim.webhook_secret().to_owned();
    let body = serde_json::to_vec(&h.sim.rest_order(id).unwrap()).unwrap();
    let hmac = sign(&secret, &body);
    let (status, first) = post_webhook(
        &h.webhook_url(),
        "orders/updated",
        "replay-1",
        &hmac,
        body.clone(),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    for _ in 0..3 {
        let (status, reply) = post_webhook(
            &h.webhook_url(),
            "orders/updated",
            "replay-1",
            &hmac,
            body.clone(),
        )
        .await;
        assert_eq!(status, 200);
        assert_eq!(reply["status"], "duplicate");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(h.orders().await, orders, "the order is as before");
    assert_eq!(
        store.order_history(order_id).await.unwrap().len(),
        history_before
    );
    store.close().await;
    h.stop().await.unwrap();
}

both!(an_older_update_arriving_late_does_not_roll_the_order_back);
async fn an_older_update_arriving_late_does_not_roll_the_order_back(b: Backend) {
    let h = Harness::start(Setup::new(Intake::Webhooks).on(b)).await;
    let id = h.sim.create_orders(1)[0];
    h.converge(CATCH_UP).await;
    let old = h.sim.rest_order(id).unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(h.sim.cancel_order(id));
    let newest = h.converge(CATCH_UP).await;
    assert_eq!(newest[0].status, OrderStatus::Cancelled);

    // The open version, delivered late under a fresh webhook id.
    let secret = h.sim.webhook_secret().to_owned();
    let body = serde_json::to_vec(&old).unwrap();
    let (status, _) = post_webhook(
        &h.webhook_url(),
        "orders/updated",
        "late-1",
        &sign(&secret, &body),
        body,
    )
    .await;
    assert_eq!(status, 200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = h.orders().await;
    assert_eq!(after, newest, "still cancelled, still the newest version");
    h.stop().await.unwrap();
}

both!(unknown_connectors_and_oversized_bodies_are_refused);
async fn unknown_connectors_and_oversized_bodies_are_refused(b: Backend) {
    let h = Harness::start(Setup::new(Intake::Webhooks).on(b)).await;
    let secret = h.sim.webhook_secret().to_owned();
    let url = format!("http://{}/webhooks/nosuch", h.addr);
    let (status, _) = post_webhook(
        &url,
        "orders/create",
        "x",
        &sign(&secret, b"{}"),
        b"{}".to_vec(),
    )
    .await;
    assert_eq!(status, 404);
    let huge = vec![b' '; 2 * 1024 * 1024];
    let (status, _) = post_webhook(
        &h.webhook_url(),
        "orders/create",
        "y",
        &sign(&secret, &huge),
        huge,
    )
    .await;
    assert_eq!(status, 413);
    h.stop().await.unwrap();
}

both!(a_throttled_channel_slows_the_poller_without_errors_or_lost_pages);
async fn a_throttled_channel_slows_the_poller_without_errors_or_lost_pages(b: Backend) {
    let mut setup = Setup::new(Intake::Poll).on(b);
    // A bucket that holds about one small page and refills slowly.
    setup.sim = SimConfig {
        bucket_size: 400.0,
        restore_rate: 200.0,
        ..setup.sim
    };
    setup.connector_keys = "page_size = 2\nline_items_per_page = 2".into();
    let h = Harness::start(setup).await;
    h.sim.create_orders(24);
    let orders = h.converge(Duration::from_secs(60)).await;
    assert_eq!(orders.len(), 24);

    let state = h.sim.state();
    let store = h.store().await;
    let poll = store
        .poll_state("shop")
        .await
        .unwrap()
        .expect("the poller has run");
    assert!(
        poll.last_error.is_none(),
        "poll error: {:?}",
        poll.last_error
    );
    let limiter = poll.rate_limit.expect("the poller records its limiter");
    store.close().await;
    let throttled = state["counts"]["throttled"].as_u64().unwrap();
    let requests = state["counts"]["requests"].as_u64().unwrap();
    // 12 pages plus line pages: the connector paced itself by the cost
    // extension, so few (ideally no) queries were throttled.
    assert!(requests >= 12, "{state}");
    assert!(
        throttled * 4 <= requests,
        "{throttled} of {requests} queries throttled"
    );
    // ... and it did have to wait for the bucket.
    assert!(
        limiter["pauses"].as_u64().unwrap() + throttled > 0,
        "never slowed down: {limiter}"
    );
    h.stop().await.unwrap();
}

//! The Amazon connector polling its simulator over loopback HTTP: NextToken
//! paging of orders and items, the watermark, Login with Amazon, usage
//! plans (no 429 when pacing itself), declared rate limits, and injected
//! 429s and 5xx waited out.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use chansync_amazon::normalize::to_channel_order;
use chansync_amazon::ops::Operation;
use chansync_amazon::sim::SimConfig;
use chansync_sdk::model::{ChannelStatus, FulfilledBy, PaymentStatus};
use chansync_sdk::{ConnectorError, OrderFetch, OrderSource};
use common::{by_id, connector, count, manual, start, sweep};
use serde_json::json;
use tokio::time::Instant;

#[tokio::test]
async fn a_sweep_pages_through_every_order_exactly_once_with_its_items() {
    let sim = start(SimConfig {
        order_items_per_page: 1,
        ..manual(7)
    })
    .await;
    let ids = sim.create_orders(37);
    let c = connector(&sim, json!({"page_size": 5}));
    let mut cursor = None;
    let seen = by_id(sweep(&c, &mut cursor).await);
    assert_eq!(
        seen.keys().cloned().collect::<BTreeSet<_>>(),
        ids.iter().cloned().collect::<BTreeSet<_>>()
    );
    assert!(
        count(&sim, &["counts", "per_operation", "getOrders", "requests"]) >= 8,
        "37 orders at 5 a page take 8 pages"
    );
    let mut multi = 0;
    for (id, o) in &seen {
        let truth =
            to_channel_order(&sim.order(id).unwrap(), &sim.order_items(id).unwrap()).unwrap();
        assert_eq!(o, &truth, "order {id}: every item, page by page");
        assert!(common::fulfilled_by_matches(&sim, o), "order {id}");
        multi += usize::from(o.lines.len() > 1);
    }
    assert!(multi > 0, "multi-item orders page their items one by one");
    assert!(
        seen.values()
            .any(|o| o.fulfilled_by == FulfilledBy::Channel),
        "some orders are Amazon-fulfilled"
    );
    sim.stop();
}

#[tokio::test]
async fn the_next_sweep_starts_at_the_watermark_and_brings_the_changes() {
    let sim = start(manual(8)).await;
    let first = sim.create_orders(12);
    let c = connector(&sim, json!({"page_size": 4}));
    let mut cursor = None;
    let before = by_id(sweep(&c, &mut cursor).await);
    assert_eq!(before.len(), 12);
    let pending: Vec<&String> = first
        .iter()
        .filter(|id| before[*id].payment_status == PaymentStatus::Pending)
        .collect();
    assert!(pending.len() >= 2, "the seed makes pending orders");
    for id in &pending {
        assert!(
            before[*id].shipping_address.is_none(),
            "a pending order shows no address"
        );
    }
    // Amazon stamps whole seconds: changes in the next second are after the watermark.
    let second = chrono::Utc::now().timestamp();
    while chrono::Utc::now().timestamp() == second {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(sim.update_order(pending[0]), "payment authorized");
    assert!(sim.cancel_order(pending[1]));
    let new = sim.create_orders(3);
    let changed: BTreeSet<String> = [pending[0].clone(), pending[1].clone()]
        .into_iter()
        .chain(new.iter().cloned())
        .collect();
    let after = by_id(sweep(&c, &mut cursor).await);
    for id in &changed {
        assert!(
            after.contains_key(id),
            "order {id} changed after the watermark"
        );
    }
    for (id, o) in &after {
        if !changed.contains(id) {
            // "LastUpdatedAfter" includes its own second: unchanged orders of
            // the watermark's second may come again, as they were.
            assert_eq!(o, &before[id], "order {id}");
        }
    }
    let authorized = &after[pending[0]];
    assert_eq!(authorized.status, ChannelStatus::Open);
    assert_eq!(authorized.payment_status, PaymentStatus::Authorized);
    let address = authorized
        .shipping_address
        .as_ref()
        .expect("an unshipped order shows its address");
    assert!(!address.city.is_empty());
    assert!(authorized.updated_at > before[pending[0]].updated_at);
    assert_eq!(after[pending[1]].status, ChannelStatus::Cancelled);
    // The watermark moved to the changes' second: the next sweep brings
    // exactly those orders and none of the older ones.
    let again = by_id(sweep(&c, &mut cursor).await);
    assert_eq!(again.keys().cloned().collect::<BTreeSet<_>>(), changed);
    sim.stop();
}

#[tokio::test]
async fn an_order_is_fetched_by_id() {
    let sim = start(manual(9)).await;
    let id = sim.create_orders(1).remove(0);
    let c = connector(&sim, json!({}));
    let o = c.fetch_order(&id).await.unwrap();
    assert_eq!(o.external_id, id);
    assert_eq!(o.lines.len(), sim.order_items(&id).unwrap().len());
    let missing = c.fetch_order("999-0000000-0000000").await.unwrap_err();
    assert!(matches!(missing, ConnectorError::Permanent(_)), "{missing}");
    sim.stop();
}

#[tokio::test]
async fn access_tokens_are_renewed_before_they_expire() {
    let sim = start(SimConfig {
        token_ttl: Duration::from_secs(1),
        ..manual(10)
    })
    .await;
    sim.create_orders(2);
    let c = connector(&sim, json!({}));
    let mut cursor = None;
    sweep(&c, &mut cursor).await;
    assert_eq!(c.token_grants(), 1);
    // Past 90 % of the token's life the connector asks for a new one first.
    tokio::time::sleep(Duration::from_millis(950)).await;
    sweep(&c, &mut cursor).await;
    assert_eq!(c.token_grants(), 2);
    assert_eq!(
        count(&sim, &["counts", "refused_tokens"]),
        0,
        "no call went out with a stale token"
    );
    assert_eq!(count(&sim, &["counts", "lwa_grants"]), 2);
    sim.stop();
}

#[tokio::test]
async fn a_refused_token_is_replaced_once() {
    let sim = start(manual(12)).await;
    sim.create_orders(1);
    let c = connector(&sim, json!({}));
    let mut cursor = None;
    sweep(&c, &mut cursor).await;
    sim.expire_tokens();
    sweep(&c, &mut cursor).await;
    assert_eq!(count(&sim, &["counts", "refused_tokens"]), 1);
    assert_eq!(c.token_grants(), 2);
    sim.stop();
}

#[tokio::test]
async fn wrong_credentials_are_an_auth_error() {
    let sim = start(manual(13)).await;
    let mut ctx = common::context(&sim, json!({}));
    ctx.secrets
        .insert("client_secret".into(), "not-the-secret".to_owned().into());
    let c = chansync_amazon::Amazon::new(ctx).unwrap();
    let err = c.fetch_orders(None).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Auth(_)), "{err}");
    assert!(
        !err.to_string().contains("not-the-secret"),
        "secrets never show"
    );
    assert_eq!(count(&sim, &["counts", "lwa_refusals"]), 1, "not retried");
    assert_eq!(count(&sim, &["counts", "requests"]), 0);
    sim.stop();
}

/// The simulator enforces Amazon's usage plans, scaled up so the test is
/// quick; the connector, told the same plans, paces itself and gets no 429,
/// while one told a looser plan does get throttled.
#[tokio::test]
async fn under_enforced_usage_plans_the_connector_paces_itself() {
    let throttled = || SimConfig {
        throttle: true,
        rate_scale: 1200.0,
        order_items_per_page: 1,
        ..manual(14)
    };
    let sim = start(throttled()).await;
    sim.create_orders(30);
    let c = connector(&sim, json!({"page_size": 1}));
    let mut cursor = None;
    let seen = by_id(sweep(&c, &mut cursor).await);
    assert_eq!(seen.len(), 30);
    assert!(
        count(&sim, &["counts", "per_operation", "getOrders", "requests"]) > 20,
        "beyond the burst"
    );
    assert_eq!(
        count(&sim, &["counts", "http_429"]),
        0,
        "{}",
        sim.state()["counts"]
    );
    let state = chansync_sdk::Connector::rate_limit_state(&c).unwrap();
    assert!(state.waits > 0, "it waited for its limiter: {state:?}");
    assert_eq!(state.throttled, 0);
    sim.stop();

    // The control: a connector that believes in a looser plan is throttled.
    let sim = start(throttled()).await;
    sim.create_orders(30);
    let mut plans = sim.rate_limits();
    plans["getOrders"] = json!({"per_second": 1000.0, "burst": 100});
    let loose = connector(&sim, json!({"page_size": 1, "rate_limits": plans}));
    let mut cursor = None;
    assert_eq!(
        by_id(sweep(&loose, &mut cursor).await).len(),
        30,
        "it still gets there"
    );
    assert!(count(&sim, &["counts", "per_operation", "getOrders", "http_429"]) > 0);
    sim.stop();
}

#[tokio::test]
async fn a_declared_rate_limit_below_the_configured_one_is_applied() {
    let sim = start(SimConfig {
        rate_scale: 10.0,
        ..manual(15)
    })
    .await;
    sim.create_orders(1);
    let mut plans = sim.rate_limits();
    plans["getOrderItems"] = json!({"per_second": 100.0, "burst": 30});
    let c = connector(&sim, json!({"rate_limits": plans}));
    assert_eq!(c.limit(Operation::GetOrderItems).per_second, 100.0);
    let mut cursor = None;
    sweep(&c, &mut cursor).await;
    // The simulator declares 0.5 × 10 in x-amzn-RateLimit-Limit.
    assert_eq!(c.limit(Operation::GetOrderItems).per_second, 5.0);
    assert_eq!(
        c.limit(Operation::GetOrderItems).burst,
        29,
        "one token kept in reserve"
    );
    sim.stop();
}

#[tokio::test]
async fn injected_429s_and_5xx_are_waited_out() {
    let sim = start(manual(16)).await;
    sim.create_orders(3);
    let c = connector(&sim, json!({}));
    sim.inject_faults(429, 1, Some(1));
    let started = Instant::now();
    let mut cursor = None;
    assert_eq!(by_id(sweep(&c, &mut cursor).await).len(), 3);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured: {:?}",
        started.elapsed()
    );
    assert_eq!(count(&sim, &["counts", "http_429"]), 1);
    sim.inject_faults(503, 2, None);
    let mut cursor = None;
    assert_eq!(by_id(sweep(&c, &mut cursor).await).len(), 3);
    sim.inject_faults(500, 2, None);
    let mut cursor = None;
    assert_eq!(by_id(sweep(&c, &mut cursor).await).len(), 3);
    let state = chansync_sdk::Connector::rate_limit_state(&c).unwrap();
    assert_eq!(state.throttled, 1);
    sim.stop();
}

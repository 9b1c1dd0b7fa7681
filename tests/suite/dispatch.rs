//! The outbox dispatcher's contract with any connector: batching, retries
//! with backoff, dead letters and replay, exactly-once effects from
//! at-least-once sends. A scripted channel stands in for the network here;
//! the Shopify simulator tests cover the same path over HTTP.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chansync::config::{OutboxConfig, RoutingConfig, SkuMapping, StockPolicy};
use chansync::daemon::Instance;
use chansync::inventory::{Channel, Policy, Site};
use chansync::store::{Actor, OutboxFilter, Store};
use chansync_testpg::both;

use crate::common::{open_store, Backend};
use chansync_sdk::{
    async_trait, Connector, ConnectorError, FulfillmentPush, FulfillmentRequest, StockLevel,
    StockPush, StockRejection,
};

#[derive(Default)]
struct Script {
    /// Errors returned by the next calls, in order.
    failures: VecDeque<ConnectorError>,
    /// SKUs the channel does not know.
    unknown: Vec<String>,
    /// What the channel applied: SKU → level, and each call's batch size.
    levels: BTreeMap<String, i64>,
    batches: Vec<usize>,
    fulfilments: Vec<String>,
    /// Orders an ERP received, by reference.
    sink: BTreeMap<String, chansync_sdk::SinkOrder>,
    /// References the ERP was told to cancel, in order.
    sink_cancels: Vec<String>,
}

#[derive(Clone, Default)]
struct Scripted(Arc<Mutex<Script>>);

impl Connector for Scripted {
    fn kind(&self) -> &'static str {
        "scripted"
    }
    fn stock_push(&self) -> Option<&dyn StockPush> {
        Some(self)
    }
    fn fulfillment_push(&self) -> Option<&dyn FulfillmentPush> {
        Some(self)
    }
    fn order_sink(&self) -> Option<&dyn chansync_sdk::OrderSink> {
        Some(self)
    }
}

#[async_trait]
impl chansync_sdk::OrderSink for Scripted {
    async fn create_order(&self, req: &chansync_sdk::SinkOrder) -> Result<String, ConnectorError> {
        let mut s = self.0.lock().unwrap();
        if let Some(e) = s.failures.pop_front() {
            return Err(e);
        }
        s.sink
            .entry(req.reference.clone())
            .or_insert_with(|| req.clone());
        Ok(format!("SO-{}", req.reference))
    }

    async fn cancel_order(&self, req: &chansync_sdk::SinkCancel) -> Result<(), ConnectorError> {
        let mut s = self.0.lock().unwrap();
        if let Some(e) = s.failures.pop_front() {
            return Err(e);
        }
        s.sink_cancels.push(req.reference.clone());
        Ok(())
    }
}

#[async_trait]
impl StockPush for Scripted {
    fn batch_size(&self) -> usize {
        3
    }
    async fn push_stock(
        &self,
        levels: &[StockLevel],
    ) -> Result<Vec<StockRejection>, ConnectorError> {
        let mut s = self.0.lock().unwrap();
        if let Some(e) = s.failures.pop_front() {
            return Err(e);
        }
        s.batches.push(levels.len());
        let mut rejected = Vec::new();
        for l in levels {
            if s.unknown.contains(&l.channel_sku) {
                rejected.push(StockRejection {
                    channel_sku: l.channel_sku.clone(),
                    error: ConnectorError::Permanent(format!("unknown SKU {}", l.channel_sku)),
                });
            } else {
                s.levels.insert(l.channel_sku.clone(), l.quantity);
            }
        }
        Ok(rejected)
    }
}

#[async_trait]
impl FulfillmentPush for Scripted {
    async fn push_fulfillment(&self, req: &FulfillmentRequest) -> Result<(), ConnectorError> {
        let mut s = self.0.lock().unwrap();
        if let Some(e) = s.failures.pop_front() {
            return Err(e);
        }
        // The channel deduplicates on the key, as the SDK asks of connectors.
        if !s.fulfilments.contains(&req.idempotency_key) {
            s.fulfilments.push(req.idempotency_key.clone());
        }
        Ok(())
    }
}

fn policy() -> Policy {
    Policy {
        sites: vec![Site {
            name: "leeds".into(),
            priority: 1,
            ships_to: vec![],
            source: None,
        }],
        routing: RoutingConfig::default(),
        channels: BTreeMap::from([(
            "shop".to_string(),
            Channel {
                stock: StockPolicy::default(),
                pushes_stock: true,
                pushes_fulfillment: true,
                cancels: false,
                sinks_orders: false,
            },
        )]),
        outbox: OutboxConfig {
            max_attempts: 3,
            first_retry: Duration::from_millis(1),
            max_retry: Duration::from_millis(5),
        },
    }
}

async fn setup(b: Backend, skus: &[&str]) -> (Store, Instance, Scripted, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = open_store(b, dir.path(), policy()).await;
    let rows: Vec<SkuMapping> = skus
        .iter()
        .map(|s| SkuMapping {
            connector: "shop".into(),
            channel_sku: s.to_string(),
            master_sku: s.to_string(),
            quantity: 1,
        })
        .collect();
    store.import_skus(&rows).await.unwrap();
    let channel = Scripted::default();
    let inst = Instance {
        name: "shop".into(),
        kind: "scripted",
        connector: Box::new(channel.clone()),
        poll: None,
    };
    (store, inst, channel, dir)
}

/// Drains until nothing is due, waiting out backoff delays.
async fn drain(store: &Store, inst: &Instance) {
    for _ in 0..200 {
        chansync::push::drain_once(store, inst, None, None, None)
            .await
            .unwrap();
        let pending = store
            .outbox_list(&OutboxFilter {
                state: Some("pending".into()),
                connector: Some(inst.name.clone()),
                ..Default::default()
            })
            .await
            .unwrap();
        if pending.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("the outbox never drained");
}

async fn set(store: &Store, sku: &str, n: i64) {
    store
        .set_on_hand(sku, "leeds", n, None, &Actor::new("test"))
        .await
        .unwrap();
}

both!(stock_goes_out_in_batches_with_the_newest_level);
async fn stock_goes_out_in_batches_with_the_newest_level(b: Backend) {
    let skus = ["A", "B", "C", "D", "E"];
    let (store, inst, channel, _d) = setup(b, &skus).await;
    for round in 0..20 {
        for s in skus {
            set(&store, s, round).await;
        }
    }
    drain(&store, &inst).await;
    let s = channel.0.lock().unwrap();
    assert_eq!(s.levels, skus.iter().map(|k| (k.to_string(), 19)).collect());
    assert_eq!(
        s.batches,
        [3, 2],
        "five SKUs, batches of at most three, one push each"
    );
}

both!(transient_failures_are_retried_and_nothing_is_lost);
async fn transient_failures_are_retried_and_nothing_is_lost(b: Backend) {
    let (store, inst, channel, _d) = setup(b, &["A"]).await;
    channel.0.lock().unwrap().failures.extend([
        ConnectorError::RateLimited {
            retry_after: Some(Duration::from_millis(20)),
        },
        ConnectorError::Transient("503 Service Unavailable".into()),
    ]);
    set(&store, "A", 4).await;
    drain(&store, &inst).await;
    assert_eq!(channel.0.lock().unwrap().levels["A"], 4);
    let rows = store.outbox_list(&OutboxFilter::default()).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!((rows[0].state.as_str(), rows[0].attempts), ("done", 3));
}

both!(a_permanent_rejection_dead_letters_and_replay_sends_it_once_fixed);
async fn a_permanent_rejection_dead_letters_and_replay_sends_it_once_fixed(b: Backend) {
    let (store, inst, channel, _d) = setup(b, &["A", "B"]).await;
    channel.0.lock().unwrap().unknown.push("B".into());
    set(&store, "A", 2).await;
    set(&store, "B", 3).await;
    drain(&store, &inst).await;
    let dead = store
        .outbox_list(&OutboxFilter {
            state: Some("dead".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].key, "B");
    assert!(dead[0]
        .last_error
        .as_deref()
        .unwrap()
        .contains("unknown SKU"));
    assert_eq!(
        channel.0.lock().unwrap().levels.get("A"),
        Some(&2),
        "the rest of the batch went through"
    );

    channel.0.lock().unwrap().unknown.clear();
    assert_eq!(store.outbox_replay(None).await.unwrap(), [dead[0].id]);
    drain(&store, &inst).await;
    assert_eq!(channel.0.lock().unwrap().levels.get("B"), Some(&3));
    assert_eq!(
        store.outbox_row(dead[0].id).await.unwrap().unwrap().state,
        "done"
    );
}

both!(retries_run_out_into_the_dead_letters);
async fn retries_run_out_into_the_dead_letters(b: Backend) {
    let (store, inst, channel, _d) = setup(b, &["A"]).await;
    channel
        .0
        .lock()
        .unwrap()
        .failures
        .extend((0..5).map(|_| ConnectorError::Transient("timeout".into())));
    set(&store, "A", 1).await;
    drain(&store, &inst).await;
    let rows = store.outbox_list(&OutboxFilter::default()).await.unwrap();
    assert_eq!(
        (rows[0].state.as_str(), rows[0].attempts),
        ("dead", 3),
        "max_attempts is 3"
    );
    assert!(channel.0.lock().unwrap().levels.is_empty());
}

both!(a_crash_mid_send_resends_on_restart_and_the_channel_sees_one_fulfilment);
async fn a_crash_mid_send_resends_on_restart_and_the_channel_sees_one_fulfilment(b: Backend) {
    let (store, inst, channel, _d) = setup(b, &["A"]).await;
    set(&store, "A", 5).await;
    drain(&store, &inst).await;
    let order = chansync_sdk::model::ChannelOrder {
        external_id: "9".into(),
        external_number: None,
        status: chansync_sdk::model::ChannelStatus::Open,
        payment_status: chansync_sdk::model::PaymentStatus::Paid,
        fulfilled_by: chansync_sdk::model::FulfilledBy::Merchant,
        currency: "EUR".parse().unwrap(),
        subtotal: "1.00".parse().unwrap(),
        shipping_total: "0".parse().unwrap(),
        tax_total: "0".parse().unwrap(),
        discount_total: "0".parse().unwrap(),
        total: "1.00".parse().unwrap(),
        placed_at: "2026-11-01T10:00:00Z".parse().unwrap(),
        updated_at: "2026-11-01T10:00:00Z".parse().unwrap(),
        customer: Default::default(),
        shipping_address: None,
        lines: vec![chansync_sdk::model::ChannelLine {
            external_id: "l1".into(),
            channel_sku: Some("A".into()),
            title: "A".into(),
            quantity: 1,
            unit_price: "1.00".parse().unwrap(),
            total: "1.00".parse().unwrap(),
            tax: "0".parse().unwrap(),
            discount: "0".parse().unwrap(),
        }],
        fulfillments: vec![],
    };
    let inc = chansync::store::Incoming {
        order: &order,
        raw: None,
        source: chansync::store::Source::Poll,
    };
    let id = store
        .apply_orders("shop", "scripted", &[inc])
        .await
        .unwrap()[0]
        .id();
    store
        .fulfil(id, "leeds", Some("DPD"), "TRK-9", &BTreeMap::new())
        .await
        .unwrap();

    // A dispatcher claims the row and dies before recording the outcome.
    let claimed = store.outbox_claim("shop", "fulfillment", 10).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let req: FulfillmentRequest = serde_json::from_value(claimed[0].payload.clone()).unwrap();
    channel.push_fulfillment(&req).await.unwrap();
    // The next start puts it back and sends it again, with the same key.
    assert_eq!(store.outbox_recover("shop").await.unwrap(), 1);
    drain(&store, &inst).await;
    assert_eq!(
        channel.0.lock().unwrap().fulfilments,
        std::slice::from_ref(&req.idempotency_key)
    );
    assert_eq!(
        store
            .outbox_row(claimed[0].id)
            .await
            .unwrap()
            .unwrap()
            .state,
        "done"
    );
}

both!(orders_routed_to_an_erp_warehouse_reach_it_and_its_deliveries_come_back);
/// An order routed to a warehouse an ERP runs goes to the ERP once; the
/// ERP's delivery becomes a shipment pushed to the order's own channel.
async fn orders_routed_to_an_erp_warehouse_reach_it_and_its_deliveries_come_back(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut p = policy();
    p.sites[0].source = Some(chansync::config::StockSourceRef {
        connector: "erp".into(),
        location: Some("WH".into()),
    });
    p.channels.insert(
        "erp".into(),
        Channel {
            stock: StockPolicy::default(),
            pushes_stock: false,
            pushes_fulfillment: false,
            cancels: false,
            sinks_orders: true,
        },
    );
    let store = open_store(b, dir.path(), p).await;
    let erp = Scripted::default();
    let erp_inst = Instance {
        name: "erp".into(),
        kind: "scripted",
        connector: Box::new(erp.clone()),
        poll: None,
    };
    let shop = Scripted::default();
    let shop_inst = Instance {
        name: "shop".into(),
        kind: "scripted",
        connector: Box::new(shop.clone()),
        poll: None,
    };

    let counts = [chansync_sdk::OnHand {
        channel_sku: "A".into(),
        channel_location: Some("WH".into()),
        on_hand: 4,
    }];
    store.apply_on_hand("erp", &counts).await.unwrap();
    let order = test_order("77", "A", 3);
    let inc = chansync::store::Incoming {
        order: &order,
        raw: None,
        source: chansync::store::Source::Webhook,
    };
    let id = store
        .apply_orders("shop", "scripted", &[inc])
        .await
        .unwrap()[0]
        .id();
    // A transient failure first: the ERP still gets the order exactly once.
    erp.0
        .lock()
        .unwrap()
        .failures
        .push_back(ConnectorError::Transient("502".into()));
    drain(&store, &erp_inst).await;
    let reference = chansync::store::order_reference(id);
    {
        let s = erp.0.lock().unwrap();
        assert_eq!(s.sink.len(), 1);
        let sent = &s.sink[&reference];
        assert_eq!(sent.channel_location.as_deref(), Some("WH"));
        assert_eq!(sent.order.lines[0].sku.as_deref(), Some("A"));
        assert_eq!(sent.order.allocations.len(), 1);
        assert_eq!(sent.order.allocations[0].quantity, 3);
    }

    let shipment = chansync_sdk::Shipment {
        reference: reference.clone(),
        shipment_id: "PICK-1".into(),
        fulfillment: chansync_sdk::model::Fulfillment {
            location: Some("WH".into()),
            carrier: Some("DHL".into()),
            tracking: Some("DHL-123".into()),
            lines: vec![chansync_sdk::model::FulfillmentLine {
                external_id: "l1".into(),
                quantity: 3,
            }],
        },
    };
    assert_eq!(
        store
            .apply_shipments("erp", std::slice::from_ref(&shipment), "c1")
            .await
            .unwrap(),
        [id]
    );
    assert!(
        store
            .apply_shipments("erp", &[shipment], "c2")
            .await
            .unwrap()
            .is_empty(),
        "read twice, recorded once"
    );
    assert_eq!(
        store
            .sync_cursor("erp", "shipments")
            .await
            .unwrap()
            .as_deref(),
        Some("c2")
    );
    let o = store.get_order(id).await.unwrap().unwrap();
    assert_eq!(o.status, chansync_sdk::model::OrderStatus::Fulfilled);
    drain(&store, &shop_inst).await;
    assert_eq!(
        shop.0.lock().unwrap().fulfilments.len(),
        1,
        "the origin channel hears of the shipment once"
    );
    let v = store.stock_view(Some("A")).await.unwrap();
    assert_eq!((v[0].on_hand, v[0].reserved), (1, 0));
}

both!(an_order_cancelled_after_it_reached_the_erp_is_cancelled_there_once);
async fn an_order_cancelled_after_it_reached_the_erp_is_cancelled_there_once(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let mut p = policy();
    p.sites[0].source = Some(chansync::config::StockSourceRef {
        connector: "erp".into(),
        location: Some("WH".into()),
    });
    p.channels.insert(
        "erp".into(),
        Channel {
            stock: StockPolicy::default(),
            pushes_stock: false,
            pushes_fulfillment: false,
            cancels: false,
            sinks_orders: true,
        },
    );
    let store = open_store(b, dir.path(), p).await;
    let erp = Scripted::default();
    let erp_inst = Instance {
        name: "erp".into(),
        kind: "scripted",
        connector: Box::new(erp.clone()),
        poll: None,
    };
    let counts = [chansync_sdk::OnHand {
        channel_sku: "A".into(),
        channel_location: Some("WH".into()),
        on_hand: 10,
    }];
    store.apply_on_hand("erp", &counts).await.unwrap();
    let apply = |o: chansync_sdk::model::ChannelOrder| {
        let store = &store;
        async move {
            let inc = chansync::store::Incoming {
                order: &o,
                raw: None,
                source: chansync::store::Source::Webhook,
            };
            store
                .apply_orders("shop", "scripted", &[inc])
                .await
                .unwrap()[0]
                .id()
        }
    };
    let cancelled = |mut o: chansync_sdk::model::ChannelOrder| {
        o.status = chansync_sdk::model::ChannelStatus::Cancelled;
        o.updated_at = "2026-11-01T11:00:00Z".parse().unwrap();
        o
    };

    // Sent, then cancelled by the channel: the ERP is told, once.
    let sent = test_order("81", "A", 2);
    let sent_id = apply(sent.clone()).await;
    drain(&store, &erp_inst).await;
    apply(cancelled(sent.clone())).await;
    let mut again = cancelled(sent);
    again.updated_at = "2026-11-01T12:00:00Z".parse().unwrap();
    apply(again).await;
    // Cancelled before the dispatcher got to it: it is never sent at all.
    let unsent = test_order("82", "A", 1);
    let unsent_id = apply(unsent.clone()).await;
    apply(cancelled(unsent)).await;
    drain(&store, &erp_inst).await;

    {
        let s = erp.0.lock().unwrap();
        assert_eq!(
            s.sink.keys().collect::<Vec<_>>(),
            [&chansync::store::order_reference(sent_id)],
            "only the order that was live reached the ERP"
        );
        assert_eq!(
            s.sink_cancels,
            [chansync::store::order_reference(sent_id)],
            "one cancellation, for the order the ERP holds"
        );
        assert!(!s
            .sink
            .contains_key(&chansync::store::order_reference(unsent_id)));
    }
    let v = store.stock_view(Some("A")).await.unwrap();
    assert_eq!((v[0].on_hand, v[0].reserved), (10, 0), "both released");
}

fn test_order(id: &str, sku: &str, qty: u32) -> chansync_sdk::model::ChannelOrder {
    chansync_sdk::model::ChannelOrder {
        external_id: id.into(),
        external_number: None,
        status: chansync_sdk::model::ChannelStatus::Open,
        payment_status: chansync_sdk::model::PaymentStatus::Paid,
        fulfilled_by: chansync_sdk::model::FulfilledBy::Merchant,
        currency: "EUR".parse().unwrap(),
        subtotal: "3.00".parse().unwrap(),
        shipping_total: "0".parse().unwrap(),
        tax_total: "0".parse().unwrap(),
        discount_total: "0".parse().unwrap(),
        total: "3.00".parse().unwrap(),
        placed_at: "2026-11-01T10:00:00Z".parse().unwrap(),
        updated_at: "2026-11-01T10:00:00Z".parse().unwrap(),
        customer: Default::default(),
        shipping_address: None,
        lines: vec![chansync_sdk::model::ChannelLine {
            external_id: "l1".into(),
            channel_sku: Some(sku.into()),
            title: sku.into(),
            quantity: qty,
            unit_price: "1.00".parse().unwrap(),
            total: "3.00".parse().unwrap(),
            tax: "0".parse().unwrap(),
            discount: "0".parse().unwrap(),
        }],
        fulfillments: vec![],
    }
}

//! Routing, reservations, bundles, the outbox's coalescing, and the
//! no-oversell invariant under concurrent orders from several channels,
//! through the store's public API, on SQLite and on PostgreSQL.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chansync::config::{RoutingConfig, SkuMapping, StockPolicy};
use chansync_testpg::both;

use crate::common::{open_store, Backend};
use chansync::inventory::{Channel, Policy, Site};
use chansync::store::{Actor, Incoming, OutboxFilter, Source, Store};
use chansync_sdk::model::*;

fn site(name: &str, priority: i64, ships_to: &[&str]) -> Site {
    Site {
        name: name.into(),
        priority,
        ships_to: ships_to.iter().map(|s| s.to_string()).collect(),
        source: None,
    }
}

fn channel(share: &str, buffer: i64) -> Channel {
    Channel {
        stock: StockPolicy {
            share: share.parse().unwrap(),
            buffer,
            ..StockPolicy::default()
        },
        pushes_stock: true,
        pushes_fulfillment: true,
        cancels: true,
        sinks_orders: false,
    }
}

fn policy(allow_split: bool) -> Policy {
    Policy {
        sites: vec![
            site("berlin", 1, &["DE", "AT"]),
            site("leeds", 2, &[]),
            site("lyon", 3, &[]),
        ],
        routing: RoutingConfig {
            allow_split,
            rules: vec![],
        },
        channels: BTreeMap::from([
            ("shop-a".to_string(), channel("1", 0)),
            ("shop-b".to_string(), channel("0.5", 1)),
        ]),
        outbox: Default::default(),
    }
}

async fn store(b: Backend, p: Policy) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let s = open_store(b, dir.path(), p).await;
    (s, dir)
}

fn order(id: &str, country: &str, lines: &[(&str, u32)]) -> ChannelOrder {
    ChannelOrder {
        external_id: id.into(),
        external_number: Some(format!("#{id}")),
        status: ChannelStatus::Open,
        payment_status: PaymentStatus::Paid,
        fulfilled_by: FulfilledBy::Merchant,
        currency: "EUR".parse().unwrap(),
        subtotal: "10.00".parse().unwrap(),
        shipping_total: "0.00".parse().unwrap(),
        tax_total: "0.00".parse().unwrap(),
        discount_total: "0.00".parse().unwrap(),
        total: "10.00".parse().unwrap(),
        placed_at: "2026-11-01T10:00:00+01:00".parse().unwrap(),
        updated_at: "2026-11-01T10:00:00+01:00".parse().unwrap(),
        customer: Customer {
            name: Some("Zoë".into()),
            email: None,
        },
        shipping_address: Some(Address {
            name: "Zoë".into(),
            line1: "Hauptstraße 1".into(),
            line2: None,
            city: "Wien".into(),
            region: None,
            postal_code: "1010".into(),
            country_code: country.parse().unwrap(),
        }),
        lines: lines
            .iter()
            .enumerate()
            .map(|(i, (sku, q))| ChannelLine {
                external_id: format!("{id}-l{i}"),
                channel_sku: Some(sku.to_string()),
                title: sku.to_string(),
                quantity: *q,
                unit_price: "1.00".parse().unwrap(),
                total: "1.00".parse().unwrap(),
                tax: "0.00".parse().unwrap(),
                discount: "0.00".parse().unwrap(),
            })
            .collect(),
        fulfillments: vec![],
    }
}

async fn apply(s: &Store, connector: &str, o: &ChannelOrder) -> Order {
    let inc = Incoming {
        order: o,
        raw: None,
        source: Source::Webhook,
    };
    let applied = s.apply_orders(connector, "shopify", &[inc]).await.unwrap();
    s.get_order(applied[0].id()).await.unwrap().unwrap()
}

async fn set(s: &Store, sku: &str, loc: &str, n: i64) {
    s.set_on_hand(sku, loc, n, None, &Actor::new("test"))
        .await
        .unwrap();
}

fn at(o: &Order) -> Vec<(String, String, u32)> {
    o.allocations
        .iter()
        .map(|a| (a.location.clone(), a.sku.clone(), a.quantity))
        .collect()
}

both!(orders_ship_complete_from_the_best_location_that_has_everything);
async fn orders_ship_complete_from_the_best_location_that_has_everything(b: Backend) {
    let (s, _d) = store(b, policy(false)).await;
    set(&s, "MUG", "berlin", 1).await;
    set(&s, "MUG", "leeds", 5).await;
    set(&s, "TEA", "leeds", 5).await;
    // Berlin has the mug but not the tea: Leeds ships both.
    let o = apply(&s, "shop-a", &order("1", "AT", &[("MUG", 1), ("TEA", 2)])).await;
    assert_eq!(o.status, OrderStatus::Allocated);
    assert_eq!(
        at(&o),
        [
            ("leeds".into(), "MUG".into(), 1),
            ("leeds".into(), "TEA".into(), 2)
        ]
    );
    // A mug alone to Austria ships from Berlin, the higher priority.
    let o = apply(&s, "shop-a", &order("2", "AT", &[("MUG", 1)])).await;
    assert_eq!(at(&o), [("berlin".into(), "MUG".into(), 1)]);
    // Berlin does not ship to the US.
    set(&s, "MUG", "berlin", 5).await;
    let o = apply(&s, "shop-a", &order("3", "US", &[("MUG", 1)])).await;
    assert_eq!(at(&o), [("leeds".into(), "MUG".into(), 1)]);
}

both!(without_split_an_order_waits_and_is_routed_when_stock_arrives);
async fn without_split_an_order_waits_and_is_routed_when_stock_arrives(b: Backend) {
    let (s, _d) = store(b, policy(false)).await;
    set(&s, "MUG", "berlin", 1).await;
    set(&s, "TEA", "leeds", 1).await;
    let o = apply(&s, "shop-a", &order("1", "DE", &[("MUG", 1), ("TEA", 1)])).await;
    assert_eq!(o.status, OrderStatus::NeedsAttention);
    assert!(o.allocations.is_empty());
    set(&s, "MUG", "leeds", 1).await;
    let o = s.get_order(o.id.parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(
        o.status,
        OrderStatus::Allocated,
        "routed when stock arrived"
    );
    assert_eq!(
        at(&o),
        [
            ("leeds".into(), "MUG".into(), 1),
            ("leeds".into(), "TEA".into(), 1)
        ]
    );
    let history = s.order_history(o.id.parse().unwrap()).await.unwrap();
    assert!(history.iter().any(|h| h.kind == "needs_attention"));
    assert!(history.iter().any(|h| h.kind == "allocated"));
}

both!(with_split_an_order_ships_from_the_fewest_locations);
async fn with_split_an_order_ships_from_the_fewest_locations(b: Backend) {
    let (s, _d) = store(b, policy(true)).await;
    set(&s, "MUG", "berlin", 1).await;
    set(&s, "TEA", "lyon", 1).await;
    set(&s, "TEA", "leeds", 1).await;
    let o = apply(&s, "shop-a", &order("1", "DE", &[("MUG", 1), ("TEA", 1)])).await;
    assert_eq!(o.status, OrderStatus::Allocated);
    assert_eq!(
        at(&o),
        [
            ("berlin".into(), "MUG".into(), 1),
            ("leeds".into(), "TEA".into(), 1)
        ]
    );
}

both!(bundles_reserve_their_parts_and_publish_the_scarcest);
async fn bundles_reserve_their_parts_and_publish_the_scarcest(b: Backend) {
    let (s, _d) = store(b, policy(false)).await;
    s.import_skus(&[
        SkuMapping {
            connector: "shop-a".into(),
            channel_sku: "GIFT-SET".into(),
            master_sku: "MUG".into(),
            quantity: 2,
        },
        SkuMapping {
            connector: "shop-a".into(),
            channel_sku: "GIFT-SET".into(),
            master_sku: "TEA".into(),
            quantity: 1,
        },
        SkuMapping {
            connector: "shop-a".into(),
            channel_sku: "MUG".into(),
            master_sku: "MUG".into(),
            quantity: 1,
        },
    ])
    .await
    .unwrap();
    set(&s, "MUG", "leeds", 7).await;
    set(&s, "TEA", "leeds", 10).await;
    let view = s.stock_view(Some("MUG")).await.unwrap();
    let published: BTreeMap<_, _> = view[0]
        .channels
        .iter()
        .map(|c| (c.channel_sku.clone(), c.published))
        .collect();
    assert_eq!(published["GIFT-SET"], 3, "7 mugs make 3 sets");
    assert_eq!(published["MUG"], 7);

    let o = apply(&s, "shop-a", &order("1", "GB", &[("GIFT-SET", 2)])).await;
    assert_eq!(
        o.lines[0].sku.as_deref(),
        Some("GIFT-SET"),
        "a bundle line keeps the channel SKU"
    );
    assert_eq!(
        at(&o),
        [
            ("leeds".into(), "MUG".into(), 4),
            ("leeds".into(), "TEA".into(), 2)
        ]
    );
    let view = s.stock_view(Some("MUG")).await.unwrap();
    assert_eq!(view[0].available, 3);
    let published: BTreeMap<_, _> = view[0]
        .channels
        .iter()
        .map(|c| (c.channel_sku.clone(), c.published))
        .collect();
    assert_eq!(published["GIFT-SET"], 1);
}

both!(cancellation_releases_and_channel_fulfilment_consumes);
async fn cancellation_releases_and_channel_fulfilment_consumes(b: Backend) {
    let (s, _d) = store(b, policy(false)).await;
    set(&s, "MUG", "leeds", 5).await;
    let mut a = order("1", "GB", &[("MUG", 2)]);
    let mut b = order("2", "GB", &[("MUG", 1)]);
    apply(&s, "shop-a", &a).await;
    apply(&s, "shop-a", &b).await;
    let level = |v: &[chansync::store::StockView]| (v[0].on_hand, v[0].reserved, v[0].available);
    assert_eq!(level(&s.stock_view(Some("MUG")).await.unwrap()), (5, 3, 2));
    a.status = ChannelStatus::Cancelled;
    a.updated_at = "2026-11-01T11:00:00+01:00".parse().unwrap();
    assert_eq!(apply(&s, "shop-a", &a).await.status, OrderStatus::Cancelled);
    assert_eq!(level(&s.stock_view(Some("MUG")).await.unwrap()), (5, 1, 4));
    b.status = ChannelStatus::Fulfilled;
    b.updated_at = "2026-11-01T11:00:00+01:00".parse().unwrap();
    assert_eq!(apply(&s, "shop-a", &b).await.status, OrderStatus::Fulfilled);
    assert_eq!(level(&s.stock_view(Some("MUG")).await.unwrap()), (4, 0, 4));
    let history = s.stock_history("MUG", 50).await.unwrap();
    let kinds: Vec<&str> = history
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["consume", "release", "reserve", "reserve", "set_on_hand"]
    );
    assert_eq!(history[0]["actor"], "order:2");
}

both!(marketplace_fulfilled_orders_are_recorded_not_reserved);
async fn marketplace_fulfilled_orders_are_recorded_not_reserved(b: Backend) {
    let (s, _d) = store(b, policy(false)).await;
    set(&s, "MUG", "leeds", 5).await;
    let mut o = order("1", "GB", &[("MUG", 2)]);
    o.fulfilled_by = FulfilledBy::Channel;
    let stored = apply(&s, "shop-a", &o).await;
    assert_eq!(stored.status, OrderStatus::Open);
    assert!(stored.allocations.is_empty());
    assert_eq!(s.stock_view(Some("MUG")).await.unwrap()[0].reserved, 0);
}

both!(fulfil_and_cancel_from_chansync_queue_pushes_once);
async fn fulfil_and_cancel_from_chansync_queue_pushes_once(b: Backend) {
    let (s, _d) = store(b, policy(false)).await;
    set(&s, "MUG", "leeds", 5).await;
    let a = apply(&s, "shop-a", &order("1", "GB", &[("MUG", 2)])).await;
    let b = apply(&s, "shop-a", &order("2", "GB", &[("MUG", 1)])).await;
    let a_id: i64 = a.id.parse().unwrap();
    s.fulfil(a_id, "leeds", Some("DHL"), "TRACK-1", &BTreeMap::new())
        .await
        .unwrap();
    assert!(
        s.fulfil(a_id, "leeds", None, "TRACK-1", &BTreeMap::new())
            .await
            .is_err(),
        "shipped already"
    );
    let a = s.get_order(a_id).await.unwrap().unwrap();
    assert_eq!(a.status, OrderStatus::Fulfilled);
    assert_eq!(a.fulfillments[0].tracking.as_deref(), Some("TRACK-1"));
    s.cancel(b.id.parse().unwrap(), Some("customer asked"))
        .await
        .unwrap();
    assert!(
        s.cancel(b.id.parse().unwrap(), None).await.is_err(),
        "cancelled already"
    );
    let v = s.stock_view(Some("MUG")).await.unwrap();
    assert_eq!((v[0].on_hand, v[0].reserved), (3, 0));

    let rows = s.outbox_list(&OutboxFilter::default()).await.unwrap();
    let kinds: Vec<&str> = rows.iter().map(|r| r.kind.as_str()).collect();
    assert_eq!(kinds.iter().filter(|k| **k == "fulfillment").count(), 1);
    assert_eq!(kinds.iter().filter(|k| **k == "cancel").count(), 1);
    let ful = rows.iter().find(|r| r.kind == "fulfillment").unwrap();
    assert_eq!(ful.payload["external_order_id"], "1");
    assert_eq!(ful.payload["fulfillment"]["tracking"], "TRACK-1");
}

both!(a_thousand_changes_to_one_sku_leave_one_pending_push_per_channel);
async fn a_thousand_changes_to_one_sku_leave_one_pending_push_per_channel(b: Backend) {
    let (s, _d) = store(b, policy(false)).await;
    s.import_skus(&[
        SkuMapping {
            connector: "shop-a".into(),
            channel_sku: "MUG".into(),
            master_sku: "MUG".into(),
            quantity: 1,
        },
        SkuMapping {
            connector: "shop-b".into(),
            channel_sku: "MUG-B".into(),
            master_sku: "MUG".into(),
            quantity: 1,
        },
    ])
    .await
    .unwrap();
    for n in 0..1000 {
        set(&s, "MUG", "leeds", n % 50 + 1).await;
    }
    let pending = s
        .outbox_list(&OutboxFilter {
            state: Some("pending".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let mut keys: Vec<(String, String)> = pending
        .iter()
        .map(|r| (r.connector.clone(), r.key.clone()))
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            ("shop-a".into(), "MUG".into()),
            ("shop-b".into(), "MUG-B".into())
        ]
    );
    // The level is computed when sent: the newest, through each channel's policy.
    let a = s
        .outbox_stock_level(
            pending.iter().find(|r| r.connector == "shop-a").unwrap().id,
            "shop-a",
            "MUG",
        )
        .await
        .unwrap();
    let b = s
        .outbox_stock_level(
            pending.iter().find(|r| r.connector == "shop-b").unwrap().id,
            "shop-b",
            "MUG-B",
        )
        .await
        .unwrap();
    assert_eq!(
        (a, b),
        (50, 24),
        "share 1 → 50; share 0.5 and buffer 1 → 24"
    );
}

both!(
    concurrent_orders_never_oversell,
    flavor = "multi_thread",
    worker_threads = 4
);
/// Many orders from two channels race for the last units of two SKUs while a
/// watcher reads the ledger continuously: reserved never exceeds on hand −
/// safety, and exactly the units in stock are handed out.
async fn concurrent_orders_never_oversell(b: Backend) {
    let (s, _d) = store(b, policy(true)).await;
    for (sku, loc, n, safety) in [
        ("MUG", "berlin", 7, 1),
        ("MUG", "leeds", 5, 0),
        ("TEA", "lyon", 9, 2),
    ] {
        s.set_on_hand(sku, loc, n, Some(safety), &Actor::new("test"))
            .await
            .unwrap();
    }
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (s, stop) = (s.clone(), stop.clone());
        tokio::spawn(async move {
            let mut checks = 0u32;
            while !stop.load(Ordering::Relaxed) {
                for (sku, loc, l) in s.stock_levels().await.unwrap() {
                    assert!(
                        l.reserved >= 0 && l.reserved <= l.on_hand - l.safety,
                        "{sku} at {loc}: {l:?}"
                    );
                }
                checks += 1;
                tokio::task::yield_now().await;
            }
            checks
        })
    };
    let mut tasks = Vec::new();
    for i in 0..120 {
        let s = s.clone();
        tasks.push(tokio::spawn(async move {
            let connector = if i % 2 == 0 { "shop-a" } else { "shop-b" };
            let lines: Vec<(&str, u32)> = match i % 3 {
                0 => vec![("MUG", 1)],
                1 => vec![("TEA", 1)],
                _ => vec![("MUG", 1), ("TEA", 1)],
            };
            apply(&s, connector, &order(&format!("{i}"), "DE", &lines)).await
        }));
    }
    let mut allocated = BTreeMap::<String, u32>::new();
    for t in tasks {
        let o = t.await.unwrap();
        for a in &o.allocations {
            *allocated.entry(a.sku.clone()).or_default() += a.quantity;
        }
        if o.status == OrderStatus::Allocated {
            let need: u32 = o.lines.iter().map(|l| l.quantity).sum();
            assert_eq!(
                o.allocations.iter().map(|a| a.quantity).sum::<u32>(),
                need,
                "all or nothing"
            );
        } else {
            assert_eq!(o.status, OrderStatus::NeedsAttention);
            assert!(o.allocations.is_empty(), "a waiting order holds nothing");
        }
    }
    stop.store(true, Ordering::Relaxed);
    assert!(watcher.await.unwrap() > 0);
    // Every sellable unit went out, none twice: MUG 6 + 5, TEA 7.
    assert_eq!(allocated["MUG"], 11);
    assert_eq!(allocated["TEA"], 7);
    for (_, _, l) in s.stock_levels().await.unwrap() {
        assert_eq!(l.available(), 0);
    }
}

both!(a_source_of_truth_sets_on_hand_at_its_location_and_releases_waiting_orders);
async fn a_source_of_truth_sets_on_hand_at_its_location_and_releases_waiting_orders(b: Backend) {
    let mut p = policy(false);
    p.sites[1].source = Some(chansync::config::StockSourceRef {
        connector: "pos".into(),
        location: Some("L1".into()),
    });
    let (s, _d) = store(b, p).await;
    let waiting = apply(&s, "shop-a", &order("1", "GB", &[("MUG", 2)])).await;
    assert_eq!(waiting.status, OrderStatus::NeedsAttention);
    let counts = [
        chansync_sdk::OnHand {
            channel_sku: "MUG".into(),
            channel_location: Some("L1".into()),
            on_hand: 6,
        },
        // A location chansync does not take from this connector: skipped.
        chansync_sdk::OnHand {
            channel_sku: "MUG".into(),
            channel_location: Some("L9".into()),
            on_hand: 99,
        },
    ];
    assert_eq!(s.apply_on_hand("pos", &counts).await.unwrap(), 1);
    let v = s.stock_view(Some("MUG")).await.unwrap();
    assert_eq!(v[0].locations.len(), 1);
    assert_eq!(
        (
            v[0].locations[0].location.as_str(),
            v[0].on_hand,
            v[0].reserved
        ),
        ("leeds", 6, 2)
    );
    let o = s
        .get_order(waiting.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(o.status, OrderStatus::Allocated);
    let history = s.stock_history("MUG", 10).await.unwrap();
    assert!(history
        .iter()
        .any(|h| h["actor"] == "connector:pos" && h["kind"] == "set_on_hand"));
}

/// A store whose `leeds` warehouse is run by an ERP connector `erp`.
async fn erp_store(b: Backend) -> (Store, tempfile::TempDir) {
    let mut p = policy(false);
    for s in &mut p.sites {
        if s.name == "leeds" {
            s.source = Some(chansync::config::StockSourceRef {
                connector: "erp".into(),
                location: Some("WH".into()),
            });
        }
    }
    let mut erp = channel("1", 0);
    erp.pushes_stock = false;
    erp.pushes_fulfillment = false;
    erp.cancels = false;
    erp.sinks_orders = true;
    p.channels.insert("erp".into(), erp);
    store(b, p).await
}

async fn sinks(s: &Store) -> Vec<String> {
    s.outbox_list(&OutboxFilter {
        connector: Some("erp".into()),
        ..Default::default()
    })
    .await
    .unwrap()
    .into_iter()
    .filter(|r| r.kind == "sink_order")
    .map(|r| r.key)
    .collect()
}

both!(an_unpaid_order_reserves_but_reaches_the_erp_once_paid_and_only_once);
async fn an_unpaid_order_reserves_but_reaches_the_erp_once_paid_and_only_once(b: Backend) {
    let (s, _d) = erp_store(b).await;
    set(&s, "MUG", "leeds", 5).await;
    let mut o = order("1", "GB", &[("MUG", 2)]);
    o.payment_status = PaymentStatus::Pending;
    let stored = apply(&s, "shop-a", &o).await;
    assert_eq!(stored.status, OrderStatus::Allocated, "stock is held");
    assert!(
        sinks(&s).await.is_empty(),
        "the warehouse is not asked to ship an unpaid order"
    );

    o.payment_status = PaymentStatus::Authorized;
    o.updated_at = "2026-11-01T10:05:00+01:00".parse().unwrap();
    apply(&s, "shop-a", &o).await;
    assert_eq!(sinks(&s).await, [format!("{}@leeds", stored.id)]);

    // Later changes of the order do not send it again.
    o.payment_status = PaymentStatus::Paid;
    o.updated_at = "2026-11-01T10:09:00+01:00".parse().unwrap();
    apply(&s, "shop-a", &o).await;
    assert_eq!(sinks(&s).await.len(), 1);
}

both!(an_erp_shipment_of_bundle_parts_ships_the_bundle_line);
async fn an_erp_shipment_of_bundle_parts_ships_the_bundle_line(b: Backend) {
    let (s, _d) = erp_store(b).await;
    s.import_skus(&[
        SkuMapping {
            connector: "shop-a".into(),
            channel_sku: "GIFT-SET".into(),
            master_sku: "MUG".into(),
            quantity: 2,
        },
        SkuMapping {
            connector: "shop-a".into(),
            channel_sku: "GIFT-SET".into(),
            master_sku: "TEA".into(),
            quantity: 1,
        },
    ])
    .await
    .unwrap();
    set(&s, "MUG", "leeds", 10).await;
    set(&s, "TEA", "leeds", 10).await;
    let stored = apply(&s, "shop-a", &order("1", "GB", &[("GIFT-SET", 2)])).await;
    assert_eq!(stored.status, OrderStatus::Allocated);
    let line = stored.lines[0].external_id.clone();
    let shipment = |id: &str, parts: &[(&str, u32)]| chansync_sdk::Shipment {
        reference: chansync::store::order_reference(stored.id.parse().unwrap()),
        shipment_id: id.into(),
        fulfillment: Fulfillment {
            location: Some("WH".into()),
            carrier: Some("DHL".into()),
            tracking: Some(format!("T-{id}")),
            lines: parts
                .iter()
                .map(|(sku, q)| FulfillmentLine {
                    external_id: format!("{line}/{sku}"),
                    quantity: *q,
                })
                .collect(),
        },
    };
    // The ERP shipped the mugs of one set but no tea: no set is complete.
    let none = s
        .apply_shipments("erp", &[shipment("p1", &[("MUG", 2)])], "c1")
        .await
        .unwrap();
    assert!(none.is_empty(), "an incomplete set ships nothing");
    // Both sets, complete.
    let shipped = s
        .apply_shipments("erp", &[shipment("p2", &[("MUG", 4), ("TEA", 2)])], "c2")
        .await
        .unwrap();
    assert_eq!(shipped.len(), 1);
    let after = s
        .get_order(stored.id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.status, OrderStatus::Fulfilled, "{after:?}");
    assert_eq!(after.fulfillments[0].tracking.as_deref(), Some("T-p2"));
    let view = s.stock_view(Some("MUG")).await.unwrap();
    let leeds = view[0]
        .locations
        .iter()
        .find(|l| l.location == "leeds")
        .unwrap();
    assert_eq!((leeds.on_hand, leeds.reserved), (6, 0), "four mugs left");
}

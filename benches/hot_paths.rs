//! Hot paths, one at a time (`cargo bench`): reading each channel's order
//! payload into the canonical order, storing a batch of orders (upsert,
//! routing, reservation, the stock pushes it queues), the routing decision,
//! and stock changes coalescing in the outbox. The whole daemon under load
//! is `chansync bench` (BENCHMARKS.md).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

use chansync::inventory::route::{plan, Candidate, Need};
use chansync::store::{Actor, Incoming, OpenMode, Source, Store};
use chansync_sdk::model::ChannelOrder;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use serde_json::Value;

const SHOPIFY_ORDERS: &str = include_str!("../connectors/shopify/tests/fixtures/rest-orders.json");
const SQUARE_ORDERS: &str = include_str!("../connectors/square/tests/fixtures/orders.json");
const AMAZON_SANDBOX: &str = include_str!("../connectors/amazon/tests/fixtures/sandbox.json");

fn parse(c: &mut Criterion) {
    let mut g = c.benchmark_group("parse");
    // Shopify: the webhook body (REST JSON) to the canonical order.
    let shopify: Vec<String> = serde_json::from_str::<Vec<Value>>(SHOPIFY_ORDERS)
        .unwrap()
        .iter()
        .map(|o| o.to_string())
        .collect();
    g.throughput(Throughput::Elements(shopify.len() as u64));
    g.bench_function("shopify_rest_order", |b| {
        b.iter(|| {
            for body in &shopify {
                let o: chansync_shopify::rest::RestOrder = serde_json::from_str(body).unwrap();
                black_box(chansync_shopify::normalize::from_rest(&o).unwrap());
            }
        })
    });
    // Square: an order object to the canonical order.
    let square: Vec<String> = serde_json::from_str::<BTreeMap<String, Value>>(SQUARE_ORDERS)
        .unwrap()
        .into_values()
        .filter(|o| o["created_at"].is_string() && o["updated_at"].is_string())
        .map(|o| o.to_string())
        .collect();
    g.throughput(Throughput::Elements(square.len() as u64));
    g.bench_function("square_order", |b| {
        b.iter(|| {
            for body in &square {
                let o: chansync_square::wire::Order = serde_json::from_str(body).unwrap();
                let _ = black_box(chansync_square::normalize::to_channel_order(
                    &o,
                    &|id: &str| id.to_owned(),
                ));
            }
        })
    });
    // Amazon: getOrder and getOrderItems answers to the canonical order.
    let sandbox: Value = serde_json::from_str(AMAZON_SANDBOX).unwrap();
    let ok = |op: &str| {
        sandbox[op]["cases"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["status"] == 200)
            .unwrap()["response"]["payload"]
            .to_string()
    };
    let (order, items) = (ok("getOrder"), ok("getOrderItems"));
    g.throughput(Throughput::Elements(1));
    g.bench_function("amazon_order", |b| {
        b.iter(|| {
            let o: chansync_amazon::wire::Order = serde_json::from_str(&order).unwrap();
            let list: chansync_amazon::wire::OrderItemsList = serde_json::from_str(&items).unwrap();
            let items: Vec<chansync_amazon::wire::OrderItem> = list
                .order_items
                .into_iter()
                .map(|i| serde_json::from_value(i).unwrap())
                .collect();
            black_box(chansync_amazon::normalize::to_channel_order(&o, &items).unwrap())
        })
    });
    g.finish();
}

fn route(c: &mut Criterion) {
    let needs: Vec<Need> = (0..4)
        .map(|i| Need {
            line: format!("l{i}"),
            sku: format!("SKU-{i}"),
            quantity: 2,
        })
        .collect();
    // Eight locations, each short of one SKU: the order must split.
    let candidates: Vec<Candidate> = (0..8)
        .map(|l| Candidate {
            location: format!("loc{l}"),
            available: (0..4)
                .map(|i| (format!("SKU-{i}"), if i == l % 4 { 0 } else { 5 }))
                .collect(),
        })
        .collect();
    let mut g = c.benchmark_group("route");
    g.bench_function("ship_complete_from_first", |b| {
        let full = vec![Candidate {
            location: "wh".into(),
            available: (0..4).map(|i| (format!("SKU-{i}"), 100)).collect(),
        }];
        b.iter(|| black_box(plan(&needs, &full, true)))
    });
    g.bench_function("split_across_8_locations", |b| {
        b.iter(|| black_box(plan(&needs, &candidates, true)))
    });
    g.finish();
}

/// A store with one Shopify connector, a warehouse and the fixture's SKUs
/// in stock.
async fn store(dir: &std::path::Path, skus: &[String]) -> Store {
    let mut config = format!(
        "[store]\nurl = \"sqlite://{}\"\n\n[[connector]]\nname = \"shop\"\nkind = \"shopify\"\n\
         base_url = \"http://127.0.0.1:9\"\naccess_token = \"t\"\nwebhook_secret = \"s\"\n\n\
         [[location]]\nname = \"wh\"\ncountry = \"DE\"\npriority = 1\n",
        dir.join("chansync.db").display()
    );
    for s in skus {
        config.push_str(&format!(
            "\n[[sku]]\nconnector = \"shop\"\nchannel_sku = \"{s}\"\nmaster_sku = \"{s}\"\n"
        ));
    }
    let path = dir.join("chansync.toml");
    std::fs::write(&path, config).unwrap();
    let cfg = chansync::Config::load(&path).unwrap();
    let store = Store::open(&cfg.store, OpenMode::Migrate)
        .await
        .unwrap()
        .with_policy(chansync::inventory::Policy::from_config(&cfg));
    store.sync_sku_config(&cfg.skus).await.unwrap();
    for s in skus {
        store
            .set_on_hand(s, "wh", 1_000_000_000, None, &Actor::new("bench"))
            .await
            .unwrap();
    }
    store
}

fn shopify_orders() -> Vec<ChannelOrder> {
    serde_json::from_str::<Vec<Value>>(SHOPIFY_ORDERS)
        .unwrap()
        .into_iter()
        .filter_map(|o| serde_json::from_value::<chansync_shopify::rest::RestOrder>(o).ok())
        .filter_map(|o| chansync_shopify::normalize::from_rest(&o).ok())
        .collect()
}

fn store_paths(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let templates = shopify_orders();
    let skus: Vec<String> = templates
        .iter()
        .flat_map(|o| o.lines.iter().filter_map(|l| l.channel_sku.clone()))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let store = rt.block_on(store(dir.path(), &skus));
    let mut g = c.benchmark_group("store");
    g.measurement_time(Duration::from_secs(10));
    // 100 new orders in one transaction, as a poll page or an inbox batch
    // is applied: each one upserted, routed and reserved, its stock queued.
    const BATCH: usize = 100;
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut next = 0u64;
    g.bench_function("apply_100_new_orders", |b| {
        b.iter_batched(
            || {
                (0..BATCH)
                    .map(|i| {
                        next += 1;
                        let mut o = templates[i % templates.len()].clone();
                        o.external_id = format!("bench-{next}");
                        o
                    })
                    .collect::<Vec<_>>()
            },
            |orders| {
                let incoming: Vec<Incoming> = orders
                    .iter()
                    .map(|order| Incoming {
                        order,
                        raw: None,
                        source: Source::Poll,
                    })
                    .collect();
                rt.block_on(store.apply_orders("shop", "shopify", &incoming))
                    .unwrap()
            },
            BatchSize::SmallInput,
        )
    });
    // 100 stock changes to the fixture's few SKUs: one pending push per
    // SKU, not 100.
    g.throughput(Throughput::Elements(100));
    g.bench_function("coalesce_100_stock_changes", |b| {
        let mut on_hand = 1_000_000_000;
        b.iter(|| {
            rt.block_on(async {
                for i in 0..100 {
                    on_hand -= 1;
                    store
                        .set_on_hand(
                            &skus[i % skus.len()],
                            "wh",
                            on_hand,
                            None,
                            &Actor::new("bench"),
                        )
                        .await
                        .unwrap();
                }
            })
        })
    });
    g.finish();
    rt.block_on(store.close());
}

criterion_group!(benches, parse, route, store_paths);
criterion_main!(benches);

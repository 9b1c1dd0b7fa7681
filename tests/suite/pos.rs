//! A POS as a store's source of stock: Square's counts are the store's on
//! hand, and an in-store sale lowers what the Shopify shop publishes.

use std::time::{Duration, Instant};

use chansync_testpg::both;

use crate::common::{Backend, Harness, Intake, Setup};
use chansync_square::sim as square;

const WAIT: Duration = Duration::from_secs(30);

both!(an_in_store_sale_lowers_what_the_web_shop_publishes);
async fn an_in_store_sale_lowers_what_the_web_shop_publishes(b: Backend) {
    let pos = square::start(
        square::SimConfig {
            generate: false,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let store_loc = square::location_ids()[0];
    let shop_skus = chansync_shopify::sim::catalog_skus();
    let skus: Vec<&str> = square::catalog_skus()
        .into_iter()
        .filter(|s| shop_skus.contains(s))
        .collect();
    assert!(!skus.is_empty(), "the two simulators share SKUs");
    for s in &skus {
        assert!(pos.set_count(s, store_loc, 20));
    }
    let mut setup = Setup::new(Intake::Webhooks).on(b);
    let mut extra = format!(
        "[[connector]]\nname = \"pos\"\nkind = \"square\"\nbase_url = \"{}\"\npoll = {{ every = \"1s\" }}\naccess_token = \"{}\"\n\n\
         [[location]]\nname = \"store\"\ncountry = \"US\"\npriority = 1\nsource = {{ connector = \"pos\", location = \"{store_loc}\" }}\n",
        pos.base_url(),
        pos.access_token()
    );
    for s in &skus {
        extra.push_str(&format!(
            "\n[[sku]]\nconnector = \"shop\"\nchannel_sku = \"{s}\"\nmaster_sku = \"{s}\"\n"
        ));
    }
    setup.extra = extra;
    let h = Harness::start(setup).await;

    let deadline = Instant::now() + WAIT;
    while skus.iter().any(|s| h.sim.stock().get(*s) != Some(&20)) {
        assert!(
            Instant::now() < deadline,
            "the shop never showed the store's counts: {:?}",
            h.sim.stock()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Sales in the store until one takes a shared product.
    let before = pos.counts();
    let mut sold = None;
    for _ in 0..50 {
        pos.create_sale(1);
        let now = pos.counts();
        sold = skus.iter().find_map(|s| {
            let key = (s.to_string(), store_loc.to_string());
            (now.get(&key) < before.get(&key)).then(|| (s.to_string(), now[&key]))
        });
        if sold.is_some() {
            break;
        }
    }
    let (sku, left) = sold.expect("fifty sales never touched a shared product");
    assert!(left < 20);
    while h.sim.stock().get(&sku) != Some(&left) {
        assert!(
            Instant::now() < deadline,
            "the shop still shows {:?} of {sku}, the store has {left}",
            h.sim.stock().get(&sku)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let store = h.store().await;
    let history = store.stock_history(&sku, 20).await.unwrap();
    assert!(
        history.iter().any(|e| e["actor"] == "connector:pos"),
        "audited as the POS: {history:?}"
    );
    store.close().await;
    pos.stop();
    h.stop().await.unwrap();
}

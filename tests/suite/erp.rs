//! The ERP flow end to end: a Shopify order routed to a warehouse Odoo runs
//! reaches Odoo as a confirmed sale order; Odoo's stock is the warehouse's on
//! hand; the delivery Odoo validates comes back as the order's shipment.

use std::time::{Duration, Instant};

use chansync_testpg::both;

use crate::common::{Backend, Harness, Intake, Setup};
use chansync_odoo::sim as odoo;
use chansync_sdk::model::OrderStatus;

const WAIT: Duration = Duration::from_secs(30);

/// The Shopify harness with an Odoo simulator running its warehouse `WH`.
async fn with_odoo(b: Backend) -> (odoo::SimHandle, Harness) {
    let erp = odoo::start(odoo::SimConfig::default(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let creds = erp.credentials();
    let mut setup = Setup::new(Intake::Webhooks).on(b);
    setup.extra = format!(
        "[[connector]]\nname = \"erp\"\nkind = \"odoo\"\nbase_url = \"{}\"\npoll = {{ every = \"1s\" }}\n\
         access_token = \"{}\"\ndatabase = \"{}\"\nlogin = \"{}\"\nshipment_lag = \"0s\"\nwarehouses = [\"WH\"]\n\n\
         [[location]]\nname = \"main-wh\"\ncountry = \"DE\"\npriority = 1\nsource = {{ connector = \"erp\", location = \"WH\" }}\n",
        erp.base_url(),
        creds["api_key"].as_str().unwrap(),
        creds["database"].as_str().unwrap(),
        creds["login"].as_str().unwrap(),
    );
    let h = Harness::start(setup).await;
    (erp, h)
}

both!(an_order_routed_to_an_odoo_warehouse_ships_from_odoo);
async fn an_order_routed_to_an_odoo_warehouse_ships_from_odoo(b: Backend) {
    let (erp, h) = with_odoo(b).await;

    // Odoo's stock for the first order's SKUs, then the order.
    let probe = h.sim.create_orders(1)[0];
    let skus: Vec<String> = h
        .sim
        .rest_order(probe)
        .unwrap()
        .line_items
        .iter()
        .filter_map(|l| l.sku.clone())
        .collect();
    for sku in &skus {
        assert!(erp.set_quant(sku, "WH", 25), "Odoo knows {sku}");
    }
    // The on-hand read lands first; then the order routes against it.
    let store = h.store().await;
    let deadline = Instant::now() + WAIT;
    loop {
        let v = store.stock_view(Some(&skus[0])).await.unwrap();
        if v.first().is_some_and(|v| v.on_hand == 25) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "Odoo's stock never arrived: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The probe order arrived before the stock: it waited, then was routed.
    let order = loop {
        let o = h.orders().await;
        if let Some(o) = o.into_iter().find(|o| o.status == OrderStatus::Allocated) {
            break o;
        }
        assert!(Instant::now() < deadline, "the order was never allocated");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert!(order.allocations.iter().all(|a| a.location == "main-wh"));
    let reference = chansync::store::order_reference(order.id.parse().unwrap());

    let sale = loop {
        if let Some(s) = erp
            .sale_orders()
            .into_iter()
            .find(|s| s["client_order_ref"] == reference.as_str())
        {
            break s;
        }
        assert!(Instant::now() < deadline, "Odoo never got the sale order");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(sale["state"], "sale", "confirmed: {sale}");
    assert_eq!(
        erp.sale_orders()
            .iter()
            .filter(|s| s["client_order_ref"] == reference.as_str())
            .count(),
        1
    );

    assert!(erp.ship(reference.as_str(), "ODOO-TRACK-1"));
    let shipped = loop {
        let o = store
            .get_order(order.id.parse().unwrap())
            .await
            .unwrap()
            .unwrap();
        if o.status == OrderStatus::Fulfilled {
            break o;
        }
        assert!(
            Instant::now() < deadline,
            "the Odoo delivery never came back: {o:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        shipped.fulfillments[0].tracking.as_deref(),
        Some("ODOO-TRACK-1")
    );
    assert_eq!(shipped.fulfillments[0].location.as_deref(), Some("main-wh"));
    store.close().await;
    erp.stop();
    h.stop().await.unwrap();
}

both!(an_order_cancelled_in_the_shop_is_cancelled_in_odoo);
async fn an_order_cancelled_in_the_shop_is_cancelled_in_odoo(b: Backend) {
    let (erp, h) = with_odoo(b).await;
    let id = h.sim.create_orders(1)[0];
    for sku in h
        .sim
        .rest_order(id)
        .unwrap()
        .line_items
        .iter()
        .filter_map(|l| l.sku.clone())
    {
        assert!(erp.set_quant(&sku, "WH", 25));
    }
    let deadline = Instant::now() + WAIT;
    let order = loop {
        if let Some(o) = h
            .orders()
            .await
            .into_iter()
            .find(|o| o.status == OrderStatus::Allocated)
        {
            break o;
        }
        assert!(Instant::now() < deadline, "the order was never allocated");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let reference = chansync::store::order_reference(order.id.parse().unwrap());
    let sale_state = || {
        erp.sale_orders()
            .into_iter()
            .find(|s| s["client_order_ref"] == reference.as_str())
            .map(|s| s["state"].clone())
    };
    while sale_state().is_none() {
        assert!(Instant::now() < deadline, "Odoo never got the sale order");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The customer cancels in the shop: the warehouse must not ship it.
    assert!(h.sim.cancel_order(id));
    while sale_state() != Some("cancel".into()) {
        assert!(
            Instant::now() < deadline,
            "Odoo still has it as {:?}",
            sale_state()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        !erp.ship(reference.as_str(), "TOO-LATE"),
        "nothing left to ship"
    );
    erp.stop();
    h.stop().await.unwrap();
}

//! The people around the system: store staff ship the web orders routed to
//! their store (Odoo's warehouse staff ship by themselves in the Odoo
//! simulator), and deliveries from suppliers restock the warehouses in Odoo.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

use super::config::store_locations;
use super::feed::note;
use crate::store::{OrderFilter, Store};
use chansync_sdk::model::OrderStatus;

/// Ships the oldest order allocated to a store every 3 s, and receives ten
/// units of a product at an Odoo warehouse every 5 s.
pub async fn run(store: Store, erp: chansync_odoo::sim::SimHandle, stop: CancellationToken) {
    let mut ship = tokio::time::interval(Duration::from_secs(3));
    let mut restock = tokio::time::interval(Duration::from_secs(5));
    ship.tick().await;
    restock.tick().await;
    let stores: Vec<&str> = store_locations().into_iter().map(|(n, _)| n).collect();
    let skus = chansync_shopify::sim::catalog_skus();
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = ship.tick() => {
                let filter = OrderFilter { status: Some(OrderStatus::Allocated), ..Default::default() };
                let Ok(orders) = store.list_orders(&filter).await else { continue };
                let Some((o, loc)) = orders.iter().rev().find_map(|o| {
                    o.allocations
                        .iter()
                        .find(|a| stores.contains(&a.location.as_str()))
                        .map(|a| (o, a.location.clone()))
                }) else {
                    continue;
                };
                n += 1;
                let tracking = format!("9400{:08}", 11_000_000 + n);
                let id: i64 = o.id.parse().unwrap_or_default();
                let number = o.external_number.as_deref().unwrap_or(&o.external_id);
                match store.fulfil(id, &loc, Some("USPS"), &tracking, &Default::default()).await {
                    Ok(_) => note(&o.connector, format_args!("{number} shipped from {loc} with tracking {tracking}")),
                    Err(e) => note(&o.connector, format_args!("{number} could not ship from {loc}: {e}")),
                }
            }
            _ = restock.tick() => {
                let sku = skus[(n as usize * 7 + 3) % skus.len()];
                n += 1;
                let wh = if n % 2 == 0 { "WH" } else { "WH2" };
                let before = erp.quants().get(&(sku.to_owned(), wh.to_owned())).copied().unwrap_or(0);
                if erp.set_quant(sku, wh, before + 10) {
                    note("erp", format_args!("delivery received in Odoo: {sku} at {wh} {before} -> {}", before + 10));
                }
            }
        }
    }
}

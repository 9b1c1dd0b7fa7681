//! On-hand stock from Odoo as the source of truth: `stock.quant` quantities
//! in each warehouse's internal locations, summed per product and warehouse
//! and keyed by the product's internal reference (`default_code`, the SKU).
//! The daemon stores them as the on hand of the locations Odoo sources.

use std::collections::{BTreeMap, BTreeSet};

use chansync_sdk::{ConnectorError, OnHand};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::json;

use crate::client::OdooClient;
use crate::config::WarehouseRef;
use crate::wire::{self, Rec};

/// A warehouse as the connector uses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Warehouse {
    pub id: i64,
    pub code: String,
    /// The warehouse's main stock location (`lot_stock_id`).
    pub lot_stock_id: i64,
}

/// The warehouses of the configured company, in id order.
pub(crate) async fn all_warehouses(c: &OdooClient) -> Result<Vec<Warehouse>, ConnectorError> {
    let domain = match c.company_id() {
        Some(company) => json!([["company_id", "=", company]]),
        None => json!([]),
    };
    let recs = c
        .search_read(
            "stock.warehouse",
            domain,
            &["code", "lot_stock_id"],
            "id asc",
            None,
        )
        .await?;
    Ok(recs.iter().filter_map(warehouse).collect())
}

pub(crate) fn warehouse(r: &Rec) -> Option<Warehouse> {
    Some(Warehouse {
        id: wire::id(r)?,
        code: wire::text(r.get("code"))?,
        lot_stock_id: wire::many2one_id(r.get("lot_stock_id"))?,
    })
}

/// The configured warehouses (all of them when none is named); one that
/// Odoo does not have is a permanent error naming it.
pub(crate) fn select(
    all: Vec<Warehouse>,
    wanted: &[WarehouseRef],
) -> Result<Vec<Warehouse>, ConnectorError> {
    if wanted.is_empty() {
        return Ok(all);
    }
    wanted
        .iter()
        .map(|w| {
            all.iter()
                .find(|h| match w {
                    WarehouseRef::Id(id) => h.id == *id,
                    WarehouseRef::Code(code) => h.code.eq_ignore_ascii_case(code),
                })
                .cloned()
                .ok_or_else(|| {
                    ConnectorError::Permanent(format!(
                        "warehouse {w} (in `warehouses`) is not in Odoo"
                    ))
                })
        })
        .collect()
}

/// The domain term of products whose stock Odoo tracks: `is_storable`
/// from 18 on, `type = 'product'` before.
fn tracked(major: u32) -> serde_json::Value {
    if major >= 18 {
        json!(["is_storable", "=", true])
    } else {
        json!(["type", "=", "product"])
    }
}

/// Reads on hand per (SKU, warehouse code).
///
/// Every product whose stock Odoo tracks and that has an internal
/// reference gets a count for every warehouse read, zero where it has no
/// quant: Odoo deletes empty quants, and without the zero a sold-out
/// product would keep its last count in chansync. Untracked products
/// (services, consumables) get no count at all.
pub(crate) async fn read_on_hand(
    c: &OdooClient,
    wanted: &[WarehouseRef],
) -> Result<Vec<OnHand>, ConnectorError> {
    let warehouses = select(all_warehouses(c).await?, wanted)?;
    let mut location_wh: BTreeMap<i64, usize> = BTreeMap::new();
    for (i, wh) in warehouses.iter().enumerate() {
        let domain = json!([
            ["id", "child_of", wh.lot_stock_id],
            ["usage", "=", "internal"]
        ]);
        for loc in c.search("stock.location", domain).await? {
            location_wh.entry(loc).or_insert(i);
        }
    }
    let mut skus: BTreeMap<i64, String> = c
        .search_read_all(
            "product.product",
            &[
                json!(["default_code", "!=", false]),
                tracked(c.major_version().await?),
            ],
            &["default_code"],
        )
        .await?
        .iter()
        .filter_map(|r| Some((wire::id(r)?, wire::text(r.get("default_code"))?)))
        .collect();
    let quants = if location_wh.is_empty() {
        Vec::new()
    } else {
        let locations: Vec<i64> = location_wh.keys().copied().collect();
        c.search_read_all(
            "stock.quant",
            &[json!(["location_id", "in", locations])],
            &["product_id", "location_id", "quantity"],
        )
        .await?
    };
    // Quants of products the listing missed (archived ones still hold stock).
    let unlisted: BTreeSet<i64> = quants
        .iter()
        .filter_map(|q| wire::many2one_id(q.get("product_id")))
        .filter(|p| !skus.contains_key(p))
        .collect();
    for r in c
        .read(
            "product.product",
            unlisted.into_iter().collect(),
            &["default_code"],
        )
        .await?
    {
        if let (Some(id), Some(code)) = (wire::id(&r), wire::text(r.get("default_code"))) {
            skus.insert(id, code);
        }
    }
    Ok(tally(&warehouses, &location_wh, &skus, &quants))
}

/// Sums the quants per (SKU, warehouse): every listed SKU gets a count for
/// every warehouse, zero where it has no quant. `location_wh` maps each
/// internal location to its warehouse's index in `warehouses`; quants
/// anywhere else, or of products without a SKU, are left out.
pub(crate) fn tally(
    warehouses: &[Warehouse],
    location_wh: &BTreeMap<i64, usize>,
    skus: &BTreeMap<i64, String>,
    quants: &[Rec],
) -> Vec<OnHand> {
    let mut sums: BTreeMap<(String, usize), Decimal> = BTreeMap::new();
    for sku in skus.values() {
        for i in 0..warehouses.len() {
            sums.insert((sku.clone(), i), Decimal::ZERO);
        }
    }
    for q in quants {
        let (Some(product), Some(location)) = (
            wire::many2one(q.get("product_id")),
            wire::many2one_id(q.get("location_id")),
        ) else {
            continue;
        };
        let Some(sku) = skus.get(&product.0) else {
            tracing::debug!(product = product.0, name = %product.1, "product without an internal reference; its stock is skipped");
            continue;
        };
        let Some(&wh) = location_wh
            .get(&location)
            .filter(|&&wh| wh < warehouses.len())
        else {
            continue;
        };
        let qty = wire::decimal(q.get("quantity")).unwrap_or_default();
        let sum = sums.entry((sku.clone(), wh)).or_default();
        *sum = sum.saturating_add(qty);
    }
    sums.into_iter()
        .map(|((sku, wh), qty)| OnHand {
            channel_sku: sku,
            channel_location: Some(warehouses[wh].code.clone()),
            on_hand: whole_units(qty),
        })
        .collect()
}

/// Whole units on hand: a fraction (a product sold by weight) rounds down,
/// so a channel is never shown stock that is not there.
fn whole_units(q: Decimal) -> i64 {
    q.floor().to_i64().unwrap_or(if q.is_sign_negative() {
        i64::MIN
    } else {
        i64::MAX
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wh(id: i64, code: &str) -> Warehouse {
        Warehouse {
            id,
            code: code.into(),
            lot_stock_id: id * 10,
        }
    }

    #[test]
    fn warehouses_are_selected_by_code_or_id_in_config_order() {
        let all = vec![wh(1, "WH"), wh(2, "WH2"), wh(3, "EU")];
        assert_eq!(select(all.clone(), &[]).unwrap(), all);
        let picked = select(
            all.clone(),
            &[WarehouseRef::Code("eu".into()), WarehouseRef::Id(1)],
        )
        .unwrap();
        assert_eq!(picked, [wh(3, "EU"), wh(1, "WH")]);
        let err = select(all, &[WarehouseRef::Code("XX".into())]).unwrap_err();
        assert!(
            matches!(err, ConnectorError::Permanent(ref m) if m.contains("\"XX\"")),
            "{err}"
        );
    }

    #[test]
    fn fractions_round_down() {
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(whole_units(d("3")), 3);
        assert_eq!(whole_units(d("2.75")), 2);
        assert_eq!(whole_units(d("-1.5")), -2);
        assert_eq!(whole_units(d("0")), 0);
    }
}

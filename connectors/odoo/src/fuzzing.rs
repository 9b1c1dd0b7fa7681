//! For the fuzz targets only: everything the connector does with bytes
//! Odoo sends, without a network. Not part of the connector's API.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::client::{error_detail, major_of, records, rpc_result};
use crate::shipments::{build, Related, ShipmentCursor};
use crate::stock::{tally, warehouse};
use crate::wire::{self, Rec};

/// Reads `bytes` as each kind of answer Odoo gives: an error body, a
/// JSON-RPC or JSON-2 answer, version info, and record lists as warehouses,
/// products, quants, deliveries and their moves and sale lines; and as a
/// saved shipment cursor. Panics only on a bug.
pub fn odoo_answer(bytes: &[u8]) {
    let _ = error_detail(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        let _ = ShipmentCursor::parse(Some(text));
    }
    let Ok(v) = serde_json::from_slice::<Value>(bytes) else {
        return;
    };
    // JSON-RPC wraps the result; JSON-2 answers it bare.
    let result = rpc_result(v.clone()).unwrap_or(v);
    let _ = major_of(&result);
    let Ok(recs) = records("any.model", result) else {
        return;
    };
    let warehouses: Vec<_> = recs.iter().filter_map(warehouse).collect();
    let location_wh: BTreeMap<i64, usize> = warehouses
        .iter()
        .enumerate()
        .map(|(i, w)| (w.lot_stock_id, i))
        .collect();
    let skus: BTreeMap<i64, String> = recs
        .iter()
        .filter_map(|r| Some((wire::id(r)?, wire::text(r.get("default_code"))?)))
        .collect();
    let on_hand = tally(&warehouses, &location_wh, &skus, &recs);
    assert!(
        on_hand.len() >= skus.len().min(1) * warehouses.len().min(1),
        "every SKU is counted in every warehouse"
    );
    let by_id: BTreeMap<i64, Rec> = recs
        .iter()
        .filter_map(|r| Some((wire::id(r)?, r.clone())))
        .collect();
    let related = Related {
        sales: by_id.clone(),
        types: by_id.clone(),
        codes: warehouses.iter().map(|w| (w.id, w.code.clone())).collect(),
        moves: by_id.clone(),
        line_names: by_id
            .iter()
            .map(|(id, r)| (*id, wire::text(r.get("name"))))
            .collect(),
    };
    for s in build(&recs, &related) {
        assert!(
            !s.fulfillment.lines.is_empty(),
            "a shipment names at least one line"
        );
        assert!(s.fulfillment.lines.iter().all(|l| l.quantity > 0));
    }
}

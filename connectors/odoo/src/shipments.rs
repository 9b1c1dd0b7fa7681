//! Deliveries Odoo made for chansync's orders: done outgoing
//! `stock.picking`s read in `(write_date, id)` order after a persisted
//! cursor, so each is reported once, with lines named by the canonical line
//! ids written on the sale lines. The daemon records them and tells the
//! order's own channel.

use std::collections::BTreeMap;
use std::time::Duration;

use chansync_sdk::model::{Fulfillment, FulfillmentLine};
use chansync_sdk::{ConnectorError, Shipment, ShipmentPage};
use chrono::Utc;
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::client::OdooClient;
use crate::orders::line_id_of;
use crate::wire::{self, Rec};

/// Where the shipment reader stands: the newest `write_date` read and the
/// deliveries already read with exactly that `write_date`. Odoo stamps
/// `write_date` to the second, so a delivery validated later in the same
/// second (with any id) is still found, and none is read twice.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentCursor {
    /// The newest `write_date` read (Odoo's UTC format).
    pub write_date: Option<String>,
    /// The deliveries read whose `write_date` is exactly that.
    pub ids: Vec<i64>,
}

impl ShipmentCursor {
    pub(crate) fn parse(cursor: Option<&str>) -> Result<Self, ConnectorError> {
        match cursor {
            Some(s) if !s.trim().is_empty() => serde_json::from_str(s).map_err(|e| {
                ConnectorError::Permanent(format!("unreadable shipment cursor {s:?}: {e}"))
            }),
            _ => Ok(ShipmentCursor::default()),
        }
    }

    /// The cursor after a page read in `(write_date, id)` order.
    fn after(&self, page: &[(String, i64)]) -> ShipmentCursor {
        let Some((newest, _)) = page.last() else {
            return self.clone();
        };
        let mut ids: Vec<i64> = if self.write_date.as_ref() == Some(newest) {
            self.ids.clone()
        } else {
            Vec::new()
        };
        ids.extend(page.iter().filter(|(w, _)| w == newest).map(|(_, id)| *id));
        ids.sort_unstable();
        ids.dedup();
        ShipmentCursor {
            write_date: Some(newest.clone()),
            ids,
        }
    }
}

/// Done outgoing deliveries not yet read and no newer than `cutoff`.
pub(crate) fn page_domain(cur: &ShipmentCursor, cutoff: &str) -> Value {
    let mut d = vec![
        json!(["picking_type_code", "=", "outgoing"]),
        json!(["state", "=", "done"]),
        json!(["write_date", "<=", cutoff]),
    ];
    if let Some(wd) = &cur.write_date {
        d.extend([
            json!("|"),
            json!(["write_date", ">", wd]),
            json!("&"),
            json!(["write_date", "=", wd]),
            json!(["id", "not in", cur.ids]),
        ]);
    }
    Value::Array(d)
}

const PICKING_FIELDS: &[&str] = &[
    "name",
    "sale_id",
    "picking_type_id",
    "carrier_id",
    "carrier_tracking_ref",
    "move_ids",
    "write_date",
];

/// One page of deliveries after `cursor`.
pub(crate) async fn fetch_shipments(
    c: &OdooClient,
    cursor: Option<&str>,
    lag: Duration,
) -> Result<ShipmentPage, ConnectorError> {
    let cur = ShipmentCursor::parse(cursor)?;
    let lag = chrono::Duration::from_std(lag).unwrap_or_default();
    let cutoff = wire::datetime(&(Utc::now() - lag));
    let page_size = c.page_size();
    let pickings = c
        .search_read(
            "stock.picking",
            page_domain(&cur, &cutoff),
            PICKING_FIELDS,
            "write_date asc, id asc",
            Some(page_size),
        )
        .await?;
    let has_more = pickings.len() == page_size as usize;
    let read: Vec<(String, i64)> = pickings
        .iter()
        .filter_map(|p| Some((wire::text(p.get("write_date"))?, wire::id(p)?)))
        .collect();
    let next = cur.after(&read);
    let shipments = if pickings.is_empty() {
        Vec::new()
    } else {
        shipments_of(c, &pickings).await?
    };
    Ok(ShipmentPage {
        shipments,
        cursor: serde_json::to_string(&next).expect("cursor serializes"),
        has_more,
    })
}

/// Reads what the pickings refer to (sale orders, warehouses, moves, sale
/// lines) in one call per model and builds the shipments.
async fn shipments_of(c: &OdooClient, pickings: &[Rec]) -> Result<Vec<Shipment>, ConnectorError> {
    let m2o = |r: &Rec, f: &str| wire::many2one_id(r.get(f));
    let sale_ids: Vec<i64> = distinct(pickings.iter().filter_map(|p| m2o(p, "sale_id")));
    let sales = by_id(
        c.read(
            "sale.order",
            sale_ids,
            &["client_order_ref", "warehouse_id"],
        )
        .await?,
    );
    let type_ids = distinct(pickings.iter().filter_map(|p| m2o(p, "picking_type_id")));
    let types = by_id(
        c.read("stock.picking.type", type_ids, &["warehouse_id"])
            .await?,
    );
    let wh_ids = distinct(
        pickings
            .iter()
            .filter_map(|p| warehouse_of(p, &types, &sales)),
    );
    let codes: BTreeMap<i64, String> = c
        .read("stock.warehouse", wh_ids, &["code"])
        .await?
        .iter()
        .filter_map(|w| Some((wire::id(w)?, wire::text(w.get("code"))?)))
        .collect();
    let move_ids = distinct(pickings.iter().flat_map(|p| wire::ids(p.get("move_ids"))));
    let moves = by_id(
        c.read(
            "stock.move",
            move_ids,
            &["product_id", "quantity", "sale_line_id", "state"],
        )
        .await?,
    );
    let line_ids = distinct(moves.values().filter_map(|m| m2o(m, "sale_line_id")));
    let line_names: BTreeMap<i64, Option<String>> = c
        .read("sale.order.line", line_ids, &["name"])
        .await?
        .iter()
        .filter_map(|l| Some((wire::id(l)?, wire::text(l.get("name")))))
        .collect();

    let related = Related {
        sales,
        types,
        codes,
        moves,
        line_names,
    };
    Ok(build(pickings, &related))
}

/// What a delivery refers to, by id: its sale order, picking type,
/// warehouse codes, moves and sale lines.
#[derive(Debug, Default)]
pub(crate) struct Related {
    pub sales: BTreeMap<i64, Rec>,
    pub types: BTreeMap<i64, Rec>,
    pub codes: BTreeMap<i64, String>,
    pub moves: BTreeMap<i64, Rec>,
    pub line_names: BTreeMap<i64, Option<String>>,
}

/// The warehouse a delivery left from: its picking type's, else its sale
/// order's.
fn warehouse_of(p: &Rec, types: &BTreeMap<i64, Rec>, sales: &BTreeMap<i64, Rec>) -> Option<i64> {
    let m2o = |r: &Rec, f: &str| wire::many2one_id(r.get(f));
    m2o(p, "picking_type_id")
        .and_then(|t| types.get(&t))
        .and_then(|t| m2o(t, "warehouse_id"))
        .or_else(|| {
            m2o(p, "sale_id")
                .and_then(|s| sales.get(&s))
                .and_then(|s| m2o(s, "warehouse_id"))
        })
}

/// The shipments of the deliveries of chansync's orders: done moves of
/// chansync's sale lines, summed per line.
pub(crate) fn build(pickings: &[Rec], r: &Related) -> Vec<Shipment> {
    let m2o = |r: &Rec, f: &str| wire::many2one_id(r.get(f));
    let (sales, moves, line_names, codes) = (&r.sales, &r.moves, &r.line_names, &r.codes);
    let warehouse_of = |p: &Rec| warehouse_of(p, &r.types, &r.sales);
    let mut out = Vec::new();
    for p in pickings {
        let Some(pid) = wire::id(p) else { continue };
        let picking = wire::text(p.get("name")).unwrap_or_else(|| pid.to_string());
        let reference = m2o(p, "sale_id")
            .and_then(|s| sales.get(&s))
            .and_then(|s| wire::text(s.get("client_order_ref")));
        let Some(reference) = reference else {
            tracing::debug!(%picking, "delivery of a sale order chansync did not create; skipped");
            continue;
        };
        let mut lines: BTreeMap<String, Decimal> = BTreeMap::new();
        for mid in wire::ids(p.get("move_ids")) {
            let Some(m) = moves.get(&mid) else { continue };
            if wire::text(m.get("state")).as_deref() != Some("done") {
                continue;
            }
            let line_id = m2o(m, "sale_line_id")
                .and_then(|l| line_names.get(&l).cloned().flatten())
                .and_then(|name| line_id_of(&name));
            let Some(line_id) = line_id else {
                tracing::warn!(%picking, %reference, product = ?wire::many2one(m.get("product_id")).map(|p| p.1), "delivered move without a chansync sale line; left out of the shipment");
                continue;
            };
            let sum = lines.entry(line_id).or_default();
            *sum = sum.saturating_add(wire::decimal(m.get("quantity")).unwrap_or_default());
        }
        let lines: Vec<FulfillmentLine> = lines
            .into_iter()
            .filter_map(|(external_id, q)| {
                let quantity = q.round().to_u32().filter(|q| *q > 0)?;
                Some(FulfillmentLine {
                    external_id,
                    quantity,
                })
            })
            .collect();
        if lines.is_empty() {
            // An empty list would mean "everything"; better report nothing.
            tracing::warn!(%picking, %reference, "delivery names no chansync line; not reported");
            continue;
        }
        out.push(Shipment {
            reference,
            shipment_id: pid.to_string(),
            fulfillment: Fulfillment {
                location: warehouse_of(p).and_then(|w| codes.get(&w).cloned()),
                carrier: wire::many2one(p.get("carrier_id")).map(|(_, name)| name),
                tracking: wire::text(p.get("carrier_tracking_ref")),
                lines,
            },
        });
    }
    out
}

fn distinct(ids: impl Iterator<Item = i64>) -> Vec<i64> {
    let set: std::collections::BTreeSet<i64> = ids.collect();
    set.into_iter().collect()
}

fn by_id(recs: Vec<Rec>) -> BTreeMap<i64, Rec> {
    recs.into_iter()
        .filter_map(|r| Some((wire::id(&r)?, r)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_page_has_no_watermark() {
        let d = page_domain(&ShipmentCursor::default(), "2026-03-01 10:00:00");
        assert_eq!(
            d,
            json!([
                ["picking_type_code", "=", "outgoing"],
                ["state", "=", "done"],
                ["write_date", "<=", "2026-03-01 10:00:00"],
            ])
        );
    }

    #[test]
    fn later_pages_leave_out_what_was_read_at_the_watermark() {
        let cur = ShipmentCursor {
            write_date: Some("2026-03-01 09:00:00".into()),
            ids: vec![4, 9],
        };
        let d = page_domain(&cur, "2026-03-01 10:00:00");
        assert_eq!(
            d.as_array().unwrap()[3..],
            [
                json!("|"),
                json!(["write_date", ">", "2026-03-01 09:00:00"]),
                json!("&"),
                json!(["write_date", "=", "2026-03-01 09:00:00"]),
                json!(["id", "not in", [4, 9]]),
            ]
        );
    }

    #[test]
    fn the_cursor_keeps_the_ids_of_its_second() {
        let t = |s: &str| format!("2026-03-01 09:00:{s}");
        let cur = ShipmentCursor::default();
        let cur = cur.after(&[(t("01"), 7), (t("02"), 9), (t("02"), 3)]);
        assert_eq!(
            cur,
            ShipmentCursor {
                write_date: Some(t("02")),
                ids: vec![3, 9]
            }
        );
        // The same second again: the ids accumulate.
        let cur = cur.after(&[(t("02"), 1)]);
        assert_eq!(cur.ids, [1, 3, 9]);
        // A newer second starts afresh; an empty page changes nothing.
        let cur = cur.after(&[(t("05"), 2)]);
        assert_eq!(
            cur,
            ShipmentCursor {
                write_date: Some(t("05")),
                ids: vec![2]
            }
        );
        assert_eq!(cur.after(&[]), cur);
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cur = ShipmentCursor {
            write_date: Some("2026-03-01 09:00:00".into()),
            ids: vec![7],
        };
        let s = serde_json::to_string(&cur).unwrap();
        assert_eq!(ShipmentCursor::parse(Some(&s)).unwrap(), cur);
        assert_eq!(
            ShipmentCursor::parse(None).unwrap(),
            ShipmentCursor::default()
        );
        assert!(matches!(
            ShipmentCursor::parse(Some("{nope")),
            Err(ConnectorError::Permanent(_))
        ));
    }
}

//! Push-back to Square with UpdateOrder: shipments and cancellations.
//!
//! Square keeps an order's fulfilment as a whole (`line_item_application`
//! `ALL`): one shipment, pickup or delivery that moves PROPOSED → RESERVED →
//! PREPARED → COMPLETED. A chansync shipment that covers what is left of the
//! order completes it with its carrier and tracking number; a partial one
//! adds its tracking number, moves the fulfilment to at least PREPARED and
//! counts the units shipped so far in the fulfilment's metadata
//! (`chansync_shipped`), so the shipment that ships the last unit completes
//! it. The push that last changed the fulfilment is named in
//! `chansync_last`: a push repeated after its answer was lost changes
//! nothing.
//!
//! Every UpdateOrder names the order `version` it read. When the seller (or
//! Square) changed the order in between, Square answers `VERSION_MISMATCH`
//! and the push reads the order again and retries, a few times. The
//! request's idempotency key is the push's key and the version, so a retry
//! of the same request is applied once and a retry at a new version is a new
//! request.

use std::collections::BTreeMap;
use std::str::FromStr;

use chansync_sdk::{CancelRequest, ConnectorError, FulfillmentRequest};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::client::SquareClient;
use crate::wire::{Fulfillment, Order, RetrieveOrderResponse};

/// Reads and updates tried before giving up on an order that keeps changing.
const VERSION_ROUNDS: usize = 4;
/// Metadata: units shipped per line uid, `uid:qty,uid:qty`.
pub const SHIPPED_KEY: &str = "chansync_shipped";
/// Metadata: the idempotency key of the push that last changed it.
pub const LAST_KEY: &str = "chansync_last";
/// Square's limits: metadata values, tracking numbers, idempotency keys.
const MAX_METADATA_VALUE: usize = 255;
const MAX_TRACKING: usize = 100;
const MAX_IDEMPOTENCY_KEY: usize = 192;

/// The states of a fulfilment in the order Square moves them.
const PROGRESS: [&str; 4] = ["PROPOSED", "RESERVED", "PREPARED", "COMPLETED"];

fn rank(state: &str) -> usize {
    PROGRESS.iter().position(|s| *s == state).unwrap_or(0)
}

fn order_path(id: &str) -> String {
    format!("/v2/orders/{}", crate::orders::path_segment(id))
}

async fn read(client: &SquareClient, id: &str) -> Result<Order, ConnectorError> {
    if id.is_empty() {
        return Err(ConnectorError::Permanent("an empty order id".into()));
    }
    let resp: RetrieveOrderResponse = client.get("retrieve_order", &order_path(id)).await?;
    let raw = resp.order.ok_or_else(|| {
        ConnectorError::InvalidResponse(format!("RetrieveOrder {id} answered without an order"))
    })?;
    serde_json::from_value(raw)
        .map_err(|e| ConnectorError::InvalidResponse(format!("order {id}: {e}")))
}

/// Sends one UpdateOrder; `Ok(false)` when Square says the version moved on.
async fn update(client: &SquareClient, id: &str, body: &Value) -> Result<bool, ConnectorError> {
    let out = client
        .call_detailed::<Value>(
            "update_order",
            http::Method::PUT,
            &order_path(id),
            Some(body),
        )
        .await;
    match out {
        Ok(_) => Ok(true),
        Err(f) if f.errors.iter().any(|e| e.code == "VERSION_MISMATCH") => Ok(false),
        Err(f) => Err(f.error),
    }
}

fn idempotency_key(key: &str, version: i64) -> String {
    let suffix = format!(":v{version}");
    let room = MAX_IDEMPOTENCY_KEY - suffix.len();
    let mut k: String = key.chars().take(room).collect();
    k.push_str(&suffix);
    k
}

/// Whole units of a Square quantity (a decimal string).
fn units(q: &str) -> u32 {
    Decimal::from_str(q.trim())
        .ok()
        .and_then(|d| d.ceil().to_u32())
        .unwrap_or(0)
}

/// A line's key as chansync names it: its uid, else its index.
fn line_keys(o: &Order) -> Vec<(String, u32)> {
    o.line_items
        .iter()
        .enumerate()
        .map(|(i, l)| {
            (
                l.uid.clone().unwrap_or_else(|| i.to_string()),
                units(&l.quantity),
            )
        })
        .collect()
}

fn parse_shipped(v: Option<&String>) -> BTreeMap<String, u32> {
    v.into_iter()
        .flat_map(|s| s.split(','))
        .filter_map(|pair| {
            let (uid, q) = pair.rsplit_once(':')?;
            Some((uid.to_owned(), q.parse().ok()?))
        })
        .collect()
}

fn format_shipped(m: &BTreeMap<String, u32>) -> String {
    m.iter()
        .map(|(uid, q)| format!("{uid}:{q}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The fulfilment chansync's shipments complete: the first that is not
/// cancelled or failed.
fn live(o: &Order) -> Option<&Fulfillment> {
    o.fulfillments
        .iter()
        .find(|f| !matches!(f.state.as_deref(), Some("CANCELED" | "FAILED")))
}

/// What one round decided.
enum Plan {
    Done,
    Send(Value),
}

fn plan_shipment(o: &Order, req: &FulfillmentRequest) -> Result<Plan, ConnectorError> {
    let id = &req.external_order_id;
    match o.state.as_deref() {
        Some("CANCELED") => {
            return Err(ConnectorError::Permanent(format!(
                "order {id} is cancelled on Square; nothing to ship"
            )))
        }
        Some("DRAFT") => {
            return Err(ConnectorError::Permanent(format!(
                "order {id} is a draft on Square; it cannot be shipped"
            )))
        }
        _ => {}
    }
    let Some(f) = live(o) else {
        if o.state.as_deref() == Some("COMPLETED") {
            // An in-store sale: handed over at the register.
            return Ok(Plan::Done);
        }
        return Err(ConnectorError::Permanent(format!(
            "order {id} has no fulfilment on Square to complete"
        )));
    };
    let meta = f.metadata.clone().unwrap_or_default();
    if meta.get(LAST_KEY) == Some(&req.idempotency_key) {
        return Ok(Plan::Done);
    }
    let state = f.state.as_deref().unwrap_or("PROPOSED");
    if state == "COMPLETED" || o.state.as_deref() == Some("COMPLETED") {
        // Shipped in Square already; Square takes no change to a completed
        // order.
        return Ok(Plan::Done);
    }
    let uid = f.uid.clone().ok_or_else(|| {
        ConnectorError::InvalidResponse(format!("order {id}: a fulfilment without a uid"))
    })?;
    let lines = line_keys(o);
    let mut shipped = parse_shipped(meta.get(SHIPPED_KEY));
    for l in &req.fulfillment.lines {
        if !lines.iter().any(|(k, _)| *k == l.external_id) {
            return Err(ConnectorError::Permanent(format!(
                "order {id} has no line {:?} on Square",
                l.external_id
            )));
        }
        *shipped.entry(l.external_id.clone()).or_default() += l.quantity;
    }
    let complete = lines
        .iter()
        .all(|(k, q)| shipped.get(k).copied().unwrap_or(0) >= *q);
    let next = if complete {
        "COMPLETED"
    } else {
        PROGRESS[rank(state).max(rank("PREPARED"))]
    };
    let mut metadata = json!({ LAST_KEY: req.idempotency_key.chars().take(MAX_METADATA_VALUE).collect::<String>() });
    let shipped_text = format_shipped(&shipped);
    if shipped_text.len() <= MAX_METADATA_VALUE {
        metadata[SHIPPED_KEY] = json!(shipped_text);
    } else {
        tracing::warn!(order = %id, "too many lines to count partial shipments on Square; the order completes with its last line");
    }
    let mut update = json!({ "uid": uid, "state": next, "metadata": metadata });
    if f.kind.as_deref() == Some("SHIPMENT") {
        let earlier = f
            .shipment_details
            .as_ref()
            .and_then(|d| d.tracking_number.clone())
            .filter(|t| !t.is_empty());
        let mut details = json!({});
        if let Some(t) = &req.fulfillment.tracking {
            let joined = match earlier {
                Some(e) if e.split(", ").any(|x| x == t) => e,
                Some(e) if e.len() + 2 + t.len() <= MAX_TRACKING => format!("{e}, {t}"),
                _ => t.clone(),
            };
            details["tracking_number"] = json!(joined);
        }
        if let Some(c) = &req.fulfillment.carrier {
            details["carrier"] = json!(c);
        }
        if details.as_object().is_some_and(|d| !d.is_empty()) {
            update["shipment_details"] = details;
        }
    }
    let version = o.version.unwrap_or(0);
    Ok(Plan::Send(json!({
        "idempotency_key": idempotency_key(&req.idempotency_key, version),
        "order": {
            "location_id": o.location_id,
            "version": version,
            "fulfillments": [update],
        },
    })))
}

/// Records a shipment on the order's fulfilment.
pub(crate) async fn push_shipment(
    client: &SquareClient,
    req: &FulfillmentRequest,
) -> Result<(), ConnectorError> {
    let id = &req.external_order_id;
    for _ in 0..VERSION_ROUNDS {
        let o = read(client, id).await?;
        match plan_shipment(&o, req)? {
            Plan::Done => return Ok(()),
            Plan::Send(body) => {
                if update(client, id, &body).await? {
                    return Ok(());
                }
                tracing::debug!(order = %id, "Square order changed meanwhile; reading it again");
            }
        }
    }
    Err(ConnectorError::Transient(format!(
        "order {id} kept changing on Square ({VERSION_ROUNDS} version mismatches)"
    )))
}

/// Cancels an open order (Square voids or refunds its payments and cancels
/// its fulfilment). An order cancelled already is success; a completed one
/// cannot be cancelled, only refunded.
pub(crate) async fn cancel(
    client: &SquareClient,
    req: &CancelRequest,
) -> Result<(), ConnectorError> {
    let id = &req.external_order_id;
    for _ in 0..VERSION_ROUNDS {
        let o = read(client, id).await?;
        match o.state.as_deref() {
            Some("CANCELED") => return Ok(()),
            Some("COMPLETED") => {
                return Err(ConnectorError::Permanent(format!(
                    "order {id} is completed on Square; it can be refunded, not cancelled"
                )))
            }
            _ => {}
        }
        let version = o.version.unwrap_or(0);
        let body = json!({
            "idempotency_key": idempotency_key(&req.idempotency_key, version),
            "order": {
                "location_id": o.location_id,
                "version": version,
                "state": "CANCELED",
            },
        });
        if update(client, id, &body).await? {
            return Ok(());
        }
    }
    Err(ConnectorError::Transient(format!(
        "order {id} kept changing on Square ({VERSION_ROUNDS} version mismatches)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chansync_sdk::model::{Fulfillment as Shipment, FulfillmentLine};

    fn order(state: &str, f_state: &str, meta: Value) -> Order {
        serde_json::from_value(json!({
            "id": "O1", "location_id": "L1", "state": state, "version": 3,
            "line_items": [{"uid": "a", "quantity": "2"}, {"uid": "b", "quantity": "1"}],
            "fulfillments": [{"uid": "F", "type": "SHIPMENT", "state": f_state,
                "metadata": meta, "shipment_details": {"tracking_number": "T0"}}],
        }))
        .unwrap()
    }

    fn ship(key: &str, lines: &[(&str, u32)], tracking: &str) -> FulfillmentRequest {
        FulfillmentRequest {
            external_order_id: "O1".into(),
            fulfillment: Shipment {
                location: None,
                carrier: Some("UPS".into()),
                tracking: Some(tracking.into()),
                lines: lines
                    .iter()
                    .map(|(id, q)| FulfillmentLine {
                        external_id: (*id).into(),
                        quantity: *q,
                    })
                    .collect(),
            },
            idempotency_key: key.into(),
        }
    }

    fn sent(p: Plan) -> Value {
        match p {
            Plan::Send(v) => v,
            Plan::Done => panic!("nothing sent"),
        }
    }

    #[test]
    fn a_whole_shipment_completes_the_fulfilment_with_its_tracking() {
        let o = order("OPEN", "RESERVED", Value::Null);
        let body = sent(plan_shipment(&o, &ship("k1", &[("a", 2), ("b", 1)], "1Z9")).unwrap());
        let f = &body["order"]["fulfillments"][0];
        assert_eq!(f["state"], "COMPLETED");
        assert_eq!(f["shipment_details"]["tracking_number"], "T0, 1Z9");
        assert_eq!(f["shipment_details"]["carrier"], "UPS");
        assert_eq!(body["order"]["version"], 3);
        assert_eq!(body["idempotency_key"], "k1:v3");
    }

    #[test]
    fn partial_shipments_count_units_until_the_last_completes() {
        let o = order("OPEN", "PROPOSED", Value::Null);
        let body = sent(plan_shipment(&o, &ship("k1", &[("a", 1)], "T1")).unwrap());
        let f = &body["order"]["fulfillments"][0];
        assert_eq!(f["state"], "PREPARED");
        assert_eq!(f["metadata"][SHIPPED_KEY], "a:1");
        let o = order(
            "OPEN",
            "PREPARED",
            json!({SHIPPED_KEY: "a:1", LAST_KEY: "k1"}),
        );
        // The same push again: already applied.
        assert!(matches!(
            plan_shipment(&o, &ship("k1", &[("a", 1)], "T1")).unwrap(),
            Plan::Done
        ));
        let body = sent(plan_shipment(&o, &ship("k2", &[("a", 1), ("b", 1)], "T2")).unwrap());
        let f = &body["order"]["fulfillments"][0];
        assert_eq!(f["state"], "COMPLETED");
        assert_eq!(f["metadata"][SHIPPED_KEY], "a:2,b:1");
    }

    #[test]
    fn cancelled_orders_and_unknown_lines_are_permanent_errors() {
        let o = order("CANCELED", "CANCELED", Value::Null);
        assert!(matches!(
            plan_shipment(&o, &ship("k", &[("a", 1)], "T")),
            Err(ConnectorError::Permanent(_))
        ));
        let o = order("OPEN", "PROPOSED", Value::Null);
        assert!(matches!(
            plan_shipment(&o, &ship("k", &[("zz", 1)], "T")),
            Err(ConnectorError::Permanent(_))
        ));
    }

    #[test]
    fn long_keys_keep_the_version_within_squares_limit() {
        let k = idempotency_key(&"x".repeat(300), 12);
        assert_eq!(k.len(), MAX_IDEMPOTENCY_KEY);
        assert!(k.ends_with(":v12"));
    }
}

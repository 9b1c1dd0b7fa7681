//! `PUT /v2/orders/{order_id}` (UpdateOrder) as Square documents it for the
//! fields chansync sends: a sparse order naming the `version` it applies to,
//! its `state` (`CANCELED` voids or refunds the payments and restocks) and
//! its fulfilments by `uid` (state, shipment details, metadata). A stale
//! version is `VERSION_MISMATCH`; only `OPEN` orders change; fulfilment
//! states only move forward (PROPOSED → RESERVED → PREPARED → COMPLETED, or
//! CANCELED). A repeated idempotency key with the same request answers the
//! order as it is now and changes nothing; with another request it is
//! refused. Every update applied is kept for `/_sim/state`
//! (`order_updates`) and announced with `order.updated`.

use std::collections::BTreeMap;

use rand_chacha::ChaCha8Rng;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::sim::api::{parse, ApiError};
use crate::sim::generate::{apply_cancel, next_timestamp, now_ms};
use crate::sim::model::{CardStatus, OrderState, ShipmentState, SimOrder};
use crate::sim::state::Shared;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateOrderRequest {
    order: Option<SparseOrder>,
    #[serde(default)]
    fields_to_clear: Vec<String>,
    idempotency_key: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SparseOrder {
    version: Option<i64>,
    location_id: Option<String>,
    state: Option<String>,
    #[serde(default)]
    fulfillments: Vec<SparseFulfillment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SparseFulfillment {
    uid: Option<String>,
    state: Option<String>,
    shipment_details: Option<SparseShipment>,
    metadata: Option<BTreeMap<String, String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SparseShipment {
    carrier: Option<String>,
    tracking_number: Option<String>,
    tracking_url: Option<String>,
    shipping_note: Option<String>,
}

fn shipment_state(s: &str) -> Option<ShipmentState> {
    Some(match s {
        "PROPOSED" => ShipmentState::Proposed,
        "RESERVED" => ShipmentState::Reserved,
        "PREPARED" => ShipmentState::Prepared,
        "COMPLETED" => ShipmentState::Completed,
        "CANCELED" => ShipmentState::Canceled,
        _ => return None,
    })
}

fn progress(s: ShipmentState) -> u8 {
    match s {
        ShipmentState::Proposed => 0,
        ShipmentState::Reserved => 1,
        ShipmentState::Prepared => 2,
        ShipmentState::Completed => 3,
        ShipmentState::Canceled => 4,
    }
}

fn fully_paid(o: &SimOrder) -> bool {
    !o.tenders
        .iter()
        .any(|t| t.card == Some(CardStatus::Authorized))
}

fn invalid(detail: impl Into<String>, field: &str) -> ApiError {
    ApiError::bad("INVALID_VALUE", detail, Some(field))
}

/// Checks the request against the order and applies it to `o`; what it
/// changed, for the record.
fn apply(o: &mut SimOrder, sparse: &SparseOrder, rng: &mut ChaCha8Rng) -> Result<Value, ApiError> {
    let version = sparse.version.ok_or_else(|| {
        ApiError::bad(
            "MISSING_REQUIRED_PARAMETER",
            "`order.version` is required.",
            Some("order.version"),
        )
    })?;
    if version != o.version {
        return Err(ApiError::bad(
            "VERSION_MISMATCH",
            format!(
                "Order version {version} does not match the current version {}.",
                o.version
            ),
            Some("order.version"),
        ));
    }
    if let Some(l) = &sparse.location_id {
        if *l != o.location_id {
            return Err(invalid(
                "`location_id` cannot be changed.",
                "order.location_id",
            ));
        }
    }
    if o.state != OrderState::Open {
        return Err(ApiError::bad(
            "BAD_REQUEST",
            format!("An order in state {} cannot be updated.", o.state.as_str()),
            None,
        ));
    }
    let at = next_timestamp(o.updated_at, now_ms());
    let mut record = json!({});
    // Validate every fulfilment first: all or nothing.
    let mut planned = Vec::new();
    for (i, f) in sparse.fulfillments.iter().enumerate() {
        let field = |k: &str| format!("order.fulfillments[{i}].{k}");
        let uid = f.uid.as_deref().ok_or_else(|| {
            ApiError::bad(
                "MISSING_REQUIRED_PARAMETER",
                "A fulfillment to update needs its `uid`.",
                Some(&field("uid")),
            )
        })?;
        let current = o
            .shipment
            .as_ref()
            .filter(|s| s.uid == uid)
            .ok_or_else(|| invalid(format!("No fulfillment with uid `{uid}`."), &field("uid")))?;
        let next = match f.state.as_deref() {
            None => None,
            Some(s) => Some(shipment_state(s).ok_or_else(|| {
                invalid(
                    format!("`{s}` is not a fulfillment state."),
                    &field("state"),
                )
            })?),
        };
        if let Some(n) = next {
            let finished = matches!(
                current.state,
                ShipmentState::Completed | ShipmentState::Canceled
            );
            if n != current.state && (finished || progress(n) < progress(current.state)) {
                return Err(ApiError::bad(
                    "INVALID_STATE_TRANSITION",
                    format!(
                        "A fulfillment cannot move from {} to {}.",
                        current.state.as_str(),
                        n.as_str()
                    ),
                    Some(&field("state")),
                ));
            }
        }
        if let Some(m) = &f.metadata {
            let merged: usize = current
                .metadata
                .keys()
                .chain(m.keys())
                .collect::<std::collections::BTreeSet<_>>()
                .len();
            if merged > 10 {
                return Err(invalid(
                    "A fulfillment holds at most 10 metadata entries.",
                    &field("metadata"),
                ));
            }
            if let Some((k, _)) = m.iter().find(|(k, v)| k.len() > 60 || v.len() > 255) {
                return Err(invalid(
                    format!("Metadata `{k}`: keys hold 60 characters, values 255."),
                    &field("metadata"),
                ));
            }
        }
        if let Some(d) = &f.shipment_details {
            if d.tracking_number.as_ref().is_some_and(|t| t.len() > 100) {
                return Err(invalid(
                    "`tracking_number` holds at most 100 characters.",
                    &field("shipment_details.tracking_number"),
                ));
            }
        }
        planned.push((f, next));
    }
    let cancel = match sparse.state.as_deref() {
        None | Some("OPEN") => false,
        Some("CANCELED") => true,
        Some("COMPLETED") => {
            let shipped = o
                .shipment
                .as_ref()
                .is_none_or(|s| s.state == ShipmentState::Completed);
            if !(shipped && fully_paid(o)) {
                return Err(ApiError::bad(
                    "BAD_REQUEST",
                    "An order completes once it is paid and its fulfillments are completed.",
                    Some("order.state"),
                ));
            }
            o.state = OrderState::Completed;
            o.closed_at = Some(at);
            false
        }
        Some(s) => {
            return Err(invalid(
                format!("`{s}` is not an order state."),
                "order.state",
            ))
        }
    };
    for (f, next) in planned {
        let s = o.shipment.as_mut().expect("validated");
        if let Some(d) = &f.shipment_details {
            if let Some(c) = &d.carrier {
                s.carrier = Some(c.clone());
            }
            if let Some(t) = &d.tracking_number {
                s.tracking = Some(t.clone());
            }
            let _ = (&d.tracking_url, &d.shipping_note);
        }
        if let Some(m) = &f.metadata {
            s.metadata.extend(m.clone());
        }
        if let Some(n) = next {
            if n != s.state {
                s.state = n;
                match n {
                    ShipmentState::Completed => s.shipped_at = Some(at),
                    ShipmentState::Canceled => s.canceled_at = Some(at),
                    _ => {}
                }
            }
        }
        record["fulfillment_uid"] = json!(s.uid);
        record["fulfillment_state"] = json!(s.state.as_str());
        record["carrier"] = json!(s.carrier);
        record["tracking_number"] = json!(s.tracking);
        record["metadata"] = json!(s.metadata);
    }
    if cancel {
        // As the seller cancelling in the Dashboard: payments voided or
        // refunded, the shipment cancelled (apply_cancel bumps the version).
        apply_cancel(o, rng, at);
    } else {
        let shipped = o
            .shipment
            .as_ref()
            .is_some_and(|s| s.state == ShipmentState::Completed);
        if shipped && fully_paid(o) && o.state == OrderState::Open {
            o.state = OrderState::Completed;
            o.closed_at = Some(at);
        }
        o.updated_at = at;
        o.version += 1;
    }
    record["order_state"] = json!(o.state.as_str());
    record["version"] = json!(o.version);
    Ok(record)
}

/// `PUT /v2/orders/{order_id}`.
pub(crate) fn update_order(shared: &Shared, id: &str, body: &[u8]) -> Result<Value, ApiError> {
    let req: UpdateOrderRequest = parse(body)?;
    let raw: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    if let Some(k) = &req.idempotency_key {
        if k.is_empty() || k.chars().count() > 192 {
            return Err(invalid(
                "`idempotency_key` holds 1 to 192 characters.",
                "idempotency_key",
            ));
        }
    }
    if !req.fields_to_clear.is_empty() {
        return Err(invalid(
            "The simulator clears no fields.",
            "fields_to_clear",
        ));
    }
    let sparse = req.order.ok_or_else(|| {
        ApiError::bad(
            "MISSING_REQUIRED_PARAMETER",
            "`order` is required.",
            Some("order"),
        )
    })?;
    shared.update_order_with(id, |o, seen, rng| {
        if let Some(k) = &req.idempotency_key {
            if let Some(first) = seen.get(k) {
                return if *first == raw {
                    Ok(None)
                } else {
                    Err(ApiError::bad(
                        "IDEMPOTENCY_KEY_REUSED",
                        format!("The idempotency key `{k}` was used for a different request."),
                        Some("idempotency_key"),
                    ))
                };
            }
        }
        let mut record = apply(o, &sparse, rng)?;
        record["order_id"] = json!(id);
        record["idempotency_key"] = json!(req.idempotency_key);
        if let Some(k) = &req.idempotency_key {
            seen.insert(k.clone(), raw.clone());
        }
        Ok(Some(record))
    })
}

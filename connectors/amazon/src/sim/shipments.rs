//! `confirmShipment` in the simulated Amazon: the package is checked the way
//! the spec describes it (marketplace, positive numeric package reference
//! unique within the order, carrier, tracking number, ISO 8601 ship date,
//! items and quantities no more than what is unshipped), then recorded and
//! the order's items and status move on.

use std::collections::BTreeMap;

use chrono::DateTime;
use serde_json::{json, Value};

use crate::sim::model::{iso, Channel, Status};
use crate::sim::state::{lock, now_seconds, Shared};
use crate::wire::{ConfirmShipmentRequest, ErrorList};

/// A refused confirmation: the status and the error body.
pub(crate) type Refusal = (u16, ErrorList);

/// The spec's 400 for `confirmShipment` (its sandbox code and message, the
/// reason in `details`).
fn invalid(details: impl Into<String>) -> Refusal {
    (
        400,
        ErrorList::one("Invalid Input", "Invalid Input", Some(details.into())),
    )
}

impl Shared {
    /// Records a shipment confirmation, or says why it is refused.
    pub(crate) fn confirm_shipment(&self, order_id: &str, body: &[u8]) -> Result<(), Refusal> {
        let req: ConfirmShipmentRequest =
            serde_json::from_slice(body).map_err(|e| invalid(format!("unreadable body: {e}")))?;
        let p = &req.package_detail;
        let mut store = lock(&self.store);
        let store = &mut *store;
        let order = store.orders.get_mut(order_id).ok_or_else(|| {
            (
                404,
                ErrorList::one(
                    "NotFound",
                    "The specified resource does not exist.",
                    Some(format!("no order {order_id}")),
                ),
            )
        })?;
        if req.marketplace_id != order.marketplace.id {
            return Err(invalid(format!(
                "marketplaceId {} is not the order's marketplace",
                req.marketplace_id
            )));
        }
        if order.channel != Channel::Merchant {
            return Err(invalid("the order is fulfilled by Amazon"));
        }
        if !matches!(order.status, Status::Unshipped | Status::PartiallyShipped) {
            return Err(invalid(format!(
                "an order in status {} takes no shipment",
                order.status.as_str()
            )));
        }
        if !p.package_reference_id.parse::<u64>().is_ok_and(|n| n > 0) {
            return Err(invalid("packageReferenceId must be a positive number"));
        }
        if order.packages.contains(&p.package_reference_id) {
            return Err(invalid(format!(
                "packageReferenceId {} is already used in this order",
                p.package_reference_id
            )));
        }
        if p.carrier_code.trim().is_empty() {
            return Err(invalid("carrierCode is required"));
        }
        if p.carrier_code == "Other"
            && p.carrier_name
                .as_deref()
                .is_none_or(|n| n.trim().is_empty())
        {
            return Err(invalid("carrierName is required when carrierCode is Other"));
        }
        if p.tracking_number.trim().is_empty() {
            return Err(invalid("trackingNumber is required"));
        }
        if DateTime::parse_from_rfc3339(&p.ship_date).is_err() {
            return Err(invalid(format!(
                "shipDate {:?} is not an ISO 8601 date-time",
                p.ship_date
            )));
        }
        if p.order_items.is_empty() {
            return Err(invalid("orderItems must not be empty"));
        }
        let mut wanted: BTreeMap<&str, u32> = BTreeMap::new();
        for i in &p.order_items {
            if i.quantity == 0 {
                return Err(invalid(format!(
                    "quantity of {} must be at least 1",
                    i.order_item_id
                )));
            }
            *wanted.entry(i.order_item_id.as_str()).or_default() += i.quantity;
        }
        for (id, quantity) in &wanted {
            let item = order
                .items
                .iter()
                .find(|i| i.order_item_id == *id)
                .ok_or_else(|| invalid(format!("the order has no item {id}")))?;
            if *quantity > item.quantity - item.shipped {
                return Err(invalid(format!(
                    "{quantity} of item {id} exceed the {} not yet shipped",
                    item.quantity - item.shipped
                )));
            }
        }
        for item in &mut order.items {
            if let Some(q) = wanted.get(item.order_item_id.as_str()) {
                item.shipped += q;
            }
        }
        order.status = if order.items.iter().all(|i| i.shipped == i.quantity) {
            Status::Shipped
        } else {
            Status::PartiallyShipped
        };
        let now = now_seconds();
        order.last_update = now.max(order.last_update);
        order.packages.push(p.package_reference_id.clone());
        let record: Value = json!({
            "order_id": order_id,
            "marketplace_id": req.marketplace_id,
            "package_reference_id": p.package_reference_id,
            "carrier_code": p.carrier_code,
            "carrier_name": p.carrier_name,
            "tracking_number": p.tracking_number,
            "ship_date": p.ship_date,
            "items": p.order_items.iter().map(|i| json!({
                "order_item_id": i.order_item_id,
                "quantity": i.quantity,
            })).collect::<Vec<_>>(),
            "received_at": iso(now),
        });
        store.fulfillments.push(record);
        Ok(())
    }
}

//! Shipment push-back through `confirmShipment`. Orders v0 has no
//! idempotency key and no duplicate error, so every attempt first reads the
//! order (`getOrder`) and its items (`getOrderItems`) and confirms only what
//! Amazon does not yet show as shipped: a repeated confirmation finds nothing
//! left and succeeds without sending. The package reference is derived from
//! the request's idempotency key, so a resend is the same package.

use std::collections::HashMap;
use std::time::Duration;

use chansync_sdk::{ConnectorError, FulfillmentRequest};
use chrono::{SecondsFormat, Utc};
use reqwest::Method;

use crate::client::SpApi;
use crate::ops::Operation;
use crate::orders;
use crate::wire::{ConfirmShipmentOrderItem, ConfirmShipmentRequest, OrderItem, PackageDetail};

/// Tries of read-then-confirm before giving up.
const ATTEMPTS: u32 = 6;
const FIRST_DELAY: Duration = Duration::from_millis(200);
const MAX_DELAY: Duration = Duration::from_secs(10);

/// Carrier codes sent as they are (case-insensitively matched); any other
/// carrier goes as `Other` with its name.
const CARRIER_CODES: &[&str] = &["UPS", "USPS", "FedEx", "DHL"];

/// `carrierCode` and `carrierName` for a carrier as chansync names it.
pub fn carrier(name: &str) -> (String, Option<String>) {
    let name = name.trim();
    match CARRIER_CODES.iter().find(|c| c.eq_ignore_ascii_case(name)) {
        Some(code) => ((*code).to_owned(), None),
        None => ("Other".to_owned(), Some(name.to_owned())),
    }
}

/// The positive number Amazon wants as `packageReferenceId`, from the
/// request's idempotency key: the same request is always the same package.
pub fn package_reference_id(idempotency_key: &str) -> String {
    let d = chansync_sdk::webhook::hmac_sha256(
        b"chansync/packageReferenceId",
        idempotency_key.as_bytes(),
    );
    let n = u32::from_be_bytes([d[0], d[1], d[2], d[3]]) % 999_999_999 + 1;
    n.to_string()
}

/// What is left to confirm: each requested line up to what Amazon shows as
/// not yet shipped (every unshipped item when no lines are named).
pub fn remaining(
    items: &[OrderItem],
    lines: &[chansync_sdk::model::FulfillmentLine],
) -> Result<Vec<ConfirmShipmentOrderItem>, ConnectorError> {
    let open = |i: &OrderItem| {
        i.quantity_ordered
            .saturating_sub(i.quantity_shipped.unwrap_or(0))
    };
    if lines.is_empty() {
        return Ok(items
            .iter()
            .filter(|i| open(i) > 0)
            .map(|i| ConfirmShipmentOrderItem {
                order_item_id: i.order_item_id.clone(),
                quantity: open(i),
            })
            .collect());
    }
    let by_id: HashMap<&str, &OrderItem> = items
        .iter()
        .map(|i| (i.order_item_id.as_str(), i))
        .collect();
    let mut wanted: Vec<(String, u32)> = Vec::new();
    for l in lines.iter().filter(|l| l.quantity > 0) {
        match wanted.iter_mut().find(|(id, _)| *id == l.external_id) {
            Some((_, q)) => *q += l.quantity,
            None => wanted.push((l.external_id.clone(), l.quantity)),
        }
    }
    let mut out = Vec::new();
    for (id, quantity) in wanted {
        let item = by_id.get(id.as_str()).ok_or_else(|| {
            ConnectorError::Permanent(format!("the order has no item {id} (an OrderItemId)"))
        })?;
        let left = open(item).min(quantity);
        if left > 0 {
            out.push(ConfirmShipmentOrderItem {
                order_item_id: id,
                quantity: left,
            });
        }
    }
    Ok(out)
}

fn items_of(order_id: &str, raw: &[serde_json::Value]) -> Result<Vec<OrderItem>, ConnectorError> {
    raw.iter()
        .map(|v| {
            serde_json::from_value(v.clone()).map_err(|e| {
                ConnectorError::InvalidResponse(format!("order {order_id}: an item: {e}"))
            })
        })
        .collect()
}

/// Confirms the shipment, checking the order before each try.
pub(crate) async fn push(api: &SpApi, req: &FulfillmentRequest) -> Result<(), ConnectorError> {
    let tracking = req
        .fulfillment
        .tracking
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ConnectorError::Permanent("Amazon needs a tracking number to confirm a shipment".into())
        })?;
    let carrier_name = req
        .fulfillment
        .carrier
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .ok_or_else(|| {
            ConnectorError::Permanent("Amazon needs a carrier to confirm a shipment".into())
        })?;
    let (carrier_code, carrier_name) = carrier(carrier_name);
    let mut delay = FIRST_DELAY;
    let mut tries = 1;
    loop {
        match attempt(api, req, tracking, &carrier_code, carrier_name.as_deref()).await {
            Err(e) if e.is_retryable() && tries < ATTEMPTS => {
                let wait = e.retry_after().unwrap_or(delay);
                let wait = wait + wait.mul_f64(rand::random::<f64>() * 0.2);
                tracing::warn!(external_id = %req.external_order_id, error = %e,
                    retry_in_ms = wait.as_millis() as u64,
                    "shipment confirmation failed; reading the order again before retrying");
                tokio::time::sleep(wait).await;
                delay = (delay * 2).min(MAX_DELAY);
                tries += 1;
            }
            other => return other,
        }
    }
}

async fn attempt(
    api: &SpApi,
    req: &FulfillmentRequest,
    tracking: &str,
    carrier_code: &str,
    carrier_name: Option<&str>,
) -> Result<(), ConnectorError> {
    let id = req.external_order_id.as_str();
    let (order, _) = orders::order(api, id).await?;
    if order.fulfillment_channel.as_deref() == Some("AFN") {
        return Err(ConnectorError::Permanent(format!(
            "order {id} is fulfilled by Amazon (AFN); there is no shipment to confirm"
        )));
    }
    match order.order_status.as_str() {
        "Canceled" | "Unfulfillable" => {
            return Err(ConnectorError::Permanent(format!(
                "order {id} is {}; it cannot be shipped",
                order.order_status
            )))
        }
        "Pending" | "PendingAvailability" => {
            return Err(ConnectorError::Transient(format!(
                "order {id} is {} (payment not authorized yet); Amazon takes no shipment for it",
                order.order_status
            )))
        }
        _ => {}
    }
    let marketplace_id = order.marketplace_id.clone().ok_or_else(|| {
        ConnectorError::InvalidResponse(format!("order {id} has no MarketplaceId"))
    })?;
    let items = items_of(id, &orders::order_items(api, id).await?)?;
    let package = remaining(&items, &req.fulfillment.lines)?;
    if package.is_empty() {
        tracing::info!(external_id = %id, "Amazon already shows these items shipped; nothing to confirm");
        return Ok(());
    }
    let body = serde_json::to_value(ConfirmShipmentRequest {
        marketplace_id,
        package_detail: PackageDetail {
            package_reference_id: package_reference_id(&req.idempotency_key),
            carrier_code: carrier_code.to_owned(),
            carrier_name: carrier_name.map(str::to_owned),
            shipping_method: None,
            tracking_number: tracking.to_owned(),
            ship_date: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
            order_items: package.clone(),
        },
    })
    .expect("a confirmation serializes");
    let url = api.url(&["orders", "v0", "orders", id, "shipmentConfirmation"], &[]);
    match api
        .call_once::<()>(Operation::ConfirmShipment, Method::POST, url, Some(&body))
        .await
    {
        Ok(()) => {
            tracing::info!(external_id = %id, items = package.len(), "shipment confirmed");
            Ok(())
        }
        Err(ConnectorError::Permanent(message)) => {
            // Refused: perhaps because an earlier try did land after all.
            let items = items_of(id, &orders::order_items(api, id).await?)?;
            let requested: Vec<_> = package
                .iter()
                .map(|p| chansync_sdk::model::FulfillmentLine {
                    external_id: p.order_item_id.clone(),
                    quantity: p.quantity,
                })
                .collect();
            if remaining(&items, &requested)?.is_empty() {
                tracing::info!(external_id = %id, "confirmation refused, but Amazon shows the items shipped");
                Ok(())
            } else {
                Err(ConnectorError::Permanent(message))
            }
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use chansync_sdk::model::FulfillmentLine;

    use super::*;

    fn item(id: &str, ordered: u32, shipped: u32) -> OrderItem {
        serde_json::from_value(serde_json::json!({
            "ASIN": "B0", "OrderItemId": id, "QuantityOrdered": ordered, "QuantityShipped": shipped
        }))
        .unwrap()
    }

    fn line(id: &str, quantity: u32) -> FulfillmentLine {
        FulfillmentLine {
            external_id: id.into(),
            quantity,
        }
    }

    #[test]
    fn only_what_is_not_yet_shipped_is_confirmed() {
        let items = [item("1", 2, 0), item("2", 3, 1), item("3", 1, 1)];
        let all = remaining(&items, &[]).unwrap();
        assert_eq!(
            all.iter()
                .map(|i| (i.order_item_id.as_str(), i.quantity))
                .collect::<Vec<_>>(),
            [("1", 2), ("2", 2)]
        );
        let some = remaining(&items, &[line("2", 5), line("3", 1)]).unwrap();
        assert_eq!(some.len(), 1);
        assert_eq!((some[0].order_item_id.as_str(), some[0].quantity), ("2", 2));
        assert!(remaining(&items, &[line("3", 1)]).unwrap().is_empty());
        assert!(matches!(
            remaining(&items, &[line("9", 1)]),
            Err(ConnectorError::Permanent(_))
        ));
    }

    #[test]
    fn package_ids_are_positive_numbers_stable_per_request() {
        let a = package_reference_id("outbox-17");
        assert_eq!(a, package_reference_id("outbox-17"));
        assert_ne!(a, package_reference_id("outbox-18"));
        let n: u64 = a.parse().unwrap();
        assert!(n >= 1);
    }

    #[test]
    fn unknown_carriers_go_as_other_with_their_name() {
        assert_eq!(carrier("fedex"), ("FedEx".into(), None));
        assert_eq!(carrier(" DHL "), ("DHL".into(), None));
        assert_eq!(
            carrier("Royal Mail"),
            ("Other".into(), Some("Royal Mail".into()))
        );
    }
}

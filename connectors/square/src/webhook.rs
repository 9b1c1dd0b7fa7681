//! Square webhooks (shared/specs/square/WEBHOOKS.md): `x-square-hmacsha256-signature`
//! is base64(HMAC-SHA256(signature key, notification URL + raw body)),
//! checked in constant time; the dedupe key is the envelope's `event_id`.
//! `order.*` events carry only a summary, so they name the order for the
//! daemon to fetch; `inventory.count.updated` carries the new counts.

use chansync_sdk::webhook::{hmac_sha256_parts, verify_base64};
use chansync_sdk::{
    ExposeSecret, OnHand, SecretString, WebhookDelivery, WebhookError, WebhookEvent, WebhookRequest,
};

use crate::catalog::Catalog;
use crate::stock::on_hand_of;
use crate::wire::{Event, InventoryCount, OrderSummary};

/// The signature header (HMAC-SHA256).
pub const SIGNATURE_HEADER: &str = "x-square-hmacsha256-signature";

/// The event types that mean "this order changed".
pub const ORDER_EVENTS: &[&str] = &[
    "order.created",
    "order.updated",
    "order.fulfillment.updated",
];

/// The type that carries inventory counts.
pub const INVENTORY_EVENT: &str = "inventory.count.updated";

/// The signature Square sends for `body` posted to `url` under `key`.
pub fn signature(key: &[u8], url: &str, body: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256_parts(key, &[url.as_bytes(), body]))
}

/// Checks the signature over `url` + the raw body.
pub fn verify(
    key: Option<&SecretString>,
    url: &str,
    req: &WebhookRequest<'_>,
) -> Result<(), WebhookError> {
    let key = key.ok_or_else(|| {
        WebhookError::BadSignature(
            "no webhook_secret (the subscription's signature key) is configured".into(),
        )
    })?;
    let sig = req
        .headers
        .get(SIGNATURE_HEADER)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| WebhookError::BadSignature(format!("missing {SIGNATURE_HEADER}")))?;
    let expected = hmac_sha256_parts(key.expose_secret().as_bytes(), &[url.as_bytes(), req.body]);
    if verify_base64(&expected, sig) {
        Ok(())
    } else {
        Err(WebhookError::BadSignature(format!(
            "{SIGNATURE_HEADER} does not match the notification URL and body"
        )))
    }
}

/// Reads a verified delivery. `locations` are the synced locations (empty:
/// all); events about other locations are acknowledged and ignored.
pub fn parse(
    req: &WebhookRequest<'_>,
    catalog: &Catalog,
    locations: &[String],
) -> Result<WebhookDelivery, WebhookError> {
    let event: Event = serde_json::from_slice(req.body)
        .map_err(|e| WebhookError::Malformed(format!("not a Square event: {e}")))?;
    if event.event_id.trim().is_empty() {
        return Err(WebhookError::Malformed("event without event_id".into()));
    }
    let synced = |l: Option<&str>| {
        locations.is_empty() || l.is_some_and(|l| locations.iter().any(|s| s == l))
    };
    let kind = event.kind.as_str();
    let data = event.data.unwrap_or_default();
    let parsed = if ORDER_EVENTS.contains(&kind) {
        let summary = data
            .object
            .as_object()
            .and_then(|o| o.values().find(|v| v.get("order_id").is_some()))
            .map(|v| serde_json::from_value::<OrderSummary>(v.clone()))
            .transpose()
            .map_err(|e| WebhookError::Malformed(format!("{kind}: {e}")))?
            .unwrap_or_default();
        let id = summary
            .order_id
            .clone()
            .or(data.id.clone())
            .filter(|id| !id.is_empty())
            .ok_or_else(|| WebhookError::Malformed(format!("{kind} without an order id")))?;
        if summary.state.as_deref() == Some("DRAFT") || !synced(summary.location_id.as_deref()) {
            // A draft is not placed yet; another location is not synced.
            WebhookEvent::Ignored
        } else {
            WebhookEvent::OrderChanged { external_id: id }
        }
    } else if kind == INVENTORY_EVENT {
        let counts: Vec<InventoryCount> = data
            .object
            .get("inventory_counts")
            .map(|v| serde_json::from_value(v.clone()))
            .transpose()
            .map_err(|e| WebhookError::Malformed(format!("{kind}: {e}")))?
            .unwrap_or_default();
        let counts: Vec<InventoryCount> = counts
            .into_iter()
            .filter(|c| synced(c.location_id.as_deref()))
            .collect();
        WebhookEvent::StockChanged(stock_changes(&counts, catalog))
    } else {
        WebhookEvent::Ignored
    };
    Ok(WebhookDelivery {
        event_id: event.event_id,
        topic: event.kind,
        event: parsed,
    })
}

/// The counts whose variation the catalog cache knows, as on hand. A
/// variation not seen yet (parsing cannot wait for the Catalog API) is left
/// to the next `read_on_hand`, which reads every count.
fn stock_changes(counts: &[InventoryCount], catalog: &Catalog) -> Vec<OnHand> {
    on_hand_of(counts, |id| {
        let sku = catalog.channel_sku_cached(id);
        if sku.is_none() {
            tracing::debug!(catalog_object_id = %id,
                "count for a variation whose SKU is not known yet; the next stock read brings it");
        }
        sku
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The vector of shared/specs/square/WEBHOOKS.md (square-python-sdk tests).
    #[test]
    fn the_documented_vector_signs() {
        let body = br#"{"data":{"type":"webhooks","id":">id<"}}"#;
        assert_eq!(
            signature(b"signature-key", "https://webhook.site/webhooks", body),
            "Cxt7+aTi4rKgcA0bC4g9EHdVtLSDWdqccmL5MvihU4U="
        );
    }
}

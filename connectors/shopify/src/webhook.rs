//! Shopify webhooks: `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw
//! body under the app's secret), deduplicated by `X-Shopify-Webhook-Id`, with
//! `orders/*` bodies in the REST order shape.

use chansync_sdk::webhook::{hmac_sha256, verify_base64};
use chansync_sdk::{
    ExposeSecret, SecretString, WebhookDelivery, WebhookError, WebhookEvent, WebhookRequest,
};

use crate::normalize;
use crate::rest::RestOrder;

/// The topics whose body is an order.
pub const ORDER_TOPICS: &[&str] = &[
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "orders/paid",
    "orders/fulfilled",
    "orders/partially_fulfilled",
    "orders/edited",
];

fn header<'a>(req: &'a WebhookRequest<'_>, name: &str) -> Option<&'a str> {
    // Both the `X-Shopify-*` and the newer `Shopify-*` forms are accepted.
    req.headers
        .get(format!("x-shopify-{name}"))
        .or_else(|| req.headers.get(format!("shopify-{name}")))
        .and_then(|v| v.to_str().ok())
}

/// Verifies the delivery's HMAC.
pub fn verify(secret: Option<&SecretString>, req: &WebhookRequest<'_>) -> Result<(), WebhookError> {
    let secret = secret.ok_or_else(|| {
        WebhookError::BadSignature("no webhook_secret is configured for this connector".into())
    })?;
    let sig = header(req, "hmac-sha256")
        .ok_or_else(|| WebhookError::BadSignature("missing X-Shopify-Hmac-Sha256".into()))?;
    let expected = hmac_sha256(secret.expose_secret().as_bytes(), req.body);
    if verify_base64(&expected, sig) {
        Ok(())
    } else {
        Err(WebhookError::BadSignature(
            "X-Shopify-Hmac-Sha256 does not match the body".into(),
        ))
    }
}

/// Reads a verified delivery.
pub fn parse(req: &WebhookRequest<'_>) -> Result<WebhookDelivery, WebhookError> {
    let topic = header(req, "topic")
        .ok_or_else(|| WebhookError::Malformed("missing X-Shopify-Topic".into()))?;
    let event_id = header(req, "webhook-id")
        .or_else(|| header(req, "event-id"))
        .ok_or_else(|| WebhookError::Malformed("missing X-Shopify-Webhook-Id".into()))?;
    let event = if ORDER_TOPICS.contains(&topic) {
        let order: RestOrder = serde_json::from_slice(req.body)
            .map_err(|e| WebhookError::Malformed(format!("{topic} body: {e}")))?;
        let order = normalize::from_rest(&order)
            .map_err(|e| WebhookError::Malformed(format!("{topic} body: {e}")))?;
        WebhookEvent::Order(Box::new(order))
    } else {
        serde_json::from_slice::<serde::de::IgnoredAny>(req.body)
            .map_err(|e| WebhookError::Malformed(format!("{topic} body: {e}")))?;
        WebhookEvent::Ignored
    };
    Ok(WebhookDelivery {
        event_id: event_id.to_owned(),
        topic: topic.to_owned(),
        event,
    })
}

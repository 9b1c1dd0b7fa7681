//! Cancellation push-back: `orderCancel` with a reason mapped from chansync's
//! free text. Each try reads the order first, so an order Shopify already
//! shows as cancelled (an earlier push, the merchant) is success.

use chansync_sdk::{CancelRequest, ConnectorError};
use serde_json::json;

use crate::client::GraphqlClient;
use crate::fulfillment::order_gid;
use crate::graphql::{
    OrderCancelData, OrderCancelledData, ORDER_CANCELLED_QUERY, ORDER_CANCEL_MUTATION,
};

/// Shopify caps staff notes; chansync's stays well inside.
const STAFF_NOTE_MAX: usize = 250;

/// Shopify's `OrderCancelReason` for a free-text reason (`OTHER` by default).
pub fn cancel_reason(text: Option<&str>) -> &'static str {
    let t = text.unwrap_or("").trim().to_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| t.contains(w));
    if t.is_empty() {
        "OTHER"
    } else if has(&["fraud"]) {
        "FRAUD"
    } else if has(&["declin", "payment"]) {
        "DECLINED"
    } else if has(&["inventory", "stock", "unavailable", "sold out"]) {
        "INVENTORY"
    } else if has(&["staff", "mistake", "duplicate", "error"]) {
        "STAFF"
    } else if has(&["customer", "buyer", "changed", "request"]) {
        "CUSTOMER"
    } else {
        "OTHER"
    }
}

fn staff_note(text: Option<&str>) -> String {
    let note = match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) => format!("Cancelled by chansync: {t}"),
        None => "Cancelled by chansync".to_owned(),
    };
    note.chars().take(STAFF_NOTE_MAX).collect()
}

/// `Some(true)` when Shopify shows the order as cancelled, `None` when it
/// has no such order.
async fn cancelled(client: &GraphqlClient, gid: &str) -> Result<Option<bool>, ConnectorError> {
    let data: OrderCancelledData = client
        .query("order_cancelled", || {
            json!({
                "query": ORDER_CANCELLED_QUERY,
                "operationName": "OrderCancelled",
                "variables": { "id": gid },
            })
        })
        .await?;
    Ok(data.order.map(|o| o.cancelled_at.is_some()))
}

/// Cancels one order; an order already cancelled is success.
pub(crate) async fn push(
    client: &GraphqlClient,
    refund: bool,
    req: &CancelRequest,
) -> Result<(), ConnectorError> {
    let gid = order_gid(&req.external_order_id).ok_or_else(|| {
        ConnectorError::Permanent(format!(
            "{:?} is not a Shopify order id",
            req.external_order_id
        ))
    })?;
    let gid = gid.as_str();
    let reason = cancel_reason(req.reason.as_deref());
    let note = staff_note(req.reason.as_deref());
    let note = note.as_str();
    let unknown = || ConnectorError::Permanent(format!("Shopify has no order {gid}"));
    client
        .checked_retries("order_cancel", move || async move {
            match cancelled(client, gid).await? {
                None => return Err(unknown()),
                Some(true) => return Ok(()),
                Some(false) => {}
            }
            let data: OrderCancelData = client
                .mutate_once("order_cancel", || {
                    json!({
                        "query": ORDER_CANCEL_MUTATION,
                        "operationName": "OrderCancel",
                        "variables": {
                            "orderId": gid,
                            "reason": reason,
                            "refundMethod": { "originalPaymentMethodsRefund": refund },
                            "restock": true,
                            "notifyCustomer": false,
                            "staffNote": note,
                        },
                    })
                })
                .await?;
            let payload = data.order_cancel.ok_or_else(|| {
                ConnectorError::InvalidResponse("orderCancel answered null".into())
            })?;
            if let Some(e) = payload.order_cancel_user_errors.first() {
                if e.code.as_deref() == Some("NOT_FOUND") {
                    return Err(unknown());
                }
                // Cancelled meanwhile (our earlier try, whose answer was lost)?
                return match cancelled(client, gid).await? {
                    Some(true) => Ok(()),
                    _ => Err(ConnectorError::Permanent(format!(
                        "Shopify refused to cancel order {gid} ({}): {}",
                        e.code.as_deref().unwrap_or("no code"),
                        e.message
                    ))),
                };
            }
            match payload.job {
                Some(job) => {
                    tracing::info!(order = %gid, reason, job = %job.id, done = job.done,
                        idempotency_key = %req.idempotency_key, "order cancellation accepted by Shopify");
                    Ok(())
                }
                None => Err(ConnectorError::InvalidResponse(
                    "orderCancel answered without a job or an error".into(),
                )),
            }
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reasons() {
        for (text, expect) in [
            (None, "OTHER"),
            (Some(""), "OTHER"),
            (Some("customer"), "CUSTOMER"),
            (Some("Customer changed their mind"), "CUSTOMER"),
            (Some("out of stock"), "INVENTORY"),
            (Some("INVENTORY"), "INVENTORY"),
            (Some("payment declined"), "DECLINED"),
            (Some("suspected fraud"), "FRAUD"),
            (Some("duplicate order"), "STAFF"),
            (Some("staff"), "STAFF"),
            (Some("weather"), "OTHER"),
        ] {
            assert_eq!(cancel_reason(text), expect, "{text:?}");
        }
    }

    #[test]
    fn staff_notes_say_why_and_stay_short() {
        assert_eq!(staff_note(None), "Cancelled by chansync");
        assert_eq!(
            staff_note(Some(" out of stock ")),
            "Cancelled by chansync: out of stock"
        );
        assert_eq!(
            staff_note(Some(&"x".repeat(1000))).chars().count(),
            STAFF_NOTE_MAX
        );
    }
}

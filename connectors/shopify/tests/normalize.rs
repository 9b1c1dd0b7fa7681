//! The mapping from Shopify's order JSON to the canonical order, checked on
//! the official REST Admin examples (shared/specs, copied to fixtures/).

use chansync_sdk::model::{ChannelStatus, PaymentStatus};
use chansync_shopify::normalize::from_rest;
use chansync_shopify::rest::RestOrder;
use rust_decimal::Decimal;

fn fixtures() -> Vec<serde_json::Value> {
    let text = include_str!("fixtures/rest-orders.json");
    serde_json::from_str(text).unwrap()
}

#[test]
fn every_official_example_order_maps() {
    let all = fixtures();
    assert!(all.len() >= 20, "{}", all.len());
    for raw in all {
        let o: RestOrder =
            serde_json::from_value(raw.clone()).unwrap_or_else(|e| panic!("{e}: {raw}"));
        let c = from_rest(&o).unwrap_or_else(|e| panic!("order {}: {e}", o.id));
        assert_eq!(c.external_id, o.id.to_string());
        assert_eq!(c.lines.len(), o.line_items.len());
        assert_eq!(c.currency.as_str(), o.currency);
        for l in &c.lines {
            assert_eq!(
                l.total,
                l.unit_price * Decimal::from(l.quantity) - l.discount,
                "order {} line {}",
                o.id,
                l.external_id
            );
        }
    }
}

#[test]
fn the_reference_order_maps_field_by_field() {
    let raw = fixtures()
        .into_iter()
        .find(|o| o["id"] == 450789469 && o["financial_status"] == "partially_refunded")
        .unwrap();
    let o: RestOrder = serde_json::from_value(raw).unwrap();
    let c = from_rest(&o).unwrap();
    assert_eq!(c.external_number.as_deref(), Some("#1001"));
    assert_eq!(c.status, ChannelStatus::Open);
    assert_eq!(c.payment_status, PaymentStatus::PartiallyRefunded);
    assert_eq!(c.currency.as_str(), "USD");
    // Shopify's strings keep their precision.
    assert_eq!(c.total.to_string(), "598.94");
    assert_eq!(c.subtotal.to_string(), "597.00");
    assert_eq!(c.tax_total.to_string(), "11.94");
    assert_eq!(c.discount_total.to_string(), "10.00");
    assert_eq!(c.shipping_total.to_string(), "0.00");
    assert_eq!(c.customer.name.as_deref(), Some("Bob Norman"));
    assert_eq!(
        c.customer.email.as_deref(),
        Some("bob.norman@mail.example.com")
    );
    let a = c.shipping_address.unwrap();
    assert_eq!(
        (
            a.country_code.as_str(),
            a.region.as_deref(),
            a.postal_code.as_str()
        ),
        ("US", Some("KY"), "40202")
    );
    assert_eq!(a.line2, None, "an empty address2 is no line2");
    assert_eq!(c.lines.len(), 3);
    let l = &c.lines[0];
    assert_eq!(l.channel_sku.as_deref(), Some("IPOD2008GREEN"));
    assert_eq!(l.unit_price.to_string(), "199.00");
    assert_eq!(l.discount.to_string(), "3.34");
    assert_eq!(l.total.to_string(), "195.66");
    assert_eq!(l.tax.to_string(), "3.98");
    assert_eq!(c.placed_at.to_rfc3339(), "2008-01-10T11:00:00-05:00");
    // The example's one fulfilment failed, so none counts.
    assert!(c.fulfillments.is_empty());
}

#[test]
fn cancelled_and_fulfilled_orders_have_the_channel_status() {
    let mut raw = fixtures().remove(0);
    raw["cancelled_at"] = "2026-01-01T00:00:00Z".into();
    let o: RestOrder = serde_json::from_value(raw.clone()).unwrap();
    assert_eq!(from_rest(&o).unwrap().status, ChannelStatus::Cancelled);
    raw["cancelled_at"] = serde_json::Value::Null;
    raw["fulfillment_status"] = "partial".into();
    let o: RestOrder = serde_json::from_value(raw).unwrap();
    assert_eq!(
        from_rest(&o).unwrap().status,
        ChannelStatus::PartiallyFulfilled
    );
}

#[test]
fn a_bad_amount_is_an_error_not_a_zero() {
    let mut raw = fixtures().remove(0);
    raw["total_price"] = "12,50".into();
    let o: RestOrder = serde_json::from_value(raw).unwrap();
    let e = from_rest(&o).unwrap_err();
    assert!(e.to_string().contains("total_price"), "{e}");
}

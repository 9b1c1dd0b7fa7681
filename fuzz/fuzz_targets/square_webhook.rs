//! A Square notification with any body, signed correctly over the
//! configured notification URL: it verifies and parsing never panics; a
//! parsed delivery has an event id, names a non-empty order id, and counts
//! stock only at the synced locations. A flipped signature, or one over the
//! URL the request reached instead of the configured one, never verifies.
#![no_main]

use std::sync::OnceLock;

use chansync_sdk::{ConnectorContext, SecretString, WebhookEvent, WebhookReceiver, WebhookRequest};
use chansync_square::webhook::{signature, SIGNATURE_HEADER};
use chansync_square::wire::CatalogObject;
use chansync_square::Square;
use libfuzzer_sys::fuzz_target;

const KEY: &str = "fuzz-signature-key";
/// The notification URL as configured on the subscription (Square signs it).
const NOTIFICATION_URL: &str = "https://chansync.example/webhooks/pos";
/// The URL the request reached (behind a proxy: not the one Square signs).
const REACHED_URL: &str = "http://127.0.0.1/webhooks/pos";
/// The synced locations: those of the spec's example notifications.
const LOCATIONS: [&str; 2] = ["YYQR03DGCTXA4", "FPYCBCHYMXFK1"];

fn square() -> &'static Square {
    static SQUARE: OnceLock<Square> = OnceLock::new();
    SQUARE.get_or_init(|| {
        let sq = Square::new(ConnectorContext {
            name: "fuzz".into(),
            base_url: "http://127.0.0.1:1".into(),
            access_token: Some(SecretString::from("t".to_owned())),
            webhook_secret: Some(SecretString::from(KEY.to_owned())),
            options: serde_json::json!({
                "webhook_url": NOTIFICATION_URL,
                "location_ids": LOCATIONS,
            }),
            ..Default::default()
        })
        .expect("valid context");
        // The variation of the spec's inventory example has a known SKU.
        let variation: CatalogObject = serde_json::from_value(serde_json::json!({
            "type": "ITEM_VARIATION",
            "id": "FGQ5JJWT2PYTHF35CKZ2DSKP",
            "item_variation_data": {"sku": "SKU-1"},
        }))
        .expect("a catalog object");
        sq.catalog().remember(&[variation]);
        sq
    })
}

fn request<'a>(headers: &'a http::HeaderMap, body: &'a [u8]) -> WebhookRequest<'a> {
    WebhookRequest {
        headers,
        body,
        url: REACHED_URL,
    }
}

fuzz_target!(|body: &[u8]| {
    let sq = square();
    let mut headers = http::HeaderMap::new();
    let sig = signature(KEY.as_bytes(), NOTIFICATION_URL, body);
    headers.insert(
        SIGNATURE_HEADER,
        http::HeaderValue::from_str(&sig).expect("base64 is a header value"),
    );
    let req = request(&headers, body);
    assert!(sq.verify(&req).is_ok(), "a correct signature verifies");
    if let Ok(d) = sq.parse(&req) {
        assert!(!d.event_id.trim().is_empty(), "a delivery has an event id");
        match d.event {
            WebhookEvent::OrderChanged { external_id } => {
                assert!(!external_id.is_empty(), "an order event names its order")
            }
            WebhookEvent::StockChanged(counts) => {
                for c in counts {
                    assert_eq!(c.channel_sku, "SKU-1", "only known variations count");
                    assert!(
                        c.channel_location
                            .as_deref()
                            .is_some_and(|l| LOCATIONS.contains(&l)),
                        "only synced locations count: {c:?}"
                    );
                }
            }
            WebhookEvent::Ignored | WebhookEvent::Order(_) => {}
        }
    }
    // A flipped signature never verifies.
    let mut wrong = sig.into_bytes();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    headers.insert(
        SIGNATURE_HEADER,
        http::HeaderValue::from_bytes(&wrong).expect("ascii"),
    );
    assert!(
        sq.verify(&request(&headers, body)).is_err(),
        "a wrong signature never verifies"
    );
    // Square signs the configured URL, not the one the request reached.
    let reached = signature(KEY.as_bytes(), REACHED_URL, body);
    headers.insert(
        SIGNATURE_HEADER,
        http::HeaderValue::from_str(&reached).expect("base64 is a header value"),
    );
    assert!(
        sq.verify(&request(&headers, body)).is_err(),
        "a signature over another URL never verifies"
    );
});

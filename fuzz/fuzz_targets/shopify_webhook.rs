//! A correctly signed Shopify webhook with any body: verify and parse never
//! panic; they accept an order or refuse it as malformed.
#![no_main]

use chansync_sdk::webhook::sign_base64;
use chansync_sdk::{ConnectorContext, ConnectorFactory, SecretString, WebhookRequest};
use libfuzzer_sys::fuzz_target;

const SECRET: &str = "fuzz-webhook-secret";

fuzz_target!(|body: &[u8]| {
    let shop = chansync_shopify::ShopifyFactory
        .build(ConnectorContext {
            name: "fuzz".into(),
            base_url: "http://127.0.0.1:1".into(),
            access_token: Some(SecretString::from("t".to_owned())),
            webhook_secret: Some(SecretString::from(SECRET.to_owned())),
            ..Default::default()
        })
        .expect("valid context");
    let hooks = shop.webhooks().expect("shopify takes webhooks");
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-shopify-topic",
        http::HeaderValue::from_static("orders/updated"),
    );
    headers.insert(
        "x-shopify-webhook-id",
        http::HeaderValue::from_static("fuzz-1"),
    );
    let sig = sign_base64(SECRET.as_bytes(), body);
    headers.insert(
        "x-shopify-hmac-sha256",
        http::HeaderValue::from_str(&sig).expect("base64 is a header value"),
    );
    let req = WebhookRequest {
        headers: &headers,
        body,
        url: "http://127.0.0.1/webhooks/fuzz",
    };
    assert!(hooks.verify(&req).is_ok(), "a correct signature verifies");
    let _ = hooks.parse(&req);
    // A flipped signature never verifies.
    let mut wrong = sig.into_bytes();
    wrong[0] = if wrong[0] == b'A' { b'B' } else { b'A' };
    headers.insert(
        "x-shopify-hmac-sha256",
        http::HeaderValue::from_bytes(&wrong).expect("ascii"),
    );
    let req = WebhookRequest {
        headers: &headers,
        body,
        url: "http://127.0.0.1/webhooks/fuzz",
    };
    assert!(
        hooks.verify(&req).is_err(),
        "a wrong signature never verifies"
    );
});

//! The admin API over HTTP against a running daemon: the bearer token, the
//! same JSON as the CLI, and the actions (stock set, fulfil, cancel, replay).

use std::time::Duration;

use crate::common::{Harness, Intake, Setup};
use serde_json::{json, Value};

const TOKEN: &str = "admin-token-7f3c9a1e";

async fn harness() -> Harness {
    let mut setup = Setup::new(Intake::Webhooks);
    setup.server_keys = format!("admin_token = \"{TOKEN}\"");
    setup.extra = "[[location]]\nname = \"leeds\"\ncountry = \"GB\"\npriority = 1\n".into();
    Harness::start(setup).await
}

fn api(h: &Harness, path: &str) -> String {
    format!("http://{}{path}", h.addr)
}

async fn call(
    method: reqwest::Method,
    url: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = reqwest::Client::new().request(method, url);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_api_needs_the_bearer_token() {
    let h = harness().await;
    for token in [None, Some("wrong"), Some("admin-token-7f3c9a1")] {
        let (status, body) = call(reqwest::Method::GET, &api(&h, "/api/orders"), token, None).await;
        assert_eq!(status, 401, "{token:?}: {body}");
    }
    let (status, body) = call(
        reqwest::Method::GET,
        &api(&h, "/api/orders"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body, json!([]));
    // Webhooks and health stay open.
    let health = reqwest::get(api(&h, "/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    h.stop().await.unwrap();
}

#[tokio::test]
async fn orders_stock_and_actions_through_the_api() {
    let h = harness().await;
    let ids = h.sim.create_orders(2);
    let orders = h.converge(Duration::from_secs(30)).await;
    let order = orders
        .iter()
        .find(|o| o.external_id == ids[0].to_string())
        .unwrap();
    let sku = order
        .lines
        .iter()
        .find_map(|l| l.sku.clone())
        .expect("a line with a SKU");

    let get = |path: String| {
        let url = api(&h, &path);
        async move { call(reqwest::Method::GET, &url, Some(TOKEN), None).await }
    };
    let (status, listed) = get("/api/orders".into()).await;
    assert_eq!(status, 200);
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let (status, shown) = get(format!("/api/orders/{}", order.id)).await;
    assert_eq!(status, 200);
    assert_eq!(shown["external_id"], order.external_id);
    assert_eq!(shown["history"][0]["kind"], "created");
    let (status, _) = get("/api/orders/999999".into()).await;
    assert_eq!(status, 404);

    // Stock set by the API: audited as "api", shown by GET /api/stock.
    let (status, set) = call(
        reqwest::Method::PUT,
        &api(&h, &format!("/api/stock/{sku}")),
        Some(TOKEN),
        Some(json!({"location": "leeds", "on_hand": 40, "safety": 2})),
    )
    .await;
    assert_eq!(status, 200, "{set}");
    assert_eq!(set["on_hand"], json!([0, 40]));
    let (_, stock) = get(format!("/api/stock?sku={sku}")).await;
    assert_eq!(stock[0]["locations"][0]["on_hand"], 40);
    assert_eq!(stock[0]["locations"][0]["safety"], 2);
    let (status, bad) = call(
        reqwest::Method::PUT,
        &api(&h, &format!("/api/stock/{sku}")),
        Some(TOKEN),
        Some(json!({"location": "nowhere", "on_hand": 1})),
    )
    .await;
    assert_eq!(status, 400, "{bad}");

    // Fulfil the first order, cancel the second.
    let (status, f) = call(
        reqwest::Method::POST,
        &api(&h, &format!("/api/orders/{}/fulfil", order.id)),
        Some(TOKEN),
        Some(json!({"location": "leeds", "carrier": "DHL", "tracking": "API-TRACK-1"})),
    )
    .await;
    assert_eq!(status, 201, "{f}");
    let (status, again) = call(
        reqwest::Method::POST,
        &api(&h, &format!("/api/orders/{}/fulfil", order.id)),
        Some(TOKEN),
        Some(json!({"location": "leeds", "tracking": "API-TRACK-1"})),
    )
    .await;
    assert_eq!(status, 409, "{again}");
    let (_, shown) = get(format!("/api/orders/{}", order.id)).await;
    assert_eq!(shown["status"], "fulfilled");
    assert_eq!(shown["fulfillments"][0]["tracking"], "API-TRACK-1");

    let other = orders.iter().find(|o| o.id != order.id).unwrap();
    let (status, c) = call(
        reqwest::Method::POST,
        &api(&h, &format!("/api/orders/{}/cancel", other.id)),
        Some(TOKEN),
        Some(json!({"reason": "customer"})),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    let (_, shown) = get(format!("/api/orders/{}", other.id)).await;
    assert_eq!(shown["status"], "cancelled");

    let (status, conns) = get("/api/connectors".into()).await;
    assert_eq!(status, 200);
    assert_eq!(conns[0]["name"], "shop");
    let (status, outbox) = get("/api/outbox".into()).await;
    assert_eq!(status, 200);
    assert!(outbox.is_array());
    let (status, _) = call(
        reqwest::Method::POST,
        &api(&h, "/api/outbox/424242/replay"),
        Some(TOKEN),
        None,
    )
    .await;
    assert_eq!(status, 404);
    h.stop().await.unwrap();
}

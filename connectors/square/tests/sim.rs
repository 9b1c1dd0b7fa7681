//! The simulator as any Square client sees it, over raw HTTP: auth and error
//! bodies, SearchOrders' rules and cursors, BatchChangeInventory's atomic
//! batches and idempotency keys, stock moved by sales, its rate limit, and
//! the seeded activity.

use std::net::SocketAddr;
use std::time::Duration;

use chansync_square::sim::{self, SimConfig, SimHandle};
use serde_json::{json, Value};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn manual(seed: u64) -> SimHandle {
    let cfg = SimConfig {
        seed,
        generate: false,
        ..SimConfig::default()
    };
    sim::start(cfg, loopback()).await.unwrap()
}

/// A request with the simulator's token; the status and JSON body.
async fn call(sim: &SimHandle, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let client = reqwest::Client::new();
    let url = format!("{}{path}", sim.base_url());
    let req = match method {
        "GET" => client.get(url),
        _ => client.post(url).json(&body.unwrap_or(json!({}))),
    };
    let resp = req
        .bearer_auth(sim.access_token())
        .header("Square-Version", "2025-08-20")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

fn code(body: &Value) -> &str {
    body["errors"][0]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn requests_need_the_bearer_token_and_a_valid_version() {
    let sim = manual(1).await;
    let client = reqwest::Client::new();
    let url = format!("{}/v2/locations", sim.base_url());
    for auth in [None, Some("Bearer nope"), Some(sim.access_token())] {
        let mut req = client.get(&url);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        let resp = req.send().await.unwrap();
        assert_eq!(resp.status(), 401, "{auth:?}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["errors"][0]["category"], "AUTHENTICATION_ERROR");
        assert_eq!(code(&body), "UNAUTHORIZED");
    }
    let resp = client
        .get(&url)
        .bearer_auth(sim.access_token())
        .header("Square-Version", "August 2025")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
    let (status, body) = call(&sim, "GET", "/v2/locations", None).await;
    assert_eq!(status, 200);
    assert_eq!(body["locations"].as_array().unwrap().len(), 2);
    let (status, body) = call(&sim, "GET", "/v2/nothing-here", None).await;
    assert_eq!((status, code(&body)), (404, "NOT_FOUND"));
    sim.stop();
}

#[tokio::test]
async fn search_orders_follows_squares_rules() {
    let sim = manual(2).await;
    sim.create_sale(6);
    let locations = sim::location_ids();
    let search = |query: Value, extra: Value| {
        let mut body = json!({ "location_ids": locations, "query": query, "limit": 2 });
        body.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        body
    };
    // The time filter and the sort must use the same field.
    let mismatched = search(
        json!({"filter": {"date_time_filter": {"updated_at": {"start_at": "2020-01-01T00:00:00Z"}}},
               "sort": {"sort_field": "CREATED_AT"}}),
        json!({}),
    );
    let (status, body) = call(&sim, "POST", "/v2/orders/search", Some(mismatched)).await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"), "{body}");
    let (status, body) = call(
        &sim,
        "POST",
        "/v2/orders/search",
        Some(json!({"location_ids": locations, "limt": 3})),
    )
    .await;
    assert_eq!(
        (status, code(&body)),
        (400, "UNKNOWN_BODY_PARAMETER"),
        "{body}"
    );
    let (status, body) = call(
        &sim,
        "POST",
        "/v2/orders/search",
        Some(json!({"location_ids": []})),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "MISSING_REQUIRED_PARAMETER"));

    // Paging: newest first by default, a cursor belongs to its query.
    let (_, page1) = call(
        &sim,
        "POST",
        "/v2/orders/search",
        Some(search(json!({}), json!({}))),
    )
    .await;
    let cursor = page1["cursor"].as_str().unwrap().to_owned();
    let other_query = search(
        json!({"sort": {"sort_field": "UPDATED_AT"}}),
        json!({ "cursor": cursor }),
    );
    let (status, body) = call(&sim, "POST", "/v2/orders/search", Some(other_query)).await;
    assert_eq!((status, code(&body)), (400, "INVALID_CURSOR"));
    // An order created while paging is past the cursor's end time.
    let late = sim.create_sale(1).remove(0);
    let mut ids: Vec<String> = Vec::new();
    let mut page = page1;
    loop {
        ids.extend(
            page["orders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["id"].as_str().unwrap().to_owned()),
        );
        let Some(c) = page["cursor"].as_str() else {
            break;
        };
        let body = search(json!({}), json!({ "cursor": c }));
        page = call(&sim, "POST", "/v2/orders/search", Some(body)).await.1;
    }
    assert_eq!(ids.len(), 6, "{ids:?}");
    assert!(!ids.contains(&late));
    let mut all = sim.order_ids();
    all.pop();
    all.sort();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(sorted, all, "every order once");
    let created: Vec<String> = ids
        .iter()
        .map(|id| {
            sim.order_json(id).unwrap()["created_at"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        created.windows(2).all(|w| w[0] >= w[1]),
        "newest first: {created:?}"
    );

    // Entries and state filters.
    let body = json!({"location_ids": locations, "return_entries": true,
                      "query": {"filter": {"state_filter": {"states": ["OPEN"]}}}});
    let (_, none_open) = call(&sim, "POST", "/v2/orders/search", Some(body)).await;
    assert_eq!(none_open, json!({}), "sales are completed; nothing open");
    sim.stop();
}

#[tokio::test]
async fn orders_are_retrieved_one_by_one_and_in_batches() {
    let sim = manual(3).await;
    let ids = sim.create_online_order(2);
    let (status, body) = call(&sim, "GET", &format!("/v2/orders/{}", ids[0]), None).await;
    assert_eq!(status, 200);
    assert_eq!(body["order"]["id"], ids[0].as_str());
    assert_eq!(body["order"]["fulfillments"][0]["type"], "SHIPMENT");
    let (status, body) = call(&sim, "GET", "/v2/orders/UNKNOWN", None).await;
    assert_eq!((status, code(&body)), (404, "NOT_FOUND"));
    let (_, body) = call(
        &sim,
        "POST",
        "/v2/orders/batch-retrieve",
        Some(json!({"order_ids": [ids[1], "UNKNOWN"]})),
    )
    .await;
    assert_eq!(
        body["orders"].as_array().unwrap().len(),
        1,
        "unknown ids are left out"
    );
    sim.stop();
}

#[tokio::test]
async fn sales_take_stock_and_cancellations_put_it_back() {
    let sim = manual(4).await;
    let before = sim.counts();
    let id = sim.create_online_order(1).remove(0);
    let order = sim.order_json(&id).unwrap();
    let after = sim.counts();
    let flagship = sim::location_ids()[0].to_owned();
    let catalog: Value = call(
        &sim,
        "POST",
        "/v2/catalog/batch-retrieve",
        Some(json!({ "object_ids": order["line_items"].as_array().unwrap().iter().map(|l| l["catalog_object_id"].clone()).collect::<Vec<_>>() })),
    )
    .await
    .1;
    for (line, object) in order["line_items"]
        .as_array()
        .unwrap()
        .iter()
        .zip(catalog["objects"].as_array().unwrap())
    {
        let sku = object["item_variation_data"]["sku"]
            .as_str()
            .unwrap()
            .to_owned();
        let quantity: i64 = line["quantity"].as_str().unwrap().parse().unwrap();
        let key = (sku, flagship.clone());
        assert_eq!(after[&key], before[&key] - quantity, "{key:?}");
    }
    assert!(sim.cancel_order(&id));
    assert_eq!(sim.counts(), before, "restocked");
    assert!(!sim.cancel_order(&id), "already cancelled");
    sim.stop();
}

#[tokio::test]
async fn batch_change_inventory_is_atomic_and_idempotent() {
    let sim = manual(5).await;
    let flagship = sim::location_ids()[0];
    let (_, found) = call(
        &sim,
        "POST",
        "/v2/catalog/search",
        Some(json!({"object_types": ["ITEM_VARIATION"], "query": {"exact_query": {"attribute_name": "sku", "attribute_value": "sku-mug-1"}}})),
    )
    .await;
    let objects = found["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 1, "exact and case-insensitive");
    let mug = objects[0]["id"].as_str().unwrap().to_owned();
    let now = chrono::Utc::now().to_rfc3339();
    let count = |object: &str, quantity: &str| {
        json!({"type": "PHYSICAL_COUNT", "physical_count": {
            "catalog_object_id": object, "location_id": flagship, "state": "IN_STOCK",
            "quantity": quantity, "occurred_at": now }})
    };
    let key = ("SKU-MUG-1".to_owned(), flagship.to_owned());
    let before = sim.counts()[&key];
    // One bad change fails the whole batch and names itself.
    let bad =
        json!({"idempotency_key": "k-bad", "changes": [count(&mug, "77"), count("NOPE", "1")]});
    let (status, body) = call(
        &sim,
        "POST",
        "/v2/inventory/changes/batch-create",
        Some(bad),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "NOT_FOUND"));
    assert_eq!(
        body["errors"][0]["field"],
        "changes[1].physical_count.catalog_object_id"
    );
    assert_eq!(sim.counts()[&key], before, "nothing applied");
    // The same key and request: the first answer, applied once.
    let good = json!({"idempotency_key": "k-1", "changes": [count(&mug, "77")]});
    let (status, first) = call(
        &sim,
        "POST",
        "/v2/inventory/changes/batch-create",
        Some(good.clone()),
    )
    .await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["counts"][0]["quantity"], "77");
    assert!(sim.set_count("SKU-MUG-1", flagship, 70));
    let (_, again) = call(
        &sim,
        "POST",
        "/v2/inventory/changes/batch-create",
        Some(good),
    )
    .await;
    assert_eq!(again, first);
    assert_eq!(sim.counts()[&key], 70);
    // The same key with another request is refused.
    let other = json!({"idempotency_key": "k-1", "changes": [count(&mug, "5")]});
    let (status, body) = call(
        &sim,
        "POST",
        "/v2/inventory/changes/batch-create",
        Some(other),
    )
    .await;
    assert_eq!((status, code(&body)), (400, "IDEMPOTENCY_KEY_REUSED"));
    let state = sim.state();
    let adjustments = state["adjustments"].as_array().unwrap();
    assert_eq!(adjustments.len(), 1);
    assert_eq!(adjustments[0]["sku"], "SKU-MUG-1");
    assert_eq!(adjustments[0]["idempotency_key"], "k-1");
    assert_eq!(state["stock_by_location"][flagship]["SKU-MUG-1"], 70);
    sim.stop();
}

#[tokio::test]
async fn the_rate_limit_answers_429_rate_limited() {
    let cfg = SimConfig {
        generate: false,
        rate_limit: Some((1.0, 2)),
        ..SimConfig::default()
    };
    let sim = sim::start(cfg, loopback()).await.unwrap();
    let mut statuses = Vec::new();
    for _ in 0..4 {
        let (status, body) = call(&sim, "GET", "/v2/locations", None).await;
        if status == 429 {
            assert_eq!(code(&body), "RATE_LIMITED");
        }
        statuses.push(status);
    }
    assert_eq!(&statuses[..2], [200, 200], "the burst");
    assert!(statuses[2..].contains(&429), "{statuses:?}");
    assert_eq!(
        sim.state()["counts"]["http_429"].as_u64(),
        Some(statuses.iter().filter(|s| **s == 429).count() as u64)
    );
    sim.stop();
}

#[tokio::test]
async fn a_seeded_burst_creates_orders_then_moves_them_on() {
    let cfg = SimConfig {
        seed: 6,
        orders: Some(12),
        creation_window: Duration::ZERO,
        update_every: Duration::from_millis(5),
        online_share: 0.5,
        ..SimConfig::default()
    };
    let sim = sim::start(cfg, loopback()).await.unwrap();
    let moved = async {
        loop {
            let state = sim.state();
            let orders = state["orders"].as_array().unwrap();
            let shipped = orders.iter().any(|o| o["fulfillment_state"] == "COMPLETED");
            if orders.len() == 12 && shipped {
                return orders.iter().any(|o| o["source"] == "in_store");
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let mixed = tokio::time::timeout(Duration::from_secs(10), moved)
        .await
        .expect("orders were created and shipped");
    assert!(mixed, "sales and online orders");
    sim.stop();
    sim.stopped().await;
    assert!(sim::start(
        SimConfig {
            currency: "XXX".into(),
            ..SimConfig::default()
        },
        loopback()
    )
    .await
    .is_err());
}

//! The simulator over plain HTTP, where the connector would not show a
//! mistake: Login with Amazon's errors, the SP-API's 403, 400 and 429 bodies
//! and headers, NextToken paging, and the spec's invalid shipment example.

mod common;

use chansync_amazon::sim::{SimConfig, SimHandle};
use common::{manual, start};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

async fn token(http: &Client, sim: &SimHandle) -> String {
    let c = sim.credentials();
    let resp = http
        .post(sim.lwa_endpoint())
        .form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", c["refresh_token"].as_str().unwrap()),
            ("client_id", c["client_id"].as_str().unwrap()),
            ("client_secret", c["client_secret"].as_str().unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 3600);
    body["access_token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn login_with_amazon_refuses_bad_grants_the_oauth_way() {
    let sim = start(manual(31)).await;
    let http = Client::new();
    let c = sim.credentials();
    let post = |form: Vec<(&'static str, String)>| {
        let http = http.clone();
        let url = sim.lwa_endpoint();
        async move { http.post(url).form(&form).send().await.unwrap() }
    };
    let id = c["client_id"].as_str().unwrap().to_owned();
    let secret = c["client_secret"].as_str().unwrap().to_owned();
    let refresh = c["refresh_token"].as_str().unwrap().to_owned();
    let r = post(vec![("grant_type", "client_credentials".into())]).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["error"],
        "unsupported_grant_type"
    );
    let r = post(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", refresh.clone()),
        ("client_id", id.clone()),
        ("client_secret", "wrong".into()),
    ])
    .await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_client");
    let r = post(vec![
        ("grant_type", "refresh_token".into()),
        ("refresh_token", "Atzr|wrong".into()),
        ("client_id", id),
        ("client_secret", secret),
    ])
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["error"], "invalid_grant");
    sim.stop();
}

#[tokio::test]
async fn sp_api_answers_carry_the_specs_headers_and_bodies() {
    let sim = start(SimConfig {
        throttle: true,
        rate_scale: 1.0,
        ..manual(32)
    })
    .await;
    sim.create_orders(3);
    let http = Client::new();
    let url = format!("{}/orders/v0/orders", sim.base_url());
    let r = http.get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.headers().contains_key("x-amzn-requestid"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["code"], "Unauthorized");
    let t = token(&http, &sim).await;
    let r = http
        .get(&url)
        .header("x-amz-access-token", &t)
        .query(&[("LastUpdatedAfter", "2020-01-01T00:00:00Z")])
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "MarketplaceIds is required"
    );
    assert_eq!(
        r.json::<Value>().await.unwrap()["errors"][0]["code"],
        "InvalidInput"
    );
    let query = [
        (
            "MarketplaceIds",
            sim.credentials()["marketplace_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m.as_str().unwrap())
                .collect::<Vec<_>>()
                .join(","),
        ),
        ("LastUpdatedAfter", "2020-01-01T00:00:00Z".to_owned()),
        ("MaxResultsPerPage", "2".to_owned()),
    ];
    let r = http
        .get(&url)
        .header("x-amz-access-token", &t)
        .query(&query)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["x-amzn-ratelimit-limit"], "0.0167");
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["payload"]["Orders"].as_array().unwrap().len(), 2);
    let next = page["payload"]["NextToken"].as_str().unwrap().to_owned();
    let r = http
        .get(&url)
        .header("x-amz-access-token", &t)
        .query(&[("MarketplaceIds", query[0].1.clone()), ("NextToken", next)])
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    assert_eq!(page["payload"]["Orders"].as_array().unwrap().len(), 1);
    assert!(page["payload"].get("NextToken").is_none());
    // getOrders' burst is 20: the 21st call in a row is throttled.
    let mut last = StatusCode::OK;
    for _ in 0..19 {
        let r = http
            .get(&url)
            .header("x-amz-access-token", &t)
            .query(&query)
            .send()
            .await
            .unwrap();
        last = r.status();
        if last == StatusCode::TOO_MANY_REQUESTS {
            assert!(!r.headers().contains_key("x-amzn-ratelimit-limit"));
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["errors"][0]["code"], "QuotaExceeded");
            break;
        }
    }
    assert_eq!(last, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(
        common::count(&sim, &["counts", "per_operation", "getOrders", "http_429"]),
        1
    );
    sim.stop();
}

#[tokio::test]
async fn the_specs_invalid_shipment_example_is_refused() {
    let sim = start(manual(33)).await;
    let ids = sim.create_orders(30);
    let id = ids
        .iter()
        .find(|id| !common::is_afn(&sim, id) && sim.order(id).unwrap().order_status == "Unshipped")
        .unwrap();
    let item = &sim.order_items(id).unwrap()[0];
    let marketplace = sim.order(id).unwrap().marketplace_id.unwrap();
    let http = Client::new();
    let t = token(&http, &sim).await;
    // The 400 case of confirmShipment's sandbox, pointed at a simulated order.
    let sandbox: Value = serde_json::from_str(include_str!("fixtures/sandbox.json")).unwrap();
    let case = sandbox["confirmShipment"]["cases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["status"] == 400)
        .unwrap();
    let mut body = case["request"]["parameters"]["body"]["value"].clone();
    body["marketplaceId"] = json!(marketplace);
    body["packageDetail"]["orderItems"] =
        json!([{"orderItemId": item.order_item_id, "quantity": 1}]);
    let url = format!(
        "{}/orders/v0/orders/{id}/shipmentConfirmation",
        sim.base_url()
    );
    let post = |body: Value| {
        let http = http.clone();
        let (url, t) = (url.clone(), t.clone());
        async move {
            http.post(url)
                .header("x-amz-access-token", t)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let r = post(body.clone()).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let errors: Value = r.json().await.unwrap();
    assert_eq!(
        errors["errors"][0]["code"],
        case["response"]["errors"][0]["code"]
    );
    // With the 204 case's date it goes through, once per package reference.
    body["packageDetail"]["shipDate"] = json!("2022-02-11T01:00:00.000Z");
    assert_eq!(post(body.clone()).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        post(body).await.status(),
        StatusCode::BAD_REQUEST,
        "the package is confirmed already"
    );
    assert_eq!(sim.state()["fulfillments"].as_array().unwrap().len(), 1);
    sim.stop();
}

#[tokio::test]
async fn listings_calls_check_the_seller_and_the_body() {
    let sim = start(manual(34)).await;
    let http = Client::new();
    let t = token(&http, &sim).await;
    let c = sim.credentials();
    let seller = c["seller_id"].as_str().unwrap();
    let marketplace = c["marketplace_ids"][0].as_str().unwrap();
    let patch = |seller: &str, body: Value| {
        let http = http.clone();
        let url = format!(
            "{}/listings/2021-08-01/items/{seller}/SKU-MUG-1",
            sim.base_url()
        );
        let t = t.clone();
        let marketplace = marketplace.to_owned();
        async move {
            http.patch(url)
                .header("x-amz-access-token", t)
                .query(&[("marketplaceIds", marketplace)])
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    let good = json!({"productType": "DRINKING_CUP", "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability", "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 3}]}]});
    assert_eq!(
        patch("A0THERSELLER", good.clone()).await.status(),
        StatusCode::FORBIDDEN
    );
    let r = patch(seller, json!({"patches": good["patches"]})).await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        r.json::<Value>().await.unwrap()["errors"][0]["code"],
        "BAD_REQUEST"
    );
    let r = patch(seller, good).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.json::<Value>().await.unwrap()["status"], "ACCEPTED");
    assert_eq!(sim.stock()["SKU-MUG-1"], 3);
    let r = http
        .get(format!(
            "{}/listings/2021-08-01/items/{seller}/SKU-MUG-1",
            sim.base_url()
        ))
        .header("x-amz-access-token", &t)
        .query(&[
            ("marketplaceIds", marketplace),
            ("includedData", "summaries,fulfillmentAvailability"),
        ])
        .send()
        .await
        .unwrap();
    let item: Value = r.json().await.unwrap();
    assert_eq!(item["fulfillmentAvailability"][0]["quantity"], 3);
    assert_eq!(item["summaries"][0]["productType"], "DRINKING_CUP");
    sim.stop();
}

/// Waits for a condition on the simulator, at most `secs` seconds.
async fn eventually(secs: u64, mut f: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    while tokio::time::Instant::now() < deadline {
        if f() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    f()
}

#[tokio::test]
async fn on_its_own_the_simulator_creates_orders_then_moves_them_on() {
    let sim = start(SimConfig {
        generate: true,
        orders: Some(8),
        creation_window: std::time::Duration::from_millis(80),
        update_every: std::time::Duration::from_millis(5),
        ..manual(35)
    })
    .await;
    assert!(eventually(5, || sim.order_ids().len() == 8).await);
    let settled = |sim: &SimHandle| {
        sim.order_ids().iter().all(|id| {
            let o = sim.order(id).unwrap();
            match o.order_status.as_str() {
                "Shipped" | "Canceled" => true,
                "Unshipped" => o.fulfillment_channel.as_deref() == Some("MFN"),
                _ => false,
            }
        })
    };
    // Every order ends waiting on the seller, shipped by Amazon or cancelled.
    assert!(
        eventually(5, || settled(&sim)).await,
        "{:#}",
        sim.state()["orders"]
    );
    assert_eq!(sim.order_ids().len(), 8, "a burst of 8, then only changes");
    sim.stop();
    sim.stopped().await;
}

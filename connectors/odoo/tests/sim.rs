//! The simulator on its own, as any Odoo client sees it: JSON-RPC errors
//! inside HTTP 200, JSON-2 errors as statuses, the version it claims,
//! faults and `/_sim/state`.

use chansync_odoo::sim::{self, SimConfig, SimHandle};
use serde_json::{json, Value};

async fn start(json2: bool) -> SimHandle {
    sim::start(
        SimConfig {
            json2,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap()
}

async fn jsonrpc(sim: &SimHandle, service: &str, method: &str, args: Value) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(format!("{}/jsonrpc", sim.base_url()))
        .json(&json!({"jsonrpc": "2.0", "method": "call", "id": 7,
            "params": {"service": service, "method": method, "args": args}}))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

async fn execute_kw(
    sim: &SimHandle,
    key: &str,
    model: &str,
    method: &str,
    args: Value,
    kwargs: Value,
) -> Value {
    let c = sim.credentials();
    let (status, body) = jsonrpc(
        sim,
        "object",
        "execute_kw",
        json!([c["database"], 2, key, model, method, args, kwargs]),
    )
    .await;
    assert_eq!(status, 200, "JSON-RPC answers 200 even for errors");
    assert_eq!(body["id"], 7);
    body
}

fn error_name(body: &Value) -> &str {
    body["error"]["data"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {body}"))
}

async fn json2(sim: &SimHandle, key: &str, path: &str, body: Value) -> (u16, Value) {
    let c = sim.credentials();
    let resp = reqwest::Client::new()
        .post(format!("{}/json/2/{path}", sim.base_url()))
        .header("Authorization", format!("bearer {key}"))
        .header("X-Odoo-Database", c["database"].as_str().unwrap())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

#[tokio::test]
async fn jsonrpc_answers_with_odoos_error_member() {
    let sim = start(false).await;
    let c = sim.credentials();
    let key = c["api_key"].as_str().unwrap();
    let (_, v) = jsonrpc(&sim, "common", "version", json!([])).await;
    assert_eq!(v["result"]["server_version"], "17.0");
    let (_, v) = jsonrpc(
        &sim,
        "common",
        "authenticate",
        json!([c["database"], c["login"], key, {}]),
    )
    .await;
    assert_eq!(v["result"], 2);
    let (_, v) = jsonrpc(
        &sim,
        "common",
        "authenticate",
        json!([c["database"], c["login"], "nope", {}]),
    )
    .await;
    assert_eq!(v["result"], false, "a wrong key is `false`, not an error");

    let body = execute_kw(
        &sim,
        "nope",
        "res.partner",
        "search_read",
        json!([[]]),
        json!({}),
    )
    .await;
    assert_eq!(error_name(&body), "odoo.exceptions.AccessDenied");
    assert_eq!(body["error"]["code"], 200);
    assert_eq!(body["error"]["message"], "Odoo Server Error");
    assert!(body["error"]["data"]["debug"]
        .as_str()
        .unwrap()
        .starts_with("Traceback"));
    for (model, method, args, kwargs, name) in [
        (
            "no.such.model",
            "search_read",
            json!([[]]),
            json!({}),
            "builtins.KeyError",
        ),
        (
            "res.partner",
            "fly",
            json!([[]]),
            json!({}),
            "builtins.AttributeError",
        ),
        (
            "res.partner",
            "search_read",
            json!([[["colour", "=", "red"]]]),
            json!({}),
            "builtins.ValueError",
        ),
        (
            "res.partner",
            "search_read",
            json!([[]]),
            json!({"colour": 1}),
            "builtins.TypeError",
        ),
        (
            "stock.quant",
            "create",
            json!([{"quantity": 5}]),
            json!({}),
            "odoo.exceptions.AccessError",
        ),
        (
            "sale.order",
            "create",
            json!([{"origin": "x"}]),
            json!({}),
            "odoo.exceptions.ValidationError",
        ),
        (
            "sale.order",
            "action_confirm",
            json!([[999]]),
            json!({}),
            "odoo.exceptions.MissingError",
        ),
    ] {
        let body = execute_kw(&sim, key, model, method, args, kwargs).await;
        assert_eq!(error_name(&body), name, "{model}.{method}: {body}");
    }
    let body = execute_kw(
        &sim,
        key,
        "stock.warehouse",
        "search_read",
        json!([[["code", "in", ["WH", "WH2"]]]]),
        json!({"fields": ["code", "lot_stock_id"], "order": "code desc"}),
    )
    .await;
    assert_eq!(body["result"][0]["code"], "WH2");
    assert!(body["result"][0]["lot_stock_id"][1]
        .as_str()
        .unwrap()
        .ends_with("/Stock"));
    sim.stop();
}

#[tokio::test]
async fn json2_answers_with_statuses() {
    let sim = start(true).await;
    let key = sim.credentials()["api_key"].as_str().unwrap().to_owned();
    let (status, v) = json2(&sim, "nope", "res.partner/search_read", json!({})).await;
    assert_eq!(status, 401);
    assert_eq!(v["name"], "odoo.exceptions.AccessDenied");
    let (status, v) = json2(&sim, &key, "res.partner/search_read", json!({"domain": [["email", "=ilike", "AZURE.interior24@example.com"]], "fields": ["name"]})).await;
    assert_eq!(status, 200);
    assert_eq!(v[0]["name"], "Azure Interior");
    let (status, v) = json2(&sim, &key, "res.users/context_get", json!({})).await;
    assert_eq!((status, &v["lang"]), (200, &json!("en_US")));
    for (path, body, expect) in [
        ("no.such/search_read", json!({}), 404),
        ("res.partner/fly", json!({}), 404),
        ("res.partner/search_read", json!({"colour": 1}), 422),
        ("res.partner/search_read", json!({"ids": [1]}), 422),
        ("sale.order/action_confirm", json!({"ids": [999]}), 404),
        ("stock.quant/create", json!({"vals_list": [{}]}), 403),
        (
            "res.partner/create",
            json!({"vals_list": [{"email": "x@example.com"}]}),
            422,
        ),
        (
            "res.partner/search_read",
            json!({"domain": [["colour", "=", 1]]}),
            500,
        ),
    ] {
        let (status, v) = json2(&sim, &key, path, body.clone()).await;
        assert_eq!(status, expect, "{path} {body}: {v}");
        assert!(v["name"].is_string() && v["message"].is_string(), "{v}");
    }
    // A record method called twice: the second confirmation is a UserError.
    let (_, partner) = json2(
        &sim,
        &key,
        "res.partner/create",
        json!({"vals_list": [{"name": "Zoë"}]}),
    )
    .await;
    let (_, so) = json2(
        &sim,
        &key,
        "sale.order/create",
        json!({"vals_list": [{"partner_id": partner[0]}]}),
    )
    .await;
    let (status, _) = json2(&sim, &key, "sale.order/action_confirm", json!({"ids": so})).await;
    assert_eq!(status, 200);
    let (status, v) = json2(&sim, &key, "sale.order/action_confirm", json!({"ids": so})).await;
    assert_eq!(
        (status, v["name"].as_str()),
        (422, Some("odoo.exceptions.UserError"))
    );
    sim.stop();
}

#[tokio::test]
async fn an_odoo_17_has_no_json2() {
    let sim = start(false).await;
    let key = sim.credentials()["api_key"].as_str().unwrap().to_owned();
    let (status, body) = json2(&sim, &key, "res.users/context_get", json!({})).await;
    assert_eq!(status, 404);
    assert!(
        body.as_str().is_some_and(|b| b.contains("Not Found")),
        "an HTML page: {body}"
    );
    sim.stop();
}

#[tokio::test]
async fn faults_answer_first_and_are_counted() {
    let sim = start(true).await;
    let key = sim.credentials()["api_key"].as_str().unwrap().to_owned();
    sim.inject_faults(429, 2);
    let url = format!("{}/json/2/res.users/context_get", sim.base_url());
    let client = reqwest::Client::new();
    for _ in 0..2 {
        let resp = client
            .post(&url)
            .bearer_auth(&key)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 429);
        assert_eq!(resp.headers()["retry-after"], "1");
    }
    let resp = client
        .post(&url)
        .bearer_auth(&key)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let state: Value = client
        .get(format!("{}/_sim/state", sim.base_url()))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["counts"]["requests"], 3);
    assert_eq!(state["counts"]["http_429"], 2);
    for key in ["sale_orders", "pickings", "stock", "stock_by_warehouse"] {
        assert!(!state[key].is_null(), "{key}");
    }
    let quants = sim.quants();
    let ((sku, _), _) = quants.first_key_value().unwrap();
    let total: i64 = quants
        .iter()
        .filter(|((s, _), _)| s == sku)
        .map(|(_, q)| q)
        .sum();
    assert_eq!(state["stock"][sku], total);
    let per_wh: i64 = ["WH", "WH2"]
        .iter()
        .filter_map(|w| state["stock_by_warehouse"][w][sku].as_i64())
        .sum();
    assert_eq!(per_wh, total);
    sim.stop();
}

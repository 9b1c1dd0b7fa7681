//! The simulator's REST Admin `orders.json`, as tools that read orders over
//! REST call it: `page_info` cursors in the `Link` header, the filters,
//! `fields`, auth, and the leaky bucket's call-limit header and 429.

use std::collections::BTreeSet;

use chansync_shopify::sim::{self, SimConfig, SimHandle};
use serde_json::Value;

async fn shop(orders: usize, throttle: bool) -> SimHandle {
    let s = sim::start(
        SimConfig {
            seed: 5,
            generate: false,
            throttle,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    s.create_orders(orders);
    s
}

async fn get(s: &SimHandle, url: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let resp = reqwest::Client::new()
        .get(url)
        .header("X-Shopify-Access-Token", s.access_token())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.json().await.unwrap())
}

fn link(headers: &reqwest::header::HeaderMap, rel: &str) -> Option<String> {
    let all = headers.get("link")?.to_str().unwrap();
    all.split(", ").find_map(|l| {
        let (url, r) = l.split_once("; ")?;
        (r == format!("rel=\"{rel}\"")).then(|| url.trim_matches(['<', '>']).to_owned())
    })
}

fn ids(body: &Value) -> Vec<u64> {
    body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["id"].as_u64().unwrap())
        .collect()
}

#[tokio::test]
async fn next_links_walk_every_order_once_in_the_order_asked() {
    let s = shop(120, false).await;
    for id in s.order_ids().into_iter().step_by(7) {
        s.update_order(id);
    }
    let first = format!(
        "{}/admin/api/2026-07/orders.json?limit=50&status=any&order=updated_at%20asc",
        s.base_url()
    );
    let (status, headers, body) = get(&s, &first).await;
    assert_eq!(status, 200);
    assert!(link(&headers, "previous").is_none());
    let mut seen = ids(&body);
    let mut stamps: Vec<String> = body["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["updated_at"].as_str().unwrap().to_owned())
        .collect();
    let mut next = link(&headers, "next");
    let mut pages = 1;
    while let Some(url) = next {
        let (status, headers, body) = get(&s, &url).await;
        assert_eq!(status, 200);
        pages += 1;
        if pages == 2 {
            // Back to the first page.
            let back = link(&headers, "previous").expect("a previous link after page 1");
            let (_, _, earlier) = get(&s, &back).await;
            assert_eq!(ids(&earlier), seen);
        }
        seen.extend(ids(&body));
        stamps.extend(
            body["orders"]
                .as_array()
                .unwrap()
                .iter()
                .map(|o| o["updated_at"].as_str().unwrap().to_owned()),
        );
        next = link(&headers, "next");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 120);
    assert_eq!(
        seen.iter().collect::<BTreeSet<_>>().len(),
        120,
        "no order twice"
    );
    let parsed: Vec<_> = stamps
        .iter()
        .map(|t| chrono::DateTime::parse_from_rfc3339(t).unwrap())
        .collect();
    assert!(parsed.windows(2).all(|w| w[0] <= w[1]), "by updated_at");
}

#[tokio::test]
async fn filters_fields_and_bad_requests_answer_as_shopify_does() {
    let s = shop(30, false).await;
    let ids_all = s.order_ids();
    s.cancel_order(ids_all[0]);
    let base = format!("{}/admin/api/2026-07/orders.json", s.base_url());
    // Open (the default) leaves the cancelled order out; any has it.
    let (_, _, open) = get(&s, &format!("{base}?limit=250")).await;
    assert!(!ids(&open).contains(&ids_all[0]));
    let (_, _, any) = get(&s, &format!("{base}?limit=250&status=any")).await;
    assert_eq!(ids(&any).len(), 30);
    // since_id and fields.
    let (_, _, after) = get(
        &s,
        &format!(
            "{base}?status=any&since_id={}&fields=id,updated_at",
            ids_all[9]
        ),
    )
    .await;
    assert_eq!(ids(&after), ids_all[10..].to_vec());
    let keys: BTreeSet<&str> = after["orders"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, BTreeSet::from(["id", "updated_at"]));
    // updated_at_min after every order: nothing.
    let (_, _, none) = get(
        &s,
        &format!("{base}?status=any&updated_at_min=2999-01-01T00:00:00-05:00"),
    )
    .await;
    assert!(ids(&none).is_empty());
    // page_info with a filter beside it, a bad limit, a bad time: 400.
    let (_, headers, _) = get(&s, &format!("{base}?status=any&limit=10")).await;
    let next = link(&headers, "next").unwrap();
    let (status, _, body) = get(&s, &format!("{next}&status=any")).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"]["page_info"].is_array());
    assert_eq!(get(&s, &format!("{base}?limit=251")).await.0, 400);
    assert_eq!(
        get(&s, &format!("{base}?updated_at_min=yesterday")).await.0,
        400
    );
    // A wrong token: 401.
    let resp = reqwest::Client::new()
        .get(&base)
        .header("X-Shopify-Access-Token", "shpat_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn the_leaky_bucket_counts_calls_and_answers_429_with_retry_after() {
    let s = shop(5, true).await;
    let url = format!("{}/admin/api/2026-07/orders.json", s.base_url());
    let mut limited = None;
    for n in 1..=45 {
        let (status, headers, _) = get(&s, &url).await;
        let call_limit = headers
            .get("x-shopify-shop-api-call-limit")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert!(call_limit.ends_with("/40"), "{call_limit}");
        if status == 429 {
            assert_eq!(headers.get("retry-after").unwrap(), "2.0");
            limited = Some(n);
            break;
        }
        assert_eq!(status, 200);
    }
    let n = limited.expect("a 429 past the bucket");
    assert!((40..=42).contains(&n), "the 429 came at call {n}");
}

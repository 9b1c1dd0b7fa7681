//! The SDK's conformance kit against the Shopify simulator.

use chansync_sdk::conformance::{self, SignedWebhook, SimDriver};
use chansync_sdk::webhook::sign_base64;
use chansync_sdk::{async_trait, Connector, ConnectorContext, ConnectorFactory, SecretString};
use chansync_shopify::sim::{self, Faults, SimConfig, SimHandle, SHOP_DOMAIN};
use chansync_shopify::ShopifyFactory;
use http::{HeaderMap, HeaderValue};
use serde_json::json;

struct Shopify(SimHandle);

#[async_trait]
impl SimDriver for Shopify {
    fn connector(&self) -> Box<dyn Connector> {
        ShopifyFactory
            .build(ConnectorContext {
                name: "shop".into(),
                base_url: self.0.base_url(),
                access_token: Some(SecretString::from(self.0.access_token().to_owned())),
                webhook_secret: Some(SecretString::from(self.0.webhook_secret().to_owned())),
                // Its defaults; a small page so that a sweep takes several.
                options: json!({"page_size": 5}),
                ..Default::default()
            })
            .expect("a valid config")
    }

    async fn create_orders(&self, n: usize) -> Vec<String> {
        self.0
            .create_orders(n)
            .into_iter()
            .map(|id| id.to_string())
            .collect()
    }

    fn more_than_a_page(&self) -> usize {
        12
    }

    fn channel_order_ids(&self) -> Vec<String> {
        self.0
            .order_ids()
            .into_iter()
            .map(|id| id.to_string())
            .collect()
    }

    fn throttled(&self) -> u64 {
        let c = &self.0.state()["counts"];
        c["throttled"].as_u64().unwrap_or(0) + c["http_429"].as_u64().unwrap_or(0)
    }

    fn inject_faults(&self, status: u16, count: u32) -> bool {
        self.0.inject_faults(Faults {
            status,
            count,
            retry_after_secs: (status == 429).then_some(1),
        });
        true
    }

    fn signed_webhook(&self, id: &str) -> Option<SignedWebhook> {
        let order = self.0.rest_order(id.parse().ok()?)?;
        let body = serde_json::to_vec(&order).ok()?;
        let mut headers = HeaderMap::new();
        let mut set = |k: &'static str, v: String| {
            headers.insert(k, HeaderValue::from_str(&v).unwrap());
        };
        set("x-shopify-topic", "orders/updated".into());
        set(
            "x-shopify-hmac-sha256",
            sign_base64(self.0.webhook_secret().as_bytes(), &body),
        );
        set("x-shopify-shop-domain", SHOP_DOMAIN.into());
        set("x-shopify-api-version", "2026-07".into());
        set(
            "x-shopify-webhook-id",
            "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043".into(),
        );
        Some(SignedWebhook {
            url: "https://chansync.example/webhooks/shop".into(),
            headers,
            body,
        })
    }

    fn listed_skus(&self) -> Vec<String> {
        sim::catalog_skus().iter().map(|s| s.to_string()).collect()
    }

    fn stock_level(&self, channel_sku: &str) -> Option<i64> {
        self.0.stock().get(channel_sku).copied()
    }

    async fn shippable_order(&self) -> Option<(String, Vec<(String, u32)>)> {
        let id = self.0.create_orders(1)[0];
        let order = self.0.rest_order(id)?;
        let lines = order
            .line_items
            .iter()
            .map(|l| (l.id.to_string(), l.quantity))
            .collect();
        Some((id.to_string(), lines))
    }

    fn tracking_numbers(&self, id: &str) -> Vec<String> {
        self.0.state()["fulfillments"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|f| f["order_id"] == id)
            .filter_map(|f| f["tracking_number"].as_str().map(str::to_owned))
            .collect()
    }
}

#[tokio::test]
async fn the_shopify_connector_conforms() {
    let sim = sim::start(
        SimConfig {
            generate: false,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let report = conformance::run(&Shopify(sim.clone())).await;
    eprintln!("{report}");
    // Shopify is a sales channel: it is no source of on hand and takes no
    // orders from other channels.
    report.assert_skipped_only(&["stock_read", "order_sink", "shipments", "sink_cancel"]);
    sim.stop();
}

//! The SDK's conformance kit against the Square simulator, which enforces
//! the same request rate the connector keeps to by default.

use chansync_sdk::conformance::{self, SignedWebhook, SimDriver};
use chansync_sdk::{async_trait, Connector, ConnectorContext, ConnectorFactory, SecretString};
use chansync_square::sim::{self, SimConfig, SimHandle, MERCHANT_ID};
use chansync_square::webhook::{signature, SIGNATURE_HEADER};
use chansync_square::{SquareFactory, DEFAULT_RATE_LIMIT};
use http::{HeaderMap, HeaderValue};
use serde_json::json;

const NOTIFICATION_URL: &str = "https://chansync.example/webhooks/pos";

struct Square(SimHandle);

#[async_trait]
impl SimDriver for Square {
    fn connector(&self) -> Box<dyn Connector> {
        SquareFactory
            .build(ConnectorContext {
                name: "pos".into(),
                base_url: self.0.base_url(),
                access_token: Some(SecretString::from(self.0.access_token().to_owned())),
                webhook_secret: Some(SecretString::from(self.0.signature_key().to_owned())),
                options: json!({"page_size": 5, "webhook_url": NOTIFICATION_URL}),
                ..Default::default()
            })
            .expect("a valid config")
    }

    async fn create_orders(&self, n: usize) -> Vec<String> {
        self.0.create_orders(n)
    }

    fn more_than_a_page(&self) -> usize {
        12
    }

    fn channel_order_ids(&self) -> Vec<String> {
        self.0.order_ids()
    }

    fn throttled(&self) -> u64 {
        self.0.state()["counts"]["http_429"].as_u64().unwrap_or(0)
    }

    fn inject_faults(&self, status: u16, count: u32) -> bool {
        let wait = (status == 429).then_some(std::time::Duration::from_secs(1));
        self.0.inject_faults(status, count, wait);
        true
    }

    fn signed_webhook(&self, id: &str) -> Option<SignedWebhook> {
        let order = self.0.order_json(id)?;
        let body = serde_json::to_vec(&json!({
            "merchant_id": MERCHANT_ID,
            "type": "order.updated",
            "event_id": "6a8f5f28-54a1-4eb0-a98a-3111513fd4fc",
            "created_at": order["updated_at"],
            "data": {
                "type": "order_updated",
                "id": id,
                "object": {"order_updated": {
                    "order_id": id,
                    "version": order["version"],
                    "location_id": order["location_id"],
                    "state": order["state"],
                    "created_at": order["created_at"],
                    "updated_at": order["updated_at"],
                }},
            },
        }))
        .ok()?;
        let mut headers = HeaderMap::new();
        headers.insert(
            SIGNATURE_HEADER,
            HeaderValue::from_str(&signature(
                self.0.signature_key().as_bytes(),
                NOTIFICATION_URL,
                &body,
            ))
            .ok()?,
        );
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        Some(SignedWebhook {
            url: NOTIFICATION_URL.into(),
            headers,
            body,
        })
    }

    /// Square has no order number besides its id; an in-store sale has no
    /// address, and a buyer who paid cash no name or email.
    fn unavailable(&self) -> &'static [&'static str] {
        &[
            "external_number",
            "customer.name",
            "customer.email",
            "shipping_address",
        ]
    }

    fn listed_skus(&self) -> Vec<String> {
        sim::catalog_skus().iter().map(|s| s.to_string()).collect()
    }

    fn stock_level(&self, channel_sku: &str) -> Option<i64> {
        // Pushed without a location, a level lands at the seller's main
        // location.
        let main = sim::location_ids()[0];
        self.0
            .counts()
            .get(&(channel_sku.to_owned(), main.to_owned()))
            .copied()
    }

    fn stock_slot(&self) -> Option<(String, String)> {
        Some((
            sim::catalog_skus()[0].to_owned(),
            sim::location_ids()[0].to_owned(),
        ))
    }

    fn set_on_hand(&self, sku: &str, location: &str, quantity: i64) -> bool {
        self.0.set_count(sku, location, quantity)
    }

    async fn shippable_order(&self) -> Option<(String, Vec<(String, u32)>)> {
        let id = self.0.create_online_order(1).remove(0);
        let order = self.0.order_json(&id)?;
        let lines = order["line_items"]
            .as_array()?
            .iter()
            .map(|l| {
                (
                    l["uid"].as_str().unwrap_or_default().to_owned(),
                    l["quantity"].as_str().unwrap_or("0").parse().unwrap_or(0),
                )
            })
            .collect();
        Some((id, lines))
    }

    fn tracking_numbers(&self, id: &str) -> Vec<String> {
        self.0
            .order_json(id)
            .into_iter()
            .flat_map(|o| {
                o["fulfillments"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|f| {
                        f["shipment_details"]["tracking_number"]
                            .as_str()
                            .map(str::to_owned)
                    })
            })
            .flat_map(|t| t.split(", ").map(str::to_owned).collect::<Vec<_>>())
            .collect()
    }
}

#[tokio::test]
async fn the_square_connector_conforms() {
    let sim = sim::start(
        SimConfig {
            seed: 12,
            generate: false,
            rate_limit: Some((DEFAULT_RATE_LIMIT.per_second, DEFAULT_RATE_LIMIT.burst)),
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let report = conformance::run(&Square(sim.clone())).await;
    eprintln!("{report}");
    // A POS sells; it takes no orders from other channels.
    report.assert_skipped_only(&["order_sink", "shipments", "sink_cancel"]);
    sim.stop();
}

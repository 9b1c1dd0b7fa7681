//! The SDK's conformance kit against the Amazon simulator, with its usage
//! plans enforced (Amazon's × 10, as `chansync demo` runs them, which the
//! connector is told too).

mod common;

use chansync_amazon::sim::{self, SimConfig, SimHandle};
use chansync_sdk::conformance::{self, SimDriver};
use chansync_sdk::{async_trait, Connector};
use serde_json::json;

struct Amazon(SimHandle);

#[async_trait]
impl SimDriver for Amazon {
    fn connector(&self) -> Box<dyn Connector> {
        Box::new(common::connector(&self.0, json!({"page_size": 5})))
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
        common::count(&self.0, &["counts", "http_429"])
    }

    fn inject_faults(&self, status: u16, count: u32) -> bool {
        self.0
            .inject_faults(status, count, (status == 429).then_some(1));
        true
    }

    /// The `AmazonOrderId` is the only order number; a `Pending` order has
    /// no address or buyer yet, and Amazon gives the buyer's name and email
    /// only to sellers with restricted-data access.
    fn unavailable(&self) -> &'static [&'static str] {
        &[
            "external_number",
            "customer.name",
            "customer.email",
            "shipping_address",
            "shipping_address.line1",
        ]
    }

    fn listed_skus(&self) -> Vec<String> {
        sim::catalog_skus().iter().map(|s| s.to_string()).collect()
    }

    fn stock_level(&self, channel_sku: &str) -> Option<i64> {
        self.0.stock().get(channel_sku).copied()
    }

    async fn shippable_order(&self) -> Option<(String, Vec<(String, u32)>)> {
        for id in self.0.create_orders(12) {
            if common::is_afn(&self.0, &id) {
                continue;
            }
            self.0.update_order(&id);
            if self.0.order(&id)?.order_status != "Unshipped" {
                continue;
            }
            let lines = self
                .0
                .order_items(&id)?
                .into_iter()
                .map(|i| (i.order_item_id, i.quantity_ordered))
                .collect();
            return Some((id, lines));
        }
        None
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
async fn the_amazon_connector_conforms() {
    let sim = common::start(SimConfig {
        seed: 9,
        generate: false,
        rate_scale: 10.0,
        ..SimConfig::default()
    })
    .await;
    let report = conformance::run(&Amazon(sim.clone())).await;
    eprintln!("{report}");
    // SP-API notifications come through SQS or EventBridge, not webhooks.
    report.assert_skipped_only(&[
        "webhook_signatures",
        "webhook_replays",
        "stock_read",
        "order_sink",
        "shipments",
        "sink_cancel",
    ]);
    sim.stop();
}

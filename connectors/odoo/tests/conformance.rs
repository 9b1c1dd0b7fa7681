//! The SDK's conformance kit against the Odoo simulator: on hand per
//! warehouse, sale orders created once per reference and cancelled once,
//! validated deliveries read once with their tracking, faults waited out,
//! within the connector's default request rate.

use chansync_odoo::sim::{self, SimConfig, SimHandle};
use chansync_odoo::OdooFactory;
use chansync_sdk::conformance::{self, SimDriver};
use chansync_sdk::model::{
    Address, Allocation, Customer, Order, OrderLine, OrderStatus, PaymentStatus,
};
use chansync_sdk::{
    async_trait, Connector, ConnectorContext, ConnectorFactory, SecretString, SinkOrder,
};
use rust_decimal::Decimal;
use serde_json::json;

struct Odoo(SimHandle);

impl Odoo {
    /// A SKU and the warehouse code holding the most of it.
    fn slot(&self) -> (String, String) {
        self.0
            .quants()
            .into_iter()
            .max_by_key(|(_, q)| *q)
            .map(|((sku, wh), _)| (sku, wh))
            .expect("the simulator holds stock")
    }
}

#[async_trait]
impl SimDriver for Odoo {
    fn connector(&self) -> Box<dyn Connector> {
        let creds = self.0.credentials();
        OdooFactory
            .build(ConnectorContext {
                name: "erp".into(),
                base_url: self.0.base_url(),
                access_token: Some(SecretString::from(
                    creds["api_key"].as_str().unwrap().to_owned(),
                )),
                options: json!({
                    "database": creds["database"],
                    "login": creds["login"],
                    "shipment_lag": "0s",
                }),
                ..Default::default()
            })
            .expect("a valid config")
    }

    async fn create_orders(&self, _n: usize) -> Vec<String> {
        Vec::new()
    }

    fn channel_order_ids(&self) -> Vec<String> {
        Vec::new()
    }

    fn throttled(&self) -> u64 {
        self.0.state()["counts"]["http_429"].as_u64().unwrap_or(0)
    }

    fn inject_faults(&self, status: u16, count: u32) -> bool {
        self.0.inject_faults(status, count);
        true
    }

    fn stock_slot(&self) -> Option<(String, String)> {
        Some(self.slot())
    }

    fn set_on_hand(&self, sku: &str, warehouse: &str, quantity: i64) -> bool {
        self.0.set_quant(sku, warehouse, quantity)
    }

    fn sink_order(&self, reference: &str) -> Option<SinkOrder> {
        let (sku, warehouse) = self.slot();
        let t = chrono::DateTime::parse_from_rfc3339("2026-11-20T10:00:00+01:00").ok()?;
        let price: Decimal = "19.90".parse().ok()?;
        let order = Order {
            id: reference.into(),
            connector: "shop".into(),
            channel_kind: "shopify".into(),
            external_id: reference.into(),
            external_number: Some(format!("#{reference}")),
            status: OrderStatus::Allocated,
            payment_status: PaymentStatus::Paid,
            currency: "EUR".parse().ok()?,
            subtotal: price,
            shipping_total: Decimal::ZERO,
            tax_total: Decimal::ZERO,
            discount_total: Decimal::ZERO,
            total: price,
            placed_at: t,
            updated_at: t,
            customer: Customer {
                name: Some("Zoë Ångström".into()),
                email: Some("zoe@example.com".into()),
            },
            shipping_address: Some(Address {
                name: "Zoë Ångström".into(),
                line1: "Kastanienallee 12".into(),
                line2: None,
                city: "Berlin".into(),
                region: None,
                postal_code: "10435".into(),
                country_code: "DE".parse().ok()?,
            }),
            lines: vec![OrderLine {
                external_id: "L1".into(),
                sku: Some(sku.clone()),
                channel_sku: Some(sku.clone()),
                title: format!("Item {sku}"),
                quantity: 1,
                unit_price: price,
                total: price,
                tax: Decimal::ZERO,
                discount: Decimal::ZERO,
            }],
            allocations: vec![Allocation {
                location: "main-wh".into(),
                sku,
                quantity: 1,
            }],
            fulfillments: vec![],
        };
        Some(SinkOrder {
            order,
            channel_location: Some(warehouse),
            reference: reference.into(),
            idempotency_key: format!("sink-{reference}"),
        })
    }

    fn sink_records(&self, reference: &str) -> Vec<String> {
        self.0
            .sale_orders()
            .into_iter()
            .filter(|o| o["client_order_ref"] == reference)
            .map(|o| o["state"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    fn ship_sent(&self, reference: &str, tracking: &str) -> bool {
        self.0.ship(reference, tracking)
    }
}

#[tokio::test]
async fn the_odoo_connector_conforms() {
    let sim = sim::start(
        SimConfig {
            seed: 13,
            ..SimConfig::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    let report = conformance::run(&Odoo(sim.clone())).await;
    eprintln!("{report}");
    // An ERP takes orders; it is not a sales channel.
    report.assert_skipped_only(&[
        "pagination",
        "resumption",
        "idempotent_pages",
        "mapping",
        "money",
        "webhook_signatures",
        "webhook_replays",
        "stock_push",
        "fulfillment_push",
    ]);
    sim.stop();
}

//! The demo's merchant: a Shopify shop, an Amazon seller account, a Square
//! POS in two stores and an Odoo running two warehouses, each a simulator on
//! loopback, generating orders and sales on its own.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use chansync_amazon::sim as amazon;
use chansync_odoo::sim as odoo;
use chansync_shopify::sim as shopify;
use chansync_square::sim as square;

/// Connector names, as the config and the live lines show them.
pub const SHOP: &str = "shop";
pub const AMAZON: &str = "amazon";
pub const POS: &str = "pos";
pub const ERP: &str = "erp";

/// How much faster than Amazon's default usage plans the demo's Amazon
/// account may call (the connector is told the same plans): Amazon allows
/// one `getOrders` a minute, too slow to watch.
pub const AMAZON_RATE_SCALE: f64 = 10.0;

/// The simulators, running.
pub struct World {
    pub shop: shopify::SimHandle,
    pub amazon: amazon::SimHandle,
    pub pos: square::SimHandle,
    pub erp: odoo::SimHandle,
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("loopback address")
}

impl World {
    /// Starts the four, sending webhooks to the daemon at `daemon`.
    pub async fn start(daemon: SocketAddr) -> anyhow::Result<World> {
        let shop = shopify::start(
            shopify::SimConfig {
                seed: 2026,
                trickle_every: Duration::from_millis(900),
                update_every: Duration::from_millis(1500),
                webhook_to: Some(format!("http://{daemon}/webhooks/{SHOP}")),
                // Channels lose webhooks now and then; the poll finds those.
                webhook_loss: 0.1,
                // Shopify's standard GraphQL budget: 2,000 points, 100 a second.
                bucket_size: 2000.0,
                restore_rate: 100.0,
                ..Default::default()
            },
            loopback(),
        )
        .await
        .context("cannot start the Shopify simulator")?;
        let amazon = amazon::start(
            amazon::SimConfig {
                seed: 2026,
                trickle_every: Duration::from_millis(2500),
                update_every: Duration::from_secs(2),
                rate_scale: AMAZON_RATE_SCALE,
                // Germany, the UK, France and Italy: currencies Odoo prices in.
                marketplace_ids: [
                    "A1PA6795UKMFR9",
                    "A1F83G8C2ARO7P",
                    "A13V1IB3VIYZZH",
                    "APJ6JRA9NG5V4",
                ]
                .map(str::to_owned)
                .to_vec(),
                feed_queue_time: Duration::from_millis(500),
                feed_processing_time: Duration::from_secs(1),
                ..Default::default()
            },
            loopback(),
        )
        .await
        .context("cannot start the Amazon simulator")?;
        let pos = square::start(
            square::SimConfig {
                seed: 2026,
                trickle_every: Duration::from_secs(2),
                update_every: Duration::from_secs(3),
                webhook_to: Some(Self::pos_webhook_url(daemon)),
                ..Default::default()
            },
            loopback(),
        )
        .await
        .context("cannot start the Square simulator")?;
        let erp = odoo::start(
            odoo::SimConfig {
                seed: 2026,
                // The warehouse staff ship a confirmed delivery within seconds.
                auto_ship_after: Some(Duration::from_secs(4)),
                ..Default::default()
            },
            loopback(),
        )
        .await
        .context("cannot start the Odoo simulator")?;
        Ok(World {
            shop,
            amazon,
            pos,
            erp,
        })
    }

    /// Where Square posts its notifications (and what they are signed over).
    pub fn pos_webhook_url(daemon: SocketAddr) -> String {
        format!("http://{daemon}/webhooks/{POS}")
    }

    /// Every order the selling channels hold now, with its last update:
    /// (connector, external id, updated at).
    pub fn orders(&self) -> Vec<(&'static str, String, DateTime<FixedOffset>)> {
        let mut out = Vec::new();
        for id in self.shop.order_ids() {
            if let Some(o) = self.shop.rest_order(id) {
                out.push((SHOP, id.to_string(), o.updated_at));
            }
        }
        for id in self.amazon.order_ids() {
            if let Some(at) = self
                .amazon
                .order(&id)
                .and_then(|o| DateTime::parse_from_rfc3339(&o.last_update_date).ok())
            {
                out.push((AMAZON, id, at));
            }
        }
        for id in self.pos.order_ids() {
            if let Some(at) = self
                .pos
                .order_json(&id)
                .and_then(|o| o["updated_at"].as_str().map(str::to_owned))
                .and_then(|s| DateTime::parse_from_rfc3339(&s).ok())
            {
                out.push((POS, id, at));
            }
        }
        out
    }

    /// Lets webhooks in flight land.
    pub async fn webhooks_idle(&self) {
        tokio::join!(
            self.shop.webhooks_idle(Duration::from_secs(10)),
            self.pos.webhooks_idle(Duration::from_secs(10)),
        );
    }

    /// Each simulator's `/_sim/state`.
    pub fn states(&self) -> [(&'static str, &'static str, Value); 4] {
        [
            (SHOP, "Shopify", self.shop.state()),
            (AMAZON, "Amazon", self.amazon.state()),
            (POS, "Square", self.pos.state()),
            (ERP, "Odoo", self.erp.state()),
        ]
    }

    pub fn stop(&self) {
        self.shop.stop();
        self.amazon.stop();
        self.pos.stop();
        self.erp.stop();
    }
}

/// Requests a simulator answered and how many of them were 429s.
pub fn api_counts(state: &Value) -> (u64, u64) {
    let c = &state["counts"];
    let throttled = c["http_429"].as_u64().or(c["throttled"].as_u64());
    (c["requests"].as_u64().unwrap_or(0), throttled.unwrap_or(0))
}

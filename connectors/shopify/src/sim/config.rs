//! The simulator's knobs: the seed, how orders arrive (burst, trickle or by
//! hand), the credentials it accepts, where webhooks go and the GraphQL cost
//! bucket. `SimConfig::default()` is the starting point for tests and the CLI.

use std::fmt;
use std::time::Duration;

use crate::graphql::DEFAULT_API_VERSION;

/// The shop the simulator pretends to be (`X-Shopify-Shop-Domain`).
pub const SHOP_DOMAIN: &str = "chansync-sim.myshopify.com";

/// How a simulator instance behaves.
#[derive(Clone)]
pub struct SimConfig {
    /// Seeds every generated order; the same seed gives the same orders.
    pub seed: u64,
    /// `Some(n)`: create `n` orders over `creation_window`, then only update
    /// some of them. `None`: a steady trickle of new orders.
    pub orders: Option<usize>,
    /// How long the burst of `orders` takes; zero creates them all at once.
    pub creation_window: Duration,
    /// Without `orders`: one new order per this period.
    pub trickle_every: Duration,
    /// One existing order is updated (or, now and then, cancelled) per period.
    pub update_every: Duration,
    /// `false`: nothing happens unless the handle says so (manual mode).
    pub generate: bool,
    /// The `X-Shopify-Access-Token` the API accepts.
    pub access_token: String,
    /// The key webhooks are signed with (the app's client secret).
    pub webhook_secret: String,
    /// Where `orders/*` webhooks are POSTed, if anywhere.
    pub webhook_to: Option<String>,
    /// The share of events (0.0–1.0) whose webhook is never sent, as when a
    /// channel's delivery fails for good; only polling finds those changes.
    pub webhook_loss: f64,
    /// Sent as `X-Shopify-API-Version` on webhooks.
    pub api_version: String,
    /// The cost bucket's size (`maximumAvailable`).
    pub bucket_size: f64,
    /// Cost points restored per second (`restoreRate`).
    pub restore_rate: f64,
    /// A single query costing more than this fails with `MAX_COST_EXCEEDED`.
    pub max_query_cost: f64,
    /// `false`: the bucket never runs dry (benchmarks).
    pub throttle: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            orders: None,
            creation_window: Duration::from_secs(5),
            trickle_every: Duration::from_secs(1),
            update_every: Duration::from_secs(2),
            generate: true,
            access_token: "shpat_sim_7c3e91b04f2a5d68e1b9c0d4a7f35e62".to_owned(),
            webhook_secret: "sim_whsec_4b8d2f6a1c9e7350b2d8f4a6c1e9b7d3".to_owned(),
            webhook_to: None,
            webhook_loss: 0.0,
            api_version: DEFAULT_API_VERSION.to_owned(),
            bucket_size: 1000.0,
            restore_rate: 50.0,
            max_query_cost: 1000.0,
            throttle: true,
        }
    }
}

// The credentials are fake, but configs get logged: keep the habit.
impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("orders", &self.orders)
            .field("creation_window", &self.creation_window)
            .field("trickle_every", &self.trickle_every)
            .field("update_every", &self.update_every)
            .field("generate", &self.generate)
            .field("access_token", &"[redacted]")
            .field("webhook_secret", &"[redacted]")
            .field("webhook_to", &self.webhook_to)
            .field("webhook_loss", &self.webhook_loss)
            .field("api_version", &self.api_version)
            .field("bucket_size", &self.bucket_size)
            .field("restore_rate", &self.restore_rate)
            .field("max_query_cost", &self.max_query_cost)
            .field("throttle", &self.throttle)
            .finish()
    }
}

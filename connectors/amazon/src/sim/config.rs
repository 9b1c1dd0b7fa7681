//! The simulator's knobs: the seed, how orders arrive (burst, trickle or by
//! hand), the credentials it accepts, the marketplaces it sells in, its usage
//! plans (enforced by default, scalable for fast tests) and how long feeds
//! take. `SimConfig::default()` is the starting point for tests and the CLI.

use std::fmt;
use std::time::Duration;

/// How a simulator instance behaves.
#[derive(Clone)]
pub struct SimConfig {
    /// Seeds every generated order; the same seed gives the same orders.
    pub seed: u64,
    /// `Some(n)`: create `n` orders over `creation_window`, then only change
    /// some of them. `None`: a steady trickle of new orders.
    pub orders: Option<usize>,
    /// How long the burst of `orders` takes; zero creates them all at once.
    pub creation_window: Duration,
    /// Without `orders`: one new order per this period.
    pub trickle_every: Duration,
    /// One order moves on in its lifecycle (payment authorized, shipped by
    /// Amazon, now and then cancelled) per this period.
    pub update_every: Duration,
    /// `false`: nothing happens unless the handle says so (manual mode).
    pub generate: bool,
    /// The LWA client id the token endpoint accepts.
    pub client_id: String,
    /// The LWA client secret the token endpoint accepts.
    pub client_secret: String,
    /// The seller's refresh token the token endpoint accepts.
    pub refresh_token: String,
    /// How long an access token lives (`expires_in`).
    pub token_ttl: Duration,
    /// The selling partner id of the seller (Listings paths, feed headers).
    pub seller_id: String,
    /// The marketplaces the seller sells in; orders are spread over them.
    pub marketplace_ids: Vec<String>,
    /// `false`: no usage plan is enforced (fast tests, benchmarks).
    pub throttle: bool,
    /// Multiplies every operation's rate (not its burst); 1.0 is Amazon's
    /// default usage plans.
    pub rate_scale: f64,
    /// Order items per `getOrderItems` page.
    pub order_items_per_page: usize,
    /// How long a feed waits `IN_QUEUE`.
    pub feed_queue_time: Duration,
    /// How long a feed is `IN_PROGRESS`.
    pub feed_processing_time: Duration,
    /// Whether processing reports are served gzipped
    /// (`compressionAlgorithm: GZIP`).
    pub gzip_reports: bool,
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
            client_id: "amzn1.application-oa2-client.sim0c6f3e2a9b7d41e8".to_owned(),
            client_secret: "amzn1.oa2-cs.v1.sim5d2b8e61f0a94c37b1e6d8f2a0c4b9e7".to_owned(),
            refresh_token: "Atzr|IwEBISimulatedRefreshToken7f3c9e1b5a2d8f4c6e0b".to_owned(),
            token_ttl: Duration::from_secs(3600),
            seller_id: "A3SIMSELLER0CHNSYNC".to_owned(),
            marketplace_ids: vec![
                "A1PA6795UKMFR9".to_owned(),
                "A1F83G8C2ARO7P".to_owned(),
                "A13V1IB3VIYZZH".to_owned(),
                "A2NODRKZP88ZB9".to_owned(),
            ],
            throttle: true,
            rate_scale: 1.0,
            order_items_per_page: 100,
            feed_queue_time: Duration::from_secs(2),
            feed_processing_time: Duration::from_secs(3),
            gzip_reports: false,
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
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .field("refresh_token", &"[redacted]")
            .field("token_ttl", &self.token_ttl)
            .field("seller_id", &self.seller_id)
            .field("marketplace_ids", &self.marketplace_ids)
            .field("throttle", &self.throttle)
            .field("rate_scale", &self.rate_scale)
            .field("order_items_per_page", &self.order_items_per_page)
            .field("feed_queue_time", &self.feed_queue_time)
            .field("feed_processing_time", &self.feed_processing_time)
            .field("gzip_reports", &self.gzip_reports)
            .finish()
    }
}

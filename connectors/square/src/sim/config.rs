//! The simulator's knobs: the seed, how orders arrive (a burst, a trickle or
//! by hand), the credentials it accepts, where webhooks go, its currency and
//! an optional rate limit. `SimConfig::default()` is the starting point for
//! tests and the CLI.

use std::fmt;
use std::time::Duration;

/// The merchant id the simulated seller has (`merchant_id` of webhooks).
pub const MERCHANT_ID: &str = "MLSIM8Q4TR2XK";

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
    /// One open online order moves on (payment captured, shipment prepared or
    /// shipped; now and then cancelled) per period.
    pub update_every: Duration,
    /// The share (0.0–1.0) of generated orders that are online orders with a
    /// shipment; the rest are in-store sales.
    pub online_share: f64,
    /// `false`: nothing happens unless the handle says so (manual mode).
    pub generate: bool,
    /// The bearer token the API accepts.
    pub access_token: String,
    /// The webhook subscription's signature key.
    pub signature_key: String,
    /// The notification URL webhooks are POSTed to (and signed with).
    pub webhook_to: Option<String>,
    /// The share of events (0.0–1.0) whose webhook is never sent, as when a
    /// delivery fails for good; only polling finds those changes.
    pub webhook_loss: f64,
    /// `Some((per_second, burst))`: API requests beyond it get `429
    /// RATE_LIMITED`. Off by default.
    pub rate_limit: Option<(f64, u32)>,
    /// The seller's currency: `USD`, `JPY`, `EUR` or `GBP`.
    pub currency: String,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            orders: None,
            creation_window: Duration::from_secs(5),
            trickle_every: Duration::from_secs(1),
            update_every: Duration::from_secs(2),
            online_share: 0.25,
            generate: true,
            access_token: "EAAAsim_5f1c7a9e3b2d4c6f8a0b1e2d3c4f5a6b".to_owned(),
            signature_key: "sim_sigkey_9d3f7b1a5c8e2f4a6b0d1c3e5f7a9b2d".to_owned(),
            webhook_to: None,
            webhook_loss: 0.0,
            rate_limit: None,
            currency: "USD".to_owned(),
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
            .field("online_share", &self.online_share)
            .field("generate", &self.generate)
            .field("access_token", &"[redacted]")
            .field("signature_key", &"[redacted]")
            .field("webhook_to", &self.webhook_to)
            .field("webhook_loss", &self.webhook_loss)
            .field("rate_limit", &self.rate_limit)
            .field("currency", &self.currency)
            .finish()
    }
}

//! The simulator's knobs: the seed, the database and credentials it
//! accepts, whether it has the JSON-2 API (Odoo 19+) or only JSON-RPC (an
//! Odoo 17/18), and whether it ships confirmed deliveries by itself.
//! `SimConfig::default()` is the starting point for tests and the CLI.

use std::fmt;
use std::time::Duration;

/// How a simulator instance behaves.
#[derive(Clone)]
pub struct SimConfig {
    /// Seeds the stock and the tracking numbers; the same seed gives the
    /// same database.
    pub seed: u64,
    /// The one database the server has.
    pub database: String,
    /// The API user's login (JSON-RPC `authenticate`).
    pub login: String,
    /// The API user's key (JSON-RPC password, JSON-2 bearer token).
    pub api_key: String,
    /// `true`: an Odoo 19 with `/json/2`; `false`: an Odoo 17 with only
    /// `/jsonrpc`, answering `/json/2/…` with its 404 page.
    pub json2: bool,
    /// Ship every confirmed delivery this long after it is created, with a
    /// generated tracking number (for the demo); `None`: only by hand.
    pub auto_ship_after: Option<Duration>,
    /// Stamp every record with this time instead of the current one (tests
    /// of writes within one second).
    pub frozen_clock: Option<chrono::DateTime<chrono::Utc>>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            database: "chansync-sim".to_owned(),
            login: "api@chansync.example".to_owned(),
            api_key: "5f0c2b7a9e3d41f6b8a2c4e6d8f0a1b3c5d7e9f1".to_owned(),
            json2: true,
            auto_ship_after: None,
            frozen_clock: None,
        }
    }
}

impl SimConfig {
    /// The `server_version` the simulated Odoo reports.
    pub fn server_version(&self) -> &'static str {
        if self.json2 {
            "19.0"
        } else {
            "17.0"
        }
    }
}

// The key is fake, but configs get logged: keep the habit.
impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("database", &self.database)
            .field("login", &self.login)
            .field("api_key", &"[redacted]")
            .field("json2", &self.json2)
            .field("auto_ship_after", &self.auto_ship_after)
            .field("frozen_clock", &self.frozen_clock)
            .finish()
    }
}

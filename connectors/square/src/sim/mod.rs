//! The Square simulator: a real HTTP server answering the endpoints the
//! connector uses (locations, orders, catalog, inventory) as
//! shared/specs/square/api.json describes them — bearer auth, cursors,
//! Square's error bodies, an optional rate limit, idempotent inventory
//! batches — with a seeded seller (in-store sales that take stock, online
//! orders that ship) sending signed webhooks, for tests, `chansync simulate
//! square` and `chansync demo`. Faults can be injected to test a client's
//! retries.

mod api;
mod catalog;
mod config;
mod faults;
mod generate;
mod handle;
mod lifecycle;
mod model;
mod server;
mod state;
mod update;
mod webhooks;

pub use config::{SimConfig, MERCHANT_ID};
pub use faults::{Faults, FAULT_STATUSES};
pub use handle::{start, SimHandle};

/// Every SKU of the simulated catalog, so a demo or a test can stock and map
/// them before orders arrive.
pub fn catalog_skus() -> Vec<&'static str> {
    catalog::VARIATIONS.iter().filter_map(|v| v.sku).collect()
}

/// The simulated seller's location ids, the first being the flagship store
/// (every tracked variation is stocked there).
pub fn location_ids() -> Vec<&'static str> {
    catalog::LOCATIONS.iter().map(|l| l.id).collect()
}

/// The currencies the simulator can run in.
pub fn currencies() -> Vec<&'static str> {
    catalog::CURRENCIES.iter().map(|c| c.code).collect()
}

//! The Amazon simulator: a real HTTP server answering Login with Amazon's
//! token endpoint and the SP-API operations the connector uses (Orders v0,
//! Listings Items, Feeds) with Amazon's auth, usage plans
//! (`x-amzn-RateLimit-Limit`, 429s), `NextToken` paging and error bodies. It
//! generates seeded orders over time, keeps listings with quantities,
//! processes feeds asynchronously and records shipment confirmations, for
//! tests, `chansync simulate amazon` and `chansync demo`.

mod catalog;
mod config;
mod faults;
mod feeds;
mod generate;
mod handle;
mod lifecycle;
mod limits;
mod listings;
mod model;
mod server;
mod shipments;
mod state;

pub use config::SimConfig;
pub use faults::{Faults, FAULT_STATUSES};
pub use handle::{start, SimHandle};
pub use listings::UNKNOWN_SKU_CODE;

/// Every SKU the simulated seller lists, so a demo or a test can stock and
/// map them before orders arrive.
pub fn catalog_skus() -> Vec<&'static str> {
    catalog::PRODUCTS.iter().map(|p| p.sku).collect()
}

//! The Shopify simulator: a real HTTP server that answers the GraphQL Admin API
//! the connector uses (orders, inventory, fulfilment and cancellation, with
//! Shopify's cost-based throttling), generates orders over time and sends
//! signed `orders/*` webhooks, for tests, `chansync simulate shopify` and
//! `chansync demo`. Faults can be injected to test a client's retries.

mod catalog;
mod config;
mod cost;
mod faults;
mod fulfil;
mod generate;
mod handle;
mod lifecycle;
mod model;
mod rest_api;
mod schema;
mod schema_push;
mod search;
mod server;
mod state;
mod stock;
mod webhooks;

pub use config::{SimConfig, SHOP_DOMAIN};
pub use faults::{Faults, FAULT_STATUSES};
pub use handle::{start, SimHandle};

/// The cost model the simulator charges by.
#[cfg(test)]
pub(crate) fn cost_model() -> cost::CostModel {
    cost::CostModel::from_sdl(&schema::sdl())
}

/// Every SKU of the simulated shop's catalogue, so a demo or a test can stock
/// and map them before orders arrive.
pub fn catalog_skus() -> Vec<&'static str> {
    catalog::PRODUCTS.iter().map(|p| p.sku).collect()
}

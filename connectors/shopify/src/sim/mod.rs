//! The Shopify simulator: a real HTTP server that answers the GraphQL Admin API
//! the connector polls (with Shopify's cost-based throttling), generates orders
//! over time and sends signed `orders/*` webhooks, for tests, `chansync simulate
//! shopify` and `chansync demo`.

mod catalog;
mod config;
mod cost;
mod generate;
mod handle;
mod lifecycle;
mod model;
mod schema;
mod search;
mod server;
mod state;
mod webhooks;

pub use config::{SimConfig, SHOP_DOMAIN};
pub use handle::{start, SimHandle};

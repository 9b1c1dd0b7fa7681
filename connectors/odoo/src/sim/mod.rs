//! The Odoo simulator: a real HTTP server answering Odoo's JSON-RPC and
//! JSON-2 APIs over one in-memory database (contacts, products, warehouses,
//! quants, sale orders, deliveries) with Odoo's domains, value formats and
//! errors, for tests, `chansync simulate odoo` and `chansync demo`.

mod config;
mod db;
mod domain;
mod error;
mod handle;
mod lifecycle;
mod methods;
mod schema;
mod seed;
mod server;
mod state;
mod world;

pub use config::SimConfig;
pub use handle::{start, SimHandle};
pub use world::ShipTarget;

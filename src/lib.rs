//! chansync: connects a merchant's marketplaces, POS and ERP to one order and
//! stock store. The binary's commands live in [`cli`]; the daemon is
//! [`daemon::run`], which tests start in-process.

pub mod admin;
pub mod cli;
pub mod config;
pub mod daemon;
pub mod events;
pub mod intake;
pub mod inventory;
pub mod lease;
pub mod logging;
pub mod metrics;
pub mod push;
pub mod registry;
pub mod store;
pub mod systemd;

pub use config::Config;
pub use daemon::{run, RunOptions};

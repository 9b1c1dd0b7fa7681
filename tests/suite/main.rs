//! chansync's integration tests, linked into one binary so that a clean
//! build links the daemon and the simulators once, not once per file. Each
//! module is one area; run one with `cargo test --test suite intake::`.

mod common;

mod admin_api;
mod bad_config;
mod bench;
mod browser;
mod cli;
mod crash;
mod dispatch;
mod erp;
mod faults;
mod four_channels;
mod hostile;
mod intake;
mod inventory;
mod metrics;
mod packaging;
mod pos;
mod pushback;
mod reload;
mod replicas;
mod secrets;
mod status_page;
mod systemd;

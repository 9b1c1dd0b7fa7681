//! Intake: orders come in by polling (`poller`) and by webhooks (`webhook`,
//! stored through the group-commit `inbox` writer and applied by its worker).
//! Both paths end in the store's one upsert.

pub mod inbox;
pub mod poller;
pub mod webhook;

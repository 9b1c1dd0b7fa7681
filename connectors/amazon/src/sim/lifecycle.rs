//! The simulated seller's activity over time: a burst of `orders` new
//! orders spread over the creation window then only lifecycle changes, or a
//! steady trickle of new orders with changes in between. Manual mode runs
//! none of this.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::{interval_at, sleep_until, Instant, MissedTickBehavior};

use crate::sim::state::Shared;

/// Periods shorter than this are taken as this (tokio refuses zero).
const MIN_PERIOD: Duration = Duration::from_millis(1);

pub(crate) async fn run(shared: Arc<Shared>) {
    let start = Instant::now();
    let cfg = &shared.cfg;
    let cancel = shared.cancel.clone();
    let update_every = cfg.update_every.max(MIN_PERIOD);
    match cfg.orders {
        Some(n) => {
            if cfg.creation_window.is_zero() {
                shared.create_orders(n);
            } else {
                for i in 0..n {
                    let due = start + cfg.creation_window.mul_f64(i as f64 / n as f64);
                    tokio::select! {
                        _ = cancel.cancelled() => return,
                        _ = sleep_until(due) => {}
                    }
                    shared.create_orders(1);
                }
            }
            let mut updates = interval_at(Instant::now() + update_every, update_every);
            updates.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = updates.tick() => shared.change_random_order(),
                }
            }
        }
        None => {
            let trickle_every = cfg.trickle_every.max(MIN_PERIOD);
            let mut creates = interval_at(start, trickle_every);
            creates.set_missed_tick_behavior(MissedTickBehavior::Delay);
            let mut updates = interval_at(start + update_every, update_every);
            updates.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = cancel.cancelled() => return,
                    _ = creates.tick() => {
                        shared.create_orders(1);
                    }
                    _ = updates.tick() => shared.change_random_order(),
                }
            }
        }
    }
}

//! Shipping by itself: with `auto_ship_after`, each confirmed delivery is
//! validated with a generated tracking number once its delay has passed,
//! as a warehouse would, so the demo sees shipments flow back.

use std::sync::Arc;

use tokio::time::{sleep_until, Instant};
use tokio_util::sync::CancellationToken;

use crate::sim::state::Shared;
use crate::sim::world::ShipTarget;

pub(crate) async fn run(shared: Arc<Shared>, cancel: CancellationToken) {
    loop {
        let next = shared.next_due();
        let wait = async {
            match next {
                Some(due) => sleep_until(due).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = cancel.cancelled() => return,
            // Something new was queued: its due time may come first.
            _ = shared.ship_wake.notified() => continue,
            _ = wait => {}
        }
        for picking in shared.take_due(Instant::now()) {
            let shipped = shared.with(|w| w.ship(&ShipTarget::Picking(picking), None));
            tracing::debug!(picking, shipped, "simulated warehouse shipped a delivery");
        }
    }
}

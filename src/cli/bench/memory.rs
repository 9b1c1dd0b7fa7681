//! Start-up and memory: the demo's four channels (Shopify, Amazon, Square,
//! Odoo simulators, trickling orders) and the real daemon on their config.
//! READY is timed from spawn to the notify protocol's READY=1 (store opened
//! and migrated, listener up), the best of three starts; resident memory is
//! read once the first polls are done and orders trickle.

use std::time::Duration;

use serde_json::json;

use super::daemon::Daemon;
use super::intake::{free_addr, mib};
use super::Report;
use crate::cli::demo::{config, world::World};

pub async fn run(quick: bool, report: &mut Report) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let addr = free_addr()?;
    let world = World::start(addr).await?;
    let config = config::write(dir.path(), addr, &world).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut starts = Vec::new();
    for _ in 0..if quick { 1 } else { 3 } {
        let d = Daemon::start(&config, dir.path()).await?;
        starts.push(d.ready_after);
        d.stop().await?;
    }
    let ready = *starts.iter().min().expect("one start");
    let daemon = Daemon::start(&config, dir.path()).await?;
    tokio::time::sleep(if quick {
        Duration::from_secs(1)
    } else {
        Duration::from_secs(15)
    })
    .await;
    let idle = daemon.rss_bytes()?;
    let peak = daemon.peak_rss_bytes()?;
    daemon.stop().await?;
    world.stop();
    report.section(
        "memory",
        json!({
            "connectors": 4,
            "ready_ms": ready.as_secs_f64() * 1e3,
            "ready_ms_each": starts.iter().map(|d| d.as_secs_f64() * 1e3).collect::<Vec<_>>(),
            "rss_idle_mib": mib(idle),
            "rss_peak_mib": mib(peak),
        }),
    );
    report.row(
        "start to READY (4 connectors)",
        format!("{:.0} ms", ready.as_secs_f64() * 1e3),
        "< 200 ms",
        Some(ready < Duration::from_millis(200)),
    );
    report.row(
        "RSS running 4 connectors",
        format!("{:.1} MiB", mib(idle)),
        "< 40 MiB",
        Some(mib(idle) < 40.0),
    );
    Ok(())
}

//! `chansync bench --quick`: every scenario runs against the real daemon and
//! the simulators and its figures reach the JSON report and the table (the
//! figures themselves are not judged here: CI machines are noisy).

use std::process::Command;

use serde_json::Value;

#[test]
fn the_quick_bench_runs_every_scenario_and_writes_its_report() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("bench.json");
    let run = Command::new(env!("CARGO_BIN_EXE_chansync"))
        .args(["bench", "--quick", "--out"])
        .arg(&out)
        .env_remove("CHANSYNC_CONFIG")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert!(
        run.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let report: Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(report["quick"], true);
    assert!(report["machine"]["cores"].as_u64().unwrap() >= 1);
    let r = &report["results"];
    let positive = |v: &Value, what: &str| {
        let x = v.as_f64().unwrap_or_else(|| panic!("{what} missing: {r}"));
        assert!(x > 0.0 && x.is_finite(), "{what} = {x}");
        x
    };
    // Intake: every delivery acknowledged and applied; the ceiling measured.
    assert_eq!(r["intake"]["orders"], 1000);
    positive(&r["intake"]["orders_per_s"], "intake orders/s");
    positive(&r["intake"]["applied_per_s"], "applied orders/s");
    positive(&r["intake"]["sqlite_ceiling_per_s"], "SQLite ceiling");
    positive(&r["intake"]["ratio_to_ceiling"], "ratio to the ceiling");
    let p50 = positive(&r["intake"]["ack_ms"]["p50"], "ack p50");
    let p99 = positive(&r["intake"]["ack_ms"]["p99"], "ack p99");
    assert!(p50 <= p99);
    assert_eq!(r["intake"]["paced"]["orders"], 300);
    positive(&r["intake"]["paced"]["ack_ms"]["p99"], "paced ack p99");
    // Memory: READY timed, memory read from the kernel.
    positive(&r["memory"]["ready_ms"], "start to READY");
    let idle = positive(&r["memory"]["rss_idle_mib"], "idle RSS");
    assert!(positive(&r["memory"]["rss_peak_mib"], "peak RSS") >= idle);
    // The table names each figure with its target.
    for line in [
        "webhooks acknowledged durable",
        "SQLite ceiling",
        "start to READY",
        "RSS running 4 connectors",
    ] {
        assert!(stdout.contains(line), "no {line:?} in\n{stdout}");
    }
}

//! `chansync bench`: the real daemon (a child process) against the real
//! simulators on loopback. Prints a table of each figure next to its target
//! and writes them all to a JSON file. Figures that depend on the machine
//! are reported next to a baseline measured in the same run (the SQLite
//! ceiling, the quota's minimum), since absolute times vary from run to run.
//! `--quick` runs every scenario small, to check that the bench works.

mod daemon;
mod intake;
mod load;
mod memory;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use super::{CmdResult, Failure};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Scenario {
    /// Signed webhooks until durable; the SQLite ceiling; ack latency.
    Intake,
    /// Start-up time and memory with four connectors.
    Memory,
}

#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Scenarios to run, comma-separated (default: all).
    #[arg(long, value_enum, value_delimiter = ',')]
    only: Vec<Scenario>,
    /// Every scenario, small: checks that the bench works (figures mean little).
    #[arg(long)]
    quick: bool,
    /// Orders in the intake run (default 20,000).
    #[arg(long)]
    orders: Option<usize>,
    /// Where the JSON report is written.
    #[arg(long, default_value = "bench.json")]
    out: PathBuf,
}

/// What a run measured: JSON sections and the table's rows.
#[derive(Default)]
pub struct Report {
    sections: serde_json::Map<String, Value>,
    rows: Vec<Row>,
}

struct Row {
    what: String,
    measured: String,
    target: String,
    met: Option<bool>,
}

impl Report {
    pub fn section(&mut self, name: &str, value: Value) {
        self.sections.insert(name.to_owned(), value);
    }

    /// A line of the table; `met` is `None` for a figure without a target.
    pub fn row(&mut self, what: &str, measured: String, target: &str, met: Option<bool>) {
        self.rows.push(Row {
            what: what.to_owned(),
            measured,
            target: target.to_owned(),
            met,
        });
    }

    fn table(&self) -> String {
        let mut t = super::table::Table::new(["FIGURE", "MEASURED", "TARGET", "MET"]);
        for r in &self.rows {
            t.row([
                r.what.clone(),
                r.measured.clone(),
                r.target.clone(),
                match r.met {
                    Some(true) => "yes".into(),
                    Some(false) => "NO".into(),
                    None => String::new(),
                },
            ]);
        }
        t.render()
    }
}

pub async fn run(args: BenchArgs) -> CmdResult {
    let scenarios = if args.only.is_empty() {
        Scenario::value_variants().to_vec()
    } else {
        args.only.clone()
    };
    let quick = args.quick;
    let mut report = Report::default();
    println!(
        "chansync bench{}: {} on {}",
        if quick { " --quick" } else { "" },
        scenarios
            .iter()
            .map(|s| format!("{s:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(", "),
        machine()["cpu"].as_str().unwrap_or("this machine")
    );
    for s in &scenarios {
        let started = std::time::Instant::now();
        let result = match s {
            Scenario::Intake => {
                intake::run(
                    &intake::Sizes {
                        orders: args.orders.unwrap_or(if quick { 1_000 } else { 20_000 }),
                        connections: 64,
                        paced_for: if quick {
                            Duration::from_millis(300)
                        } else {
                            Duration::from_secs(3)
                        },
                        paced_rate: if quick { 1_000.0 } else { 5_000.0 },
                    },
                    &mut report,
                )
                .await
            }
            Scenario::Memory => memory::run(quick, &mut report).await,
        };
        result.with_context(|| format!("scenario {s:?}"))?;
        eprintln!("  {s:?} done in {:.1} s", started.elapsed().as_secs_f64());
    }
    let json = json!({
        "chansync": env!("CARGO_PKG_VERSION"),
        "quick": quick,
        "at": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "machine": machine(),
        "results": Value::Object(report.sections.clone()),
    });
    std::fs::write(
        &args.out,
        serde_json::to_string_pretty(&json).expect("json") + "\n",
    )
    .with_context(|| format!("cannot write {}", args.out.display()))
    .map_err(Failure::Runtime)?;
    print!("{}", report.table());
    println!("written to {}", args.out.display());
    Ok(())
}

/// What the figures ran on.
fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")?
                .split_once(':')
                .map(|(_, v)| v.trim().to_owned())
        })
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemTotal:")?
                .trim()
                .strip_suffix("kB")?
                .trim()
                .parse()
                .ok()
        })
        .unwrap_or(0);
    let uname = rustix::system::uname();
    json!({
        "cpu": cpu,
        "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        "memory_mib": mem_kb / 1024,
        "kernel": uname.release().to_string_lossy(),
    })
}

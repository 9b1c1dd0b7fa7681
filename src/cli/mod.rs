//! The command line: one binary, `chansync`, with the commands INTERFACE.md
//! lists. Exit status 0 on success, 1 on a runtime failure, 2 on bad usage or
//! bad config; errors are one readable line on stderr.

mod bench;
mod connectors;

pub use connectors::connectors_json;
mod demo;
/// For tests that run the simulators the demo runs.
pub use demo::config::{inline_table, sim_sku_tables, AMAZON_BUNDLES};
mod orders;
mod simulate;
mod stock;
pub mod table;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError, LogFormat};

#[derive(Debug, Parser)]
#[command(
    name = "chansync",
    version,
    about = "Connects a merchant's marketplaces, POS and ERP to one order and stock store"
)]
pub struct Cli {
    /// Config file [default: $CHANSYNC_CONFIG, then /etc/chansync/chansync.toml]
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Log line format (overrides [log] format).
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The daemon: intake, push-back and the HTTP listener, until SIGTERM/SIGINT.
    Run,
    /// Runs simulated channels and the real daemon against them, no config needed.
    Demo(demo::DemoArgs),
    /// Runs one channel's simulator standalone.
    Simulate(simulate::SimulateArgs),
    /// Measures the real daemon against the simulators; writes a JSON report.
    Bench(bench::BenchArgs),
    /// Validates the config and prints the connectors it would run.
    CheckConfig,
    /// Applies store migrations and exits.
    Migrate,
    /// Lists and shows orders.
    #[command(subcommand)]
    Orders(orders::OrdersCommand),
    /// Each connector: kind, capabilities, last poll, cursor, backlog, rate limit.
    Connectors(FormatArg),
    /// Stock per SKU and location, and what each channel is shown.
    #[command(subcommand)]
    Stock(stock::StockCommand),
    /// Channel SKU to master SKU mappings.
    #[command(subcommand)]
    Skus(stock::SkusCommand),
    /// Push-back work waiting for, or given up on by, the channels.
    #[command(subcommand)]
    Outbox(stock::OutboxCommand),
}

/// `--format table|json`
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, ValueEnum)]
pub enum Format {
    #[default]
    Table,
    Json,
}

#[derive(Debug, Args)]
pub struct FormatArg {
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

/// A failure and the exit status it means.
#[derive(Debug)]
pub enum Failure {
    /// Bad usage or bad config: exit 2.
    Usage(String),
    /// Something went wrong at run time: exit 1.
    Runtime(anyhow::Error),
}

impl From<ConfigError> for Failure {
    fn from(e: ConfigError) -> Self {
        Failure::Usage(e.to_string())
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Runtime(e)
    }
}

impl From<crate::store::StoreError> for Failure {
    fn from(e: crate::store::StoreError) -> Self {
        Failure::Runtime(e.into())
    }
}

pub type CmdResult = Result<(), Failure>;

/// Parses the command line, runs the command, returns the exit status.
pub fn main() -> i32 {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("chansync: cannot start the async runtime: {e}");
            return 1;
        }
    };
    match runtime.block_on(dispatch(cli)) {
        Ok(()) => 0,
        Err(Failure::Usage(m)) => {
            eprintln!("chansync: {m}");
            2
        }
        Err(Failure::Runtime(e)) => {
            eprintln!("chansync: {e:#}");
            1
        }
    }
}

async fn dispatch(cli: Cli) -> CmdResult {
    let config_path = Config::resolve_path(cli.config.as_deref());
    match cli.command {
        Command::Run => {
            let config = Config::load(&config_path)?;
            crate::logging::init(
                cli.log_format.unwrap_or(config.log.format),
                &config.log.level,
            );
            let shutdown = CancellationToken::new();
            spawn_signal_handler(shutdown.clone());
            let reload = std::sync::Arc::new(tokio::sync::Notify::new());
            spawn_reload_handler(reload.clone());
            crate::daemon::run(
                config,
                crate::daemon::RunOptions {
                    shutdown,
                    reload: Some(reload),
                    ..Default::default()
                },
            )
            .await
            .map_err(|e| Failure::Runtime(e.into()))
        }
        Command::Demo(args) => demo::run(args, cli.log_format.unwrap_or_default()).await,
        Command::Bench(args) => {
            crate::logging::init(cli.log_format.unwrap_or_default(), "warn");
            bench::run(args).await
        }
        Command::Simulate(args) => {
            crate::logging::init(cli.log_format.unwrap_or_default(), "warn");
            simulate::run(args).await
        }
        Command::CheckConfig => {
            let config = Config::load(&config_path)?;
            println!("{}: ok", config.path.display());
            println!("store: {}", crate::store::redact_url(&config.store.url));
            println!("listen: {}", config.listen);
            let mut t =
                table::Table::new(["CONNECTOR", "KIND", "BASE URL", "POLL", "CAPABILITIES"]);
            for c in &config.connectors {
                let built = crate::registry::build(&c.kind, c.context.clone())
                    .map_err(|e| Failure::Usage(format!("connector {}: {e}", c.name)))?;
                let caps: Vec<&str> = built.capabilities().iter().map(|c| c.as_str()).collect();
                t.row([
                    c.name.clone(),
                    c.kind.clone(),
                    c.context.base_url.clone(),
                    c.poll
                        .as_ref()
                        .map(|p| p.to_string())
                        .unwrap_or_else(|| "webhooks only".into()),
                    caps.join(","),
                ]);
            }
            print!("{}", t.render());
            Ok(())
        }
        Command::Migrate => {
            let config = Config::load_for_store(&config_path)?;
            let store =
                crate::store::Store::open(&config.store, crate::store::OpenMode::Migrate).await?;
            store.close().await;
            println!(
                "store {} is migrated",
                crate::store::redact_url(&config.store.url)
            );
            Ok(())
        }
        Command::Orders(cmd) => orders::run(cmd, &config_path).await,
        Command::Connectors(f) => connectors::run(f.format, &config_path).await,
        Command::Stock(cmd) => stock::run_stock(cmd, &config_path).await,
        Command::Skus(cmd) => stock::run_skus(cmd, &config_path).await,
        Command::Outbox(cmd) => stock::run_outbox(cmd, &config_path).await,
    }
}

/// Cancels `token` on SIGTERM or SIGINT.
pub fn spawn_signal_handler(token: CancellationToken) {
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                    .expect("SIGTERM handler installs");
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
        tracing::info!("signal received");
        token.cancel();
    });
}

/// Notifies `reload` on each SIGHUP (`systemctl reload chansync`).
pub fn spawn_reload_handler(reload: std::sync::Arc<tokio::sync::Notify>) {
    #[cfg(unix)]
    tokio::spawn(async move {
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .expect("SIGHUP handler installs");
        while hup.recv().await.is_some() {
            tracing::info!("SIGHUP received");
            reload.notify_one();
        }
    });
}

/// Parses `host:port`, naming the flag on error.
pub fn parse_addr(flag: &str, s: &str) -> Result<SocketAddr, Failure> {
    s.parse()
        .map_err(|e| Failure::Usage(format!("{flag} {s:?}: {e}")))
}

/// Opens the configured store for inspection (it must exist).
async fn open_existing(config: &Config) -> Result<crate::store::Store, Failure> {
    Ok(
        crate::store::Store::open(&config.store, crate::store::OpenMode::Existing)
            .await?
            .with_policy(crate::inventory::Policy::from_config(config)),
    )
}

/// Opens the store for a command that changes it: migrated if needed, with
/// the config's SKU mappings in place.
async fn open_for_writes(config: &Config) -> Result<crate::store::Store, Failure> {
    let store = crate::store::Store::open(&config.store, crate::store::OpenMode::Migrate)
        .await?
        .with_policy(crate::inventory::Policy::from_config(config));
    store.sync_sku_config(&config.skus).await?;
    Ok(store)
}

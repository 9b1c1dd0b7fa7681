//! `chansync simulate KIND`: runs one channel's simulator (the one the tests
//! use) standalone and prints, as its first stdout line, the JSON a config
//! needs to point at it.

use std::time::Duration;

use clap::Args;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use super::{parse_addr, CmdResult, Failure};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// The channel kind to simulate (shopify, amazon, square, odoo).
    kind: String,
    /// Address to serve the channel's API on.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Create N orders over the first seconds, then only update some.
    #[arg(long)]
    orders: Option<usize>,
    /// Seed for the generated orders (same seed, same orders).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Send the channel's signed webhooks to this URL as orders change.
    #[arg(long, requires = "webhook_secret")]
    webhook_to: Option<String>,
    /// The secret webhooks are signed with.
    #[arg(long)]
    webhook_secret: Option<String>,
    /// Share of webhooks (0.0-1.0) the channel never sends, so that only
    /// polling finds those changes.
    #[arg(long, default_value_t = 0.0)]
    webhook_loss: f64,
    /// Access token the API accepts [default: a fixed token, printed].
    #[arg(long)]
    access_token: Option<String>,
    /// Lift the channel's throttling (for benchmarks).
    #[arg(long)]
    unthrottled: bool,
    /// Amazon: multiply every usage plan's rate by this (1 = Amazon's
    /// defaults); the printed `rate_limits` go in the connector's config.
    #[arg(long, default_value_t = 1.0)]
    rate_scale: f64,
    /// Seconds between new orders when trickling (no --orders).
    #[arg(long, default_value_t = 1.0)]
    trickle_every: f64,
}

pub async fn run(args: SimulateArgs) -> CmdResult {
    let listen = parse_addr("--listen", &args.listen)?;
    match args.kind.as_str() {
        "shopify" => {
            use chansync_shopify::sim;
            let mut cfg = sim::SimConfig {
                seed: args.seed,
                orders: args.orders,
                ..Default::default()
            };
            if let Some(t) = args.access_token {
                cfg.access_token = t;
            }
            if let Some(s) = args.webhook_secret {
                cfg.webhook_secret = s;
            }
            cfg.webhook_to = args.webhook_to;
            cfg.throttle = !args.unthrottled;
            if !(0.0..=1.0).contains(&args.webhook_loss) {
                return Err(Failure::Usage(
                    "--webhook-loss must be between 0 and 1".into(),
                ));
            }
            cfg.webhook_loss = args.webhook_loss;
            if !(args.trickle_every > 0.0 && args.trickle_every.is_finite()) {
                return Err(Failure::Usage(
                    "--trickle-every must be a positive number of seconds".into(),
                ));
            }
            cfg.trickle_every = Duration::from_secs_f64(args.trickle_every);
            let api_version = cfg.api_version.clone();
            let handle = sim::start(cfg, listen)
                .await
                .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot listen on {listen}: {e}")))?;
            println!(
                "{}",
                json!({
                    "kind": "shopify",
                    "base_url": handle.base_url(),
                    "graphql_url": handle.graphql_url(),
                    "api_version": api_version,
                    "access_token": handle.access_token(),
                    "webhook_secret": handle.webhook_secret(),
                    "state_url": format!("{}/_sim/state", handle.base_url()),
                })
            );
            let stop = CancellationToken::new();
            super::spawn_signal_handler(stop.clone());
            stop.cancelled().await;
            handle.stop();
            Ok(())
        }
        "square" => {
            use chansync_square::sim;
            let mut cfg = sim::SimConfig {
                seed: args.seed,
                orders: args.orders,
                ..Default::default()
            };
            if let Some(t) = args.access_token {
                cfg.access_token = t;
            }
            if let Some(s) = args.webhook_secret {
                cfg.signature_key = s;
            }
            cfg.webhook_to = args.webhook_to;
            if !(0.0..=1.0).contains(&args.webhook_loss) {
                return Err(Failure::Usage(
                    "--webhook-loss must be between 0 and 1".into(),
                ));
            }
            cfg.webhook_loss = args.webhook_loss;
            if !(args.trickle_every > 0.0 && args.trickle_every.is_finite()) {
                return Err(Failure::Usage(
                    "--trickle-every must be a positive number of seconds".into(),
                ));
            }
            cfg.trickle_every = Duration::from_secs_f64(args.trickle_every);
            let handle = sim::start(cfg, listen)
                .await
                .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot listen on {listen}: {e}")))?;
            println!(
                "{}",
                json!({
                    "kind": "square",
                    "base_url": handle.base_url(),
                    "access_token": handle.access_token(),
                    // Square's signature key is the config's `webhook_secret`.
                    "webhook_secret": handle.signature_key(),
                    "location_ids": sim::location_ids(),
                    "state_url": format!("{}/_sim/state", handle.base_url()),
                })
            );
            let stop = CancellationToken::new();
            super::spawn_signal_handler(stop.clone());
            stop.cancelled().await;
            handle.stop();
            Ok(())
        }
        "amazon" => {
            use chansync_amazon::sim;
            if args.webhook_to.is_some() {
                return Err(Failure::Usage(
                    "Amazon sends no webhooks to sellers' servers; chansync polls it".into(),
                ));
            }
            if args.access_token.is_some() {
                return Err(Failure::Usage(
                    "Amazon signs in with Login with Amazon; the simulator prints its client id, secret and refresh token".into(),
                ));
            }
            if !(args.rate_scale > 0.0 && args.rate_scale.is_finite()) {
                return Err(Failure::Usage(
                    "--rate-scale must be a positive number".into(),
                ));
            }
            if !(args.trickle_every > 0.0 && args.trickle_every.is_finite()) {
                return Err(Failure::Usage(
                    "--trickle-every must be a positive number of seconds".into(),
                ));
            }
            let cfg = sim::SimConfig {
                seed: args.seed,
                orders: args.orders,
                trickle_every: Duration::from_secs_f64(args.trickle_every),
                throttle: !args.unthrottled,
                rate_scale: args.rate_scale,
                ..Default::default()
            };
            let handle = sim::start(cfg, listen)
                .await
                .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot listen on {listen}: {e}")))?;
            let mut info = handle.credentials();
            info["kind"] = json!("amazon");
            info["base_url"] = json!(handle.base_url());
            info["lwa_endpoint"] = json!(handle.lwa_endpoint());
            info["rate_limits"] = handle.rate_limits();
            info["state_url"] = json!(format!("{}/_sim/state", handle.base_url()));
            println!("{info}");
            let stop = CancellationToken::new();
            super::spawn_signal_handler(stop.clone());
            stop.cancelled().await;
            handle.stop();
            Ok(())
        }
        "odoo" => {
            use chansync_odoo::sim;
            let mut cfg = sim::SimConfig {
                seed: args.seed,
                ..Default::default()
            };
            if let Some(t) = args.access_token {
                cfg.api_key = t;
            }
            if args.webhook_to.is_some() {
                return Err(Failure::Usage(
                    "Odoo sends no webhooks; chansync polls it".into(),
                ));
            }
            let handle = sim::start(cfg, listen)
                .await
                .map_err(|e| Failure::Runtime(anyhow::anyhow!("cannot listen on {listen}: {e}")))?;
            let mut info = json!({
                "kind": "odoo",
                "base_url": handle.base_url(),
                "state_url": format!("{}/_sim/state", handle.base_url()),
            });
            let creds = handle.credentials();
            info["database"] = creds["database"].clone();
            info["login"] = creds["login"].clone();
            // The API key goes in the config as `access_token`.
            info["access_token"] = creds["api_key"].clone();
            println!("{info}");
            let stop = CancellationToken::new();
            super::spawn_signal_handler(stop.clone());
            stop.cancelled().await;
            handle.stop();
            Ok(())
        }
        other => Err(Failure::Usage(format!(
            "no simulator for kind {other:?}; this build has: {}",
            crate::registry::kinds().join(", ")
        ))),
    }
}

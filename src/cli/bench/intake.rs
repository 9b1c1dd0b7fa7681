//! Webhook intake: signed Shopify `orders/create` deliveries posted to the
//! real daemon as fast as it acknowledges them (each ack means the delivery
//! is durable in the store), then at a steady 5,000 a second for the ack
//! latency; and, in the same run, the SQLite ceiling: the same rows written
//! by a minimal loop (one prepared multi-row insert per commit of the
//! daemon's largest group, the same pragmas) with no HTTP, no signature and
//! no parsing.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use chansync_sdk::webhook::sign_base64;
use chansync_shopify::sim::{self, SimConfig, SimHandle};
use serde_json::json;

use super::daemon::Daemon;
use super::load;
use super::Report;
use crate::store::{OpenMode, Store, StoreOptions};

/// The inbox writer's largest group (`intake::inbox::MAX_BATCH`).
const CEILING_BATCH: usize = 512;

pub struct Sizes {
    /// Deliveries in the as-fast-as-acknowledged run.
    pub orders: usize,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// How long the paced run lasts.
    pub paced_for: Duration,
    pub paced_rate: f64,
}

/// A daemon with one Shopify connector whose webhooks the load signs.
pub struct Setup {
    pub dir: tempfile::TempDir,
    pub config: std::path::PathBuf,
    pub addr: SocketAddr,
    pub secret: String,
    /// The shop the connector polls (empty: the load is the only intake).
    pub shop: SimHandle,
}

impl Setup {
    pub async fn new(extra: &str) -> anyhow::Result<Setup> {
        let dir = tempfile::tempdir().context("cannot create a temporary directory")?;
        let shop = sim::start(
            SimConfig {
                generate: false,
                throttle: false,
                ..Default::default()
            },
            "127.0.0.1:0".parse()?,
        )
        .await
        .context("cannot start the Shopify simulator")?;
        let addr = free_addr()?;
        let mut config = format!(
            "[store]\nurl = \"sqlite://{db}\"\n\n[server]\nlisten = \"{addr}\"\n\n\
             [[connector]]\nname = \"shop\"\nkind = \"shopify\"\nbase_url = \"{base}\"\n\
             poll = {{ every = \"1h\" }}\naccess_token = \"{token}\"\nwebhook_secret = \"{secret}\"\n\n\
             [[location]]\nname = \"wh\"\ncountry = \"DE\"\npriority = 1\n",
            db = dir.path().join("chansync.db").display(),
            base = shop.base_url(),
            token = shop.access_token(),
            secret = shop.webhook_secret(),
        );
        for s in sim::catalog_skus() {
            config.push_str(&format!(
                "\n[[sku]]\nconnector = \"shop\"\nchannel_sku = \"{s}\"\nmaster_sku = \"{s}\"\n"
            ));
        }
        config.push_str(extra);
        let path = dir.path().join("chansync.toml");
        std::fs::write(&path, config)?;
        let cfg = crate::config::Config::load(&path)?;
        let store = Store::open(&cfg.store, OpenMode::Migrate)
            .await?
            .with_policy(crate::inventory::Policy::from_config(&cfg));
        store.sync_sku_config(&cfg.skus).await?;
        let actor = crate::store::Actor::new("bench");
        for s in sim::catalog_skus() {
            store
                .set_on_hand(s, "wh", 1_000_000_000, None, &actor)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        store.close().await;
        Ok(Setup {
            secret: shop.webhook_secret().to_owned(),
            dir,
            config: path,
            addr,
            shop,
        })
    }

    /// Orders in the store, read through a connection of the bench's own.
    pub async fn stored(&self) -> anyhow::Result<i64> {
        use sqlx::ConnectOptions;
        let mut conn = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(self.dir.path().join("chansync.db"))
            .read_only(true)
            .connect()
            .await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
            .fetch_one(&mut conn)
            .await?;
        sqlx::Connection::close(conn).await?;
        Ok(n)
    }
}

/// A loopback address nothing listens on now.
pub fn free_addr() -> anyhow::Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?)
}

/// `n` signed `orders/create` deliveries of new orders, made by a shop of
/// their own (the daemon's shop stays empty).
pub async fn deliveries(
    n: usize,
    seed: u64,
    addr: SocketAddr,
    secret: &str,
) -> anyhow::Result<Vec<Vec<u8>>> {
    let maker = sim::start(
        SimConfig {
            seed,
            generate: false,
            throttle: false,
            ..Default::default()
        },
        "127.0.0.1:0".parse()?,
    )
    .await?;
    let ids = maker.create_orders(n);
    let mut out = Vec::with_capacity(n);
    for id in ids {
        let order = maker.rest_order(id).context("a created order is gone")?;
        let body = serde_json::to_vec(&order)?;
        out.push(signed(addr, secret, "orders/create", &body));
    }
    maker.stop();
    Ok(out)
}

fn signed(addr: SocketAddr, secret: &str, topic: &str, body: &[u8]) -> Vec<u8> {
    let hmac = sign_base64(secret.as_bytes(), body);
    let webhook_id = chansync_sdk::webhook_queue::uuid_like();
    let event_id = chansync_sdk::webhook_queue::uuid_like();
    let at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    load::post(
        addr,
        "/webhooks/shop",
        &[
            ("Content-Type", "application/json"),
            ("X-Shopify-Topic", topic),
            ("X-Shopify-Hmac-Sha256", &hmac),
            ("X-Shopify-Shop-Domain", sim::SHOP_DOMAIN),
            ("X-Shopify-API-Version", "2026-07"),
            ("X-Shopify-Webhook-Id", &webhook_id),
            ("X-Shopify-Event-Id", &event_id),
            ("X-Shopify-Triggered-At", &at),
        ],
        body,
    )
}

pub async fn run(sizes: &Sizes, report: &mut Report) -> anyhow::Result<()> {
    let setup = Setup::new("").await?;
    let paced_n = (sizes.paced_rate * sizes.paced_for.as_secs_f64()).ceil() as usize;
    // One shop makes them all: every delivery is a new order.
    let mut all = deliveries(sizes.orders + paced_n, 11, setup.addr, &setup.secret).await?;
    let paced = Arc::new(all.split_off(sizes.orders));
    let full = Arc::new(all);
    let bodies: Vec<Vec<u8>> = full.iter().map(|r| body_of(r).to_vec()).collect();

    let daemon = Daemon::start(&setup.config, setup.dir.path()).await?;
    let started = Instant::now();
    let mut fast = load::run(setup.addr, full.clone(), sizes.connections, None).await?;
    if !fast.refused.is_empty() {
        bail!(
            "the daemon refused {} of {} deliveries (first: HTTP {})",
            fast.refused.len(),
            full.len(),
            fast.refused[0]
        );
    }
    let acked_per_s = full.len() as f64 / fast.elapsed.as_secs_f64();
    // Applied: every delivered order in the orders table.
    let want = full.len() as i64;
    wait_stored(&setup, want).await?;
    let applied_after = started.elapsed();
    let peak_rss = daemon.peak_rss_bytes()?;

    // Paced: latency at a rate the daemon sustains.
    let mut steady = load::run(
        setup.addr,
        paced.clone(),
        sizes.connections,
        Some(sizes.paced_rate),
    )
    .await?;
    if !steady.refused.is_empty() {
        bail!(
            "the daemon refused {} paced deliveries",
            steady.refused.len()
        );
    }
    // Everything acknowledged is applied before the daemon stops.
    wait_stored(&setup, want + paced.len() as i64).await?;
    daemon.stop().await?;
    setup.shop.stop();

    let ceiling = ceiling(setup.dir.path(), &bodies).await?;
    let ratio = acked_per_s / ceiling;
    report.section(
        "intake",
        json!({
            "orders": full.len(),
            "connections": sizes.connections,
            "seconds": fast.elapsed.as_secs_f64(),
            "orders_per_s": acked_per_s,
            "ack_ms": { "p50": fast.quantile_ms(0.5), "p99": fast.quantile_ms(0.99), "p999": fast.quantile_ms(0.999) },
            "applied_per_s": full.len() as f64 / applied_after.as_secs_f64(),
            "sqlite_ceiling_per_s": ceiling,
            "ratio_to_ceiling": ratio,
            "paced": {
                "rate": sizes.paced_rate,
                "orders": paced.len(),
                "ack_ms": { "p50": steady.quantile_ms(0.5), "p99": steady.quantile_ms(0.99), "p999": steady.quantile_ms(0.999) },
            },
            "peak_rss_mib": mib(peak_rss),
        }),
    );
    report.row(
        "intake: webhooks acknowledged durable",
        format!("{acked_per_s:.0} orders/s"),
        "≥ 20,000 orders/s",
        Some(acked_per_s >= 20_000.0),
    );
    report.row(
        "intake ÷ SQLite ceiling (same run)",
        format!("{ratio:.2} ({ceiling:.0} rows/s)"),
        "≥ 0.5",
        Some(ratio >= 0.5),
    );
    report.row(
        "intake: ack p50 / p99 / p999 (flat out)",
        format!(
            "{:.2} / {:.2} / {:.2} ms",
            fast.quantile_ms(0.5),
            fast.quantile_ms(0.99),
            fast.quantile_ms(0.999)
        ),
        "",
        None,
    );
    let p99 = steady.quantile_ms(0.99);
    report.row(
        &format!("intake: ack p99 at {:.0}/s", sizes.paced_rate),
        format!("{p99:.2} ms (p50 {:.2})", steady.quantile_ms(0.5)),
        "< 10 ms",
        Some(p99 < 10.0),
    );
    report.row(
        "intake: orders applied (routed, reserved)",
        format!(
            "{:.0} orders/s",
            full.len() as f64 / applied_after.as_secs_f64()
        ),
        "",
        None,
    );
    Ok(())
}

/// Waits until the store holds `want` orders.
async fn wait_stored(setup: &Setup, want: i64) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(600);
    while setup.stored().await? < want {
        if Instant::now() > deadline {
            bail!("the deliveries were acknowledged but not all applied within 10 minutes");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

/// The body of a request `load::post` wrote.
fn body_of(req: &[u8]) -> &[u8] {
    let at = req
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(req.len(), |i| i + 4);
    &req[at..]
}

/// Rows a second a minimal loop stores in a fresh copy of the inbox table:
/// the same rows, the same pragmas (WAL, `synchronous = FULL`), one prepared
/// statement inserting `CEILING_BATCH` rows, one commit each.
async fn ceiling(dir: &Path, bodies: &[Vec<u8>]) -> anyhow::Result<f64> {
    use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
    use sqlx::{ConnectOptions, Connection};
    let db = dir.join("ceiling.db");
    let url = format!("sqlite://{}", db.display());
    Store::open(&StoreOptions::new(&url), OpenMode::Migrate)
        .await?
        .close()
        .await;
    let mut conn = SqliteConnectOptions::new()
        .filename(&db)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .connect()
        .await?;
    let headers =
        json!({"content-type": "application/json", "x-shopify-topic": "orders/create"}).to_string();
    let at = crate::store::now();
    let mut sql = String::from(
        "INSERT INTO inbox (connector, event_id, topic, state, received_at, error, headers, body) VALUES ",
    );
    for n in 0..CEILING_BATCH {
        if n > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&format!(
            "('shop', ${}, 'orders/create', 'pending', ${}, NULL, ${}, ${})",
            n * 2 + 1,
            CEILING_BATCH * 2 + 1,
            n * 2 + 2,
            CEILING_BATCH * 2 + 2
        ));
    }
    sql.push_str(" ON CONFLICT (connector, event_id) DO NOTHING");
    // Each row's event id and body; the time and the headers are shared.
    let started = Instant::now();
    for (b, chunk) in bodies.chunks(CEILING_BATCH).enumerate() {
        let mut tx = conn.begin().await?;
        if chunk.len() == CEILING_BATCH {
            let mut q = sqlx::query(&sql);
            for (i, body) in chunk.iter().enumerate() {
                q = q.bind(format!("{b}-{i}")).bind(body.as_slice());
            }
            q.bind(&at).bind(&headers).execute(&mut *tx).await?;
        } else {
            for (i, body) in chunk.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO inbox (connector, event_id, topic, state, received_at, error, headers, body)
                     VALUES ('shop', $1, 'orders/create', 'pending', $2, NULL, $3, $4)",
                )
                .bind(format!("{b}-{i}"))
                .bind(&at)
                .bind(&headers)
                .bind(body.as_slice())
                .execute(&mut *tx)
                .await?;
            }
        }
        tx.commit().await?;
    }
    let per_s = bodies.len() as f64 / started.elapsed().as_secs_f64();
    conn.close().await?;
    Ok(per_s)
}

pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

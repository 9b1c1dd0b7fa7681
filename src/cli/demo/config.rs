//! The config the demo runs on, written to `DIR/chansync.toml` with its
//! secrets in `DIR/secrets/` (mode 0600), so that the inspection commands
//! can read the demo's store afterwards.

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use serde_json::Value;

use super::world::{World, AMAZON, ERP, POS, SHOP};
use crate::cli::Failure;

/// The Amazon listings that are bundles of the warehouse's products:
/// (channel SKU, [(master SKU, quantity)]).
pub const AMAZON_BUNDLES: &[(&str, &[(&str, i64)])] = &[
    ("AMZ-GIFTSET-1", &[("SKU-MUG-1", 1), ("SKU-COFFEE-1", 1)]),
    ("AMZ-CABLE-3PK", &[("SKU-CABLE-1", 3)]),
];

/// The demo's locations: (name, Square location id or Odoo warehouse code).
pub fn store_locations() -> Vec<(&'static str, &'static str)> {
    let ids = chansync_square::sim::location_ids();
    vec![("flagship-store", ids[0]), ("harbor-market", ids[1])]
}

pub fn write(dir: &Path, daemon: SocketAddr, world: &World) -> Result<PathBuf, Failure> {
    let secrets = dir.join("secrets");
    std::fs::create_dir_all(&secrets).context("cannot create the secrets directory")?;
    let secret = |name: &str, value: &str| -> Result<String, Failure> {
        let path = secrets.join(name);
        write_secret(&path, value)?;
        Ok(path.display().to_string())
    };
    let amazon_creds = world.amazon.credentials();
    let erp_creds = world.erp.credentials();
    let cred = |v: &Value, k: &str| v[k].as_str().unwrap_or_default().to_owned();

    let path = dir.join("chansync.toml");
    let mut c = format!(
        r#"# Written by `chansync demo`. Inspect the demo's store with e.g.
#   chansync orders list --config {path}
#   chansync stock show --config {path}
[store]
url = "sqlite://{db}"

[server]
listen = "{daemon}"

# A Shopify shop: webhooks and a poll for what they miss. It is shown 90% of
# what is available, less one unit.
[[connector]]
name = "{SHOP}"
kind = "shopify"
base_url = "{shop}"
poll = {{ every = "5s" }}
access_token = {{ file = "{shop_token}" }}
webhook_secret = {{ file = "{shop_secret}" }}
stock = {{ share = 0.9, buffer = 1 }}

# An Amazon seller account in four European marketplaces, polled (Amazon
# sends no webhooks). Its usage plans are Amazon's ×{scale}, as the
# simulator's are, so that the demo moves.
[[connector]]
name = "{AMAZON}"
kind = "amazon"
base_url = "{amazon}"
poll = {{ every = "5s" }}
lwa_endpoint = "{lwa}"
client_id = "{client_id}"
client_secret = {{ file = "{client_secret}" }}
refresh_token = {{ file = "{refresh_token}" }}
seller_id = "{seller_id}"
marketplace_ids = {marketplaces}
feed_poll_every = "500ms"
rate_limits = {rate_limits}
stock = {{ buffer = 2 }}

# A Square POS in two stores: in-store sales come in as fulfilled orders, and
# its counts are the stores' on hand.
[[connector]]
name = "{POS}"
kind = "square"
base_url = "{pos}"
poll = {{ every = "5s" }}
access_token = {{ file = "{pos_token}" }}
webhook_secret = {{ file = "{pos_secret}" }}
webhook_url = "{pos_url}"

# Odoo runs the warehouses: its quants are their on hand, orders routed to
# them become sale orders there, and its deliveries come back as shipments.
[[connector]]
name = "{ERP}"
kind = "odoo"
base_url = "{erp}"
poll = {{ every = "2s" }}
database = "{database}"
login = "{login}"
access_token = {{ file = "{erp_key}" }}
warehouses = ["WH", "WH2"]
shipment_lag = "0s"

# The Odoo warehouses ship anywhere; the stores ship to the US only, and
# only when no warehouse can.
[[location]]
name = "main-wh"
country = "BE"
priority = 1
source = {{ connector = "{ERP}", location = "WH" }}

[[location]]
name = "antwerp-annex"
country = "BE"
priority = 2
source = {{ connector = "{ERP}", location = "WH2" }}
"#,
        path = path.display(),
        db = dir.join("chansync.db").display(),
        shop = world.shop.base_url(),
        shop_token = secret("shop-token", world.shop.access_token())?,
        shop_secret = secret("shop-webhook-secret", world.shop.webhook_secret())?,
        scale = super::world::AMAZON_RATE_SCALE,
        amazon = world.amazon.base_url(),
        lwa = world.amazon.lwa_endpoint(),
        client_id = cred(&amazon_creds, "client_id"),
        client_secret = secret(
            "amazon-client-secret",
            &cred(&amazon_creds, "client_secret")
        )?,
        refresh_token = secret(
            "amazon-refresh-token",
            &cred(&amazon_creds, "refresh_token")
        )?,
        seller_id = cred(&amazon_creds, "seller_id"),
        marketplaces = amazon_creds["marketplace_ids"],
        rate_limits = inline_table(&world.amazon.rate_limits()),
        pos = world.pos.base_url(),
        pos_token = secret("pos-token", world.pos.access_token())?,
        pos_secret = secret("pos-signature-key", world.pos.signature_key())?,
        pos_url = World::pos_webhook_url(daemon),
        erp = world.erp.base_url(),
        database = cred(&erp_creds, "database"),
        login = cred(&erp_creds, "login"),
        erp_key = secret("erp-api-key", &cred(&erp_creds, "api_key"))?,
    );
    for (i, (name, square_id)) in store_locations().into_iter().enumerate() {
        let _ = write!(
            c,
            "\n[[location]]\nname = \"{name}\"\ncountry = \"US\"\npriority = {}\nships_to = [\"US\"]\nsource = {{ connector = \"{POS}\", location = \"{square_id}\" }}\n",
            i + 3
        );
    }
    c.push_str("\n[routing]\nallow_split = true\n");
    // Every listing of the two marketplaces is published from the start, not
    // only once an order names it.
    c.push_str(&sim_sku_tables(SHOP, AMAZON));
    std::fs::write(&path, c).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

/// The `[[sku]]` tables mapping every listing of the Shopify and Amazon
/// simulators, for connectors named `shop` and `amazon`: each Shopify SKU
/// to itself, each Amazon listing to itself or, for a bundle, to its parts.
pub fn sim_sku_tables(shop: &str, amazon: &str) -> String {
    let mut c = String::new();
    for s in chansync_shopify::sim::catalog_skus() {
        let _ = write!(
            c,
            "\n[[sku]]\nconnector = \"{shop}\"\nchannel_sku = \"{s}\"\nmaster_sku = \"{s}\"\n"
        );
    }
    for s in chansync_amazon::sim::catalog_skus() {
        let parts = AMAZON_BUNDLES
            .iter()
            .find(|(b, _)| *b == s)
            .map_or_else(|| vec![(s, 1)], |(_, p)| p.to_vec());
        for (part, qty) in parts {
            let _ = write!(
                c,
                "\n[[sku]]\nconnector = \"{amazon}\"\nchannel_sku = \"{s}\"\nmaster_sku = \"{part}\"\nquantity = {qty}\n"
            );
        }
    }
    c
}

/// `{"getOrders": {"per_second": 0.167, "burst": 20}}` as a TOML inline table.
pub fn inline_table(v: &Value) -> String {
    match v {
        Value::Object(m) => format!(
            "{{ {} }}",
            m.iter()
                .map(|(k, v)| format!("{k} = {}", inline_table(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => other.to_string(),
    }
}

fn write_secret(path: &Path, value: &str) -> Result<(), Failure> {
    std::fs::write(path, value).with_context(|| format!("cannot write {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("cannot restrict {}", path.display()))?;
    }
    Ok(())
}

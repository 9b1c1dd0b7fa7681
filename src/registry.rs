//! The one place connectors are wired in: a config `kind` maps to the factory
//! that builds it. Adding a connector crate means adding one line here.

use chansync_sdk::{ConfigError, Connector, ConnectorContext, ConnectorFactory};

static FACTORIES: &[&dyn ConnectorFactory] = &[
    &chansync_shopify::ShopifyFactory,
    &chansync_odoo::OdooFactory,
    &chansync_square::SquareFactory,
    &chansync_amazon::AmazonFactory,
];

/// The connector kinds this build knows.
pub fn kinds() -> Vec<&'static str> {
    FACTORIES.iter().map(|f| f.kind()).collect()
}

/// Builds a connector instance of `kind`.
pub fn build(kind: &str, ctx: ConnectorContext) -> Result<Box<dyn Connector>, ConfigError> {
    let factory = FACTORIES.iter().find(|f| f.kind() == kind).ok_or_else(|| {
        ConfigError::new(
            "kind",
            format!(
                "unknown connector kind {kind:?}; this build has: {}",
                kinds().join(", ")
            ),
        )
    })?;
    factory.build(ctx)
}

//! Amazon's marketplaces as far as chansync needs them: each id's country,
//! currency and whether its prices include tax (VAT-inclusive stores show
//! `ItemTax` as the part of `ItemPrice` that is tax; US and Canadian stores
//! add it on top). Ids from Amazon's published marketplace-id table.

/// One Amazon store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Marketplace {
    pub id: &'static str,
    /// ISO 3166-1 alpha-2.
    pub country: &'static str,
    /// ISO 4217.
    pub currency: &'static str,
    /// Whether `ItemPrice` and `ShippingPrice` already contain `ItemTax` and
    /// `ShippingTax`.
    pub prices_include_tax: bool,
    /// The `SalesChannel` orders from it carry.
    pub sales_channel: &'static str,
}

const fn m(
    id: &'static str,
    country: &'static str,
    currency: &'static str,
    prices_include_tax: bool,
    sales_channel: &'static str,
) -> Marketplace {
    Marketplace {
        id,
        country,
        currency,
        prices_include_tax,
        sales_channel,
    }
}

/// The marketplaces chansync knows by id.
pub const MARKETPLACES: &[Marketplace] = &[
    m("ATVPDKIKX0DER", "US", "USD", false, "Amazon.com"),
    m("A2EUQ1WTGCTBG2", "CA", "CAD", false, "Amazon.ca"),
    m("A1AM78C64UM0Y8", "MX", "MXN", true, "Amazon.com.mx"),
    m("A2Q3Y263D00KWC", "BR", "BRL", true, "Amazon.com.br"),
    m("A1PA6795UKMFR9", "DE", "EUR", true, "Amazon.de"),
    m("A1F83G8C2ARO7P", "GB", "GBP", true, "Amazon.co.uk"),
    m("A13V1IB3VIYZZH", "FR", "EUR", true, "Amazon.fr"),
    m("APJ6JRA9NG5V4", "IT", "EUR", true, "Amazon.it"),
    m("A1RKKUPIHCS9HS", "ES", "EUR", true, "Amazon.es"),
    m("A1805IZSGTT6HS", "NL", "EUR", true, "Amazon.nl"),
    m("AMEN7PMS3EDWL", "BE", "EUR", true, "Amazon.com.be"),
    m("A2NODRKZP88ZB9", "SE", "SEK", true, "Amazon.se"),
    m("A1C3SOZRARQ6R3", "PL", "PLN", true, "Amazon.pl"),
    m("A33AVAJ2PDY3EV", "TR", "TRY", true, "Amazon.com.tr"),
    m("A1VC38T7YXB528", "JP", "JPY", true, "Amazon.co.jp"),
    m("A39IBJ37TRP1C6", "AU", "AUD", true, "Amazon.com.au"),
    m("A19VAU5U5O7RUS", "SG", "SGD", true, "Amazon.sg"),
    m("A21TJRUUN4KGV", "IN", "INR", true, "Amazon.in"),
    m("A2VIGQ35RCS4UG", "AE", "AED", true, "Amazon.ae"),
];

/// The marketplace with this id, if chansync knows it.
pub fn by_id(id: &str) -> Option<&'static Marketplace> {
    MARKETPLACES.iter().find(|m| m.id == id)
}

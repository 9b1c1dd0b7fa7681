//! The canonical order model every connector maps into and the daemon stores.
//!
//! `ChannelOrder` is what a connector says about an order; `Order` is the
//! stored view that the CLI and admin API print (INTERFACE.md's Order JSON).
//! Money is `rust_decimal::Decimal` serialized as a string, with one ISO 4217
//! currency per order, so a channel's precision survives every round trip.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

/// The largest magnitude of an amount chansync takes from a channel: 10^15
/// of the currency's major unit (more than a year of the world's trade in
/// any currency). Mapping code adds and multiplies amounts and quantities;
/// within these bounds no sum or product over an order can overflow
/// `Decimal`, so a channel's absurd figure is refused with a clear error
/// instead of a panic.
pub const MAX_AMOUNT: Decimal = Decimal::from_parts(2_764_472_320, 232_830, 0, false, 0);

/// The largest quantity of one line chansync takes from a channel.
pub const MAX_QUANTITY: Decimal = Decimal::from_parts(1_000_000, 0, 0, false, 0);

/// `d` if it is within [`MAX_AMOUNT`], else why not.
pub fn bounded_amount(d: Decimal) -> Result<Decimal, String> {
    if d.abs() <= MAX_AMOUNT {
        Ok(d)
    } else {
        Err(format!(
            "{d} is beyond the largest amount chansync takes ({MAX_AMOUNT})"
        ))
    }
}

/// `q` if it is within [`MAX_QUANTITY`] either way, else why not.
pub fn bounded_quantity(q: Decimal) -> Result<Decimal, String> {
    if q.abs() <= MAX_QUANTITY {
        Ok(q)
    } else {
        Err(format!(
            "{q} is beyond the largest quantity chansync takes ({MAX_QUANTITY})"
        ))
    }
}

/// An ISO 4217 alphabetic currency code, e.g. `USD`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency(String);

impl Currency {
    /// The code as three upper-case letters.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// ISO 4217's minor units: how many decimals an amount is written with.
    pub fn minor_units(&self) -> u32 {
        match self.as_str() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF"
            | "UGX" | "UYI" | "VND" | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            "CLF" | "UYW" => 4,
            _ => 2,
        }
    }

    /// `amount` written with at least this currency's minor units and no
    /// trailing zeros beyond them: `417.3` and `417.300` both become
    /// `417.30` in USD, `1.2345` stays. Never rounds.
    pub fn canonical(&self, amount: Decimal) -> Decimal {
        let mut a = amount.normalize();
        if a.scale() < self.minor_units() {
            a.rescale(self.minor_units());
        }
        a
    }
}

/// A currency code that is not three ASCII letters.
#[derive(Debug, thiserror::Error)]
#[error("not an ISO 4217 currency code: {0:?}")]
pub struct InvalidCurrency(pub String);

impl FromStr for Currency {
    type Err = InvalidCurrency;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 3 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(Currency(s.to_ascii_uppercase()))
        } else {
            Err(InvalidCurrency(s.to_owned()))
        }
    }
}

impl TryFrom<String> for Currency {
    type Error = InvalidCurrency;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.0
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An ISO 3166-1 alpha-2 country code, e.g. `DE`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CountryCode(String);

impl CountryCode {
    /// The code as two upper-case letters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A country code that is not two ASCII letters.
#[derive(Debug, thiserror::Error)]
#[error("not an ISO 3166-1 alpha-2 country code: {0:?}")]
pub struct InvalidCountry(pub String);

impl FromStr for CountryCode {
    type Err = InvalidCountry;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() == 2 && s.bytes().all(|b| b.is_ascii_alphabetic()) {
            Ok(CountryCode(s.to_ascii_uppercase()))
        } else {
            Err(InvalidCountry(s.to_owned()))
        }
    }
}

impl TryFrom<String> for CountryCode {
    type Error = InvalidCountry;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<CountryCode> for String {
    fn from(c: CountryCode) -> String {
        c.0
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// chansync's order status (INTERFACE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    Open,
    Allocated,
    PartiallyFulfilled,
    Fulfilled,
    Cancelled,
    NeedsAttention,
}

/// How an order is paid (INTERFACE.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Pending,
    Authorized,
    Paid,
    PartiallyRefunded,
    Refunded,
    Voided,
    Unknown,
}

/// Where the channel says an order stands in its own lifecycle; the daemon
/// derives [`OrderStatus`] from it together with routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChannelStatus {
    /// Awaiting fulfilment.
    Open,
    PartiallyFulfilled,
    Fulfilled,
    Cancelled,
}

/// Who ships an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum FulfilledBy {
    /// The merchant ships it: chansync routes it and reserves stock.
    #[default]
    Merchant,
    /// The marketplace ships it (e.g. FBA): recorded, never routed.
    Channel,
}

/// Macro-free string forms for the enums, used in tables and the store.
macro_rules! str_enum {
    ($t:ty { $($v:ident => $s:literal),* $(,)? }) => {
        impl $t {
            /// The snake_case name used in JSON, tables and the store.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),* }
            }
        }
        impl FromStr for $t {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($s => Ok(Self::$v),)*
                    other => Err(format!("unknown {}: {other:?}", stringify!($t))),
                }
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

str_enum!(OrderStatus {
    Open => "open",
    Allocated => "allocated",
    PartiallyFulfilled => "partially_fulfilled",
    Fulfilled => "fulfilled",
    Cancelled => "cancelled",
    NeedsAttention => "needs_attention",
});
str_enum!(PaymentStatus {
    Pending => "pending",
    Authorized => "authorized",
    Paid => "paid",
    PartiallyRefunded => "partially_refunded",
    Refunded => "refunded",
    Voided => "voided",
    Unknown => "unknown",
});
str_enum!(ChannelStatus {
    Open => "open",
    PartiallyFulfilled => "partially_fulfilled",
    Fulfilled => "fulfilled",
    Cancelled => "cancelled",
});
str_enum!(FulfilledBy {
    Merchant => "merchant",
    Channel => "channel",
});

/// The buyer, as far as the channel tells.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct Customer {
    pub name: Option<String>,
    pub email: Option<String>,
}

/// A postal address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub line1: String,
    pub line2: Option<String>,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country_code: CountryCode,
}

/// One line of an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderLine {
    /// The channel's line id.
    pub external_id: String,
    /// The master SKU, or the channel SKU where it is not mapped; null for a
    /// line the channel gives no SKU (a custom item, a gift note).
    pub sku: Option<String>,
    /// The SKU as the channel knows it, if it has one.
    pub channel_sku: Option<String>,
    pub title: String,
    pub quantity: u32,
    #[serde(with = "rust_decimal::serde::str")]
    pub unit_price: Decimal,
    /// `unit_price × quantity − discount`.
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub tax: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub discount: Decimal,
}

/// A line of an order as the channel sends it, before SKU mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelLine {
    pub external_id: String,
    /// The channel's SKU; `None` for custom lines without one.
    pub channel_sku: Option<String>,
    pub title: String,
    pub quantity: u32,
    #[serde(with = "rust_decimal::serde::str")]
    pub unit_price: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub tax: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub discount: Decimal,
}

/// One stock allocation of an order to a location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allocation {
    pub location: String,
    pub sku: String,
    pub quantity: u32,
}

/// One line of a fulfilment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FulfillmentLine {
    pub external_id: String,
    pub quantity: u32,
}

/// A shipment of some or all of an order's lines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fulfillment {
    pub location: Option<String>,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub lines: Vec<FulfillmentLine>,
}

/// An order as a channel reports it: what a connector's mapping produces.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelOrder {
    /// The channel's order id, as a string (INTERFACE.md says which per channel).
    pub external_id: String,
    /// The human order number, where the channel has one.
    pub external_number: Option<String>,
    pub status: ChannelStatus,
    pub payment_status: PaymentStatus,
    pub fulfilled_by: FulfilledBy,
    pub currency: Currency,
    #[serde(with = "rust_decimal::serde::str")]
    pub subtotal: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub shipping_total: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub tax_total: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub discount_total: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    pub placed_at: DateTime<FixedOffset>,
    /// The channel's own update time; the store never lets an older one win.
    pub updated_at: DateTime<FixedOffset>,
    pub customer: Customer,
    pub shipping_address: Option<Address>,
    pub lines: Vec<ChannelLine>,
    /// Shipments the channel already knows about.
    pub fulfillments: Vec<Fulfillment>,
}

impl ChannelOrder {
    /// Writes every amount in its canonical form ([`Currency::canonical`]),
    /// so the same order read from two APIs of a channel compares and stores
    /// the same.
    pub fn canonicalize_amounts(&mut self) {
        let c = self.currency.clone();
        for a in [
            &mut self.subtotal,
            &mut self.shipping_total,
            &mut self.tax_total,
            &mut self.discount_total,
            &mut self.total,
        ] {
            *a = c.canonical(*a);
        }
        for l in &mut self.lines {
            for a in [&mut l.unit_price, &mut l.total, &mut l.tax, &mut l.discount] {
                *a = c.canonical(*a);
            }
        }
    }
}

/// The canonical order: INTERFACE.md's Order JSON, as the store returns it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    /// chansync's own id.
    pub id: String,
    pub connector: String,
    pub channel_kind: String,
    pub external_id: String,
    pub external_number: Option<String>,
    pub status: OrderStatus,
    pub payment_status: PaymentStatus,
    pub currency: Currency,
    #[serde(with = "rust_decimal::serde::str")]
    pub subtotal: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub shipping_total: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub tax_total: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub discount_total: Decimal,
    #[serde(with = "rust_decimal::serde::str")]
    pub total: Decimal,
    pub placed_at: DateTime<FixedOffset>,
    pub updated_at: DateTime<FixedOffset>,
    pub customer: Customer,
    pub shipping_address: Option<Address>,
    pub lines: Vec<OrderLine>,
    pub allocations: Vec<Allocation>,
    pub fulfillments: Vec<Fulfillment>,
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bounds_are_ten_to_the_fifteen_and_a_million() {
        use super::*;
        assert_eq!(MAX_AMOUNT, Decimal::from(1_000_000_000_000_000_i64));
        assert_eq!(MAX_QUANTITY, Decimal::from(1_000_000));
        assert!(bounded_amount(-MAX_AMOUNT).is_ok());
        assert!(bounded_amount(MAX_AMOUNT + Decimal::new(1, 2)).is_err());
        assert!(bounded_quantity(Decimal::new(10_000_005, 1)).is_err());
        // A line at the bounds, and thousands of them, stay inside Decimal.
        let line = MAX_AMOUNT * MAX_QUANTITY;
        assert!(line.checked_mul(Decimal::from(10_000_000)).is_some());
    }

    #[test]
    fn canonical_amounts_keep_value_and_use_the_currency_decimals() {
        let usd: Currency = "USD".parse().unwrap();
        let jpy: Currency = "JPY".parse().unwrap();
        let kwd: Currency = "KWD".parse().unwrap();
        let d = |s: &str| s.parse::<Decimal>().unwrap();
        assert_eq!(usd.canonical(d("417.3")).to_string(), "417.30");
        assert_eq!(usd.canonical(d("417.300")).to_string(), "417.30");
        assert_eq!(usd.canonical(d("0")).to_string(), "0.00");
        assert_eq!(usd.canonical(d("1.2345")).to_string(), "1.2345");
        assert_eq!(jpy.canonical(d("23265.00")).to_string(), "23265");
        assert_eq!(kwd.canonical(d("4.5")).to_string(), "4.500");
    }

    use super::*;

    #[test]
    fn currency_and_country_codes_are_validated() {
        assert_eq!("usd".parse::<Currency>().unwrap().as_str(), "USD");
        assert!("US".parse::<Currency>().is_err());
        assert!("€€€".parse::<Currency>().is_err());
        assert_eq!("de".parse::<CountryCode>().unwrap().as_str(), "DE");
        assert!("DEU".parse::<CountryCode>().is_err());
    }

    #[test]
    fn decimals_serialize_as_strings_keeping_their_scale() {
        let line = ChannelLine {
            external_id: "1".into(),
            channel_sku: None,
            title: "t".into(),
            quantity: 2,
            unit_price: "10.50".parse().unwrap(),
            total: "21.00".parse().unwrap(),
            tax: "0".parse().unwrap(),
            discount: "0.000".parse().unwrap(),
        };
        let json = serde_json::to_value(&line).unwrap();
        assert_eq!(json["unit_price"], "10.50");
        assert_eq!(json["total"], "21.00");
        assert_eq!(json["discount"], "0.000");
        let back: ChannelLine = serde_json::from_value(json).unwrap();
        assert_eq!(back, line);
    }

    #[test]
    fn enums_round_trip_through_their_names() {
        for s in [
            "open",
            "allocated",
            "partially_fulfilled",
            "fulfilled",
            "cancelled",
            "needs_attention",
        ] {
            let st: OrderStatus = s.parse().unwrap();
            assert_eq!(st.as_str(), s);
            assert_eq!(serde_json::to_value(st).unwrap(), s);
        }
        assert!("shipped".parse::<OrderStatus>().is_err());
    }
}

//! A simulated order as the simulated Amazon holds it — integer minor units,
//! a status, what has shipped — and how it renders as Orders v0 JSON. What a
//! status hides (the address and buyer of a pending order, its total) is left
//! out of the rendering the way the spec describes, never invented.

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::Decimal;

use crate::marketplace::Marketplace;
use crate::wire::{self, Money};

/// Amazon's order statuses the simulator moves through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Pending,
    Unshipped,
    PartiallyShipped,
    Shipped,
    Canceled,
}

impl Status {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "Pending",
            Status::Unshipped => "Unshipped",
            Status::PartiallyShipped => "PartiallyShipped",
            Status::Shipped => "Shipped",
            Status::Canceled => "Canceled",
        }
    }

    /// Statuses whose `ShippingAddress` the API shows.
    fn shows_address(self) -> bool {
        matches!(
            self,
            Status::Unshipped | Status::PartiallyShipped | Status::Shipped
        )
    }
}

/// Who ships the order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Channel {
    /// The seller (`MFN`).
    Merchant,
    /// Amazon (`AFN`).
    Amazon,
}

impl Channel {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Channel::Merchant => "MFN",
            Channel::Amazon => "AFN",
        }
    }
}

/// One order item; amounts in the currency's minor units.
#[derive(Debug, Clone)]
pub(crate) struct SimItem {
    pub order_item_id: String,
    pub sku: String,
    pub asin: String,
    pub title: String,
    pub quantity: u32,
    pub shipped: u32,
    /// Price of one unit.
    pub unit: i64,
    pub item_tax: i64,
    pub promotion: i64,
    pub promotion_tax: i64,
    pub shipping: i64,
    pub shipping_tax: i64,
    pub shipping_discount: i64,
    pub shipping_discount_tax: i64,
}

impl SimItem {
    pub(crate) fn price(&self) -> i64 {
        self.unit * i64::from(self.quantity)
    }
}

/// The buyer's postal address.
#[derive(Debug, Clone)]
pub(crate) struct SimAddress {
    pub name: String,
    pub line1: String,
    pub city: String,
    pub region: Option<String>,
    pub postal_code: String,
    pub country: String,
}

/// An order as the simulated Amazon holds it.
#[derive(Debug, Clone)]
pub(crate) struct SimOrder {
    pub id: String,
    pub marketplace: &'static Marketplace,
    /// The currency's minor units (2 for EUR, 0 for JPY).
    pub exponent: u32,
    pub channel: Channel,
    pub status: Status,
    pub purchase_date: DateTime<Utc>,
    pub last_update: DateTime<Utc>,
    pub items: Vec<SimItem>,
    /// Shown only to applications with the restricted role; some orders
    /// carry none.
    pub buyer_name: Option<String>,
    pub buyer_email: String,
    pub address: SimAddress,
    pub is_prime: bool,
    /// `packageReferenceId`s confirmed so far.
    pub packages: Vec<String>,
}

pub(crate) fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl SimOrder {
    fn money(&self, minor: i64) -> Money {
        Money {
            currency_code: Some(self.marketplace.currency.to_owned()),
            amount: Some(Decimal::new(minor, self.exponent).to_string()),
        }
    }

    /// `OrderTotal` in minor units: what the buyer pays.
    pub(crate) fn total(&self) -> i64 {
        self.items
            .iter()
            .map(|i| {
                let net = i.price() - i.promotion + i.shipping - i.shipping_discount;
                let tax = i.item_tax - i.promotion_tax + i.shipping_tax - i.shipping_discount_tax;
                if self.marketplace.prices_include_tax {
                    net
                } else {
                    net + tax
                }
            })
            .sum()
    }

    pub(crate) fn units(&self) -> (u32, u32) {
        let shipped = self.items.iter().map(|i| i.shipped).sum();
        let ordered: u32 = self.items.iter().map(|i| i.quantity).sum();
        (shipped, ordered - shipped)
    }

    /// The order as `getOrders` and `getOrder` show it.
    pub(crate) fn to_wire(&self) -> wire::Order {
        let (shipped, unshipped) = self.units();
        let pending = self.status == Status::Pending;
        wire::Order {
            amazon_order_id: self.id.clone(),
            seller_order_id: Some(self.id.clone()),
            purchase_date: iso(self.purchase_date),
            last_update_date: iso(self.last_update),
            order_status: self.status.as_str().to_owned(),
            fulfillment_channel: Some(self.channel.as_str().to_owned()),
            sales_channel: Some(self.marketplace.sales_channel.to_owned()),
            ship_service_level: Some(
                if self.is_prime {
                    "Expedited"
                } else {
                    "Standard"
                }
                .to_owned(),
            ),
            order_total: (!pending).then(|| self.money(self.total())),
            number_of_items_shipped: Some(shipped),
            number_of_items_unshipped: Some(unshipped),
            payment_method: Some("Other".to_owned()),
            marketplace_id: Some(self.marketplace.id.to_owned()),
            shipment_service_level_category: Some(
                if self.is_prime {
                    "Expedited"
                } else {
                    "Standard"
                }
                .to_owned(),
            ),
            order_type: Some("StandardOrder".to_owned()),
            earliest_ship_date: Some(iso(self.purchase_date + chrono::Duration::days(1))),
            latest_ship_date: Some(iso(self.purchase_date + chrono::Duration::days(3))),
            is_business_order: Some(false),
            is_prime: Some(self.is_prime),
            is_replacement_order: Some(false),
            shipping_address: self.status.shows_address().then(|| wire::Address {
                name: Some(self.address.name.clone()),
                address_line1: Some(self.address.line1.clone()),
                city: Some(self.address.city.clone()),
                state_or_region: self.address.region.clone(),
                postal_code: Some(self.address.postal_code.clone()),
                country_code: Some(self.address.country.clone()),
                address_type: Some("Residential".to_owned()),
                ..Default::default()
            }),
            buyer_info: (!pending).then(|| wire::BuyerInfo {
                buyer_email: Some(self.buyer_email.clone()),
                buyer_name: self.buyer_name.clone(),
                purchase_order_number: None,
            }),
        }
    }

    /// The order's items as `getOrderItems` shows them.
    pub(crate) fn items_wire(&self) -> Vec<wire::OrderItem> {
        self.items
            .iter()
            .map(|i| wire::OrderItem {
                asin: i.asin.clone(),
                seller_sku: Some(i.sku.clone()),
                order_item_id: i.order_item_id.clone(),
                title: Some(i.title.clone()),
                quantity_ordered: i.quantity,
                quantity_shipped: Some(i.shipped),
                item_price: Some(self.money(i.price())),
                shipping_price: Some(self.money(i.shipping)),
                item_tax: Some(self.money(i.item_tax)),
                shipping_tax: Some(self.money(i.shipping_tax)),
                shipping_discount: Some(self.money(i.shipping_discount)),
                shipping_discount_tax: Some(self.money(i.shipping_discount_tax)),
                promotion_discount: Some(self.money(i.promotion)),
                promotion_discount_tax: Some(self.money(i.promotion_tax)),
                is_gift: Some("false".to_owned()),
                condition_id: Some("New".to_owned()),
            })
            .collect()
    }
}

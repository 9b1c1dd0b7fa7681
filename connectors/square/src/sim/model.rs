//! A simulated order and how Square shows it: every amount an integer of
//! minor units computed here (line taxes and discounts apportioned, rounded
//! half up), rendered in the `Order` shape of shared/specs/square/api.json.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use rust_decimal::{Decimal, RoundingStrategy};
use serde_json::{json, Value};

use crate::sim::catalog::{CurrencyDef, VARIATIONS};

/// RFC 3339 in UTC with milliseconds, as Square writes timestamps.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `Money`.
pub(crate) fn money(amount: i64, currency: &CurrencyDef) -> Value {
    json!({ "amount": amount, "currency": currency.code })
}

/// `amount × rate`, rounded half up to whole minor units.
pub(crate) fn apply_rate(amount: i64, rate: Decimal) -> i64 {
    let v = (Decimal::from(amount) * rate)
        .round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    rust_decimal::prelude::ToPrimitive::to_i64(&v).unwrap_or(0)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderState {
    Open,
    Completed,
    Canceled,
}

impl OrderState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            OrderState::Open => "OPEN",
            OrderState::Completed => "COMPLETED",
            OrderState::Canceled => "CANCELED",
        }
    }
}

/// How a simulated order came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Rung up at a register: completed and paid at once.
    InStore,
    /// Placed on the seller's site: open, with a shipment to prepare.
    Online,
}

#[derive(Debug, Clone)]
pub(crate) struct SimLine {
    pub uid: String,
    /// Index into `VARIATIONS`; `None` for a custom amount.
    pub variation: Option<usize>,
    pub name: String,
    pub quantity: u32,
    pub base_price: i64,
    pub discount: i64,
    pub tax: i64,
}

impl SimLine {
    pub(crate) fn gross(&self) -> i64 {
        self.base_price * i64::from(self.quantity)
    }

    pub(crate) fn net(&self) -> i64 {
        self.gross() - self.discount
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CardStatus {
    Authorized,
    Captured,
    Voided,
}

#[derive(Debug, Clone)]
pub(crate) struct SimTender {
    pub id: String,
    /// `None`: cash.
    pub card: Option<CardStatus>,
    pub amount: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone)]
pub(crate) struct SimRefund {
    pub id: String,
    pub tender_id: String,
    pub amount: i64,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ShipmentState {
    Proposed,
    Reserved,
    Prepared,
    Completed,
    Canceled,
}

impl ShipmentState {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ShipmentState::Proposed => "PROPOSED",
            ShipmentState::Reserved => "RESERVED",
            ShipmentState::Prepared => "PREPARED",
            ShipmentState::Completed => "COMPLETED",
            ShipmentState::Canceled => "CANCELED",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct SimRecipient {
    pub name: String,
    pub email: String,
    pub phone: String,
    pub line1: String,
    pub line2: Option<String>,
    pub locality: String,
    pub district: Option<String>,
    pub postal_code: String,
    pub country: String,
}

#[derive(Debug, Clone)]
pub(crate) struct SimShipment {
    pub uid: String,
    pub state: ShipmentState,
    pub recipient: SimRecipient,
    pub carrier: Option<String>,
    pub tracking: Option<String>,
    pub placed_at: DateTime<Utc>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub canceled_at: Option<DateTime<Utc>>,
    /// Application data UpdateOrder set.
    pub metadata: BTreeMap<String, String>,
}

/// An order-wide percentage discount.
#[derive(Debug, Clone)]
pub(crate) struct SimDiscount {
    pub uid: String,
    pub name: String,
    pub percentage: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct SimOrder {
    pub id: String,
    pub kind: Kind,
    pub location_id: String,
    pub currency: &'static CurrencyDef,
    pub state: OrderState,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub lines: Vec<SimLine>,
    pub tax_uid: String,
    pub discount: Option<SimDiscount>,
    /// The shipping service charge: uid and amount.
    pub shipping: Option<(String, i64)>,
    pub shipment: Option<SimShipment>,
    pub tenders: Vec<SimTender>,
    pub refunds: Vec<SimRefund>,
}

impl SimOrder {
    pub(crate) fn tax_total(&self) -> i64 {
        self.lines.iter().map(|l| l.tax).sum()
    }

    pub(crate) fn discount_total(&self) -> i64 {
        self.lines.iter().map(|l| l.discount).sum()
    }

    pub(crate) fn shipping_total(&self) -> i64 {
        self.shipping.as_ref().map_or(0, |s| s.1)
    }

    /// What the buyer pays: lines after discount, their tax, shipping.
    pub(crate) fn total(&self) -> i64 {
        self.lines.iter().map(|l| l.net() + l.tax).sum::<i64>() + self.shipping_total()
    }

    /// The variation (index into `VARIATIONS`) and quantity of each catalog
    /// line, for the inventory.
    pub(crate) fn stock_lines(&self) -> Vec<(usize, i64)> {
        self.lines
            .iter()
            .filter_map(|l| Some((l.variation?, i64::from(l.quantity))))
            .collect()
    }

    fn line_json(&self, l: &SimLine) -> Value {
        let c = self.currency;
        let mut v = json!({
            "uid": l.uid,
            "name": l.name,
            "quantity": l.quantity.to_string(),
            "item_type": if l.variation.is_some() { "ITEM" } else { "CUSTOM_AMOUNT" },
            "base_price_money": money(l.base_price, c),
            "variation_total_price_money": money(l.gross(), c),
            "gross_sales_money": money(l.gross(), c),
            "total_tax_money": money(l.tax, c),
            "total_discount_money": money(l.discount, c),
            "total_money": money(l.net() + l.tax, c),
            "total_service_charge_money": money(0, c),
            "applied_taxes": [{
                "uid": format!("{}-tax", l.uid),
                "tax_uid": self.tax_uid,
                "applied_money": money(l.tax, c),
            }],
        });
        if let Some(i) = l.variation {
            let var = &VARIATIONS[i];
            v["catalog_object_id"] = json!(var.id);
            v["catalog_version"] = json!(1_767_225_600_000i64);
            v["variation_name"] = json!(var.name);
        }
        if let Some(d) = &self.discount {
            v["applied_discounts"] = json!([{
                "uid": format!("{}-discount", l.uid),
                "discount_uid": d.uid,
                "applied_money": money(l.discount, c),
            }]);
        }
        v
    }

    fn shipment_json(&self, s: &SimShipment) -> Value {
        let r = &s.recipient;
        let mut address = json!({
            "address_line_1": r.line1,
            "locality": r.locality,
            "postal_code": r.postal_code,
            "country": r.country,
        });
        if let Some(l2) = &r.line2 {
            address["address_line_2"] = json!(l2);
        }
        if let Some(d) = &r.district {
            address["administrative_district_level_1"] = json!(d);
        }
        let mut details = json!({
            "recipient": {
                "display_name": r.name,
                "email_address": r.email,
                "phone_number": r.phone,
                "address": address,
            },
            "shipping_type": "Standard",
            "placed_at": ts(s.placed_at),
        });
        if let Some(carrier) = &s.carrier {
            details["carrier"] = json!(carrier);
        }
        if let Some(t) = &s.tracking {
            details["tracking_number"] = json!(t);
        }
        if let Some(t) = s.shipped_at {
            details["shipped_at"] = json!(ts(t));
        }
        if let Some(t) = s.canceled_at {
            details["canceled_at"] = json!(ts(t));
            details["cancel_reason"] = json!("Canceled by the seller");
        }
        let mut f = json!({
            "uid": s.uid,
            "type": "SHIPMENT",
            "state": s.state.as_str(),
            "line_item_application": "ALL",
            "shipment_details": details,
        });
        if !s.metadata.is_empty() {
            f["metadata"] = json!(s.metadata);
        }
        f
    }

    fn tender_json(&self, t: &SimTender) -> Value {
        let c = self.currency;
        let mut v = json!({
            "id": t.id,
            "location_id": self.location_id,
            "transaction_id": self.id,
            "created_at": ts(t.created_at),
            "amount_money": money(t.amount, c),
            "type": if t.card.is_some() { "CARD" } else { "CASH" },
        });
        match t.card {
            Some(status) => {
                v["card_details"] = json!({
                    "status": match status {
                        CardStatus::Authorized => "AUTHORIZED",
                        CardStatus::Captured => "CAPTURED",
                        CardStatus::Voided => "VOIDED",
                    },
                    "card": { "card_brand": "VISA", "last_4": "1111", "exp_month": 12, "exp_year": 2030 },
                    "entry_method": if self.kind == Kind::Online { "KEYED" } else { "EMV" },
                });
                v["payment_id"] = json!(t.id);
            }
            None => {
                v["cash_details"] = json!({
                    "buyer_tendered_money": money(t.amount, c),
                    "change_back_money": money(0, c),
                });
            }
        }
        v
    }

    /// The order as Square's API returns it.
    pub(crate) fn to_json(&self) -> Value {
        let c = self.currency;
        let mut o = json!({
            "id": self.id,
            "location_id": self.location_id,
            "source": { "name": match self.kind {
                Kind::InStore => "Square Point of Sale",
                Kind::Online => "Square Online",
            }},
            "line_items": self.lines.iter().map(|l| self.line_json(l)).collect::<Vec<_>>(),
            "taxes": [{
                "uid": self.tax_uid,
                "name": c.tax_name,
                "percentage": c.tax_percentage,
                "type": "ADDITIVE",
                "scope": "ORDER",
                "applied_money": money(self.tax_total(), c),
            }],
            "created_at": ts(self.created_at),
            "updated_at": ts(self.updated_at),
            "state": self.state.as_str(),
            "version": self.version,
            "total_money": money(self.total(), c),
            "total_tax_money": money(self.tax_total(), c),
            "total_discount_money": money(self.discount_total(), c),
            "total_tip_money": money(0, c),
            "total_service_charge_money": money(self.shipping_total(), c),
            "net_amounts": {
                "total_money": money(self.total(), c),
                "tax_money": money(self.tax_total(), c),
                "discount_money": money(self.discount_total(), c),
                "tip_money": money(0, c),
                "service_charge_money": money(self.shipping_total(), c),
            },
        });
        if let Some(d) = &self.discount {
            o["discounts"] = json!([{
                "uid": d.uid,
                "name": d.name,
                "percentage": d.percentage.to_string(),
                "type": "FIXED_PERCENTAGE",
                "scope": "ORDER",
                "applied_money": money(self.discount_total(), c),
            }]);
        }
        if let Some((uid, amount)) = &self.shipping {
            o["service_charges"] = json!([{
                "uid": uid,
                "name": "Shipping",
                "amount_money": money(*amount, c),
                "applied_money": money(*amount, c),
                "total_money": money(*amount, c),
                "total_tax_money": money(0, c),
                "calculation_phase": "TOTAL_PHASE",
                "taxable": false,
                "type": "CUSTOM",
                "scope": "ORDER",
            }]);
        }
        if let Some(s) = &self.shipment {
            o["fulfillments"] = json!([self.shipment_json(s)]);
        }
        if !self.tenders.is_empty() {
            o["tenders"] = self.tenders.iter().map(|t| self.tender_json(t)).collect();
        }
        if !self.refunds.is_empty() {
            o["refunds"] = self
                .refunds
                .iter()
                .map(|r| {
                    json!({
                        "id": r.id,
                        "location_id": self.location_id,
                        "transaction_id": self.id,
                        "tender_id": r.tender_id,
                        "created_at": ts(r.created_at),
                        "reason": "Order canceled",
                        "amount_money": money(r.amount, c),
                        "status": "APPROVED",
                    })
                })
                .collect();
        }
        if let Some(t) = self.closed_at {
            o["closed_at"] = json!(ts(t));
        }
        let paid: i64 = self
            .tenders
            .iter()
            .filter(|t| t.card != Some(CardStatus::Voided))
            .map(|t| t.amount)
            .sum();
        o["net_amount_due_money"] = money((self.total() - paid).max(0), c);
        o
    }

    /// The summary an `order.created` / `order.updated` event carries.
    pub(crate) fn summary(&self, updated: bool) -> Value {
        let mut v = json!({
            "order_id": self.id,
            "version": self.version,
            "location_id": self.location_id,
            "state": self.state.as_str(),
            "created_at": ts(self.created_at),
        });
        if updated {
            v["updated_at"] = json!(ts(self.updated_at));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_round_half_up() {
        let r: Decimal = "0.08875".parse().unwrap();
        assert_eq!(apply_rate(1000, r), 89, "88.75 → 89");
        assert_eq!(apply_rate(400, r), 36, "35.5 → 36");
        assert_eq!(apply_rate(0, r), 0);
    }
}

//! What the simulated Odoo does beyond storing records: creating contacts
//! and sale orders (with their lines), confirming an order into a reserved
//! delivery, validating a delivery (moves done, quants consumed, empty
//! quants removed as Odoo's quant cleanup does), and the hand controls the
//! tests and the demo use (ship, set stock, totals).

use std::collections::BTreeMap;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::sim::db::{Db, Record, DATETIME};
use crate::sim::error::{missing, type_error, user, value_error, Exc, OdooError, OdooResult};
use crate::sim::schema::{model_of, Model};

/// The simulated database and the clock and seed its documents use.
pub(crate) struct World {
    pub db: Db,
    seed: u64,
    /// Deliveries confirmed since the server last took them (for auto-ship).
    pub confirmed: Vec<i64>,
    /// The API user's company.
    pub company_id: i64,
    frozen: Option<chrono::DateTime<chrono::Utc>>,
}

/// A picking to ship, by id or by its sale order's reference or name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShipTarget {
    /// A `stock.picking` id.
    Picking(i64),
    /// A sale order's `client_order_ref` or `name` (`S00001`); every open
    /// delivery of it.
    Sale(String),
}

impl From<i64> for ShipTarget {
    fn from(id: i64) -> Self {
        ShipTarget::Picking(id)
    }
}

impl From<&str> for ShipTarget {
    fn from(reference: &str) -> Self {
        ShipTarget::Sale(reference.to_owned())
    }
}

impl From<String> for ShipTarget {
    fn from(reference: String) -> Self {
        ShipTarget::Sale(reference)
    }
}

/// The simulator's clock: now (or the frozen time), to the second, as Odoo
/// stores datetimes.
pub(crate) fn clock(frozen: Option<chrono::DateTime<chrono::Utc>>) -> String {
    frozen
        .unwrap_or_else(chrono::Utc::now)
        .format(DATETIME)
        .to_string()
}

const OPEN_PICKING: &[&str] = &["waiting", "confirmed", "assigned"];

impl World {
    pub(crate) fn new(
        db: Db,
        seed: u64,
        company_id: i64,
        frozen: Option<chrono::DateTime<chrono::Utc>>,
    ) -> Self {
        World {
            db,
            seed,
            confirmed: Vec::new(),
            company_id,
            frozen,
        }
    }

    fn now(&self) -> String {
        clock(self.frozen)
    }

    /// `create` through the API, for the models it may create.
    pub(crate) fn create(&mut self, model: &'static Model, vals: &Value) -> OdooResult<i64> {
        if !model.api_create {
            return Err(OdooError::new(
                Exc::AccessError,
                format!(
                    "You are not allowed to create '{}' ({}) records.",
                    model.description, model.name
                ),
            ));
        }
        let rec = self.db.check_vals(model, vals)?;
        match model.name {
            "res.partner" => self.create_partner(rec),
            "sale.order" => self.create_sale_order(rec),
            other => Err(value_error(format!(
                "the simulator does not create {other}"
            ))),
        }
    }

    fn create_partner(&mut self, mut rec: Record) -> OdooResult<i64> {
        let named = rec.get("name").is_some_and(|n| !n.is_null());
        let is_child = rec.get("parent_id").is_some_and(|p| !p.is_null());
        if !named && !is_child {
            return Err(OdooError::new(
                Exc::ValidationError,
                "Contacts require a name",
            ));
        }
        rec.entry("type").or_insert(json!("contact"));
        rec.entry("active").or_insert(json!(true));
        Ok(self.db.insert("res.partner", rec, &self.now()))
    }

    fn create_sale_order(&mut self, mut rec: Record) -> OdooResult<i64> {
        let Some(partner) = rec.get("partner_id").and_then(Value::as_i64) else {
            return Err(mandatory(
                "Sales Order (sale.order)",
                "Customer (partner_id)",
            ));
        };
        let commands = rec.remove("order_line").unwrap_or(Value::Null);
        let lines = self.check_line_commands(&commands)?;
        let n = self.db.next_in("sale.order");
        rec.insert("name".into(), json!(format!("S{n:05}")));
        rec.insert("state".into(), json!("draft"));
        for key in ["partner_invoice_id", "partner_shipping_id"] {
            if rec.get(key).is_none_or(Value::is_null) {
                rec.insert(key.into(), json!(partner));
            }
        }
        if rec.get("date_order").is_none_or(Value::is_null) {
            rec.insert("date_order".into(), json!(self.now()));
        }
        if rec.get("company_id").is_none_or(Value::is_null) {
            rec.insert("company_id".into(), json!(self.company_id));
        }
        if rec.get("warehouse_id").is_none_or(Value::is_null) {
            let company = rec["company_id"].clone();
            let wh = self.db.where_eq("stock.warehouse", "company_id", &company);
            rec.insert("warehouse_id".into(), json!(wh.first()));
        }
        let stamp = self.now();
        let order = self.db.insert("sale.order", rec, &stamp);
        for (i, mut line) in lines.into_iter().enumerate() {
            line.insert("order_id".into(), json!(order));
            line.entry("sequence").or_insert(json!(10 * (i + 1)));
            self.db.insert("sale.order.line", line, &stamp);
        }
        Ok(order)
    }

    /// `order_line` commands at creation: `[0, 0, values]` only, each line
    /// checked (a product unless it is a section or note, which must carry
    /// neither product nor quantity), defaults filled from the product.
    fn check_line_commands(&self, commands: &Value) -> OdooResult<Vec<Record>> {
        let line_model = model_of("sale.order.line").expect("sale.order.line");
        let items = match commands {
            Value::Null => return Ok(Vec::new()),
            Value::Array(items) => items,
            other => {
                return Err(value_error(format!(
                    "Wrong value for sale.order.order_line: {other}"
                )))
            }
        };
        let mut out = Vec::new();
        for cmd in items {
            let (Some(0), Some(vals)) = (cmd.get(0).and_then(Value::as_i64), cmd.get(2)) else {
                return Err(value_error(format!(
                    "the simulator takes order_line as [0, 0, values] commands, not {cmd}"
                )));
            };
            let mut line = self.db.check_vals(line_model, vals)?;
            let display = line.get("display_type").is_some_and(|d| !d.is_null());
            let product = line.get("product_id").and_then(Value::as_i64);
            if display {
                let qty = line
                    .get("product_uom_qty")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0);
                if product.is_some() || qty != 0.0 {
                    return Err(OdooError::new(
                        Exc::ValidationError,
                        "Forbidden values on non-accountable sale order line",
                    ));
                }
                line.insert("product_uom_qty".into(), json!(0.0));
                line.insert("price_unit".into(), json!(0.0));
            } else {
                let Some(product) = product else {
                    return Err(mandatory(
                        "Sales Order Line (sale.order.line)",
                        "Product (product_id)",
                    ));
                };
                if line.get("name").is_none_or(Value::is_null) {
                    line.insert(
                        "name".into(),
                        json!(self.db.display_name("product.product", product)),
                    );
                }
                line.entry("product_uom_qty").or_insert(json!(1.0));
                if line.get("price_unit").is_none_or(Value::is_null) {
                    line.insert(
                        "price_unit".into(),
                        json!(self.db.raw_f64("product.product", product, "list_price")),
                    );
                }
                line.entry("discount").or_insert(json!(0.0));
            }
            out.push(line);
        }
        Ok(out)
    }

    /// `write` through the API.
    pub(crate) fn write(
        &mut self,
        model: &'static Model,
        ids: &[i64],
        vals: &Value,
    ) -> OdooResult<()> {
        if !model.api_write {
            return Err(OdooError::new(
                Exc::AccessError,
                format!(
                    "You are not allowed to modify '{}' ({}) records.",
                    model.description, model.name
                ),
            ));
        }
        self.exist(model.name, ids)?;
        let rec = self.db.check_vals(model, vals)?;
        if rec.keys().any(|k| {
            matches!(
                model.field(k).map(|f| f.kind),
                Some(crate::sim::schema::Kind::One2many(..))
            )
        }) {
            return Err(value_error(
                "the simulator takes one2many values only at creation",
            ));
        }
        let stamp = self.now();
        for id in ids {
            self.db.update(model.name, *id, rec.clone(), &stamp);
        }
        Ok(())
    }

    fn exist(&self, model: &str, ids: &[i64]) -> OdooResult<()> {
        let gone: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| self.db.get(model, *id).is_none())
            .collect();
        if gone.is_empty() {
            Ok(())
        } else {
            Err(missing(model, &gone))
        }
    }

    /// `sale.order.action_confirm`: quotations become sale orders, each
    /// with an outgoing delivery from its warehouse whose moves reserve the
    /// stock there.
    pub(crate) fn action_confirm(&mut self, ids: &[i64]) -> OdooResult<()> {
        self.exist("sale.order", ids)?;
        let ready = ids.iter().all(|id| {
            matches!(
                self.db.raw_str("sale.order", *id, "state").as_deref(),
                Some("draft" | "sent")
            )
        });
        if !ready {
            return Err(user(
                "Some orders are not in a state requiring confirmation.",
            ));
        }
        for id in ids {
            let stamp = self.now();
            let mut vals = Record::new();
            vals.insert("state".into(), json!("sale"));
            self.db.update("sale.order", *id, vals, &stamp);
            if let Some(picking) = self.create_delivery(*id, &stamp)? {
                self.confirmed.push(picking);
            }
        }
        Ok(())
    }

    fn create_delivery(&mut self, order: i64, stamp: &str) -> OdooResult<Option<i64>> {
        let storable_lines: Vec<i64> = self
            .db
            .where_eq("sale.order.line", "order_id", &json!(order))
            .into_iter()
            .filter(|l| {
                self.db
                    .raw_id("sale.order.line", *l, "product_id")
                    .is_some_and(|p| {
                        self.db.raw("product.product", p, "is_storable") == json!(true)
                    })
            })
            .collect();
        if storable_lines.is_empty() {
            return Ok(None);
        }
        let wh = self
            .db
            .raw_id("sale.order", order, "warehouse_id")
            .ok_or_else(|| user("The order has no warehouse to deliver from."))?;
        let picking_type = self
            .db
            .raw_id("stock.warehouse", wh, "out_type_id")
            .ok_or_else(|| user("The warehouse has no delivery operation type."))?;
        let src = self.db.raw_id(
            "stock.picking.type",
            picking_type,
            "default_location_src_id",
        );
        let dest = self.db.raw_id(
            "stock.picking.type",
            picking_type,
            "default_location_dest_id",
        );
        let code = self
            .db
            .raw_str("stock.warehouse", wh, "code")
            .unwrap_or_default();
        let n = self.db.next_in(&format!("{code}/OUT"));
        let mut p = Record::new();
        p.insert("name".into(), json!(format!("{code}/OUT/{n:05}")));
        p.insert("origin".into(), self.db.raw("sale.order", order, "name"));
        p.insert("sale_id".into(), json!(order));
        p.insert(
            "partner_id".into(),
            self.db.raw("sale.order", order, "partner_shipping_id"),
        );
        p.insert("picking_type_id".into(), json!(picking_type));
        p.insert("location_id".into(), json!(src));
        p.insert("location_dest_id".into(), json!(dest));
        p.insert("state".into(), json!("confirmed"));
        p.insert(
            "carrier_id".into(),
            self.db.raw("sale.order", order, "carrier_id"),
        );
        p.insert("scheduled_date".into(), json!(stamp));
        let picking = self.db.insert("stock.picking", p, stamp);
        let mut all_reserved = true;
        for line in storable_lines {
            let product = self.db.raw_id("sale.order.line", line, "product_id");
            let mut m = Record::new();
            m.insert("name".into(), self.db.raw("sale.order.line", line, "name"));
            m.insert("picking_id".into(), json!(picking));
            m.insert("product_id".into(), json!(product));
            m.insert(
                "product_uom_qty".into(),
                self.db.raw("sale.order.line", line, "product_uom_qty"),
            );
            m.insert("quantity".into(), json!(0.0));
            m.insert("sale_line_id".into(), json!(line));
            m.insert("state".into(), json!("confirmed"));
            m.insert("location_id".into(), json!(src));
            m.insert("location_dest_id".into(), json!(dest));
            let mv = self.db.insert("stock.move", m, stamp);
            all_reserved &= self.reserve(mv, stamp);
        }
        if all_reserved {
            let mut vals = Record::new();
            vals.insert("state".into(), json!("assigned"));
            self.db.update("stock.picking", picking, vals, stamp);
        }
        Ok(Some(picking))
    }

    /// Quants of `product` in the internal locations under `location`,
    /// oldest first.
    fn quants_under(&self, product: i64, location: i64) -> Vec<i64> {
        let internal = self.db.internal_locations();
        let under = self.db.subtree("stock.location", &[location]);
        self.db
            .where_eq("stock.quant", "product_id", &json!(product))
            .into_iter()
            .filter(|q| {
                self.db
                    .raw_id("stock.quant", *q, "location_id")
                    .is_some_and(|l| under.contains(&l) && internal.contains(&l))
            })
            .collect()
    }

    /// Reserves what is available for a move; whether all of it was.
    fn reserve(&mut self, mv: i64, stamp: &str) -> bool {
        let (Some(product), Some(src)) = (
            self.db.raw_id("stock.move", mv, "product_id"),
            self.db.raw_id("stock.move", mv, "location_id"),
        ) else {
            return false;
        };
        let mut need = self.db.raw_f64("stock.move", mv, "product_uom_qty");
        let mut taken = Vec::new();
        for q in self.quants_under(product, src) {
            if need <= 0.0 {
                break;
            }
            let free = self.db.raw_f64("stock.quant", q, "quantity")
                - self.db.raw_f64("stock.quant", q, "reserved_quantity");
            if free <= 0.0 {
                continue;
            }
            let take = free.min(need);
            need -= take;
            let reserved = self.db.raw_f64("stock.quant", q, "reserved_quantity") + take;
            let mut vals = Record::new();
            vals.insert("reserved_quantity".into(), json!(reserved));
            self.db.update("stock.quant", q, vals, stamp);
            taken.push(json!([q, take]));
        }
        let demand = self.db.raw_f64("stock.move", mv, "product_uom_qty");
        let state = if need <= 0.0 {
            "assigned"
        } else if need < demand {
            "partially_available"
        } else {
            "confirmed"
        };
        let mut vals = Record::new();
        vals.insert("quantity".into(), json!(demand - need.max(0.0)));
        vals.insert("state".into(), json!(state));
        vals.insert("_reservations".into(), Value::Array(taken));
        self.db.update("stock.move", mv, vals, stamp);
        need <= 0.0
    }

    /// `stock.picking.button_validate`: every move is delivered in full.
    /// `sale.order.action_cancel`: as Odoo 17+, a confirmed order is only
    /// cancelled at once with `disable_cancel_warning` in the context; else
    /// the answer is the confirmation wizard's window action. Deliveries
    /// not yet done are cancelled and give back their reservations; done
    /// ones stay done (Odoo only logs an activity for them).
    pub(crate) fn action_cancel(
        &mut self,
        ids: &[i64],
        context: &serde_json::Map<String, Value>,
    ) -> OdooResult<Value> {
        self.exist("sale.order", ids)?;
        let no_wizard = context
            .get("disable_cancel_warning")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let confirmed = ids
            .iter()
            .any(|id| self.db.raw_str("sale.order", *id, "state").as_deref() == Some("sale"));
        if confirmed && !no_wizard {
            return Ok(json!({
                "type": "ir.actions.act_window",
                "res_model": "sale.order.cancel",
                "view_mode": "form",
                "target": "new",
                "context": {"default_order_id": ids[0]},
            }));
        }
        for id in ids {
            let stamp = self.now();
            for picking in self.db.where_eq("stock.picking", "sale_id", &json!(id)) {
                if !OPEN_PICKING.contains(
                    &self
                        .db
                        .raw_str("stock.picking", picking, "state")
                        .unwrap_or_default()
                        .as_str(),
                ) && self
                    .db
                    .raw_str("stock.picking", picking, "state")
                    .as_deref()
                    != Some("draft")
                {
                    continue;
                }
                for mv in self
                    .db
                    .where_eq("stock.move", "picking_id", &json!(picking))
                {
                    self.unreserve(mv, &stamp);
                }
                let mut vals = Record::new();
                vals.insert("state".into(), json!("cancel"));
                self.db.update("stock.picking", picking, vals, &stamp);
            }
            self.confirmed
                .retain(|p| self.db.raw_id("stock.picking", *p, "sale_id") != Some(*id));
            let mut vals = Record::new();
            vals.insert("state".into(), json!("cancel"));
            self.db.update("sale.order", *id, vals, &stamp);
        }
        Ok(json!(true))
    }

    /// Gives back a move's reservations and cancels it.
    fn unreserve(&mut self, mv: i64, stamp: &str) {
        let m = "stock.move";
        let reservations: Vec<(i64, f64)> = self
            .db
            .raw(m, mv, "_reservations")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| Some((r.get(0)?.as_i64()?, r.get(1)?.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default();
        for (q, take) in reservations {
            if self.db.get("stock.quant", q).is_none() {
                continue;
            }
            let reserved = (self.db.raw_f64("stock.quant", q, "reserved_quantity") - take).max(0.0);
            let mut vals = Record::new();
            vals.insert("reserved_quantity".into(), json!(reserved));
            self.db.update("stock.quant", q, vals, stamp);
        }
        let mut vals = Record::new();
        vals.insert("state".into(), json!("cancel"));
        vals.insert("quantity".into(), json!(0.0));
        vals.insert("_reservations".into(), json!([]));
        self.db.update(m, mv, vals, stamp);
    }

    pub(crate) fn button_validate(&mut self, ids: &[i64]) -> OdooResult<()> {
        self.exist("stock.picking", ids)?;
        for id in ids {
            let state = self
                .db
                .raw_str("stock.picking", *id, "state")
                .unwrap_or_default();
            if !OPEN_PICKING.contains(&state.as_str()) {
                return Err(user(format!(
                    "{} is {state}; only a waiting or ready transfer can be validated.",
                    self.db.display_name("stock.picking", *id)
                )));
            }
        }
        for id in ids {
            let stamp = self.now();
            for mv in self.db.where_eq("stock.move", "picking_id", &json!(id)) {
                self.deliver(mv, &stamp);
            }
            let mut vals = Record::new();
            vals.insert("state".into(), json!("done"));
            vals.insert("date_done".into(), json!(stamp));
            self.db.update("stock.picking", *id, vals, &stamp);
        }
        Ok(())
    }

    /// Takes a move's quantity out of stock: its reservations first, then
    /// any other free stock, then (as Odoo allows) below zero.
    fn deliver(&mut self, mv: i64, stamp: &str) {
        let m = "stock.move";
        if matches!(
            self.db.raw_str(m, mv, "state").as_deref(),
            Some("done" | "cancel")
        ) {
            return;
        }
        let demand = self.db.raw_f64(m, mv, "product_uom_qty");
        let (Some(product), Some(src)) = (
            self.db.raw_id(m, mv, "product_id"),
            self.db.raw_id(m, mv, "location_id"),
        ) else {
            return;
        };
        let reservations: Vec<(i64, f64)> = self
            .db
            .raw(m, mv, "_reservations")
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| Some((r.get(0)?.as_i64()?, r.get(1)?.as_f64()?)))
                    .collect()
            })
            .unwrap_or_default();
        let mut left = demand;
        for (q, take) in reservations {
            if self.db.get("stock.quant", q).is_none() {
                continue;
            }
            let reserved = (self.db.raw_f64("stock.quant", q, "reserved_quantity") - take).max(0.0);
            let out = take.min(left);
            left -= out;
            self.adjust_quant(q, -out, Some(reserved), stamp);
        }
        if left > 0.0 {
            for q in self.quants_under(product, src) {
                let free = self.db.raw_f64("stock.quant", q, "quantity")
                    - self.db.raw_f64("stock.quant", q, "reserved_quantity");
                if free <= 0.0 || left <= 0.0 {
                    continue;
                }
                let out = free.min(left);
                left -= out;
                self.adjust_quant(q, -out, None, stamp);
            }
        }
        if left > 0.0 {
            let q = self.quant_at(product, src, stamp);
            self.adjust_quant(q, -left, None, stamp);
        }
        let mut vals = Record::new();
        vals.insert("quantity".into(), json!(demand));
        vals.insert("state".into(), json!("done"));
        vals.insert("_reservations".into(), json!([]));
        self.db.update(m, mv, vals, stamp);
    }

    /// The quant of `product` at exactly `location`, created empty if needed.
    fn quant_at(&mut self, product: i64, location: i64, stamp: &str) -> i64 {
        let existing = self
            .db
            .where_eq("stock.quant", "product_id", &json!(product))
            .into_iter()
            .find(|q| self.db.raw_id("stock.quant", *q, "location_id") == Some(location));
        existing.unwrap_or_else(|| {
            let mut r = Record::new();
            r.insert("product_id".into(), json!(product));
            r.insert("location_id".into(), json!(location));
            r.insert("quantity".into(), json!(0.0));
            r.insert("reserved_quantity".into(), json!(0.0));
            self.db.insert("stock.quant", r, stamp)
        })
    }

    /// Changes a quant's quantity (and reservation); a quant left with
    /// nothing is removed, as Odoo's quant cleanup does.
    fn adjust_quant(&mut self, q: i64, delta: f64, reserved: Option<f64>, stamp: &str) {
        let quantity = self.db.raw_f64("stock.quant", q, "quantity") + delta;
        let reserved =
            reserved.unwrap_or_else(|| self.db.raw_f64("stock.quant", q, "reserved_quantity"));
        if quantity == 0.0 && reserved == 0.0 {
            self.db.remove("stock.quant", q);
            return;
        }
        let mut vals = Record::new();
        vals.insert("quantity".into(), json!(quantity));
        vals.insert("reserved_quantity".into(), json!(reserved));
        self.db.update("stock.quant", q, vals, stamp);
    }

    /// Validates the open deliveries `target` names, with a tracking
    /// number (and a carrier when the delivery has none). Whether any was
    /// shipped.
    pub(crate) fn ship(&mut self, target: &ShipTarget, tracking: Option<&str>) -> bool {
        let pickings: Vec<i64> = match target {
            ShipTarget::Picking(id) => vec![*id],
            ShipTarget::Sale(reference) => {
                let orders: Vec<i64> = self
                    .db
                    .where_eq("sale.order", "client_order_ref", &json!(reference))
                    .into_iter()
                    .chain(self.db.where_eq("sale.order", "name", &json!(reference)))
                    .collect();
                orders
                    .into_iter()
                    .flat_map(|o| self.db.where_eq("stock.picking", "sale_id", &json!(o)))
                    .collect()
            }
        };
        let open: Vec<i64> = pickings
            .into_iter()
            .filter(|p| {
                self.db
                    .raw_str("stock.picking", *p, "state")
                    .is_some_and(|s| OPEN_PICKING.contains(&s.as_str()))
            })
            .collect();
        for p in &open {
            let mut rng = ChaCha8Rng::seed_from_u64(
                self.seed ^ (*p as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
            );
            let mut vals = Record::new();
            let tracking = tracking
                .map(str::to_owned)
                .unwrap_or_else(|| format!("SIM{:010}", rng.gen_range(0..10_000_000_000u64)));
            vals.insert("carrier_tracking_ref".into(), json!(tracking));
            if self.db.raw_id("stock.picking", *p, "carrier_id").is_none() {
                let carriers = self.db.where_eq("delivery.carrier", "active", &json!(true));
                if !carriers.is_empty() {
                    let pick = carriers[rng.gen_range(0..carriers.len())];
                    vals.insert("carrier_id".into(), json!(pick));
                }
            }
            self.db.update("stock.picking", *p, vals, &self.now());
        }
        if open.is_empty() {
            return false;
        }
        self.button_validate(&open).is_ok()
    }

    /// Sets a product's on hand in a warehouse: the warehouse's stock
    /// location takes the difference. `false` for an unknown SKU or code.
    pub(crate) fn set_quant(&mut self, sku: &str, warehouse: &str, qty: i64) -> bool {
        let product = self
            .db
            .where_eq("product.product", "default_code", &json!(sku))
            .first()
            .copied();
        let wh = self
            .db
            .where_eq("stock.warehouse", "code", &json!(warehouse))
            .first()
            .copied();
        let (Some(product), Some(wh)) = (product, wh) else {
            return false;
        };
        let Some(stock) = self.db.raw_id("stock.warehouse", wh, "lot_stock_id") else {
            return false;
        };
        let now = self.now();
        let total: f64 = self
            .quants_under(product, stock)
            .iter()
            .map(|q| self.db.raw_f64("stock.quant", *q, "quantity"))
            .sum();
        let delta = qty as f64 - total;
        if delta != 0.0 {
            let q = self.quant_at(product, stock, &now);
            self.adjust_quant(q, delta, None, &now);
        }
        true
    }

    /// On hand per (SKU, warehouse code), summed over internal locations.
    pub(crate) fn quants(&self) -> BTreeMap<(String, String), i64> {
        let internal = self.db.internal_locations();
        let mut out: BTreeMap<(String, String), f64> = BTreeMap::new();
        for q in self.db.ids("stock.quant") {
            let (Some(product), Some(loc)) = (
                self.db.raw_id("stock.quant", q, "product_id"),
                self.db.raw_id("stock.quant", q, "location_id"),
            ) else {
                continue;
            };
            let Some(sku) = self.db.raw_str("product.product", product, "default_code") else {
                continue;
            };
            let Some(wh) = self.db.raw_id("stock.location", loc, "warehouse_id") else {
                continue;
            };
            if !internal.contains(&loc) {
                continue;
            }
            let code = self
                .db
                .raw_str("stock.warehouse", wh, "code")
                .unwrap_or_default();
            *out.entry((sku, code)).or_default() += self.db.raw_f64("stock.quant", q, "quantity");
        }
        out.into_iter()
            .map(|(k, v)| (k, v.floor() as i64))
            .collect()
    }

    /// `res.users.context_get` for the API user.
    pub(crate) fn context_get(&self) -> Value {
        json!({"lang": "en_US", "tz": "Europe/Brussels", "uid": 2})
    }

    /// Checks an `ids` argument: an id or a list of ids.
    pub(crate) fn ids_arg(v: &Value) -> OdooResult<Vec<i64>> {
        match v {
            Value::Number(n) => n.as_i64().map(|i| vec![i]),
            Value::Array(a) => a.iter().map(Value::as_i64).collect(),
            Value::Null | Value::Bool(false) => Some(Vec::new()),
            _ => None,
        }
        .ok_or_else(|| type_error(format!("ids must be a list of integers, not {v}")))
    }
}

/// Odoo's message for a required field left empty.
fn mandatory(model: &str, field: &str) -> OdooError {
    OdooError::new(
        Exc::ValidationError,
        format!(
            "The operation cannot be completed:\n- Create/update: a mandatory field is not set.\n\nModel: {model}\nField: {field}"
        ),
    )
}

//! The simulated database: one table of JSON records per model and the ORM
//! the API sees on top of it: `search` (domains, `active` filtering,
//! ordering, paging), `read` (Odoo's value formatting: many2one as
//! `[id, name]`, empty as `false`), and checked values for `create` and
//! `write`. Computed fields are computed here on read.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDateTime;
use serde_json::{json, Map, Value};

use crate::sim::domain::{self, Domain, Op, Subject};
use crate::sim::error::{missing, value_error, Exc, OdooError, OdooResult};
use crate::sim::schema::{model_of, Kind, Model, MODELS};

/// A stored record: stored fields by name, relations as ids, `Null` when
/// empty. Keys starting with `_` are the simulator's own bookkeeping.
pub(crate) type Record = Map<String, Value>;

#[derive(Default)]
struct Table {
    next_id: i64,
    rows: BTreeMap<i64, Record>,
}

/// Every model's records, plus the sequences that number documents.
pub(crate) struct Db {
    tables: BTreeMap<&'static str, Table>,
    sequences: BTreeMap<String, i64>,
}

/// The `datetime` format of the wire and of stored dates.
pub(crate) const DATETIME: &str = "%Y-%m-%d %H:%M:%S";

impl Db {
    pub(crate) fn new() -> Self {
        Db {
            tables: MODELS
                .iter()
                .map(|m| {
                    (
                        m.name,
                        Table {
                            next_id: 1,
                            rows: BTreeMap::new(),
                        },
                    )
                })
                .collect(),
            sequences: BTreeMap::new(),
        }
    }

    /// The model named `name`, or the `KeyError` Odoo raises.
    pub(crate) fn model(name: &str) -> OdooResult<&'static Model> {
        model_of(name).ok_or_else(|| OdooError::new(Exc::KeyError, format!("'{name}'")))
    }

    /// The next number of a sequence, from 1.
    pub(crate) fn next_in(&mut self, sequence: &str) -> i64 {
        let n = self.sequences.entry(sequence.to_owned()).or_insert(0);
        *n += 1;
        *n
    }

    pub(crate) fn get(&self, model: &str, id: i64) -> Option<&Record> {
        self.tables.get(model)?.rows.get(&id)
    }

    pub(crate) fn get_mut(&mut self, model: &str, id: i64) -> Option<&mut Record> {
        self.tables.get_mut(model)?.rows.get_mut(&id)
    }

    /// Every id of a model, ascending.
    pub(crate) fn ids(&self, model: &str) -> Vec<i64> {
        self.tables
            .get(model)
            .map(|t| t.rows.keys().copied().collect())
            .unwrap_or_default()
    }

    /// Ids of records whose stored `field` equals `value`.
    pub(crate) fn where_eq(&self, model: &str, field: &str, value: &Value) -> Vec<i64> {
        self.tables
            .get(model)
            .map(|t| {
                t.rows
                    .iter()
                    .filter(|(_, r)| r.get(field).unwrap_or(&Value::Null) == value)
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Stores a new record (values already checked), stamping its dates.
    pub(crate) fn insert(&mut self, model: &str, mut rec: Record, now: &str) -> i64 {
        let t = self.tables.get_mut(model).expect("every model has a table");
        let id = t.next_id;
        t.next_id += 1;
        rec.insert("create_date".into(), json!(now));
        rec.insert("write_date".into(), json!(now));
        t.rows.insert(id, rec);
        id
    }

    /// Sets stored fields of one record and stamps `write_date`.
    pub(crate) fn update(&mut self, model: &str, id: i64, vals: Record, now: &str) {
        if let Some(r) = self.get_mut(model, id) {
            r.extend(vals);
            r.insert("write_date".into(), json!(now));
        }
    }

    pub(crate) fn remove(&mut self, model: &str, id: i64) {
        if let Some(t) = self.tables.get_mut(model) {
            t.rows.remove(&id);
        }
    }

    /// A stored value, `Null` when unset.
    pub(crate) fn raw(&self, model: &str, id: i64, field: &str) -> Value {
        self.get(model, id)
            .and_then(|r| r.get(field))
            .cloned()
            .unwrap_or(Value::Null)
    }

    pub(crate) fn raw_id(&self, model: &str, id: i64, field: &str) -> Option<i64> {
        self.raw(model, id, field).as_i64()
    }

    pub(crate) fn raw_f64(&self, model: &str, id: i64, field: &str) -> f64 {
        self.raw(model, id, field).as_f64().unwrap_or(0.0)
    }

    pub(crate) fn raw_str(&self, model: &str, id: i64, field: &str) -> Option<String> {
        self.raw(model, id, field).as_str().map(str::to_owned)
    }

    /// A field's value as domains see it: stored or computed, relations as
    /// ids.
    pub(crate) fn value(&self, model: &Model, id: i64, field: &str) -> Value {
        let Some(f) = model.field(field) else {
            return Value::Null;
        };
        if let Kind::One2many(co, inverse) = f.kind {
            return json!(self.where_eq(co, inverse, &json!(id)));
        }
        if !f.computed || matches!(field, "create_date" | "write_date") {
            return self.raw(model.name, id, field);
        }
        let m = model.name;
        match (m, field) {
            (_, "id") => json!(id),
            (_, "display_name") => json!(self.display_name(m, id)),
            ("product.product", "qty_available") => {
                let internal = self.internal_locations();
                let q: f64 = self
                    .where_eq("stock.quant", "product_id", &json!(id))
                    .into_iter()
                    .filter(|q| {
                        self.raw_id("stock.quant", *q, "location_id")
                            .is_some_and(|l| internal.contains(&l))
                    })
                    .map(|q| self.raw_f64("stock.quant", q, "quantity"))
                    .sum();
                json!(q)
            }
            ("stock.location", "complete_name") => json!(self.location_name(id)),
            ("stock.quant", "available_quantity") => {
                json!(self.raw_f64(m, id, "quantity") - self.raw_f64(m, id, "reserved_quantity"))
            }
            ("stock.quant", "warehouse_id") => self
                .raw_id(m, id, "location_id")
                .map(|l| self.raw("stock.location", l, "warehouse_id"))
                .unwrap_or(Value::Null),
            ("sale.order", "currency_id") => self
                .raw_id(m, id, "pricelist_id")
                .map(|p| self.raw("product.pricelist", p, "currency_id"))
                .filter(|c| !c.is_null())
                .or_else(|| {
                    self.raw_id(m, id, "company_id")
                        .map(|c| self.raw("res.company", c, "currency_id"))
                })
                .unwrap_or(Value::Null),
            ("sale.order", "amount_untaxed" | "amount_total") => {
                let line = model_of("sale.order.line").expect("sale.order.line");
                let total: f64 = self
                    .where_eq("sale.order.line", "order_id", &json!(id))
                    .into_iter()
                    .map(|l| {
                        self.value(line, l, "price_subtotal")
                            .as_f64()
                            .unwrap_or(0.0)
                    })
                    .sum();
                json!(round2(total))
            }
            ("sale.order", "delivery_status") => {
                let states: Vec<String> = self
                    .where_eq("stock.picking", "sale_id", &json!(id))
                    .into_iter()
                    .filter_map(|p| self.raw_str("stock.picking", p, "state"))
                    .filter(|s| s != "cancel")
                    .collect();
                if states.is_empty() {
                    Value::Null
                } else if states.iter().all(|s| s == "done") {
                    json!("full")
                } else if states.iter().any(|s| s == "done") {
                    json!("partial")
                } else {
                    json!("pending")
                }
            }
            ("sale.order.line", "price_subtotal") => {
                let qty = self.raw_f64(m, id, "product_uom_qty");
                let price = self.raw_f64(m, id, "price_unit");
                let discount = self.raw_f64(m, id, "discount");
                json!(round2(qty * price * (1.0 - discount / 100.0)))
            }
            ("sale.order.line", "qty_delivered") => {
                let q: f64 = self
                    .where_eq("stock.move", "sale_line_id", &json!(id))
                    .into_iter()
                    .filter(|mv| {
                        self.raw_str("stock.move", *mv, "state").as_deref() == Some("done")
                    })
                    .map(|mv| self.raw_f64("stock.move", mv, "quantity"))
                    .sum();
                json!(q)
            }
            ("stock.picking", "picking_type_code") => self
                .raw_id(m, id, "picking_type_id")
                .map(|t| self.raw("stock.picking.type", t, "code"))
                .unwrap_or(Value::Null),
            _ => Value::Null,
        }
    }

    /// The name a many2one shows, as Odoo's `display_name` computes it.
    pub(crate) fn display_name(&self, model: &str, id: i64) -> String {
        let name = self.raw_str(model, id, "name").unwrap_or_default();
        match model {
            "product.product" => match self.raw_str(model, id, "default_code") {
                Some(code) => format!("[{code}] {name}"),
                None => name,
            },
            "stock.location" => self.location_name(id),
            "res.partner" => match self.raw_id(model, id, "parent_id") {
                Some(p) => {
                    let parent = self.display_name(model, p);
                    if name.is_empty() {
                        parent
                    } else {
                        format!("{parent}, {name}")
                    }
                }
                None => name,
            },
            "stock.picking.type" => match self.raw_id(model, id, "warehouse_id") {
                Some(w) => format!(
                    "{}: {name}",
                    self.raw_str("stock.warehouse", w, "name")
                        .unwrap_or_default()
                ),
                None => name,
            },
            "product.pricelist" => match self.raw_id(model, id, "currency_id") {
                Some(c) => format!(
                    "{name} ({})",
                    self.raw_str("res.currency", c, "name").unwrap_or_default()
                ),
                None => name,
            },
            "sale.order.line" => {
                let order = self
                    .raw_id(model, id, "order_id")
                    .and_then(|o| self.raw_str("sale.order", o, "name"))
                    .unwrap_or_default();
                format!("{order} - {}", name.lines().next().unwrap_or(""))
            }
            _ if name.is_empty() => format!("{model},{id}"),
            _ => name,
        }
    }

    /// `WH/Stock/Shelf 1`: a view location shows its own name only.
    fn location_name(&self, id: i64) -> String {
        let m = "stock.location";
        let name = self.raw_str(m, id, "name").unwrap_or_default();
        let usage = self.raw_str(m, id, "usage");
        match self.raw_id(m, id, "location_id") {
            Some(parent) if usage.as_deref() != Some("view") => {
                format!("{}/{name}", self.location_name(parent))
            }
            _ => name,
        }
    }

    /// Internal locations: where stock counts as on hand.
    pub(crate) fn internal_locations(&self) -> BTreeSet<i64> {
        self.where_eq("stock.location", "usage", &json!("internal"))
            .into_iter()
            .collect()
    }

    /// `ids` and every record under them in `model`'s parent hierarchy.
    pub(crate) fn subtree(&self, model: &str, ids: &[i64]) -> BTreeSet<i64> {
        let Some(parent) = model_of(model).and_then(|m| m.parent) else {
            return ids.iter().copied().collect();
        };
        self.ids(model)
            .into_iter()
            .filter(|id| {
                let mut at = Some(*id);
                let mut hops = 0;
                while let Some(x) = at {
                    if ids.contains(&x) {
                        return true;
                    }
                    hops += 1;
                    if hops > 64 {
                        return false;
                    }
                    at = self.raw_id(model, x, parent);
                }
                false
            })
            .collect()
    }

    /// `search`: the ids matching `domain`, ordered and paged. Archived
    /// records are left out unless the domain names `active` or the
    /// context turns `active_test` off.
    pub(crate) fn search(
        &self,
        model: &'static Model,
        domain: &Value,
        order: Option<&str>,
        offset: usize,
        limit: Option<usize>,
        active_test: bool,
    ) -> OdooResult<Vec<i64>> {
        let parsed = domain::parse(domain).map_err(value_error)?;
        self.check_domain(model, &parsed)?;
        let keys = order_keys(model, order.unwrap_or("id"))?;
        let filter_active =
            active_test && model.active && !parsed.terms().iter().any(|t| t.field == "active");
        let mut ids: Vec<i64> = self
            .ids(model.name)
            .into_iter()
            .filter(|id| !filter_active || self.raw(model.name, *id, "active") == json!(true))
            .filter(|id| {
                parsed.matches(&View {
                    db: self,
                    model,
                    id: *id,
                })
            })
            .collect();
        ids.sort_by(|a, b| {
            for (field, desc) in &keys {
                let (x, y) = (self.value(model, *a, field), self.value(model, *b, field));
                let o = order_values(&x, &y, *desc);
                if o != Ordering::Equal {
                    return o;
                }
            }
            a.cmp(b)
        });
        Ok(ids
            .into_iter()
            .skip(offset)
            .take(limit.unwrap_or(usize::MAX))
            .collect())
    }

    fn check_domain(&self, model: &Model, d: &Domain) -> OdooResult<()> {
        for t in d.terms() {
            let Some(f) = model.field(&t.field) else {
                return Err(value_error(format!(
                    "Invalid field {}.{} in leaf ('{}', …)",
                    model.name, t.field, t.field
                )));
            };
            if t.op == Op::ChildOf {
                let hierarchical = match f.kind {
                    Kind::Id => model.parent.is_some(),
                    Kind::Many2one(co) => model_of(co).is_some_and(|m| m.parent.is_some()),
                    _ => false,
                };
                if !hierarchical {
                    return Err(value_error(format!(
                        "Invalid domain: child_of on {}.{} which has no hierarchy",
                        model.name, t.field
                    )));
                }
            }
        }
        Ok(())
    }

    /// `read`: the records with the asked fields (all when none), in Odoo's
    /// formatting; a missing id is a `MissingError`.
    pub(crate) fn read(
        &self,
        model: &'static Model,
        ids: &[i64],
        fields: &[String],
    ) -> OdooResult<Vec<Value>> {
        let gone: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| self.get(model.name, *id).is_none())
            .collect();
        if !gone.is_empty() {
            return Err(missing(model.name, &gone));
        }
        let fields: Vec<&'static crate::sim::schema::Field> = if fields.is_empty() {
            model.all_fields().collect()
        } else {
            fields
                .iter()
                .map(|name| {
                    model.field(name).ok_or_else(|| {
                        value_error(format!("Invalid field '{name}' on model '{}'", model.name))
                    })
                })
                .collect::<OdooResult<_>>()?
        };
        Ok(ids
            .iter()
            .map(|id| {
                let mut out = Map::new();
                out.insert("id".into(), json!(id));
                for f in &fields {
                    out.insert(f.name.into(), self.format(model, *id, f.name, f.kind));
                }
                Value::Object(out)
            })
            .collect())
    }

    fn format(&self, model: &Model, id: i64, field: &str, kind: Kind) -> Value {
        let v = self.value(model, id, field);
        match kind {
            Kind::Many2one(co) => match v.as_i64() {
                Some(rid) => json!([rid, self.display_name(co, rid)]),
                None => Value::Bool(false),
            },
            Kind::One2many(..) => v,
            Kind::Float if v.is_null() => json!(0.0),
            Kind::Int if v.is_null() => json!(0),
            _ if v.is_null() => Value::Bool(false),
            _ => v,
        }
    }

    /// Checks `create`/`write` values of stored, writable fields and turns
    /// them into stored form (`false` → `Null`). One2many commands are left
    /// to the model's own create.
    pub(crate) fn check_vals(&self, model: &Model, vals: &Value) -> OdooResult<Record> {
        let Value::Object(vals) = vals else {
            return Err(value_error(format!(
                "values for {} must be a dict",
                model.name
            )));
        };
        let mut out = Record::new();
        for (name, v) in vals {
            let Some(f) = model.field(name) else {
                return Err(value_error(format!(
                    "Invalid field '{name}' in '{}'",
                    model.name
                )));
            };
            if f.computed || f.readonly {
                return Err(crate::sim::error::user(format!(
                    "The simulator sets {}.{name} itself; it cannot be written",
                    model.name
                )));
            }
            if matches!(f.kind, Kind::One2many(..)) {
                out.insert(name.clone(), v.clone());
                continue;
            }
            out.insert(name.clone(), self.check_value(model, name, f.kind, v)?);
        }
        Ok(out)
    }

    fn check_value(&self, model: &Model, name: &str, kind: Kind, v: &Value) -> OdooResult<Value> {
        let bad = || value_error(format!("Wrong value for {}.{name}: {v}", model.name));
        if matches!(v, Value::Bool(false) | Value::Null) && kind != Kind::Bool {
            return Ok(Value::Null);
        }
        Ok(match kind {
            Kind::Char | Kind::Text => json!(v.as_str().ok_or_else(bad)?),
            Kind::Int => json!(v.as_i64().ok_or_else(bad)?),
            Kind::Float => json!(v.as_f64().ok_or_else(bad)?),
            Kind::Bool => json!(v.as_bool().unwrap_or(false)),
            Kind::Datetime => {
                let s = v.as_str().ok_or_else(bad)?;
                NaiveDateTime::parse_from_str(s, DATETIME).map_err(|_| bad())?;
                json!(s)
            }
            Kind::Selection(values) => {
                let s = v.as_str().ok_or_else(bad)?;
                if !values.contains(&s) {
                    return Err(value_error(format!(
                        "Wrong value for {}.{name}: {s:?}",
                        model.name
                    )));
                }
                json!(s)
            }
            Kind::Many2one(co) => {
                let id = v.as_i64().ok_or_else(bad)?;
                if self.get(co, id).is_none() {
                    return Err(OdooError::new(
                        Exc::ValidationError,
                        format!(
                            "The operation cannot be completed: {}.{name} refers to {co}({id},), which does not exist",
                            model.name
                        ),
                    ));
                }
                json!(id)
            }
            Kind::Id | Kind::One2many(..) => return Err(bad()),
        })
    }
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `order` as (field, descending) keys; Odoo's `Invalid "order"` otherwise.
fn order_keys(model: &Model, order: &str) -> OdooResult<Vec<(String, bool)>> {
    let bad = || value_error(format!("Invalid \"order\" specified ({order})"));
    order
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|part| {
            let mut words = part.split_whitespace();
            let field = words.next().ok_or_else(bad)?;
            let desc = match words.next().map(str::to_ascii_lowercase).as_deref() {
                None | Some("asc") => false,
                Some("desc") => true,
                _ => return Err(bad()),
            };
            match model.field(field).map(|f| f.kind) {
                Some(Kind::One2many(..)) | None => Err(bad()),
                Some(_) => Ok((field.to_owned(), desc)),
            }
        })
        .collect()
}

/// PostgreSQL's order: empty values last ascending, first descending.
fn order_values(a: &Value, b: &Value, desc: bool) -> Ordering {
    let o = match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Greater,
        (false, true) => Ordering::Less,
        _ => match (a, b) {
            (Value::Number(x), Value::Number(y)) => x
                .as_f64()
                .partial_cmp(&y.as_f64())
                .unwrap_or(Ordering::Equal),
            (Value::String(x), Value::String(y)) => x.cmp(y),
            (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
            _ => Ordering::Equal,
        },
    };
    if desc {
        o.reverse()
    } else {
        o
    }
}

/// One record as the domain evaluator sees it.
struct View<'a> {
    db: &'a Db,
    model: &'static Model,
    id: i64,
}

impl Subject for View<'_> {
    fn model(&self) -> &str {
        self.model.name
    }
    fn kind(&self, field: &str) -> Option<Kind> {
        self.model.field(field).map(|f| f.kind)
    }
    fn value(&self, field: &str) -> Value {
        self.db.value(self.model, self.id, field)
    }
    fn subtree(&self, model: &str, ids: &[i64]) -> BTreeSet<i64> {
        self.db.subtree(model, ids)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn db() -> (Db, &'static Model) {
        let mut db = Db::new();
        let m = model_of("stock.location").unwrap();
        let now = "2026-03-01 10:00:00";
        let mut add = |name: &str, parent: Option<i64>, usage: &str, active: bool| {
            let mut r = Record::new();
            r.insert("name".into(), json!(name));
            r.insert("location_id".into(), json!(parent));
            r.insert("usage".into(), json!(usage));
            r.insert("active".into(), json!(active));
            db.insert("stock.location", r, now)
        };
        add("WH", None, "view", true); // 1
        add("Stock", Some(1), "internal", true); // 2
        add("Shelf 1", Some(2), "internal", true); // 3
        add("Old", Some(2), "internal", false); // 4
        add("Customers", None, "customer", true); // 5
        (db, m)
    }

    #[test]
    fn search_filters_archived_orders_and_pages() {
        let (db, m) = db();
        let s = |d: Value, order: Option<&str>, off: usize, lim: Option<usize>, active: bool| {
            db.search(m, &d, order, off, lim, active).unwrap()
        };
        assert_eq!(
            s(json!([["id", "child_of", 2]]), None, 0, None, true),
            [2, 3]
        );
        assert_eq!(
            s(json!([["id", "child_of", 2]]), None, 0, None, false),
            [2, 3, 4]
        );
        assert_eq!(s(json!([["active", "=", false]]), None, 0, None, true), [4]);
        assert_eq!(s(json!([]), Some("name desc"), 0, None, true), [1, 2, 3, 5]);
        assert_eq!(s(json!([]), Some("name asc"), 1, Some(2), true), [3, 2]);
        assert_eq!(
            s(
                json!([["location_id", "=", false]]),
                Some("usage, id desc"),
                0,
                None,
                true
            ),
            [5, 1]
        );
        let err = db
            .search(m, &json!([["nope", "=", 1]]), None, 0, None, true)
            .unwrap_err();
        assert_eq!(err.exc, Exc::ValueError);
        let err = db
            .search(m, &json!([]), Some("name sideways"), 0, None, true)
            .unwrap_err();
        assert_eq!(err.exc, Exc::ValueError);
        let err = db
            .search(m, &json!([["usage", "child_of", 1]]), None, 0, None, true)
            .unwrap_err();
        assert_eq!(err.exc, Exc::ValueError);
    }

    #[test]
    fn read_formats_values_as_odoo_does() {
        let (db, m) = db();
        let out = db
            .read(
                m,
                &[3],
                &[
                    "location_id".into(),
                    "complete_name".into(),
                    "warehouse_id".into(),
                    "child_ids".into(),
                ],
            )
            .unwrap();
        assert_eq!(
            out[0],
            json!({"id": 3, "location_id": [2, "WH/Stock"], "complete_name": "WH/Stock/Shelf 1", "warehouse_id": false, "child_ids": []})
        );
        assert_eq!(
            db.read(m, &[2], &["child_ids".into()]).unwrap()[0]["child_ids"],
            json!([3, 4])
        );
        assert_eq!(db.read(m, &[9], &[]).unwrap_err().exc, Exc::MissingError);
        assert_eq!(
            db.read(m, &[1], &["nope".into()]).unwrap_err().exc,
            Exc::ValueError
        );
    }

    #[test]
    fn values_are_checked_before_storing() {
        let (db, _) = db();
        let partner = model_of("res.partner").unwrap();
        let ok = db
            .check_vals(
                partner,
                &json!({"name": "Zoë", "email": false, "type": "delivery"}),
            )
            .unwrap();
        assert_eq!(ok["email"], Value::Null);
        for (vals, exc) in [
            (json!({"nope": 1}), Exc::ValueError),
            (json!({"name": 3}), Exc::ValueError),
            (json!({"type": "pirate"}), Exc::ValueError),
            (json!({"country_id": 99}), Exc::ValidationError),
            (json!({"child_ids": []}), Exc::UserError),
        ] {
            assert_eq!(
                db.check_vals(partner, &vals).unwrap_err().exc,
                exc,
                "{vals}"
            );
        }
    }
}

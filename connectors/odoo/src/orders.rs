//! Creating chansync's orders in Odoo, which ships them: a confirmed
//! `sale.order` per order and warehouse, found again by `client_order_ref`
//! (chansync's reference) so a retried push never makes a second one.
//! Confirming it makes Odoo create and reserve the delivery.

use std::collections::BTreeMap;

use chansync_sdk::model::{Address, Order, OrderLine};
use chansync_sdk::{ConnectorError, SinkCancel, SinkOrder};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::client::{Call, OdooClient};
use crate::wire::{self, Rec};

/// How a sale line's description names the canonical line it came from;
/// shipments read it back to name their lines.
const LINE_TAG: &str = "[chansync line ";

/// The description of a sale line: the title, then the tag on its own line.
pub(crate) fn line_name(title: &str, external_id: &str) -> String {
    format!("{title}\n{LINE_TAG}{external_id}]")
}

/// The canonical line id a sale line's description names, if chansync
/// wrote it.
pub(crate) fn line_id_of(name: &str) -> Option<String> {
    let at = name.rfind(LINE_TAG)?;
    let rest = name[at + LINE_TAG.len()..].lines().next()?.trim_end();
    let id = rest.strip_suffix(']')?;
    (!id.is_empty()).then(|| id.to_owned())
}

/// What ships from the sink's warehouse: the order's allocations spread
/// over its lines of each SKU in order (all SKU lines when the order has no
/// allocations), and the lines without a SKU, which travel as notes.
pub(crate) fn plan_lines(order: &Order) -> Result<Planned<'_>, ConnectorError> {
    let mut ship = Vec::new();
    let mut notes = Vec::new();
    let mut left: BTreeMap<&str, u32> = BTreeMap::new();
    for a in &order.allocations {
        *left.entry(a.sku.as_str()).or_default() += a.quantity;
    }
    let whole = order.allocations.is_empty();
    for line in &order.lines {
        let Some(sku) = line.sku.as_deref() else {
            notes.push(line);
            continue;
        };
        let qty = if whole {
            line.quantity
        } else {
            let l = left.entry(sku).or_default();
            let take = (*l).min(line.quantity);
            *l -= take;
            take
        };
        if qty > 0 {
            ship.push((sku, line, qty));
        }
    }
    if let Some((sku, n)) = left.iter().find(|(_, n)| **n > 0) {
        return Err(ConnectorError::Permanent(format!(
            "order {} allocates {n} more of SKU {sku} than its lines hold",
            order.id
        )));
    }
    if ship.is_empty() {
        return Err(ConnectorError::Permanent(format!(
            "order {} has nothing with a SKU to ship from this warehouse",
            order.id
        )));
    }
    Ok(Planned { ship, notes })
}

/// The sale lines to create.
#[derive(Debug)]
pub(crate) struct Planned<'a> {
    /// (master SKU, canonical line, quantity from this warehouse).
    pub ship: Vec<(&'a str, &'a OrderLine, u32)>,
    pub notes: Vec<&'a OrderLine>,
}

/// `s` as a `LIKE` pattern matching only itself: `_` and `%` are
/// wildcards to Odoo's `=ilike`, so an e-mail such as `jo_doe@…` must
/// escape them.
fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

/// The line discount as the percentage Odoo's `discount` field holds.
fn discount_percent(l: &OrderLine) -> Decimal {
    let gross = l.unit_price * Decimal::from(l.quantity);
    if gross.is_zero() || l.discount.is_zero() {
        return Decimal::ZERO;
    }
    (l.discount / gross * Decimal::ONE_HUNDRED).round_dp(4)
}

/// The Odoo records an order refers to, looked up before creating it.
pub(crate) struct Resolved {
    pub partner_id: i64,
    pub shipping_id: i64,
    pub warehouse_id: Option<i64>,
    pub pricelist_id: Option<i64>,
    pub company_id: Option<i64>,
    /// Master SKU → `product.product` id.
    pub products: BTreeMap<String, i64>,
}

/// The `sale.order` create values.
pub(crate) fn sale_order_vals(req: &SinkOrder, plan: &Planned<'_>, r: &Resolved) -> Value {
    let order = &req.order;
    let mut lines: Vec<Value> = plan
        .ship
        .iter()
        .map(|(sku, line, qty)| {
            let mut vals = json!({
                "product_id": r.products[*sku],
                "product_uom_qty": qty,
                "price_unit": wire::float(line.unit_price),
                "name": line_name(&line.title, &line.external_id),
            });
            let pct = discount_percent(line);
            if !pct.is_zero() {
                vals["discount"] = wire::float(pct);
            }
            json!([0, 0, vals])
        })
        .collect();
    lines.extend(plan.notes.iter().map(|line| {
        json!([0, 0, {
            "display_type": "line_note",
            "name": format!("{} ×{}: {} {}", line.title, line.quantity, line.total, order.currency),
        }])
    }));
    let number = order
        .external_number
        .as_deref()
        .unwrap_or(&order.external_id);
    let mut vals = json!({
        "partner_id": r.partner_id,
        "partner_invoice_id": r.partner_id,
        "partner_shipping_id": r.shipping_id,
        "client_order_ref": req.reference,
        "origin": format!("chansync {} {number}", order.connector),
        "date_order": wire::datetime(&order.placed_at),
        "order_line": lines,
    });
    for (key, v) in [
        ("warehouse_id", r.warehouse_id),
        ("pricelist_id", r.pricelist_id),
        ("company_id", r.company_id),
    ] {
        if let Some(id) = v {
            vals[key] = json!(id);
        }
    }
    vals
}

/// Creates and confirms the sale order for `req`, or finds the one made
/// under its reference (confirming it if an earlier attempt stopped short).
pub(crate) async fn create_order(
    c: &OdooClient,
    req: &SinkOrder,
) -> Result<String, ConnectorError> {
    if let Some(existing) = find(c, &req.reference).await? {
        return resume(c, req, &existing).await;
    }
    let plan = plan_lines(&req.order)?;
    // Everything that can refuse the order is looked up before anything is
    // created, so a refused order leaves nothing behind.
    let warehouse_id = match req.channel_location.as_deref() {
        Some(code) => Some(warehouse_id(c, code).await?),
        None => None,
    };
    let products = products(c, plan.ship.iter().map(|(sku, _, _)| *sku)).await?;
    let pricelist_id = pricelist(c, req.order.currency.as_str()).await?;
    let (partner_id, shipping_id) = partner(c, &req.order).await?;
    let resolved = Resolved {
        partner_id,
        shipping_id,
        warehouse_id,
        pricelist_id,
        company_id: c.company_id(),
        products,
    };
    let id = c
        .create("sale.order", sale_order_vals(req, &plan, &resolved))
        .await?;
    c.call(&Call::action("sale.order", "action_confirm", vec![id]))
        .await?;
    tracing::info!(reference = %req.reference, sale_order = id, "sale order created and confirmed in Odoo");
    Ok(id.to_string())
}

/// Cancels the sale order made under `req.reference` and its deliveries
/// that have not left. Nothing under the reference, or a cancelled order,
/// is done already; a delivery already validated cannot be undone here.
pub(crate) async fn cancel_order(c: &OdooClient, req: &SinkCancel) -> Result<(), ConnectorError> {
    let Some(existing) = find(c, &req.reference).await? else {
        tracing::info!(reference = %req.reference, "no sale order in Odoo to cancel");
        return Ok(());
    };
    let id = wire::id(&existing)
        .ok_or_else(|| ConnectorError::InvalidResponse("sale.order without an id".into()))?;
    let name = wire::text(existing.get("name")).unwrap_or_default();
    if wire::text(existing.get("state")).as_deref() == Some("cancel") {
        return Ok(());
    }
    let shipped = c
        .search_read(
            "stock.picking",
            json!([
                ["sale_id", "=", id],
                ["state", "=", "done"],
                ["picking_type_code", "=", "outgoing"]
            ]),
            &["name"],
            "id asc",
            Some(1),
        )
        .await?;
    if let Some(p) = shipped.first() {
        return Err(ConnectorError::Permanent(format!(
            "sale order {name} ({}) has already shipped in Odoo (delivery {}); it was not cancelled there",
            req.reference,
            wire::text(p.get("name")).unwrap_or_default()
        )));
    }
    // Odoo 17+ asks a person to confirm the cancellation of a confirmed
    // order in a wizard, unless the context says not to.
    let answer = c
        .call(
            &Call::action("sale.order", "action_cancel", vec![id])
                .with_context("disable_cancel_warning", json!(true)),
        )
        .await?;
    if answer.is_object() {
        return Err(ConnectorError::Permanent(format!(
            "Odoo asked to confirm the cancellation of {name} ({}) in a wizard; cancel it there",
            req.reference
        )));
    }
    tracing::info!(reference = %req.reference, sale_order = id, reason = ?req.reason, "sale order cancelled in Odoo");
    Ok(())
}

async fn find(c: &OdooClient, reference: &str) -> Result<Option<Rec>, ConnectorError> {
    let found = c
        .search_read(
            "sale.order",
            json!([["client_order_ref", "=", reference]]),
            &["name", "state"],
            "id asc",
            Some(1),
        )
        .await?;
    Ok(found.into_iter().next())
}

/// The order is already in Odoo: confirm it if it is still a quotation.
async fn resume(c: &OdooClient, req: &SinkOrder, existing: &Rec) -> Result<String, ConnectorError> {
    let id = wire::id(existing)
        .ok_or_else(|| ConnectorError::InvalidResponse("sale.order without an id".into()))?;
    match wire::text(existing.get("state")).as_deref() {
        Some("draft" | "sent") => {
            c.call(&Call::action("sale.order", "action_confirm", vec![id]))
                .await?;
            tracing::info!(reference = %req.reference, sale_order = id, "sale order found as a quotation and confirmed");
        }
        Some("cancel") => {
            tracing::warn!(reference = %req.reference, sale_order = id, "the order's sale order is cancelled in Odoo; not created again");
        }
        _ => {
            tracing::debug!(reference = %req.reference, sale_order = id, "sale order already in Odoo");
        }
    }
    Ok(id.to_string())
}

async fn warehouse_id(c: &OdooClient, code: &str) -> Result<i64, ConnectorError> {
    let mut domain = vec![json!(["code", "=", code])];
    if let Some(company) = c.company_id() {
        domain.push(json!(["company_id", "=", company]));
    }
    let found = c
        .search_read(
            "stock.warehouse",
            Value::Array(domain),
            &["code"],
            "id asc",
            Some(1),
        )
        .await?;
    found
        .first()
        .and_then(wire::id)
        .ok_or_else(|| ConnectorError::Permanent(format!("warehouse {code:?} is not in Odoo")))
}

/// SKU → product id for every SKU, or a permanent error naming the ones
/// Odoo has no (active) product for, or more than one.
async fn products<'a>(
    c: &OdooClient,
    skus: impl Iterator<Item = &'a str>,
) -> Result<BTreeMap<String, i64>, ConnectorError> {
    let wanted: std::collections::BTreeSet<&str> = skus.collect();
    let found = c
        .search_read(
            "product.product",
            json!([["default_code", "in", wanted.iter().collect::<Vec<_>>()]]),
            &["default_code"],
            "id asc",
            None,
        )
        .await?;
    let mut by_sku: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for r in &found {
        if let (Some(id), Some(code)) = (wire::id(r), wire::text(r.get("default_code"))) {
            by_sku.entry(code).or_default().push(id);
        }
    }
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|s| !by_sku.contains_key(*s))
        .collect();
    if !missing.is_empty() {
        return Err(ConnectorError::Permanent(format!(
            "no Odoo product has the internal reference {}",
            missing.join(", ")
        )));
    }
    let mut out = BTreeMap::new();
    for sku in wanted {
        match by_sku[sku].as_slice() {
            [id] => {
                out.insert(sku.to_owned(), *id);
            }
            ids => {
                return Err(ConnectorError::Permanent(format!(
                    "SKU {sku} is the internal reference of {} Odoo products (ids {ids:?}); it must name one",
                    ids.len()
                )))
            }
        }
    }
    Ok(out)
}

/// The pricelist that prices the order in its currency; `None` when the
/// company's currency is the order's and no pricelist is needed.
async fn pricelist(c: &OdooClient, currency: &str) -> Result<Option<i64>, ConnectorError> {
    let cur = c
        .search_read(
            "res.currency",
            json!([["name", "=", currency]]),
            &["name"],
            "id asc",
            Some(1),
        )
        .await?
        .first()
        .and_then(wire::id)
        .ok_or_else(|| {
            ConnectorError::Permanent(format!("currency {currency} is not active in Odoo"))
        })?;
    let mut domain = vec![json!(["currency_id", "=", cur])];
    if let Some(company) = c.company_id() {
        domain.push(json!(["company_id", "in", [false, company]]));
    }
    let found = c
        .search_read(
            "product.pricelist",
            Value::Array(domain),
            &["name"],
            "id asc",
            Some(1),
        )
        .await?;
    if let Some(id) = found.first().and_then(wire::id) {
        return Ok(Some(id));
    }
    let company_domain = match c.company_id() {
        Some(company) => json!([["id", "=", company]]),
        None => json!([]),
    };
    let company = c
        .search_read(
            "res.company",
            company_domain,
            &["currency_id"],
            "id asc",
            Some(1),
        )
        .await?;
    let company_currency = company
        .first()
        .and_then(|r| wire::many2one(r.get("currency_id")));
    match company_currency {
        Some((id, _)) if id == cur => Ok(None),
        other => Err(ConnectorError::Permanent(format!(
            "Odoo has no pricelist in {currency} (the company's currency is {}); add one so the order keeps its prices",
            other.map(|(_, n)| n).unwrap_or_else(|| "unknown".into())
        ))),
    }
}

/// The customer (found by e-mail, else by name, else created) and the
/// delivery address (the customer itself or one of its delivery contacts
/// when the address matches, else a new delivery contact).
async fn partner(c: &OdooClient, order: &Order) -> Result<(i64, i64), ConnectorError> {
    let addr = order.shipping_address.as_ref();
    let email = order
        .customer
        .email
        .as_deref()
        .map(str::trim)
        .filter(|e| !e.is_empty());
    let name = order
        .customer
        .name
        .as_deref()
        .or(addr.map(|a| a.name.as_str()))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .or(email)
        .map(str::to_owned);
    // Marketplaces hide the buyer from sellers without access to personal
    // data (Amazon without a restricted data token): the delivery still has
    // a city and country, and the customer is named after the order.
    let name = match (name, addr) {
        (Some(n), _) => n,
        (None, Some(_)) => format!(
            "{} customer {}",
            capitalized(&order.channel_kind),
            order.external_id
        ),
        (None, None) => {
            return Err(ConnectorError::Permanent(format!(
                "order {} names no customer and no address to ship to",
                order.id
            )))
        }
    };
    let name = name.as_str();
    let address = match addr {
        Some(a) => Some(address_vals(c, a).await?),
        None => None,
    };
    let lookup = match email {
        Some(e) => json!([
            ["email", "=ilike", like_literal(e)],
            ["parent_id", "=", false]
        ]),
        None => json!([["name", "=", name], ["parent_id", "=", false]]),
    };
    let found = c
        .search_read("res.partner", lookup, &["name"], "id asc", Some(1))
        .await?;
    let partner = match found.first().and_then(wire::id) {
        Some(id) => id,
        None => {
            let mut vals = json!({"name": name, "type": "contact"});
            if let Some(e) = email {
                vals["email"] = json!(e);
            }
            if let Some(Value::Object(a)) = &address {
                for (k, v) in a {
                    if k != "name" {
                        vals[k] = v.clone();
                    }
                }
            }
            c.create("res.partner", vals).await?
        }
    };
    let Some(Value::Object(address)) = address else {
        return Ok((partner, partner));
    };
    let mut domain = vec![
        json!("|"),
        json!(["id", "=", partner]),
        json!(["parent_id", "=", partner]),
    ];
    domain.extend(address.iter().map(|(k, v)| json!([k, "=", v])));
    let same = c
        .search_read(
            "res.partner",
            Value::Array(domain),
            &["name"],
            "id asc",
            Some(1),
        )
        .await?;
    if let Some(id) = same.first().and_then(wire::id) {
        return Ok((partner, id));
    }
    let mut vals = Value::Object(address);
    vals["parent_id"] = json!(partner);
    vals["type"] = json!("delivery");
    let shipping = c.create("res.partner", vals).await?;
    Ok((partner, shipping))
}

fn capitalized(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}

/// A partner's address fields, with the country and state looked up by code.
async fn address_vals(c: &OdooClient, a: &Address) -> Result<Value, ConnectorError> {
    let country = c
        .search_read(
            "res.country",
            json!([["code", "=", a.country_code.as_str()]]),
            &["code"],
            "id asc",
            Some(1),
        )
        .await?
        .first()
        .and_then(wire::id);
    if country.is_none() {
        tracing::warn!(country = %a.country_code, "country not in Odoo; the address is kept without it");
    }
    let state = match (country, a.region.as_deref().filter(|r| !r.is_empty())) {
        (Some(country), Some(region)) => c
            .search_read(
                "res.country.state",
                json!([
                    ["country_id", "=", country],
                    "|",
                    ["code", "=ilike", region],
                    ["name", "=ilike", region]
                ]),
                &["code"],
                "id asc",
                Some(1),
            )
            .await?
            .first()
            .and_then(wire::id),
        _ => None,
    };
    let opt = |v: Option<i64>| v.map_or(Value::Bool(false), |id| json!(id));
    Ok(json!({
        "name": a.name,
        "street": a.line1,
        "street2": a.line2.as_deref().filter(|l| !l.is_empty()).map_or(Value::Bool(false), |l| json!(l)),
        "city": a.city,
        "zip": a.postal_code,
        "country_id": opt(country),
        "state_id": opt(state),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chansync_sdk::model::{Allocation, Customer, OrderStatus, PaymentStatus};

    fn line(id: &str, sku: Option<&str>, qty: u32, price: &str) -> OrderLine {
        let unit: Decimal = price.parse().unwrap();
        OrderLine {
            external_id: id.into(),
            sku: sku.map(Into::into),
            channel_sku: sku.map(Into::into),
            title: format!("Item {id}"),
            quantity: qty,
            unit_price: unit,
            total: unit * Decimal::from(qty),
            tax: Decimal::ZERO,
            discount: Decimal::ZERO,
        }
    }

    fn order(lines: Vec<OrderLine>, allocations: Vec<(&str, u32)>) -> Order {
        let t = chrono::DateTime::parse_from_rfc3339("2026-03-01T10:00:00+01:00").unwrap();
        Order {
            id: "7".into(),
            connector: "shop-eu".into(),
            channel_kind: "shopify".into(),
            external_id: "5001".into(),
            external_number: Some("#1001".into()),
            status: OrderStatus::Allocated,
            payment_status: PaymentStatus::Paid,
            currency: "EUR".parse().unwrap(),
            subtotal: Decimal::ZERO,
            shipping_total: Decimal::ZERO,
            tax_total: Decimal::ZERO,
            discount_total: Decimal::ZERO,
            total: Decimal::ZERO,
            placed_at: t,
            updated_at: t,
            customer: Customer::default(),
            shipping_address: None,
            lines,
            allocations: allocations
                .into_iter()
                .map(|(sku, quantity)| Allocation {
                    location: "berlin".into(),
                    sku: sku.into(),
                    quantity,
                })
                .collect(),
            fulfillments: vec![],
        }
    }

    fn shipped(p: &Planned<'_>) -> Vec<(String, u32)> {
        p.ship
            .iter()
            .map(|(_, l, q)| (l.external_id.clone(), *q))
            .collect()
    }

    #[test]
    fn allocations_pick_the_lines_and_quantities_that_ship_here() {
        let lines = vec![
            line("a", Some("MUG"), 2, "18.00"),
            line("b", Some("TEE"), 1, "29.00"),
            line("c", Some("MUG"), 3, "18.00"),
            line("d", None, 1, "5.00"),
        ];
        let check = |alloc: Vec<(&str, u32)>, expect: &[(&str, u32)]| {
            let o = order(lines.clone(), alloc.clone());
            let p = plan_lines(&o).unwrap();
            let want: Vec<(String, u32)> =
                expect.iter().map(|(i, q)| ((*i).to_owned(), *q)).collect();
            assert_eq!(shipped(&p), want, "{alloc:?}");
            assert_eq!(p.notes.len(), 1);
        };
        check(vec![], &[("a", 2), ("b", 1), ("c", 3)]);
        check(
            vec![("MUG", 5), ("TEE", 1)],
            &[("a", 2), ("b", 1), ("c", 3)],
        );
        check(vec![("MUG", 3)], &[("a", 2), ("c", 1)]);
        check(vec![("TEE", 1)], &[("b", 1)]);
    }

    #[test]
    fn an_allocation_beyond_the_lines_is_refused() {
        let o = order(vec![line("a", Some("MUG"), 1, "1")], vec![("MUG", 2)]);
        assert!(matches!(plan_lines(&o), Err(ConnectorError::Permanent(_))));
        let o = order(vec![line("a", None, 1, "1")], vec![]);
        assert!(matches!(plan_lines(&o), Err(ConnectorError::Permanent(_))));
    }

    #[test]
    fn like_patterns_escape_wildcards() {
        assert_eq!(like_literal("jo_doe@x.com"), "jo\\_doe@x.com");
        assert_eq!(like_literal("100%"), "100\\%");
        assert_eq!(like_literal("a\\b"), "a\\\\b");
        assert_eq!(like_literal("plain@example.com"), "plain@example.com");
    }

    #[test]
    fn line_tags_round_trip() {
        for (title, id) in [
            ("Ceramic Mug", "1234567"),
            ("Sencha 煎茶", "li_9[x]"),
            ("Multi\nline", "a b"),
        ] {
            assert_eq!(line_id_of(&line_name(title, id)).as_deref(), Some(id));
        }
        assert_eq!(
            line_id_of("[chansync line 42]\nedited by hand").as_deref(),
            Some("42")
        );
        assert_eq!(line_id_of("Ceramic Mug"), None);
        assert_eq!(line_id_of("[chansync line ]"), None);
    }

    #[test]
    fn the_sale_order_carries_reference_origin_warehouse_and_lines() {
        let mut l = line("a", Some("MUG"), 2, "18.00");
        l.discount = "3.60".parse().unwrap();
        let o = order(vec![l, line("d", None, 1, "5.00")], vec![("MUG", 2)]);
        let req = SinkOrder {
            order: o,
            channel_location: Some("WH2".into()),
            reference: "chansync-7".into(),
            idempotency_key: "k".into(),
        };
        let plan = plan_lines(&req.order).unwrap();
        let r = Resolved {
            partner_id: 10,
            shipping_id: 11,
            warehouse_id: Some(2),
            pricelist_id: None,
            company_id: None,
            products: [("MUG".to_owned(), 5)].into(),
        };
        let v = sale_order_vals(&req, &plan, &r);
        assert_eq!(v["client_order_ref"], "chansync-7");
        assert_eq!(v["origin"], "chansync shop-eu #1001");
        assert_eq!(v["warehouse_id"], 2);
        assert_eq!(v["partner_shipping_id"], 11);
        assert_eq!(v["date_order"], "2026-03-01 09:00:00");
        assert!(v.get("pricelist_id").is_none());
        let line = &v["order_line"][0];
        assert_eq!(line[0], 0);
        assert_eq!(line[2]["product_id"], 5);
        assert_eq!(line[2]["product_uom_qty"], 2);
        assert_eq!(line[2]["price_unit"], 18.0);
        assert_eq!(line[2]["discount"], 10.0);
        assert_eq!(
            line_id_of(line[2]["name"].as_str().unwrap()).as_deref(),
            Some("a")
        );
        let note = &v["order_line"][1][2];
        assert_eq!(note["display_type"], "line_note");
        assert!(note.get("product_id").is_none());
    }
}

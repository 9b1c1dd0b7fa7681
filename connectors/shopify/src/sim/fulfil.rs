//! Fulfilment orders and fulfilments of a simulated order. Each order has one
//! fulfilment order, assigned to the primary location, whose lines mirror the
//! order's lines; its ids derive from the order's, so nothing extra is stored.
//! `create` validates a `fulfillmentCreate` as Shopify does and applies it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::sim::generate::{next_timestamp, LINE_ID_BASE, ORDER_ID_BASE};
use crate::sim::model::{
    DisplayFulfillmentStatus, FulfillmentStatus, SimFulfillment, SimFulfillmentLine, SimLine,
    SimOrder, SimTracking,
};
use crate::sim::schema::parse_gid;

const FULFILLMENT_ORDER_ID_BASE: u64 = 6_100_000_000_000;
const FULFILLMENT_ORDER_LINE_ID_BASE: u64 = 15_300_000_000_000;
const FULFILLMENT_ID_BASE: u64 = 4_900_000_000_000;
const FULFILLMENT_LINE_ID_BASE: u64 = 10_200_000_000_000;

/// Shopify's `FulfillmentOrderStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "FulfillmentOrderStatus")]
pub(crate) enum FulfillmentOrderStatus {
    Cancelled,
    Closed,
    Incomplete,
    InProgress,
    OnHold,
    Open,
    Scheduled,
}

/// The id of an order's fulfilment order.
pub(crate) fn fulfillment_order_id(order_id: u64) -> u64 {
    FULFILLMENT_ORDER_ID_BASE + (order_id - ORDER_ID_BASE)
}

/// The order a fulfilment order id belongs to (whether or not it exists).
pub(crate) fn order_of_fulfillment_order(id: u64) -> Option<u64> {
    id.checked_sub(FULFILLMENT_ORDER_ID_BASE)
        .and_then(|n| ORDER_ID_BASE.checked_add(n))
}

/// The id of the fulfilment order line that ships an order line.
pub(crate) fn fulfillment_order_line_id(line_id: u64) -> u64 {
    FULFILLMENT_ORDER_LINE_ID_BASE + (line_id - LINE_ID_BASE)
}

fn line_of_fulfillment_order_line(id: u64) -> Option<u64> {
    id.checked_sub(FULFILLMENT_ORDER_LINE_ID_BASE)
        .and_then(|n| LINE_ID_BASE.checked_add(n))
}

pub(crate) fn fulfillment_order_gid(id: u64) -> String {
    format!("gid://shopify/FulfillmentOrder/{id}")
}

pub(crate) fn fulfillment_order_line_gid(id: u64) -> String {
    format!("gid://shopify/FulfillmentOrderLineItem/{id}")
}

/// Fulfilment ids, unique within a simulator.
#[derive(Debug, Default)]
pub(crate) struct FulfillmentIds {
    next: u64,
}

impl FulfillmentIds {
    fn take(&mut self) -> u64 {
        self.next += 1;
        self.next
    }
}

impl SimOrder {
    /// Units of an order line shipped by successful fulfilments.
    pub(crate) fn fulfilled_quantity(&self, line_id: u64) -> u32 {
        self.fulfillments
            .iter()
            .filter(|f| f.status == FulfillmentStatus::Success)
            .flat_map(|f| &f.lines)
            .filter(|l| l.line_item_id == line_id)
            .map(|l| l.quantity)
            .sum()
    }

    /// Units of an order line still to ship.
    pub(crate) fn remaining_quantity(&self, line: &SimLine) -> u32 {
        if !line.requires_shipping {
            return 0;
        }
        line.current_quantity
            .saturating_sub(self.fulfilled_quantity(line.id))
    }

    /// The status of the order's fulfilment order.
    pub(crate) fn fulfillment_order_status(&self) -> FulfillmentOrderStatus {
        let remaining: u32 = self.lines.iter().map(|l| self.remaining_quantity(l)).sum();
        let shipped = self.lines.iter().any(|l| self.fulfilled_quantity(l.id) > 0);
        if self.is_cancelled() || remaining == 0 {
            FulfillmentOrderStatus::Closed
        } else if shipped {
            FulfillmentOrderStatus::InProgress
        } else {
            FulfillmentOrderStatus::Open
        }
    }

    /// `displayFulfillmentStatus` as the fulfilments leave it.
    fn refresh_fulfillment_status(&mut self) {
        let shipping = self.lines.iter().filter(|l| l.requires_shipping);
        let (mut any, mut all) = (false, true);
        for l in shipping {
            let done = self.fulfilled_quantity(l.id);
            any |= done > 0;
            all &= done >= l.current_quantity;
        }
        self.fulfillment_status = match (any, all) {
            (false, _) => DisplayFulfillmentStatus::Unfulfilled,
            (true, true) => DisplayFulfillmentStatus::Fulfilled,
            (true, false) => DisplayFulfillmentStatus::PartiallyFulfilled,
        };
    }
}

/// One entry of `lineItemsByFulfillmentOrder`.
#[derive(Debug, Clone)]
pub(crate) struct ByFulfillmentOrder {
    pub fulfillment_order_id: String,
    /// `(fulfillment order line item id, quantity)`; `None` or empty: all remaining.
    pub lines: Option<Vec<(String, i32)>>,
}

/// A `UserError`: the input path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserError {
    pub field: Vec<String>,
    pub message: String,
}

fn user_error(field: &[&str], message: &str) -> UserError {
    UserError {
        field: field.iter().map(|f| (*f).to_owned()).collect(),
        message: message.to_owned(),
    }
}

/// The order a `fulfillmentCreate` is about, named by its first fulfilment order.
pub(crate) fn target_order(input: &[ByFulfillmentOrder]) -> Result<u64, UserError> {
    let first = input.first().ok_or_else(|| {
        user_error(
            &["fulfillment", "lineItemsByFulfillmentOrder"],
            "Line items by fulfillment order can't be blank.",
        )
    })?;
    parse_gid(&first.fulfillment_order_id, "FulfillmentOrder")
        .and_then(order_of_fulfillment_order)
        .ok_or_else(|| not_found(0))
}

pub(crate) fn not_found(i: usize) -> UserError {
    user_error(
        &[
            "fulfillment",
            "lineItemsByFulfillmentOrder",
            &i.to_string(),
            "fulfillmentOrderId",
        ],
        "Fulfillment order does not exist.",
    )
}

/// Validates and applies a fulfilment of `order`; the new fulfilment's index.
pub(crate) fn create(
    order: &mut SimOrder,
    input: &[ByFulfillmentOrder],
    tracking: Option<SimTracking>,
    ids: &mut FulfillmentIds,
    now: DateTime<Utc>,
) -> Result<usize, Vec<UserError>> {
    let own = fulfillment_order_id(order.id);
    let mut errors = Vec::new();
    // Requested units per order line, in request order.
    let mut wanted: BTreeMap<u64, u32> = BTreeMap::new();
    let mut order_of_lines = Vec::new();
    let mut seen_orders = Vec::new();
    for (i, entry) in input.iter().enumerate() {
        let idx = i.to_string();
        let base = ["fulfillment", "lineItemsByFulfillmentOrder", idx.as_str()];
        if parse_gid(&entry.fulfillment_order_id, "FulfillmentOrder") != Some(own) {
            errors.push(not_found(i));
            continue;
        }
        if seen_orders.contains(&own) {
            errors.push(user_error(
                &[base[0], base[1], base[2], "fulfillmentOrderId"],
                "Fulfillment order ids must be unique.",
            ));
            continue;
        }
        seen_orders.push(own);
        if !matches!(
            order.fulfillment_order_status(),
            FulfillmentOrderStatus::Open | FulfillmentOrderStatus::InProgress
        ) {
            errors.push(user_error(
                &[base[0], base[1], base[2], "fulfillmentOrderId"],
                "The fulfillment order is not in a fulfillable state.",
            ));
            continue;
        }
        match entry.lines.as_deref() {
            None | Some([]) => {
                let mut any = false;
                for l in &order.lines {
                    let left = order.remaining_quantity(l);
                    if left > 0 {
                        any = true;
                        *wanted.entry(l.id).or_default() += left;
                        order_of_lines.push(l.id);
                    }
                }
                if !any {
                    errors.push(user_error(
                        &[base[0], base[1], base[2], "fulfillmentOrderLineItems"],
                        "Invalid fulfillment order line item quantity requested.",
                    ));
                }
            }
            Some(lines) => {
                for (j, (id, quantity)) in lines.iter().enumerate() {
                    let jdx = j.to_string();
                    let at = |f: &'static str| {
                        user_error(
                            &[
                                base[0],
                                base[1],
                                base[2],
                                "fulfillmentOrderLineItems",
                                &jdx,
                                f,
                            ],
                            match f {
                                "id" => "Fulfillment order line item does not exist.",
                                _ => "Invalid fulfillment order line item quantity requested.",
                            },
                        )
                    };
                    let line = parse_gid(id, "FulfillmentOrderLineItem")
                        .and_then(line_of_fulfillment_order_line)
                        .and_then(|lid| order.lines.iter().find(|l| l.id == lid));
                    let Some(line) = line else {
                        errors.push(at("id"));
                        continue;
                    };
                    let already = wanted.get(&line.id).copied().unwrap_or(0);
                    let left = order.remaining_quantity(line);
                    if *quantity <= 0 || already + *quantity as u32 > left {
                        errors.push(at("quantity"));
                        continue;
                    }
                    *wanted.entry(line.id).or_default() += *quantity as u32;
                    order_of_lines.push(line.id);
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    order_of_lines.dedup();
    let mut lines = Vec::new();
    for line_id in order_of_lines {
        if let Some(quantity) = wanted.remove(&line_id) {
            lines.push(SimFulfillmentLine {
                id: FULFILLMENT_LINE_ID_BASE + ids.take(),
                line_item_id: line_id,
                quantity,
            });
        }
    }
    order.fulfillments.push(SimFulfillment {
        id: FULFILLMENT_ID_BASE + ids.take(),
        status: FulfillmentStatus::Success,
        created_at: now,
        updated_at: now,
        tracking: tracking.into_iter().collect(),
        lines,
    });
    order.refresh_fulfillment_status();
    order.updated_at = next_timestamp(order.updated_at, now);
    Ok(order.fulfillments.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::generate::generate_order;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap()
    }

    /// A generated order with at least two lines.
    fn order() -> SimOrder {
        (0..50)
            .map(|i| generate_order(3, i, t0()))
            .find(|o| o.lines.len() >= 2 && o.lines[0].quantity >= 2)
            .expect("the generator makes multi-line orders")
    }

    fn fo(o: &SimOrder) -> String {
        fulfillment_order_gid(fulfillment_order_id(o.id))
    }

    fn line(o: &SimOrder, i: usize) -> String {
        fulfillment_order_line_gid(fulfillment_order_line_id(o.lines[i].id))
    }

    fn by(o: &SimOrder, lines: Option<Vec<(String, i32)>>) -> Vec<ByFulfillmentOrder> {
        vec![ByFulfillmentOrder {
            fulfillment_order_id: fo(o),
            lines,
        }]
    }

    fn messages(r: Result<usize, Vec<UserError>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|e| e.message).collect()
    }

    #[test]
    fn ids_map_both_ways() {
        let o = order();
        let foid = fulfillment_order_id(o.id);
        assert_eq!(order_of_fulfillment_order(foid), Some(o.id));
        assert_eq!(
            line_of_fulfillment_order_line(fulfillment_order_line_id(o.lines[1].id)),
            Some(o.lines[1].id)
        );
        assert_eq!(order_of_fulfillment_order(1), None);
        assert_eq!(target_order(&by(&o, None)), Ok(o.id));
    }

    #[test]
    fn a_partial_fulfilment_then_the_rest() {
        let mut o = order();
        let mut ids = FulfillmentIds::default();
        let one = by(&o, Some(vec![(line(&o, 0), 1)]));
        let first = create(&mut o, &one, None, &mut ids, t0()).unwrap();
        assert_eq!(o.fulfillments[first].lines[0].quantity, 1);
        assert_eq!(
            o.fulfillment_status,
            DisplayFulfillmentStatus::PartiallyFulfilled
        );
        assert_eq!(
            o.fulfillment_order_status(),
            FulfillmentOrderStatus::InProgress
        );
        assert!(o.updated_at > t0());
        let rest = by(&o, None);
        create(&mut o, &rest, None, &mut ids, t0()).unwrap();
        assert_eq!(o.fulfillment_status, DisplayFulfillmentStatus::Fulfilled);
        assert_eq!(o.fulfillment_order_status(), FulfillmentOrderStatus::Closed);
        let shipped: u32 = o.lines.iter().map(|l| o.fulfilled_quantity(l.id)).sum();
        assert_eq!(shipped, o.lines.iter().map(|l| l.quantity).sum::<u32>());
        // Nothing is left: a closed fulfilment order cannot be fulfilled again.
        assert_eq!(
            messages(create(&mut o, &rest, None, &mut ids, t0())),
            ["The fulfillment order is not in a fulfillable state."]
        );
    }

    #[test]
    fn over_fulfilling_unknown_lines_and_foreign_orders_are_refused() {
        let mut o = order();
        let mut ids = FulfillmentIds::default();
        let too_many = o.lines[0].quantity as i32 + 1;
        let c = o.clone();
        assert_eq!(
            messages(create(
                &mut o,
                &by(&c, Some(vec![(line(&c, 0), too_many)])),
                None,
                &mut ids,
                t0()
            )),
            ["Invalid fulfillment order line item quantity requested."]
        );
        // The same line twice counts together.
        let q = c.lines[0].quantity as i32;
        assert_eq!(
            messages(create(
                &mut o,
                &by(&c, Some(vec![(line(&c, 0), q), (line(&c, 0), 1)])),
                None,
                &mut ids,
                t0()
            ))
            .len(),
            1
        );
        assert_eq!(
            messages(create(
                &mut o,
                &by(
                    &c,
                    Some(vec![(fulfillment_order_line_gid(1), 1), (line(&c, 1), 0)])
                ),
                None,
                &mut ids,
                t0()
            )),
            [
                "Fulfillment order line item does not exist.",
                "Invalid fulfillment order line item quantity requested."
            ]
        );
        let foreign = vec![ByFulfillmentOrder {
            fulfillment_order_id: fulfillment_order_gid(fulfillment_order_id(c.id + 1)),
            lines: None,
        }];
        assert_eq!(
            messages(create(&mut o, &foreign, None, &mut ids, t0())),
            ["Fulfillment order does not exist."]
        );
        assert!(o.fulfillments.is_empty(), "nothing was applied");
        assert_eq!(o, c);
    }

    #[test]
    fn a_cancelled_order_cannot_be_fulfilled() {
        let mut o = order();
        crate::sim::generate::cancel_with(
            &mut o,
            crate::sim::model::CancelReason::Other,
            true,
            t0(),
        );
        assert_eq!(o.fulfillment_order_status(), FulfillmentOrderStatus::Closed);
        let c = o.clone();
        assert!(create(
            &mut o,
            &by(&c, None),
            None,
            &mut FulfillmentIds::default(),
            t0()
        )
        .is_err());
    }
}

//! Fulfilment push-back: a shipment chansync recorded becomes a Shopify
//! fulfilment of the order's fulfilment order lines, with its tracking. At
//! least once: each try reads the order first and creates only what no
//! earlier fulfilment with the same tracking number (or, untracked, the same
//! lines) already covers, so a retried push never ships twice.

use std::collections::BTreeMap;

use chansync_sdk::model::Fulfillment;
use chansync_sdk::{ConnectorError, FulfillmentRequest};
use serde_json::{json, Value};

use crate::client::GraphqlClient;
use crate::graphql::{
    gid_tail, FulfillmentCreateData, FulfillmentStateData, GqlFulfillmentState,
    FULFILLMENT_CREATE_MUTATION, FULFILLMENT_STATE_QUERY,
};

/// An order id as Shopify's gid: `123` or `gid://shopify/Order/123`.
pub fn order_gid(id: &str) -> Option<String> {
    let id = id.trim();
    let n = id.strip_prefix("gid://shopify/Order/").unwrap_or(id);
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("gid://shopify/Order/{n}"))
}

/// A shipment already on the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Shipped {
    pub tracking: Vec<String>,
    /// Line item (numeric id) → units.
    pub lines: BTreeMap<String, u32>,
}

/// A fulfilment order line that can still ship.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenLine {
    pub id: String,
    /// The order's line item (numeric id).
    pub line: String,
    pub remaining: u32,
}

/// A fulfilment order that can still ship (open or in progress).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OpenOrder {
    pub id: String,
    pub location: Option<String>,
    pub lines: Vec<OpenLine>,
}

/// What the order looks like in Shopify now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ShopState {
    pub cancelled: bool,
    pub shipped: Vec<Shipped>,
    pub open: Vec<OpenOrder>,
    /// More fulfilment orders or lines exist than were read.
    pub truncated: bool,
}

impl From<GqlFulfillmentState> for ShopState {
    fn from(o: GqlFulfillmentState) -> Self {
        let shipped = o
            .fulfillments
            .iter()
            .filter(|f| !matches!(f.status.as_deref(), Some("CANCELLED" | "ERROR" | "FAILURE")))
            .map(|f| {
                let mut lines = BTreeMap::new();
                for l in &f.fulfillment_line_items.nodes {
                    *lines
                        .entry(gid_tail(&l.line_item.id).to_owned())
                        .or_default() += l.quantity;
                }
                Shipped {
                    tracking: f
                        .tracking_info
                        .iter()
                        .filter_map(|t| t.number.clone())
                        .collect(),
                    lines,
                }
            })
            .collect();
        let mut truncated = o.fulfillment_orders.page_info.has_next_page;
        let open = o
            .fulfillment_orders
            .nodes
            .into_iter()
            .filter(|fo| matches!(fo.status.as_str(), "OPEN" | "IN_PROGRESS"))
            .map(|fo| {
                truncated |= fo.line_items.page_info.has_next_page;
                OpenOrder {
                    location: fo.assigned_location.and_then(|a| a.location).map(|l| l.id),
                    lines: fo
                        .line_items
                        .nodes
                        .into_iter()
                        .map(|l| OpenLine {
                            id: l.id,
                            line: gid_tail(&l.line_item.id).to_owned(),
                            remaining: l.remaining_quantity.clamp(0, u32::MAX as i64) as u32,
                        })
                        .collect(),
                    id: fo.id,
                }
            })
            .collect();
        ShopState {
            cancelled: o.cancelled_at.is_some(),
            shipped,
            open,
            truncated,
        }
    }
}

/// One `fulfillmentCreate`: fulfilment orders at one location, with the
/// (fulfilment order line, units) of each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Create {
    pub location: Option<String>,
    pub orders: Vec<(String, Vec<(String, u32)>)>,
}

/// The fulfilments still to create for `f`; none when an earlier push did it.
pub(crate) fn plan(state: &ShopState, f: &Fulfillment) -> Result<Vec<Create>, String> {
    let tracking = f
        .tracking
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    let ours = |s: &&Shipped| tracking.is_some_and(|t| s.tracking.iter().any(|n| n == t));
    let mut requested: BTreeMap<String, u32> = BTreeMap::new();
    for l in f.lines.iter().filter(|l| l.quantity > 0) {
        *requested
            .entry(gid_tail(&l.external_id).to_owned())
            .or_default() += l.quantity;
    }
    let left: u32 = state
        .open
        .iter()
        .flat_map(|o| &o.lines)
        .map(|l| l.remaining)
        .sum();
    let need: BTreeMap<String, u32> = if requested.is_empty() {
        // Everything still to ship.
        if left == 0 {
            return if tracking.is_none() || state.shipped.iter().any(|s| ours(&s)) {
                Ok(Vec::new())
            } else {
                Err("nothing is left to fulfil on the order".into())
            };
        }
        let mut all = BTreeMap::new();
        for l in state.open.iter().flat_map(|o| &o.lines) {
            *all.entry(l.line.clone()).or_default() += l.remaining;
        }
        all
    } else if tracking.is_some() {
        // What shipments with this tracking number already cover is done.
        let mut covered: BTreeMap<&str, u32> = BTreeMap::new();
        for s in state.shipped.iter().filter(ours) {
            for (line, q) in &s.lines {
                *covered.entry(line).or_default() += q;
            }
        }
        requested
            .iter()
            .filter_map(|(line, q)| {
                let rest = q.saturating_sub(covered.get(line.as_str()).copied().unwrap_or(0));
                (rest > 0).then(|| (line.clone(), rest))
            })
            .collect()
    } else if state
        .shipped
        .iter()
        .any(|s| s.tracking.is_empty() && s.lines == requested)
    {
        BTreeMap::new()
    } else {
        requested
    };
    if need.values().all(|q| *q == 0) {
        return Ok(Vec::new());
    }
    if state.cancelled {
        return Err("the order is cancelled in Shopify".into());
    }
    allocate(state, &need)
}

/// Spreads units over the open fulfilment order lines, one create per location.
fn allocate(state: &ShopState, need: &BTreeMap<String, u32>) -> Result<Vec<Create>, String> {
    let mut taken: BTreeMap<&str, u32> = BTreeMap::new();
    for (line, want) in need {
        let mut rest = *want;
        for l in state.open.iter().flat_map(|o| &o.lines) {
            if rest == 0 {
                break;
            }
            if &l.line == line && l.remaining > 0 {
                let q = rest.min(l.remaining);
                *taken.entry(l.id.as_str()).or_default() += q;
                rest -= q;
            }
        }
        if rest > 0 {
            let available = want - rest;
            let more = if state.truncated {
                " (the order has more fulfilment orders or lines than chansync reads)"
            } else {
                ""
            };
            return Err(format!(
                "line {line}: {want} to fulfil but {available} left to fulfil{more}"
            ));
        }
    }
    let mut creates: Vec<Create> = Vec::new();
    for fo in &state.open {
        let lines: Vec<(String, u32)> = fo
            .lines
            .iter()
            .filter_map(|l| taken.get(l.id.as_str()).map(|q| (l.id.clone(), *q)))
            .collect();
        if lines.is_empty() {
            continue;
        }
        match creates.iter_mut().find(|c| c.location == fo.location) {
            Some(c) => c.orders.push((fo.id.clone(), lines)),
            None => creates.push(Create {
                location: fo.location.clone(),
                orders: vec![(fo.id.clone(), lines)],
            }),
        }
    }
    Ok(creates)
}

/// The `FulfillmentInput` of one create.
fn fulfillment_input(c: &Create, f: &Fulfillment, notify: bool) -> Value {
    let mut input = json!({
        "lineItemsByFulfillmentOrder": c.orders.iter().map(|(fo, lines)| json!({
            "fulfillmentOrderId": fo,
            "fulfillmentOrderLineItems": lines.iter().map(|(id, q)| json!({"id": id, "quantity": q})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "notifyCustomer": notify,
    });
    let company = f
        .carrier
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    let number = f
        .tracking
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty());
    if company.is_some() || number.is_some() {
        input["trackingInfo"] = json!({ "company": company, "number": number });
    }
    input
}

/// Sizes of the state query: (fulfilments, lines per fulfilment, open
/// fulfilment orders, lines per fulfilment order).
type Sizes = (u32, u32, u32, u32);
/// Enough for nearly every order, at about a third of the cost of `FULL`.
const SMALL: Sizes = (10, 20, 3, 20);
/// For an order that fills any part of `SMALL`; still under Shopify's
/// single-query limit of 1,000 points.
const FULL: Sizes = (20, 50, 5, 50);

async fn read_state(client: &GraphqlClient, gid: &str) -> Result<ShopState, ConnectorError> {
    let order = read_state_sized(client, gid, SMALL).await?;
    let order = if fills(&order, SMALL) {
        read_state_sized(client, gid, FULL).await?
    } else {
        order
    };
    Ok(ShopState::from(order))
}

/// Whether an answer read with `sizes` may have been cut short.
fn fills(order: &GqlFulfillmentState, sizes: Sizes) -> bool {
    let (shipped, shipped_lines, open, open_lines) = sizes;
    order.fulfillments.len() >= shipped as usize
        || order
            .fulfillments
            .iter()
            .any(|f| f.fulfillment_line_items.nodes.len() >= shipped_lines as usize)
        || order.fulfillment_orders.page_info.has_next_page
        || order.fulfillment_orders.nodes.len() >= open as usize
        || order
            .fulfillment_orders
            .nodes
            .iter()
            .any(|fo| fo.line_items.nodes.len() >= open_lines as usize)
}

async fn read_state_sized(
    client: &GraphqlClient,
    gid: &str,
    (shipped, shipped_lines, open, open_lines): Sizes,
) -> Result<GqlFulfillmentState, ConnectorError> {
    let data: FulfillmentStateData = client
        .query("fulfillment_state", || {
            json!({
                "query": FULFILLMENT_STATE_QUERY,
                "operationName": "FulfillmentState",
                "variables": {
                    "id": gid,
                    "shipped": shipped,
                    "shippedLines": shipped_lines,
                    "open": open,
                    "openLines": open_lines,
                },
            })
        })
        .await?;
    data.order
        .ok_or_else(|| ConnectorError::Permanent(format!("Shopify has no order {gid}")))
}

/// How one `fulfillmentCreate` went.
enum Created {
    Yes,
    Refused(String),
}

async fn create(
    client: &GraphqlClient,
    c: &Create,
    f: &Fulfillment,
    notify: bool,
) -> Result<Created, ConnectorError> {
    let input = fulfillment_input(c, f, notify);
    let data: FulfillmentCreateData = client
        .mutate_once("fulfillment_create", || {
            json!({
                "query": FULFILLMENT_CREATE_MUTATION,
                "operationName": "FulfillmentCreate",
                "variables": { "fulfillment": input },
            })
        })
        .await?;
    let payload = data
        .fulfillment_create
        .ok_or_else(|| ConnectorError::InvalidResponse("fulfillmentCreate answered null".into()))?;
    if payload.user_errors.is_empty() && payload.fulfillment.is_some() {
        return Ok(Created::Yes);
    }
    let messages: Vec<String> = payload
        .user_errors
        .iter()
        .map(|e| match &e.field {
            Some(field) => format!("{}: {}", field.join("."), e.message),
            None => e.message.clone(),
        })
        .collect();
    Ok(Created::Refused(if messages.is_empty() {
        "fulfillmentCreate answered without a fulfilment".into()
    } else {
        messages.join("; ")
    }))
}

/// Pushes one fulfilment, at least once and never twice.
pub(crate) async fn push(
    client: &GraphqlClient,
    notify_customer: bool,
    req: &FulfillmentRequest,
) -> Result<(), ConnectorError> {
    let gid = order_gid(&req.external_order_id).ok_or_else(|| {
        ConnectorError::Permanent(format!(
            "{:?} is not a Shopify order id",
            req.external_order_id
        ))
    })?;
    let gid = gid.as_str();
    let f = &req.fulfillment;
    client
        .checked_retries("fulfillment", move || async move {
            let state = read_state(client, gid).await?;
            let creates = plan(&state, f)
                .map_err(|e| ConnectorError::Permanent(format!("order {gid}: {e}")))?;
            if creates.is_empty() {
                tracing::info!(order = %gid, idempotency_key = %req.idempotency_key,
                    "fulfilment already in Shopify; nothing created");
            }
            for c in &creates {
                if let Created::Refused(why) = create(client, c, f, notify_customer).await? {
                    // Another fulfilment may have landed meanwhile (ours, whose
                    // answer was lost, or the merchant's): look again.
                    let now = read_state(client, gid).await?;
                    return match plan(&now, f) {
                        Ok(rest) if rest.is_empty() => Ok(()),
                        _ => Err(ConnectorError::Permanent(format!(
                            "Shopify refused the fulfilment of order {gid}: {why}"
                        ))),
                    };
                }
                tracing::info!(order = %gid, location = ?c.location, idempotency_key = %req.idempotency_key,
                    "fulfilment created in Shopify");
            }
            Ok(())
        })
        .await
}

#[cfg(test)]
mod tests {
    use chansync_sdk::model::FulfillmentLine;

    use super::*;

    fn gql_state(
        fulfillments: usize,
        open: usize,
        open_lines: usize,
        more: bool,
    ) -> GqlFulfillmentState {
        let line = |i: usize| json!({"id": format!("gid://shopify/FulfillmentOrderLineItem/{i}"), "remainingQuantity": 1, "lineItem": {"id": format!("gid://shopify/LineItem/{i}")}});
        serde_json::from_value(json!({
            "cancelledAt": null,
            "fulfillments": (0..fulfillments).map(|_| json!({"status": "SUCCESS", "trackingInfo": [], "fulfillmentLineItems": {"nodes": []}})).collect::<Vec<_>>(),
            "fulfillmentOrders": {
                "pageInfo": {"hasNextPage": more},
                "nodes": (0..open).map(|o| json!({
                    "id": format!("gid://shopify/FulfillmentOrder/{o}"),
                    "status": "OPEN",
                    "assignedLocation": null,
                    "lineItems": {"pageInfo": {"hasNextPage": false}, "nodes": (0..open_lines).map(line).collect::<Vec<_>>()},
                })).collect::<Vec<_>>(),
            },
        }))
        .unwrap()
    }

    #[test]
    fn a_small_read_that_may_be_cut_short_is_read_again_in_full() {
        assert!(!fills(&gql_state(1, 1, 4, false), SMALL), "a usual order");
        assert!(
            fills(&gql_state(10, 1, 4, false), SMALL),
            "as many shipments as asked for"
        );
        assert!(
            fills(&gql_state(0, 3, 1, false), SMALL),
            "as many fulfilment orders"
        );
        assert!(fills(&gql_state(0, 1, 20, false), SMALL), "as many lines");
        assert!(
            fills(&gql_state(0, 1, 1, true), SMALL),
            "Shopify says there are more"
        );
        assert!(
            !fills(&gql_state(10, 3, 20, false), FULL),
            "the full read holds them"
        );
    }

    fn open(id: &str, location: &str, lines: &[(&str, &str, u32)]) -> OpenOrder {
        OpenOrder {
            id: id.into(),
            location: Some(location.into()),
            lines: lines
                .iter()
                .map(|(id, line, remaining)| OpenLine {
                    id: (*id).into(),
                    line: (*line).into(),
                    remaining: *remaining,
                })
                .collect(),
        }
    }

    fn shipped(tracking: Option<&str>, lines: &[(&str, u32)]) -> Shipped {
        Shipped {
            tracking: tracking.into_iter().map(str::to_owned).collect(),
            lines: lines.iter().map(|(l, q)| ((*l).to_owned(), *q)).collect(),
        }
    }

    fn state(shipped: Vec<Shipped>, open: Vec<OpenOrder>) -> ShopState {
        ShopState {
            cancelled: false,
            shipped,
            open,
            truncated: false,
        }
    }

    fn req(tracking: Option<&str>, lines: &[(&str, u32)]) -> Fulfillment {
        Fulfillment {
            location: None,
            carrier: Some("DHL".into()),
            tracking: tracking.map(str::to_owned),
            lines: lines
                .iter()
                .map(|(l, q)| FulfillmentLine {
                    external_id: (*l).into(),
                    quantity: *q,
                })
                .collect(),
        }
    }

    fn create(location: &str, orders: &[(&str, &[(&str, u32)])]) -> Create {
        Create {
            location: Some(location.into()),
            orders: orders
                .iter()
                .map(|(fo, lines)| {
                    (
                        (*fo).to_owned(),
                        lines.iter().map(|(l, q)| ((*l).to_owned(), *q)).collect(),
                    )
                })
                .collect(),
        }
    }

    fn check(state: &ShopState, f: &Fulfillment, expect: Result<Vec<Create>, &str>) {
        let got = plan(state, f);
        match expect {
            Ok(creates) => assert_eq!(got, Ok(creates)),
            Err(part) => {
                let e = got.expect_err("refused");
                assert!(e.contains(part), "{e:?} does not say {part:?}");
            }
        }
    }

    #[test]
    fn plans() {
        let fresh = state(
            vec![],
            vec![open("fo1", "L1", &[("f1", "11", 2), ("f2", "12", 1)])],
        );
        // Everything remaining.
        check(
            &fresh,
            &req(Some("T1"), &[]),
            Ok(vec![create("L1", &[("fo1", &[("f1", 2), ("f2", 1)])])]),
        );
        // Some lines, by numeric id or gid.
        check(
            &fresh,
            &req(Some("T1"), &[("gid://shopify/LineItem/11", 1)]),
            Ok(vec![create("L1", &[("fo1", &[("f1", 1)])])]),
        );
        check(
            &fresh,
            &req(Some("T1"), &[("11", 3)]),
            Err("3 to fulfil but 2 left"),
        );
        check(&fresh, &req(None, &[("99", 1)]), Err("line 99"));

        // A retry after the first push went through: nothing to do.
        let after = state(
            vec![shipped(Some("T1"), &[("11", 1)])],
            vec![open("fo1", "L1", &[("f1", "11", 1), ("f2", "12", 1)])],
        );
        check(&after, &req(Some("T1"), &[("11", 1)]), Ok(vec![]));
        // The same tracking covering part of a request: only the rest.
        check(
            &after,
            &req(Some("T1"), &[("11", 2)]),
            Ok(vec![create("L1", &[("fo1", &[("f1", 1)])])]),
        );
        // Another tracking number is another shipment.
        check(
            &after,
            &req(Some("T2"), &[("11", 1)]),
            Ok(vec![create("L1", &[("fo1", &[("f1", 1)])])]),
        );
        // Everything shipped under our tracking number: done; under another: refused.
        let done = state(vec![shipped(Some("T1"), &[("11", 2), ("12", 1)])], vec![]);
        check(&done, &req(Some("T1"), &[]), Ok(vec![]));
        check(&done, &req(Some("T9"), &[]), Err("nothing is left"));
        check(&done, &req(None, &[]), Ok(vec![]));

        // Untracked: the same lines already shipped untracked count as ours.
        let untracked = state(
            vec![shipped(None, &[("11", 1)])],
            vec![open("fo1", "L1", &[("f1", "11", 1)])],
        );
        check(&untracked, &req(None, &[("11", 1)]), Ok(vec![]));
        check(&untracked, &req(None, &[("11", 1), ("12", 0)]), Ok(vec![]));

        // Lines spread over fulfilment orders at two locations: two creates.
        let split = state(
            vec![],
            vec![
                open("fo1", "L1", &[("f1", "11", 1)]),
                open("fo2", "L2", &[("f3", "11", 2), ("f4", "13", 1)]),
                open("fo3", "L1", &[("f5", "13", 1)]),
            ],
        );
        check(
            &split,
            &req(Some("T"), &[("11", 2), ("13", 2)]),
            Ok(vec![
                create("L1", &[("fo1", &[("f1", 1)]), ("fo3", &[("f5", 1)])]),
                create("L2", &[("fo2", &[("f3", 1), ("f4", 1)])]),
            ]),
        );

        let cancelled = ShopState {
            cancelled: true,
            ..fresh.clone()
        };
        check(&cancelled, &req(Some("T1"), &[("11", 1)]), Err("cancelled"));
    }

    #[test]
    fn order_ids() {
        assert_eq!(
            order_gid("5500000000001").as_deref(),
            Some("gid://shopify/Order/5500000000001")
        );
        assert_eq!(
            order_gid("gid://shopify/Order/7").as_deref(),
            Some("gid://shopify/Order/7")
        );
        assert_eq!(order_gid("#1001"), None);
        assert_eq!(order_gid("gid://shopify/LineItem/7"), None);
        assert_eq!(order_gid(""), None);
    }

    #[test]
    fn inputs_carry_tracking_only_when_there_is_some() {
        let c = create("L1", &[("fo1", &[("f1", 2)])]);
        let with = fulfillment_input(&c, &req(Some(" T1 "), &[]), false);
        assert_eq!(
            with["trackingInfo"],
            json!({"company": "DHL", "number": "T1"})
        );
        assert_eq!(
            with["lineItemsByFulfillmentOrder"],
            json!([{"fulfillmentOrderId": "fo1", "fulfillmentOrderLineItems": [{"id": "f1", "quantity": 2}]}])
        );
        let bare = Fulfillment {
            carrier: None,
            ..req(None, &[])
        };
        assert!(fulfillment_input(&c, &bare, true)
            .get("trackingInfo")
            .is_none());
    }
}

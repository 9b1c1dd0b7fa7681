//! What Shopify will charge a query up front, read from the query itself,
//! for the first time a query of that shape is sent (afterwards the client
//! books the cost Shopify reported). Shopify's rules, without the schema: a
//! leaf costs 0, an object (or a list of them) 1 plus its fields, a
//! connection (`nodes` or `edges` paged with `first` or `last`) 2 plus that
//! many times one node, a mutation 10 per root field. An
//! argument left to a variable missing from the request counts as the
//! largest page Shopify serves.

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use async_graphql::Value;

const MUTATION_FIELD: f64 = 10.0;
const MAX_PAGE: f64 = 250.0;
/// Fragments nest at most this deep; deeper (cyclic) spreads add nothing.
const MAX_DEPTH: usize = 32;

/// The requested cost of `operation` in `query` with `variables`; `None`
/// when the query does not parse (Shopify will say why, for free).
pub(crate) fn requested(
    query: &str,
    operation: Option<&str>,
    variables: &serde_json::Value,
) -> Option<f64> {
    let doc = async_graphql::parser::parse_query(query).ok()?;
    let op = match (&doc.operations, operation) {
        (DocumentOperations::Single(op), _) => &op.node,
        (DocumentOperations::Multiple(ops), Some(name)) => &ops.get(name)?.node,
        (DocumentOperations::Multiple(ops), None) => &ops.values().next()?.node,
    };
    let walk = Walk {
        doc: &doc,
        variables,
    };
    Some(match op.ty {
        OperationType::Mutation => MUTATION_FIELD * walk.root_fields(&op.selection_set.node) as f64,
        OperationType::Query => walk.set(&op.selection_set.node, 0),
        OperationType::Subscription => 0.0,
    })
}

struct Walk<'a> {
    doc: &'a ExecutableDocument,
    variables: &'a serde_json::Value,
}

impl Walk<'_> {
    fn root_fields(&self, set: &SelectionSet) -> usize {
        set.items
            .iter()
            .filter(|i| matches!(i.node, Selection::Field(_)))
            .count()
    }

    /// The fields of `set`, fragments expanded.
    fn set(&self, set: &SelectionSet, depth: usize) -> f64 {
        if depth > MAX_DEPTH {
            return 0.0;
        }
        set.items
            .iter()
            .map(|item| match &item.node {
                Selection::Field(f) => self.field(&f.node, depth),
                Selection::FragmentSpread(s) => self
                    .doc
                    .fragments
                    .get(&s.node.fragment_name.node)
                    .map_or(0.0, |f| self.set(&f.node.selection_set.node, depth + 1)),
                Selection::InlineFragment(i) => self.set(&i.node.selection_set.node, depth + 1),
            })
            .sum()
    }

    fn field(&self, f: &Field, depth: usize) -> f64 {
        let children = &f.selection_set.node;
        if children.items.is_empty() {
            return 0.0;
        }
        match (self.page(f), self.node(children, depth + 1)) {
            (Some(n), Some(node)) => 2.0 + n * node,
            // An object, or a list of them (which costs as one).
            _ => 1.0 + self.set(children, depth + 1),
        }
    }

    /// One node of a connection: its `nodes` or `edges { node }`.
    fn node(&self, set: &SelectionSet, depth: usize) -> Option<f64> {
        let mut best: Option<f64> = None;
        for item in &set.items {
            let Selection::Field(f) = &item.node else {
                continue;
            };
            let f = &f.node;
            let cost = match f.name.node.as_str() {
                "nodes" => 1.0 + self.set(&f.selection_set.node, depth + 1),
                "edges" => f
                    .selection_set
                    .node
                    .items
                    .iter()
                    .filter_map(|i| match &i.node {
                        Selection::Field(n) if n.node.name.node == "node" => {
                            Some(1.0 + self.set(&n.node.selection_set.node, depth + 2))
                        }
                        _ => None,
                    })
                    .fold(0.0, f64::max),
                _ => continue,
            };
            best = Some(best.map_or(cost, |b| b.max(cost)));
        }
        best
    }

    /// The page size a field asks for, if it is paged.
    fn page(&self, f: &Field) -> Option<f64> {
        let arg = f.get_argument("first").or_else(|| f.get_argument("last"))?;
        let value = arg
            .node
            .clone()
            .into_const_with(|name| {
                Value::from_json(self.variables[name.as_str()].clone()).map_err(|_| ())
            })
            .ok();
        Some(match value {
            Some(Value::Number(n)) => n.as_f64().unwrap_or(MAX_PAGE),
            _ => MAX_PAGE,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graphql::*;
    use serde_json::json;

    /// What the simulator (Shopify's rules with its schema) charges up front.
    fn charged(query: &str, op: &str, vars: &serde_json::Value) -> f64 {
        let model = crate::sim::cost_model();
        let doc = async_graphql::parser::parse_query(query).unwrap();
        model.requested(&doc, Some(op), vars.as_object().unwrap()) as f64
    }

    #[test]
    fn every_query_is_booked_at_least_at_what_the_shop_charges() {
        let cases = [
            (ORDERS_QUERY, "Orders", json!({"first": 50, "lines": 10})),
            (ORDERS_QUERY, "Orders", json!({"first": 250, "lines": 3})),
            (
                ORDER_LINES_QUERY,
                "OrderLines",
                json!({"id": "x", "lines": 100}),
            ),
            (
                ORDER_FULFILLMENTS_QUERY,
                "OrderFulfillments",
                json!({"id": "x"}),
            ),
            (LOCATIONS_QUERY, "Locations", json!({})),
            (
                INVENTORY_ITEMS_QUERY,
                "InventoryItems",
                json!({"first": 2, "query": "", "locationId": "l"}),
            ),
            (
                INVENTORY_ITEMS_QUERY,
                "InventoryItems",
                json!({"first": 200, "query": "", "locationId": "l"}),
            ),
            (SET_QUANTITIES_MUTATION, "SetQuantities", json!({})),
            (
                FULFILLMENT_STATE_QUERY,
                "FulfillmentState",
                json!({"id": "x", "shipped": 2, "shippedLines": 5, "open": 2, "openLines": 5}),
            ),
            (
                FULFILLMENT_STATE_QUERY,
                "FulfillmentState",
                json!({"id": "x", "shipped": 20, "shippedLines": 50, "open": 10, "openLines": 50}),
            ),
            (FULFILLMENT_CREATE_MUTATION, "FulfillmentCreate", json!({})),
            (ORDER_CANCELLED_QUERY, "OrderCancelled", json!({"id": "x"})),
            (ORDER_CANCEL_MUTATION, "OrderCancel", json!({})),
        ];
        for (query, op, vars) in cases {
            let booked = requested(query, Some(op), &vars).unwrap();
            let cost = charged(query, op, &vars);
            assert!(cost > 0.0, "{op} {vars}");
            assert!(
                booked >= cost,
                "{op} {vars}: booked {booked}, charged {cost}"
            );
            // Close enough not to stall a query on an empty bucket for long.
            assert!(
                booked <= cost * 3.0 + 10.0,
                "{op} {vars}: booked {booked}, charged {cost}"
            );
        }
    }

    #[test]
    fn a_missing_page_size_counts_as_the_largest_page() {
        let q = "query Q($n: Int) { orders(first: $n) { nodes { id } } }";
        assert_eq!(requested(q, None, &json!({})), Some(2.0 + 250.0));
        assert_eq!(requested(q, None, &json!({"n": 4})), Some(2.0 + 4.0));
        assert_eq!(requested("query {", None, &json!({})), None);
    }
}

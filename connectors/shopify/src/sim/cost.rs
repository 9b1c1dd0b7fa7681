//! Shopify's query cost and its leaky bucket. The cost walks the parsed query
//! against the schema's own SDL: leaves cost 0, objects 1, a connection 2 plus
//! `first` times one node (the actual cost counts the nodes really returned).
//! Each root mutation field costs a flat 10, what it selects included.

use std::collections::HashMap;

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, Field, FragmentDefinition, OperationType,
    Selection, SelectionSet, Type, TypeKind,
};
use async_graphql::parser::Positioned;
use async_graphql::{Name, Value as GqlValue};
use serde_json::{json, Value};
use tokio::time::Instant;

use crate::sim::schema::{MUTATION_ROOT, QUERY_ROOT};

/// What Shopify charges per mutation field, requested and actual.
const MUTATION_COST: u64 = 10;

/// Fragments nest at most this deep; deeper (cyclic) spreads add nothing.
const MAX_FRAGMENT_DEPTH: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Scalars and enums.
    Leaf,
    Object,
    /// An object type named `…Connection`, Shopify's convention.
    Connection,
}

#[derive(Debug, Clone)]
struct FieldType {
    type_name: String,
    kind: Kind,
}

/// The field types of every object in the schema, read from its SDL.
#[derive(Debug, Clone)]
pub(crate) struct CostModel {
    fields: HashMap<String, HashMap<String, FieldType>>,
}

fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(n) => n.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

/// One response key of a selection, with every selection set merged into it.
struct Collected<'a> {
    key: &'a str,
    field: &'a Field,
    sets: Vec<&'a SelectionSet>,
}

/// What a cost walk reads besides the query: the document's fragments and the
/// request's variables.
struct Walk<'a> {
    model: &'a CostModel,
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    variables: &'a serde_json::Map<String, Value>,
    defaults: HashMap<&'a str, &'a GqlValue>,
}

impl CostModel {
    /// Builds the model from `Schema::sdl()`.
    pub(crate) fn from_sdl(sdl: &str) -> Self {
        let doc = async_graphql::parser::parse_schema(sdl).expect("the schema's own SDL parses");
        let mut objects = HashMap::new();
        for def in &doc.definitions {
            if let async_graphql::parser::types::TypeSystemDefinition::Type(t) = def {
                let t = &t.node;
                if let TypeKind::Object(o) = &t.kind {
                    objects.insert(
                        t.name.node.to_string(),
                        o.fields.iter().map(|f| f.node.clone()).collect::<Vec<_>>(),
                    );
                }
                if let TypeKind::Interface(i) = &t.kind {
                    objects.insert(
                        t.name.node.to_string(),
                        i.fields.iter().map(|f| f.node.clone()).collect::<Vec<_>>(),
                    );
                }
            }
        }
        let kind_of = |name: &str| {
            if !objects.contains_key(name) {
                Kind::Leaf
            } else if name.ends_with("Connection") {
                Kind::Connection
            } else {
                Kind::Object
            }
        };
        let fields = objects
            .iter()
            .map(|(ty, defs)| {
                let fields = defs
                    .iter()
                    .map(|f| {
                        let type_name = named(&f.ty.node).to_owned();
                        let kind = kind_of(&type_name);
                        (f.name.node.to_string(), FieldType { type_name, kind })
                    })
                    .collect();
                (ty.clone(), fields)
            })
            .collect();
        CostModel { fields }
    }

    /// The cost Shopify would charge up front for `operation` of `doc`.
    pub(crate) fn requested(
        &self,
        doc: &ExecutableDocument,
        operation: Option<&str>,
        variables: &serde_json::Map<String, Value>,
    ) -> u64 {
        self.run(doc, operation, variables, None)
    }

    /// The cost of what was actually returned in `data`.
    pub(crate) fn actual(
        &self,
        doc: &ExecutableDocument,
        operation: Option<&str>,
        variables: &serde_json::Map<String, Value>,
        data: &Value,
    ) -> u64 {
        self.run(doc, operation, variables, Some(data))
    }

    fn run(
        &self,
        doc: &ExecutableDocument,
        operation: Option<&str>,
        variables: &serde_json::Map<String, Value>,
        data: Option<&Value>,
    ) -> u64 {
        let op = match (&doc.operations, operation) {
            (DocumentOperations::Single(op), _) => &op.node,
            (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name) {
                Some(op) => &op.node,
                None => return 0,
            },
            (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
                match ops.values().next() {
                    Some(op) => &op.node,
                    None => return 0,
                }
            }
            _ => return 0,
        };
        let root = match op.ty {
            OperationType::Query => QUERY_ROOT,
            OperationType::Mutation => MUTATION_ROOT,
            OperationType::Subscription => return 0,
        };
        let defaults = op
            .variable_definitions
            .iter()
            .filter_map(|v| Some((v.node.name.node.as_str(), v.node.default_value()?)))
            .collect();
        let walk = Walk {
            model: self,
            fragments: &doc.fragments,
            variables,
            defaults,
        };
        if op.ty == OperationType::Mutation {
            let fields = walk.collect(root, &[&op.selection_set.node]);
            return MUTATION_COST
                * fields
                    .iter()
                    .filter(|c| self.field(root, c.field.name.node.as_str()).is_some())
                    .count() as u64;
        }
        if data.is_some_and(Value::is_null) {
            return 0;
        }
        walk.selection(root, &[&op.selection_set.node], data)
    }

    fn field(&self, ty: &str, name: &str) -> Option<&FieldType> {
        self.fields.get(ty)?.get(name)
    }
}

impl<'a> Walk<'a> {
    /// Collects the fields of `sets` on `ty`, expanding fragments and merging
    /// fields with the same response key, as GraphQL execution does.
    fn collect(&self, ty: &str, sets: &[&'a SelectionSet]) -> Vec<Collected<'a>> {
        let mut out: Vec<Collected<'a>> = Vec::new();
        for set in sets {
            self.collect_into(ty, set, &mut out, 0);
        }
        out
    }

    fn collect_into(
        &self,
        ty: &str,
        set: &'a SelectionSet,
        out: &mut Vec<Collected<'a>>,
        depth: usize,
    ) {
        if depth > MAX_FRAGMENT_DEPTH {
            return;
        }
        for item in &set.items {
            match &item.node {
                Selection::Field(f) => {
                    let f = &f.node;
                    let key = f.response_key().node.as_str();
                    match out.iter_mut().find(|c| c.key == key) {
                        Some(c) => c.sets.push(&f.selection_set.node),
                        None => out.push(Collected {
                            key,
                            field: f,
                            sets: vec![&f.selection_set.node],
                        }),
                    }
                }
                Selection::FragmentSpread(s) => {
                    if let Some(frag) = self.fragments.get(&s.node.fragment_name.node) {
                        if frag.node.type_condition.node.on.node.as_str() == ty {
                            self.collect_into(ty, &frag.node.selection_set.node, out, depth + 1);
                        }
                    }
                }
                Selection::InlineFragment(i) => {
                    let applies = i
                        .node
                        .type_condition
                        .as_ref()
                        .is_none_or(|c| c.node.on.node.as_str() == ty);
                    if applies {
                        self.collect_into(ty, &i.node.selection_set.node, out, depth + 1);
                    }
                }
            }
        }
    }

    /// The cost of the fields of `sets` on an object of type `ty` (the object
    /// itself not included), against `data` when counting the actual cost.
    fn selection(&self, ty: &str, sets: &[&'a SelectionSet], data: Option<&Value>) -> u64 {
        self.collect(ty, sets)
            .iter()
            .map(|c| {
                let Some(ft) = self.model.field(ty, c.field.name.node.as_str()) else {
                    return 0;
                };
                let child = data.map(|d| d.get(c.key).unwrap_or(&Value::Null));
                match ft.kind {
                    Kind::Leaf => 0,
                    Kind::Object => self.object(&ft.type_name, &c.sets, child),
                    Kind::Connection => self.connection(&ft.type_name, c, child),
                }
            })
            .sum()
    }

    /// An object costs 1 plus its fields; a list of objects costs as one
    /// object (the most expensive element, when counting what was returned).
    fn object(&self, ty: &str, sets: &[&'a SelectionSet], data: Option<&Value>) -> u64 {
        match data {
            None => 1 + self.selection(ty, sets, None),
            Some(Value::Null) => 0,
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| self.object(ty, sets, Some(i)))
                .max()
                .unwrap_or(0),
            Some(v) => 1 + self.selection(ty, sets, Some(v)),
        }
    }

    /// A connection costs 2 plus, per node, the node's cost: `first` (or
    /// `last`) nodes up front, the returned nodes afterwards.
    fn connection(&self, ty: &str, c: &Collected<'a>, data: Option<&Value>) -> u64 {
        if data.is_some_and(Value::is_null) {
            return 0;
        }
        let mut per_node = 0;
        let mut returned = 0;
        for part in self.collect(ty, &c.sets) {
            let Some(ft) = self.model.field(ty, part.field.name.node.as_str()) else {
                continue;
            };
            let part_data = data.map(|d| d.get(part.key).unwrap_or(&Value::Null));
            match part.field.name.node.as_str() {
                "nodes" => match part_data {
                    None => per_node += self.object(&ft.type_name, &part.sets, None),
                    Some(v) => returned += self.each(&ft.type_name, &part.sets, v),
                },
                "edges" => {
                    for edge_part in self.collect(&ft.type_name, &part.sets) {
                        if edge_part.field.name.node.as_str() != "node" {
                            continue;
                        }
                        let Some(node_ty) = self.model.field(&ft.type_name, "node") else {
                            continue;
                        };
                        match part_data {
                            None => {
                                per_node += self.object(&node_ty.type_name, &edge_part.sets, None)
                            }
                            Some(edges) => {
                                let nodes: Vec<Value> = edges
                                    .as_array()
                                    .map(|es| {
                                        es.iter()
                                            .map(|e| {
                                                e.get(edge_part.key).cloned().unwrap_or_default()
                                            })
                                            .collect()
                                    })
                                    .unwrap_or_default();
                                returned += self.each(
                                    &node_ty.type_name,
                                    &edge_part.sets,
                                    &Value::Array(nodes),
                                );
                            }
                        }
                    }
                }
                // `pageInfo` and the like are part of the connection's 2.
                _ => {}
            }
        }
        match data {
            None => 2 + self.page_size(c.field) * per_node,
            Some(_) => 2 + returned,
        }
    }

    /// Σ of the cost of each element of a returned list of nodes.
    fn each(&self, ty: &str, sets: &[&'a SelectionSet], nodes: &Value) -> u64 {
        nodes
            .as_array()
            .map(|ns| ns.iter().map(|n| self.object(ty, sets, Some(n))).sum())
            .unwrap_or(0)
    }

    /// `first` or `last`, literal or from a variable (or its default).
    fn page_size(&self, field: &Field) -> u64 {
        let arg = field
            .get_argument("first")
            .or_else(|| field.get_argument("last"));
        let value = arg.and_then(|a| {
            a.node
                .clone()
                .into_const_with(|name| self.variable(&name).ok_or(()))
                .ok()
        });
        let n = match value {
            Some(GqlValue::Number(n)) => n.as_i64(),
            _ => None,
        };
        n.unwrap_or(0).max(0) as u64
    }

    fn variable(&self, name: &Name) -> Option<GqlValue> {
        match self.variables.get(name.as_str()) {
            Some(v) if !v.is_null() => GqlValue::from_json(v.clone()).ok(),
            _ => self.defaults.get(name.as_str()).map(|d| (*d).clone()),
        }
    }
}

/// Shopify's leaky bucket of query cost: `available` refills at `rate` per
/// second up to `size`. Unlimited buckets never run dry.
#[derive(Debug, Clone)]
pub(crate) struct Bucket {
    size: f64,
    rate: f64,
    available: f64,
    last: Instant,
    unlimited: bool,
}

impl Bucket {
    pub(crate) fn new(size: f64, rate: f64, unlimited: bool, now: Instant) -> Self {
        Bucket {
            size,
            rate,
            available: size,
            last: now,
            unlimited,
        }
    }

    fn refill(&mut self, now: Instant) {
        let secs = now.saturating_duration_since(self.last).as_secs_f64();
        self.available = (self.available + secs * self.rate).min(self.size);
        self.last = now;
    }

    /// Takes `cost` if that much is available; otherwise takes nothing.
    pub(crate) fn try_take(&mut self, cost: f64, now: Instant) -> bool {
        if self.unlimited {
            return true;
        }
        self.refill(now);
        if self.available < cost {
            return false;
        }
        self.available -= cost;
        true
    }

    /// Gives back what a query was charged beyond its actual cost.
    pub(crate) fn refund(&mut self, amount: f64, now: Instant) {
        if self.unlimited {
            return;
        }
        self.refill(now);
        self.available = (self.available + amount).min(self.size);
    }

    /// A new size and rate, starting full; throttling is on from now.
    pub(crate) fn reconfigure(&mut self, size: f64, rate: f64, now: Instant) {
        *self = Bucket::new(size, rate, false, now);
    }

    pub(crate) fn available(&mut self, now: Instant) -> f64 {
        if self.unlimited {
            return self.size;
        }
        self.refill(now);
        self.available
    }

    /// Shopify's `throttleStatus` (it shows what is available as a whole number).
    pub(crate) fn status(&mut self, now: Instant) -> Value {
        let available = self.available(now).floor().max(0.0) as u64;
        json!({
            "maximumAvailable": self.size,
            "currentlyAvailable": available,
            "restoreRate": self.rate,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const SDL: &str = r#"
        type QueryRoot { orders(first: Int, last: Int): OrderConnection!, order(id: ID!): Order, shop: Shop! }
        type Mutation { tagsAdd(id: ID!): TagsAddPayload, orderCancel(id: ID!): TagsAddPayload }
        type TagsAddPayload { node: Order, userErrors: [Tag!]! }
        type Shop { name: String! }
        type OrderConnection { nodes: [Order!]!, edges: [OrderEdge!]!, pageInfo: PageInfo! }
        type OrderEdge { cursor: String!, node: Order! }
        type PageInfo { hasNextPage: Boolean! }
        type Order { id: ID!, total: Money!, lines(first: Int): LineConnection!, tags: [Tag!]! }
        type LineConnection { nodes: [Line!]! }
        type Line { id: ID!, price: Money! }
        type Money { amount: String! }
        type Tag { name: String! }
    "#;

    fn requested(query: &str, vars: Value) -> u64 {
        let model = CostModel::from_sdl(SDL);
        let doc = async_graphql::parser::parse_query(query).unwrap();
        model.requested(&doc, None, vars.as_object().unwrap())
    }

    fn actual(query: &str, data: Value) -> u64 {
        let model = CostModel::from_sdl(SDL);
        let doc = async_graphql::parser::parse_query(query).unwrap();
        model.actual(&doc, None, &serde_json::Map::new(), &data)
    }

    #[test]
    fn requested_costs_follow_shopifys_rules() {
        for (query, vars, expect) in [
            ("{ shop { name } }", json!({}), 1),
            ("{ orders(first: 10) { edges { node { id } } } }", json!({}), 12),
            ("{ orders(first: 10) { nodes { id } pageInfo { hasNextPage } } }", json!({}), 12),
            ("{ orders(first: 2) { nodes { id total { amount } } } }", json!({}), 6),
            ("query($n: Int) { orders(first: $n) { nodes { id } } }", json!({"n": 5}), 7),
            ("query($n: Int = 3) { orders(first: $n) { nodes { id } } }", json!({}), 5),
            ("{ orders(last: 4) { nodes { ...F } } } fragment F on Order { total { amount } }", json!({}), 2 + 4 * 2),
            // 2 + 3 × (order 1 + connection (2 + 5 × (line 1 + money 1)) + a list of tags 1)
            ("{ orders(first: 3) { nodes { lines(first: 5) { nodes { price { amount } } } tags { name } } } }", json!({}), 2 + 3 * (1 + 12 + 1)),
            ("{ order(id: 1) { id ...on Order { total { amount } } } }", json!({}), 2),
            ("{ a: order(id: 1) { id } b: order(id: 2) { id } }", json!({}), 2),
            ("{ nosuchfield { x } }", json!({}), 0),
            ("mutation { tagsAdd(id: 1) { node { lines(first: 50) { nodes { id } } } userErrors { name } } }", json!({}), 10),
            ("mutation M { a: tagsAdd(id: 1) { node { id } } b: orderCancel(id: 2) { node { id } } }", json!({}), 20),
        ] {
            assert_eq!(requested(query, vars), expect, "{query}");
        }
    }

    #[test]
    fn actual_costs_count_what_was_returned() {
        let q = "{ orders(first: 10) { nodes { id total { amount } lines(first: 10) { nodes { price { amount } } } } } }";
        assert_eq!(requested(q, json!({})), 2 + 10 * (1 + 1 + 2 + 10 * 2));
        let line = json!({"price": {"amount": "1.0"}});
        let order = |n: usize| json!({"id": "x", "total": {"amount": "1.0"}, "lines": {"nodes": vec![line.clone(); n]}});
        let data = json!({"orders": {"nodes": [order(2), order(1)]}});
        // 2 + (1 + 1 + 2 + 2×2) + (1 + 1 + 2 + 1×2)
        assert_eq!(actual(q, data), 2 + 8 + 6);
        assert_eq!(actual(q, json!({"orders": {"nodes": []}})), 2);
        assert_eq!(actual("{ order(id: 1) { id } }", json!({"order": null})), 0);
        // A mutation costs its flat 10 whatever it returned.
        assert_eq!(
            actual(
                "mutation { tagsAdd(id: 1) { node { id } } }",
                json!({"tagsAdd": null})
            ),
            10
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_bucket_refills_at_its_rate_up_to_its_size() {
        let mut b = Bucket::new(100.0, 10.0, false, Instant::now());
        assert!(b.try_take(80.0, Instant::now()));
        assert!(!b.try_take(30.0, Instant::now()));
        assert_eq!(b.available(Instant::now()), 20.0);
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(b.available(Instant::now()), 35.0);
        b.refund(50.0, Instant::now());
        assert_eq!(b.available(Instant::now()), 85.0);
        tokio::time::advance(Duration::from_secs(60)).await;
        assert_eq!(b.available(Instant::now()), 100.0);
        assert_eq!(b.status(Instant::now())["currentlyAvailable"], 100);
        let mut free = Bucket::new(100.0, 10.0, true, Instant::now());
        assert!(free.try_take(1e9, Instant::now()));
    }
}

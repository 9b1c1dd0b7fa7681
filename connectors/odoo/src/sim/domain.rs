//! Odoo's domain language as the simulator evaluates it: prefix `&`, `|`
//! and `!` over `[field, operator, value]` terms (consecutive terms are
//! and-ed), with Odoo's semantics for empty values: `= false` is "not set",
//! and `!=`, `not in` and `not ilike` also match records where the field
//! is not set, as Odoo's SQL does.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::Value;

use crate::sim::schema::Kind;

/// A parsed domain.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Domain {
    Const(bool),
    And(Vec<Domain>),
    Or(Vec<Domain>),
    Not(Box<Domain>),
    Term(Term),
}

/// One `[field, operator, value]` term.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Term {
    pub field: String,
    pub op: Op,
    pub value: Value,
}

/// The operators the simulator knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
    In,
    NotIn,
    Like,
    NotLike,
    ILike,
    NotILike,
    EqLike,
    EqILike,
    ChildOf,
}

impl Op {
    fn parse(s: &str) -> Option<Op> {
        Some(match s.to_ascii_lowercase().as_str() {
            "=" | "==" => Op::Eq,
            "!=" | "<>" => Op::Ne,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "<" => Op::Lt,
            "<=" => Op::Le,
            "in" => Op::In,
            "not in" => Op::NotIn,
            "like" => Op::Like,
            "not like" => Op::NotLike,
            "ilike" => Op::ILike,
            "not ilike" => Op::NotILike,
            "=like" => Op::EqLike,
            "=ilike" => Op::EqILike,
            "child_of" => Op::ChildOf,
            _ => return None,
        })
    }
}

/// What evaluating a domain needs from one record.
pub(crate) trait Subject {
    /// The model the record belongs to.
    fn model(&self) -> &str;
    /// The kind of a field; `None` for a field the model lacks.
    fn kind(&self, field: &str) -> Option<Kind>;
    /// The field's value: ids for relations (a list for one2many), `Null`
    /// when not set.
    fn value(&self, field: &str) -> Value;
    /// `ids` and every record under them in `model`'s hierarchy.
    fn subtree(&self, model: &str, ids: &[i64]) -> BTreeSet<i64>;
}

/// Parses a domain (`null` is the empty domain, which matches everything).
pub(crate) fn parse(v: &Value) -> Result<Domain, String> {
    let items: &[Value] = match v {
        Value::Null => &[],
        Value::Array(a) => a,
        other => return Err(format!("Invalid domain: {other}")),
    };
    let mut at = 0;
    let mut parts = Vec::new();
    while at < items.len() {
        parts.push(parse_one(items, &mut at)?);
    }
    Ok(match parts.len() {
        0 => Domain::Const(true),
        1 => parts.pop().expect("one part"),
        _ => Domain::And(parts),
    })
}

fn parse_one(items: &[Value], at: &mut usize) -> Result<Domain, String> {
    let Some(item) = items.get(*at) else {
        return Err("Invalid domain: an operator is missing an operand".into());
    };
    *at += 1;
    match item {
        Value::String(s) if s == "&" || s == "|" => {
            let a = parse_one(items, at)?;
            let b = parse_one(items, at)?;
            Ok(if s == "&" {
                Domain::And(vec![a, b])
            } else {
                Domain::Or(vec![a, b])
            })
        }
        Value::String(s) if s == "!" => Ok(Domain::Not(Box::new(parse_one(items, at)?))),
        Value::Array(t) if t.len() == 3 => term(t),
        other => Err(format!("Invalid domain term {other}")),
    }
}

fn term(t: &[Value]) -> Result<Domain, String> {
    // Odoo's TRUE_LEAF and FALSE_LEAF.
    if let (Some(a), Some("="), Some(b)) = (t[0].as_i64(), t[1].as_str(), t[2].as_i64()) {
        return Ok(Domain::Const(a == b));
    }
    let field = t[0]
        .as_str()
        .ok_or_else(|| format!("Invalid domain term {}", Value::Array(t.to_vec())))?;
    let op = t[1]
        .as_str()
        .and_then(Op::parse)
        .ok_or_else(|| format!("Invalid operator {} in domain term", t[1]))?;
    Ok(Domain::Term(Term {
        field: field.to_owned(),
        op,
        value: t[2].clone(),
    }))
}

impl Domain {
    /// Every term, for checking fields before searching.
    pub(crate) fn terms(&self) -> Vec<&Term> {
        let mut out = Vec::new();
        self.collect(&mut out);
        out
    }

    fn collect<'a>(&'a self, out: &mut Vec<&'a Term>) {
        match self {
            Domain::Const(_) => {}
            Domain::And(ds) | Domain::Or(ds) => ds.iter().for_each(|d| d.collect(out)),
            Domain::Not(d) => d.collect(out),
            Domain::Term(t) => out.push(t),
        }
    }

    /// Whether the record matches.
    pub(crate) fn matches(&self, s: &dyn Subject) -> bool {
        match self {
            Domain::Const(b) => *b,
            Domain::And(ds) => ds.iter().all(|d| d.matches(s)),
            Domain::Or(ds) => ds.iter().any(|d| d.matches(s)),
            Domain::Not(d) => !d.matches(s),
            Domain::Term(t) => t.matches(s),
        }
    }
}

impl Term {
    fn matches(&self, s: &dyn Subject) -> bool {
        let kind = s.kind(&self.field).unwrap_or(Kind::Char);
        let v = s.value(&self.field);
        let operand = &self.value;
        match self.op {
            Op::Eq => equals(kind, &v, operand),
            Op::Ne => !equals(kind, &v, operand),
            Op::Gt => compare(&v, operand) == Some(Ordering::Greater),
            Op::Ge => matches!(
                compare(&v, operand),
                Some(Ordering::Greater | Ordering::Equal)
            ),
            Op::Lt => compare(&v, operand) == Some(Ordering::Less),
            Op::Le => matches!(compare(&v, operand), Some(Ordering::Less | Ordering::Equal)),
            Op::In => list(operand).iter().any(|x| equals(kind, &v, x)),
            Op::NotIn => !list(operand).iter().any(|x| equals(kind, &v, x)),
            Op::Like => like(&v, &contains_pattern(operand), false),
            Op::NotLike => !like(&v, &contains_pattern(operand), false),
            Op::ILike => like(&v, &contains_pattern(operand), true),
            Op::NotILike => !like(&v, &contains_pattern(operand), true),
            Op::EqLike => like(&v, &text_of(operand), false),
            Op::EqILike => like(&v, &text_of(operand), true),
            Op::ChildOf => {
                let ids: Vec<i64> = list(operand).iter().filter_map(Value::as_i64).collect();
                match kind {
                    Kind::Id => v
                        .as_i64()
                        .is_some_and(|id| s.subtree(s.model(), &ids).contains(&id)),
                    Kind::Many2one(co) => v
                        .as_i64()
                        .is_some_and(|id| s.subtree(co, &ids).contains(&id)),
                    _ => false,
                }
            }
        }
    }
}

fn is_empty_operand(v: &Value) -> bool {
    matches!(v, Value::Null | Value::Bool(false))
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null | Value::Bool(false) => false,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        _ => true,
    }
}

fn equals(kind: Kind, v: &Value, operand: &Value) -> bool {
    match kind {
        Kind::Bool => truthy(v) == truthy(operand),
        Kind::One2many(..) => {
            let ids = v.as_array().map(Vec::as_slice).unwrap_or(&[]);
            if is_empty_operand(operand) {
                ids.is_empty()
            } else {
                ids.iter().any(|i| same(i, operand))
            }
        }
        _ if is_empty_operand(operand) => v.is_null(),
        _ => same(v, operand),
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

/// Orders two values of one kind: numbers by value, text (and Odoo's
/// datetime strings) by character; anything else does not compare.
fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64()?.partial_cmp(&y.as_f64()?),
        (Value::String(x), Value::String(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

fn list(v: &Value) -> Vec<Value> {
    match v {
        Value::Array(a) => a.clone(),
        other => vec![other.clone()],
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `like` and `ilike` look for the value anywhere, as `%value%`.
fn contains_pattern(v: &Value) -> String {
    format!("%{}%", text_of(v))
}

/// One element of a `LIKE` pattern.
#[derive(Clone, Copy, PartialEq)]
enum Tok {
    /// `%`: any run of characters.
    Any,
    /// `_`: any one character.
    One,
    Lit(char),
}

/// SQL `LIKE`: `%` is any run of characters, `_` any one character, and a
/// backslash makes the next character literal (PostgreSQL's default escape).
fn like(v: &Value, pattern: &str, insensitive: bool) -> bool {
    let Value::String(text) = v else {
        return false;
    };
    let fold = |s: &str| -> String {
        if insensitive {
            s.to_lowercase()
        } else {
            s.to_owned()
        }
    };
    let t: Vec<char> = fold(text).chars().collect();
    let mut p = Vec::new();
    let mut chars = fold(pattern).chars().collect::<Vec<_>>().into_iter();
    while let Some(c) = chars.next() {
        p.push(match c {
            '%' => Tok::Any,
            '_' => Tok::One,
            '\\' => Tok::Lit(chars.next().unwrap_or('\\')),
            c => Tok::Lit(c),
        });
    }
    // matched[j]: the text so far matches the first j pattern elements.
    let mut matched = vec![false; p.len() + 1];
    matched[0] = true;
    for j in 1..=p.len() {
        matched[j] = matched[j - 1] && p[j - 1] == Tok::Any;
    }
    for ch in &t {
        let mut next = vec![false; p.len() + 1];
        for j in 1..=p.len() {
            next[j] = match p[j - 1] {
                Tok::Any => next[j - 1] || matched[j],
                Tok::One => matched[j - 1],
                Tok::Lit(c) => matched[j - 1] && c == *ch,
            };
        }
        matched = next;
    }
    matched[p.len()]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    /// A location-like record: a parent chain 1 ← 2 ← 3, 4 apart.
    struct Rec {
        id: i64,
        fields: BTreeMap<&'static str, (Kind, Value)>,
    }

    impl Subject for Rec {
        fn model(&self) -> &str {
            "stock.location"
        }
        fn kind(&self, field: &str) -> Option<Kind> {
            if field == "id" {
                return Some(Kind::Id);
            }
            self.fields.get(field).map(|(k, _)| *k)
        }
        fn value(&self, field: &str) -> Value {
            if field == "id" {
                return json!(self.id);
            }
            self.fields
                .get(field)
                .map(|(_, v)| v.clone())
                .unwrap_or(Value::Null)
        }
        fn subtree(&self, _model: &str, ids: &[i64]) -> BTreeSet<i64> {
            let parent = |i: i64| match i {
                2 => Some(1),
                3 => Some(2),
                _ => None,
            };
            (1..=4)
                .filter(|i| {
                    let mut at = Some(*i);
                    while let Some(x) = at {
                        if ids.contains(&x) {
                            return true;
                        }
                        at = parent(x);
                    }
                    false
                })
                .collect()
        }
    }

    fn rec() -> Rec {
        Rec {
            id: 3,
            fields: BTreeMap::from([
                ("name", (Kind::Char, json!("Shelf 1"))),
                ("code", (Kind::Char, Value::Null)),
                (
                    "usage",
                    (Kind::Selection(&["internal", "view"]), json!("internal")),
                ),
                ("quantity", (Kind::Float, json!(12.5))),
                ("active", (Kind::Bool, json!(true))),
                ("archived", (Kind::Bool, Value::Null)),
                ("location_id", (Kind::Many2one("stock.location"), json!(2))),
                ("partner_id", (Kind::Many2one("res.partner"), Value::Null)),
                ("write_date", (Kind::Datetime, json!("2026-03-01 10:00:00"))),
                (
                    "move_ids",
                    (Kind::One2many("stock.move", "x"), json!([7, 8])),
                ),
                (
                    "child_ids",
                    (Kind::One2many("stock.location", "x"), json!([])),
                ),
            ]),
        }
    }

    fn check(domain: Value, expect: bool) {
        let d = parse(&domain).unwrap_or_else(|e| panic!("{domain}: {e}"));
        assert_eq!(d.matches(&rec()), expect, "{domain}");
    }

    #[test]
    fn comparisons() {
        for (domain, expect) in [
            (json!([]), true),
            (json!([["name", "=", "Shelf 1"]]), true),
            (json!([["name", "=", "shelf 1"]]), false),
            (json!([["name", "!=", "Shelf 2"]]), true),
            (json!([["quantity", ">", 12]]), true),
            (json!([["quantity", ">=", 12.5]]), true),
            (json!([["quantity", "<", 12.5]]), false),
            (json!([["quantity", "<=", 12.5]]), true),
            (json!([["quantity", "=", 12.5]]), true),
            (json!([["id", ">", 2]]), true),
            (json!([["write_date", ">", "2026-03-01 09:59:59"]]), true),
            (json!([["write_date", "<=", "2026-03-01 10:00:00"]]), true),
            (json!([["write_date", ">", "2026-03-01 10:00:00"]]), false),
            (json!([["code", ">", "A"]]), false),
            (json!([["code", "<", "A"]]), false),
        ] {
            check(domain, expect);
        }
    }

    #[test]
    fn empty_values_follow_odoos_sql() {
        for (domain, expect) in [
            (json!([["code", "=", false]]), true),
            (json!([["code", "!=", false]]), false),
            (json!([["name", "!=", false]]), true),
            // Unset fields match the negative operators.
            (json!([["code", "!=", "X"]]), true),
            (json!([["code", "not in", ["X"]]]), true),
            (json!([["code", "not ilike", "x"]]), true),
            (json!([["code", "ilike", "x"]]), false),
            (json!([["code", "in", [false, "X"]]]), true),
            (json!([["partner_id", "=", false]]), true),
            (json!([["location_id", "=", false]]), false),
            (json!([["archived", "=", false]]), true),
            (json!([["active", "=", true]]), true),
            (json!([["active", "!=", true]]), false),
            (json!([["child_ids", "=", false]]), true),
            (json!([["move_ids", "=", false]]), false),
            (json!([["move_ids", "!=", false]]), true),
        ] {
            check(domain, expect);
        }
    }

    #[test]
    fn membership_and_patterns() {
        for (domain, expect) in [
            (json!([["usage", "in", ["internal", "view"]]]), true),
            (json!([["usage", "in", []]]), false),
            (json!([["usage", "not in", ["internal"]]]), false),
            (json!([["location_id", "in", [1, 2]]]), true),
            (json!([["id", "not in", [1, 2]]]), true),
            (json!([["move_ids", "in", [8, 9]]]), true),
            (json!([["move_ids", "in", [9]]]), false),
            (json!([["move_ids", "=", 7]]), true),
            (json!([["name", "like", "elf"]]), true),
            (json!([["name", "like", "ELF"]]), false),
            (json!([["name", "ilike", "ELF"]]), true),
            (json!([["name", "not ilike", "ELF"]]), false),
            (json!([["name", "not like", "ELF"]]), true),
            (json!([["name", "=like", "Shelf _"]]), true),
            (json!([["name", "=like", "Shelf"]]), false),
            (json!([["name", "=ilike", "shelf 1"]]), true),
            (json!([["name", "=ilike", "s%1"]]), true),
            (json!([["name", "=ilike", "s%2"]]), false),
            // A backslash makes a wildcard literal.
            (json!([["name", "=like", "Shelf\\_1"]]), false),
            (json!([["name", "=like", "Shelf _"]]), true),
            (json!([["name", "like", "f 1"]]), true),
        ] {
            check(domain, expect);
        }
    }

    #[test]
    fn hierarchies() {
        for (domain, expect) in [
            (json!([["id", "child_of", 1]]), true),
            (json!([["id", "child_of", [3]]]), true),
            (json!([["id", "child_of", [4]]]), false),
            (json!([["location_id", "child_of", 1]]), true),
            (json!([["location_id", "child_of", [3, 4]]]), false),
            (json!([["partner_id", "child_of", 1]]), false),
        ] {
            check(domain, expect);
        }
    }

    #[test]
    fn prefix_operators_and_implicit_and() {
        for (domain, expect) in [
            (
                json!(["|", ["name", "=", "x"], ["usage", "=", "internal"]]),
                true,
            ),
            (
                json!(["&", ["name", "=", "x"], ["usage", "=", "internal"]]),
                false,
            ),
            (json!(["!", ["name", "=", "x"]]), true),
            (
                json!([["usage", "=", "internal"], ["name", "=", "x"]]),
                false,
            ),
            // The shipment cursor's shape: A and B and (C or (D and E)).
            (
                json!([
                    ["usage", "=", "internal"],
                    ["active", "=", true],
                    "|",
                    ["write_date", ">", "2026-03-01 10:00:00"],
                    "&",
                    ["write_date", "=", "2026-03-01 10:00:00"],
                    ["id", ">", 2]
                ]),
                true,
            ),
            (
                json!([
                    "|",
                    ["write_date", ">", "2026-03-01 10:00:00"],
                    "&",
                    ["write_date", "=", "2026-03-01 10:00:00"],
                    ["id", ">", 3]
                ]),
                false,
            ),
            (
                json!(["|", "!", ["name", "=", "Shelf 1"], ["id", "=", 3]]),
                true,
            ),
            (json!([[1, "=", 1]]), true),
            (json!([[0, "=", 1]]), false),
        ] {
            check(domain, expect);
        }
    }

    #[test]
    fn malformed_domains_are_refused() {
        for domain in [
            json!("name = x"),
            json!(["|", ["name", "=", "x"]]),
            json!([["name", "~", "x"]]),
            json!([["name", "="]]),
            json!(["&"]),
            json!([[3, "=", "x"]]),
        ] {
            assert!(parse(&domain).is_err(), "{domain}");
        }
    }

    #[test]
    fn terms_are_listed_for_checking() {
        let d = parse(&json!(["|", ["a", "=", 1], "!", ["b", "=", 2]])).unwrap();
        let names: Vec<&str> = d.terms().iter().map(|t| t.field.as_str()).collect();
        assert_eq!(names, ["a", "b"]);
    }
}

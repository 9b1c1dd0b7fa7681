//! Shopify's list semantics without I/O: the `query:` search syntax (the terms
//! the connector sends, for orders and inventory items), sort keys, opaque
//! cursors and Relay-style slicing.
//! Cursors hold the last (sort value, id), so paging stays stable as orders change.

use base64::Engine;
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::sim::model::SimOrder;

/// The most nodes one connection page may ask for.
pub(crate) const MAX_PAGE: i32 = 250;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Lt,
    Le,
    Eq,
    Ge,
    Gt,
}

impl Op {
    fn holds<T: Ord>(self, left: T, right: T) -> bool {
        match self {
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Eq => left == right,
            Op::Ge => left >= right,
            Op::Gt => left > right,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(clippy::enum_variant_names)] // Shopify's field names
pub(crate) enum TimeField {
    CreatedAt,
    UpdatedAt,
    ProcessedAt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Any,
    Open,
    Closed,
    Cancelled,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Term {
    Time(TimeField, Op, DateTime<Utc>),
    Status(Status),
}

/// A parsed `query:` argument: all terms must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct OrderFilter {
    pub terms: Vec<Term>,
}

/// Splits on white space outside quotes; quotes stay in the token.
fn tokens(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    for ch in q.chars() {
        match quote {
            Some(open) if ch == open => {
                quote = None;
                cur.push(ch);
            }
            Some(_) => cur.push(ch),
            None if ch == '\'' || ch == '"' => {
                quote = Some(ch);
                cur.push(ch);
            }
            None if ch.is_whitespace() => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
            }
            None => cur.push(ch),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn unquote(v: &str) -> &str {
    for q in ['\'', '"'] {
        if let Some(inner) = v.strip_prefix(q).and_then(|s| s.strip_suffix(q)) {
            return inner;
        }
    }
    v
}

/// An RFC 3339 instant, a zone-less date-time (UTC) or a date (midnight UTC).
fn parse_time(v: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.with_timezone(&Utc));
    }
    if let Ok(t) = NaiveDateTime::parse_from_str(v, "%Y-%m-%dT%H:%M:%S") {
        return Some(t.and_utc());
    }
    NaiveDate::parse_from_str(v, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn parse_term(token: &str) -> Option<Term> {
    let (field, rest) = token.split_once(':')?;
    let (op, value) = [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)]
        .into_iter()
        .find_map(|(p, op)| rest.strip_prefix(p).map(|v| (op, v)))
        .unwrap_or((Op::Eq, rest));
    let value = unquote(value);
    let time = |f| parse_time(value).map(|t| Term::Time(f, op, t));
    match field.to_ascii_lowercase().as_str() {
        "updated_at" => time(TimeField::UpdatedAt),
        "created_at" => time(TimeField::CreatedAt),
        "processed_at" => time(TimeField::ProcessedAt),
        "status" => match value.to_ascii_lowercase().as_str() {
            "any" => Some(Term::Status(Status::Any)),
            "open" => Some(Term::Status(Status::Open)),
            "closed" => Some(Term::Status(Status::Closed)),
            "cancelled" => Some(Term::Status(Status::Cancelled)),
            _ => None,
        },
        _ => None,
    }
}

/// Parses Shopify's search syntax as far as orders need it. Terms joined by
/// spaces or `AND` must all hold; what is not understood (unknown fields,
/// free text, `OR`, negations, unreadable dates) is ignored, as Shopify does.
pub(crate) fn parse_search(q: &str) -> OrderFilter {
    let terms = tokens(q)
        .iter()
        .filter(|t| !matches!(t.as_str(), "AND" | "OR" | "NOT") && !t.starts_with('-'))
        .filter_map(|t| parse_term(t))
        .collect();
    OrderFilter { terms }
}

impl OrderFilter {
    pub(crate) fn matches(&self, o: &SimOrder) -> bool {
        self.terms.iter().all(|t| match *t {
            Term::Time(field, op, at) => {
                let value = match field {
                    TimeField::CreatedAt => o.created_at,
                    TimeField::UpdatedAt => o.updated_at,
                    TimeField::ProcessedAt => o.processed_at,
                };
                op.holds(value, at)
            }
            Term::Status(Status::Any) => true,
            Term::Status(Status::Open) => o.closed_at.is_none() && !o.is_cancelled(),
            Term::Status(Status::Closed) => o.closed_at.is_some(),
            Term::Status(Status::Cancelled) => o.is_cancelled(),
        })
    }
}

/// A parsed `inventoryItems(query:)`: alternatives joined by `OR`, each a
/// set of `sku:` terms that must all equal the item's SKU. Other terms are
/// ignored; an empty query matches every item.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct SkuFilter {
    pub any_of: Vec<Vec<String>>,
}

/// Splits on white space outside double or single quotes, unquoting values
/// and honouring backslash escapes inside quotes (`sku:"a\"b"` is `a"b`).
fn unquoted_tokens(q: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    let mut chars = q.chars();
    while let Some(ch) = chars.next() {
        match quote {
            Some(open) if ch == open => quote = None,
            Some(_) if ch == '\\' => {
                if let Some(next) = chars.next() {
                    cur.push(next);
                }
            }
            Some(_) => cur.push(ch),
            None if ch == '"' || ch == '\'' => {
                quote = Some(ch);
                started = true;
            }
            None if ch.is_whitespace() => {
                if started || !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                started = false;
            }
            None => cur.push(ch),
        }
    }
    if started || !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses the search syntax `inventoryItems` needs (`sku:` terms and `OR`).
pub(crate) fn parse_sku_search(q: &str) -> SkuFilter {
    let mut any_of = vec![Vec::new()];
    for token in unquoted_tokens(q) {
        if token == "OR" {
            any_of.push(Vec::new());
            continue;
        }
        if let Some((field, value)) = token.split_once(':') {
            if field.eq_ignore_ascii_case("sku") {
                any_of
                    .last_mut()
                    .expect("there is always a group")
                    .push(value.to_owned());
            }
        }
    }
    if any_of.iter().all(Vec::is_empty) {
        return SkuFilter::default();
    }
    SkuFilter { any_of }
}

impl SkuFilter {
    pub(crate) fn matches(&self, sku: &str) -> bool {
        self.any_of.is_empty()
            || self
                .any_of
                .iter()
                .any(|all| all.iter().all(|want| want.eq_ignore_ascii_case(sku)))
    }
}

/// What a list is ordered by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SortBy {
    Id,
    CreatedAt,
    UpdatedAt,
    ProcessedAt,
}

impl SortBy {
    /// The (sort value, id) pair an order is ordered by.
    pub(crate) fn key(self, o: &SimOrder) -> Key {
        let value = match self {
            SortBy::Id => o.id as i64,
            SortBy::CreatedAt => o.created_at.timestamp(),
            SortBy::UpdatedAt => o.updated_at.timestamp(),
            SortBy::ProcessedAt => o.processed_at.timestamp(),
        };
        Key { value, id: o.id }
    }

    fn is_time(self) -> bool {
        !matches!(self, SortBy::Id)
    }
}

/// A position in a sorted list: ties on the value are broken by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Key {
    pub value: i64,
    pub id: u64,
}

/// The JSON inside a cursor, shaped like Shopify's own.
#[derive(Serialize, Deserialize)]
struct CursorJson {
    last_id: u64,
    last_value: serde_json::Value,
}

const CURSOR_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.3f";

pub(crate) fn encode_cursor(sort: SortBy, key: Key) -> String {
    let last_value = if sort.is_time() {
        let t = DateTime::from_timestamp(key.value, 0).unwrap_or_default();
        serde_json::Value::String(t.format(CURSOR_TIME_FORMAT).to_string())
    } else {
        serde_json::Value::from(key.value)
    };
    let json = serde_json::to_vec(&CursorJson {
        last_id: key.id,
        last_value,
    })
    .expect("cursor serializes");
    base64::engine::general_purpose::STANDARD.encode(json)
}

/// Reads a cursor made for the same sort; anything else is `None`.
pub(crate) fn decode_cursor(sort: SortBy, cursor: &str) -> Option<Key> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(cursor.trim())
        .ok()?;
    let json: CursorJson = serde_json::from_slice(&raw).ok()?;
    let value = match (&json.last_value, sort.is_time()) {
        (serde_json::Value::String(s), true) => {
            NaiveDateTime::parse_from_str(s, CURSOR_TIME_FORMAT)
                .ok()?
                .and_utc()
                .timestamp()
        }
        (serde_json::Value::Number(n), false) => n.as_i64()?,
        _ => return None,
    };
    Some(Key {
        value,
        id: json.last_id,
    })
}

/// Relay paging arguments as a connection field receives them.
#[derive(Debug, Clone, Default)]
pub(crate) struct PageArgs {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
    pub reverse: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Page<T> {
    /// The items with their cursors' keys.
    pub items: Vec<(Key, T)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

/// Slices `items` (any order) as Shopify does: sorted by key ascending, or
/// descending with `reverse`; then `after`/`before`, then `first`/`last`.
pub(crate) fn paginate<T>(
    mut items: Vec<(Key, T)>,
    sort: SortBy,
    args: &PageArgs,
) -> Result<Page<T>, String> {
    if args.first.is_none() && args.last.is_none() {
        return Err("you must provide one of first or last".to_owned());
    }
    for (name, n) in [("first", args.first), ("last", args.last)] {
        match n {
            Some(n) if n < 0 => return Err(format!("{name} must be a non-negative integer")),
            Some(n) if n > MAX_PAGE => {
                return Err(format!(
                    "The maximum number of records that can be requested ({name}) is {MAX_PAGE}"
                ))
            }
            _ => {}
        }
    }
    let cursor = |c: &Option<String>| -> Result<Option<Key>, String> {
        match c {
            None => Ok(None),
            Some(s) => decode_cursor(sort, s)
                .map(Some)
                .ok_or_else(|| "Invalid cursor for current pagination sort.".to_owned()),
        }
    };
    let after = cursor(&args.after)?;
    let before = cursor(&args.before)?;
    items.sort_by_key(|item| item.0);
    if args.reverse {
        items.reverse();
    }
    // `comes_before(a, b)`: a precedes b in the requested order.
    let comes_before = |a: Key, b: Key| if args.reverse { a > b } else { a < b };
    let mut start = after.map_or(0, |c| items.partition_point(|(k, _)| !comes_before(c, *k)));
    let mut end = before.map_or(items.len(), |c| {
        items.partition_point(|(k, _)| comes_before(*k, c))
    });
    end = end.max(start);
    if let Some(first) = args.first {
        end = end.min(start + first as usize);
    }
    if let Some(last) = args.last {
        start = start.max(end.saturating_sub(last as usize));
    }
    let has_next_page = end < items.len();
    let has_previous_page = start > 0;
    let items = items.into_iter().skip(start).take(end - start).collect();
    Ok(Page {
        items,
        has_next_page,
        has_previous_page,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn check(query: &str, expect: &[Term]) {
        assert_eq!(parse_search(query).terms, expect, "{query}");
    }

    #[test]
    fn search_terms() {
        use Op::*;
        use TimeField::*;
        let jan = t("2026-01-01T00:00:00Z");
        check(
            "updated_at:>='2026-01-01T00:00:00Z'",
            &[Term::Time(UpdatedAt, Ge, jan)],
        );
        check(
            "updated_at:>=2026-01-01T00:00:00Z",
            &[Term::Time(UpdatedAt, Ge, jan)],
        );
        check(
            "updated_at:>\"2026-01-01T01:00:00+01:00\"",
            &[Term::Time(UpdatedAt, Gt, jan)],
        );
        check("created_at:<2026-01-01", &[Term::Time(CreatedAt, Lt, jan)]);
        check(
            "created_at:<='2026-01-01T00:00:00'",
            &[Term::Time(CreatedAt, Le, jan)],
        );
        check(
            "status:any AND updated_at:>='2026-01-01T00:00:00Z'  created_at:2026-01-01",
            &[
                Term::Status(Status::Any),
                Term::Time(UpdatedAt, Ge, jan),
                Term::Time(CreatedAt, Eq, jan),
            ],
        );
        check(
            "financial_status:paid tag:'a b' free text -status:open updated_at:>=soon",
            &[],
        );
        check("", &[]);
    }

    #[test]
    fn sku_searches() {
        let f = parse_sku_search(r#"sku:"SKU-MUG-1" OR sku:SKU-TEE-2 OR sku:'a b' OR sku:"q\"x""#);
        assert_eq!(
            f.any_of,
            vec![
                vec!["SKU-MUG-1".to_owned()],
                vec!["SKU-TEE-2".to_owned()],
                vec!["a b".to_owned()],
                vec!["q\"x".to_owned()],
            ]
        );
        assert!(f.matches("SKU-MUG-1") && f.matches("sku-tee-2") && f.matches("q\"x"));
        assert!(!f.matches("SKU-MUG-2"));
        // Terms joined without OR must all hold.
        let both = parse_sku_search("sku:A sku:B");
        assert!(!both.matches("A") && !both.matches("B"));
        assert!(parse_sku_search("").matches("anything"));
        assert!(parse_sku_search("title:mug").matches("anything"));
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_sort() {
        let key = Key {
            value: 1_790_000_000,
            id: 5_500_000_000_042,
        };
        let c = encode_cursor(SortBy::UpdatedAt, key);
        assert_eq!(decode_cursor(SortBy::UpdatedAt, &c), Some(key));
        assert_eq!(decode_cursor(SortBy::Id, &c), None);
        let id_key = Key {
            value: 5_500_000_000_042,
            id: 5_500_000_000_042,
        };
        assert_eq!(
            decode_cursor(SortBy::Id, &encode_cursor(SortBy::Id, id_key)),
            Some(id_key)
        );
        assert_eq!(decode_cursor(SortBy::Id, "not a cursor"), None);
    }

    fn keys(n: u64) -> Vec<(Key, u64)> {
        // Values tie in pairs so the id has to break them.
        (0..n)
            .rev()
            .map(|i| {
                (
                    Key {
                        value: (i / 2) as i64,
                        id: i,
                    },
                    i,
                )
            })
            .collect()
    }

    fn ids<T: Copy>(p: &Page<T>) -> Vec<T> {
        p.items.iter().map(|(_, v)| *v).collect()
    }

    #[test]
    fn paging_forward_backward_and_reversed() {
        let args = |first, after: Option<Key>, last, before: Option<Key>, reverse| PageArgs {
            first,
            after: after.map(|k| encode_cursor(SortBy::CreatedAt, k)),
            last,
            before: before.map(|k| encode_cursor(SortBy::CreatedAt, k)),
            reverse,
        };
        let p = paginate(
            keys(7),
            SortBy::CreatedAt,
            &args(Some(3), None, None, None, false),
        )
        .unwrap();
        assert_eq!(
            (ids(&p), p.has_next_page, p.has_previous_page),
            (vec![0, 1, 2], true, false)
        );
        let after = p.items.last().unwrap().0;
        let p = paginate(
            keys(7),
            SortBy::CreatedAt,
            &args(Some(3), Some(after), None, None, false),
        )
        .unwrap();
        assert_eq!(
            (ids(&p), p.has_next_page, p.has_previous_page),
            (vec![3, 4, 5], true, true)
        );
        let after = p.items.last().unwrap().0;
        let p = paginate(
            keys(7),
            SortBy::CreatedAt,
            &args(Some(3), Some(after), None, None, false),
        )
        .unwrap();
        assert_eq!((ids(&p), p.has_next_page), (vec![6], false));
        let p = paginate(
            keys(7),
            SortBy::CreatedAt,
            &args(Some(2), None, None, None, true),
        )
        .unwrap();
        assert_eq!(ids(&p), vec![6, 5]);
        let after = p.items.last().unwrap().0;
        let p = paginate(
            keys(7),
            SortBy::CreatedAt,
            &args(Some(2), Some(after), None, None, true),
        )
        .unwrap();
        assert_eq!(ids(&p), vec![4, 3]);
        let before = Key { value: 2, id: 5 };
        let p = paginate(
            keys(7),
            SortBy::CreatedAt,
            &args(None, None, Some(2), Some(before), false),
        )
        .unwrap();
        assert_eq!((ids(&p), p.has_previous_page), (vec![3, 4], true));
        assert!(paginate(
            keys(7),
            SortBy::CreatedAt,
            &args(None, None, None, None, false)
        )
        .is_err());
        assert!(paginate(
            keys(7),
            SortBy::CreatedAt,
            &args(Some(251), None, None, None, false)
        )
        .is_err());
        let bad = PageArgs {
            first: Some(1),
            after: Some("eyJ4IjoxfQ==".into()),
            ..PageArgs::default()
        };
        assert!(paginate(keys(7), SortBy::CreatedAt, &bad).is_err());
    }
}

//! Odoo's JSON value conventions, read and written here and nowhere else:
//! many2one fields come as `[id, "display name"]` or `false`, empty values
//! as `false`, datetimes as UTC `YYYY-MM-DD HH:MM:SS`, and quantities and
//! prices as JSON floats, which become `Decimal` on the way in and are made
//! from `Decimal` on the way out.

use std::str::FromStr;

use chrono::{DateTime, TimeZone, Utc};
use rust_decimal::prelude::ToPrimitive;
use rust_decimal::Decimal;
use serde_json::Value;

/// One record as `read` / `search_read` return it.
pub(crate) type Rec = serde_json::Map<String, Value>;

/// The format of Odoo's `Datetime` fields on the wire (always UTC).
pub(crate) const DATETIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A many2one value: `[id, "name"]`, a bare id (`load=None`), or `false`.
pub(crate) fn many2one(v: Option<&Value>) -> Option<(i64, String)> {
    match v? {
        Value::Array(a) => {
            let id = a.first()?.as_i64()?;
            let name = a.get(1).and_then(Value::as_str).unwrap_or("").to_owned();
            Some((id, name))
        }
        Value::Number(n) => n.as_i64().map(|id| (id, String::new())),
        _ => None,
    }
}

/// The id of a many2one value.
pub(crate) fn many2one_id(v: Option<&Value>) -> Option<i64> {
    many2one(v).map(|(id, _)| id)
}

/// A text value; Odoo's `false` and empty strings are `None`.
pub(crate) fn text(v: Option<&Value>) -> Option<String> {
    v?.as_str()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// The `id` of a record.
pub(crate) fn id(r: &Rec) -> Option<i64> {
    r.get("id").and_then(Value::as_i64)
}

/// The ids of an x2many value.
pub(crate) fn ids(v: Option<&Value>) -> Vec<i64> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

/// A float field as the exact decimal Odoo wrote (`12.5`, not
/// `12.4999…`); `false` and missing values are `None`.
pub(crate) fn decimal(v: Option<&Value>) -> Option<Decimal> {
    match v? {
        Value::Number(n) => {
            let s = n.to_string();
            Decimal::from_str(&s)
                .or_else(|_| Decimal::from_scientific(&s))
                .ok()
        }
        _ => None,
    }
}

/// A decimal as the JSON float Odoo's float fields take. This is the one
/// place money leaves `Decimal`: Odoo stores `price_unit` and `discount` as
/// floats and rounds them to its own decimal accuracy, so a float is what
/// its API accepts. The nearest `f64` keeps every amount with up to 15
/// significant digits exact after Odoo's rounding.
pub(crate) fn float(d: Decimal) -> Value {
    d.to_f64()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A time as Odoo's UTC datetime string.
pub(crate) fn datetime<Tz: TimeZone>(t: &DateTime<Tz>) -> String {
    t.with_timezone(&Utc).format(DATETIME_FORMAT).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn many2one_reads_every_shape() {
        let check = |v: Value, expect: Option<(i64, &str)>| {
            assert_eq!(
                many2one(Some(&v)),
                expect.map(|(i, n)| (i, n.to_owned())),
                "{v}"
            )
        };
        check(json!([7, "WH/Stock"]), Some((7, "WH/Stock")));
        check(json!(7), Some((7, "")));
        check(json!(false), None);
        check(json!(null), None);
        check(json!([]), None);
        assert_eq!(many2one(None), None);
    }

    #[test]
    fn text_treats_false_and_blank_as_none() {
        assert_eq!(text(Some(&json!("DHL-1"))), Some("DHL-1".to_owned()));
        assert_eq!(text(Some(&json!(false))), None);
        assert_eq!(text(Some(&json!("  "))), None);
        assert_eq!(text(None), None);
    }

    #[test]
    fn floats_become_the_decimal_written() {
        let check = |v: Value, expect: Option<&str>| {
            assert_eq!(
                decimal(Some(&v)),
                expect.map(|s| Decimal::from_str(s).unwrap()),
                "{v}"
            )
        };
        check(json!(12.5), Some("12.5"));
        check(json!(0.1), Some("0.1"));
        check(json!(3), Some("3"));
        check(json!(-2.0), Some("-2"));
        check(json!(1e-7), Some("0.0000001"));
        check(json!(false), None);
    }

    #[test]
    fn decimals_go_out_as_the_nearest_float() {
        assert_eq!(float(Decimal::from_str("18.00").unwrap()), json!(18.0));
        assert_eq!(float(Decimal::from_str("19.99").unwrap()), json!(19.99));
        assert_eq!(float(Decimal::from_str("0.1").unwrap()), json!(0.1));
    }

    #[test]
    fn datetimes_are_utc_without_zone() {
        let t = DateTime::parse_from_rfc3339("2026-03-01T10:15:30+02:00").unwrap();
        assert_eq!(datetime(&t), "2026-03-01 08:15:30");
    }
}

//! The seller's listings in the simulated Amazon: one per catalogue SKU with
//! its merchant-fulfilled quantity (`fulfillment_availability`, channel
//! `DEFAULT`), and how JSON Patch operations — from `patchListingsItem` or a
//! JSON_LISTINGS_FEED message — apply to one, with the issues Amazon reports
//! when they cannot.

use chrono::{DateTime, Utc};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{json, Value};

use crate::sim::catalog::{self, PRODUCTS};
use crate::sim::model::iso;
use crate::wire::Issue;

/// The attribute that holds the quantity.
const QUANTITY_ATTRIBUTE: &str = "fulfillment_availability";

/// The simulator's issue code for a SKU the seller has no listing for (the
/// spec names none).
pub const UNKNOWN_SKU_CODE: &str = "SIM_SKU_NOT_FOUND";

/// One listing.
#[derive(Debug, Clone)]
pub(crate) struct Listing {
    pub sku: String,
    pub asin: String,
    pub title: String,
    pub product_type: String,
    /// The merchant-fulfilled quantity.
    pub quantity: i64,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

/// The catalogue's listings with seeded quantities.
pub(crate) fn seeded(seed: u64, now: DateTime<Utc>) -> Vec<Listing> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed.wrapping_add(0x0115_7195));
    PRODUCTS
        .iter()
        .map(|p| Listing {
            sku: p.sku.to_owned(),
            asin: catalog::asin(p.sku),
            title: p.title.to_owned(),
            product_type: p.product_type.to_owned(),
            quantity: rng.gen_range(0..=50),
            created: now,
            updated: now,
        })
        .collect()
}

/// The issue of a SKU without a listing.
pub(crate) fn unknown_sku(sku: &str) -> Issue {
    Issue {
        code: UNKNOWN_SKU_CODE.into(),
        message: format!("The seller has no listing with SKU '{sku}'."),
        severity: "ERROR".into(),
        attribute_names: Vec::new(),
        categories: Vec::new(),
    }
}

/// An issue with a message's shape (the spec names no code for it).
pub(crate) fn issue_text(message: &str) -> Issue {
    Issue {
        code: "SIM_INVALID_MESSAGE".into(),
        message: message.to_owned(),
        severity: "ERROR".into(),
        attribute_names: Vec::new(),
        categories: Vec::new(),
    }
}

/// The spec's issue for attribute data that is not valid.
fn invalid(attribute: &str, why: &str) -> Issue {
    Issue {
        code: "90000900".into(),
        message: format!("The attributes are invalid. {why}"),
        severity: "ERROR".into(),
        attribute_names: vec![attribute.to_owned()],
        categories: vec!["INVALID_ATTRIBUTE".into()],
    }
}

/// The `DEFAULT` quantity in a `fulfillment_availability` value.
fn merchant_quantity(value: Option<&Value>) -> Result<i64, Issue> {
    let entries = value
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(QUANTITY_ATTRIBUTE, "A list of availabilities is required."))?;
    let entry = entries
        .iter()
        .find(|e| e["fulfillment_channel_code"] == "DEFAULT")
        .ok_or_else(|| {
            invalid(
                QUANTITY_ATTRIBUTE,
                "No availability with fulfillment_channel_code DEFAULT.",
            )
        })?;
    match entry["quantity"].as_i64() {
        Some(q) if q >= 0 => Ok(q),
        _ => Err(invalid(
            QUANTITY_ATTRIBUTE,
            "quantity must be a whole number of at least 0.",
        )),
    }
}

/// What the patches do to the listing's quantity, or why they are invalid.
/// Nothing changes unless every patch is valid.
pub(crate) fn apply_patches(
    listing: &mut Listing,
    patches: &[Value],
    now: DateTime<Utc>,
) -> Result<(), Vec<Issue>> {
    if patches.is_empty() {
        return Err(vec![invalid("patches", "At least one patch is required.")]);
    }
    let mut issues = Vec::new();
    let mut quantity = None;
    for patch in patches {
        let op = patch["op"].as_str().unwrap_or("");
        let path = patch["path"].as_str().unwrap_or("");
        let Some(attribute) = path
            .strip_prefix("/attributes/")
            .filter(|a| !a.is_empty() && !a.contains('/'))
        else {
            issues.push(invalid(
                path,
                "Only top-level attributes can be patched (/attributes/<name>).",
            ));
            continue;
        };
        if !matches!(op, "add" | "replace" | "merge" | "delete") {
            issues.push(invalid(
                attribute,
                "op must be add, replace, merge or delete.",
            ));
            continue;
        }
        if attribute != QUANTITY_ATTRIBUTE {
            // Other attributes are taken as Amazon would; the simulator keeps none.
            continue;
        }
        if op == "delete" {
            quantity = Some(0);
            continue;
        }
        match merchant_quantity(patch.get("value")) {
            Ok(q) => quantity = Some(q),
            Err(issue) => issues.push(issue),
        }
    }
    if !issues.is_empty() {
        return Err(issues);
    }
    if let Some(q) = quantity {
        listing.quantity = q;
        listing.updated = now;
    }
    Ok(())
}

/// `PARTIAL_UPDATE`/`UPDATE` attributes as `replace` patches.
pub(crate) fn attributes_as_patches(attributes: &Value) -> Vec<Value> {
    attributes
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(name, value)| json!({"op": "replace", "path": format!("/attributes/{name}"), "value": value}))
                .collect()
        })
        .unwrap_or_default()
}

impl Listing {
    /// `getListingsItem`'s answer with the requested data sets.
    pub(crate) fn to_json(&self, marketplace_ids: &[String], included: &[&str]) -> Value {
        let mut item = json!({ "sku": self.sku });
        if included.contains(&"summaries") {
            item["summaries"] = marketplace_ids
                .iter()
                .map(|m| {
                    json!({
                        "marketplaceId": m,
                        "asin": self.asin,
                        "productType": self.product_type,
                        "conditionType": "new_new",
                        "status": if self.quantity > 0 { json!(["BUYABLE"]) } else { json!([]) },
                        "itemName": self.title,
                        "createdDate": iso(self.created),
                        "lastUpdatedDate": iso(self.updated),
                    })
                })
                .collect();
        }
        if included.contains(&"attributes") {
            item["attributes"] = json!({
                QUANTITY_ATTRIBUTE: [{"fulfillment_channel_code": "DEFAULT", "quantity": self.quantity}]
            });
        }
        if included.contains(&"fulfillmentAvailability") {
            item["fulfillmentAvailability"] =
                json!([{"fulfillmentChannelCode": "DEFAULT", "quantity": self.quantity}]);
        }
        if included.contains(&"issues") {
            item["issues"] = json!([]);
        }
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing() -> Listing {
        seeded(1, Utc::now()).remove(0)
    }

    fn qty_patch(op: &str, value: Value) -> Value {
        json!({"op": op, "path": "/attributes/fulfillment_availability", "value": value})
    }

    #[test]
    fn a_quantity_patch_sets_the_default_channel() {
        let mut l = listing();
        let p = qty_patch(
            "replace",
            json!([{"fulfillment_channel_code": "DEFAULT", "quantity": 7}]),
        );
        apply_patches(&mut l, &[p], Utc::now()).unwrap();
        assert_eq!(l.quantity, 7);
        apply_patches(
            &mut l,
            &[json!({"op": "delete", "path": "/attributes/fulfillment_availability"})],
            Utc::now(),
        )
        .unwrap();
        assert_eq!(l.quantity, 0);
    }

    #[test]
    fn invalid_patches_change_nothing_and_say_why() {
        let mut l = listing();
        let before = l.quantity;
        for bad in [
            qty_patch(
                "replace",
                json!([{"fulfillment_channel_code": "DEFAULT", "quantity": -1}]),
            ),
            qty_patch(
                "replace",
                json!([{"fulfillment_channel_code": "AMAZON_EU", "quantity": 3}]),
            ),
            qty_patch("copy", json!([])),
            json!({"op": "replace", "path": "/attributes/a/b", "value": []}),
        ] {
            let issues = apply_patches(&mut l, std::slice::from_ref(&bad), Utc::now()).unwrap_err();
            assert_eq!(issues[0].severity, "ERROR", "{bad}");
        }
        assert_eq!(l.quantity, before);
    }
}

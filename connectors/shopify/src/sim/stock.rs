//! The simulated shop's inventory: its locations, one inventory item per SKU
//! and the available quantity at each location that stocks it, changed by
//! `inventorySetQuantities` with Shopify's validation, compare-and-swap and
//! idempotency keys. Orders do not commit stock here, so `on_hand` equals
//! `available`; only pushes and the handle's adjustments move it.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};

use crate::sim::catalog::{initial_available, INVENTORY_ITEM_ID_BASE, LOCATIONS, PRODUCTS};

/// The largest total Shopify accepts, either way.
const QUANTITY_LIMIT: i64 = 1_000_000_000;

/// The reasons `inventorySetQuantities` accepts.
const REASONS: &[&str] = &[
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_canceled",
    "movement_created",
    "movement_received",
    "movement_updated",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
];

/// The quantity names an inventory level reports.
pub(crate) const QUANTITY_NAMES: &[&str] = &[
    "available",
    "committed",
    "damaged",
    "incoming",
    "on_hand",
    "quality_control",
    "reserved",
    "safety_stock",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SimLocation {
    pub id: u64,
    pub name: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SimItem {
    pub id: u64,
    pub sku: String,
    pub title: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Level {
    pub available: i64,
    pub updated_at: DateTime<Utc>,
}

impl Level {
    /// A named quantity; without commitments `on_hand` is `available`.
    pub(crate) fn quantity(&self, name: &str) -> i64 {
        match name {
            "available" | "on_hand" => self.available,
            _ => 0,
        }
    }
}

/// `changeFromQuantity` as sent: left out, explicitly null (no check), or a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeFrom {
    Omitted,
    Null,
    Value(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetQuantity {
    pub inventory_item_id: String,
    pub location_id: String,
    pub quantity: i64,
    pub change_from: ChangeFrom,
}

/// An `InventorySetQuantitiesInput`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetRequest {
    pub name: String,
    pub reason: String,
    pub reference_document_uri: Option<String>,
    pub quantities: Vec<SetQuantity>,
}

/// Shopify's `InventorySetQuantitiesUserErrorCode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, async_graphql::Enum)]
#[graphql(name = "InventorySetQuantitiesUserErrorCode")]
pub(crate) enum SetErrorCode {
    ChangeFromQuantityStale,
    CompareQuantityRequired,
    CompareQuantityStale,
    IdempotencyConcurrentRequest,
    IdempotencyKeyParameterMismatch,
    InvalidInventoryItem,
    InvalidLocation,
    InvalidName,
    InvalidQuantityNegative,
    InvalidQuantityTooHigh,
    InvalidQuantityTooLow,
    InvalidReason,
    InvalidReferenceDocument,
    ItemNotStockedAtLocation,
    NoDuplicateInventoryItemIdGroupIdPair,
    NonMutableInventoryItem,
}

/// An `InventorySetQuantitiesUserError`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SetError {
    pub code: SetErrorCode,
    pub field: Option<Vec<String>>,
    pub message: String,
}

/// One quantity an adjustment changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    pub item: SimItem,
    pub location: SimLocation,
    pub name: String,
    pub delta: i64,
    pub after: i64,
}

/// An `InventoryAdjustmentGroup`: what one successful request changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Adjustment {
    pub id: u64,
    pub created_at: DateTime<Utc>,
    pub reason: String,
    pub reference_document_uri: Option<String>,
    pub changes: Vec<Change>,
}

/// How `set` treats a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SetRules {
    /// API 2026-04 and later: every quantity must say `changeFromQuantity`.
    pub change_from_required: bool,
}

pub(crate) struct Inventory {
    /// The first is the primary location.
    locations: Vec<SimLocation>,
    items: BTreeMap<u64, SimItem>,
    levels: BTreeMap<(u64, u64), Level>,
    next_item: u64,
    next_group: u64,
    /// Successful requests by idempotency key, with the request each answered.
    done: HashMap<String, (SetRequest, Adjustment)>,
}

const ADJUSTMENT_GROUP_ID_BASE: u64 = 61_000_000_000;

pub(crate) fn location_gid(id: u64) -> String {
    format!("gid://shopify/Location/{id}")
}

pub(crate) fn item_gid(id: u64) -> String {
    format!("gid://shopify/InventoryItem/{id}")
}

fn parse_gid(gid: &str, kind: &str) -> Option<u64> {
    crate::sim::schema::parse_gid(gid, kind)
}

/// An absolute URI: a scheme, a colon, something after it, no white space.
fn is_uri(s: &str) -> bool {
    let Some((scheme, rest)) = s.split_once(':') else {
        return false;
    };
    let mut chars = scheme.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
        && !rest.is_empty()
        && !s.chars().any(char::is_whitespace)
}

fn path(parts: &[&str]) -> Option<Vec<String>> {
    Some(parts.iter().map(|p| (*p).to_owned()).collect())
}

impl Inventory {
    /// The catalogue's items at the catalogue's locations, seeded levels.
    pub(crate) fn seeded(seed: u64, now: DateTime<Utc>) -> Self {
        let locations = LOCATIONS
            .iter()
            .map(|l| SimLocation {
                id: l.id,
                name: l.name.to_owned(),
                active: true,
            })
            .collect::<Vec<_>>();
        let mut items = BTreeMap::new();
        let mut levels = BTreeMap::new();
        for (i, p) in PRODUCTS.iter().enumerate() {
            let id = INVENTORY_ITEM_ID_BASE + i as u64;
            let title = match p.variant {
                Some(v) => format!("{} - {v}", p.title),
                None => p.title.to_owned(),
            };
            items.insert(
                id,
                SimItem {
                    id,
                    sku: p.sku.to_owned(),
                    title,
                },
            );
            for (li, loc) in locations.iter().enumerate() {
                if let Some(available) = initial_available(seed, i, li) {
                    levels.insert(
                        (id, loc.id),
                        Level {
                            available,
                            updated_at: now,
                        },
                    );
                }
            }
        }
        Inventory {
            locations,
            items,
            levels,
            next_item: INVENTORY_ITEM_ID_BASE + PRODUCTS.len() as u64,
            next_group: ADJUSTMENT_GROUP_ID_BASE,
            done: HashMap::new(),
        }
    }

    pub(crate) fn locations(&self) -> &[SimLocation] {
        &self.locations
    }

    pub(crate) fn primary(&self) -> &SimLocation {
        &self.locations[0]
    }

    pub(crate) fn location(&self, id: u64) -> Option<&SimLocation> {
        self.locations.iter().find(|l| l.id == id)
    }

    pub(crate) fn items(&self) -> impl Iterator<Item = &SimItem> {
        self.items.values()
    }

    pub(crate) fn item(&self, id: u64) -> Option<&SimItem> {
        self.items.get(&id)
    }

    pub(crate) fn item_by_sku(&self, sku: &str) -> Option<&SimItem> {
        self.items.values().find(|i| i.sku == sku)
    }

    pub(crate) fn level(&self, item: u64, location: u64) -> Option<Level> {
        self.levels.get(&(item, location)).copied()
    }

    /// A new item stocked (at zero) at the primary location; `None` if an
    /// item already has this SKU.
    pub(crate) fn add_item(&mut self, sku: &str, title: &str, now: DateTime<Utc>) -> Option<u64> {
        if sku.trim().is_empty() || self.item_by_sku(sku).is_some() {
            return None;
        }
        let id = self.next_item;
        self.next_item += 1;
        self.items.insert(
            id,
            SimItem {
                id,
                sku: sku.to_owned(),
                title: title.to_owned(),
            },
        );
        let primary = self.primary().id;
        self.levels.insert(
            (id, primary),
            Level {
                available: 0,
                updated_at: now,
            },
        );
        Some(id)
    }

    /// Changes a SKU's available quantity at the primary location by `delta`
    /// (a sale or a count in the shop itself); the new quantity, or `None`
    /// for an unknown SKU.
    pub(crate) fn adjust(&mut self, sku: &str, delta: i64, now: DateTime<Utc>) -> Option<i64> {
        let item = self.item_by_sku(sku)?.id;
        let primary = self.primary().id;
        let level = self.levels.get_mut(&(item, primary))?;
        level.available += delta;
        level.updated_at = now;
        Some(level.available)
    }

    /// `inventorySetQuantities`: all quantities are applied, or none and the
    /// errors say why. A repeated idempotency key with the same request gets
    /// the first answer again without applying anything.
    pub(crate) fn set(
        &mut self,
        req: &SetRequest,
        key: Option<&str>,
        rules: SetRules,
        now: DateTime<Utc>,
    ) -> Result<Adjustment, Vec<SetError>> {
        if let Some((earlier, answer)) = key.and_then(|k| self.done.get(k)) {
            return if earlier == req {
                Ok(answer.clone())
            } else {
                Err(vec![SetError {
                    code: SetErrorCode::IdempotencyKeyParameterMismatch,
                    field: None,
                    message: "The same idempotency key cannot be used with different operation parameters."
                        .to_owned(),
                }])
            };
        }
        let targets = self.validate(req, rules)?;
        let changes = targets
            .into_iter()
            .zip(&req.quantities)
            .map(|((item, location), q)| {
                let level = self
                    .levels
                    .get_mut(&(item.id, location.id))
                    .expect("validated levels exist");
                let delta = q.quantity - level.available;
                level.available = q.quantity;
                level.updated_at = now;
                Change {
                    item,
                    location,
                    name: req.name.clone(),
                    delta,
                    after: q.quantity,
                }
            })
            .collect();
        let adjustment = Adjustment {
            id: self.next_group,
            created_at: now,
            reason: req.reason.clone(),
            reference_document_uri: req.reference_document_uri.clone(),
            changes,
        };
        self.next_group += 1;
        if let Some(k) = key {
            self.done
                .insert(k.to_owned(), (req.clone(), adjustment.clone()));
        }
        Ok(adjustment)
    }

    /// Every error of a request, or the (item, location) each quantity sets.
    fn validate(
        &self,
        req: &SetRequest,
        rules: SetRules,
    ) -> Result<Vec<(SimItem, SimLocation)>, Vec<SetError>> {
        let mut errors = Vec::new();
        let mut error = |code, field, message: &str| {
            errors.push(SetError {
                code,
                field,
                message: message.to_owned(),
            })
        };
        if !matches!(req.name.as_str(), "available" | "on_hand") {
            error(
                SetErrorCode::InvalidName,
                path(&["input", "name"]),
                "The quantity name must be either 'available' or 'on_hand'.",
            );
        }
        if !REASONS.contains(&req.reason.as_str()) {
            error(
                SetErrorCode::InvalidReason,
                path(&["input", "reason"]),
                "The specified reason is invalid.",
            );
        }
        if req
            .reference_document_uri
            .as_deref()
            .is_some_and(|u| !is_uri(u))
        {
            error(
                SetErrorCode::InvalidReferenceDocument,
                path(&["input", "referenceDocumentUri"]),
                "The specified reference document is invalid.",
            );
        }
        let mut seen = HashSet::new();
        let mut targets = Vec::with_capacity(req.quantities.len());
        for (i, q) in req.quantities.iter().enumerate() {
            let i = i.to_string();
            let at = |f: &str| path(&["input", "quantities", &i, f]);
            let Some(item) =
                parse_gid(&q.inventory_item_id, "InventoryItem").and_then(|id| self.item(id))
            else {
                error(
                    SetErrorCode::InvalidInventoryItem,
                    at("inventoryItemId"),
                    "The specified inventory item could not be found.",
                );
                continue;
            };
            let Some(location) = parse_gid(&q.location_id, "Location")
                .and_then(|id| self.location(id))
                .filter(|l| l.active)
            else {
                error(
                    SetErrorCode::InvalidLocation,
                    at("locationId"),
                    "The specified location could not be found.",
                );
                continue;
            };
            if !seen.insert((item.id, location.id)) {
                error(
                    SetErrorCode::NoDuplicateInventoryItemIdGroupIdPair,
                    at("inventoryItemId"),
                    "The combination of inventoryItemId and locationId must be unique.",
                );
                continue;
            }
            let Some(level) = self.level(item.id, location.id) else {
                error(
                    SetErrorCode::ItemNotStockedAtLocation,
                    at("locationId"),
                    "The specified inventory item is not stocked at the location.",
                );
                continue;
            };
            if q.quantity > QUANTITY_LIMIT {
                error(
                    SetErrorCode::InvalidQuantityTooHigh,
                    at("quantity"),
                    "The total quantity can't be higher than 1,000,000,000.",
                );
            } else if q.quantity < -QUANTITY_LIMIT {
                error(
                    SetErrorCode::InvalidQuantityTooLow,
                    at("quantity"),
                    "The total quantity can't be lower than -1,000,000,000.",
                );
            } else if req.name == "on_hand" && q.quantity < 0 {
                error(
                    SetErrorCode::InvalidQuantityNegative,
                    at("quantity"),
                    "The quantity can't be negative.",
                );
            }
            match q.change_from {
                ChangeFrom::Omitted if rules.change_from_required => error(
                    SetErrorCode::CompareQuantityRequired,
                    at("changeFromQuantity"),
                    "The changeFromQuantity argument must be given to each quantity; pass null to skip the check.",
                ),
                ChangeFrom::Value(v) if v != level.quantity(&req.name) => error(
                    SetErrorCode::ChangeFromQuantityStale,
                    at("changeFromQuantity"),
                    "The changeFromQuantity value does not match persisted value.",
                ),
                _ => {}
            }
            targets.push((item.clone(), location.clone()));
        }
        if errors.is_empty() {
            Ok(targets)
        } else {
            Err(errors)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t0() -> DateTime<Utc> {
        DateTime::from_timestamp(1_790_000_000, 0).unwrap()
    }

    const STRICT: SetRules = SetRules {
        change_from_required: true,
    };

    fn inv() -> Inventory {
        Inventory::seeded(1, t0())
    }

    fn q(item: u64, location: u64, quantity: i64, change_from: ChangeFrom) -> SetQuantity {
        SetQuantity {
            inventory_item_id: item_gid(item),
            location_id: location_gid(location),
            quantity,
            change_from,
        }
    }

    fn req(quantities: Vec<SetQuantity>) -> SetRequest {
        SetRequest {
            name: "available".into(),
            reason: "correction".into(),
            reference_document_uri: Some("gid://chansync/StockPush/k1".into()),
            quantities,
        }
    }

    fn codes(r: Result<Adjustment, Vec<SetError>>) -> Vec<(SetErrorCode, Vec<String>)> {
        r.unwrap_err()
            .into_iter()
            .map(|e| (e.code, e.field.unwrap_or_default()))
            .collect()
    }

    fn mug(inv: &Inventory) -> (u64, u64, i64) {
        let item = inv.item_by_sku("SKU-MUG-1").unwrap().id;
        let loc = inv.primary().id;
        (item, loc, inv.level(item, loc).unwrap().available)
    }

    #[test]
    fn a_matching_change_from_sets_the_level_and_reports_the_delta() {
        let mut inv = inv();
        let (item, loc, before) = mug(&inv);
        let adj = inv
            .set(
                &req(vec![q(item, loc, 7, ChangeFrom::Value(before))]),
                Some("key-1"),
                STRICT,
                t0(),
            )
            .unwrap();
        assert_eq!(inv.level(item, loc).unwrap().available, 7);
        assert_eq!(adj.changes[0].delta, 7 - before);
        assert_eq!(adj.changes[0].after, 7);
    }

    #[test]
    fn a_stale_change_from_applies_nothing_in_the_request() {
        let mut inv = inv();
        let (item, loc, before) = mug(&inv);
        let other = inv.item_by_sku("SKU-TEE-1").unwrap().id;
        let other_before = inv.level(other, loc).unwrap().available;
        let r = inv.set(
            &req(vec![
                q(other, loc, 3, ChangeFrom::Value(other_before)),
                q(item, loc, 5, ChangeFrom::Value(before + 1)),
            ]),
            Some("key-2"),
            STRICT,
            t0(),
        );
        assert_eq!(
            codes(r),
            vec![(
                SetErrorCode::ChangeFromQuantityStale,
                path(&["input", "quantities", "1", "changeFromQuantity"]).unwrap()
            )]
        );
        assert_eq!(inv.level(item, loc).unwrap().available, before);
        assert_eq!(inv.level(other, loc).unwrap().available, other_before);
        // Null opts out of the check.
        inv.set(
            &req(vec![q(item, loc, 5, ChangeFrom::Null)]),
            Some("key-3"),
            STRICT,
            t0(),
        )
        .unwrap();
        assert_eq!(inv.level(item, loc).unwrap().available, 5);
    }

    #[test]
    fn unknown_items_locations_and_unstocked_pairs_are_user_errors() {
        let mut inv = inv();
        let (item, loc, _) = mug(&inv);
        // Odd catalogue indexes are not stocked at the pop-up store.
        let popup = inv.locations()[1].id;
        let unstocked = inv.item_by_sku("SKU-MUG-2").unwrap().id;
        let r = inv.set(
            &req(vec![
                q(1, loc, 1, ChangeFrom::Null),
                q(item, 999, 1, ChangeFrom::Null),
                q(unstocked, popup, 1, ChangeFrom::Null),
                q(item, loc, 1, ChangeFrom::Null),
                q(item, loc, 2, ChangeFrom::Null),
                SetQuantity {
                    inventory_item_id: "gid://shopify/Product/1".into(),
                    ..q(item, loc, 1, ChangeFrom::Null)
                },
            ]),
            None,
            STRICT,
            t0(),
        );
        let got: Vec<SetErrorCode> = codes(r).into_iter().map(|(c, _)| c).collect();
        assert_eq!(
            got,
            vec![
                SetErrorCode::InvalidInventoryItem,
                SetErrorCode::InvalidLocation,
                SetErrorCode::ItemNotStockedAtLocation,
                SetErrorCode::NoDuplicateInventoryItemIdGroupIdPair,
                SetErrorCode::InvalidInventoryItem,
            ]
        );
    }

    #[test]
    fn name_reason_uri_and_quantity_range_are_checked() {
        let mut inv = inv();
        let (item, loc, _) = mug(&inv);
        let bad = SetRequest {
            name: "sold".into(),
            reason: "because".into(),
            reference_document_uri: Some("not a uri".into()),
            quantities: vec![q(item, loc, QUANTITY_LIMIT + 1, ChangeFrom::Null)],
        };
        let got: Vec<SetErrorCode> = codes(inv.set(&bad, None, STRICT, t0()))
            .into_iter()
            .map(|(c, _)| c)
            .collect();
        assert_eq!(
            got,
            vec![
                SetErrorCode::InvalidName,
                SetErrorCode::InvalidReason,
                SetErrorCode::InvalidReferenceDocument,
                SetErrorCode::InvalidQuantityTooHigh,
            ]
        );
        let on_hand = SetRequest {
            name: "on_hand".into(),
            ..req(vec![q(item, loc, -1, ChangeFrom::Null)])
        };
        assert_eq!(
            codes(inv.set(&on_hand, None, STRICT, t0()))[0].0,
            SetErrorCode::InvalidQuantityNegative
        );
        // Negative available is how Shopify shows oversold stock.
        assert!(inv
            .set(
                &req(vec![q(item, loc, -2, ChangeFrom::Null)]),
                None,
                STRICT,
                t0()
            )
            .is_ok());
    }

    #[test]
    fn change_from_is_required_from_2026_04_on() {
        let mut inv = inv();
        let (item, loc, _) = mug(&inv);
        let r = req(vec![q(item, loc, 4, ChangeFrom::Omitted)]);
        assert_eq!(
            codes(inv.set(&r, None, STRICT, t0()))[0].0,
            SetErrorCode::CompareQuantityRequired
        );
        let lax = SetRules {
            change_from_required: false,
        };
        assert!(inv.set(&r, None, lax, t0()).is_ok());
    }

    #[test]
    fn an_idempotency_key_replays_its_answer_and_refuses_other_parameters() {
        let mut inv = inv();
        let (item, loc, before) = mug(&inv);
        let first = req(vec![q(item, loc, 9, ChangeFrom::Value(before))]);
        let a = inv.set(&first, Some("k"), STRICT, t0()).unwrap();
        // The same request again (as after a lost answer): same group, nothing
        // applied, even though its changeFromQuantity is now stale.
        inv.adjust("SKU-MUG-1", -1, t0()).unwrap();
        let b = inv.set(&first, Some("k"), STRICT, t0()).unwrap();
        assert_eq!(a, b);
        assert_eq!(inv.level(item, loc).unwrap().available, 8);
        let other = req(vec![q(item, loc, 10, ChangeFrom::Value(8))]);
        assert_eq!(
            codes(inv.set(&other, Some("k"), STRICT, t0()))[0].0,
            SetErrorCode::IdempotencyKeyParameterMismatch
        );
    }

    #[test]
    fn added_items_are_stocked_at_the_primary_location_only() {
        let mut inv = inv();
        let id = inv.add_item("SKU-NEW-1", "New thing", t0()).unwrap();
        assert_eq!(inv.level(id, inv.primary().id).unwrap().available, 0);
        assert!(inv.level(id, inv.locations()[1].id).is_none());
        assert!(inv.add_item("SKU-NEW-1", "Again", t0()).is_none());
        assert!(inv.add_item("SKU-MUG-1", "Clash", t0()).is_none());
        assert_eq!(inv.adjust("SKU-NEW-1", 4, t0()), Some(4));
        assert_eq!(inv.adjust("SKU-NONE", 4, t0()), None);
    }

    #[test]
    fn uris() {
        for (u, ok) in [
            ("gid://chansync/StockPush/abc", true),
            ("https://example.com/x", true),
            ("urn:x", true),
            ("no-scheme", false),
            ("1http://x", false),
            ("gid://with space", false),
            ("x:", false),
        ] {
            assert_eq!(is_uri(u), ok, "{u}");
        }
    }
}

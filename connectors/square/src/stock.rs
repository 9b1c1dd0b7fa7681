//! Stock both ways. Reading: BatchRetrieveInventoryCounts pages through the
//! `IN_STOCK` counts of the synced locations, each variation's count becomes
//! its SKU's on hand there. Pushing: a published level becomes a
//! `PHYSICAL_COUNT` in one BatchChangeInventory per batch, under an
//! idempotency key derived from the levels, so a retried batch is applied
//! once. SKUs Square does not know are refused one by one, the rest applies.

use std::collections::{BTreeMap, HashSet};
use std::str::FromStr;

use chansync_sdk::webhook::hmac_sha256;
use chansync_sdk::{ConnectorError, OnHand, StockLevel, StockRejection};
use chrono::{SecondsFormat, Utc};
use rust_decimal::Decimal;
use serde_json::{json, Value};

use crate::catalog::{Catalog, Variation};
use crate::client::SquareClient;
use crate::wire::{BatchChangeInventoryResponse, InventoryCount, InventoryCountsResponse};

/// Changes per BatchChangeInventory: Square takes at most 100.
pub const BATCH_SIZE: usize = 100;
/// Rounds of resending after Square refused single changes of a batch.
const ROUNDS: usize = 3;
/// `reference_id` holds at most this many characters.
const MAX_REFERENCE_ID: usize = 255;

/// A count's quantity as whole units (Square keeps up to five decimals; a
/// part of a unit cannot be sold as one).
fn whole_units(q: &str) -> Option<i64> {
    let d = Decimal::from_str(q.trim()).ok()?;
    rust_decimal::prelude::ToPrimitive::to_i64(&d.floor())
}

/// Whether a count is one chansync takes as on hand.
pub(crate) fn is_on_hand(c: &InventoryCount) -> bool {
    c.state.as_deref() == Some("IN_STOCK")
        && c.catalog_object_type
            .as_deref()
            .is_none_or(|t| t == "ITEM_VARIATION")
}

/// Sums counts per (channel SKU, location); several variations may share a SKU.
pub(crate) fn on_hand_of(
    counts: &[InventoryCount],
    sku_of: impl Fn(&str) -> Option<String>,
) -> Vec<OnHand> {
    let mut sums: BTreeMap<(String, Option<String>), i64> = BTreeMap::new();
    for c in counts.iter().filter(|c| is_on_hand(c)) {
        let Some(q) = whole_units(&c.quantity) else {
            tracing::warn!(catalog_object_id = %c.catalog_object_id, quantity = %c.quantity,
                "unreadable inventory count; skipped");
            continue;
        };
        let Some(sku) = sku_of(&c.catalog_object_id) else {
            continue;
        };
        let sum = sums.entry((sku, c.location_id.clone())).or_default();
        *sum = sum.saturating_add(q);
    }
    sums.into_iter()
        .map(|((channel_sku, channel_location), on_hand)| OnHand {
            channel_sku,
            channel_location,
            on_hand,
        })
        .collect()
}

/// Every `IN_STOCK` count of the synced locations, per SKU and location.
pub(crate) async fn read_on_hand(
    client: &SquareClient,
    catalog: &Catalog,
) -> Result<Vec<OnHand>, ConnectorError> {
    let mut counts: Vec<InventoryCount> = Vec::new();
    let mut cursor: Option<String> = None;
    let mut seen_cursors = HashSet::new();
    loop {
        let mut body = json!({
            "states": ["IN_STOCK"],
            "limit": client.page_size,
            "cursor": cursor,
        });
        if !client.configured_locations.is_empty() {
            body["location_ids"] = json!(client.configured_locations);
        }
        let resp: InventoryCountsResponse = client
            .post(
                "batch_retrieve_inventory_counts",
                "/v2/inventory/counts/batch-retrieve",
                &body,
            )
            .await?;
        counts.extend(resp.counts);
        cursor = resp.cursor.filter(|c| !c.is_empty());
        match &cursor {
            None => break,
            Some(c) if !seen_cursors.insert(c.clone()) => {
                return Err(ConnectorError::InvalidResponse(
                    "BatchRetrieveInventoryCounts repeated a cursor".into(),
                ))
            }
            Some(_) => {}
        }
    }
    let ids: Vec<&str> = counts
        .iter()
        .filter(|c| is_on_hand(c))
        .map(|c| c.catalog_object_id.as_str())
        .collect();
    let skus = catalog.channel_skus(client, ids).await?;
    Ok(on_hand_of(&counts, |id| skus.get(id).cloned()))
}

/// The levels Square refused for good, each SKU once.
#[derive(Default)]
struct Rejections {
    list: Vec<StockRejection>,
    skus: HashSet<String>,
}

impl Rejections {
    fn reject(&mut self, level: &StockLevel, message: String) {
        if self.skus.insert(level.channel_sku.clone()) {
            tracing::warn!(channel_sku = %level.channel_sku, %message, "stock level refused");
            self.list.push(StockRejection {
                channel_sku: level.channel_sku.clone(),
                error: ConnectorError::Permanent(message),
            });
        }
    }
}

/// One change of a batch and the level it comes from.
struct Change<'a> {
    level: &'a StockLevel,
    variation: String,
    location: String,
}

/// 16 bytes of a digest as a UUID-shaped string.
fn uuid_from(digest: &[u8; 32]) -> String {
    let h: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The request's idempotency key: the same levels (keys, variations,
/// locations and quantities) give the same key, in any order; a level
/// recomputed to another quantity gives another.
fn batch_key(changes: &[Change<'_>]) -> String {
    let mut lines: Vec<String> = changes
        .iter()
        .map(|c| {
            format!(
                "{}\t{}\t{}\t{}",
                c.level.idempotency_key, c.variation, c.location, c.level.quantity
            )
        })
        .collect();
    lines.sort_unstable();
    uuid_from(&hmac_sha256(
        b"chansync/square/BatchChangeInventory",
        lines.join("\n").as_bytes(),
    ))
}

fn reference_id(key: &str) -> String {
    key.chars().take(MAX_REFERENCE_ID).collect()
}

fn request_body(changes: &[Change<'_>]) -> Value {
    let occurred_at = Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true);
    let list: Vec<Value> = changes
        .iter()
        .map(|c| {
            json!({
                "type": "PHYSICAL_COUNT",
                "physical_count": {
                    "reference_id": reference_id(&c.level.idempotency_key),
                    "catalog_object_id": c.variation,
                    "state": "IN_STOCK",
                    "location_id": c.location,
                    "quantity": c.level.quantity.to_string(),
                    "occurred_at": occurred_at,
                }
            })
        })
        .collect();
    json!({
        "idempotency_key": batch_key(changes),
        "changes": list,
        "ignore_unchanged_counts": true,
    })
}

/// The change a Square error's `field` points at (`changes[3].physical_count…`).
fn change_index(field: Option<&str>) -> Option<usize> {
    let rest = field?.strip_prefix("changes[")?;
    rest[..rest.find(']')?].parse().ok()
}

/// Sets each level as a physical count; see the module doc.
pub(crate) async fn push(
    client: &SquareClient,
    catalog: &Catalog,
    levels: &[StockLevel],
) -> Result<Vec<StockRejection>, ConnectorError> {
    let mut out = Rejections::default();
    let mut pending: Vec<&StockLevel> = Vec::new();
    for level in levels {
        if level.quantity < 0 {
            out.reject(
                level,
                format!("{} is below zero; Square counts start at 0", level.quantity),
            );
        } else {
            pending.push(level);
        }
    }
    let mut default_location: Option<String> = None;
    let mut relooked: HashSet<String> = HashSet::new();
    for round in 1..=ROUNDS {
        if pending.is_empty() {
            break;
        }
        let skus: Vec<&str> = pending.iter().map(|l| l.channel_sku.as_str()).collect();
        let found = catalog.variations(client, &skus).await?;
        let mut changes = Vec::with_capacity(pending.len());
        for level in pending.drain(..) {
            match found.get(&level.channel_sku) {
                Some(Variation::Found(variation)) => {
                    let location = match &level.channel_location {
                        Some(l) => l.clone(),
                        None => match &default_location {
                            Some(l) => l.clone(),
                            None => {
                                let l = client.default_location().await?;
                                default_location = Some(l.clone());
                                l
                            }
                        },
                    };
                    changes.push(Change {
                        level,
                        variation: variation.clone(),
                        location,
                    });
                }
                Some(Variation::Ambiguous(ids)) => out.reject(
                    level,
                    format!(
                        "SKU {:?} is on {} item variations in Square ({}); set their counts there",
                        level.channel_sku,
                        ids.len(),
                        ids.join(", ")
                    ),
                ),
                Some(Variation::Missing) | None => out.reject(
                    level,
                    format!("no Square item variation has SKU {:?}", level.channel_sku),
                ),
            }
        }
        if changes.is_empty() {
            break;
        }
        let body = request_body(&changes);
        let sent = client
            .call_detailed::<BatchChangeInventoryResponse>(
                "batch_change_inventory",
                http::Method::POST,
                "/v2/inventory/changes/batch-create",
                Some(&body),
            )
            .await;
        let failure = match sent {
            Ok(_) => break,
            Err(f) => f,
        };
        if failure
            .errors
            .iter()
            .any(|e| e.code == "IDEMPOTENCY_KEY_REUSED")
        {
            // The key covers every level's key, variation, location and
            // quantity: Square applied these exact levels before.
            tracing::info!(
                levels = changes.len(),
                "Square already applied this stock batch"
            );
            break;
        }
        let named: BTreeMap<usize, String> = failure
            .errors
            .iter()
            .filter_map(|e| Some((change_index(e.field.as_deref())?, e.to_string())))
            .filter(|(i, _)| *i < changes.len())
            .collect();
        if named.is_empty() || failure.error.is_retryable() {
            return Err(failure.error);
        }
        for (i, c) in changes.iter().enumerate() {
            match named.get(&i) {
                // A cached variation may be gone: look the SKU up once more.
                Some(_) if round < ROUNDS && relooked.insert(c.level.channel_sku.clone()) => {
                    catalog.forget_sku(&c.level.channel_sku);
                    pending.push(c.level);
                }
                Some(message) => {
                    out.reject(c.level, format!("Square refused the count: {message}"))
                }
                None => pending.push(c.level),
            }
        }
    }
    Ok(out.list)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(sku: &str, quantity: i64, key: &str) -> StockLevel {
        StockLevel {
            channel_sku: sku.into(),
            channel_location: None,
            quantity,
            idempotency_key: key.into(),
        }
    }

    #[test]
    fn batch_keys_ignore_order_but_not_quantities() {
        let (a, b) = (level("A", 1, "k1"), level("B", 2, "k2"));
        let change = |l| Change {
            level: l,
            variation: "V".into(),
            location: "L".into(),
        };
        let k1 = batch_key(&[change(&a), change(&b)]);
        assert_eq!(k1, batch_key(&[change(&b), change(&a)]));
        let a3 = level("A", 3, "k1");
        assert_ne!(k1, batch_key(&[change(&a3), change(&b)]));
        assert_eq!(k1.len(), 36);
    }

    #[test]
    fn change_fields_name_their_index() {
        assert_eq!(
            change_index(Some("changes[3].physical_count.catalog_object_id")),
            Some(3)
        );
        assert_eq!(change_index(Some("changes[12]")), Some(12));
        assert_eq!(change_index(Some("idempotency_key")), None);
        assert_eq!(change_index(None), None);
    }

    #[test]
    fn counts_become_whole_units_per_sku_and_location() {
        let count = |id: &str, loc: &str, q: &str, state: &str| InventoryCount {
            catalog_object_id: id.into(),
            catalog_object_type: Some("ITEM_VARIATION".into()),
            state: Some(state.into()),
            location_id: Some(loc.into()),
            quantity: q.into(),
            calculated_at: None,
        };
        let counts = [
            count("V1", "L1", "10", "IN_STOCK"),
            count("V2", "L1", "2.5", "IN_STOCK"),
            count("V1", "L2", "-3", "IN_STOCK"),
            count("V1", "L1", "4", "SOLD"),
            count("V3", "L1", "7", "IN_STOCK"),
        ];
        let got = on_hand_of(&counts, |id| match id {
            "V1" | "V2" => Some("SKU-A".into()),
            _ => None,
        });
        let got: Vec<(String, Option<String>, i64)> = got
            .into_iter()
            .map(|o| (o.channel_sku, o.channel_location, o.on_hand))
            .collect();
        assert_eq!(
            got,
            [
                ("SKU-A".into(), Some("L1".into()), 12),
                ("SKU-A".into(), Some("L2".into()), -3),
            ]
        );
    }
}

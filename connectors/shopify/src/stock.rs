//! Stock push-back: published levels become Shopify's `available` quantity at
//! a location through `inventorySetQuantities`, compare-and-swap against the
//! quantity last seen, under an idempotency key derived from the request.
//! SKUs map to inventory items through a batched `inventoryItems` search; the
//! mapping, the default location and the quantities seen are cached.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard, PoisonError};

use chansync_sdk::webhook::hmac_sha256;
use chansync_sdk::{ConnectorError, StockLevel, StockRejection};
use serde_json::{json, Value};

use crate::client::GraphqlClient;
use crate::graphql::{
    InventoryItemsData, LocationsData, SetQuantitiesData, INVENTORY_ITEMS_QUERY, LOCATIONS_QUERY,
    SET_QUANTITIES_MUTATION,
};

/// Levels per push: one `inventorySetQuantities` (Shopify takes up to 250)
/// and one SKU search whose query string stays short.
pub const BATCH_SIZE: usize = 50;
/// Rounds of re-reading and re-sending after a compare-and-swap mismatch.
const STALE_ROUNDS: usize = 3;
/// Shopify's reason for a quantity set by a system of record.
const REASON: &str = "correction";
/// The largest quantity Shopify takes, either way.
const QUANTITY_LIMIT: i64 = 1_000_000_000;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What the connector remembers between pushes.
#[derive(Debug, Default)]
pub(crate) struct StockCache {
    /// The shop's primary (or first active) location's gid.
    default_location: Mutex<Option<String>>,
    /// SKU → inventory item gid.
    items: Mutex<HashMap<String, String>>,
    /// (inventory item gid, location gid) → the available quantity last read
    /// or set: the `changeFromQuantity` of the next set.
    known: Mutex<HashMap<(String, String), i64>>,
}

impl StockCache {
    /// The item and the quantity last seen for a SKU at a location.
    fn lookup(&self, sku: &str, location: &str) -> Option<(String, i64)> {
        let item = lock(&self.items).get(sku)?.clone();
        let quantity = *lock(&self.known).get(&(item.clone(), location.to_owned()))?;
        Some((item, quantity))
    }

    fn remember(&self, item: &str, location: &str, quantity: i64) {
        lock(&self.known).insert((item.to_owned(), location.to_owned()), quantity);
    }

    fn forget_sku(&self, sku: &str) {
        lock(&self.items).remove(sku);
    }
}

/// A location id as Shopify's gid: `123` or `gid://shopify/Location/123`.
pub fn location_gid(s: &str) -> Option<String> {
    let s = s.trim();
    let n = s.strip_prefix("gid://shopify/Location/").unwrap_or(s);
    (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("gid://shopify/Location/{n}"))
}

/// `sku:"A" OR sku:"B"`, quoted and escaped for Shopify's search syntax.
fn sku_query(skus: &[&str]) -> String {
    skus.iter()
        .map(|s| format!("sku:\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect::<Vec<_>>()
        .join(" OR ")
}

/// The quantity a user error's `field` points at (`input.quantities.N...`).
fn quantity_index(field: Option<&[String]>) -> Option<usize> {
    match field? {
        [input, quantities, n, ..] if input == "input" && quantities == "quantities" => {
            n.parse().ok()
        }
        _ => None,
    }
}

/// 16 bytes of an HMAC as a UUID-shaped string.
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

/// The idempotency key of one request: the same input (a retry after a lost
/// answer) gets the same key, any other input (new levels, a new
/// `changeFromQuantity` after a mismatch) another one.
fn request_key(input: &Value) -> String {
    uuid_from(&hmac_sha256(
        b"chansync/inventorySetQuantities",
        input.to_string().as_bytes(),
    ))
}

/// Keeps the characters a URI path segment may hold, percent-encodes the rest.
fn uri_segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The `referenceDocumentUri` of a push: the level's idempotency key when it
/// carries one level, else a digest of all their keys (the batch, as logged).
fn reference_uri(levels: &[&StockLevel]) -> String {
    let id = match levels {
        [one] => one.idempotency_key.clone(),
        many => {
            let mut keys: Vec<&str> = many.iter().map(|l| l.idempotency_key.as_str()).collect();
            keys.sort_unstable();
            uuid_from(&hmac_sha256(
                b"chansync/stock-batch",
                keys.join("\n").as_bytes(),
            ))
        }
    };
    format!("gid://chansync/StockPush/{}", uri_segment(&id))
}

/// The levels Shopify refused for good, each SKU once.
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

/// What to do about one `inventorySetQuantities` user error.
#[derive(Debug, Clone)]
enum Verdict {
    /// The quantity changed in Shopify: read it again and resend.
    Reread(usize),
    /// The inventory item is gone: look the SKU up again.
    Relookup(usize),
    /// This level cannot be set.
    Reject(usize, String),
    /// The whole batch failed.
    Fail(ConnectorError),
}

fn verdict(code: Option<&str>, field: Option<&[String]>, message: &str, len: usize) -> Verdict {
    let index = quantity_index(field).filter(|i| *i < len);
    let code = code.unwrap_or("");
    match (index, code) {
        (Some(i), "CHANGE_FROM_QUANTITY_STALE" | "COMPARE_QUANTITY_STALE") => Verdict::Reread(i),
        (Some(i), "INVALID_INVENTORY_ITEM") => Verdict::Relookup(i),
        (_, "IDEMPOTENCY_CONCURRENT_REQUEST") => Verdict::Fail(ConnectorError::Transient(
            "Shopify is still processing an identical stock push".into(),
        )),
        (_, "INVALID_LOCATION") => Verdict::Fail(ConnectorError::Permanent(format!(
            "Shopify does not know the location stock is pushed to: {message}"
        ))),
        (Some(i), _) => {
            Verdict::Reject(i, format!("Shopify refused the level ({code}): {message}"))
        }
        (None, _) => Verdict::Fail(ConnectorError::Permanent(format!(
            "Shopify refused the stock push ({code}): {message}"
        ))),
    }
}

/// One push of levels through a connector's client and cache.
pub(crate) struct StockPusher<'a> {
    pub client: &'a GraphqlClient,
    pub cache: &'a StockCache,
    /// The configured `location_id`, as a gid.
    pub location: Option<&'a str>,
}

impl StockPusher<'_> {
    pub(crate) async fn push(
        &self,
        levels: &[StockLevel],
    ) -> Result<Vec<StockRejection>, ConnectorError> {
        let mut out = Rejections::default();
        let mut groups: BTreeMap<String, Vec<&StockLevel>> = BTreeMap::new();
        for level in levels {
            if level.quantity.abs() > QUANTITY_LIMIT {
                out.reject(
                    level,
                    format!("{} is beyond Shopify's quantity limit", level.quantity),
                );
                continue;
            }
            let location = match level.channel_location.as_deref() {
                Some(l) => match location_gid(l) {
                    Some(gid) => gid,
                    None => {
                        out.reject(level, format!("{l:?} is not a Shopify location id"));
                        continue;
                    }
                },
                None => self.default_location().await?,
            };
            groups.entry(location).or_default().push(level);
        }
        for (location, group) in groups {
            self.push_at(&location, group, &mut out).await?;
        }
        Ok(out.list)
    }

    /// The configured location, else the shop's primary one (or its first
    /// active one), looked up once.
    async fn default_location(&self) -> Result<String, ConnectorError> {
        if let Some(l) = self.location {
            return Ok(l.to_owned());
        }
        if let Some(l) = lock(&self.cache.default_location).clone() {
            return Ok(l);
        }
        let data: LocationsData = self
            .client
            .query(
                "locations",
                || json!({ "query": LOCATIONS_QUERY, "operationName": "Locations" }),
            )
            .await?;
        let chosen = data
            .location
            .filter(|l| l.is_active)
            .or_else(|| data.locations.nodes.into_iter().find(|l| l.is_active))
            .ok_or_else(|| {
                ConnectorError::Permanent("the shop has no active location to set stock at".into())
            })?;
        tracing::info!(location = %chosen.id, "stock is pushed to the shop's primary location");
        *lock(&self.cache.default_location) = Some(chosen.id.clone());
        Ok(chosen.id)
    }

    /// Sets one location's levels: all that Shopify takes, in one request when
    /// nothing changed under it, re-reading and resending when something did.
    async fn push_at(
        &self,
        location: &str,
        mut pending: Vec<&StockLevel>,
        out: &mut Rejections,
    ) -> Result<(), ConnectorError> {
        let unknown: Vec<&str> = pending
            .iter()
            .filter(|l| self.cache.lookup(&l.channel_sku, location).is_none())
            .map(|l| l.channel_sku.as_str())
            .collect();
        self.read(&unknown, location, &mut pending, out).await?;
        for _ in 0..=STALE_ROUNDS {
            if pending.is_empty() {
                return Ok(());
            }
            let targets: Vec<(String, i64)> = pending
                .iter()
                .map(|l| {
                    self.cache
                        .lookup(&l.channel_sku, location)
                        .expect("pending levels have been read")
                })
                .collect();
            let quantities: Vec<Value> = pending
                .iter()
                .zip(&targets)
                .map(|(l, (item, from))| {
                    json!({
                        "inventoryItemId": item,
                        "locationId": location,
                        "quantity": l.quantity,
                        "changeFromQuantity": from,
                    })
                })
                .collect();
            let input = json!({
                "name": "available",
                "reason": REASON,
                "referenceDocumentUri": reference_uri(&pending),
                "quantities": quantities,
            });
            let key = request_key(&input);
            tracing::debug!(%key, location, levels = pending.len(),
                idempotency_keys = ?pending.iter().map(|l| &l.idempotency_key).collect::<Vec<_>>(),
                "setting available quantities");
            let data: SetQuantitiesData = self
                .client
                .query("inventory_set_quantities", || {
                    json!({
                        "query": SET_QUANTITIES_MUTATION,
                        "operationName": "SetQuantities",
                        "variables": { "input": input, "key": key },
                    })
                })
                .await?;
            let payload = data.inventory_set_quantities.ok_or_else(|| {
                ConnectorError::InvalidResponse("inventorySetQuantities answered null".into())
            })?;
            if payload.user_errors.is_empty() {
                for (l, (item, _)) in pending.iter().zip(&targets) {
                    self.cache.remember(item, location, l.quantity);
                }
                return Ok(());
            }
            // Nothing of the request was applied: sort the levels out and resend.
            let mut reread = Vec::new();
            let mut dropped = HashSet::new();
            for e in &payload.user_errors {
                match verdict(
                    e.code.as_deref(),
                    e.field.as_deref(),
                    &e.message,
                    pending.len(),
                ) {
                    Verdict::Reread(i) => reread.push(i),
                    Verdict::Relookup(i) => {
                        self.cache.forget_sku(&pending[i].channel_sku);
                        reread.push(i);
                    }
                    Verdict::Reject(i, message) => {
                        out.reject(pending[i], message);
                        dropped.insert(i);
                    }
                    Verdict::Fail(e) => {
                        if matches!(e, ConnectorError::Permanent(_)) && self.location.is_none() {
                            *lock(&self.cache.default_location) = None;
                        }
                        return Err(e);
                    }
                }
            }
            let skus: Vec<&str> = reread
                .iter()
                .filter(|i| !dropped.contains(i))
                .map(|i| {
                    let l: &StockLevel = pending[*i];
                    l.channel_sku.as_str()
                })
                .collect();
            pending = pending
                .into_iter()
                .enumerate()
                .filter(|(i, _)| !dropped.contains(i))
                .map(|(_, l)| l)
                .collect();
            self.read(&skus, location, &mut pending, out).await?;
        }
        Err(ConnectorError::Transient(
            "Shopify's quantities kept changing while chansync set them".into(),
        ))
    }

    /// Reads the inventory items of `skus` and their available quantities at
    /// `location` into the cache; levels whose SKU Shopify does not have (or
    /// has twice, or does not stock there) are rejected and leave `pending`.
    async fn read(
        &self,
        skus: &[&str],
        location: &str,
        pending: &mut Vec<&StockLevel>,
        out: &mut Rejections,
    ) -> Result<(), ConnectorError> {
        if skus.is_empty() {
            return Ok(());
        }
        let query = sku_query(skus);
        // Twice the SKUs: a SKU on two items must show up as such.
        let first = (skus.len() * 2).min(250);
        let data: InventoryItemsData = self
            .client
            .query("inventory_items", || {
                json!({
                    "query": INVENTORY_ITEMS_QUERY,
                    "operationName": "InventoryItems",
                    "variables": { "first": first, "query": query, "locationId": location },
                })
            })
            .await?;
        let mut found: HashMap<&str, Vec<_>> = HashMap::new();
        for item in &data.inventory_items.nodes {
            if let Some(sku) = item.sku.as_deref().filter(|s| skus.contains(s)) {
                found.entry(sku).or_default().push(item);
            }
        }
        let mut refused: HashMap<&str, String> = HashMap::new();
        for sku in skus {
            match found.get(sku).map(Vec::as_slice).unwrap_or_default() {
                [] => {
                    refused.insert(sku, format!("SKU {sku:?} is not in the Shopify shop"));
                }
                [item] => {
                    lock(&self.cache.items).insert((*sku).to_owned(), item.id.clone());
                    let available = item
                        .inventory_level
                        .as_ref()
                        .and_then(|l| l.quantities.iter().find(|q| q.name == "available"));
                    match available {
                        Some(q) => self.cache.remember(&item.id, location, q.quantity),
                        None => {
                            refused.insert(
                                sku,
                                format!("SKU {sku:?} is not stocked at location {location}"),
                            );
                        }
                    }
                }
                many => {
                    refused.insert(
                        sku,
                        format!(
                            "SKU {sku:?} is on {} inventory items in Shopify; it must be on one",
                            many.len()
                        ),
                    );
                }
            }
        }
        pending.retain(|l| match refused.remove(l.channel_sku.as_str()) {
            Some(message) => {
                out.reject(l, message);
                false
            }
            None => true,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_ids() {
        for (input, expect) in [
            ("123", Some("gid://shopify/Location/123")),
            (
                " gid://shopify/Location/77 ",
                Some("gid://shopify/Location/77"),
            ),
            ("gid://shopify/Order/77", None),
            ("gid://shopify/Location/", None),
            ("main", None),
            ("", None),
        ] {
            assert_eq!(location_gid(input).as_deref(), expect, "{input}");
        }
    }

    #[test]
    fn sku_queries_quote_and_escape() {
        assert_eq!(
            sku_query(&["SKU-1", "a \"b\"", r"c\d"]),
            r#"sku:"SKU-1" OR sku:"a \"b\"" OR sku:"c\\d""#
        );
    }

    fn s(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|p| (*p).to_owned()).collect()
    }

    #[test]
    fn user_errors_decide_per_level_or_for_the_batch() {
        let at = |i: &str| s(&["input", "quantities", i, "changeFromQuantity"]);
        let v = |code: &str, field: Vec<String>| verdict(Some(code), Some(&field), "msg", 3);
        assert!(matches!(
            v("CHANGE_FROM_QUANTITY_STALE", at("2")),
            Verdict::Reread(2)
        ));
        assert!(matches!(
            v("INVALID_INVENTORY_ITEM", at("0")),
            Verdict::Relookup(0)
        ));
        match v("ITEM_NOT_STOCKED_AT_LOCATION", at("1")) {
            Verdict::Reject(1, m) => assert!(m.contains("ITEM_NOT_STOCKED_AT_LOCATION"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            verdict(Some("INVALID_LOCATION"), Some(at("1").as_slice()), "m", 3),
            Verdict::Fail(ConnectorError::Permanent(_))
        ));
        assert!(matches!(
            verdict(Some("IDEMPOTENCY_CONCURRENT_REQUEST"), None, "m", 3),
            Verdict::Fail(ConnectorError::Transient(_))
        ));
        // An index outside the request, or none, fails the batch.
        assert!(matches!(
            verdict(
                Some("CHANGE_FROM_QUANTITY_STALE"),
                Some(at("3").as_slice()),
                "m",
                3
            ),
            Verdict::Fail(ConnectorError::Permanent(_))
        ));
        assert!(matches!(
            verdict(
                Some("INVALID_REASON"),
                Some(s(&["input", "reason"]).as_slice()),
                "m",
                3
            ),
            Verdict::Fail(ConnectorError::Permanent(_))
        ));
    }

    fn level(sku: &str, key: &str) -> StockLevel {
        StockLevel {
            channel_sku: sku.into(),
            channel_location: None,
            quantity: 1,
            idempotency_key: key.into(),
        }
    }

    #[test]
    fn keys_and_references_are_stable_and_distinct() {
        let a = json!({"quantities": [{"quantity": 1, "changeFromQuantity": 3}]});
        let b = json!({"quantities": [{"quantity": 1, "changeFromQuantity": 4}]});
        assert_eq!(request_key(&a), request_key(&a.clone()));
        assert_ne!(request_key(&a), request_key(&b));
        assert_eq!(request_key(&a).len(), 36);
        let (x, y) = (level("A", "chansync-stock-1"), level("B", "k 2/3"));
        assert_eq!(
            reference_uri(&[&x]),
            "gid://chansync/StockPush/chansync-stock-1"
        );
        assert_eq!(reference_uri(&[&y]), "gid://chansync/StockPush/k%202%2F3");
        assert_eq!(reference_uri(&[&x, &y]), reference_uri(&[&y, &x]));
        assert_ne!(reference_uri(&[&x, &y]), reference_uri(&[&x]));
    }
}

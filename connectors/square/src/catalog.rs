//! SKUs through the Catalog API. Square's order lines and inventory counts
//! name item variations by catalog object id, chansync speaks SKUs: a
//! variation's SKU comes from `BatchRetrieveCatalogObjects`
//! (`item_variation_data.sku`), a SKU's variation from
//! `SearchCatalogObjects`. Both directions are cached; a variation without a
//! SKU is known by its object id.

use std::collections::{BTreeSet, HashMap};
use std::sync::Mutex;

use chansync_sdk::ConnectorError;
use serde_json::json;

use crate::client::{lock, SquareClient};
use crate::wire::{CatalogObject, CatalogObjectsResponse};

/// Object ids per BatchRetrieveCatalogObjects request.
const RETRIEVE_BATCH: usize = 100;
/// SKUs per SearchCatalogObjects `set_query` (Square takes up to 250).
const SEARCH_BATCH: usize = 100;
/// Pages of one search before giving up (a runaway cursor).
const MAX_SEARCH_PAGES: usize = 100;

#[derive(Debug, Default)]
struct Cache {
    /// Variation id → its SKU (`None`: the variation has none).
    by_variation: HashMap<String, Option<String>>,
    /// SKU → the live variations that carry it.
    by_sku: HashMap<String, Vec<String>>,
}

/// What a SKU resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Variation {
    Found(String),
    /// No item variation has this SKU.
    Missing,
    /// Several variations share the SKU; setting one count for all of them
    /// would be a guess.
    Ambiguous(Vec<String>),
}

/// The SKU ↔ variation mapping of one connector instance.
#[derive(Debug, Default)]
pub struct Catalog {
    cache: Mutex<Cache>,
}

/// A variation's SKU, trimmed, if it has one.
fn sku_of(o: &CatalogObject) -> Option<String> {
    o.item_variation_data
        .as_ref()
        .and_then(|v| v.sku.as_deref())
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

/// Whether `s` has the shape of a Square object id (upper-case letters and
/// digits), so a "SKU" chansync got from a SKU-less variation can be read
/// back as the id it is.
fn looks_like_object_id(s: &str) -> bool {
    (20..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
}

impl Catalog {
    /// The channel SKU of a variation if it is cached: its SKU, or its id
    /// when it has none.
    pub fn channel_sku_cached(&self, variation_id: &str) -> Option<String> {
        lock(&self.cache)
            .by_variation
            .get(variation_id)
            .map(|sku| sku.clone().unwrap_or_else(|| variation_id.to_owned()))
    }

    /// Learns the variations in catalog objects (items carry theirs).
    pub fn remember(&self, objects: &[CatalogObject]) {
        let mut cache = lock(&self.cache);
        let mut stack: Vec<&CatalogObject> = objects.iter().collect();
        while let Some(o) = stack.pop() {
            if let Some(item) = &o.item_data {
                stack.extend(item.variations.iter());
            }
            if o.kind != "ITEM_VARIATION" {
                continue;
            }
            let sku = sku_of(o);
            let old = cache.by_variation.insert(o.id.clone(), sku.clone());
            if let Some(Some(old)) = old.filter(|old| *old != sku) {
                if let Some(ids) = cache.by_sku.get_mut(&old) {
                    ids.retain(|id| *id != o.id);
                }
            }
            if let Some(sku) = sku {
                let ids = cache.by_sku.entry(sku).or_default();
                if o.is_deleted {
                    ids.retain(|id| *id != o.id);
                } else if !ids.contains(&o.id) {
                    ids.push(o.id.clone());
                }
            }
        }
    }

    /// Forgets what a SKU resolved to (Square refused the variation).
    pub(crate) fn forget_sku(&self, sku: &str) {
        lock(&self.cache).by_sku.remove(sku);
    }

    /// The channel SKU of each variation id, fetching the ones not cached.
    /// Ids Square does not know map to themselves.
    pub(crate) async fn channel_skus<'a>(
        &self,
        client: &SquareClient,
        ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<HashMap<String, String>, ConnectorError> {
        let wanted: BTreeSet<&str> = ids.into_iter().collect();
        let unknown: Vec<&str> = {
            let cache = lock(&self.cache);
            wanted
                .iter()
                .copied()
                .filter(|id| !cache.by_variation.contains_key(*id))
                .collect()
        };
        for chunk in unknown.chunks(RETRIEVE_BATCH) {
            let body = json!({ "object_ids": chunk, "include_deleted_objects": true });
            let resp: CatalogObjectsResponse = client
                .post(
                    "batch_retrieve_catalog",
                    "/v2/catalog/batch-retrieve",
                    &body,
                )
                .await?;
            self.remember(&resp.objects);
        }
        Ok(wanted
            .into_iter()
            .map(|id| {
                let sku = self.channel_sku_cached(id).unwrap_or_else(|| id.to_owned());
                (id.to_owned(), sku)
            })
            .collect())
    }

    /// The variation each SKU names. Cached single matches are trusted; the
    /// rest are searched (`set_query` on `sku`, exact and case-insensitive
    /// at Square, then compared exactly here).
    pub(crate) async fn variations(
        &self,
        client: &SquareClient,
        skus: &[&str],
    ) -> Result<HashMap<String, Variation>, ConnectorError> {
        let mut out = HashMap::new();
        let mut search = Vec::new();
        {
            let cache = lock(&self.cache);
            for sku in skus {
                match cache.by_sku.get(*sku).map(Vec::as_slice) {
                    Some([one]) => {
                        out.insert((*sku).to_owned(), Variation::Found(one.clone()));
                    }
                    _ => search.push(*sku),
                }
            }
        }
        for chunk in search.chunks(SEARCH_BATCH) {
            let found = self.search(client, chunk).await?;
            let mut cache = lock(&self.cache);
            for sku in chunk {
                let exact: Vec<&CatalogObject> = found
                    .iter()
                    .filter(|o| sku_of(o).as_deref() == Some(*sku))
                    .collect();
                let matches = if exact.is_empty() {
                    found
                        .iter()
                        .filter(|o| sku_of(o).is_some_and(|s| s.eq_ignore_ascii_case(sku)))
                        .collect()
                } else {
                    exact
                };
                let ids: Vec<String> = matches.iter().map(|o| o.id.clone()).collect();
                cache.by_sku.insert((*sku).to_owned(), ids.clone());
                let v = match ids.as_slice() {
                    [] => Variation::Missing,
                    [one] => Variation::Found(one.clone()),
                    _ => Variation::Ambiguous(ids),
                };
                out.insert((*sku).to_owned(), v);
            }
        }
        // A SKU-less variation is known to chansync by its id.
        let ids: Vec<&str> = out
            .iter()
            .filter(|(sku, v)| **v == Variation::Missing && looks_like_object_id(sku))
            .map(|(sku, _)| sku.as_str())
            .collect();
        if !ids.is_empty() {
            let ids: Vec<String> = ids.into_iter().map(str::to_owned).collect();
            self.channel_skus(client, ids.iter().map(String::as_str))
                .await?;
            let cache = lock(&self.cache);
            for id in ids {
                if let Some(None) = cache.by_variation.get(&id) {
                    out.insert(id.clone(), Variation::Found(id));
                }
            }
        }
        Ok(out)
    }

    /// Every live item variation whose SKU matches one of `skus` at Square.
    async fn search(
        &self,
        client: &SquareClient,
        skus: &[&str],
    ) -> Result<Vec<CatalogObject>, ConnectorError> {
        let mut found = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..MAX_SEARCH_PAGES {
            let body = json!({
                "object_types": ["ITEM_VARIATION"],
                "query": { "set_query": { "attribute_name": "sku", "attribute_values": skus } },
                "limit": client.page_size,
                "cursor": cursor,
            });
            let resp: CatalogObjectsResponse = client
                .post("search_catalog", "/v2/catalog/search", &body)
                .await?;
            self.remember(&resp.objects);
            found.extend(resp.objects.into_iter().filter(|o| !o.is_deleted));
            cursor = resp.cursor.filter(|c| !c.is_empty());
            if cursor.is_none() {
                return Ok(found);
            }
        }
        Err(ConnectorError::InvalidResponse(format!(
            "SearchCatalogObjects did not finish within {MAX_SEARCH_PAGES} pages"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variation(id: &str, sku: Option<&str>, deleted: bool) -> CatalogObject {
        serde_json::from_value(json!({
            "type": "ITEM_VARIATION", "id": id, "is_deleted": deleted,
            "item_variation_data": { "item_id": "ITEM", "name": "Regular", "sku": sku }
        }))
        .unwrap()
    }

    #[test]
    fn variations_are_learned_from_items_and_directly() {
        let c = Catalog::default();
        let item: CatalogObject = serde_json::from_value(json!({
            "type": "ITEM", "id": "ITEM",
            "item_data": { "name": "Mug", "variations": [
                { "type": "ITEM_VARIATION", "id": "V1", "item_variation_data": { "sku": " SKU-1 " } },
                { "type": "ITEM_VARIATION", "id": "V2", "item_variation_data": { "name": "no sku" } }
            ]}
        }))
        .unwrap();
        c.remember(&[item]);
        assert_eq!(c.channel_sku_cached("V1").as_deref(), Some("SKU-1"));
        assert_eq!(c.channel_sku_cached("V2").as_deref(), Some("V2"));
        assert_eq!(c.channel_sku_cached("V3"), None);
        // A SKU moving to another variation, and a deleted one, update the index.
        c.remember(&[variation("V1", Some("SKU-9"), false)]);
        c.remember(&[variation("V4", Some("SKU-9"), true)]);
        let cache = lock(&c.cache);
        assert_eq!(cache.by_sku["SKU-1"], Vec::<String>::new());
        assert_eq!(cache.by_sku["SKU-9"], ["V1"]);
    }

    #[test]
    fn object_ids_are_told_from_skus() {
        assert!(looks_like_object_id("W62UWFY35CWMYGVWK6TWJDNI"));
        assert!(!looks_like_object_id("SKU-MUG-1"));
        assert!(!looks_like_object_id("w62uwfy35cwmygvwk6twjdni"));
    }
}

//! Feeds in the simulated Amazon: feed documents behind presigned URLs (the
//! simulator's own `/_sim/documents/{id}`, standing in for S3), feeds that
//! are processed asynchronously (`IN_QUEUE` → `IN_PROGRESS` → `DONE` or
//! `FATAL`), JSON_LISTINGS_FEED messages applied to the listings, and the
//! processing report written as a result document.

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde_json::{json, Value};

use crate::gzip;
use crate::sim::listings::{self, Listing};
use crate::sim::model::iso;
use crate::sim::state::{lock, now_seconds, Shared, Store};
use crate::wire::{
    ErrorList, ProcessingReport, ProcessingReportHeader, ReportIssue, ReportSummary,
};

/// The only feed type the simulator processes.
pub(crate) const LISTINGS_FEED: &str = "JSON_LISTINGS_FEED";

/// A feed document: uploaded input or a processing report.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    pub content_type: String,
    pub body: Option<Vec<u8>>,
    /// Served with `compressionAlgorithm: GZIP`.
    pub gzip: bool,
}

/// A submitted feed.
#[derive(Debug, Clone)]
pub(crate) struct SimFeed {
    pub id: String,
    pub feed_type: String,
    pub marketplace_ids: Vec<String>,
    pub created: DateTime<Utc>,
    pub status: &'static str,
    pub started: Option<DateTime<Utc>>,
    pub ended: Option<DateTime<Utc>>,
    pub input_document: String,
    pub result_document: Option<String>,
    pub summary: Option<ReportSummary>,
}

impl SimFeed {
    /// `getFeed`'s answer.
    pub(crate) fn to_json(&self) -> Value {
        let mut v = json!({
            "feedId": self.id,
            "feedType": self.feed_type,
            "marketplaceIds": self.marketplace_ids,
            "createdTime": iso(self.created),
            "processingStatus": self.status,
        });
        if let Some(t) = self.started {
            v["processingStartTime"] = json!(iso(t));
        }
        if let Some(t) = self.ended {
            v["processingEndTime"] = json!(iso(t));
        }
        if let Some(d) = &self.result_document {
            v["resultFeedDocumentId"] = json!(d);
        }
        v
    }

    /// The feed in `/_sim/state`.
    pub(crate) fn state_json(&self) -> Value {
        json!({
            "feed_id": self.id,
            "feed_type": self.feed_type,
            "processing_status": self.status,
            "created_time": iso(self.created),
            "summary": self.summary,
        })
    }
}

/// A new document id in Amazon's shape.
fn document_id(rng: &mut impl Rng) -> String {
    format!(
        "amzn1.tortuga.4.eu.{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}.T1SIMDOC",
        rng.gen::<u32>(),
        rng.gen::<u16>(),
        rng.gen::<u16>() & 0xfff,
        rng.gen::<u16>(),
        rng.gen::<u64>() & 0xffff_ffff_ffff
    )
}

/// Why a call about feeds is refused: the status and the error body.
pub(crate) type Refusal = (u16, ErrorList);

/// The feeds API's 400 (the spec's sandbox code and message, with the
/// reason in `details`).
pub(crate) fn invalid_input(details: String) -> Refusal {
    (400, ErrorList::one("400", "Invalid input", Some(details)))
}

fn not_found(what: String) -> Refusal {
    (
        404,
        ErrorList::one(
            "NotFound",
            "The resource specified does not exist.",
            Some(what),
        ),
    )
}

impl Shared {
    /// The presigned URL of a document.
    pub(crate) fn document_url(&self, id: &str) -> String {
        format!("{}/_sim/documents/{id}", self.base_url)
    }

    /// `createFeedDocument`: a new, empty document and where to upload it.
    pub(crate) fn create_document(&self, content_type: &str) -> Result<Value, Refusal> {
        if content_type.trim().is_empty() {
            return Err(invalid_input("contentType is required".into()));
        }
        let mut store = lock(&self.store);
        let id = document_id(&mut store.rng);
        store.documents.insert(
            id.clone(),
            Document {
                content_type: content_type.to_owned(),
                body: None,
                gzip: false,
            },
        );
        Ok(json!({ "feedDocumentId": id, "url": self.document_url(&id) }))
    }

    /// `getFeedDocument`: where to download a document.
    pub(crate) fn document_info(&self, id: &str) -> Result<Value, Refusal> {
        let store = lock(&self.store);
        let doc = store
            .documents
            .get(id)
            .ok_or_else(|| not_found(format!("no feed document {id}")))?;
        let mut v = json!({ "feedDocumentId": id, "url": self.document_url(id) });
        if doc.gzip {
            v["compressionAlgorithm"] = json!("GZIP");
        }
        Ok(v)
    }

    /// The presigned upload. The URL is signed for the content type the
    /// document was created with, so another one is refused (403), as S3
    /// does; an unknown document is a 404.
    pub(crate) fn upload(
        &self,
        id: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Result<(), u16> {
        let mut store = lock(&self.store);
        let doc = store.documents.get_mut(id).ok_or(404u16)?;
        if content_type != Some(doc.content_type.as_str()) {
            return Err(403);
        }
        doc.body = Some(body);
        Ok(())
    }

    /// The presigned download: the body and its content type.
    pub(crate) fn download(&self, id: &str) -> Option<(Vec<u8>, String)> {
        let store = lock(&self.store);
        let doc = store.documents.get(id)?;
        Some((doc.body.clone()?, doc.content_type.clone()))
    }

    /// `createFeed`: checks the specification and queues the feed.
    pub(crate) fn create_feed(self: &Arc<Self>, spec: &Value) -> Result<Value, Refusal> {
        let feed_type = spec["feedType"].as_str().unwrap_or("");
        if feed_type.is_empty() {
            return Err(invalid_input("feedType is required".into()));
        }
        let marketplace_ids: Vec<String> = spec["marketplaceIds"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|m| m.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        if marketplace_ids.is_empty() || marketplace_ids.len() > 25 {
            return Err(invalid_input(
                "marketplaceIds must list 1 to 25 marketplaces".into(),
            ));
        }
        if let Some(m) = marketplace_ids
            .iter()
            .find(|m| !self.cfg.marketplace_ids.contains(m))
        {
            return Err(invalid_input(format!(
                "the seller does not sell in marketplace {m}"
            )));
        }
        let input = spec["inputFeedDocumentId"].as_str().unwrap_or("");
        let mut store = lock(&self.store);
        match store.documents.get(input) {
            None => {
                return Err(invalid_input(format!(
                    "inputFeedDocumentId {input:?} is not a feed document"
                )))
            }
            Some(d) if d.body.is_none() => {
                return Err(invalid_input(format!(
                    "feed document {input} has not been uploaded"
                )))
            }
            Some(_) => {}
        }
        let id = store.next_feed.to_string();
        store.next_feed += 1;
        store.feeds.insert(
            id.clone(),
            SimFeed {
                id: id.clone(),
                feed_type: feed_type.to_owned(),
                marketplace_ids,
                created: now_seconds(),
                status: "IN_QUEUE",
                started: None,
                ended: None,
                input_document: input.to_owned(),
                result_document: None,
                summary: None,
            },
        );
        drop(store);
        let shared = self.clone();
        let feed_id = id.clone();
        self.tasks
            .spawn(async move { shared.process(feed_id).await });
        Ok(json!({ "feedId": id }))
    }

    /// `getFeed`.
    pub(crate) fn feed_json(&self, id: &str) -> Result<Value, Refusal> {
        lock(&self.store)
            .feeds
            .get(id)
            .map(SimFeed::to_json)
            .ok_or_else(|| not_found(format!("no feed {id}")))
    }

    /// Runs a feed through its statuses, applying it at the end.
    async fn process(&self, id: String) {
        tokio::select! {
            _ = self.cancel.cancelled() => return,
            _ = tokio::time::sleep(self.cfg.feed_queue_time) => {}
        }
        if let Some(f) = lock(&self.store).feeds.get_mut(&id) {
            f.status = "IN_PROGRESS";
            f.started = Some(now_seconds());
        }
        tokio::select! {
            _ = self.cancel.cancelled() => return,
            _ = tokio::time::sleep(self.cfg.feed_processing_time) => {}
        }
        let mut store = lock(&self.store);
        let Some(feed) = store.feeds.get(&id).cloned() else {
            return;
        };
        let input = store
            .documents
            .get(&feed.input_document)
            .and_then(|d| d.body.clone())
            .unwrap_or_default();
        let (status, report) = if feed.feed_type == LISTINGS_FEED {
            apply_listings_feed(&mut store, &self.cfg.seller_id, &id, &input)
        } else {
            let issue = feed_issue(format!(
                "The simulator processes only {LISTINGS_FEED}, not {}.",
                feed.feed_type
            ));
            (
                "FATAL",
                report_of(&self.cfg.seller_id, &id, vec![issue], 0, 0, 0),
            )
        };
        let body = serde_json::to_vec(&report).expect("a report serializes");
        let doc_id = document_id(&mut store.rng);
        let gz = self.cfg.gzip_reports;
        store.documents.insert(
            doc_id.clone(),
            Document {
                content_type: "application/json".into(),
                body: Some(if gz { gzip::gzip_stored(&body) } else { body }),
                gzip: gz,
            },
        );
        if let Some(f) = store.feeds.get_mut(&id) {
            f.status = status;
            f.ended = Some(now_seconds());
            f.result_document = Some(doc_id);
            f.summary = Some(report.summary);
        }
    }
}

fn feed_issue(message: String) -> ReportIssue {
    ReportIssue {
        message_id: None,
        sku: None,
        code: None,
        severity: "ERROR".into(),
        message,
        attribute_name: None,
    }
}

fn report_of(
    seller_id: &str,
    feed_id: &str,
    issues: Vec<ReportIssue>,
    processed: u64,
    accepted: u64,
    invalid: u64,
) -> ProcessingReport {
    ProcessingReport {
        header: ProcessingReportHeader {
            seller_id: seller_id.to_owned(),
            version: "2.0".into(),
            feed_id: feed_id.to_owned(),
        },
        summary: ReportSummary {
            errors: issues.iter().filter(|i| i.severity == "ERROR").count() as u64,
            warnings: issues.iter().filter(|i| i.severity == "WARNING").count() as u64,
            messages_processed: processed,
            messages_accepted: accepted,
            messages_invalid: invalid,
        },
        issues,
    }
}

/// Applies a JSON_LISTINGS_FEED document; the feed's final status and its
/// processing report.
pub(crate) fn apply_listings_feed(
    store: &mut Store,
    seller_id: &str,
    feed_id: &str,
    input: &[u8],
) -> (&'static str, ProcessingReport) {
    let fatal = |message: String| {
        (
            "FATAL",
            report_of(seller_id, feed_id, vec![feed_issue(message)], 0, 0, 0),
        )
    };
    let doc: Value = match serde_json::from_slice(input) {
        Ok(v) => v,
        Err(e) => return fatal(format!("The feed is not valid JSON: {e}")),
    };
    if doc["header"]["sellerId"].as_str() != Some(seller_id) {
        return fatal(format!(
            "header.sellerId {} is not the submitting selling partner.",
            doc["header"]["sellerId"]
        ));
    }
    if doc["header"]["version"] != "2.0" {
        return fatal("header.version must be \"2.0\".".into());
    }
    let messages = match doc["messages"].as_array() {
        Some(m) if !m.is_empty() && m.len() <= 25_000 => m,
        _ => return fatal("messages must hold 1 to 25000 messages.".into()),
    };
    let now = now_seconds();
    let mut issues = Vec::new();
    let mut seen = HashSet::new();
    let (mut accepted, mut invalid) = (0u64, 0u64);
    for m in messages {
        let message_id = m["messageId"].as_u64().filter(|id| *id >= 1);
        let sku = m["sku"].as_str().unwrap_or("").to_owned();
        let problems = match message_id {
            None => vec![listings::issue_text(
                "messageId must be a whole number of at least 1.",
            )],
            Some(id) if !seen.insert(id) => {
                vec![listings::issue_text("messageId is not unique in the feed.")]
            }
            Some(_) if sku.is_empty() => vec![listings::issue_text("sku is required.")],
            Some(_) => apply_message(store, m, &sku, now).err().unwrap_or_default(),
        };
        if problems.is_empty() {
            accepted += 1;
            store.submissions += 1;
        } else {
            invalid += 1;
            issues.extend(problems.into_iter().map(|i| ReportIssue {
                message_id,
                sku: (!sku.is_empty()).then(|| sku.clone()),
                code: Some(i.code),
                severity: i.severity,
                message: i.message,
                attribute_name: i.attribute_names.into_iter().next(),
            }));
        }
    }
    let processed = messages.len() as u64;
    (
        "DONE",
        report_of(seller_id, feed_id, issues, processed, accepted, invalid),
    )
}

/// One message applied to the listings, or its issues.
fn apply_message(
    store: &mut Store,
    m: &Value,
    sku: &str,
    now: DateTime<Utc>,
) -> Result<(), Vec<crate::wire::Issue>> {
    let product_type = m["productType"].as_str().filter(|p| !p.is_empty());
    match m["operationType"].as_str().unwrap_or("") {
        "DELETE" => store
            .listings
            .remove(sku)
            .map(|_| ())
            .ok_or_else(|| vec![listings::unknown_sku(sku)]),
        "PATCH" => {
            let (Some(_), Some(patches)) = (product_type, m["patches"].as_array()) else {
                return Err(vec![listings::issue_text(
                    "PATCH needs productType and patches.",
                )]);
            };
            let listing = store
                .listings
                .get_mut(sku)
                .ok_or_else(|| vec![listings::unknown_sku(sku)])?;
            listings::apply_patches(listing, patches, now)
        }
        op @ ("PARTIAL_UPDATE" | "UPDATE") => {
            let (Some(product_type), Some(attributes)) =
                (product_type, m.get("attributes").filter(|a| a.is_object()))
            else {
                return Err(vec![listings::issue_text(
                    "productType and attributes are required.",
                )]);
            };
            let patches = listings::attributes_as_patches(attributes);
            if op == "UPDATE" && !store.listings.contains_key(sku) {
                let mut fresh = Listing {
                    sku: sku.to_owned(),
                    asin: crate::sim::catalog::asin(sku),
                    title: sku.to_owned(),
                    product_type: product_type.to_owned(),
                    quantity: 0,
                    created: now,
                    updated: now,
                };
                listings::apply_patches(&mut fresh, &patches, now)?;
                store.listings.insert(sku.to_owned(), fresh);
                return Ok(());
            }
            let listing = store
                .listings
                .get_mut(sku)
                .ok_or_else(|| vec![listings::unknown_sku(sku)])?;
            listings::apply_patches(listing, &patches, now)
        }
        other => Err(vec![listings::issue_text(&format!(
            "operationType {other:?} is not UPDATE, PARTIAL_UPDATE, PATCH or DELETE."
        ))]),
    }
}

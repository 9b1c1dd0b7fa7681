//! Stock push-back: published levels become a listing's merchant-fulfilled
//! quantity (`fulfillment_availability`, channel `DEFAULT`). Small batches go
//! one `patchListingsItem` per SKU; batches above `feed_threshold` go as one
//! JSON_LISTINGS_FEED (createFeedDocument → upload → createFeed → getFeed
//! until done → the processing report). Levels are absolute, so sending one
//! twice is harmless; a retried batch finds the feed it already submitted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use chansync_sdk::{ConnectorError, StockLevel, StockRejection};
use futures::stream::{self, StreamExt};
use reqwest::Method;
use tokio::time::Instant;

use crate::client::SpApi;
use crate::config::Settings;
use crate::feed;
use crate::gzip;
use crate::ops::Operation;
use crate::wire::{
    CreateFeedDocumentResponse, CreateFeedDocumentSpecification, CreateFeedResponse,
    CreateFeedSpecification, Feed, FeedDocument, ListingsItemPatchRequest,
    ListingsItemSubmissionResponse, ProcessingReport,
};

/// Listings patches in flight at once (the limiter paces them).
const PATCH_CONCURRENCY: usize = 4;
/// How long a submitted feed is resumed by a retried batch before a new one
/// is sent instead.
const RESUME_FEEDS_FOR: Duration = Duration::from_secs(3600);

/// Feeds submitted but not yet seen finished, by batch key.
#[derive(Default)]
pub(crate) struct PendingFeeds {
    feeds: Mutex<HashMap<String, (String, Instant)>>,
}

impl PendingFeeds {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, Instant)>> {
        self.feeds
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn get(&self, key: &str, max_age: Duration) -> Option<String> {
        let mut feeds = self.lock();
        feeds.retain(|_, (_, at)| at.elapsed() < max_age);
        feeds.get(key).map(|(id, _)| id.clone())
    }

    fn put(&self, key: String, feed_id: String) {
        self.lock().insert(key, (feed_id, Instant::now()));
    }

    fn remove(&self, key: &str) {
        self.lock().remove(key);
    }
}

fn reject(level: &StockLevel, message: String) -> StockRejection {
    tracing::warn!(channel_sku = %level.channel_sku, %message, "stock level refused");
    StockRejection {
        channel_sku: level.channel_sku.clone(),
        error: ConnectorError::Permanent(message),
    }
}

/// One push of levels.
pub(crate) struct StockPusher<'a> {
    pub api: &'a SpApi,
    pub settings: &'a Settings,
    pub seller_id: &'a str,
    pub pending: &'a PendingFeeds,
}

impl StockPusher<'_> {
    pub(crate) async fn push(
        &self,
        levels: &[StockLevel],
    ) -> Result<Vec<StockRejection>, ConnectorError> {
        let mut rejections = Vec::new();
        let mut valid = Vec::with_capacity(levels.len());
        for level in levels {
            if level.quantity < 0 {
                rejections.push(reject(
                    level,
                    format!("Amazon takes no negative quantity ({})", level.quantity),
                ));
            } else if level.channel_sku.trim().is_empty() {
                rejections.push(reject(level, "empty SKU".into()));
            } else {
                valid.push(level);
            }
        }
        if valid.len() > self.settings.feed_threshold {
            rejections.extend(self.by_feed(&valid).await?);
        } else {
            rejections.extend(self.by_patches(&valid).await?);
        }
        Ok(rejections)
    }

    /// One `patchListingsItem` per level; a level Amazon refuses is rejected
    /// while the others apply.
    async fn by_patches(
        &self,
        levels: &[&StockLevel],
    ) -> Result<Vec<StockRejection>, ConnectorError> {
        // The futures are built first: a closure inside the stream trips the
        // `Send` check of the async trait.
        let patches: Vec<_> = levels.iter().map(|level| self.patch(level)).collect();
        let results: Vec<Result<Option<StockRejection>, ConnectorError>> = stream::iter(patches)
            .buffer_unordered(PATCH_CONCURRENCY)
            .collect()
            .await;
        let mut rejections = Vec::new();
        for r in results {
            if let Some(rejection) = r? {
                rejections.push(rejection);
            }
        }
        Ok(rejections)
    }

    async fn patch(&self, level: &StockLevel) -> Result<Option<StockRejection>, ConnectorError> {
        let url = self.api.url(
            &[
                "listings",
                "2021-08-01",
                "items",
                self.seller_id,
                &level.channel_sku,
            ],
            &[
                ("marketplaceIds", self.settings.marketplace_ids.join(",")),
                ("issueLocale", feed::ISSUE_LOCALE.to_owned()),
            ],
        );
        let body = serde_json::to_value(ListingsItemPatchRequest {
            product_type: self.settings.product_type.clone(),
            patches: vec![feed::quantity_patch(level.quantity)],
        })
        .expect("a patch serializes");
        let answer = self
            .api
            .call::<ListingsItemSubmissionResponse>(
                Operation::PatchListingsItem,
                Method::PATCH,
                url,
                Some(&body),
            )
            .await;
        let resp = match answer {
            Ok(resp) => resp,
            Err(ConnectorError::Permanent(message)) => return Ok(Some(reject(level, message))),
            Err(e) => return Err(e),
        };
        let errors: Vec<String> = resp
            .issues
            .iter()
            .filter(|i| i.severity == "ERROR")
            .map(|i| format!("{}: {}", i.code, i.message))
            .collect();
        match resp.status.as_str() {
            "INVALID" => Ok(Some(reject(
                level,
                format!(
                    "Amazon refused the quantity of {} (INVALID): {}",
                    level.channel_sku,
                    errors.join("; ")
                ),
            ))),
            "ACCEPTED" | "VALID" => {
                for i in resp.issues.iter().filter(|i| i.severity != "INFO") {
                    tracing::info!(channel_sku = %level.channel_sku, code = %i.code,
                        severity = %i.severity, message = %i.message, "listing issue");
                }
                Ok(None)
            }
            other => Err(ConnectorError::InvalidResponse(format!(
                "patchListingsItem {}: unknown status {other:?}",
                level.channel_sku
            ))),
        }
    }

    /// One JSON_LISTINGS_FEED for the whole batch.
    async fn by_feed(&self, levels: &[&StockLevel]) -> Result<Vec<StockRejection>, ConnectorError> {
        let doc = feed::build(self.seller_id, &self.settings.product_type, levels);
        let key = feed::batch_key(levels);
        let remembered = self.pending.get(&key, RESUME_FEEDS_FOR);
        let feed_id = match remembered {
            Some(id) => {
                tracing::info!(feed_id = %id, "resuming the feed this batch was already sent in");
                id
            }
            None => {
                let id = self.submit(&doc.feed).await?;
                self.pending.put(key.clone(), id.clone());
                id
            }
        };
        let finished = self.wait(&feed_id).await?;
        self.pending.remove(&key);
        match finished.processing_status.as_str() {
            "DONE" => {}
            "FATAL" => {
                let detail = match &finished.result_feed_document_id {
                    Some(doc_id) => self
                        .report(doc_id)
                        .await
                        .map(|r| feed::outcome(&r, &doc.skus).feed_errors.unwrap_or_default())
                        .unwrap_or_default(),
                    None => String::new(),
                };
                return Err(ConnectorError::Transient(format!(
                    "feed {feed_id} ended FATAL; some of it may have applied {detail}"
                )));
            }
            other => {
                return Err(ConnectorError::Transient(format!(
                    "feed {feed_id} ended {other} before processing"
                )))
            }
        }
        let doc_id = finished.result_feed_document_id.ok_or_else(|| {
            ConnectorError::InvalidResponse(format!(
                "feed {feed_id} is DONE without a result document"
            ))
        })?;
        let report = self.report(&doc_id).await?;
        let out = feed::outcome(&report, &doc.skus);
        if let Some(errors) = out.feed_errors {
            return Err(ConnectorError::Permanent(format!(
                "Amazon refused feed {feed_id}: {errors}"
            )));
        }
        tracing::info!(feed_id = %feed_id, accepted = report.summary.messages_accepted,
            invalid = report.summary.messages_invalid, "stock feed processed");
        Ok(out.rejections)
    }

    /// createFeedDocument, upload, createFeed; the feed's id.
    async fn submit(&self, feed: &crate::wire::ListingsFeed) -> Result<String, ConnectorError> {
        let spec = serde_json::to_value(CreateFeedDocumentSpecification {
            content_type: feed::CONTENT_TYPE.into(),
        })
        .expect("a specification serializes");
        let url = self.api.url(&["feeds", "2021-06-30", "documents"], &[]);
        let document: CreateFeedDocumentResponse = self
            .api
            .call(
                Operation::CreateFeedDocument,
                Method::POST,
                url,
                Some(&spec),
            )
            .await?;
        let bytes = serde_json::to_vec(feed).expect("a feed serializes");
        self.api
            .upload(&document.url, feed::CONTENT_TYPE, bytes)
            .await?;
        let spec = serde_json::to_value(CreateFeedSpecification {
            feed_type: feed::FEED_TYPE.into(),
            marketplace_ids: self.settings.marketplace_ids.clone(),
            input_feed_document_id: document.feed_document_id,
        })
        .expect("a specification serializes");
        let url = self.api.url(&["feeds", "2021-06-30", "feeds"], &[]);
        // A second feed after a lost answer only sets the same levels again.
        let created: CreateFeedResponse = self
            .api
            .call(Operation::CreateFeed, Method::POST, url, Some(&spec))
            .await?;
        tracing::info!(feed_id = %created.feed_id, messages = feed.messages.len(), "stock feed submitted");
        Ok(created.feed_id)
    }

    /// Reads the feed until it is finished or `feed_timeout` has passed.
    async fn wait(&self, feed_id: &str) -> Result<Feed, ConnectorError> {
        let deadline = Instant::now() + self.settings.feed_timeout;
        let url = self
            .api
            .url(&["feeds", "2021-06-30", "feeds", feed_id], &[]);
        loop {
            let feed: Feed = self
                .api
                .call(Operation::GetFeed, Method::GET, url.clone(), None)
                .await?;
            if matches!(
                feed.processing_status.as_str(),
                "DONE" | "FATAL" | "CANCELLED"
            ) {
                return Ok(feed);
            }
            if Instant::now() + self.settings.feed_poll_every > deadline {
                return Err(ConnectorError::Transient(format!(
                    "feed {feed_id} still {} after {:?}",
                    feed.processing_status, self.settings.feed_timeout
                )));
            }
            tokio::time::sleep(self.settings.feed_poll_every).await;
        }
    }

    /// getFeedDocument, download (and gunzip) the processing report.
    async fn report(&self, doc_id: &str) -> Result<ProcessingReport, ConnectorError> {
        let url = self
            .api
            .url(&["feeds", "2021-06-30", "documents", doc_id], &[]);
        let doc: FeedDocument = self
            .api
            .call(Operation::GetFeedDocument, Method::GET, url, None)
            .await?;
        let mut bytes = self.api.download(&doc.url).await?;
        match doc.compression_algorithm.as_deref() {
            None => {}
            Some("GZIP") => {
                bytes = gzip::gunzip(&bytes).map_err(|e| {
                    ConnectorError::InvalidResponse(format!("report {doc_id}: {e}"))
                })?;
            }
            Some(other) => {
                return Err(ConnectorError::InvalidResponse(format!(
                    "report {doc_id}: unknown compression {other:?}"
                )))
            }
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ConnectorError::InvalidResponse(format!("report {doc_id}: {e}")))
    }
}

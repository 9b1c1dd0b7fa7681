//! The JSON_LISTINGS_FEED side of stock push, without I/O: the feed document
//! (one `PATCH` message per SKU setting `fulfillment_availability`), and the
//! processing report read back into per-SKU rejections.

use std::collections::{BTreeMap, HashMap};

use chansync_sdk::{ConnectorError, StockLevel, StockRejection};
use serde_json::json;

use crate::wire::{
    ListingsFeed, ListingsFeedHeader, ListingsFeedMessage, PatchOperation, ProcessingReport,
};

/// The feed type stock goes by.
pub const FEED_TYPE: &str = "JSON_LISTINGS_FEED";
/// The content type the feed document is declared and uploaded with.
pub const CONTENT_TYPE: &str = "application/json; charset=UTF-8";
/// The attribute a stock level sets.
pub const QUANTITY_PATH: &str = "/attributes/fulfillment_availability";
/// The fulfilment channel of merchant-fulfilled quantity.
pub const MERCHANT_CHANNEL: &str = "DEFAULT";
/// The locale issues are written in.
pub const ISSUE_LOCALE: &str = "en_US";

/// The patch setting a SKU's merchant-fulfilled quantity.
pub fn quantity_patch(quantity: i64) -> PatchOperation {
    PatchOperation {
        op: "replace".into(),
        path: QUANTITY_PATH.into(),
        value: Some(vec![json!({
            "fulfillment_channel_code": MERCHANT_CHANNEL,
            "quantity": quantity,
        })]),
    }
}

/// A feed document and which SKU each message id carries.
pub struct FeedDocument {
    pub feed: ListingsFeed,
    pub skus: HashMap<u64, String>,
}

/// One `PATCH` message per level, numbered from 1.
pub fn build(seller_id: &str, product_type: &str, levels: &[&StockLevel]) -> FeedDocument {
    let mut skus = HashMap::with_capacity(levels.len());
    let messages = levels
        .iter()
        .zip(1u64..)
        .map(|(level, id)| {
            skus.insert(id, level.channel_sku.clone());
            ListingsFeedMessage {
                message_id: id,
                sku: level.channel_sku.clone(),
                operation_type: "PATCH".into(),
                product_type: Some(product_type.to_owned()),
                patches: Some(vec![quantity_patch(level.quantity)]),
                attributes: None,
            }
        })
        .collect();
    FeedDocument {
        feed: ListingsFeed {
            header: ListingsFeedHeader {
                seller_id: seller_id.to_owned(),
                version: "2.0".into(),
                issue_locale: Some(ISSUE_LOCALE.into()),
            },
            messages,
        },
        skus,
    }
}

/// A stable key for a batch's content: the same levels (in any order) give
/// the same key, so a retried push can find the feed it already submitted.
pub fn batch_key(levels: &[&StockLevel]) -> String {
    let mut parts: Vec<String> = levels
        .iter()
        .map(|l| format!("{}={}", l.channel_sku, l.quantity))
        .collect();
    parts.sort_unstable();
    let digest =
        chansync_sdk::webhook::hmac_sha256(b"chansync/amazon-feed", parts.join("\n").as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// What a processing report says about a feed's messages.
#[derive(Debug)]
pub struct Outcome {
    /// Levels Amazon refused, one per SKU.
    pub rejections: Vec<StockRejection>,
    /// Errors about the feed as a whole, when no message was accepted.
    pub feed_errors: Option<String>,
}

/// Reads a processing report: every `ERROR` issue of a message rejects its
/// SKU; feed-level errors fail the batch when nothing was accepted.
pub fn outcome(report: &ProcessingReport, skus: &HashMap<u64, String>) -> Outcome {
    let mut per_sku: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut feed_level = Vec::new();
    for issue in report.issues.iter().filter(|i| i.severity == "ERROR") {
        let text = match &issue.code {
            Some(code) => format!("{code}: {}", issue.message),
            None => issue.message.clone(),
        };
        let sku = issue
            .message_id
            .and_then(|id| skus.get(&id).cloned())
            .or_else(|| issue.sku.clone().filter(|_| issue.message_id.is_some()));
        match sku {
            Some(sku) => per_sku.entry(sku).or_default().push(text),
            None => feed_level.push(text),
        }
    }
    let rejections = per_sku
        .into_iter()
        .map(|(sku, texts)| StockRejection {
            error: ConnectorError::Permanent(format!(
                "Amazon refused the quantity of {sku}: {}",
                texts.join("; ")
            )),
            channel_sku: sku,
        })
        .collect();
    let feed_errors = (!feed_level.is_empty() && report.summary.messages_accepted == 0)
        .then(|| feed_level.join("; "));
    Outcome {
        rejections,
        feed_errors,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{ProcessingReportHeader, ReportIssue, ReportSummary};

    fn level(sku: &str, quantity: i64) -> StockLevel {
        StockLevel {
            channel_sku: sku.into(),
            channel_location: None,
            quantity,
            idempotency_key: format!("k-{sku}"),
        }
    }

    #[test]
    fn the_document_follows_the_listings_feed_schema_example() {
        let levels = [level("My-SKU-D", 10)];
        let refs: Vec<&StockLevel> = levels.iter().collect();
        let doc = build("AXXXXXXXXXXXX", "LUGGAGE", &refs);
        let json = serde_json::to_value(&doc.feed).unwrap();
        // Message 4 of listings-feed-schema-v2.example.json, renumbered.
        let example: serde_json::Value = serde_json::from_str(include_str!(
            "../tests/fixtures/listings-feed-schema-v2.example.json"
        ))
        .unwrap();
        let mut expected = example["messages"][3].clone();
        expected["messageId"] = json!(1);
        assert_eq!(json["messages"][0], expected);
        assert_eq!(json["header"]["version"], "2.0");
        assert_eq!(json["header"]["sellerId"], "AXXXXXXXXXXXX");
        assert_eq!(doc.skus[&1], "My-SKU-D");
    }

    #[test]
    fn batch_keys_ignore_order_but_not_content() {
        let (a, b) = (level("A", 1), level("B", 2));
        assert_eq!(batch_key(&[&a, &b]), batch_key(&[&b, &a]));
        assert_ne!(batch_key(&[&a, &b]), batch_key(&[&a, &level("B", 3)]));
    }

    fn report(issues: Vec<ReportIssue>, accepted: u64) -> ProcessingReport {
        ProcessingReport {
            header: ProcessingReportHeader {
                seller_id: "S".into(),
                version: "2.0".into(),
                feed_id: "1".into(),
            },
            summary: ReportSummary {
                errors: issues.len() as u64,
                warnings: 0,
                messages_processed: 3,
                messages_accepted: accepted,
                messages_invalid: 3 - accepted,
            },
            issues,
        }
    }

    fn issue(message_id: Option<u64>, severity: &str, message: &str) -> ReportIssue {
        ReportIssue {
            message_id,
            sku: None,
            code: Some("90220".into()),
            severity: severity.into(),
            message: message.into(),
            attribute_name: None,
        }
    }

    #[test]
    fn message_errors_reject_their_sku_and_warnings_do_not() {
        let skus: HashMap<u64, String> = [
            (1, "A".to_owned()),
            (2, "B".to_owned()),
            (3, "C".to_owned()),
        ]
        .into();
        let r = report(
            vec![
                issue(Some(2), "ERROR", "no such SKU"),
                issue(Some(2), "ERROR", "bad quantity"),
                issue(Some(3), "WARNING", "just so you know"),
            ],
            2,
        );
        let out = outcome(&r, &skus);
        assert!(out.feed_errors.is_none());
        assert_eq!(out.rejections.len(), 1);
        assert_eq!(out.rejections[0].channel_sku, "B");
        let msg = out.rejections[0].error.to_string();
        assert!(
            msg.contains("no such SKU") && msg.contains("bad quantity"),
            "{msg}"
        );
        assert!(!out.rejections[0].error.is_retryable());
    }

    #[test]
    fn feed_level_errors_fail_the_batch_only_when_nothing_was_accepted() {
        let skus = HashMap::new();
        let bad = report(vec![issue(None, "ERROR", "unreadable feed")], 0);
        assert_eq!(
            outcome(&bad, &skus).feed_errors.as_deref(),
            Some("90220: unreadable feed")
        );
        let partial = report(vec![issue(None, "ERROR", "odd header")], 3);
        assert!(outcome(&partial, &skus).feed_errors.is_none());
    }
}

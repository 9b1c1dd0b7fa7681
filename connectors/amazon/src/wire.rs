//! The SP-API's JSON, as the specs in `shared/specs/amazon/` define it: Orders
//! v0 (PascalCase, wrapped in `payload`), Listings Items 2021-08-01 and Feeds
//! 2021-06-30 (camelCase), the JSON_LISTINGS_FEED document and its processing
//! report, the common error body, and Login with Amazon's token answers.
//! Only the fields chansync reads or the simulator writes are named; the rest
//! is ignored on reading (the raw JSON is kept for audit).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// `{"errors": [...]}`: the error body of every SP-API operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ErrorList {
    #[serde(default)]
    pub errors: Vec<ApiError>,
}

/// One entry of an [`ErrorList`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
}

impl ErrorList {
    /// One error.
    pub fn one(code: &str, message: &str, details: Option<String>) -> Self {
        ErrorList {
            errors: vec![ApiError {
                code: code.to_owned(),
                message: message.to_owned(),
                details,
            }],
        }
    }

    /// `code: message (details)` of each error, for logs and error values.
    pub fn describe(&self) -> String {
        self.errors
            .iter()
            .map(|e| match e.details.as_deref().filter(|d| !d.is_empty()) {
                Some(d) => format!("{}: {} ({d})", e.code, e.message),
                None => format!("{}: {}", e.code, e.message),
            })
            .collect::<Vec<_>>()
            .join("; ")
    }
}

/// The Orders API's envelope: `payload` on success, `errors` otherwise.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope<T> {
    #[serde(default = "Option::default", skip_serializing_if = "Option::is_none")]
    pub payload: Option<T>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<ApiError>>,
}

/// An amount with its currency (Orders v0 `Money`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Money {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub currency_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<String>,
}

/// Orders v0 `Address`. Most fields are restricted data and may be absent.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line1: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub county: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_or_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
}

/// Orders v0 `BuyerInfo` (restricted data: often absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BuyerInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purchase_order_number: Option<String>,
}

/// Orders v0 `Order`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Order {
    pub amazon_order_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_order_id: Option<String>,
    pub purchase_date: String,
    pub last_update_date: String,
    /// Pending, Unshipped, PartiallyShipped, Shipped, Canceled,
    /// Unfulfillable, InvoiceUnconfirmed or PendingAvailability.
    pub order_status: String,
    /// `MFN` (the seller ships) or `AFN` (Amazon ships).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sales_channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_service_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_total: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_items_shipped: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_items_unshipped: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketplace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_service_level_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_ship_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_ship_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_business_order: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_prime: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_replacement_order: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub buyer_info: Option<BuyerInfo>,
}

/// Orders v0 `OrdersList`: one page of `getOrders`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrdersList {
    /// Kept as JSON so the channel's full order is stored for audit.
    pub orders: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_updated_before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_before: Option<String>,
}

/// Orders v0 `OrderItem`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrderItem {
    #[serde(rename = "ASIN")]
    pub asin: String,
    #[serde(rename = "SellerSKU", default, skip_serializing_if = "Option::is_none")]
    pub seller_sku: Option<String>,
    pub order_item_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub quantity_ordered: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_shipped: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_tax: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_tax: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_discount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_discount_tax: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_discount: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotion_discount_tax: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_gift: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub condition_id: Option<String>,
}

/// Orders v0 `OrderItemsList`: one page of `getOrderItems`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OrderItemsList {
    pub amazon_order_id: String,
    /// Kept as JSON so the channel's full items are stored for audit.
    pub order_items: Vec<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `confirmShipment`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmShipmentRequest {
    pub package_detail: PackageDetail,
    pub marketplace_id: String,
}

/// One package of a shipment confirmation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageDetail {
    /// Positive numeric, unique per package within the order.
    pub package_reference_id: String,
    pub carrier_code: String,
    /// Required when `carrierCode` is `Other`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_method: Option<String>,
    pub tracking_number: String,
    /// ISO 8601 date-time.
    pub ship_date: String,
    pub order_items: Vec<ConfirmShipmentOrderItem>,
}

/// An order item and how many of it are in the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConfirmShipmentOrderItem {
    pub order_item_id: String,
    pub quantity: u32,
}

/// One JSON Patch operation (Listings Items and JSON_LISTINGS_FEED).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PatchOperation {
    /// `add`, `replace`, `merge` or `delete`.
    pub op: String,
    /// A JSON pointer such as `/attributes/fulfillment_availability`.
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Vec<Value>>,
}

/// `patchListingsItem`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListingsItemPatchRequest {
    pub product_type: String,
    pub patches: Vec<PatchOperation>,
}

/// An issue with a listings submission.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    pub code: String,
    pub message: String,
    /// `ERROR`, `WARNING` or `INFO`.
    pub severity: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attribute_names: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
}

/// `patchListingsItem`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListingsItemSubmissionResponse {
    pub sku: String,
    /// `ACCEPTED`, `INVALID` or (validation preview only) `VALID`.
    pub status: String,
    pub submission_id: String,
    #[serde(default)]
    pub issues: Vec<Issue>,
}

/// `createFeedDocument`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFeedDocumentSpecification {
    pub content_type: String,
}

/// `createFeedDocument`'s answer: where to upload the document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFeedDocumentResponse {
    pub feed_document_id: String,
    pub url: String,
}

/// `createFeed`'s body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFeedSpecification {
    pub feed_type: String,
    pub marketplace_ids: Vec<String>,
    pub input_feed_document_id: String,
}

/// `createFeed`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFeedResponse {
    pub feed_id: String,
}

/// `getFeed`'s answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Feed {
    pub feed_id: String,
    pub feed_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub marketplace_ids: Vec<String>,
    pub created_time: String,
    /// `CANCELLED`, `DONE`, `FATAL`, `IN_PROGRESS` or `IN_QUEUE`.
    pub processing_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_start_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub processing_end_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_feed_document_id: Option<String>,
}

/// `getFeedDocument`'s answer: where to download a document.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeedDocument {
    pub feed_document_id: String,
    pub url: String,
    /// `GZIP` when the contents are compressed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compression_algorithm: Option<String>,
}

/// A JSON_LISTINGS_FEED document (listings-feed-schema-v2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListingsFeed {
    pub header: ListingsFeedHeader,
    pub messages: Vec<ListingsFeedMessage>,
}

/// The feed's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListingsFeedHeader {
    pub seller_id: String,
    /// Always `2.0`.
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issue_locale: Option<String>,
}

/// One message of a listings feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListingsFeedMessage {
    pub message_id: u64,
    pub sku: String,
    /// `UPDATE`, `PARTIAL_UPDATE`, `PATCH` or `DELETE`.
    pub operation_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub patches: Option<Vec<PatchOperation>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attributes: Option<Value>,
}

/// A listings feed's processing report
/// (listings-feed-processing-report-schema-v2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProcessingReport {
    pub header: ProcessingReportHeader,
    #[serde(default)]
    pub issues: Vec<ReportIssue>,
    pub summary: ReportSummary,
}

/// The report's header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessingReportHeader {
    pub seller_id: String,
    pub version: String,
    pub feed_id: String,
}

/// An issue of a processing report; `messageId` is absent for feed-level
/// issues (a formatting error).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportIssue {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// `ERROR`, `WARNING` or `INFO`.
    pub severity: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attribute_name: Option<String>,
}

/// The report's counts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportSummary {
    pub errors: u64,
    pub warnings: u64,
    pub messages_processed: u64,
    pub messages_accepted: u64,
    pub messages_invalid: u64,
}

/// Login with Amazon's token answer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
}

/// Login with Amazon's error answer (OAuth 2.0).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenError {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_description: Option<String>,
}

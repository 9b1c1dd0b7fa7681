//! The push-back half of the simulated schema: locations and inventory items
//! (read to map SKUs and quantities), fulfilment orders, and the mutations
//! `inventorySetQuantities`, `fulfillmentCreate` and `orderCancel` with
//! Shopify's argument types, payloads and user-error codes.

use std::sync::Arc;

use async_graphql::{
    Context, CustomDirective, Directive, Enum, Error, ErrorExtensions, InputObject, MaybeUndefined,
    Object, Result, SimpleObject, Value, ID,
};

use crate::sim::fulfil::{
    fulfillment_order_gid, fulfillment_order_id, fulfillment_order_line_gid,
    fulfillment_order_line_id, ByFulfillmentOrder, FulfillmentOrderStatus,
};
use crate::sim::model::{CancelReason, SimOrder, SimTracking};
use crate::sim::schema::{
    connection, id_key, parse_gid, ApiVersion, DateTime, Fulfillment, LineItem, Order, PageInfo,
    UnsignedInt64, Url,
};
use crate::sim::search::{encode_cursor, paginate, Page, PageArgs, SortBy};
use crate::sim::state::{CancelOptions, CancelRefusal, Shared};
use crate::sim::stock::{
    item_gid, location_gid, Adjustment, Change, ChangeFrom, Level, SetError, SetErrorCode,
    SetQuantity, SetRequest, SetRules, SimItem, SimLocation, QUANTITY_NAMES,
};
use crate::sim::webhooks::uuid_like;

/// The first API version that requires `@idempotent` on inventory mutations
/// and `changeFromQuantity` on every quantity.
const STRICT_INVENTORY_VERSION: &str = "2026-04";

struct Idempotent;

impl CustomDirective for Idempotent {}

/// Shopify's `@idempotent(key:)`, read by the mutations that honour it.
#[Directive(location = "Field")]
pub(crate) fn idempotent(key: String) -> impl CustomDirective {
    let _ = key;
    Idempotent
}

/// The `@idempotent` key on the field being resolved, if any.
fn idempotency_key(ctx: &Context<'_>) -> Result<Option<String>> {
    let directives = ctx
        .field()
        .directives()
        .map_err(|e| Error::new(e.message))?;
    Ok(directives
        .iter()
        .filter(|d| d.name.node == "idempotent")
        .flat_map(|d| &d.arguments)
        .find(|(name, _)| name.node == "key")
        .and_then(|(_, v)| match &v.node {
            Value::String(s) => Some(s.clone()),
            _ => None,
        }))
}

fn api_version(ctx: &Context<'_>) -> String {
    match ctx.data_opt::<ApiVersion>() {
        Some(v) => v.0.clone(),
        None => ctx.data_unchecked::<Arc<Shared>>().cfg.api_version.clone(),
    }
}

fn shared<'a>(ctx: &Context<'a>) -> &'a Arc<Shared> {
    ctx.data_unchecked::<Arc<Shared>>()
}

fn page_args(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
    reverse: bool,
) -> PageArgs {
    PageArgs {
        first,
        after,
        last,
        before,
        reverse,
    }
}

fn clamp_int(n: i64) -> i32 {
    n.clamp(i32::MIN as i64, i32::MAX as i64) as i32
}

#[derive(Clone)]
pub(crate) struct Location(pub(crate) SimLocation);

#[Object]
impl Location {
    async fn id(&self) -> ID {
        ID(location_gid(self.0.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.0.id)
    }
    async fn name(&self) -> String {
        self.0.name.clone()
    }
    async fn is_active(&self) -> bool {
        self.0.active
    }
    async fn fulfills_online_orders(&self) -> bool {
        true
    }
}

connection!(LocationConnection, LocationEdge, Location);

#[derive(Clone)]
pub(crate) struct InventoryItem(pub(crate) SimItem);

#[Object]
impl InventoryItem {
    async fn id(&self) -> ID {
        ID(item_gid(self.0.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.0.id)
    }
    async fn sku(&self) -> Option<String> {
        Some(self.0.sku.clone())
    }
    async fn tracked(&self) -> bool {
        true
    }
    /// The item's level at a location, or null where it is not stocked.
    async fn inventory_level(
        &self,
        ctx: &Context<'_>,
        location_id: ID,
    ) -> Result<Option<InventoryLevel>> {
        let loc = parse_gid(&location_id, "Location")
            .ok_or_else(|| Error::new(format!("Invalid global id '{}'", location_id.as_str())))?;
        Ok(shared(ctx).with_inventory(|inv| {
            let location = inv.location(loc)?.clone();
            let level = inv.level(self.0.id, loc)?;
            Some(InventoryLevel {
                item: self.0.clone(),
                location,
                level,
            })
        }))
    }
}

connection!(InventoryItemConnection, InventoryItemEdge, InventoryItem);

pub(crate) struct InventoryLevel {
    item: SimItem,
    location: SimLocation,
    level: Level,
}

#[derive(SimpleObject)]
pub(crate) struct InventoryQuantity {
    name: String,
    quantity: i32,
    updated_at: Option<DateTime>,
}

#[Object]
impl InventoryLevel {
    async fn id(&self) -> ID {
        ID(format!(
            "gid://shopify/InventoryLevel/{}?inventory_item_id={}",
            self.location.id, self.item.id
        ))
    }
    /// The named quantities, in the order asked.
    async fn quantities(&self, names: Vec<String>) -> Result<Vec<InventoryQuantity>> {
        names
            .into_iter()
            .map(|name| {
                if !QUANTITY_NAMES.contains(&name.as_str()) {
                    return Err(Error::new(format!("Invalid quantity name: '{name}'")));
                }
                Ok(InventoryQuantity {
                    quantity: clamp_int(self.level.quantity(&name)),
                    updated_at: Some(DateTime(self.level.updated_at)),
                    name,
                })
            })
            .collect()
    }
    async fn item(&self) -> InventoryItem {
        InventoryItem(self.item.clone())
    }
    async fn location(&self) -> Location {
        Location(self.location.clone())
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.level.updated_at)
    }
}

/// An order's fulfilment order (one per order in the simulated shop).
#[derive(Clone)]
pub(crate) struct FulfillmentOrder(pub(crate) Arc<SimOrder>);

impl FulfillmentOrder {
    pub(crate) fn numeric_id(&self) -> u64 {
        fulfillment_order_id(self.0.id)
    }
}

#[derive(SimpleObject)]
pub(crate) struct FulfillmentOrderAssignedLocation {
    name: String,
    location: Option<Location>,
}

#[Object]
impl FulfillmentOrder {
    async fn id(&self) -> ID {
        ID(fulfillment_order_gid(self.numeric_id()))
    }
    async fn status(&self) -> FulfillmentOrderStatus {
        self.0.fulfillment_order_status()
    }
    async fn assigned_location(&self, ctx: &Context<'_>) -> FulfillmentOrderAssignedLocation {
        let primary = shared(ctx).with_inventory(|inv| inv.primary().clone());
        FulfillmentOrderAssignedLocation {
            name: primary.name.clone(),
            location: Some(Location(primary)),
        }
    }
    async fn order(&self) -> Order {
        Order(self.0.clone())
    }
    async fn line_items(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> Result<FulfillmentOrderLineItemConnection> {
        let items = (0..self.0.lines.len())
            .map(|index| {
                (
                    id_key(fulfillment_order_line_id(self.0.lines[index].id)),
                    FulfillmentOrderLineItem {
                        order: self.0.clone(),
                        index,
                    },
                )
            })
            .collect();
        let args = page_args(first, after, last, before, reverse);
        let page = paginate(items, SortBy::Id, &args).map_err(Error::new)?;
        Ok(FulfillmentOrderLineItemConnection::from_page(
            page,
            SortBy::Id,
        ))
    }
}

connection!(
    FulfillmentOrderConnection,
    FulfillmentOrderEdge,
    FulfillmentOrder
);

/// The fulfilment order line for order line `index`.
#[derive(Clone)]
pub(crate) struct FulfillmentOrderLineItem {
    order: Arc<SimOrder>,
    index: usize,
}

#[Object]
impl FulfillmentOrderLineItem {
    async fn id(&self) -> ID {
        ID(fulfillment_order_line_gid(fulfillment_order_line_id(
            self.order.lines[self.index].id,
        )))
    }
    async fn sku(&self) -> Option<String> {
        self.order.lines[self.index].sku.clone()
    }
    async fn total_quantity(&self) -> i32 {
        self.order.lines[self.index].current_quantity as i32
    }
    async fn remaining_quantity(&self) -> i32 {
        self.order.remaining_quantity(&self.order.lines[self.index]) as i32
    }
    async fn line_item(&self) -> LineItem {
        LineItem {
            order: self.order.clone(),
            index: self.index,
        }
    }
}

connection!(
    FulfillmentOrderLineItemConnection,
    FulfillmentOrderLineItemEdge,
    FulfillmentOrderLineItem
);

// ---- inventorySetQuantities

#[derive(InputObject)]
pub(crate) struct InventoryQuantityInput {
    /// Required from 2026-04 on; null skips the compare-and-swap check.
    change_from_quantity: MaybeUndefined<i32>,
    inventory_item_id: ID,
    location_id: ID,
    quantity: i32,
}

#[derive(InputObject)]
pub(crate) struct InventorySetQuantitiesInput {
    name: String,
    reason: String,
    reference_document_uri: Option<String>,
    quantities: Vec<InventoryQuantityInput>,
}

impl InventorySetQuantitiesInput {
    fn to_request(&self) -> SetRequest {
        SetRequest {
            name: self.name.clone(),
            reason: self.reason.clone(),
            reference_document_uri: self.reference_document_uri.clone(),
            quantities: self
                .quantities
                .iter()
                .map(|q| SetQuantity {
                    inventory_item_id: q.inventory_item_id.to_string(),
                    location_id: q.location_id.to_string(),
                    quantity: q.quantity.into(),
                    change_from: match q.change_from_quantity {
                        MaybeUndefined::Undefined => ChangeFrom::Omitted,
                        MaybeUndefined::Null => ChangeFrom::Null,
                        MaybeUndefined::Value(v) => ChangeFrom::Value(v.into()),
                    },
                })
                .collect(),
        }
    }
}

#[derive(SimpleObject)]
pub(crate) struct InventorySetQuantitiesUserError {
    code: Option<SetErrorCode>,
    field: Option<Vec<String>>,
    message: String,
}

impl From<SetError> for InventorySetQuantitiesUserError {
    fn from(e: SetError) -> Self {
        InventorySetQuantitiesUserError {
            code: Some(e.code),
            field: e.field,
            message: e.message,
        }
    }
}

#[derive(SimpleObject)]
pub(crate) struct InventoryChange {
    name: String,
    delta: i32,
    quantity_after_change: Option<i32>,
    item: Option<InventoryItem>,
    location: Option<Location>,
    ledger_document_uri: Option<String>,
}

impl From<&Change> for InventoryChange {
    fn from(c: &Change) -> Self {
        InventoryChange {
            name: c.name.clone(),
            delta: clamp_int(c.delta),
            quantity_after_change: Some(clamp_int(c.after)),
            item: Some(InventoryItem(c.item.clone())),
            location: Some(Location(c.location.clone())),
            ledger_document_uri: None,
        }
    }
}

pub(crate) struct InventoryAdjustmentGroup(Adjustment);

#[Object]
impl InventoryAdjustmentGroup {
    async fn id(&self) -> ID {
        ID(format!(
            "gid://shopify/InventoryAdjustmentGroup/{}",
            self.0.id
        ))
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn reason(&self) -> String {
        self.0.reason.clone()
    }
    async fn reference_document_uri(&self) -> Option<String> {
        self.0.reference_document_uri.clone()
    }
    async fn changes(
        &self,
        inventory_item_ids: Option<Vec<ID>>,
        location_ids: Option<Vec<ID>>,
        quantity_names: Option<Vec<String>>,
    ) -> Vec<InventoryChange> {
        let has = |ids: &Option<Vec<ID>>, gid: String| {
            ids.as_ref()
                .is_none_or(|ids| ids.iter().any(|i| i.as_str() == gid))
        };
        self.0
            .changes
            .iter()
            .filter(|c| has(&inventory_item_ids, item_gid(c.item.id)))
            .filter(|c| has(&location_ids, location_gid(c.location.id)))
            .filter(|c| quantity_names.as_ref().is_none_or(|n| n.contains(&c.name)))
            .map(InventoryChange::from)
            .collect()
    }
}

#[derive(SimpleObject)]
pub(crate) struct InventorySetQuantitiesPayload {
    inventory_adjustment_group: Option<InventoryAdjustmentGroup>,
    user_errors: Vec<InventorySetQuantitiesUserError>,
}

// ---- fulfillmentCreate

#[derive(InputObject)]
pub(crate) struct FulfillmentOrderLineItemInput {
    id: ID,
    quantity: i32,
}

#[derive(InputObject)]
pub(crate) struct FulfillmentOrderLineItemsInput {
    fulfillment_order_id: ID,
    /// Left out or empty: every remaining line of the fulfilment order.
    fulfillment_order_line_items: Option<Vec<FulfillmentOrderLineItemInput>>,
}

#[derive(InputObject)]
pub(crate) struct FulfillmentTrackingInput {
    company: Option<String>,
    number: Option<String>,
    numbers: Option<Vec<String>>,
    url: Option<Url>,
    urls: Option<Vec<Url>>,
}

#[derive(InputObject)]
pub(crate) struct FulfillmentOriginAddressInput {
    address1: Option<String>,
    address2: Option<String>,
    city: Option<String>,
    country_code: String,
    province_code: Option<String>,
    zip: Option<String>,
}

#[derive(InputObject)]
pub(crate) struct FulfillmentInput {
    line_items_by_fulfillment_order: Vec<FulfillmentOrderLineItemsInput>,
    notify_customer: Option<bool>,
    origin_address: Option<FulfillmentOriginAddressInput>,
    tracking_info: Option<FulfillmentTrackingInput>,
}

impl FulfillmentTrackingInput {
    fn to_tracking(&self) -> Option<SimTracking> {
        let t = SimTracking {
            company: self.company.clone().filter(|c| !c.trim().is_empty()),
            number: self
                .number
                .clone()
                .or_else(|| self.numbers.as_ref()?.first().cloned())
                .filter(|n| !n.trim().is_empty()),
            url: self
                .url
                .as_ref()
                .map(|u| u.0.clone())
                .or_else(|| self.urls.as_ref()?.first().map(|u| u.0.clone())),
        };
        (t.company.is_some() || t.number.is_some() || t.url.is_some()).then_some(t)
    }
}

/// Shopify's generic `UserError`.
#[derive(SimpleObject)]
pub(crate) struct UserError {
    field: Option<Vec<String>>,
    message: String,
}

#[derive(SimpleObject)]
pub(crate) struct FulfillmentCreatePayload {
    fulfillment: Option<Fulfillment>,
    user_errors: Vec<UserError>,
}

// ---- orderCancel

#[derive(InputObject)]
pub(crate) struct OrderCancelRefundMethodInput {
    original_payment_methods_refund: Option<bool>,
}

/// Shopify's `OrderCancelUserErrorCode`.
#[derive(Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderCancelUserErrorCode {
    InternalError,
    Invalid,
    NoRefundPermission,
    NoRefundToStoreCreditPermission,
    NotFound,
}

#[derive(SimpleObject)]
pub(crate) struct OrderCancelUserError {
    code: Option<OrderCancelUserErrorCode>,
    field: Option<Vec<String>>,
    message: String,
}

#[derive(SimpleObject)]
pub(crate) struct Job {
    id: ID,
    done: bool,
}

#[derive(SimpleObject)]
pub(crate) struct OrderCancelPayload {
    job: Option<Job>,
    order_cancel_user_errors: Vec<OrderCancelUserError>,
    #[graphql(deprecation = "Use `orderCancelUserErrors` instead.")]
    user_errors: Vec<UserError>,
}

fn cancel_refused(
    code: OrderCancelUserErrorCode,
    field: &str,
    message: &str,
) -> OrderCancelPayload {
    OrderCancelPayload {
        job: None,
        order_cancel_user_errors: vec![OrderCancelUserError {
            code: Some(code),
            field: Some(vec![field.to_owned()]),
            message: message.to_owned(),
        }],
        user_errors: vec![UserError {
            field: Some(vec![field.to_owned()]),
            message: message.to_owned(),
        }],
    }
}

pub(crate) struct MutationRoot;

#[Object(name = "Mutation")]
impl MutationRoot {
    /// Sets quantities of one name to absolute values, all or none, with
    /// compare-and-swap on `changeFromQuantity`. From 2026-04 on it needs
    /// `@idempotent(key:)` and a `changeFromQuantity` on every quantity.
    async fn inventory_set_quantities(
        &self,
        ctx: &Context<'_>,
        input: InventorySetQuantitiesInput,
    ) -> Result<InventorySetQuantitiesPayload> {
        let strict = api_version(ctx).as_str() >= STRICT_INVENTORY_VERSION;
        let key = idempotency_key(ctx)?;
        if strict && key.is_none() {
            return Err(
                Error::new("The @idempotent directive is required for this mutation.")
                    .extend_with(|_, e| e.set("code", "BAD_REQUEST")),
            );
        }
        let rules = SetRules {
            change_from_required: strict,
        };
        let out = shared(ctx).set_quantities(&input.to_request(), key.as_deref(), rules);
        Ok(match out {
            Ok(adjustment) => InventorySetQuantitiesPayload {
                inventory_adjustment_group: Some(InventoryAdjustmentGroup(adjustment)),
                user_errors: Vec::new(),
            },
            Err(errors) => InventorySetQuantitiesPayload {
                inventory_adjustment_group: None,
                user_errors: errors.into_iter().map(Into::into).collect(),
            },
        })
    }

    /// Fulfils fulfilment order lines of one order, with tracking.
    async fn fulfillment_create(
        &self,
        ctx: &Context<'_>,
        fulfillment: FulfillmentInput,
        message: Option<String>,
    ) -> Result<FulfillmentCreatePayload> {
        let _ = (
            message,
            fulfillment.notify_customer,
            fulfillment.origin_address,
        );
        let input: Vec<ByFulfillmentOrder> = fulfillment
            .line_items_by_fulfillment_order
            .iter()
            .map(|b| ByFulfillmentOrder {
                fulfillment_order_id: b.fulfillment_order_id.to_string(),
                lines: b
                    .fulfillment_order_line_items
                    .as_ref()
                    .map(|ls| ls.iter().map(|l| (l.id.to_string(), l.quantity)).collect()),
            })
            .collect();
        let tracking = fulfillment
            .tracking_info
            .as_ref()
            .and_then(FulfillmentTrackingInput::to_tracking);
        Ok(match shared(ctx).create_fulfillment(&input, tracking) {
            Ok((order, index)) => FulfillmentCreatePayload {
                fulfillment: Some(Fulfillment { order, index }),
                user_errors: Vec::new(),
            },
            Err(errors) => FulfillmentCreatePayload {
                fulfillment: None,
                user_errors: errors
                    .into_iter()
                    .map(|e| UserError {
                        field: Some(e.field),
                        message: e.message,
                    })
                    .collect(),
            },
        })
    }

    /// Cancels an order; Shopify does the work in a job and answers with it.
    #[allow(clippy::too_many_arguments)]
    async fn order_cancel(
        &self,
        ctx: &Context<'_>,
        order_id: ID,
        reason: CancelReason,
        #[graphql(deprecation = "Use `refundMethod` instead.")] refund: Option<bool>,
        refund_method: Option<OrderCancelRefundMethodInput>,
        restock: bool,
        notify_customer: Option<bool>,
        staff_note: Option<String>,
    ) -> Result<OrderCancelPayload> {
        use OrderCancelUserErrorCode as Code;
        let Some(id) = parse_gid(&order_id, "Order") else {
            return Ok(cancel_refused(
                Code::NotFound,
                "orderId",
                "Order does not exist",
            ));
        };
        if refund.is_some() && refund_method.is_some() {
            return Ok(cancel_refused(
                Code::Invalid,
                "refundMethod",
                "Only one of refund and refundMethod can be given.",
            ));
        }
        let opts = CancelOptions {
            reason,
            refund: refund
                .or_else(|| refund_method.and_then(|m| m.original_payment_methods_refund))
                .unwrap_or(false),
            restock,
            notify_customer: notify_customer.unwrap_or(false),
            staff_note,
        };
        Ok(match shared(ctx).cancel_by_api(id, &opts) {
            Ok(()) => OrderCancelPayload {
                job: Some(Job {
                    id: ID(format!("gid://shopify/Job/{}", uuid_like())),
                    done: false,
                }),
                order_cancel_user_errors: Vec::new(),
                user_errors: Vec::new(),
            },
            Err(CancelRefusal::NotFound) => {
                cancel_refused(Code::NotFound, "orderId", "Order does not exist")
            }
            Err(CancelRefusal::Invalid(message)) => {
                cancel_refused(Code::Invalid, "orderId", message)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::sim::config::SimConfig;
    use crate::sim::schema::{build, SimSchema};

    fn sim() -> (Arc<Shared>, SimSchema) {
        let shared = Arc::new(Shared::new(SimConfig {
            generate: false,
            ..SimConfig::default()
        }));
        (shared.clone(), build(shared))
    }

    async fn run(
        schema: &SimSchema,
        version: &str,
        query: &str,
        vars: serde_json::Value,
    ) -> serde_json::Value {
        let req = async_graphql::Request::new(query)
            .variables(async_graphql::Variables::from_json(vars))
            .data(ApiVersion(version.to_owned()));
        serde_json::to_value(schema.execute(req).await).unwrap()
    }

    const SET: &str = r#"mutation($input: InventorySetQuantitiesInput!) {
        inventorySetQuantities(input: $input) { userErrors { code field } } }"#;
    const SET_KEYED: &str = r#"mutation($input: InventorySetQuantitiesInput!, $key: String!) {
        inventorySetQuantities(input: $input) @idempotent(key: $key) {
            inventoryAdjustmentGroup { reason referenceDocumentUri changes(quantityNames: ["available"]) { delta quantityAfterChange item { sku } } }
            userErrors { code field message } } }"#;

    fn input(
        shared: &Shared,
        sku: &str,
        quantity: i64,
        from: serde_json::Value,
    ) -> serde_json::Value {
        let (item, location) =
            shared.with_inventory(|inv| (inv.item_by_sku(sku).unwrap().id, inv.primary().id));
        json!({
            "name": "available",
            "reason": "correction",
            "referenceDocumentUri": "gid://chansync/StockPush/k",
            "quantities": [{
                "inventoryItemId": item_gid(item),
                "locationId": location_gid(location),
                "quantity": quantity,
                "changeFromQuantity": from,
            }],
        })
    }

    #[tokio::test]
    async fn inventory_sets_need_an_idempotency_key_from_2026_04_on() {
        let (shared, schema) = sim();
        let vars = json!({ "input": input(&shared, "SKU-MUG-1", 3, json!(null)) });
        let r = run(&schema, "2026-07", SET, vars.clone()).await;
        assert_eq!(r["data"]["inventorySetQuantities"], json!(null));
        assert!(r["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("@idempotent"));
        let r = run(&schema, "2025-10", SET, vars).await;
        assert_eq!(r["data"]["inventorySetQuantities"]["userErrors"], json!([]));
        assert_eq!(shared.stock()["SKU-MUG-1"], 3);
    }

    #[tokio::test]
    async fn a_keyed_set_reports_the_change_and_a_stale_one_the_field() {
        let (shared, schema) = sim();
        let mut vars = json!({ "input": input(&shared, "SKU-TEE-1", 5, json!(null)), "key": "a" });
        let r = run(&schema, "2026-07", SET_KEYED, vars.clone()).await;
        let group = &r["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"];
        assert_eq!(group["reason"], "correction");
        assert_eq!(group["referenceDocumentUri"], "gid://chansync/StockPush/k");
        assert_eq!(group["changes"][0]["quantityAfterChange"], 5);
        assert_eq!(group["changes"][0]["item"]["sku"], "SKU-TEE-1");
        vars["input"] = input(&shared, "SKU-TEE-1", 6, json!(4));
        vars["key"] = json!("b");
        let r = run(&schema, "2026-07", SET_KEYED, vars).await;
        let errors = &r["data"]["inventorySetQuantities"]["userErrors"];
        assert_eq!(errors[0]["code"], "CHANGE_FROM_QUANTITY_STALE");
        assert_eq!(
            errors[0]["field"],
            json!(["input", "quantities", "0", "changeFromQuantity"])
        );
        assert_eq!(shared.stock()["SKU-TEE-1"], 5);
    }

    const CANCEL: &str = r#"mutation($id: ID!) {
        orderCancel(orderId: $id, reason: OTHER, refundMethod: {originalPaymentMethodsRefund: true}, restock: true) {
            job { done } orderCancelUserErrors { code field message } } }"#;

    #[tokio::test]
    async fn order_cancel_refuses_unknown_and_cancelled_orders() {
        let (shared, schema) = sim();
        let id = shared.create_orders(1)[0];
        let gid = json!({ "id": format!("gid://shopify/Order/{id}") });
        let r = run(&schema, "2026-07", CANCEL, gid.clone()).await;
        assert_eq!(r["data"]["orderCancel"]["orderCancelUserErrors"], json!([]));
        assert_eq!(r["data"]["orderCancel"]["job"]["done"], false);
        let r = run(&schema, "2026-07", CANCEL, gid).await;
        assert_eq!(
            r["data"]["orderCancel"]["orderCancelUserErrors"][0]["code"],
            "INVALID"
        );
        let r = run(
            &schema,
            "2026-07",
            CANCEL,
            json!({ "id": "gid://shopify/Order/1" }),
        )
        .await;
        assert_eq!(
            r["data"]["orderCancel"]["orderCancelUserErrors"][0]["code"],
            "NOT_FOUND"
        );
        assert_eq!(
            shared.state_json()["cancellations"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }

    const FULFIL: &str = r#"mutation($f: FulfillmentInput!) {
        fulfillmentCreate(fulfillment: $f) { fulfillment { status trackingInfo { number } } userErrors { field message } } }"#;

    #[tokio::test]
    async fn fulfillment_create_checks_fulfillment_orders_and_quantities() {
        let (shared, schema) = sim();
        let id = shared.create_orders(1)[0];
        let q = r#"query($id: ID!) { order(id: $id) { fulfillmentOrders(first: 5) { nodes {
            id status assignedLocation { location { id } }
            lineItems(first: 50) { nodes { id remainingQuantity totalQuantity lineItem { id } } } } } } }"#;
        let r = run(
            &schema,
            "2026-07",
            q,
            json!({ "id": format!("gid://shopify/Order/{id}") }),
        )
        .await;
        let fo = &r["data"]["order"]["fulfillmentOrders"]["nodes"][0];
        assert_eq!(fo["status"], "OPEN");
        assert_eq!(
            fo["assignedLocation"]["location"]["id"],
            "gid://shopify/Location/76000000001"
        );
        let line = &fo["lineItems"]["nodes"][0];
        let too_many = line["remainingQuantity"].as_i64().unwrap() + 1;
        let f = |fo_id: &serde_json::Value, quantity: i64| {
            json!({ "f": {
                "lineItemsByFulfillmentOrder": [{
                    "fulfillmentOrderId": fo_id,
                    "fulfillmentOrderLineItems": [{ "id": line["id"], "quantity": quantity }],
                }],
                "trackingInfo": { "company": "UPS", "number": "1Z" },
            }})
        };
        let r = run(&schema, "2026-07", FULFIL, f(&fo["id"], too_many)).await;
        assert_eq!(
            r["data"]["fulfillmentCreate"]["userErrors"][0]["message"],
            "Invalid fulfillment order line item quantity requested."
        );
        let r = run(
            &schema,
            "2026-07",
            FULFIL,
            f(&json!("gid://shopify/FulfillmentOrder/1"), 1),
        )
        .await;
        assert_eq!(
            r["data"]["fulfillmentCreate"]["userErrors"][0]["message"],
            "Fulfillment order does not exist."
        );
        let r = run(&schema, "2026-07", FULFIL, f(&fo["id"], 1)).await;
        assert_eq!(r["data"]["fulfillmentCreate"]["userErrors"], json!([]));
        assert_eq!(
            r["data"]["fulfillmentCreate"]["fulfillment"]["trackingInfo"][0]["number"],
            "1Z"
        );
        assert_eq!(
            shared.state_json()["fulfillments"]
                .as_array()
                .unwrap()
                .len(),
            1
        );
    }
}

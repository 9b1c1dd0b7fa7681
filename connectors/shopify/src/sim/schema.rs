//! The subset of Shopify's GraphQL Admin schema the connector reads, with
//! Shopify's type, field and enum names, executed by async-graphql. Resolvers
//! render the shared order model; they hold the store's lock only to look up.
//! The push-back mutations and the inventory types are in `schema_push`.

use std::sync::Arc;

use async_graphql::{
    Context, EmptySubscription, Error, InputValueError, InputValueResult, Object, Result, Scalar,
    ScalarType, Schema, SimpleObject, Value, ID,
};
use chrono::{SecondsFormat, Utc};

use crate::sim::model::{
    graphql_decimal, line_gid, order_gid, CancelReason, CountryCode, Currency,
    DisplayFulfillmentStatus, FinancialStatus, FulfillmentStatus, SimAddress, SimOrder,
};
use crate::sim::schema_push::{
    idempotent, FulfillmentOrder, FulfillmentOrderConnection, InventoryItem,
    InventoryItemConnection, Location, LocationConnection, MutationRoot,
};
use crate::sim::search::{
    encode_cursor, paginate, parse_search, parse_sku_search, Key, Page, PageArgs, SortBy,
};
use crate::sim::state::Shared;

pub(crate) type SimSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The root types' names in Shopify's schema (the cost model starts there).
pub(crate) const QUERY_ROOT: &str = "QueryRoot";
pub(crate) const MUTATION_ROOT: &str = "Mutation";

/// The API version in the request's path, as request data.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct ApiVersion(pub String);

pub(crate) fn build(shared: Arc<Shared>) -> SimSchema {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .directive(idempotent)
        .data(shared)
        .finish()
}

/// The schema's SDL (what the cost model reads).
#[cfg(test)]
pub(crate) fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .directive(idempotent)
        .finish()
        .sdl()
}

/// The numeric id in `gid://shopify/<kind>/<id>` (query parameters ignored).
pub(crate) fn parse_gid(gid: &str, kind: &str) -> Option<u64> {
    let rest = gid
        .strip_prefix("gid://shopify/")?
        .strip_prefix(kind)?
        .strip_prefix('/')?;
    rest.split('?').next()?.parse().ok()
}

/// Shopify's `Decimal`: a string such as `"12.3"`.
#[derive(Clone)]
pub(crate) struct Decimal(rust_decimal::Decimal);

#[Scalar(name = "Decimal")]
impl ScalarType for Decimal {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => Ok(Decimal(s.parse()?)),
            Value::Number(n) => Ok(Decimal(n.to_string().parse()?)),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(graphql_decimal(self.0))
    }
}

/// Shopify's `DateTime`: ISO 8601 in UTC, to the second (`2026-07-01T15:00:00Z`).
pub(crate) struct DateTime(pub(crate) chrono::DateTime<Utc>);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTime {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => Ok(DateTime(
                chrono::DateTime::parse_from_rfc3339(s)?.with_timezone(&Utc),
            )),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_rfc3339_opts(SecondsFormat::Secs, true))
    }
}

/// Shopify's `UnsignedInt64`: written as a string, as JSON numbers are doubles.
pub(crate) struct UnsignedInt64(pub(crate) u64);

#[Scalar(name = "UnsignedInt64")]
impl ScalarType for UnsignedInt64 {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => Ok(UnsignedInt64(s.parse()?)),
            Value::Number(n) => n
                .as_u64()
                .map(UnsignedInt64)
                .ok_or_else(|| InputValueError::expected_type(value.clone())),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

/// Shopify's `URL`.
pub(crate) struct Url(pub(crate) String);

#[Scalar(name = "URL")]
impl ScalarType for Url {
    fn parse(value: Value) -> InputValueResult<Self> {
        match value {
            Value::String(s) => Ok(Url(s)),
            other => Err(InputValueError::expected_type(other)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.clone())
    }
}

#[derive(async_graphql::Enum, Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OrderSortKeys {
    CreatedAt,
    Id,
    ProcessedAt,
    UpdatedAt,
}

impl From<OrderSortKeys> for SortBy {
    fn from(k: OrderSortKeys) -> Self {
        match k {
            OrderSortKeys::CreatedAt => SortBy::CreatedAt,
            OrderSortKeys::Id => SortBy::Id,
            OrderSortKeys::ProcessedAt => SortBy::ProcessedAt,
            OrderSortKeys::UpdatedAt => SortBy::UpdatedAt,
        }
    }
}

#[derive(SimpleObject)]
pub(crate) struct PageInfo {
    pub(crate) has_next_page: bool,
    pub(crate) has_previous_page: bool,
    pub(crate) start_cursor: Option<String>,
    pub(crate) end_cursor: Option<String>,
}

/// Declares a Shopify connection (`nodes`, `edges { cursor node }`, `pageInfo`)
/// and how to build it from a page.
macro_rules! connection {
    ($conn:ident, $edge:ident, $node:ty) => {
        #[derive(SimpleObject)]
        pub(crate) struct $edge {
            cursor: String,
            node: $node,
        }

        #[derive(SimpleObject)]
        pub(crate) struct $conn {
            edges: Vec<$edge>,
            nodes: Vec<$node>,
            page_info: PageInfo,
        }

        impl $conn {
            pub(crate) fn from_page(page: Page<$node>, sort: SortBy) -> Self {
                let cursors: Vec<String> = page
                    .items
                    .iter()
                    .map(|(k, _)| encode_cursor(sort, *k))
                    .collect();
                let page_info = PageInfo {
                    has_next_page: page.has_next_page,
                    has_previous_page: page.has_previous_page,
                    start_cursor: cursors.first().cloned(),
                    end_cursor: cursors.last().cloned(),
                };
                let nodes: Vec<$node> = page.items.into_iter().map(|(_, n)| n).collect();
                let edges = cursors
                    .into_iter()
                    .zip(nodes.iter().cloned())
                    .map(|(cursor, node)| $edge { cursor, node })
                    .collect();
                $conn {
                    edges,
                    nodes,
                    page_info,
                }
            }
        }
    };
}

pub(crate) use connection;

connection!(OrderConnection, OrderEdge, Order);
connection!(LineItemConnection, LineItemEdge, LineItem);
connection!(
    FulfillmentLineItemConnection,
    FulfillmentLineItemEdge,
    FulfillmentLineItem
);

/// Sorted by id: the only order line lists have.
pub(crate) fn id_key(id: u64) -> Key {
    Key {
        value: id as i64,
        id,
    }
}

pub(crate) struct QueryRoot;

#[Object]
impl QueryRoot {
    /// Orders, filtered by Shopify's search syntax in `query`.
    #[allow(clippy::too_many_arguments)]
    async fn orders(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        query: Option<String>,
        #[graphql(default_with = "OrderSortKeys::Id")] sort_key: OrderSortKeys,
        #[graphql(default)] reverse: bool,
    ) -> Result<OrderConnection> {
        let shared = ctx.data_unchecked::<Arc<Shared>>();
        let filter = query.as_deref().map(parse_search).unwrap_or_default();
        let sort = SortBy::from(sort_key);
        let items = shared
            .orders_matching(&filter)
            .into_iter()
            .map(|o| (sort.key(&o), Order(o)))
            .collect();
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let page = paginate(items, sort, &args).map_err(Error::new)?;
        Ok(OrderConnection::from_page(page, sort))
    }

    /// One order by its gid, or null.
    async fn order(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Order>> {
        let n = parse_gid(&id, "Order")
            .ok_or_else(|| Error::new(format!("Invalid global id '{}'", id.as_str())))?;
        Ok(ctx.data_unchecked::<Arc<Shared>>().order(n).map(Order))
    }

    /// A location by its gid; without one, the shop's primary location.
    async fn location(&self, ctx: &Context<'_>, id: Option<ID>) -> Result<Option<Location>> {
        let shared = ctx.data_unchecked::<Arc<Shared>>();
        let wanted = id
            .map(|id| {
                parse_gid(&id, "Location")
                    .ok_or_else(|| Error::new(format!("Invalid global id '{}'", id.as_str())))
            })
            .transpose()?;
        Ok(shared.with_inventory(|inv| match wanted {
            Some(n) => inv.location(n).cloned().map(Location),
            None => Some(Location(inv.primary().clone())),
        }))
    }

    /// The shop's locations (active ones unless `includeInactive`).
    #[allow(clippy::too_many_arguments)]
    async fn locations(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        query: Option<String>,
        #[graphql(default)] include_inactive: bool,
        #[graphql(default)] reverse: bool,
    ) -> Result<LocationConnection> {
        // Location search terms are not modelled; the shop has few locations.
        let _ = query;
        let items = ctx.data_unchecked::<Arc<Shared>>().with_inventory(|inv| {
            inv.locations()
                .iter()
                .filter(|l| include_inactive || l.active)
                .map(|l| (id_key(l.id), Location(l.clone())))
                .collect()
        });
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let page = paginate(items, SortBy::Id, &args).map_err(Error::new)?;
        Ok(LocationConnection::from_page(page, SortBy::Id))
    }

    /// Inventory items, filtered by `sku:` terms in `query`.
    #[allow(clippy::too_many_arguments)]
    async fn inventory_items(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        query: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> Result<InventoryItemConnection> {
        let filter = query.as_deref().map(parse_sku_search).unwrap_or_default();
        let items = ctx.data_unchecked::<Arc<Shared>>().with_inventory(|inv| {
            inv.items()
                .filter(|i| filter.matches(&i.sku))
                .map(|i| (id_key(i.id), InventoryItem(i.clone())))
                .collect()
        });
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let page = paginate(items, SortBy::Id, &args).map_err(Error::new)?;
        Ok(InventoryItemConnection::from_page(page, SortBy::Id))
    }
}

#[derive(SimpleObject, Clone)]
pub(crate) struct MoneyV2 {
    amount: Decimal,
    currency_code: Currency,
}

/// Shop and presentment money; the simulated shop presents in its own currency.
#[derive(SimpleObject, Clone)]
pub(crate) struct MoneyBag {
    shop_money: MoneyV2,
    presentment_money: MoneyV2,
}

fn money(amount: rust_decimal::Decimal, currency: Currency) -> MoneyBag {
    let m = MoneyV2 {
        amount: Decimal(currency.round(amount)),
        currency_code: currency,
    };
    MoneyBag {
        shop_money: m.clone(),
        presentment_money: m,
    }
}

#[derive(SimpleObject)]
pub(crate) struct Customer {
    id: ID,
    display_name: String,
    email: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    phone: Option<String>,
}

#[derive(SimpleObject)]
pub(crate) struct MailingAddress {
    name: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    company: Option<String>,
    address1: Option<String>,
    address2: Option<String>,
    city: Option<String>,
    province: Option<String>,
    province_code: Option<String>,
    zip: Option<String>,
    country: Option<String>,
    #[graphql(name = "countryCodeV2")]
    country_code_v2: Option<CountryCode>,
    phone: Option<String>,
}

impl From<&SimAddress> for MailingAddress {
    fn from(a: &SimAddress) -> Self {
        MailingAddress {
            name: Some(a.name()),
            first_name: Some(a.first_name.clone()),
            last_name: Some(a.last_name.clone()),
            company: a.company.clone(),
            address1: Some(a.address1.clone()),
            address2: a.address2.clone(),
            city: Some(a.city.clone()),
            province: a.province.clone(),
            province_code: a.province_code.clone(),
            zip: Some(a.zip.clone()),
            country: Some(a.country.clone()),
            country_code_v2: Some(a.country_code),
            phone: a.phone.clone(),
        }
    }
}

#[derive(Clone)]
pub(crate) struct Order(pub(crate) Arc<SimOrder>);

#[Object]
impl Order {
    async fn id(&self) -> ID {
        ID(order_gid(self.0.id))
    }
    async fn legacy_resource_id(&self) -> UnsignedInt64 {
        UnsignedInt64(self.0.id)
    }
    async fn name(&self) -> String {
        self.0.name()
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.0.created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.0.updated_at)
    }
    async fn processed_at(&self) -> DateTime {
        DateTime(self.0.processed_at)
    }
    async fn cancelled_at(&self) -> Option<DateTime> {
        self.0.cancelled_at.map(DateTime)
    }
    async fn cancel_reason(&self) -> Option<CancelReason> {
        self.0.cancel_reason
    }
    async fn closed_at(&self) -> Option<DateTime> {
        self.0.closed_at.map(DateTime)
    }
    async fn closed(&self) -> bool {
        self.0.closed_at.is_some()
    }
    async fn email(&self) -> Option<String> {
        Some(self.0.email.clone())
    }
    async fn currency_code(&self) -> Currency {
        self.0.currency
    }
    async fn presentment_currency_code(&self) -> Currency {
        self.0.currency
    }
    async fn taxes_included(&self) -> bool {
        false
    }
    async fn test(&self) -> bool {
        false
    }
    async fn tags(&self) -> Vec<String> {
        self.0.tags.clone()
    }
    async fn display_financial_status(&self) -> Option<FinancialStatus> {
        Some(self.0.financial_status)
    }
    async fn display_fulfillment_status(&self) -> DisplayFulfillmentStatus {
        self.0.fulfillment_status
    }
    async fn subtotal_price_set(&self) -> Option<MoneyBag> {
        Some(money(self.0.subtotal(), self.0.currency))
    }
    async fn total_shipping_price_set(&self) -> MoneyBag {
        money(self.0.total_shipping(), self.0.currency)
    }
    async fn total_tax_set(&self) -> Option<MoneyBag> {
        Some(money(self.0.total_tax(), self.0.currency))
    }
    async fn total_discounts_set(&self) -> Option<MoneyBag> {
        Some(money(self.0.total_discounts(), self.0.currency))
    }
    async fn total_price_set(&self) -> MoneyBag {
        money(self.0.total_price(), self.0.currency)
    }
    async fn customer(&self) -> Option<Customer> {
        let c = &self.0.customer;
        Some(Customer {
            id: ID(format!("gid://shopify/Customer/{}", c.id)),
            display_name: c.display_name(),
            email: Some(c.email.clone()),
            first_name: Some(c.first_name.clone()),
            last_name: Some(c.last_name.clone()),
            phone: c.phone.clone(),
        })
    }
    async fn shipping_address(&self) -> Option<MailingAddress> {
        Some((&self.0.shipping_address).into())
    }
    async fn billing_address(&self) -> Option<MailingAddress> {
        Some((&self.0.billing_address).into())
    }
    async fn line_items(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> Result<LineItemConnection> {
        let items = (0..self.0.lines.len())
            .map(|index| {
                (
                    id_key(self.0.lines[index].id),
                    LineItem {
                        order: self.0.clone(),
                        index,
                    },
                )
            })
            .collect();
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let page = paginate(items, SortBy::Id, &args).map_err(Error::new)?;
        Ok(LineItemConnection::from_page(page, SortBy::Id))
    }
    /// The order's one fulfilment order (Shopify splits by location; the
    /// simulated shop ships everything from its primary location).
    async fn fulfillment_orders(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> Result<FulfillmentOrderConnection> {
        let fo = FulfillmentOrder(self.0.clone());
        let items = vec![(id_key(fo.numeric_id()), fo)];
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let page = paginate(items, SortBy::Id, &args).map_err(Error::new)?;
        Ok(FulfillmentOrderConnection::from_page(page, SortBy::Id))
    }
    async fn fulfillments(&self, first: Option<i32>) -> Vec<Fulfillment> {
        let n = first.map_or(usize::MAX, |f| f.max(0) as usize);
        (0..self.0.fulfillments.len())
            .take(n)
            .map(|index| Fulfillment {
                order: self.0.clone(),
                index,
            })
            .collect()
    }
}

#[derive(SimpleObject)]
pub(crate) struct TaxLine {
    title: String,
    rate: Option<f64>,
    rate_percentage: Option<f64>,
    price_set: MoneyBag,
}

/// Line `index` of an order.
#[derive(Clone)]
pub(crate) struct LineItem {
    pub(crate) order: Arc<SimOrder>,
    pub(crate) index: usize,
}

impl LineItem {
    fn line(&self) -> &crate::sim::model::SimLine {
        &self.order.lines[self.index]
    }
    fn money(&self, amount: rust_decimal::Decimal) -> MoneyBag {
        money(amount, self.order.currency)
    }
}

#[Object]
impl LineItem {
    async fn id(&self) -> ID {
        ID(line_gid(self.line().id))
    }
    async fn sku(&self) -> Option<String> {
        self.line().sku.clone()
    }
    async fn title(&self) -> String {
        self.line().title.clone()
    }
    async fn name(&self) -> String {
        self.line().name()
    }
    async fn variant_title(&self) -> Option<String> {
        self.line().variant_title.clone()
    }
    async fn quantity(&self) -> i32 {
        self.line().quantity as i32
    }
    async fn current_quantity(&self) -> i32 {
        self.line().current_quantity as i32
    }
    async fn requires_shipping(&self) -> bool {
        self.line().requires_shipping
    }
    async fn original_unit_price_set(&self) -> MoneyBag {
        self.money(self.line().unit_price)
    }
    async fn original_total_set(&self) -> MoneyBag {
        self.money(self.line().original_total())
    }
    async fn discounted_total_set(&self) -> MoneyBag {
        self.money(self.line().total())
    }
    async fn total_discount_set(&self) -> MoneyBag {
        self.money(self.line().discount)
    }
    async fn tax_lines(&self, first: Option<i32>) -> Vec<TaxLine> {
        let l = self.line();
        let rate = rust_decimal::prelude::ToPrimitive::to_f64(&l.tax_rate);
        let percentage = rust_decimal::prelude::ToPrimitive::to_f64(
            &(l.tax_rate * rust_decimal::Decimal::from(100)),
        );
        let all = vec![TaxLine {
            title: l.tax_title.clone(),
            rate,
            rate_percentage: percentage,
            price_set: self.money(l.tax),
        }];
        all.into_iter()
            .take(first.map_or(usize::MAX, |f| f.max(0) as usize))
            .collect()
    }
}

#[derive(SimpleObject)]
pub(crate) struct FulfillmentTrackingInfo {
    company: Option<String>,
    number: Option<String>,
    url: Option<Url>,
}

/// Fulfilment `index` of an order.
pub(crate) struct Fulfillment {
    pub(crate) order: Arc<SimOrder>,
    pub(crate) index: usize,
}

impl Fulfillment {
    fn get(&self) -> &crate::sim::model::SimFulfillment {
        &self.order.fulfillments[self.index]
    }
}

#[Object]
impl Fulfillment {
    async fn id(&self) -> ID {
        ID(format!("gid://shopify/Fulfillment/{}", self.get().id))
    }
    async fn name(&self) -> String {
        format!("{}-F{}", self.order.name(), self.index + 1)
    }
    async fn status(&self) -> FulfillmentStatus {
        self.get().status
    }
    async fn created_at(&self) -> DateTime {
        DateTime(self.get().created_at)
    }
    async fn updated_at(&self) -> DateTime {
        DateTime(self.get().updated_at)
    }
    async fn tracking_info(&self, first: Option<i32>) -> Vec<FulfillmentTrackingInfo> {
        self.get()
            .tracking
            .iter()
            .take(first.map_or(usize::MAX, |f| f.max(0) as usize))
            .map(|t| FulfillmentTrackingInfo {
                company: t.company.clone(),
                number: t.number.clone(),
                url: t.url.clone().map(Url),
            })
            .collect()
    }
    async fn fulfillment_line_items(
        &self,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
        #[graphql(default)] reverse: bool,
    ) -> Result<FulfillmentLineItemConnection> {
        let items = (0..self.get().lines.len())
            .map(|line| {
                let key = id_key(self.get().lines[line].id);
                (
                    key,
                    FulfillmentLineItem {
                        order: self.order.clone(),
                        fulfillment: self.index,
                        line,
                    },
                )
            })
            .collect();
        let args = PageArgs {
            first,
            after,
            last,
            before,
            reverse,
        };
        let page = paginate(items, SortBy::Id, &args).map_err(Error::new)?;
        Ok(FulfillmentLineItemConnection::from_page(page, SortBy::Id))
    }
}

/// Line `line` of fulfilment `fulfillment` of an order.
#[derive(Clone)]
pub(crate) struct FulfillmentLineItem {
    order: Arc<SimOrder>,
    fulfillment: usize,
    line: usize,
}

#[Object]
impl FulfillmentLineItem {
    async fn id(&self) -> ID {
        ID(format!(
            "gid://shopify/FulfillmentLineItem/{}",
            self.get().id
        ))
    }
    async fn quantity(&self) -> i32 {
        self.get().quantity as i32
    }
    async fn line_item(&self) -> Result<LineItem> {
        let wanted = self.get().line_item_id;
        let index = self
            .order
            .lines
            .iter()
            .position(|l| l.id == wanted)
            .ok_or_else(|| Error::new(format!("line item {wanted} is not on this order")))?;
        Ok(LineItem {
            order: self.order.clone(),
            index,
        })
    }
}

impl FulfillmentLineItem {
    fn get(&self) -> &crate::sim::model::SimFulfillmentLine {
        &self.order.fulfillments[self.fulfillment].lines[self.line]
    }
}

//! What the daemon tells watchers (the demo's live lines, later the status
//! page) as orders flow. Best effort: a slow watcher misses events, the
//! store never does.

use chansync_sdk::model::OrderStatus;
use serde::Serialize;

use crate::store::Source;

/// One thing that happened.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// An order was created or changed in the store.
    Order {
        connector: String,
        id: i64,
        external_id: String,
        external_number: Option<String>,
        created: bool,
        status: OrderStatus,
        source: Source,
        total: String,
        currency: String,
        lines: usize,
        customer: Option<String>,
        country: Option<String>,
        /// What routing reserved now, as `2×SKU@location`.
        allocations: Vec<String>,
    },
    /// A dispatcher sent work to a channel.
    Pushed {
        connector: String,
        kind: String,
        /// e.g. `SKU=12` for stock, the order id otherwise.
        items: Vec<String>,
    },
    /// A push was given up on (dead-lettered).
    PushDead {
        connector: String,
        kind: String,
        key: String,
        error: String,
    },
    /// A poll sweep ended.
    PollDone {
        connector: String,
        orders: usize,
        error: Option<String>,
    },
    /// A webhook was refused.
    WebhookRejected {
        connector: String,
        status: u16,
        reason: String,
    },
}

/// The channel events are published on.
pub type EventSender = tokio::sync::broadcast::Sender<Event>;

/// An event for an upsert that changed the store, or `None` for a replay.
pub fn order_event(
    connector: &str,
    order: &chansync_sdk::model::ChannelOrder,
    applied: &crate::store::Applied,
    source: Source,
) -> Option<Event> {
    use crate::store::Applied;
    let (id, status, created, picks) = match applied {
        Applied::Created { id, status, picks } => (*id, *status, true, picks),
        Applied::Updated { id, status, picks } => (*id, *status, false, picks),
        Applied::Unchanged { .. } | Applied::Stale { .. } => return None,
    };
    Some(Event::Order {
        connector: connector.to_owned(),
        id,
        external_id: order.external_id.clone(),
        external_number: order.external_number.clone(),
        created,
        status,
        source,
        total: order.currency.canonical(order.total).to_string(),
        currency: order.currency.to_string(),
        lines: order.lines.len(),
        customer: order.customer.name.clone(),
        country: order
            .shipping_address
            .as_ref()
            .map(|a| a.country_code.to_string()),
        allocations: picks
            .iter()
            .map(|p| format!("{}×{}@{}", p.quantity, p.sku, p.location))
            .collect(),
    })
}

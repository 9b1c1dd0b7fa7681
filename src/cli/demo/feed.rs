//! The demo's live lines: one per order as it reaches the store, per push to
//! a channel and per refusal, tallied for the summary.

use std::collections::BTreeMap;
use std::io::Write;

use crate::events::Event;

/// What was seen, per connector, for the summary.
#[derive(Default)]
pub struct Counts {
    pub created_webhook: u64,
    pub updated_webhook: u64,
    pub created_poll: u64,
    pub updated_poll: u64,
    /// Pushes per (connector, kind).
    pub pushes: BTreeMap<(String, String), u64>,
    pub dead: u64,
}

pub fn header() {
    println!(
        "{:<9} {:<8} {:<20} {:<8} {:<8} {:<16} {:>5}  {:<16} SHIP TO",
        "TIME", "CHANNEL", "ORDER", "EVENT", "VIA", "STATUS", "LINES", "TOTAL"
    );
}

fn now() -> impl std::fmt::Display {
    chrono::Local::now().format("%H:%M:%S")
}

/// A line under the order columns, for what happened to the order.
pub fn note(connector: &str, what: std::fmt::Arguments<'_>) {
    println!("{:<9} {:<8} {what}", now(), connector);
    let _ = std::io::stdout().flush();
}

impl Counts {
    pub fn print(&mut self, e: &Event) {
        match e {
            Event::Order {
                connector,
                external_number,
                external_id,
                created,
                status,
                source,
                total,
                currency,
                lines,
                customer,
                country,
                allocations,
                ..
            } => {
                let via = match source {
                    crate::store::Source::Webhook => "webhook",
                    crate::store::Source::Poll => "poll",
                };
                match (created, via) {
                    (true, "webhook") => self.created_webhook += 1,
                    (false, "webhook") => self.updated_webhook += 1,
                    (true, _) => self.created_poll += 1,
                    (false, _) => self.updated_poll += 1,
                }
                println!(
                    "{:<9} {:<8} {:<20} {:<8} {:<8} {:<16} {:>5}  {:<16} {} {}",
                    now(),
                    connector,
                    external_number.as_deref().unwrap_or(external_id),
                    if *created { "new" } else { "updated" },
                    via,
                    status.as_str(),
                    lines,
                    format!("{currency} {total}"),
                    country.as_deref().unwrap_or("--"),
                    customer.as_deref().unwrap_or(""),
                );
                if !allocations.is_empty() {
                    println!("{:<18} routed: {}", "", allocations.join(", "));
                } else if *status == chansync_sdk::model::OrderStatus::NeedsAttention && *created {
                    println!(
                        "{:<18} waiting: not enough stock at an eligible location",
                        ""
                    );
                }
            }
            Event::Pushed {
                connector,
                kind,
                items,
            } => {
                *self
                    .pushes
                    .entry((connector.clone(), kind.clone()))
                    .or_default() += 1;
                let mut shown = items.iter().take(8).cloned().collect::<Vec<_>>().join(", ");
                if items.len() > 8 {
                    shown.push_str(&format!(" and {} more", items.len() - 8));
                }
                note(connector, format_args!("pushed {kind}: {shown}"));
            }
            Event::PushDead {
                connector,
                kind,
                key,
                error,
            } => {
                self.dead += 1;
                note(
                    connector,
                    format_args!("push of {kind} {key} dead-lettered: {error}"),
                );
            }
            Event::WebhookRejected {
                connector,
                status,
                reason,
            } => note(
                connector,
                format_args!("webhook refused with {status}: {reason}"),
            ),
            Event::PollDone { .. } => {}
        }
        let _ = std::io::stdout().flush();
    }

    /// Pushes of `kind` to `connector` so far.
    pub fn pushed(&self, connector: &str, kind: &str) -> u64 {
        self.pushes
            .get(&(connector.to_owned(), kind.to_owned()))
            .copied()
            .unwrap_or(0)
    }
}

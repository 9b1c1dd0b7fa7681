//! The status page's markup and style: what a merchant sees, laid out as
//! tables on a desktop and as one card per row on a phone, so nothing is
//! wider than the screen. No script; the page refreshes itself.

use chansync_sdk::model::{Order, OrderStatus};
use chrono::{DateTime, Utc};
use maud::{html, Markup, PreEscaped, DOCTYPE};

use super::health::{ago, plural, span, Health};
use crate::store::{OutboxRow, StockView};

/// Seconds between refreshes.
pub const REFRESH_SECS: u32 = 10;
/// Stock at or below this many units shows as low.
pub const LOW_STOCK: i64 = 2;

/// One channel's row.
pub struct Channel {
    pub name: String,
    pub kind: String,
    pub health: Health,
    pub note: String,
    /// `None` when the channel is not polled.
    pub poll: Option<Option<DateTime<Utc>>>,
    /// `None` when the channel sends no webhooks.
    pub webhook: Option<Option<DateTime<Utc>>>,
    pub backlog: i64,
    pub backlog_oldest_at: Option<DateTime<Utc>>,
    pub waiting_pushes: i64,
    pub dead_letters: i64,
    pub rate_limit: Option<RateLimit>,
}

/// What the channel's rate limiting looks like now.
pub struct RateLimit {
    pub requests: u64,
    pub throttled: u64,
    /// How long the channel asked chansync to pause, from now.
    pub paused_ms: u64,
}

/// A replay the merchant just asked for, as it stands now.
pub struct Replayed {
    pub id: i64,
    /// `None`: no such push.
    pub row: Option<OutboxRow>,
}

/// Everything the page shows.
pub struct Status {
    pub now: DateTime<Utc>,
    pub channels: Vec<Channel>,
    pub orders: Vec<Order>,
    pub low_stock: Vec<StockView>,
    pub dead: Vec<OutboxRow>,
    pub replayed: Option<Replayed>,
}

/// How a page refreshes itself.
#[derive(Clone, Copy)]
enum Refresh {
    Never,
    /// Reloads the page as it is (a replay's outcome included).
    Same,
    /// Goes to the status page (from a page a POST answered).
    Home,
}

fn frame(title: &str, refresh: Refresh, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                // A replay is a POST answered by a redirect, so a refresh
                // never repeats or drops one.
                @match refresh {
                    Refresh::Never => {}
                    Refresh::Same => { meta http-equiv="refresh" content=(REFRESH_SECS); }
                    Refresh::Home => { meta http-equiv="refresh" content=(format!("{REFRESH_SECS}; url=/")); }
                }
                meta name="robots" content="noindex";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body { main { (body) } }
        }
    }
}

const CSS: &str = "\
*{box-sizing:border-box}\
body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;color:#1d2125;background:#f4f5f7}\
main{max-width:78rem;margin:0 auto;padding:1rem 1rem 3rem}\
h1{font-size:1.35rem;margin:.2rem 0}h1 small{font-weight:400;color:#5c6570;font-size:1rem}\
h2{font-size:1.05rem;margin:1.8rem 0 .6rem}h2 .count{font-weight:400;color:#5c6570}\
p{margin:.3rem 0}.muted,.note{color:#5c6570}.note{display:block;font-size:.85rem}\
nav{display:flex;flex-wrap:wrap;gap:.3rem 1rem;margin:.6rem 0 0;font-size:.9rem}\
a{color:#0b57d0}\
.summary{font-weight:600}\
.wrap{overflow-x:auto;background:#fff;border:1px solid #dfe2e6;border-radius:.5rem}\
table{border-collapse:collapse;width:100%}\
th,td{text-align:left;padding:.5rem .7rem;border-bottom:1px solid #eceef1;vertical-align:top;overflow-wrap:break-word}\
time,button,.badge,td code{white-space:nowrap}td.action{width:1%}\
tbody tr:last-child td{border-bottom:0}\
th{font-size:.78rem;font-weight:600;color:#5c6570;text-transform:uppercase;letter-spacing:.03em;white-space:nowrap;background:#fafbfc}\
.num{text-align:right;font-variant-numeric:tabular-nums}\
.name{font-weight:600}.name .note{font-weight:400}\
.badge{display:inline-block;padding:.05rem .55rem;border-radius:1rem;font-size:.82rem;font-weight:600;white-space:nowrap}\
.ok{background:#e1f3e6;color:#146c2e}.starting,.quiet{background:#eceff3;color:#414a53}\
.attention,.retrying,.late,.low{background:#fff0d1;color:#7a4a00}.error,.out{background:#fde3e5;color:#a50e1e}\
.flash{background:#fff;border:1px solid #dfe2e6;border-left:4px solid #0b57d0;border-radius:.5rem;padding:.6rem .8rem;margin:1rem 0}\
.flash.bad{border-left-color:#a50e1e}.flash.good{border-left-color:#146c2e}\
.flash a{margin-left:.5rem}\
.empty{background:#fff;border:1px solid #dfe2e6;border-radius:.5rem;padding:.7rem .9rem;color:#5c6570}\
button{font:inherit;font-weight:600;padding:.35rem .9rem;border-radius:.4rem;border:1px solid #0b57d0;background:#0b57d0;color:#fff;cursor:pointer}\
button:hover{background:#0842a0}\
code{font-size:.9em}\
form.signin{background:#fff;border:1px solid #dfe2e6;border-radius:.5rem;padding:1rem;max-width:24rem;margin-top:1rem}\
form.signin label{display:block;font-weight:600;margin-bottom:.4rem}\
form.signin input{font:inherit;width:100%;padding:.45rem .6rem;border:1px solid #b9bfc6;border-radius:.4rem;margin-bottom:.8rem}\
@media (max-width:44rem){\
main{padding:.75rem .75rem 2rem}\
.wrap{overflow-x:visible;background:none;border:0}\
table.cards thead{display:none}\
table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}\
table.cards tr{background:#fff;border:1px solid #dfe2e6;border-radius:.5rem;margin:0 0 .6rem;padding:.35rem 0}\
table.cards td{display:block;border:0;padding:.2rem .8rem;text-align:right}\
table.cards td::after{content:\"\";display:table;clear:both}\
table.cards td::before{content:attr(data-label);float:left;max-width:48%;margin-right:1rem;text-align:left;color:#5c6570;font-size:.85rem;line-height:1.7}\
table.cards td.name{display:block;text-align:left;font-size:1.02rem;border-bottom:1px solid #eceef1;padding-bottom:.35rem;margin-bottom:.2rem}\
table.cards td.name::before,table.cards td.action::before{content:none}\
table.cards td.health{display:block;text-align:left}\
table.cards td.health::before{content:none}\
table.cards td code{white-space:normal;overflow-wrap:anywhere}\
}";

/// The sign-in form; `problem` says why it is shown again.
pub fn sign_in(problem: Option<&str>) -> Markup {
    frame(
        "chansync: sign in",
        Refresh::Never,
        html! {
            h1 { "chansync " small { "status" } }
            p.muted { "This page shows orders and customers, so it asks for the admin token set in "
                code { "[server] admin_token" } "." }
            @if let Some(p) = problem { div.flash.bad role="alert" { (p) } }
            form.signin method="post" action="/login" {
                label for="token" { "Admin token" }
                input #token type="password" name="token" autocomplete="current-password" required autofocus;
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// The page when no admin token is configured.
pub fn off() -> Markup {
    frame(
        "chansync",
        Refresh::Never,
        html! {
            h1 { "chansync " small { "status" } }
            p { "The status page is off: set " code { "[server] admin_token" } " to use it." }
        },
    )
}

/// The page when the store does not answer; it tries again by itself.
pub fn unavailable() -> Markup {
    frame(
        "chansync status",
        Refresh::Home,
        html! {
            h1 { "chansync " small { "status" } }
            div.flash.bad role="alert" { "The order store is not answering right now. This page tries again every "
                (REFRESH_SECS) " seconds." }
        },
    )
}

pub fn status(s: &Status) -> Markup {
    let look = s
        .channels
        .iter()
        .filter(|c| c.health.needs_a_look())
        .count();
    let summary = match (s.channels.len(), look) {
        (0, _) => "No channels configured.".to_owned(),
        (n, 0) => format!("{}: all well.", plural(n as i64, "channel", "channels")),
        (n, k) => format!(
            "{}: {} to look at.",
            plural(n as i64, "channel", "channels"),
            k
        ),
    };
    let body = html! {
        header {
            h1 { "chansync " small { "status" } }
            p.summary { (summary) }
            p.muted { "Updated " (time(s.now, &s.now.format("%H:%M:%S UTC").to_string()))
                " · refreshes every " (REFRESH_SECS) " s" }
            nav {
                a href="#channels" { "Channels" }
                a href="#orders" { "Recent orders" }
                a href="#stock" { "Low stock (" (s.low_stock.len()) ")" }
                a href="#dead" { "Dead letters (" (s.dead.len()) ")" }
            }
        }
        @if let Some(r) = &s.replayed { (replayed(r)) }
        h2 #channels { "Channels" }
        (channels(&s.channels, s.now))
        h2 #orders { "Recent orders" }
        (orders(&s.orders))
        h2 #stock { "Stock low or out" }
        (stock(&s.low_stock))
        h2 #dead { "Dead letters" @if !s.dead.is_empty() { " " span.count { "(" (s.dead.len()) ")" } } }
        (dead(&s.dead, s.now))
    };
    frame("chansync status", Refresh::Same, body)
}

/// A `<time>` with the exact instant on hover.
fn time(t: DateTime<Utc>, text: &str) -> Markup {
    let exact = t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    html! { time datetime=(exact) title=(exact) { (text) } }
}

fn since(t: DateTime<Utc>, now: DateTime<Utc>) -> Markup {
    time(t, &ago((now - t).to_std().unwrap_or_default()))
}

fn replayed(r: &Replayed) -> Markup {
    let (class, text) = match &r.row {
        None => ("bad", format!("There is no push #{}.", r.id)),
        Some(row) => {
            let what = format!(
                "Push #{} ({} {} to {})",
                row.id,
                push_kind(&row.kind),
                row.key,
                row.connector
            );
            match row.state.as_str() {
                "pending" | "sending" => {
                    ("", format!("{what} is queued again and goes out shortly."))
                }
                "done" => ("good", format!("{what} has reached the channel.")),
                "superseded" => (
                    "good",
                    format!("{what} was replaced by a newer push of the same stock level."),
                ),
                "dead" => (
                    "bad",
                    format!(
                        "{what} failed again: {}",
                        row.last_error.as_deref().unwrap_or("no reason given")
                    ),
                ),
                other => ("", format!("{what} is {other}.")),
            }
        }
    };
    html! {
        div class=(format!("flash {class}")) role="status" data-replayed=(r.id) {
            (text) a href="/" { "Dismiss" }
        }
    }
}

fn channels(list: &[Channel], now: DateTime<Utc>) -> Markup {
    if list.is_empty() {
        return html! { p.empty { "No channels are configured." } };
    }
    html! {
        div.wrap { table.cards {
            thead { tr {
                th { "Channel" } th { "Health" } th { "Last successful poll" } th { "Last webhook" }
                th.num { "Webhook backlog" } th.num { "Waiting pushes" } th.num { "Dead letters" } th { "Rate limit" }
            } }
            tbody {
                @for c in list {
                    tr data-connector=(c.name) data-health=(c.health.as_str()) {
                        td.name data-label="Channel" { (c.name) span.note { (c.kind) } }
                        td.health data-label="Health" {
                            span class=(format!("badge {}", c.health.as_str())) { (c.health.as_str()) }
                            span.note title=(c.note) { (clip(&c.note, 160)) }
                        }
                        td data-label="Last successful poll" {
                            @match c.poll {
                                None => span.muted { "not polled" },
                                Some(None) => span.muted { "none yet" },
                                Some(Some(t)) => (since(t, now)),
                            }
                        }
                        td data-label="Last webhook" {
                            @match c.webhook {
                                None => span.muted { "no webhooks" },
                                Some(None) => span.muted { "none yet" },
                                Some(Some(t)) => (since(t, now)),
                            }
                        }
                        td.num data-label="Webhook backlog" {
                            (c.backlog)
                            @if let (true, Some(t)) = (c.backlog > 0, c.backlog_oldest_at) {
                                span.note { "oldest " (ago((now - t).to_std().unwrap_or_default())) }
                            }
                        }
                        td.num data-label="Waiting pushes" { (c.waiting_pushes) }
                        td.num data-label="Dead letters" {
                            @if c.dead_letters > 0 { a href="#dead" { (c.dead_letters) } } @else { "0" }
                        }
                        td data-label="Rate limit" { (rate_limit(c.rate_limit.as_ref())) }
                    }
                }
            }
        } }
    }
}

fn rate_limit(r: Option<&RateLimit>) -> Markup {
    match r {
        None => html! { span.muted { "–" } },
        Some(r) if r.paused_ms > 0 => html! {
            span.badge.late { "paused" }
            span.note { "the channel asked for a pause, "
                (span(std::time::Duration::from_millis(r.paused_ms))) " left" }
        },
        Some(r) if r.requests == 0 => html! { span.muted { "no requests yet" } },
        Some(r) => html! {
            (plural(r.requests as i64, "request", "requests"))
            span.note { (r.throttled) " throttled" }
        },
    }
}

fn status_class(s: OrderStatus) -> &'static str {
    match s {
        OrderStatus::NeedsAttention => "attention",
        OrderStatus::Cancelled => "quiet",
        OrderStatus::Fulfilled => "ok",
        _ => "starting",
    }
}

fn orders(list: &[Order]) -> Markup {
    if list.is_empty() {
        return html! { p.empty { "No orders yet." } };
    }
    html! {
        div.wrap { table.cards {
            thead { tr {
                th { "Order" } th { "Channel" } th { "Status" } th.num { "Total" } th { "Ships from" } th { "Placed (UTC)" }
            } }
            tbody {
                @for o in list {
                    tr data-order=(o.id) {
                        td.name data-label="Order" { (o.external_number.as_deref().unwrap_or(&o.external_id)) }
                        td data-label="Channel" { (o.connector) }
                        td data-label="Status" {
                            span class=(format!("badge {}", status_class(o.status))) { (o.status.as_str().replace('_', " ")) }
                        }
                        td.num data-label="Total" { (o.total) " " (o.currency.as_str()) }
                        td data-label="Ships from" {
                            @if o.allocations.is_empty() { span.muted { "not routed" } } @else {
                                span { @for (i, a) in o.allocations.iter().enumerate() {
                                    @if i > 0 { br; }
                                    (a.location) ": " (a.quantity) " × " (a.sku)
                                } }
                            }
                        }
                        // One clock for every order (channels stamp their own
                        // offsets); the channel's own time on hover.
                        td data-label="Placed (UTC)" {
                            time datetime=(o.placed_at.to_rfc3339()) title=(o.placed_at.to_rfc3339()) {
                                (o.placed_at.with_timezone(&Utc).format("%Y-%m-%d %H:%M"))
                            }
                        }
                    }
                }
            }
        } }
    }
}

fn stock(list: &[StockView]) -> Markup {
    if list.is_empty() {
        return html! { p.empty { "Nothing at or below " (LOW_STOCK) " units." } };
    }
    html! {
        div.wrap { table.cards {
            thead { tr {
                th { "SKU" } th.num { "Available" } th.num { "On hand" } th.num { "Reserved" } th { "Channels show" }
            } }
            tbody {
                @for s in list {
                    tr data-sku=(s.sku) {
                        td.name data-label="SKU" { (s.sku) }
                        td.num data-label="Available" {
                            (s.available) " "
                            @if s.available <= 0 { span.badge.out { "out" } } @else { span.badge.low { "low" } }
                        }
                        td.num data-label="On hand" { (s.on_hand) }
                        td.num data-label="Reserved" { (s.reserved) }
                        td data-label="Channels show" {
                            @if s.channels.is_empty() { span.muted { "–" } }
                            span { @for (i, c) in s.channels.iter().enumerate() {
                                @if i > 0 { br; }
                                (c.connector) ": " (c.published)
                            } }
                        }
                    }
                }
            }
        } }
    }
}

fn dead(list: &[OutboxRow], now: DateTime<Utc>) -> Markup {
    if list.is_empty() {
        return html! { p.empty { "None: every push reached its channel." } };
    }
    html! {
        p.muted { "Pushes a channel refused after every retry. Fix the cause (a missing product, a credential), then replay." }
        div.wrap { table.cards {
            thead { tr {
                th { "Push" } th { "Channel" } th { "What" } th.num { "Attempts" } th { "Last error" } th { "Since" } th { span.muted { "Action" } }
            } }
            tbody {
                @for d in list {
                    tr data-outbox=(d.id) {
                        td.name data-label="Push" { "#" (d.id) }
                        td data-label="Channel" { (d.connector) }
                        td data-label="What" { (push_kind(&d.kind)) " " code { (d.key) } }
                        td.num data-label="Attempts" { (d.attempts) }
                        td data-label="Last error" { span title=(d.last_error.as_deref().unwrap_or("")) {
                            (clip(d.last_error.as_deref().unwrap_or(""), 200)) } }
                        td data-label="Since" {
                            @match DateTime::parse_from_rfc3339(&d.updated_at) {
                                Ok(t) => (since(t.with_timezone(&Utc), now)),
                                Err(_) => (d.updated_at),
                            }
                        }
                        td.action {
                            form method="post" action=(format!("/ui/outbox/{}/replay", d.id)) {
                                button type="submit" aria-label=(format!("Replay push #{}", d.id)) { "Replay" }
                            }
                        }
                    }
                }
            }
        } }
    }
}

/// What an outbox row carries, in a merchant's words (its key follows).
fn push_kind(kind: &str) -> &str {
    match kind {
        "stock" => "stock level of",
        "fulfillment" => "shipment of order",
        "cancel" => "cancellation of order",
        "sink_order" => "hand-over of order",
        "sink_cancel" => "cancelled hand-over of order",
        other => other,
    }
}

/// At most `max` characters, with an ellipsis when cut.
fn clip(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

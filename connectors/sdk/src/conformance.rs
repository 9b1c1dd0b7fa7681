//! The conformance kit: what every connector must do, checked against its
//! own simulator with one call. A connector's test implements [`SimDriver`]
//! for its simulator and calls [`run`]; every check of a capability the
//! connector has runs, every other one is reported as skipped with the
//! reason, and the first failure panics with what went wrong.
//!
//! ```ignore
//! #[tokio::test]
//! async fn conforms() {
//!     let driver = MyDriver::start().await;
//!     let report = chansync_sdk::conformance::run(&driver).await;
//!     // What the channel cannot do, stated; every other check must pass.
//!     report.assert_skipped_only(&["webhook_signatures", "webhook_replays"]);
//! }
//! ```
//!
//! Checks (each named in the report):
//! - `pagination`: a sweep from no cursor pages to the end and yields every
//!   order the channel holds, none twice;
//! - `resumption`: a sweep stopped after its first page and resumed by a
//!   new connector instance from the saved cursor misses nothing and repeats
//!   nothing;
//! - `idempotent_pages`: the same cursor read twice gives the same orders;
//! - `mapping`: every canonical field is filled, unless the driver lists it
//!   as one the channel does not provide;
//! - `money`: amounts are in their currency's canonical precision, lines add
//!   up (`unit_price × quantity − discount = total`), the subtotal is the sum
//!   of the lines, the total adds up with or without tax included;
//! - `rate_limits`: all of the above ran in bursts without one 429 from the
//!   simulator under the connector's own quota;
//! - `retries`: two injected 503s, then a 429, are waited out and the call
//!   succeeds;
//! - `webhook_signatures`: a signed delivery verifies and parses to its order,
//!   a tampered body and a missing signature are `BadSignature`;
//! - `webhook_replays`: the same delivery parsed twice is the same event;
//! - `stock_push`: levels pushed are what the simulator then holds, and a
//!   replayed batch changes nothing;
//! - `fulfillment_push`: a shipment with tracking is recorded once by the
//!   simulator, even when pushed twice;
//! - `stock_read`: on hand set in the channel is read back per SKU and
//!   location, and a change is seen on the next read;
//! - `order_sink`: an order sent twice under one reference is one record in
//!   the channel, under the same id;
//! - `shipments`: a shipment the channel makes for a sent order is read once,
//!   with its tracking, and not again from the saved cursor;
//! - `sink_cancel`: a sent order cancelled twice is cancelled once.

use std::collections::BTreeSet;
use std::fmt;

use async_trait::async_trait;
use http::HeaderMap;

use crate::connector::{
    Connector, FulfillmentRequest, SinkCancel, SinkOrder, StockLevel, WebhookEvent, WebhookRequest,
};
use crate::model::{ChannelOrder, Fulfillment, FulfillmentLine};
use crate::WebhookError;

/// A webhook delivery as the channel would send it.
#[derive(Debug, Clone)]
pub struct SignedWebhook {
    /// The URL it is posted to (and, for some channels, signed with).
    pub url: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// Drives one connector's simulator for the kit.
#[async_trait]
pub trait SimDriver: Send + Sync {
    /// A new connector instance pointed at the simulator, configured as a
    /// merchant would (its default quota unless the simulator's is scaled).
    fn connector(&self) -> Box<dyn Connector>;

    /// Creates `n` orders in the channel now; returns their external ids.
    async fn create_orders(&self, n: usize) -> Vec<String>;

    /// How many orders fill more than one page with `connector()`'s
    /// settings.
    fn more_than_a_page(&self) -> usize {
        25
    }

    /// Every order the channel holds (external ids).
    fn channel_order_ids(&self) -> Vec<String>;

    /// How many 429s the simulator has answered.
    fn throttled(&self) -> u64;

    /// Makes the next `count` API requests fail with `status` (replacing
    /// earlier injections), Retry-After one second for a 429; `false` if the
    /// simulator cannot.
    fn inject_faults(&self, status: u16, count: u32) -> bool;

    /// A correctly signed delivery about order `id`, for a channel with
    /// webhooks.
    fn signed_webhook(&self, _id: &str) -> Option<SignedWebhook> {
        None
    }

    /// Canonical fields the channel does not provide (e.g.
    /// `"external_number"`, `"customer.email"`, `"shipping_address.line1"`);
    /// they may be empty on its orders.
    fn unavailable(&self) -> &'static [&'static str] {
        &[]
    }

    /// Channel SKUs the channel lists, for the stock push check.
    fn listed_skus(&self) -> Vec<String> {
        Vec::new()
    }

    /// The level the channel holds for a SKU now.
    fn stock_level(&self, _channel_sku: &str) -> Option<i64> {
        None
    }

    /// An order the merchant can ship now, with the channel's line ids and
    /// quantities; `None` if the channel has none.
    async fn shippable_order(&self) -> Option<(String, Vec<(String, u32)>)> {
        None
    }

    /// The tracking numbers the channel recorded for an order.
    fn tracking_numbers(&self, _id: &str) -> Vec<String> {
        Vec::new()
    }

    /// A (channel SKU, channel location) the channel keeps stock for, for
    /// the stock read check.
    fn stock_slot(&self) -> Option<(String, String)> {
        None
    }

    /// Sets on hand in the channel as a stock count there would.
    fn set_on_hand(&self, _channel_sku: &str, _location: &str, _quantity: i64) -> bool {
        false
    }

    /// An order for an order sink (an ERP) under `reference`, with SKUs and
    /// a warehouse the channel knows.
    fn sink_order(&self, _reference: &str) -> Option<SinkOrder> {
        None
    }

    /// The states of the records the channel holds under `reference` (e.g.
    /// Odoo sale orders by `client_order_ref`: `sale`, `cancel`).
    fn sink_records(&self, _reference: &str) -> Vec<String> {
        Vec::new()
    }

    /// Whether `state` (from [`SimDriver::sink_records`]) means cancelled.
    fn is_cancelled(&self, state: &str) -> bool {
        state == "cancel" || state == "cancelled"
    }

    /// Ships what was sent under `reference` with `tracking`, as the
    /// channel's warehouse would.
    fn ship_sent(&self, _reference: &str, _tracking: &str) -> bool {
        false
    }
}

/// What ran.
#[derive(Debug, Default)]
pub struct Report {
    pub connector: String,
    /// Checks that passed, with the time each took.
    pub passed: Vec<(&'static str, std::time::Duration)>,
    /// Checks of capabilities the connector lacks, with the reason.
    pub skipped: Vec<(&'static str, String)>,
}

impl Report {
    /// Panics unless exactly these checks were skipped: a connector states
    /// the capabilities its channel lacks, so a check that stops running
    /// fails its test.
    pub fn assert_skipped_only(&self, expected: &[&str]) {
        let skipped: BTreeSet<&str> = self.skipped.iter().map(|(s, _)| *s).collect();
        let expected: BTreeSet<&str> = expected.iter().copied().collect();
        assert_eq!(skipped, expected, "{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "conformance of {}:", self.connector)?;
        for (p, took) in &self.passed {
            writeln!(f, "  passed   {p} ({:.1} s)", took.as_secs_f64())?;
        }
        for (s, why) in &self.skipped {
            writeln!(f, "  skipped  {s}: {why}")?;
        }
        Ok(())
    }
}

/// Sweeps from `cursor` to the end; every order seen, in order.
async fn sweep(c: &dyn Connector, mut cursor: Option<String>) -> (Vec<ChannelOrder>, String) {
    let source = c.orders().expect("checked by the caller");
    let mut seen = Vec::new();
    for pages in 1.. {
        let page = source
            .fetch_orders(cursor.as_deref())
            .await
            .unwrap_or_else(|e| panic!("fetch_orders after {} pages: {e}", pages - 1));
        seen.extend(page.orders.into_iter().map(|p| p.order));
        cursor = Some(page.cursor);
        if !page.has_more {
            break;
        }
        assert!(pages < 10_000, "the sweep never ends");
    }
    (seen, cursor.unwrap_or_default())
}

fn ids(orders: &[ChannelOrder]) -> Vec<String> {
    orders.iter().map(|o| o.external_id.clone()).collect()
}

fn assert_no_repeats(what: &str, ids: &[String]) {
    let mut seen = BTreeSet::new();
    for id in ids {
        assert!(seen.insert(id), "{what}: order {id} came twice");
    }
}

/// Waits until a quota spent by one instance has refilled (at most 5 s), so
/// that a second instance of the same account does not find the channel's
/// bucket emptier than its own limiter believes.
async fn refill(c: &dyn Connector) {
    if let Some(q) = c.rate_limit_state() {
        if q.per_second > 0.0 {
            let secs = (f64::from(q.burst) / q.per_second).min(5.0);
            tokio::time::sleep(std::time::Duration::from_secs_f64(secs)).await;
        }
    }
}

/// Runs every check the connector's capabilities call for.
pub async fn run(d: &dyn SimDriver) -> Report {
    let c = d.connector();
    let mut r = Report {
        connector: c.kind().to_owned(),
        ..Default::default()
    };
    let throttled_before = d.throttled();
    let mut clock = std::time::Instant::now();
    let mut pass = |r: &mut Report, check: &'static str| {
        r.passed.push((check, clock.elapsed()));
        clock = std::time::Instant::now();
    };

    if c.orders().is_some() {
        d.create_orders(d.more_than_a_page()).await;
        let held: BTreeSet<String> = d.channel_order_ids().into_iter().collect();

        // pagination
        let (all, _) = sweep(c.as_ref(), None).await;
        let got = ids(&all);
        assert_no_repeats("pagination", &got);
        let got: BTreeSet<String> = got.into_iter().collect();
        let missing: Vec<&String> = held.difference(&got).collect();
        assert!(
            missing.is_empty(),
            "pagination: a sweep missed orders the channel holds: {missing:?}"
        );
        pass(&mut r, "pagination");

        // resumption
        let source = c.orders().expect("checked");
        let first = source.fetch_orders(None).await.expect("first page");
        assert!(
            first.has_more,
            "resumption: {} orders fit one page; raise more_than_a_page()",
            held.len()
        );
        // A restart: the first instance stops, the channel's quota refills
        // while the daemon is down, a new instance resumes from the cursor
        // (and afterwards the first goes on as if restarted once more).
        refill(c.as_ref()).await;
        let again = d.connector();
        let (rest, _) = sweep(again.as_ref(), Some(first.cursor.clone())).await;
        refill(again.as_ref()).await;
        drop(again);
        let mut joined: Vec<String> = first
            .orders
            .iter()
            .map(|p| p.order.external_id.clone())
            .collect();
        joined.extend(ids(&rest));
        assert_no_repeats("resumption", &joined);
        let joined: BTreeSet<String> = joined.into_iter().collect();
        let missing: Vec<&String> = held.difference(&joined).collect();
        assert!(
            missing.is_empty(),
            "resumption: a resumed sweep missed {missing:?}"
        );
        pass(&mut r, "resumption");

        // idempotent_pages
        let twice = source.fetch_orders(None).await.expect("first page again");
        let a: Vec<&ChannelOrder> = first.orders.iter().map(|p| &p.order).collect();
        let b: Vec<&ChannelOrder> = twice.orders.iter().map(|p| &p.order).collect();
        assert_eq!(a, b, "idempotent_pages: the same page read twice differs");
        pass(&mut r, "idempotent_pages");

        // mapping and money
        for o in &all {
            check_mapping(o, d.unavailable());
            check_money(o);
        }
        pass(&mut r, "mapping");
        pass(&mut r, "money");

        // webhooks
        match (c.webhooks(), d.signed_webhook(&all[0].external_id)) {
            (Some(w), Some(hook)) => {
                check_webhooks(w, &hook, &all[0].external_id);
                pass(&mut r, "webhook_signatures");
                pass(&mut r, "webhook_replays");
            }
            (None, _) => {
                for s in ["webhook_signatures", "webhook_replays"] {
                    r.skipped
                        .push((s, "the connector receives no webhooks".into()));
                }
            }
            (Some(_), None) => panic!("the connector takes webhooks but the driver makes none"),
        }
    } else {
        for s in [
            "pagination",
            "resumption",
            "idempotent_pages",
            "mapping",
            "money",
            "webhook_signatures",
            "webhook_replays",
        ] {
            r.skipped
                .push((s, "the connector does not poll orders".into()));
        }
    }

    // stock_push
    match c.stock_push() {
        Some(push) if !d.listed_skus().is_empty() => {
            let skus = d.listed_skus();
            let levels: Vec<StockLevel> = skus
                .iter()
                .take(push.batch_size().clamp(1, 5))
                .enumerate()
                .map(|(i, s)| StockLevel {
                    channel_sku: s.clone(),
                    channel_location: None,
                    quantity: 7 + i as i64,
                    idempotency_key: format!("conformance-stock-{i}"),
                })
                .collect();
            for round in 0..2 {
                let rejected = push
                    .push_stock(&levels)
                    .await
                    .unwrap_or_else(|e| panic!("stock_push (round {round}): {e}"));
                assert!(
                    rejected.is_empty(),
                    "stock_push: listed SKUs refused: {:?}",
                    rejected.iter().map(|x| &x.channel_sku).collect::<Vec<_>>()
                );
                for l in &levels {
                    assert_eq!(
                        d.stock_level(&l.channel_sku),
                        Some(l.quantity),
                        "stock_push (round {round}): the channel holds another level of {}",
                        l.channel_sku
                    );
                }
            }
            pass(&mut r, "stock_push");
        }
        Some(_) => r
            .skipped
            .push(("stock_push", "the driver lists no SKUs".into())),
        None => r
            .skipped
            .push(("stock_push", "the connector pushes no stock".into())),
    }

    // fulfillment_push
    match (c.fulfillment_push(), d.shippable_order().await) {
        (Some(push), Some((order, lines))) => {
            let tracking = "CONFORMANCE-1Z999";
            let req = FulfillmentRequest {
                external_order_id: order.clone(),
                fulfillment: Fulfillment {
                    location: None,
                    carrier: Some("UPS".into()),
                    tracking: Some(tracking.into()),
                    lines: lines
                        .iter()
                        .map(|(id, q)| FulfillmentLine {
                            external_id: id.clone(),
                            quantity: *q,
                        })
                        .collect(),
                },
                idempotency_key: "conformance-fulfillment-1".into(),
            };
            for round in 0..2 {
                push.push_fulfillment(&req)
                    .await
                    .unwrap_or_else(|e| panic!("fulfillment_push (round {round}): {e}"));
            }
            let recorded = d.tracking_numbers(&order);
            assert_eq!(
                recorded.iter().filter(|t| *t == tracking).count(),
                1,
                "fulfillment_push: the channel holds {recorded:?} for order {order}"
            );
            pass(&mut r, "fulfillment_push");
        }
        (Some(_), None) => r.skipped.push((
            "fulfillment_push",
            "the simulator has no order to ship".into(),
        )),
        (None, _) => r.skipped.push((
            "fulfillment_push",
            "the connector pushes no fulfilments".into(),
        )),
    }

    // stock_read
    match (c.stock_source(), d.stock_slot()) {
        (Some(source), Some((sku, location))) => {
            for quantity in [17, 3] {
                assert!(
                    d.set_on_hand(&sku, &location, quantity),
                    "stock_read: the driver cannot set on hand"
                );
                let read = source
                    .read_on_hand()
                    .await
                    .unwrap_or_else(|e| panic!("stock_read: {e}"));
                let got: i64 = read
                    .iter()
                    .filter(|h| {
                        h.channel_sku == sku && h.channel_location.as_deref() == Some(&location)
                    })
                    .map(|h| h.on_hand)
                    .sum();
                assert_eq!(
                    got, quantity,
                    "stock_read: {sku} at {location} holds {quantity}, read {got}"
                );
            }
            pass(&mut r, "stock_read");
        }
        (Some(_), None) => r
            .skipped
            .push(("stock_read", "the driver names no stock slot".into())),
        (None, _) => r
            .skipped
            .push(("stock_read", "the connector reads no stock".into())),
    }

    // order_sink, shipments, sink_cancel
    match (c.order_sink(), d.sink_order("conformance-1")) {
        (Some(sink), Some(order)) => {
            let first = sink
                .create_order(&order)
                .await
                .unwrap_or_else(|e| panic!("order_sink: {e}"));
            let again = sink
                .create_order(&order)
                .await
                .unwrap_or_else(|e| panic!("order_sink (again): {e}"));
            assert_eq!(first, again, "order_sink: the same order got two ids");
            let records = d.sink_records(&order.reference);
            assert_eq!(
                records.len(),
                1,
                "order_sink: the channel holds {records:?} under {}",
                order.reference
            );
            pass(&mut r, "order_sink");

            match c.shipment_source() {
                Some(shipments) => {
                    let tracking = "CONFORMANCE-SHIP-1";
                    let mut cursor = None;
                    // Read what is there before, so only the new one counts.
                    loop {
                        let page = shipments.fetch_shipments(cursor.as_deref()).await;
                        let page = page.unwrap_or_else(|e| panic!("shipments: {e}"));
                        cursor = Some(page.cursor);
                        if !page.has_more {
                            break;
                        }
                    }
                    assert!(
                        d.ship_sent(&order.reference, tracking),
                        "shipments: the simulator shipped nothing for {}",
                        order.reference
                    );
                    let mut seen = Vec::new();
                    for round in 0..2 {
                        loop {
                            let page = shipments
                                .fetch_shipments(cursor.as_deref())
                                .await
                                .unwrap_or_else(|e| panic!("shipments (round {round}): {e}"));
                            seen.extend(page.shipments);
                            cursor = Some(page.cursor);
                            if !page.has_more {
                                break;
                            }
                        }
                    }
                    let ours: Vec<_> = seen
                        .iter()
                        .filter(|s| s.reference == order.reference)
                        .collect();
                    assert_eq!(
                        ours.len(),
                        1,
                        "shipments: the shipment of {} was read {} times",
                        order.reference,
                        ours.len()
                    );
                    assert_eq!(
                        ours[0].fulfillment.tracking.as_deref(),
                        Some(tracking),
                        "shipments: the tracking number"
                    );
                    pass(&mut r, "shipments");
                }
                None => r
                    .skipped
                    .push(("shipments", "the connector reads no shipments".into())),
            }

            let other = d
                .sink_order("conformance-2")
                .expect("the driver made one order already");
            sink.create_order(&other)
                .await
                .unwrap_or_else(|e| panic!("sink_cancel: creating: {e}"));
            let cancel = SinkCancel {
                reference: other.reference.clone(),
                reason: Some("conformance".into()),
                idempotency_key: "conformance-cancel-2".into(),
            };
            for round in 0..2 {
                sink.cancel_order(&cancel)
                    .await
                    .unwrap_or_else(|e| panic!("sink_cancel (round {round}): {e}"));
            }
            let records = d.sink_records(&other.reference);
            assert!(
                records.len() == 1 && d.is_cancelled(&records[0]),
                "sink_cancel: the channel holds {records:?} under {}",
                other.reference
            );
            pass(&mut r, "sink_cancel");
        }
        (Some(_), None) => {
            for s in ["order_sink", "shipments", "sink_cancel"] {
                r.skipped
                    .push((s, "the driver makes no order to send".into()));
            }
        }
        (None, _) => {
            for s in ["order_sink", "shipments", "sink_cancel"] {
                r.skipped.push((s, "the connector takes no orders".into()));
            }
        }
    }

    // rate_limits: everything above ran without a 429.
    let throttled = d.throttled() - throttled_before;
    assert_eq!(
        throttled, 0,
        "rate_limits: the simulator answered {throttled} requests with 429 under the connector's own quota"
    );
    pass(&mut r, "rate_limits");

    // retries: on the connector's main read.
    let mut injected = false;
    let mut ran = false;
    for (status, count) in [(503, 2), (429, 1)] {
        if !d.inject_faults(status, count) {
            break;
        }
        injected = true;
        let what = format!("retries: {count} × {status} were not waited out");
        if let Some(source) = c.orders() {
            let page = source
                .fetch_orders(None)
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(!page.orders.is_empty(), "retries: the page came back empty");
            ran = true;
        } else if let Some(source) = c.stock_source() {
            let read = source
                .read_on_hand()
                .await
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert!(!read.is_empty(), "retries: the stock read came back empty");
            ran = true;
        }
    }
    match (injected, ran) {
        (true, true) => pass(&mut r, "retries"),
        (false, _) => r
            .skipped
            .push(("retries", "the simulator cannot inject faults".into())),
        (true, false) => r.skipped.push((
            "retries",
            "checked on reading orders or stock, which the connector does not".into(),
        )),
    }
    r
}

/// Fields a merchant relies on are filled unless the channel has none.
fn check_mapping(o: &ChannelOrder, unavailable: &[&str]) {
    let may_lack = |f: &str| unavailable.contains(&f);
    let id = &o.external_id;
    assert!(!id.is_empty(), "mapping: an order without an id");
    let mut lacking: Vec<&str> = Vec::new();
    let mut need = |field: &'static str, ok: bool| {
        if !ok && !may_lack(field) {
            lacking.push(field);
        }
    };
    need(
        "external_number",
        o.external_number.as_deref().is_some_and(|n| !n.is_empty()),
    );
    need(
        "customer.name",
        o.customer.name.as_deref().is_some_and(|n| !n.is_empty()),
    );
    need(
        "customer.email",
        o.customer.email.as_deref().is_some_and(|n| !n.is_empty()),
    );
    need("shipping_address", o.shipping_address.is_some());
    if let Some(a) = &o.shipping_address {
        need("shipping_address.line1", !a.line1.is_empty());
        need("shipping_address.city", !a.city.is_empty());
        need("shipping_address.postal_code", !a.postal_code.is_empty());
    }
    need("lines", !o.lines.is_empty());
    for l in &o.lines {
        need("lines.external_id", !l.external_id.is_empty());
        need("lines.title", !l.title.trim().is_empty());
        if let Some(s) = &l.channel_sku {
            assert!(!s.is_empty(), "mapping: order {id}: an empty SKU is None");
        }
        assert!(l.quantity > 0, "mapping: order {id}: a line of 0 units");
    }
    assert!(
        o.placed_at <= o.updated_at,
        "mapping: order {id} was updated before it was placed"
    );
    assert!(
        lacking.is_empty(),
        "mapping: order {id} lacks {lacking:?} (list what the channel does not provide in unavailable())"
    );
}

/// Decimal money in its currency's precision that adds up.
fn check_money(o: &ChannelOrder) {
    let id = &o.external_id;
    let cur = &o.currency;
    let canonical = |what: &str, a: rust_decimal::Decimal| {
        assert_eq!(
            cur.canonical(a),
            a,
            "money: order {id}: {what} {a} is not in {cur}'s canonical form"
        );
    };
    for (what, a) in [
        ("subtotal", o.subtotal),
        ("shipping_total", o.shipping_total),
        ("tax_total", o.tax_total),
        ("discount_total", o.discount_total),
        ("total", o.total),
    ] {
        canonical(what, a);
    }
    let mut lines = rust_decimal::Decimal::ZERO;
    for l in &o.lines {
        canonical("a line total", l.total);
        canonical("a line discount", l.discount);
        assert_eq!(
            l.unit_price * rust_decimal::Decimal::from(l.quantity) - l.discount,
            l.total,
            "money: order {id}: line {} does not add up",
            l.external_id
        );
        lines += l.total;
    }
    assert_eq!(
        lines, o.subtotal,
        "money: order {id}: the subtotal is not the sum of the lines"
    );
    let before_tax = o.subtotal + o.shipping_total;
    assert!(
        o.total == before_tax + o.tax_total || o.total == before_tax,
        "money: order {id}: total {} is neither subtotal + shipping + tax nor, tax included, subtotal + shipping",
        o.total
    );
}

fn check_webhooks(w: &dyn crate::connector::WebhookReceiver, hook: &SignedWebhook, id: &str) {
    let req = WebhookRequest {
        headers: &hook.headers,
        body: &hook.body,
        url: &hook.url,
    };
    w.verify(&req)
        .unwrap_or_else(|e| panic!("webhook_signatures: a signed delivery was refused: {e}"));
    let parsed = w
        .parse(&req)
        .unwrap_or_else(|e| panic!("webhook_signatures: a signed delivery did not parse: {e}"));
    match &parsed.event {
        WebhookEvent::Order(o) => assert_eq!(o.external_id, id, "webhook_signatures"),
        WebhookEvent::OrderChanged { external_id } => {
            assert_eq!(external_id, id, "webhook_signatures")
        }
        other => panic!("webhook_signatures: a delivery about order {id} means {other:?}"),
    }
    let mut tampered = hook.body.clone();
    if let Some(b) = tampered.iter_mut().find(|b| b.is_ascii_digit()) {
        *b = if *b == b'9' { b'8' } else { *b + 1 };
    } else {
        tampered.push(b' ');
    }
    let bad = WebhookRequest {
        headers: &hook.headers,
        body: &tampered,
        url: &hook.url,
    };
    assert!(
        matches!(w.verify(&bad), Err(WebhookError::BadSignature(_))),
        "webhook_signatures: a tampered body was not refused as a bad signature"
    );
    let mut unsigned = HeaderMap::new();
    for (k, v) in &hook.headers {
        let name = k.as_str();
        if !(name.contains("hmac") || name.contains("signature")) {
            unsigned.insert(k.clone(), v.clone());
        }
    }
    let bare = WebhookRequest {
        headers: &unsigned,
        body: &hook.body,
        url: &hook.url,
    };
    assert!(
        matches!(w.verify(&bare), Err(WebhookError::BadSignature(_))),
        "webhook_signatures: a delivery without a signature was not refused"
    );
    // webhook_replays
    let again = w.parse(&req).expect("parsed once already");
    assert_eq!(
        again.event_id, parsed.event_id,
        "webhook_replays: the same delivery has another event id"
    );
    let order_of = |e: &WebhookEvent| match e {
        WebhookEvent::Order(o) => Some((**o).clone()),
        _ => None,
    };
    assert_eq!(
        order_of(&again.event),
        order_of(&parsed.event),
        "webhook_replays: the same delivery parsed twice differs"
    );
}

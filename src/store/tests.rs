use chansync_sdk::model::*;

use super::*;

use chansync_testpg::both;
use sqlx::Row;
use std::time::Duration;

/// A fresh, migrated store on backend `b` (SQLite in a temp dir, or a new
/// database on the test PostgreSQL server).
pub(crate) async fn store(b: Backend) -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let url = match b {
        Backend::Sqlite => format!("sqlite://{}", dir.path().join("t.db").display()),
        Backend::Postgres => chansync_testpg::server().create_database(),
    };
    let opts = StoreOptions::new(url)
        .synchronous(Synchronous::Normal)
        .max_connections(4);
    (Store::open(&opts, OpenMode::Migrate).await.unwrap(), dir)
}

fn order(id: &str, updated: &str, total: &str) -> ChannelOrder {
    ChannelOrder {
        external_id: id.into(),
        external_number: Some(format!("#{id}")),
        status: ChannelStatus::Open,
        payment_status: PaymentStatus::Paid,
        fulfilled_by: FulfilledBy::Merchant,
        currency: "EUR".parse().unwrap(),
        subtotal: total.parse().unwrap(),
        shipping_total: "0".parse().unwrap(),
        tax_total: "0".parse().unwrap(),
        discount_total: "0".parse().unwrap(),
        total: total.parse().unwrap(),
        placed_at: "2026-11-01T10:00:00+01:00".parse().unwrap(),
        updated_at: updated.parse().unwrap(),
        customer: Customer {
            name: Some("Zoë".into()),
            email: None,
        },
        shipping_address: None,
        lines: vec![ChannelLine {
            external_id: "l1".into(),
            channel_sku: Some("CH-1".into()),
            title: "Mug".into(),
            quantity: 1,
            unit_price: total.parse().unwrap(),
            total: total.parse().unwrap(),
            tax: "0".parse().unwrap(),
            discount: "0".parse().unwrap(),
        }],
        fulfillments: vec![],
    }
}

fn inc(o: &ChannelOrder) -> Incoming<'_> {
    Incoming {
        order: o,
        raw: None,
        source: Source::Webhook,
    }
}

both!(upserts_are_idempotent_and_monotonic);
async fn upserts_are_idempotent_and_monotonic(b: Backend) {
    let (s, _d) = store(b).await;
    let v1 = order("1", "2026-11-01T10:00:00Z", "10.00");
    let v2 = order("1", "2026-11-01T10:05:00Z", "12.50");
    let r = s
        .apply_orders("shop", "shopify", &[inc(&v1)])
        .await
        .unwrap();
    assert!(matches!(r[0], Applied::Created { .. }));
    // A replay changes nothing.
    let r = s
        .apply_orders("shop", "shopify", &[inc(&v1)])
        .await
        .unwrap();
    assert!(matches!(r[0], Applied::Unchanged { .. }));
    let r = s
        .apply_orders("shop", "shopify", &[inc(&v2)])
        .await
        .unwrap();
    assert!(matches!(r[0], Applied::Updated { .. }));
    // The older version arriving late is ignored.
    let r = s
        .apply_orders("shop", "shopify", &[inc(&v1)])
        .await
        .unwrap();
    assert!(matches!(r[0], Applied::Stale { .. }));
    let all = s.list_orders(&OrderFilter::default()).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].total.to_string(), "12.50");
    let history = s.order_history(r[0].id()).await.unwrap();
    assert_eq!(
        history.iter().map(|h| h.kind.as_str()).collect::<Vec<_>>(),
        ["created", "updated"]
    );
}

both!(same_second_changes_are_applied_and_the_same_id_on_another_connector_is_another_order);
async fn same_second_changes_are_applied_and_the_same_id_on_another_connector_is_another_order(
    b: Backend,
) {
    let (s, _d) = store(b).await;
    let a = order("7", "2026-11-01T10:00:00Z", "10.00");
    let mut b = a.clone();
    b.payment_status = PaymentStatus::Refunded;
    s.apply_orders("shop", "shopify", &[inc(&a)]).await.unwrap();
    let r = s.apply_orders("shop", "shopify", &[inc(&b)]).await.unwrap();
    assert!(matches!(r[0], Applied::Updated { .. }));
    s.apply_orders("shop-us", "shopify", &[inc(&a)])
        .await
        .unwrap();
    assert_eq!(
        s.list_orders(&OrderFilter::default()).await.unwrap().len(),
        2
    );
}

both!(lines_listed_twice_are_one_line_and_a_new_sku_is_listed_once);
async fn lines_listed_twice_are_one_line_and_a_new_sku_is_listed_once(b: Backend) {
    let (s, _d) = store(b).await;
    s.map_sku("shop", "CH-1", "MUG-RED").await.unwrap();
    let mut o = order("1", "2026-11-01T10:00:00Z", "10.00");
    let mut again = o.lines[0].clone();
    again.quantity = 2;
    let mut new_a = o.lines[0].clone();
    new_a.external_id = "l2".into();
    new_a.channel_sku = Some("NEW-9".into());
    let mut new_b = new_a.clone();
    new_b.external_id = "l3".into();
    o.lines.extend([again, new_a, new_b]);
    for updated in ["2026-11-01T10:00:00Z", "2026-11-01T11:00:00Z"] {
        o.updated_at = updated.parse().unwrap();
        o.total += rust_decimal::Decimal::ONE;
        s.apply_orders("shop", "shopify", &[inc(&o)]).await.unwrap();
        let got = &s.list_orders(&OrderFilter::default()).await.unwrap()[0];
        let lines: Vec<(&str, Option<&str>, u32)> = got
            .lines
            .iter()
            .map(|l| (l.external_id.as_str(), l.sku.as_deref(), l.quantity))
            .collect();
        assert_eq!(
            lines,
            vec![
                ("l1", Some("MUG-RED"), 3),
                ("l2", Some("NEW-9"), 1),
                ("l3", Some("NEW-9"), 1)
            ],
            "after the version of {updated}"
        );
    }
    let mapped: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM sku_map WHERE connector = 'shop' AND channel_sku = 'NEW-9'",
    )
    .fetch_one(&s.reader)
    .await
    .unwrap();
    assert_eq!(mapped, 1);
}

both!(skus_map_and_a_line_without_sku_keeps_a_null_sku);
async fn skus_map_and_a_line_without_sku_keeps_a_null_sku(b: Backend) {
    let (s, _d) = store(b).await;
    s.map_sku("shop", "CH-1", "MUG-RED").await.unwrap();
    let o = order("1", "2026-11-01T10:00:00Z", "10.00");
    s.apply_orders("shop", "shopify", &[inc(&o)]).await.unwrap();
    let mut custom = order("2", "2026-11-01T10:00:00Z", "5.00");
    custom.lines[0].channel_sku = None;
    s.apply_orders("shop", "shopify", &[inc(&custom)])
        .await
        .unwrap();
    let got = s
        .list_orders(&OrderFilter {
            connector: Some("shop".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    let one = got.iter().find(|o| o.external_id == "1").unwrap();
    assert_eq!(one.lines[0].sku.as_deref(), Some("MUG-RED"));
    assert_eq!(one.lines[0].channel_sku.as_deref(), Some("CH-1"));
    assert_eq!(one.status, OrderStatus::Open);
    let two = got.iter().find(|o| o.external_id == "2").unwrap();
    assert_eq!(two.lines[0].sku, None, "no SKU is null, never invented");
    assert_eq!(two.status, OrderStatus::Open);
    let open = s
        .list_orders(&OrderFilter {
            status: Some(OrderStatus::Open),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(open.len(), 2);
}

both!(a_page_and_its_cursor_commit_together);
async fn a_page_and_its_cursor_commit_together(b: Backend) {
    let (s, _d) = store(b).await;
    let a = order("1", "2026-11-01T10:00:00Z", "1.00");
    let b = order("2", "2026-11-01T10:00:01Z", "2.00");
    let page = [
        Incoming {
            order: &a,
            raw: Some("{}"),
            source: Source::Poll,
        },
        Incoming {
            order: &b,
            raw: None,
            source: Source::Poll,
        },
    ];
    s.apply_page("shop", "shopify", &page, "cursor-1")
        .await
        .unwrap();
    let st = s.poll_state("shop").await.unwrap().unwrap();
    assert_eq!(st.cursor.as_deref(), Some("cursor-1"));
    assert_eq!(st.orders_seen, 2);
    assert_eq!(
        s.list_orders(&OrderFilter {
            limit: Some(1),
            ..Default::default()
        })
        .await
        .unwrap()
        .len(),
        1
    );
}

both!(inbox_deduplicates_by_event_id_and_keeps_rejected_deliveries);
async fn inbox_deduplicates_by_event_id_and_keeps_rejected_deliveries(b: Backend) {
    let (s, _d) = store(b).await;
    let d = |id: Option<&str>, rejected: Option<&str>| InboxInsert {
        connector: "shop".into(),
        event_id: id.map(Into::into),
        topic: Some("orders/create".into()),
        rejected: rejected.map(Into::into),
        headers: serde_json::json!({}),
        body: b"{}".to_vec(),
    };
    let out = s
        .inbox_insert(&[
            d(Some("e1"), None),
            d(Some("e1"), None),
            d(None, Some("bad json")),
            d(None, Some("bad json")),
        ])
        .await
        .unwrap();
    assert!(matches!(out[0], InboxOutcome::Stored(_)));
    assert_eq!(out[1], InboxOutcome::Duplicate);
    assert!(matches!(out[2], InboxOutcome::Stored(_)));
    assert!(matches!(out[3], InboxOutcome::Stored(_)));
    assert_eq!(s.inbox_pending(&[], false, 10).await.unwrap().len(), 1);
    assert_eq!(s.inbox_problems(10).await.unwrap().len(), 2);
}

both!(a_large_inbox_batch_stores_each_delivery_once_with_its_own_id);
async fn a_large_inbox_batch_stores_each_delivery_once_with_its_own_id(b: Backend) {
    let (s, _d) = store(b).await;
    let d = |connector: &str, id: String| InboxInsert {
        connector: connector.into(),
        topic: Some("orders/create".into()),
        rejected: None,
        headers: serde_json::json!({ "x-id": id }),
        body: format!("{connector}/{id}").into_bytes(),
        event_id: Some(id),
    };
    // Stored before: e7 of shop.
    s.inbox_insert(&[d("shop", "e7".into())]).await.unwrap();
    // 1,300 deliveries (three statements): shop e0..e649 and pos e0..e649,
    // where shop's e7 is old and shop's e5 comes twice.
    let mut batch = Vec::new();
    for n in 0..650 {
        batch.push(d("shop", format!("e{n}")));
        batch.push(d("pos", format!("e{n}")));
    }
    batch.push(d("shop", "e5".into()));
    let out = s.inbox_insert(&batch).await.unwrap();
    assert_eq!(out.len(), batch.len());
    let dup: Vec<usize> = (0..out.len())
        .filter(|&i| out[i] == InboxOutcome::Duplicate)
        .collect();
    assert_eq!(dup, vec![14, 1300], "shop's old e7 and the second e5");
    let pending = s.inbox_pending(&[], false, 5000).await.unwrap();
    assert_eq!(pending.len(), 1300, "1,299 new and the old e7");
    let by_id: std::collections::HashMap<i64, &crate::store::InboxRow> =
        pending.iter().map(|r| (r.id, r)).collect();
    for (i, o) in out.iter().enumerate() {
        let InboxOutcome::Stored(id) = o else {
            continue;
        };
        let row = by_id[id];
        let want = &batch[i];
        assert_eq!(row.connector, want.connector);
        assert_eq!(row.body, want.body, "delivery {i} has its own id");
        assert_eq!(row.headers, want.headers);
    }
}

both!(a_failed_poll_keeps_the_last_successful_one);
async fn a_failed_poll_keeps_the_last_successful_one(b: Backend) {
    let (s, _d) = store(b).await;
    s.poll_finished("shop", None, None).await.unwrap();
    let ok = s.poll_state("shop").await.unwrap().unwrap();
    assert_eq!(ok.last_ok, Some(true));
    assert!(ok.last_ok_at.is_some());
    assert_eq!(ok.last_ok_at, ok.last_finished_at);
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    s.poll_finished("shop", Some("HTTP 503"), None)
        .await
        .unwrap();
    let failed = s.poll_state("shop").await.unwrap().unwrap();
    assert_eq!(failed.last_ok, Some(false));
    assert_ne!(failed.last_finished_at, ok.last_finished_at);
    assert_eq!(failed.last_ok_at, ok.last_ok_at, "still the success");
    s.poll_finished("new", Some("timeout"), None).await.unwrap();
    let never = s.poll_state("new").await.unwrap().unwrap();
    assert_eq!(never.last_ok_at, None);
}

both!(the_newest_delivery_of_each_connector_is_its_webhook_freshness);
async fn the_newest_delivery_of_each_connector_is_its_webhook_freshness(b: Backend) {
    let (s, _d) = store(b).await;
    assert_eq!(s.inbox_last_received("shop").await.unwrap(), None);
    let d = |connector: &str, id: &str| InboxInsert {
        connector: connector.into(),
        event_id: Some(id.into()),
        topic: Some("orders/create".into()),
        rejected: None,
        headers: serde_json::json!({}),
        body: b"{}".to_vec(),
    };
    s.inbox_insert(&[d("shop", "e1")]).await.unwrap();
    let first = s.inbox_last_received("shop").await.unwrap().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    s.inbox_insert(&[d("shop", "e2"), d("pos", "p1")])
        .await
        .unwrap();
    let newest = s.inbox_last_received("shop").await.unwrap().unwrap();
    assert!(newest > first, "{newest} after {first}");
    assert_eq!(s.inbox_last_received("pos").await.unwrap(), Some(newest));
    assert_eq!(s.inbox_last_received("other").await.unwrap(), None);
}

#[tokio::test]
async fn inspection_of_a_missing_store_says_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("none.db").display());
    let e = Store::open(
        &StoreOptions::new(&url).synchronous(Synchronous::Full),
        OpenMode::Existing,
    )
    .await
    .unwrap_err();
    assert!(e.to_string().contains("chansync migrate"), "{e}");
    assert!(!dir.path().join("none.db").exists());
}

#[tokio::test]
async fn inspection_of_a_missing_postgres_database_says_what_to_do() {
    let server = chansync_testpg::server();
    let missing = server.url("no_such_database");
    let e = Store::open(&StoreOptions::new(&missing), OpenMode::Existing)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotMigrated(_)), "{e}");
    assert!(e.to_string().contains("chansync migrate"), "{e}");
    // A database that exists but was never migrated is not used either.
    let empty = server.create_database();
    let e = Store::open(&StoreOptions::new(&empty), OpenMode::Existing)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotMigrated(_)), "{e}");
    assert_eq!(
        server
            .psql(
                &empty,
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'"
            )
            .trim(),
        "0"
    );
    // Migrating twice (a second replica starting) is harmless.
    Store::open(&StoreOptions::new(&empty), OpenMode::Migrate)
        .await
        .unwrap();
    Store::open(&StoreOptions::new(&empty), OpenMode::Migrate)
        .await
        .unwrap();
    Store::open(&StoreOptions::new(&empty), OpenMode::Existing)
        .await
        .unwrap();
}

/// The two backends' migrations make the same tables, columns (in order,
/// with the same nullability and kind of type) and indexes.
#[tokio::test]
async fn both_backends_have_the_same_schema() {
    let (lite, _d1) = store(Backend::Sqlite).await;
    let (pg, _d2) = store(Backend::Postgres).await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table'
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name",
    )
    .fetch_all(&lite.reader)
    .await
    .unwrap();
    let pg_tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(tablename AS TEXT) FROM pg_catalog.pg_tables
         WHERE schemaname = current_schema() AND tablename NOT LIKE '_sqlx%' ORDER BY 1",
    )
    .fetch_all(&pg.reader)
    .await
    .unwrap();
    assert_eq!(tables, pg_tables);
    assert!(tables.len() >= 10, "{tables:?}");
    for t in &tables {
        let lite_cols: Vec<(String, String, bool)> = sqlx::query(&format!(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_info('{t}') ORDER BY cid"
        ))
        .fetch_all(&lite.reader)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let ty: String = r.get("type");
            let ty = match ty.as_str() {
                "INTEGER" => "bigint",
                "TEXT" => "text",
                "BLOB" => "bytea",
                other => panic!("{t}: SQLite type {other}"),
            };
            // A primary key is never NULL on PostgreSQL.
            let not_null = r.get::<i64, _>("notnull") != 0 || r.get::<i64, _>("pk") != 0;
            (r.get("name"), ty.to_owned(), not_null)
        })
        .collect();
        let pg_cols: Vec<(String, String, bool)> = sqlx::query(
            "SELECT CAST(column_name AS TEXT) AS name, CAST(data_type AS TEXT) AS ty,
                    CAST(is_nullable AS TEXT) AS nullable
             FROM information_schema.columns
             WHERE table_schema = current_schema() AND table_name = $1
               AND NOT (table_name = 'sku_map' AND column_name = 'seq')
             ORDER BY ordinal_position",
        )
        .bind(t)
        .fetch_all(&pg.reader)
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get("name"),
                r.get("ty"),
                r.get::<String, _>("nullable") == "NO",
            )
        })
        .collect();
        assert_eq!(lite_cols, pg_cols, "table {t}");
    }
    let lite_idx: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name",
    )
    .fetch_all(&lite.reader)
    .await
    .unwrap();
    let pg_idx: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(indexname AS TEXT) FROM pg_catalog.pg_indexes
         WHERE schemaname = current_schema()
           AND indexname NOT IN (SELECT conname FROM pg_catalog.pg_constraint) ORDER BY 1",
    )
    .fetch_all(&pg.reader)
    .await
    .unwrap();
    assert_eq!(lite_idx, pg_idx);
}

both!(a_lease_is_held_by_one_replica_and_fences_the_one_it_was_taken_from);
/// Two replicas contend for one connector: one holds it until it expires or
/// is released; the taker gets a new token, and a write under the old token
/// is refused and changes nothing.
async fn a_lease_is_held_by_one_replica_and_fences_the_one_it_was_taken_from(b: Backend) {
    let (s, _d) = store(b).await;
    let ttl = Duration::from_millis(400);
    let first = s
        .lease_acquire("shop", "a:1", ttl, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        first.quiet, None,
        "never held: the channel's quota is whole"
    );
    let a = first.fence;
    assert_eq!(a.token, 1);
    assert_eq!(
        s.lease_acquire("shop", "b:1", ttl, false).await.unwrap(),
        None
    );
    // Renewing keeps it past its first expiry.
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        s.lease_renew("a:1", std::slice::from_ref(&a), ttl)
            .await
            .unwrap(),
        vec![a.clone()]
    );
    tokio::time::sleep(Duration::from_millis(250)).await;
    assert_eq!(
        s.lease_acquire("shop", "b:1", ttl, false).await.unwrap(),
        None
    );

    // The holder writes through its fenced handle.
    let owned = s.fenced(std::sync::Arc::new(a.clone()));
    let v1 = order("1", "2026-11-01T10:00:00Z", "10.00");
    owned
        .apply_page("shop", "shopify", &[inc(&v1)], "c1")
        .await
        .unwrap();

    // It stops renewing; after expiry the other replica takes over.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let taken = s
        .lease_acquire("shop", "b:1", ttl, false)
        .await
        .unwrap()
        .unwrap();
    // a was last renewed 750 ms ago for 400 ms: silent for at least 350.
    let quiet = taken.quiet.unwrap();
    assert!(
        quiet >= Duration::from_millis(300) && quiet < Duration::from_millis(750),
        "{quiet:?}"
    );
    let bf = taken.fence;
    assert_eq!(bf.token, 2);
    assert!(s
        .lease_renew("a:1", std::slice::from_ref(&a), ttl)
        .await
        .unwrap()
        .is_empty());
    let v2 = order("2", "2026-11-01T10:00:00Z", "20.00");
    let e = owned
        .apply_page("shop", "shopify", &[inc(&v2)], "c2")
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Fenced { token: 1, .. }), "{e}");
    assert!(owned.outbox_claim("shop", "stock", 10).await.is_err());
    let orders = s.list_orders(&OrderFilter::default()).await.unwrap();
    assert_eq!(orders.len(), 1, "the fenced write stored nothing");
    assert_eq!(
        s.poll_state("shop")
            .await
            .unwrap()
            .unwrap()
            .cursor
            .as_deref(),
        Some("c1")
    );
    // The new owner writes.
    s.fenced(std::sync::Arc::new(bf.clone()))
        .apply_page("shop", "shopify", &[inc(&v2)], "c2")
        .await
        .unwrap();

    // Released, it is free at once; the same replica restarting takes its
    // own lease back without waiting, under a new token.
    assert!(!s.lease_release(&a).await.unwrap(), "not a's any more");
    assert!(s.lease_release(&bf).await.unwrap());
    let view = s.leases().await.unwrap();
    assert_eq!(view.len(), 1);
    assert_eq!(view[0].holder, None);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let c = s
        .lease_acquire("shop", "c:1", ttl, false)
        .await
        .unwrap()
        .unwrap();
    let quiet = c.quiet.unwrap();
    assert!(
        quiet >= Duration::from_millis(190) && quiet < Duration::from_secs(2),
        "silent since the release: {quiet:?}"
    );
    assert_eq!(c.fence.token, 3);
    let again = s
        .lease_acquire("shop", "c:1", ttl, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        again.quiet,
        Some(Duration::ZERO),
        "its previous run may have called the channel a moment ago"
    );
    assert_eq!(again.fence.token, 4);
    // Forced (one daemon on a file owns everything) whatever the holder.
    let d = s
        .lease_acquire("shop", "d:1", ttl, true)
        .await
        .unwrap()
        .unwrap()
        .fence;
    assert_eq!(d.token, 5);
    let view = s.leases().await.unwrap();
    assert_eq!(view[0].holder.as_deref(), Some("d:1"));
    assert!(
        view[0].expires_in_us > 0 && view[0].expires_in_us <= 400_000,
        "{view:?}"
    );
}

both!(replicas_announce_themselves_and_go);
async fn replicas_announce_themselves_and_go(b: Backend) {
    let (s, _d) = store(b).await;
    let r = |id: &str| ReplicaInfo {
        id: id.into(),
        pid: 7,
        version: "0.1.0".into(),
        config_fingerprint: "f".into(),
    };
    s.replica_heartbeat(&r("a:1")).await.unwrap();
    s.replica_heartbeat(&r("b:1")).await.unwrap();
    s.replica_heartbeat(&r("a:1")).await.unwrap();
    let live = s.live_replicas(Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        live.iter().map(|l| l.0.as_str()).collect::<Vec<_>>(),
        ["a:1", "b:1"]
    );
    s.lease_acquire("shop", "a:1", Duration::from_secs(5), false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(s.leases().await.unwrap()[0].pid, Some(7));
    s.replica_gone("a:1").await.unwrap();
    assert_eq!(
        s.live_replicas(Duration::from_secs(5)).await.unwrap().len(),
        1
    );
    assert_eq!(s.leases().await.unwrap()[0].pid, None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(s
        .live_replicas(Duration::from_millis(200))
        .await
        .unwrap()
        .is_empty());
}

//! The merchant's status page: behind the admin token, listing every channel
//! with a health state, recent orders with where they ship from, low stock,
//! and dead letters whose replay button requeues them.

use std::time::Duration;

use crate::common::{first_dead_letter, Harness, Intake, Setup};
use chansync::store::Actor;

const TOKEN: &str = "status-page-token-91";

#[tokio::test]
async fn the_page_shows_channels_orders_stock_and_replays_dead_letters() {
    let mut setup = Setup::new(Intake::Both);
    setup.server_keys = format!("admin_token = \"{TOKEN}\"");
    setup.extra = "[[location]]\nname = \"leeds\"\ncountry = \"GB\"\npriority = 1\n\n\
                   [[sku]]\nconnector = \"shop\"\nchannel_sku = \"NOT-IN-SHOP-9\"\nmaster_sku = \"NOT-IN-SHOP-9\"\n"
        .into();
    let h = Harness::start(setup).await;
    h.sim.create_orders(3);
    h.converge(Duration::from_secs(30)).await;
    // A push the shop refuses: a dead letter to replay.
    let store = h.store().await;
    store
        .set_on_hand("NOT-IN-SHOP-9", "leeds", 1, None, &Actor::new("test"))
        .await
        .unwrap();
    let dead = first_dead_letter(&store).await;

    let base = format!("http://{}", h.addr);
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Without a session: a sign-in form, no data.
    let anon = plain.get(&base).send().await.unwrap().text().await.unwrap();
    assert!(anon.contains("name=\"token\""));
    assert!(!anon.contains("Recent orders"));
    let wrong = plain
        .post(format!("{base}/login"))
        .form(&[("token", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let replay_anon = plain
        .post(format!("{base}/ui/outbox/{}/replay", dead.id))
        .send()
        .await
        .unwrap();
    assert_eq!(replay_anon.status(), 401);

    let signed = plain
        .post(format!("{base}/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed.status(), 303);
    let cookie = signed.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    assert!(
        cookie.starts_with("chansync_token=") && !cookie.contains(TOKEN),
        "the cookie holds a digest"
    );
    let get = || async {
        plain
            .get(&base)
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    };
    // The simulator's webhooks may trail the poll that converged.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while store.inbox_last_received("shop").await.unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "no webhook stored");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let page = get().await;
    assert!(page.contains("data-connector=\"shop\""), "{page}");
    // Dead letters make the shop ask for attention; it polls and takes
    // webhooks, so both freshness columns show an age.
    assert!(
        page.contains("data-health=\"attention\""),
        "a health state: {page}"
    );
    let row = page
        .split("data-connector=\"shop\"")
        .nth(1)
        .and_then(|r| r.split("</tr>").next())
        .unwrap();
    assert_eq!(
        row.matches("<time").count(),
        2,
        "poll and webhook ages: {row}"
    );
    assert!(!page.contains("<script"), "no script");
    assert!(page.contains("Recent orders"));
    for o in h.orders().await {
        assert!(
            page.contains(o.external_number.as_deref().unwrap()),
            "order {} listed",
            o.id
        );
    }
    assert!(
        page.contains("NOT-IN-SHOP-9"),
        "low stock and the dead letter are shown"
    );
    assert!(page.contains(&format!("data-outbox=\"{}\"", dead.id)));
    assert!(page.contains("http-equiv=\"refresh\""));

    // The shop now knows the product: the replayed push goes through.
    assert!(h.sim.add_product("NOT-IN-SHOP-9", "New product"));
    let replayed = plain
        .post(format!("{base}/ui/outbox/{}/replay", dead.id))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.status(), 303);
    let back = replayed.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(back, format!("/?replayed={}", dead.id));
    // The level reaches the shop (by the replayed row, or by a newer one
    // that superseded it) and the dead letter is gone.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while h.sim.stock().get("NOT-IN-SHOP-9") != Some(&1) {
        assert!(
            std::time::Instant::now() < deadline,
            "the level never reached the shop"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let row = store.outbox_row(dead.id).await.unwrap().unwrap();
    assert!(row.state == "done" || row.state == "superseded", "{row:?}");
    // The page the replay led to tells how it went.
    let outcome = plain
        .get(format!("{base}{back}"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        outcome.contains("has reached the channel") || outcome.contains("replaced by a newer push"),
        "{outcome}"
    );
    assert_eq!(h.sim.stock().get("NOT-IN-SHOP-9"), Some(&1));
    assert!(
        !get()
            .await
            .contains(&format!("data-outbox=\"{}\"", dead.id)),
        "gone from the page"
    );
    store.close().await;
    h.stop().await.unwrap();
}

//! The status page in a real browser: Debian's headless chromium, driven
//! through chromedriver (WebDriver), against the daemon and a Shopify
//! simulator. Signs in through the form, checks that every configured
//! channel shows a health state, that orders and low stock show, takes a
//! screenshot, presses Replay on a dead letter and sees it leave, and loads
//! the page at a phone's size without sideways scrolling.
//!
//! Needs `chromium` and `chromium-driver` (Debian; `.ci/run` installs them):
//! without them the test fails and says so, it is never skipped.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chansync::store::Actor;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::common::{first_dead_letter, Harness, Intake, Setup};

const TOKEN: &str = "browser-token-5521";
/// A SKU the shop does not know yet: its stock push is refused for good.
const SKU: &str = "NOT-IN-SHOP-9";
const HEALTH_WORDS: [&str; 6] = ["ok", "starting", "attention", "retrying", "late", "error"];

/// `name` on the PATH, or a failure that says what to install.
fn require(name: &str) -> PathBuf {
    std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "the status page's browser test needs `{name}`, which is not on the PATH: \
                 install Debian's chromium and chromedriver with \
                 `apt-get install chromium chromium-driver` (.ci/run does)"
            )
        })
}

/// chromedriver on a free loopback port, in its own process group so that
/// the browsers it starts go with it: on drop, also when a check panics.
struct Chromedriver {
    child: Child,
    url: String,
}

impl Chromedriver {
    async fn start(bin: &Path, log: &Path) -> Chromedriver {
        use std::os::unix::process::CommandExt;
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .unwrap()
            .port();
        let child = Command::new(bin)
            .arg(format!("--port={port}"))
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        let driver = Chromedriver {
            child,
            url: format!("http://127.0.0.1:{port}"),
        };
        // Ready when its status says so.
        let status = format!("{}/status", driver.url);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = reqwest::get(&status).await {
                if let Ok(v) = r.json::<Value>().await {
                    if v["value"]["ready"] == true {
                        return driver;
                    }
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "chromedriver did not become ready on {status}; its log: {}",
                std::fs::read_to_string(log).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A browser session; `phone` emulates a 390×844 phone.
    async fn session(&self, chromium: &Path, profile: &Path, phone: bool) -> Client {
        let mut args = vec![
            "--headless".to_owned(),
            "--no-sandbox".into(),
            "--disable-gpu".into(),
            "--disable-quic".into(),
            "--no-first-run".into(),
            "--disable-background-networking".into(),
            "--disable-component-update".into(),
            "--disable-sync".into(),
            "--disable-dev-shm-usage".into(),
            "--hide-scrollbars".into(),
            format!("--user-data-dir={}", profile.display()),
        ];
        let mut options = json!({ "binary": chromium, "args": [] });
        if phone {
            options["mobileEmulation"] =
                json!({ "deviceMetrics": { "width": 390, "height": 844, "pixelRatio": 2.0 } });
        } else {
            args.push("--window-size=1280,1000".into());
        }
        options["args"] = json!(args);
        let caps = json!({ "browserName": "chrome", "goog:chromeOptions": options });
        let Value::Object(caps) = caps else {
            unreachable!()
        };
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("no browser session from chromedriver: {e}"))
    }
}

impl Chromedriver {
    /// The whole page, not only what the window shows: Chromium's own
    /// capture through chromedriver's DevTools passthrough.
    async fn full_page(&self, c: &Client) -> Vec<u8> {
        let session = c.session_id().await.unwrap().unwrap();
        let size = c
            .execute(
                "const d = document.documentElement;
                 return [d.scrollWidth, d.scrollHeight];",
                vec![],
            )
            .await
            .unwrap();
        let reply: Value = reqwest::Client::new()
            .post(format!("{}/session/{session}/goog/cdp/execute", self.url))
            .json(&json!({
                "cmd": "Page.captureScreenshot",
                "params": {
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1 },
                },
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        use base64::Engine;
        let data = reply["value"]["data"]
            .as_str()
            .unwrap_or_else(|| panic!("no screenshot: {reply}"));
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap()
    }
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every chromium it started.
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn css(c: &Client, selector: &str) -> Vec<fantoccini::elements::Element> {
    c.find_all(Locator::Css(selector)).await.unwrap()
}

/// The element `selector` finds, once the page has it.
async fn one(c: &Client, selector: &str) -> fantoccini::elements::Element {
    c.wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css(selector))
        .await
        .unwrap_or_else(|e| panic!("no {selector} on the page: {e}"))
}

async fn sign_in(c: &Client, base: &str, token: &str) {
    c.goto(base).await.unwrap();
    let field = one(c, "form.signin input[name=token]").await;
    field.send_keys(token).await.unwrap();
    one(c, "form.signin button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
}

/// Waits until `script` (a function body) returns true in the page.
async fn until(c: &Client, script: &str, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if c.execute(script, vec![]).await.ok() == Some(Value::Bool(true)) {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Checks a screenshot: a PNG of the expected size that is not blank.
/// The browser decodes it (on a blank page, apart from ours) and counts
/// the colours and the share of pixels that are not background.
async fn check_screenshot(c: &Client, png: &[u8], min_w: u32, min_h: u32) {
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n") && &png[12..16] == b"IHDR",
        "not a PNG"
    );
    let w = u32::from_be_bytes(png[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(png[20..24].try_into().unwrap());
    assert!(w >= min_w && h >= min_h, "screenshot is {w}×{h}");
    assert!(png.len() > 10_000, "{} bytes is a blank page", png.len());
    use base64::Engine;
    let data = base64::engine::general_purpose::STANDARD.encode(png);
    c.goto("about:blank").await.unwrap();
    let stats = c
        .execute_async(
            "const [data, done] = arguments;
             const img = new Image();
             img.onerror = () => done({ error: 'undecodable' });
             img.onload = () => {
               const cv = document.createElement('canvas');
               cv.width = img.width; cv.height = img.height;
               const g = cv.getContext('2d');
               g.drawImage(img, 0, 0);
               const px = g.getImageData(0, 0, cv.width, cv.height).data;
               const colours = new Set();
               let ink = 0, n = 0;
               for (let i = 0; i < px.length; i += 4 * 7) {
                 colours.add((px[i] << 16) | (px[i + 1] << 8) | px[i + 2]);
                 if (px[i] + px[i + 1] + px[i + 2] < 600) ink++;
                 n++;
               }
               done({ width: img.width, height: img.height, colours: colours.size, ink: ink / n });
             };
             img.src = 'data:image/png;base64,' + data;",
            vec![json!(data)],
        )
        .await
        .unwrap();
    assert_eq!(stats["width"], w, "{stats}");
    assert!(
        stats["colours"].as_u64().unwrap_or(0) >= 16,
        "too few colours for a page of text and badges: {stats}"
    );
    let ink = stats["ink"].as_f64().unwrap_or(0.0);
    assert!(
        (0.005..0.6).contains(&ink),
        "not what a page of text looks like: {stats}"
    );
}

fn save(png: &[u8], name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    std::fs::write(&path, png).unwrap();
    println!("screenshot: {}", path.display());
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signs_in_lists_every_channel_replays_a_dead_letter_and_fits_a_phone() {
    let chromium = require("chromium");
    let chromedriver = require("chromedriver");
    let started = std::time::Instant::now();

    // The shop polls and sends webhooks; an outlet shop takes webhooks only
    // and has been quiet, which is fine, not an alarm.
    let mut setup = Setup::new(Intake::Both);
    setup.server_keys = format!("admin_token = \"{TOKEN}\"");
    let outlet = chansync_shopify::sim::start(
        chansync_shopify::sim::SimConfig {
            seed: 7,
            generate: false,
            ..Default::default()
        },
        "127.0.0.1:0".parse().unwrap(),
    )
    .await
    .unwrap();
    setup.extra = format!(
        "[[connector]]\nname = \"outlet\"\nkind = \"shopify\"\nbase_url = \"{}\"\n\
         access_token = \"{}\"\nwebhook_secret = \"{}\"\n\n\
         [[location]]\nname = \"leeds\"\ncountry = \"GB\"\npriority = 1\n\n\
         [[sku]]\nconnector = \"shop\"\nchannel_sku = \"{SKU}\"\nmaster_sku = \"{SKU}\"\n",
        outlet.base_url(),
        outlet.access_token(),
        outlet.webhook_secret(),
    );
    let h = Harness::start(setup).await;
    h.sim.create_orders(3);
    let orders = h.converge(Duration::from_secs(30)).await;
    let store = h.store().await;
    store
        .set_on_hand(SKU, "leeds", 1, None, &Actor::new("test"))
        .await
        .unwrap();
    let dead = first_dead_letter(&store).await.id;
    let configured: Vec<String> = chansync::Config::load(&h.config_path)
        .unwrap()
        .connectors
        .iter()
        .map(|c| c.name.clone())
        .collect();
    assert_eq!(configured, ["shop", "outlet"]);

    let dir = tempfile::tempdir().unwrap();
    let driver = Chromedriver::start(&chromedriver, &dir.path().join("chromedriver.log")).await;
    let base = format!("http://{}/", h.addr);
    let browse = async {
        let c = driver
            .session(&chromium, &dir.path().join("desktop"), false)
            .await;

        // Signed out: the form, no data; a wrong token is refused.
        c.goto(&base).await.unwrap();
        assert!(!c.source().await.unwrap().contains("Recent orders"));
        sign_in(&c, &base, "not-the-token").await;
        let problem = one(&c, ".flash.bad").await.text().await.unwrap();
        assert!(problem.contains("not the admin token"), "{problem}");
        sign_in(&c, &base, TOKEN).await;
        one(&c, "h2#channels").await;

        // Every configured channel, each with a health word.
        for name in &configured {
            let word = one(&c, &format!("tr[data-connector='{name}'] td.health .badge"))
                .await
                .text()
                .await
                .unwrap();
            assert!(HEALTH_WORDS.contains(&word.as_str()), "{name}: {word:?}");
        }
        let health = |name: &'static str| {
            let c = &c;
            async move {
                one(c, &format!("tr[data-connector='{name}']"))
                    .await
                    .attr("data-health")
                    .await
                    .unwrap()
                    .unwrap()
            }
        };
        assert_eq!(health("shop").await, "attention", "a dead letter");
        assert_eq!(health("outlet").await, "ok", "quiet is not an alarm");
        let quiet = one(&c, "tr[data-connector='outlet']")
            .await
            .text()
            .await
            .unwrap();
        assert!(quiet.contains("no webhook received yet"), "{quiet}");

        // Recent orders and low stock.
        for o in &orders {
            let row = one(&c, &format!("tr[data-order='{}']", o.id))
                .await
                .text()
                .await
                .unwrap();
            assert!(row.contains(o.external_number.as_deref().unwrap()), "{row}");
        }
        let low = one(&c, &format!("#stock + .wrap tr[data-sku='{SKU}']"))
            .await
            .text()
            .await
            .unwrap();
        assert!(low.contains("low"), "{low}");
        one(&c, &format!("tr[data-outbox='{dead}'] button")).await;

        let png = driver.full_page(&c).await;
        save(&png, "status-page.png");
        check_screenshot(&c, &png, 1000, 600).await;

        // A phone: nothing wider than the screen, the health readable.
        let phone = driver
            .session(&chromium, &dir.path().join("phone"), true)
            .await;
        sign_in(&phone, &base, TOKEN).await;
        one(&phone, "h2#channels").await;
        let fit = phone
            .execute(
                "const d = document.documentElement;
                 const cells = [...document.querySelectorAll('tr[data-connector] td.health')];
                 return {
                   inner: window.innerWidth,
                   scroll: d.scrollWidth,
                   health: cells.map(td => {
                     const r = td.getBoundingClientRect();
                     return { left: r.left, right: r.right, width: r.width,
                              shown: getComputedStyle(td).display !== 'none' && r.height > 0 };
                   }),
                 };",
                vec![],
            )
            .await
            .unwrap();
        let inner = fit["inner"].as_f64().unwrap();
        assert_eq!(inner, 390.0, "{fit}");
        assert!(
            fit["scroll"].as_f64().unwrap() <= inner,
            "the page scrolls sideways on a phone: {fit}"
        );
        let cells = fit["health"].as_array().unwrap();
        assert_eq!(cells.len(), configured.len(), "{fit}");
        for cell in cells {
            assert!(
                cell["shown"] == true
                    && cell["left"].as_f64().unwrap() >= 0.0
                    && cell["right"].as_f64().unwrap() <= inner,
                "a health cell off the screen: {fit}"
            );
        }
        for name in &configured {
            let badge = one(&phone, &format!("tr[data-connector='{name}'] .badge")).await;
            assert!(badge.is_displayed().await.unwrap(), "{name}'s health");
        }
        // The dead letters further down, Replay within reach.
        phone
            .execute("document.getElementById('dead').scrollIntoView();", vec![])
            .await
            .unwrap();
        let button = one(&phone, &format!("tr[data-outbox='{dead}'] button")).await;
        let (x, _, w, _) = button.rectangle().await.unwrap();
        assert!(
            x >= 0.0 && x + w <= inner,
            "Replay off the screen at {x}+{w}"
        );
        let png = driver.full_page(&phone).await;
        save(&png, "status-page-phone.png");
        check_screenshot(&phone, &png, 390, 844).await;
        phone.close().await.unwrap();

        // The shop now knows the product: Replay, and the row leaves.
        c.goto(&base).await.unwrap();
        assert!(h.sim.add_product(SKU, "New product"));
        one(&c, &format!("tr[data-outbox='{dead}'] button"))
            .await
            .click()
            .await
            .unwrap();
        until(
            &c,
            &format!(
                "return document.querySelector('[data-replayed=\"{dead}\"]') !== null
                     && document.querySelector('tr[data-outbox=\"{dead}\"]') === null;"
            ),
            "the replayed dead letter leaves the page",
        )
        .await;
        let state = store.outbox_row(dead).await.unwrap().unwrap().state;
        assert!(
            ["pending", "sending", "done", "superseded"].contains(&state.as_str()),
            "{state}"
        );
        // And it goes through: the page says so after a refresh.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while h.sim.stock().get(SKU) != Some(&1) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "never reached the shop"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        c.refresh().await.unwrap();
        let flash = one(&c, &format!("[data-replayed='{dead}']"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            flash.contains("has reached the channel") || flash.contains("replaced by a newer"),
            "{flash}"
        );
        assert!(
            css(&c, &format!("tr[data-outbox='{dead}']"))
                .await
                .is_empty(),
            "the replayed push is no longer a dead letter"
        );
        c.close().await.unwrap();
    };
    tokio::time::timeout(Duration::from_secs(180), browse)
        .await
        .expect("the browser part finished in time");
    drop(driver);
    store.close().await;
    h.stop().await.unwrap();
    outlet.stop();
    println!("browser test took {:.1?}", started.elapsed());
}

use super::*;
use chansync_sdk::ExposeSecret;

fn parse(text: &str) -> Result<Config, ConfigError> {
    Config::parse(Path::new("/etc/chansync/test.toml"), text)
}

const GOOD: &str = r#"
[store]
url = "sqlite:///tmp/x.db"

[server]
listen = "127.0.0.1:0"

[[connector]]
name = "shop-eu"
kind = "shopify"
base_url = "http://127.0.0.1:1"
poll = { every = "2m" }
webhook_secret = "s3cr3t-webhook"
access_token = "shpat_literal_token"
rate_limit = { per_second = 2, burst = 40 }
api_version = "2026-07"

[[connector]]
name = "shop-us"
kind = "shopify"
base_url = "http://127.0.0.1:2"
poll = { cron = "0 */5 * * * *" }
access_token = "t"
"#;

#[test]
fn a_good_config_parses() {
    let c = parse(GOOD).unwrap();
    assert_eq!(c.connectors.len(), 2);
    assert!(
        matches!(c.connectors[0].poll, Some(PollSchedule::Every(d)) if d == Duration::from_secs(120))
    );
    assert!(matches!(c.connectors[1].poll, Some(PollSchedule::Cron(_))));
    assert_eq!(c.connectors[0].context.rate_limit.unwrap().burst, 40);
    assert_eq!(c.listen.port(), 0);
}

fn expect_err(text: &str, key: &str, line: usize, needle: &str) {
    let e = parse(text).unwrap_err();
    assert_eq!(e.key, key, "{e}");
    assert_eq!(e.line, Some(line), "{e}");
    assert!(e.message.contains(needle), "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("/etc/chansync/test.toml:{line}: {key}")),
        "{shown}"
    );
}

#[test]
fn errors_name_file_line_and_key() {
    expect_err(
        &GOOD.replace("listen = ", "listn = "),
        "server.listn",
        6,
        "unknown field",
    );
    expect_err(
        &GOOD.replace("{ every = \"2m\" }", "{ every = \"soon\" }"),
        "connector[0].poll.every",
        12,
        "duration",
    );
    expect_err(
        &GOOD.replace("*/5 * * * *", "*/5 * *"),
        "connector[1].poll.cron",
        22,
        "cron",
    );
    expect_err(
        &GOOD.replace("name = \"shop-us\"", "name = \"shop-eu\""),
        "connector[1].name",
        19,
        "another connector",
    );
    expect_err(
        &GOOD.replace(
            "kind = \"shopify\"\nbase_url = \"http://127.0.0.1:2\"",
            "kind = \"shopifi\"\nbase_url = \"http://127.0.0.1:2\"",
        ),
        "connector[1].kind",
        20,
        "unknown connector kind",
    );
    expect_err(
        &GOOD.replace("api_version = \"2026-07\"", "api_version = \"latest\""),
        "connector[0].api_version",
        16,
        "API version",
    );
    expect_err(
        &GOOD.replace("api_version = ", "api_versoin = "),
        "connector[0].api_versoin",
        16,
        "unknown field",
    );
    expect_err(
        &GOOD.replace("per_second = 2,", "per_second = 0,"),
        "connector[0].rate_limit",
        15,
        "per_second",
    );
}

#[test]
fn secrets_come_from_env_and_files_and_never_show() {
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("token");
    std::fs::write(&secret_file, "from-a-file\n").unwrap();
    let text = GOOD.replace(
        "access_token = \"shpat_literal_token\"",
        &format!("access_token = {{ file = \"{}\" }}", secret_file.display()),
    );
    let c = parse(&text).unwrap();
    use chansync_sdk::ExposeSecret;
    assert_eq!(
        c.connectors[0]
            .context
            .access_token
            .as_ref()
            .unwrap()
            .expose_secret(),
        "from-a-file"
    );
    assert!(!format!("{c:?}").contains("from-a-file"));
    assert!(!format!("{c:?}").contains("s3cr3t-webhook"));

    let text = GOOD.replace(
        "\"s3cr3t-webhook\"",
        "{ env = \"CHANSYNC_TEST_SURELY_UNSET_VAR\" }",
    );
    let e = parse(&text).unwrap_err();
    assert_eq!(e.key, "connector[0].webhook_secret");
    assert!(
        e.message
            .contains("CHANSYNC_TEST_SURELY_UNSET_VAR is not set"),
        "{e}"
    );
}

#[test]
fn example_configs_parse() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            // Examples take secrets from files beside them or literal test values.
            let text = std::fs::read_to_string(&path).unwrap();
            let text = text
                .replace("{ env = \"SHOP_EU_WEBHOOK_SECRET\" }", "\"x\"")
                .replace("{ env = \"SHOP_EU_TOKEN\" }", "\"x\"")
                .replace("{ env = \"CHANSYNC_ADMIN_TOKEN\" }", "\"x\"");
            Config::parse(&path, &text).unwrap_or_else(|e| panic!("{e}"));
            seen += 1;
        }
    }
    assert!(seen >= 1, "no example configs in {}", dir.display());
}

#[test]
fn inventory_keys_parse_and_bad_ones_name_their_key() {
    let text = format!(
        "{GOOD}\nstock = {{ share = 0.8, buffer = 2, cap = 50 }}\n\n[[location]]\nname = \"berlin\"\ncountry = \"DE\"\npriority = 1\nships_to = [\"DE\", \"AT\"]\n\n[routing]\nallow_split = true\n\n[[routing.rule]]\nconnector = \"shop-us\"\naction = \"record\"\n\n[[sku]]\nconnector = \"shop-eu\"\nchannel_sku = \"SET\"\nmaster_sku = \"MUG\"\nquantity = 2\n"
    );
    let c = parse(&text).unwrap();
    let us = &c.connectors[1];
    assert_eq!(us.stock.share, "0.8".parse().unwrap());
    assert_eq!((us.stock.buffer, us.stock.cap), (2, Some(50)));
    assert_eq!(c.locations[0].ships_to, ["DE", "AT"]);
    assert!(c.routing.allow_split);
    assert_eq!(c.routing.rules[0].action, RuleAction::Record);
    assert_eq!(c.skus[0].quantity, 2);

    for (bad, key) in [
        (
            text.replace("share = 0.8", "share = 1.5"),
            "connector[1].stock.share",
        ),
        (
            text.replace("ships_to = [\"DE\", \"AT\"]", "ships_to = [\"Germany\"]"),
            "location[0].ships_to[0]",
        ),
        (
            text.replace(
                "connector = \"shop-us\"\naction",
                "connector = \"nope\"\naction",
            ),
            "routing.rule[0].connector",
        ),
        (
            text.replace("quantity = 2\n", "quantity = 0\n"),
            "sku[0].quantity",
        ),
    ] {
        let e = parse(&bad).unwrap_err();
        assert_eq!(e.key, key, "{e}");
        assert!(e.line.is_some(), "{e}");
    }
}

#[test]
fn kind_specific_secrets_are_resolved_and_kept_out_of_options() {
    std::env::set_var("CHANSYNC_TEST_CLIENT_SECRET", "amzn-client-secret-value");
    let text = format!("{GOOD}\nclient_secret = {{ env = \"CHANSYNC_TEST_CLIENT_SECRET\" }}\n");
    let c = parse(&text).unwrap();
    let ctx = &c.connectors[1].context;
    assert_eq!(
        ctx.secrets
            .get("client_secret")
            .map(|s| s.expose_secret().to_owned()),
        Some("amzn-client-secret-value".to_owned())
    );
    assert!(ctx.options.get("client_secret").is_none());
    assert!(
        !format!("{c:?}").contains("amzn-client-secret-value"),
        "secrets never print"
    );
    let missing = format!("{GOOD}\nclient_secret = {{ env = \"CHANSYNC_TEST_UNSET_VARIABLE\" }}\n");
    let e = parse(&missing).unwrap_err();
    assert_eq!(e.key, "connector[1].client_secret");
}

#[test]
fn a_postgres_store_is_accepted_and_sqlite_only_keys_are_refused_with_it() {
    let pg = GOOD.replace(
        "url = \"sqlite:///tmp/x.db\"",
        "url = \"postgres://chansync:hunter2@db.internal:5432/chansync?sslmode=require\"\nmax_connections = 20\nacquire_timeout = \"3s\"",
    );
    let c = parse(&pg).unwrap();
    assert_eq!(
        crate::store::Backend::of(&c.store.url),
        Some(crate::store::Backend::Postgres)
    );
    assert_eq!(c.store.max_connections, 20);
    assert_eq!(c.store.acquire_timeout, Duration::from_secs(3));
    assert_eq!(
        crate::store::redact_url(&c.store.url),
        "postgres://chansync:***@db.internal:5432/chansync?sslmode=require"
    );
    let c = parse(GOOD).unwrap();
    assert_eq!(c.store.max_connections, 10);
    assert_eq!(c.store.synchronous, Synchronous::Full);

    expect_err(
        &pg.replace("max_connections = 20", "synchronous = \"normal\""),
        "store.synchronous",
        4,
        "SQLite only",
    );
    expect_err(
        &pg.replace("max_connections = 20", "max_connections = 0"),
        "store.max_connections",
        4,
        "at least 1",
    );
    expect_err(
        &pg.replace("acquire_timeout = \"3s\"", "acquire_timeout = \"a while\""),
        "store.acquire_timeout",
        5,
        "duration",
    );
    // A password never shows in the error of a URL chansync cannot use.
    let e = parse(&GOOD.replace(
        "sqlite:///tmp/x.db",
        "mysql://chansync:hunter2@db.internal/chansync",
    ))
    .unwrap_err();
    assert_eq!(e.key, "store.url");
    assert!(!e.to_string().contains("hunter2"), "{e}");
    assert!(e.to_string().contains("postgres://"), "{e}");
}

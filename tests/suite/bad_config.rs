//! Every malformed or inconsistent config is refused by `check-config` and by
//! `run` with exit 2 and one line naming the file, the line and the key.

use std::process::Command;

const BASE: &str = r#"[store]
url = "sqlite:///tmp/chansync-bad-config-test.db"

[server]
listen = "127.0.0.1:0"

[[connector]]
name = "shop"
kind = "shopify"
base_url = "http://127.0.0.1:1"
poll = { every = "1m" }
access_token = "shpat_test"

[[location]]
name = "leeds"
country = "GB"
"#;

fn check(cmd: &str, text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chansync.toml");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_chansync"))
        .args([cmd, "--config"])
        .arg(&path)
        .env_remove("CHANSYNC_CONFIG")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).replace(&path.display().to_string(), "FILE");
    (out.status.code(), err)
}

#[test]
fn the_base_config_is_good() {
    let (code, err) = check("check-config", BASE);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn a_non_loopback_listener_is_fine_with_an_admin_token() {
    let text = BASE.replace(
        "listen = \"127.0.0.1:0\"",
        "listen = \"0.0.0.0:0\"\nadmin_token = \"a-long-admin-token\"",
    );
    let (code, err) = check("check-config", &text);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn bad_configs_name_file_line_and_key() {
    let cases: &[(&str, String, &str)] = &[
        ("unknown kind", BASE.replace("kind = \"shopify\"", "kind = \"magento\""), "FILE:9: connector[0].kind"),
        (
            "duplicate connector",
            format!("{BASE}\n[[connector]]\nname = \"shop\"\nkind = \"shopify\"\nbase_url = \"http://x\"\naccess_token = \"t\"\n"),
            "FILE:19: connector[1].name",
        ),
        (
            "missing secret",
            BASE.replace("access_token = \"shpat_test\"", "access_token = { env = \"CHANSYNC_SURELY_UNSET_VAR\" }"),
            "FILE:12: connector[0].access_token",
        ),
        (
            "unreadable secret file",
            BASE.replace("access_token = \"shpat_test\"", "access_token = { file = \"/nonexistent/token\" }"),
            "FILE:12: connector[0].access_token",
        ),
        ("bad cron", BASE.replace("poll = { every = \"1m\" }", "poll = { cron = \"every monday\" }"), "FILE:11: connector[0].poll.cron"),
        ("bad interval", BASE.replace("every = \"1m\"", "every = \"soon\""), "FILE:11: connector[0].poll.every"),
        (
            "routing rule naming an unknown location",
            format!("{BASE}\n[routing]\n[[routing.rule]]\nconnector = \"shop\"\nlocations = [\"paris\"]\n"),
            "FILE:21: routing.rule[0].locations[0]",
        ),
        (
            "routing rule naming an unknown connector",
            format!("{BASE}\n[routing]\n[[routing.rule]]\nconnector = \"amazon\"\n"),
            "FILE:20: routing.rule[0].connector",
        ),
        ("bad country", BASE.replace("country = \"GB\"", "country = \"Britain\""), "FILE:16: location[0].country"),
        (
            "a non-loopback listener without an admin token",
            BASE.replace("127.0.0.1:0", "0.0.0.0:0"),
            "FILE:5: server.listen",
        ),
        ("bad read timeout", BASE.replace("[server]\n", "[server]\nread_timeout = \"forever\"\n"), "FILE:5: server.read_timeout"),
        ("unknown key", BASE.replace("[server]\n", "[server]\nlisten_on = \"x\"\n"), "FILE:5: server.listen_on"),
        ("bad store url", BASE.replace("sqlite:///tmp", "mysql://tmp"), "FILE:2: store.url"),
        (
            "bad shopify option",
            BASE.replace("access_token = \"shpat_test\"", "access_token = \"shpat_test\"\npage_size = 9000"),
            "FILE:13: connector[0].page_size",
        ),
        ("not toml", "[store\nurl = 1".to_owned(), "FILE:1"),
    ];
    for (what, text, want) in cases {
        for cmd in ["check-config", "run"] {
            let (code, err) = check(cmd, text);
            assert_eq!(code, Some(2), "{what} ({cmd}): {err}");
            assert!(
                err.starts_with(&format!("chansync: {want}")),
                "{what} ({cmd}): expected {want:?}, got {err:?}"
            );
            assert_eq!(err.trim_end().lines().count(), 1, "{what}: one line: {err}");
            assert!(
                !err.contains("shpat_test"),
                "{what}: a secret leaked: {err}"
            );
        }
    }
}

/// A sysadmin's shell lacks the service's env file: the commands that work
/// on the store alone still run, while `check-config` and `run`, which talk
/// to channels, refuse the secret they cannot read.
#[test]
fn store_commands_run_without_the_services_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("chansync.toml");
    let text = BASE
        .replace(
            "/tmp/chansync-bad-config-test.db",
            &dir.path().join("chansync.db").display().to_string(),
        )
        .replace(
            "access_token = \"shpat_test\"",
            "access_token = { env = \"CHANSYNC_TEST_NEVER_SET_TOKEN\" }",
        );
    std::fs::write(&path, text).unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_chansync"))
            .args(args)
            .arg("--config")
            .arg(&path)
            .env_remove("CHANSYNC_CONFIG")
            .env_remove("CHANSYNC_TEST_NEVER_SET_TOKEN")
            .output()
            .unwrap()
    };
    for args in [
        &["migrate"][..],
        &["orders", "list"],
        &[
            "stock",
            "set",
            "SKU-1",
            "--location",
            "leeds",
            "--on-hand",
            "3",
        ],
        &["stock", "show"],
        &["outbox", "list"],
        &["connectors"],
    ] {
        let out = run(args);
        assert!(
            out.status.success(),
            "chansync {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("unresolved secret"));
    }
    for args in [&["check-config"][..], &["run"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "chansync {args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("connector[0].access_token")
                && err.contains("CHANSYNC_TEST_NEVER_SET_TOKEN"),
            "{err}"
        );
    }
}

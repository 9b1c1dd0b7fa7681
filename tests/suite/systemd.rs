//! The real binary under a fake systemd: READY after start, watchdog pings
//! while healthy, STOPPING on SIGTERM, logs the journal can show, and the
//! unit file verifies.

use crate::common::free_port;
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn the_daemon_speaks_the_notify_protocol() {
    let dir = tempfile::tempdir().unwrap();
    let sock_path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let config = dir.path().join("chansync.toml");
    std::fs::write(
        &config,
        format!(
            "[store]\nurl = \"sqlite://{}\"\n\n[server]\nlisten = \"127.0.0.1:{}\"\n",
            dir.path().join("chansync.db").display(),
            free_port()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chansync"))
        .args(["run", "--config"])
        .arg(&config)
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "400000")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .env_remove("NO_COLOR")
        .spawn()
        .unwrap();

    let mut messages: Vec<String> = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut recv = |until: &dyn Fn(&[String]) -> bool, messages: &mut Vec<String>| {
        while !until(messages) {
            assert!(
                Instant::now() < deadline,
                "systemd never heard enough: {messages:?}"
            );
            if let Ok(n) = sock.recv(&mut buf) {
                messages.push(String::from_utf8_lossy(&buf[..n]).into_owned());
            }
        }
    };
    recv(
        &|m| m.iter().filter(|s| s.contains("WATCHDOG=1")).count() >= 2,
        &mut messages,
    );
    let ready = messages
        .iter()
        .position(|m| m.contains("READY=1"))
        .expect("READY was sent");
    let first_ping = messages
        .iter()
        .position(|m| m.contains("WATCHDOG=1"))
        .unwrap();
    assert!(ready < first_ping, "READY comes first: {messages:?}");
    assert!(
        messages[ready].contains("STATUS=listening on"),
        "{messages:?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("orders; inbox")),
        "STATUS summaries: {messages:?}"
    );

    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    recv(
        &|m| m.iter().any(|s| s.contains("STOPPING=1")),
        &mut messages,
    );
    let exit = child.wait().unwrap();
    assert_eq!(exit.code(), Some(0));
    // stderr is what the journal stores: plain text, or journalctl would
    // show each line as a blob.
    let mut log = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut log).unwrap();
    assert!(log.contains("chansync is ready"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log that is not a terminal:\n{log}"
    );
}

#[test]
fn the_unit_file_verifies() {
    let unit = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/chansync.service");
    let text = std::fs::read_to_string(unit).unwrap();
    for line in [
        "Type=notify",
        "WatchdogSec=",
        "ProtectSystem=strict",
        "NoNewPrivileges=yes",
        "DynamicUser=yes",
        "ExecReload=/bin/kill -HUP $MAINPID",
    ] {
        assert!(text.contains(line), "{line} missing from the unit");
    }
    // `systemd-analyze verify` checks the unit; the binary path it names does
    // not exist on a build machine, so that one complaint is expected.
    let Ok(out) = Command::new("systemd-analyze")
        .args(["verify", unit])
        .output()
    else {
        panic!("systemd-analyze is needed for this test (Debian package systemd)");
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    let problems: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| !l.contains("/usr/bin/chansync") && !l.contains("is not executable"))
        .collect();
    assert!(problems.is_empty(), "systemd-analyze verify: {problems:?}");
}

/// The sandbox stays tight: `systemd-analyze security` rates the unit's
/// exposure at most 2.0 (the README reports the figure).
#[test]
fn the_unit_is_rated_ok_or_better_by_systemd_analyze_security() {
    let unit = concat!(env!("CARGO_MANIFEST_DIR"), "/systemd/chansync.service");
    let out = Command::new("systemd-analyze")
        .args(["security", "--offline=true", "--no-pager", unit])
        .output()
        .expect("systemd-analyze is needed for this test (Debian package systemd)");
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.contains("Overall exposure level"))
        .unwrap_or_else(|| panic!("no overall rating: {text}"));
    let score: f64 = line
        .split(':')
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("unreadable rating: {line}"));
    assert!(score <= 2.0, "exposure {score}: {line}");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    assert!(
        readme.contains(&format!("rates it **{score:.1}")),
        "the README reports the rating {score:.1}"
    );
}

//! The .deb: `cargo deb --no-build` packs the binary this test run already
//! built, and dpkg-deb takes the package apart to check what an install
//! relies on: files and modes, conffiles, maintainer scripts that enable the
//! unit and survive a machine without systemd, a binary that runs, an
//! installed config that passes `check-config`, and a unit that verifies.

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Every file the package installs, with its mode as `dpkg-deb --contents`
/// shows it; the unit's directory is whatever cargo-deb picks (see `unit_path`).
const FILES: &[(&str, &str)] = &[
    ("usr/bin/chansync", "-rwxr-xr-x"),
    ("etc/chansync/chansync.toml", "-rw-r--r--"),
    // Secrets: root only; systemd reads it before dropping privileges.
    ("etc/chansync/env", "-rw-------"),
    ("usr/share/doc/chansync/copyright", "-rw-r--r--"),
    ("usr/share/doc/chansync/README.md", "-rw-r--r--"),
    (
        "usr/share/doc/chansync/examples/chansync.example.toml",
        "-rw-r--r--",
    ),
    ("usr/share/doc/chansync/connectors/shopify.md", "-rw-r--r--"),
    ("usr/share/doc/chansync/connectors/amazon.md", "-rw-r--r--"),
    ("usr/share/doc/chansync/connectors/square.md", "-rw-r--r--"),
    ("usr/share/doc/chansync/connectors/odoo.md", "-rw-r--r--"),
];

#[test]
fn the_deb_installs_a_daemon_that_starts_harmlessly() {
    let dir = tempfile::tempdir().unwrap();
    let deb = build_deb(dir.path());
    let contents = contents(&deb);
    check_control_fields(&deb);
    check_files(&contents);

    let control = dir.path().join("control");
    run(
        Command::new("dpkg-deb")
            .arg("--control")
            .arg(&deb)
            .arg(&control),
        "dpkg-deb (Debian package dpkg)",
    );
    check_conffiles(&control, &contents);
    check_maintainer_scripts(&control, dir.path());

    let root = dir.path().join("root");
    run(
        Command::new("dpkg-deb")
            .arg("--extract")
            .arg(&deb)
            .arg(&root),
        "dpkg-deb (Debian package dpkg)",
    );
    check_installed_tree(&root, &unit_path(&contents), dir.path());
}

/// Runs a command that must succeed; a missing tool fails the test naming
/// what to install (CI installs them in `.ci/run`).
fn run(cmd: &mut Command, needs: &str) -> Output {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e}; this test needs {needs}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Packs the binary of this test run into `dir/chansync.deb`. cargo-deb takes
/// it from `<target dir>/release/`, so it is staged in a target dir of the
/// test's own: nothing is compiled again and the shared target dir (locked
/// by the running `cargo test`) is not touched.
fn build_deb(dir: &Path) -> PathBuf {
    let target = dir.join("target");
    std::fs::create_dir_all(target.join("release")).unwrap();
    std::fs::copy(
        env!("CARGO_BIN_EXE_chansync"),
        target.join("release/chansync"),
    )
    .unwrap();
    let deb = dir.join("chansync.deb");
    // Stripped (the line tables `cargo deb` splits off into
    // /usr/lib/debug are left out) and lightly compressed, the package is
    // made and unpacked in seconds; nothing checked here needs them.
    let out = run(
        Command::new("cargo-deb")
            .args(["--no-build", "--offline", "--fast"])
            .args(["--strip", "--no-separate-debug-symbols"])
            .args(["--no-compress-debug-symbols", "--output"])
            .arg(&deb)
            .current_dir(ROOT)
            .env("CARGO_TARGET_DIR", &target)
            .env_remove("CARGO_BUILD_TARGET"),
        "cargo-deb (cargo install cargo-deb --locked)",
    );
    // A warning is a package built differently from what Cargo.toml asks,
    // e.g. no $auto dependencies when dpkg-shlibdeps is missing.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.to_lowercase().contains("warning"),
        "cargo-deb warned:\n{stderr}"
    );
    deb
}

/// `dpkg-deb --contents`: path (without `./`) → (mode, owner).
fn contents(deb: &Path) -> BTreeMap<String, (String, String)> {
    let out = run(
        Command::new("dpkg-deb").arg("--contents").arg(deb),
        "dpkg-deb (Debian package dpkg)",
    );
    stdout(&out)
        .lines()
        .map(|line| {
            let cols: Vec<&str> = line.split_whitespace().collect();
            assert!(cols.len() >= 6, "unexpected dpkg-deb line: {line}");
            let path = cols[5].trim_start_matches("./").trim_end_matches('/');
            (path.to_owned(), (cols[0].to_owned(), cols[1].to_owned()))
        })
        .filter(|(path, _)| !path.is_empty())
        .collect()
}

/// Where the unit is: `lib/systemd/system` or `usr/lib/systemd/system` (the
/// same directory on a merged-/usr Debian) depending on cargo-deb's version.
fn unit_path(contents: &BTreeMap<String, (String, String)>) -> String {
    let units: Vec<&String> = contents
        .keys()
        .filter(|p| p.ends_with("/chansync.service"))
        .collect();
    assert_eq!(units.len(), 1, "one unit in the package: {units:?}");
    assert!(
        [
            "lib/systemd/system/chansync.service",
            "usr/lib/systemd/system/chansync.service"
        ]
        .contains(&units[0].as_str()),
        "the unit is where systemd looks for packaged units: {}",
        units[0]
    );
    units[0].clone()
}

fn check_control_fields(deb: &Path) {
    let out = run(
        Command::new("dpkg-deb").arg("--field").arg(deb).args([
            "Package",
            "Version",
            "Maintainer",
            "Depends",
            "Section",
        ]),
        "dpkg-deb (Debian package dpkg)",
    );
    let fields: BTreeMap<String, String> = stdout(&out)
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    assert_eq!(fields["Package"], "chansync");
    assert_eq!(fields["Version"], format!("{VERSION}-1"));
    assert_eq!(
        fields["Maintainer"],
        "chansync developers <dev@chansync.invalid>"
    );
    assert_eq!(fields["Section"], "net");
    // $auto: dpkg-shlibdeps read the binary's libraries.
    assert!(fields["Depends"].contains("libc6"), "{fields:?}");
}

fn check_files(contents: &BTreeMap<String, (String, String)>) {
    let unit = unit_path(contents);
    let mut expected: BTreeMap<&str, &str> = FILES.iter().copied().collect();
    expected.insert(&unit, "-rw-r--r--");
    let files: BTreeMap<&str, &str> = contents
        .iter()
        .filter(|(_, (mode, _))| !mode.starts_with('d'))
        .map(|(path, (mode, _))| (path.as_str(), mode.as_str()))
        .collect();
    assert_eq!(files, expected, "the package's files and modes");
    for (path, (mode, owner)) in contents {
        assert_eq!(owner, "0/0", "{path} is root's");
        if mode.starts_with('d') {
            // The dynamic user must get through /etc/chansync to its config.
            assert_eq!(mode, "drwxr-xr-x", "{path}");
        }
        // /var/lib/chansync is the unit's StateDirectory: systemd makes it
        // for the dynamic user; one shipped here would be root's.
        assert!(!path.starts_with("var"), "{path} shipped");
    }
}

fn check_conffiles(control: &Path, contents: &BTreeMap<String, (String, String)>) {
    let listed: BTreeSet<String> = std::fs::read_to_string(control.join("conffiles"))
        .expect("the package lists conffiles")
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect();
    let under_etc: BTreeSet<String> = contents
        .iter()
        .filter(|(p, (mode, _))| p.starts_with("etc/") && !mode.starts_with('d'))
        .map(|(p, _)| format!("/{p}"))
        .collect();
    assert!(listed.contains("/etc/chansync/chansync.toml"), "{listed:?}");
    assert_eq!(listed, under_etc, "every file under /etc is a conffile");
}

/// The scripts are valid shell, and run as dpkg runs them (with stand-ins
/// for the systemd helpers, so nothing on this machine changes) they
/// enable the unit on install and succeed where systemd is not running.
fn check_maintainer_scripts(control: &Path, dir: &Path) {
    for script in ["postinst", "prerm", "postrm"] {
        let path = control.join(script);
        let mode = std::fs::metadata(&path)
            .unwrap_or_else(|e| panic!("{script}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o755, 0o755, "{script} is executable");
        run(Command::new("sh").arg("-n").arg(&path), "sh");
    }

    let stubs = dir.join("stubs");
    std::fs::create_dir_all(&stubs).unwrap();
    for tool in ["deb-systemd-helper", "deb-systemd-invoke", "systemctl"] {
        let path = stubs.join(tool);
        std::fs::write(&path, "#!/bin/sh\necho \"${0##*/} $*\" >>\"$STUB_LOG\"\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let log = dir.join("stubs.log");
    let systemd_running = Path::new("/run/systemd/system").is_dir();
    for (script, args) in [
        ("postinst", &["configure"][..]),
        ("postinst", &["configure", "0.0.1-1"][..]),
        ("prerm", &["upgrade", "0.0.2-1"][..]),
        ("prerm", &["remove"][..]),
        ("postrm", &["remove"][..]),
        ("postrm", &["purge"][..]),
    ] {
        let _ = std::fs::remove_file(&log);
        run(
            Command::new("/bin/sh")
                .arg(control.join(script))
                .args(args)
                .env_clear()
                .env("PATH", &stubs)
                .env("STUB_LOG", &log),
            "/bin/sh",
        );
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        if script == "postinst" && args == ["configure"] {
            assert!(
                calls.contains("deb-systemd-helper enable chansync.service"),
                "a fresh install enables the unit: {calls}"
            );
            let starts = calls.contains("deb-systemd-invoke start chansync.service");
            assert_eq!(
                starts, systemd_running,
                "started only where systemd runs: {calls}"
            );
        }
    }
}

/// The tree as installed: the binary runs, the config it finds at
/// /etc/chansync passes `check-config` without any secret and runs no
/// connector, and the unit verifies against this binary.
fn check_installed_tree(root: &Path, unit: &str, dir: &Path) {
    let bin = root.join("usr/bin/chansync");
    let out = run(Command::new(&bin).arg("--version"), "the packaged binary");
    assert_eq!(stdout(&out).trim(), format!("chansync {VERSION}"));

    let config = root.join("etc/chansync/chansync.toml");
    // No environment: the installed config must need no secret to start.
    let out = run(
        Command::new(&bin)
            .arg("check-config")
            .arg("--config")
            .arg(&config)
            .env_clear(),
        "the packaged binary",
    );
    let text = stdout(&out);
    assert!(
        text.contains("store: sqlite:///var/lib/chansync/"),
        "the store is in the unit's StateDirectory: {text}"
    );
    assert!(text.contains("listen: 127.0.0.1:"), "loopback only: {text}");
    let after_header = text
        .lines()
        .skip_while(|l| !l.starts_with("CONNECTOR"))
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .count();
    assert_eq!(after_header, 0, "no connector until one is added: {text}");
    assert_eq!(
        std::fs::read_to_string(&config).unwrap(),
        std::fs::read_to_string(Path::new(ROOT).join("config/chansync.toml")).unwrap(),
        "the installed config is config/chansync.toml"
    );

    let env = std::fs::read_to_string(root.join("etc/chansync/env")).unwrap();
    assert!(
        env.lines()
            .all(|l| l.trim().is_empty() || l.starts_with('#')),
        "the env file ships no value:\n{env}"
    );

    let unit_text = std::fs::read_to_string(root.join(unit)).unwrap();
    assert_eq!(
        unit_text,
        std::fs::read_to_string(Path::new(ROOT).join("systemd/chansync.service")).unwrap(),
        "the installed unit is systemd/chansync.service"
    );
    for line in [
        "ExecStart=/usr/bin/chansync run --config /etc/chansync/chansync.toml",
        "EnvironmentFile=-/etc/chansync/env",
        "StateDirectory=chansync",
    ] {
        assert!(unit_text.contains(line), "the unit has {line}");
    }
    // `systemd-analyze verify` checks that ExecStart's binary exists and is
    // executable; point it at the extracted one, so the whole verification
    // must be clean.
    let verify_dir = dir.join("verify");
    std::fs::create_dir_all(&verify_dir).unwrap();
    let copy = verify_dir.join("chansync.service");
    std::fs::write(
        &copy,
        unit_text.replace("/usr/bin/chansync", bin.to_str().unwrap()),
    )
    .unwrap();
    let out = run(
        Command::new("systemd-analyze").arg("verify").arg(&copy),
        "systemd-analyze (Debian package systemd)",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.trim().is_empty(),
        "systemd-analyze verify:\n{stderr}"
    );
}

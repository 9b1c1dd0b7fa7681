//! A real PostgreSQL server for chansync's tests.
//!
//! chansync's store can live in PostgreSQL as well as in SQLite. The tests of
//! that store run against a real server, not a mock: what they check (the
//! SQL, its types and collations, locking, constraint errors) is what a
//! server does, and only a server can say it. [`server`] starts one per test
//! binary, the first time a test asks for it, from Debian's `postgresql`
//! package (the highest version under `/usr/lib/postgresql/*/bin`, or the
//! directory named by `CHANSYNC_PG_BIN`):
//!
//! - a throw-away cluster in `/tmp/chansync-pg-XXXX`, made by `initdb` with
//!   one superuser, `chansync`, trusted without a password, UTF-8, C locale;
//! - listening on 127.0.0.1 only, on a free port, with its Unix socket in the
//!   cluster's directory; durability off (fsync, synchronous commit, full
//!   page writes), since nothing in it outlives the test;
//! - run by root (as in CI containers), it runs as the `postgres` user, or
//!   `nobody` where there is none: PostgreSQL refuses to run as root.
//!
//! Each test takes a database of its own with [`PgServer::create_database`],
//! so tests run in parallel without seeing each other's rows.
//!
//! Without the server binaries the tests fail; they are never skipped. A
//! PostgreSQL test that passes by not running would say chansync works on
//! PostgreSQL when nothing checked it. `.ci/run` installs the package.
//!
//! The server is stopped without a destructor (a static is never dropped):
//! beside it runs a watcher, a `sh` that waits for its standard input to
//! close. The test process holds the only write end of that pipe, so when the
//! process ends, however it ends (a panic, `exit`, SIGKILL), the kernel
//! closes it, and the watcher stops the server (SIGQUIT to the postmaster:
//! immediate shutdown) and removes the cluster's directory.

use std::fs::{self, File};
use std::net::{Ipv4Addr, TcpListener};
use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The cluster's superuser, and the user of every URL handed out.
const USER: &str = "chansync";
const HOST: &str = "127.0.0.1";
/// How long the server may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Starts tried, each on a fresh port, when the port was taken in between.
const PORT_ATTEMPTS: usize = 3;
const NO_BINARIES: &str = "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: \
                           install Debian's `postgresql` package (.ci/run does)";

/// On EOF on its stdin: SIGQUIT to the postmaster named in the cluster's
/// `postmaster.pid` (none if it never started or already stopped; a
/// negative pid is initdb's single-user backend's), wait (at
/// most 5 s) for it to go, then remove the directory. `$1` is the directory.
/// The postmaster removes its pid file last; the pid is also checked in case
/// it was killed before it could.
const WATCHER: &str = r#"cat >/dev/null
pid=$(head -n 1 "$1/data/postmaster.pid" 2>/dev/null)
case "$pid" in
    ''|*[!0-9]*) pid= ;;
esac
if [ -n "$pid" ]; then
    kill -QUIT "$pid" 2>/dev/null
    i=0
    while [ "$i" -lt 50 ] && [ -e "$1/data/postmaster.pid" ] && kill -0 "$pid" 2>/dev/null; do
        sleep 0.1
        i=$((i + 1))
    done
fi
rm -rf "$1"
"#;

/// The test binary's PostgreSQL server: see the crate's documentation.
#[derive(Debug)]
pub struct PgServer {
    bin: PathBuf,
    port: u16,
    next_db: AtomicU64,
    /// The write end of the watcher's stdin, closed when the process ends.
    _watcher: ChildStdin,
}

/// The server of this test binary, started by the first call.
///
/// Panics, in every test that calls it, if the server cannot be started:
/// the binaries are missing, `initdb` failed, or the server did not accept
/// connections (the message has the end of its log).
pub fn server() -> &'static PgServer {
    static SERVER: OnceLock<Result<PgServer, String>> = OnceLock::new();
    match SERVER.get_or_init(start) {
        Ok(server) => server,
        Err(e) => panic!("chansync-testpg: no PostgreSQL server for the tests: {e}"),
    }
}

impl PgServer {
    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `db` on this server, as user `chansync`.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{USER}@{HOST}:{}/{db}", self.port)
    }

    /// Creates an empty database, `t_{pid}_{n}`, and returns its URL.
    pub fn create_database(&self) -> String {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        let name = format!("t_{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        self.url(&name)
    }

    /// Runs `sql` in database `db` (a name, or a URL from
    /// [`create_database`](Self::create_database)) with
    /// `psql -At -v ON_ERROR_STOP=1` and returns what psql printed: unaligned,
    /// tuples only, one row a line, columns separated by `|`. Panics with
    /// psql's stderr if it fails.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args(["-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", HOST])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                USER,
                "-d",
                db,
                "-c",
                sql,
            ])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("running {}: {e}", self.bin.join("psql").display()));
        if !out.status.success() {
            panic!(
                "psql -d {db} -c {sql:?} failed ({}):\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        String::from_utf8(out.stdout).expect("psql printed something that is not UTF-8")
    }
}

fn start() -> Result<PgServer, String> {
    let bin = find_bin()?;
    let owner = server_user()?;
    let dir = tempfile::Builder::new()
        .prefix("chansync-pg-")
        .tempdir_in("/tmp")
        .map_err(|e| format!("creating a directory in /tmp: {e}"))?
        .keep();
    // Started before anything else, so that whatever happens next (the
    // postmaster started or not, this function failing) the directory goes
    // when the watcher's stdin closes.
    let watcher = spawn_watcher(&dir)?;
    give(&dir, owner)?;

    let data = dir.join("data");
    let out = as_server(Command::new(bin.join("initdb")), owner, &dir)
        .arg("-D")
        .arg(&data)
        .args(["-U", USER, "--auth=trust", "-N", "-E", "UTF8", "--locale=C"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running {}: {e}", bin.join("initdb").display()))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }

    let sock = dir.join("sock");
    fs::create_dir(&sock).map_err(|e| format!("creating {}: {e}", sock.display()))?;
    give(&sock, owner)?;
    let log_path = dir.join("postgres.log");

    for attempt in 1..=PORT_ATTEMPTS {
        let port = free_port()?;
        let log =
            File::create(&log_path).map_err(|e| format!("creating {}: {e}", log_path.display()))?;
        give(&log_path, owner)?;
        let log_err = log
            .try_clone()
            .map_err(|e| format!("{}: {e}", log_path.display()))?;
        let mut postmaster = as_server(Command::new(bin.join("postgres")), owner, &dir)
            .arg("-D")
            .arg(&data)
            .args(["-p", &port.to_string()])
            .arg("-k")
            .arg(&sock)
            .args(["-c", "listen_addresses=127.0.0.1"])
            .args(["-c", "fsync=off"])
            .args(["-c", "synchronous_commit=off"])
            .args(["-c", "full_page_writes=off"])
            .args(["-c", "max_connections=400"])
            .args(["-c", "deadlock_timeout=100ms"])
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err)
            .spawn()
            .map_err(|e| format!("running {}: {e}", bin.join("postgres").display()))?;
        match wait_ready(&bin, port, &mut postmaster, &log_path) {
            Ok(()) => {
                return Ok(PgServer {
                    bin,
                    port,
                    next_db: AtomicU64::new(0),
                    _watcher: watcher,
                })
            }
            Err(Failure::PortTaken) if attempt < PORT_ATTEMPTS => continue,
            Err(Failure::PortTaken) => {
                return Err(format!(
                    "the port was taken {PORT_ATTEMPTS} times in a row; {}",
                    log_tail(&log_path)
                ))
            }
            Err(Failure::Other(e)) => {
                let _ = postmaster.kill();
                let _ = postmaster.wait();
                return Err(e);
            }
        }
    }
    unreachable!("the last attempt returns")
}

/// The directory of initdb, postgres, pg_isready and psql.
fn find_bin() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("CHANSYNC_PG_BIN") {
        let dir = PathBuf::from(dir);
        for tool in ["initdb", "postgres", "pg_isready", "psql"] {
            if !dir.join(tool).is_file() {
                return Err(format!(
                    "CHANSYNC_PG_BIN={}: it has no {tool}",
                    dir.display()
                ));
            }
        }
        return Ok(dir);
    }
    highest_bin(Path::new("/usr/lib/postgresql")).ok_or_else(|| NO_BINARIES.to_owned())
}

/// `root/VERSION/bin` of the highest VERSION that has an initdb, VERSION
/// compared as numbers (9.6 < 15 < 16).
fn highest_bin(root: &Path) -> Option<PathBuf> {
    let mut best: Option<(Vec<u64>, PathBuf)> = None;
    for entry in fs::read_dir(root).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let Some(version) = name.to_str().and_then(|name| {
            name.split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<Vec<u64>>>()
        }) else {
            continue;
        };
        let bin = entry.path().join("bin");
        if bin.join("initdb").is_file() && best.as_ref().is_none_or(|(v, _)| version > *v) {
            best = Some((version, bin));
        }
    }
    best.map(|(_, bin)| bin)
}

/// As root, the (uid, gid) the server runs as: `postgres`, or `nobody`.
/// Otherwise `None`: it runs as the current user.
fn server_user() -> Result<Option<(u32, u32)>, String> {
    if !rustix::process::geteuid().is_root() {
        return Ok(None);
    }
    let passwd =
        fs::read_to_string("/etc/passwd").map_err(|e| format!("reading /etc/passwd: {e}"))?;
    let lookup = |user: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            match fields[..] {
                [name, _, uid, gid, ..] if name == user => {
                    Some((uid.parse().ok()?, gid.parse().ok()?))
                }
                _ => None,
            }
        })
    };
    lookup("postgres")
        .or_else(|| lookup("nobody"))
        .map(Some)
        .ok_or_else(|| {
            "running as root, and /etc/passwd has neither postgres nor nobody to run the server as"
                .to_owned()
        })
}

/// `command`, run as the server's user, from `dir` (the user may not be
/// allowed into the current directory).
fn as_server(mut command: Command, owner: Option<(u32, u32)>, dir: &Path) -> Command {
    if let Some((uid, gid)) = owner {
        command.uid(uid).gid(gid);
    }
    command.current_dir(dir);
    command
}

/// Makes `path` the server user's.
fn give(path: &Path, owner: Option<(u32, u32)>) -> Result<(), String> {
    match owner {
        Some((uid, gid)) => {
            chown(path, Some(uid), Some(gid)).map_err(|e| format!("chown {}: {e}", path.display()))
        }
        None => Ok(()),
    }
}

fn spawn_watcher(dir: &Path) -> Result<ChildStdin, String> {
    let mut watcher = Command::new("sh")
        .args(["-c", WATCHER, "sh"])
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        // Its own process group: a Ctrl-C to the tests does not stop it
        // before it has cleaned up.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("running sh: {e}"))?;
    Ok(watcher.stdin.take().expect("stdin is piped"))
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> Result<u16, String> {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

enum Failure {
    /// Another process took the port between [`free_port`] and the server.
    PortTaken,
    Other(String),
}

/// Waits until this postmaster says it is ready and `pg_isready` agrees.
/// (pg_isready alone could be answered by another server that took the port.)
fn wait_ready(
    bin: &Path,
    port: u16,
    postmaster: &mut Child,
    log_path: &Path,
) -> Result<(), Failure> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let exited = postmaster
            .try_wait()
            .map_err(|e| Failure::Other(format!("waiting for postgres: {e}")))?;
        let log = fs::read_to_string(log_path).unwrap_or_default();
        if let Some(status) = exited {
            if log.contains("could not bind") {
                return Err(Failure::PortTaken);
            }
            return Err(Failure::Other(format!(
                "postgres exited ({status}) before accepting connections; {}",
                log_tail(log_path)
            )));
        }
        if log.contains("database system is ready to accept connections") && is_ready(bin, port)? {
            return Ok(());
        }
        if Instant::now() > deadline {
            return Err(Failure::Other(format!(
                "postgres did not accept connections on port {port} within {} s; {}",
                READY_TIMEOUT.as_secs(),
                log_tail(log_path)
            )));
        }
        thread::sleep(Duration::from_millis(20));
    }
}

fn is_ready(bin: &Path, port: u16) -> Result<bool, Failure> {
    Command::new(bin.join("pg_isready"))
        .args(["-q", "-h", HOST, "-p", &port.to_string(), "-t", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|status| status.success())
        .map_err(|e| Failure::Other(format!("running {}: {e}", bin.join("pg_isready").display())))
}

/// The last lines of the server's log, for a failure's message.
fn log_tail(log_path: &Path) -> String {
    match fs::read_to_string(log_path) {
        Ok(log) => {
            let lines: Vec<&str> = log.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            format!("the end of its log, {}:\n{tail}", log_path.display())
        }
        Err(e) => format!("{} unreadable: {e}", log_path.display()),
    }
}

/// Runs one async behaviour test on both of chansync's store backends.
///
/// `both!(name)` (or `both!(name, flavor = "multi_thread")`, the arguments of
/// `#[tokio::test]`) next to `async fn name(b: Backend)` makes the tests
/// `name::sqlite` and `name::postgres`; `Backend` must be in scope (the
/// store's backend enum, with `Sqlite` and `Postgres`). `cargo test postgres`
/// runs one side.
#[macro_export]
macro_rules! both {
    ($name:ident $(, $($arg:tt)*)?) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test $( ( $($arg)* ) )?]
            async fn sqlite() {
                super::$name(Backend::Sqlite).await
            }
            #[tokio::test $( ( $($arg)* ) )?]
            async fn postgres() {
                super::$name(Backend::Postgres).await
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_version_with_an_initdb_is_picked() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(highest_bin(root.path()), None);
        for (version, initdb) in [
            ("9.6", true),
            ("15", true),
            ("16", true),
            ("17", false),
            ("x", true),
        ] {
            let bin = root.path().join(version).join("bin");
            fs::create_dir_all(&bin).unwrap();
            if initdb {
                File::create(bin.join("initdb")).unwrap();
            }
        }
        assert_eq!(highest_bin(root.path()), Some(root.path().join("16/bin")));
        assert_eq!(highest_bin(&root.path().join("absent")), None);
    }
}

//! The harness against the real server it starts.

use std::fs;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use chansync_testpg::server;

/// The database name at the end of a URL from `create_database`.
fn name(url: &str) -> &str {
    url.rsplit('/').next().unwrap()
}

#[test]
fn two_databases_are_distinct_and_usable() {
    let pg = server();
    let a = pg.create_database();
    let b = pg.create_database();
    assert_ne!(a, b);
    let prefix = format!(
        "postgres://chansync@127.0.0.1:{}/t_{}_",
        pg.port(),
        std::process::id()
    );
    assert!(a.starts_with(&prefix), "{a}");
    assert_eq!(pg.url(name(&a)), a);

    for (url, sku) in [(&a, "SKU-A"), (&b, "SKU-B")] {
        pg.psql(
            name(url),
            &format!(
                "CREATE TABLE stock (sku TEXT PRIMARY KEY, on_hand BIGINT NOT NULL);
                 INSERT INTO stock VALUES ('{sku}', 7)"
            ),
        );
    }
    assert_eq!(
        pg.psql(name(&a), "SELECT sku, on_hand FROM stock"),
        "SKU-A|7\n"
    );
    // A URL does as well as a name.
    assert_eq!(pg.psql(&b, "SELECT sku, on_hand FROM stock"), "SKU-B|7\n");
    assert_eq!(pg.psql(&b, "SELECT current_database()").trim(), name(&b));
}

#[test]
#[should_panic(expected = "duplicate key value violates unique constraint")]
fn a_failing_statement_panics_with_the_error() {
    let pg = server();
    let db = pg.create_database();
    pg.psql(
        &db,
        "CREATE TABLE sku_map (sku TEXT PRIMARY KEY); INSERT INTO sku_map VALUES ('A')",
    );
    pg.psql(&db, "INSERT INTO sku_map VALUES ('A')");
}

#[test]
fn the_server_does_not_run_as_root() {
    let pg = server();
    let euid = rustix::process::geteuid().as_raw();
    let data = pg.psql("postgres", "SELECT current_setting('data_directory')");
    let data = Path::new(data.trim());
    let data_owner = fs::metadata(data).unwrap().uid();
    let pid_file = fs::read_to_string(data.join("postmaster.pid")).unwrap();
    let postmaster = pid_file.lines().next().unwrap();
    let server_uid = fs::metadata(format!("/proc/{postmaster}")).unwrap().uid();
    if euid == 0 {
        assert_ne!(data_owner, 0, "the cluster is root's");
        assert_ne!(server_uid, 0, "the server runs as root");
    } else {
        assert_eq!(data_owner, euid);
        assert_eq!(server_uid, euid);
    }
    assert_eq!(data_owner, server_uid);
}

/// Run in a child process by `the_server_goes_when_the_process_is_killed`:
/// starts the server, says where it is and which processes are its, and
/// waits to be killed.
#[test]
#[ignore = "run by the_server_goes_when_the_process_is_killed, in a process it kills"]
fn hold_a_server_until_killed() {
    let started = Instant::now();
    let pg = server();
    let elapsed = started.elapsed();
    // A connection open when the process dies: a backend to stop too.
    let db = pg.create_database();
    thread::spawn(move || pg.psql(&db, "SELECT pg_sleep(600)"));
    let data = PathBuf::from(pg.psql("postgres", "SHOW data_directory").trim());
    let pid_file = fs::read_to_string(data.join("postmaster.pid")).unwrap();
    let postmaster: u32 = pid_file.lines().next().unwrap().parse().unwrap();
    let sleeping = "SELECT pid FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep%'";
    let backend = loop {
        match pg.psql("postgres", sleeping).trim() {
            "" => thread::sleep(Duration::from_millis(20)),
            pid => break pid.to_owned(),
        }
    };
    // The postmaster's other processes: its background workers, and maybe
    // a backend still ending.
    let others: Vec<String> = children(postmaster)
        .iter()
        .map(u32::to_string)
        .filter(|pid| *pid != backend)
        .collect();
    println!(
        "HOLDING {} {} {postmaster} {backend} {}",
        elapsed.as_millis(),
        data.parent().unwrap().display(),
        others.join(",")
    );
    loop {
        thread::sleep(Duration::from_secs(60));
    }
}

#[test]
fn the_server_goes_when_the_process_is_killed() {
    let mut child = Killed(
        Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "hold_a_server_until_killed",
                "--ignored",
                "--nocapture",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let stdout = BufReader::new(child.0.stdout.take().unwrap());
    let line = stdout
        .lines()
        .map(Result::unwrap)
        .find(|line| line.starts_with("HOLDING "))
        .expect("the child says it holds a server");
    let fields: Vec<&str> = line.split(' ').collect();
    let start_ms: u64 = fields[1].parse().unwrap();
    let dir = Path::new(fields[2]);
    let postmaster: u32 = fields[3].parse().unwrap();
    let backend: u32 = fields[4].parse().unwrap();
    let mut pids = vec![postmaster, backend];
    pids.extend(
        fields[5]
            .split(',')
            .filter(|pid| !pid.is_empty())
            .map(|pid| pid.parse::<u32>().unwrap()),
    );
    eprintln!(
        "the server started in {start_ms} ms, in {}, processes {pids:?}",
        dir.display()
    );
    assert!(dir.join("data").is_dir());
    assert!(alive(postmaster) && alive(backend));

    child.0.kill().unwrap(); // SIGKILL: no destructor, no atexit
    child.0.wait().unwrap();
    let killed = Instant::now();

    let deadline = killed + Duration::from_secs(10);
    loop {
        let left: Vec<u32> = pids.iter().copied().filter(|&pid| alive(pid)).collect();
        let mentioning = mentioning(dir);
        if left.is_empty() && mentioning.is_empty() && !dir.exists() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "10 s after the kill: processes alive {left:?}, processes naming the directory {mentioning:?}, directory exists: {}",
            dir.exists()
        );
        thread::sleep(Duration::from_millis(50));
    }
    eprintln!(
        "server stopped and {} removed {} ms after the kill",
        dir.display(),
        killed.elapsed().as_millis()
    );
}

/// A child process killed when the test ends, passed or failed.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Whether `pid` runs (a zombie has stopped: only its exit status is left).
fn alive(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => {
            let state = stat.rsplit(')').next().unwrap().trim_start().chars().next();
            !matches!(state, Some('Z' | 'X'))
        }
        Err(_) => false,
    }
}

fn processes() -> impl Iterator<Item = u32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
}

fn children(parent: u32) -> Vec<u32> {
    processes()
        .filter(|&pid| {
            fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
                let after = stat.rsplit(')').next().unwrap();
                after.split_whitespace().nth(1) == Some(&parent.to_string())
            })
        })
        .collect()
}

/// Live processes whose command line names `dir` (the postmaster, the
/// watcher).
fn mentioning(dir: &Path) -> Vec<u32> {
    let needle = dir.to_str().unwrap().as_bytes();
    processes()
        .filter(|&pid| alive(pid))
        .filter(|&pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| cmdline.windows(needle.len()).any(|w| w == needle))
        })
        .collect()
}

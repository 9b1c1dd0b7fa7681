//! Hostile and broken webhook clients against the real listener: forged and
//! missing signatures, signatures over another body, replays, bodies over the
//! limit, slow-loris clients, deep, huge and invalid-UTF-8 JSON, wrong content
//! types, garbage that is not HTTP. Each gets its documented answer, none
//! crashes the daemon or delays anyone else, and the genuine webhooks sent at
//! the same time are all stored and applied.
//!
//! `CHANSYNC_HOSTILE_ROUNDS` (default 1) multiplies the storm for a soak run.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{post_webhook, sign, Harness, Intake, Setup};

const CATCH_UP: Duration = Duration::from_secs(30);
/// The listener's `read_timeout` in these tests.
const READ_TIMEOUT: Duration = Duration::from_secs(1);
/// Longer than any answer should take; reaching it fails the test.
const PATIENCE: Duration = Duration::from_secs(15);

async fn start() -> Harness {
    let mut setup = Setup::new(Intake::Webhooks);
    setup.server_keys = format!("read_timeout = \"{}ms\"", READ_TIMEOUT.as_millis());
    Harness::start(setup).await
}

/// What the server did with a raw request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// A response with this status.
    Status(u16),
    /// The server closed the connection without a response.
    Closed,
}

/// Sends raw bytes, then reads until the server closes the connection.
async fn raw(addr: SocketAddr, bytes: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before taking everything.
    let _ = stream.write_all(bytes).await;
    read_answer(&mut stream).await
}

async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut got = Vec::new();
    let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut got)).await;
    assert!(
        read.is_ok(),
        "the server kept the connection open past {PATIENCE:?}"
    );
    status_of(&got)
}

fn status_of(got: &[u8]) -> Answer {
    let text = String::from_utf8_lossy(got);
    match text.strip_prefix("HTTP/1.1 ") {
        Some(rest) => Answer::Status(rest[..3].parse().unwrap()),
        None => Answer::Closed,
    }
}

fn head(addr: SocketAddr, extra: &str) -> String {
    format!(
        "POST /webhooks/shop HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-Shopify-Topic: orders/create\r\nX-Shopify-Webhook-Id: raw\r\n\
         X-Shopify-Hmac-Sha256: AAAA\r\nConnection: close\r\n{extra}"
    )
}

/// A client that sends its headers a line at a time and never finishes:
/// the server must cut it off.
async fn slow_headers(addr: SocketAddr) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"POST /webhooks/shop HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 256];
    let started = tokio::time::Instant::now();
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => {
                return match read {
                    Ok(n) if n > 0 => status_of(&buf[..n]),
                    _ => Answer::Closed,
                };
            }
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                if stream.write_all(b"X-Slow: 1\r\n").await.is_err() {
                    return Answer::Closed;
                }
            }
        }
        assert!(
            started.elapsed() < PATIENCE,
            "a slow-loris client held its connection for {PATIENCE:?}"
        );
    }
}

/// A client that sends complete headers and then a trickle of its body.
async fn slow_body(addr: SocketAddr) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    let head = head(addr, "Content-Length: 1000\r\n\r\n{\"id\":");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let started = tokio::time::Instant::now();
    let mut buf = [0u8; 1024];
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => return status_of(&got),
                Ok(n) => got.extend_from_slice(&buf[..n]),
            },
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                let _ = stream.write_all(b" ").await;
            }
        }
        assert!(
            started.elapsed() < PATIENCE,
            "a slow body held its connection for {PATIENCE:?}"
        );
    }
}

/// Signed, well-formed webhook plumbing for bodies of any shape.
async fn post_signed(
    h: &Harness,
    content_type: &str,
    id: &str,
    body: Vec<u8>,
) -> (u16, serde_json::Value) {
    let resp = reqwest::Client::new()
        .post(h.webhook_url())
        .header("Content-Type", content_type)
        .header("X-Shopify-Topic", "orders/create")
        .header("X-Shopify-Hmac-Sha256", sign(h.sim.webhook_secret(), &body))
        .header("X-Shopify-Webhook-Id", id)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or_default())
}

fn deep_json(depth: usize) -> Vec<u8> {
    let mut body = vec![b'['; depth];
    body.extend(std::iter::repeat_n(b']', depth));
    body
}

fn huge_json(bytes: usize) -> Vec<u8> {
    let mut body = b"{\"line_items\":[".to_vec();
    while body.len() < bytes {
        body.extend_from_slice(b"{\"sku\":\"HUGE\",\"quantity\":1},");
    }
    body.extend_from_slice(b"{}]}");
    body
}

fn invalid_utf8() -> Vec<u8> {
    b"{\"id\":1,\"email\":\"\xff\xfe\xc3\x28\",\"line_items\":[]}".to_vec()
}

#[tokio::test]
async fn a_body_declared_over_the_limit_is_refused_unread() {
    let h = start().await;
    // One GiB declared, none sent: answered at once with 413. Had the server
    // waited for the body it would have answered 408 after its read timeout.
    let request = head(h.addr, "Content-Length: 1073741824\r\n\r\n");
    assert_eq!(raw(h.addr, request.as_bytes()).await, Answer::Status(413));

    // Chunked, no length declared: cut off at the limit.
    let mut request = head(h.addr, "Transfer-Encoding: chunked\r\n\r\n").into_bytes();
    let chunk = vec![b' '; 64 * 1024];
    for _ in 0..40 {
        request.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
        request.extend_from_slice(&chunk);
        request.extend_from_slice(b"\r\n");
    }
    request.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw(h.addr, &request).await, Answer::Status(413));
    h.stop().await.unwrap();
}

#[tokio::test]
async fn slow_loris_clients_are_cut_off_and_delay_no_one() {
    let h = start().await;
    let addr = h.addr;
    // Fifty clients trickling headers, ten trickling bodies.
    let mut slow = Vec::new();
    for _ in 0..50 {
        slow.push(tokio::spawn(slow_headers(addr)));
    }
    let mut trickles = Vec::new();
    for _ in 0..10 {
        trickles.push(tokio::spawn(slow_body(addr)));
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Meanwhile genuine deliveries go through on the first try, and the
    // health check answers.
    let ids = h.sim.create_orders(5);
    for (i, id) in ids.iter().enumerate() {
        let body = serde_json::to_vec(&h.sim.rest_order(*id).unwrap()).unwrap();
        let (status, reply) = post_webhook(
            &h.webhook_url(),
            "orders/create",
            &format!("direct-{i}"),
            &sign(h.sim.webhook_secret(), &body),
            body,
        )
        .await;
        assert_eq!(status, 200, "{reply}");
    }
    let health = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(health.status(), 200);

    for s in slow {
        assert_eq!(s.await.unwrap(), Answer::Closed);
    }
    for t in trickles {
        assert_eq!(t.await.unwrap(), Answer::Status(408));
    }
    let orders = h.converge(CATCH_UP).await;
    assert_eq!(orders.len(), 5);
    h.stop().await.unwrap();
}

#[tokio::test]
async fn hostile_bodies_with_good_signatures_are_400_and_kept() {
    let h = start().await;
    let cases: Vec<(&str, &str, Vec<u8>)> = vec![
        ("deeply nested", "application/json", deep_json(200_000)),
        ("huge", "application/json", huge_json(900_000)),
        ("invalid UTF-8", "application/json", invalid_utf8()),
        (
            "a form, not JSON",
            "application/x-www-form-urlencoded",
            b"id=1&email=a%40b.c".to_vec(),
        ),
        ("empty", "application/json", Vec::new()),
    ];
    for (i, (what, content_type, body)) in cases.iter().enumerate() {
        let (status, reply) =
            post_signed(&h, content_type, &format!("bad-{i}"), body.clone()).await;
        assert_eq!(status, 400, "{what}: {reply}");
        assert!(reply["inbox_id"].is_i64(), "{what} is kept: {reply}");
    }

    // Kept byte for byte.
    let store = sqlx::SqlitePool::connect(&h.store_url).await.unwrap();
    let kept: Vec<(Vec<u8>, String)> = sqlx::query_as("SELECT body, state FROM inbox ORDER BY id")
        .fetch_all(&store)
        .await
        .unwrap();
    store.close().await;
    assert_eq!(kept.len(), cases.len());
    for ((what, _, body), (stored, state)) in cases.iter().zip(&kept) {
        assert_eq!(stored, body, "{what} kept verbatim");
        assert_eq!(state, "rejected", "{what}");
    }

    // A genuine order with a content type its channel never sends is still
    // the channel's signed delivery: taken, not lost.
    let id = h.sim.create_orders(1)[0];
    let body = serde_json::to_vec(&h.sim.rest_order(id).unwrap()).unwrap();
    let (status, reply) = post_signed(&h, "text/plain", "odd-type", body).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(h.converge(CATCH_UP).await.len(), 1);
    h.stop().await.unwrap();
}

/// Every kind of bad client, in a seeded mix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Hostile {
    MissingSignature,
    ForgedSignature,
    SignatureOverAnotherBody,
    Replay,
    DeclaredTooLarge,
    StreamedTooLarge,
    SlowHeaders,
    SlowBody,
    DeepJson,
    HugeJson,
    InvalidUtf8,
    FormBody,
    NotHttp,
    TooManyHeaders,
}

const KINDS: [Hostile; 14] = [
    Hostile::MissingSignature,
    Hostile::ForgedSignature,
    Hostile::SignatureOverAnotherBody,
    Hostile::Replay,
    Hostile::DeclaredTooLarge,
    Hostile::StreamedTooLarge,
    Hostile::SlowHeaders,
    Hostile::SlowBody,
    Hostile::DeepJson,
    Hostile::HugeJson,
    Hostile::InvalidUtf8,
    Hostile::FormBody,
    Hostile::NotHttp,
    Hostile::TooManyHeaders,
];

impl Hostile {
    /// Whether the body is kept in the inbox for inspection.
    fn kept(self) -> bool {
        matches!(
            self,
            Hostile::DeepJson | Hostile::HugeJson | Hostile::InvalidUtf8 | Hostile::FormBody
        )
    }
}

/// One hostile request; panics unless it got its documented answer.
async fn attack(h: &Harness, kind: Hostile, n: u64, genuine: &(String, Vec<u8>)) {
    let addr = h.addr;
    let secret = h.sim.webhook_secret();
    let url = h.webhook_url();
    let id = format!("hostile-{n}");
    let (genuine_id, genuine_body) = genuine;
    let answer = match kind {
        Hostile::MissingSignature => Answer::Status(
            post_webhook(&url, "orders/create", &id, "", genuine_body.clone())
                .await
                .0,
        ),
        Hostile::ForgedSignature => {
            let forged = sign("not-the-secret", genuine_body);
            Answer::Status(
                post_webhook(&url, "orders/create", &id, &forged, genuine_body.clone())
                    .await
                    .0,
            )
        }
        Hostile::SignatureOverAnotherBody => {
            let mut other = genuine_body.clone();
            other.extend_from_slice(b" ");
            let signed_for_original = sign(secret, genuine_body);
            Answer::Status(
                post_webhook(&url, "orders/create", &id, &signed_for_original, other)
                    .await
                    .0,
            )
        }
        Hostile::Replay => {
            let (status, reply) = post_webhook(
                &url,
                "orders/create",
                genuine_id,
                &sign(secret, genuine_body),
                genuine_body.clone(),
            )
            .await;
            assert_eq!(reply["status"], "duplicate", "a replay is a duplicate");
            Answer::Status(status)
        }
        Hostile::DeclaredTooLarge => {
            raw(
                addr,
                head(addr, "Content-Length: 1073741824\r\n\r\n").as_bytes(),
            )
            .await
        }
        Hostile::StreamedTooLarge => {
            let body = vec![b' '; 1024 * 1024 + 1];
            Answer::Status(
                post_webhook(&url, "orders/create", &id, &sign(secret, &body), body)
                    .await
                    .0,
            )
        }
        Hostile::SlowHeaders => slow_headers(addr).await,
        Hostile::SlowBody => slow_body(addr).await,
        Hostile::DeepJson => Answer::Status(
            post_signed(h, "application/json", &id, deep_json(100_000))
                .await
                .0,
        ),
        Hostile::HugeJson => Answer::Status(
            post_signed(h, "application/json", &id, huge_json(500_000))
                .await
                .0,
        ),
        Hostile::InvalidUtf8 => Answer::Status(
            post_signed(h, "application/json", &id, invalid_utf8())
                .await
                .0,
        ),
        Hostile::FormBody => Answer::Status(
            post_signed(
                h,
                "application/x-www-form-urlencoded",
                &id,
                b"a=1&b=2".to_vec(),
            )
            .await
            .0,
        ),
        Hostile::NotHttp => {
            raw(
                addr,
                b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03garbage\r\n\r\n",
            )
            .await
        }
        Hostile::TooManyHeaders => {
            let many: String = (0..200).map(|i| format!("X-Pad-{i}: {i}\r\n")).collect();
            raw(
                addr,
                head(addr, &format!("{many}Content-Length: 2\r\n\r\n{{}}")).as_bytes(),
            )
            .await
        }
    };
    let want = match kind {
        Hostile::MissingSignature
        | Hostile::ForgedSignature
        | Hostile::SignatureOverAnotherBody => Answer::Status(401),
        Hostile::Replay => Answer::Status(200),
        Hostile::DeclaredTooLarge | Hostile::StreamedTooLarge => Answer::Status(413),
        Hostile::SlowHeaders => Answer::Closed,
        Hostile::SlowBody => Answer::Status(408),
        Hostile::DeepJson | Hostile::HugeJson | Hostile::InvalidUtf8 | Hostile::FormBody => {
            Answer::Status(400)
        }
        Hostile::NotHttp | Hostile::TooManyHeaders => {
            // hyper answers a request it cannot parse with 400 or 431.
            match answer {
                Answer::Status(400 | 431) | Answer::Closed => answer,
                other => panic!("{kind:?}: {other:?}"),
            }
        }
    };
    assert_eq!(answer, want, "{kind:?}");
}

#[tokio::test]
async fn a_storm_of_hostile_clients_loses_no_genuine_webhook() {
    let rounds: u64 = std::env::var("CHANSYNC_HOSTILE_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let h = Arc::new(start().await);
    // A genuine delivery the replays repeat.
    let first = h.sim.create_orders(1)[0];
    let genuine_body = serde_json::to_vec(&h.sim.rest_order(first).unwrap()).unwrap();
    let (status, _) = post_webhook(
        &h.webhook_url(),
        "orders/create",
        "genuine-0",
        &sign(h.sim.webhook_secret(), &genuine_body),
        genuine_body.clone(),
    )
    .await;
    assert_eq!(status, 200);
    let genuine = Arc::new(("genuine-0".to_owned(), genuine_body));

    let mut rng = ChaCha8Rng::seed_from_u64(0x5EED);
    let per_worker = 25 * rounds;
    let tried = Arc::new(AtomicU64::new(0));
    let mut workers = Vec::new();
    let mut plan: BTreeMap<Hostile, u64> = BTreeMap::new();
    for w in 0..16u64 {
        let kinds: Vec<Hostile> = (0..per_worker)
            .map(|_| KINDS[rng.gen_range(0..KINDS.len())])
            .collect();
        for k in &kinds {
            *plan.entry(*k).or_default() += 1;
        }
        let (h, genuine, tried) = (h.clone(), genuine.clone(), tried.clone());
        workers.push(tokio::spawn(async move {
            for (i, kind) in kinds.into_iter().enumerate() {
                attack(&h, kind, w * 1_000_000 + i as u64, &genuine).await;
                tried.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }

    // The channel goes on creating and changing orders, its webhooks landing
    // in the middle of the storm.
    let mut ids = vec![first];
    for round in 0..10 * rounds {
        ids.extend(h.sim.create_orders(3));
        assert!(h.sim.update_order(ids[(round as usize * 7) % ids.len()]));
        let health = reqwest::get(format!("http://{}/healthz", h.addr))
            .await
            .unwrap();
        assert_eq!(health.status(), 200, "the daemon answers during the storm");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    for w in workers {
        w.await
            .expect("every hostile request got its documented answer");
    }

    let orders = h.converge(CATCH_UP).await;
    assert_eq!(orders.len(), ids.len(), "every genuine order once");
    let delivered = h.sim.state()["webhooks"].clone();
    let store = sqlx::SqlitePool::connect(&h.store_url).await.unwrap();
    let kept: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE state = 'rejected'")
        .fetch_one(&store)
        .await
        .unwrap();
    let failed: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM inbox WHERE state = 'failed'")
        .fetch_one(&store)
        .await
        .unwrap();
    store.close().await;
    let want_kept: u64 = plan.iter().filter(|(k, _)| k.kept()).map(|(_, n)| n).sum();
    assert_eq!(
        kept as u64, want_kept,
        "every signed bad body kept, nothing else"
    );
    assert_eq!(failed, 0, "no stored delivery failed to apply");
    println!(
        "hostile storm: {} inputs tried ({plan:?}), {} genuine orders stored once, channel webhooks {delivered}",
        tried.load(Ordering::Relaxed),
        orders.len()
    );
    Arc::into_inner(h)
        .expect("workers done")
        .stop()
        .await
        .unwrap();
}

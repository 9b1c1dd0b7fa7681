//! The listener's accept loop, with the limits a public endpoint needs.
//!
//! Webhooks come from the internet, so the listener assumes some clients are
//! hostile or broken:
//! - a client gets `[server] read_timeout` to send its request headers (the
//!   connection is closed after that) and the same again for the body (`408`),
//!   so slow-loris clients hold nothing for long;
//! - a body declared over `[server] max_body_bytes` is refused with `413`
//!   before any of it is read, and a body that turns out longer is cut off at
//!   the limit;
//! - each connection is its own task: a stalled client never delays another.
//!
//! On shutdown the loop stops accepting, lets requests in flight finish, and
//! after [`DRAIN`] cuts whatever connection is still open.

use std::future::Future;
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;

/// How long shutdown waits for requests in flight before cutting them.
pub const DRAIN: Duration = Duration::from_secs(30);

/// What every request is held to.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to send the headers, and then the body.
    pub read_timeout: Duration,
    /// The largest body taken.
    pub max_body_bytes: usize,
}

/// Serves `app` on `listener` until `shutdown` resolves, then drains.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let app = app.layer(axum::middleware::from_fn_with_state(limits, read_body));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: the listener
                    // itself is fine, so wait a moment and go on.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            drain = ?DRAIN,
            "connections still open after the drain time were cut"
        );
    }
    Ok(())
}

fn refuse(status: StatusCode, message: String) -> Response {
    // The rest of an unread body is not worth reading: close the connection.
    (
        status,
        [(header::CONNECTION, "close")],
        Json(json!({ "error": message })),
    )
        .into_response()
}

/// Reads each request's body whole, within the limits, before any handler
/// sees it.
async fn read_body(State(limits): State<Limits>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    if body.size_hint().exact() == Some(0) {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let limit = limits.max_body_bytes;
    let too_large = || {
        refuse(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the body is over {limit} bytes (server.max_body_bytes)"),
        )
    };
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let read = tokio::time::timeout(limits.read_timeout, Limited::new(body, limit).collect());
    let bytes: Bytes = match read.await {
        Err(_) => {
            return refuse(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the body did not arrive within {} (server.read_timeout)",
                    humantime::format_duration(limits.read_timeout)
                ),
            )
        }
        Ok(Err(e)) if e.is::<LengthLimitError>() => return too_large(),
        Ok(Err(e)) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                format!("the body could not be read: {e}"),
            )
        }
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

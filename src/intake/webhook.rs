//! `POST /webhooks/{connector}`: verify the signature over the raw bytes,
//! parse, and store in the inbox before answering 2xx. Bad signatures get
//! 401 and store nothing; malformed bodies get 400 and are kept.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use chansync_sdk::{WebhookError, WebhookRequest};
use serde_json::json;
use tokio::sync::oneshot;

use crate::admin::AppState;
use crate::events::Event;
use crate::store::{InboxInsert, InboxOutcome};

fn headers_json(h: &HeaderMap) -> serde_json::Value {
    let mut map = serde_json::Map::new();
    for (k, v) in h {
        map.insert(
            k.as_str().to_owned(),
            String::from_utf8_lossy(v.as_bytes()).into_owned().into(),
        );
    }
    serde_json::Value::Object(map)
}

fn reply(status: StatusCode, body: serde_json::Value) -> Response {
    (status, Json(body)).into_response()
}

/// The webhook handler.
pub async fn receive(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let rt = &state.rt;
    let Some(inst) = rt.connector(&name) else {
        rt.metrics.webhook_rejected(&name, "unknown_connector");
        return reply(
            StatusCode::NOT_FOUND,
            json!({ "error": "no such connector" }),
        );
    };
    let Some(receiver) = inst.connector.webhooks() else {
        return reply(
            StatusCode::NOT_FOUND,
            json!({ "error": "this connector does not take webhooks" }),
        );
    };
    let host = headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    let url = format!("http://{host}{uri}");
    let req = WebhookRequest {
        headers: &headers,
        body: &body,
        url: &url,
    };

    if let Err(e) = receiver.verify(&req) {
        tracing::warn!(connector = %name, error = %e, "webhook refused: bad signature");
        rt.metrics.webhook_rejected(&name, "signature");
        rt.publish(Event::WebhookRejected {
            connector: name.clone(),
            status: 401,
            reason: e.to_string(),
        });
        return reply(
            StatusCode::UNAUTHORIZED,
            json!({ "error": "invalid signature" }),
        );
    }
    let (insert, refused) = match receiver.parse(&req) {
        Ok(d) => (
            InboxInsert {
                connector: name.clone(),
                event_id: Some(d.event_id),
                topic: Some(d.topic),
                rejected: None,
                headers: headers_json(&headers),
                body: body.to_vec(),
            },
            None,
        ),
        Err(WebhookError::Malformed(m) | WebhookError::BadSignature(m)) => (
            InboxInsert {
                connector: name.clone(),
                event_id: None,
                topic: None,
                rejected: Some(m.clone()),
                headers: headers_json(&headers),
                body: body.to_vec(),
            },
            Some(m),
        ),
    };
    let (tx, rx) = oneshot::channel();
    if state.inbox.send((insert, tx)).await.is_err() {
        return reply(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "error": "shutting down; retry later" }),
        );
    }
    let outcome = match rx.await {
        Ok(Ok(o)) => o,
        Ok(Err(_)) | Err(_) => {
            return reply(
                StatusCode::SERVICE_UNAVAILABLE,
                json!({ "error": "could not store the delivery; retry later" }),
            )
        }
    };
    if let Some(reason) = refused {
        tracing::warn!(connector = %name, error = %reason, "malformed webhook kept for inspection");
        rt.metrics.webhook_rejected(&name, "malformed");
        rt.publish(Event::WebhookRejected {
            connector: name.clone(),
            status: 400,
            reason: reason.clone(),
        });
        let id = match outcome {
            InboxOutcome::Stored(id) => Some(id),
            InboxOutcome::Duplicate => None,
        };
        return reply(
            StatusCode::BAD_REQUEST,
            json!({ "error": "malformed webhook", "detail": reason, "inbox_id": id }),
        );
    }
    match outcome {
        InboxOutcome::Stored(id) => reply(
            StatusCode::OK,
            json!({ "status": "stored", "inbox_id": id }),
        ),
        InboxOutcome::Duplicate => reply(StatusCode::OK, json!({ "status": "duplicate" })),
    }
}

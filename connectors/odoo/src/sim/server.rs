//! The simulator's HTTP face: `POST /jsonrpc` (services `common` and
//! `object`, errors as HTTP 200 with an `error` member) and
//! `POST /json/2/<model>/<method>` (bearer API key, `X-Odoo-Database`,
//! errors as HTTP statuses), both over the same world; `GET /_sim/state`
//! for tests and the CLI. Injected faults answer before either API does.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::{Json, Router};
use serde_json::{json, Map, Value};

use chansync_sdk::chaos;

use crate::sim::error::{Exc, OdooError, OdooResult};
use crate::sim::methods::{self, bind_json2, bind_rpc, signature};
use crate::sim::state::Shared;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/jsonrpc", post(jsonrpc))
        .route("/json/2/{model}/{method}", any(json2))
        .route("/_sim/state", get(state))
        .fallback(not_found)
        .with_state(shared.clone())
        .merge(chaos::routes(shared.chaos.clone()))
        .layer(axum::middleware::from_fn_with_state(
            shared.chaos.clone(),
            chaos::middleware,
        ))
}

/// Odoo's 404 page (HTML, as werkzeug renders it).
fn not_found_page() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server.</p>\n"),
    )
        .into_response()
}

async fn not_found() -> Response {
    not_found_page()
}

async fn state(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(shared.state_json())
}

/// Counts an API request and answers an injected fault, if one is due.
fn gate(shared: &Shared) -> Option<Response> {
    shared.counts.requests.fetch_add(1, Ordering::Relaxed);
    let status = shared.take_fault()?;
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    let mut resp = (
        status,
        Html(format!(
            "<html><body><h1>{status}</h1>The server is busy, try again later.</body></html>"
        )),
    )
        .into_response();
    if status == StatusCode::TOO_MANY_REQUESTS {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    Some(resp)
}

/// The traceback-like `debug` text Odoo sends with an error.
fn debug_text(e: &OdooError) -> String {
    format!(
        "Traceback (most recent call last):\n  File \"odoo/service/model.py\", in call_kw (simulated)\n{}: {}",
        e.exc.name(),
        e.message
    )
}

// ---------------------------------------------------------------- JSON-RPC

fn rpc_result(id: &Value, result: Value) -> Response {
    Json(json!({"jsonrpc": "2.0", "id": id, "result": result})).into_response()
}

fn rpc_error(id: &Value, e: &OdooError) -> Response {
    Json(json!({
        "jsonrpc": "2.0",
        "id": id,
        "error": {
            "code": 200,
            "message": "Odoo Server Error",
            "data": {
                "name": e.exc.name(),
                "debug": debug_text(e),
                "message": e.message,
                "arguments": [e.message],
                "context": {},
            },
        },
    }))
    .into_response()
}

async fn jsonrpc(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    if let Some(fault) = gate(&shared) {
        return fault;
    }
    shared.counts.jsonrpc.fetch_add(1, Ordering::Relaxed);
    let req: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            let err = OdooError::new(Exc::BadRequest, format!("Invalid JSON data: {e}"));
            return rpc_error(&Value::Null, &err);
        }
    };
    let id = req.get("id").cloned().unwrap_or(Value::Null);
    let params = req.get("params").cloned().unwrap_or(Value::Null);
    let service = params.get("service").and_then(Value::as_str).unwrap_or("");
    let method = params.get("method").and_then(Value::as_str).unwrap_or("");
    let args = match params.get("args") {
        Some(Value::Array(a)) => a.clone(),
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            let err = OdooError::new(Exc::TypeError, "args must be a list");
            return rpc_error(&id, &err);
        }
    };
    let out = match (service, method) {
        ("common", "version") => Ok(version(&shared)),
        ("common", "authenticate" | "login") => authenticate(&shared, &args),
        ("object", "execute_kw") => execute_kw(&shared, args),
        _ => Err(OdooError::new(
            Exc::NotFound,
            format!("404: Not Found (no method {method:?} in service {service:?})"),
        )),
    };
    match out {
        Ok(result) => rpc_result(&id, result),
        Err(e) => rpc_error(&id, &e),
    }
}

fn version(shared: &Shared) -> Value {
    let v = shared.cfg.server_version();
    let major: i64 = if shared.cfg.json2 { 19 } else { 17 };
    json!({
        "server_version": v,
        "server_version_info": [major, 0, 0, "final", 0, ""],
        "server_serie": v,
        "protocol_version": 1,
    })
}

fn check_db(shared: &Shared, db: &Value) -> OdooResult<()> {
    match db.as_str() {
        Some(d) if d == shared.cfg.database => Ok(()),
        other => Err(OdooError::new(
            Exc::OperationalError,
            format!(
                "connection to server failed: FATAL:  database \"{}\" does not exist",
                other.unwrap_or("")
            ),
        )),
    }
}

/// `authenticate(db, login, password, user_agent_env)`: the uid, or
/// `false` for a wrong login or key.
fn authenticate(shared: &Shared, args: &[Value]) -> OdooResult<Value> {
    let [db, login, key, ..] = args else {
        return Err(OdooError::new(
            Exc::TypeError,
            "authenticate() missing required positional arguments",
        ));
    };
    check_db(shared, db)?;
    let ok = login.as_str() == Some(shared.cfg.login.as_str())
        && key.as_str() == Some(shared.cfg.api_key.as_str());
    Ok(if ok { json!(2) } else { json!(false) })
}

/// `execute_kw(db, uid, password, model, method, args, kwargs)`.
fn execute_kw(shared: &Shared, args: Vec<Value>) -> OdooResult<Value> {
    if args.len() < 5 || args.len() > 7 {
        return Err(OdooError::new(
            Exc::TypeError,
            format!(
                "execute_kw() takes from 5 to 7 positional arguments but {} were given",
                args.len()
            ),
        ));
    }
    let mut args = args.into_iter();
    let mut next = || args.next().unwrap_or(Value::Null);
    let (db, uid, key, model, method) = (next(), next(), next(), next(), next());
    let call_args = next();
    let kwargs = next();
    check_db(shared, &db)?;
    if uid.as_i64() != Some(2) || key.as_str() != Some(shared.cfg.api_key.as_str()) {
        return Err(OdooError::new(Exc::AccessDenied, "Access Denied"));
    }
    let model_name = model.as_str().unwrap_or("");
    let method_name = method.as_str().unwrap_or("");
    let m = methods::model(model_name)?;
    let sig = signature(model_name, method_name).ok_or_else(|| {
        OdooError::new(
            Exc::AttributeError,
            format!("The method '{method_name}' does not exist on the model '{model_name}'"),
        )
    })?;
    let call_args = match call_args {
        Value::Array(a) => a,
        Value::Null => Vec::new(),
        _ => return Err(OdooError::new(Exc::TypeError, "args must be a list")),
    };
    let kwargs = match kwargs {
        Value::Object(o) => o,
        Value::Null => Map::new(),
        _ => return Err(OdooError::new(Exc::TypeError, "kwargs must be a dict")),
    };
    let bound = bind_rpc(sig, call_args, kwargs)?;
    shared.with(|w| methods::execute(w, m, sig, bound))
}

// ------------------------------------------------------------------ JSON-2

fn json2_error(e: &OdooError) -> Response {
    let status = e.exc.json2_status();
    let body = json!({
        "name": e.exc.name(),
        "message": e.message,
        "arguments": [e.message, status.as_u16()],
        "context": {},
        "debug": debug_text(e),
    });
    (status, Json(body)).into_response()
}

/// The key of `Authorization: bearer <key>` (the scheme in any case).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, key) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| key.trim())
}

async fn json2(
    State(shared): State<Arc<Shared>>,
    Path((model, method)): Path<(String, String)>,
    http_method: Method,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Some(fault) = gate(&shared) {
        return fault;
    }
    if !shared.cfg.json2 {
        return not_found_page();
    }
    shared.counts.json2.fetch_add(1, Ordering::Relaxed);
    if http_method != Method::POST {
        let mut resp = json2_error(&OdooError::new(Exc::BadRequest, "Method Not Allowed"));
        *resp.status_mut() = StatusCode::METHOD_NOT_ALLOWED;
        return resp;
    }
    if bearer(&headers) != Some(shared.cfg.api_key.as_str()) {
        let e = OdooError::new(Exc::AccessDenied, "Invalid apikey");
        return json2_error(&e);
    }
    let db = headers.get("x-odoo-database").and_then(|v| v.to_str().ok());
    if db.is_some_and(|d| d != shared.cfg.database) {
        let e = OdooError::new(
            Exc::NotFound,
            format!("database {:?} not found", db.unwrap_or("")),
        );
        return json2_error(&e);
    }
    let body: Map<String, Value> = if body.is_empty() {
        Map::new()
    } else {
        match serde_json::from_slice(&body) {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                let e = OdooError::new(
                    Exc::BadRequest,
                    "could not parse the body, expecting a json object",
                );
                return json2_error(&e);
            }
            Err(err) => {
                let e = OdooError::new(
                    Exc::BadRequest,
                    format!("could not parse the body as json: {err}"),
                );
                return json2_error(&e);
            }
        }
    };
    let out = (|| {
        let m = methods::model(&model).map_err(|_| {
            OdooError::new(Exc::NotFound, format!("the model '{model}' does not exist"))
        })?;
        let sig = signature(&model, &method).ok_or_else(|| {
            OdooError::new(
                Exc::NotFound,
                format!("The method '{method}' does not exist on the model '{model}'"),
            )
        })?;
        let bound = bind_json2(sig, &model, body)?;
        shared.with(|w| methods::execute(w, m, sig, bound))
    })();
    match out {
        Ok(v) => Json(v).into_response(),
        Err(e) => json2_error(&e),
    }
}

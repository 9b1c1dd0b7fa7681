//! The Odoo transport: one [`OdooClient::call`] reaches a model method over
//! JSON-2 (`POST /json/2/<model>/<method>`, Odoo 19+) or JSON-RPC
//! (`POST /jsonrpc`: `common.authenticate`, then `object.execute_kw`),
//! chosen by config or by probing the server once, and says what each Odoo
//! error is. Everything above it speaks in model calls, not protocols.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use chansync_sdk::http::{classify, retry_after, transport_error, HttpClient};
use chansync_sdk::{ConnectorError, ExposeSecret, SecretString};
use http::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::OnceCell;

use crate::config::Protocol;
use crate::wire::{self, Rec};

/// The protocol a connector instance settled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wire {
    JsonRpc,
    Json2,
}

/// One model method call, written once for both protocols.
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub model: &'static str,
    pub method: &'static str,
    /// The records a record method runs on; `None` for `@api.model` methods.
    pub ids: Option<Vec<i64>>,
    /// Parameters in the method's positional order: JSON-RPC sends them in
    /// `args`, JSON-2 by name.
    pub args: Vec<(&'static str, Value)>,
    /// Optional parameters, sent by name in both protocols.
    pub kwargs: Vec<(&'static str, Value)>,
    /// Whether sending it twice is harmless. A call that is not is retried
    /// only when Odoo cannot have run it (refused connection, 429).
    pub idempotent: bool,
    /// Context keys of this call, beside the connector's own.
    pub context: Vec<(&'static str, Value)>,
}

impl Call {
    /// `search_read(domain, fields, …, limit, order)`.
    pub fn search_read(
        model: &'static str,
        domain: Value,
        fields: &[&str],
        order: &str,
        limit: Option<u32>,
    ) -> Call {
        let mut kwargs = vec![("fields", json!(fields)), ("order", json!(order))];
        if let Some(limit) = limit {
            kwargs.push(("limit", json!(limit)));
        }
        Call {
            model,
            method: "search_read",
            ids: None,
            args: vec![("domain", domain)],
            kwargs,
            idempotent: true,
            context: vec![],
        }
    }

    /// `search(domain)`: the ids of every match.
    pub fn search(model: &'static str, domain: Value) -> Call {
        Call {
            model,
            method: "search",
            ids: None,
            args: vec![("domain", domain)],
            kwargs: vec![("order", json!("id"))],
            idempotent: true,
            context: vec![],
        }
    }

    /// `read(fields)` on `ids` (archived records included).
    pub fn read(model: &'static str, ids: Vec<i64>, fields: &[&str]) -> Call {
        Call {
            model,
            method: "read",
            ids: Some(ids),
            args: vec![("fields", json!(fields))],
            kwargs: vec![],
            idempotent: true,
            context: vec![],
        }
    }

    /// `create(vals_list)` with one record.
    pub fn create(model: &'static str, vals: Value) -> Call {
        Call {
            model,
            method: "create",
            ids: None,
            args: vec![("vals_list", Value::Array(vec![vals]))],
            kwargs: vec![],
            idempotent: false,
            context: vec![],
        }
    }

    /// The call with `key` set in its context.
    pub fn with_context(mut self, key: &'static str, value: Value) -> Call {
        self.context.push((key, value));
        self
    }

    /// A business method on records, e.g. `sale.order.action_confirm`.
    pub fn action(model: &'static str, method: &'static str, ids: Vec<i64>) -> Call {
        Call {
            model,
            method,
            ids: Some(ids),
            args: vec![],
            kwargs: vec![],
            idempotent: false,
            context: vec![],
        }
    }
}

/// How the connector reaches one Odoo database.
pub(crate) struct ClientConfig {
    pub base_url: String,
    pub database: String,
    pub login: Option<String>,
    pub api_key: SecretString,
    pub protocol: Protocol,
    pub company_id: Option<i64>,
    pub page_size: u32,
}

/// The Odoo API of one connector instance.
pub(crate) struct OdooClient {
    pub(crate) http: HttpClient,
    cfg: ClientConfig,
    wire: OnceCell<Wire>,
    /// The server's major version (`19` for 19.0 and saas~19.x).
    major: OnceCell<u32>,
    /// The JSON-RPC user id, once authenticated; cleared on an auth error.
    uid: Mutex<Option<i64>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for OdooClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OdooClient")
            .field("base_url", &self.cfg.base_url)
            .field("database", &self.cfg.database)
            .field("login", &self.cfg.login)
            .field("api_key", &"[redacted]")
            .field("wire", &self.wire.get())
            .finish()
    }
}

/// A request that failed, and whether Odoo may have run it.
enum Failure {
    /// Never reached Odoo, or Odoo refused it before running it.
    Unsent(ConnectorError),
    /// Reached Odoo; it may have run.
    Sent(ConnectorError),
}

impl OdooClient {
    pub fn new(http: HttpClient, cfg: ClientConfig) -> Self {
        let wire = OnceCell::new_with(match cfg.protocol {
            Protocol::JsonRpc => Some(Wire::JsonRpc),
            Protocol::Json2 => Some(Wire::Json2),
            Protocol::Auto => None,
        });
        OdooClient {
            http,
            cfg,
            wire,
            major: OnceCell::new(),
            uid: Mutex::new(None),
            next_id: AtomicU64::new(1),
        }
    }

    pub fn page_size(&self) -> u32 {
        self.cfg.page_size
    }

    pub fn company_id(&self) -> Option<i64> {
        self.cfg.company_id
    }

    /// The protocol in use, probing the server the first time under `auto`.
    pub async fn wire(&self) -> Result<Wire, ConnectorError> {
        self.wire.get_or_try_init(|| self.probe()).await.copied()
    }

    /// The server's major version: JSON-2 means 19 or later; over JSON-RPC
    /// `common.version` says.
    pub async fn major_version(&self) -> Result<u32, ConnectorError> {
        self.major
            .get_or_try_init(|| async {
                if self.wire().await? == Wire::Json2 {
                    return Ok(19);
                }
                let v = self
                    .rpc("version", true, "common", "version", || json!([]))
                    .await?;
                major_of(&v).ok_or_else(|| invalid("common", "version", &v))
            })
            .await
            .copied()
    }

    /// Runs one model method and returns its result.
    pub async fn call(&self, call: &Call) -> Result<Value, ConnectorError> {
        match self.wire().await? {
            Wire::Json2 => self.json2(call).await,
            Wire::JsonRpc => {
                let uid = self.uid().await?;
                let out = self.execute_kw(uid, call).await;
                if matches!(out, Err(ConnectorError::Auth(_))) {
                    *self.uid.lock().expect("uid lock") = None;
                }
                out
            }
        }
    }

    /// `search_read`, one page.
    pub async fn search_read(
        &self,
        model: &'static str,
        domain: Value,
        fields: &[&str],
        order: &str,
        limit: Option<u32>,
    ) -> Result<Vec<Rec>, ConnectorError> {
        let v = self
            .call(&Call::search_read(model, domain, fields, order, limit))
            .await?;
        records(model, v)
    }

    /// Every record matching `domain`, paged by id so that records created
    /// or removed meanwhile never shift a page.
    pub async fn search_read_all(
        &self,
        model: &'static str,
        domain: &[Value],
        fields: &[&str],
    ) -> Result<Vec<Rec>, ConnectorError> {
        let page = self.cfg.page_size;
        let mut out = Vec::new();
        let mut after = 0;
        loop {
            let mut d = domain.to_vec();
            d.push(json!(["id", ">", after]));
            let recs = self
                .search_read(model, Value::Array(d), fields, "id asc", Some(page))
                .await?;
            let n = recs.len();
            if let Some(last) = recs.last().and_then(wire::id) {
                after = last;
            }
            out.extend(recs);
            if n < page as usize {
                return Ok(out);
            }
        }
    }

    /// `search`: matching ids.
    pub async fn search(
        &self,
        model: &'static str,
        domain: Value,
    ) -> Result<Vec<i64>, ConnectorError> {
        let v = self.call(&Call::search(model, domain)).await?;
        v.as_array()
            .map(|a| a.iter().filter_map(Value::as_i64).collect())
            .ok_or_else(|| invalid(model, "search", &v))
    }

    /// `read` of `ids`; an empty list reads nothing.
    pub async fn read(
        &self,
        model: &'static str,
        ids: Vec<i64>,
        fields: &[&str],
    ) -> Result<Vec<Rec>, ConnectorError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let v = self.call(&Call::read(model, ids, fields)).await?;
        records(model, v)
    }

    /// `create` of one record; its id.
    pub async fn create(&self, model: &'static str, vals: Value) -> Result<i64, ConnectorError> {
        let v = self.call(&Call::create(model, vals)).await?;
        // A list when given a list of values; older servers answer an id.
        match &v {
            Value::Array(a) if a.len() == 1 => a[0].as_i64(),
            Value::Number(n) => n.as_i64(),
            _ => None,
        }
        .ok_or_else(|| invalid(model, "create", &v))
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.cfg.base_url.trim_end_matches('/'))
    }

    /// The context sent with a call: the configured company, if any, and
    /// the call's own keys.
    fn context(&self, call: &Call) -> Option<Value> {
        let mut ctx = serde_json::Map::new();
        if let Some(c) = self.cfg.company_id {
            ctx.insert("allowed_company_ids".into(), json!([c]));
        }
        for (k, v) in &call.context {
            ctx.insert((*k).into(), v.clone());
        }
        (!ctx.is_empty()).then_some(Value::Object(ctx))
    }

    /// Runs one HTTP exchange under the rate limiter with the SDK's retries;
    /// a call that is not idempotent is retried only when it never ran.
    async fn run<F, Fut>(
        &self,
        op: &str,
        idempotent: bool,
        attempt: F,
    ) -> Result<Value, ConnectorError>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = Result<Value, Failure>>,
    {
        self.http
            .run(op, || {
                let fut = attempt();
                async move {
                    match fut.await {
                        Ok(v) => Ok(Ok(v)),
                        Err(Failure::Unsent(e)) => Err(e),
                        Err(Failure::Sent(e)) if idempotent => Err(e),
                        Err(Failure::Sent(e @ ConnectorError::RateLimited { .. })) => Err(e),
                        // Retrying could run it twice; the caller's own
                        // retry starts by looking for what it made.
                        Err(Failure::Sent(e)) => Ok(Err(e)),
                    }
                }
            })
            .await?
    }

    /// Sends a request; transport errors and HTTP statuses are classified,
    /// the body of a 2xx is returned as JSON. A refused connection, a 429
    /// and a 404 (no such endpoint) mean Odoo ran nothing.
    async fn post(&self, req: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() {
                Failure::Unsent(transport_error(e))
            } else {
                Failure::Sent(transport_error(e))
            }
        })?;
        let status = resp.status();
        let delay = retry_after(resp.headers());
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| Failure::Sent(transport_error(e)))?;
        if !status.is_success() {
            let detail = error_detail(&bytes);
            let err = classify(status, delay, &detail);
            return Err(match err {
                ConnectorError::RateLimited { .. } => Failure::Unsent(err),
                _ if status == StatusCode::NOT_FOUND => Failure::Unsent(err),
                _ => Failure::Sent(err),
            });
        }
        serde_json::from_slice(&bytes).map_err(|e| {
            Failure::Sent(ConnectorError::InvalidResponse(format!(
                "Odoo answered {status} with a body that is not JSON: {e}"
            )))
        })
    }

    /// Decides JSON-2 or JSON-RPC: a server with JSON-2 answers
    /// `res.users/context_get`; one without answers 404.
    async fn probe(&self) -> Result<Wire, ConnectorError> {
        let url = self.url("/json/2/res.users/context_get");
        let outcome = self
            .http
            .run("probe", || {
                let req = self.json2_request(&url, &json!({}));
                async move {
                    match self.post(req).await {
                        Ok(_) => Ok(Wire::Json2),
                        Err(Failure::Unsent(ConnectorError::Permanent(_)))
                        | Err(Failure::Sent(ConnectorError::Permanent(_))) => Ok(Wire::JsonRpc),
                        Err(Failure::Unsent(e) | Failure::Sent(e)) => Err(e),
                    }
                }
            })
            .await?;
        tracing::info!(database = %self.cfg.database, protocol = ?outcome, "Odoo protocol chosen");
        Ok(outcome)
    }

    fn json2_request(&self, url: &str, body: &Value) -> reqwest::RequestBuilder {
        self.http
            .reqwest()
            .post(url)
            .header(
                http::header::AUTHORIZATION,
                format!("bearer {}", self.cfg.api_key.expose_secret()),
            )
            .header("X-Odoo-Database", &self.cfg.database)
            .json(body)
    }

    async fn json2(&self, call: &Call) -> Result<Value, ConnectorError> {
        let url = self.url(&format!("/json/2/{}/{}", call.model, call.method));
        let mut body = serde_json::Map::new();
        if let Some(ids) = &call.ids {
            body.insert("ids".into(), json!(ids));
        }
        for (k, v) in call.args.iter().chain(&call.kwargs) {
            body.insert((*k).into(), v.clone());
        }
        if let Some(ctx) = self.context(call) {
            body.insert("context".into(), ctx);
        }
        let body = Value::Object(body);
        let op = format!("{}.{}", call.model, call.method);
        self.run(&op, call.idempotent, || {
            let req = self.json2_request(&url, &body);
            async move { self.post(req).await }
        })
        .await
    }

    /// One JSON-RPC `call` of `service.method(args)`.
    async fn rpc(
        &self,
        op: &str,
        idempotent: bool,
        service: &str,
        method: &str,
        args: impl Fn() -> Value,
    ) -> Result<Value, ConnectorError> {
        let url = self.url("/jsonrpc");
        self.run(op, idempotent, || {
            let body = json!({
                "jsonrpc": "2.0",
                "method": "call",
                "id": self.next_id(),
                "params": {"service": service, "method": method, "args": args()},
            });
            let req = self.http.reqwest().post(&url).json(&body);
            async move {
                let v = self.post(req).await?;
                rpc_result(v).map_err(Failure::Sent)
            }
        })
        .await
    }

    /// The JSON-RPC user id, authenticating the first time.
    async fn uid(&self) -> Result<i64, ConnectorError> {
        if let Some(uid) = *self.uid.lock().expect("uid lock") {
            return Ok(uid);
        }
        let login = self.cfg.login.clone().ok_or_else(|| {
            ConnectorError::Permanent(
                "the server has no JSON-2 API and JSON-RPC needs `login`".into(),
            )
        })?;
        let result = self
            .rpc("authenticate", true, "common", "authenticate", || {
                json!([
                    self.cfg.database,
                    login,
                    self.cfg.api_key.expose_secret(),
                    {}
                ])
            })
            .await?;
        let uid = result.as_i64().filter(|u| *u > 0).ok_or_else(|| {
            ConnectorError::Auth(format!(
                "Odoo refused login {login:?} with this API key on database {:?}",
                self.cfg.database
            ))
        })?;
        *self.uid.lock().expect("uid lock") = Some(uid);
        Ok(uid)
    }

    async fn execute_kw(&self, uid: i64, call: &Call) -> Result<Value, ConnectorError> {
        let mut args: Vec<Value> = Vec::new();
        if let Some(ids) = &call.ids {
            args.push(json!(ids));
        }
        args.extend(call.args.iter().map(|(_, v)| v.clone()));
        let mut kwargs: serde_json::Map<String, Value> = call
            .kwargs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        if let Some(ctx) = self.context(call) {
            kwargs.insert("context".into(), ctx);
        }
        let op = format!("{}.{}", call.model, call.method);
        self.rpc(&op, call.idempotent, "object", "execute_kw", || {
            json!([
                self.cfg.database,
                uid,
                self.cfg.api_key.expose_secret(),
                call.model,
                call.method,
                args,
                kwargs,
            ])
        })
        .await
    }
}

#[derive(Deserialize)]
struct RpcResponse {
    #[serde(default)]
    result: Value,
    #[serde(default)]
    error: Option<RpcError>,
}

/// JSON-RPC's error member: `{code, message, data: {name, message, debug}}`.
#[derive(Debug, Deserialize)]
pub(crate) struct RpcError {
    #[serde(default)]
    pub code: i64,
    #[serde(default)]
    pub message: String,
    #[serde(default)]
    pub data: Option<RpcErrorData>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RpcErrorData {
    /// The Python exception's qualified name, e.g. `odoo.exceptions.UserError`.
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub message: String,
}

/// A JSON-RPC answer's result, or its error as a connector error.
pub(crate) fn rpc_result(v: Value) -> Result<Value, ConnectorError> {
    let resp: RpcResponse = serde_json::from_value(v)
        .map_err(|e| ConnectorError::InvalidResponse(format!("not a JSON-RPC response: {e}")))?;
    match resp.error {
        Some(err) => Err(rpc_error(&err)),
        None => Ok(resp.result),
    }
}

/// What a JSON-RPC error is. Odoo's own exceptions say it: access problems
/// are auth errors; user, validation and missing-record errors are the
/// request's fault. Python errors that only a wrong call raises (a bad
/// field, argument or method) are permanent too, because the same call can
/// never succeed; anything else (a serialization failure, a worker limit)
/// is transient.
pub(crate) fn rpc_error(err: &RpcError) -> ConnectorError {
    let data = err.data.as_ref();
    let name = data.map(|d| d.name.as_str()).unwrap_or("");
    let message = data
        .map(|d| d.message.as_str())
        .filter(|m| !m.is_empty())
        .unwrap_or(&err.message);
    let detail = if name.is_empty() {
        format!("{} ({})", err.message, err.code)
    } else {
        format!("{name}: {}", first_line(message))
    };
    // Code 100 is Odoo's "session expired".
    if err.code == 100 {
        return ConnectorError::Auth(detail);
    }
    match name {
        "odoo.exceptions.AccessDenied" | "odoo.exceptions.AccessError" => {
            ConnectorError::Auth(detail)
        }
        "odoo.exceptions.ValidationError"
        | "odoo.exceptions.UserError"
        | "odoo.exceptions.MissingError"
        | "odoo.exceptions.RedirectWarning"
        | "builtins.ValueError"
        | "builtins.TypeError"
        | "builtins.KeyError"
        | "builtins.AttributeError"
        | "werkzeug.exceptions.NotFound"
        | "werkzeug.exceptions.BadRequest" => ConnectorError::Permanent(detail),
        // A database that does not exist will not appear by retrying.
        "psycopg2.OperationalError" if message.contains("does not exist") => {
            ConnectorError::Permanent(detail)
        }
        _ => ConnectorError::Transient(detail),
    }
}

/// The major version in `common.version`'s answer: `server_version_info[0]`
/// is `17`, or `"saas~17"` on Odoo Online.
pub(crate) fn major_of(v: &Value) -> Option<u32> {
    match v.get("server_version_info")?.get(0)? {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.rsplit('~').next()?.parse().ok(),
        _ => None,
    }
}

/// The readable part of an error body: JSON-2's `{name, message}` object or
/// message string, else the start of the text.
pub(crate) fn error_detail(body: &[u8]) -> String {
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(o)) => {
            let name = o.get("name").and_then(Value::as_str).unwrap_or("");
            let message = o.get("message").and_then(Value::as_str).unwrap_or("");
            match (name.is_empty(), message.is_empty()) {
                (false, false) => format!("{name}: {}", first_line(message)),
                (true, false) => first_line(message).to_owned(),
                _ => Value::Object(o).to_string(),
            }
        }
        Ok(Value::String(s)) => first_line(&s).to_owned(),
        _ => String::from_utf8_lossy(body).chars().take(200).collect(),
    }
}

fn first_line(s: &str) -> &str {
    s.lines().next().unwrap_or("").trim()
}

pub(crate) fn records(model: &str, v: Value) -> Result<Vec<Rec>, ConnectorError> {
    match v {
        Value::Array(items) => items
            .into_iter()
            .map(|i| match i {
                Value::Object(o) => Ok(o),
                other => Err(invalid(model, "read", &other)),
            })
            .collect(),
        other => Err(invalid(model, "read", &other)),
    }
}

fn invalid(model: &str, method: &str, v: &Value) -> ConnectorError {
    let shown: String = v.to_string().chars().take(120).collect();
    ConnectorError::InvalidResponse(format!("{model}.{method} answered {shown}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class_of(code: i64, name: &str, message: &str) -> &'static str {
        rpc_error(&RpcError {
            code,
            message: "Odoo Server Error".into(),
            data: Some(RpcErrorData {
                name: name.into(),
                message: message.into(),
            }),
        })
        .class()
    }

    #[test]
    fn rpc_errors_are_classified_by_exception() {
        for (code, name, message, class) in [
            (200, "odoo.exceptions.AccessDenied", "Access Denied", "auth"),
            (
                200,
                "odoo.exceptions.AccessError",
                "You are not allowed",
                "auth",
            ),
            (
                100,
                "odoo.http.SessionExpiredException",
                "Session expired",
                "auth",
            ),
            (
                200,
                "odoo.exceptions.ValidationError",
                "Missing required fields",
                "permanent",
            ),
            (
                200,
                "odoo.exceptions.UserError",
                "Some orders are not in a state",
                "permanent",
            ),
            (
                200,
                "odoo.exceptions.MissingError",
                "Record does not exist",
                "permanent",
            ),
            (200, "builtins.ValueError", "Invalid field 'x'", "permanent"),
            (
                200,
                "builtins.TypeError",
                "unexpected keyword argument",
                "permanent",
            ),
            (
                200,
                "psycopg2.OperationalError",
                "database \"nope\" does not exist",
                "permanent",
            ),
            (
                200,
                "psycopg2.OperationalError",
                "server closed the connection",
                "transient",
            ),
            (
                200,
                "psycopg2.errors.SerializationFailure",
                "could not serialize",
                "transient",
            ),
            (200, "", "", "transient"),
        ] {
            assert_eq!(class_of(code, name, message), class, "{name}: {message}");
        }
    }

    #[test]
    fn rpc_error_detail_names_the_exception_and_its_first_line() {
        let e = rpc_error(&RpcError {
            code: 200,
            message: "Odoo Server Error".into(),
            data: Some(RpcErrorData {
                name: "odoo.exceptions.UserError".into(),
                message: "No product SKU-X\nTraceback…".into(),
            }),
        });
        assert_eq!(
            e.to_string(),
            "permanent channel error: odoo.exceptions.UserError: No product SKU-X"
        );
    }

    #[test]
    fn json2_error_bodies_are_read_in_both_shapes() {
        assert_eq!(
            error_detail(br#"{"name": "werkzeug.exceptions.Unauthorized", "message": "Invalid apikey", "arguments": [], "context": {}, "debug": "x"}"#),
            "werkzeug.exceptions.Unauthorized: Invalid apikey"
        );
        assert_eq!(
            error_detail(br#""the model 'x' does not exist""#),
            "the model 'x' does not exist"
        );
        assert_eq!(error_detail(b"<html>404</html>"), "<html>404</html>");
    }

    #[test]
    fn major_versions_are_read_from_both_numberings() {
        for (v, expect) in [
            (
                json!({"server_version_info": [17, 0, 0, "final", 0, ""]}),
                Some(17),
            ),
            (
                json!({"server_version_info": ["saas~18", 3, 0, "final", 0, "e"]}),
                Some(18),
            ),
            (json!({"server_version": "17.0"}), None),
        ] {
            assert_eq!(major_of(&v), expect, "{v}");
        }
    }

    #[test]
    fn json2_statuses_are_classified() {
        for (status, class) in [
            (401, "auth"),
            (403, "auth"),
            (404, "permanent"),
            (422, "permanent"),
            (429, "rate_limited"),
            (500, "transient"),
            (503, "transient"),
        ] {
            let s = StatusCode::from_u16(status).unwrap();
            assert_eq!(classify(s, None, "").class(), class, "{status}");
        }
    }
}

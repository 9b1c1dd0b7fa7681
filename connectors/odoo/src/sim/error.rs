//! The exceptions the simulated Odoo raises, named as Odoo's Python names
//! them; the server turns one into a JSON-RPC error member or a JSON-2 HTTP
//! status.

use axum::http::StatusCode;

/// Which exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Exc {
    AccessDenied,
    AccessError,
    UserError,
    ValidationError,
    MissingError,
    ValueError,
    TypeError,
    KeyError,
    AttributeError,
    NotFound,
    BadRequest,
    OperationalError,
}

impl Exc {
    /// The qualified name Odoo puts in `data.name` / the JSON-2 body.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Exc::AccessDenied => "odoo.exceptions.AccessDenied",
            Exc::AccessError => "odoo.exceptions.AccessError",
            Exc::UserError => "odoo.exceptions.UserError",
            Exc::ValidationError => "odoo.exceptions.ValidationError",
            Exc::MissingError => "odoo.exceptions.MissingError",
            Exc::ValueError => "builtins.ValueError",
            Exc::TypeError => "builtins.TypeError",
            Exc::KeyError => "builtins.KeyError",
            Exc::AttributeError => "builtins.AttributeError",
            Exc::NotFound => "werkzeug.exceptions.NotFound",
            Exc::BadRequest => "werkzeug.exceptions.BadRequest",
            Exc::OperationalError => "psycopg2.OperationalError",
        }
    }

    /// The status JSON-2 answers with: user errors carry their own HTTP
    /// code (422, access 403, missing 404), a bad key is 401, a call that
    /// does not fit the method's signature is 422, anything else is 500.
    pub(crate) fn json2_status(self) -> StatusCode {
        match self {
            Exc::AccessDenied => StatusCode::UNAUTHORIZED,
            Exc::AccessError => StatusCode::FORBIDDEN,
            Exc::MissingError | Exc::NotFound | Exc::KeyError | Exc::AttributeError => {
                StatusCode::NOT_FOUND
            }
            Exc::UserError | Exc::ValidationError | Exc::TypeError => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            Exc::BadRequest => StatusCode::BAD_REQUEST,
            Exc::ValueError | Exc::OperationalError => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// A raised exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OdooError {
    pub exc: Exc,
    pub message: String,
}

impl OdooError {
    pub(crate) fn new(exc: Exc, message: impl Into<String>) -> Self {
        OdooError {
            exc,
            message: message.into(),
        }
    }
}

pub(crate) type OdooResult<T> = Result<T, OdooError>;

/// `raise UserError(…)` and friends, briefly.
pub(crate) fn user(message: impl Into<String>) -> OdooError {
    OdooError::new(Exc::UserError, message)
}

pub(crate) fn value_error(message: impl Into<String>) -> OdooError {
    OdooError::new(Exc::ValueError, message)
}

pub(crate) fn type_error(message: impl Into<String>) -> OdooError {
    OdooError::new(Exc::TypeError, message)
}

pub(crate) fn missing(model: &str, ids: &[i64]) -> OdooError {
    let ids: Vec<String> = ids.iter().map(i64::to_string).collect();
    OdooError::new(
        Exc::MissingError,
        format!(
            "Record does not exist or has been deleted.\n(Record: {model}({},), User: 2)",
            ids.join(", ")
        ),
    )
}

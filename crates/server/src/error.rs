//! The one JSON error envelope of the API, and the one place errors become HTTP.
//!
//! `{"error": {"code", "message", "field"}}`: `code` is stable and documented, `message`
//! is for people, `field` names the request field at fault. Internal details are logged
//! once here and never sent.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use sanalpos_service::ServiceError;

/// An API error, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// Stable machine code.
    pub code: &'static str,
    /// Readable message.
    pub message: String,
    /// The request field at fault.
    pub field: Option<std::borrow::Cow<'static, str>>,
    /// Seconds for the `Retry-After` header (429 answers).
    pub retry_after: Option<u64>,
}

/// The envelope of every 4xx/5xx answer.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorEnvelope<'a> {
    /// The error.
    pub error: ErrorBody<'a>,
}

/// An error.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody<'a> {
    /// Stable machine code (see the error code table).
    pub code: &'a str,
    /// For people, in English.
    pub message: &'a str,
    /// The request field at fault.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<&'a str>,
}

impl ApiError {
    /// An error with a status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            field: None,
            retry_after: None,
        }
    }

    /// 400 for a field.
    pub fn invalid(field: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field.into()),
            ..ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
        }
    }

    /// 400 for a field named at run time (`card.number`).
    pub fn invalid_at(field: String, message: impl Into<String>) -> ApiError {
        ApiError {
            field: Some(field.into()),
            ..ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", message)
        }
    }

    /// 401.
    pub fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid API key is required: Authorization: Bearer <key>",
        )
    }

    /// 404.
    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    /// 500 with nothing internal in it; `detail` is logged once.
    pub fn internal(detail: &str) -> ApiError {
        tracing::error!(error = detail, "internal error");
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal error; the request may be retried with the same Idempotency-Key",
        )
    }

    /// The envelope of this error.
    fn envelope(&self) -> ErrorEnvelope<'_> {
        ErrorEnvelope {
            error: ErrorBody {
                code: self.code,
                message: &self.message,
                field: self.field.as_deref(),
            },
        }
    }

    /// The JSON body.
    pub fn body(&self) -> String {
        serde_json::to_string(&self.envelope()).unwrap_or_default()
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.envelope())).into_response();
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, seconds.into());
        }
        response
    }
}

impl From<ServiceError> for ApiError {
    fn from(error: ServiceError) -> ApiError {
        let code = error.code();
        match error {
            ServiceError::Validation { field, message } => ApiError {
                field: Some(field),
                ..ApiError::new(StatusCode::BAD_REQUEST, code, message)
            },
            ServiceError::NotFound => ApiError::new(StatusCode::NOT_FOUND, code, "not found"),
            ServiceError::Unauthorized => ApiError::unauthorized(),
            ServiceError::NoActivePos => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                "the company has no active POS definition for this payment",
            ),
            ServiceError::Conflict { message, .. } => {
                ApiError::new(StatusCode::CONFLICT, code, message)
            }
            ServiceError::Provider { message, .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, code, message)
            }
            ServiceError::BadStatement { message, .. } => ApiError {
                field: Some("body".into()),
                ..ApiError::new(StatusCode::BAD_REQUEST, code, message)
            },
            ServiceError::Storage(detail) => ApiError::internal(&detail),
        }
    }
}

//! The one API error, with the Broker API envelope `{"code", "message", "reason"}`.
//!
//! `code` is the HTTP status times 100,000 plus 10,000 (40310000 for a 403); `reason` is the
//! stable snake_case rejection code. A 5xx never shows internals: its cause is logged, and the
//! client reads a generic message.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use cashier_core::{Class, Code, Rejection};
use cashier_store::SubmitError;

/// Seconds a client should wait before retrying when the ledger is busy.
pub const RETRY_AFTER_SECONDS: u32 = 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, reason, message: message.into() }
    }

    /// The Broker API's numeric code for this status.
    pub fn code(&self) -> u32 {
        u32::from(self.status.as_u16()) * 100_000 + 10_000
    }

    /// A failure inside Cashier: logged with its cause, answered without it.
    pub fn internal(cause: impl std::fmt::Display) -> ApiError {
        tracing::error!(%cause, "internal error");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", "internal server error")
    }
}

/// The HTTP status for a rejection: by its class, with the spec's 422s for a value that cannot
/// be taken as sent (excess precision, an unknown symbol, a fraction of a whole-share asset).
pub fn status_of(code: Code) -> StatusCode {
    match code {
        Code::TooPrecise | Code::AssetNotFound | Code::NotFractionable => StatusCode::UNPROCESSABLE_ENTITY,
        Code::AlreadyExists | Code::EmailInUse | Code::SecondOperatorRequired => StatusCode::CONFLICT,
        _ => match code.class() {
            Class::Invalid => StatusCode::BAD_REQUEST,
            Class::NotFound => StatusCode::NOT_FOUND,
            Class::Forbidden => StatusCode::FORBIDDEN,
            Class::Conflict => StatusCode::UNPROCESSABLE_ENTITY,
        },
    }
}

impl From<Rejection> for ApiError {
    fn from(rejection: Rejection) -> ApiError {
        ApiError::new(status_of(rejection.code), rejection.code.as_str(), rejection.to_string())
    }
}

impl From<Code> for ApiError {
    fn from(code: Code) -> ApiError {
        Rejection::from(code).into()
    }
}

impl From<SubmitError> for ApiError {
    fn from(error: SubmitError) -> ApiError {
        match error {
            SubmitError::Rejected(rejection) => rejection.into(),
            SubmitError::Busy => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "busy", "the ledger is busy: retry shortly"),
            SubmitError::StoreFailed => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "outcome_unknown",
                "the request may or may not have taken effect: retry it with the same Idempotency-Key",
            ),
            SubmitError::Refused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "store_refused",
                "the store refused this request's data: nothing was changed; change the request before sending it again",
            ),
            SubmitError::Unavailable => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the ledger is not accepting writes: retry shortly")
            }
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({"code": self.code(), "message": self.message, "reason": self.reason});
        let mut response = (self.status, axum::Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rejection_maps_to_a_4xx_with_its_reason() {
        for &code in Code::ALL {
            let error = ApiError::from(code);
            assert!(error.status.is_client_error(), "{code}: {}", error.status);
            assert_eq!(error.reason, code.as_str());
            assert_eq!(error.code(), u32::from(error.status.as_u16()) * 100_000 + 10_000);
        }
        assert_eq!(ApiError::from(Code::InsufficientFunds).code(), 40310000);
        assert_eq!(ApiError::from(Code::AccountNotFound).code(), 40410000);
        assert_eq!(ApiError::from(Code::IdempotencyKeyReused).code(), 42210000);
        assert_eq!(ApiError::from(Code::TooPrecise).status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(ApiError::from(Code::MalformedId).status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn unavailability_says_when_to_retry_and_nothing_internal() {
        let response = ApiError::from(SubmitError::Busy).into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        let internal = ApiError::internal("disk I/O error at /var/lib/secret");
        assert!(!internal.message.contains("secret"));
    }
}

//! The admin API's one error type: a status and a one-line message for the person, the cause
//! logged (never shown) when it is ours.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::editor::EditError;
use crate::store::{StoreError, Violation};
use crate::templates::Diagnostic;

/// What went wrong with an admin API request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// `AMENDS_ADMIN_TOKEN` is not set, so the admin API and console are off.
    #[error("the admin API is off: set AMENDS_ADMIN_TOKEN to turn it on")]
    Off,
    /// No valid session or bearer token.
    #[error("sign in first (or send Authorization: Bearer <admin token>)")]
    Unauthorized,
    /// A sign-in with the wrong token, name or password.
    #[error("{0}")]
    BadCredentials(&'static str),
    /// Signed in, but the request fails a check (CSRF).
    #[error("{0}")]
    Forbidden(&'static str),
    /// Too many attempts (sign-ins, bearer tokens) from this client, account or device, or
    /// too many password checks under way.
    #[error("too many attempts; try again in {retry_after} s")]
    TooMany {
        /// Seconds to wait, sent as `Retry-After`.
        retry_after: u64,
    },
    /// The thing asked for does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (already handled, …).
    #[error("{0}")]
    Conflict(String),
    /// The request is malformed or names something invalid.
    #[error("{0}")]
    Invalid(String),
    /// A template text has errors and was not published.
    #[error("{message}")]
    Rejected {
        /// One line.
        message: String,
        /// Every problem, with its line.
        diagnostics: Vec<Diagnostic>,
    },
    /// A dependency (the broker, a provider) did not answer as needed.
    #[error("{0}")]
    Unavailable(String),
    /// Our fault: the cause is logged with its whole chain, never shown.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl ApiError {
    /// Our fault, caused by `cause`.
    pub fn internal(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> ApiError {
        ApiError::Internal(cause.into())
    }
}

/// `error: its source: that one's source …`, for the log.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// The body of every error answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What went wrong, in one line.
    pub error: String,
    /// For a refused template text: every problem, with its line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<DiagnosticView>>,
}

/// One template problem, as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct DiagnosticView {
    /// The file (`order-delayed/email.es.hbs`).
    pub path: String,
    /// Its line, from 1.
    pub line: Option<usize>,
    /// Its column, from 1.
    pub column: Option<usize>,
    /// `error` or `warning`.
    pub severity: String,
    /// What is wrong.
    pub message: String,
}

impl From<&Diagnostic> for DiagnosticView {
    fn from(d: &Diagnostic) -> DiagnosticView {
        DiagnosticView {
            path: d.path.display().to_string(),
            line: d.line,
            column: d.column,
            severity: match d.severity {
                crate::templates::Severity::Error => "error",
                crate::templates::Severity::Warning => "warning",
            }
            .to_owned(),
            message: d.message.clone(),
        }
    }
}

impl ApiError {
    fn status(&self) -> StatusCode {
        match self {
            ApiError::Off | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::Unauthorized | ApiError::BadCredentials(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::TooMany { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Conflict(_) => StatusCode::CONFLICT,
            ApiError::Invalid(_) | ApiError::Rejected { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Internal(cause) = &self {
            tracing::error!(error = %chain(cause.as_ref()), "admin API request failed");
        }
        let diagnostics = match &self {
            ApiError::Rejected { diagnostics, .. } => {
                Some(diagnostics.iter().map(DiagnosticView::from).collect())
            }
            _ => None,
        };
        let body = ErrorBody {
            error: self.to_string(),
            diagnostics,
        };
        let mut response = (self.status(), Json(body)).into_response();
        if let ApiError::TooMany { retry_after } = self {
            response.headers_mut().insert(
                axum::http::header::RETRY_AFTER,
                axum::http::HeaderValue::from(retry_after),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e.violation() {
            Some(Violation::TemplateEditRaced) => ApiError::Conflict(
                "another edit of this template landed first; reload it and try again".to_owned(),
            ),
            Some(Violation::CodeTaken) | None => ApiError::internal(e),
        }
    }
}

impl From<EditError> for ApiError {
    fn from(e: EditError) -> ApiError {
        match e {
            EditError::NotATemplate { .. } => ApiError::NotFound(e.to_string()),
            EditError::NoVersion { .. } => ApiError::NotFound(e.to_string()),
            EditError::Stale { .. } => ApiError::Conflict(e.to_string()),
            EditError::Rejected(diagnostics) => ApiError::Rejected {
                message: EditError::Rejected(diagnostics.clone()).to_string(),
                diagnostics,
            },
            EditError::Templates(e) => ApiError::internal(e),
            EditError::Store(e) => ApiError::from(e),
        }
    }
}

/// A JSON request body whose problems (not JSON, a missing or mistyped field, the wrong content
/// type) are answered like every other error: `{"error": …}`, naming what is wrong.
#[derive(Debug, Clone, Copy, Default)]
pub struct Body<T>(pub T);

impl<S, T> FromRequest<S> for Body<T>
where
    Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Body(value)),
            Err(rejection) => Err(ApiError::Invalid(format!(
                "the request body: {}",
                rejection.body_text()
            ))),
        }
    }
}

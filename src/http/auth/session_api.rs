//! The session endpoints: the sign-in form, signing in, who is signed in, signing out (here, or
//! everywhere).

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::limits::limit_key;
use super::{
    Admin, ClientAddress, DEVICE_COOKIE, DEVICE_TTL, SESSION_COOKIE, VERIFY_WAIT, request_cookie,
};
use crate::http::AppState;
use crate::http::error::{ApiError, Body, ErrorBody};
use crate::store::NewSession;

/// Signing in.
#[derive(Deserialize, ToSchema)]
pub struct SignIn {
    /// Your name, recorded as the author of what you change.
    pub name: String,
    /// The admin token (`AMENDS_ADMIN_TOKEN`), when people sign in with it.
    #[serde(default)]
    pub token: Option<String>,
    /// Your password, when `AMENDS_ADMIN_USERS` names you.
    #[serde(default)]
    pub password: Option<String>,
}

/// How people sign in to the console.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SignInMethod {
    /// Any name, and the admin token.
    Token,
    /// Their own name and password (`AMENDS_ADMIN_USERS`).
    Password,
}

/// What the sign-in form asks for.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignInForm {
    /// `token` or `password`.
    pub with: SignInMethod,
}

/// What the sign-in form asks for: the admin token, or each person's own password.
#[utoipa::path(get, path = "/api/sign-in", tag = "session",
    responses((status = 200, body = SignInForm), (status = 404, body = ErrorBody)))]
pub async fn sign_in_form(State(state): State<AppState>) -> Result<Json<SignInForm>, ApiError> {
    let auth = state.admin.as_ref().ok_or(ApiError::Off)?;
    Ok(Json(SignInForm {
        with: auth.method(),
    }))
}

/// Who is signed in, and the token every change must carry.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionView {
    /// The signed-in person (`api` for a bearer token).
    pub user: String,
    /// Send as `X-CSRF-Token` with every request that changes something (empty for a bearer token).
    pub csrf_token: String,
}

/// Signs in: checks the admin token or the person's password and sets the session cookie (and
/// the device cookie that exempts this browser from strangers' failures). Attempts are limited
/// per client address and account name, or per device; refused with 429 and `Retry-After`.
#[utoipa::path(post, path = "/api/session", tag = "session", request_body = SignIn,
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn sign_in(
    State(state): State<AppState>,
    ClientAddress(address): ClientAddress,
    headers: HeaderMap,
    Body(form): Body<SignIn>,
) -> Result<Response, ApiError> {
    let auth = state.admin.as_ref().ok_or(ApiError::Off)?;
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::Invalid(
            "give your name (up to 64 characters): it is recorded with what you change".to_owned(),
        ));
    }
    let now = state.clock.now();
    let device = request_cookie(&headers, DEVICE_COOKIE)
        .and_then(|value| auth.verify_device(&value, name, now));
    auth.limits
        .reserve_sign_in(limit_key(address), name, device.as_deref())?;
    let person = match auth.method() {
        SignInMethod::Token => form
            .token
            .as_deref()
            .and_then(|t| auth.token_matching(t.trim()))
            .map(|keys| (name.to_owned(), keys.fingerprint())),
        SignInMethod::Password => {
            // At most one verification per core at once; an attempt that cannot start soon is
            // refused rather than queued, so a flood never holds more than that many 19 MiB
            // Argon2 buffers.
            let permit = tokio::time::timeout(VERIFY_WAIT, auth.permits.clone().acquire_owned())
                .await
                .map_err(|_| ApiError::TooMany { retry_after: 1 })?
                .map_err(ApiError::internal)?;
            let password = form.password.unwrap_or_default();
            let (checker, who) = (auth.clone(), name.to_owned());
            auth.verifiers
                .run(move || {
                    let _permit = permit;
                    checker.person(&who, &password)
                })
                .await?
        }
    };
    let Some((person, fingerprint)) = person else {
        tracing::warn!("console sign-in refused");
        crate::http::audit::record(
            &state,
            name,
            address,
            "sign_in.refused",
            None,
            serde_json::json!({}),
        )
        .await;
        return Err(ApiError::BadCredentials(match auth.method() {
            SignInMethod::Token => "that is not the admin token",
            SignInMethod::Password => "wrong name or password",
        }));
    };
    let lifetime =
        chrono::Duration::from_std(auth.sessions.lifetime).map_err(ApiError::internal)?;
    let idle =
        chrono::Duration::from_std(auth.sessions.idle_timeout).map_err(ApiError::internal)?;
    // Ended sessions are deleted here, so the table holds about the sessions in force.
    state.store.purge_sessions(now, now - idle).await?;
    let (id_hash, value, csrf_token) = auth.issue();
    state
        .store
        .create_session(&NewSession {
            id_hash: &id_hash,
            person: &person,
            fingerprint: &fingerprint,
            created_at: now,
            expires_at: now + lifetime,
        })
        .await?;
    tracing::info!("console sign-in");
    crate::http::audit::record(
        &state,
        &person,
        address,
        "sign_in",
        None,
        serde_json::json!({}),
    )
    .await;
    let device_value = auth.issue_device(&person, now)?;
    let mut response = Json(SessionView {
        user: person,
        csrf_token,
    })
    .into_response();
    let cookies = response.headers_mut();
    cookies.append(
        header::SET_COOKIE,
        auth.cookie(SESSION_COOKIE, "/", value, auth.sessions.lifetime),
    );
    cookies.append(
        header::SET_COOKIE,
        auth.cookie(DEVICE_COOKIE, "/api/session", device_value, DEVICE_TTL),
    );
    Ok(response)
}

/// Who is signed in.
#[utoipa::path(get, path = "/api/session", tag = "session",
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody)))]
pub async fn whoami(admin: Admin) -> Json<SessionView> {
    Json(SessionView {
        user: admin.user,
        csrf_token: admin.csrf.unwrap_or_default(),
    })
}

/// Signs out: ends this session on every replica (a copy of the cookie no longer works) and
/// clears the cookie.
#[utoipa::path(delete, path = "/api/session", tag = "session",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn sign_out(State(state): State<AppState>, admin: Admin) -> Result<Response, ApiError> {
    let auth = state.admin.as_ref().ok_or(ApiError::Off)?;
    if let Some(id_hash) = &admin.session {
        state
            .store
            .revoke_session(id_hash, state.clock.now())
            .await?;
        crate::http::audit::record(
            &state,
            &admin.user,
            admin.address,
            "sign_out",
            None,
            serde_json::json!({}),
        )
        .await;
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        auth.cookie(SESSION_COOKIE, "/", String::new(), Duration::ZERO),
    );
    Ok(response)
}

/// How many sessions "sign out everywhere" ended.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignedOut {
    /// Sessions ended, this one included.
    pub ended: u64,
}

/// Signs the signed-in person out everywhere: ends every session of theirs, on every browser
/// and replica, this one included.
#[utoipa::path(post, path = "/api/session/sign-out-everywhere", tag = "session",
    responses((status = 200, body = SignedOut), (status = 401, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 422, body = ErrorBody)))]
pub async fn sign_out_everywhere(
    State(state): State<AppState>,
    admin: Admin,
) -> Result<Response, ApiError> {
    let auth = state.admin.as_ref().ok_or(ApiError::Off)?;
    if admin.session.is_none() {
        return Err(ApiError::Invalid(
            "a bearer token has no sessions: sign in as a person".to_owned(),
        ));
    }
    let ended = state
        .store
        .revoke_person_sessions(&admin.user, state.clock.now())
        .await?;
    crate::http::audit::record(
        &state,
        &admin.user,
        admin.address,
        "sign_out.everywhere",
        None,
        serde_json::json!({ "sessions": ended }),
    )
    .await;
    let mut response = Json(SignedOut { ended }).into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        auth.cookie(SESSION_COOKIE, "/", String::new(), Duration::ZERO),
    );
    Ok(response)
}

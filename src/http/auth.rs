//! Who may use the admin API and the console: a person signed in with the admin token (a
//! session cookie, with a CSRF token for every change), or a program sending the token as a
//! bearer token.
//!
//! Sessions are stateless: the cookie carries the person's name, an expiry and a random nonce,
//! signed with a key derived from the admin token, so every replica accepts it without shared
//! state, and changing the token signs everyone out. The CSRF token is derived from the nonce;
//! a request that changes something must send it in `X-CSRF-Token`, which a form or link on
//! another site cannot.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, Body, ErrorBody};
use crate::config::AdminUser;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "amends_session";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a sign-in lasts.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// Failed sign-ins allowed per replica per minute before further attempts are refused unread.
const FAILURES_PER_MINUTE: usize = 10;

/// The admin token and what is derived from it, and the people who sign in with a password.
pub struct AdminAuth {
    token: SecretString,
    key: Vec<u8>,
    secure_cookie: bool,
    failures: Mutex<VecDeque<Instant>>,
    users: Vec<AdminUser>,
    /// Checked for a name nobody has, so an unknown name takes as long as a wrong password.
    decoy: Option<String>,
}

/// A verified session.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Session {
    /// The person's name.
    u: String,
    /// Expiry, Unix seconds.
    e: i64,
    /// Random nonce, the CSRF token's seed.
    n: String,
}

impl AdminAuth {
    /// Sessions signed with a key from `token`; cookies marked `Secure` when served over TLS.
    /// With `users`, people sign in with their own name and password instead of the token.
    pub fn new(token: SecretString, secure_cookie: bool, users: Vec<AdminUser>) -> AdminAuth {
        let key = hmac_sha256(
            token.expose_secret().as_bytes(),
            b"amends console session key",
        );
        let decoy = (!users.is_empty())
            .then(|| hash_password(&URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())).ok())
            .flatten();
        AdminAuth {
            token,
            key,
            secure_cookie,
            failures: Mutex::new(VecDeque::new()),
            users,
            decoy,
        }
    }

    /// How people sign in.
    pub fn method(&self) -> SignInMethod {
        if self.users.is_empty() {
            SignInMethod::Token
        } else {
            SignInMethod::Password
        }
    }

    /// The configured name of the person `name` is, when `password` is theirs. Slow on
    /// purpose (Argon2): call it off the async threads.
    fn person(&self, name: &str, password: &str) -> Option<String> {
        let user = self
            .users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name.trim()));
        let hash = match user {
            Some(user) => user.password_hash.as_str(),
            None => self.decoy.as_deref()?,
        };
        let matches = verify_password(password, hash);
        user.filter(|_| matches).map(|u| u.name.clone())
    }

    /// Whether `given` is the admin token, in constant time.
    fn token_matches(&self, given: &str) -> bool {
        // Hashing first makes the comparison independent of the lengths too.
        let a = Sha256::digest(given.as_bytes());
        let b = Sha256::digest(self.token.expose_secret().as_bytes());
        a.ct_eq(&b).into()
    }

    fn sign(&self, payload: &str) -> String {
        URL_SAFE_NO_PAD.encode(hmac_sha256(&self.key, payload.as_bytes()))
    }

    /// A cookie value for `user` and its CSRF token.
    fn issue(&self, user: &str) -> Result<(String, String), ApiError> {
        let nonce: [u8; 16] = rand::random();
        let session = Session {
            u: user.to_owned(),
            e: Utc::now().timestamp() + SESSION_TTL.as_secs() as i64,
            n: URL_SAFE_NO_PAD.encode(nonce),
        };
        let json = serde_json::to_vec(&session).map_err(ApiError::internal)?;
        let payload = URL_SAFE_NO_PAD.encode(json);
        let signature = self.sign(&payload);
        Ok((format!("{payload}.{signature}"), self.csrf(&session.n)))
    }

    /// The session in `value`, when its signature holds and it has not expired.
    fn verify(&self, value: &str) -> Option<Session> {
        let (payload, signature) = value.split_once('.')?;
        let expected = self.sign(payload);
        if !bool::from(expected.as_bytes().ct_eq(signature.as_bytes())) {
            return None;
        }
        let session: Session =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (session.e > Utc::now().timestamp()).then_some(session)
    }

    fn csrf(&self, nonce: &str) -> String {
        self.sign(&format!("csrf:{nonce}"))
    }

    fn cookie(&self, value: String, max_age: Duration) -> HeaderValue {
        let cookie = cookie::Cookie::build((SESSION_COOKIE, value))
            .path("/")
            .http_only(true)
            .secure(self.secure_cookie)
            .same_site(cookie::SameSite::Strict)
            .max_age(cookie::time::Duration::seconds(max_age.as_secs() as i64))
            .build();
        // A cookie made of base64 and fixed attributes is always a valid header value.
        HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
    }

    /// Records a failed sign-in; false when too many failed within the last minute.
    fn allow_attempt(&self) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        let minute_ago = Instant::now() - Duration::from_secs(60);
        while failures.front().is_some_and(|t| *t < minute_ago) {
            failures.pop_front();
        }
        failures.len() < FAILURES_PER_MINUTE
    }

    fn failed(&self) {
        let mut failures = self.failures.lock().unwrap_or_else(|p| p.into_inner());
        failures.push_back(Instant::now());
    }
}

/// The Argon2id hash of `password`, as a PHC string (what `AMENDS_ADMIN_USERS` holds).
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::PasswordHasher;
    use argon2::password_hash::SaltString;
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` is the one `hash` (a PHC string) was made from.
fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::PasswordVerifier;
    argon2::PasswordHash::new(hash).is_ok_and(|hash| {
        argon2::Argon2::default()
            .verify_password(password.as_bytes(), &hash)
            .is_ok()
    })
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The session cookie's value in a request, if it sent one.
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == SESSION_COOKIE)
        .map(|c| c.value().to_owned())
}

/// A person or program allowed to use the admin API.
#[derive(Debug, Clone)]
pub struct Admin {
    /// Who: the name given at sign-in, or `api` for a bearer token.
    pub user: String,
    /// The session's CSRF token (none for a bearer token).
    pub csrf: Option<String>,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, ApiError> {
        let auth = state.admin.as_ref().ok_or(ApiError::Off)?;
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or(ApiError::Unauthorized)?;
            return if auth.token_matches(token.trim()) {
                Ok(Admin {
                    user: "api".to_owned(),
                    csrf: None,
                })
            } else {
                Err(ApiError::Unauthorized)
            };
        }
        let session = session_cookie(&parts.headers)
            .and_then(|v| auth.verify(&v))
            .ok_or(ApiError::Unauthorized)?;
        let csrf = auth.csrf(&session.n);
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            if !bool::from(csrf.as_bytes().ct_eq(sent)) {
                return Err(ApiError::Forbidden("missing or wrong X-CSRF-Token header"));
            }
        }
        Ok(Admin {
            user: session.u,
            csrf: Some(csrf),
        })
    }
}

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

/// Signs in: checks the admin token and sets the session cookie.
#[utoipa::path(post, path = "/api/session", tag = "session", request_body = SignIn,
    responses((status = 200, body = SessionView), (status = 401, body = ErrorBody),
              (status = 422, body = ErrorBody), (status = 429, body = ErrorBody)))]
pub async fn sign_in(
    State(state): State<AppState>,
    Body(form): Body<SignIn>,
) -> Result<Response, ApiError> {
    let auth = state.admin.as_ref().ok_or(ApiError::Off)?;
    let name = form.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(ApiError::Invalid(
            "give your name (up to 64 characters): it is recorded with what you change".to_owned(),
        ));
    }
    if !auth.allow_attempt() {
        return Err(ApiError::TooMany);
    }
    let person = match auth.method() {
        SignInMethod::Token => form
            .token
            .as_deref()
            .is_some_and(|t| auth.token_matches(t.trim()))
            .then(|| name.to_owned()),
        SignInMethod::Password => {
            let password = form.password.unwrap_or_default();
            let (checker, who) = (auth.clone(), name.to_owned());
            tokio::task::spawn_blocking(move || checker.person(&who, &password))
                .await
                .map_err(ApiError::internal)?
        }
    };
    let Some(name) = person else {
        auth.failed();
        tracing::warn!("console sign-in refused");
        return Err(ApiError::BadCredentials(match auth.method() {
            SignInMethod::Token => "that is not the admin token",
            SignInMethod::Password => "wrong name or password",
        }));
    };
    let name = name.as_str();
    let (value, csrf_token) = auth.issue(name)?;
    tracing::info!("console sign-in");
    let mut response = Json(SessionView {
        user: name.to_owned(),
        csrf_token,
    })
    .into_response();
    response
        .headers_mut()
        .insert(header::SET_COOKIE, auth.cookie(value, SESSION_TTL));
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

/// Signs out: clears the session cookie.
#[utoipa::path(delete, path = "/api/session", tag = "session",
    responses((status = 204), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn sign_out(State(state): State<AppState>, _admin: Admin) -> Result<Response, ApiError> {
    let auth = state.admin.as_ref().ok_or(ApiError::Off)?;
    let mut response = StatusCode::NO_CONTENT.into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        auth.cookie(String::new(), Duration::ZERO),
    );
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> AdminAuth {
        AdminAuth::new(
            SecretString::from("s3cret-token".to_owned()),
            false,
            Vec::new(),
        )
    }

    #[test]
    fn a_session_verifies_and_carries_its_csrf_token() {
        let auth = auth();
        let (value, csrf) = auth.issue("Marta").unwrap();
        let session = auth.verify(&value).unwrap();
        assert_eq!(session.u, "Marta");
        assert_eq!(auth.csrf(&session.n), csrf);
    }

    #[test]
    fn a_tampered_or_foreign_session_is_refused() {
        let auth = auth();
        let (value, _) = auth.issue("Marta").unwrap();
        let (payload, signature) = value.split_once('.').unwrap();
        let forged = URL_SAFE_NO_PAD.encode(
            serde_json::to_vec(&Session {
                u: "Mallory".into(),
                e: i64::MAX,
                n: "x".into(),
            })
            .unwrap(),
        );
        assert!(auth.verify(&format!("{forged}.{signature}")).is_none());
        assert!(auth.verify(payload).is_none());
        let other = AdminAuth::new(SecretString::from("another".to_owned()), false, Vec::new());
        assert!(other.verify(&value).is_none());
    }

    #[test]
    fn an_expired_session_is_refused() {
        let auth = auth();
        let json = serde_json::to_vec(&Session {
            u: "Marta".into(),
            e: Utc::now().timestamp() - 1,
            n: "n".into(),
        })
        .unwrap();
        let payload = URL_SAFE_NO_PAD.encode(json);
        let value = format!("{payload}.{}", auth.sign(&payload));
        assert!(auth.verify(&value).is_none());
    }

    #[test]
    fn the_token_is_compared_whole() {
        let auth = auth();
        assert!(auth.token_matches("s3cret-token"));
        assert!(!auth.token_matches("s3cret"));
        assert!(!auth.token_matches(""));
    }

    #[test]
    fn the_cookie_is_http_only_and_same_site() {
        let cookie = auth().cookie("v".into(), SESSION_TTL);
        let text = cookie.to_str().unwrap();
        assert!(text.contains("HttpOnly"), "{text}");
        assert!(text.contains("SameSite=Strict"), "{text}");
        assert!(!text.contains("Secure"), "{text}");
        let secure = AdminAuth::new(SecretString::from("t".to_owned()), true, Vec::new())
            .cookie("v".into(), SESSION_TTL);
        assert!(secure.to_str().unwrap().contains("Secure"));
    }

    #[test]
    fn a_person_signs_in_with_their_own_password() {
        let users = vec![AdminUser {
            name: "Marta".to_owned(),
            password_hash: hash_password("correct horse battery").unwrap(),
        }];
        let auth = AdminAuth::new(SecretString::from("t".to_owned()), false, users);
        assert_eq!(auth.method(), SignInMethod::Password);
        assert_eq!(
            auth.person("marta", "correct horse battery").as_deref(),
            Some("Marta")
        );
        assert_eq!(auth.person("Marta", "wrong"), None);
        assert_eq!(auth.person("Luis", "correct horse battery"), None);
    }

    #[test]
    fn failed_sign_ins_are_limited() {
        let auth = auth();
        for _ in 0..FAILURES_PER_MINUTE {
            assert!(auth.allow_attempt());
            auth.failed();
        }
        assert!(!auth.allow_attempt());
    }
}

//! Who may use the admin API and the console: a person signed in (a session cookie, with a CSRF
//! token for every change), or a program sending the admin token as a bearer token.
//!
//! **Sessions** live in PostgreSQL (`admin_session`), so every replica sees a sign-out at once.
//! The cookie carries a random session id, signed with a key derived from the admin token (so a
//! forged or foreign cookie is refused without a query, and changing the token signs everyone
//! out); the table holds only the id's SHA-256 hash. A session ends at sign-out (wherever its
//! cookie was copied), on "sign out everywhere", after `session_idle_timeout` without a request,
//! `session_lifetime` after sign-in, or when the person's configured entry changes (their
//! `AMENDS_ADMIN_USERS` line, or the token they signed in with): each session holds a
//! fingerprint of that entry, compared on every request. The CSRF token is derived from the
//! session id; a request that changes something must send it in `X-CSRF-Token`, which a form or
//! link on another site cannot.
//!
//! **Sign-in limits** are reserved before the password is checked: an attempt takes a cell from
//! its client address's bucket and its account name's bucket first, and is refused with 429 and
//! `Retry-After`, unverified, when either is empty; so parallel attempts cannot all slip past a
//! check made before any of them failed. So that strangers draining an account's bucket cannot
//! lock its owner out, a successful sign-in also sets a **device cookie** (OWASP's "device
//! cookies"): signed, HttpOnly, SameSite=Strict, sent only to `/api/session`, naming the account.
//! An attempt that presents a valid device cookie for the account it signs in to is limited only
//! by that device's own bucket, never by the address's or the account's. A device cookie cannot
//! be forged (it is signed like sessions) and a stolen one buys its thief only that one device's
//! few attempts a minute.
//!
//! Password checks (Argon2id, about 19 MiB each) run on threads of their own, one per core, and
//! at most that many at a time (a semaphore): an attempt that waits longer than [`VERIFY_WAIT`]
//! for its turn is refused with 429, so sign-in never queues without bound, exhausts memory or
//! starves the daemon. Each of those threads allocates its Argon2 memory once and reuses it, so
//! the process holds at most one 19 MiB buffer per core however many sign-ins it has checked
//! (allocated per check, freed buffers stayed with the allocator and the process kept growing).
//!
//! **Bearer tokens** are limited per client address the same way: each request with
//! `Authorization: Bearer` takes a cell before the token is compared. The client address is the
//! connection's peer, or, when that peer is one of `trusted_proxies`, the last address in
//! `X-Forwarded-For` that is not a trusted proxy. IPv6 clients count by their /64 network.
//!
//! The limiters forget a key once its bucket is full again (checked every
//! [`limits::PRUNE_EVERY`] attempts), so their memory stays proportional to the keys seen in the last
//! minute or so.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::AppState;
use super::error::ApiError;
use crate::config::{AccessLimits, AdminUser, Config, SessionConfig};

mod limits;
mod passwords;
mod session_api;
#[cfg(test)]
mod tests;

use limits::{Limits, limit_key};
pub use passwords::hash_password;
use passwords::{Verifiers, user_fingerprint, verify_password};
pub use session_api::*;

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "amends_session";
/// The device cookie's name.
pub const DEVICE_COOKIE: &str = "amends_device";
/// The header that carries the CSRF token.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a device cookie is remembered.
const DEVICE_TTL: Duration = Duration::from_secs(90 * 24 * 3600);
/// A session's last use is written at most this often, so requests do not each write.
const TOUCH_EVERY: Duration = Duration::from_secs(60);
/// How long a sign-in waits for a free password verifier before it is refused.
pub const VERIFY_WAIT: Duration = Duration::from_secs(3);

/// One admin token and the keys derived from it.
struct TokenKeys {
    token: SecretString,
    session_key: Vec<u8>,
    device_key: Vec<u8>,
}

impl TokenKeys {
    fn new(token: SecretString) -> TokenKeys {
        let secret = token.expose_secret().as_bytes();
        TokenKeys {
            session_key: hmac_sha256(secret, b"amends console session key"),
            device_key: hmac_sha256(secret, b"amends console device key"),
            token,
        }
    }

    /// What a token-mode session holds of the token it was signed in with: a keyed hash, so the
    /// table reveals nothing of the token.
    fn fingerprint(&self) -> String {
        hex::encode(hmac_sha256(
            self.token.expose_secret().as_bytes(),
            b"amends session fingerprint",
        ))
    }
}

/// What [`AdminAuth`] is built from.
pub struct AuthSettings {
    /// The admin token.
    pub token: SecretString,
    /// The token being rotated away from, still accepted.
    pub previous: Option<SecretString>,
    /// Whether cookies are marked `Secure` (served over TLS).
    pub secure_cookie: bool,
    /// People who sign in with their own password; none: with the token.
    pub users: Vec<AdminUser>,
    /// How long sessions last.
    pub sessions: SessionConfig,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// How many sign-ins and bearer-token requests a client may try.
    pub limits: AccessLimits,
}

impl AuthSettings {
    /// The settings `config` gives; none when the admin API is off.
    pub fn from_config(config: &Config) -> Option<AuthSettings> {
        Some(AuthSettings {
            token: config.admin_token.clone()?,
            previous: config.admin_token_previous.clone(),
            secure_cookie: config.public_url.scheme() == "https",
            users: config.admin_users.clone(),
            sessions: config.sessions,
            trusted_proxies: config.trusted_proxies.clone(),
            limits: config.access_limits,
        })
    }
}

/// The admin tokens and what is derived from them, the people who sign in with a password, and
/// the limits on trying.
pub struct AdminAuth {
    /// The current token first, then the previous one during a rotation.
    tokens: Vec<TokenKeys>,
    secure_cookie: bool,
    users: Vec<AdminUser>,
    sessions: SessionConfig,
    trusted_proxies: Vec<ipnet::IpNet>,
    limits: Limits,
    /// One permit per core: password verifications running at once.
    permits: Arc<Semaphore>,
    /// The threads that check passwords.
    verifiers: Verifiers,
    /// Checked for a name nobody has, so an unknown name takes as long as a wrong password.
    decoy: Option<String>,
}

/// A device cookie's content.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Device {
    /// The account it signed in to.
    u: String,
    /// Random id, the device's bucket.
    d: String,
    /// Expiry, Unix seconds.
    e: i64,
}

/// A session cookie that verified: its id's hash, and the key that signed it.
struct SignedSession {
    id_hash: Vec<u8>,
    csrf: String,
}

impl AdminAuth {
    /// Sessions and device cookies signed with keys from the tokens in `settings`.
    pub fn new(settings: AuthSettings) -> AdminAuth {
        let decoy = (!settings.users.is_empty())
            .then(|| hash_password(&URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())).ok())
            .flatten();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let tokens = std::iter::once(settings.token)
            .chain(settings.previous)
            .map(TokenKeys::new)
            .collect();
        AdminAuth {
            tokens,
            secure_cookie: settings.secure_cookie,
            users: settings.users,
            sessions: settings.sessions,
            trusted_proxies: settings.trusted_proxies,
            limits: Limits::new(settings.limits),
            permits: Arc::new(Semaphore::new(cores)),
            verifiers: Verifiers::start(cores),
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

    /// The configured person `name` is, with the fingerprint of their entry, when `password`
    /// is theirs. Slow on purpose (Argon2): call it off the async threads.
    fn person(&self, name: &str, password: &str) -> Option<(String, String)> {
        let user = self.user(name);
        let hash = match user {
            Some(user) => user.password_hash.as_str(),
            None => self.decoy.as_deref()?,
        };
        let matches = verify_password(password, hash);
        user.filter(|_| matches)
            .map(|u| (u.name.clone(), user_fingerprint(u)))
    }

    fn user(&self, name: &str) -> Option<&AdminUser> {
        self.users
            .iter()
            .find(|u| u.name.eq_ignore_ascii_case(name.trim()))
    }

    /// The token `given` is (current or previous), compared in constant time.
    fn token_matching(&self, given: &str) -> Option<&TokenKeys> {
        // Hashing first makes the comparison independent of the lengths too; every token is
        // compared, so the time does not say which one matched.
        let given = Sha256::digest(given.as_bytes());
        let mut found = None;
        for keys in &self.tokens {
            let expected = Sha256::digest(keys.token.expose_secret().as_bytes());
            if bool::from(given.ct_eq(&expected)) {
                found = Some(keys);
            }
        }
        found
    }

    /// Whether `given` is an admin token in force.
    fn token_matches(&self, given: &str) -> bool {
        self.token_matching(given).is_some()
    }

    /// Whether a session's fingerprint still matches `person`'s configured entry.
    fn still_entitled(&self, person: &str, fingerprint: &str) -> bool {
        let current: Vec<String> = match self.method() {
            SignInMethod::Password => self
                .users
                .iter()
                .filter(|u| u.name == person)
                .map(user_fingerprint)
                .collect(),
            SignInMethod::Token => self.tokens.iter().map(TokenKeys::fingerprint).collect(),
        };
        current
            .iter()
            .any(|f| bool::from(f.as_bytes().ct_eq(fingerprint.as_bytes())))
    }

    /// A new session id, its cookie value (signed with the current token) and CSRF token.
    fn issue(&self) -> (Vec<u8>, String, String) {
        let id = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
        let keys = &self.tokens[0];
        let signature = sign(&keys.session_key, &format!("session:{id}"));
        let csrf = sign(&keys.session_key, &format!("csrf:{id}"));
        (
            Sha256::digest(id.as_bytes()).to_vec(),
            format!("{id}.{signature}"),
            csrf,
        )
    }

    /// The session id in `value` when a token in force signed it.
    fn verify(&self, value: &str) -> Option<SignedSession> {
        let (id, signature) = value.split_once('.')?;
        let keys = self.tokens.iter().find(|keys| {
            let expected = sign(&keys.session_key, &format!("session:{id}"));
            bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
        })?;
        Some(SignedSession {
            id_hash: Sha256::digest(id.as_bytes()).to_vec(),
            csrf: sign(&keys.session_key, &format!("csrf:{id}")),
        })
    }

    /// A device cookie's value for `person`.
    fn issue_device(&self, person: &str, now: DateTime<Utc>) -> Result<String, ApiError> {
        let device = Device {
            u: person.to_owned(),
            d: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
            e: now.timestamp() + DEVICE_TTL.as_secs() as i64,
        };
        let payload =
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&device).map_err(ApiError::internal)?);
        Ok(format!(
            "{payload}.{}",
            sign(&self.tokens[0].device_key, &payload)
        ))
    }

    /// The device id in `value`, when a token in force signed it, it has not expired and it
    /// names `account`.
    fn verify_device(&self, value: &str, account: &str, now: DateTime<Utc>) -> Option<String> {
        let (payload, signature) = value.split_once('.')?;
        self.tokens.iter().find(|keys| {
            let expected = sign(&keys.device_key, payload);
            bool::from(expected.as_bytes().ct_eq(signature.as_bytes()))
        })?;
        let device: Device = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
        (device.e > now.timestamp() && device.u.eq_ignore_ascii_case(account.trim()))
            .then_some(device.d)
    }

    fn cookie(
        &self,
        name: &'static str,
        path: &'static str,
        value: String,
        max_age: Duration,
    ) -> HeaderValue {
        let cookie = cookie::Cookie::build((name, value))
            .path(path)
            .http_only(true)
            .secure(self.secure_cookie)
            .same_site(cookie::SameSite::Strict)
            .max_age(cookie::time::Duration::seconds(max_age.as_secs() as i64))
            .build();
        // A cookie made of base64 and fixed attributes is always a valid header value.
        HeaderValue::from_str(&cookie.to_string()).unwrap_or(HeaderValue::from_static(""))
    }

    /// The client's address: the peer, or what a trusted proxy says it forwarded for.
    pub fn client_address(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?;
        let trusted = |ip: &IpAddr| self.trusted_proxies.iter().any(|net| net.contains(ip));
        if !trusted(&peer) {
            return Some(peer);
        }
        // Each proxy appends the address it received from, so the last entry not written by a
        // trusted proxy is the client; anything further left may be forged by the client.
        let forwarded: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for entry in forwarded.iter().rev() {
            match entry.parse::<IpAddr>() {
                Ok(ip) if trusted(&ip) => continue,
                Ok(ip) => return Some(ip),
                Err(_) => return Some(peer),
            }
        }
        Some(peer)
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn sign(key: &[u8], payload: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac_sha256(key, payload.as_bytes()))
}

/// The value of cookie `name` in a request, if it sent one.
fn request_cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_owned())
}

/// The connection's peer address, when the server was started with connect info.
fn peer(parts: &Parts) -> Option<IpAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The client's address, as the audit record shows it.
pub fn address_text(address: Option<IpAddr>) -> Option<String> {
    address.map(|a| a.to_string())
}

/// A person or program allowed to use the admin API.
#[derive(Debug, Clone)]
pub struct Admin {
    /// Who: the name given at sign-in, or `api` for a bearer token.
    pub user: String,
    /// The session's CSRF token (none for a bearer token).
    pub csrf: Option<String>,
    /// The hash of the session's id (none for a bearer token).
    session: Option<Vec<u8>>,
    /// Where the request came from.
    pub address: Option<IpAddr>,
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Admin, ApiError> {
        let auth = state.admin.as_ref().ok_or(ApiError::Off)?;
        let address = auth.client_address(peer(parts), &parts.headers);
        if let Some(value) = parts.headers.get(header::AUTHORIZATION) {
            // The cell is taken before the comparison, so a flood of guesses is refused
            // unread once the address's bucket is empty.
            auth.limits.reserve_bearer(limit_key(address))?;
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.strip_prefix("Bearer "))
                .ok_or(ApiError::Unauthorized)?;
            return if auth.token_matches(token.trim()) {
                Ok(Admin {
                    user: "api".to_owned(),
                    csrf: None,
                    session: None,
                    address,
                })
            } else {
                tracing::warn!("admin API bearer token refused");
                Err(ApiError::Unauthorized)
            };
        }
        let signed = request_cookie(&parts.headers, SESSION_COOKIE)
            .and_then(|v| auth.verify(&v))
            .ok_or(ApiError::Unauthorized)?;
        let now = state.clock.now();
        let record = state
            .store
            .session(&signed.id_hash)
            .await?
            .ok_or(ApiError::Unauthorized)?;
        let idle =
            chrono::Duration::from_std(auth.sessions.idle_timeout).map_err(ApiError::internal)?;
        if record.expires_at <= now
            || record.last_seen_at + idle <= now
            || !auth.still_entitled(&record.person, &record.fingerprint)
        {
            return Err(ApiError::Unauthorized);
        }
        if !matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS) {
            let sent = parts
                .headers
                .get(CSRF_HEADER)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default();
            if !bool::from(signed.csrf.as_bytes().ct_eq(sent)) {
                return Err(ApiError::Forbidden("missing or wrong X-CSRF-Token header"));
            }
        }
        if (now - record.last_seen_at).to_std().unwrap_or_default() >= TOUCH_EVERY {
            state.store.touch_session(&signed.id_hash, now).await?;
        }
        Ok(Admin {
            user: record.person,
            csrf: Some(signed.csrf),
            session: Some(signed.id_hash),
            address,
        })
    }
}

/// The request's client address, for a handler outside [`Admin`].
pub struct ClientAddress(pub Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<ClientAddress, ApiError> {
        let auth = state.admin.as_ref().ok_or(ApiError::Off)?;
        Ok(ClientAddress(
            auth.client_address(peer(parts), &parts.headers),
        ))
    }
}

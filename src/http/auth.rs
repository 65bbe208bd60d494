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
//! [`PRUNE_EVERY`] attempts), so their memory stays proportional to the keys seen in the last
//! minute or so.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use governor::clock::Clock as _;
use governor::{DefaultKeyedRateLimiter, Quota};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;
use utoipa::ToSchema;

use super::AppState;
use super::error::{ApiError, Body, ErrorBody};
use crate::config::{AccessLimits, AdminUser, Config, SessionConfig};
use crate::store::NewSession;

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
/// The limiters forget full buckets every this many attempts.
const PRUNE_EVERY: u32 = 256;

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
        hex_string(&hmac_sha256(
            self.token.expose_secret().as_bytes(),
            b"amends session fingerprint",
        ))
    }
}

/// The keyed limiters of sign-in and the bearer token.
struct Limits {
    by_address: DefaultKeyedRateLimiter<IpAddr>,
    by_account: DefaultKeyedRateLimiter<String>,
    by_device: DefaultKeyedRateLimiter<String>,
    bearer: DefaultKeyedRateLimiter<IpAddr>,
    attempts: AtomicU32,
}

impl Limits {
    fn new(config: AccessLimits) -> Limits {
        let quota = |attempts: u32, refill: Duration| {
            let burst = NonZeroU32::new(attempts).unwrap_or(NonZeroU32::MIN);
            // Configuration refuses a zero refill period; a second stands in for one anyway.
            Quota::with_period(refill)
                .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
                .allow_burst(burst)
        };
        let sign_in = quota(config.sign_in_attempts, config.sign_in_refill);
        let bearer = quota(config.bearer_attempts, config.bearer_refill);
        Limits {
            by_address: DefaultKeyedRateLimiter::keyed(sign_in),
            by_account: DefaultKeyedRateLimiter::keyed(sign_in),
            by_device: DefaultKeyedRateLimiter::keyed(sign_in),
            bearer: DefaultKeyedRateLimiter::keyed(bearer),
            attempts: AtomicU32::new(0),
        }
    }

    /// Forgets the keys whose buckets are full again, every [`PRUNE_EVERY`] attempts.
    fn prune(&self) {
        if !self
            .attempts
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(PRUNE_EVERY)
        {
            return;
        }
        self.by_address.retain_recent();
        self.by_account.retain_recent();
        self.by_device.retain_recent();
        self.bearer.retain_recent();
        self.by_address.shrink_to_fit();
        self.by_account.shrink_to_fit();
        self.by_device.shrink_to_fit();
        self.bearer.shrink_to_fit();
    }

    /// Takes a sign-in cell: from the device's bucket when the attempt carries a device cookie
    /// for this account, else from the address's and then the account's.
    fn reserve_sign_in(
        &self,
        address: IpAddr,
        account: &str,
        device: Option<&str>,
    ) -> Result<(), ApiError> {
        self.prune();
        match device {
            Some(device) => self
                .by_device
                .check_key(&device.to_owned())
                .map_err(refused)?,
            None => {
                self.by_address.check_key(&address).map_err(refused)?;
                self.by_account
                    .check_key(&account.to_lowercase())
                    .map_err(refused)?;
            }
        }
        Ok(())
    }

    /// Takes a bearer-token cell for `address`.
    fn reserve_bearer(&self, address: IpAddr) -> Result<(), ApiError> {
        self.prune();
        self.bearer.check_key(&address).map_err(refused)
    }
}

/// A refusal by a limiter, with how long to wait.
fn refused(not_until: governor::NotUntil<governor::clock::QuantaInstant>) -> ApiError {
    let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
    ApiError::TooMany {
        retry_after: wait.as_secs() + 1,
    }
}

/// A job for a verifier thread.
type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads that check passwords, fed through a channel; they end when it closes
/// (when the [`AdminAuth`] that owns them is dropped).
struct Verifiers {
    jobs: std::sync::mpsc::Sender<Job>,
}

impl Verifiers {
    fn start(threads: usize) -> Verifiers {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        let queue = Arc::new(std::sync::Mutex::new(queue));
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            let started = std::thread::Builder::new()
                .name(format!("amends-password-{i}"))
                .spawn(move || {
                    loop {
                        // The lock is held only while waiting for the next job.
                        let next = queue
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .recv();
                        match next {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(e) = started {
                tracing::error!(error = %e, "could not start a password-checking thread");
            }
        }
        Verifiers { jobs }
    }

    /// Runs `check` on a verifier thread and waits for its answer.
    async fn run<T: Send + 'static>(
        &self,
        check: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.jobs
            .send(Box::new(move || {
                // The sign-in may have given up waiting; its answer is simply dropped.
                let _ = answer.send(check());
            }))
            .map_err(|_| ApiError::internal("the password-checking threads have stopped"))?;
        answered.await.map_err(ApiError::internal)
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

/// The Argon2id hash of `password`, as a PHC string (what `AMENDS_ADMIN_USERS` holds).
///
/// The argon2 crate's default parameters, OWASP's recommended minimum for Argon2id: m = 19456
/// KiB (19 MiB of memory per hash or check), t = 2 iterations, p = 1 lane. The parameters
/// travel in the PHC string, so hashes made with others still verify.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::PasswordHasher;
    use argon2::password_hash::SaltString;
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

thread_local! {
    /// This thread's Argon2 memory (19 MiB with the default parameters), allocated once and
    /// reused by every check on the thread: allocating it per check left the freed buffers in
    /// the allocator, so the process grew by 19 MiB with each check on a new thread's arena.
    /// Only the verifier threads check passwords, so the process holds one per core.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// Whether `password` is the one `hash` (a PHC string) was made from, with the algorithm,
/// version and parameters the string names.
fn verify_password(password: &str, hash: &str) -> bool {
    let Ok(parsed) = argon2::PasswordHash::new(hash) else {
        return false;
    };
    let (Some(expected), Some(salt)) = (parsed.hash, parsed.salt) else {
        return false;
    };
    let Ok(algorithm) = argon2::Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(argon2::Version::try_from) {
        None => argon2::Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let Ok(params) = argon2::Params::try_from(&parsed) else {
        return false;
    };
    let mut salt_buffer = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buffer) else {
        return false;
    };
    let blocks = params.block_count();
    let argon2 = argon2::Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.len()];
    let computed = ARGON2_MEMORY.with_borrow_mut(|memory| {
        if memory.len() < blocks {
            memory.resize(blocks, argon2::Block::default());
        }
        let done = argon2
            .hash_password_into_with_memory(
                password.as_bytes(),
                salt,
                &mut out,
                &mut memory[..blocks],
            )
            .is_ok();
        // What the password was mixed into does not stay behind.
        memory[..blocks].fill(argon2::Block::default());
        done
    });
    computed && bool::from(out.as_slice().ct_eq(expected.as_bytes()))
}

/// What a password-mode session holds of its person's entry: changing the entry (a new
/// password) or removing it ends their sessions.
fn user_fingerprint(user: &AdminUser) -> String {
    hex_string(&Sha256::digest(
        format!("{}:{}", user.name, user.password_hash).as_bytes(),
    ))
}

fn hex_string(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// The key a client address is limited by: IPv6 clients by their /64, as one host usually has
/// a whole /64 to pick addresses from.
fn limit_key(address: Option<IpAddr>) -> IpAddr {
    match address {
        Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                IpAddr::V6(octets.into())
            }
        },
        Some(v4) => v4,
        None => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
    }
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
        super::audit::record(
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
    super::audit::record(
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
        super::audit::record(
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
    super::audit::record(
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

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "s3cret-token-s3cret-token-s3cret-token";
    const OLD: &str = "an-older-token-an-older-token-an-older";

    fn settings(token: &str) -> AuthSettings {
        AuthSettings {
            token: SecretString::from(token.to_owned()),
            previous: None,
            secure_cookie: false,
            users: Vec::new(),
            sessions: SessionConfig {
                lifetime: Duration::from_secs(12 * 3600),
                idle_timeout: Duration::from_secs(1800),
            },
            trusted_proxies: Vec::new(),
            limits: LIMITS,
        }
    }

    fn auth() -> AdminAuth {
        AdminAuth::new(settings(TOKEN))
    }

    const LIMITS: AccessLimits = AccessLimits {
        sign_in_attempts: 10,
        sign_in_refill: Duration::from_secs(3600),
        bearer_attempts: 60,
        bearer_refill: Duration::from_secs(3600),
    };

    #[test]
    fn a_session_cookie_verifies_and_carries_its_csrf_token() {
        let auth = auth();
        let (id_hash, value, csrf) = auth.issue();
        let signed = auth.verify(&value).unwrap();
        assert_eq!(signed.id_hash, id_hash);
        assert_eq!(signed.csrf, csrf);
        let (id, _) = value.split_once('.').unwrap();
        assert_eq!(
            id_hash,
            Sha256::digest(id.as_bytes()).to_vec(),
            "only the hash is kept"
        );
    }

    #[test]
    fn a_tampered_or_foreign_session_cookie_is_refused() {
        let auth = auth();
        let (_, value, _) = auth.issue();
        let (id, signature) = value.split_once('.').unwrap();
        assert!(auth.verify(&format!("x{id}.{signature}")).is_none());
        assert!(auth.verify(id).is_none());
        let other = AdminAuth::new(settings(OLD));
        assert!(other.verify(&value).is_none());
    }

    #[test]
    fn during_a_rotation_the_previous_token_still_verifies() {
        let old = AdminAuth::new(settings(OLD));
        let (_, session, _) = old.issue();
        let device = old.issue_device("Marta", Utc::now()).unwrap();
        let rotated = AdminAuth::new(AuthSettings {
            previous: Some(SecretString::from(OLD.to_owned())),
            ..settings(TOKEN)
        });
        assert!(rotated.verify(&session).is_some());
        assert!(
            rotated
                .verify_device(&device, "marta", Utc::now())
                .is_some()
        );
        assert!(rotated.token_matches(OLD) && rotated.token_matches(TOKEN));
        assert!(rotated.still_entitled(
            "Marta",
            &TokenKeys::new(SecretString::from(OLD.to_owned())).fingerprint()
        ));
        let done = auth();
        assert!(done.verify(&session).is_none());
        assert!(!done.token_matches(OLD));
        assert!(!done.still_entitled(
            "Marta",
            &TokenKeys::new(SecretString::from(OLD.to_owned())).fingerprint()
        ));
    }

    #[test]
    fn a_device_cookie_names_its_account_and_expires() {
        let auth = auth();
        let now = Utc::now();
        let device = auth.issue_device("Marta", now).unwrap();
        assert!(auth.verify_device(&device, "MARTA", now).is_some());
        assert!(auth.verify_device(&device, "Luis", now).is_none());
        let later = now + chrono::Duration::from_std(DEVICE_TTL).unwrap();
        assert!(auth.verify_device(&device, "Marta", later).is_none());
        let (payload, _) = device.split_once('.').unwrap();
        assert!(
            auth.verify_device(&format!("{payload}.forged"), "Marta", now)
                .is_none()
        );
    }

    #[tokio::test]
    async fn passwords_are_checked_on_the_verifier_threads() {
        let verifiers = Verifiers::start(2);
        let thread = verifiers
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert!(thread.is_some_and(|t| t.starts_with("amends-password-")));
    }

    #[test]
    fn a_password_is_verified_against_its_phc_string() {
        let hash = hash_password("correct horse battery").unwrap();
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("correct horse batter", &hash));
        assert!(!verify_password(
            "correct horse battery",
            "not a phc string"
        ));
        // Other parameters than the defaults, as the string says.
        let argon2 = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(8192, 1, 1, None).unwrap(),
        );
        let salt = argon2::password_hash::SaltString::from_b64("c2FsdHNhbHRzYWx0").unwrap();
        let other = argon2::PasswordHasher::hash_password(&argon2, b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(verify_password("pw", &other));
        assert!(!verify_password("pW", &other));
    }

    #[test]
    fn the_token_is_compared_whole() {
        let auth = auth();
        assert!(auth.token_matches(TOKEN));
        assert!(!auth.token_matches("s3cret"));
        assert!(!auth.token_matches(""));
    }

    #[test]
    fn cookies_are_http_only_and_same_site() {
        let cookie = auth().cookie(SESSION_COOKIE, "/", "v".into(), Duration::from_secs(60));
        let text = cookie.to_str().unwrap();
        assert!(text.contains("HttpOnly"), "{text}");
        assert!(text.contains("SameSite=Strict"), "{text}");
        assert!(!text.contains("Secure"), "{text}");
        let secure = AdminAuth::new(AuthSettings {
            secure_cookie: true,
            ..settings(TOKEN)
        })
        .cookie(DEVICE_COOKIE, "/api/session", "v".into(), DEVICE_TTL);
        let text = secure.to_str().unwrap();
        assert!(
            text.contains("Secure") && text.contains("Path=/api/session"),
            "{text}"
        );
    }

    #[test]
    fn a_person_signs_in_with_their_own_password_and_a_new_one_changes_the_fingerprint() {
        let user = AdminUser {
            name: "Marta".to_owned(),
            password_hash: hash_password("correct horse battery").unwrap(),
        };
        let auth = AdminAuth::new(AuthSettings {
            users: vec![user.clone()],
            ..settings(TOKEN)
        });
        assert_eq!(auth.method(), SignInMethod::Password);
        let (name, fingerprint) = auth.person("marta", "correct horse battery").unwrap();
        assert_eq!(name, "Marta");
        assert!(auth.still_entitled("Marta", &fingerprint));
        assert_eq!(auth.person("Marta", "wrong"), None);
        assert_eq!(auth.person("Luis", "correct horse battery"), None);
        let changed = AdminAuth::new(AuthSettings {
            users: vec![AdminUser {
                password_hash: hash_password("another passphrase").unwrap(),
                ..user
            }],
            ..settings(TOKEN)
        });
        assert!(!changed.still_entitled("Marta", &fingerprint));
    }

    #[test]
    fn sign_in_cells_are_taken_before_checking_and_a_device_has_its_own() {
        let limits = Limits::new(LIMITS);
        let address: IpAddr = "203.0.113.7".parse().unwrap();
        for _ in 0..LIMITS.sign_in_attempts {
            limits.reserve_sign_in(address, "Marta", None).unwrap();
        }
        assert!(matches!(
            limits.reserve_sign_in(address, "Marta", None),
            Err(ApiError::TooMany { retry_after }) if retry_after >= 1
        ));
        // Another address is refused too: the account's bucket is empty.
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        assert!(limits.reserve_sign_in(other, "marta", None).is_err());
        // The owner's device is not.
        limits
            .reserve_sign_in(address, "Marta", Some("device-1"))
            .unwrap();
    }

    #[test]
    fn only_trusted_proxies_say_who_the_client_is() {
        let auth = AdminAuth::new(AuthSettings {
            trusted_proxies: vec!["10.0.0.0/8".parse().unwrap()],
            ..settings(TOKEN)
        });
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.2.3.4, 203.0.113.9, 10.1.1.1"),
        );
        let proxy: IpAddr = "10.0.0.2".parse().unwrap();
        let stranger: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            auth.client_address(Some(proxy), &headers),
            Some("203.0.113.9".parse().unwrap())
        );
        assert_eq!(
            auth.client_address(Some(stranger), &headers),
            Some(stranger)
        );
        assert_eq!(
            auth.client_address(Some(proxy), &HeaderMap::new()),
            Some(proxy)
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_network() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::2".parse().unwrap();
        assert_eq!(limit_key(Some(a)), limit_key(Some(b)));
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(
            limit_key(Some(mapped)),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }
}

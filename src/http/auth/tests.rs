//! Unit tests of sign-in, sessions, device cookies and the limiters.

use super::limits::*;
use super::passwords::*;
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

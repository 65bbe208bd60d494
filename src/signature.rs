//! How each provider proves a webhook is its own (pure, no I/O).
//!
//! - Twilio: `X-Twilio-Signature` = base64(HMAC-SHA1(auth token, URL + every form parameter's
//!   name and value, sorted by name)), the URL being exactly the one Twilio called.
//! - SendGrid: `X-Twilio-Email-Event-Webhook-Signature` = base64 DER ECDSA P-256 signature over
//!   SHA-256(timestamp header + raw body), checked with the account's public key (base64 DER).
//! - Postmark: HTTP Basic auth with the user and password configured on both sides.
//! - Vonage (SMS API, "SHA-256 HMAC" signing): `sig` = hex HMAC-SHA256(signature secret, every
//!   other parameter as `&name=value`, sorted by name, with `&` and `=` in values replaced by `_`).
//!
//! Comparisons of secrets are constant-time. SendGrid and Vonage sign a timestamp as well: a
//! request whose signed timestamp is further than [`MAX_SKEW`] from our clock is a replay
//! ([`fresh`]); Twilio and Postmark sign none, and replays of theirs are caught by the provider's
//! event id when recorded.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::pkcs8::DecodePublicKey;

/// How far a signed timestamp may be from our clock, behind or ahead, before the request is
/// refused as a replay (CONTRACT §5).
pub const MAX_SKEW: Duration = Duration::from_secs(10 * 60);

/// Whether a request signed at `signed_at` (Unix seconds, as SendGrid's
/// `X-Twilio-Email-Event-Webhook-Timestamp` and Vonage's `timestamp` give it) is fresh at `now`;
/// `None` when it is no timestamp at all.
pub fn fresh(signed_at: &str, now: DateTime<Utc>) -> Option<bool> {
    let signed_at: i64 = signed_at.trim().parse().ok()?;
    Some(now.timestamp().abs_diff(signed_at) <= MAX_SKEW.as_secs())
}

/// SendGrid's verification key could not be read.
#[derive(Debug, thiserror::Error)]
#[error("not a base64 DER ECDSA P-256 public key: {0}")]
pub struct BadPublicKey(String);

/// Parses SendGrid's verification key as its settings page shows it (base64 DER).
pub fn sendgrid_key(base64_der: &str) -> Result<VerifyingKey, BadPublicKey> {
    let der = STANDARD
        .decode(base64_der.trim())
        .map_err(|e| BadPublicKey(e.to_string()))?;
    VerifyingKey::from_public_key_der(&der).map_err(|e| BadPublicKey(e.to_string()))
}

/// Twilio's signature of a request to `url` with form `params`.
pub fn twilio_signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC takes a key of any length");
    mac.update(url.as_bytes());
    for (name, value) in sorted {
        mac.update(name.as_bytes());
        mac.update(value.as_bytes());
    }
    STANDARD.encode(mac.finalize().into_bytes())
}

/// Whether `signature` is Twilio's for this request.
pub fn twilio_valid(
    auth_token: &str,
    url: &str,
    params: &[(String, String)],
    signature: &str,
) -> bool {
    let expected = twilio_signature(auth_token, url, params);
    constant_time_eq(expected.as_bytes(), signature.trim().as_bytes())
}

/// Whether `signature` (base64 DER) signs `timestamp` + `body` under `key`.
pub fn sendgrid_valid(key: &VerifyingKey, timestamp: &str, body: &[u8], signature: &str) -> bool {
    let Ok(der) = STANDARD.decode(signature.trim()) else {
        return false;
    };
    let Ok(signature) = Signature::from_der(&der) else {
        return false;
    };
    let mut payload = Vec::with_capacity(timestamp.len() + body.len());
    payload.extend_from_slice(timestamp.as_bytes());
    payload.extend_from_slice(body);
    key.verify(&payload, &signature).is_ok()
}

/// Vonage's signature of the parameters `params` (any `sig` among them is left out).
pub fn vonage_signature(secret: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != "sig").collect();
    sorted.sort();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes())
        .expect("HMAC takes a key of any length");
    for (name, value) in sorted {
        mac.update(b"&");
        mac.update(name.as_bytes());
        mac.update(b"=");
        mac.update(value.replace(['&', '='], "_").as_bytes());
    }
    hex::encode(mac.finalize().into_bytes())
}

/// Whether the request's `sig` parameter is Vonage's signature of the others.
pub fn vonage_valid(secret: &str, params: &[(String, String)]) -> bool {
    let Some((_, sig)) = params.iter().find(|(k, _)| k == "sig") else {
        return false;
    };
    let expected = vonage_signature(secret, params);
    constant_time_eq(
        expected.as_bytes(),
        sig.trim().to_ascii_lowercase().as_bytes(),
    )
}

/// Whether an `Authorization` header carries exactly `user` and `password` (HTTP Basic).
pub fn basic_valid(header: &str, user: &str, password: &str) -> bool {
    let Some(encoded) = header.trim().strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("{user}:{password}");
    constant_time_eq(&decoded, expected.as_bytes())
}

/// Compares without stopping at the first difference, so timing tells nothing of a secret.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::SigningKey;
    use p256::ecdsa::signature::Signer;
    use p256::pkcs8::EncodePublicKey;

    fn params(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn twilio_signature_matches_the_documented_example() {
        // The example of Twilio's "Validating Requests" guide.
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        let p = params(&[
            ("CallSid", "CA1234567890ABCDE"),
            ("Caller", "+12349013030"),
            ("Digits", "1234"),
            ("From", "+12349013030"),
            ("To", "+18005551212"),
        ]);
        assert_eq!(
            twilio_signature("12345", url, &p),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert!(twilio_valid(
            "12345",
            url,
            &p,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!twilio_valid(
            "12346",
            url,
            &p,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        let mut tampered = p.clone();
        tampered[2].1 = "9999".into();
        assert!(!twilio_valid(
            "12345",
            url,
            &tampered,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!twilio_valid("12345", url, &p, ""));
    }

    #[test]
    fn sendgrid_signatures_are_checked_over_timestamp_and_body() {
        let signing = SigningKey::from_bytes(&[7u8; 32].into()).unwrap();
        let public = signing.verifying_key().to_public_key_der().unwrap();
        let key = sendgrid_key(&STANDARD.encode(public.as_bytes())).unwrap();
        let body = br#"[{"email":"ana@example.com","event":"delivered"}]"#;
        let timestamp = "1700000000";
        let mut payload = timestamp.as_bytes().to_vec();
        payload.extend_from_slice(body);
        let signature: Signature = signing.sign(&payload);
        let header = STANDARD.encode(signature.to_der().as_bytes());
        assert!(sendgrid_valid(&key, timestamp, body, &header));
        assert!(!sendgrid_valid(&key, "1700000001", body, &header));
        assert!(!sendgrid_valid(&key, timestamp, b"[]", &header));
        assert!(!sendgrid_valid(&key, timestamp, body, "not base64!"));
        assert!(sendgrid_key("bm90IGEga2V5").is_err());
    }

    #[test]
    fn vonage_signatures_cover_every_other_parameter() {
        let mut p = params(&[
            ("messageId", "0A0000000123ABCD1"),
            ("status", "delivered"),
            ("client-ref", "a&b=c"),
            ("timestamp", "1700000000"),
        ]);
        let sig = vonage_signature("sig-secret", &p);
        assert_eq!(sig.len(), 64);
        p.push(("sig".to_owned(), sig.to_uppercase()));
        assert!(vonage_valid("sig-secret", &p), "case does not matter");
        assert!(!vonage_valid("other-secret", &p));
        // `&` and `=` in a value read as `_`: both spellings sign the same.
        let mut same = p.clone();
        same[2].1 = "a_b_c".to_owned();
        assert!(vonage_valid("sig-secret", &same));
        let mut tampered = p.clone();
        tampered[1].1 = "failed".to_owned();
        assert!(!vonage_valid("sig-secret", &tampered));
        assert!(!vonage_valid("sig-secret", &p[..4]), "no sig at all");
    }

    #[test]
    fn a_signed_timestamp_is_fresh_within_ten_minutes_either_way() {
        let now = DateTime::<Utc>::from_timestamp(1_800_000_000, 0).unwrap();
        assert_eq!(fresh("1800000000", now), Some(true));
        assert_eq!(
            fresh(" 1799999400 ", now),
            Some(true),
            "exactly 10 minutes old"
        );
        assert_eq!(
            fresh("1800000600", now),
            Some(true),
            "exactly 10 minutes ahead"
        );
        assert_eq!(fresh("1799999399", now), Some(false));
        assert_eq!(fresh("1800000601", now), Some(false));
        assert_eq!(fresh("1799996400", now), Some(false), "an hour old");
        assert_eq!(fresh(&i64::MIN.to_string(), now), Some(false));
        assert_eq!(fresh("", now), None);
        assert_eq!(fresh("2026-12-07T10:00:00Z", now), None);
    }

    #[test]
    fn basic_auth_needs_both_parts() {
        let header = format!("Basic {}", STANDARD.encode("postmark:s3cret"));
        assert!(basic_valid(&header, "postmark", "s3cret"));
        assert!(!basic_valid(&header, "postmark", "s3cre"));
        assert!(!basic_valid(&header, "other", "s3cret"));
        assert!(!basic_valid("Bearer x", "postmark", "s3cret"));
    }
}

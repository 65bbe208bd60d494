//! The pure part of `amends doctor`: what a probe's answer means, what a public URL lets
//! providers reach, and the report's lines. No I/O, so every verdict is unit-tested.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

use crate::deliver::Probe;
use crate::store::MigrationStatus;

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// As amends needs it.
    Ok,
    /// Works, but something will go wrong or is worth knowing.
    Warn,
    /// amends will not work as configured: the line says what to do.
    Fail,
    /// Not checked, and why.
    Skip,
}

impl Status {
    /// The word the report shows.
    pub fn word(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// The area checked: `configuration`, `broker`, `database`, …
    pub check: &'static str,
    /// How it came out.
    pub status: Status,
    /// What was found and, when something is wrong, what to do.
    pub text: String,
}

impl Finding {
    /// A line of `status`.
    pub fn new(check: &'static str, status: Status, text: impl Into<String>) -> Finding {
        Finding {
            check,
            status,
            text: text.into(),
        }
    }

    /// A check that passed.
    pub fn ok(check: &'static str, text: impl Into<String>) -> Finding {
        Finding::new(check, Status::Ok, text)
    }

    /// A warning.
    pub fn warn(check: &'static str, text: impl Into<String>) -> Finding {
        Finding::new(check, Status::Warn, text)
    }

    /// A failure.
    pub fn fail(check: &'static str, text: impl Into<String>) -> Finding {
        Finding::new(check, Status::Fail, text)
    }

    /// Something not checked.
    pub fn skip(check: &'static str, text: impl Into<String>) -> Finding {
        Finding::new(check, Status::Skip, text)
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // One line whatever a provider or the broker put in the text.
        let text: String = self
            .text
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        write!(f, "{:<4}  {:<13} {}", self.status.word(), self.check, text)
    }
}

/// Every line, in the order the checks ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// The lines.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Adds lines.
    pub fn extend(&mut self, findings: impl IntoIterator<Item = Finding>) {
        self.findings.extend(findings);
    }

    fn count(&self, status: Status) -> usize {
        self.findings.iter().filter(|f| f.status == status).count()
    }

    /// Lines that failed: any makes doctor exit non-zero.
    pub fn failures(&self) -> usize {
        self.count(Status::Fail)
    }

    /// The first failure, for the one-line reason of the exit.
    pub fn first_failure(&self) -> Option<&Finding> {
        self.findings.iter().find(|f| f.status == Status::Fail)
    }

    /// The closing line: how many passed, warned, failed and were not checked.
    pub fn summary(&self) -> String {
        let mut parts = vec![format!("{} ok", self.count(Status::Ok))];
        for (status, one, many) in [
            (Status::Warn, "warning", "warnings"),
            (Status::Fail, "failure", "failures"),
            (Status::Skip, "not checked", "not checked"),
        ] {
            match self.count(status) {
                0 => {}
                1 => parts.push(format!("1 {one}")),
                n => parts.push(format!("{n} {many}")),
            }
        }
        format!("doctor: {}", parts.join(", "))
    }
}

/// `url` with any password replaced by `***`, and any `password` query parameter too;
/// unparseable, it is not shown at all (it may hold a password anywhere).
pub fn mask_url(url: &str) -> String {
    let Ok(mut parsed) = Url::parse(url) else {
        return "(the configured URL, which does not parse)".to_owned();
    };
    if parsed.password().is_some() {
        let _ = parsed.set_password(Some("***"));
    }
    if parsed
        .query_pairs()
        .any(|(k, _)| k.to_ascii_lowercase().contains("password"))
    {
        let pairs: Vec<(String, String)> = parsed
            .query_pairs()
            .map(|(k, v)| {
                let v = match k.to_ascii_lowercase().contains("password") {
                    true => "***".to_owned(),
                    false => v.into_owned(),
                };
                (k.into_owned(), v)
            })
            .collect();
        parsed.query_pairs_mut().clear().extend_pairs(pairs);
    }
    parsed.to_string()
}

/// The HTTP providers, each probed with one harmless authenticated request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpProvider {
    /// `GET /v3/scopes`.
    SendGrid,
    /// `GET /server`.
    Postmark,
    /// `GET /2010-04-01/Accounts/{sid}.json`.
    Twilio,
    /// `GET /account/get-balance`.
    Vonage,
}

impl HttpProvider {
    /// The name amends records sends under.
    pub fn name(self) -> &'static str {
        match self {
            HttpProvider::SendGrid => "sendgrid",
            HttpProvider::Postmark => "postmark",
            HttpProvider::Twilio => "twilio",
            HttpProvider::Vonage => "vonage",
        }
    }

    /// The settings that hold its credentials.
    fn credentials(self) -> &'static str {
        match self {
            HttpProvider::SendGrid => "AMENDS_SENDGRID_API_KEY",
            HttpProvider::Postmark => "AMENDS_POSTMARK_SERVER_TOKEN",
            HttpProvider::Twilio => "AMENDS_TWILIO_ACCOUNT_SID and AMENDS_TWILIO_AUTH_TOKEN",
            HttpProvider::Vonage => "AMENDS_VONAGE_API_KEY and AMENDS_VONAGE_API_SECRET",
        }
    }

    /// The setting of its base URL.
    fn base_url_key(self) -> &'static str {
        match self {
            HttpProvider::SendGrid => "AMENDS_SENDGRID_BASE_URL",
            HttpProvider::Postmark => "AMENDS_POSTMARK_BASE_URL",
            HttpProvider::Twilio => "AMENDS_TWILIO_BASE_URL",
            HttpProvider::Vonage => "AMENDS_VONAGE_BASE_URL",
        }
    }

    /// What a success says beyond "the credentials work"; a body that does not parse still
    /// means the credentials were taken.
    fn read_success(self, body: &str) -> (Status, String) {
        let json: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
        match self {
            HttpProvider::SendGrid => match json["scopes"].as_array() {
                Some(scopes) if !scopes.iter().any(|s| s == "mail.send") => (
                    Status::Fail,
                    "the API key is accepted but lacks the mail.send scope: give it Mail Send \
                     access in SendGrid's API key settings"
                        .to_owned(),
                ),
                Some(scopes) => (
                    Status::Ok,
                    format!(
                        "API key accepted, with mail.send among its {} scopes",
                        scopes.len()
                    ),
                ),
                None => (Status::Ok, "API key accepted".to_owned()),
            },
            HttpProvider::Postmark => match json["Name"].as_str() {
                Some(name) => (
                    Status::Ok,
                    format!("server token accepted (server {name:?})"),
                ),
                None => (Status::Ok, "server token accepted".to_owned()),
            },
            HttpProvider::Twilio => {
                let name = json["friendly_name"]
                    .as_str()
                    .map(|n| format!(" {n:?}"))
                    .unwrap_or_default();
                match (json["status"].as_str(), json["type"].as_str()) {
                    (Some(status), _) if status != "active" => (
                        Status::Fail,
                        format!(
                            "credentials accepted, but the account{name} is {status}: Twilio \
                             sends nothing for it"
                        ),
                    ),
                    (_, Some("Trial")) => (
                        Status::Warn,
                        format!(
                            "credentials accepted; the account{name} is a trial account, which \
                             sends only to verified numbers"
                        ),
                    ),
                    _ => (
                        Status::Ok,
                        format!("credentials accepted, account{name} active"),
                    ),
                }
            }
            HttpProvider::Vonage => match json["value"].as_f64() {
                Some(balance) if balance <= 0.0 => (
                    Status::Warn,
                    format!(
                        "credentials accepted, but the balance is {balance:.2}: Vonage sends \
                         nothing without credit"
                    ),
                ),
                Some(balance) => (
                    Status::Ok,
                    format!("credentials accepted, balance {balance:.2}"),
                ),
                None => (Status::Ok, "credentials accepted".to_owned()),
            },
        }
    }
}

/// What a provider's probe says, as one line naming it and its channel (`sendgrid (email)`).
/// `provider` is the HTTP provider probed, or `None` for SMTP and the file outbox.
pub fn provider_finding(label: &str, provider: Option<HttpProvider>, probe: &Probe) -> Finding {
    const CHECK: &str = "providers";
    let (status, text) = match (probe, provider) {
        (Probe::Answered { status, body }, Some(p)) => http_answer(p, *status, body),
        (Probe::Answered { status, .. }, None) => {
            (Status::Fail, format!("unexpected answer: HTTP {status}"))
        }
        (Probe::Accepted { detail }, _) => (Status::Ok, detail.clone()),
        (Probe::CredentialsRefused { detail }, _) => (
            Status::Fail,
            format!(
                "credentials refused ({detail}): check the user and password in AMENDS_SMTP_URL"
            ),
        ),
        (Probe::Refused { detail }, _) => (Status::Fail, detail.clone()),
        (Probe::Unreachable { detail }, Some(p)) => (
            Status::Fail,
            format!(
                "unreachable: {detail}: check {} and the network",
                p.base_url_key()
            ),
        ),
        (Probe::Unreachable { detail }, None) => (
            Status::Fail,
            format!("unreachable: {detail}: check the host and port and the network"),
        ),
    };
    Finding::new(CHECK, status, format!("{label}: {text}"))
}

/// An HTTP provider's answer: 2xx the credentials work; 401 and 403 they are refused; 408, 429
/// and 5xx say nothing about them (the provider is busy or down); any other status is a
/// request the provider does not know, so most likely a wrong base URL (or Twilio account SID).
fn http_answer(provider: HttpProvider, status: u16, body: &str) -> (Status, String) {
    match status {
        200..=299 => provider.read_success(body),
        401 | 403 => (
            Status::Fail,
            format!(
                "credentials refused (HTTP {status}): check {}",
                provider.credentials()
            ),
        ),
        408 | 429 | 500..=599 => (
            Status::Warn,
            format!(
                "the credentials could not be checked: HTTP {status}, the provider is busy or \
                 failing; try again later"
            ),
        ),
        _ => (
            Status::Fail,
            format!(
                "unexpected answer HTTP {status}: check {}{}",
                provider.base_url_key(),
                match provider {
                    HttpProvider::Twilio => " and AMENDS_TWILIO_ACCOUNT_SID",
                    _ => "",
                }
            ),
        ),
    }
}

/// The migrations' lines: every embedded one applied is ok; anything else fails, saying what
/// to do.
pub fn migration_findings(status: &MigrationStatus) -> Vec<Finding> {
    const CHECK: &str = "database";
    let mut findings = Vec::new();
    if status.is_current() {
        findings.push(Finding::ok(
            CHECK,
            format!(
                "all {} migrations of this amends are applied",
                status.embedded
            ),
        ));
        return findings;
    }
    if let Some(version) = status.dirty {
        findings.push(Finding::fail(
            CHECK,
            format!(
                "migration {version} failed part-way and left the database dirty: repair what it \
                 changed, delete its row from _sqlx_migrations, then run `amends migrate`"
            ),
        ));
    }
    if !status.pending.is_empty() {
        let names: Vec<String> = status
            .pending
            .iter()
            .take(3)
            .map(|m| format!("{} {}", m.version, m.description))
            .collect();
        let more = match status.pending.len() {
            n if n > 3 => format!(", and {} more", n - 3),
            _ => String::new(),
        };
        findings.push(Finding::fail(
            CHECK,
            format!(
                "{} of {} migrations pending ({}{more}): run `amends migrate`",
                status.pending.len(),
                status.embedded,
                names.join(", ")
            ),
        ));
    }
    if !status.changed.is_empty() {
        findings.push(Finding::fail(
            CHECK,
            format!(
                "migration(s) {} changed since they were applied: an applied migration must \
                 never be edited; restore the file as it was",
                list(&status.changed)
            ),
        ));
    }
    if !status.unknown.is_empty() {
        findings.push(Finding::fail(
            CHECK,
            format!(
                "the database has migration(s) {} that this amends does not know: a newer amends \
                 migrated it; run that version",
                list(&status.unknown)
            ),
        ));
    }
    findings
}

fn list(versions: &[i64]) -> String {
    versions
        .iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The argument RabbitMQ names when it refuses a declaration that differs from the existing
/// queue (`inequivalent arg 'x-delivery-limit' for queue … received … but current is none`).
/// Only the name is read: the broker cuts its message at 255 bytes, often before the values.
pub fn inequivalent_arg(message: &str) -> Option<String> {
    let start = message.find("inequivalent arg '")? + "inequivalent arg '".len();
    let rest = &message[start..];
    let end = rest.find('\'')?;
    Some(rest[..end].to_owned())
}

/// Why a host in the public URL cannot be reached by a provider on the internet, if it cannot.
pub fn unreachable_host(url: &Url) -> Option<&'static str> {
    match url.host()? {
        url::Host::Ipv4(ip) => private_ip(IpAddr::V4(ip)),
        url::Host::Ipv6(ip) => private_ip(IpAddr::V6(ip)),
        url::Host::Domain(name) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if name == "localhost" || name.ends_with(".localhost") {
                Some("a loopback name")
            } else if [
                ".local",
                ".internal",
                ".lan",
                ".home.arpa",
                ".svc",
                ".cluster.local",
            ]
            .iter()
            .any(|suffix| name.ends_with(suffix))
            {
                Some("a name of a private network")
            } else if !name.contains('.') {
                Some("a name without a domain, known only inside its own network")
            } else {
                None
            }
        }
    }
}

fn private_ip(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => private_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => private_v4(v4),
            None => private_v6(v6),
        },
    }
}

fn private_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("the unspecified address")
    } else if ip.is_private() || (a == 100 && (64..128).contains(&b)) {
        // 100.64.0.0/10 is carrier-grade NAT: private too.
        Some("a private address")
    } else if ip.is_link_local() {
        Some("a link-local address")
    } else {
        None
    }
}

fn private_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("the unspecified address")
    } else if first & 0xfe00 == 0xfc00 {
        Some("a private (unique local) address")
    } else if first & 0xffc0 == 0xfe80 {
        Some("a link-local address")
    } else {
        None
    }
}

/// One provider in use whose callbacks amends takes, as the webhooks check sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Callbacks {
    /// The provider's name.
    pub provider: &'static str,
    /// Where it calls back, each with how it learns the URL.
    pub urls: Vec<(Url, &'static str)>,
    /// How its requests are verified, or `None` when nothing is configured to verify them.
    pub verified_with: Option<String>,
    /// The setting that would verify them.
    pub key: &'static str,
}

/// The public URL's lines and one per provider that calls back: warnings where providers
/// cannot reach amends or amends will refuse them.
pub fn webhook_findings(public_url: &Url, providers: &[Callbacks]) -> Vec<Finding> {
    const CHECK: &str = "webhooks";
    let mut findings = Vec::new();
    if providers.is_empty() {
        findings.push(Finding::ok(
            CHECK,
            format!("public URL {public_url}: no provider in use calls back"),
        ));
        return findings;
    }
    let names = providers
        .iter()
        .map(|p| p.provider)
        .collect::<Vec<_>>()
        .join(", ");
    let mut url_ok = true;
    if public_url.scheme() != "https" {
        url_ok = false;
        findings.push(Finding::warn(
            CHECK,
            format!(
                "public URL {public_url} is not https: {names} would send delivery reports and \
                 replies unencrypted; set AMENDS_PUBLIC_URL to the https address a proxy serves"
            ),
        ));
    }
    if let Some(why) = unreachable_host(public_url) {
        url_ok = false;
        findings.push(Finding::warn(
            CHECK,
            format!(
                "public URL {public_url} names {why}, which {names} cannot reach from the \
                 internet: set AMENDS_PUBLIC_URL to the address they can"
            ),
        ));
    }
    if url_ok {
        findings.push(Finding::ok(CHECK, format!("public URL {public_url}")));
    }
    for p in providers {
        let urls = p
            .urls
            .iter()
            .map(|(url, how)| format!("{url} ({how})"))
            .collect::<Vec<_>>()
            .join(", ");
        findings.push(match &p.verified_with {
            Some(how) => Finding::ok(
                CHECK,
                format!("{}: verified with {how}; calls back to {urls}", p.provider),
            ),
            None => Finding::warn(
                CHECK,
                format!(
                    "{}: {} is not set, so its callbacks to {urls} will be refused with 403 \
                     (delivery reports, bounces and opt-outs go unrecorded)",
                    p.provider, p.key
                ),
            ),
        });
    }
    findings
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MigrationInfo;

    fn answered(status: u16, body: &str) -> Probe {
        Probe::Answered {
            status,
            body: body.to_owned(),
        }
    }

    #[test]
    fn statuses_of_a_probe_become_verdicts() {
        let finding = |status, body| {
            provider_finding("x", Some(HttpProvider::Postmark), &answered(status, body))
        };
        assert_eq!(finding(200, r#"{"ID":1,"Name":"Shop"}"#).status, Status::Ok);
        for refused in [401, 403] {
            let f = finding(refused, "{}");
            assert_eq!(f.status, Status::Fail);
            assert!(f.text.contains("credentials refused"), "{}", f.text);
            assert!(
                f.text.contains("AMENDS_POSTMARK_SERVER_TOKEN"),
                "{}",
                f.text
            );
        }
        for busy in [408, 429, 500, 503] {
            assert_eq!(finding(busy, "").status, Status::Warn, "{busy}");
        }
        let wrong = finding(404, "");
        assert_eq!(wrong.status, Status::Fail);
        assert!(
            wrong.text.contains("AMENDS_POSTMARK_BASE_URL"),
            "{}",
            wrong.text
        );
        let gone = provider_finding(
            "postmark (email)",
            Some(HttpProvider::Postmark),
            &Probe::Unreachable {
                detail: "cannot connect".into(),
            },
        );
        assert_eq!(gone.status, Status::Fail);
        assert!(
            gone.text.starts_with("postmark (email): unreachable"),
            "{}",
            gone.text
        );
    }

    #[test]
    fn successes_are_read_for_what_else_they_say() {
        let read =
            |p: HttpProvider, body: &str| provider_finding("x", Some(p), &answered(200, body));
        let sendgrid = read(
            HttpProvider::SendGrid,
            r#"{"scopes":["mail.send","alerts.read"]}"#,
        );
        assert_eq!(sendgrid.status, Status::Ok);
        assert!(sendgrid.text.contains("2 scopes"), "{}", sendgrid.text);
        let no_send = read(HttpProvider::SendGrid, r#"{"scopes":["alerts.read"]}"#);
        assert_eq!(no_send.status, Status::Fail);
        assert!(no_send.text.contains("mail.send"));

        let twilio = |status: &str, kind: &str| {
            read(
                HttpProvider::Twilio,
                &format!(
                    r#"{{"sid":"AC1","friendly_name":"Shop","status":"{status}","type":"{kind}","auth_token":"s3cret"}}"#
                ),
            )
        };
        assert_eq!(twilio("active", "Full").status, Status::Ok);
        assert_eq!(twilio("active", "Trial").status, Status::Warn);
        assert_eq!(twilio("suspended", "Full").status, Status::Fail);
        // The account resource carries the auth token: never in the report.
        assert!(!twilio("active", "Full").text.contains("s3cret"));

        assert_eq!(
            read(
                HttpProvider::Vonage,
                r#"{"value":10.28,"autoReload":false}"#
            )
            .text,
            "x: credentials accepted, balance 10.28"
        );
        assert_eq!(
            read(HttpProvider::Vonage, r#"{"value":0.0,"autoReload":false}"#).status,
            Status::Warn
        );
        // Not the provider's format, but a 2xx to an authenticated request all the same.
        assert_eq!(read(HttpProvider::Postmark, "<html>").status, Status::Ok);
    }

    #[test]
    fn smtp_and_outbox_probes_need_no_provider() {
        let refused = provider_finding(
            "smtp (email)",
            None,
            &Probe::CredentialsRefused {
                detail: "535 5.7.8 bad credentials".into(),
            },
        );
        assert_eq!(refused.status, Status::Fail);
        assert!(
            refused.text.contains("credentials refused"),
            "{}",
            refused.text
        );
        let fine = provider_finding(
            "outbox (email, sms)",
            None,
            &Probe::Accepted {
                detail: "var/outbox is writable".into(),
            },
        );
        assert_eq!(fine.status, Status::Ok);
    }

    #[test]
    fn passwords_are_masked_in_urls() {
        assert_eq!(
            mask_url("amqp://guest:s3cret@127.0.0.1:5672/%2f"),
            "amqp://guest:***@127.0.0.1:5672/%2f"
        );
        assert_eq!(
            mask_url("postgres://postgres@127.0.0.1:5432/amends"),
            "postgres://postgres@127.0.0.1:5432/amends"
        );
        let query = mask_url("postgres://u@db/amends?sslmode=require&password=s3cret");
        assert!(
            !query.contains("s3cret") && query.contains("sslmode=require"),
            "{query}"
        );
        assert!(!mask_url("amqp://u:s3cret@[::1").contains("s3cret"));
    }

    #[test]
    fn the_broker_names_the_argument_that_differs() {
        let missing = "PRECONDITION_FAILED - inequivalent arg 'x-delivery-limit' for queue \
                       'amends.order-events' in vhost '/': received the value '20' of type \
                       'long' but current is none";
        assert_eq!(
            inequivalent_arg(missing),
            Some("x-delivery-limit".to_owned())
        );
        let other = "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in \
                     vhost '/': received the value 'quorum' of type 'longstr' but current is \
                     the value 'classic' of type 'longstr'";
        assert_eq!(inequivalent_arg(other), Some("x-queue-type".to_owned()));
        assert_eq!(inequivalent_arg("NOT_FOUND - no queue 'q'"), None);
        assert_eq!(
            inequivalent_arg("PRECONDITION_FAILED - inequivalent arg 'x-que"),
            None
        );
    }

    #[test]
    fn public_urls_providers_cannot_reach_are_named() {
        let host = |u: &str| unreachable_host(&Url::parse(u).unwrap());
        assert_eq!(host("https://amends.shop.example"), None);
        assert_eq!(host("https://203.0.113.7"), None);
        assert_eq!(host("http://127.0.0.1:8080"), Some("a loopback address"));
        assert_eq!(host("http://localhost:8080"), Some("a loopback name"));
        assert_eq!(host("http://10.1.2.3"), Some("a private address"));
        assert_eq!(host("http://192.168.1.4"), Some("a private address"));
        assert_eq!(host("http://100.64.0.1"), Some("a private address"));
        assert_eq!(host("http://0.0.0.0:8080"), Some("the unspecified address"));
        assert_eq!(host("http://[::1]:8080"), Some("a loopback address"));
        assert_eq!(
            host("http://[fd00::1]"),
            Some("a private (unique local) address")
        );
        assert_eq!(host("http://[::ffff:10.0.0.1]"), Some("a private address"));
        assert!(host("http://amends").is_some());
        assert!(host("http://amends.default.svc.cluster.local").is_some());
    }

    fn twilio(verified: bool) -> Callbacks {
        Callbacks {
            provider: "twilio",
            urls: vec![(
                Url::parse("https://amends.shop.example/webhooks/twilio/status").unwrap(),
                "given with each SMS",
            )],
            verified_with: verified.then(|| "the auth token".to_owned()),
            key: "AMENDS_TWILIO_AUTH_TOKEN",
        }
    }

    #[test]
    fn webhooks_warn_where_callbacks_cannot_arrive_or_will_be_refused() {
        let public = Url::parse("https://amends.shop.example").unwrap();
        let fine = webhook_findings(&public, &[twilio(true)]);
        assert!(fine.iter().all(|f| f.status == Status::Ok), "{fine:?}");
        assert!(
            fine[1]
                .text
                .contains("https://amends.shop.example/webhooks/twilio/status")
        );

        let unverified = webhook_findings(&public, &[twilio(false)]);
        assert_eq!(unverified[1].status, Status::Warn);
        assert!(unverified[1].text.contains("403"), "{}", unverified[1].text);

        let local = Url::parse("http://127.0.0.1:8080").unwrap();
        let warned = webhook_findings(&local, &[twilio(true)]);
        let warnings: Vec<_> = warned.iter().filter(|f| f.status == Status::Warn).collect();
        assert_eq!(warnings.len(), 2, "{warned:?}");
        assert!(warnings[0].text.contains("not https"));
        assert!(warnings[1].text.contains("loopback"));

        // Nobody calls back: the public URL does not matter.
        let quiet = webhook_findings(&local, &[]);
        assert_eq!(quiet.len(), 1);
        assert_eq!(quiet[0].status, Status::Ok);
    }

    #[test]
    fn migrations_say_what_to_do() {
        let current = MigrationStatus {
            embedded: 13,
            applied: 13,
            ..MigrationStatus::default()
        };
        let ok = migration_findings(&current);
        assert_eq!(ok.len(), 1);
        assert_eq!(ok[0].status, Status::Ok);

        let pending = MigrationStatus {
            embedded: 13,
            applied: 0,
            pending: (1..=13)
                .map(|version| MigrationInfo {
                    version,
                    description: format!("m{version}"),
                })
                .collect(),
            ..MigrationStatus::default()
        };
        let fail = migration_findings(&pending);
        assert_eq!(fail.len(), 1);
        assert_eq!(fail[0].status, Status::Fail);
        assert!(
            fail[0].text.contains("13 of 13 migrations pending"),
            "{}",
            fail[0].text
        );
        assert!(fail[0].text.contains("and 10 more"), "{}", fail[0].text);
        assert!(
            fail[0].text.ends_with("run `amends migrate`"),
            "{}",
            fail[0].text
        );

        let dirty = MigrationStatus {
            embedded: 13,
            applied: 13,
            dirty: Some(7),
            ..MigrationStatus::default()
        };
        let fail = migration_findings(&dirty);
        assert!(
            fail[0].text.contains("migration 7 failed part-way"),
            "{}",
            fail[0].text
        );
        assert!(fail[0].text.contains("amends migrate"));
    }

    #[test]
    fn the_report_counts_and_prints_one_line_each() {
        let mut report = Report::default();
        report.extend([
            Finding::ok("broker", "connected"),
            Finding::warn("webhooks", "not https"),
            Finding::fail("database", "2 migrations pending\n(run it)"),
            Finding::skip("broker", "bindings"),
        ]);
        assert_eq!(report.failures(), 1);
        assert_eq!(
            report.summary(),
            "doctor: 1 ok, 1 warning, 1 failure, 1 not checked"
        );
        let line = report.findings[2].to_string();
        assert_eq!(line, "FAIL  database      2 migrations pending (run it)");
        assert_eq!(report.first_failure().map(|f| f.check), Some("database"));
        assert_eq!(
            report.findings[0].to_string(),
            "ok    broker        connected"
        );
    }
}

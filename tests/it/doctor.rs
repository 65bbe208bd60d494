//! `amends doctor` as an operator runs it: the real binary against the real RabbitMQ and
//! PostgreSQL, each test with its own database and broker names, and local servers speaking
//! each provider's documented wire format.

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable};
use secrecy::SecretString;
use serde_json::json;
use sqlx::{Connection as _, PgConnection};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use wiremock::matchers::{basic_auth, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Names, PG_ADMIN_URL, connect, declare};

/// Removes the test's database and broker objects, even when an assertion failed first.
struct Cleanup(Names);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let names = self.0.clone();
        // The test's runtime may be unwinding: clean up on a runtime of our own.
        let cleaner = std::thread::spawn(move || {
            if let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                runtime.block_on(names.clean_up());
            }
        });
        let _ = cleaner.join();
    }
}

/// What one run of `amends doctor` printed, and how it exited.
struct Doctor {
    stdout: String,
    stderr: String,
    success: bool,
    took: Duration,
}

impl Doctor {
    /// The report's lines of `check` with `status` (`ok`, `WARN`, `FAIL`, `skip`).
    fn lines(&self, status: &str, check: &str) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| {
                let mut words = l.split_whitespace();
                words.next() == Some(status) && words.next() == Some(check)
            })
            .collect()
    }

    /// The one line of `check` with `status` that contains `text`; fails the test otherwise.
    fn line(&self, status: &str, check: &str, text: &str) -> &str {
        let found: Vec<&str> = self
            .lines(status, check)
            .into_iter()
            .filter(|l| l.contains(text))
            .collect();
        assert_eq!(
            found.len(),
            1,
            "one {status} {check} line with {text:?} in:\n{}",
            self.stdout
        );
        found[0]
    }

    fn failures(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.starts_with("FAIL"))
            .collect()
    }

    fn output(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs `amends doctor` with the test's names and `extra` environment, nothing else.
async fn doctor(names: &Names, extra: &[(&str, &str)]) -> Doctor {
    doctor_with_args(names, extra, &[]).await
}

async fn doctor_with_args(names: &Names, extra: &[(&str, &str)], args: &[&str]) -> Doctor {
    let outbox = tempfile::tempdir().unwrap();
    let start = Instant::now();
    let output: Output = tokio::process::Command::new(env!("CARGO_BIN_EXE_amends"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("RUST_LOG", crate::logs::level())
        .envs(names.env(outbox.path()))
        .envs(extra.iter().copied())
        .args(args)
        .arg("doctor")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .expect("amends doctor runs");
    Doctor {
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        success: output.status.success(),
        took: start.elapsed(),
    }
}

/// Creates and migrates the test's database, as `amends migrate` does.
async fn migrated(names: &Names) {
    let url = SecretString::from(names.database_url());
    amends::store::Store::open(&url, 1, "test")
        .await
        .expect("database migrated")
        .close()
        .await;
}

/// The migrations in the repository, which the binary embeds.
fn migrations() -> usize {
    std::fs::read_dir(crate::helpers::repo("migrations"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".sql"))
        })
        .count()
}

/// Creates the test's database empty: no migration applied.
async fn empty_database(names: &Names) {
    let mut admin = PgConnection::connect(PG_ADMIN_URL).await.unwrap();
    let sql = format!("create database \"{}\"", names.database);
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut admin)
        .await
        .unwrap();
}

/// Declares the test's topology exactly as `amends run` does.
async fn topology(names: &Names) {
    let connection = connect().await.unwrap();
    declare(&connection, names).await;
    let _ = connection.close(200, "declared".into()).await;
}

/// Declares the consumed queue as an older amends or a hand would have: durable, with only
/// `arguments`.
async fn old_queue(names: &Names, arguments: FieldTable) {
    let connection = connect().await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    channel
        .queue_declare(
            names.queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..QueueDeclareOptions::default()
            },
            arguments,
        )
        .await
        .unwrap();
    let _ = connection.close(200, "declared".into()).await;
}

/// Whether the queue exists (a passive declaration finds it).
async fn queue_exists(name: &str) -> bool {
    let connection = connect().await.unwrap();
    let channel = connection.create_channel().await.unwrap();
    let found = channel
        .queue_declare(
            name.into(),
            QueueDeclareOptions {
                passive: true,
                ..QueueDeclareOptions::default()
            },
            FieldTable::default(),
        )
        .await
        .is_ok();
    let _ = connection.close(200, "looked".into()).await;
    found
}

#[tokio::test]
async fn doctor_passes_a_migrated_database_and_the_declared_topology() {
    let names = Names::new();
    let _cleanup = Cleanup(names.clone());
    migrated(&names).await;
    topology(&names).await;

    let report = doctor(&names, &[]).await;
    assert!(report.success, "{}", report.output());
    assert!(report.failures().is_empty(), "{}", report.stdout);
    report.line("ok", "configuration", "loaded");
    report.line(
        "ok",
        "broker",
        "connected to amqp://guest:***@127.0.0.1:5672/%2f",
    );
    report.line(
        "ok",
        "broker",
        &format!("orders exchange {:?}", names.exchange),
    );
    report.line(
        "ok",
        "broker",
        &format!("events exchange {:?}", names.events),
    );
    let queue = report.line(
        "ok",
        "broker",
        &format!("queue {:?}: a quorum queue", names.queue),
    );
    assert!(queue.contains("x-delivery-limit 20"), "{queue}");
    assert!(
        queue.contains("0 message(s) ready, 0 consumer(s)"),
        "{queue}"
    );
    report.line(
        "ok",
        "broker",
        &format!("dead-letter queue {:?}: a quorum queue", names.dead),
    );
    // What AMQP cannot show is said, not passed over.
    report.line("skip", "broker", "AMQP cannot list bindings");
    report.line(
        "ok",
        "database",
        &format!("all {} migrations of this amends are applied", migrations()),
    );
    // The shipped templates pass, some SMS over the segment limit as a warning at most.
    assert_eq!(
        report.lines("ok", "templates").len() + report.lines("WARN", "templates").len(),
        1,
        "{}",
        report.stdout
    );
    report.line("ok", "policy", "every rule's template exists");
    report.line("ok", "providers", "outbox (email, sms)");
    report.line("ok", "webhooks", "no provider in use calls back");
    let summary = report.stdout.lines().last().unwrap_or_default();
    assert!(
        summary.starts_with("doctor: ") && !summary.contains("failure"),
        "{summary}"
    );
    // The broker's password never shows.
    assert!(
        !report.output().contains("guest:guest"),
        "{}",
        report.output()
    );
    assert!(report.stderr.is_empty(), "{}", report.stderr);
}

#[tokio::test]
async fn doctor_fails_a_database_without_migrations_and_says_to_migrate() {
    let names = Names::new();
    let _cleanup = Cleanup(names.clone());
    empty_database(&names).await;
    topology(&names).await;

    let report = doctor(&names, &[]).await;
    assert!(!report.success, "{}", report.output());
    report.line(
        "ok",
        "database",
        "connected to postgres://postgres@127.0.0.1:5432/",
    );
    let all = migrations();
    let pending = report.line(
        "FAIL",
        "database",
        &format!("{all} of {all} migrations pending"),
    );
    assert!(pending.ends_with("run `amends migrate`"), "{pending}");
    assert_eq!(report.failures().len(), 1, "{}", report.stdout);
    // The one-line reason of the exit names the first failure.
    assert_eq!(report.stderr.lines().count(), 1, "{}", report.stderr);
    assert!(
        report.stderr.contains("amends migrate"),
        "{}",
        report.stderr
    );

    // `amends migrate`, as advised, and the database passes.
    migrated(&names).await;
    let report = doctor(&names, &[]).await;
    assert!(report.success, "{}", report.output());
    report.line("ok", "database", &format!("all {all} migrations"));
}

#[tokio::test]
async fn doctor_fails_a_missing_or_half_migrated_database() {
    let names = Names::new();
    let _cleanup = Cleanup(names.clone());
    topology(&names).await;

    let report = doctor(&names, &[]).await;
    assert!(!report.success);
    let missing = report.line("FAIL", "database", "does not exist");
    assert!(missing.contains("run `amends migrate`"), "{missing}");
    // Doctor creates nothing.
    let mut admin = PgConnection::connect(PG_ADMIN_URL).await.unwrap();
    let exists: bool =
        sqlx::query_scalar("select exists (select 1 from pg_database where datname = $1)")
            .bind(&names.database)
            .fetch_one(&mut admin)
            .await
            .unwrap();
    assert!(!exists, "doctor created the database");

    // A migration that failed part-way leaves sqlx's record of it unsuccessful.
    migrated(&names).await;
    let mut db = PgConnection::connect(&names.database_url()).await.unwrap();
    sqlx::query(
        "update _sqlx_migrations set success = false \
         where version = (select max(version) from _sqlx_migrations)",
    )
    .execute(&mut db)
    .await
    .unwrap();
    db.close().await.unwrap();
    let report = doctor(&names, &[]).await;
    assert!(!report.success);
    let dirty = report.line("FAIL", "database", "failed part-way");
    assert!(dirty.contains("amends migrate"), "{dirty}");
}

#[tokio::test]
async fn doctor_fails_a_missing_queue_and_creates_nothing() {
    let names = Names::new();
    let _cleanup = Cleanup(names.clone());
    migrated(&names).await;

    let report = doctor(&names, &[]).await;
    assert!(!report.success, "{}", report.output());
    report.line("ok", "broker", "connected");
    report.line(
        "FAIL",
        "broker",
        &format!("orders exchange {:?} does not exist", names.exchange),
    );
    let queue = report.line(
        "FAIL",
        "broker",
        &format!("queue {:?} does not exist", names.queue),
    );
    assert!(queue.contains("`amends run` declares it"), "{queue}");
    report.line(
        "FAIL",
        "broker",
        &format!("dead-letter queue {:?} does not exist", names.dead),
    );
    assert!(
        !queue_exists(&names.queue).await,
        "doctor declared the queue"
    );
    assert!(
        !queue_exists(&names.dead).await,
        "doctor declared the queue"
    );
}

#[tokio::test]
async fn doctor_warns_of_a_quorum_queue_without_the_delivery_limit() {
    let names = Names::new();
    let _cleanup = Cleanup(names.clone());
    migrated(&names).await;
    let mut quorum = FieldTable::default();
    quorum.insert(
        "x-queue-type".into(),
        AMQPValue::LongString("quorum".into()),
    );
    old_queue(&names, quorum).await;
    // The rest as amends declares it (it uses the old queue as it is).
    topology(&names).await;

    let report = doctor(&names, &[]).await;
    // A warning only: amends still bounds redeliveries itself.
    assert!(report.success, "{}", report.output());
    let warning = report.line(
        "WARN",
        "broker",
        &format!("queue {:?} is a quorum queue without", names.queue),
    );
    assert!(warning.contains("x-delivery-limit"), "{warning}");
    assert!(warning.contains("x-dead-letter-exchange"), "{warning}");
    // What AMQP cannot show, it says.
    assert!(warning.contains("a policy may set them"), "{warning}");
}

#[tokio::test]
async fn doctor_fails_a_classic_queue() {
    let names = Names::new();
    let _cleanup = Cleanup(names.clone());
    migrated(&names).await;
    old_queue(&names, FieldTable::default()).await;
    topology(&names).await;

    let report = doctor(&names, &[]).await;
    assert!(!report.success, "{}", report.output());
    let line = report.line(
        "FAIL",
        "broker",
        &format!("queue {:?} is not a quorum queue", names.queue),
    );
    assert!(line.contains("recreate it"), "{line}");
}

#[tokio::test]
async fn doctor_refuses_a_bad_configuration_in_one_line_naming_the_key() {
    let names = Names::new();
    let report = doctor(&names, &[("AMENDS_HTTP_BIND", "not-an-address")]).await;
    assert!(!report.success);
    assert_eq!(report.stderr.lines().count(), 1, "{}", report.stderr);
    assert!(
        report.stderr.contains("AMENDS_HTTP_BIND"),
        "{}",
        report.stderr
    );
    let line = report.line("FAIL", "configuration", "AMENDS_HTTP_BIND");
    assert!(line.contains("socket address"), "{line}");
    // Nothing else could be checked, and the report says so.
    report.line("skip", "others", "need a configuration that loads");
    assert_eq!(report.stdout.lines().count(), 3, "{}", report.stdout);

    // A key amends does not know, in a file.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("amends.toml");
    std::fs::write(&file, "http_bnd = \"127.0.0.1:8080\"\n").unwrap();
    let report = doctor_with_args(&names, &[], &["--config", file.to_str().unwrap()]).await;
    assert!(!report.success);
    assert_eq!(report.stderr.lines().count(), 1, "{}", report.stderr);
    report.line(
        "FAIL",
        "configuration",
        "unknown configuration key `http_bnd`",
    );
}

/// The four HTTP providers' fakes, each answering its probe as the provider documents.
struct Providers {
    sendgrid: MockServer,
    postmark: MockServer,
    twilio: MockServer,
    vonage: MockServer,
}

impl Providers {
    /// Fakes that answer a probe with the right credentials with `ok`, else nothing matches
    /// (404): so a probe with the wrong request shape fails the test.
    async fn start(ok: bool) -> Providers {
        let sendgrid = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/v3/scopes"))
            .and(header("authorization", "Bearer SG.test-key"))
            .respond_with(match ok {
                true => ResponseTemplate::new(200).set_body_json(json!({
                    "scopes": ["alerts.create", "alerts.read", "mail.send", "user.profile.read"]
                })),
                false => ResponseTemplate::new(401).set_body_json(json!({
                    "errors": [{"field": null, "message": "authorization required"}]
                })),
            })
            .expect(1)
            .mount(&sendgrid)
            .await;

        let postmark = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/server"))
            .and(header("x-postmark-server-token", "pm-token"))
            .and(header("accept", "application/json"))
            .respond_with(match ok {
                true => ResponseTemplate::new(200).set_body_json(json!({
                    "ID": 1, "Name": "Northwind Transactional", "ApiTokens": ["pm-token"],
                    "Color": "blue", "SmtpApiActivated": true, "RawEmailEnabled": false,
                    "DeliveryType": "Live", "ServerLink": "https://account.postmarkapp.com/servers/1/streams",
                    "InboundAddress": "abc@inbound.postmarkapp.com", "TrackOpens": false,
                    "TrackLinks": "None", "EnableSmtpApiErrorHooks": false
                })),
                false => ResponseTemplate::new(401).set_body_json(json!({
                    "ErrorCode": 10,
                    "Message": "The Server Token you provided in the X-Postmark-Server-Token request header was invalid."
                })),
            })
            .expect(1)
            .mount(&postmark)
            .await;

        let twilio = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/2010-04-01/Accounts/AC123.json"))
            .and(basic_auth("AC123", "twilio-token"))
            .respond_with(match ok {
                true => ResponseTemplate::new(200).set_body_json(json!({
                    "auth_token": "twilio-token", "date_created": "Thu, 30 Jul 2015 20:00:00 +0000",
                    "date_updated": "Thu, 30 Jul 2015 20:00:00 +0000",
                    "friendly_name": "Northwind Outfitters", "owner_account_sid": "AC123",
                    "sid": "AC123", "status": "active", "type": "Full",
                    "uri": "/2010-04-01/Accounts/AC123.json"
                })),
                false => ResponseTemplate::new(401).set_body_json(json!({
                    "code": 20003, "message": "Authenticate",
                    "more_info": "https://www.twilio.com/docs/errors/20003", "status": 401
                })),
            })
            .expect(1)
            .mount(&twilio)
            .await;

        let vonage = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/account/get-balance"))
            .and(query_param("api_key", "vkey"))
            .and(query_param("api_secret", "vsecret"))
            .respond_with(match ok {
                true => ResponseTemplate::new(200)
                    .set_body_json(json!({"value": 10.28, "autoReload": false})),
                false => ResponseTemplate::new(401).set_body_json(json!({
                    "error-code": "401", "error-code-label": "authentication failed"
                })),
            })
            .expect(1)
            .mount(&vonage)
            .await;

        Providers {
            sendgrid,
            postmark,
            twilio,
            vonage,
        }
    }

    /// The environment sending email through SendGrid then Postmark, SMS through Twilio then
    /// Vonage, with these fakes as their base URLs.
    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AMENDS_EMAIL_TRANSPORT", "sendgrid,postmark".into()),
            ("AMENDS_SMS_TRANSPORT", "twilio,vonage".into()),
            ("AMENDS_EMAIL_FROM", "Northwind <care@shop.example>".into()),
            ("AMENDS_SENDGRID_API_KEY", "SG.test-key".into()),
            ("AMENDS_SENDGRID_BASE_URL", self.sendgrid.uri()),
            ("AMENDS_POSTMARK_SERVER_TOKEN", "pm-token".into()),
            ("AMENDS_POSTMARK_BASE_URL", self.postmark.uri()),
            ("AMENDS_TWILIO_ACCOUNT_SID", "AC123".into()),
            ("AMENDS_TWILIO_AUTH_TOKEN", "twilio-token".into()),
            ("AMENDS_TWILIO_FROM", "+15550001111".into()),
            ("AMENDS_TWILIO_BASE_URL", self.twilio.uri()),
            ("AMENDS_VONAGE_API_KEY", "vkey".into()),
            ("AMENDS_VONAGE_API_SECRET", "vsecret".into()),
            ("AMENDS_VONAGE_FROM", "Northwind".into()),
            ("AMENDS_VONAGE_BASE_URL", self.vonage.uri()),
            ("AMENDS_PUBLIC_URL", "https://amends.shop.example".into()),
        ]
    }
}

fn borrowed<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

const SECRETS: &[&str] = &[
    "SG.test-key",
    "pm-token",
    "twilio-token",
    "vsecret",
    "guest:guest",
];

#[tokio::test]
async fn doctor_checks_each_providers_credentials_with_a_harmless_request() {
    let names = Names::new();
    let _cleanup = Cleanup(names.clone());
    migrated(&names).await;
    topology(&names).await;
    let providers = Providers::start(true).await;
    let env = providers.env();

    let report = doctor(&names, &borrowed(&env)).await;
    // Warnings (webhooks without their keys) do not fail.
    assert!(report.success, "{}", report.output());
    report.line(
        "ok",
        "providers",
        "sendgrid (email): API key accepted, with mail.send among its 4 scopes",
    );
    report.line(
        "ok",
        "providers",
        "postmark (email): server token accepted (server \"Northwind Transactional\")",
    );
    report.line(
        "ok",
        "providers",
        "twilio (sms): credentials accepted, account \"Northwind Outfitters\" active",
    );
    report.line(
        "ok",
        "providers",
        "vonage (sms): credentials accepted, balance 10.28",
    );
    assert!(
        report
            .lines("ok", "providers")
            .iter()
            .all(|l| !l.contains("outbox"))
    );

    // Where each provider calls back, and whose callbacks would be refused.
    let twilio = report.line("ok", "webhooks", "twilio: verified with the auth token");
    assert!(
        twilio.contains("https://amends.shop.example/webhooks/twilio/status"),
        "{twilio}"
    );
    assert!(
        twilio.contains("https://amends.shop.example/webhooks/twilio/inbound"),
        "{twilio}"
    );
    let vonage = report.line("ok", "webhooks", "vonage: verified with the API secret");
    assert!(
        vonage.contains("https://amends.shop.example/webhooks/vonage/status"),
        "{vonage}"
    );
    let sendgrid = report.line(
        "WARN",
        "webhooks",
        "sendgrid: AMENDS_SENDGRID_WEBHOOK_PUBLIC_KEY is not set",
    );
    assert!(sendgrid.contains("refused with 403"), "{sendgrid}");
    assert!(
        sendgrid.contains("https://amends.shop.example/webhooks/sendgrid/events"),
        "{sendgrid}"
    );
    report.line("WARN", "webhooks", "postmark: AMENDS_POSTMARK_WEBHOOK_USER");
    report.line("ok", "webhooks", "public URL https://amends.shop.example/");

    let output = report.output();
    for secret in SECRETS {
        assert!(!output.contains(secret), "{secret} printed:\n{output}");
    }
    // Each fake was asked exactly once, with the request that matched its credentials.
    for server in [
        &providers.sendgrid,
        &providers.postmark,
        &providers.twilio,
        &providers.vonage,
    ] {
        server.verify().await;
    }
}

#[tokio::test]
async fn doctor_fails_when_a_provider_refuses_the_credentials() {
    let names = Names::new();
    let _cleanup = Cleanup(names.clone());
    migrated(&names).await;
    topology(&names).await;
    let providers = Providers::start(false).await;
    let mut env = providers.env();
    // Postmark's webhook verified too, whose password must not show either.
    env.extend([
        ("AMENDS_POSTMARK_WEBHOOK_USER", "postmark".to_owned()),
        (
            "AMENDS_POSTMARK_WEBHOOK_PASSWORD",
            "hook-password".to_owned(),
        ),
    ]);

    let report = doctor(&names, &borrowed(&env)).await;
    assert!(!report.success, "{}", report.output());
    for (provider, keys) in [
        ("sendgrid (email)", "AMENDS_SENDGRID_API_KEY"),
        ("postmark (email)", "AMENDS_POSTMARK_SERVER_TOKEN"),
        (
            "twilio (sms)",
            "AMENDS_TWILIO_ACCOUNT_SID and AMENDS_TWILIO_AUTH_TOKEN",
        ),
        (
            "vonage (sms)",
            "AMENDS_VONAGE_API_KEY and AMENDS_VONAGE_API_SECRET",
        ),
    ] {
        let line = report.line(
            "FAIL",
            "providers",
            &format!("{provider}: credentials refused (HTTP 401)"),
        );
        assert!(line.ends_with(keys), "{line}");
    }
    assert_eq!(report.failures().len(), 4, "{}", report.stdout);
    assert!(
        report.stderr.contains("credentials refused"),
        "{}",
        report.stderr
    );
    assert_eq!(report.stderr.lines().count(), 1, "{}", report.stderr);
    let output = report.output();
    for secret in SECRETS.iter().chain(&["hook-password"]) {
        assert!(!output.contains(secret), "{secret} printed:\n{output}");
    }
}

#[tokio::test]
async fn doctor_gives_up_on_a_provider_that_does_not_answer() {
    let names = Names::new();
    let _cleanup = Cleanup(names.clone());
    migrated(&names).await;
    topology(&names).await;
    let silent = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(60)))
        .mount(&silent)
        .await;
    // And one where nothing listens at all.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let closed_url = format!("http://127.0.0.1:{closed}");
    let silent_url = silent.uri();
    let env = [
        ("AMENDS_EMAIL_TRANSPORT", "sendgrid"),
        ("AMENDS_EMAIL_FROM", "Northwind <care@shop.example>"),
        ("AMENDS_SENDGRID_API_KEY", "SG.test-key"),
        ("AMENDS_SENDGRID_BASE_URL", silent_url.as_str()),
        ("AMENDS_SMS_TRANSPORT", "twilio"),
        ("AMENDS_TWILIO_ACCOUNT_SID", "AC123"),
        ("AMENDS_TWILIO_AUTH_TOKEN", "twilio-token"),
        ("AMENDS_TWILIO_FROM", "+15550001111"),
        ("AMENDS_TWILIO_BASE_URL", closed_url.as_str()),
    ];

    let report = doctor(&names, &env).await;
    assert!(!report.success, "{}", report.output());
    assert!(
        report.took < Duration::from_secs(15),
        "took {:?}",
        report.took
    );
    let slow = report.line("FAIL", "providers", "sendgrid (email): unreachable");
    assert!(slow.contains("no answer in time"), "{slow}");
    assert!(
        slow.ends_with("check AMENDS_SENDGRID_BASE_URL and the network"),
        "{slow}"
    );
    let gone = report.line("FAIL", "providers", "twilio (sms): unreachable");
    assert!(gone.contains("cannot connect"), "{gone}");
    // The public URL is the default, http://127.0.0.1:0: Twilio could never call back.
    report.line("WARN", "webhooks", "is not https");
    report.line("WARN", "webhooks", "names a loopback address");
}

#[tokio::test]
async fn doctor_opens_an_smtp_session_as_a_send_would() {
    let names = Names::new();
    let _cleanup = Cleanup(names.clone());
    migrated(&names).await;
    topology(&names).await;

    // A relay that takes us as we are.
    let relay = crate::smtp::SmtpSink::start(crate::smtp::SmtpBehaviour::default()).await;
    let url = relay.url();
    let env = [
        ("AMENDS_EMAIL_TRANSPORT", "smtp"),
        ("AMENDS_SMTP_URL", url.as_str()),
        ("AMENDS_EMAIL_FROM", "Northwind <care@shop.example>"),
    ];
    let report = doctor(&names, &env).await;
    assert!(report.success, "{}", report.output());
    let line = report.line("ok", "providers", "smtp (email)");
    assert!(line.contains("answered, without TLS"), "{line}");
    assert!(relay.messages().await.is_empty(), "doctor sent mail");

    // The URL asks for STARTTLS, which this relay does not offer.
    let tls = format!("{url}?tls=required");
    let env = [
        ("AMENDS_EMAIL_TRANSPORT", "smtp"),
        ("AMENDS_SMTP_URL", tls.as_str()),
        ("AMENDS_EMAIL_FROM", "Northwind <care@shop.example>"),
    ];
    let report = doctor(&names, &env).await;
    assert!(!report.success);
    report.line("FAIL", "providers", "does not offer STARTTLS");

    // A relay that refuses our credentials (535), as after a password change.
    let refusing = refusing_relay().await;
    let with_password = format!("smtp://mailer:s3cret-pass@127.0.0.1:{refusing}");
    let env = [
        ("AMENDS_EMAIL_TRANSPORT", "smtp"),
        ("AMENDS_SMTP_URL", with_password.as_str()),
        ("AMENDS_EMAIL_FROM", "Northwind <care@shop.example>"),
    ];
    let report = doctor(&names, &env).await;
    assert!(!report.success);
    let line = report.line("FAIL", "providers", "smtp (email): credentials refused");
    assert!(line.contains("535"), "{line}");
    assert!(
        !report.output().contains("s3cret-pass"),
        "{}",
        report.output()
    );
}

/// A relay that offers AUTH and answers every attempt with 535, on the port returned.
async fn refusing_relay() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                let _ = write.write_all(b"220 relay.test ESMTP\r\n").await;
                while let Ok(Some(line)) = lines.next_line().await {
                    let verb = line
                        .split_whitespace()
                        .next()
                        .unwrap_or("")
                        .to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" => b"250-relay.test\r\n250 AUTH PLAIN LOGIN\r\n",
                        "AUTH" => b"535 5.7.8 Authentication credentials invalid\r\n",
                        "QUIT" => b"221 bye\r\n",
                        _ => b"503 5.5.1 bad sequence\r\n",
                    };
                    if write.write_all(reply).await.is_err() || verb == "QUIT" {
                        break;
                    }
                }
            });
        }
    });
    port
}

/// Checks that the outbox check reads the configured directory.
#[tokio::test]
async fn doctor_fails_an_outbox_that_cannot_be_written() {
    let names = Names::new();
    let _cleanup = Cleanup(names.clone());
    migrated(&names).await;
    topology(&names).await;
    // A file where the directory should be: no permission trick that root would pass.
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("outbox");
    std::fs::write(&blocker, "not a directory").unwrap();
    let outbox = blocker.display().to_string();
    let report = doctor(&names, &[("AMENDS_OUTBOX_DIR", outbox.as_str())]).await;
    assert!(!report.success, "{}", report.output());
    let line = report.line("FAIL", "providers", "outbox (email, sms)");
    assert!(line.contains("is not a directory"), "{line}");
    assert!(Path::new(&outbox).is_file());
}

//! `amends doctor`: checks the configuration, the broker, the database, the templates and the
//! policy, the providers and the webhooks as `amends run` would meet them, one line each, and
//! says what is wrong and what to do.
//!
//! It changes nothing: the broker's objects are only looked at (passive declarations, then a
//! declaration identical to what exists, which the broker answers without change or refuses);
//! the database is neither created nor migrated; each provider gets one harmless authenticated
//! request and nothing is sent. Every check that waits on a server gives up after
//! [`CHECK_TIMEOUT`]. The verdicts themselves are pure, in [`verdict`].

mod verdict;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection, ErrorKind, ExchangeKind};
use secrecy::ExposeSecret;

use crate::broker::{self, BROKER_DELIVERY_LIMIT, BrokerError};
use crate::config::{Config, EmailTransportKind, SmsTransportKind};
use crate::deliver::{FileOutbox, Postmark, Probe, SendGrid, Smtp, Twilio, Vonage, callback_url};
use crate::http::{
    POSTMARK_EVENTS_PATH, SENDGRID_EVENTS_PATH, TWILIO_INBOUND_PATH, TWILIO_STATUS_PATH,
    VONAGE_STATUS_PATH,
};
use verdict::{Callbacks, Finding, HttpProvider, Report};

/// How long any one check may wait on a server: doctor never hangs.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// The name doctor's connections carry (shown by the broker and in `pg_stat_activity`).
const CONNECTION_NAME: &str = "amends-doctor";

/// Runs every check, prints one line each and a summary; fails when any check failed.
pub(super) async fn doctor(config_path: Option<&Path>) -> anyhow::Result<()> {
    let report = examine(config_path).await;
    for finding in &report.findings {
        println!("{finding}");
    }
    println!("{}", report.summary());
    match report.first_failure() {
        None => Ok(()),
        Some(first) => Err(anyhow::anyhow!(
            "{} check(s) failed; the first: {}: {}",
            report.failures(),
            first.check,
            first.text
        )),
    }
}

/// Every check, in the order the report shows them.
async fn examine(config_path: Option<&Path>) -> Report {
    let mut report = Report::default();
    let config = match Config::load(config_path) {
        Ok(config) => config,
        Err(e) => {
            // Every other check reads the configuration: none can run.
            report.extend([
                Finding::fail("configuration", e.to_string()),
                Finding::skip(
                    "others",
                    "broker, database, templates, policy, providers and webhooks: they need a \
                     configuration that loads",
                ),
            ]);
            return report;
        }
    };
    report.extend([Finding::ok(
        "configuration",
        match config_path
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("AMENDS_CONFIG").map(Into::into))
        {
            Some(path) => format!(
                "loaded as `amends run` would: {}, then the environment",
                path.display()
            ),
            None => "loaded as `amends run` would: the defaults, then the environment".to_owned(),
        },
    )]);
    // The servers are asked at once, so the whole run takes about one timeout at worst.
    let (broker, database, providers) =
        tokio::join!(broker(&config), database(&config), providers(&config));
    report.extend(broker);
    report.extend(database);
    report.extend(templates(&config));
    report.extend(policy(&config));
    report.extend(providers);
    report.extend(webhooks(&config));
    report
}

/// The findings of a check so far and what it was doing, so a timeout can say where it stopped.
struct Progress {
    findings: Vec<Finding>,
    doing: &'static str,
}

async fn broker(config: &Config) -> Vec<Finding> {
    let mut progress = Progress {
        findings: Vec::new(),
        doing: "connecting",
    };
    let url = verdict::mask_url(config.amqp_url.expose_secret());
    let mut connection = None;
    let inspected = tokio::time::timeout(
        CHECK_TIMEOUT,
        inspect_broker(config, &url, &mut progress, &mut connection),
    )
    .await;
    if inspected.is_err() {
        // What was found so far stays; the step that did not answer fails.
        progress.findings.push(Finding::fail(
            "broker",
            format!(
                "no answer within {}s while {}",
                CHECK_TIMEOUT.as_secs(),
                progress.doing
            ),
        ));
    }
    if let Some(connection) = connection {
        let _ = tokio::time::timeout(
            Duration::from_secs(1),
            connection.close(200, "doctor done".into()),
        )
        .await;
    }
    let mut findings = progress.findings;
    // amends' own count of redeliveries, which it applies whatever the queue's arguments.
    let limit = i64::from(config.max_redeliveries);
    findings.push(if limit < BROKER_DELIVERY_LIMIT {
        Finding::ok(
            "broker",
            format!(
                "amends dead-letters an event that keeps failing after max_redeliveries = {limit} \
                 redeliveries, with the reason; the broker's limit ({BROKER_DELIVERY_LIMIT}) only \
                 catches one that crashes amends first"
            ),
        )
    } else {
        Finding::warn(
            "broker",
            format!(
                "max_redeliveries = {limit} is not below the broker's delivery limit \
                 ({BROKER_DELIVERY_LIMIT}): the broker dead-letters first, without amends' reason; \
                 set AMENDS_MAX_REDELIVERIES below {BROKER_DELIVERY_LIMIT}"
            ),
        )
    });
    findings
}

/// Connects and looks at every object of the topology, leaving the connection (to close) in
/// `connection` as soon as it is made.
async fn inspect_broker(
    config: &Config,
    url: &str,
    p: &mut Progress,
    connection: &mut Option<Connection>,
) {
    const CHECK: &str = "broker";
    let names = &config.amqp;
    let connection = match broker::connect(&config.amqp_url, CONNECTION_NAME).await {
        Ok(c) => &*connection.insert(c),
        Err(e) => {
            p.findings.push(Finding::fail(
                CHECK,
                format!(
                    "cannot connect to {url}: {e}: is RabbitMQ running, and AMENDS_AMQP_URL right?"
                ),
            ));
            return;
        }
    };
    p.findings
        .push(Finding::ok(CHECK, format!("connected to {url}")));
    let mut missing = false;
    for (what, name, key) in [
        ("orders exchange", &names.orders_exchange, "ORDERS_EXCHANGE"),
        ("events exchange", &names.events_exchange, "EVENTS_EXCHANGE"),
    ] {
        p.doing = "looking at the exchanges";
        match exchange(connection, name).await {
            Ok(Exchange::AsDeclared) => p.findings.push(Finding::ok(
                CHECK,
                format!("{what} {name:?}: a durable topic exchange"),
            )),
            Ok(Exchange::Missing) => {
                missing = true;
                p.findings.push(Finding::fail(
                    CHECK,
                    format!(
                        "{what} {name:?} does not exist: `amends run` declares it on start (or \
                         check AMENDS_{key})"
                    ),
                ));
            }
            Ok(Exchange::Differs(broker_says)) => p.findings.push(Finding::fail(
                CHECK,
                format!(
                    "{what} {name:?} is not the durable topic exchange amends declares, so \
                     `amends run` cannot start; the broker says: {broker_says}"
                ),
            )),
            Err(e) => {
                p.findings
                    .push(Finding::fail(CHECK, format!("{what} {name:?}: {e}")));
                return;
            }
        }
    }
    p.doing = "looking at the queues";
    for (what, name, key, expected) in [
        (
            "queue",
            &names.queue,
            "QUEUE",
            broker::consumed_queue_arguments(names),
        ),
        (
            "dead-letter queue",
            &names.dead_letter_queue,
            "DEAD_LETTER_QUEUE",
            broker::quorum_arguments(),
        ),
    ] {
        match queue(connection, name, &expected).await {
            Ok(Some(queue)) => {
                p.findings
                    .extend(queue_findings(what, name, &names.dead_letter_queue, &queue));
            }
            Ok(None) => {
                missing = true;
                p.findings.push(Finding::fail(
                    CHECK,
                    format!(
                        "{what} {name:?} does not exist: `amends run` declares it on start (or \
                         check AMENDS_{key})"
                    ),
                ));
            }
            Err(e) => {
                p.findings
                    .push(Finding::fail(CHECK, format!("{what} {name:?}: {e}")));
                return;
            }
        }
    }
    if !missing {
        p.findings.push(Finding::skip(
            CHECK,
            format!(
                "the bindings of {:?} to {:?}: AMQP cannot list bindings (the management API \
                 can); `amends run` binds them on every start",
                names.queue, names.orders_exchange
            ),
        ));
    }
}

/// A broker refusal's text, when the broker refused (as opposed to the connection failing).
fn refusal(e: &BrokerError) -> Option<(u16, String)> {
    match e {
        BrokerError::Amqp { source, .. } => match source.kind() {
            ErrorKind::ProtocolError(amqp) => {
                Some((amqp.get_id(), amqp.get_message().as_str().to_owned()))
            }
            _ => None,
        },
        _ => None,
    }
}

async fn channel(connection: &Connection) -> Result<Channel, BrokerError> {
    broker::timed("opening a channel", connection.create_channel()).await
}

/// What the broker has under an exchange's name.
enum Exchange {
    /// A durable topic exchange, as amends declares it.
    AsDeclared,
    /// Nothing.
    Missing,
    /// An exchange of another kind: the broker's words.
    Differs(String),
}

/// Declares topic exchange `name` with `options` (passive: only looks it up).
async fn declare_exchange(
    channel: &Channel,
    name: &str,
    what: &'static str,
    options: ExchangeDeclareOptions,
) -> Result<(), BrokerError> {
    broker::timed(
        what,
        channel.exchange_declare(
            name.into(),
            ExchangeKind::Topic,
            options,
            FieldTable::default(),
        ),
    )
    .await
}

/// Whether the exchange exists as amends declares it.
async fn exchange(connection: &Connection, name: &str) -> Result<Exchange, BrokerError> {
    let passive = channel(connection).await?;
    let exists = declare_exchange(
        &passive,
        name,
        "looking for the exchange",
        ExchangeDeclareOptions {
            passive: true,
            ..ExchangeDeclareOptions::default()
        },
    )
    .await;
    match exists {
        Ok(()) => {}
        Err(e) if refusal(&e).is_some_and(|(code, _)| code == 404) => {
            return Ok(Exchange::Missing);
        }
        Err(e) => return Err(e),
    }
    // It exists: declaring it as amends does changes nothing, or is refused when it differs.
    let same = channel(connection).await?;
    let declared = declare_exchange(
        &same,
        name,
        "comparing the exchange",
        ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        },
    )
    .await;
    let _ = broker::timed("closing a channel", passive.close(200, "done".into())).await;
    match declared {
        Ok(()) => {
            let _ = broker::timed("closing a channel", same.close(200, "done".into())).await;
            Ok(Exchange::AsDeclared)
        }
        Err(e) => match refusal(&e) {
            Some((406, message)) => Ok(Exchange::Differs(message)),
            _ => Err(e),
        },
    }
}

/// What the broker tells of a queue over AMQP.
#[derive(Debug)]
struct QueueState {
    /// Messages ready for delivery (a quorum queue does not count those delivered, unacked).
    ready: u32,
    /// Consumers attached.
    consumers: u32,
    /// The arguments amends declares that the queue lacks.
    lacking: Vec<String>,
    /// The broker's words about a difference doctor could not narrow down further.
    differs: Option<String>,
}

/// Looks at a queue: `None` when it does not exist. Its arguments are compared with `expected`
/// by declaring them: the broker refuses a declaration that differs from the queue, naming the
/// first argument that does, in an order of its own. That argument is left out and the
/// declaration tried again: refused over the same argument, the queue has another value for it
/// (and doctor stops there); otherwise the queue lacks it. Accepted, the queue has every
/// argument left, its type among them. Each declaration follows a passive one that found the
/// queue, so none creates it.
async fn queue(
    connection: &Connection,
    name: &str,
    expected: &FieldTable,
) -> Result<Option<QueueState>, BrokerError> {
    let mut arguments: BTreeMap<ShortString, AMQPValue> = expected.inner().clone();
    let mut state: Option<QueueState> = None;
    // The argument left out of this round's declaration, until the broker's answer tells why.
    let mut left_out: Option<String> = None;
    // One round per argument amends declares, and one more to be accepted.
    for _ in 0..=expected.inner().len() {
        let ch = channel(connection).await?;
        let found = broker::passive_queue(&ch, name, "looking for the queue").await;
        let found = match found {
            Ok(queue) => queue,
            Err(e) if refusal(&e).is_some_and(|(code, _)| code == 404) => {
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        let current = state.get_or_insert(QueueState {
            ready: found.message_count(),
            consumers: found.consumer_count(),
            lacking: Vec::new(),
            differs: None,
        });
        let declared = broker::timed(
            "comparing the queue's arguments",
            ch.queue_declare(
                name.into(),
                QueueDeclareOptions {
                    durable: true,
                    ..QueueDeclareOptions::default()
                },
                arguments.clone().into(),
            ),
        )
        .await;
        match declared {
            Ok(_) => {
                current.lacking.extend(left_out.take());
                let _ = broker::timed("closing a channel", ch.close(200, "done".into())).await;
                break;
            }
            Err(e) => match refusal(&e) {
                Some((406, message)) => {
                    let key = verdict::inequivalent_arg(&message);
                    let again = key.is_some() && key == left_out;
                    if !again {
                        // The one left out last round was not named again: the queue lacks it.
                        current.lacking.extend(left_out.take());
                    }
                    match key {
                        Some(key) if !again && arguments.keys().any(|k| k.as_str() == key) => {
                            arguments.retain(|k, _| k.as_str() != key);
                            left_out = Some(key);
                        }
                        _ => {
                            current.differs = Some(message);
                            break;
                        }
                    }
                }
                _ => return Err(e),
            },
        }
    }
    Ok(state)
}

/// The lines of one queue: its type and arguments against amends', its messages and consumers.
fn queue_findings(what: &str, name: &str, dead_letter_queue: &str, q: &QueueState) -> Vec<Finding> {
    const CHECK: &str = "broker";
    let consumed = what == "queue";
    let mut findings = Vec::new();
    let lacks = |key: &str| q.lacking.iter().any(|k| k == key);
    let differs_in = |key: &str| {
        q.differs
            .as_deref()
            .and_then(verdict::inequivalent_arg)
            .is_some_and(|k| k == key)
    };
    // The type is known when it was among the arguments the queue took, or named as different.
    let quorum = match (
        lacks("x-queue-type") || differs_in("x-queue-type"),
        &q.differs,
    ) {
        (true, _) => Some(false),
        (false, None) => Some(true),
        (false, Some(_)) => None,
    };
    let counts = match consumed {
        true => format!(
            "{} message(s) ready, {} consumer(s){}",
            q.ready,
            q.consumers,
            match q.consumers {
                0 => " (no replica of amends is consuming)",
                _ => "",
            }
        ),
        false => format!("{} message(s)", q.ready),
    };
    match quorum {
        Some(false) if consumed => findings.push(Finding::fail(
            CHECK,
            format!(
                "{what} {name:?} is not a quorum queue: amends counts redeliveries with the \
                 quorum queue's x-delivery-count and needs its replication; recreate it while no \
                 replica runs (`amends run` declares it as a quorum queue); {counts}"
            ),
        )),
        Some(false) => findings.push(Finding::warn(
            CHECK,
            format!(
                "{what} {name:?} is not a quorum queue, so dead letters are not replicated; \
                 recreate it while no replica runs to make it one; {counts}"
            ),
        )),
        None => findings.push(Finding::warn(
            CHECK,
            format!(
                "{what} {name:?} has other arguments than amends declares, and doctor cannot \
                 tell whether it is a quorum queue; the broker says: {}; {counts}",
                q.differs.as_deref().unwrap_or_default()
            ),
        )),
        Some(true) if q.lacking.is_empty() => findings.push(Finding::ok(
            CHECK,
            match consumed {
                true => format!(
                    "{what} {name:?}: a quorum queue with x-delivery-limit {BROKER_DELIVERY_LIMIT} \
                     and a dead-letter route to {dead_letter_queue:?}, as amends declares it; \
                     {counts}"
                ),
                false => format!("{what} {name:?}: a quorum queue; {counts}"),
            },
        )),
        Some(true) => findings.push(Finding::warn(
            CHECK,
            format!(
                "{what} {name:?} is a quorum queue without the argument(s) {} that amends \
                 declares: a policy may set them, which doctor cannot see over AMQP \
                 (`rabbitmqctl list_policies` shows them); without one, RabbitMQ 4.x drops a \
                 message delivered {BROKER_DELIVERY_LIMIT} times: see docs/reliability.md; \
                 {counts}",
                q.lacking.join(", ")
            ),
        )),
    }
    if !consumed && q.ready > 0 {
        findings.push(Finding::warn(
            CHECK,
            format!(
                "{} message(s) wait in the dead-letter queue: `amends dead-letters list` says \
                 why each is there",
                q.ready
            ),
        ));
    }
    findings
}

async fn database(config: &Config) -> Vec<Finding> {
    const CHECK: &str = "database";
    let url = verdict::mask_url(config.database_url.expose_secret());
    let inspected = tokio::time::timeout(
        CHECK_TIMEOUT,
        crate::store::inspect(&config.database_url, CONNECTION_NAME),
    )
    .await;
    match inspected {
        Err(_) => vec![Finding::fail(
            CHECK,
            format!(
                "no answer from {url} within {}s: is PostgreSQL running, and \
                 AMENDS_DATABASE_URL right?",
                CHECK_TIMEOUT.as_secs()
            ),
        )],
        Ok(Err(e)) if e.is_missing_database() => vec![Finding::fail(
            CHECK,
            format!("{url} does not exist: run `amends migrate` (it creates and migrates it)"),
        )],
        Ok(Err(e)) => vec![Finding::fail(
            CHECK,
            format!("cannot use {url}: {e}: is PostgreSQL running, and AMENDS_DATABASE_URL right?"),
        )],
        Ok(Ok(status)) => {
            let mut findings = vec![Finding::ok(
                CHECK,
                format!("connected to {url} (PostgreSQL {})", status.server_version),
            )];
            findings.extend(verdict::migration_findings(&status.migrations));
            findings
        }
    }
}

/// The checks of `amends templates check`, summed up.
fn templates(config: &Config) -> Vec<Finding> {
    const CHECK: &str = "templates";
    let dir = &config.templates_dir;
    let report = match super::templates::report(config, dir) {
        Ok(report) => report,
        Err(e) => return vec![Finding::fail(CHECK, format!("{e:#}"))],
    };
    let summary = format!(
        "{}: {} templates checked, {} renders against the samples",
        dir.display(),
        report.variants,
        report.rendered
    );
    let first = |severity| {
        report
            .diagnostics
            .iter()
            .find(|d| d.severity == severity)
            .map(ToString::to_string)
            .unwrap_or_default()
    };
    vec![match (report.errors(), report.warnings()) {
        (0, 0) => Finding::ok(CHECK, format!("{summary}, no problem")),
        (0, warnings) => Finding::warn(
            CHECK,
            format!(
                "{summary}: {warnings} warning(s), the first: {}; `amends templates check` lists them",
                first(crate::templates::Severity::Warning)
            ),
        ),
        (errors, _) => Finding::fail(
            CHECK,
            format!(
                "{summary}: {errors} error(s), the first: {}; `amends templates check` lists them",
                first(crate::templates::Severity::Error)
            ),
        ),
    }]
}

/// The checks of `amends policy check`: it loads, and every rule's template exists.
fn policy(config: &Config) -> Vec<Finding> {
    const CHECK: &str = "policy";
    let path = &config.policy;
    vec![match super::policy::load_checked(config, path) {
        Ok(policy) => Finding::ok(
            CHECK,
            format!(
                "{}: {} rules, version {}, every rule's template exists",
                path.display(),
                policy.rules().len(),
                crate::policy::short(policy.version())
            ),
        ),
        Err(e) => Finding::fail(CHECK, format!("{e:#}: `amends policy check` says the same")),
    }]
}

/// A transport to probe, with the channels it serves.
enum Probed {
    Http(HttpProvider, &'static str),
    Smtp,
    Outbox(&'static str),
}

/// One probe per transport in use, at once.
async fn providers(config: &Config) -> Vec<Finding> {
    let mut probed: Vec<Probed> = Vec::new();
    let outbox_channels = match (
        config
            .email_transports
            .contains(&EmailTransportKind::Outbox),
        config.sms_transports.contains(&SmsTransportKind::Outbox),
    ) {
        (true, true) => Some("email, sms"),
        (true, false) => Some("email"),
        (false, true) => Some("sms"),
        (false, false) => None,
    };
    for kind in &config.email_transports {
        probed.push(match kind {
            EmailTransportKind::Outbox => continue,
            EmailTransportKind::Smtp => Probed::Smtp,
            EmailTransportKind::SendGrid => Probed::Http(HttpProvider::SendGrid, "email"),
            EmailTransportKind::Postmark => Probed::Http(HttpProvider::Postmark, "email"),
        });
    }
    for kind in &config.sms_transports {
        probed.push(match kind {
            SmsTransportKind::Outbox => continue,
            SmsTransportKind::Twilio => Probed::Http(HttpProvider::Twilio, "sms"),
            SmsTransportKind::Vonage => Probed::Http(HttpProvider::Vonage, "sms"),
        });
    }
    if let Some(channels) = outbox_channels {
        probed.push(Probed::Outbox(channels));
    }
    let checks = probed.into_iter().map(|p| probe(config, p));
    futures_util::future::join_all(checks).await
}

async fn probe(config: &Config, probed: Probed) -> Finding {
    let (label, provider) = match &probed {
        Probed::Http(p, channel) => (format!("{} ({channel})", p.name()), Some(*p)),
        Probed::Smtp => ("smtp (email)".to_owned(), None),
        Probed::Outbox(channels) => (format!("outbox ({channels})"), None),
    };
    let answer = tokio::time::timeout(
        CHECK_TIMEOUT + Duration::from_secs(1),
        run_probe(config, &probed),
    )
    .await;
    match answer {
        Ok(Ok(answer)) => verdict::provider_finding(&label, provider, &answer),
        Ok(Err(why)) => Finding::fail("providers", format!("{label}: {why}")),
        Err(_) => verdict::provider_finding(
            &label,
            provider,
            &Probe::Unreachable {
                detail: format!("no answer within {}s", CHECK_TIMEOUT.as_secs()),
            },
        ),
    }
}

/// The probe's answer, or why the transport could not even be set up.
async fn run_probe(config: &Config, probed: &Probed) -> Result<Probe, String> {
    let missing = |what: &str| format!("the {what} settings are missing");
    let client = |e: reqwest::Error| format!("cannot set up an HTTP client: {e}");
    Ok(match probed {
        Probed::Http(HttpProvider::SendGrid, _) => {
            let c = config
                .sendgrid
                .as_ref()
                .ok_or_else(|| missing("sendgrid"))?;
            SendGrid::new(c, CHECK_TIMEOUT)
                .map_err(client)?
                .probe()
                .await
        }
        Probed::Http(HttpProvider::Postmark, _) => {
            let c = config
                .postmark
                .as_ref()
                .ok_or_else(|| missing("postmark"))?;
            Postmark::new(c, CHECK_TIMEOUT)
                .map_err(client)?
                .probe()
                .await
        }
        Probed::Http(HttpProvider::Twilio, _) => {
            let c = config.twilio.as_ref().ok_or_else(|| missing("twilio"))?;
            let callback = callback_url(&config.public_url, TWILIO_STATUS_PATH);
            Twilio::new(c, CHECK_TIMEOUT, callback)
                .map_err(client)?
                .probe()
                .await
        }
        Probed::Http(HttpProvider::Vonage, _) => {
            let c = config.vonage.as_ref().ok_or_else(|| missing("vonage"))?;
            let callback = callback_url(&config.public_url, VONAGE_STATUS_PATH);
            Vonage::new(c, CHECK_TIMEOUT, callback)
                .map_err(client)?
                .probe()
                .await
        }
        Probed::Smtp => {
            let c = config.smtp.as_ref().ok_or_else(|| missing("smtp"))?;
            Smtp::new(c, CHECK_TIMEOUT)
                .map_err(|e| e.to_string())?
                .probe()
                .await
        }
        Probed::Outbox(_) => FileOutbox::new(&config.outbox_dir).probe().await,
    })
}

/// Where each provider in use calls back, and whether amends can verify it.
fn webhooks(config: &Config) -> Vec<Finding> {
    let hooks = &config.webhooks;
    let url = |path| callback_url(&config.public_url, path);
    let with_previous = |n: usize, what: &str| match n {
        1 => what.to_owned(),
        _ => format!("{what} (and the previous one, while it is replaced)"),
    };
    let mut providers = Vec::new();
    if config.sms_transports.contains(&SmsTransportKind::Twilio) {
        providers.push(Callbacks {
            provider: "twilio",
            urls: vec![
                (url(TWILIO_STATUS_PATH), "given with each SMS"),
                (
                    url(TWILIO_INBOUND_PATH),
                    "set it as the number's incoming-message webhook",
                ),
            ],
            verified_with: (!hooks.twilio_auth_tokens.is_empty())
                .then(|| with_previous(hooks.twilio_auth_tokens.len(), "the auth token")),
            key: "AMENDS_TWILIO_AUTH_TOKEN",
        });
    }
    if config.sms_transports.contains(&SmsTransportKind::Vonage) {
        let api_secret = config
            .vonage
            .as_ref()
            .map(|v| v.api_secret.expose_secret().to_owned());
        let is_api_secret = hooks
            .vonage_signature_secrets
            .first()
            .is_some_and(|s| Some(s.expose_secret()) == api_secret.as_deref());
        providers.push(Callbacks {
            provider: "vonage",
            urls: vec![(url(VONAGE_STATUS_PATH), "given with each SMS")],
            verified_with: (!hooks.vonage_signature_secrets.is_empty()).then(|| {
                with_previous(
                    hooks.vonage_signature_secrets.len(),
                    match is_api_secret {
                        true => "the API secret (set AMENDS_VONAGE_SIGNATURE_SECRET if the account signs with its own signature secret)",
                        false => "the signature secret",
                    },
                )
            }),
            key: "AMENDS_VONAGE_SIGNATURE_SECRET",
        });
    }
    if config
        .email_transports
        .contains(&EmailTransportKind::SendGrid)
    {
        providers.push(Callbacks {
            provider: "sendgrid",
            urls: vec![(
                url(SENDGRID_EVENTS_PATH),
                "set it as the Event Webhook's URL, signed",
            )],
            verified_with: (!hooks.sendgrid_public_keys.is_empty()).then(|| {
                with_previous(
                    hooks.sendgrid_public_keys.len(),
                    "the Event Webhook's public key",
                )
            }),
            key: "AMENDS_SENDGRID_WEBHOOK_PUBLIC_KEY",
        });
    }
    if config
        .email_transports
        .contains(&EmailTransportKind::Postmark)
    {
        providers.push(Callbacks {
            provider: "postmark",
            urls: vec![(
                url(POSTMARK_EVENTS_PATH),
                "set it as the message stream's webhook URL, with basic auth",
            )],
            verified_with: hooks.postmark_basic_auth.first().map(|(user, _)| {
                with_previous(
                    hooks.postmark_basic_auth.len(),
                    &format!("basic auth as {user:?}"),
                )
            }),
            key: "AMENDS_POSTMARK_WEBHOOK_USER and AMENDS_POSTMARK_WEBHOOK_PASSWORD",
        });
    }
    verdict::webhook_findings(&config.public_url, &providers)
}

//! The bare pipeline: amends' work done with nothing but the libraries, the machine's limit.
//!
//! Ingest: consume (prefetch 64) → parse the CloudEvent JSON → render the message with handlebars
//! (an HTML email of about 1.4 KB from a layout and a partial with `#each` and `#if`, plus its
//! plain text; or a 160-character SMS) → ONE statement (a data-modifying CTE) writing the
//! incident, its decision and its outbox row, shaped as amends' tables → ack once it committed,
//! from the handler task. Deliver: two dispatchers each claim 50 due rows `FOR UPDATE SKIP
//! LOCKED` with a lease, hand each to the same sink amends uses (an email through SMTP to the
//! local sink; an SMS written to a file as amends' file outbox writes it: a temporary name,
//! fsync, rename), and mark each row sent. No policy, no budget, no templates from the database,
//! no outcome events: what is left is the broker, the database, rendering and the sinks, which
//! amends cannot do without.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use handlebars::Handlebars;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Connection};
use lettre::Message;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::extension::ClientId;
use serde_json::{Value, json};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::workload::Event;
use crate::{AMQP_URL, PG, create_database, drop_database, unique};

/// What the bare pipeline achieved.
pub struct BareResult {
    /// Events recorded (and acked) per second.
    pub ingest_rate: f64,
    /// Events whose message the sink accepted and whose row is marked sent, per second.
    pub delivered_rate: f64,
}

const SCHEMA: &str = "
create table incident (
    incident_id uuid primary key, source text not null, event_id text not null,
    event_type text not null, order_id text not null, customer_id text not null,
    payload jsonb not null, occurred_at timestamptz, created_at timestamptz not null default now(),
    constraint incident_source_event_id_key unique (source, event_id));
create index incident_order_idx on incident (order_id, created_at);
create index incident_customer_idx on incident (customer_id, created_at);
create table decision (
    incident_id uuid primary key references incident (incident_id), rule text not null,
    template text not null, channels text[] not null, skipped jsonb not null default '{}',
    send_at timestamptz not null, created_at timestamptz not null default now());
create table outbox (
    outbox_id uuid primary key, incident_id uuid not null references incident (incident_id),
    channel text not null, recipient text not null, locale text not null, subject text,
    body_text text not null, body_html text, status text not null default 'pending',
    due_at timestamptz not null, attempts integer not null default 0, claimed_by text,
    claimed_until timestamptz, sent_at timestamptz,
    created_at timestamptz not null default now(), updated_at timestamptz not null default now(),
    constraint outbox_incident_channel_key unique (incident_id, channel));
create index outbox_due_idx on outbox (due_at) where status = 'pending';
";

const RECORD: &str = "
with i as (
    insert into incident (incident_id, source, event_id, event_type, order_id, customer_id,
                          payload, occurred_at)
    values ($1, $2, $3, $4, $5, $6, cast($7::text as jsonb), $8)
    on conflict on constraint incident_source_event_id_key do nothing
    returning incident_id),
d as (
    insert into decision (incident_id, rule, template, channels, send_at)
    select incident_id, 'bare', $4, array[$9], now() from i
    returning incident_id)
insert into outbox (outbox_id, incident_id, channel, recipient, locale, subject, body_text,
                    body_html, due_at)
select $10, incident_id, $9, $11, $12, $13, $14, $15, now() from d";

const CLAIM: &str = "
update outbox set status = 'sending', claimed_by = $1, claimed_until = now() + interval '60 s',
                  attempts = attempts + 1, updated_at = now()
where outbox_id in (select outbox_id from outbox where status = 'pending' and due_at <= now()
                    order by due_at limit 50 for update skip locked)
returning outbox_id, channel, recipient, subject, body_text, body_html";

const MARK_SENT: &str = "
update outbox set status = 'sent', sent_at = now(), updated_at = now(), claimed_until = null
where outbox_id = $1 and claimed_by = $2";

const LAYOUT: &str = r#"<!DOCTYPE html>
<html lang="{{locale}}"><head><meta charset="utf-8"><title>{{subject}}</title>
<style>body{margin:0;background:#f3f4f6}.card{padding:32px;background:#fff}</style></head>
<body><table role="presentation" width="100%"><tr><td class="card">
{{> @partial-block }}
<p style="color:#59636e;font-size:13px">{{store}} · <a href="{{order.url}}">{{order.number}}</a></p>
</td></tr></table></body></html>"#;

const SUMMARY: &str = r#"<table role="presentation" width="100%" style="border-collapse:collapse">
{{#each order.items}}<tr><td style="padding:4px 0">{{quantity}} × {{name}}</td><td align="right">{{unit_price}} {{../order.currency}}</td></tr>
{{/each}}<tr><td><strong>Total</strong></td><td align="right"><strong>{{order.total}} {{order.currency}}</strong></td></tr></table>"#;

const EMAIL: &str = r#"{{#> layout}}
<h1 style="font-size:24px;line-height:32px">{{customer.first_name}}, we are sorry</h1>
<p>Your order {{order.number}} did not go as we promised, and that is on us. We wanted you to
hear it from us first, before you had to ask.</p>
{{#if delay}}<p>It is now expected on <strong>{{delay.new_eta}}</strong> instead of {{delay.original_eta}}
({{delay.carrier}}). <a href="{{delay.tracking_url}}">Follow it here</a>.</p>{{/if}}
{{#if stockout}}<p>Some items are out of stock; we will ship them on {{stockout.backorder_eta}}.</p>{{/if}}
{{#if cancellation}}<p>Your order is cancelled; the refund of {{cancellation.refund.amount}} is on its way.</p>{{/if}}
{{> summary}}
<p>If there is anything else we can do, just reply to this email: a person reads every answer.</p>
{{/layout}}"#;

const TEXT: &str = "{{customer.first_name}}, we are sorry: your order {{order.number}} did not \
go as we promised. {{#if delay}}It is now expected on {{delay.new_eta}}.{{/if}} Reply to this \
email and a person will answer.";

const SMS: &str = "{{store}}: {{customer.first_name}}, sorry, order {{order.number}} \
{{#if delay}}now arrives {{delay.new_eta}}{{/if}}{{#if stockout}}has an item out of stock\
{{/if}}{{#if cancellation}}is cancelled, refund on its way{{/if}}. Details by email.";

fn registry() -> anyhow::Result<Handlebars<'static>> {
    let mut registry = Handlebars::new();
    registry.register_partial("layout", LAYOUT)?;
    registry.register_partial("summary", SUMMARY)?;
    registry.register_template_string("email", EMAIL)?;
    registry.register_template_string("text", TEXT)?;
    registry.register_template_string("sms", SMS)?;
    Ok(registry)
}

/// Runs the bare pipeline over `events` (published here, to a queue of its own) and returns its
/// rates. `sink` is the SMTP sink's port; `proxy`, when given, the port of a proxy in front of
/// PostgreSQL that the pipeline's connections go through (without TLS).
pub async fn run(
    events: Arc<Vec<Event>>,
    sink: u16,
    proxy: Option<u16>,
) -> anyhow::Result<BareResult> {
    let total = events.len();
    let database = unique("amends_bare");
    create_database(&database).await?;
    let url = match proxy {
        Some(port) => format!("postgres://postgres@127.0.0.1:{port}/{database}?sslmode=disable"),
        None => format!("{PG}/{database}"),
    };
    let result = run_in(events, sink, &url).await;
    drop_database(&database).await;
    let (ingested, delivered) = result?;
    Ok(BareResult {
        ingest_rate: total as f64 / ingested.as_secs_f64(),
        delivered_rate: total as f64 / delivered.as_secs_f64(),
    })
}

async fn run_in(
    events: Arc<Vec<Event>>,
    sink: u16,
    url: &str,
) -> anyhow::Result<(Duration, Duration)> {
    let total = events.len();
    // As amends: 8 connections for recording, and the dispatchers' own.
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .test_before_acquire(false)
        .connect(url)
        .await?;
    let dispatch_pool = PgPoolOptions::new()
        .max_connections(3)
        .test_before_acquire(false)
        .connect(url)
        .await?;
    sqlx::raw_sql(SCHEMA).execute(&pool).await?;
    let registry = Arc::new(registry()?);

    let queue = unique("bare");
    let connection = Connection::connect(AMQP_URL, Default::default()).await?;
    let channel = connection.create_channel().await?;
    channel.confirm_select(Default::default()).await?;
    let mut arguments = FieldTable::default();
    arguments.insert(
        "x-queue-type".into(),
        lapin::types::AMQPValue::LongString("quorum".into()),
    );
    channel
        .queue_declare(
            queue.as_str().into(),
            QueueDeclareOptions {
                durable: true,
                ..Default::default()
            },
            arguments,
        )
        .await?;
    let consumer_channel = connection.create_channel().await?;
    consumer_channel
        .basic_qos(64, BasicQosOptions::default())
        .await?;
    let mut consumer = consumer_channel
        .basic_consume(
            queue.as_str().into(),
            "bare".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;

    let sent = Arc::new(AtomicUsize::new(0));
    // Recording wakes an idle dispatcher, as amends' record step does, instead of it polling.
    let wakeup = Arc::new(tokio::sync::Notify::new());
    let from: Mailbox = "Northwind Outfitters <care@shop.example>".parse()?;
    // On the same file system as amends' outbox (both are temporary directories).
    let sms_dir = tempfile::tempdir()?;
    let start = Instant::now();
    let mut dispatchers = Vec::new();
    for n in 0..2 {
        dispatchers.push(tokio::spawn(dispatch(
            format!("bare-{n}"),
            dispatch_pool.clone(),
            Sinks {
                smtp: sink,
                sms: sms_dir.path().to_path_buf(),
            },
            from.clone(),
            Arc::clone(&sent),
            Arc::clone(&wakeup),
            total,
        )));
    }
    // Published while the pipeline consumes, as amends' events are.
    let publisher = {
        let channel = channel.clone();
        let queue = queue.clone();
        tokio::spawn(async move {
            for event in events.iter() {
                channel
                    .basic_publish(
                        "".into(),
                        queue.as_str().into(),
                        Default::default(),
                        &event.body,
                        BasicProperties::default()
                            .with_delivery_mode(2)
                            .with_content_type("application/cloudevents+json".into()),
                    )
                    .await?;
            }
            channel.wait_for_confirms().await.map(|_| ())
        })
    };

    let recorded = Arc::new(tokio::sync::Semaphore::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    for _ in 0..total {
        let delivery = match tokio::time::timeout(Duration::from_secs(60), consumer.next()).await {
            Ok(Some(Ok(delivery))) => delivery,
            _ => anyhow::bail!("the bare consumer stopped receiving"),
        };
        let pool = pool.clone();
        let registry = Arc::clone(&registry);
        let recorded = Arc::clone(&recorded);
        let failed = Arc::clone(&failed);
        let wakeup = Arc::clone(&wakeup);
        tokio::spawn(async move {
            match record(&pool, &registry, &delivery.data).await {
                Ok(()) => {
                    wakeup.notify_one();
                    let _ = delivery.ack(BasicAckOptions::default()).await;
                }
                Err(error) => {
                    eprintln!("bare pipeline: {error}");
                    failed.fetch_add(1, Ordering::Relaxed);
                }
            }
            recorded.add_permits(1);
        });
    }
    tokio::time::timeout(
        Duration::from_secs(600),
        recorded.acquire_many(total as u32),
    )
    .await??
    .forget();
    let ingested = start.elapsed();
    if failed.load(Ordering::Relaxed) > 0 {
        anyhow::bail!("the bare pipeline failed to record some events (above)");
    }
    let deadline = Instant::now() + Duration::from_secs(600);
    while sent.load(Ordering::Relaxed) < total {
        if Instant::now() > deadline || dispatchers.iter().all(|d| d.is_finished()) {
            anyhow::bail!("the bare dispatchers stopped before sending everything");
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let delivered = start.elapsed();
    publisher.await??;
    for dispatcher in dispatchers {
        dispatcher.await??;
    }
    let _ = channel
        .queue_delete(queue.as_str().into(), Default::default())
        .await;
    let _ = connection.close(200, "done".into()).await;
    pool.close().await;
    dispatch_pool.close().await;
    Ok((ingested, delivered))
}

/// Parses, renders and records one event in one statement.
async fn record(pool: &PgPool, registry: &Handlebars<'static>, body: &[u8]) -> anyhow::Result<()> {
    let event: Value = serde_json::from_slice(body)?;
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let data = &event["data"];
    let customer = &data["customer"];
    let locale = customer["locale"].as_str().unwrap_or("en");
    let context = json!({
        "store": "Northwind Outfitters",
        "locale": locale,
        "subject": format!("About your order {}", text(&data["order"]["number"])),
        "order": data["order"],
        "customer": customer,
        "delay": data.get("delay"),
        "stockout": data.get("stockout"),
        "cancellation": data.get("cancellation"),
    });
    let sms_consent = customer["consent"]["sms"].as_bool().unwrap_or(false);
    let (channel, recipient, subject, body_text, body_html) = match customer["email"].as_str() {
        Some(email) => (
            "email",
            email.to_owned(),
            Some(text(&context["subject"])),
            registry.render("text", &context)?,
            Some(registry.render("email", &context)?),
        ),
        None if sms_consent => (
            "sms",
            text(&customer["phone"]),
            None,
            registry.render("sms", &context)?,
            None,
        ),
        None => anyhow::bail!("event without a reachable customer"),
    };
    let occurred_at = event["time"]
        .as_str()
        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&chrono::Utc));
    sqlx::query(RECORD)
        .bind(uuid::Uuid::now_v7())
        .bind(text(&event["source"]))
        .bind(text(&event["id"]))
        .bind(text(&event["type"]))
        .bind(text(&data["order"]["id"]))
        .bind(text(&customer["id"]))
        .bind(std::str::from_utf8(body)?)
        .bind(occurred_at)
        .bind(channel)
        .bind(uuid::Uuid::now_v7())
        .bind(recipient)
        .bind(locale)
        .bind(subject)
        .bind(body_text)
        .bind(body_html)
        .execute(pool)
        .await?;
    Ok(())
}

/// Where messages are handed over: the SMTP sink's port, the directory SMS files go to.
struct Sinks {
    smtp: u16,
    sms: std::path::PathBuf,
}

/// One dispatcher: claim up to 50 due rows, send each, mark each sent; until all are sent.
async fn dispatch(
    name: String,
    pool: PgPool,
    sinks: Sinks,
    from: Mailbox,
    sent: Arc<AtomicUsize>,
    wakeup: Arc<tokio::sync::Notify>,
    total: usize,
) -> anyhow::Result<()> {
    type Row = (
        uuid::Uuid,
        String,
        String,
        Option<String>,
        String,
        Option<String>,
    );
    // One connection per dispatcher, with TCP_NODELAY: lettre writes the message and its final
    // `.` separately, and with Nagle's algorithm on each message would wait ~40 ms for the
    // server's delayed ACK (amends' SMTP transport opens its connections the same way).
    let tcp = tokio::net::TcpStream::connect(("127.0.0.1", sinks.smtp)).await?;
    tcp.set_nodelay(true)?;
    let mut smtp = AsyncSmtpConnection::connect_with_transport(
        Box::new(tcp),
        &ClientId::Domain("bench.example".into()),
    )
    .await?;
    while sent.load(Ordering::Relaxed) < total {
        let rows: Vec<Row> = sqlx::query_as(CLAIM).bind(&name).fetch_all(&pool).await?;
        if rows.is_empty() {
            // Nothing due: wait to be woken by a new record (or look again in a while).
            let _ = tokio::time::timeout(Duration::from_millis(100), wakeup.notified()).await;
            continue;
        }
        for (id, channel, recipient, subject, body_text, body_html) in rows {
            if channel == "sms" {
                write_sms(&sinks.sms, id, &recipient, &body_text).await?;
            } else {
                let builder = Message::builder()
                    .from(from.clone())
                    .to(recipient.parse()?)
                    .subject(subject.unwrap_or_default())
                    .message_id(Some(format!("<{id}@shop.example>")));
                let message = match body_html {
                    Some(html) => {
                        builder.multipart(MultiPart::alternative_plain_html(body_text, html))?
                    }
                    None => builder.body(body_text)?,
                };
                smtp.send(message.envelope(), &message.formatted()).await?;
            }
            sqlx::query(MARK_SENT)
                .bind(id)
                .bind(&name)
                .execute(&pool)
                .await?;
            sent.fetch_add(1, Ordering::Relaxed);
        }
    }
    smtp.quit().await?;
    Ok(())
}

/// Writes an SMS as amends' file outbox does: JSON under a hidden temporary name, flushed to disk,
/// then renamed into place, all on one blocking thread.
async fn write_sms(
    dir: &std::path::Path,
    id: uuid::Uuid,
    to: &str,
    body: &str,
) -> anyhow::Result<()> {
    let json = serde_json::to_vec_pretty(&json!({"to": to, "from": "Northwind", "body": body}))?;
    let target = dir.join(format!("{id}.json"));
    let temp = dir.join(format!(".{id}.json.tmp"));
    tokio::task::spawn_blocking(move || -> std::io::Result<()> {
        use std::io::Write;
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(&json)?;
        file.sync_all()?;
        drop(file);
        std::fs::rename(&temp, &target)
    })
    .await??;
    Ok(())
}

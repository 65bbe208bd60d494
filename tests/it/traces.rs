//! Distributed tracing: the order system's trace (the CloudEvents `traceparent` extension) goes
//! through amends to the outcome events it publishes, and, with `AMENDS_OTLP_ENDPOINT`, amends'
//! own spans are exported in that trace.

use std::time::Duration;

use lapin::options::BasicGetOptions;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use prost::Message;
use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::{Names, bind_listener, connect, daemon_database, declare, event, spawn_app};

const TRACE_ID: &str = "0af7651916cd43dd8448eb211c80319c";
const PARENT_ID: &str = "b7ad6b7169203331";

fn traceparent() -> String {
    format!("00-{TRACE_ID}-{PARENT_ID}-01")
}

/// A VIP's delay carrying the order system's trace.
fn traced_event() -> Value {
    event("order.delayed", |e| {
        e["traceparent"] = traceparent().into();
        e["tracestate"] = "shop=1".into();
    })
}

/// Declares a queue bound to every outcome event of `exchange`.
async fn listen(channel: &lapin::Channel, exchange: &str) -> String {
    amends::broker::declare_events_exchange(channel, exchange)
        .await
        .expect("events exchange");
    bind_listener(channel, exchange).await
}

/// The outcome events in `queue` until `types` have all arrived.
async fn outcome_events(channel: &lapin::Channel, queue: &str, types: &[&str]) -> Vec<Value> {
    let mut seen: Vec<Value> = Vec::new();
    let start = std::time::Instant::now();
    while !types.iter().all(|t| seen.iter().any(|e| e["type"] == *t)) {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "timed out waiting for {types:?}, got {seen:?}"
        );
        match channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await
        {
            Ok(Some(message)) => {
                if let Ok(json) = serde_json::from_slice::<Value>(&message.delivery.data) {
                    seen.push(json);
                }
            }
            _ => tokio::time::sleep(Duration::from_millis(25)).await,
        }
    }
    seen
}

#[tokio::test]
async fn outcome_events_carry_the_trace_the_event_came_with() {
    let app = spawn_app(&[]).await;
    let listener = app.listen_to_outcome_events().await;
    let traced = traced_event();
    let untraced = event("order.delayed", |_| {});
    app.publish(&traced).await;
    app.publish(&untraced).await;
    let id = |e: &Value| e["id"].as_str().unwrap_or_default().to_owned();
    let (traced_id, untraced_id) = (id(&traced), id(&untraced));
    // Each incident's code and its email, announced.
    let about = |events: &[Value], incident: &str, kind: &str| {
        events
            .iter()
            .filter(|e| e["data"]["incident"]["id"] == incident && e["type"] == kind)
            .cloned()
            .collect::<Vec<_>>()
    };
    let mut events: Vec<Value> = Vec::new();
    while ["compensation.issued", "notification.sent"]
        .iter()
        .any(|kind| {
            about(&events, &traced_id, kind).is_empty()
                || about(&events, &untraced_id, kind).is_empty()
        })
    {
        for (body, _) in app.take(&listener, 1).await {
            events.push(serde_json::from_slice(&body).expect("JSON"));
        }
    }
    for kind in ["compensation.issued", "notification.sent"] {
        for json in about(&events, &traced_id, kind) {
            // Without span export, amends passes on the context it was given, as it was given.
            assert_eq!(json["traceparent"], traceparent().as_str(), "{json}");
        }
        for json in about(&events, &untraced_id, kind) {
            assert!(json.get("traceparent").is_none(), "{json}");
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn the_daemon_exports_its_spans_in_the_order_systems_trace() {
    let collector = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/traces"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&collector)
        .await;
    let names = Names::new();
    let outbox = tempfile::tempdir().expect("temp dir");
    let endpoint = collector.uri();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_amends"))
        .arg("run")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(names.env(outbox.path()))
        .env("AMENDS_OTLP_ENDPOINT", &endpoint)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("amends starts");
    let pool = daemon_database(&names).await;
    let connection = connect().await.expect("broker");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .confirm_select(Default::default())
        .await
        .expect("confirms");
    declare(&connection, &names).await;
    let queue = listen(&channel, &names.events).await;

    amends::broker::publish_confirmed(
        &channel,
        &names.exchange,
        "order.delayed",
        &serde_json::to_vec(&traced_event()).expect("JSON"),
        lapin::BasicProperties::default(),
    )
    .await
    .expect("published");
    let events = outcome_events(
        &channel,
        &queue,
        &["compensation.issued", "notification.sent"],
    )
    .await;
    for json in &events {
        // The same trace, under amends' own span for the event.
        let passed_on = json["traceparent"].as_str().unwrap_or_default();
        let parts: Vec<&str> = passed_on.split('-').collect();
        assert_eq!(parts.len(), 4, "{json}");
        assert_eq!(parts[1], TRACE_ID, "{json}");
        assert_ne!(
            parts[2], PARENT_ID,
            "amends' span, not the order system's: {json}"
        );
    }

    // Stopping flushes the spans not yet exported.
    let pid = child.id().expect("running").to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(killed.success());
    let exit = tokio::time::timeout(Duration::from_secs(30), child.wait())
        .await
        .expect("stops")
        .expect("exit status");
    assert!(exit.success(), "{exit:?}");
    // What the collector received, read as a collector reads it.
    let bytes = |hex: &str| -> Vec<u8> {
        (0..hex.len() / 2)
            .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap_or(0))
            .collect()
    };
    let (trace_id, parent_id) = (bytes(TRACE_ID), bytes(PARENT_ID));
    let mut spans = Vec::new();
    for request in collector.received_requests().await.unwrap_or_default() {
        if request.url.path() != "/v1/traces" {
            continue;
        }
        let export = ExportTraceServiceRequest::decode(request.body.as_slice()).expect("OTLP");
        for resource in export.resource_spans {
            for scope in resource.scope_spans {
                spans.extend(scope.spans);
            }
        }
    }
    let seen: Vec<&str> = spans.iter().map(|s| s.name.as_str()).collect();
    let event = spans
        .iter()
        .find(|s| s.name == "event" && s.trace_id == trace_id)
        .unwrap_or_else(|| panic!("the event's span, in the order system's trace: {seen:?}"));
    assert_eq!(
        event.parent_span_id, parent_id,
        "a child of the order system's span"
    );
    let sends = spans
        .iter()
        .filter(|s| s.name == "attempt" && s.trace_id == trace_id)
        .count();
    assert_eq!(
        sends, 2,
        "the email's and the SMS's sends join the trace: {seen:?}"
    );
    pool.close().await;
    let _ = connection.close(200, "done".into()).await;
    names.clean_up().await;
}

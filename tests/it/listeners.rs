//! The webhook-only listener (`AMENDS_WEBHOOK_BIND`): it serves the provider webhooks and nothing
//! else, so it can face the internet while the main listener, with `/metrics`, the admin API
//! and the console, stays internal; the main listener still serves everything.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Names, TestApp, http_client, spawn_app};

/// At least 32 characters, as an admin token must be.
const TOKEN: &str = "listeners-test-admin-token-0123456789";

/// The webhook listener's URL of `path`.
fn hooks_url(app: &TestApp, path: &str) -> String {
    let port = app.webhook_port.expect("the webhook listener is bound");
    format!("http://127.0.0.1:{port}{path}")
}

async fn status(request: reqwest::RequestBuilder) -> StatusCode {
    request.send().await.expect("an answer").status()
}

#[tokio::test]
async fn the_webhook_listener_serves_only_the_webhooks() {
    let app = spawn_app(&[
        ("AMENDS_WEBHOOK_BIND", "127.0.0.1:0"),
        ("AMENDS_ADMIN_TOKEN", TOKEN),
        ("AMENDS_POSTMARK_WEBHOOK_USER", "postmark"),
        ("AMENDS_POSTMARK_WEBHOOK_PASSWORD", "pm-hook-secret"),
    ])
    .await;
    assert_ne!(app.webhook_port, Some(app.port), "two listeners");
    let http = http_client();

    // Routed there: an unsigned SendGrid batch is refused by its signature check (a path that
    // is not served would be 404), and a Postmark event with its credentials is recorded.
    let unsigned = http
        .post(hooks_url(&app, "/webhooks/sendgrid/events"))
        .header("content-type", "application/json")
        .body("[]");
    assert_eq!(status(unsigned).await, StatusCode::FORBIDDEN);
    let complaint = json!({
        "RecordType": "SpamComplaint", "MessageID": "pm-listener-1", "Email": "ana@example.com",
        "Metadata": {}
    })
    .to_string();
    let postmark = http
        .post(hooks_url(&app, "/webhooks/postmark/events"))
        .basic_auth("postmark", Some("pm-hook-secret"))
        .header("content-type", "application/json")
        .body(complaint);
    assert_eq!(status(postmark).await, StatusCode::NO_CONTENT);
    assert_eq!(
        app.count("select count(*) from suppression where channel = 'email'")
            .await,
        1
    );

    // Nothing else is there, not even with the admin token.
    for path in [
        "/",
        "/metrics",
        "/healthz",
        "/readyz",
        "/api/session",
        "/api/openapi.json",
        "/api/overview",
        "/webhooks/",
        "/webhooks/unknown",
    ] {
        let anonymous = http.get(hooks_url(&app, path));
        assert_eq!(status(anonymous).await, StatusCode::NOT_FOUND, "GET {path}");
        let bearer = http.get(hooks_url(&app, path)).bearer_auth(TOKEN);
        assert_eq!(status(bearer).await, StatusCode::NOT_FOUND, "GET {path}");
    }
    let sign_in = http
        .post(hooks_url(&app, "/api/session"))
        .json(&json!({"name": "Mallory", "token": TOKEN}));
    assert_eq!(status(sign_in).await, StatusCode::NOT_FOUND);

    // The main listener still serves everything, the webhooks included.
    for path in ["/", "/metrics", "/healthz"] {
        assert_eq!(
            status(http.get(app.url(path))).await,
            StatusCode::OK,
            "GET {path}"
        );
    }
    let overview = http.get(app.url("/api/overview")).bearer_auth(TOKEN);
    assert_eq!(status(overview).await, StatusCode::OK);
    let unsigned = http
        .post(app.url("/webhooks/sendgrid/events"))
        .header("content-type", "application/json")
        .body("[]");
    assert_eq!(status(unsigned).await, StatusCode::FORBIDDEN);

    // Stopping drains and closes both listeners (stop() returns only once run() has).
    let hooks = format!("127.0.0.1:{}", app.webhook_port.unwrap_or(0));
    app.stop().await;
    assert!(
        tokio::net::TcpStream::connect(&hooks).await.is_err(),
        "the webhook listener is closed after the stop"
    );
}

#[tokio::test]
async fn without_webhook_bind_there_is_one_listener() {
    let app = spawn_app(&[]).await;
    assert_eq!(app.webhook_port, None);
    let unsigned = http_client()
        .post(app.url("/webhooks/sendgrid/events"))
        .header("content-type", "application/json")
        .body("[]");
    assert_eq!(status(unsigned).await, StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn a_webhook_port_in_use_stops_start_up_naming_the_key() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = taken.local_addr().expect("its address").to_string();
    let names = Names::new();
    let outbox = tempfile::tempdir().expect("temp dir");
    let mut env = names.env(outbox.path());
    env.push(("AMENDS_WEBHOOK_BIND".to_owned(), addr.clone()));
    let config = amends::config::Config::from_sources(None, env).expect("config");
    let error = match amends::app::App::build(config).await {
        Ok(_) => panic!("{addr} is taken, yet the daemon started"),
        Err(e) => e.to_string(),
    };
    names.clean_up().await;
    assert!(error.starts_with("webhook_bind: "), "{error}");
    assert!(error.contains(&addr), "{error}");
}

//! The admin API against the real daemon, PostgreSQL and RabbitMQ: access (off, sign-in,
//! CSRF, bearer), editing templates (draft, preview, publish, rollback), and the activity,
//! compensation, escalation and dead-letter views.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, call_signed_in, event, http_client, spawn_app, wait_until};

const TOKEN: &str = "console-test-token-0123456789abcdef";

/// A client signed in through the API as a person would be: the session cookie and the CSRF
/// token it was given.
struct Console {
    app: TestApp,
    http: reqwest::Client,
    cookie: String,
    csrf: String,
}

impl Console {
    async fn start() -> Console {
        Console::start_with(&[]).await
    }

    async fn start_with(extra: &[(&str, &str)]) -> Console {
        let mut env = vec![("AMENDS_ADMIN_TOKEN", TOKEN)];
        env.extend_from_slice(extra);
        let app = spawn_app(&env).await;
        let http = http_client();
        let response = http
            .post(app.url("/api/session"))
            .json(&json!({"name": "Marta", "token": TOKEN}))
            .send()
            .await
            .expect("sign in");
        assert_eq!(response.status(), StatusCode::OK);
        let cookie = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_owned();
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["user"], "Marta");
        let csrf = body["csrf_token"].as_str().expect("csrf token").to_owned();
        Console {
            app,
            http,
            cookie,
            csrf,
        }
    }

    /// A request with the session cookie and, for changes, the CSRF token.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        call_signed_in(
            &self.http,
            self.app.url(path),
            &self.cookie,
            &self.csrf,
            method,
            body,
        )
        .await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(Method::GET, path, None).await;
        assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
}

#[tokio::test]
async fn without_a_token_the_admin_api_and_console_are_off() {
    let app = spawn_app(&[]).await;
    let http = http_client();
    let response = http.get(app.url("/api/incidents")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("AMENDS_ADMIN_TOKEN"),
        "{body}"
    );
    let signin = http
        .post(app.url("/api/session"))
        .json(&json!({"name": "x", "token": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(signin.status(), StatusCode::NOT_FOUND);
    let page = http.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(page.text().await.unwrap().contains("AMENDS_ADMIN_TOKEN"));
    app.stop().await;
}

#[tokio::test]
async fn access_needs_a_session_with_its_csrf_token_or_the_bearer_token() {
    let console = Console::start().await;
    let app = &console.app;
    let http = &console.http;

    // Nothing without credentials; a wrong token is refused at sign-in and as a bearer.
    let anonymous = http.get(app.url("/api/incidents")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = http
        .post(app.url("/api/session"))
        .json(&json!({"name": "Mallory", "token": "guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get("set-cookie").is_none());
    let bearer = |token: &str| http.get(app.url("/api/overview")).bearer_auth(token).send();
    assert_eq!(
        bearer("guess").await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(bearer(TOKEN).await.unwrap().status(), StatusCode::OK);

    // The cookie is HttpOnly and SameSite; the page is served with a strict CSP.
    let signin = http
        .post(app.url("/api/session"))
        .json(&json!({"name": "Marta", "token": TOKEN}))
        .send()
        .await
        .unwrap();
    let set_cookie = signin.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Strict"),
        "{set_cookie}"
    );
    let page = http.get(app.url("/")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(
        page.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );

    // A change with the session cookie but without the CSRF token is refused, and changes
    // nothing; with it, it is made, and the author is the signed-in person.
    let path = "/api/templates/order-delayed/sms.en.hbs/draft";
    let forged = http
        .put(app.url(path))
        .header("cookie", &console.cookie)
        .json(&json!({"body": "forged"}))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    assert_eq!(app.count("select count(*) from template_edit").await, 0);
    let (status, body) = console
        .call(
            Method::PUT,
            path,
            Some(json!({"body": "{{store.name}}: sorry, order {{order.number}} is late.", "note": "shorter"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let author: String = sqlx::query_scalar("select author from template_edit")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(author, "Marta");

    // A body that is not what the route takes is refused like any error, saying why.
    let garbled = http
        .post(app.url("/api/incidents/search"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(garbled.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = garbled.json().await.unwrap();
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .starts_with("the request body"),
        "{body}"
    );

    // Signing out clears the cookie.
    let (status, _) = console.call(Method::DELETE, "/api/session", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    console.app.stop().await;
}

/// The Spanish delay email's heading, as shipped.
const SHIPPED_HEADING: &str = "Tu pedido llega con retraso";
const EDITED_HEADING: &str = "Perdona el retraso de tu pedido";

#[tokio::test]
async fn a_template_is_drafted_previewed_published_and_rolled_back() {
    let console = Console::start().await;
    let file = "/api/templates/order-delayed/email.es.hbs";

    let detail = console.get(file).await;
    assert_eq!(detail["in_force"]["version"], Value::Null);
    assert_eq!(detail["template"], "order-delayed");
    let shipped = detail["in_force"]["body"].as_str().unwrap().to_owned();
    assert!(shipped.contains(SHIPPED_HEADING));
    let edited = shipped.replace(SHIPPED_HEADING, EDITED_HEADING);

    // The preview renders the unsaved text with the daemon's engine.
    let (status, preview) = console
        .post(
            &format!("{file}/preview"),
            json!({"body": edited, "locale": "es-ES", "sample": "order.delayed"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["ok"], true, "{preview}");
    let html = preview["message"]["html"].as_str().unwrap();
    assert!(html.contains(EDITED_HEADING) && !html.contains(SHIPPED_HEADING));

    // A text with an error previews as its problems, line and cause, and cannot be published.
    let broken = format!("{edited}\n{{{{order.nonexistent}}}}\n");
    let broken_line = broken.lines().count();
    let (_, preview) = console
        .post(&format!("{file}/preview"), json!({"body": broken}))
        .await;
    assert_eq!(preview["ok"], false);
    let problem = &preview["diagnostics"][0];
    assert_eq!(problem["severity"], "error");
    assert_eq!(problem["line"], broken_line, "{preview}");
    assert!(
        problem["message"]
            .as_str()
            .unwrap()
            .contains("order.nonexistent")
    );
    let (status, refused) = console
        .post(&format!("{file}/publish"), json!({"body": broken}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert_eq!(refused["diagnostics"][0]["line"], broken_line);
    assert_eq!(
        console
            .app
            .count("select count(*) from template_edit where status = 'published'")
            .await,
        0
    );

    // Draft, then publish: the draft becomes the published version.
    let (status, saved) = console
        .call(
            Method::PUT,
            &format!("{file}/draft"),
            Some(json!({"body": edited, "note": "warmer heading"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    let draft_version = saved["version"].as_i64().unwrap();
    let list = console.get("/api/templates").await;
    let entry = list["templates"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "order-delayed/email.es.hbs")
        .unwrap()
        .clone();
    assert_eq!(entry["draft_version"], draft_version);
    let (status, published) = console
        .post(
            &format!("{file}/publish"),
            json!({"body": edited, "note": "warmer heading"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{published}");
    assert_eq!(published["version"], draft_version);
    let detail = console.get(file).await;
    assert_eq!(detail["in_force"]["version"], draft_version);
    assert_eq!(detail["draft"], Value::Null);

    // The next customer message carries the new text, and records which texts it used.
    let heading_of_latest = || async {
        let app = &console.app;
        let sent = "select count(*) from outbox where channel = 'email' and status = 'sent'";
        let before = app.count(sent).await;
        app.publish(&event("order.delayed", |_| {})).await;
        app.wait_for_count(sent, before + 1).await;
        let row: (String, Option<String>) = sqlx::query_as(
            "select body_html, template_version from outbox where channel = 'email' \
             and status = 'sent' order by created_at desc limit 1",
        )
        .fetch_one(&app.pool)
        .await
        .expect("the latest email");
        row
    };
    let (html, version) = wait_until("the published text in a message", || async {
        let (html, version) = heading_of_latest().await;
        html.contains(EDITED_HEADING).then_some((html, version))
    })
    .await;
    assert!(!html.contains(SHIPPED_HEADING));
    assert!(version.is_some());

    // Rolling back to the shipped text (version 0) publishes it again as a new version, and
    // the next message has the old text; rolling back to the edit brings it back.
    let (status, rolled) = console
        .post(&format!("{file}/rollback"), json!({"version": 0}))
        .await;
    assert_eq!(status, StatusCode::OK, "{rolled}");
    assert_eq!(rolled["version"], draft_version + 1);
    wait_until("the shipped text in a message again", || async {
        let (html, _) = heading_of_latest().await;
        html.contains(SHIPPED_HEADING).then_some(())
    })
    .await;
    let (status, rolled) = console
        .post(
            &format!("{file}/rollback"),
            json!({"version": draft_version}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{rolled}");
    let rolled_version = rolled["version"].as_i64().unwrap();
    assert_eq!(rolled_version, draft_version + 2);
    let version = console
        .get(&format!("{file}/versions/{rolled_version}"))
        .await;
    assert!(version["body"].as_str().unwrap().contains(EDITED_HEADING));
    assert_eq!(version["author"], "Marta");
    assert_eq!(
        version["note"],
        format!("rollback to version {draft_version}")
    );
    let history = console.get(file).await["versions"].clone();
    let statuses: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["published", "retired", "retired"]);
    let (status, missing) = console
        .post(&format!("{file}/rollback"), json!({"version": 99}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{missing}");
    console.app.stop().await;
}

#[tokio::test]
async fn a_text_based_on_a_version_no_longer_in_force_is_not_published() {
    let console = Console::start().await;
    let file = "/api/templates/order-delayed/sms.en.hbs";
    let text =
        |n: i32| format!("{{{{store.name}}}}: sorry, order {{{{order.number}}}} is late ({n}).");

    // Two people open the shipped text (version 0); the first to publish wins.
    let (status, first) = console
        .post(
            &format!("{file}/publish"),
            json!({"body": text(1), "based_on": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(first["version"], 1);
    let (status, second) = console
        .post(
            &format!("{file}/publish"),
            json!({"body": text(2), "based_on": 0}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{second}");
    assert!(
        second["error"]
            .as_str()
            .unwrap()
            .contains("version 1 is in force"),
        "{second}"
    );
    let published: Vec<String> =
        sqlx::query_scalar("select body from template_edit where status = 'published'")
            .fetch_all(&console.app.pool)
            .await
            .unwrap();
    assert_eq!(published, [text(1)]);

    // Having seen version 1, the second person publishes over it; a restore based on what is
    // no longer in force is refused too.
    let (status, _) = console
        .post(
            &format!("{file}/publish"),
            json!({"body": text(2), "based_on": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = console
        .post(
            &format!("{file}/rollback"),
            json!({"version": 1, "based_on": 1}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, restored) = console
        .post(
            &format!("{file}/rollback"),
            json!({"version": 1, "based_on": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{restored}");
    assert_eq!(restored["version"], 3);
    console.app.stop().await;
}

/// The message of the first error in `diagnostics` that names `chain`, with its file and line.
fn cycle_in(diagnostics: &Value, chain: &str) -> Option<(String, i64)> {
    diagnostics.as_array()?.iter().find_map(|d| {
        let message = d["message"].as_str()?;
        (d["severity"] == "error" && message.contains(chain)).then(|| {
            (
                d["path"].as_str().unwrap_or_default().to_owned(),
                d["line"].as_i64().unwrap_or_default(),
            )
        })
    })
}

#[tokio::test]
async fn a_partial_that_can_include_itself_is_refused_and_the_daemon_carries_on() {
    let console = Console::start().await;
    let app = &console.app;
    let sent = "select count(*) from outbox where channel = 'email' and status = 'sent'";
    // The texts in force when the next customer message is rendered.
    let latest_version = || async {
        let before = app.count(sent).await;
        app.publish(&event("order.delayed", |e| {
            e["data"]["customer"]["locale"] = "en-GB".into();
        }))
        .await;
        app.wait_for_count(sent, before + 1).await;
        let version: Option<String> = sqlx::query_scalar(
            "select template_version from outbox where channel = 'email' and status = 'sent' \
             order by created_at desc limit 1",
        )
        .fetch_one(&app.pool)
        .await
        .expect("the latest email");
        version.expect("a template version")
    };
    let in_force = latest_version().await;

    let file = "/api/templates/partials/contact.en.hbs";
    let shipped = console.get(file).await["in_force"]["body"]
        .as_str()
        .expect("the shipped text")
        .trim_end()
        .to_owned();
    // Only a gold customer would take the branch: every sample passes it.
    let gold = format!(
        "{shipped}\n{{{{#if (eq customer.tier \"gold\")}}}}{{{{> partials/contact}}}}{{{{/if}}}}\n"
    );
    let gold_line = gold.lines().count() as i64;
    // The call partial is included by the offers: including the offers back closes a cycle.
    let call_file = "/api/templates/partials/call.en.hbs";
    let call_shipped = console.get(call_file).await["in_force"]["body"]
        .as_str()
        .expect("the shipped text")
        .trim_end()
        .to_owned();
    let through_offers = format!("{call_shipped}\n{{{{> partials/offers}}}}\n");
    let offers_line =
        std::fs::read_to_string(crate::helpers::repo("templates/partials/offers.en.hbs"))
            .expect("the shipped offers")
            .lines()
            .position(|l| l.contains("{{> partials/call}}"))
            .expect("the offers include the call") as i64
            + 1;
    let chain = "partials/contact → partials/contact";

    // Saved as a draft, it is kept, with the cycle among its problems; its preview is refused.
    let (status, saved) = console
        .call(
            Method::PUT,
            &format!("{file}/draft"),
            Some(json!({"body": gold, "note": "gold customers"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(
        cycle_in(&saved["diagnostics"], chain),
        Some(("partials/contact.en.hbs".to_owned(), gold_line)),
        "{saved}"
    );
    let (status, preview) = console
        .post(&format!("{file}/preview"), json!({"body": gold}))
        .await;
    assert_eq!(status, StatusCode::OK, "{preview}");
    assert_eq!(preview["ok"], false, "{preview}");
    assert!(
        cycle_in(&preview["diagnostics"], chain).is_some(),
        "{preview}"
    );

    // Published, it is refused, directly or through another partial, and nothing is published.
    let (status, refused) = console
        .post(&format!("{file}/publish"), json!({"body": gold}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    assert!(
        cycle_in(&refused["diagnostics"], chain).is_some(),
        "{refused}"
    );
    let (status, refused) = console
        .post(
            &format!("{call_file}/publish"),
            json!({"body": through_offers}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let (path, line) = cycle_in(
        &refused["diagnostics"],
        "partials/call → partials/offers → partials/call",
    )
    .unwrap_or_else(|| panic!("{refused}"));
    assert!(path.ends_with("templates/partials/offers.en.hbs"), "{path}");
    assert_eq!(line, offers_line);
    assert_eq!(
        app.count("select count(*) from template_edit where status = 'published'")
            .await,
        0
    );

    // The daemon carries on, with the texts it had.
    let health = console
        .http
        .get(app.url("/healthz"))
        .send()
        .await
        .expect("healthz");
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(latest_version().await, in_force);
    console.app.stop().await;
}

#[tokio::test]
async fn incidents_are_found_by_contact_with_their_decision_and_messages() {
    let console = Console::start().await;
    let app = &console.app;
    let ana = event("order.delayed", |e| {
        e["data"]["customer"]["email"] = "Ana.Search@Example.com".into();
        e["data"]["customer"]["phone"] = "+34 600 999 111".into();
    });
    let other = event("order.delayed", |_| {});
    app.publish(&ana).await;
    app.publish(&other).await;
    app.wait_for_count(
        "select count(*) from outbox where channel = 'email' and status = 'sent'",
        2,
    )
    .await;

    // The list masks contacts; the search is by body, never in the URL.
    let recent = console.get("/api/incidents?limit=10").await;
    let incidents = recent["incidents"].as_array().unwrap();
    assert_eq!(incidents.len(), 2);
    assert!(
        incidents
            .iter()
            .all(|i| i["email"].as_str().unwrap().contains("***"))
    );
    // Pages: the newest, then those before its last.
    let first = console.get("/api/incidents?limit=1").await;
    let newest = first["incidents"][0]["incident_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let older = console
        .get(&format!("/api/incidents?limit=1&before={newest}"))
        .await;
    let older = older["incidents"].as_array().unwrap();
    assert_eq!(older.len(), 1);
    assert_ne!(older[0]["incident_id"], newest.as_str());
    let oldest = older[0]["incident_id"].as_str().unwrap();
    let none = console
        .get(&format!("/api/incidents?limit=1&before={oldest}"))
        .await;
    assert_eq!(none["incidents"].as_array().unwrap().len(), 0);

    for query in ["ana.search@example.com", "+34600999111", &ana_order(&ana)] {
        let (status, found) = console
            .post("/api/incidents/search", json!({"query": query}))
            .await;
        assert_eq!(status, StatusCode::OK);
        let found = found["incidents"].as_array().unwrap();
        assert_eq!(found.len(), 1, "{query}: {found:?}");
        assert_eq!(found[0]["event_id"], ana["id"]);
    }

    // One incident in full: the decision with its explanation, the message as sent, the
    // attempt that sent it.
    let id = incidents
        .iter()
        .find(|i| i["event_id"] == ana["id"])
        .unwrap()["incident_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let detail = console.get(&format!("/api/incidents/{id}")).await;
    assert_eq!(detail["incident"]["email"], "Ana.Search@Example.com");
    assert!(
        detail["decision"]["explanation"]["rules"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );
    let email = detail["messages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["channel"] == "email")
        .unwrap();
    assert_eq!(email["status"], "sent");
    assert!(email["body_html"].as_str().unwrap().contains("<html"));
    assert_eq!(email["attempt_log"][0]["outcome"], "sent");
    let (status, _) = console
        .call(
            Method::GET,
            &format!("/api/incidents/{}", uuid::Uuid::nil()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    console.app.stop().await;
}

fn ana_order(event: &Value) -> String {
    event["data"]["order"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn escalations_are_handled_once_and_compensation_is_listed_with_budgets() {
    let console = Console::start().await;
    let app = &console.app;
    // The sample cancellation is a VIP's, cancelled by us: a gift certificate and a call.
    app.publish(&event("order.cancelled", |_| {})).await;
    app.wait_for_count("select count(*) from escalation", 1)
        .await;

    let open = console.get("/api/escalations").await;
    let escalation = &open["escalations"][0];
    assert_eq!(escalation["status"], "open");
    assert!(escalation["phone"].as_str().unwrap().contains("***"));
    assert!(
        escalation["messages"]
            .as_array()
            .is_some_and(|m| !m.is_empty())
    );
    let id = escalation["escalation_id"].as_str().unwrap().to_owned();
    let full = console.get(&format!("/api/escalations/{id}")).await;
    assert_eq!(full["phone"], "+34600111222");

    let (status, handled) = console
        .post(
            &format!("/api/escalations/{id}/handle"),
            json!({"note": "called, she is happy"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{handled}");
    assert_eq!(handled["status"], "handled");
    assert_eq!(handled["handled_by"], "Marta");
    let (status, again) = console
        .post(&format!("/api/escalations/{id}/handle"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let open = console.get("/api/escalations?status=open").await;
    assert_eq!(open["escalations"].as_array().unwrap().len(), 0);

    let compensation = console.get("/api/compensation").await;
    let offer = &compensation["offers"][0];
    assert_eq!(offer["kind"], "gift_certificate");
    assert_eq!(offer["status"], "issued");
    assert_eq!(offer["amount"], "25.00");
    let day = &compensation["budget_days"][0];
    assert_eq!(day["spent"], "25.00");
    assert!(day["limit"].is_string(), "{compensation}");
    assert_eq!(compensation["customers"][0]["given"], "25.00");
    let overview = console.get("/api/overview").await;
    assert_eq!(overview["open_escalations"], 0);
    assert_eq!(overview["incidents_today"], 1);
    console.app.stop().await;
}

#[tokio::test]
async fn dead_letters_are_listed_with_their_reason_and_replayed() {
    let console = Console::start().await;
    let app = &console.app;
    app.publish_raw(
        "order.delayed",
        br#"{"specversion":"1.0","id":"broken-1","source":"s","type":"order.delayed","data":{}}"#,
        Some("application/json"),
    )
    .await;
    let listed = wait_until("the dead letter listed", || async {
        let body = console.get("/api/dead-letters").await;
        (body["dead_letters"].as_array().map(Vec::len) == Some(1)).then_some(body)
    })
    .await;
    let letter = &listed["dead_letters"][0];
    assert_eq!(letter["id"], "broken-1");
    assert!(letter["error"].as_str().unwrap().contains("data.order"));
    let (status, replayed) = console
        .post("/api/dead-letters/replay", json!({"id": "broken-1"}))
        .await;
    assert_eq!(status, StatusCode::OK, "{replayed}");
    assert_eq!(replayed["replayed"], 1);
    let (status, _) = console
        .post("/api/dead-letters/replay", json!({"id": "no-such"}))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = console.post("/api/dead-letters/replay", json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    console.app.stop().await;
}

#[tokio::test]
async fn messages_that_failed_are_listed_for_a_person() {
    // Nothing listens on port 1: every attempt is refused, and after the retries the email has
    // failed for good (its reserve SMS then goes out).
    let console = Console::start_with(&[
        ("AMENDS_EMAIL_TRANSPORT", "smtp"),
        ("AMENDS_SMTP_URL", "smtp://127.0.0.1:1"),
        ("AMENDS_EMAIL_FROM", "shop@shop.example"),
    ])
    .await;
    console.app.publish(&event("order.delayed", |_| {})).await;
    console
        .app
        .wait_for_count("select count(*) from outbox where status = 'failed'", 1)
        .await;
    let failed = console.get("/api/messages?status=failed").await;
    let message = &failed["messages"][0];
    assert_eq!(message["channel"], "email");
    assert_eq!(message["recipient"], "a***@example.com");
    assert!(
        message["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty())
    );
    assert_eq!(message["attempts"], 4);
    let unknown = console.get("/api/messages?status=unknown").await;
    assert_eq!(unknown["messages"].as_array().unwrap().len(), 0);
    let (status, _) = console
        .call(Method::GET, "/api/messages?status=sent", None)
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(console.get("/api/overview").await["messages_failed"], 1);
    console.app.stop().await;
}

#[tokio::test]
async fn the_openapi_document_describes_every_route() {
    let app = spawn_app(&[("AMENDS_ADMIN_TOKEN", TOKEN)]).await;
    let doc: Value = http_client()
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/session",
        "/api/incidents/search",
        "/api/incidents/{id}",
        "/api/templates/{group}/{file}/preview",
        "/api/templates/{group}/{file}/publish",
        "/api/templates/{group}/{file}/rollback",
        "/api/escalations/{id}/handle",
        "/api/dead-letters/replay",
        "/api/compensation",
        "/api/messages",
        "/api/session/sign-out-everywhere",
        "/api/suppressions",
        "/api/suppressions/lift",
        "/api/watches",
        "/api/audit",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["Preview"].is_object());
    app.stop().await;
}

/// `amends admin-user NAME` with `password` on standard input: its output line.
fn admin_user(name: &str, password: &str) -> (bool, String) {
    use std::io::Write;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_amends"))
        .args(["admin-user", name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("amends runs");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "{password}").expect("write the password");
    drop(stdin);
    let output = child.wait_with_output().expect("amends ends");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text.trim().to_owned())
}

#[tokio::test]
async fn people_named_in_admin_users_sign_in_with_their_own_password() {
    let (ok, short) = admin_user("Luis", "short");
    assert!(!ok && short.contains("at least 12 characters"), "{short}");
    let (ok, entry) = admin_user("Luis", "a long enough passphrase");
    assert!(ok, "{entry}");
    assert!(entry.starts_with("Luis:$argon2id$"), "{entry}");

    let app = spawn_app(&[
        ("AMENDS_ADMIN_TOKEN", TOKEN),
        ("AMENDS_ADMIN_USERS", &entry),
    ])
    .await;
    let http = http_client();
    let form: Value = http
        .get(app.url("/api/sign-in"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(form["with"], "password");
    let sign_in = |body: Value| http.post(app.url("/api/session")).json(&body).send();
    // The shared token no longer signs a person in, nor does a wrong password or another name.
    for body in [
        json!({"name": "Luis", "token": TOKEN}),
        json!({"name": "Luis", "password": "not the passphrase"}),
        json!({"name": "Marta", "password": "a long enough passphrase"}),
    ] {
        let response = sign_in(body.clone()).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{body}");
    }
    let response = sign_in(json!({"name": "luis", "password": "a long enough passphrase"}))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let session: Value = response.json().await.unwrap();
    assert_eq!(
        session["user"], "Luis",
        "the configured spelling of the name"
    );
    // Programs still use the token.
    let overview = http
        .get(app.url("/api/overview"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(overview.status(), StatusCode::OK);
    app.stop().await;
}

//! Who gets in, against the real daemon and PostgreSQL: sign-in limits reserved before the
//! password check (and the owner's device exempt from strangers' failures), bounded password
//! checks, bearer-token limits per client address, a short admin token refused, sessions that
//! end on sign-out, removal, a new password, idleness and "sign out everywhere", the audit
//! record of every action, and suppressions managed through the API.

use std::time::Duration;

use amends::clock::{Clock, ManualTime};
use amends::http::auth::hash_password;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{
    TestApp, call_signed_in, event, http_client, spawn_app, spawn_app_with_clock, wait_until,
};

const TOKEN: &str = "access-test-token-0123456789abcdef";

/// A signed-in browser: its session cookie, CSRF token and device cookie.
#[derive(Debug, Clone)]
struct Browser {
    session: String,
    csrf: String,
    device: Option<String>,
}

/// The `name=value` of each cookie a response sets.
fn set_cookies(response: &reqwest::Response) -> Vec<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|v| v.split(';').next())
        .map(str::to_owned)
        .collect()
}

/// Signs in with `body`, sending `device` if given; the status and the browser when it worked.
async fn sign_in(
    app: &TestApp,
    body: Value,
    device: Option<&str>,
) -> (StatusCode, Option<Browser>, reqwest::header::HeaderMap) {
    let mut request = http_client().post(app.url("/api/session")).json(&body);
    if let Some(device) = device {
        request = request.header("cookie", device);
    }
    let response = request.send().await.expect("sign in");
    let status = response.status();
    let headers = response.headers().clone();
    if status != StatusCode::OK {
        return (status, None, headers);
    }
    let cookies = set_cookies(&response);
    let find = |name: &str| {
        cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .cloned()
    };
    let session = find("amends_session").expect("a session cookie");
    let device = find("amends_device");
    let answer: Value = response.json().await.expect("json");
    let csrf = answer["csrf_token"].as_str().expect("csrf").to_owned();
    (
        status,
        Some(Browser {
            session,
            csrf,
            device,
        }),
        headers,
    )
}

/// A request as `browser`.
async fn call(
    app: &TestApp,
    browser: &Browser,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    call_signed_in(
        &http_client(),
        app.url(path),
        &browser.session,
        &browser.csrf,
        method,
        body,
    )
    .await
}

/// Whether `browser`'s session is still good.
async fn whoami(app: &TestApp, browser: &Browser) -> StatusCode {
    call(app, browser, Method::GET, "/api/session", None)
        .await
        .0
}

/// The process's peak resident memory, in KiB (`VmHWM` of /proc/self/status).
fn peak_memory_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .expect("/proc/self/status")
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

#[tokio::test]
async fn parallel_wrong_sign_ins_are_refused_in_bounded_memory_and_the_owner_still_gets_in() {
    let password = "the owner's long passphrase";
    let entry = format!("Luis:{}", hash_password(password).unwrap());
    // No attempt comes back during the test: what is refused is refused for good.
    let app = spawn_app(&[
        ("AMENDS_ADMIN_TOKEN", TOKEN),
        ("AMENDS_ADMIN_USERS", &entry),
        ("AMENDS_SIGN_IN_REFILL", "1h"),
    ])
    .await;
    let right = json!({"name": "Luis", "password": password});
    let (status, owner, _) = sign_in(&app, right.clone(), None).await;
    assert_eq!(status, StatusCode::OK);
    let device = owner.unwrap().device.expect("a device cookie");

    // 200 strangers at once, with wrong passwords for the owner's account.
    let before = peak_memory_kib();
    let mut attempts = tokio::task::JoinSet::new();
    let http = http_client();
    for i in 0..200 {
        let (url, http) = (app.url("/api/session"), http.clone());
        attempts.spawn(async move {
            http.post(url)
                .json(&json!({"name": "Luis", "password": format!("guess {i}")}))
                .send()
                .await
                .map(|r| (r.status(), r.headers().contains_key("retry-after")))
        });
    }
    let (mut refused, mut limited) = (0, 0);
    while let Some(result) = attempts.join_next().await {
        let (status, retry_after) = result.unwrap().expect("an answer");
        match status {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(retry_after, "429 says when to retry");
                limited += 1;
            }
            other => panic!("a wrong password got {other}"),
        }
    }
    let after = peak_memory_kib();
    let growth_mib = after.saturating_sub(before) / 1024;
    println!(
        "200 parallel wrong sign-ins: {refused} checked and refused (401), {limited} refused unchecked (429); \
         peak memory {} MiB -> {} MiB (+{growth_mib} MiB)",
        before / 1024,
        after / 1024
    );
    assert_eq!(refused + limited, 200);
    // The address's and the account's buckets hold ten cells, one taken by the owner's sign-in.
    assert!(refused <= 9, "{refused} passwords were checked");
    // Unbounded, 200 Argon2 runs at 19 MiB each would take gigabytes.
    assert!(growth_mib < 200, "memory grew by {growth_mib} MiB");

    // The right password from a browser without the owner's device cookie is refused unread;
    // the owner's browser gets in all the same.
    let (status, _, headers) = sign_in(&app, right.clone(), None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(headers.contains_key("retry-after"));
    let (status, again, _) = sign_in(&app, right.clone(), Some(&device)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(whoami(&app, &again.unwrap()).await, StatusCode::OK);
    // The device cookie names its account: it does not exempt attempts on another.
    let (status, _, _) = sign_in(
        &app,
        json!({"name": "Marta", "password": password}),
        Some(&device),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    app.stop().await;
}

#[tokio::test]
async fn a_bearer_token_flood_is_limited_per_client_address() {
    let app = spawn_app(&[
        ("AMENDS_ADMIN_TOKEN", TOKEN),
        ("AMENDS_TRUSTED_PROXIES", "127.0.0.1"),
        ("AMENDS_BEARER_ATTEMPTS", "20"),
        ("AMENDS_BEARER_REFILL", "1h"),
    ])
    .await;
    let http = http_client();
    let from = |address: &'static str, token: &'static str| {
        http.get(app.url("/api/overview"))
            .header("x-forwarded-for", address)
            .bearer_auth(token)
            .send()
    };
    let mut wrong = 0;
    let limited = loop {
        let response = from("203.0.113.7", "a-guess-at-the-token").await.unwrap();
        match response.status() {
            StatusCode::UNAUTHORIZED => wrong += 1,
            StatusCode::TOO_MANY_REQUESTS => break response,
            other => panic!("a wrong token got {other}"),
        }
        assert!(wrong < 500, "500 wrong tokens and no limit");
    };
    assert_eq!(wrong, 20, "the address's 20 requests");
    assert!(limited.headers().contains_key("retry-after"));
    // Refused before the comparison: the right token from that address is refused too ...
    assert_eq!(
        from("203.0.113.7", TOKEN).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // ... and works from any other.
    assert_eq!(
        from("203.0.113.8", TOKEN).await.unwrap().status(),
        StatusCode::OK
    );
    app.stop().await;
}

#[tokio::test]
async fn sessions_end_on_sign_out_removal_new_password_idleness_and_everywhere() {
    let (luis, marta) = ("Luis's long passphrase", "Marta's long passphrase");
    let luis_entry = format!("Luis:{}", hash_password(luis).unwrap());
    let marta_entry = format!("Marta:{}", hash_password(marta).unwrap());
    let both = format!("{luis_entry};{marta_entry}");
    let time = ManualTime::new(chrono::Utc::now());
    let app = spawn_app_with_clock(
        &[("AMENDS_ADMIN_TOKEN", TOKEN), ("AMENDS_ADMIN_USERS", &both)],
        Clock::new(time.clone()),
    )
    .await;
    let as_luis = json!({"name": "Luis", "password": luis});
    let as_marta = json!({"name": "Marta", "password": marta});
    let signed_in = |body: Value| {
        let app = &app;
        async move {
            let (status, browser, _) = sign_in(app, body, None).await;
            assert_eq!(status, StatusCode::OK);
            browser.unwrap()
        }
    };

    // Sign-out ends the session wherever its cookie was copied; another session goes on.
    let first = signed_in(as_luis.clone()).await;
    let copy = first.clone();
    let second = signed_in(as_luis.clone()).await;
    let (status, _) = call(&app, &first, Method::DELETE, "/api/session", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert_eq!(whoami(&app, &copy).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&app, &second).await, StatusCode::OK);

    // A replica (same database) whose configuration no longer lists Luis refuses his session;
    // one where his password changed refuses it too; Marta's stays good on both.
    let hers = signed_in(as_marta.clone()).await;
    let without_luis = app
        .spawn_replica(&[
            ("AMENDS_ADMIN_TOKEN", TOKEN),
            ("AMENDS_ADMIN_USERS", &marta_entry),
        ])
        .await;
    assert_eq!(
        whoami(&without_luis, &second).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(whoami(&without_luis, &hers).await, StatusCode::OK);
    without_luis.stop().await;
    let new_password = format!(
        "Luis:{};{marta_entry}",
        hash_password("a new passphrase").unwrap()
    );
    let changed = app
        .spawn_replica(&[
            ("AMENDS_ADMIN_TOKEN", TOKEN),
            ("AMENDS_ADMIN_USERS", &new_password),
        ])
        .await;
    assert_eq!(whoami(&changed, &second).await, StatusCode::UNAUTHORIZED);
    changed.stop().await;
    assert_eq!(whoami(&app, &second).await, StatusCode::OK);

    // Sign out everywhere ends every session of Luis's, and no one else's.
    let third = signed_in(as_luis.clone()).await;
    let (status, ended) = call(
        &app,
        &third,
        Method::POST,
        "/api/session/sign-out-everywhere",
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    assert_eq!(ended["ended"], 2);
    assert_eq!(whoami(&app, &second).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&app, &third).await, StatusCode::UNAUTHORIZED);
    assert_eq!(whoami(&app, &hers).await, StatusCode::OK);

    // A session unused for the idle timeout (30 minutes) ends, however young.
    time.set(chrono::Utc::now() + chrono::Duration::minutes(29));
    assert_eq!(whoami(&app, &hers).await, StatusCode::OK, "used in time");
    time.set(chrono::Utc::now() + chrono::Duration::minutes(29 + 31));
    assert_eq!(whoami(&app, &hers).await, StatusCode::UNAUTHORIZED);
    // Ended sessions are deleted at the next sign-in.
    signed_in(as_marta.clone()).await;
    assert_eq!(
        app.count("select count(*) from admin_session").await,
        1,
        "only the new session is kept"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_audited_action_is_recorded_with_its_person() {
    let app = spawn_app(&[("AMENDS_ADMIN_TOKEN", TOKEN)]).await;
    let (status, marta, _) = sign_in(&app, json!({"name": "Marta", "token": TOKEN}), None).await;
    assert_eq!(status, StatusCode::OK);
    let marta = marta.unwrap();
    let post = |path: &'static str, body: Value| call(&app, &marta, Method::POST, path, Some(body));

    // A template drafted, discarded, published, rolled back and tested.
    let file = "/api/templates/order-delayed/sms.en.hbs";
    let text = "{{store.name}}: sorry, order {{order.number}} is late.";
    let draft = format!("{file}/draft");
    let (status, _) = call(
        &app,
        &marta,
        Method::PUT,
        &draft,
        Some(json!({"body": text})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&app, &marta, Method::DELETE, &draft, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(
        &app,
        &marta,
        Method::POST,
        &format!("{file}/publish"),
        Some(json!({"body": text, "note": "shorter"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(
        &app,
        &marta,
        Method::POST,
        &format!("{file}/rollback"),
        Some(json!({"version": 0})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = post(
        "/api/templates/test",
        json!({"template": "order-delayed", "channel": "email", "locale": "en", "to": "marta@shop.example"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A dead letter replayed, an escalation handled.
    app.publish_raw(
        "order.delayed",
        br#"{"specversion":"1.0","id":"broken-1","source":"s","type":"order.delayed","data":{}}"#,
        Some("application/json"),
    )
    .await;
    wait_until("the dead letter listed", || async {
        let (_, body) = call(&app, &marta, Method::GET, "/api/dead-letters", None).await;
        (body["dead_letters"].as_array().map(Vec::len) == Some(1)).then_some(())
    })
    .await;
    let (status, body) = post("/api/dead-letters/replay", json!({"id": "broken-1"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.publish(&event("order.cancelled", |_| {})).await;
    app.wait_for_count("select count(*) from escalation", 1)
        .await;
    let (_, open) = call(&app, &marta, Method::GET, "/api/escalations", None).await;
    let id = open["escalations"][0]["escalation_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = call(
        &app,
        &marta,
        Method::POST,
        &format!("/api/escalations/{id}/handle"),
        Some(json!({"note": "called her"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    // A suppression added and lifted; the list shows the contact masked.
    let contact = json!({"channel": "email", "contact": "Ana.Garcia@Example.com", "note": "asked us to stop"});
    let (status, body) = post("/api/suppressions", contact.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, listed) = call(&app, &marta, Method::GET, "/api/suppressions", None).await;
    let row = &listed["suppressions"][0];
    assert_eq!(row["contact"], "a***@example.com", "{listed}");
    assert_eq!(row["source"], "console");
    assert_eq!(row["reason"], "manual");
    let (status, body) = post(
        "/api/suppressions/lift",
        json!({"channel": "email", "contact": "ana.garcia@example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, _) = post(
        "/api/suppressions/lift",
        json!({"channel": "email", "contact": "ana.garcia@example.com"}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "nothing left to lift");
    let (status, _) = post(
        "/api/suppressions",
        json!({"channel": "sms", "contact": "call me"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = post(
        "/api/suppressions",
        json!({"channel": "fax", "contact": "+34600111222"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // A refused sign-in, then signing out everywhere and out.
    let (status, _, _) = sign_in(&app, json!({"name": "Mallory", "token": "a guess"}), None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (_, other, _) = sign_in(&app, json!({"name": "Marta", "token": TOKEN}), None).await;
    let other = other.unwrap();
    let (status, _) = post("/api/session/sign-out-everywhere", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(whoami(&app, &other).await, StatusCode::UNAUTHORIZED);
    let (_, last, _) = sign_in(&app, json!({"name": "Marta", "token": TOKEN}), None).await;
    let last = last.unwrap();
    let (status, _) = call(&app, &last, Method::DELETE, "/api/session", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    // The record, newest first, through the API.
    let audit = |query: &'static str| {
        http_client()
            .get(app.url(&format!("/api/audit{query}")))
            .bearer_auth(TOKEN)
            .send()
    };
    let page: Value = audit("").await.unwrap().json().await.unwrap();
    let entries = page["entries"].as_array().unwrap();
    let actions: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["actor"].as_str().unwrap(), e["action"].as_str().unwrap()))
        .collect();
    for action in [
        "sign_in",
        "template.draft_saved",
        "template.draft_discarded",
        "template.publish",
        "template.rollback",
        "template.test_sent",
        "dead_letters.replay",
        "escalation.handle",
        "suppression.add",
        "suppression.lift",
        "sign_out.everywhere",
        "sign_out",
    ] {
        assert!(
            actions.contains(&("Marta", action)),
            "{action} by Marta missing from {actions:?}"
        );
    }
    assert!(
        actions.contains(&("Mallory", "sign_in.refused")),
        "{actions:?}"
    );
    assert_eq!(actions[0], ("Marta", "sign_out"), "newest first");
    let ids: Vec<i64> = entries.iter().map(|e| e["id"].as_i64().unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] > w[1]), "{ids:?}");
    let publish = entries
        .iter()
        .find(|e| e["action"] == "template.publish")
        .unwrap();
    assert_eq!(publish["subject"], "order-delayed/sms.en.hbs");
    assert_eq!(publish["client_address"], "127.0.0.1");
    let lifted = entries
        .iter()
        .find(|e| e["action"] == "suppression.lift")
        .unwrap();
    assert_eq!(lifted["subject"], "a***@example.com");

    // No contact in full anywhere in the record.
    let everything: String = sqlx::query_scalar("select string_agg(audit::text, ' ') from audit")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    for contact in ["ana.garcia@example.com", "marta@shop.example"] {
        assert!(
            !everything.to_lowercase().contains(contact),
            "{contact} in the audit record"
        );
    }

    // Filters and paging.
    let page: Value = audit("?action=suppression.add")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(page["entries"].as_array().unwrap().len(), 1);
    let page: Value = audit("?actor=mallory").await.unwrap().json().await.unwrap();
    assert_eq!(page["entries"].as_array().unwrap().len(), 1);
    let first: Value = audit("?limit=2").await.unwrap().json().await.unwrap();
    let before = first["next_before"].as_i64().expect("more pages");
    let url = format!("/api/audit?limit=2&before={before}");
    let second: Value = http_client()
        .get(app.url(&url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(second["entries"][0]["id"].as_i64().unwrap() < before);
    app.stop().await;
}

#[tokio::test]
async fn an_admin_token_shorter_than_32_characters_stops_start_up() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_amends"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("AMENDS_ADMIN_TOKEN", "too-short-to-be-safe")
        .arg("run")
        .stdin(std::process::Stdio::null())
        .output();
    let output = tokio::time::timeout(Duration::from_secs(30), output)
        .await
        .expect("amends stops at once")
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<_> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(lines[0].contains("AMENDS_ADMIN_TOKEN"), "{stderr}");
    assert!(lines[0].contains("32"), "{stderr}");
    assert!(!stderr.contains("too-short-to-be-safe"), "{stderr}");
}

#[tokio::test]
async fn the_admin_token_is_rotated_without_signing_anyone_out() {
    const OLD: &str = "the-old-admin-token-0123456789abcdef";
    let app = spawn_app(&[("AMENDS_ADMIN_TOKEN", OLD)]).await;
    let (status, marta, _) = sign_in(&app, json!({"name": "Marta", "token": OLD}), None).await;
    assert_eq!(status, StatusCode::OK);
    let marta = marta.unwrap();
    let bearer = |app: &TestApp, token: &'static str| {
        http_client()
            .get(app.url("/api/overview"))
            .bearer_auth(token)
            .send()
    };

    // During the rotation (replicas sharing the database): both tokens, and the old sessions.
    let rotating = app
        .spawn_replica(&[
            ("AMENDS_ADMIN_TOKEN", TOKEN),
            ("AMENDS_ADMIN_TOKEN_PREVIOUS", OLD),
        ])
        .await;
    assert_eq!(whoami(&rotating, &marta).await, StatusCode::OK);
    for token in [OLD, TOKEN] {
        assert_eq!(
            bearer(&rotating, token).await.unwrap().status(),
            StatusCode::OK
        );
    }
    rotating.stop().await;

    // Once the old token is removed, what only it signed ends.
    let rotated = app.spawn_replica(&[("AMENDS_ADMIN_TOKEN", TOKEN)]).await;
    assert_eq!(whoami(&rotated, &marta).await, StatusCode::UNAUTHORIZED);
    assert_eq!(
        bearer(&rotated, OLD).await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        bearer(&rotated, TOKEN).await.unwrap().status(),
        StatusCode::OK
    );
    rotated.stop().await;
    app.stop().await;
}

//! From event to outbox file: content, idempotency, dead-lettering, consent, escaping.

use serde_json::{Value, json};

use crate::helpers::{event, files, not_vip, spawn_app};

fn read(path: &std::path::Path) -> String {
    std::fs::read_to_string(path).expect("outbox file is readable")
}

/// The decoded text of an .eml (quoted-printable / base64 parts undone), via a real MIME parser.
fn email_parts(eml: &str) -> (String, String, String) {
    let parsed = mailparse::parse_mail(eml.as_bytes()).expect("eml parses");
    let subject = parsed
        .headers
        .iter()
        .find(|h| h.get_key().eq_ignore_ascii_case("subject"))
        .map(|h| h.get_value())
        .unwrap_or_default();
    let mut text = String::new();
    let mut html = String::new();
    for part in parsed.subparts.iter() {
        let body = part.get_body().expect("part body");
        match part.ctype.mimetype.as_str() {
            "text/plain" => text = body,
            "text/html" => html = body,
            _ => {}
        }
    }
    (subject, text, html)
}

#[tokio::test]
async fn each_incident_type_produces_one_message_with_its_content() {
    let app = spawn_app(&[]).await;
    // Dates ahead of the clock: a date already passed would be late news, and not shown.
    let today = chrono::Utc::now().date_naive();
    let promised = today + chrono::Duration::days(3);
    let expected = today + chrono::Duration::days(8);
    // Not a VIP: a VIP's long delay goes by SMS too.
    let delayed = event("order.delayed", |e| {
        e["data"]["customer"]["tier"] = Value::Null;
        e["data"]["delay"]["original_eta"] = promised.to_string().into();
        e["data"]["delay"]["new_eta"] = expected.to_string().into();
    });
    let stockout = event("order.stockout", |e| {
        e["data"]["order"]["number"] = "#20001".into();
    });
    let cancelled = event("order.cancelled", |e| {
        e["data"]["order"]["number"] = "#30001".into();
        e["data"]["customer"]["tier"] = Value::Null;
    });
    for e in [&delayed, &stockout, &cancelled] {
        app.publish(e).await;
    }
    let emails = app.wait_for_files(&app.email_dir(), 3).await;
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 3)
        .await;
    assert_eq!(files(&app.email_dir()).len(), 3);
    assert!(files(&app.sms_dir()).is_empty());

    let mut seen = Vec::new();
    for path in &emails {
        let eml = read(path);
        assert!(eml.contains("To: "), "{eml}");
        assert!(eml.contains("ana@example.com"));
        assert!(eml.contains("multipart/alternative"));
        let (subject, text, html) = email_parts(&eml);
        assert!(!subject.is_empty());
        assert!(html.contains("<html lang=\"es-ES\""), "{html}");
        // The layout's stylesheet went into the elements, for clients that drop <style>.
        assert!(html.contains("<h1 class=\"h1\" style=\""), "{html}");
        seen.push((subject, text, html));
    }
    let find = |number: &str| {
        seen.iter()
            .find(|(_, text, _)| text.contains(number))
            .unwrap_or_else(|| panic!("no email mentions {number}"))
    };
    // Each message records which template texts it was rendered with.
    let shipped = amends::templates::Templates::load(
        std::path::Path::new(&crate::helpers::repo("templates")),
        &amends::templates::Settings::new(&amends::incident::Locale::parse("en").unwrap()),
    )
    .unwrap();
    assert_eq!(
        app.count_of_version(shipped.version()).await,
        3,
        "every message names the shipped templates' version"
    );
    // The sample customer reads Spanish in Madrid: the text, money and dates are hers.
    let (_, text, _) = find("#10042");
    let spanish = amends::templates::format::LocaleFormats::new("es-ES").unwrap();
    let day_and_month = spanish.date(
        expected,
        amends::templates::format::DateStyle::Short,
        expected,
    );
    assert!(
        text.contains(&format!(", {day_and_month}")),
        "new ETA, with its weekday, in the delay email: {day_and_month} in {text}"
    );
    let (_, text, _) = find("#20001");
    assert!(
        text.contains("Trail shoe"),
        "the missing item in the stockout email: {text}"
    );
    let (_, text, _) = find("#30001");
    assert!(
        text.contains("129,90\u{a0}€"),
        "the refund in the cancellation email: {text}"
    );
    app.stop().await;
}

#[tokio::test]
async fn sms_goes_out_when_it_is_the_usable_channel() {
    let app = spawn_app(&[]).await;
    let e = event("order.delayed", |e| {
        e["data"]["customer"]
            .as_object_mut()
            .unwrap()
            .remove("email");
        e["data"]["customer"]["consent"]["sms"] = true.into();
    });
    app.publish(&e).await;
    let sms = app.wait_for_files(&app.sms_dir(), 1).await;
    let json: Value = serde_json::from_str(&read(&sms[0])).unwrap();
    assert_eq!(json["to"], "+34600111222");
    assert_eq!(json["from"], "amends");
    let body = json["body"].as_str().unwrap();
    assert!(body.contains("#10042"), "{body}");
    assert!(!body.contains('<'), "SMS is never HTML: {body}");
    assert!(json["segments"].as_u64().unwrap() >= 1);
    assert!(matches!(
        json["encoding"].as_str(),
        Some("GSM-7") | Some("UCS-2")
    ));
    assert!(files(&app.email_dir()).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn the_same_event_three_times_sends_one_message() {
    let app = spawn_app(&[]).await;
    // Not VIPs: a VIP's worst harm goes by SMS and email at once.
    let e = event("order.delayed", |e| {
        e["data"]["customer"]["tier"] = Value::Null
    });
    for _ in 0..3 {
        app.publish(&e).await;
    }
    // A different event after the three copies: once it is sent, the copies were processed.
    let marker = event("order.cancelled", |e| {
        e["data"]["customer"]["tier"] = Value::Null;
    });
    app.publish(&marker).await;
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 2)
        .await;
    app.wait_until_drained().await;
    assert_eq!(app.count("select count(*) from incident").await, 2);
    assert_eq!(
        app.count("select count(*) from outbox where status not in ('standby', 'cancelled')")
            .await,
        2
    );
    // Each message had one on the other channel held in reserve; once it was sent, that one
    // was cancelled, never sent.
    app.wait_for_count("select count(*) from outbox where status = 'cancelled'", 2)
        .await;
    assert_eq!(
        files(&app.email_dir()).len() + files(&app.sms_dir()).len(),
        2
    );
    app.stop().await;
}

#[tokio::test]
async fn the_same_id_from_two_sources_is_two_events() {
    let app = spawn_app(&[]).await;
    let first = event("order.delayed", |_| {});
    let mut second = first.clone();
    second["source"] = "https://warehouse.example/shipments".into();
    // Another order too: two incidents on one order would be one apology (coalesced).
    second["data"]["order"]["id"] =
        format!("{}-2", first["data"]["order"]["id"].as_str().unwrap()).into();
    app.publish(&first).await;
    app.publish(&second).await;
    app.wait_for_files(&app.email_dir(), 2).await;
    assert_eq!(
        app.count("select count(distinct source) from incident")
            .await,
        2
    );
    assert_eq!(
        app.count("select count(distinct event_id) from incident")
            .await,
        1
    );
    app.stop().await;
}

#[tokio::test]
async fn malformed_events_are_dead_lettered_with_their_reason() {
    let app = spawn_app(&[]).await;
    let valid = event("order.delayed", |_| {});
    let with = |edit: &dyn Fn(&mut Value)| {
        let mut e = valid.clone();
        edit(&mut e);
        serde_json::to_vec(&e).unwrap()
    };
    // (body, content type, what the reason must mention)
    let cases: Vec<(Vec<u8>, Option<&str>, &str)> = vec![
        (
            b"this is not json".to_vec(),
            Some("application/json"),
            "JSON",
        ),
        (b"[1, 2, 3]".to_vec(), Some("application/json"), ""),
        (
            with(&|e| {
                e.as_object_mut().unwrap().remove("specversion");
            }),
            None,
            "specversion",
        ),
        (
            with(&|e| e["specversion"] = "0.3".into()),
            None,
            "specversion",
        ),
        (
            with(&|e| {
                e.as_object_mut().unwrap().remove("id");
            }),
            None,
            "id",
        ),
        (
            with(&|e| {
                e.as_object_mut().unwrap().remove("source");
            }),
            None,
            "source",
        ),
        (
            with(&|e| e["type"] = "order.exploded".into()),
            None,
            "order.exploded",
        ),
        (
            with(&|e| {
                e["data"]["order"].as_object_mut().unwrap().remove("total");
            }),
            None,
            "data.order.total",
        ),
        (
            with(&|e| e["data"]["order"]["total"] = json!(129.9)),
            None,
            "data.order.total",
        ),
        (
            with(&|e| e["data"]["order"]["total"] = "12,50".into()),
            None,
            "data.order.total",
        ),
        (
            with(&|e| e["data"]["order"]["currency"] = "EURO".into()),
            None,
            "data.order.currency",
        ),
        (
            with(&|e| e["data"]["customer"]["phone"] = "600111222".into()),
            None,
            "data.customer.phone",
        ),
        (
            with(&|e| e["data"]["delay"]["new_eta"] = "2026-13-45".into()),
            None,
            "data.delay.new_eta",
        ),
        (
            with(&|e| {
                e["data"]["customer"].as_object_mut().unwrap().remove("id");
            }),
            None,
            "data.customer.id",
        ),
        (with(&|_| {}), Some("text/plain"), "content type"),
        // Valid JSON that PostgreSQL's jsonb refuses: dead-lettered, not retried forever.
        (
            with(&|e| e["data"]["note"] = "nul \u{0} byte".into()),
            None,
            "database refused",
        ),
    ];
    for (body, content_type, _) in &cases {
        app.publish_raw("order.delayed", body, *content_type).await;
    }
    // The daemon keeps going: a good event after the bad ones is still processed.
    app.publish(&event("order.delayed", |_| {})).await;
    app.wait_for_files(&app.email_dir(), 1).await;

    let dead = app.dead_letters(cases.len()).await;
    assert_eq!(dead.len(), cases.len());
    for (body, content_type, mention) in &cases {
        let (_, reason, properties) = dead
            .iter()
            .find(|(b, _, p)| {
                b == body && p.content_type().as_ref().map(|c| c.as_str()) == *content_type
            })
            .unwrap_or_else(|| {
                panic!(
                    "body not dead-lettered unchanged: {}",
                    String::from_utf8_lossy(body)
                )
            });
        assert!(!reason.is_empty(), "x-amends-error is set");
        assert!(!reason.contains('\n'), "one line: {reason}");
        assert!(
            reason.contains(mention),
            "reason {reason:?} should mention {mention:?}"
        );
        assert_eq!(properties.delivery_mode(), &Some(2));
    }
    assert_eq!(app.count("select count(*) from incident").await, 1);
    app.stop().await;
}

#[tokio::test]
async fn no_sms_without_consent_and_unreachable_is_recorded() {
    let app = spawn_app(&[]).await;
    let e = event("order.cancelled", |e| {
        let customer = e["data"]["customer"].as_object_mut().unwrap();
        customer.remove("email");
        customer["consent"]["sms"] = false.into();
    });
    app.publish(&e).await;
    app.wait_for_count(
        "select count(*) from decision where unreachable is not null",
        1,
    )
    .await;
    let (reason, skipped): (String, Value) =
        sqlx::query_as("select unreachable, skipped from decision")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert!(reason.contains("no SMS consent"), "{reason}");
    assert_eq!(skipped["sms"], "no SMS consent");
    assert_eq!(skipped["email"], "no email address");
    assert_eq!(app.count("select count(*) from outbox").await, 0);
    assert!(files(&app.sms_dir()).is_empty());
    app.stop().await;
}

#[tokio::test]
async fn script_in_a_name_is_escaped_in_html() {
    let app = spawn_app(&[]).await;
    let e = event("order.delayed", |e| {
        e["data"]["customer"]["first_name"] = "<script>alert('x')</script>".into();
    });
    app.publish(&e).await;
    let emails = app.wait_for_files(&app.email_dir(), 1).await;
    let (_, text, html) = email_parts(&read(&emails[0]));
    assert!(!html.contains("<script>"), "{html}");
    assert!(html.contains("&lt;script&gt;"), "{html}");
    assert!(
        text.contains("<script>alert('x')</script>"),
        "text is not HTML-escaped"
    );
    app.stop().await;
}

#[tokio::test]
async fn cr_lf_in_a_name_injects_no_header_or_recipient() {
    let app = spawn_app(&[]).await;
    let e = event("order.delayed", |e| {
        e["data"]["customer"]["first_name"] = "Ana\r\nBcc: victim@attacker.example".into();
        e["data"]["customer"]["last_name"] = "García\nX-Injected: yes".into();
    });
    app.publish(&e).await;
    let emails = app.wait_for_files(&app.email_dir(), 1).await;
    let eml = read(&emails[0]);
    let parsed = mailparse::parse_mail(eml.as_bytes()).unwrap();
    for header in &parsed.headers {
        let key = header.get_key().to_ascii_lowercase();
        assert_ne!(key, "bcc", "{eml}");
        assert_ne!(key, "x-injected", "{eml}");
        assert!(!header.get_value().contains('\n'));
    }
    let to: Vec<_> = parsed
        .headers
        .iter()
        .filter(|h| h.get_key().eq_ignore_ascii_case("to"))
        .collect();
    assert_eq!(to.len(), 1);
    let addresses = mailparse::addrparse_header(to[0]).unwrap();
    assert_eq!(addresses.len(), 1, "{eml}");
    match &addresses[0] {
        mailparse::MailAddr::Single(single) => assert_eq!(single.addr, "ana@example.com"),
        group => panic!("To is a group: {group:?}"),
    }
    assert!(!eml.contains("victim@attacker.example>"));
    app.stop().await;
}

#[tokio::test]
async fn health_readiness_and_metrics_answer() {
    let app = spawn_app(&[]).await;
    app.publish(&event("order.delayed", |_| {})).await;
    app.publish_raw("order.delayed", b"garbage", None).await;
    app.wait_for_files(&app.email_dir(), 1).await;
    app.dead_letters(1).await;

    let client = crate::helpers::http_client();
    let health = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let body: Value = ready.json().await.unwrap();
    assert_eq!(body["database"], "ok");
    assert_eq!(body["broker"], "ok");

    // Counters are bumped just after the file lands; poll until the scrape shows both.
    let metrics = crate::helpers::wait_until("metrics to show the events", || async {
        let text = app.scrape_metrics().await?;
        let sent = text
            .lines()
            .any(|l| l.starts_with("amends_messages_sent_total{") && l.ends_with(" 1"));
        (sent && text.contains("amends_events_dead_lettered_total 1")).then_some(text)
    })
    .await;
    assert!(
        metrics.contains("amends_events_received_total 2"),
        "{metrics}"
    );
    assert!(
        metrics.contains("amends_event_processing_seconds_bucket"),
        "{metrics}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_sent_message_is_announced_as_a_cloudevent() {
    let app = spawn_app(&[]).await;
    let listener = app.listen_to_outcome_events().await;
    let e = event("order.delayed", not_vip);
    app.publish(&e).await;
    // The sample's VIP customer also gets a discount code: compensation.issued comes too.
    let events = app.take(&listener, 2).await;
    let (body, properties) = events
        .iter()
        .find(|(body, _)| {
            serde_json::from_slice::<Value>(body).is_ok_and(|v| v["type"] == "notification.sent")
        })
        .expect("a notification.sent event");
    assert_eq!(
        properties.content_type().as_ref().map(|c| c.as_str()),
        Some("application/cloudevents+json")
    );
    let outcome: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(outcome["specversion"], "1.0");
    assert_eq!(outcome["type"], "notification.sent");
    assert!(!outcome["source"].as_str().unwrap().is_empty());
    let data = &outcome["data"];
    assert_eq!(data["incident"]["id"], e["id"]);
    assert_eq!(data["incident"]["source"], e["source"]);
    assert_eq!(data["order_id"], e["data"]["order"]["id"]);
    assert_eq!(data["channel"], "email");
    assert_eq!(data["provider"], "outbox");
    assert!(
        !body.windows(15).any(|w| w == b"ana@example.com"),
        "no contact details"
    );
    app.wait_for_count(
        "select count(*) from outcome_event where status = 'published'",
        2,
    )
    .await;
    app.stop().await;
}

#[tokio::test]
async fn two_replicas_share_the_work_and_send_each_message_once() {
    const EVENTS: usize = 200;
    let first = spawn_app(&[]).await;
    let second = first.spawn_replica(&[]).await;
    for _ in 0..EVENTS {
        first.publish(&event("order.delayed", not_vip)).await;
    }
    first.wait_for_files(&first.email_dir(), EVENTS).await;
    first
        .wait_for_count(
            "select count(*) from outbox where status = 'sent'",
            EVENTS as i64,
        )
        .await;
    assert_eq!(files(&first.email_dir()).len(), EVENTS);
    assert_eq!(
        first.count("select count(*) from attempt").await,
        EVENTS as i64,
        "no message was attempted twice"
    );
    assert_eq!(
        first
            .count("select count(distinct instance) from attempt")
            .await,
        2,
        "both replicas sent messages"
    );
    second.stop().await;
    first.stop().await;
}

#[tokio::test]
async fn dead_letters_are_listed_with_their_reason_and_replayed_after_a_fix() {
    use lapin::types::{AMQPValue, FieldTable};
    let app = spawn_app(&[]).await;
    // One the daemon refuses, and one a past failure left behind (since fixed).
    app.publish_raw("order.delayed", b"{not json", Some("application/json"))
        .await;
    let waiting = event("order.delayed", |_| {});
    let mut headers = FieldTable::default();
    for (name, value) in [
        (
            "x-amends-error",
            "rendering order-delayed: the template was broken",
        ),
        ("x-amends-original-exchange", app.names.exchange.as_str()),
        ("x-amends-original-routing-key", "order.delayed"),
    ] {
        headers.insert(name.into(), AMQPValue::LongString(value.into()));
    }
    app.put_dead_letter(&serde_json::to_vec(&waiting).unwrap(), headers)
        .await;

    let env = app.names.env(app.outbox.path());
    let amends = |args: &[&str]| {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_amends"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output()
            .expect("amends runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    };
    let id = waiting["id"].as_str().unwrap();
    // The daemon dead-letters the malformed one in a moment.
    let text = crate::helpers::wait_until("both messages in the dead-letter queue", || async {
        let (ok, text) = amends(&["dead-letters", "list"]);
        (ok && text.contains("2 message(s)")).then_some(text)
    })
    .await;
    assert!(text.contains(&format!("{id}  order.delayed")), "{text}");
    assert!(text.contains("the template was broken"), "{text}");
    assert!(
        text.contains("not valid JSON") || text.contains("JSON"),
        "{text}"
    );
    // Listing left both in the queue.
    let (_, again) = amends(&["dead-letters", "list"]);
    assert!(again.contains("2 message(s)"), "{again}");

    let (ok, text) = amends(&["dead-letters", "replay", id]);
    assert!(ok, "{text}");
    assert!(text.contains("1 message(s) replayed"), "{text}");
    app.wait_for_count("select count(*) from outbox where status = 'sent'", 1)
        .await;
    let (_, left) = amends(&["dead-letters", "list"]);
    assert!(
        left.contains("1 message(s)") && !left.contains(id),
        "{left}"
    );
    let (ok, text) = amends(&["dead-letters", "replay", id]);
    assert!(!ok && text.contains("no message with id"), "{text}");
    app.stop().await;
}

//! The watch in the admin API (`GET /api/watches`) against the real daemon and PostgreSQL: the
//! counts of open watches by state, the list filtered by state (open ones by default, the most
//! urgent first), a state it does not know refused with 422, nothing without the admin token,
//! tracking pages linked only when they are web addresses; and an order the watcher found
//! overdue listed with its incident.
//!
//! The first test writes the watches through the store as the consumer and the watcher do, with
//! promises weeks away, so the daemon's own watcher leaves them as they are.

use chrono::{DateTime, Days, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};

use amends::store::{DueWatch, PromiseNews, Store, WatchMark, WatchNews};

use crate::helpers::{TestApp, event, http_client, not_vip, spawn_app, wait_until};

const TOKEN: &str = "watch-api-test-token-0123456789abcdef";

/// `GET path` with the admin token: the status and the JSON answer.
async fn get(app: &TestApp, path: &str) -> (StatusCode, Value) {
    let response = http_client()
        .get(app.url(path))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("request");
    let status = response.status();
    let text = response.text().await.expect("body");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// `GET path`, which must answer 200: the JSON answer.
async fn get_ok(app: &TestApp, path: &str) -> Value {
    let (status, body) = get(app, path).await;
    assert_eq!(status, StatusCode::OK, "GET {path}: {body}");
    body
}

/// The order ids of a list's watches, in order.
fn orders(list: &Value) -> Vec<String> {
    list["watches"]
        .as_array()
        .expect("watches")
        .iter()
        .map(|w| w["order_id"].as_str().expect("order id").to_owned())
        .collect()
}

/// The watch of `order` in a list.
fn watch_of<'a>(list: &'a Value, order: &str) -> &'a Value {
    list["watches"]
        .as_array()
        .expect("watches")
        .iter()
        .find(|w| w["order_id"] == order)
        .unwrap_or_else(|| panic!("order {order} not in {list}"))
}

/// The store on the test's database, as another replica would open it.
async fn store(app: &TestApp) -> Store {
    Store::open(
        &secrecy::SecretString::from(app.names.database_url()),
        2,
        "watch-api-test",
    )
    .await
    .expect("the database opens")
}

/// A day `days` after today, overdue the day after at midnight UTC.
fn promise(days: u64) -> (NaiveDate, DateTime<Utc>) {
    let day = Utc::now()
        .date_naive()
        .checked_add_days(Days::new(days))
        .expect("a date");
    let at = day
        .succ_opt()
        .expect("a next day")
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    (day, at)
}

/// One order of the test: its sample `order.placed`, with a fresh order and customer.
struct Order {
    id: String,
    customer: String,
    payload: Value,
}

impl Order {
    fn new(number: &str) -> Order {
        let payload = event("order.placed", |e| {
            e["data"]["order"]["number"] = number.into();
        });
        Order {
            id: payload["data"]["order"]["id"].as_str().unwrap().to_owned(),
            customer: payload["data"]["customer"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
            payload,
        }
    }

    /// Applies `news` to the order's watch, as the consumer does for an event.
    async fn news(&self, store: &Store, news: PromiseNews, tracking: Option<(&str, &str)>) {
        let payload = self.payload.to_string();
        store
            .watch_order(&WatchNews {
                order_id: &self.id,
                customer_id: &self.customer,
                payload: &payload,
                news,
                carrier: tracking.map(|t| t.0),
                tracking_url: tracking.map(|t| t.1),
            })
            .await
            .expect("watch_order");
    }

    /// Moves the order's watch from `from` to `to`, as the watcher does when it finds it.
    async fn mark(
        &self,
        store: &Store,
        (day, at): (NaiveDate, DateTime<Utc>),
        from: &str,
        to: &str,
        update_due_at: Option<DateTime<Utc>>,
    ) {
        let due = DueWatch {
            order_id: self.id.clone(),
            customer_id: self.customer.clone(),
            order: self.payload["data"]["order"].clone(),
            customer: self.payload["data"]["customer"].clone(),
            deliver_by: day,
            overdue_at: at,
            carrier: None,
            tracking_url: None,
            state: from.to_owned(),
            detected_at: None,
        };
        let event = format!("urn:amends:watch/{}@{day}", self.id);
        let marked = store
            .mark_watch(
                &WatchMark {
                    due: &due,
                    state: to,
                    detected_at: Utc::now(),
                    update_due_at,
                    event: &event,
                    announce: None,
                    source: "urn:amends:test",
                },
                None,
            )
            .await
            .expect("mark_watch");
        assert!(marked, "order {} marked {from} -> {to}", self.id);
    }
}

#[tokio::test]
async fn the_watch_counts_open_orders_by_state_and_lists_them_by_state() {
    let app = spawn_app(&[("AMENDS_ADMIN_TOKEN", TOKEN)]).await;
    let store = store(&app).await;
    let soon = promise(20);
    let later = promise(40);
    let update_due = Utc::now() + chrono::Duration::days(30);

    // Two orders whose promise stands, one tracked; the tracking page of the other is no web
    // address and is never handed to a page.
    let watching = Order::new("#W-1");
    watching
        .news(
            &store,
            PromiseNews::Placed(Some(soon)),
            Some(("DHL", "https://track.example/W-1")),
        )
        .await;
    // The second was placed, then shipped with a later ETA.
    let watching_2 = Order::new("#W-2");
    watching_2
        .news(&store, PromiseNews::Placed(Some(soon)), None)
        .await;
    watching_2
        .news(
            &store,
            PromiseNews::Promise(later.0, later.1),
            Some(("Correos", "javascript:alert(1)")),
        )
        .await;
    // An order never placed (only a shipment's ETA is known) is not watched.
    Order::new("#X-1")
        .news(&store, PromiseNews::Promise(later.0, later.1), None)
        .await;
    // One found overdue (an update promised), one whose update went out, one held over the
    // day's cap.
    let overdue = Order::new("#O-1");
    overdue
        .news(&store, PromiseNews::Placed(Some(soon)), None)
        .await;
    overdue
        .mark(&store, soon, "watching", "overdue", Some(update_due))
        .await;
    let updated = Order::new("#U-1");
    updated
        .news(&store, PromiseNews::Placed(Some(soon)), None)
        .await;
    updated
        .mark(&store, soon, "watching", "overdue", Some(update_due))
        .await;
    updated.mark(&store, soon, "overdue", "updated", None).await;
    let held = Order::new("#H-1");
    held.news(&store, PromiseNews::Placed(Some(soon)), None)
        .await;
    held.mark(&store, soon, "watching", "held", None).await;
    // One placed with no date; one delivered and one cancelled, which are no longer watched.
    let unknown = Order::new("#N-1");
    unknown.news(&store, PromiseNews::Placed(None), None).await;
    let delivered = Order::new("#D-1");
    delivered
        .news(&store, PromiseNews::Placed(Some(soon)), None)
        .await;
    delivered.news(&store, PromiseNews::Delivered, None).await;
    let cancelled = Order::new("#C-1");
    cancelled
        .news(&store, PromiseNews::Placed(Some(soon)), None)
        .await;
    cancelled.news(&store, PromiseNews::Cancelled, None).await;

    // The open ones by default, the most urgent first, with every open state counted.
    let open = get_ok(&app, "/api/watches").await;
    assert_eq!(
        open["counts"],
        json!({"watching": 2, "overdue": 1, "updated": 1, "held": 1, "unknown": 1})
    );
    let listed = orders(&open);
    assert_eq!(listed.len(), 6, "{open}");
    assert_eq!(
        listed[..3],
        [held.id.clone(), overdue.id.clone(), updated.id.clone()],
        "held, overdue and updated come first: {open}"
    );
    assert_eq!(listed[5], unknown.id, "an order with no date comes last");
    assert!(!listed.contains(&delivered.id) && !listed.contains(&cancelled.id));
    assert_eq!(get_ok(&app, "/api/watches?state=open").await, open);

    // Each watch as the console shows it.
    let w = watch_of(&open, &watching.id);
    assert_eq!(w["order_number"], "#W-1");
    assert_eq!(w["customer_id"], watching.customer.as_str());
    assert_eq!(w["state"], "watching");
    assert_eq!(w["deliver_by"], soon.0.to_string());
    assert!(w["overdue_at"].is_string() && w["detected_at"].is_null());
    assert_eq!(w["carrier"], "DHL");
    assert_eq!(w["tracking_url"], "https://track.example/W-1");
    assert!(w["incident_id"].is_null());
    let w = watch_of(&open, &watching_2.id);
    assert_eq!(w["deliver_by"], later.0.to_string());
    assert_eq!(w["carrier"], "Correos");
    assert!(w["tracking_url"].is_null(), "{w}");
    let w = watch_of(&open, &overdue.id);
    assert_eq!(w["state"], "overdue");
    assert!(w["detected_at"].is_string() && w["update_due_at"].is_string());
    assert_eq!(
        w["overdue_event"],
        format!("urn:amends:watch/{}@{}", overdue.id, soon.0)
    );
    let w = watch_of(&open, &held.id);
    assert_eq!(w["state"], "held");
    assert!(w["update_due_at"].is_null());
    let w = watch_of(&open, &unknown.id);
    assert!(w["deliver_by"].is_null() && w["overdue_at"].is_null());

    // One state at a time, closed ones included; the counts stay those of every open state.
    for (state, expected) in [
        ("watching", vec![&watching, &watching_2]),
        ("overdue", vec![&overdue]),
        ("updated", vec![&updated]),
        ("held", vec![&held]),
        ("unknown", vec![&unknown]),
        ("delivered", vec![&delivered]),
        ("cancelled", vec![&cancelled]),
    ] {
        let list = get_ok(&app, &format!("/api/watches?state={state}")).await;
        let mut got = orders(&list);
        got.sort();
        let mut want: Vec<String> = expected.iter().map(|o| o.id.clone()).collect();
        want.sort();
        assert_eq!(got, want, "state {state}: {list}");
        assert!(
            list["watches"]
                .as_array()
                .unwrap()
                .iter()
                .all(|w| w["state"] == state)
        );
        assert_eq!(list["counts"], open["counts"]);
    }

    // A limit is a limit.
    let one = get_ok(&app, "/api/watches?limit=1").await;
    assert_eq!(orders(&one), std::slice::from_ref(&held.id));

    // A state it does not know is refused, naming the ones it does.
    let (status, body) = get(&app, "/api/watches?state=late").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("late") && error.contains("open") && error.contains("held"),
        "{body}"
    );

    // Nothing without the admin token, or with a wrong one.
    let http = http_client();
    let anonymous = http.get(app.url("/api/watches")).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let wrong = http
        .get(app.url("/api/watches"))
        .bearer_auth("not-the-token-0123456789abcdef0123456789")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    // The OpenAPI document describes it.
    let doc = get_ok(&app, "/api/openapi.json").await;
    assert!(doc["paths"]["/api/watches"]["get"].is_object(), "{doc}");
    assert!(doc["components"]["schemas"]["WatchList"].is_object());
    assert!(
        doc["tags"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["name"] == "watch")
    );

    store.close().await;
    app.stop().await;
}

#[tokio::test]
async fn an_order_found_overdue_is_listed_with_its_incident() {
    let app = spawn_app(&[
        ("AMENDS_ADMIN_TOKEN", TOKEN),
        ("AMENDS_OVERDUE_CHECK_INTERVAL", "100ms"),
    ])
    .await;
    // Promised a week ago, never a word since: overdue now.
    let placed = event("order.placed", |e| {
        not_vip(e);
        let day = Utc::now()
            .date_naive()
            .checked_sub_days(Days::new(7))
            .expect("a date");
        e["data"]["promise"] = json!({ "deliver_by": day.format("%Y-%m-%d").to_string() });
    });
    let order = placed["data"]["order"]["id"].as_str().unwrap().to_owned();
    app.publish(&placed).await;

    let watch = wait_until("the order listed overdue with its incident", || async {
        let list = get_ok(&app, "/api/watches?state=overdue").await;
        list["watches"]
            .as_array()?
            .iter()
            .find(|w| w["order_id"] == order.as_str() && w["incident_id"].is_string())
            .cloned()
    })
    .await;
    assert!(watch["detected_at"].is_string() && watch["update_due_at"].is_string());
    let incident = watch["incident_id"].as_str().unwrap();
    let opened = get_ok(&app, &format!("/api/incidents/{incident}")).await;
    assert_eq!(opened["event"]["type"], "order.overdue");
    assert_eq!(
        get_ok(&app, "/api/watches").await["counts"]["overdue"],
        1,
        "the open counts include it"
    );
    app.stop().await;
}

//! `/healthz` and `/readyz` tell the truth from what the daemon already knows, without opening
//! anything per probe.

use serde_json::Value;

use crate::helpers::{AMQP_URL, event, http_client, spawn_app, wait_until};
use crate::proxy::Proxy;

#[tokio::test]
async fn ready_only_once_the_consumer_is_consuming() {
    // The broker is out of reach when the daemon starts (through a proxy the test holds cut).
    let proxy = Proxy::start("127.0.0.1:5672".parse().unwrap()).await;
    proxy.cut().await;
    let url = AMQP_URL.replace(":5672", &format!(":{}", proxy.port()));
    let app = spawn_app(&[("AMENDS_AMQP_URL", url.as_str())]).await;
    let client = http_client();
    let probe = |path: &'static str| {
        let client = client.clone();
        let url = app.url(path);
        async move {
            let answer = client.get(url).send().await.ok()?;
            let status = answer.status().as_u16();
            Some((status, answer.text().await.ok()?))
        }
    };
    // Alive (the consumer keeps trying), not ready: it consumes nothing.
    let not_ready = wait_until("the database to be seen", || async {
        let (status, body) = probe("/readyz").await?;
        let body: Value = serde_json::from_str(&body).ok()?;
        (body["database"] == "ok").then_some((status, body))
    })
    .await;
    assert_eq!(not_ready.0, 503, "{}", not_ready.1);
    assert_eq!(not_ready.1["broker"], "not consuming");
    assert_eq!(probe("/healthz").await, Some((200, "ok\n".to_owned())));

    proxy.restore();
    wait_until("ready once consuming", || async {
        let (status, _) = probe("/readyz").await?;
        (status == 200).then_some(())
    })
    .await;
    // Ready means the queue is bound: an event published now is taken.
    app.publish(&event("order.delayed", |_| {})).await;
    app.wait_for_files(&app.email_dir(), 1).await;

    // A flood of probes opens nothing and every one is answered.
    let flood: Vec<_> = (0..500).map(|_| probe("/readyz")).collect();
    let answers = futures_util::future::join_all(flood).await;
    assert!(
        answers
            .iter()
            .all(|a| a.as_ref().is_some_and(|(s, _)| *s == 200)),
        "every probe answered ready"
    );
    let metrics = app.scrape_metrics().await.unwrap_or_default();
    for task in [
        "consumer",
        "dispatcher",
        "announcer",
        "policy_reloader",
        "template_reloader",
    ] {
        assert!(
            metrics.contains(&format!("amends_task_up{{task=\"{task}\"}} 1")),
            "{task} up: {metrics}"
        );
    }
    app.stop().await;
}

//! The announcer: publishes outcome events (`notification.sent`, `notification.failed`) to the
//! events exchange as CloudEvents, with publisher confirms.
//!
//! Events are recorded in the database together with the outcome they announce; this task only
//! moves them to the broker. It claims a batch with a lease, publishes every event, waits for the
//! broker's confirms and only then marks them published. If it dies in between, the lease expires
//! and the events are published again with the same id: at least once, never lost.

use std::sync::Arc;
use std::time::Duration;

use cloudevents::{EventBuilder, EventBuilderV10};
use lapin::{BasicProperties, Channel};
use secrecy::SecretString;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::broker::{self, BrokerError};
use crate::store::{OutcomeEvent, Store};

/// Events claimed and published per round.
const BATCH: u32 = 100;

/// Publishes recorded outcome events until cancelled.
pub struct Announcer {
    /// The database.
    pub store: Store,
    /// Broker URL.
    pub amqp_url: SecretString,
    /// Topic exchange the events go to (routing key = event type).
    pub exchange: String,
    /// This replica's name, owner of its claims.
    pub instance: String,
    /// How often to look when not woken.
    pub poll_interval: Duration,
    /// How long a claim lasts.
    pub lease: Duration,
    /// Notified when new outcome events were recorded.
    pub wake: Arc<Notify>,
}

impl Announcer {
    /// Runs until `token` is cancelled, then publishes what is recorded and returns; reconnects
    /// to the broker with backoff meanwhile.
    pub async fn run(self, token: CancellationToken) {
        let mut backoff = Duration::from_millis(500);
        while !token.is_cancelled() {
            match self.publish_until_cancelled(&token).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::error!(error = %e, retry_in = ?backoff, "announcer lost the broker");
                    tokio::select! {
                        _ = token.cancelled() => break,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(30));
                }
            }
        }
        tracing::info!("announcer stopped");
    }

    async fn publish_until_cancelled(&self, token: &CancellationToken) -> Result<(), BrokerError> {
        let name = format!("{}-announcer", self.instance);
        let connection = broker::connect(&self.amqp_url, &name).await?;
        let channel = broker::confirm_channel(&connection).await?;
        broker::declare_events_exchange(&channel, &self.exchange).await?;
        let result = loop {
            // Once cancelled, publish what is already recorded, then stop.
            let stopping = token.is_cancelled();
            let events = match self
                .store
                .claim_outcome_events(&self.instance, self.lease, BATCH)
                .await
            {
                Ok(events) => events,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming outcome events failed");
                    Vec::new()
                }
            };
            let full = events.len() == BATCH as usize;
            if !events.is_empty() {
                match self.publish(&channel, &events).await {
                    Ok(ids) => {
                        if let Err(e) = self
                            .store
                            .mark_outcome_events_published(&ids, &self.instance)
                            .await
                        {
                            // The claims expire and the events go out again: consumers dedupe by id.
                            tracing::warn!(error = %e, "marking outcome events published failed");
                        }
                    }
                    Err(e) => break Err(e),
                }
            }
            if stopping && !full {
                break Ok(());
            }
            if !full {
                tokio::select! {
                    _ = token.cancelled() => {}
                    _ = self.wake.notified() => {}
                    _ = tokio::time::sleep(self.poll_interval) => {}
                }
            }
        };
        let _ = broker::timed(
            "closing the connection",
            connection.close(200, "shutdown".into()),
        )
        .await;
        result
    }

    /// Publishes every event, then waits for all confirms; returns the ids the broker took.
    async fn publish(
        &self,
        channel: &Channel,
        events: &[OutcomeEvent],
    ) -> Result<Vec<Uuid>, BrokerError> {
        let mut pending = Vec::with_capacity(events.len());
        for event in events {
            let body = match cloud_event(event) {
                Ok(body) => body,
                Err(e) => {
                    tracing::error!(event_id = %event.id, error = %e, "cannot encode outcome event");
                    continue;
                }
            };
            let properties = BasicProperties::default()
                .with_content_type("application/cloudevents+json".into())
                .with_message_id(event.id.to_string().as_str().into())
                .with_type(event.event_type.as_str().into())
                .with_delivery_mode(2);
            let confirm = broker::timed(
                "publishing an outcome event",
                channel.basic_publish(
                    self.exchange.as_str().into(),
                    event.event_type.as_str().into(),
                    Default::default(),
                    &body,
                    properties,
                ),
            )
            .await?;
            pending.push((event.id, confirm));
        }
        let mut confirmed = Vec::with_capacity(pending.len());
        for (id, confirm) in pending {
            let confirmation =
                broker::timed("waiting for an outcome event confirm", confirm).await?;
            if confirmation.is_ack() {
                confirmed.push(id);
            } else {
                tracing::warn!(event_id = %id, "the broker refused an outcome event; it will be retried");
            }
        }
        Ok(confirmed)
    }
}

/// The event as a structured-mode CloudEvent (JSON).
fn cloud_event(event: &OutcomeEvent) -> Result<Vec<u8>, String> {
    let mut builder = EventBuilderV10::new()
        .id(event.id.to_string())
        .source(event.source.clone())
        .ty(event.event_type.clone())
        .time(event.time)
        .data("application/json", event.data.clone());
    if let Some(subject) = &event.subject {
        builder = builder.subject(subject.clone());
    }
    // The CloudEvents distributed-tracing extension: the trace of the incident it is about.
    if let Some(traceparent) = &event.traceparent {
        builder = builder.extension("traceparent", traceparent.clone());
    }
    let cloud_event = builder.build().map_err(|e| e.to_string())?;
    serde_json::to_vec(&cloud_event).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_events_are_structured_cloudevents() {
        let event = OutcomeEvent {
            id: Uuid::nil(),
            source: "amends-1".into(),
            event_type: "notification.sent".into(),
            subject: Some("n-1".into()),
            data: serde_json::json!({ "order_id": "A-1" }),
            time: "2026-11-23T10:00:00Z".parse().unwrap(),
            traceparent: Some("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01".into()),
        };
        let json: serde_json::Value =
            serde_json::from_slice(&cloud_event(&event).unwrap()).unwrap();
        assert_eq!(json["specversion"], "1.0");
        assert_eq!(json["id"], Uuid::nil().to_string());
        assert_eq!(json["source"], "amends-1");
        assert_eq!(json["type"], "notification.sent");
        assert_eq!(json["subject"], "n-1");
        assert_eq!(json["datacontenttype"], "application/json");
        assert_eq!(json["data"]["order_id"], "A-1");
        assert_eq!(json["time"], "2026-11-23T10:00:00Z");
        assert_eq!(
            json["traceparent"],
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
        );
    }
}

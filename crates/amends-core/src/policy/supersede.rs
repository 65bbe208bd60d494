//! Supersession: a newer incident on an order replaces the messages of earlier ones that are
//! still waiting to go out (held by quiet hours or a rule's `delay`), rather than joining them.
//!
//! A waiting message is cancelled when the newer incident is at least as serious as its own
//! (delay < stockout < cancellation): a cancellation drops a pending delay notice, a dated delay
//! replaces an undated one. A less serious incident replaces nothing: the customer will hear of
//! the more serious one, and the frequency window coalesces the lesser into it. An incident that
//! the order system says happened before the waiting one replaces nothing either.
//!
//! An earlier incident whose messages were all replaced before any went out is one the customer
//! never heard of: the newer one is decided as if it had never been recorded (no coalescing into
//! it, no "again", nothing deducted for what it gave).

use super::frequency::severity;
use super::{History, PriorIncident};
use crate::incident::Incident;

/// Whether `incident` replaces the waiting messages of the earlier incident `prior` of its order.
pub fn supersedes(incident: &Incident, prior: &PriorIncident) -> bool {
    let newer = match (incident.time, prior.occurred_at) {
        (Some(new), Some(old)) => new >= old,
        // Without both times, arrival order is the order.
        _ => true,
    };
    prior.waiting && newer && severity(incident.event_type) >= severity(prior.event_type)
}

impl History {
    /// The positions in [`History::order_incidents`] of the earlier incidents whose waiting
    /// messages `incident` replaces.
    pub fn superseded_by(&self, incident: &Incident) -> Vec<usize> {
        self.order_incidents
            .iter()
            .enumerate()
            .filter(|(_, prior)| supersedes(incident, prior))
            .map(|(i, _)| i)
            .collect()
    }

    /// Forgets the earlier incidents at `positions`, whose messages were all replaced before the
    /// customer heard any of them, and says so, one line each for the explanation.
    pub fn forget_unheard(&mut self, positions: &[usize]) -> Vec<String> {
        let mut lines = Vec::new();
        let mut position = 0;
        self.order_incidents.retain(|prior| {
            let forget = positions.contains(&position);
            position += 1;
            if forget {
                lines.push(format!(
                    "replaces the waiting message of {} (recorded {}), never sent: decided as if the customer had not heard of it",
                    prior.event_type.as_str(),
                    prior.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
                ));
            }
            !forget
        });
        lines
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};
    use rust_decimal::Decimal;
    use serde_json::Value;

    use super::*;
    use crate::incident::{IncidentType, Locale, parse, sample};
    use crate::policy::{Frequency, Policy};

    fn incident(event_type: &str, time: Option<&str>) -> Incident {
        let mut event: Value = serde_json::from_str(sample(event_type).unwrap()).unwrap();
        match time {
            Some(t) => event["time"] = t.into(),
            None => {
                event.as_object_mut().unwrap().remove("time");
            }
        }
        let body = serde_json::to_vec(&event).unwrap();
        parse(&body, None, &Locale::parse("en").unwrap()).unwrap()
    }

    fn prior(event_type: IncidentType, waiting: bool, occurred: Option<&str>) -> PriorIncident {
        PriorIncident {
            event_type,
            at: "2026-11-24T02:00:00Z".parse().unwrap(),
            messaged: true,
            given: Decimal::new(495, 2),
            kind: Default::default(),
            eta: None,
            codes: Vec::new(),
            id: Some("019a-prior".to_owned()),
            waiting,
            occurred_at: occurred.map(|t| t.parse().unwrap()),
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-24T02:30:00Z".parse().unwrap()
    }

    #[test]
    fn a_cancellation_replaces_a_waiting_delay_notice_and_a_delay_replaces_a_delay() {
        let cancel = incident("order.cancelled", None);
        assert!(supersedes(
            &cancel,
            &prior(IncidentType::Delayed, true, None)
        ));
        assert!(supersedes(
            &cancel,
            &prior(IncidentType::Cancelled, true, None)
        ));
        let delay = incident("order.delayed", None);
        assert!(supersedes(
            &delay,
            &prior(IncidentType::Delayed, true, None)
        ));
    }

    #[test]
    fn what_went_out_or_is_more_serious_or_newer_is_not_replaced() {
        let delay = incident("order.delayed", Some("2026-11-24T02:20:00Z"));
        // Nothing waiting: it went out (or is going).
        assert!(!supersedes(
            &delay,
            &prior(IncidentType::Delayed, false, None)
        ));
        // A waiting cancellation notice is not replaced by a delay.
        assert!(!supersedes(
            &delay,
            &prior(IncidentType::Cancelled, true, None)
        ));
        assert!(!supersedes(
            &delay,
            &prior(IncidentType::Stockout, true, None)
        ));
        // The order system says the waiting one happened later: it stays.
        let later = prior(IncidentType::Delayed, true, Some("2026-11-24T02:25:00Z"));
        assert!(!supersedes(&delay, &later));
        let earlier = prior(IncidentType::Delayed, true, Some("2026-11-24T02:15:00Z"));
        assert!(supersedes(&delay, &earlier));
    }

    #[test]
    fn a_replaced_incident_the_customer_never_heard_of_is_forgotten() {
        let cancel = incident("order.cancelled", None);
        let mut history = History {
            order_incidents: vec![
                prior(IncidentType::Stockout, false, None),
                prior(IncidentType::Delayed, true, None),
            ],
            ..History::default()
        };
        let replaced = history.superseded_by(&cancel);
        assert_eq!(replaced, vec![1]);
        let lines = history.forget_unheard(&replaced);
        assert_eq!(
            lines,
            vec![
                "replaces the waiting message of order.delayed (recorded 2026-11-24T02:00:00Z), never sent: decided as if the customer had not heard of it"
            ]
        );
        assert_eq!(history.order_incidents.len(), 1);
        assert_eq!(
            history.order_incidents[0].event_type,
            IncidentType::Stockout
        );
    }

    #[test]
    fn a_delay_after_a_forgotten_delay_is_a_first_message_not_coalesced() {
        let policy = Policy::load(&crate::shipped("policy/default.toml")).unwrap();
        let delay = incident("order.delayed", None);
        // The waiting notice told the same date, so this one brings no news of its own.
        let mut waiting = prior(IncidentType::Delayed, true, None);
        waiting.eta = crate::incident::Eta::parse("2026-11-29").ok();
        let mut history = History {
            order_incidents: vec![waiting],
            ..History::default()
        };
        // Without supersession, it would be coalesced into the waiting one.
        let joined = policy.decide(&delay, &history, now());
        assert!(joined.coalesced.is_some());
        let replaced = history.superseded_by(&delay);
        history.forget_unheard(&replaced);
        let decision = policy.decide(&delay, &history, now());
        assert_eq!(decision.coalesced, None);
        assert!(!decision.channels.is_empty());
        assert_eq!(
            Frequency::assess(
                &history.order_incidents,
                delay.event_type,
                now(),
                policy.settings().order_window
            ),
            Frequency::First
        );
    }
}

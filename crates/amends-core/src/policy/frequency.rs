//! Frequency: at most one apology per order per window. A later, more serious incident on the
//! same order within the window upgrades the apology; one that is no more serious is coalesced
//! into the earlier one (recorded, nothing sent).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::facts::PriorIncident;
use crate::incident::IncidentType;

/// How serious an incident type is, for upgrades: a delay < a stockout < a cancellation.
pub fn severity(event_type: IncidentType) -> u8 {
    match event_type {
        IncidentType::Delayed => 1,
        IncidentType::Stockout => 2,
        IncidentType::Cancelled => 3,
    }
}

/// What the order's recent history means for a new incident.
#[derive(Debug, Clone, PartialEq)]
pub enum Frequency {
    /// Nothing was said about this order within the window.
    First,
    /// The customer heard about this order within the window, but this incident is more serious.
    Upgrade {
        /// The most serious incident already told.
        previous: IncidentType,
    },
    /// The customer heard about this order within the window, about something as serious.
    Repeat {
        /// The incident already told.
        previous: IncidentType,
        /// When it was recorded.
        at: DateTime<Utc>,
    },
}

impl Frequency {
    /// Assesses `new` against the earlier incidents of its order. An incident recorded exactly
    /// `window` ago is outside the window.
    pub fn assess(
        prior: &[PriorIncident],
        new: IncidentType,
        now: DateTime<Utc>,
        window: Duration,
    ) -> Frequency {
        let window = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::MAX);
        let recent = prior
            .iter()
            .filter(|p| p.messaged && now.signed_duration_since(p.at) < window)
            .max_by_key(|p| (severity(p.event_type), p.at));
        match recent {
            None => Frequency::First,
            Some(p) if severity(p.event_type) >= severity(new) => Frequency::Repeat {
                previous: p.event_type,
                at: p.at,
            },
            Some(p) => Frequency::Upgrade {
                previous: p.event_type,
            },
        }
    }

    /// One line for the explanation.
    pub fn describe(&self, window: Duration) -> String {
        let window = humantime::format_duration(window);
        match self {
            Frequency::First => format!("no message about this order in the last {window}"),
            Frequency::Upgrade { previous } => format!(
                "the customer was told of {} on this order in the last {window}; this is more serious, so it upgrades that message",
                previous.as_str()
            ),
            Frequency::Repeat { previous, at } => format!(
                "coalesced: the customer was told of {} on this order at {} (within {window}); one apology per order per window",
                previous.as_str(),
                at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal::Decimal;

    fn prior(event_type: IncidentType, at: &str) -> PriorIncident {
        PriorIncident {
            event_type,
            at: at.parse().unwrap(),
            messaged: true,
            given: Decimal::ZERO,
            id: None,
            waiting: false,
            occurred_at: None,
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-24T12:00:00Z".parse().unwrap()
    }

    const DAY: Duration = Duration::from_secs(86_400);

    #[test]
    fn first_incident_on_an_order() {
        assert_eq!(
            Frequency::assess(&[], IncidentType::Delayed, now(), DAY),
            Frequency::First
        );
    }

    #[test]
    fn the_same_kind_again_within_the_window_is_coalesced() {
        let p = [prior(IncidentType::Delayed, "2026-11-24T00:00:00Z")];
        assert!(matches!(
            Frequency::assess(&p, IncidentType::Delayed, now(), DAY),
            Frequency::Repeat {
                previous: IncidentType::Delayed,
                ..
            }
        ));
        // Something less serious than what was told is coalesced too.
        let p = [prior(IncidentType::Cancelled, "2026-11-24T00:00:00Z")];
        assert!(matches!(
            Frequency::assess(&p, IncidentType::Stockout, now(), DAY),
            Frequency::Repeat { .. }
        ));
    }

    #[test]
    fn a_more_serious_incident_upgrades() {
        let p = [prior(IncidentType::Delayed, "2026-11-24T00:00:00Z")];
        assert_eq!(
            Frequency::assess(&p, IncidentType::Cancelled, now(), DAY),
            Frequency::Upgrade {
                previous: IncidentType::Delayed
            }
        );
    }

    #[test]
    fn the_window_boundary() {
        // Exactly one window ago: expired, a fresh message.
        let p = [prior(IncidentType::Delayed, "2026-11-23T12:00:00Z")];
        assert_eq!(
            Frequency::assess(&p, IncidentType::Delayed, now(), DAY),
            Frequency::First
        );
        // One second inside the window: coalesced.
        let p = [prior(IncidentType::Delayed, "2026-11-23T12:00:01Z")];
        assert!(matches!(
            Frequency::assess(&p, IncidentType::Delayed, now(), DAY),
            Frequency::Repeat { .. }
        ));
    }

    #[test]
    fn incidents_that_sent_nothing_do_not_count() {
        let mut p = prior(IncidentType::Delayed, "2026-11-24T11:00:00Z");
        p.messaged = false;
        assert_eq!(
            Frequency::assess(&[p], IncidentType::Delayed, now(), DAY),
            Frequency::First
        );
    }
}

//! Frequency: at most one apology per order per window. A later, more serious incident on the
//! same order within the window upgrades the apology; one that is no more serious is coalesced
//! into the earlier one (recorded, nothing sent). An update is news the customer was promised,
//! never coalesced; a follow-up is sent once per order and closing event.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};

use super::facts::PriorIncident;
use crate::incident::IncidentType;

/// How serious an incident type is, for upgrades: a delay < a stockout < a cancellation; the
/// closing events (shipped, delivered) are no harm at all.
pub fn severity(event_type: IncidentType) -> u8 {
    match event_type {
        IncidentType::Shipped | IncidentType::Delivered | IncidentType::Placed => 0,
        IncidentType::Delayed | IncidentType::Overdue => 1,
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
    /// News about a delay the customer was told of: sent whatever the window.
    Update {
        /// The date last told (`None`: unknown).
        told: Option<NaiveDate>,
        /// The new date.
        new: Option<NaiveDate>,
    },
    /// A first follow-up after this closing event, on an order that had an incident.
    FollowUp {
        /// The order's last incident.
        after: IncidentType,
        /// When it was recorded.
        at: DateTime<Utc>,
    },
    /// The customer already had a follow-up after this closing event on this order.
    FollowedUp {
        /// The closing event.
        event: IncidentType,
        /// When that follow-up was recorded.
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
        // Follow-ups are no apology: they neither cover nor are covered by one.
        let recent = prior
            .iter()
            .filter(|p| !p.event_type.closes_loop())
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

    /// A follow-up after `event`: the first on this order after such an event, or one already
    /// sent (any time); `None` when the order had no incident to follow up.
    pub fn follow_up(prior: &[PriorIncident], event: IncidentType) -> Option<Frequency> {
        if let Some(done) = prior
            .iter()
            .filter(|p| p.messaged && p.event_type == event)
            .max_by_key(|p| p.at)
        {
            return Some(Frequency::FollowedUp { event, at: done.at });
        }
        prior
            .iter()
            .filter(|p| !p.event_type.closes_loop())
            .max_by_key(|p| p.at)
            .map(|p| Frequency::FollowUp {
                after: p.event_type,
                at: p.at,
            })
    }

    /// Whether the message is left out because an earlier one covers it.
    pub fn coalesces(&self) -> bool {
        matches!(
            self,
            Frequency::Repeat { .. } | Frequency::FollowedUp { .. }
        )
    }

    /// One line for the explanation.
    pub fn describe(&self, window: Duration) -> String {
        let stamp = |at: &DateTime<Utc>| at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let date = |d: &Option<NaiveDate>| match d {
            Some(d) => d.format("%Y-%m-%d").to_string(),
            None => "the date was unknown".to_owned(),
        };
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
                stamp(at)
            ),
            Frequency::Update { told, new } => format!(
                "an update, never coalesced: the customer was last told {}, now {}",
                date(told),
                date(new)
            ),
            Frequency::FollowUp { after, at } => format!(
                "a follow-up: the order had {} at {}",
                after.as_str(),
                stamp(at)
            ),
            Frequency::FollowedUp { event, at } => format!(
                "coalesced: the customer already had a follow-up after {} on this order at {}; one per order",
                event.as_str(),
                stamp(at)
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
            kind: crate::policy::RuleKind::Apology,
            eta: None,
            codes: Vec::new(),
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

    #[test]
    fn follow_ups_neither_cover_nor_are_covered_by_apologies() {
        // A follow-up sent an hour ago does not coalesce a new delay.
        let p = [prior(IncidentType::Delivered, "2026-11-24T11:00:00Z")];
        assert_eq!(
            Frequency::assess(&p, IncidentType::Delayed, now(), DAY),
            Frequency::First
        );
        // A follow-up comes after the order's last incident, once per closing event.
        let mut p = vec![
            prior(IncidentType::Delayed, "2026-11-20T10:00:00Z"),
            prior(IncidentType::Stockout, "2026-11-21T10:00:00Z"),
        ];
        let first = Frequency::follow_up(&p, IncidentType::Delivered).unwrap();
        assert!(matches!(
            first,
            Frequency::FollowUp {
                after: IncidentType::Stockout,
                ..
            }
        ));
        assert!(!first.coalesces());
        p.push(prior(IncidentType::Shipped, "2026-11-22T10:00:00Z"));
        assert!(
            !Frequency::follow_up(&p, IncidentType::Delivered)
                .unwrap()
                .coalesces()
        );
        p.push(prior(IncidentType::Delivered, "2026-11-23T10:00:00Z"));
        let again = Frequency::follow_up(&p, IncidentType::Delivered).unwrap();
        assert!(again.coalesces());
        assert!(again.describe(DAY).contains("already had a follow-up"));
        // No incident to follow up.
        assert_eq!(
            Frequency::follow_up(
                &[prior(IncidentType::Shipped, "2026-11-22T10:00:00Z")],
                IncidentType::Delivered
            ),
            None
        );
    }

    #[test]
    fn updates_say_what_changed() {
        let date = |s: &str| s.parse::<NaiveDate>().ok();
        let news = Frequency::Update {
            told: None,
            new: date("2026-11-29"),
        };
        assert!(!news.coalesces());
        assert_eq!(
            news.describe(DAY),
            "an update, never coalesced: the customer was last told the date was unknown, now 2026-11-29"
        );
    }
}

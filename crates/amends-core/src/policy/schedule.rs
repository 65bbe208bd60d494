//! When each channel's message goes out: the decision's time (now, or after the rule's `delay`),
//! moved to the end of that channel's quiet hours in the customer's own time zone when it falls
//! in them. The quiet hours are the configured ones of the channel unless the rule sets its own.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Channel, Decision, SendMode};
use crate::incident::TimeZone;
use crate::timing::QuietHours;

/// The quiet hours of each channel where a rule does not set its own (the daemon's
/// configuration: `sms_quiet_hours`, `email_quiet_hours`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QuietDefaults {
    /// Email's.
    pub email: QuietHours,
    /// SMS's.
    pub sms: QuietHours,
}

impl QuietDefaults {
    /// The configured quiet hours of `channel`.
    pub fn of(&self, channel: Channel) -> QuietHours {
        match channel {
            Channel::Email => self.email,
            Channel::Sms => self.sms,
        }
    }
}

/// A rule's own quiet hours per channel (its `quiet_hours`); a channel it does not name keeps
/// the configured ones.
pub type QuietOverride = BTreeMap<Channel, QuietHours>;

/// When one channel's message is due, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Due {
    /// The channel.
    pub channel: Channel,
    /// When it may go out.
    pub at: DateTime<Utc>,
    /// The quiet hours that apply to it (checked again when it is sent, should it be retried or
    /// stand in for another message later).
    pub quiet_hours: QuietHours,
    /// Why it waits past the moment of the decision, when it does: the rule's delay, the quiet
    /// hours, or both.
    pub waits: Option<String>,
    /// One line for the explanation.
    pub line: String,
}

/// `at` on the customer's wall clock, with the zone: `2026-11-24 08:00 Europe/Madrid`.
pub fn local(at: DateTime<Utc>, tz: &TimeZone) -> String {
    format!(
        "{} {}",
        at.with_timezone(&tz.tz()).format("%Y-%m-%d %H:%M"),
        tz.as_str()
    )
}

impl Decision {
    /// When each of the decision's channels is due, decided at `now` for a customer in `tz`. A
    /// channel held in reserve goes out only should it stand in for the first, and then not
    /// before this (its quiet hours are checked again when it does).
    pub fn schedule(
        &self,
        now: DateTime<Utc>,
        tz: &TimeZone,
        defaults: &QuietDefaults,
    ) -> Vec<Due> {
        self.channels
            .iter()
            .enumerate()
            .map(|(position, &channel)| {
                // With `send = "all"` every channel goes out; else those after the first stand by.
                let reserve = position > 0 && self.send == SendMode::First;
                let own = self.quiet_hours.get(&channel).copied();
                let quiet = own.unwrap_or_else(|| defaults.of(channel));
                let at = quiet.next_allowed(self.send_at, tz.tz());
                let mut why = Vec::new();
                if self.send_at > now {
                    let delay = (self.send_at - now).to_std().unwrap_or_default();
                    why.push(format!(
                        "the rule's delay of {}",
                        humantime::format_duration(delay)
                    ));
                }
                let whose = match own {
                    Some(_) => format!("rule {}", self.rule),
                    None => "configured".to_owned(),
                };
                if at > self.send_at {
                    why.push(format!(
                        "{} there is in the {channel} quiet hours {quiet} ({whose})",
                        self.send_at.with_timezone(&tz.tz()).format("%H:%M")
                    ));
                }
                let waits = (!why.is_empty()).then(|| why.join("; "));
                let mut line = match (&waits, reserve) {
                    (None, false) => format!("{channel}: at once"),
                    (Some(why), false) => format!("{channel}: {}, as {why}", local(at, tz)),
                    (None, true) => format!("{channel} (in reserve): at once, should it stand in"),
                    (Some(why), true) => format!(
                        "{channel} (in reserve): not before {}, should it stand in, as {why}",
                        local(at, tz)
                    ),
                };
                match (own, defaults.of(channel)) {
                    (Some(QuietHours::Off), QuietHours::Window(w)) => {
                        line.push_str(&format!(
                            " (rule {} turns off the quiet hours {w})",
                            self.rule
                        ));
                    }
                    (_, _) if waits.is_none() && quiet != QuietHours::Off => {
                        line.push_str(&format!(" (outside the quiet hours {quiet}, {whose})"));
                    }
                    _ => {}
                }
                Due {
                    channel,
                    at,
                    quiet_hours: quiet,
                    waits,
                    line,
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{Locale, parse, sample};
    use crate::policy::{History, Policy};

    fn utc(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    const RULES: &str = r#"
        [[rule]]
        name = "cancel"
        when = 'incident.type == "order.cancelled"'
        template = "order-cancelled"
        channels = ["sms", "email"]
        quiet_hours = "off"

        [[rule]]
        name = "stockout"
        when = 'incident.type == "order.stockout"'
        template = "order-stockout"
        channels = ["email", "sms"]
        quiet_hours = { email = "22:00-07:00" }
        delay = "30m"

        [[rule]]
        name = "delay"
        template = "order-delayed"
        channels = ["sms", "email"]
    "#;

    fn decide(event_type: &str, now: DateTime<Utc>) -> Decision {
        let policy = Policy::parse(RULES).unwrap();
        let incident = parse(
            sample(event_type).unwrap().as_bytes(),
            None,
            &Locale::parse("en").unwrap(),
        )
        .unwrap();
        policy.decide(&incident, &History::default(), now)
    }

    fn madrid() -> TimeZone {
        TimeZone::parse("Europe/Madrid").unwrap()
    }

    fn defaults() -> QuietDefaults {
        QuietDefaults {
            email: QuietHours::Off,
            sms: QuietHours::parse("21:00-08:00").unwrap(),
        }
    }

    #[test]
    fn an_sms_due_at_night_waits_for_the_morning_and_says_why() {
        // 03:10 in Madrid.
        let now = utc("2026-11-24T02:10:00Z");
        let due = decide("order.delayed", now).schedule(now, &madrid(), &defaults());
        assert_eq!(due[0].channel, Channel::Sms);
        assert_eq!(due[0].at, utc("2026-11-24T07:00:00Z"));
        assert_eq!(
            due[0].line,
            "sms: 2026-11-24 08:00 Europe/Madrid, as 03:10 there is in the sms quiet hours 21:00-08:00 (configured)"
        );
        assert!(due[0].waits.is_some());
        // Email, held in reserve, has none by default: at once, should it stand in.
        assert_eq!(due[1].at, now);
        assert_eq!(
            due[1].line,
            "email (in reserve): at once, should it stand in"
        );
        assert_eq!(due[1].waits, None);
    }

    #[test]
    fn the_same_message_by_day_goes_at_once() {
        let now = utc("2026-11-24T11:00:00Z");
        let due = decide("order.delayed", now).schedule(now, &madrid(), &defaults());
        assert_eq!(due[0].at, now);
        assert_eq!(
            due[0].line,
            "sms: at once (outside the quiet hours 21:00-08:00, configured)"
        );
    }

    #[test]
    fn a_rule_may_turn_the_quiet_hours_off_or_set_its_own() {
        let now = utc("2026-11-24T02:10:00Z");
        let due = decide("order.cancelled", now).schedule(now, &madrid(), &defaults());
        assert_eq!(due[0].at, now);
        assert_eq!(
            due[0].line,
            "sms: at once (rule cancel turns off the quiet hours 21:00-08:00)"
        );
        // The stockout rule waits 30 minutes, then its own email quiet hours (22:00-07:00)
        // hold the email until 07:00; its SMS keeps the configured ones, until 08:00.
        let due = decide("order.stockout", now).schedule(now, &madrid(), &defaults());
        assert_eq!(due[0].channel, Channel::Email);
        assert_eq!(due[0].at, utc("2026-11-24T06:00:00Z"));
        assert_eq!(
            due[0].line,
            "email: 2026-11-24 07:00 Europe/Madrid, as the rule's delay of 30m; 03:40 there is in the email quiet hours 22:00-07:00 (rule stockout)"
        );
        assert_eq!(due[1].at, utc("2026-11-24T07:00:00Z"));
        assert_eq!(
            due[1].line,
            "sms (in reserve): not before 2026-11-24 08:00 Europe/Madrid, should it stand in, as the rule's delay of 30m; 03:40 there is in the sms quiet hours 21:00-08:00 (configured)"
        );
        // By day, only the delay.
        let now = utc("2026-11-24T11:00:00Z");
        let due = decide("order.stockout", now).schedule(now, &madrid(), &defaults());
        assert_eq!(due[0].at, utc("2026-11-24T11:30:00Z"));
        assert_eq!(
            due[0].line,
            "email: 2026-11-24 12:30 Europe/Madrid, as the rule's delay of 30m"
        );
    }

    #[test]
    fn a_bad_quiet_hours_is_refused_naming_the_line_the_rule_and_the_cause() {
        let text = |value: &str| {
            format!(
                "[[rule]]\nname = \"r\"\ntemplate = \"order-delayed\"\nchannels = [\"sms\"]\nquiet_hours = {value}\n"
            )
        };
        let cases = [
            (
                "\"25:00-08:00\"",
                "line 5: rule \"r\": quiet_hours: \"25:00-08:00\" is not off or a window like 21:00-08:00: hour 25 is not 0 to 23 (midnight is 00:00)",
            ),
            (
                "{ fax = \"off\" }",
                "line 5: rule \"r\": quiet_hours: unknown channel \"fax\" (expected email or sms)",
            ),
            (
                "{ sms = false }",
                "line 5: rule \"r\": quiet_hours: sms: expected text (\"off\" or \"21:00-08:00\"), not boolean",
            ),
            (
                "true",
                "line 5: rule \"r\": quiet_hours: expected text (\"off\" or \"21:00-08:00\") or a table per channel, not boolean",
            ),
        ];
        for (value, error) in cases {
            assert_eq!(Policy::parse(&text(value)).unwrap_err(), error, "{value}");
        }
        let policy = Policy::parse(&text("{ sms = \"22:00-07:30\" }")).unwrap();
        assert_eq!(
            policy.rules()[0].quiet_hours,
            QuietOverride::from([(Channel::Sms, QuietHours::parse("22:00-07:30").unwrap())])
        );
    }
}

//! Quiet and calling hours: parsing, windows across midnight, daylight-saving gaps and overlaps,
//! and property tests of the instants found, in zones with every kind of offset change.

use chrono::{DateTime, Duration, NaiveTime, Utc};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::*;

fn utc(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

fn quiet(text: &str) -> QuietHours {
    QuietHours::parse(text).unwrap()
}

fn madrid() -> Tz {
    chrono_tz::Europe::Madrid
}

#[test]
fn windows_parse_and_print() {
    assert_eq!(quiet("21:00-08:00").to_string(), "21:00-08:00");
    assert_eq!(quiet(" 9:30 – 18:00 ").to_string(), "09:30-18:00");
    assert_eq!(quiet("off"), QuietHours::Off);
    assert_eq!(QuietHours::Off.to_string(), "off");
    assert_eq!(
        CallingHours::parse("09:00-18:00").unwrap().to_string(),
        "09:00-18:00"
    );
}

#[test]
fn bad_windows_are_refused_with_the_cause() {
    let cases = [
        ("", "no '-' between the start and the end"),
        ("21:00", "no '-' between the start and the end"),
        ("21-08", "\"21\" is not a time like 08:00"),
        ("21:00-8:0", "\"8:0\" is not a time like 08:00"),
        ("24:00-08:00", "hour 24 is not 0 to 23 (midnight is 00:00)"),
        ("21:60-08:00", "minute 60 is not 0 to 59"),
        ("08:00-08:00", "the start and the end are the same time"),
        ("-1:00-08:00", "is not a time like 08:00"),
        ("night", "no '-' between the start and the end"),
    ];
    for (text, cause) in cases {
        let error = QuietHours::parse(text).unwrap_err().to_string();
        assert!(error.contains(cause), "{text:?}: {error}");
        assert!(
            error.contains("off or a window like 21:00-08:00"),
            "{error}"
        );
    }
    let error = CallingHours::parse("off").unwrap_err().to_string();
    assert_eq!(
        error,
        "\"off\" is not a window like 21:00-08:00: no '-' between the start and the end"
    );
}

#[test]
fn a_window_across_midnight_holds_both_ends_of_the_night() {
    let w = DailyWindow::parse("21:00-08:00").unwrap();
    let at = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
    assert!(w.contains(at(21, 0)) && w.contains(at(23, 59)) && w.contains(at(0, 0)));
    assert!(w.contains(at(7, 59)));
    assert!(!w.contains(at(8, 0)) && !w.contains(at(12, 0)) && !w.contains(at(20, 59)));
    let day = DailyWindow::parse("13:00-15:00").unwrap();
    assert!(day.contains(at(13, 0)) && day.contains(at(14, 59)));
    assert!(!day.contains(at(15, 0)) && !day.contains(at(12, 59)));
}

#[test]
fn a_message_due_at_night_waits_for_the_morning_of_the_customer() {
    let q = quiet("21:00-08:00");
    // 03:10 in Madrid (CET, UTC+1) is 02:10 UTC; 08:00 there is 07:00 UTC.
    assert_eq!(
        q.next_allowed(utc("2026-11-24T02:10:00Z"), madrid()),
        utc("2026-11-24T07:00:00Z")
    );
    // 22:30 the evening before waits for the next morning.
    assert_eq!(
        q.next_allowed(utc("2026-11-23T21:30:00Z"), madrid()),
        utc("2026-11-24T07:00:00Z")
    );
    // Outside the hours: at once.
    let noon = utc("2026-11-24T11:00:00Z");
    assert_eq!(q.next_allowed(noon, madrid()), noon);
    // The same instant in another zone: 02:10 UTC is 21:10 in New York, in its quiet hours too.
    assert_eq!(
        q.next_allowed(utc("2026-11-24T02:10:00Z"), chrono_tz::America::New_York),
        utc("2026-11-24T13:00:00Z")
    );
    // Its end is not in the window; its start is.
    assert_eq!(
        q.next_allowed(utc("2026-11-24T07:00:00Z"), madrid()),
        utc("2026-11-24T07:00:00Z")
    );
    assert!(q.contains(utc("2026-11-24T20:00:00Z"), madrid()));
    assert_eq!(QuietHours::Off.next_allowed(noon, madrid()), noon);
}

#[test]
fn quiet_hours_ending_in_the_hour_the_clocks_skip_end_when_the_clock_jumps() {
    // Madrid, 29 March 2026: at 02:00 CET (01:00 UTC) the clocks go to 03:00 CEST; 02:30 never
    // happens. Quiet until 02:30 ends at the jump, when the clock shows 03:00.
    let q = quiet("22:00-02:30");
    assert_eq!(
        q.next_allowed(utc("2026-03-28T23:00:00Z"), madrid()),
        utc("2026-03-29T01:00:00Z")
    );
    // Quiet until 08:00: 08:00 CEST is 06:00 UTC, an hour earlier in UTC than the day before.
    let q = quiet("21:00-08:00");
    assert_eq!(
        q.next_allowed(utc("2026-03-28T23:00:00Z"), madrid()),
        utc("2026-03-29T06:00:00Z")
    );
    assert_eq!(
        q.next_allowed(utc("2026-03-27T23:00:00Z"), madrid()),
        utc("2026-03-28T07:00:00Z")
    );
}

#[test]
fn quiet_hours_in_the_hour_the_clocks_repeat_count_each_time_the_clock_shows_it() {
    // Madrid, 25 October 2026: at 03:00 CEST (01:00 UTC) the clocks go back to 02:00 CET, so
    // 02:00-02:59 happen twice.
    let q = quiet("21:00-02:30");
    // 02:10 CEST (00:10 UTC): the window ends at the first 02:30 (00:30 UTC).
    assert_eq!(
        q.next_allowed(utc("2026-10-25T00:10:00Z"), madrid()),
        utc("2026-10-25T00:30:00Z")
    );
    // 02:10 CET (01:10 UTC), the second time round: quiet again until the second 02:30.
    assert_eq!(
        q.next_allowed(utc("2026-10-25T01:10:00Z"), madrid()),
        utc("2026-10-25T01:30:00Z")
    );
    // A window starting in the repeated hour is left when the clock goes back out of it.
    let q = quiet("02:30-03:00");
    assert_eq!(
        q.next_allowed(utc("2026-10-25T00:45:00Z"), madrid()),
        utc("2026-10-25T01:00:00Z")
    );
}

#[test]
fn calling_hours_give_the_next_daytime_of_the_customer() {
    let hours = CallingHours::parse("09:00-18:00").unwrap();
    // 03:10 in Madrid: call from 09:00 (08:00 UTC) to 18:00 (17:00 UTC) that day.
    let call = hours.next_call(utc("2026-11-24T02:10:00Z"), madrid());
    assert_eq!(call.from, utc("2026-11-24T08:00:00Z"));
    assert_eq!(call.until, utc("2026-11-24T17:00:00Z"));
    assert!(!call.now);
    // 11:00 in Madrid: now, until 18:00.
    let at = utc("2026-11-24T10:00:00Z");
    let call = hours.next_call(at, madrid());
    assert_eq!(
        (call.from, call.until, call.now),
        (at, utc("2026-11-24T17:00:00Z"), true)
    );
    // 19:00 in Madrid: tomorrow morning.
    let call = hours.next_call(utc("2026-11-24T18:00:00Z"), madrid());
    assert_eq!(call.from, utc("2026-11-25T08:00:00Z"));
    // 19:00 in Madrid is 13:00 in Mexico City: call now, there.
    let call = hours.next_call(utc("2026-11-24T18:00:00Z"), chrono_tz::America::Mexico_City);
    assert!(call.now);
    assert_eq!(call.until, utc("2026-11-25T00:00:00Z"));
}

/// Zones with every kind of change: none, one hour forward and back in either hemisphere, half
/// an hour (Lord Howe), odd offsets (Kathmandu, Chatham, St John's), a whole day skipped (Apia,
/// 2011), and a zone whose rules changed (Santiago).
const ZONES: &[Tz] = &[
    chrono_tz::UTC,
    chrono_tz::Europe::Madrid,
    chrono_tz::Europe::London,
    chrono_tz::America::New_York,
    chrono_tz::America::Santiago,
    chrono_tz::America::St_Johns,
    chrono_tz::Australia::Lord_Howe,
    chrono_tz::Asia::Kathmandu,
    chrono_tz::Pacific::Chatham,
    chrono_tz::Pacific::Apia,
    chrono_tz::Asia::Tokyo,
];

fn window() -> impl Strategy<Value = DailyWindow> {
    (0u32..24 * 60, 0u32..24 * 60)
        .prop_filter("start and end differ", |(a, b)| a != b)
        .prop_map(|(a, b)| {
            let time = |m: u32| NaiveTime::from_hms_opt(m / 60, m % 60, 0).unwrap();
            DailyWindow::new(time(a), time(b)).unwrap()
        })
}

/// Instants anywhere from 2000 to 2100, and many within a day of a change of offset (the
/// transitions of 2011 in Apia and of spring and autumn in the northern and southern zones).
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let near = [
        "2011-12-29T10:00:00Z",
        "2026-03-29T01:00:00Z",
        "2026-10-25T01:00:00Z",
        "2026-03-08T07:00:00Z",
        "2026-11-01T06:00:00Z",
        "2026-04-04T15:00:00Z",
        "2026-10-03T16:00:00Z",
        "2026-04-05T02:00:00Z",
        "2026-09-06T04:00:00Z",
    ]
    .map(utc);
    prop_oneof![
        (946_684_800i64..4_102_444_800).prop_map(|s| DateTime::from_timestamp(s, 0).unwrap()),
        (
            prop::sample::select(near.to_vec()),
            -36 * 3600i64..36 * 3600,
            0u32..1_000_000_000
        )
            .prop_map(|(t, s, n)| t + Duration::seconds(s) + Duration::nanoseconds(n.into())),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// The instant a quiet message may go: never earlier than due, never in the quiet hours, and
    /// the first such instant (the second before it is still quiet).
    #[test]
    fn the_next_allowed_instant_is_the_first_outside_the_window(
        w in window(),
        tz in prop::sample::select(ZONES.to_vec()),
        at in instant(),
    ) {
        let q = QuietHours::Window(w);
        let next = q.next_allowed(at, tz);
        prop_assert!(next >= at);
        prop_assert!(!q.contains(next, tz), "{next} is quiet in {tz}");
        if q.contains(at, tz) {
            prop_assert!(next > at);
            prop_assert!(next - at <= Duration::days(2), "{at} waits until {next}");
            let before = next - Duration::seconds(1);
            if before >= at {
                prop_assert!(q.contains(before, tz), "{before} is already allowed in {tz}");
            }
            let half = at + (next - at) / 2;
            prop_assert!(q.contains(half, tz), "{half} is already allowed in {tz}");
        } else {
            prop_assert_eq!(next, at);
        }
        prop_assert_eq!(q.next_allowed(next, tz), next);
    }

    /// A call is suggested inside the calling hours, from the first moment they hold.
    #[test]
    fn the_next_call_is_inside_the_calling_hours(
        w in window(),
        tz in prop::sample::select(ZONES.to_vec()),
        at in instant(),
    ) {
        let hours = CallingHours(w);
        let call = hours.next_call(at, tz);
        prop_assert!(call.from >= at);
        prop_assert!(w.contains_instant(call.from, tz));
        prop_assert!(call.until > call.from);
        prop_assert!(!w.contains_instant(call.until, tz));
        prop_assert!(w.contains_instant(call.until - Duration::seconds(1), tz)
            || call.until - call.from < Duration::seconds(1));
        prop_assert_eq!(call.now, w.contains_instant(at, tz));
    }

    /// Whatever is written, parsing either gives a window that prints as it parses, or an error
    /// naming the text; it never panics.
    #[test]
    fn any_text_parses_or_is_refused(text in "\\PC{0,16}") {
        match QuietHours::parse(&text) {
            Ok(q) => prop_assert_eq!(QuietHours::parse(&q.to_string()).unwrap(), q),
            Err(e) => {
                let quoted = format!("{:?}", text);
                prop_assert!(e.to_string().starts_with(&quoted));
            }
        }
    }

    /// Every well-formed window prints back as written.
    #[test]
    fn a_window_prints_as_written(w in window()) {
        prop_assert_eq!(DailyWindow::parse(&w.to_string()).unwrap(), w);
    }
}

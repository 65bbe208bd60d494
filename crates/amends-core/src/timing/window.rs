//! A daily window of wall-clock time (`21:00-08:00`), and where an instant stands to it in a
//! time zone.
//!
//! The wall clock of a zone is a function of the instant that runs at one second per second
//! except where the offset changes: there it jumps forward (a gap: some local times never
//! happen) or back (an overlap: some happen twice). A window is left either when the clock
//! reaches its end or when the clock jumps out of it; both are looked for, so the instant found
//! is the first one at which the customer's own clock is outside the window.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Offset, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

/// A window that can be refused: one line naming the text and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{text:?} is not {expected}: {problem}")]
pub struct WindowError {
    text: String,
    expected: &'static str,
    problem: String,
}

impl WindowError {
    fn new(text: &str, problem: impl Into<String>) -> WindowError {
        WindowError {
            text: text.to_owned(),
            expected: "a window like 21:00-08:00",
            problem: problem.into(),
        }
    }

    /// The same error for a setting that also takes `off`.
    pub(super) fn or_off(mut self) -> WindowError {
        self.expected = "off or a window like 21:00-08:00";
        self
    }
}

/// A window of the day from `start` (included) to `end` (excluded), minutes of the wall clock;
/// it crosses midnight when `end` is earlier than `start` (`21:00-08:00`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DailyWindow {
    start: NaiveTime,
    end: NaiveTime,
}

/// The longest a zone's clock skips: the largest gap in the time zone database is a whole day
/// (Samoa, 30 December 2011), so a local time is found within two days of any gap.
const MAX_GAP_MINUTES: i64 = 2 * 24 * 60;

impl DailyWindow {
    /// A window from `start` to `end`; `None` when they are the same minute (an empty window, or
    /// a whole day: neither is a window of the day) or either has seconds.
    pub fn new(start: NaiveTime, end: NaiveTime) -> Option<DailyWindow> {
        let whole = |t: NaiveTime| t.second() == 0 && t.nanosecond() == 0;
        (start != end && whole(start) && whole(end)).then_some(DailyWindow { start, end })
    }

    /// Parses `HH:MM-HH:MM` (one-digit hours and an en dash are accepted: `9:00–18:00`).
    pub fn parse(text: &str) -> Result<DailyWindow, WindowError> {
        let trimmed = text.trim();
        let (start, end) = trimmed
            .split_once('-')
            .or_else(|| trimmed.split_once('–'))
            .ok_or_else(|| WindowError::new(text, "no '-' between the start and the end"))?;
        let start = time(text, start.trim())?;
        let end = time(text, end.trim())?;
        DailyWindow::new(start, end).ok_or_else(|| {
            WindowError::new(
                text,
                "the start and the end are the same time (write two different times)",
            )
        })
    }

    /// Where it starts (included).
    pub fn start(&self) -> NaiveTime {
        self.start
    }

    /// Where it ends (excluded).
    pub fn end(&self) -> NaiveTime {
        self.end
    }

    /// Whether a wall-clock time is in the window.
    pub fn contains(&self, time: NaiveTime) -> bool {
        if self.start < self.end {
            self.start <= time && time < self.end
        } else {
            time >= self.start || time < self.end
        }
    }

    /// Whether the wall clock of `tz` is in the window at `at`.
    pub fn contains_instant(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        self.contains(at.with_timezone(&tz).time())
    }

    /// The first instant at or after `at` at which the wall clock of `tz` is outside the window.
    pub fn next_outside(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        self.next_where(at, tz, false)
    }

    /// The first instant at or after `at` at which the wall clock of `tz` is inside the window.
    pub fn next_inside(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        self.next_where(at, tz, true)
    }

    /// The first instant at or after `at` at which being in the window is `inside`.
    ///
    /// Each step moves to the next boundary the clock crosses (the start or end it shows next,
    /// or an earlier jump of the offset); a jump can land on the same side again, so steps
    /// repeat, a bounded number of times (each one moves at least a second forward, and two
    /// steps cover a day).
    fn next_where(&self, at: DateTime<Utc>, tz: Tz, inside: bool) -> DateTime<Utc> {
        let boundary = if inside { self.start } else { self.end };
        let mut t = at;
        for _ in 0..8 {
            if self.contains_instant(t, tz) == inside {
                return t;
            }
            let Some(shown) = next_showing(t, boundary, tz) else {
                // Not reachable with the time zone database's gaps; a day later is a safe answer.
                return t + Duration::days(1);
            };
            t = match offset_change(t, shown, tz) {
                Some(jump) if self.contains_instant(jump, tz) == inside => jump,
                _ => shown,
            };
        }
        t
    }
}

impl fmt::Display for DailyWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

/// `HH:MM`, hours 0 to 23, minutes 0 to 59.
fn time(whole: &str, part: &str) -> Result<NaiveTime, WindowError> {
    let (h, m) = part
        .split_once(':')
        .ok_or_else(|| WindowError::new(whole, format!("{part:?} is not a time like 08:00")))?;
    let digits = |s: &str, most: usize| {
        !s.is_empty() && s.len() <= most && s.chars().all(|c| c.is_ascii_digit())
    };
    if !digits(h, 2) || m.len() != 2 || !digits(m, 2) {
        return Err(WindowError::new(
            whole,
            format!("{part:?} is not a time like 08:00"),
        ));
    }
    let (hour, minute): (u32, u32) = match (h.parse(), m.parse()) {
        (Ok(hour), Ok(minute)) => (hour, minute),
        _ => {
            return Err(WindowError::new(
                whole,
                format!("{part:?} is not a time like 08:00"),
            ));
        }
    };
    if hour > 23 {
        return Err(WindowError::new(
            whole,
            format!("hour {hour} is not 0 to 23 (midnight is 00:00)"),
        ));
    }
    NaiveTime::from_hms_opt(hour, minute, 0)
        .ok_or_else(|| WindowError::new(whole, format!("minute {minute} is not 0 to 59")))
}

/// The instants at which the wall clock of `tz` shows `time` on `date`: one, two in an overlap,
/// or, when the clock skips it, the first minute after it that exists.
fn instants(date: NaiveDate, time: NaiveTime, tz: Tz) -> Vec<DateTime<Utc>> {
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
        chrono::LocalResult::Ambiguous(a, b) => vec![a.with_timezone(&Utc), b.with_timezone(&Utc)],
        chrono::LocalResult::None => (1..=MAX_GAP_MINUTES)
            .find_map(|m| {
                tz.from_local_datetime(&(naive + Duration::minutes(m)))
                    .earliest()
            })
            .map(|t| vec![t.with_timezone(&Utc)])
            .unwrap_or_default(),
    }
}

/// The first instant after `at` at which the wall clock of `tz` shows `time` (or, where the
/// clock skips it, jumps past it). Strictly after: at `at` itself the caller is on the other
/// side of the boundary, and must move.
fn next_showing(at: DateTime<Utc>, time: NaiveTime, tz: Tz) -> Option<DateTime<Utc>> {
    let today = at.with_timezone(&tz).date_naive();
    (-1..=2)
        .filter_map(|days| today.checked_add_signed(Duration::days(days)))
        .flat_map(|date| instants(date, time, tz))
        .filter(|t| *t > at)
        .min()
}

/// The first whole second after `from`, and not after `until`, at which the offset of `tz`
/// differs from the one in force at `from`: where the wall clock jumps. (Offsets change on whole
/// seconds.)
fn offset_change(from: DateTime<Utc>, until: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
    let offset = |secs: i64| {
        DateTime::from_timestamp(secs, 0).map(|t| tz.offset_from_utc_datetime(&t.naive_utc()).fix())
    };
    let mut lo = from.timestamp();
    let mut hi = until.timestamp() + i64::from(until.timestamp_subsec_nanos() > 0);
    let first = offset(lo)?;
    if offset(hi)? == first {
        return None;
    }
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if offset(mid)? == first {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    DateTime::from_timestamp(hi, 0)
}

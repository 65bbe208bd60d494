//! Timing: daily windows of wall-clock time in the customer's own time zone, and the instants
//! they give. [`QuietHours`] are the hours in which nothing may be sent (a message due in them
//! waits until they end); [`CallingHours`] are the hours in which a person may call.
//!
//! Pure: an instant and a zone in, an instant out; no clock is read. A window is read on the
//! customer's wall clock, as they live it, including daylight-saving changes: on the night the
//! clocks go forward, a window ending inside the skipped hour ends when the clock jumps past it;
//! on the night they go back, a repeated hour is inside the window each time the clock shows it.
//!
//! - `window`: [`DailyWindow`] (`HH:MM-HH:MM`, crossing midnight or not), when an instant is in
//!   it, when it is next left or entered;
//! - [`QuietHours`] and [`CallingHours`] built on it.

mod overdue;
mod window;

#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::Serialize;

pub use overdue::{DayCount, DayCountError, Grace};
pub use window::{DailyWindow, WindowError};

/// Hours of the customer's day in which nothing is sent: `off`, or a [`DailyWindow`] such as
/// `21:00-08:00`. A message due in them waits until they end.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum QuietHours {
    /// Messages go out whenever they are due.
    #[default]
    Off,
    /// Nothing is sent while the customer's wall clock is in this window.
    Window(DailyWindow),
}

impl QuietHours {
    /// Parses `off` or `HH:MM-HH:MM` (e.g. `21:00-08:00`, crossing midnight, or `13:00-15:00`).
    pub fn parse(text: &str) -> Result<QuietHours, WindowError> {
        match text.trim() {
            "off" => Ok(QuietHours::Off),
            _ => DailyWindow::parse(text)
                .map(QuietHours::Window)
                .map_err(|e| e.or_off()),
        }
    }

    /// The window, when there is one.
    pub fn window(&self) -> Option<&DailyWindow> {
        match self {
            QuietHours::Off => None,
            QuietHours::Window(w) => Some(w),
        }
    }

    /// Whether `at` falls in the quiet hours of `tz`.
    pub fn contains(&self, at: DateTime<Utc>, tz: Tz) -> bool {
        self.window().is_some_and(|w| w.contains_instant(at, tz))
    }

    /// The first instant at or after `at` outside the quiet hours of `tz`: `at` itself when it is
    /// outside them, else the moment they end on the customer's wall clock.
    pub fn next_allowed(&self, at: DateTime<Utc>, tz: Tz) -> DateTime<Utc> {
        match self {
            QuietHours::Off => at,
            QuietHours::Window(w) => w.next_outside(at, tz),
        }
    }
}

impl fmt::Display for QuietHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            QuietHours::Off => f.write_str("off"),
            QuietHours::Window(w) => w.fmt(f),
        }
    }
}

impl FromStr for QuietHours {
    type Err = WindowError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        QuietHours::parse(s)
    }
}

impl Serialize for QuietHours {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Hours of the customer's day in which a person may call them, e.g. `09:00-18:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallingHours(DailyWindow);

impl CallingHours {
    /// Parses `HH:MM-HH:MM`.
    pub fn parse(text: &str) -> Result<CallingHours, WindowError> {
        DailyWindow::parse(text).map(CallingHours)
    }

    /// The window.
    pub fn window(&self) -> &DailyWindow {
        &self.0
    }

    /// When to call a customer in `tz`, from `at` on: the calling hours under way (from `at`
    /// until they end), or else the next ones.
    pub fn next_call(&self, at: DateTime<Utc>, tz: Tz) -> CallWindow {
        let from = self.0.next_inside(at, tz);
        CallWindow {
            from,
            until: self.0.next_outside(from, tz),
            now: from == at,
        }
    }
}

impl fmt::Display for CallingHours {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl FromStr for CallingHours {
    type Err = WindowError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CallingHours::parse(s)
    }
}

/// When a call fits the customer's day: from `from` until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallWindow {
    /// The first moment to call (the instant asked about, when it is already in the hours).
    pub from: DateTime<Utc>,
    /// When the calling hours end.
    pub until: DateTime<Utc>,
    /// Whether the calling hours are under way at the instant asked about.
    pub now: bool,
}

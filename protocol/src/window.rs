//! Maintenance windows: the hours in which a node may spend its disk and
//! uplink on work that can wait (handoff, rebalancing, the scrub). Repair of
//! missing copies never waits for a window.
//!
//! A window is written `DAYS HH:MM-HH:MM`, in UTC:
//! - `DAYS` is `daily`, one day (`sat`), a range (`mon-fri`, `fri-mon`
//!   wraps) or a list (`sat,sun`);
//! - the end may be `24:00`; an end before the start runs past midnight and
//!   belongs to the day it starts on (`fri 22:00-06:00` ends Saturday 06:00).
//!
//! No window at all means always open. The times are UTC so that every
//! node of a swarm and every operator reads them the same way, whatever the
//! machine's time zone.

use serde::{Deserialize, Serialize};
use std::fmt;

const DAY: u64 = 86_400;
const WEEK: u64 = 7 * DAY;
/// Day names, Monday first (ISO 8601).
const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
/// At most this many windows, so a config cannot make checks expensive.
pub const MAX_WINDOWS: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("maintenance window {text:?}: {reason} (write e.g. \"daily 01:00-05:00\", \"mon-fri 22:00-06:00\" or \"sat,sun 00:00-24:00\", UTC)")]
pub struct WindowError {
    pub text: String,
    pub reason: String,
}

/// One window: the days it starts on and its start and end minute of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Bit `d` set: the window starts on day `d` (0 = Monday).
    days: u8,
    start: u16,
    end: u16,
}

/// Day of the week of a Unix time, 0 = Monday (1970-01-01 was a Thursday).
fn weekday(unix: u64) -> u64 {
    (unix / DAY + 3) % 7
}

fn parse_day(s: &str) -> Option<u8> {
    DAYS.iter().position(|d| *d == s).map(|d| d as u8)
}

fn parse_days(s: &str) -> Result<u8, String> {
    if s == "daily" {
        return Ok(0x7f);
    }
    let mut bits = 0u8;
    for part in s.split(',') {
        let bad = || format!("unknown day {part:?} (mon, tue, ..., sun, or daily)");
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (parse_day(a).ok_or_else(bad)?, parse_day(b).ok_or_else(bad)?);
                let mut d = a;
                loop {
                    bits |= 1 << d;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => bits |= 1 << parse_day(part).ok_or_else(bad)?,
        }
    }
    Ok(bits)
}

fn parse_time(s: &str, end: bool) -> Result<u16, String> {
    let bad = || format!("bad time {s:?} (HH:MM, 00:00 to 24:00)");
    let (h, m) = s.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    let t = h * 60 + m;
    if m >= 60 || t > 24 * 60 || (t == 24 * 60 && !end) {
        return Err(bad());
    }
    Ok(t)
}

impl Window {
    pub fn parse(text: &str) -> Result<Window, WindowError> {
        let err = |reason: String| WindowError {
            text: text.into(),
            reason,
        };
        let lower = text.trim().to_ascii_lowercase();
        let (days, times) = lower
            .split_once(char::is_whitespace)
            .ok_or_else(|| err("expected DAYS HH:MM-HH:MM".into()))?;
        let (a, b) = times
            .trim()
            .split_once('-')
            .ok_or_else(|| err("expected a time range HH:MM-HH:MM".into()))?;
        let w = Window {
            days: parse_days(days.trim()).map_err(err)?,
            start: parse_time(a.trim(), false).map_err(err)?,
            end: parse_time(b.trim(), true).map_err(err)?,
        };
        if w.start == w.end {
            return Err(err("the window is empty (start equals end)".into()));
        }
        Ok(w)
    }

    /// Length in seconds.
    fn len(&self) -> u64 {
        let (s, e) = (u64::from(self.start), u64::from(self.end));
        if e > s {
            (e - s) * 60
        } else {
            (e + 24 * 60 - s) * 60
        }
    }

    /// Start of this window's occurrence that begins on the day of `unix`
    /// (the day may not be one of its days).
    fn start_on_day_of(&self, unix: u64) -> u64 {
        unix - unix % DAY + u64::from(self.start) * 60
    }

    fn starts_on(&self, unix: u64) -> bool {
        self.days & (1 << weekday(unix)) != 0
    }

    pub fn contains(&self, unix: u64) -> bool {
        // The occurrence that may hold `unix` began today or yesterday.
        [0, DAY].iter().any(|back| {
            let Some(day) = unix.checked_sub(*back) else {
                return false;
            };
            let s = self.start_on_day_of(day);
            self.starts_on(day) && s <= unix && unix < s + self.len()
        })
    }

    /// The first start at or after `unix`.
    fn next_start(&self, unix: u64) -> u64 {
        (0..=7)
            .map(|d| unix + d * DAY)
            .filter(|day| self.starts_on(*day))
            .map(|day| self.start_on_day_of(day))
            .find(|s| *s >= unix)
            .unwrap_or(unix + WEEK)
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.days == 0x7f {
            f.write_str("daily")?;
        } else {
            let names: Vec<_> = (0..7)
                .filter(|d| self.days & (1 << d) != 0)
                .map(|d| DAYS[d])
                .collect();
            f.write_str(&names.join(","))?;
        }
        let t = |m: u16| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, " {}-{}", t(self.start), t(self.end))
    }
}

/// The configured windows; none means always open.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "Vec<String>", into = "Vec<String>")]
pub struct Windows(Vec<Window>);

impl TryFrom<Vec<String>> for Windows {
    type Error = WindowError;
    fn try_from(v: Vec<String>) -> Result<Self, WindowError> {
        Windows::parse(&v)
    }
}

impl From<Windows> for Vec<String> {
    fn from(w: Windows) -> Vec<String> {
        w.0.iter().map(Window::to_string).collect()
    }
}

impl Windows {
    pub fn parse<S: AsRef<str>>(texts: &[S]) -> Result<Windows, WindowError> {
        if texts.len() > MAX_WINDOWS {
            return Err(WindowError {
                text: format!("{} windows", texts.len()),
                reason: format!("at most {MAX_WINDOWS}"),
            });
        }
        texts
            .iter()
            .map(|t| Window::parse(t.as_ref()))
            .collect::<Result<_, _>>()
            .map(Windows)
    }

    /// No window configured: deferrable work runs at any time.
    pub fn always(&self) -> bool {
        self.0.is_empty()
    }

    pub fn is_open(&self, unix: u64) -> bool {
        self.always() || self.0.iter().any(|w| w.contains(unix))
    }

    /// `unix` itself when open, else when the next window opens.
    pub fn next_open(&self, unix: u64) -> u64 {
        if self.is_open(unix) {
            return unix;
        }
        self.0
            .iter()
            .map(|w| w.next_start(unix))
            .min()
            .unwrap_or(unix)
    }
}

impl fmt::Display for Windows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.always() {
            return f.write_str("always");
        }
        let v: Vec<String> = self.clone().into();
        f.write_str(&v.join("; "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Monday 2026-11-30 00:00 UTC.
    const MONDAY: u64 = 1_795_996_800;

    fn at(day: u64, h: u64, m: u64) -> u64 {
        MONDAY + day * DAY + h * 3600 + m * 60
    }

    #[test]
    fn the_epoch_day_is_known() {
        assert_eq!(weekday(MONDAY), 0);
        assert_eq!(weekday(0), 3, "1970-01-01 was a Thursday");
    }

    #[test]
    fn windows_open_and_close_where_written() {
        let w = Windows::parse(&["mon-fri 22:00-06:00", "sat,sun 00:00-24:00"]).unwrap();
        assert!(w.is_open(at(0, 23, 0)), "Monday night");
        assert!(w.is_open(at(1, 5, 59)), "Tuesday early, from Monday's");
        assert!(!w.is_open(at(1, 6, 0)), "the end is excluded");
        assert!(!w.is_open(at(0, 12, 0)));
        assert!(w.is_open(at(5, 12, 0)), "Saturday");
        assert!(w.is_open(at(6, 23, 59)), "Sunday");
        assert!(w.is_open(at(5, 5, 0)), "Saturday early, from Friday's");
        assert!(!w.is_open(at(7, 3, 0)), "Sunday's window ends at midnight");
        assert_eq!(w.next_open(at(0, 12, 0)), at(0, 22, 0));
        assert_eq!(w.next_open(at(0, 23, 0)), at(0, 23, 0));
        let daily = Windows::parse(&["daily 01:00-05:00"]).unwrap();
        assert_eq!(daily.next_open(at(2, 6, 0)), at(3, 1, 0));
        assert!(Windows::default().is_open(at(0, 12, 0)));
        assert_eq!(daily.to_string(), "daily 01:00-05:00");
    }

    #[test]
    fn bad_windows_are_named() {
        for bad in [
            "",
            "daily",
            "daily 25:00-26:00",
            "funday 01:00-02:00",
            "daily 01:00-01:00",
            "daily 1:00-2:00",
            "daily 24:00-01:00",
            "mon 01:60-02:00",
        ] {
            let e = Window::parse(bad).unwrap_err();
            assert!(e.to_string().contains("UTC"), "{e}");
        }
        let many: Vec<String> = (0..=MAX_WINDOWS)
            .map(|_| "daily 01:00-02:00".into())
            .collect();
        assert!(Windows::parse(&many).is_err());
    }

    fn window() -> impl Strategy<Value = Window> {
        (1u8..0x80, 0u16..1440, 1u16..=1440)
            .prop_filter("non-empty", |(_, s, e)| s != e)
            .prop_map(|(days, start, end)| Window { days, start, end })
    }

    proptest! {
        #[test]
        fn next_open_is_open_and_nothing_before_it_is(
            ws in prop::collection::vec(window(), 0..4),
            t in MONDAY..MONDAY + 3 * WEEK,
        ) {
            let w = Windows(ws);
            let n = w.next_open(t);
            prop_assert!(n >= t && n <= t + WEEK);
            prop_assert!(w.is_open(n));
            // Closed minutes before it (sampled every 7 minutes).
            let mut x = t;
            while x < n {
                prop_assert!(!w.is_open(x), "open at {x} before {n}");
                x += 7 * 60;
            }
        }

        #[test]
        fn written_windows_read_back_the_same(ws in prop::collection::vec(window(), 0..4)) {
            let w = Windows(ws);
            let text: Vec<String> = w.clone().into();
            prop_assert_eq!(Windows::parse(&text).unwrap(), w);
        }

        #[test]
        fn a_window_is_open_for_its_length_each_week(w in window(), week in 0u64..3) {
            let days = u64::from(w.days.count_ones());
            let open = (0..WEEK / 60)
                .filter(|m| w.contains(MONDAY + week * WEEK + m * 60))
                .count() as u64;
            // Occurrences may overlap (a 23-hour window on consecutive days does not).
            prop_assert!(open * 60 <= days * w.len());
            prop_assert!(open > 0);
        }
    }
}

//! Promotion windows (issue #13): when a stage may be promoted automatically.
//!
//! ```yaml
//! windows:
//!   timezone: Europe/Berlin
//!   allow: ["Mon-Thu 09:00-17:00"]          # optional; outside every allow window = closed
//!   deny:  ["Fri 15:00 - Mon 08:00", "2026-12-20 - 2027-01-06"]
//! ```
//!
//! Pure: [`Windows::state`] takes an instant and answers [`WindowState::Open`] or when the stage
//! opens next. Every span is read on the wall clock of the configured IANA time zone
//! (`chrono-tz`), so "09:00" stays 09:00 across daylight-saving changes. The rules:
//!
//! - open = (no `allow` at all, or inside one allow span) and inside no deny span (deny wins);
//! - a span that starts or ends at a wall-clock time that does not exist (spring forward: 02:30
//!   in Europe/Berlin on the last Sunday of March) starts or ends when the clock jumps past it;
//!   a time that exists twice (fall back) matches both times, as a wall clock does.
//!
//! Span forms (both lists take all three):
//! - `Mon-Thu 09:00-17:00`, `Sat,Sun 10:00-12:00`, `Mon 22:00-06:00` — on those days, between two
//!   times (an end at or before the start ends on the next day; `24:00` is the end of the day);
//! - `Fri 15:00 - Mon 08:00` — a weekly stretch from one day and time to the next such day and time;
//! - `2026-12-20 - 2027-01-06` (both days whole), `2026-12-24`, `2026-12-20 18:00 - 2027-01-06 08:00`
//!   — dates on the calendar.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::LazyLock;

use chrono::{
    DateTime, Datelike, Days, LocalResult, NaiveDate, NaiveDateTime, NaiveTime, TimeDelta, TimeZone, Utc, Weekday,
};
use chrono_tz::Tz;
use regex::Regex;

/// A stage's promotion windows.
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    pub timezone: Tz,
    /// Empty: open whenever no deny span holds.
    pub allow: Vec<Span>,
    pub deny: Vec<Span>,
}

/// One allow or deny entry, with the text it was written as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Span {
    pub text: String,
    pub kind: SpanKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpanKind {
    /// On each of `days` (Mon = bit 0), from `start` to `end`; `end` at or before `start` ends
    /// on the next day. `end` is `None` for `24:00`.
    Daily { days: u8, start: NaiveTime, end: Option<NaiveTime> },
    /// From `from` on its weekday to the next `to` (at most a week later).
    Weekly { from: (Weekday, NaiveTime), to: (Weekday, NaiveTime) },
    /// From one wall-clock moment to another (end exclusive).
    Dates { start: NaiveDateTime, end: NaiveDateTime },
}

/// Whether a stage may be promoted automatically at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    Open,
    /// Closed now; opens at this instant.
    ClosedUntil(DateTime<Utc>),
    /// Closed now, and no window opens within the horizon baton looks at (every later window is
    /// denied, e.g. by an allow span that lies wholly in the past).
    Closed,
}

/// Why a window entry was refused, in words for `baton check-config`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WindowError {
    #[error("unknown time zone `{0}`{1}: expected an IANA name such as Europe/Berlin or UTC")]
    UnknownZone(String, String),
    #[error(
        "cannot read window {0:?}: expected e.g. \"Mon-Thu 09:00-17:00\", \"Fri 15:00 - Mon 08:00\" or \"2026-12-20 - 2027-01-06\""
    )]
    Syntax(String),
    #[error("window {0:?}: {1}")]
    Value(String, String),
}

/// How far past the last dated span (or `now`) baton looks for the next opening: a weekly
/// pattern repeats within a week, so a week and a day past every dated span is enough.
const HORIZON_DAYS: u64 = 8;

pub fn parse_timezone(s: &str) -> Result<Tz, WindowError> {
    let exact = Tz::from_str(s).ok();
    exact.or_else(|| chrono_tz::TZ_VARIANTS.iter().copied().find(|t| t.name().eq_ignore_ascii_case(s))).ok_or_else(
        || {
            let names = chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
            let hint =
                crate::pipeline::suggest_word(s, names).map(|n| format!(" (did you mean `{n}`?)")).unwrap_or_default();
            WindowError::UnknownZone(crate::pipeline::shorten(s), hint)
        },
    )
}

static DAILY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<days>[A-Za-z]+(?:\s*-\s*[A-Za-z]+)?(?:\s*,\s*[A-Za-z]+(?:\s*-\s*[A-Za-z]+)?)*)\s+(?P<t1>\d{1,2}:\d{2})\s*-\s*(?P<t2>\d{1,2}:\d{2})$")
        .expect("daily window regex")
});
static WEEKLY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<d1>[A-Za-z]+)\s+(?P<t1>\d{1,2}:\d{2})\s*-\s*(?P<d2>[A-Za-z]+)\s+(?P<t2>\d{1,2}:\d{2})$")
        .expect("weekly window regex")
});
static DATES: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(?P<a>\d{4}-\d{2}-\d{2})(?:\s+(?P<at>\d{1,2}:\d{2}))?(?:\s*-\s*(?P<b>\d{4}-\d{2}-\d{2})(?:\s+(?P<bt>\d{1,2}:\d{2}))?)?$")
        .expect("date window regex")
});

fn weekday(text: &str, s: &str) -> Result<Weekday, WindowError> {
    Weekday::from_str(s)
        .map_err(|_| WindowError::Value(text.into(), format!("`{s}` is no day of the week (Mon … Sun)")))
}

/// `HH:MM`; `24:00` is `None` (the end of the day) where `allow_24` says so.
fn time(text: &str, s: &str, allow_24: bool) -> Result<Option<NaiveTime>, WindowError> {
    if allow_24 && s == "24:00" {
        return Ok(None);
    }
    NaiveTime::parse_from_str(s, "%H:%M")
        .map(Some)
        .map_err(|_| WindowError::Value(text.into(), format!("`{s}` is no time of day (00:00 … 23:59)")))
}

fn date(text: &str, s: &str) -> Result<NaiveDate, WindowError> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").map_err(|_| WindowError::Value(text.into(), format!("`{s}` is no date")))
}

impl FromStr for Span {
    type Err = WindowError;
    fn from_str(text: &str) -> Result<Span, WindowError> {
        let t = text.trim();
        let kind = if let Some(c) = DATES.captures(t) {
            let a = date(text, &c["a"])?;
            let start = match c.name("at") {
                Some(at) => a.and_time(time(text, at.as_str(), false)?.unwrap_or_default()),
                None => a.and_time(NaiveTime::MIN),
            };
            let b = match c.name("b") {
                Some(b) => date(text, b.as_str())?,
                None => a,
            };
            let end = match c.name("bt") {
                Some(bt) => b.and_time(time(text, bt.as_str(), false)?.unwrap_or_default()),
                // A date without a time ends with its day.
                None => (b + Days::new(1)).and_time(NaiveTime::MIN),
            };
            if end <= start {
                return Err(WindowError::Value(text.into(), "the end is not after the start".into()));
            }
            SpanKind::Dates { start, end }
        } else if let Some(c) = WEEKLY.captures(t) {
            let from = (weekday(text, &c["d1"])?, time(text, &c["t1"], false)?.unwrap_or_default());
            let to = (weekday(text, &c["d2"])?, time(text, &c["t2"], false)?.unwrap_or_default());
            if from == to {
                return Err(WindowError::Value(
                    text.into(),
                    "the end is the start: say \"Mon-Sun 00:00-24:00\" for always".into(),
                ));
            }
            SpanKind::Weekly { from, to }
        } else if let Some(c) = DAILY.captures(t) {
            let mut days = 0u8;
            for part in c["days"].split(',') {
                let (a, b) = match part.split_once('-') {
                    Some((a, b)) => (weekday(text, a.trim())?, weekday(text, b.trim())?),
                    None => {
                        let d = weekday(text, part.trim())?;
                        (d, d)
                    }
                };
                let mut d = a;
                loop {
                    days |= 1 << d.num_days_from_monday();
                    if d == b {
                        break;
                    }
                    d = d.succ();
                }
            }
            let start = time(text, &c["t1"], false)?.unwrap_or_default();
            let end = time(text, &c["t2"], true)?;
            if end == Some(start) {
                return Err(WindowError::Value(text.into(), "the window ends when it starts".into()));
            }
            SpanKind::Daily { days, start, end }
        } else {
            return Err(WindowError::Syntax(crate::pipeline::shorten(text)));
        };
        Ok(Span { text: t.to_string(), kind })
    }
}

impl Span {
    /// The wall-clock intervals `[start, end)` of this span that start on a day in `days`.
    fn occurrences(&self, days: std::ops::RangeInclusive<NaiveDate>) -> Vec<(NaiveDateTime, NaiveDateTime)> {
        match self.kind {
            SpanKind::Dates { start, end } => vec![(start, end)],
            SpanKind::Daily { days: mask, start, end } => days
                .start()
                .iter_days()
                .take_while(|d| d <= days.end())
                .filter(|d| mask & (1 << d.weekday().num_days_from_monday()) != 0)
                .map(|d| {
                    let s = d.and_time(start);
                    let e = match end {
                        Some(e) if e > start => d.and_time(e),
                        Some(e) => (d + Days::new(1)).and_time(e),
                        None => (d + Days::new(1)).and_time(NaiveTime::MIN),
                    };
                    (s, e)
                })
                .collect(),
            SpanKind::Weekly { from, to } => days
                .start()
                .iter_days()
                .take_while(|d| d <= days.end())
                .filter(|d| d.weekday() == from.0)
                .map(|d| {
                    let s = d.and_time(from.1);
                    let ahead = (7 + to.0.num_days_from_monday() - from.0.num_days_from_monday()) % 7;
                    let mut e = (d + Days::new(u64::from(ahead))).and_time(to.1);
                    if e <= s {
                        e += TimeDelta::days(7);
                    }
                    (s, e)
                })
                .collect(),
        }
    }

    /// Whether the wall-clock moment `at` lies in this span.
    fn holds(&self, at: NaiveDateTime) -> bool {
        // A weekly occurrence lasts at most a week, so it started within the last 7 days.
        let from = at.date() - Days::new(7);
        self.occurrences(from..=at.date()).iter().any(|(s, e)| *s <= at && at < *e)
    }
}

impl Windows {
    /// Whether the stage may be promoted at `now`, and if not, when it may next.
    pub fn state(&self, now: DateTime<Utc>) -> WindowState {
        if self.open_at(now) {
            return WindowState::Open;
        }
        let local_now = now.with_timezone(&self.timezone).naive_local();
        let last_dated = self
            .allow
            .iter()
            .chain(&self.deny)
            .filter_map(|s| match s.kind {
                SpanKind::Dates { end, .. } => Some(end.date()),
                _ => None,
            })
            .max()
            .unwrap_or(local_now.date())
            .max(local_now.date());
        let horizon = last_dated + Days::new(HORIZON_DAYS);
        let first = local_now.date() - Days::new(8);

        // The state changes only where a span starts or ends, or where the clock jumps.
        let mut candidates: BTreeSet<DateTime<Utc>> = BTreeSet::new();
        for span in self.allow.iter().chain(&self.deny) {
            for (s, e) in span.occurrences(first..=horizon) {
                for wall in [s, e] {
                    candidates.extend(self.instants(wall));
                }
            }
        }
        candidates.extend(self.transitions(now, horizon));
        candidates
            .range(now + TimeDelta::seconds(1)..)
            .copied()
            .find(|t| self.open_at(*t))
            .map_or(WindowState::Closed, WindowState::ClosedUntil)
    }

    /// When a closed stage opens next: the instant a timer re-runs what waits for the window
    /// (a merge, a pending `baton/policy`). `None` when open now, or when nothing opens within
    /// the horizon.
    pub fn next_opening(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self.state(now) {
            WindowState::ClosedUntil(t) => Some(t),
            WindowState::Open | WindowState::Closed => None,
        }
    }

    fn open_at(&self, t: DateTime<Utc>) -> bool {
        let wall = t.with_timezone(&self.timezone).naive_local();
        let allowed = self.allow.is_empty() || self.allow.iter().any(|s| s.holds(wall));
        allowed && !self.deny.iter().any(|s| s.holds(wall))
    }

    /// The instants at which the zone's clock shows `wall`: one, two (fall back), or, for a time
    /// the clock skips (spring forward), the instant it jumps past it.
    fn instants(&self, wall: NaiveDateTime) -> Vec<DateTime<Utc>> {
        match self.timezone.from_local_datetime(&wall) {
            LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
            LocalResult::Ambiguous(a, b) => vec![a.with_timezone(&Utc), b.with_timezone(&Utc)],
            LocalResult::None => (1..=24 * 60)
                .map(|m| wall + TimeDelta::minutes(m))
                .find_map(|w| self.timezone.from_local_datetime(&w).earliest())
                .map(|t| vec![t.with_timezone(&Utc)])
                .unwrap_or_default(),
        }
    }

    /// The instants between `now` and the end of `horizon` at which the zone's UTC offset
    /// changes (to the minute), found by comparing offsets a day apart and bisecting.
    fn transitions(&self, now: DateTime<Utc>, horizon: NaiveDate) -> Vec<DateTime<Utc>> {
        use chrono::Offset;
        let offset = |t: DateTime<Utc>| self.timezone.offset_from_utc_datetime(&t.naive_utc()).fix();
        let end = horizon.and_time(NaiveTime::MIN).and_utc() + Days::new(2);
        let mut out = Vec::new();
        let mut at = now;
        while at < end {
            let next = at + TimeDelta::days(1);
            if offset(at) != offset(next) {
                let (mut lo, mut hi) = (at, next);
                while hi - lo > TimeDelta::minutes(1) {
                    let mid = lo + (hi - lo) / 2;
                    if offset(mid) == offset(lo) {
                        lo = mid;
                    } else {
                        hi = mid;
                    }
                }
                // Offsets change on whole minutes: `hi` rounded down to its minute is the change.
                let minute = hi.timestamp() - hi.timestamp().rem_euclid(60);
                out.extend(DateTime::from_timestamp(minute, 0).filter(|m| offset(*m) == offset(hi)).or(Some(hi)));
            }
            at = next;
        }
        out
    }
}

/// How a closed window reads in `baton/policy` and `/status`: "closed until Mon 08:00
/// Europe/Berlin"; an opening more than six days away names its date.
pub fn closed_text(windows: &Windows, state: WindowState, now: DateTime<Utc>) -> Option<String> {
    let zone = windows.timezone;
    match state {
        WindowState::Open => None,
        WindowState::Closed => Some("closed: no promotion window opens again".to_string()),
        WindowState::ClosedUntil(t) => {
            let local = t.with_timezone(&zone);
            let when = if t - now < TimeDelta::days(6) {
                local.format("%a %H:%M").to_string()
            } else {
                local.format("%a %Y-%m-%d %H:%M").to_string()
            };
            Some(format!("closed until {when} {}", zone.name()))
        }
    }
}

impl fmt::Display for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests;

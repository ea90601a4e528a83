use chrono::{DateTime, NaiveDate, NaiveTime, Utc, Weekday};

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect(s).with_timezone(&Utc)
}

fn windows(zone: &str, allow: &[&str], deny: &[&str]) -> Windows {
    Windows {
        timezone: parse_timezone(zone).expect(zone),
        allow: allow.iter().map(|s| s.parse().expect(s)).collect(),
        deny: deny.iter().map(|s| s.parse().expect(s)).collect(),
    }
}

fn t(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap()
}

fn dt(y: i32, mo: u32, d: u32, h: u32, m: u32) -> NaiveDateTime {
    NaiveDate::from_ymd_opt(y, mo, d).unwrap().and_time(t(h, m))
}

#[test]
fn spans_parse() {
    use SpanKind::*;
    const MON_THU: u8 = 0b0000_1111;
    let rows: &[(&str, SpanKind)] = &[
        ("Mon-Thu 09:00-17:00", Daily { days: MON_THU, start: t(9, 0), end: Some(t(17, 0)) }),
        ("mon-thu 9:00 - 17:00", Daily { days: MON_THU, start: t(9, 0), end: Some(t(17, 0)) }),
        ("Sat,Sun 10:00-24:00", Daily { days: 0b0110_0000, start: t(10, 0), end: None }),
        ("Fri-Mon 22:00-06:00", Daily { days: 0b0111_0001, start: t(22, 0), end: Some(t(6, 0)) }),
        ("Monday 08:00-09:00", Daily { days: 1, start: t(8, 0), end: Some(t(9, 0)) }),
        ("Fri 15:00 - Mon 08:00", Weekly { from: (Weekday::Fri, t(15, 0)), to: (Weekday::Mon, t(8, 0)) }),
        ("Sun 02:00-Sun 02:30", Weekly { from: (Weekday::Sun, t(2, 0)), to: (Weekday::Sun, t(2, 30)) }),
        ("2026-12-20 - 2027-01-06", Dates { start: dt(2026, 12, 20, 0, 0), end: dt(2027, 1, 7, 0, 0) }),
        ("2026-12-24", Dates { start: dt(2026, 12, 24, 0, 0), end: dt(2026, 12, 25, 0, 0) }),
        ("2026-12-20 18:00 - 2027-01-06 08:00", Dates { start: dt(2026, 12, 20, 18, 0), end: dt(2027, 1, 6, 8, 0) }),
    ];
    for (text, kind) in rows {
        let span: Span = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
        assert_eq!(span.kind, *kind, "{text}");
    }
}

#[test]
fn bad_spans_say_why() {
    let rows: &[(&str, &str)] = &[
        ("weekdays", "cannot read window \"weekdays\": expected e.g. \"Mon-Thu 09:00-17:00\", \"Fri 15:00 - Mon 08:00\" or \"2026-12-20 - 2027-01-06\""),
        ("Mon-Thu 09:00", "cannot read window \"Mon-Thu 09:00\": expected e.g. \"Mon-Thu 09:00-17:00\", \"Fri 15:00 - Mon 08:00\" or \"2026-12-20 - 2027-01-06\""),
        ("Mun-Thu 09:00-17:00", "window \"Mun-Thu 09:00-17:00\": `Mun` is no day of the week (Mon … Sun)"),
        ("Mon-Thu 09:00-25:00", "window \"Mon-Thu 09:00-25:00\": `25:00` is no time of day (00:00 … 23:59)"),
        ("Mon 09:00-09:00", "window \"Mon 09:00-09:00\": the window ends when it starts"),
        ("Fri 15:00 - Fri 15:00", "window \"Fri 15:00 - Fri 15:00\": the end is the start: say \"Mon-Sun 00:00-24:00\" for always"),
        ("Fri 24:00 - Mon 08:00", "window \"Fri 24:00 - Mon 08:00\": `24:00` is no time of day (00:00 … 23:59)"),
        ("2027-01-06 - 2026-12-20", "window \"2027-01-06 - 2026-12-20\": the end is not after the start"),
        ("2026-02-30", "window \"2026-02-30\": `2026-02-30` is no date"),
    ];
    for (text, message) in rows {
        let err = text.parse::<Span>().expect_err(text);
        assert_eq!(err.to_string(), *message, "{text}");
    }
}

#[test]
fn time_zones_are_iana_names() {
    assert_eq!(parse_timezone("Europe/Berlin").unwrap(), chrono_tz::Europe::Berlin);
    assert_eq!(parse_timezone("europe/berlin").unwrap(), chrono_tz::Europe::Berlin);
    assert_eq!(parse_timezone("UTC").unwrap(), chrono_tz::UTC);
    assert_eq!(
        parse_timezone("Europe/Berln").unwrap_err().to_string(),
        "unknown time zone `Europe/Berln` (did you mean `Europe/Berlin`?): expected an IANA name such as Europe/Berlin or UTC"
    );
    assert_eq!(
        parse_timezone("CEST+2").unwrap_err().to_string(),
        "unknown time zone `CEST+2`: expected an IANA name such as Europe/Berlin or UTC"
    );
}

/// The example: Mon–Thu office hours, no Friday-afternoon or weekend deploys, a
/// year-end freeze. 2026-12-02 is a Wednesday; Berlin is UTC+1 in winter.
#[test]
fn office_hours_with_a_freeze() {
    let w = windows("Europe/Berlin", &["Mon-Thu 09:00-17:00"], &["Fri 15:00 - Mon 08:00", "2026-12-20 - 2027-01-06"]);
    let rows: &[(&str, WindowState, &str)] = &[
        ("2026-12-02T09:00:00Z", WindowState::Open, "Wed 10:00: inside the allow window"),
        ("2026-12-02T08:00:00Z", WindowState::Open, "Wed 09:00: the window's first minute"),
        ("2026-12-02T07:59:00Z", WindowState::ClosedUntil(utc("2026-12-02T08:00:00Z")), "Wed 08:59"),
        ("2026-12-02T16:00:00Z", WindowState::ClosedUntil(utc("2026-12-03T08:00:00Z")), "Wed 17:00: end is exclusive"),
        ("2026-12-03T16:30:00Z", WindowState::ClosedUntil(utc("2026-12-07T08:00:00Z")), "Thu 17:30 → Mon 09:00"),
        ("2026-12-04T09:00:00Z", WindowState::ClosedUntil(utc("2026-12-07T08:00:00Z")), "Fri: not an allow day"),
        ("2026-12-17T17:00:00Z", WindowState::ClosedUntil(utc("2027-01-07T08:00:00Z")), "Thu before the freeze"),
        ("2026-12-21T09:00:00Z", WindowState::ClosedUntil(utc("2027-01-07T08:00:00Z")), "Mon in the freeze"),
        ("2027-01-06T09:00:00Z", WindowState::ClosedUntil(utc("2027-01-07T08:00:00Z")), "the freeze's last day, whole"),
        ("2027-01-07T08:00:00Z", WindowState::Open, "the first day after the freeze"),
    ];
    for (now, expected, why) in rows {
        assert_eq!(w.state(utc(now)), *expected, "{now}: {why}");
    }
}

#[test]
fn deny_only_and_deny_wins() {
    let w = windows("Europe/Berlin", &[], &["Fri 15:00 - Mon 08:00"]);
    let rows: &[(&str, WindowState)] = &[
        ("2026-12-04T13:59:00Z", WindowState::Open),
        ("2026-12-04T14:00:00Z", WindowState::ClosedUntil(utc("2026-12-07T07:00:00Z"))),
        ("2026-12-06T23:00:00Z", WindowState::ClosedUntil(utc("2026-12-07T07:00:00Z"))),
        ("2026-12-07T07:00:00Z", WindowState::Open),
        ("2026-12-09T03:00:00Z", WindowState::Open),
    ];
    for (now, expected) in rows {
        assert_eq!(w.state(utc(now)), *expected, "{now}");
    }
    // An allow window that a deny span covers is closed.
    let w = windows("UTC", &["Fri 14:00-18:00"], &["Fri 15:00 - Mon 08:00"]);
    assert_eq!(w.state(utc("2026-12-04T15:30:00Z")), WindowState::ClosedUntil(utc("2026-12-11T14:00:00Z")));
    // Nothing opens again: the only allow span is in the past.
    let w = windows("UTC", &["2020-01-01"], &[]);
    assert_eq!(w.state(utc("2026-12-04T15:30:00Z")), WindowState::Closed);
}

#[test]
fn windows_across_midnight() {
    let w = windows("UTC", &["Mon-Fri 22:00-06:00"], &[]);
    let rows: &[(&str, WindowState)] = &[
        ("2026-12-04T23:00:00Z", WindowState::Open), // Fri 23:00
        ("2026-12-05T05:59:00Z", WindowState::Open), // Sat 05:59, Friday's window
        ("2026-12-05T06:00:00Z", WindowState::ClosedUntil(utc("2026-12-07T22:00:00Z"))), // Sat 06:00 → Mon 22:00
    ];
    for (now, expected) in rows {
        assert_eq!(w.state(utc(now)), *expected, "{now}");
    }
}

/// Europe/Berlin in 2026: on Sun 29 March the clock jumps from 02:00 CET to 03:00 CEST (01:00Z);
/// on Sun 25 October it falls back from 03:00 CEST to 02:00 CET (01:00Z).
#[test]
fn daylight_saving_in_the_configured_zone() {
    /// (allow, deny, now, state, why)
    type Case<'a> = (&'a [&'a str], &'a [&'a str], &'a str, WindowState, &'a str);
    let rows: &[Case] = &[
        // A window at 02:30 on the day 02:30 does not exist opens when the clock jumps.
        (
            &["Sun 02:30-04:00"],
            &[],
            "2026-03-28T12:00:00Z",
            WindowState::ClosedUntil(utc("2026-03-29T01:00:00Z")),
            "spring forward into a window",
        ),
        (&["Sun 02:30-04:00"], &[], "2026-03-29T01:00:00Z", WindowState::Open, "03:00 CEST is inside 02:30-04:00"),
        (
            &["Sun 02:30-04:00"],
            &[],
            "2026-03-29T02:00:00Z",
            WindowState::ClosedUntil(utc("2026-04-05T00:30:00Z")),
            "04:00 CEST; next Sunday 02:30 CEST",
        ),
        // Wall-clock hours keep their meaning: 09:00 is 08:00Z before and 07:00Z after.
        (&["Sun 09:00-17:00"], &[], "2026-03-22T12:00:00Z", WindowState::Open, "13:00 CET"),
        (
            &["Sun 09:00-17:00"],
            &[],
            "2026-03-28T12:00:00Z",
            WindowState::ClosedUntil(utc("2026-03-29T07:00:00Z")),
            "09:00 CEST",
        ),
        (
            &["Sun 09:00-17:00"],
            &[],
            "2026-10-24T12:00:00Z",
            WindowState::ClosedUntil(utc("2026-10-25T08:00:00Z")),
            "09:00 CET",
        ),
        // A deny that ends at a skipped time ends when the clock jumps past it.
        (
            &[],
            &["Sun 01:00 - Sun 02:30"],
            "2026-03-29T00:30:00Z",
            WindowState::ClosedUntil(utc("2026-03-29T01:00:00Z")),
            "deny ends in the gap",
        ),
        // Fall back: 02:00-02:30 happens twice, and the deny holds both times.
        (
            &[],
            &["Sun 02:00 - Sun 02:30"],
            "2026-10-25T00:10:00Z",
            WindowState::ClosedUntil(utc("2026-10-25T00:30:00Z")),
            "first 02:10 (CEST)",
        ),
        (&[], &["Sun 02:00 - Sun 02:30"], "2026-10-25T00:45:00Z", WindowState::Open, "02:45 CEST"),
        (
            &[],
            &["Sun 02:00 - Sun 02:30"],
            "2026-10-25T01:10:00Z",
            WindowState::ClosedUntil(utc("2026-10-25T01:30:00Z")),
            "second 02:10 (CET)",
        ),
        // A night window 02:00-04:00: in March 02:00 is skipped (opens at the jump, 03:00 CEST,
        // 01:00Z); in October it opens at the first 02:00 (CEST, 00:00Z), not an hour later.
        (
            &["Sun 02:00-04:00"],
            &[],
            "2026-03-28T12:00:00Z",
            WindowState::ClosedUntil(utc("2026-03-29T01:00:00Z")),
            "night window, spring forward",
        ),
        (
            &["Sun 02:00-04:00"],
            &[],
            "2026-10-24T12:00:00Z",
            WindowState::ClosedUntil(utc("2026-10-25T00:00:00Z")),
            "night window, fall back",
        ),
        (&["Sun 02:00-04:00"], &[], "2026-10-25T02:30:00Z", WindowState::Open, "03:30 CET: three hours long"),
        // Falling back re-enters a window without crossing its start: 02:59 CEST → 02:00 CET.
        (
            &["Sun 01:30-02:30"],
            &[],
            "2026-10-25T00:45:00Z",
            WindowState::ClosedUntil(utc("2026-10-25T01:00:00Z")),
            "fall back into a window",
        ),
    ];
    for (allow, deny, now, expected, why) in rows {
        let w = windows("Europe/Berlin", allow, deny);
        assert_eq!(w.state(utc(now)), *expected, "{now}: {why}");
        let opening = match expected {
            WindowState::ClosedUntil(t) => Some(*t),
            _ => None,
        };
        assert_eq!(w.next_opening(utc(now)), opening, "{now}: {why}");
    }
}

#[test]
fn closed_text_names_the_opening_in_the_zone() {
    let w = windows("Europe/Berlin", &["Mon-Thu 09:00-17:00"], &["Fri 15:00 - Mon 08:00", "2026-12-20 - 2027-01-06"]);
    let deny_only = windows("Europe/Berlin", &[], &["Fri 15:00 - Mon 08:00"]);
    let past = windows("UTC", &["2020-01-01"], &[]);
    let lines: Vec<String> = [
        (&deny_only, "2026-12-04T16:00:00Z"),
        (&w, "2026-12-02T18:00:00Z"),
        (&w, "2026-12-21T09:00:00Z"),
        (&w, "2026-12-02T09:00:00Z"),
        (&past, "2026-12-02T09:00:00Z"),
    ]
    .iter()
    .map(|(w, now)| {
        let now = utc(now);
        format!("{now}: {}", closed_text(w, w.state(now), now).unwrap_or_else(|| "open".into()))
    })
    .collect();
    insta::assert_snapshot!(lines.join("\n"));
}

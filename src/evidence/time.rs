//! Sign-in timestamps in the shapes the exports write them: ISO 8601 / RFC 3339
//! (`2026-11-20T08:01:02Z`, seven fractional digits from .NET's `o` format, an
//! offset, or none at all in the portal's `Date (UTC)` column) and Windows
//! PowerShell 5.1's `ConvertTo-Json` form `/Date(1732691144000)/`.

/// Seconds since the Unix epoch, UTC; `None` when the text is not a timestamp.
pub fn parse(text: &str) -> Option<i64> {
    let s = text.trim();
    if let Some(rest) = s.strip_prefix("/Date(").or_else(|| s.strip_prefix("\\/Date(")) {
        return json_date(rest);
    }
    iso(s)
}

/// `1732691144000)/` or `1732691144000+0100)/`: milliseconds since the epoch (the
/// offset only says how to display it).
fn json_date(rest: &str) -> Option<i64> {
    let end = rest.find(')')?;
    let inner = &rest[..end];
    let digits_end = inner
        .char_indices()
        .skip(1)
        .find(|(_, c)| *c == '+' || *c == '-')
        .map_or(inner.len(), |(i, _)| i);
    let ms: i64 = inner[..digits_end].parse().ok()?;
    Some(ms.div_euclid(1000))
}

fn iso(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 19 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        let part = s.get(r)?;
        part.bytes().all(|c| c.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (year, month, day) = (num(0..4)? as i32, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut rest = &s[19..];
    if let Some(frac) = rest.strip_prefix('.') {
        let n = frac.bytes().take_while(u8::is_ascii_digit).count();
        if n == 0 {
            return None;
        }
        rest = &frac[n..];
    }
    let offset = match rest {
        "" | "Z" | "z" => 0,
        _ => {
            let sign = match rest.as_bytes()[0] {
                b'+' => 1,
                b'-' => -1,
                _ => return None,
            };
            let r = &rest[1..];
            let (h, m) = match r.len() {
                5 if r.as_bytes()[2] == b':' => (r.get(0..2)?, r.get(3..5)?),
                4 => (r.get(0..2)?, r.get(2..4)?),
                2 => (r, "00"),
                _ => return None,
            };
            let (h, m): (i64, i64) = (h.parse().ok()?, m.parse().ok()?);
            if h > 23 || m > 59 {
                return None;
            }
            sign * (h * 3600 + m * 60)
        }
    };
    let date =
        time::Date::from_calendar_date(year, time::Month::try_from(month as u8).ok()?, day as u8)
            .ok()?;
    let t = time::Time::from_hms(hour as u8, minute as u8, second as u8).ok()?;
    Some(date.with_time(t).assume_utc().unix_timestamp() - offset)
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn every_shape_of_the_same_instant() {
        let at = Some(1_795_161_662_i64); // 2026-11-20T08:01:02Z
        for s in [
            "2026-11-20T08:01:02Z",
            "2026-11-20T08:01:02.0000000Z",
            "2026-11-20T08:01:02.123Z",
            "2026-11-20T08:01:02",
            "2026-11-20 08:01:02",
            "2026-11-20T09:01:02+01:00",
            "2026-11-20T03:01:02-0500",
            "/Date(1795161662000)/",
            "/Date(1795161662999)/",
            "/Date(1795161662000+0100)/",
            " 2026-11-20T08:01:02Z ",
        ] {
            assert_eq!(parse(s), at, "{s}");
        }
    }

    #[test]
    fn impossible_dates_are_not_dates() {
        for s in [
            "",
            "not a date",
            "2026-13-45T99:00:00Z",
            "2026-02-30T00:00:00Z",
            "2026-11-20T08:01",
            "2026-11-20T08:01:02.Z",
            "2026-11-20T08:01:02+25:00",
            "20/11/2026 08:01:02",
            "/Date(abc)/",
        ] {
            assert_eq!(parse(s), None, "{s}");
        }
    }
}

//! RFC 3339 timestamps with nanoseconds, as Go's `time.RFC3339Nano` writes them.
//!
//! The index file stores every modification time in this form. Parsing and formatting are
//! hand-written (a few dozen lines, no allocation when parsing) because a re-index of 100k files
//! parses 100k of them and a general date library would dominate that cost.

/// Nanoseconds since the Unix epoch (UTC); covers the years 1678 to 2262.
pub type UnixNanos = i64;

const NANOS_PER_SEC: i64 = 1_000_000_000;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The (year, month, day) of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Formats as `2006-01-02T15:04:05.999999999Z` (UTC, trailing zeros of the fraction trimmed,
/// no fraction when it is zero), exactly like Go's `RFC3339Nano`.
pub fn format_rfc3339_nanos(t: UnixNanos, out: &mut String) {
    use std::fmt::Write;
    let secs = t.div_euclid(NANOS_PER_SEC);
    let nanos = t.rem_euclid(NANOS_PER_SEC);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let _ = write!(
        out,
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    );
    if nanos != 0 {
        let mut frac = format!("{nanos:09}");
        while frac.ends_with('0') {
            frac.pop();
        }
        out.push('.');
        out.push_str(&frac);
    }
    out.push('Z');
}

/// Parses an RFC 3339 timestamp (any offset, 0 to 9 fraction digits); `None` if malformed.
/// Times outside the representable range saturate.
pub fn parse_rfc3339_nanos(s: &str) -> Option<UnixNanos> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let mut v = 0i64;
        for &c in b.get(r)? {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec) = (num(11..13)?, num(14..16)?, num(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let mut i = 19;
    let mut nanos = 0i64;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let digits = i - start;
        if digits == 0 || digits > 9 {
            return None;
        }
        nanos = num(start..i)? * 10i64.pow(9 - digits as u32);
    }
    let offset_secs = match b.get(i)? {
        b'Z' | b'z' if i + 1 == b.len() => 0,
        sign @ (b'+' | b'-') if i + 6 == b.len() && b[i + 3] == b':' => {
            let off = num(i + 1..i + 3)? * 3600 + num(i + 4..i + 6)? * 60;
            if *sign == b'+' { off } else { -off }
        }
        _ => return None,
    };
    // Saturates outside 1678..2262 (Go's zero time becomes i64::MIN: older than any real file).
    let secs = days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + sec - offset_secs;
    Some(secs.saturating_mul(NANOS_PER_SEC).saturating_add(nanos))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fmt(t: i64) -> String {
        let mut s = String::new();
        format_rfc3339_nanos(t, &mut s);
        s
    }

    #[test]
    fn formats_like_go_rfc3339nano() {
        assert_eq!(fmt(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            fmt(1_588_672_800_123_456_789),
            "2020-05-05T10:00:00.123456789Z"
        );
        assert_eq!(fmt(1_588_672_800_120_000_000), "2020-05-05T10:00:00.12Z");
        assert_eq!(fmt(-1), "1969-12-31T23:59:59.999999999Z");
    }

    #[test]
    fn parses_offsets_and_fractions() {
        assert_eq!(
            parse_rfc3339_nanos("2020-05-05T10:00:00.123456789Z"),
            Some(1_588_672_800_123_456_789)
        );
        assert_eq!(
            parse_rfc3339_nanos("2020-05-05T12:00:00.12+02:00"),
            Some(1_588_672_800_120_000_000)
        );
        assert_eq!(
            parse_rfc3339_nanos("2020-05-05T05:30:00-04:30"),
            Some(1_588_672_800_000_000_000)
        );
        assert_eq!(parse_rfc3339_nanos("2020-05-05T10:00:00"), None);
        assert_eq!(parse_rfc3339_nanos("2020-13-05T10:00:00Z"), None);
        assert_eq!(parse_rfc3339_nanos("2020-05-05T10:00:00.Z"), None);
    }

    #[test]
    fn round_trips_across_eras() {
        for t in [
            -5_000_000_000_123_456_789i64,
            0,
            951_782_400_000_000_001,
            4_102_444_800_999_999_999,
        ] {
            assert_eq!(parse_rfc3339_nanos(&fmt(t)), Some(t), "{}", fmt(t));
        }
    }
}

//! Timestamps as RFC 3339 with nanoseconds (Go's `time.RFC3339Nano`, UTC), without a date crate.

/// `2024-05-01T12:00:00.123Z` for `ms` milliseconds since the unix epoch (Go trims trailing
/// zeros of the fraction, and the dot with them).
pub fn rfc3339_nano(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let mut frac = String::new();
    if millis != 0 {
        frac = format!(".{millis:03}");
        while frac.ends_with('0') {
            frac.pop();
        }
    }
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Howard Hinnant's days-to-civil algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::rfc3339_nano;

    #[test]
    fn formats_like_go() {
        assert_eq!(rfc3339_nano(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_nano(1_714_564_800_123), "2024-05-01T12:00:00.123Z");
        assert_eq!(rfc3339_nano(1_709_210_096_500), "2024-02-29T12:34:56.5Z");
        assert_eq!(rfc3339_nano(-1), "1969-12-31T23:59:59.999Z");
    }
}

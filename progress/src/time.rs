//! Timestamps as RFC 3339 with nanoseconds (Go's `time.RFC3339Nano`, UTC).

/// `2024-05-01T12:00:00.123Z` for `ms` milliseconds since the unix epoch (Go trims trailing
/// zeros of the fraction, and the dot with them). Times chrono cannot represent (hundreds of
/// thousands of years away) are written as the epoch.
pub fn rfc3339_nano(ms: i64) -> String {
    let t = chrono::DateTime::from_timestamp_millis(ms).unwrap_or_default();
    let mut frac = format!(".{:03}", ms.rem_euclid(1000));
    while frac.ends_with('0') {
        frac.pop();
    }
    if frac == "." {
        frac.clear();
    }
    format!("{}{frac}Z", t.format("%Y-%m-%dT%H:%M:%S"))
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

//! Small Go standard-library behaviours BuildKit's messages and checks depend on:
//! `strconv.ParseBool/ParseUint/ParseInt/Quote`, `time.ParseDuration`, `path.Clean/Base`,
//! and go-units' `RAMInBytes`.

/// Go's `strconv.ParseBool`.
pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// Go's `strconv.ParseUint(s, radix, bits)` for radix 8 or 10 (no sign, no prefix, no `_`).
pub(crate) fn parse_uint(s: &str, radix: u32, bits: u32) -> Option<u64> {
    if s.is_empty() || !s.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = u64::from_str_radix(s, radix).ok()?;
    let max = if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    };
    (v <= max).then_some(v)
}

/// Go's `strconv.ParseInt(s, 10, 32)`, with Go's error text.
pub(crate) fn parse_int32(s: &str) -> Result<i64, String> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    let syntax = || format!("strconv.ParseInt: parsing {}: invalid syntax", go_quote(s));
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(syntax());
    }
    let range = || {
        format!(
            "strconv.ParseInt: parsing {}: value out of range",
            go_quote(s)
        )
    };
    let v: i128 = s.parse().map_err(|_| range())?;
    if v < i128::from(i32::MIN) || v > i128::from(i32::MAX) {
        return Err(range());
    }
    i64::try_from(v).map_err(|_| range())
}

/// Go's `strconv.Quote` (`%q`).
pub(crate) fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if c.is_control() => {
                if (c as u32) < 0x10000 {
                    out.push_str(&format!("\\u{:04x}", c as u32));
                } else {
                    out.push_str(&format!("\\U{:08x}", c as u32));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// go-units' `RAMInBytes` (binary multipliers: `k`=1024 ...), None when invalid.
pub(crate) fn ram_in_bytes(s: &str) -> Option<i64> {
    let sep = s.rfind(|c: char| c.is_ascii_digit() || c == '.' || c == ' ')?;
    let (num, sfx) = if s.as_bytes().get(sep) == Some(&b' ') {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    let mut size: f64 = num.parse().ok()?;
    if size < 0.0 || size.is_nan() {
        return None;
    }
    if sfx.is_empty() {
        return Some(size as i64);
    }
    if sfx.len() > 3 {
        return None;
    }
    let sfx = sfx.to_lowercase();
    let bytes = sfx.as_bytes();
    let first = *bytes.first()?;
    if first == b'b' {
        return (bytes.len() == 1).then_some(size as i64);
    }
    let mul: f64 = match first {
        b'k' => 1024.0,
        b'm' => 1024.0 * 1024.0,
        b'g' => 1024.0 * 1024.0 * 1024.0,
        b't' => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        b'p' => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    size *= mul;
    let ok = match bytes.len() {
        2 => bytes[1] == b'b',
        3 => &bytes[1..] == b"ib",
        _ => true,
    };
    ok.then_some(size as i64)
}

const NS: u64 = 1;
const US: u64 = 1_000;
const MS: u64 = 1_000_000;
const SEC: u64 = 1_000_000_000;

fn duration_unit(u: &str) -> Option<u64> {
    Some(match u {
        "ns" => NS,
        "us" | "\u{b5}s" | "\u{3bc}s" => US,
        "ms" => MS,
        "s" => SEC,
        "m" => 60 * SEC,
        "h" => 3600 * SEC,
        _ => return None,
    })
}

/// Go's `time.ParseDuration`: nanoseconds, or Go's error text.
pub(crate) fn parse_duration(orig: &str) -> Result<i64, String> {
    let invalid = || format!("time: invalid duration {}", go_quote(orig));
    const LIMIT: u64 = 1 << 63;
    let mut s = orig;
    let mut neg = false;
    if let Some(rest) = s.strip_prefix('-') {
        neg = true;
        s = rest;
    } else if let Some(rest) = s.strip_prefix('+') {
        s = rest;
    }
    if s == "0" {
        return Ok(0);
    }
    if s.is_empty() {
        return Err(invalid());
    }
    let mut total: u64 = 0;
    while !s.is_empty() {
        let b = s.as_bytes();
        if !(b[0] == b'.' || b[0].is_ascii_digit()) {
            return Err(invalid());
        }
        // Integer part.
        let int_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
        let mut v: u64 = 0;
        for &c in &b[..int_len] {
            if v > LIMIT / 10 {
                return Err(invalid());
            }
            v = v * 10 + u64::from(c - b'0');
            if v > LIMIT {
                return Err(invalid());
            }
        }
        s = &s[int_len..];
        let pre = int_len > 0;
        // Fraction part.
        let mut f: u64 = 0;
        let mut scale = 1.0f64;
        let mut post = false;
        if let Some(rest) = s.strip_prefix('.') {
            s = rest;
            let fb = s.as_bytes();
            let frac_len = fb.iter().take_while(|c| c.is_ascii_digit()).count();
            let mut overflow = false;
            for &c in &fb[..frac_len] {
                if overflow {
                    continue;
                }
                if f > (LIMIT - 1) / 10 {
                    overflow = true;
                    continue;
                }
                let y = f * 10 + u64::from(c - b'0');
                if y > LIMIT {
                    overflow = true;
                    continue;
                }
                f = y;
                scale *= 10.0;
            }
            s = &s[frac_len..];
            post = frac_len > 0;
        }
        if !pre && !post {
            return Err(invalid());
        }
        // Unit.
        let unit_len = s
            .find(|c: char| c == '.' || c.is_ascii_digit())
            .unwrap_or(s.len());
        if unit_len == 0 {
            return Err(format!("time: missing unit in duration {}", go_quote(orig)));
        }
        let u = &s[..unit_len];
        s = &s[unit_len..];
        let Some(unit) = duration_unit(u) else {
            return Err(format!(
                "time: unknown unit {} in duration {}",
                go_quote(u),
                go_quote(orig)
            ));
        };
        if v > LIMIT / unit {
            return Err(invalid());
        }
        v *= unit;
        if f > 0 {
            v += (f as f64 * (unit as f64 / scale)) as u64;
            if v > LIMIT {
                return Err(invalid());
            }
        }
        total += v;
        if total > LIMIT {
            return Err(invalid());
        }
    }
    if neg {
        // total <= 2^63, so the negation fits.
        return Ok((total as i128).wrapping_neg() as i64);
    }
    i64::try_from(total).map_err(|_| invalid())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools() {
        assert_eq!(parse_bool("True"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }

    #[test]
    fn uints() {
        assert_eq!(parse_uint("0755", 8, 32), Some(0o755));
        assert_eq!(parse_uint("8", 8, 32), None);
        assert_eq!(parse_uint("4294967295", 10, 32), Some(4_294_967_295));
        assert_eq!(parse_uint("4294967296", 10, 32), None);
        assert_eq!(parse_uint("+1", 10, 32), None);
        assert_eq!(parse_uint("", 10, 32), None);
    }

    #[test]
    fn int32() {
        assert_eq!(parse_int32("+3"), Ok(3));
        assert_eq!(parse_int32("-3"), Ok(-3));
        assert_eq!(
            parse_int32("x").unwrap_err(),
            "strconv.ParseInt: parsing \"x\": invalid syntax"
        );
        assert_eq!(
            parse_int32("3000000000").unwrap_err(),
            "strconv.ParseInt: parsing \"3000000000\": value out of range"
        );
    }

    #[test]
    fn quoting() {
        assert_eq!(go_quote("a\"b\\c\n\u{1}"), r#""a\"b\\c\n\x01""#);
        assert_eq!(go_quote("ü"), "\"ü\"");
    }

    #[test]
    fn sizes() {
        assert_eq!(ram_in_bytes("10"), Some(10));
        assert_eq!(ram_in_bytes("10k"), Some(10 * 1024));
        assert_eq!(ram_in_bytes("1.5m"), Some(1_572_864));
        assert_eq!(ram_in_bytes("2GiB"), Some(2 << 30));
        assert_eq!(ram_in_bytes("2 mb"), Some(2 << 20));
        assert_eq!(ram_in_bytes("3b"), Some(3));
        assert_eq!(ram_in_bytes("1x"), None);
        assert_eq!(ram_in_bytes("1kx"), None);
        assert_eq!(ram_in_bytes("abc"), None);
        assert_eq!(ram_in_bytes("1bb"), None);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("0"), Ok(0));
        assert_eq!(parse_duration("1s"), Ok(1_000_000_000));
        assert_eq!(parse_duration("1h2m3.5s"), Ok(3_723_500_000_000));
        assert_eq!(parse_duration("-1.5ms"), Ok(-1_500_000));
        assert_eq!(parse_duration("500us"), Ok(500_000));
        assert_eq!(parse_duration("2\u{b5}s"), Ok(2_000));
        assert_eq!(parse_duration(".5s"), Ok(500_000_000));
        assert_eq!(
            parse_duration("1").unwrap_err(),
            "time: missing unit in duration \"1\""
        );
        assert_eq!(
            parse_duration("1d").unwrap_err(),
            "time: unknown unit \"d\" in duration \"1d\""
        );
        assert_eq!(
            parse_duration("").unwrap_err(),
            "time: invalid duration \"\""
        );
        assert_eq!(
            parse_duration("s").unwrap_err(),
            "time: invalid duration \"s\""
        );
        assert_eq!(
            parse_duration(".s").unwrap_err(),
            "time: invalid duration \".s\""
        );
        assert_eq!(
            parse_duration("9999999999h").unwrap_err(),
            "time: invalid duration \"9999999999h\""
        );
    }
}

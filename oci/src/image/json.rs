//! Canonical JSON bytes (object keys sorted, no whitespace) so that the same image always has
//! the same digest, whatever order a `HashMap` iterates in.

use serde::Serialize;
use serde_json::{Map, Value};

pub fn canonical_json<T: Serialize>(value: &T) -> Result<Vec<u8>, serde_json::Error> {
    let v = serde_json::to_value(value)?;
    serde_json::to_vec(&sorted(v))
}

fn sorted(v: Value) -> Value {
    match v {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            let mut out = Map::new();
            for (k, v) in entries {
                out.insert(k, sorted(v));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

/// RFC 3339 UTC time (`2006-01-02T15:04:05Z`) for seconds since the Unix epoch; `None`
/// outside years 0–9999 (which RFC 3339, and Go's JSON encoding of times, cannot write).
pub fn rfc3339(secs: i64) -> Option<String> {
    use chrono::Datelike;
    let t = chrono::DateTime::from_timestamp(secs, 0)?;
    (0..=9999)
        .contains(&t.year())
        .then(|| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(rfc3339(0).unwrap(), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_700_000_000).unwrap(), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339(951_782_400).unwrap(), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(-1).unwrap(), "1969-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_799).unwrap(), "9999-12-31T23:59:59Z");
        assert_eq!(rfc3339(253_402_300_800), None, "year 10000");
        assert_eq!(rfc3339(i64::MAX), None);
    }

    #[test]
    fn keys_sorted() {
        let mut m = std::collections::HashMap::new();
        for k in ["b", "a", "c"] {
            m.insert(k, 1);
        }
        assert_eq!(canonical_json(&m).unwrap(), br#"{"a":1,"b":1,"c":1}"#);
    }
}

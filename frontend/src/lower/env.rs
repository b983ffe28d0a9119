//! An ordered environment with BuildKit's `llb.EnvList` semantics: setting a key moves it
//! to the end, so the order is the order of each key's latest assignment.

use crate::shell::EnvGetter;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct EnvList {
    entries: Vec<(String, String)>,
}

impl EnvList {
    pub fn new() -> EnvList {
        EnvList::default()
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.entries.retain(|(k, _)| k != key);
        self.entries.push((key.to_string(), value.to_string()));
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn contains(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_str())
    }

    /// `KEY=VALUE` strings in order.
    pub fn to_array(&self) -> Vec<String> {
        self.entries
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect()
    }
}

impl EnvGetter for EnvList {
    fn get(&self, key: &str) -> Option<&str> {
        EnvList::get(self, key)
    }
}

/// Splits `KEY=VALUE` (a missing `=` gives an empty value), as BuildKit's `parseKeyValue`.
pub fn parse_key_value(kv: &str) -> (&str, &str) {
    kv.split_once('=').unwrap_or((kv, ""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_moves_to_end() {
        let mut e = EnvList::new();
        e.set("A", "1");
        e.set("B", "2");
        e.set("A", "3");
        assert_eq!(e.to_array(), vec!["B=2", "A=3"]);
        assert_eq!(e.get("A"), Some("3"));
        assert_eq!(parse_key_value("X=a=b"), ("X", "a=b"));
        assert_eq!(parse_key_value("X"), ("X", ""));
    }
}

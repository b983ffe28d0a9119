//! Instruction flags (BuildKit's `bflag.go`): each instruction declares the flags it knows;
//! `--name=value` or, for bools only, `--name`; only string-array flags may repeat.

use std::collections::BTreeMap;

use super::error::FlagError;
use super::suggest::suggest;

/// The kind of a declared flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// `--x`, `--x=true`, `--x=false` (case-insensitive values).
    Bool,
    /// `--x=value`, at most once.
    String,
    /// `--x=value`, repeatable, values kept in order.
    Strings,
}

/// A flag an instruction accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlagSpec {
    pub name: &'static str,
    pub kind: FlagKind,
}

impl FlagSpec {
    pub const fn bool(name: &'static str) -> Self {
        Self {
            name,
            kind: FlagKind::Bool,
        }
    }
    pub const fn string(name: &'static str) -> Self {
        Self {
            name,
            kind: FlagKind::String,
        }
    }
    pub const fn strings(name: &'static str) -> Self {
        Self {
            name,
            kind: FlagKind::Strings,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum FlagValue {
    Bool(bool),
    String(String),
    Strings(Vec<String>),
}

/// The flags given to one instruction, checked against its declared set.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Flags {
    values: BTreeMap<&'static str, FlagValue>,
}

impl Flags {
    /// Parses `args` (the node's raw flags, `--x=y`) against `specs`, as `BFlags.Parse`.
    pub fn parse(args: &[String], specs: &[FlagSpec]) -> Result<Self, FlagError> {
        let mut values: BTreeMap<&'static str, FlagValue> = BTreeMap::new();
        for a in args {
            if a == "--" {
                break;
            }
            let Some(body) = a.strip_prefix("--") else {
                return Err(FlagError::NotAFlag { arg: a.clone() });
            };
            let (name, value) = match body.split_once('=') {
                Some((n, v)) => (n, Some(v)),
                None => (body, None),
            };
            let flag_name = format!("--{name}");
            let Some(spec) = specs.iter().find(|s| s.name == name) else {
                let names: Vec<&str> = specs.iter().map(|s| s.name).collect();
                return Err(FlagError::Unknown {
                    name: flag_name,
                    suggestion: suggest(name, &names, true),
                });
            };
            if values.contains_key(spec.name) && spec.kind != FlagKind::Strings {
                return Err(FlagError::Duplicate { name: flag_name });
            }
            let new = match spec.kind {
                FlagKind::Bool => {
                    if value == Some("") {
                        return Err(FlagError::MissingValue { name: flag_name });
                    }
                    let v = value.unwrap_or("");
                    match v.to_lowercase().as_str() {
                        "true" | "" => FlagValue::Bool(true),
                        "false" => FlagValue::Bool(false),
                        _ => {
                            return Err(FlagError::NotBool {
                                name: flag_name,
                                value: v.to_string(),
                            })
                        }
                    }
                }
                FlagKind::String => {
                    let Some(v) = value else {
                        return Err(FlagError::MissingValue { name: flag_name });
                    };
                    FlagValue::String(v.to_string())
                }
                FlagKind::Strings => {
                    let Some(v) = value else {
                        return Err(FlagError::MissingValue { name: flag_name });
                    };
                    let mut list = match values.remove(spec.name) {
                        Some(FlagValue::Strings(l)) => l,
                        _ => Vec::new(),
                    };
                    list.push(v.to_string());
                    FlagValue::Strings(list)
                }
            };
            values.insert(spec.name, new);
        }
        Ok(Self { values })
    }

    /// True when the flag was given.
    pub fn is_used(&self, name: &str) -> bool {
        self.values.contains_key(name)
    }

    /// Names of the flags given, sorted.
    pub fn used(&self) -> Vec<String> {
        self.values.keys().map(|k| (*k).to_string()).collect()
    }

    /// A string flag's value, None when not given.
    pub fn string(&self, name: &str) -> Option<&str> {
        match self.values.get(name) {
            Some(FlagValue::String(s)) => Some(s),
            _ => None,
        }
    }

    /// A bool flag's value, None when not given.
    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.values.get(name) {
            Some(FlagValue::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    /// A string-array flag's values in order (empty when not given).
    pub fn strings(&self, name: &str) -> Vec<String> {
        match self.values.get(name) {
            Some(FlagValue::Strings(l)) => l.clone(),
            _ => Vec::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECS: [FlagSpec; 3] = [
        FlagSpec::bool("link"),
        FlagSpec::string("from"),
        FlagSpec::strings("exclude"),
    ];

    fn parse(args: &[&str]) -> Result<Flags, FlagError> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        Flags::parse(&args, &SPECS)
    }

    fn err(args: &[&str]) -> String {
        parse(args).unwrap_err().to_string()
    }

    #[test]
    fn values() {
        let f = parse(&["--link", "--from=b", "--exclude=a", "--exclude=b"]).unwrap();
        assert_eq!(f.bool("link"), Some(true));
        assert_eq!(f.string("from"), Some("b"));
        assert_eq!(f.strings("exclude"), ["a", "b"]);
        assert_eq!(f.used(), ["exclude", "from", "link"]);
        let f = parse(&["--link=FALSE", "--from="]).unwrap();
        assert_eq!(f.bool("link"), Some(false));
        assert_eq!(f.string("from"), Some(""));
        assert!(f.is_used("from"));
        assert!(!f.is_used("exclude"));
        assert_eq!(parse(&["--link=True"]).unwrap().bool("link"), Some(true));
        let f = parse(&[]).unwrap();
        assert_eq!(f.bool("link"), None);
        assert_eq!(f.string("from"), None);
        assert!(f.strings("exclude").is_empty());
    }

    #[test]
    fn double_dash_stops() {
        let f = parse(&["--link", "--", "--bogus"]).unwrap();
        assert_eq!(f.bool("link"), Some(true));
    }

    #[test]
    fn errors() {
        assert_eq!(err(&["--bogus"]), "unknown flag: --bogus");
        assert_eq!(err(&["--foo"]), "unknown flag: --foo (did you mean from?)");
        assert_eq!(
            err(&["--form=x"]),
            "unknown flag: --form (did you mean from?)"
        );
        assert_eq!(err(&["--from"]), "missing a value on flag: --from");
        assert_eq!(err(&["--exclude"]), "missing a value on flag: --exclude");
        assert_eq!(err(&["--link="]), "missing a value on flag: --link");
        assert_eq!(
            err(&["--link=yes"]),
            "expecting boolean value for flag --link, not: yes"
        );
        assert_eq!(
            err(&["--from=a", "--from=b"]),
            "duplicate flag specified: --from"
        );
        assert_eq!(
            err(&["--link", "--link"]),
            "duplicate flag specified: --link"
        );
        assert_eq!(err(&["-x"]), "arg should start with -- : -x");
    }
}

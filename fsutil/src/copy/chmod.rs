//! `--chmod` values: octal (`0755`) or symbolic like chmod(1) (`u+x,g=rw,o-w`, `a=rX`,
//! `g=u`), applied to each copied path's mode. No umask is applied.

use crate::error::FsError;
use slipway_graph::Chmod;

/// A parsed `--chmod`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeChange {
    /// Replaces permission and special bits.
    Octal(u32),
    Symbolic(Vec<Clause>),
}

/// One comma-separated clause: who and actions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    who: u32,
    /// True when no `ugoa` was given (acts as `a`).
    all: bool,
    actions: Vec<(char, Perm)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Perm {
    Bits(String),
    Copy(char),
}

const USER: u32 = 0o4700;
const GROUP: u32 = 0o2070;
const OTHER: u32 = 0o1007;

impl ModeChange {
    /// Parses a graph `Chmod`.
    pub fn from_graph(c: &Chmod) -> Result<ModeChange, FsError> {
        match c {
            Chmod::Octal(m) if *m <= 0o7777 => Ok(ModeChange::Octal(*m)),
            Chmod::Octal(m) => Err(FsError::InvalidChmod {
                mode: format!("{m:o}"),
                reason: "octal mode above 7777".to_string(),
            }),
            Chmod::Symbolic(s) => ModeChange::parse(s),
        }
    }

    /// Parses `0755` or a symbolic mode.
    pub fn parse(s: &str) -> Result<ModeChange, FsError> {
        let bad = |reason: &str| FsError::InvalidChmod {
            mode: s.to_string(),
            reason: reason.to_string(),
        };
        if !s.is_empty() && s.chars().all(|c| c.is_digit(8)) {
            let m = u32::from_str_radix(s, 8).map_err(|_| bad("not an octal number"))?;
            return ModeChange::from_graph(&Chmod::Octal(m));
        }
        let mut clauses = Vec::new();
        for part in s.split(',') {
            let mut chars = part.chars().peekable();
            let mut who = 0;
            let mut any_who = false;
            while let Some(&c) = chars.peek() {
                let bits = match c {
                    'u' => USER,
                    'g' => GROUP,
                    'o' => OTHER,
                    'a' => USER | GROUP | OTHER,
                    _ => break,
                };
                who |= bits;
                any_who = true;
                chars.next();
            }
            let mut actions = Vec::new();
            while let Some(op) = chars.next() {
                if !matches!(op, '+' | '-' | '=') {
                    return Err(bad(&format!("unexpected {op:?}, expected +, - or =")));
                }
                let mut perm = String::new();
                let mut copy = None;
                while let Some(&c) = chars.peek() {
                    match c {
                        'r' | 'w' | 'x' | 'X' | 's' | 't' if copy.is_none() => perm.push(c),
                        'u' | 'g' | 'o' if perm.is_empty() && copy.is_none() => copy = Some(c),
                        '+' | '-' | '=' => break,
                        _ => return Err(bad(&format!("unexpected {c:?} in permissions"))),
                    }
                    chars.next();
                }
                actions.push((op, copy.map_or(Perm::Bits(perm), Perm::Copy)));
            }
            if actions.is_empty() {
                return Err(bad("clause without +, - or ="));
            }
            clauses.push(Clause {
                who: if any_who { who } else { USER | GROUP | OTHER },
                all: !any_who,
                actions,
            });
        }
        Ok(ModeChange::Symbolic(clauses))
    }

    /// The new permission/special bits for a path with `mode` (`is_dir` for `X`).
    pub fn apply(&self, mode: u32, is_dir: bool) -> u32 {
        match self {
            ModeChange::Octal(m) => *m & 0o7777,
            ModeChange::Symbolic(clauses) => {
                let mut m = mode & 0o7777;
                for c in clauses {
                    for (op, perm) in &c.actions {
                        let bits = match perm {
                            Perm::Bits(p) => perm_bits(p, m, is_dir, c),
                            Perm::Copy(from) => copy_bits(*from, m) & c.who,
                        };
                        m = match op {
                            '+' => m | bits,
                            '-' => m & !bits,
                            _ => (m & !(c.who & !sticky_unless_other(c))) | bits,
                        };
                    }
                }
                m
            }
        }
    }
}

/// For `=`, the sticky bit is only cleared when others (or all) are named.
fn sticky_unless_other(c: &Clause) -> u32 {
    if c.all || c.who & 0o0007 != 0 {
        0
    } else {
        0o1000
    }
}

fn perm_bits(p: &str, current: u32, is_dir: bool, c: &Clause) -> u32 {
    let mut bits = 0;
    for ch in p.chars() {
        bits |= match ch {
            'r' => 0o444,
            'w' => 0o222,
            'x' => 0o111,
            'X' if is_dir || current & 0o111 != 0 => 0o111,
            's' => 0o6000,
            't' if c.all || c.who & 0o0007 != 0 => 0o1000,
            _ => 0,
        };
    }
    bits & c.who
}

/// The rwx bits of class `from`, replicated to every class.
fn copy_bits(from: char, m: u32) -> u32 {
    let rwx = match from {
        'u' => (m >> 6) & 7,
        'g' => (m >> 3) & 7,
        _ => m & 7,
    };
    rwx << 6 | rwx << 3 | rwx
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(spec: &str, mode: u32, dir: bool) -> u32 {
        ModeChange::parse(spec).unwrap().apply(mode, dir)
    }

    #[test]
    fn symbolic_table() {
        assert_eq!(apply("u+x", 0o644, false), 0o744);
        assert_eq!(apply("g=rw", 0o751, false), 0o761);
        assert_eq!(apply("u+x,g=rw", 0o600, false), 0o760);
        assert_eq!(apply("o-r", 0o644, false), 0o640);
        assert_eq!(apply("a=rX", 0o640, false), 0o444);
        assert_eq!(apply("a=rX", 0o640, true), 0o555);
        assert_eq!(apply("a=rX", 0o740, false), 0o555);
        assert_eq!(apply("+x", 0o644, false), 0o755);
        assert_eq!(apply("go=u", 0o700, false), 0o777);
        assert_eq!(apply("u+s", 0o755, false), 0o4755);
        assert_eq!(apply("g+s", 0o755, true), 0o2755);
        assert_eq!(apply("+t", 0o755, true), 0o1755);
        assert_eq!(apply("u=rwx,go=", 0o666, false), 0o700);
        assert_eq!(apply("755", 0o600, false), 0o755);
        assert_eq!(apply("u+w-x", 0o555, false), 0o655);
    }

    #[test]
    fn bad_modes() {
        for bad in ["", "u", "z+x", "u+q", "u+x,", "8"] {
            assert!(ModeChange::parse(bad).is_err(), "{bad:?}");
        }
        assert!(ModeChange::from_graph(&Chmod::Octal(0o17777)).is_err());
    }
}

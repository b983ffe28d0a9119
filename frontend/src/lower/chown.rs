//! `--chown` / `--chmod` values (BuildKit's `llb.WithUser` and `ChmodOpt` parsing).

use slipway_graph::{Chmod, Chown, UserSpec};

use super::error::LowerErrorKind;

/// `user[:group]`, each a number or a name; empty means no chown.
pub fn parse_chown(s: &str) -> Result<Option<Chown>, LowerErrorKind> {
    if s.is_empty() {
        return Ok(None);
    }
    let (user, group) = match s.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (s, None),
    };
    if user.is_empty() || group.is_some_and(str::is_empty) {
        return Err(LowerErrorKind::InvalidChown {
            value: s.to_string(),
        });
    }
    Ok(Some(Chown {
        user: user_spec(user),
        group: group.map(user_spec),
    }))
}

fn user_spec(s: &str) -> UserSpec {
    match s.parse::<u32>() {
        Ok(n) => UserSpec::Id(n),
        Err(_) => UserSpec::Name(s.to_string()),
    }
}

/// An octal mode up to 07777, or a symbolic one (`u+x,g=rw`); empty means no chmod.
pub fn parse_chmod(s: &str) -> Result<Option<Chmod>, LowerErrorKind> {
    if s.is_empty() {
        return Ok(None);
    }
    if s.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return match u32::from_str_radix(s, 8) {
            Ok(n) if n <= 0o7777 => Ok(Some(Chmod::Octal(n))),
            _ => Err(LowerErrorKind::InvalidChmod {
                value: s.to_string(),
            }),
        };
    }
    if s.starts_with(|c: char| c.is_ascii_digit()) {
        return Err(LowerErrorKind::InvalidChmod {
            value: s.to_string(),
        });
    }
    if valid_symbolic(s) {
        Ok(Some(Chmod::Symbolic(s.to_string())))
    } else {
        Err(LowerErrorKind::InvalidSymbolicChmod {
            value: s.to_string(),
        })
    }
}

/// `clause(,clause)*`, `clause = [ugoa]* (op (perms | who))+`, `op = [+-=]`, `perms = [rwxXst]*`.
fn valid_symbolic(s: &str) -> bool {
    s.split(',').all(|clause| {
        let rest = clause.trim_start_matches(['u', 'g', 'o', 'a']);
        if rest.is_empty() {
            return false;
        }
        let mut chars = rest.chars().peekable();
        while let Some(op) = chars.next() {
            if !matches!(op, '+' | '-' | '=') {
                return false;
            }
            let mut perm = String::new();
            while let Some(c) = chars
                .peek()
                .copied()
                .filter(|c| !matches!(c, '+' | '-' | '='))
            {
                perm.push(c);
                chars.next();
            }
            let perms_ok = perm.chars().all(|c| "rwxXst".contains(c));
            let who_ok = perm.len() == 1 && "ugo".contains(perm.as_str());
            if !perms_ok && !who_ok {
                return false;
            }
        }
        true
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chown_forms() {
        assert_eq!(parse_chown("").unwrap(), None);
        assert_eq!(
            parse_chown("1000").unwrap(),
            Some(Chown {
                user: UserSpec::Id(1000),
                group: None
            })
        );
        assert_eq!(
            parse_chown("app:staff").unwrap(),
            Some(Chown {
                user: UserSpec::Name("app".into()),
                group: Some(UserSpec::Name("staff".into()))
            })
        );
        assert!(parse_chown(":x").is_err());
    }

    #[test]
    fn chmod_forms() {
        assert_eq!(parse_chmod("755").unwrap(), Some(Chmod::Octal(0o755)));
        assert_eq!(parse_chmod("0644").unwrap(), Some(Chmod::Octal(0o644)));
        assert!(matches!(
            parse_chmod("17777"),
            Err(LowerErrorKind::InvalidChmod { .. })
        ));
        assert!(matches!(
            parse_chmod("0888"),
            Err(LowerErrorKind::InvalidChmod { .. })
        ));
        assert_eq!(
            parse_chmod("u+x,g=rw").unwrap(),
            Some(Chmod::Symbolic("u+x,g=rw".into()))
        );
        assert_eq!(
            parse_chmod("+x").unwrap(),
            Some(Chmod::Symbolic("+x".into()))
        );
        assert!(matches!(
            parse_chmod("u+q"),
            Err(LowerErrorKind::InvalidSymbolicChmod { .. })
        ));
    }
}

//! Docker credential helpers, as docker runs them: `docker-credential-<name> get` with the
//! server (the config key: `host[:port]`, or Docker Hub's legacy URL) on stdin, answering
//! `{"ServerURL": …, "Username": …, "Secret": …}` on stdout. A helper that has no login for
//! the server says `credentials not found in native keychain` (and exits 1): no credentials.
//! A `Username` of `<token>` means `Secret` is an identity token (OAuth2 refresh token).

use serde::Deserialize;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};

/// What the helpers print when they hold nothing for the server
/// (`credentials.errCredentialsNotFoundMessage` in docker-credential-helpers).
const NOT_FOUND: &str = "credentials not found in native keychain";

/// What a helper answered for one server.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    Login { username: String, secret: String },
    IdentityToken,
    NotFound,
}

/// Why a helper gave no answer.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    /// The program is not there (`docker-credential-<name>` on `PATH`, or in the directory
    /// given).
    Missing { program: String },
    /// It ran but failed, or printed something that is not its JSON answer.
    Failed { program: String, message: String },
}

#[derive(Deserialize)]
struct Output {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Runs helper `name` (looked up in `dir` when given, else on `PATH`) for `server`.
pub fn get(dir: Option<&Path>, name: &str, server: &str) -> Result<Answer, Failure> {
    let program = format!("docker-credential-{name}");
    let path = match dir {
        Some(d) => d.join(&program),
        None => program.clone().into(),
    };
    let child = Command::new(&path)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::Missing { program })
        }
        Err(e) => {
            return Err(Failure::Failed {
                program,
                message: format!("cannot start it: {e}"),
            })
        }
    };
    let failed = |message: String| Failure::Failed {
        program: program.clone(),
        message,
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its output below.
        let _ = stdin.write_all(server.as_bytes());
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(format!("waiting for it: {e}")))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        if stdout.trim() == NOT_FOUND {
            return Ok(Answer::NotFound);
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        let said = [stdout.trim(), stderr.trim()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        return Err(failed(format!("{}: {said}", out.status)));
    }
    let answer: Output = serde_json::from_str(stdout.trim())
        .map_err(|e| failed(format!("its answer is not the helper JSON ({e})")))?;
    if answer.username == "<token>" {
        return Ok(Answer::IdentityToken);
    }
    if answer.username.is_empty() && answer.secret.is_empty() {
        return Ok(Answer::NotFound);
    }
    Ok(Answer::Login {
        username: answer.username,
        secret: answer.secret,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// Writes `docker-credential-<name>` into `dir`: a shell script speaking the helper
    /// protocol with one login per server (`server user secret` lines of `logins`).
    pub(crate) fn write_helper(dir: &Path, name: &str, logins: &[(&str, &str, &str)]) {
        let mut cases = String::new();
        for (server, user, secret) in logins {
            cases.push_str(&format!(
                "  '{server}') printf '{{\"ServerURL\":\"%s\",\"Username\":\"{user}\",\"Secret\":\"{secret}\"}}' \"$server\" ;;\n"
            ));
        }
        let script = format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread -r server\ncase \"$server\" in\n{cases}  \
             broken.example) echo 'the keychain is locked' >&2; exit 3 ;;\n  \
             garbage.example) echo 'not json' ;;\n  \
             *) echo '{NOT_FOUND}'; exit 1 ;;\nesac\n"
        );
        let path = dir.join(format!("docker-credential-{name}"));
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }

    #[test]
    fn speaks_the_helper_protocol() {
        let dir = tempfile::tempdir().unwrap();
        write_helper(
            dir.path(),
            "test",
            &[
                ("r.example", "u", "p"),
                ("token.example", "<token>", "refresh"),
            ],
        );
        let get = |server| get(Some(dir.path()), "test", server);
        assert_eq!(
            get("r.example"),
            Ok(Answer::Login {
                username: "u".into(),
                secret: "p".into()
            })
        );
        assert_eq!(get("token.example"), Ok(Answer::IdentityToken));
        assert_eq!(get("other.example"), Ok(Answer::NotFound));
        let Err(Failure::Failed { message, .. }) = get("broken.example") else {
            panic!("a failing helper is an error");
        };
        assert!(message.contains("the keychain is locked"), "{message}");
        let Err(Failure::Failed { message, .. }) = get("garbage.example") else {
            panic!("garbage is an error");
        };
        assert!(message.contains("not the helper JSON"), "{message}");
        assert_eq!(
            super::get(Some(dir.path()), "absent", "r.example"),
            Err(Failure::Missing {
                program: "docker-credential-absent".into()
            })
        );
    }
}

//! Running commands with readable failures.

use anyhow::{bail, Context, Result};
use std::process::{Command, Output, Stdio};

/// Runs `cmd` to completion and returns its output; a non-zero exit is an error that shows
/// the command line and the tail of its stdout and stderr.
pub fn run(cmd: &mut Command) -> Result<Output> {
    let line = describe(cmd);
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not start `{line}`"))?;
    if !out.status.success() {
        bail!(
            "`{line}` failed ({}):\n--- stdout (tail)\n{}\n--- stderr (tail)\n{}",
            out.status,
            tail(&out.stdout, 40),
            tail(&out.stderr, 40)
        );
    }
    Ok(out)
}

/// Runs `cmd` and returns its stdout as a string (trimmed).
pub fn run_stdout(cmd: &mut Command) -> Result<String> {
    let out = run(cmd)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The command line of `cmd`, for messages.
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// The last `lines` lines of `bytes`.
pub fn tail(bytes: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(bytes);
    let all: Vec<&str> = text.lines().collect();
    let start = all.len().saturating_sub(lines);
    all.get(start..).unwrap_or_default().join("\n")
}

/// Fails with a clear reason when `path` is not an executable file.
pub fn require_binary(path: &str, what: &str) -> Result<()> {
    let meta = std::fs::metadata(path).with_context(|| {
        format!("{what} is not installed here ({path} is missing; run scripts/setup.sh)")
    })?;
    use std::os::unix::fs::PermissionsExt;
    if meta.permissions().mode() & 0o111 == 0 {
        bail!("{what}: {path} is not executable");
    }
    Ok(())
}

/// Finds `name` on PATH.
pub fn which(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

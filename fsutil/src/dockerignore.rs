//! `.dockerignore` files: reading them with Docker's rules and choosing which one applies.

use crate::error::{FsError, IoContext};
use crate::pathclean::clean;
use std::path::{Path, PathBuf};

/// Reads the lines of a `.dockerignore` into patterns, as moby's `ignorefile.ReadAll` does:
/// a UTF-8 BOM on the first line is dropped, lines starting with `#` are comments, lines
/// are trimmed and blank ones skipped, `!` marks an exception (space after it allowed),
/// each pattern is cleaned (`filepath.Clean`) and a leading `/` is removed.
pub fn parse_ignore_file(content: &str) -> Vec<String> {
    let content = content.strip_prefix('\u{feff}').unwrap_or(content);
    let mut out = Vec::new();
    for line in content.lines() {
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern.get(1..).unwrap_or("").trim();
        }
        let mut cleaned = if pattern.is_empty() {
            String::new()
        } else {
            clean(pattern)
        };
        if cleaned.len() > 1 && cleaned.starts_with('/') {
            cleaned.remove(0);
        }
        out.push(if invert {
            format!("!{cleaned}")
        } else {
            cleaned
        });
    }
    out
}

/// Which ignore file applies to a build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IgnoreFile {
    /// `<Dockerfile>.dockerignore` next to the Dockerfile (wins when it exists).
    DockerfileSpecific(PathBuf),
    /// `.dockerignore` at the root of the context.
    Context(PathBuf),
    /// Neither exists: nothing is ignored.
    None,
}

impl IgnoreFile {
    /// The file's path, if there is one.
    pub fn path(&self) -> Option<&Path> {
        match self {
            IgnoreFile::DockerfileSpecific(p) | IgnoreFile::Context(p) => Some(p),
            IgnoreFile::None => None,
        }
    }
}

/// BuildKit's precedence: `<dockerfile_path>.dockerignore` (same directory, Dockerfile's
/// file name plus `.dockerignore`) if it exists, else `<context_dir>/.dockerignore`.
pub fn select_ignore_file(context_dir: &Path, dockerfile_path: &Path) -> IgnoreFile {
    if let Some(name) = dockerfile_path.file_name() {
        let mut specific_name = name.to_os_string();
        specific_name.push(".dockerignore");
        let specific = dockerfile_path.with_file_name(specific_name);
        if specific.is_file() {
            return IgnoreFile::DockerfileSpecific(specific);
        }
    }
    let ctx = context_dir.join(".dockerignore");
    if ctx.is_file() {
        return IgnoreFile::Context(ctx);
    }
    IgnoreFile::None
}

/// Reads and parses the selected ignore file (no file gives no patterns).
pub fn read_ignore_patterns(file: &IgnoreFile) -> Result<Vec<String>, FsError> {
    match file.path() {
        None => Ok(Vec::new()),
        Some(p) => {
            let text = std::fs::read_to_string(p).ctx("reading ignore file", p)?;
            Ok(parse_ignore_file(&text))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::PatternMatcher;

    #[test]
    fn read_all_rules() {
        let text = "\u{feff}# comment\n\n  node_modules  \n/abs/path\n! keep/me\n./a/../b/\n#x\n  #not comment\n!/root\n";
        assert_eq!(
            parse_ignore_file(text),
            vec![
                "node_modules",
                "abs/path",
                "!keep/me",
                "b",
                "#not comment",
                "!root"
            ]
        );
    }

    #[test]
    fn bang_alone_survives_parsing_and_fails_in_matcher() {
        assert_eq!(parse_ignore_file("!\n"), vec!["!"]);
        assert!(PatternMatcher::new(&parse_ignore_file("!\n")).is_err());
    }

    #[test]
    fn select_prefers_dockerfile_specific() {
        let dir = tempfile::tempdir().unwrap();
        let df = dir.path().join("sub/app.Dockerfile");
        std::fs::create_dir_all(df.parent().unwrap()).unwrap();
        assert_eq!(select_ignore_file(dir.path(), &df), IgnoreFile::None);
        std::fs::write(dir.path().join(".dockerignore"), "a\n").unwrap();
        assert_eq!(
            select_ignore_file(dir.path(), &df),
            IgnoreFile::Context(dir.path().join(".dockerignore"))
        );
        let specific = dir.path().join("sub/app.Dockerfile.dockerignore");
        std::fs::write(&specific, "b\n").unwrap();
        assert_eq!(
            select_ignore_file(dir.path(), &df),
            IgnoreFile::DockerfileSpecific(specific.clone())
        );
        assert_eq!(
            read_ignore_patterns(&IgnoreFile::DockerfileSpecific(specific)).unwrap(),
            vec!["b"]
        );
    }
}

//! BuildKit's own parser test data: every `parser/NAME/Dockerfile` must dump to
//! `parser/NAME/result` byte for byte, every `parser-negative/NAME/Dockerfile` must be refused.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use slipway_frontend::parser::{dump, parse};

fn conformance_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/conformance/buildkit-dockerfile")
}

/// The case directories under `dir`, sorted by name.
fn case_dirs(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut dirs = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            dirs.push(entry.path());
        }
    }
    dirs.sort();
    Ok(dirs)
}

fn name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// A line-by-line diff good enough to spot the differing instruction.
fn diff(expected: &str, actual: &str) -> String {
    let mut out = String::new();
    let exp: Vec<&str> = expected.lines().collect();
    let act: Vec<&str> = actual.lines().collect();
    for i in 0..exp.len().max(act.len()) {
        let (e, a) = (exp.get(i), act.get(i));
        if e != a {
            let _ = writeln!(out, "    line {}:", i + 1);
            let _ = writeln!(out, "      - {}", e.unwrap_or(&"<none>"));
            let _ = writeln!(out, "      + {}", a.unwrap_or(&"<none>"));
        }
    }
    if out.is_empty() {
        out.push_str("    (differs only in line endings / final newline)\n");
    }
    out
}

#[test]
fn buildkit_parser_conformance() -> anyhow::Result<()> {
    let root = conformance_root();
    if !root.is_dir() {
        println!(
            "skipping: ../shared/conformance not found ({})",
            root.display()
        );
        return Ok(());
    }

    let positive = case_dirs(&root.join("parser"))?;
    let negative = case_dirs(&root.join("parser-negative"))?;
    let mut failures = Vec::new();
    let mut ran = 0;

    for dir in &positive {
        ran += 1;
        let source = fs::read_to_string(dir.join("Dockerfile"))?;
        let expected = fs::read_to_string(dir.join("result"))?;
        match parse(&source) {
            Err(e) => failures.push(format!(
                "parser/{}: rejected at line {}: {e}",
                name(dir),
                e.line()
            )),
            Ok(result) => {
                let actual = dump(&result.ast) + "\n";
                if actual != expected {
                    failures.push(format!(
                        "parser/{}: dump differs\n{}",
                        name(dir),
                        diff(&expected, &actual)
                    ));
                }
            }
        }
    }

    for dir in &negative {
        ran += 1;
        let source = fs::read_to_string(dir.join("Dockerfile"))?;
        if let Ok(result) = parse(&source) {
            failures.push(format!(
                "parser-negative/{}: accepted, dump:\n{}",
                name(dir),
                dump(&result.ast)
            ));
        }
    }

    assert!(
        ran > 0,
        "no conformance cases found under {}",
        root.display()
    );
    assert_eq!(ran, positive.len() + negative.len());
    assert!(
        failures.is_empty(),
        "{} of {ran} parser conformance cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    println!("{ran} parser conformance cases passed");
    Ok(())
}

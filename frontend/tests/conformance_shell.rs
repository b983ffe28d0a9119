//! BuildKit's own shell-expansion test data (`frontend/dockerfile/shell/envVarTest` and
//! `wordsTest`), read from `../shared/conformance/buildkit-dockerfile` (see its README.md for
//! the line formats). Every case must pass; every failing line is reported.

use std::collections::BTreeMap;
use std::path::PathBuf;

use slipway_frontend::shell::Lexer;

fn data_dir() -> Option<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/conformance/buildkit-dockerfile/shell");
    dir.is_dir().then_some(dir)
}

fn read(dir: &std::path::Path, name: &str) -> String {
    let path = dir.join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Fails with every mismatch listed, and checks no case line was skipped.
fn conclude(name: &str, ran: usize, case_lines: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{name}: {} of {ran} cases failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(ran, case_lines, "{name}: cases run != case lines");
    assert!(ran > 0, "{name}: no cases");
    println!("{name}: {ran} passed, 0 failed");
}

#[test]
fn env_var_test() {
    let Some(dir) = data_dir() else {
        println!("skipping: ../shared/conformance not found");
        return;
    };
    let text = read(&dir, "envVarTest");
    let env: BTreeMap<String, String> = [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let lexer = Lexer::new('\\');

    // Counted independently of the loop below, so nothing can be skipped silently.
    let case_lines = text
        .lines()
        .filter(|l| l.starts_with("A|") || l.starts_with("U|"))
        .count();
    let mut ran = 0;
    let mut failures = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let lineno = index + 1;
        let line = raw.trim();
        if raw.starts_with('#') || line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('|').collect();
        let [platform, input, expected] = fields.as_slice() else {
            failures.push(format!(
                "line {lineno}: not PLATFORM|INPUT|EXPECTED: {raw:?}"
            ));
            continue;
        };
        let (platform, input, expected) = (platform.trim(), input.trim(), expected.trim());
        match platform {
            "W" => continue,
            "A" | "U" => {}
            other => {
                failures.push(format!("line {lineno}: unknown platform {other:?}"));
                continue;
            }
        }
        ran += 1;
        let got = lexer.process_word(input, &env);
        match (expected, got) {
            ("error", Err(_)) => {}
            ("error", Ok(e)) => failures.push(format!(
                "line {lineno}: {input:?}: expected an error, got {:?}",
                e.result
            )),
            (want, Ok(e)) if e.result == want => {}
            (want, Ok(e)) => failures.push(format!(
                "line {lineno}: {input:?}: expected {want:?}, got {:?}",
                e.result
            )),
            (want, Err(err)) => failures.push(format!(
                "line {lineno}: {input:?}: expected {want:?}, got error: {err}"
            )),
        }
    }
    conclude("envVarTest", ran, case_lines, &failures);
}

#[test]
fn words_test() {
    let Some(dir) = data_dir() else {
        println!("skipping: ../shared/conformance not found");
        return;
    };
    let text = read(&dir, "wordsTest");
    let lexer = Lexer::new('\\');

    let case_lines = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with("ENV "))
        .count();
    let mut env: Vec<(String, String)> = Vec::new();
    let mut ran = 0;
    let mut failures = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let lineno = index + 1;
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("ENV ") {
            let assignment = rest.trim_start_matches(' ');
            let (key, value) = assignment.split_once('=').unwrap_or((assignment, ""));
            env.push((key.to_owned(), value.to_owned()));
            continue;
        }
        ran += 1;
        let fields: Vec<&str> = line.split('|').collect();
        let [input, expected] = fields.as_slice() else {
            failures.push(format!("line {lineno}: not exactly one '|': {line:?}"));
            continue;
        };
        let input = input.trim();
        let expected: Vec<&str> = expected.trim_start_matches(' ').split(',').collect();
        let got = match lexer.process_words(input, &env) {
            Ok(words) => words,
            Err(_) => vec!["error".to_owned()],
        };
        if got != expected {
            failures.push(format!(
                "line {lineno}: {input:?}: expected {expected:?}, got {got:?}"
            ));
        }
    }
    conclude("wordsTest", ran, case_lines, &failures);
}

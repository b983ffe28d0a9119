//! Data-driven lowering tests: every directory in `tests/lowering/` holds a `Dockerfile`,
//! an optional `options.json` (see `lowering_support::CaseOptions`) and the golden result:
//! `expected.txt` (the graph's text rendering) or `error.txt` (the rendered error).
//! Compared byte for byte; regenerate with `UPDATE_GOLDEN=1 cargo test -p slipway-frontend`.

mod lowering_support;

use lowering_support::{CaseOptions, TestResolver};
use std::path::{Path, PathBuf};

fn cases_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/lowering")
}

fn run_case(dir: &Path) -> anyhow::Result<(String, &'static str)> {
    let source = std::fs::read_to_string(dir.join("Dockerfile"))?;
    let opts_path = dir.join("options.json");
    let case: CaseOptions = if opts_path.exists() {
        serde_json::from_str(&std::fs::read_to_string(&opts_path)?)?
    } else {
        CaseOptions::default()
    };
    let opts = case.to_lower_options()?;
    let resolver = TestResolver {
        images: case.images.clone(),
    };
    Ok(match slipway_frontend::lower(&source, &opts, &resolver) {
        Ok(graph) => {
            graph.validate()?;
            (graph.to_text()?, "expected.txt")
        }
        Err(e) => (e.render(&source), "error.txt"),
    })
}

#[test]
fn lowering_cases() -> anyhow::Result<()> {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cases_dir())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Dockerfile").exists())
        .collect();
    dirs.sort();
    assert!(
        dirs.len() >= 10,
        "expected the lowering cases, found {}",
        dirs.len()
    );
    let mut failures = Vec::new();
    for dir in &dirs {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (actual, golden_name) = run_case(dir)?;
        let other = if golden_name == "expected.txt" {
            "error.txt"
        } else {
            "expected.txt"
        };
        let golden = dir.join(golden_name);
        if update {
            std::fs::write(&golden, &actual)?;
            let _ = std::fs::remove_file(dir.join(other));
            continue;
        }
        if dir.join(other).exists() {
            failures.push(format!(
                "{name}: produced {golden_name} but the case expects {other}:\n{actual}"
            ));
            continue;
        }
        match std::fs::read_to_string(&golden) {
            Ok(expected) if expected == actual => {}
            Ok(expected) => {
                let line = expected
                    .lines()
                    .zip(actual.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or(0);
                failures.push(format!(
                    "{name}: {golden_name} differs (first at line {}):\n--- expected\n{}\n--- actual\n{}",
                    line + 1,
                    expected.lines().nth(line).unwrap_or("<eof>"),
                    actual.lines().nth(line).unwrap_or("<eof>")
                ));
            }
            Err(_) => failures.push(format!("{name}: missing {golden_name}; actual:\n{actual}")),
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
    Ok(())
}

//! Data-driven tests of the instruction layer: every `instructions/<case>.Dockerfile` is
//! parsed and typed; the result (pretty JSON of the typed file plus the literal resolution of
//! every RUN mount) or the error must equal `instructions/<case>.expected`.
//! `UPDATE_GOLDEN=1 cargo test -p slipway-frontend --test instructions_cases` rewrites them.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
use slipway_frontend::instructions::{parse_dockerfile, Command, Mount, MountType, ParsedFile};
use slipway_frontend::parser;

fn case_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/instructions")
}

/// Each RUN mount resolved with values taken literally, with its dispatch defaults.
fn resolved_mounts(file: &ParsedFile) -> Value {
    let mut out = Vec::new();
    for (stage_index, stage) in file.stages.iter().enumerate() {
        for cmd in &stage.commands {
            let Command::Run(run) = cmd else { continue };
            let mut ssh_index = 0;
            for m in &run.mounts {
                let mut entry = json!({
                    "stage": stage_index,
                    "line": run.location.start_line,
                    "raw": m.raw,
                });
                match m.resolve_literal() {
                    Ok(mount) => {
                        entry["mount"] = json!(mount);
                        entry["defaults"] = defaults(&mount, &mut ssh_index);
                    }
                    Err(e) => entry["error"] = json!(e.to_string()),
                }
                out.push(entry);
            }
        }
    }
    Value::Array(out)
}

fn defaults(m: &Mount, ssh_index: &mut usize) -> Value {
    let result = match m.mount_type {
        MountType::Secret => m.secret().map(|s| json!(s)),
        MountType::Ssh => {
            let r = m.ssh(*ssh_index).map(|s| json!(s));
            *ssh_index += 1;
            r
        }
        MountType::Cache => Ok(json!({
            "id": m.cache_id(),
            "sharing": m.cache_sharing(),
            "dir_owner": m.cache_dir_owner(),
        })),
        MountType::Bind | MountType::Tmpfs => return Value::Null,
    };
    result.unwrap_or_else(|e| json!({ "error": e.to_string() }))
}

fn render(source: &str) -> String {
    let parsed = match parser::parse(source) {
        Ok(p) => p,
        Err(e) => return format!("parse error: {e}\n"),
    };
    match parse_dockerfile(&parsed) {
        Ok(file) => {
            let value = json!({ "file": file, "resolved_mounts": resolved_mounts(&file) });
            let mut s = serde_json::to_string_pretty(&value).unwrap_or_default();
            s.push('\n');
            s
        }
        Err(e) => format!("error (line {}): {}\n", e.line(), e.buildkit_message()),
    }
}

#[test]
fn instruction_cases() {
    let update = std::env::var("UPDATE_GOLDEN").is_ok_and(|v| v == "1");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(case_dir())
        .expect("case directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "Dockerfile"))
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 20,
        "expected the case files, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let source = std::fs::read_to_string(case).expect("read case");
        let got = render(&source);
        let expected_path = case.with_extension("expected");
        if update {
            std::fs::write(&expected_path, &got).expect("write golden");
            continue;
        }
        match std::fs::read_to_string(&expected_path) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{}:\n--- expected\n{want}\n--- got\n{got}",
                case.display()
            )),
            Err(_) => failures.push(format!(
                "{}: missing {}",
                case.display(),
                expected_path.display()
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} case(s) differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn onbuild_triggers_parse_back() {
    use slipway_frontend::instructions::{parse_onbuild_trigger, Location};
    let source = std::fs::read_to_string(case_dir().join("onbuild.Dockerfile")).expect("read");
    let file = parse_dockerfile(&parser::parse(&source).expect("parse")).expect("type");
    let at = Location {
        start_line: 9,
        end_line: 9,
    };
    let mut names = Vec::new();
    for cmd in &file.stages[0].commands {
        let Command::Onbuild(ob) = cmd else { continue };
        let trigger = parse_onbuild_trigger(&ob.expression, at).expect("trigger");
        assert_eq!(trigger.location(), at);
        names.push(trigger.name());
        if let Command::Add(add) = &trigger {
            assert_eq!(add.sources_and_dest.source_contents[0].data, "body\n");
        }
    }
    assert_eq!(names, ["run", "copy", "add"]);

    let err = |expr: &str| parse_onbuild_trigger(expr, at).unwrap_err();
    assert_eq!(
        err("FROM x").to_string(),
        "*instructions.Stage is not a command type"
    );
    assert_eq!(
        err("RUN a\nRUN b").to_string(),
        "onbuild trigger should be a single expression"
    );
    assert_eq!(err("COPY a").line(), 9);
    assert!(matches!(
        err(""),
        slipway_frontend::instructions::InstructionError::TriggerParse { .. }
    ));
}

//! The differential corpus covers every Dockerfile instruction, every COPY/ADD flag named in the
//! issue and every RUN --mount type (checked on the Dockerfiles slipway builds; no peers needed).

use slipway_e2e::case::load_corpus;

fn corpus_text() -> String {
    let mut all = String::new();
    for case in load_corpus().expect("loading tests/differential") {
        all.push_str(&case.text);
        all.push('\n');
        if let Some(p) = &case.parent {
            all.push_str(&std::fs::read_to_string(p).expect("reading parent Dockerfile"));
        }
    }
    all
}

#[test]
fn corpus_has_at_least_25_cases() {
    let n = load_corpus().expect("loading tests/differential").len();
    assert!(n >= 25, "only {n} differential cases");
}

#[test]
fn corpus_covers_every_instruction() {
    let text = corpus_text();
    let starts: Vec<String> = text
        .lines()
        .map(|l| {
            l.split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase()
        })
        .collect();
    let missing: Vec<&str> = [
        "FROM",
        "RUN",
        "CMD",
        "LABEL",
        "MAINTAINER",
        "EXPOSE",
        "ENV",
        "ADD",
        "COPY",
        "ENTRYPOINT",
        "VOLUME",
        "USER",
        "WORKDIR",
        "ARG",
        "ONBUILD",
        "STOPSIGNAL",
        "HEALTHCHECK",
        "SHELL",
    ]
    .into_iter()
    .filter(|i| !starts.iter().any(|s| s == i))
    .collect();
    assert!(
        missing.is_empty(),
        "instructions without a differential case: {missing:?}"
    );
}

#[test]
fn corpus_covers_copy_flags_and_mount_types() {
    let text = corpus_text();
    let missing: Vec<&str> = [
        "--from=",
        "--chown=",
        "--chmod=",
        "--link",
        "--parents",
        "--exclude=",
        ".tar.gz",
        "<<EOT",
        "type=bind",
        "type=cache",
        "type=tmpfs",
        "type=secret",
        "type=ssh",
    ]
    .into_iter()
    .filter(|f| !text.contains(f))
    .collect();
    assert!(
        missing.is_empty(),
        "COPY/ADD flags or mount types without a case: {missing:?}"
    );
}

//! Unit tests of instruction parsing on hand-built parse-tree nodes.

use crate::parser::{Heredoc, Node, ParseResult};

use super::*;

fn word(s: &str) -> Node {
    Node {
        value: s.to_string(),
        ..Node::default()
    }
}

/// An instruction node on line `line`: `keyword` lower-cased, `args` as argument nodes.
fn node(line: usize, original: &str, args: &[&str], flags: &[&str]) -> Node {
    let keyword = original
        .split_whitespace()
        .next()
        .unwrap_or("")
        .to_lowercase();
    Node {
        value: keyword,
        next: args.iter().map(|a| word(a)).collect(),
        original: original.to_string(),
        flags: flags.iter().map(|f| f.to_string()).collect(),
        start_line: line,
        end_line: line,
        ..Node::default()
    }
}

fn json(mut n: Node) -> Node {
    n.json = true;
    n
}

fn cmd(n: &Node) -> Command {
    match parse_instruction(n).unwrap() {
        Instruction::Command(c) => c,
        Instruction::Stage(s) => panic!("unexpected stage {s:?}"),
    }
}

fn err(n: &Node) -> String {
    parse_instruction(n).unwrap_err().to_string()
}

fn file(nodes: Vec<Node>) -> Result<ParsedFile, InstructionError> {
    let result = ParseResult {
        ast: Node {
            children: nodes,
            ..Node::default()
        },
        ..ParseResult::default()
    };
    parse_dockerfile(&result)
}

#[test]
fn from_forms() {
    let n = node(
        1,
        "FROM alpine AS Build",
        &["alpine", "AS", "Build"],
        &["--platform=$BUILDPLATFORM"],
    );
    let Instruction::Stage(s) = parse_instruction(&n).unwrap() else {
        panic!("not a stage")
    };
    assert_eq!(s.name.as_deref(), Some("build"));
    assert_eq!(s.base_name, "alpine");
    assert_eq!(s.platform.as_deref(), Some("$BUILDPLATFORM"));
    assert_eq!(
        s.location,
        Location {
            start_line: 1,
            end_line: 1
        }
    );
    assert_eq!(s.original, "FROM alpine AS Build");

    let Instruction::Stage(s) = parse_instruction(&node(2, "FROM x", &["x"], &[])).unwrap() else {
        panic!("not a stage")
    };
    assert_eq!((s.name, s.platform), (None, None));
}

#[test]
fn from_errors() {
    assert_eq!(
        err(&node(1, "FROM a b", &["a", "b"], &[])),
        "FROM requires either one or three arguments"
    );
    assert_eq!(
        err(&node(1, "FROM a is b", &["a", "is", "b"], &[])),
        "FROM requires either one or three arguments"
    );
    assert_eq!(
        err(&node(1, "FROM", &[], &[])),
        "FROM requires either one or three arguments"
    );
    assert_eq!(
        err(&node(1, "FROM a AS 1st", &["a", "AS", "1st"], &[])),
        "invalid name for build stage: \"1st\", name can't start with a number or contain symbols"
    );
    assert_eq!(
        err(&node(1, "FROM a AS b$c", &["a", "AS", "b$c"], &[])),
        "invalid name for build stage: \"b$c\", name can't start with a number or contain symbols"
    );
    assert_eq!(
        err(&node(1, "FROM a", &["a"], &["--platfrom=x"])),
        "unknown flag: --platfrom (did you mean platform?)"
    );
    let Instruction::Stage(s) =
        parse_instruction(&node(1, "FROM a as b-1_2.c", &["a", "as", "b-1_2.c"], &[])).unwrap()
    else {
        panic!("not a stage")
    };
    assert_eq!(s.name.as_deref(), Some("b-1_2.c"));
}

#[test]
fn unknown_instruction() {
    let e = parse_instruction(&node(3, "RUNN echo", &["echo"], &[])).unwrap_err();
    assert_eq!(
        e.to_string(),
        "unknown instruction: RUNN (did you mean RUN?)"
    );
    assert_eq!(e.line(), 3);
    assert_eq!(
        e.buildkit_message(),
        "dockerfile parse error on line 3: unknown instruction: RUNN (did you mean RUN?)"
    );
    assert_eq!(
        err(&node(1, "foo bar", &["bar"], &[])),
        "unknown instruction: foo (did you mean from?)"
    );
    assert_eq!(
        err(&node(1, "FOO bar", &["bar"], &[])),
        "unknown instruction: FOO (did you mean FROM?)"
    );
    assert_eq!(
        err(&node(1, "Xyzzy bar", &["bar"], &[])),
        "unknown instruction: Xyzzy"
    );
    assert_eq!(
        err(&node(1, "copi a b", &["a", "b"], &[])),
        "unknown instruction: copi (did you mean copy?)"
    );
}

#[test]
fn env_and_label() {
    let n = node(1, "ENV A=1 B 2", &["A", "1", "=", "B", "2", ""], &[]);
    let Command::Env(e) = cmd(&n) else { panic!() };
    assert_eq!(
        e.env,
        vec![
            KeyValuePair {
                key: "A".into(),
                value: "1".into(),
                no_delim: false
            },
            KeyValuePair {
                key: "B".into(),
                value: "2".into(),
                no_delim: true
            },
        ]
    );
    let Command::Label(l) = cmd(&node(1, "LABEL a=b", &["a", "b", "="], &[])) else {
        panic!()
    };
    assert_eq!(l.labels.len(), 1);
    assert_eq!(
        err(&node(1, "ENV", &[], &[])),
        "ENV requires at least one argument"
    );
    assert_eq!(
        err(&node(1, "LABEL a b", &["a", "b"], &[])),
        "Bad input to LABEL, too many arguments"
    );
    assert_eq!(
        err(&node(1, "ENV =b", &["", "b", "="], &[])),
        "ENV names can not be blank"
    );
    assert_eq!(
        err(&node(1, "ENV --x a=b", &["a", "b", "="], &["--x"])),
        "unknown flag: --x"
    );
}

#[test]
fn arg_forms() {
    let mut n = node(1, "ARG A B=2 C= D=x=y", &["A", "B=2", "C=", "D=x=y"], &[]);
    n.prev_comment = vec!["B is the second".into()];
    let Command::Arg(a) = cmd(&n) else { panic!() };
    let got: Vec<(&str, Option<&str>, &str)> = a
        .args
        .iter()
        .map(|p| (p.key.as_str(), p.value.as_deref(), p.doc_comment.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("A", None, ""),
            ("B", Some("2"), "is the second"),
            ("C", Some(""), ""),
            ("D", Some("x=y"), "")
        ]
    );
    assert_eq!(
        err(&node(1, "ARG", &[], &[])),
        "ARG requires at least one argument"
    );
    assert_eq!(
        err(&node(1, "ARG =x", &["=x"], &[])),
        "ARG names can not be blank"
    );
}

#[test]
fn single_argument_instructions() {
    for (kw, upper) in [
        ("user", "USER"),
        ("workdir", "WORKDIR"),
        ("maintainer", "MAINTAINER"),
        ("stopsignal", "STOPSIGNAL"),
    ] {
        let orig = format!("{upper} a b");
        assert_eq!(
            err(&node(1, &orig, &["a", "b"], &[])),
            format!("{upper} requires exactly one argument"),
            "{kw}"
        );
        let orig = upper.to_string();
        assert_eq!(
            err(&node(1, &orig, &[], &[])),
            format!("{upper} requires exactly one argument"),
            "{kw}"
        );
    }
    let Command::User(u) = cmd(&node(1, "USER app:app", &["app:app"], &[])) else {
        panic!()
    };
    assert_eq!(u.user, "app:app");
    let Command::Workdir(w) = cmd(&node(1, "WORKDIR /app", &["/app"], &[])) else {
        panic!()
    };
    assert_eq!(w.path, "/app");
    let Command::Maintainer(m) = cmd(&node(1, "MAINTAINER me", &["me"], &[])) else {
        panic!()
    };
    assert_eq!(m.maintainer, "me");
    assert_eq!(
        err(&node(1, "MAINTAINER --boo joe", &["joe"], &["--boo"])),
        "unknown flag: --boo"
    );
    // BuildKit never checks STOPSIGNAL's flags.
    let Command::Stopsignal(s) = cmd(&node(1, "STOPSIGNAL --x SIGTERM", &["SIGTERM"], &["--x"]))
    else {
        panic!()
    };
    assert_eq!(s.signal, "SIGTERM");
}

#[test]
fn expose_and_volume() {
    let Command::Expose(e) = cmd(&node(
        1,
        "EXPOSE 80 443/tcp 22",
        &["80", "443/tcp", "22"],
        &[],
    )) else {
        panic!()
    };
    assert_eq!(e.ports, ["22", "443/tcp", "80"]);
    assert_eq!(
        err(&node(1, "EXPOSE", &[], &[])),
        "EXPOSE requires at least one argument"
    );
    let Command::Volume(v) = cmd(&json(node(
        1,
        "VOLUME [\" /a \", \"/b\"]",
        &[" /a ", "/b"],
        &[],
    ))) else {
        panic!()
    };
    assert_eq!(v.volumes, ["/a", "/b"]);
    assert_eq!(
        err(&json(node(1, "VOLUME [\" \"]", &[" "], &[]))),
        "VOLUME specified can not be an empty string"
    );
    assert_eq!(
        err(&node(1, "VOLUME", &[], &[])),
        "VOLUME requires at least one argument"
    );
}

#[test]
fn cmd_entrypoint_shell() {
    let Command::Cmd(c) = cmd(&node(1, "CMD echo hi", &["echo hi"], &[])) else {
        panic!()
    };
    assert_eq!(c.cmd.cmd_line, ["echo hi"]);
    assert!(c.cmd.prepend_shell);
    let Command::Entrypoint(e) = cmd(&json(node(1, "ENTRYPOINT [\"a\",\"b\"]", &["a", "b"], &[])))
    else {
        panic!()
    };
    assert_eq!(e.cmd.cmd_line, ["a", "b"]);
    assert!(!e.cmd.prepend_shell);
    let Command::Entrypoint(e) = cmd(&json(node(1, "ENTRYPOINT []", &[], &[]))) else {
        panic!()
    };
    assert!(e.cmd.cmd_line.is_empty());
    let Command::Shell(s) = cmd(&json(node(
        1,
        "SHELL [\"bash\",\"-c\"]",
        &["bash", "-c"],
        &[],
    ))) else {
        panic!()
    };
    assert_eq!(s.shell, ["bash", "-c"]);
    assert_eq!(
        err(&node(1, "SHELL bash -c", &["bash -c"], &[])),
        "SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(
        err(&json(node(1, "SHELL []", &[], &[]))),
        "SHELL requires at least one argument"
    );
    assert_eq!(
        err(&node(1, "CMD --x a", &["a"], &["--x=1"])),
        "unknown flag: --x"
    );
}

#[test]
fn run_flags() {
    let n = node(
        1,
        "RUN --mount=type=cache,target=/c --network=none --security=insecure --device=v.com/gpu=0 make",
        &["make"],
        &["--mount=type=cache,target=/c", "--network=none", "--security=insecure", "--device=v.com/gpu=0"],
    );
    let Command::Run(r) = cmd(&n) else { panic!() };
    assert_eq!(r.cmd.cmd_line, ["make"]);
    assert_eq!(r.network, NetworkMode::None);
    assert_eq!(r.security, SecurityMode::Insecure);
    assert_eq!(r.mounts.len(), 1);
    assert_eq!(r.mounts[0].fields, ["type=cache", "target=/c"]);
    assert_eq!(
        r.devices,
        [Device {
            name: "v.com/gpu=0".into(),
            required: false
        }]
    );
    assert_eq!(r.flags_used, ["device", "mount", "network", "security"]);

    let Command::Run(r) = cmd(&node(1, "RUN x", &["x"], &[])) else {
        panic!()
    };
    assert_eq!(
        (r.network, r.security),
        (NetworkMode::Default, SecurityMode::Sandbox)
    );
    assert!(r.flags_used.is_empty());

    assert_eq!(
        err(&node(1, "RUN x", &["x"], &["--network=bridge"])),
        "invalid network mode \"bridge\""
    );
    assert_eq!(
        err(&node(1, "RUN x", &["x"], &["--security=root"])),
        "security \"root\" is not valid"
    );
    assert_eq!(
        err(&node(1, "RUN x", &["x"], &["--network"])),
        "missing a value on flag: --network"
    );
    assert_eq!(
        err(&node(
            1,
            "RUN x",
            &["x"],
            &["--network=host", "--network=none"]
        )),
        "duplicate flag specified: --network"
    );
    assert_eq!(
        err(&node(1, "RUN x", &["x"], &["--mout=type=bind"])),
        "unknown flag: --mout (did you mean mount?)"
    );
    assert_eq!(
        err(&node(1, "RUN x", &["x"], &["--mount=from=$X,target=/a"])),
        "'from' doesn't support variable expansion, define alias stage instead"
    );
    assert_eq!(
        err(&node(1, "RUN x", &["x"], &["--mount="])),
        "failed to parse csv mounts: EOF"
    );
    assert_eq!(
        err(&node(1, "RUN x", &["x"], &["--device=a,b"])),
        "invalid field 'b' must be a key=value pair"
    );
}

#[test]
fn run_heredoc() {
    let mut n = node(1, "RUN <<EOF", &["<<EOF"], &[]);
    n.end_line = 3;
    n.heredocs = vec![Heredoc {
        name: "EOF".into(),
        content: "echo hi\n".into(),
        expand: true,
        chomp: false,
    }];
    let Command::Run(r) = cmd(&n) else { panic!() };
    assert_eq!(r.cmd.cmd_line, ["<<EOF"]);
    assert_eq!(
        r.cmd.files,
        [ShellInlineFile {
            name: "EOF".into(),
            data: "echo hi\n".into(),
            chomp: false
        }]
    );
    assert_eq!(
        r.location,
        Location {
            start_line: 1,
            end_line: 3
        }
    );
}

#[test]
fn copy_and_add() {
    let n = node(
        1,
        "COPY --from=build --chown=1:1 --chmod=755 --link --parents --exclude=*.md --exclude=x a b /dst/",
        &["a", "b", "/dst/"],
        &["--from=build", "--chown=1:1", "--chmod=755", "--link", "--parents", "--exclude=*.md", "--exclude=x"],
    );
    let Command::Copy(c) = cmd(&n) else { panic!() };
    assert_eq!(c.from, "build");
    assert_eq!((c.chown.as_str(), c.chmod.as_str()), ("1:1", "755"));
    assert!(c.link && c.parents);
    assert_eq!(c.excludes, ["*.md", "x"]);
    assert_eq!(c.sources_and_dest.source_paths, ["a", "b"]);
    assert_eq!(c.sources_and_dest.dest_path, "/dst/");

    let n = node(
        1,
        "ADD --checksum=sha256:x --keep-git-dir=false --unpack https://x/a.tgz /",
        &["https://x/a.tgz", "/"],
        &["--checksum=sha256:x", "--keep-git-dir=false", "--unpack"],
    );
    let Command::Add(a) = cmd(&n) else { panic!() };
    assert_eq!(a.checksum, "sha256:x");
    assert_eq!(a.keep_git_dir, Some(false));
    assert_eq!(a.unpack, Some(true));
    assert!(!a.link);
    let Command::Add(a) = cmd(&node(1, "ADD a /", &["a", "/"], &[])) else {
        panic!()
    };
    assert_eq!((a.keep_git_dir, a.unpack), (None, None));

    assert_eq!(
        err(&node(1, "COPY a", &["a"], &[])),
        "COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );
    assert_eq!(
        err(&node(1, "ADD a", &["a"], &["--bogus"])),
        "ADD requires at least two arguments, but only one was provided. Destination could not be determined"
    );
    assert_eq!(
        err(&node(1, "COPY a b", &["a", "b"], &["--parent"])),
        "unknown flag: --parent (did you mean parents?)"
    );
    assert_eq!(
        err(&node(1, "ADD a b", &["a", "b"], &["--from=x"])),
        "unknown flag: --from"
    );
    assert_eq!(
        err(&node(1, "COPY a b", &["a", "b"], &["--link=maybe"])),
        "expecting boolean value for flag --link, not: maybe"
    );
    assert_eq!(
        err(&node(1, "COPY a <<EOF", &["a", "<<EOF"], &[])),
        "COPY cannot accept a heredoc as a destination"
    );
}

#[test]
fn copy_heredoc_sources() {
    let mut n = node(
        1,
        "COPY <<-EOF <<'RAW' /dst/",
        &["<<-EOF", "<<'RAW'", "/dst/"],
        &[],
    );
    n.heredocs = vec![
        Heredoc {
            name: "EOF".into(),
            content: "\tx $A\n".into(),
            expand: true,
            chomp: true,
        },
        Heredoc {
            name: "RAW".into(),
            content: "y $B\n".into(),
            expand: false,
            chomp: false,
        },
    ];
    let Command::Copy(c) = cmd(&n) else { panic!() };
    assert!(c.sources_and_dest.source_paths.is_empty());
    assert_eq!(
        c.sources_and_dest.source_contents,
        [
            SourceContent {
                path: "EOF".into(),
                data: "x $A\n".into(),
                expand: true
            },
            SourceContent {
                path: "RAW".into(),
                data: "y $B\n".into(),
                expand: false
            },
        ]
    );
}

#[test]
fn healthcheck_forms() {
    let n = node(
        1,
        "HEALTHCHECK --interval=5s --timeout=1m --start-period=1.5s --start-interval=2ms --retries=3 CMD curl -f x",
        &["CMD", "curl -f x"],
        &["--interval=5s", "--timeout=1m", "--start-period=1.5s", "--start-interval=2ms", "--retries=3"],
    );
    let Command::Healthcheck(h) = cmd(&n) else {
        panic!()
    };
    assert_eq!(
        h.health,
        Healthcheck::Cmd(HealthcheckConfig {
            test: vec!["CMD-SHELL".into(), "curl -f x".into()],
            interval_ns: 5_000_000_000,
            timeout_ns: 60_000_000_000,
            start_period_ns: 1_500_000_000,
            start_interval_ns: 2_000_000,
            retries: 3,
        })
    );
    let Command::Healthcheck(h) = cmd(&json(node(
        1,
        "HEALTHCHECK CMD [\"a\",\"b\"]",
        &["CMD", "a", "b"],
        &[],
    ))) else {
        panic!()
    };
    assert_eq!(h.health.test(), ["CMD", "a", "b"]);
    let Command::Healthcheck(h) = cmd(&node(1, "HEALTHCHECK none", &["none"], &["--bogus"])) else {
        panic!()
    };
    assert_eq!(h.health, Healthcheck::None);
    assert_eq!(h.health.test(), ["NONE"]);
    let Command::Healthcheck(h) = cmd(&node(
        1,
        "HEALTHCHECK --interval=0s CMD x",
        &["CMD", "x"],
        &["--interval=0s"],
    )) else {
        panic!()
    };
    assert!(matches!(
        h.health,
        Healthcheck::Cmd(HealthcheckConfig { interval_ns: 0, .. })
    ));
}

#[test]
fn healthcheck_errors() {
    let hc = |flags: &[&str], args: &[&str]| err(&node(1, "HEALTHCHECK", args, flags));
    assert_eq!(hc(&[], &[]), "HEALTHCHECK requires at least one argument");
    assert_eq!(
        hc(&[], &["NONE", "x"]),
        "HEALTHCHECK NONE takes no arguments"
    );
    assert_eq!(hc(&[], &["CMD"]), "Missing command after HEALTHCHECK CMD");
    assert_eq!(
        hc(&[], &["foo", "x"]),
        "Unknown type \"FOO\" in HEALTHCHECK (try CMD)"
    );
    assert_eq!(
        hc(&["--interval=1us"], &["CMD", "x"]),
        "Interval \"interval\" cannot be less than 1ms"
    );
    assert_eq!(
        hc(&["--timeout=-1s"], &["CMD", "x"]),
        "Interval \"timeout\" cannot be less than 1ms"
    );
    assert_eq!(
        hc(&["--start-period=1"], &["CMD", "x"]),
        "time: missing unit in duration \"1\""
    );
    assert_eq!(
        hc(&["--start-interval=1d"], &["CMD", "x"]),
        "time: unknown unit \"d\" in duration \"1d\""
    );
    assert_eq!(
        hc(&["--retries=-1"], &["CMD", "x"]),
        "--retries cannot be negative (-1)"
    );
    assert_eq!(
        hc(&["--retries=x"], &["CMD", "x"]),
        "strconv.ParseInt: parsing \"x\": invalid syntax"
    );
    assert_eq!(
        hc(&["--intervall=1s"], &["CMD", "x"]),
        "unknown flag: --intervall (did you mean interval?)"
    );
    // Flags are checked before the type.
    assert_eq!(hc(&["--x"], &["FOO"]), "unknown flag: --x");
}

fn onbuild_node(line: usize, original: &str, sub: Node) -> Node {
    Node {
        value: "onbuild".into(),
        next: vec![Node {
            children: vec![sub],
            ..Node::default()
        }],
        original: original.into(),
        start_line: line,
        end_line: line,
        ..Node::default()
    }
}

#[test]
fn onbuild() {
    let sub = node(2, "RUN echo hi", &["echo hi"], &[]);
    let Command::Onbuild(o) = cmd(&onbuild_node(2, "onbuild  RUN echo hi", sub)) else {
        panic!()
    };
    assert_eq!(o.expression, "RUN echo hi");
    let mut sub = node(2, "COPY <<EOF /a", &["<<EOF", "/a"], &[]);
    sub.heredocs = vec![Heredoc {
        name: "EOF".into(),
        content: "x\n".into(),
        expand: true,
        chomp: false,
    }];
    let mut n = onbuild_node(2, "ONBUILD COPY <<EOF /a", sub);
    n.heredocs = vec![Heredoc {
        name: "EOF".into(),
        content: "x\n".into(),
        expand: true,
        chomp: false,
    }];
    let Command::Onbuild(o) = cmd(&n) else {
        panic!()
    };
    assert_eq!(o.expression, "COPY <<EOF /a\nx\nEOF");

    for (kw, msg) in [
        (
            "ONBUILD",
            "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
        ),
        ("FROM", "FROM isn't allowed as an ONBUILD trigger"),
        (
            "MAINTAINER",
            "MAINTAINER isn't allowed as an ONBUILD trigger",
        ),
    ] {
        let sub = node(1, &format!("{kw} x"), &["x"], &[]);
        assert_eq!(err(&onbuild_node(1, &format!("ONBUILD {kw} x"), sub)), msg);
    }
    let empty = Node {
        value: "onbuild".into(),
        original: "ONBUILD".into(),
        ..Node::default()
    };
    assert_eq!(err(&empty), "ONBUILD requires at least one argument");
}

#[test]
fn triggers() {
    let loc = Location {
        start_line: 7,
        end_line: 7,
    };
    let c = parse_trigger_node(&node(1, "RUN x", &["x"], &[]), loc).unwrap();
    assert_eq!(c.location(), loc);
    let e = parse_trigger_node(&node(1, "FROM x", &["x"], &[]), loc).unwrap_err();
    assert_eq!(e.to_string(), "*instructions.Stage is not a command type");
    assert_eq!(e.line(), 7);
    let two = ParseResult {
        ast: Node {
            children: vec![node(1, "RUN x", &["x"], &[]), node(2, "RUN y", &["y"], &[])],
            ..Node::default()
        },
        ..ParseResult::default()
    };
    assert_eq!(
        parse_trigger_result(&two, loc).unwrap_err().to_string(),
        "onbuild trigger should be a single expression"
    );
}

#[test]
fn file_grouping() {
    let parsed = file(vec![
        node(1, "ARG BASE=alpine", &["BASE=alpine"], &[]),
        node(2, "FROM $BASE AS a", &["$BASE", "AS", "a"], &[]),
        node(3, "ARG X", &["X"], &[]),
        node(4, "RUN x", &["x"], &[]),
        node(5, "FROM a", &["a"], &[]),
        node(6, "COPY --from=a /x /y", &["/x", "/y"], &["--from=a"]),
    ])
    .unwrap();
    assert_eq!(parsed.meta_args.len(), 1);
    assert_eq!(parsed.meta_args[0].args[0].key, "BASE");
    assert_eq!(parsed.stages.len(), 2);
    assert_eq!(
        parsed.stages[0]
            .commands
            .iter()
            .map(Command::name)
            .collect::<Vec<_>>(),
        ["arg", "run"]
    );
    assert_eq!(parsed.stages[1].commands.len(), 1);
    assert_eq!(parsed.stage_index("A"), Some(0));
    assert_eq!(parsed.stage_index("b"), None);

    let e = file(vec![
        node(1, "ARG A", &["A"], &[]),
        node(2, "RUN x", &["x"], &[]),
    ])
    .unwrap_err();
    assert_eq!(e.to_string(), "no build stage in current context");
    assert_eq!(e.line(), 2);
    assert_eq!(e.buildkit_message(), "no build stage in current context");
    let e = file(vec![
        node(1, "FROM a", &["a"], &[]),
        node(4, "RUN", &["x"], &["--nope"]),
    ])
    .unwrap_err();
    assert_eq!(
        e.buildkit_message(),
        "dockerfile parse error on line 4: unknown flag: --nope"
    );
    assert_eq!(file(vec![]).unwrap(), ParsedFile::default());
}

#[test]
fn serializes_to_json() {
    let Command::Run(r) = cmd(&node(1, "RUN x", &["x"], &["--mount=type=tmpfs,target=/t"])) else {
        panic!()
    };
    let v = serde_json::to_value(Command::Run(r)).unwrap();
    assert_eq!(v["instruction"], "run");
    assert_eq!(v["cmd_line"][0], "x");
    assert_eq!(v["network"], "default");
    assert_eq!(v["mounts"][0]["fields"][1], "target=/t");
}

//! Behaviour tests of the whole lexer (BuildKit's own unit-test expectations plus the quirks
//! slipway reproduces). The data-driven conformance suite is `tests/conformance_shell.rs`.

use std::collections::BTreeMap;

use super::*;

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn word(input: &str, pairs: &[(&str, &str)]) -> Result<String, ShellError> {
    Lexer::new('\\')
        .process_word(input, &env(pairs))
        .map(|e| e.result)
}

fn words(input: &str, pairs: &[(&str, &str)]) -> Vec<String> {
    Lexer::new('\\')
        .process_words(input, &env(pairs))
        .unwrap_or_else(|e| panic!("{input}: {e}"))
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

/// Input, environment, expected result, expected matched and unmatched names.
type MatchCase<'a> = (
    &'a str,
    &'a [(&'a str, &'a str)],
    &'a str,
    &'a [&'a str],
    &'a [&'a str],
);

#[test]
fn reports_matched_and_unmatched_variables() {
    let cases: &[MatchCase] = &[
        ("x", &[("DUMMY", "dummy")], "x", &[], &[]),
        ("x ${UNUSED}", &[("DUMMY", "dummy")], "x ", &[], &["UNUSED"]),
        ("x ${FOO}", &[("FOO", "y")], "x y", &["FOO"], &[]),
        (
            "${FOO-aaa} ${BAR-bbb} ${BAZ-ccc}",
            &[("FOO", "xxx"), ("BAR", "")],
            "xxx  ccc",
            &["FOO", "BAR"],
            &["BAZ"],
        ),
        (
            "${FOO:-aaa} ${BAR:-bbb} ${BAZ:-ccc}",
            &[("FOO", "xxx"), ("BAR", "")],
            "xxx bbb ccc",
            &["FOO", "BAR"],
            &["BAZ"],
        ),
        (
            "${FOO:-}",
            &[("FOO", "xxx"), ("BAR", "")],
            "xxx",
            &["FOO"],
            &[],
        ),
        ("${FOO:-}", &[], "", &[], &["FOO"]),
        (
            "${FOO+aaa} ${BAR+bbb} ${BAZ+ccc}",
            &[("FOO", "xxx"), ("BAR", "")],
            "aaa bbb ",
            &["FOO", "BAR"],
            &["BAZ"],
        ),
        (
            "${FOO:+aaa} ${BAR:+bbb} ${BAZ:+ccc}",
            &[("FOO", "xxx"), ("BAR", "")],
            "aaa  ",
            &["FOO", "BAR"],
            &["BAZ"],
        ),
        ("${FOO?aaa}", &[("FOO", "xxx")], "xxx", &["FOO"], &[]),
        ("${BAR?bbb}", &[("BAR", "")], "", &["BAR"], &[]),
        ("${FOO:?aaa}", &[("FOO", "xxx")], "xxx", &["FOO"], &[]),
        (
            "${FOO#()[]{\\}^$.\\*\\?|\\\\}",
            &[("FOO", "()[]{}^$.*?|\\x")],
            "x",
            &["FOO"],
            &[],
        ),
        ("${FOO%%\\**}", &[("FOO", "xx**")], "xx", &["FOO"], &[]),
        ("${FOO#*x*y}", &[("FOO", "xxyy")], "y", &["FOO"], &[]),
        ("${FOO#*}", &[("FOO", "xxyy")], "xxyy", &["FOO"], &[]),
        (
            "${FOO#$BAR}",
            &[("FOO", "xxyy"), ("BAR", "x")],
            "xyy",
            &["FOO", "BAR"],
            &[],
        ),
        (
            "${FOO#$BAR}",
            &[("FOO", "xxyy"), ("BAR", "")],
            "xxyy",
            &["FOO", "BAR"],
            &[],
        ),
        ("${FOO#}", &[("FOO", "xxyy")], "xxyy", &["FOO"], &[]),
        ("${FOO##*x}", &[("FOO", "xxyy")], "yy", &["FOO"], &[]),
        ("${FOO##}", &[("FOO", "xxyy")], "xxyy", &["FOO"], &[]),
        ("${FOO#?\\?}", &[("FOO", "???y")], "?y", &["FOO"], &[]),
        (
            "${ABC:-.}${FOO%x}${ABC:-.}",
            &[("FOO", "xxyy")],
            ".xxyy.",
            &["FOO"],
            &["ABC"],
        ),
        ("${FOO%%\\**\\*}", &[("FOO", "a***yy*")], "a", &["FOO"], &[]),
        ("${FOO%}", &[("FOO", "xxyy")], "xxyy", &["FOO"], &[]),
        (
            "${FOO%%$BAR}",
            &[("FOO", "xxyy"), ("BAR", "")],
            "xxyy",
            &["FOO", "BAR"],
            &[],
        ),
        (
            "${FOO/$NEEDLE/.} - ${FOO//$NEEDLE/.}",
            &[("FOO", "/foo*/*/*.txt"), ("NEEDLE", "\\*/")],
            "/foo.*/*.txt - /foo..*.txt",
            &["FOO", "NEEDLE"],
            &[],
        ),
        (
            "${FOO/$NEEDLE/} - ${FOO//$NEEDLE/}",
            &[("FOO", "/tmp/tmp/bar.txt"), ("NEEDLE", "/tmp")],
            "/tmp/bar.txt - /bar.txt",
            &["FOO", "NEEDLE"],
            &[],
        ),
        (
            "${FOO/$NEEDLE/$REPLACEMENT} - ${FOO//$NEEDLE/$REPLACEMENT}",
            &[
                ("FOO", "/a/foo/b/c.txt"),
                ("NEEDLE", "/?/"),
                ("REPLACEMENT", "/"),
            ],
            "/foo/b/c.txt - /foo/c.txt",
            &["FOO", "NEEDLE", "REPLACEMENT"],
            &[],
        ),
        (
            "${FOO/$NEEDLE/$REPLACEMENT}",
            &[
                ("FOO", "http://google.de"),
                ("NEEDLE", "http://"),
                ("REPLACEMENT", "https://"),
            ],
            "https://google.de",
            &["FOO", "NEEDLE", "REPLACEMENT"],
            &[],
        ),
        (
            "${FOO//\\//\\/}",
            &[("FOO", "/tmp/foo.txt")],
            "\\/tmp\\/foo.txt",
            &["FOO"],
            &[],
        ),
        (
            "${FOO/$BAR/ww}",
            &[("FOO", "xxyy"), ("BAR", "")],
            "wwxxyy",
            &["FOO", "BAR"],
            &[],
        ),
        ("${FOO///}", &[("FOO", "xxyy")], "xxyy", &["FOO"], &[]),
        ("${FOO///}", &[], "", &[], &["FOO"]),
    ];
    let lexer = Lexer::new('\\');
    for (input, pairs, expected, matched, unmatched) in cases {
        let got = lexer
            .process_word(input, &env(pairs))
            .unwrap_or_else(|e| panic!("{input}: {e}"));
        assert_eq!(got.result, *expected, "{input}");
        assert_eq!(got.matched, set(matched), "{input} matched");
        assert_eq!(got.unmatched, set(unmatched), "{input} unmatched");
    }
}

#[test]
fn rejects_what_buildkit_rejects() {
    let full = &[("FOO", "xxx"), ("BAR", "")];
    for input in [
        "${BAZ?ccc}",
        "${BAR:?bbb}",
        "${BAZ:?ccc}",
        "${BAZ:?}",
        "${FOO=aaa}",
        "${FOO=:aaa}",
        "${FOO=}",
        "${FOO:#}",
        "${FOO:##}",
        "${FOO:%}",
        "${FOO:%%}",
        "${FOO//ww}",
        "${FOO//}",
    ] {
        assert!(word(input, full).is_err(), "{input} must fail");
    }
}

#[test]
fn errors_carry_their_fields_and_buildkit_wording() {
    let e = |input: &str| word(input, &[("FOO", "foo"), ("NULL", "")]).unwrap_err();
    let missing = |w: &str| ShellError::MissingClosingBrace { word: w.to_owned() };
    assert_eq!(e("he${PWD:-x"), missing("he${PWD:-x"));
    assert_eq!(e("${X:-'abc}"), missing("${X:-'abc}"));
    assert_eq!(e("${X:-${Y?msg}"), missing("${X:-${Y?msg}"));
    assert_eq!(e("${"), missing("${"));
    assert_eq!(
        e("${X:-${Y?msg}}y"),
        ShellError::Required {
            word: "${X:-${Y?msg}}y".into(),
            name: "Y".into(),
            message: "msg".into()
        }
    );
    assert_eq!(
        e("${NULL:?}").to_string(),
        r#"failed to process "${NULL:?}": NULL: is not allowed to be empty"#
    );
    assert_eq!(
        e("${UNSET?}").to_string(),
        r#"failed to process "${UNSET?}": UNSET: is not allowed to be unset"#
    );
    assert_eq!(
        e("${:}"),
        ShellError::BadSubstitution {
            word: "${:}".into()
        }
    );
    assert_eq!(
        e("${FOO//ww}"),
        ShellError::MissingPatternSlash {
            word: "${FOO//ww}".into()
        }
    );
    let modifier = |input: &str| match e(input) {
        ShellError::UnsupportedModifier { modifier, .. } => modifier,
        other => panic!("{input}: {other:?}"),
    };
    assert_eq!(modifier("${PWD"), "\u{FFFD}");
    assert_eq!(modifier("he${PWD:=000}xx"), ":=");
    assert_eq!(modifier("${XXX:YYY}"), ":Y");
    assert_eq!(modifier("${.}"), ".");
    assert_eq!(modifier("${FOO:#x}"), ":#");
    assert_eq!(
        e("${FOO#\\x}"),
        ShellError::InvalidPattern {
            word: "${FOO#\\x}".into(),
            pattern: "\\x".into(),
            escaped: Some('x')
        }
    );
    // `%` reports the reversed pattern, as BuildKit does.
    match e("${FOO%a\\x}") {
        ShellError::InvalidPattern { pattern, .. } => assert_eq!(pattern, "\\xa"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        e("'abc"),
        ShellError::UnterminatedSingleQuote { .. }
    ));
    assert!(matches!(
        e("\"abc\\\""),
        ShellError::UnterminatedDoubleQuote { .. }
    ));
    assert_eq!(
        e("\"a\tb").to_string(),
        "failed to process \"\\\"a\\tb\": unexpected end of statement while looking for matching double-quote"
    );
}

#[test]
fn mandatory_variables_take_their_message_from_the_word() {
    let set_env = [("VAR", "plain"), ("ARG", "x")];
    let empty_env = [("VAR", ""), ("ARG", "x")];
    let unset_env = [("ARG", "x")];
    let no_empty = "${VAR:?message here$ARG}";
    let no_unset = "${VAR?message here$ARG}";
    assert_eq!(word(no_empty, &set_env).unwrap(), "plain");
    assert!(word(no_empty, &empty_env)
        .unwrap_err()
        .to_string()
        .contains("message herex"));
    assert!(word(no_empty, &unset_env)
        .unwrap_err()
        .to_string()
        .contains("message herex"));
    assert_eq!(word(no_unset, &set_env).unwrap(), "plain");
    assert_eq!(word(no_unset, &empty_env).unwrap(), "");
    assert!(word(no_unset, &unset_env)
        .unwrap_err()
        .to_string()
        .contains("message herex"));
}

#[test]
fn expands_release_file_names() {
    let release =
        "something-${VERSION}.${TARGETOS}-${TARGETARCH}${TARGETVARIANT:+-${TARGETVARIANT}}.tar.gz";
    let base = [("VERSION", "v1.2.3"), ("TARGETOS", "linux")];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut all = base.to_vec();
        all.extend_from_slice(extra);
        word(release, &all).unwrap()
    };
    assert_eq!(
        with(&[("TARGETARCH", "arm"), ("TARGETVARIANT", "v7")]),
        "something-v1.2.3.linux-arm-v7.tar.gz"
    );
    assert_eq!(
        with(&[("TARGETARCH", "arm64"), ("TARGETVARIANT", "")]),
        "something-v1.2.3.linux-arm64.tar.gz"
    );
    assert_eq!(
        with(&[("TARGETARCH", "arm64")]),
        "something-v1.2.3.linux-arm64.tar.gz"
    );
}

#[test]
fn backtick_escape_token() {
    let lexer = Lexer::new('`');
    let e = env(&[("PWD", "/home")]);
    let w = |input: &str| lexer.process_word(input, &e).unwrap().result;
    assert_eq!(w("he`$PWD"), "he$PWD");
    assert_eq!(w("he$PWD"), "he/home");
    assert_eq!(w(r"C:\dir\file"), r"C:\dir\file");
    assert_eq!(w("\"a`\"b\""), "a\"b");
    assert_eq!(w("\"a`tb\""), "a`tb");
    assert_eq!(w("a` b"), "a b");
    assert_eq!(lexer.process_words("a` b c", &e).unwrap(), vec!["a b", "c"]);
}

#[test]
fn skip_unset_env_keeps_references_as_written() {
    let lexer = Lexer::with_options(
        '\\',
        LexerOptions {
            raw_quotes: true,
            skip_unset_env: true,
            ..LexerOptions::default()
        },
    );
    let e = env(&[("SET", "v")]);
    let w = |input: &str| lexer.process_word(input, &e).unwrap().result;
    assert_eq!(w("a$FOO b${FOO} $SET"), "a$FOO b${FOO} v");
    assert_eq!(w("${FOO:-x}${FOO+y}${FOO#p}"), "${FOO:-x}${FOO+y}${FOO#p}");
    // BuildKit drops the second `/` of `//` and accepts unsupported modifiers of unset names.
    assert_eq!(w("${FOO//a/b}"), "${FOO/a/b}");
    assert_eq!(w("${FOO:YYY}"), "${FOO:YYY}");
    assert_eq!(w("'q' \"$SET\""), "'q' \"v\"");
}

#[test]
fn raw_escapes_keep_escape_tokens() {
    let lexer = Lexer::with_options(
        '\\',
        LexerOptions {
            raw_escapes: true,
            ..LexerOptions::default()
        },
    );
    let w = |input: &str| lexer.process_word(input, &NoEnv).unwrap().result;
    assert_eq!(w(r"a\ b\$c"), r"a\ b\$c");
    // Inside double quotes the escape is written twice before an ordinary character.
    assert_eq!(w(r#""a\tb""#), r"a\\tb");
    assert_eq!(w(r#""a\"b""#), r#"a\"b"#);
}

#[test]
fn skip_process_quotes_treats_quotes_as_text() {
    let lexer = Lexer::with_options(
        '\\',
        LexerOptions {
            skip_process_quotes: true,
            ..LexerOptions::default()
        },
    );
    let e = env(&[("A", "1")]);
    assert_eq!(
        lexer.process_word("'$A' \"$A\"", &e).unwrap().result,
        "'1' \"1\""
    );
    assert_eq!(lexer.process_word("'", &e).unwrap().result, "'");
}

#[test]
fn nested_expansion_resets_the_word_being_split_as_buildkit_does() {
    assert_eq!(words("ab${X:-c}d", &[]), vec!["cd"]);
    assert_eq!(words("a b${X:-c}", &[]), vec!["a", "c"]);
    assert_eq!(words("ab${X}d", &[]), vec!["abd"]);
    assert_eq!(words("ab\"${X:-c}\"d", &[]), vec!["cd"]);
    assert_eq!(words("${X:-a b} c", &[]), vec!["a", "b", "c"]);
    // process_word is not affected.
    assert_eq!(word("ab${X:-c}d", &[]).unwrap(), "abcd");
}

#[test]
fn heredoc_markers_stay_one_word() {
    assert_eq!(words("<<EOF", &[]), vec!["<<EOF"]);
    assert_eq!(words("cat <<  EOF", &[]), vec!["cat", "<<  EOF"]);
    assert_eq!(words("<<-EOF x", &[]), vec!["<<-EOF", "x"]);
    assert_eq!(words("a < b", &[]), vec!["a", "<", "b"]);
    assert_eq!(word("<<\t EOF", &[]).unwrap(), "<<\t EOF");
}

#[test]
fn names_follow_go_unicode_classes() {
    let e = [("한국", "kr"), ("ab", "v"), ("_x1", "u")];
    assert_eq!(word("$한국!", &e).unwrap(), "kr!");
    assert_eq!(word("$ab-c", &e).unwrap(), "v-c");
    assert_eq!(word("$_x1.", &e).unwrap(), "u.");
    assert_eq!(word("$\u{0661}\u{0662}x", &e).unwrap(), "x");
    assert_eq!(word("$\u{2160}", &e).unwrap(), "$\u{2160}");
    assert_eq!(word("$$$", &e).unwrap(), "$");
}

#[test]
fn leading_byte_order_mark_is_dropped() {
    let e = [("PWD", "/home")];
    assert_eq!(word("\u{FEFF}$PWD", &e).unwrap(), "/home");
    assert_eq!(word("a\u{FEFF}", &e).unwrap(), "a\u{FEFF}");
}

#[test]
fn replacement_template_follows_go_expand() {
    let e = [("FOO", "foo")];
    assert_eq!(word("${FOO//o/[\\$0]}", &e).unwrap(), "f[\\o][\\o]");
    assert_eq!(word("${FOO/o/[\\$0]}", &e).unwrap(), "f[\\$0]o");
    assert_eq!(word("${FOO//o/$}", &e).unwrap(), "f$$");
}

#[test]
fn patterns_do_not_cross_newlines() {
    let e = [("FOO", "a\nb")];
    assert_eq!(word("${FOO%%*}", &e).unwrap(), "a\n");
    assert_eq!(word("${FOO##*}", &e).unwrap(), "\nb");
}

#[test]
fn env_getter_impls_agree() {
    let list = vec![
        ("A".to_owned(), "1".to_owned()),
        ("A".to_owned(), "2".to_owned()),
    ];
    let lexer = Lexer::default();
    assert_eq!(lexer.process_word("$A", &list).unwrap().result, "2");
    let map: std::collections::HashMap<String, String> = list.into_iter().collect();
    assert_eq!(lexer.process_word("$A", &map).unwrap().result, "2");
    assert_eq!(lexer.process_word("[$A]", &NoEnv).unwrap().result, "[]");
    assert_eq!(Lexer::default().escape(), '\\');
}

#[test]
fn hostile_words_hit_limits_instead_of_exhausting_resources() {
    let e = [("A", "a b  c")];
    let deep = "${A:-".repeat(5000) + &"}".repeat(5000);
    assert!(matches!(
        word(&deep, &e),
        Err(ShellError::NestingTooDeep { limit: 100, .. })
    ));
    let shallow = "${X:-".repeat(99) + "ok" + &"}".repeat(99);
    assert_eq!(word(&shallow, &e).unwrap(), "ok");
    // Each level multiplies the length by 7 (an empty pattern matches 7 times in "a b  c").
    let blowup = "${A///".repeat(40) + "x" + &"}".repeat(40);
    let small = Lexer::with_options(
        '\\',
        LexerOptions {
            max_expansion_bytes: 1 << 16,
            ..LexerOptions::default()
        },
    );
    assert!(matches!(
        small.process_word(&blowup, &env(&e)),
        Err(ShellError::TooLarge { limit: 65536, .. })
    ));
    assert_eq!(LexerOptions::default().max_expansion_bytes, 16 << 20);
    // Siblings add up; a long literal word is never refused.
    let siblings = "${A///${A///${A///-}}}".repeat(100);
    assert!(matches!(
        small.process_word(&siblings, &env(&e)),
        Err(ShellError::TooLarge { .. })
    ));
    assert!(matches!(
        small.process_word(&format!("\"{siblings}\""), &env(&e)),
        Err(ShellError::TooLarge { .. })
    ));
    let literal = "x".repeat(70_000) + "$A";
    assert_eq!(
        small.process_word(&literal, &env(&e)).unwrap().result.len(),
        70_006
    );
    let lexer = Lexer::with_options(
        '\\',
        LexerOptions {
            max_expansion_bytes: 20,
            ..LexerOptions::default()
        },
    );
    assert_eq!(
        lexer.process_word("${A///-}", &env(&e)).unwrap().result,
        "-a- -b- - -c-"
    );
    assert!(lexer.process_word("${A///${A///-}}", &env(&e)).is_err());
}

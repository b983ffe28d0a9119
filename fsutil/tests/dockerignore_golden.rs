//! Golden tables for Docker's pattern rules (cases from moby/patternmatcher's tests and
//! Go's filepath.Match tests) and for walking a context with a `.dockerignore`.

use slipway_fsutil::{parse_ignore_file, walk_context, MatchInfo, PatternMatcher, WalkOptions};

#[derive(Clone, Copy, PartialEq, Debug)]
enum Want {
    Fail,
    Exact,
    /// Only through a parent directory.
    Inexact,
}
use Want::*;

const SINGLE: &[(&str, &str, Want)] = &[
    ("**", "file", Exact),
    ("**", "file/", Exact),
    ("**/", "file", Exact),
    ("**/", "file/", Exact),
    ("**", "/", Exact),
    ("**/", "/", Exact),
    ("**", "dir/file", Exact),
    ("**/", "dir/file", Exact),
    ("**", "dir/file/", Exact),
    ("**/", "dir/file/", Exact),
    ("**/**", "dir/file", Exact),
    ("**/**", "dir/file/", Exact),
    ("dir/**", "dir/file", Exact),
    ("dir/**", "dir/file/", Exact),
    ("dir/**", "dir/dir2/file", Exact),
    ("dir/**", "dir/dir2/file/", Exact),
    ("**/dir", "dir", Exact),
    ("**/dir", "dir/file", Inexact),
    ("**/dir2/*", "dir/dir2/file", Exact),
    ("**/dir2/*", "dir/dir2/file/", Inexact),
    ("**/dir2/**", "dir/dir2/dir3/file", Exact),
    ("**/dir2/**", "dir/dir2/dir3/file/", Exact),
    ("**file", "file", Exact),
    ("**file", "dir/file", Exact),
    ("**/file", "dir/file", Exact),
    ("**file", "dir/dir/file", Exact),
    ("**/file", "dir/dir/file", Exact),
    ("**/file*", "dir/dir/file", Exact),
    ("**/file*", "dir/dir/file.txt", Exact),
    ("**/file*txt", "dir/dir/file.txt", Exact),
    ("**/file*.txt", "dir/dir/file.txt", Exact),
    ("**/file*.txt*", "dir/dir/file.txt", Exact),
    ("**/**/*.txt", "dir/dir/file.txt", Exact),
    ("**/**/*.txt2", "dir/dir/file.txt", Fail),
    ("**/*.txt", "file.txt", Exact),
    ("**/**/*.txt", "file.txt", Exact),
    ("a**/*.txt", "a/file.txt", Exact),
    ("a**/*.txt", "a/dir/file.txt", Exact),
    ("a**/*.txt", "a/dir/dir/file.txt", Exact),
    ("a/*.txt", "a/dir/file.txt", Fail),
    ("a/*.txt", "a/file.txt", Exact),
    ("a/*.txt**", "a/file.txt", Exact),
    ("a[b-d]e", "ae", Fail),
    ("a[b-d]e", "ace", Exact),
    ("a[b-d]e", "aae", Fail),
    ("a[^b-d]e", "aze", Exact),
    (".*", ".foo", Exact),
    (".*", "foo", Fail),
    ("abc.def", "abcdef", Fail),
    ("abc.def", "abc.def", Exact),
    ("abc.def", "abcZdef", Fail),
    ("abc?def", "abcZdef", Exact),
    ("abc?def", "abcdef", Fail),
    ("**/foo/bar", "foo/bar", Exact),
    ("**/foo/bar", "dir/foo/bar", Exact),
    ("**/foo/bar", "dir/dir2/foo/bar", Exact),
    ("abc/**", "abc", Fail),
    ("abc/**", "abc/def", Exact),
    ("abc/**", "abc/def/ghi", Exact),
    ("**/.foo", ".foo", Exact),
    ("**/.foo", "bar.foo", Fail),
    ("a(b)c/def", "a(b)c/def", Exact),
    ("a(b)c/def", "a(b)c/xyz", Fail),
    ("a.|)$(}+{bc", "a.|)$(}+{bc", Exact),
    (
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        Exact,
    ),
    (
        "dist/*.whl",
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        Exact,
    ),
    ("a\\\\", "a\\", Exact),
    ("a\\*b", "a*b", Exact),
    // `abc` only at the root; `*` never crosses `/`.
    ("abc", "abc", Exact),
    ("abc", "x/abc", Fail),
    ("abc", "abc/def", Inexact),
    ("*.go", "pkg/main.go", Fail),
    ("*/*.go", "pkg/main.go", Exact),
    // The leading `**` shortcut is a suffix test, not a component match.
    ("**file", "xfile", Exact),
];

const MULTI: &[(&[&str], &str, bool)] = &[
    (&["**", "!util/docker/web"], "util/docker/web/foo", false),
    (
        &["**", "!util/docker/web", "util/docker/web/foo"],
        "util/docker/web/foo",
        true,
    ),
    (
        &[
            "**",
            "!dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        ],
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        false,
    ),
    (
        &["**", "!dist/*.whl"],
        "dist/proxy.py-2.4.0rc3.dev36+g08acad9-py3-none-any.whl",
        false,
    ),
    (&["*.go"], "fileutils.go", true),
    (&["!fileutils.go", "*.go"], "fileutils.go", true),
    (&["docs", "!docs/README.md"], "docs/README.md", false),
    (&["docs/", "!docs/README.md"], "docs/README.md", false),
    (&["docs/*", "!docs/README.md"], "docs/README.md", false),
    (&["*.go", "!fileutils.go"], "fileutils.go", false),
    (&["docs", "!docs/README.md"], "docs/other.md", true),
    (&["*", "!keep"], "keep/sub/file", false),
];

fn walk_parents(pm: &PatternMatcher, text: &str) -> bool {
    let mut info = MatchInfo::default();
    let parts: Vec<&str> = text.split('/').collect();
    let parent_len = parts.len().saturating_sub(1);
    for i in 1..=parent_len {
        let parent = parts[..i].join("/");
        if parent.is_empty() {
            continue;
        }
        info = pm.matches_using_parent_results(&parent, &info).1;
    }
    pm.matches_using_parent_results(text, &info).0
}

#[test]
fn single_pattern_table() {
    for (pattern, text, want) in SINGLE {
        let pm = PatternMatcher::new(&[*pattern]).unwrap();
        let desc = format!("pattern={pattern:?} text={text:?}");
        assert_eq!(pm.matches_exact(text), *want == Exact, "exact {desc}");
        assert_eq!(
            pm.matches_or_parent_matches(text),
            *want != Fail,
            "parents {desc}"
        );
        assert_eq!(
            pm.matches_using_parent_results(text, &MatchInfo::default())
                .0,
            *want != Fail,
            "no-context {desc}"
        );
        if !text.ends_with('/') && !text.starts_with('/') {
            assert_eq!(walk_parents(&pm, text), *want != Fail, "walked {desc}");
        }
    }
}

#[test]
fn multi_pattern_table() {
    for (patterns, text, want) in MULTI {
        let pm = PatternMatcher::new(patterns).unwrap();
        let desc = format!("patterns={patterns:?} text={text:?}");
        assert_eq!(pm.matches_or_parent_matches(text), *want, "{desc}");
        assert_eq!(walk_parents(&pm, text), *want, "walked {desc}");
    }
}

#[test]
fn malformed_patterns_are_errors() {
    for bad in [
        "[", "[^", "[^bc", "a[", "[]a]", "[-]", "[x-]", "[-x]", "\\", "[a-b-c]", "!",
    ] {
        assert!(PatternMatcher::new(&[bad]).is_err(), "{bad:?}");
    }
    assert!(PatternMatcher::new::<&str>(&[]).unwrap().is_empty());
    assert!(!PatternMatcher::new(&["docs", "config", ""])
        .unwrap()
        .has_exclusions());
    assert_eq!(
        PatternMatcher::new(&["docs", "config", ""])
            .unwrap()
            .patterns()
            .len(),
        2
    );
    assert!(PatternMatcher::new(&["docs", "  !docs/README.md  "])
        .unwrap()
        .has_exclusions());
}

fn tree(files: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in files {
        let p = dir.path().join(f);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, f.as_bytes()).unwrap();
    }
    dir
}

fn listed(dir: &std::path::Path, ignore: &str) -> Vec<String> {
    let pats = parse_ignore_file(ignore);
    let pm = PatternMatcher::new(&pats).unwrap();
    let opts = WalkOptions {
        excludes: Some(&pm),
        ..WalkOptions::default()
    };
    walk_context(dir, &opts)
        .unwrap()
        .listing
        .entries
        .into_iter()
        .map(|e| e.path)
        .collect()
}

#[test]
fn context_walk_with_dockerignore() {
    let files = [
        "Dockerfile",
        ".dockerignore",
        "abc",
        "sub/abc",
        "docs/README.md",
        "docs/guide.md",
        "node_modules/x/index.js",
        "src/main.go",
        "src/main_test.go",
        "src/deep/util.go",
    ];
    let dir = tree(&files);
    let cases: &[(&str, &[&str])] = &[
        (
            "# comment\nabc\n",
            &[
                ".dockerignore",
                "Dockerfile",
                "docs",
                "docs/README.md",
                "docs/guide.md",
                "node_modules",
                "node_modules/x",
                "node_modules/x/index.js",
                "src",
                "src/deep",
                "src/deep/util.go",
                "src/main.go",
                "src/main_test.go",
                "sub",
                "sub/abc",
            ],
        ),
        (
            "docs\n!docs/README.md\nnode_modules\n/sub\n",
            &[
                ".dockerignore",
                "Dockerfile",
                "abc",
                "docs",
                "docs/README.md",
                "src",
                "src/deep",
                "src/deep/util.go",
                "src/main.go",
                "src/main_test.go",
            ],
        ),
        (
            "*\n!src\nsrc/**/*_test.go\n",
            &["src", "src/deep", "src/deep/util.go", "src/main.go"],
        ),
        (
            "**/*.go\n!**/util.go\n",
            &[
                ".dockerignore",
                "Dockerfile",
                "abc",
                "docs",
                "docs/README.md",
                "docs/guide.md",
                "node_modules",
                "node_modules/x",
                "node_modules/x/index.js",
                "src",
                "src/deep",
                "src/deep/util.go",
                "sub",
                "sub/abc",
            ],
        ),
        (
            "*/*\n",
            &[
                ".dockerignore",
                "Dockerfile",
                "abc",
                "docs",
                "node_modules",
                "src",
                "sub",
            ],
        ),
    ];
    for (ignore, want) in cases {
        assert_eq!(listed(dir.path(), ignore), *want, "ignore file {ignore:?}");
    }
}

#[test]
fn ignored_build_files_are_not_in_the_context() {
    // BuildKit sends the Dockerfile on its own; the context honours every pattern.
    let dir = tree(&["Dockerfile", ".dockerignore", "app.py"]);
    let pm = PatternMatcher::new(&parse_ignore_file("Dockerfile\n.dockerignore\n")).unwrap();
    let opts = WalkOptions {
        excludes: Some(&pm),
        ..WalkOptions::default()
    };
    let got: Vec<String> = walk_context(dir.path(), &opts)
        .unwrap()
        .listing
        .entries
        .into_iter()
        .map(|e| e.path)
        .collect();
    assert_eq!(got, vec!["app.py"]);
}

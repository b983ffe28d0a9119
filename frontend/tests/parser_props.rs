//! Property tests: the parser never panics, whatever the input, and its results are
//! internally consistent (line ranges ordered, errors located inside the file).

use proptest::prelude::*;
use slipway_frontend::parser::{dump, parse};

/// Dockerfile-flavoured text: keywords, quotes, escapes, heredoc markers, JSON, blanks.
fn dockerfile_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("FROM ".to_string()),
        Just("RUN ".to_string()),
        Just("COPY ".to_string()),
        Just("ENV ".to_string()),
        Just("LABEL ".to_string()),
        Just("ONBUILD ".to_string()),
        Just("HEALTHCHECK ".to_string()),
        Just("ARG ".to_string()),
        Just("\n".to_string()),
        Just("\r\n".to_string()),
        Just(" ".to_string()),
        Just("\t".to_string()),
        Just("\\".to_string()),
        Just("`".to_string()),
        Just("#".to_string()),
        Just("# escape=`\n".to_string()),
        Just("# syntax=x\n".to_string()),
        Just("<<".to_string()),
        Just("<<-".to_string()),
        Just("EOF".to_string()),
        Just("'".to_string()),
        Just("\"".to_string()),
        Just("$".to_string()),
        Just("${".to_string()),
        Just("}".to_string()),
        Just("[".to_string()),
        Just("]".to_string()),
        Just(",".to_string()),
        Just("=".to_string()),
        Just("--".to_string()),
        Just("é\u{a0}\u{85}".to_string()),
        "[a-z0-9]{1,6}",
    ];
    prop::collection::vec(token, 0..60).prop_map(|parts| parts.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_and_stays_consistent(src in dockerfile_text()) {
        let line_count = src.split('\n').count();
        match parse(&src) {
            Ok(result) => {
                let mut previous_end = 0;
                for child in &result.ast.children {
                    prop_assert!(child.start_line > previous_end);
                    prop_assert!(child.start_line <= child.end_line);
                    prop_assert!(child.end_line <= line_count);
                    previous_end = child.end_line;
                }
                prop_assert_eq!(dump(&result.ast), dump(&result.ast.clone()));
            }
            Err(e) => {
                let (start, end) = e.lines();
                prop_assert!(start <= end);
                prop_assert!(end <= line_count);
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn never_panics_on_arbitrary_text(src in any::<String>()) {
        let _ = parse(&src);
    }
}

//! Shell word expansion on arbitrary words: must never panic, and `process_word` and
//! `process_words` must agree on whether a word is valid.
//!
//! Input: first byte selects the escape token (`\` or `` ` ``) and the lexer options, the
//! rest (if UTF-8) is the word.

#![no_main]

use libfuzzer_sys::fuzz_target;
use slipway_frontend::shell::{Lexer, LexerOptions};

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let Ok(word) = std::str::from_utf8(rest) else {
        return;
    };
    let escape = if selector & 1 == 0 { '\\' } else { '`' };
    let options = LexerOptions {
        raw_quotes: selector & 2 != 0,
        raw_escapes: selector & 4 != 0,
        skip_unset_env: selector & 8 != 0,
        skip_process_quotes: selector & 16 != 0,
        // Small enough that inputs hitting the limit stay fast under ASan.
        max_expansion_bytes: 64 << 10,
        ..LexerOptions::default()
    };
    let lexer = Lexer::with_options(escape, options);
    let env: Vec<(String, String)> = [
        ("A", "a b  c"),
        ("EMPTY", ""),
        ("PAT", "*/?\\*"),
        ("NL", "x\ny\n"),
        ("KOREAN", "한국어"),
        ("DOLLAR", "$0 $$ ${0}"),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    let one = lexer.process_word(word, &env);
    let many = lexer.process_words(word, &env);
    assert_eq!(one.is_ok(), many.is_ok(), "{word:?}: {one:?} vs {many:?}");
    if let Ok(expansion) = one {
        assert!(expansion.matched.is_disjoint(&expansion.unmatched));
    }
});

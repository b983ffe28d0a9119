//! BuildKit's `util/suggest`: "did you mean X?" by Levenshtein distance below 3.

/// The closest option to `val` (distance < 3), None when `val` is itself an option or
/// nothing is close. Case-insensitive search matches the case of `val` in the result.
pub(crate) fn suggest(val: &str, options: &[&str], case_sensitive: bool) -> Option<String> {
    let cmp_val = if case_sensitive {
        val.to_string()
    } else {
        val.to_lowercase()
    };
    let mut best: Option<String> = None;
    let mut min_dist = 3;
    for opt in options {
        let opt = if case_sensitive {
            (*opt).to_string()
        } else {
            opt.to_lowercase()
        };
        if cmp_val == opt {
            return None;
        }
        let dist = levenshtein(&cmp_val, &opt);
        if dist < min_dist {
            best = Some(if case_sensitive {
                opt
            } else {
                match_case(&opt, val)
            });
            min_dist = dist;
        }
    }
    best
}

fn match_case(val: &str, orig: &str) -> String {
    if orig == orig.to_lowercase() {
        val.to_lowercase()
    } else if orig == orig.to_uppercase() {
        val.to_uppercase()
    } else {
        val.to_string()
    }
}

/// Edit distance over chars (insert, delete, substitute all cost 1).
fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances() {
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("", "abc"), 3);
        assert_eq!(levenshtein("run", "run"), 0);
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("RUNN", &["RUN", "COPY"], false), Some("RUN".into()));
        assert_eq!(suggest("runn", &["RUN", "COPY"], false), Some("run".into()));
        assert_eq!(suggest("xyzzy", &["RUN", "COPY"], false), None);
        assert_eq!(suggest("RUN", &["RUN", "RUNN"], false), None);
        assert_eq!(
            suggest("frm", &["from", "mount"], true),
            Some("from".into())
        );
    }
}

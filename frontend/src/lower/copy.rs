//! COPY and ADD: one file op of copy actions (or, for `--link`, a copy onto scratch merged
//! onto the stage), with heredoc sources created by mkfile (BuildKit's `dispatchCopy`).

use crate::instructions::{AddCommand, CopyCommand, Location, SourcesAndDest};
use crate::shell::{Lexer, LexerOptions};
use slipway_graph::{
    Chmod, Chown, CopyAction, Digest, FileAction, FileOp, GitSource, HttpSource, MergeOp, Op,
    SourceOp,
};

use super::chown::{parse_chmod, parse_chown};
use super::ctx::{Inputs, VertexMeta};
use super::dispatch::StageRun;
use super::error::LowerErrorKind;
use super::git_ref::{parse_git_ref, GitRef};
use super::paths::{self, join, normalize_path, relative_to_workdir};

/// Everything COPY and ADD share, after expansion.
struct CopySpec {
    is_add: bool,
    original: String,
    location: Location,
    on_build: bool,
    params: SourcesAndDest,
    /// The input copied from: `None` is scratch.
    source: Option<Digest>,
    chown: String,
    chmod: String,
    link: bool,
    parents: bool,
    excludes: Vec<String>,
    checksum: String,
    unpack: Option<bool>,
    /// `ADD --keep-git-dir`.
    keep_git_dir: Option<bool>,
}

pub fn dispatch_copy(
    s: &mut StageRun,
    c: &CopyCommand,
    sources: &[usize],
    on_build: bool,
) -> Result<(), LowerErrorKind> {
    let needs_files = !c.sources_and_dest.source_paths.is_empty();
    let source = match sources.first() {
        None if needs_files => Some(s.ctx.build_context()),
        None => None,
        Some(&i) => match s.entries.get(i).and_then(|e| e.done.as_ref()) {
            Some(done) => done.state.root.clone(),
            None => {
                return Err(LowerErrorKind::CopyFromLaterStage {
                    from: c.from.clone(),
                    stage: s.counter.stage.clone(),
                })
            }
        },
    };
    let spec = CopySpec {
        is_add: false,
        original: c.original.clone(),
        location: c.location,
        on_build,
        params: expand_params(s, &c.sources_and_dest)?,
        source,
        chown: s.expand(&c.chown)?,
        chmod: s.expand(&c.chmod)?,
        link: c.link,
        parents: c.parents,
        excludes: c.excludes.clone(),
        checksum: String::new(),
        unpack: None,
        keep_git_dir: None,
    };
    lower_copy(s, spec)
}

pub fn dispatch_add(
    s: &mut StageRun,
    c: &AddCommand,
    on_build: bool,
) -> Result<(), LowerErrorKind> {
    let spec = CopySpec {
        is_add: true,
        original: c.original.clone(),
        location: c.location,
        on_build,
        params: expand_params(s, &c.sources_and_dest)?,
        source: if c.sources_and_dest.source_paths.is_empty() {
            None
        } else {
            Some(s.ctx.build_context())
        },
        chown: s.expand(&c.chown)?,
        chmod: s.expand(&c.chmod)?,
        link: c.link,
        parents: false,
        excludes: c.excludes.clone(),
        checksum: s.expand(&c.checksum)?,
        unpack: c.unpack,
        keep_git_dir: c.keep_git_dir,
    };
    lower_copy(s, spec)
}

/// Sources and destination expanded with the stage env; heredoc bodies only when their
/// delimiter was unquoted, and then without quote processing (`ExpandRaw`).
fn expand_params(s: &StageRun, p: &SourcesAndDest) -> Result<SourcesAndDest, LowerErrorKind> {
    let mut out = p.clone();
    for src in &mut out.source_paths {
        *src = s.expand(src)?;
    }
    out.dest_path = s.expand(&p.dest_path)?;
    let raw = Lexer::with_options(
        '\\',
        LexerOptions {
            skip_process_quotes: true,
            ..Default::default()
        },
    );
    for content in out.source_contents.iter_mut().filter(|c| c.expand) {
        content.data = raw
            .process_word(&content.data, &s.d.state.env)
            .map(|e| e.result)
            .map_err(|source| LowerErrorKind::Expand { source })?;
    }
    Ok(out)
}

/// `src` as a git reference when it is one (not the deprecated `github.com/…` form, which
/// only a build context may use); a malformed one is an error naming it.
fn git_ref(src: &str) -> Result<Option<GitRef>, LowerErrorKind> {
    match parse_git_ref(src) {
        Ok(Some(r)) if !r.indistinguishable_from_local => Ok(Some(r)),
        Ok(_) => Ok(None),
        Err(source) => Err(LowerErrorKind::GitRef {
            url: src.to_string(),
            source,
        }),
    }
}

/// The git source of `ADD <git>`: the URL's options reconciled with the flags, as BuildKit
/// does (`--keep-git-dir` and `?keep-git-dir=`, `--checksum` and `?checksum=` must agree).
fn git_source(url: &str, git: GitRef, spec: &CopySpec) -> Result<GitSource, LowerErrorKind> {
    let keep_git_dir = match (spec.keep_git_dir, git.keep_git_dir) {
        (Some(flag), Some(query)) if flag != query => {
            return Err(LowerErrorKind::InconsistentKeepGitDir)
        }
        (flag, query) => query.or(flag).unwrap_or(false),
    };
    let checksum = match (spec.checksum.as_str(), git.checksum.as_str()) {
        (flag, query) if !flag.is_empty() && !query.is_empty() && flag != query => {
            return Err(LowerErrorKind::GitChecksumConflict {
                flag: flag.to_string(),
                query: query.to_string(),
            })
        }
        (flag, "") => flag.to_string(),
        (_, query) => query.to_string(),
    };
    if !checksum.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(LowerErrorKind::GitChecksumNotHex {
            url: url.to_string(),
            value: checksum,
        });
    }
    Ok(GitSource {
        remote: git.remote,
        reference: git.reference,
        checksum,
        subdir: git.subdir,
        keep_git_dir,
        skip_submodules: git.submodules == Some(false),
        mtime_commit: git.mtime == "commit",
    })
}

fn is_http(src: &str) -> bool {
    (src.starts_with("http://") || src.starts_with("https://")) && !is_git(src)
}

/// Whether `src` is a git reference (a malformed one included: it fails later, named).
fn is_git(src: &str) -> bool {
    git_ref(src).map_or(true, |r| r.is_some())
}

fn contains_wildcards(name: &str) -> bool {
    let mut chars = name.chars();
    while let Some(c) = chars.next() {
        match c {
            '*' | '?' | '[' => return true,
            '\\' => {
                chars.next();
            }
            _ => {}
        }
    }
    false
}

fn lower_copy(s: &mut StageRun, spec: CopySpec) -> Result<(), LowerErrorKind> {
    let dest = relative_to_workdir(&s.d.state.cwd, &spec.params.dest_path);
    let chown = parse_chown(&spec.chown)?;
    let chmod = parse_chmod(&spec.chmod)?;
    if !spec.checksum.is_empty() {
        if !spec.is_add {
            return Err(LowerErrorKind::ChecksumForCopy);
        }
        if spec.params.source_paths.len() != 1 {
            return Err(LowerErrorKind::ChecksumMultipleSources);
        }
        let only = spec
            .params
            .source_paths
            .first()
            .map(String::as_str)
            .unwrap_or_default();
        if !is_http(only) && !is_git(only) {
            return Err(LowerErrorKind::ChecksumNeedsRemote);
        }
    }
    let mut msg = String::from(if spec.is_add { "ADD" } else { "COPY" });
    if spec.parents {
        msg.push_str(" --parents");
    }
    if !spec.chown.is_empty() {
        msg.push_str(&format!(" --chown={}", spec.chown));
    }
    if !spec.chmod.is_empty() {
        msg.push_str(&format!(" --chmod={}", spec.chmod));
    }
    let index_before = s.counter.index;
    let text = s.cmd_text(&spec.original);
    let name = s.number(&text, spec.on_build);
    let merge = spec.link && spec.chmod.is_empty();
    let mut inputs = Inputs::default();
    let base = if merge {
        None
    } else {
        inputs.opt(s.d.state.root.as_ref())
    };
    let common = |mut a: CopyAction, chown: &Option<Chown>, chmod: &Option<Chmod>| {
        a.chown = chown.clone();
        a.chmod = chmod.clone();
        a.exclude_patterns = spec.excludes.clone();
        a.create_dest_path = true;
        a
    };
    let mut actions = Vec::new();
    for src in &spec.params.source_paths {
        msg.push_str(&format!(" {src}"));
        let action = if let Some(git) = git_ref(src)? {
            if !spec.is_add {
                return Err(LowerErrorKind::GitForCopy);
            }
            let op = Op::Source(SourceOp::Git(git_source(src, git, &spec)?));
            let build = s.ctx.opts.build_platform.clone();
            let meta = VertexMeta {
                name: name.clone(),
                location: Some(spec.location),
                command: None,
            };
            let checkout = s.ctx.add(op, Inputs::default(), &build, meta);
            let mut a = CopyAction::new(Some(inputs.index(&checkout)), "/", &dest);
            a.dir_contents_only = true;
            a
        } else if is_http(src) {
            if !spec.is_add {
                return Err(LowerErrorKind::UrlForCopy);
            }
            let url_path = src
                .split_once("://")
                .map_or("", |(_, r)| r.split_once('/').map_or("", |(_, p)| p));
            let url_path = url_path.split(['?', '#']).next().unwrap_or_default();
            let file = match paths::base(&format!("/{url_path}")).as_str() {
                "." | "/" => "__unnamed__".to_string(),
                b => b.to_string(),
            };
            let checksum = match spec.checksum.as_str() {
                "" => None,
                c => Some(
                    c.parse::<Digest>()
                        .map_err(|_| LowerErrorKind::BadChecksum {
                            value: c.to_string(),
                        })?,
                ),
            };
            let op = Op::Source(SourceOp::Http(HttpSource {
                url: src.clone(),
                filename: file.clone(),
                checksum,
            }));
            let build = s.ctx.opts.build_platform.clone();
            let meta = VertexMeta {
                name: name.clone(),
                location: Some(spec.location),
                command: None,
            };
            let http = s.ctx.add(op, Inputs::default(), &build, meta);
            let mut a = CopyAction::new(Some(inputs.index(&http)), &format!("/{file}"), &dest);
            a.attempt_unpack = spec.unpack.unwrap_or(false);
            a
        } else {
            local_copy(&spec, src, &dest, &mut inputs)
        };
        actions.push(FileAction::Copy(common(action, &chown, &chmod)));
    }
    for content in &spec.params.source_contents {
        msg.push_str(&format!(" <<{}", content.path));
        let path = join(&["/", &content.path]);
        let doc = s.inline_document(path.clone(), 0o644, content.data.clone());
        let a = CopyAction::new(Some(inputs.index(&doc)), &path, &dest);
        actions.push(FileAction::Copy(common(a, &chown, &chmod)));
    }
    msg.push_str(&format!(" {}", spec.params.dest_path));

    let platform = s.d.state.platform.clone();
    let meta = VertexMeta {
        name,
        location: Some(spec.location),
        command: None,
    };
    let copied = s
        .ctx
        .add(Op::File(FileOp { base, actions }), inputs, &platform, meta);
    let root = match (merge, s.d.state.root.clone()) {
        (true, Some(below)) => {
            s.counter.index = index_before;
            let link_name = s.number(&format!("LINK {text}"), spec.on_build);
            let mut merge_inputs = Inputs::default();
            merge_inputs.index(&below);
            merge_inputs.index(&copied);
            let meta = VertexMeta {
                name: link_name,
                location: Some(spec.location),
                command: None,
            };
            s.ctx
                .add(Op::Merge(MergeOp {}), merge_inputs, &platform, meta)
        }
        _ => copied,
    };
    s.d.state.root = Some(root);
    s.commit(msg, true, true);
    Ok(())
}

fn local_copy(spec: &CopySpec, src: &str, dest: &str, inputs: &mut Inputs) -> CopyAction {
    let mut src = src.to_string();
    let mut include = Vec::new();
    let mut required = Vec::new();
    if spec.parents {
        let (parent, pattern) = match src.split_once("/./") {
            Some((p, pat)) => (p.to_string(), pat.to_string()),
            None => ("/".to_string(), src.clone()),
        };
        let pattern = normalize_path("/", &pattern, false);
        if !contains_wildcards(&parent) && !contains_wildcards(&pattern) {
            required.push(normalize_path("/", &join(&[&parent, &pattern]), false));
        }
        include.push(pattern.trim_start_matches('/').to_string());
        src = parent;
    }
    let src = normalize_path("/", &src, false);
    let mut a = CopyAction::new(inputs.opt(spec.source.as_ref()), &src, dest);
    a.follow_symlinks = true;
    a.dir_contents_only = true;
    a.include_patterns = include;
    a.required_paths = required;
    a.attempt_unpack = spec.unpack.unwrap_or(spec.is_add);
    a.allow_wildcard = true;
    a.allow_empty_wildcard = true;
    a
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_kinds() {
        assert!(is_http("https://example.com/a.tar.gz"));
        assert!(!is_http("https://github.com/o/r.git"));
        assert!(is_git("https://github.com/o/r.git#main"));
        assert!(is_git("git@github.com:o/r.git"));
        assert!(!is_git("./src"));
        assert!(contains_wildcards("*.go") && !contains_wildcards("a\\*b"));
    }
}

//! Differential test cases: `tests/differential/<case>/Dockerfile` plus its context files.
//!
//! A case describes how to build it in `#diff` comment lines of its Dockerfile (placed after a
//! first ordinary comment line, so that they are never read as parser directives):
//!
//! ```text
//! #diff peer=buildah            the peer to compare with: docker (default) or buildah
//! #diff secret=token:token.txt  --secret id=token,src=<case dir>/token.txt
//! #diff ssh                     --ssh default=<a fresh ssh-agent socket>
//! #diff build-arg=KEY=VALUE     --build-arg KEY=VALUE
//! #diff target=NAME             --target NAME
//! #diff parent=parent.Dockerfile  build this first (same builder), pass its tag as --build-arg PARENT
//! #diff peer-dockerfile=peer.Dockerfile  the peer builds this instead: the same image spelled
//!                               with the older syntax it knows (the reason is a comment beside it)
//! ```
//! Every Dockerfile also gets `--build-arg BASE=<registry>/library/busybox:latest`.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};

/// The peer builder a case is compared with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Peer {
    /// dockerd 20.10's BuildKit (`DOCKER_BUILDKIT=1 docker build`).
    Docker,
    /// buildah 1.28 (`buildah bud --isolation chroot`), for what that BuildKit is too old for.
    Buildah,
}

impl Peer {
    pub fn name(self) -> &'static str {
        match self {
            Peer::Docker => "docker",
            Peer::Buildah => "buildah",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Secret {
    pub id: String,
    pub src: PathBuf,
}

#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    pub dir: PathBuf,
    pub dockerfile: PathBuf,
    pub text: String,
    pub peer: Peer,
    pub secrets: Vec<Secret>,
    pub ssh: bool,
    pub build_args: Vec<(String, String)>,
    pub target: Option<String>,
    pub parent: Option<PathBuf>,
    pub peer_dockerfile: Option<PathBuf>,
}

impl Case {
    pub fn load(dir: &Path) -> Result<Case> {
        let name = dir
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .with_context(|| format!("case directory {} has no name", dir.display()))?;
        let dockerfile = dir.join("Dockerfile");
        let text = std::fs::read_to_string(&dockerfile)
            .with_context(|| format!("reading {}", dockerfile.display()))?;
        let mut case = Case {
            name,
            dir: dir.to_path_buf(),
            dockerfile,
            text: text.clone(),
            peer: Peer::Docker,
            secrets: Vec::new(),
            ssh: false,
            build_args: Vec::new(),
            target: None,
            parent: None,
            peer_dockerfile: None,
        };
        for (n, line) in text.lines().enumerate() {
            let Some(rest) = line.strip_prefix("#diff") else {
                continue;
            };
            let at = || format!("{}:{}", case.dockerfile.display(), n + 1);
            let rest = rest.trim();
            let (key, value) = match rest.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim())),
                None => (rest, None),
            };
            match (key, value) {
                ("peer", Some("docker")) => case.peer = Peer::Docker,
                ("peer", Some("buildah")) => case.peer = Peer::Buildah,
                ("secret", Some(v)) => {
                    let Some((id, src)) = v.split_once(':') else {
                        bail!("{}: secret wants ID:FILE, got {v:?}", at());
                    };
                    case.secrets.push(Secret {
                        id: id.to_string(),
                        src: dir.join(src),
                    });
                }
                ("ssh", None) => case.ssh = true,
                ("build-arg", Some(v)) => {
                    let Some((k, val)) = v.split_once('=') else {
                        bail!("{}: build-arg wants KEY=VALUE, got {v:?}", at());
                    };
                    case.build_args.push((k.to_string(), val.to_string()));
                }
                ("target", Some(v)) => case.target = Some(v.to_string()),
                ("parent", Some(v)) => case.parent = Some(dir.join(v)),
                ("peer-dockerfile", Some(v)) => case.peer_dockerfile = Some(dir.join(v)),
                _ => bail!("{}: unknown #diff line {line:?}", at()),
            }
        }
        Ok(case)
    }

    /// The Dockerfile the peer builds.
    pub fn peer_dockerfile(&self) -> &Path {
        self.peer_dockerfile.as_deref().unwrap_or(&self.dockerfile)
    }

    /// The paths RUN --mount flags mount over (explicit targets, default secret and ssh paths),
    /// in the Dockerfiles of the case, its parent and its peer spelling.
    pub fn mount_targets(&self) -> Vec<String> {
        let mut out = Vec::new();
        let read = |p: &Option<PathBuf>| {
            p.as_ref()
                .and_then(|p| std::fs::read_to_string(p).ok())
                .unwrap_or_default()
        };
        let (parent_text, peer_text) = (read(&self.parent), read(&self.peer_dockerfile));
        for text in [self.text.as_str(), parent_text.as_str(), peer_text.as_str()] {
            let mut ssh_index = 0;
            for word in text.split_whitespace() {
                let Some(spec) = word.strip_prefix("--mount=") else {
                    continue;
                };
                let mut kind = "bind";
                let mut target = None;
                let mut id = None;
                for field in spec.split(',') {
                    match field.split_once('=') {
                        Some(("type", v)) => kind = v,
                        Some(("target" | "dst" | "destination", v)) => target = Some(v.to_string()),
                        Some(("id", v)) => id = Some(v.to_string()),
                        _ => {}
                    }
                }
                let target = match (kind, target) {
                    (_, Some(t)) => t,
                    ("secret", None) => format!("/run/secrets/{}", id.unwrap_or_default()),
                    ("ssh", None) => {
                        let t = format!("/run/buildkit/ssh_agent.{ssh_index}");
                        ssh_index += 1;
                        t
                    }
                    _ => continue,
                };
                out.push(target.trim_end_matches('/').to_string());
            }
        }
        out
    }
}

/// The corpus directory, `tests/differential`.
pub fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("differential")
}

/// Every case of the corpus, sorted by name; `SLIPWAY_DIFF_CASES=a,b` keeps only those.
pub fn load_corpus() -> Result<Vec<Case>> {
    let only: Option<Vec<String>> = std::env::var("SLIPWAY_DIFF_CASES").ok().map(|v| {
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    });
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(corpus_dir())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("Dockerfile").is_file())
        .collect();
    dirs.sort();
    let mut cases = Vec::new();
    for d in dirs {
        let case = Case::load(&d)?;
        if only.as_ref().is_none_or(|o| o.contains(&case.name)) {
            cases.push(case);
        }
    }
    Ok(cases)
}

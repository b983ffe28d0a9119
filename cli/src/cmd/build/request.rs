//! Turning `slipway build` flags, the Dockerfile and `.dockerignore` into a `BuildRequest`.

use super::build_request::BuildRequest;
use super::flags;
use super::BuildArgs;
use anyhow::{Context, Result};
use slipway_coordinator::{parse_output, OutputKind, OutputSpec};
use slipway_fsutil::{read_ignore_patterns, select_ignore_file};
use std::io::Read;
use std::path::{Path, PathBuf};

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok()
}

pub fn build_request(args: &BuildArgs) -> Result<BuildRequest> {
    let stdin_context = args.context == "-";
    let context: Option<PathBuf> = if stdin_context {
        None
    } else {
        let dir = PathBuf::from(&args.context);
        if !dir.is_dir() {
            anyhow::bail!("context {}: not a directory", dir.display());
        }
        Some(dir)
    };
    let (dockerfile, dockerfile_name, dockerfile_path) = read_dockerfile(args, context.as_deref())?;
    let mut context_excludes = Vec::new();
    if let Some(dir) = &context {
        let df_path = dockerfile_path
            .clone()
            .unwrap_or_else(|| dir.join("Dockerfile"));
        let file = select_ignore_file(dir, &df_path);
        let patterns =
            read_ignore_patterns(&file).with_context(|| format!("reading {:?}", file.path()))?;
        // As BuildKit: the Dockerfile travels on its own, and the context honours every
        // pattern, so an ignored Dockerfile or .dockerignore is not visible to COPY.
        context_excludes = patterns;
        // The worker's own data directory is never part of the context (its snapshot
        // mounts would be walked as context files).
        if let Some(rel) = data_dir_inside(dir, &args.data_dir) {
            context_excludes.push(rel);
        }
    }

    let mut outputs: Vec<OutputSpec> = args
        .outputs
        .iter()
        .map(|o| parse_output(o).map_err(|e| anyhow::anyhow!("--output: {e}")))
        .collect::<Result<_>>()?;
    if args.push {
        let mut found = false;
        for o in &mut outputs {
            if let OutputKind::Image { push, .. } = &mut o.kind {
                *push = true;
                found = true;
            }
        }
        if !found {
            outputs.push(OutputSpec::image(Vec::new(), true));
        }
    } else if outputs.is_empty() && !args.tags.is_empty() {
        // Names with no output: the image is recorded under them in the worker's store.
        outputs.push(OutputSpec::image(Vec::new(), false));
    }

    let mut secrets = std::collections::BTreeMap::new();
    for s in &args.secrets {
        let (id, src) = flags::secret(s, &env)?;
        secrets.insert(id, src);
    }
    let mut ssh = std::collections::BTreeMap::new();
    for s in &args.ssh {
        let (id, src) = flags::ssh(s, &env)?;
        ssh.insert(id, src);
    }
    let mut named_contexts = std::collections::BTreeMap::new();
    for c in &args.build_contexts {
        let (name, src) = flags::build_context(c)?;
        named_contexts.insert(name, src);
    }
    let build_args = flags::build_args(&args.build_args, &env)?;
    let source_date_epoch = match build_args
        .get("SOURCE_DATE_EPOCH")
        .cloned()
        .or_else(|| env("SOURCE_DATE_EPOCH"))
    {
        Some(v) if !v.is_empty() => Some(
            v.parse::<i64>()
                .ok()
                .filter(|e| (-62_167_219_200..=253_402_300_799).contains(e))
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "SOURCE_DATE_EPOCH={v:?}: not a number of seconds in years 0 to 9999"
                    )
                })?,
        ),
        _ => None,
    };
    Ok(BuildRequest {
        dockerfile,
        dockerfile_name,
        context,
        context_excludes,
        platforms: flags::platforms(&args.platforms)?,
        build_args,
        target: args.target.clone(),
        named_contexts,
        secrets,
        ssh,
        outputs,
        tags: args.tags.clone(),
        no_cache: args.no_cache,
        pull: args.pull,
        labels: flags::labels(&args.labels)?,
        network: flags::network(&args.network)?,
        allow: flags::entitlements("--allow", &args.allow)?,
        source_date_epoch,
        cache_from: super::cache_flags::cache_from(&args.cache_from)?,
        cache_to: super::cache_flags::cache_to(&args.cache_to)?,
    })
}

/// `data_dir` relative to `context` when it lies inside it.
fn data_dir_inside(context: &Path, data_dir: &Path) -> Option<String> {
    let context = std::path::absolute(context).ok()?;
    let data_dir = std::path::absolute(data_dir).ok()?;
    let rel = data_dir.strip_prefix(&context).ok()?;
    let rel = rel.to_string_lossy();
    (!rel.is_empty()).then(|| rel.into_owned())
}

/// The Dockerfile's text, its name for messages, and its path (when it is a file).
fn read_dockerfile(
    args: &BuildArgs,
    context: Option<&Path>,
) -> Result<(String, String, Option<PathBuf>)> {
    let from_stdin =
        args.file.as_deref() == Some("-") || (context.is_none() && args.file.is_none());
    if from_stdin {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .context("reading the Dockerfile from standard input")?;
        return Ok((s, "Dockerfile".to_string(), None));
    }
    let path = match (&args.file, context) {
        (Some(f), _) => PathBuf::from(f),
        (None, Some(dir)) => dir.join("Dockerfile"),
        (None, None) => PathBuf::from("Dockerfile"),
    };
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading the Dockerfile {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "Dockerfile".to_string());
    Ok((text, name, Some(path)))
}

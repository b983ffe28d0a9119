//! The two modes of `slipway build` agree: embedded (no `--builder`: the one-process farm of
//! cli/src/cmd/local_farm.rs) and on a real farm (`slipway coordinator` + `slipway worker`
//! processes, `--builder`), through the same client code.
//!
//! - A three-platform multi-stage build (linux/amd64 native, linux/arm64 and linux/arm/v7
//!   run under QEMU) with `SOURCE_DATE_EPOCH` set, pushed once per mode: the index digests
//!   are equal and every manifest and config is byte-identical.
//! - A registry cache (`mode=max`) exported by an embedded build whose context has a
//!   `.dockerignore` is a full hit on a fresh farm (every step CACHED, nothing ran), and one
//!   exported by the farm is a full hit for a fresh embedded data dir.
//! - `mode=min` exports hold only records whose layers are a prefix of the final image's
//!   layers, in both modes (while the `mode=max` export of the same build does not).
//! - `--cache-from type=local,src=DIR` on the farm does not enter the farm's shared cache
//!   index: afterwards the index (read from the coordinator's Raft log and snapshot) holds
//!   none of the directory's records beyond those the build's own tasks produced, and a
//!   later build without `--cache-from` runs what only the directory held.
//!
//! Needs root, runc, docker-registry, skopeo, curl, qemu-user-static with binfmt_misc
//! (scripts/setup.sh).

#[path = "modes/registry_api.rs"]
mod registry_api;

use anyhow::{bail, ensure, Context, Result};
use registry_api::{
    digest_of, image_layers, json, line_diff, local_cache_records, platform_of,
    registry_cache_records, registry_get,
};
use serde_json::Value;
use slipway_e2e::builders::slipway::{Mode, Slipway};
use slipway_e2e::cluster::{Cluster, ClusterOptions};
use slipway_e2e::process::run_stdout;
use slipway_e2e::registry::Registry;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Mutex;

/// One farm at a time: each test starts several processes on a 2-core machine.
static SERIAL: Mutex<()> = Mutex::new(());

const PLATFORMS: &str = "linux/amd64,linux/arm64,linux/arm/v7";
const EPOCH: &str = "1700000000";

struct Env {
    registry: Registry,
    slipway: Slipway,
}

/// The registry (busybox seeded for the three platforms) and the binary.
fn env() -> Result<Env> {
    let (registry, slipway) = slipway_e2e::seed::registry_with_base()?;
    Ok(Env { registry, slipway })
}

impl Env {
    fn base(&self) -> String {
        format!("{}/library/busybox:latest", self.registry.addr())
    }

    /// `slipway build --progress plain ARGS CTX` in `mode`; its progress, or an error
    /// carrying it.
    fn build(
        &self,
        mode: &Mode,
        args: &[&str],
        ctx: &Path,
        envs: &[(&str, &str)],
    ) -> Result<String> {
        let mut cmd = self.slipway.build_command(mode);
        cmd.args(args).arg(ctx);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        let out = cmd.output().context("running slipway build")?;
        let progress = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            bail!(
                "slipway build ({}) {args:?} failed:\n{progress}",
                mode.name()
            );
        }
        Ok(progress)
    }
}

/// A farm of one coordinator and one amd64 worker emulating `emulate`.
fn farm(env: &Env, emulate: &str) -> Result<Cluster> {
    Cluster::start(env.slipway.bin(), &ClusterOptions::single(emulate, 2))
        .context("starting a farm (one coordinator, one worker)")
}

fn fresh_data_dir() -> Result<tempfile::TempDir> {
    Ok(tempfile::Builder::new().prefix("slipway-modes").tempdir()?)
}

/// Three stages: one at the build platform, one per target platform with a RUN under
/// that platform (QEMU for the foreign ones), and the final image.
fn multi_platform_dockerfile(base: &str) -> String {
    format!(
        "FROM --platform=$BUILDPLATFORM {base} AS gen\n\
         ARG TARGETPLATFORM\n\
         RUN echo \"generated on $(uname -m) for $TARGETPLATFORM\" > /gen.txt\n\
         FROM {base} AS build\n\
         ARG TARGETPLATFORM\n\
         COPY hello.txt /src/hello.txt\n\
         COPY --from=gen /gen.txt /src/gen.txt\n\
         RUN echo \"ran-for $TARGETPLATFORM $(uname -m)\" > /src/platform && cat /src/platform && cat /src/hello.txt >> /src/platform\n\
         FROM {base}\n\
         COPY --from=build /src/ /app/\n\
         RUN cat /app/platform /app/gen.txt > /final && mkdir -p /var/lib/app && echo ok > /var/lib/app/state\n\
         ENV APP_HOME=/app\n\
         LABEL org.example.modes=three-platform\n\
         WORKDIR /app\n\
         CMD [\"cat\", \"/final\"]\n"
    )
}

/// Platform → (manifest bytes, config bytes), as the registry serves them.
type Images = BTreeMap<String, (Vec<u8>, Vec<u8>)>;

#[test]
fn a_three_platform_build_is_byte_identical_in_both_modes() -> Result<()> {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env()?;
    let reg = env.registry.addr().to_string();
    let ctx = tempfile::tempdir()?;
    std::fs::write(ctx.path().join("hello.txt"), "hello from both modes\n")?;
    std::fs::write(
        ctx.path().join("Dockerfile"),
        multi_platform_dockerfile(&env.base()),
    )?;
    let cluster = farm(&env, "linux/arm64,linux/arm/v7")?;
    let data = fresh_data_dir()?;
    let ids = tempfile::tempdir()?;
    let repo = "modes/multi";
    let modes = [Mode::embedded_in(data.path()), Mode::farm(&cluster)];
    let mut iids = Vec::new();
    for mode in &modes {
        let tag = format!("{reg}/{repo}:{}", mode.name());
        let iidfile = ids.path().join(mode.name());
        let iidfile_s = iidfile.display().to_string();
        let progress = env.build(
            mode,
            &[
                "--platform",
                PLATFORMS,
                "-t",
                &tag,
                "--push",
                "--iidfile",
                &iidfile_s,
            ],
            ctx.path(),
            &[("SOURCE_DATE_EPOCH", EPOCH)],
        )?;
        // Each platform's RUN ran under that platform (QEMU for the foreign ones).
        for want in [
            "ran-for linux/amd64 x86_64",
            "ran-for linux/arm64 aarch64",
            "ran-for linux/arm/v7 armv7l",
        ] {
            assert!(
                progress
                    .lines()
                    .any(|l| l.ends_with(want) && !l.contains("RUN ")),
                "{}: no RUN printed {want:?}:\n{progress}",
                mode.name()
            );
        }
        iids.push(std::fs::read_to_string(&iidfile)?.trim().to_string());
    }

    // The index each mode pushed, its manifests and their configs, as the registry has them.
    let mut indexes = Vec::new();
    let mut per_platform: Vec<Images> = Vec::new();
    for mode in &modes {
        let raw = registry_get(&reg, repo, "manifests", mode.name())?;
        let index = json(&raw, "the index")?;
        let mut images = BTreeMap::new();
        for entry in index["manifests"]
            .as_array()
            .context("no manifests in the index")?
        {
            let digest = entry["digest"]
                .as_str()
                .context("index entry without digest")?;
            let manifest = registry_get(&reg, repo, "manifests", digest)?;
            let m = json(&manifest, "a manifest")?;
            let config_digest = m["config"]["digest"].as_str().context("manifest config")?;
            let config = registry_get(&reg, repo, "blobs", config_digest)?;
            images.insert(platform_of(entry), (manifest, config));
        }
        indexes.push(raw);
        per_platform.push(images);
    }
    let (embedded, on_farm) = (&per_platform[0], &per_platform[1]);
    let platforms: Vec<&String> = embedded.keys().collect();
    assert_eq!(
        platforms,
        ["linux/amd64", "linux/arm/v7", "linux/arm64"],
        "embedded index platforms"
    );
    assert_eq!(
        on_farm.keys().collect::<Vec<_>>(),
        platforms,
        "farm index platforms"
    );
    for (platform, (_, config)) in embedded {
        let created = json(config, "a config")?["created"].clone();
        assert!(
            created
                .as_str()
                .is_some_and(|c| c.starts_with("2023-11-14T22:13:20")),
            "{platform}: the image's creation time {created} is not SOURCE_DATE_EPOCH"
        );
    }
    let mut differences = Vec::new();
    for (platform, (m_e, c_e)) in embedded {
        let (m_f, c_f) = &on_farm[platform];
        if c_e != c_f {
            differences.push(format!(
                "{platform}: config {} (embedded) != {} (farm):\n{}",
                digest_of(c_e),
                digest_of(c_f),
                line_diff(c_e, c_f)
            ));
        }
        if m_e != m_f {
            differences.push(format!(
                "{platform}: manifest {} (embedded) != {} (farm):\n{}",
                digest_of(m_e),
                digest_of(m_f),
                line_diff(m_e, m_f)
            ));
        }
    }
    if indexes[0] != indexes[1] {
        differences.push(format!(
            "index {} (embedded) != {} (farm):\n{}",
            digest_of(&indexes[0]),
            digest_of(&indexes[1]),
            line_diff(&indexes[0], &indexes[1])
        ));
    }
    assert!(
        differences.is_empty(),
        "the two modes pushed different images:\n{}",
        differences.join("\n")
    );
    // The iidfiles name the index the registry has.
    assert_eq!(iids[0], digest_of(&indexes[0]), "embedded --iidfile");
    assert_eq!(iids[1], digest_of(&indexes[1]), "farm --iidfile");
    assert_eq!(iids[0], iids[1], "index digests");
    Ok(())
}

/// Every RUN prints a marker (so an executed step shows in the plain progress). The
/// builder stage copies the whole context (its key covers the `.dockerignore` patterns) and
/// writes a file the final stage does not copy, so its layers are no prefix of the image's.
fn cache_dockerfile(base: &str) -> String {
    format!(
        "FROM {base} AS builder\n\
         COPY . /ctx/\n\
         RUN echo RAN-builder && ls -R /ctx > /listing && echo tmp > /scratch\n\
         FROM {base}\n\
         COPY --from=builder /listing /listing\n\
         COPY kept.txt /kept.txt\n\
         RUN echo RAN-final && cat /listing /kept.txt > /final\n"
    )
}

/// A context with a `.dockerignore` that leaves out a file and a pattern of files.
fn cache_context(base: &str) -> Result<tempfile::TempDir> {
    let ctx = tempfile::tempdir()?;
    let p = ctx.path();
    std::fs::create_dir_all(p.join("src"))?;
    std::fs::write(p.join("Dockerfile"), cache_dockerfile(base))?;
    std::fs::write(p.join(".dockerignore"), "ignored.txt\nsrc/*.log\n")?;
    std::fs::write(p.join("kept.txt"), "kept\n")?;
    std::fs::write(p.join("ignored.txt"), "never in the image\n")?;
    std::fs::write(p.join("src/main.txt"), "main\n")?;
    std::fs::write(p.join("src/debug.log"), "never in the image either\n")?;
    Ok(ctx)
}

/// Output lines of RUNs (their markers), not the step names that contain them.
fn ran(progress: &str) -> Vec<&str> {
    progress
        .lines()
        .filter(|l| l.contains("RAN-") && !l.contains("RUN echo"))
        .collect()
}

/// The Dockerfile steps of a plain progress (`#N [stage i/n] ...`, not `[internal]` ones such
/// as the context transfer) that did not end CACHED, and how many steps there were.
fn uncached_steps(progress: &str) -> (Vec<String>, usize) {
    let mut steps: BTreeMap<String, String> = BTreeMap::new();
    let mut cached = BTreeSet::new();
    for line in progress.lines() {
        let Some(rest) = line.strip_prefix('#') else {
            continue;
        };
        let Some((n, text)) = rest.split_once(' ') else {
            continue;
        };
        if !n.chars().all(|c| c.is_ascii_digit()) {
            continue;
        }
        // A farm step names the worker first (`[worker-1] [builder 2/3] COPY ...`).
        let text = match text.strip_prefix('[').and_then(|t| t.split_once("] ")) {
            Some((who, rest)) if !who.contains(' ') && rest.starts_with('[') => rest,
            _ => text,
        };
        if text.starts_with('[') && !text.starts_with("[internal]") {
            steps
                .entry(n.to_string())
                .or_insert_with(|| text.to_string());
        } else if text == "CACHED" {
            cached.insert(n.to_string());
        }
    }
    let total = steps.len();
    let uncached = steps
        .into_iter()
        .filter(|(n, _)| !cached.contains(n))
        .map(|(n, text)| format!("#{n} {text}"))
        .collect();
    (uncached, total)
}

/// A build that must have hit the cache for every step.
fn assert_full_hit(progress: &str, what: &str) {
    assert_eq!(
        ran(progress),
        Vec::<&str>::new(),
        "{what}: a RUN executed:\n{progress}"
    );
    let (uncached, total) = uncached_steps(progress);
    assert!(
        total >= 6,
        "{what}: only {total} steps reported:\n{progress}"
    );
    assert!(
        uncached.is_empty(),
        "{what}: steps not CACHED: {uncached:?}\n{progress}"
    );
}

/// Records of `records` whose layers are not a prefix of `image`.
fn not_prefixes<'a>(
    records: &'a BTreeMap<String, Vec<String>>,
    image: &[String],
) -> Vec<(&'a str, &'a [String])> {
    records
        .iter()
        .filter(|(_, layers)| !image.starts_with(layers))
        .map(|(k, l)| (k.as_str(), l.as_slice()))
        .collect()
}

/// `mode=min` holds only records whose layers are a prefix of the image (the image's own
/// result among them); `mode=max` of the same build holds the builder stage besides.
fn check_min_and_max(registry: &str, mode: &str) -> Result<()> {
    let image = image_layers(registry, "modes/app", mode)?;
    let min = registry_cache_records(registry, "modes/cache", &format!("{mode}-min"))?;
    let max = registry_cache_records(registry, "modes/cache", &format!("{mode}-max"))?;
    let bad = not_prefixes(&min, &image);
    assert!(
        bad.is_empty(),
        "{mode}: mode=min records whose layers are no prefix of the image's {image:?}: {bad:?}"
    );
    assert!(
        min.values().any(|l| *l == image),
        "{mode}: mode=min has no record of the image itself ({image:?}): {min:?}"
    );
    assert!(
        !not_prefixes(&max, &image).is_empty(),
        "{mode}: mode=max holds no builder-stage record, so the prefix check proves nothing: {max:?}"
    );
    for key in min.keys() {
        assert!(
            max.contains_key(key),
            "{mode}: min record {key} is not in max"
        );
    }
    Ok(())
}

/// `--cache-to` flags for `modes/cache:<mode>-max` and `-min`, and the push of
/// `modes/app:<mode>`.
fn export_flags(registry: &str, mode: &str) -> Vec<String> {
    vec![
        "--cache-to".into(),
        format!("type=registry,ref={registry}/modes/cache:{mode}-max,mode=max"),
        "--cache-to".into(),
        format!("type=registry,ref={registry}/modes/cache:{mode}-min,mode=min"),
        "-t".into(),
        format!("{registry}/modes/app:{mode}"),
        "--push".into(),
    ]
}

#[test]
fn registry_caches_cross_modes_and_min_holds_only_final_prefixes() -> Result<()> {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env()?;
    let reg = env.registry.addr().to_string();
    let ctx = cache_context(&env.base())?;

    // Exported by an embedded build (fresh data dir), imported by a fresh farm.
    let exporter = fresh_data_dir()?;
    let flags = export_flags(&reg, "embedded");
    let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
    let first = env.build(&Mode::embedded_in(exporter.path()), &flags, ctx.path(), &[])?;
    assert_eq!(
        ran(&first).len(),
        2,
        "both RUNs ran in the embedded export:\n{first}"
    );
    let from_embedded = format!("type=registry,ref={reg}/modes/cache:embedded-max");
    {
        let cluster = farm(&env, "none")?;
        let hit = env.build(
            &Mode::farm(&cluster),
            &["--cache-from", &from_embedded],
            ctx.path(),
            &[],
        )?;
        assert_full_hit(&hit, "a fresh farm importing the embedded build's cache");
    }

    // Exported by a fresh farm, imported by a fresh embedded data dir.
    {
        let cluster = farm(&env, "none")?;
        let flags = export_flags(&reg, "farm");
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let first = env.build(&Mode::farm(&cluster), &flags, ctx.path(), &[])?;
        assert_eq!(
            ran(&first).len(),
            2,
            "both RUNs ran in the farm export:\n{first}"
        );
    }
    let importer = fresh_data_dir()?;
    let hit = env.build(
        &Mode::embedded_in(importer.path()),
        &[
            "--cache-from",
            &format!("type=registry,ref={reg}/modes/cache:farm-max"),
        ],
        ctx.path(),
        &[],
    )?;
    assert_full_hit(&hit, "a fresh embedded data dir importing the farm's cache");

    for mode in ["embedded", "farm"] {
        check_min_and_max(&reg, mode)?;
    }
    // Both modes computed the same keys for the same build.
    let keys = |mode: &str| -> Result<BTreeSet<String>> {
        Ok(
            registry_cache_records(&reg, "modes/cache", &format!("{mode}-max"))?
                .into_keys()
                .collect(),
        )
    };
    assert_eq!(
        keys("embedded")?,
        keys("farm")?,
        "mode=max cache keys of the two modes"
    );
    Ok(())
}

/// Cache keys the tasks of the farm's newest build reported (`builds inspect`).
fn newest_build_task_keys(cluster: &Cluster) -> Result<BTreeSet<String>> {
    let list: Value = serde_json::from_str(&run_stdout(
        cluster.cli().args(["builds", "ls", "--format", "json"]),
    )?)?;
    let id = list
        .as_array()
        .and_then(|l| l.last())
        .and_then(|b| b["id"].as_str())
        .context("no builds")?
        .to_string();
    let detail: Value = serde_json::from_str(&run_stdout(
        cluster
            .cli()
            .args(["builds", "inspect", &id, "--format", "json"]),
    )?)?;
    let mut keys = BTreeSet::new();
    for task in detail["tasks"].as_array().context("no tasks")? {
        let result = &task["detail"]["Succeeded"]["result"];
        ensure!(!result.is_null(), "a task did not succeed: {task}");
        for r in result["cache"].as_array().into_iter().flatten() {
            keys.insert(r["key"].as_str().context("record key")?.to_string());
        }
    }
    Ok(keys)
}

/// The keys of the farm's shared cache index as coordinator `dir` stored it: every
/// `RecordCache` command of its Raft log (redb, entries serde_json, so each command is a JSON
/// object in the file) and the `cache` map of its snapshot, if it took one. Build specs and
/// task results name cache keys too; only these two places are the index.
fn shared_index_keys(dir: &Path) -> Result<BTreeSet<String>> {
    let mut keys = BTreeSet::new();
    let log_path = dir.join("raft-log.redb");
    let log =
        std::fs::read(&log_path).with_context(|| format!("reading {}", log_path.display()))?;
    let tag = br#"{"RecordCache":"#;
    let mut commands = 0;
    for at in (0..log.len()).filter(|&i| log[i..].starts_with(tag)) {
        let mut values = serde_json::Deserializer::from_slice(&log[at..]).into_iter::<Value>();
        let command = values
            .next()
            .with_context(|| format!("{}: nothing at byte {at}", log_path.display()))?
            .with_context(|| format!("{}: a RecordCache at byte {at}", log_path.display()))?;
        commands += 1;
        for r in command["RecordCache"]["records"]
            .as_array()
            .into_iter()
            .flatten()
        {
            keys.insert(
                r["key"]
                    .as_str()
                    .context("RecordCache record key")?
                    .to_string(),
            );
        }
    }
    ensure!(
        commands > 0,
        "{}: no RecordCache command",
        log_path.display()
    );
    let snapshot = dir.join("raft-snapshot");
    if let Ok(bytes) = std::fs::read(&snapshot) {
        let state = bytes
            .iter()
            .position(|b| *b == b'\n')
            .and_then(|n| bytes.get(n + 1..))
            .with_context(|| format!("{}: no state after the metadata", snapshot.display()))?;
        let state = json(state, "the Raft snapshot")?;
        keys.extend(
            state["cache"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, _)| k.clone()),
        );
    }
    Ok(keys)
}

#[test]
fn a_local_cache_from_on_the_farm_stays_out_of_the_shared_index() -> Result<()> {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let env = env()?;
    let ctx = cache_context(&env.base())?;
    // The whole build's cache (mode=max), written by an embedded build.
    let dest = tempfile::tempdir()?;
    let cache_dir = dest.path().join("cache");
    let exporter = fresh_data_dir()?;
    let first = env.build(
        &Mode::embedded_in(exporter.path()),
        &[
            "--cache-to",
            &format!("type=local,dest={},mode=max", cache_dir.display()),
        ],
        ctx.path(),
        &[],
    )?;
    assert_eq!(
        ran(&first).len(),
        2,
        "both RUNs ran in the export:\n{first}"
    );
    let local: BTreeSet<String> = local_cache_records(&cache_dir)?.into_keys().collect();
    assert!(
        local.len() >= 4,
        "the local cache holds few records: {local:?}"
    );

    // The builder stage alone on a fresh farm, from the directory: its RUN is a hit.
    let cluster = farm(&env, "none")?;
    let mode = Mode::farm(&cluster);
    let from_local = format!("type=local,src={}", cache_dir.display());
    let builder = env.build(
        &mode,
        &["--target", "builder", "--cache-from", &from_local],
        ctx.path(),
        &[],
    )?;
    assert_eq!(
        ran(&builder),
        Vec::<&str>::new(),
        "the builder stage ran:\n{builder}"
    );
    let produced = newest_build_task_keys(&cluster)?;
    assert!(
        !produced.is_empty(),
        "the build's tasks reported no cache records"
    );

    // The farm's shared cache index holds the records of the build's own tasks, and none of
    // the directory's other records.
    let index = shared_index_keys(&cluster.dir().join("coordinator-1"))?;
    assert!(
        produced.is_subset(&index),
        "the build's own records {produced:?} are not all in the shared index {index:?}"
    );
    let only_local: BTreeSet<String> = local.difference(&produced).cloned().collect();
    assert!(
        !only_local.is_empty(),
        "every record of the directory was produced by the build: {local:?}"
    );
    let leaked: BTreeSet<&String> = only_local.intersection(&index).collect();
    let mut failures = Vec::new();
    if !leaked.is_empty() {
        failures.push(format!(
            "--cache-from type=local entered the farm's shared cache index: {} of the \
             directory's {} records the build did not produce are in the shared index: \
             {leaked:?}",
            leaked.len(),
            only_local.len()
        ));
    }
    // So a build of the whole Dockerfile without --cache-from runs the final stage.
    let whole = env.build(&mode, &[], ctx.path(), &[])?;
    if !ran(&whole).iter().any(|l| l.contains("RAN-final")) {
        failures.push(format!(
            "a later build without --cache-from was answered from the directory's records \
             (its final-stage RUN did not run):\n{whole}"
        ));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    Ok(())
}

/// The error section of a failed build's output: from the step's `ERROR:` line on, with the
/// worker's name and timings taken out (they differ between the modes by nature).
fn failure_report(output: &str) -> Vec<String> {
    let start = output
        .lines()
        .position(|l| l.contains(" ERROR: ") || l.starts_with("ERROR"))
        .unwrap_or(0);
    output
        .lines()
        .skip(start)
        .map(|l| {
            let l = l.trim_start_matches(|c: char| c == '#' || c.is_ascii_digit() || c == ' ');
            let l = match l.strip_prefix('[') {
                Some(rest) if rest.starts_with("worker-") => {
                    rest.split_once("] ").map_or(l, |(_, r)| r)
                }
                _ => l,
            };
            l.split(" build ").next().unwrap_or(l).to_string()
        })
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn a_failing_step_reads_the_same_in_both_modes() -> Result<()> {
    let _one = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let env = env()?;
    let cluster = farm(&env, "none")?;
    let ctx = tempfile::tempdir()?;
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {}\nRUN echo first-step\nRUN echo about-to-fail && exit 3\nRUN echo never\n",
            env.base()
        ),
    )?;
    let data = fresh_data_dir()?;
    let args = ["--platform", "linux/amd64"];
    let mut reports = Vec::new();
    for mode in [Mode::embedded_in(data.path()), Mode::farm(&cluster)] {
        let err = match env.build(&mode, &args, ctx.path(), &[]) {
            Ok(out) => bail!("the build succeeded in {}:\n{out}", mode.name()),
            Err(e) => format!("{e:#}"),
        };
        ensure!(
            err.contains("exit code: 3"),
            "{}: no exit code:\n{err}",
            mode.name()
        );
        ensure!(
            err.contains("Dockerfile:3") && err.contains(">>> RUN echo about-to-fail && exit 3"),
            "{}: no Dockerfile excerpt:\n{err}",
            mode.name()
        );
        reports.push(failure_report(&err));
    }
    ensure!(
        reports[0] == reports[1],
        "the failure reads differently:\n{}",
        line_diff(
            reports[0].join("\n").as_bytes(),
            reports[1].join("\n").as_bytes()
        )
    );
    Ok(())
}

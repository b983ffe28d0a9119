//! `slipway build` end to end as root: a local registry, a busybox base built and pushed by
//! slipway itself, multi-stage and multi-platform builds, cache, metadata and exports.

mod support;

use support::*;

/// Lines of plain progress for the Dockerfile steps (`#N [...] ...` headers), by number.
fn step_headers(stderr: &str) -> Vec<(String, String)> {
    stderr
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix('#')?;
            let (n, text) = rest.split_once(' ')?;
            (n.chars().all(|c| c.is_ascii_digit()) && text.starts_with('['))
                .then(|| (n.to_string(), text.to_string()))
        })
        .collect()
}

#[test]
fn builds_push_cache_metadata_and_exports() {
    let reg = TestRegistry::start();
    let data = tempfile::tempdir().unwrap();
    let data_dir = data.path();

    // A 3-platform image from scratch, pushed as an index.
    let base = seed_busybox(&reg, data_dir);
    let index = inspect_raw(&base);
    let platforms: Vec<String> = index["manifests"]
        .as_array()
        .expect("an index")
        .iter()
        .map(|m| {
            let p = &m["platform"];
            let v = p["variant"]
                .as_str()
                .map(|v| format!("/{v}"))
                .unwrap_or_default();
            format!(
                "{}/{}{v}",
                p["os"].as_str().unwrap(),
                p["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        platforms,
        vec!["linux/amd64", "linux/arm64", "linux/arm/v7"]
    );

    // A two-stage build with RUN and COPY --from, plain progress, metadata file.
    let ctx = tempfile::tempdir().unwrap();
    std::fs::write(ctx.path().join("hello.txt"), "hello\n").unwrap();
    std::fs::write(ctx.path().join("ignored.txt"), "no\n").unwrap();
    std::fs::write(ctx.path().join(".dockerignore"), "ignored.txt\n").unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile"),
        format!(
            "FROM {base} AS build\nCOPY hello.txt /src/\nRUN cat /src/hello.txt > /out.txt && echo built-it && uname -m >> /out.txt\n\
             FROM {base}\nCOPY --from=build /out.txt /out.txt\nRUN cat /out.txt\n"
        ),
    )
    .unwrap();
    let app = format!("{}/app:1", reg.addr);
    let meta = ctx.path().join("meta.json");
    let first = build_ok(
        data_dir,
        ctx.path(),
        &[
            "--progress=plain",
            "--platform",
            "linux/amd64",
            "-t",
            &app,
            "--push",
            "--metadata-file",
            meta.to_str().unwrap(),
            ".",
        ],
    );
    eprintln!("--- first build ---\n{}", first.stderr);
    let heads = step_headers(&first.stderr);
    assert!(
        heads
            .iter()
            .any(|(_, t)| t.contains("RUN cat /src/hello.txt")),
        "{}",
        first.stderr
    );
    assert!(
        first
            .stderr
            .lines()
            .any(|l| l.starts_with('#') && l.contains(" built-it")),
        "log line missing:\n{}",
        first.stderr
    );
    assert!(
        first
            .stderr
            .lines()
            .any(|l| l.starts_with('#') && l.contains(" DONE ") && l.ends_with('s')),
        "{}",
        first.stderr
    );
    let m: serde_json::Value = serde_json::from_slice(&std::fs::read(&meta).unwrap()).unwrap();
    let digest = m["containerimage.digest"]
        .as_str()
        .expect("containerimage.digest")
        .to_string();
    assert_eq!(digest, remote_digest(&app));
    assert_eq!(m["image.name"], app.as_str());

    // The same build again: every Dockerfile step is CACHED.
    let again = build_ok(
        data_dir,
        ctx.path(),
        &[
            "--progress=plain",
            "--platform",
            "linux/amd64",
            "-t",
            &app,
            "--push",
            ".",
        ],
    );
    let heads = step_headers(&again.stderr);
    assert!(!heads.is_empty(), "{}", again.stderr);
    for (n, text) in heads
        .iter()
        .filter(|(_, t)| t.contains(" RUN ") || t.contains(" COPY "))
    {
        assert!(
            again.stderr.lines().any(|l| l == format!("#{n} CACHED")),
            "step #{n} {text} not CACHED:\n{}",
            again.stderr
        );
    }
    eprintln!("--- cached rebuild ---\n{}", again.stderr);

    // Three platforms with RUN (emulated where foreign), pushed as an index; an OCI tar too.
    std::fs::write(
        ctx.path().join("Dockerfile.multi"),
        format!("FROM {base}\nRUN uname -m > /arch\n"),
    )
    .unwrap();
    let multi = format!("{}/multi:1", reg.addr);
    let oci_tar = ctx.path().join("out/multi.tar");
    build_ok(
        data_dir,
        ctx.path(),
        &[
            "--progress=plain",
            "-f",
            "Dockerfile.multi",
            "--platform",
            "linux/amd64,linux/arm64,linux/arm/v7",
            "-t",
            &multi,
            "--push",
            "-o",
            &format!("type=oci,dest={}", oci_tar.display()),
            ".",
        ],
    );
    let idx = inspect_raw(&multi);
    assert_eq!(idx["manifests"].as_array().map(Vec::len), Some(3), "{idx}");
    let local = skopeo(&[
        "inspect",
        "--raw",
        &format!("oci-archive:{}", oci_tar.display()),
    ]);
    let local: serde_json::Value = serde_json::from_str(&local).unwrap();
    assert_eq!(
        local["manifests"].as_array().map(Vec::len),
        Some(3),
        "{local}"
    );

    // A local export of the multi-platform build: per-platform directories.
    let out_dir = ctx.path().join("rootfs");
    build_ok(
        data_dir,
        ctx.path(),
        &[
            "--progress=quiet",
            "-f",
            "Dockerfile.multi",
            "--platform",
            "linux/amd64,linux/arm64",
            "-o",
            out_dir.to_str().unwrap(),
            ".",
        ],
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("linux_amd64/arch"))
            .unwrap()
            .trim(),
        "x86_64"
    );
    assert_eq!(
        std::fs::read_to_string(out_dir.join("linux_arm64/arch"))
            .unwrap()
            .trim(),
        "aarch64"
    );

    // type=tar for two platforms: one tar with a directory per platform.
    let tar_path = ctx.path().join("out/multi-rootfs.tar");
    build_ok(
        data_dir,
        ctx.path(),
        &[
            "--progress=quiet",
            "-f",
            "Dockerfile.multi",
            "--platform",
            "linux/amd64,linux/arm64",
            "-o",
            &format!("type=tar,dest={}", tar_path.display()),
            ".",
        ],
    );
    let listing = std::process::Command::new("tar")
        .arg("-tf")
        .arg(&tar_path)
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&listing.stdout);
    assert!(
        listing.lines().any(|l| l == "linux_amd64/arch"),
        "{listing}"
    );
    assert!(
        listing.lines().any(|l| l == "linux_arm64/arch"),
        "{listing}"
    );

    // type=docker (single platform) is a docker archive skopeo reads; rawjson progress.
    let docker_tar = ctx.path().join("out/app-docker.tar");
    let raw = build_ok(
        data_dir,
        ctx.path(),
        &[
            "--progress=rawjson",
            "--platform",
            "linux/amd64",
            "-t",
            "example.com/app:docker",
            "-o",
            &format!("type=docker,dest={}", docker_tar.display()),
            ".",
        ],
    );
    let inspected = skopeo(&[
        "inspect",
        &format!("docker-archive:{}", docker_tar.display()),
    ]);
    assert!(
        inspected.contains("\"Architecture\": \"amd64\""),
        "{inspected}"
    );
    let mut vertexes = 0;
    for line in raw.stderr.lines() {
        let v: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{line:?}: {e}"));
        if let Some(vs) = v["vertexes"].as_array() {
            vertexes += vs.len();
            assert!(
                vs.iter().all(|x| x["digest"]
                    .as_str()
                    .is_some_and(|d| d.starts_with("sha256:"))),
                "{line}"
            );
        }
    }
    assert!(vertexes > 0, "{}", raw.stderr);
    let with_inputs = raw
        .stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| {
            v["vertexes"][0]["inputs"]
                .as_array()
                .is_some_and(|i| !i.is_empty())
        })
        .count();
    assert!(
        with_inputs > 0,
        "no vertex lists its inputs:\n{}",
        raw.stderr
    );

    // A failing step: #N ERROR with the exit code, and a non-zero exit.
    std::fs::write(
        ctx.path().join("Dockerfile.fail"),
        format!("FROM {base}\nRUN echo about-to-fail && false\n"),
    )
    .unwrap();
    let failed = slipway_build(
        data_dir,
        ctx.path(),
        &[
            "--progress=plain",
            "-f",
            "Dockerfile.fail",
            "--platform",
            "linux/amd64",
            ".",
        ],
    );
    assert!(!failed.success);
    assert!(
        failed
            .stderr
            .lines()
            .any(|l| l.starts_with('#') && l.contains(" ERROR: ") && l.contains("exit code: 1")),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("Dockerfile.fail:2"),
        "{}",
        failed.stderr
    );
    assert!(
        failed
            .stderr
            .contains(">>> RUN echo about-to-fail && false"),
        "{}",
        failed.stderr
    );

    // Secrets, build args and a named context directory reach the RUN step.
    let extra = tempfile::tempdir().unwrap();
    std::fs::write(extra.path().join("note.txt"), "from-named-context\n").unwrap();
    std::fs::write(ctx.path().join("secret.txt"), "s3cr3t-value\n").unwrap();
    std::fs::write(
        ctx.path().join("Dockerfile.features"),
        format!(
            "FROM {base}\nARG GREETING\nCOPY --from=extra note.txt /note.txt\n\
             RUN --mount=type=secret,id=tok cat /run/secrets/tok && echo \"greeting=$GREETING\" && cat /note.txt\n"
        ),
    )
    .unwrap();
    let features = build_ok(
        data_dir,
        ctx.path(),
        &[
            "--progress=plain",
            "-f",
            "Dockerfile.features",
            "--platform",
            "linux/amd64",
            "--secret",
            "id=tok,src=secret.txt",
            "--build-arg",
            "GREETING=hi-there",
            "--build-context",
            &format!("extra={}", extra.path().display()),
            ".",
        ],
    );
    for want in ["s3cr3t-value", "greeting=hi-there", "from-named-context"] {
        assert!(
            features
                .stderr
                .lines()
                .any(|l| l.starts_with('#') && l.ends_with(want)),
            "{want} missing:\n{}",
            features.stderr
        );
    }

    // --network=none: RUN steps see only the loopback interface.
    std::fs::write(
        ctx.path().join("Dockerfile.net"),
        format!("FROM {base}\nRUN echo links=$(ip -o link | wc -l)\n"),
    )
    .unwrap();
    let net = build_ok(
        data_dir,
        ctx.path(),
        &[
            "--progress=plain",
            "-f",
            "Dockerfile.net",
            "--platform",
            "linux/amd64",
            "--network=none",
            ".",
        ],
    );
    assert!(
        net.stderr
            .lines()
            .any(|l| l.starts_with('#') && l.ends_with(" links=1")),
        "{}",
        net.stderr
    );
}

//! The seed article's multi-stage example (deps → test ∥ build → runtime), asserted
//! structurally: test and build are independent, `--target` prunes, and a multi-platform
//! lowering shares the vertices that do not depend on the target platform.

mod lowering_support;

use lowering_support::TestResolver;
use slipway_frontend::lower::{lower, LowerOptions};
use slipway_graph::{Digest, Graph, Platform};
use std::collections::{BTreeMap, BTreeSet};

const SEED: &str = r#"# syntax=docker/dockerfile:1
FROM node:20-alpine AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
FROM deps AS test
COPY . .
RUN npm run lint
RUN npm run test
FROM deps AS build
COPY . .
RUN npm run build
FROM node:20-alpine AS runtime
WORKDIR /app
ENV NODE_ENV=production
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json .
USER node
EXPOSE 3000
CMD ["node", "dist/index.js"]
"#;

fn resolver() -> TestResolver {
    TestResolver {
        images: BTreeMap::new(),
    }
}

fn opts(target: &str, platforms: &[&str]) -> LowerOptions {
    LowerOptions {
        platforms: platforms.iter().map(|p| p.parse().unwrap()).collect(),
        build_platform: "linux/amd64".parse().unwrap(),
        target: target.to_string(),
        ..Default::default()
    }
}

fn find(g: &Graph, name_suffix: &str) -> Vec<Digest> {
    g.vertices
        .iter()
        .filter(|(_, v)| v.name.ends_with(name_suffix))
        .map(|(d, _)| d.clone())
        .collect()
}

fn one(g: &Graph, name_suffix: &str) -> Digest {
    let found = find(g, name_suffix);
    assert_eq!(
        found.len(),
        1,
        "expected one vertex named ...{name_suffix}, found {found:?}"
    );
    found[0].clone()
}

fn union(a: Graph, b: &Graph) -> Graph {
    let mut g = a;
    for (d, v) in &b.vertices {
        g.vertices.entry(d.clone()).or_insert_with(|| v.clone());
    }
    g.outputs.extend(b.outputs.iter().cloned());
    g
}

#[test]
fn seed_test_and_build_are_independent() {
    let r = resolver();
    let test = lower(SEED, &opts("test", &[]), &r).unwrap();
    let runtime = lower(SEED, &opts("", &[]), &r).unwrap();
    // The default target (runtime) needs build but not test: test is pruned.
    assert!(find(&runtime, "RUN npm run lint").is_empty());
    assert!(find(&runtime, "RUN npm run test").is_empty());
    let g = union(test, &runtime);
    g.validate().unwrap();
    let npm_ci = one(&g, "RUN npm ci");
    let test_tip = one(&g, "RUN npm run test");
    let build_tip = one(&g, "RUN npm run build");
    for tip in [&test_tip, &build_tip] {
        assert!(
            g.reaches(tip, &npm_ci).unwrap(),
            "both stages build on deps"
        );
    }
    let test_side: BTreeSet<Digest> = g.ancestors(&test_tip).unwrap();
    let build_side: BTreeSet<Digest> = g.ancestors(&build_tip).unwrap();
    assert!(
        !test_side.contains(&build_tip) && !build_side.contains(&test_tip),
        "neither reaches the other"
    );
    let lint = one(&g, "RUN npm run lint");
    assert!(!build_side.contains(&lint));
    // What they share is deps (plus identical work on top of it, e.g. the same `COPY . .`
    // onto deps, which is one vertex): no RUN of test or build is shared.
    let deps_side = g.ancestors(&npm_ci).unwrap();
    for d in test_side.intersection(&build_side) {
        if matches!(g.get(d).unwrap().op, slipway_graph::Op::Exec(_)) {
            assert!(
                d == &npm_ci || deps_side.contains(d),
                "{d} is a RUN shared by test and build"
            );
        }
    }
    // The runtime output depends on build and deps.
    let root = g
        .outputs
        .iter()
        .find(|o| o.target == "runtime")
        .and_then(|o| o.root.clone())
        .unwrap();
    assert!(g.reaches(&root, &build_tip).unwrap() && g.reaches(&root, &npm_ci).unwrap());
    assert!(!g.reaches(&root, &test_tip).unwrap());
}

#[test]
fn seed_multi_platform_shares_build_platform_stages() {
    // The seed with deps and build running on the build platform (cross-building).
    let cross = SEED.replace(
        "FROM node:20-alpine AS deps",
        "FROM --platform=$BUILDPLATFORM node:20-alpine AS deps",
    );
    let g = lower(
        &cross,
        &opts("", &["linux/amd64", "linux/arm64"]),
        &resolver(),
    )
    .unwrap();
    g.validate().unwrap();
    assert_eq!(g.outputs.len(), 2);
    let amd: Platform = "linux/amd64".parse().unwrap();
    let arm: Platform = "linux/arm64".parse().unwrap();
    let root_of = |p: &Platform| {
        g.outputs
            .iter()
            .find(|o| &o.platform == p)
            .and_then(|o| o.root.clone())
            .unwrap()
    };
    let (amd_root, arm_root) = (root_of(&amd), root_of(&arm));
    assert_ne!(amd_root, arm_root, "the runtime stage is per platform");
    let amd_side = g.ancestors(&amd_root).unwrap();
    let arm_side = g.ancestors(&arm_root).unwrap();
    // deps and build run once, on the build platform, for both outputs.
    for step in ["RUN npm ci", "RUN npm run build"] {
        let d = one(&g, step);
        assert!(
            amd_side.contains(&d) && arm_side.contains(&d),
            "{step} is shared"
        );
        assert_eq!(g.get(&d).unwrap().platform, amd);
    }
    // The runtime base image is per platform.
    // node:20-alpine is pulled for amd64 (deps, and runtime for amd64: the same vertex) and
    // for arm64 (runtime only).
    let mut node_images: Vec<Platform> = g
        .vertices
        .values()
        .filter(|v| v.name.contains("FROM docker.io/library/node:20-alpine"))
        .map(|v| v.platform.clone())
        .collect();
    node_images.sort();
    assert_eq!(node_images, vec![amd.clone(), arm.clone()]);
    // Every vertex on both sides that does not depend on a per-platform vertex is shared:
    // the only vertices used by one platform only are the runtime stage's.
    for d in amd_side.symmetric_difference(&arm_side) {
        let name = &g.get(d).unwrap().name;
        assert!(name.contains(" runtime "), "{name} should be shared");
    }

    // Without the cross-build change nothing but the build context is shared.
    let g = lower(
        SEED,
        &opts("", &["linux/amd64", "linux/arm64"]),
        &resolver(),
    )
    .unwrap();
    let shared: Vec<String> = g
        .ancestors(&g.outputs[0].root.clone().unwrap())
        .unwrap()
        .intersection(&g.ancestors(&g.outputs[1].root.clone().unwrap()).unwrap())
        .map(|d| g.get(d).unwrap().name.clone())
        .collect();
    assert_eq!(shared, vec!["[internal] load build context".to_string()]);
}

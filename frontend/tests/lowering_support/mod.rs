//! Shared helpers of the lowering tests: the options file format and a test resolver.

#![allow(dead_code)]

use serde::Deserialize;
use slipway_frontend::lower::{
    ImageMeta, ImageMetaResolver, LowerOptions, NamedContext, ResolveError,
};
use slipway_graph::{Digest, ImageConfig, Platform};
use std::collections::BTreeMap;

/// `options.json` of a case.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseOptions {
    #[serde(default)]
    pub platforms: Vec<String>,
    #[serde(default)]
    pub build_platform: Option<String>,
    #[serde(default)]
    pub build_args: BTreeMap<String, String>,
    #[serde(default)]
    pub target: String,
    #[serde(default)]
    pub named_contexts: BTreeMap<String, CaseContext>,
    #[serde(default)]
    pub source_date_epoch: Option<i64>,
    /// Base images the test resolver knows besides its defaults, by normalised reference.
    #[serde(default)]
    pub images: BTreeMap<String, CaseImage>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CaseContext {
    Image(String),
    Local(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaseImage {
    #[serde(default)]
    pub config: ImageConfig,
    #[serde(default)]
    pub empty_rootfs: bool,
    #[serde(default)]
    pub missing: bool,
}

impl CaseOptions {
    pub fn to_lower_options(&self) -> anyhow::Result<LowerOptions> {
        let platforms = self
            .platforms
            .iter()
            .map(|p| p.parse::<Platform>())
            .collect::<Result<Vec<_>, _>>()?;
        let build_platform = self
            .build_platform
            .as_deref()
            .unwrap_or("linux/amd64")
            .parse()?;
        let named_contexts = self
            .named_contexts
            .iter()
            .map(|(k, v)| {
                let nc = match v {
                    CaseContext::Image(r) => NamedContext::Image(r.clone()),
                    CaseContext::Local(l) => NamedContext::Local(l.clone()),
                };
                (k.clone(), nc)
            })
            .collect();
        Ok(LowerOptions {
            platforms,
            build_platform,
            build_args: self.build_args.clone(),
            target: self.target.clone(),
            named_contexts,
            dockerfile_name: "Dockerfile".into(),
            source_date_epoch: self.source_date_epoch,
            context_excludes: Vec::new(),
        })
    }
}

/// Resolves every image: a configured one from `images`, any other with a PATH-only config.
/// The digest is derived from (reference, platform), like a per-platform manifest.
pub struct TestResolver {
    pub images: BTreeMap<String, CaseImage>,
}

impl ImageMetaResolver for TestResolver {
    fn resolve(&self, reference: &str, platform: &Platform) -> Result<ImageMeta, ResolveError> {
        let image = self
            .images
            .get(reference)
            .cloned()
            .unwrap_or_else(|| CaseImage {
                config: ImageConfig {
                    env: vec![
                        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
                    ],
                    ..Default::default()
                },
                ..Default::default()
            });
        if image.missing {
            return Err(ResolveError::NotFound {
                reference: reference.to_string(),
            });
        }
        Ok(ImageMeta {
            config: image.config,
            digest: Some(Digest::of_bytes(
                format!("{reference} {platform}").as_bytes(),
            )),
            empty_rootfs: image.empty_rootfs,
        })
    }
}

//! The text rendering of an inspection, laid out like `docker buildx imagetools inspect`.

use super::inspect::{InspectedContent, Inspection};
use std::fmt;

impl fmt::Display for Inspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{:<11}{}", "Name:", self.name)?;
        writeln!(f, "{:<11}{}", "MediaType:", self.media_type)?;
        writeln!(f, "{:<11}{}", "Digest:", self.digest)?;
        match &self.content {
            InspectedContent::Index {
                manifests,
                annotations,
            } => {
                if !annotations.is_empty() {
                    writeln!(f)?;
                    writeln!(f, "Annotations:")?;
                    for (k, v) in annotations {
                        writeln!(f, "  {k}: {v}")?;
                    }
                }
                writeln!(f)?;
                writeln!(f, "Manifests:")?;
                for (i, m) in manifests.iter().enumerate() {
                    if i > 0 {
                        writeln!(f)?;
                    }
                    writeln!(f, "  {:<13}{}", "Name:", m.name)?;
                    writeln!(f, "  {:<13}{}", "MediaType:", m.media_type)?;
                    if let Some(p) = &m.platform {
                        writeln!(f, "  {:<13}{}", "Platform:", p)?;
                    }
                    if !m.annotations.is_empty() {
                        writeln!(f, "  Annotations:")?;
                        for (k, v) in &m.annotations {
                            writeln!(f, "    {k}: {v}")?;
                        }
                    }
                }
            }
            InspectedContent::Image {
                config,
                layers,
                image,
            } => {
                if let Some(img) = image {
                    writeln!(f, "{:<11}{}", "Platform:", img.platform)?;
                }
                writeln!(f)?;
                writeln!(f, "Config:")?;
                writeln!(f, "  {:<13}{}", "MediaType:", config.media_type)?;
                writeln!(f, "  {:<13}{}", "Digest:", config.digest)?;
                writeln!(f)?;
                writeln!(f, "Layers:")?;
                for l in layers {
                    writeln!(f, "  {} {:>10} {}", l.digest, l.size, l.media_type)?;
                }
                if let Some(img) = image {
                    if !img.cmd.is_empty() || !img.entrypoint.is_empty() {
                        writeln!(f)?;
                        if !img.entrypoint.is_empty() {
                            writeln!(f, "Entrypoint: {:?}", img.entrypoint)?;
                        }
                        if !img.cmd.is_empty() {
                            writeln!(f, "Cmd:        {:?}", img.cmd)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::inspect::InspectedEntry;
    use super::*;

    #[test]
    fn index_rendering_matches_buildx_layout() {
        let ins = Inspection {
            name: "127.0.0.1:5000/app:1".into(),
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            digest: "sha256:aa".into(),
            size: 1,
            raw: bytes::Bytes::new(),
            content: InspectedContent::Index {
                manifests: vec![InspectedEntry {
                    name: "127.0.0.1:5000/app@sha256:bb".into(),
                    media_type: "application/vnd.oci.image.manifest.v1+json".into(),
                    digest: "sha256:bb".into(),
                    size: 2,
                    platform: Some("linux/arm/v7".into()),
                    annotations: Default::default(),
                }],
                annotations: Default::default(),
            },
        };
        let text = ins.to_string();
        let expected = "Name:      127.0.0.1:5000/app:1\n\
                        MediaType: application/vnd.oci.image.index.v1+json\n\
                        Digest:    sha256:aa\n\
                        \n\
                        Manifests:\n  \
                        Name:        127.0.0.1:5000/app@sha256:bb\n  \
                        MediaType:   application/vnd.oci.image.manifest.v1+json\n  \
                        Platform:    linux/arm/v7\n";
        assert_eq!(text, expected);
    }
}

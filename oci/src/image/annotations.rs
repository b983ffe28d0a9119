//! Typed keys for the `org.opencontainers.image.*` annotations.

/// A pre-defined OCI annotation key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OciAnnotation {
    Created,
    Authors,
    Url,
    Documentation,
    Source,
    Version,
    Revision,
    Vendor,
    Licenses,
    RefName,
    Title,
    Description,
    BaseDigest,
    BaseName,
}

impl OciAnnotation {
    pub fn key(self) -> &'static str {
        match self {
            OciAnnotation::Created => "org.opencontainers.image.created",
            OciAnnotation::Authors => "org.opencontainers.image.authors",
            OciAnnotation::Url => "org.opencontainers.image.url",
            OciAnnotation::Documentation => "org.opencontainers.image.documentation",
            OciAnnotation::Source => "org.opencontainers.image.source",
            OciAnnotation::Version => "org.opencontainers.image.version",
            OciAnnotation::Revision => "org.opencontainers.image.revision",
            OciAnnotation::Vendor => "org.opencontainers.image.vendor",
            OciAnnotation::Licenses => "org.opencontainers.image.licenses",
            OciAnnotation::RefName => "org.opencontainers.image.ref.name",
            OciAnnotation::Title => "org.opencontainers.image.title",
            OciAnnotation::Description => "org.opencontainers.image.description",
            OciAnnotation::BaseDigest => "org.opencontainers.image.base.digest",
            OciAnnotation::BaseName => "org.opencontainers.image.base.name",
        }
    }
}

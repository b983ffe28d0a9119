//! The one table of differences that are documented peer behaviour, with the reason each is
//! excluded from the comparison. Anything not matched here fails the differential test.

use crate::case::Peer;

#[derive(Clone, Copy, Debug)]
pub enum Rule {
    /// A label the peer puts on every image it writes.
    PeerLabel(&'static str),
    /// An image config field the peer's output format cannot carry.
    ConfigField(&'static str),
    /// A path only the peer's rootfs has, when it is a directory or an empty file.
    PeerOnlyStub(&'static str),
    /// Paths only the peer's rootfs has that are empty files/directories at a RUN --mount
    /// target of the case, or directories above one.
    PeerOnlyMountStub,
}

#[derive(Clone, Copy, Debug)]
pub struct Exclusion {
    pub peer: Peer,
    pub rule: Rule,
    pub reason: &'static str,
}

pub const EXCLUSIONS: &[Exclusion] = &[
    Exclusion {
        peer: Peer::Buildah,
        rule: Rule::PeerLabel("io.buildah.version"),
        reason: "buildah labels every image it commits with its own version",
    },
    Exclusion {
        peer: Peer::Buildah,
        rule: Rule::ConfigField("Healthcheck"),
        reason: "buildah writes OCI-format configs, which have no Healthcheck (it warns and drops it)",
    },
    Exclusion {
        peer: Peer::Buildah,
        rule: Rule::ConfigField("OnBuild"),
        reason: "buildah's OCI-format configs have no OnBuild",
    },
    Exclusion {
        peer: Peer::Buildah,
        rule: Rule::ConfigField("Shell"),
        reason: "buildah's OCI-format configs have no Shell",
    },
    Exclusion {
        peer: Peer::Buildah,
        rule: Rule::PeerOnlyStub("/run"),
        reason: "buildah (chroot isolation) leaves the /run directory it created for RUN's mounts",
    },
    Exclusion {
        peer: Peer::Buildah,
        rule: Rule::PeerOnlyStub("/run/secrets"),
        reason: "buildah leaves the /run/secrets mount point it creates for every RUN",
    },
    Exclusion {
        peer: Peer::Buildah,
        rule: Rule::PeerOnlyStub("/etc/hosts"),
        reason: "buildah leaves the empty /etc/hosts it bind-mounts over during RUN",
    },
    Exclusion {
        peer: Peer::Buildah,
        rule: Rule::PeerOnlyStub("/etc/hostname"),
        reason: "buildah leaves the empty /etc/hostname it bind-mounts over during RUN",
    },
    Exclusion {
        peer: Peer::Buildah,
        rule: Rule::PeerOnlyStub("/etc/resolv.conf"),
        reason: "buildah leaves the empty /etc/resolv.conf it bind-mounts over during RUN",
    },
    Exclusion {
        peer: Peer::Buildah,
        rule: Rule::PeerOnlyMountStub,
        reason: "buildah leaves the mount points it created for RUN --mount targets",
    },
    Exclusion {
        peer: Peer::Docker,
        rule: Rule::PeerOnlyMountStub,
        reason: "BuildKit 0.8 (dockerd 20.10) keeps the empty files/directories it created as mount points \
                 for RUN --mount targets in the layer; later BuildKit removes them",
    },
];

/// The exclusions that apply to `peer`.
pub fn for_peer(peer: Peer) -> impl Iterator<Item = &'static Exclusion> {
    EXCLUSIONS.iter().filter(move |e| e.peer == peer)
}

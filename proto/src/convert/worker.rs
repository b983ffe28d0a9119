//! Workers: `PlatformSupport`, `Placement`, `WorkerSpec`.

use super::parse::{self, platform_strings};
use crate::{v1, ProtoError};
use slipway_farm as farm;

impl From<farm::PlatformSupport> for v1::PlatformSupport {
    fn from(p: farm::PlatformSupport) -> v1::PlatformSupport {
        v1::PlatformSupport {
            native: platform_strings(&p.native),
            emulated: platform_strings(&p.emulated),
        }
    }
}

impl TryFrom<v1::PlatformSupport> for farm::PlatformSupport {
    type Error = ProtoError;
    fn try_from(p: v1::PlatformSupport) -> Result<farm::PlatformSupport, ProtoError> {
        Ok(farm::PlatformSupport {
            native: parse::platforms(&p.native, ("PlatformSupport", "native"))?,
            emulated: parse::platforms(&p.emulated, ("PlatformSupport", "emulated"))?,
        })
    }
}

impl From<farm::Placement> for v1::Placement {
    fn from(p: farm::Placement) -> v1::Placement {
        match p {
            farm::Placement::Native => v1::Placement::Native,
            farm::Placement::Emulated => v1::Placement::Emulated,
        }
    }
}

/// A wire `Placement` field (an `i32`): unset (0) is a missing field, unknown values are
/// refused.
pub fn placement(value: i32, (message, field): parse::At) -> Result<farm::Placement, ProtoError> {
    match v1::Placement::try_from(value) {
        Ok(v1::Placement::Native) => Ok(farm::Placement::Native),
        Ok(v1::Placement::Emulated) => Ok(farm::Placement::Emulated),
        Ok(v1::Placement::Unspecified) => Err(ProtoError::MissingField { message, field }),
        Err(_) => Err(ProtoError::UnknownEnum {
            message,
            field,
            value,
        }),
    }
}

impl From<farm::WorkerSpec> for v1::WorkerSpec {
    fn from(w: farm::WorkerSpec) -> v1::WorkerSpec {
        v1::WorkerSpec {
            id: w.id.to_string(),
            incarnation: w.incarnation.to_string(),
            platforms: Some(w.platforms.into()),
            slots: w.slots,
            labels: w.labels,
            data_addr: w.data_addr,
        }
    }
}

impl TryFrom<v1::WorkerSpec> for farm::WorkerSpec {
    type Error = ProtoError;
    /// Checks the wire shape only; call [`farm::WorkerSpec::validate`] for the farm's rules.
    fn try_from(w: v1::WorkerSpec) -> Result<farm::WorkerSpec, ProtoError> {
        const M: &str = "WorkerSpec";
        Ok(farm::WorkerSpec {
            id: parse::worker_id(&w.id, (M, "id"))?,
            incarnation: parse::uuid(&w.incarnation, (M, "incarnation"))?,
            platforms: parse::required(w.platforms, (M, "platforms"))?.try_into()?,
            slots: w.slots,
            labels: w.labels,
            data_addr: w.data_addr,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use slipway_graph::Platform;

    pub(crate) fn spec() -> farm::WorkerSpec {
        farm::WorkerSpec {
            id: "worker-2".parse().unwrap(),
            incarnation: uuid::Uuid::now_v7(),
            platforms: farm::PlatformSupport {
                native: vec![Platform::linux("amd64", "")],
                emulated: vec![Platform::linux("arm", "v7"), Platform::linux("arm64", "")],
            },
            slots: 4,
            labels: [("zone".to_string(), "a".to_string())].into(),
            data_addr: "10.0.0.2:7001".into(),
        }
    }

    #[test]
    fn worker_spec_round_trips() {
        let s = spec();
        let wire = v1::WorkerSpec::from(s.clone());
        let platforms = wire.platforms.as_ref().unwrap();
        assert_eq!(platforms.emulated, ["linux/arm/v7", "linux/arm64"]);
        assert_eq!(farm::WorkerSpec::try_from(wire).unwrap(), s);
    }

    #[test]
    fn placement_round_trips_and_refuses_unset_and_unknown() {
        for p in [farm::Placement::Native, farm::Placement::Emulated] {
            let wire = v1::Placement::from(p) as i32;
            assert_eq!(placement(wire, ("T", "placement")).unwrap(), p);
        }
        assert!(matches!(
            placement(0, ("T", "placement")),
            Err(ProtoError::MissingField { .. })
        ));
        assert!(matches!(
            placement(42, ("T", "placement")),
            Err(ProtoError::UnknownEnum { value: 42, .. })
        ));
    }

    #[test]
    fn worker_spec_rejections() {
        let good = v1::WorkerSpec::from(spec());

        let mut w = good.clone();
        w.platforms = None;
        let e = farm::WorkerSpec::try_from(w).unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::MissingField {
                    field: "platforms",
                    ..
                }
            ),
            "{e}"
        );

        let mut w = good.clone();
        w.id = "bad id".into();
        let e = farm::WorkerSpec::try_from(w).unwrap_err();
        assert!(
            matches!(e, ProtoError::InvalidId { field: "id", .. }),
            "{e}"
        );

        let mut w = good.clone();
        w.incarnation = "not-a-uuid".into();
        let e = farm::WorkerSpec::try_from(w).unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::InvalidId {
                    field: "incarnation",
                    ..
                }
            ),
            "{e}"
        );

        let mut w = good;
        if let Some(p) = w.platforms.as_mut() {
            p.native.push("linux/vax".into());
        }
        let e = farm::WorkerSpec::try_from(w).unwrap_err();
        assert!(
            matches!(
                e,
                ProtoError::InvalidPlatform {
                    field: "native",
                    ..
                }
            ),
            "{e}"
        );
    }
}

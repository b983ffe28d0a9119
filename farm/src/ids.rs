//! Identities: builds and tasks are UUID v7 (time-ordered), workers are stable names
//! chosen at registration (`worker-2`), coordinators are Raft node ids (1, 2, 3...).

use crate::FarmError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

/// A coordinator's Raft node id.
pub type NodeId = u64;

macro_rules! uuid_id {
    ($name:ident, $kind:literal) => {
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn new() -> $name {
                $name(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> $name {
                $name::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = FarmError;
            fn from_str(s: &str) -> Result<$name, FarmError> {
                Uuid::parse_str(s)
                    .map($name)
                    .map_err(|e| FarmError::InvalidId {
                        kind: $kind,
                        value: s.to_string(),
                        reason: e.to_string(),
                    })
            }
        }
    };
}

uuid_id!(BuildId, "build");
uuid_id!(TaskId, "task");

/// A worker's stable name, e.g. `worker-2`: letters, digits, `-`, `_` and `.`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct WorkerId(String);

impl WorkerId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WorkerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for WorkerId {
    type Err = FarmError;
    fn from_str(s: &str) -> Result<WorkerId, FarmError> {
        let bad = |reason: &str| FarmError::InvalidId {
            kind: "worker",
            value: s.to_string(),
            reason: reason.to_string(),
        };
        if s.is_empty() || s.len() > 63 {
            return Err(bad("must be 1 to 63 characters"));
        }
        if !s
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(bad("only letters, digits, '-', '_' and '.' are allowed"));
        }
        Ok(WorkerId(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_strings() {
        let b = BuildId::new();
        assert_eq!(b.to_string().parse::<BuildId>().unwrap(), b);
        assert!("nope".parse::<TaskId>().is_err());
        assert_eq!("worker-2".parse::<WorkerId>().unwrap().as_str(), "worker-2");
        assert!("a b".parse::<WorkerId>().is_err());
        assert!("".parse::<WorkerId>().is_err());
    }

    #[test]
    fn build_ids_are_time_ordered() {
        let a = BuildId::new();
        let b = BuildId::new();
        assert!(a < b);
    }
}

//! Conversions between the `slipway-farm` domain types and the `slipway.v1` wire messages:
//! `From<farm::X> for v1::X` (always succeeds) and `TryFrom<v1::X> for farm::X` (validates
//! ids, platforms, digests, JSON and required fields, failing with [`ProtoError`]).

mod error;

pub use error::ProtoError;

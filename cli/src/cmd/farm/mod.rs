//! The farm's client side: `slipway build --builder`, the listing commands, and the
//! incremental context upload.

pub mod build;
pub mod cache_import;
pub mod client;
pub mod context_prepare;
pub mod context_upload;
pub mod gc;
pub mod outputs;
pub mod session;
pub mod status;

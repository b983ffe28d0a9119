//! The farm's client side: `slipway build --builder`, the listing commands, and the
//! context tar the client uploads.

pub mod build;
pub mod client;
pub mod context_tar;
pub mod status;

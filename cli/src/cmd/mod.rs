pub mod build;
pub mod certs;
pub mod devcluster;
pub mod dockerfile;
pub mod farm;
pub mod imagetools;
pub mod node;
pub mod render;

pub mod build;
pub mod dockerfile;
pub mod imagetools;

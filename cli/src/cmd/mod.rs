pub mod dockerfile;
pub mod imagetools;

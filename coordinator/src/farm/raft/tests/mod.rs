//! Tests of the Raft module: openraft's storage suite against the redb log and the state
//! machine, and clusters of real nodes talking over tonic on 127.0.0.1.

mod bench;
mod cluster;
mod group_commit;
mod harness;
mod storage;

//! Message size limits: task graphs and snapshots can be large, so every server and client
//! raises tonic's 4 MiB default decoding limit (and the encoding limit) to
//! [`MAX_MESSAGE_BYTES`]. Use these constructors instead of `XServer::new`/`XClient::new`.

use crate::v1::control_client::ControlClient;
use crate::v1::control_server::{Control, ControlServer};
use crate::v1::raft_client::RaftClient;
use crate::v1::raft_server::{Raft, RaftServer};
use crate::v1::worker_api_client::WorkerApiClient;
use crate::v1::worker_api_server::{WorkerApi, WorkerApiServer};
use tonic::transport::Channel;

/// Largest encoded or decoded gRPC message, both directions: 64 MiB.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// A Control server with the raised limits.
pub fn control_server<T: Control>(service: T) -> ControlServer<T> {
    ControlServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// A WorkerApi server with the raised limits.
pub fn worker_api_server<T: WorkerApi>(service: T) -> WorkerApiServer<T> {
    WorkerApiServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// A Raft server with the raised limits.
pub fn raft_server<T: Raft>(service: T) -> RaftServer<T> {
    RaftServer::new(service)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// A Control client on `channel` with the raised limits.
pub fn control_client(channel: Channel) -> ControlClient<Channel> {
    ControlClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// A WorkerApi client on `channel` with the raised limits.
pub fn worker_api_client(channel: Channel) -> WorkerApiClient<Channel> {
    WorkerApiClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

/// A Raft client on `channel` with the raised limits.
pub fn raft_client(channel: Channel) -> RaftClient<Channel> {
    RaftClient::new(channel)
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

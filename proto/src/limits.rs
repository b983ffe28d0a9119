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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::v1::RaftPayload;
    use tonic::{Request, Response, Status};

    /// Answers every RPC with the request's payload doubled in size.
    struct Echo;

    #[tonic::async_trait]
    impl Raft for Echo {
        async fn append_entries(
            &self,
            r: Request<RaftPayload>,
        ) -> Result<Response<RaftPayload>, Status> {
            let mut data = r.into_inner().data;
            data.extend_from_within(..);
            Ok(Response::new(RaftPayload { data }))
        }
        async fn vote(&self, r: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
            Ok(Response::new(r.into_inner()))
        }
        async fn install_snapshot(
            &self,
            _: Request<RaftPayload>,
        ) -> Result<Response<RaftPayload>, Status> {
            Err(Status::unimplemented(
                "install_snapshot is not used by this test",
            ))
        }
    }

    #[tokio::test]
    async fn messages_above_tonics_4_mib_default_pass_both_ways() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let incoming = tokio_stream::wrappers::TcpListenerStream::new(listener);
        let server = tokio::spawn(
            tonic::transport::Server::builder()
                .add_service(raft_server(Echo))
                .serve_with_incoming(incoming),
        );
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect()
            .await
            .unwrap();

        let big = vec![7u8; 6 * 1024 * 1024];
        let mut limited = raft_client(channel.clone());
        let reply = limited
            .append_entries(RaftPayload { data: big.clone() })
            .await
            .unwrap();
        assert_eq!(reply.into_inner().data.len(), 12 * 1024 * 1024);

        // A client with tonic's default limit refuses the 12 MiB reply: the raised limit
        // above is what made the call pass.
        let mut default = RaftClient::new(channel);
        let err = default
            .append_entries(RaftPayload { data: big })
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::OutOfRange, "{err}");
        server.abort();
    }
}

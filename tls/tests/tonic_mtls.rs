//! tonic over the configs of `Security`: mTLS accepted with a farm identity, refused without.

use slipway_proto::v1::raft_client::RaftClient;
use slipway_proto::v1::raft_server::{Raft, RaftServer};
use slipway_proto::v1::RaftPayload;
use slipway_tls::{init_certs, CertsOptions, Security};
use std::net::SocketAddr;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Server};
use tonic::{Request, Response, Status};

/// Answers with the number of client certificates the server saw.
struct PeerCerts;

#[tonic::async_trait]
impl Raft for PeerCerts {
    async fn append_entries(
        &self,
        req: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        let n = req.peer_certs().map(|c| c.len()).unwrap_or(0);
        Ok(Response::new(RaftPayload {
            data: vec![n as u8],
        }))
    }
    async fn vote(&self, _: Request<RaftPayload>) -> Result<Response<RaftPayload>, Status> {
        Err(Status::unimplemented("test service"))
    }
    async fn install_snapshot(
        &self,
        _: Request<RaftPayload>,
    ) -> Result<Response<RaftPayload>, Status> {
        Err(Status::unimplemented("test service"))
    }
}

async fn serve(security: &Security) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let mut builder = Server::builder();
    if let Some(tls) = security.tonic_server_tls() {
        builder = builder.tls_config(tls).unwrap();
    }
    let router = builder.add_service(RaftServer::new(PeerCerts));
    tokio::spawn(
        router.serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    addr
}

async fn call(url: String, tls: Option<ClientTlsConfig>) -> Result<u8, String> {
    let mut endpoint = Channel::from_shared(url).map_err(|e| e.to_string())?;
    if let Some(tls) = tls {
        endpoint = endpoint.tls_config(tls).map_err(|e| e.to_string())?;
    }
    let channel = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
    let answer = RaftClient::new(channel)
        .append_entries(RaftPayload { data: vec![] })
        .await
        .map_err(|e| e.to_string())?;
    answer
        .into_inner()
        .data
        .first()
        .copied()
        .ok_or("empty".into())
}

fn certs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let options = CertsOptions {
        names: vec!["coordinator-1".into()],
        ..CertsOptions::default()
    };
    init_certs(dir.path(), &options).unwrap();
    dir
}

#[tokio::test]
async fn tonic_mtls_accepts_farm_identities_and_refuses_anonymous_clients() {
    slipway_tls::install_crypto_provider();
    let dir = certs();
    let node = Security::load_mtls(dir.path(), "coordinator-1").unwrap();
    let cli = Security::load_mtls(dir.path(), "client").unwrap();
    let addr = serve(&node).await;
    for host in ["127.0.0.1", "localhost"] {
        let url = cli.grpc_url(&format!("{host}:{}", addr.port()));
        assert!(url.starts_with("https://"));
        assert_eq!(call(url, cli.tonic_client_tls(None)).await, Ok(1));
    }
    let by_name = cli.tonic_client_tls(Some("coordinator-1"));
    assert_eq!(call(node.grpc_url(&addr.to_string()), by_name).await, Ok(1));

    // Trusts the CA but presents no certificate.
    let anonymous = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(node.material().unwrap().ca_pem()));
    assert!(call(node.grpc_url(&addr.to_string()), Some(anonymous))
        .await
        .is_err());
    // Plain text to a TLS server.
    assert!(call(format!("http://{addr}"), None).await.is_err());
}

#[tokio::test]
async fn insecure_tonic_is_plain_http() {
    slipway_tls::install_crypto_provider();
    let addr = serve(&Security::Insecure).await;
    let url = Security::Insecure.grpc_url(&addr.to_string());
    assert!(url.starts_with("http://"));
    assert!(Security::Insecure.tonic_client_tls(None).is_none());
    assert_eq!(call(url, None).await, Ok(0));
}

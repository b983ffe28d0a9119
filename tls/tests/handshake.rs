//! Real TLS 1.3 handshakes over TCP (tokio-rustls) with the configs of `Security`.

use anyhow::Result;
use slipway_tls::{init_certs, CertsOptions, Security};
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, TlsConnector};

fn certs() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let options = CertsOptions {
        names: vec!["coordinator-1".into(), "worker-1".into()],
        ..CertsOptions::default()
    };
    init_certs(dir.path(), &options).unwrap();
    dir
}

/// Serves one connection: reads 4 bytes and echoes them; returns the server-side outcome.
async fn echo_once(
    server: &Security,
    client: rustls::ClientConfig,
    server_name: &str,
) -> (Result<Vec<u8>>, Result<()>) {
    let acceptor = TlsAcceptor::from(Arc::new(server.rustls_server_config().unwrap()));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await?;
        let mut tls = acceptor.accept(tcp).await?;
        let mut buf = [0u8; 4];
        tls.read_exact(&mut buf).await?;
        tls.write_all(&buf).await?;
        tls.shutdown().await?;
        anyhow::Ok(())
    });
    let connector = TlsConnector::from(Arc::new(client));
    let name = rustls::pki_types::ServerName::try_from(server_name.to_string()).unwrap();
    let client_side = async {
        let tcp = TcpStream::connect(addr).await?;
        let mut tls = connector.connect(name, tcp).await?;
        tls.write_all(b"ping").await?;
        let mut out = Vec::new();
        tls.read_to_end(&mut out).await?;
        anyhow::Ok(out)
    }
    .await;
    let server_side = serve.await.unwrap();
    (client_side, server_side)
}

#[tokio::test]
async fn mtls_handshake_both_ways() {
    let dir = certs();
    let coordinator = Security::load_mtls(dir.path(), "coordinator-1").unwrap();
    let worker = Security::load_mtls(dir.path(), "worker-1").unwrap();
    // worker -> coordinator by IP, coordinator -> worker by node name and localhost.
    for (server, client, name) in [
        (&coordinator, &worker, "127.0.0.1"),
        (&worker, &coordinator, "worker-1"),
        (&worker, &coordinator, "localhost"),
    ] {
        let (c, s) = echo_once(server, client.rustls_client_config().unwrap(), name).await;
        assert_eq!(c.unwrap(), b"ping");
        s.unwrap();
    }
}

#[tokio::test]
async fn the_cli_identity_is_accepted_by_nodes() {
    let dir = certs();
    let coordinator = Security::load_mtls(dir.path(), "coordinator-1").unwrap();
    let cli = Security::load_mtls(dir.path(), "client").unwrap();
    let (c, s) = echo_once(
        &coordinator,
        cli.rustls_client_config().unwrap(),
        "127.0.0.1",
    )
    .await;
    assert_eq!(c.unwrap(), b"ping");
    s.unwrap();
}

#[tokio::test]
async fn a_client_without_a_certificate_is_refused_under_mtls() {
    let dir = certs();
    let coordinator = Security::load_mtls(dir.path(), "coordinator-1").unwrap();
    let mut roots = rustls::RootCertStore::empty();
    for ca in coordinator.material().unwrap().ca_certs() {
        roots.add(ca.clone()).unwrap();
    }
    let anonymous = rustls::ClientConfig::builder_with_provider(slipway_tls::crypto_provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let (c, s) = echo_once(&coordinator, anonymous, "127.0.0.1").await;
    let err = s.expect_err("the server must refuse a client without a certificate");
    assert!(
        err.to_string().to_lowercase().contains("certificate"),
        "{err}"
    );
    assert!(c.is_err(), "the client must not get the echo");
}

#[tokio::test]
async fn a_certificate_from_another_ca_is_refused() {
    let ours = certs();
    let theirs = certs();
    let coordinator = Security::load_mtls(ours.path(), "coordinator-1").unwrap();
    let stranger = Security::load_mtls(theirs.path(), "worker-1").unwrap();
    // The stranger does not trust our server either; check the server side refuses its cert by
    // letting it accept anything about the server.
    let (c, s) = echo_once(
        &coordinator,
        stranger.rustls_client_config().unwrap(),
        "127.0.0.1",
    )
    .await;
    assert!(c.is_err());
    assert!(s.is_err());
}

#[tokio::test]
async fn a_wrong_server_name_is_refused_under_mtls() {
    let dir = certs();
    let coordinator = Security::load_mtls(dir.path(), "coordinator-1").unwrap();
    let worker = Security::load_mtls(dir.path(), "worker-1").unwrap();
    let (c, _s) = echo_once(
        &coordinator,
        worker.rustls_client_config().unwrap(),
        "evil.example",
    )
    .await;
    assert!(c.is_err());
}

#[tokio::test]
async fn insecure_mode_handshakes_with_an_ephemeral_certificate() {
    let (c, s) = echo_once(
        &Security::Insecure,
        Security::Insecure.rustls_client_config().unwrap(),
        "anything.example",
    )
    .await;
    assert_eq!(c.unwrap(), b"ping");
    s.unwrap();
}

#[tokio::test]
async fn an_insecure_client_cannot_reach_an_mtls_server() {
    let dir = certs();
    let coordinator = Security::load_mtls(dir.path(), "coordinator-1").unwrap();
    let (c, s) = echo_once(
        &coordinator,
        Security::Insecure.rustls_client_config().unwrap(),
        "127.0.0.1",
    )
    .await;
    assert!(c.is_err());
    assert!(s.is_err());
}

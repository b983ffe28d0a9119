//! The client value, its configuration, and one `oci-client` session per registry.

use super::error::RegistryError;
use super::retry::RetryConfig;
use super::{is_loopback_registry, Reference};
use crate::auth::CredentialStore;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::secrets::RegistryAuth;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::OnceCell;

/// How blob bodies are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UploadMode {
    /// `POST` then one streamed `PUT ?digest=` (what containerd and BuildKit do).
    #[default]
    Monolithic,
    /// `POST`, a `PATCH` per chunk of up to 4 MiB (oci-client's chunk bound), then `PUT ?digest=`.
    Chunked,
}

/// Registry client settings.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Registries (`host[:port]` or bare host) reached over plain HTTP. Loopback registries
    /// (127.0.0.0/8, localhost, [::1]) always are.
    pub insecure: Vec<String>,
    pub retry: RetryConfig,
    pub upload: UploadMode,
    /// Blobs uploaded at once during a push.
    pub max_concurrent_uploads: usize,
    pub connect_timeout: Option<Duration>,
    pub read_timeout: Option<Duration>,
}

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            insecure: Vec::new(),
            retry: RetryConfig::default(),
            upload: UploadMode::default(),
            max_concurrent_uploads: 4,
            connect_timeout: Some(Duration::from_secs(30)),
            read_timeout: Some(Duration::from_secs(300)),
        }
    }
}

impl RegistryConfig {
    /// Whether `registry` is spoken to over plain HTTP.
    pub fn is_plain_http(&self, registry: &str) -> bool {
        if is_loopback_registry(registry) {
            return true;
        }
        let host = registry
            .rsplit_once(':')
            .map(|(h, _)| h)
            .unwrap_or(registry);
        self.insecure.iter().any(|i| i == registry || i == host)
    }
}

/// One registry's `oci-client` handles, sharing its credentials. Building a client loads the TLS
/// roots, so the monolithic-upload client is built only when an upload first needs it.
#[derive(Clone)]
pub(crate) struct Session {
    /// Client used for everything but monolithic uploads (`use_monolithic_push = false`).
    pub chunked: oci_client::Client,
    /// Client whose stream pushes are a single PUT (`use_monolithic_push = true`).
    monolithic: Arc<OnceCell<oci_client::Client>>,
    pub auth: RegistryAuth,
    /// `Reference::resolve_registry` of the references this session serves.
    registry: String,
}

/// A registry client for any number of registries.
pub struct RegistryClient {
    pub(crate) config: RegistryConfig,
    credentials: Arc<CredentialStore>,
    sessions: Mutex<HashMap<String, Session>>,
}

impl RegistryClient {
    /// Installs the ring crypto provider for rustls if no provider is installed yet (oci-client and
    /// reqwest are built without one).
    pub fn new(config: RegistryConfig, credentials: CredentialStore) -> RegistryClient {
        let _ = rustls::crypto::ring::default_provider().install_default();
        RegistryClient {
            config,
            credentials: Arc::new(credentials),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// This client's settings and credentials with `registry` (`host[:port]`) reached over
    /// plain HTTP too: an image output's `registry.insecure=true`.
    pub fn with_plain_http(&self, registry: &str) -> RegistryClient {
        let mut config = self.config.clone();
        if !config.is_plain_http(registry) {
            config.insecure.push(registry.to_string());
        }
        RegistryClient {
            config,
            credentials: self.credentials.clone(),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) async fn session(&self, reference: &Reference) -> Result<Session, RegistryError> {
        let registry = reference.resolve_registry().to_string();
        if let Some(s) = self
            .sessions
            .lock()
            .ok()
            .and_then(|m| m.get(&registry).cloned())
        {
            return Ok(s);
        }
        let credentials = self
            .credentials
            .resolve(reference.registry())
            .map_err(|source| RegistryError::Auth {
                reference: reference.to_string(),
                source: Box::new(source),
            })?;
        let auth = credentials.to_registry_auth();
        let chunked = self.oci_client(&registry, false, reference)?;
        chunked.store_auth_if_needed(&registry, &auth).await;
        let session = Session {
            chunked,
            monolithic: Arc::new(OnceCell::new()),
            auth,
            registry: registry.clone(),
        };
        if let Ok(mut m) = self.sessions.lock() {
            m.insert(registry, session.clone());
        }
        Ok(session)
    }

    /// The client blob uploads go through for the configured [`UploadMode`].
    pub(crate) async fn upload_client(
        &self,
        session: &Session,
        reference: &Reference,
    ) -> Result<oci_client::Client, RegistryError> {
        match self.config.upload {
            UploadMode::Chunked => Ok(session.chunked.clone()),
            UploadMode::Monolithic => session
                .monolithic
                .get_or_try_init(|| async {
                    let client = self.oci_client(&session.registry, true, reference)?;
                    client
                        .store_auth_if_needed(&session.registry, &session.auth)
                        .await;
                    Ok(client)
                })
                .await
                .cloned(),
        }
    }

    fn oci_client(
        &self,
        registry: &str,
        monolithic: bool,
        reference: &Reference,
    ) -> Result<oci_client::Client, RegistryError> {
        let protocol = if self.config.is_plain_http(registry) {
            ClientProtocol::Http
        } else {
            ClientProtocol::Https
        };
        let cfg = ClientConfig {
            protocol,
            use_monolithic_push: monolithic,
            platform_resolver: None,
            connect_timeout: self.config.connect_timeout,
            read_timeout: self.config.read_timeout,
            user_agent: concat!("slipway/", env!("CARGO_PKG_VERSION")),
            ..ClientConfig::default()
        };
        oci_client::Client::try_from(cfg)
            .map_err(|e| RegistryError::from_oci(&reference.to_string(), e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn with_plain_http_adds_one_registry_and_keeps_the_rest() {
        let base = RegistryClient::new(RegistryConfig::default(), CredentialStore::default());
        assert!(!base.config().is_plain_http("reg.example:5000"));
        let plain = base.with_plain_http("reg.example:5000");
        assert!(plain.config().is_plain_http("reg.example:5000"));
        assert!(!plain.config().is_plain_http("other.example:5000"));
        assert!(
            !base.config().is_plain_http("reg.example:5000"),
            "the base is unchanged"
        );
        let again = plain.with_plain_http("reg.example:5000");
        assert_eq!(again.config().insecure.len(), 1, "added once");
    }

    #[test]
    fn plain_http_for_loopback_and_insecure_only() {
        let cfg = RegistryConfig {
            insecure: vec!["reg.lan:5000".into(), "other.lan".into()],
            ..Default::default()
        };
        assert!(cfg.is_plain_http("127.0.0.1:5000"));
        assert!(cfg.is_plain_http("reg.lan:5000"));
        assert!(!cfg.is_plain_http("reg.lan:6000"));
        assert!(cfg.is_plain_http("other.lan:443"));
        assert!(!cfg.is_plain_http("ghcr.io"));
    }
}

//! Registry credentials: explicit values (flags) and Docker's `config.json`.
//!
//! Resolution for one registry, first match wins:
//! 1. an explicit [`Credentials`] registered for that registry (e.g. from `--username/--password`);
//! 2. the `auths` entry of `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`), matched the way
//!    docker matches it: keys are reduced to `host[:port]` (scheme and path dropped), and Docker Hub
//!    is stored under `https://index.docker.io/v1/`;
//! 3. anonymous.
//!
//! Credential helpers are not run. A `credHelpers` entry naming a helper for the registry in use is an
//! error ([`AuthError::CredentialHelperUnsupported`]) because silently going anonymous would turn
//! a helper-managed login into a confusing 401 later. A global `credsStore` without an inline entry
//! is only logged (it applies to every registry, including public ones that need no login).
//!
//! The token exchange itself (WWW-Authenticate `Bearer realm=…,service=…` → token endpoint) is done
//! by `oci-client`; this module only decides which secret to present.

use base64::Engine as _;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt;
use std::path::{Path, PathBuf};

/// Key under which docker stores Docker Hub credentials.
pub const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// A secret to present to one registry.
#[derive(Clone, PartialEq, Eq, Default)]
pub enum Credentials {
    #[default]
    Anonymous,
    /// Username and password (also used for the token exchange when the registry asks for Bearer).
    Basic { username: String, password: String },
    /// A ready registry token, sent as `Authorization: Bearer …`.
    Bearer { token: String },
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Anonymous => write!(f, "Anonymous"),
            Credentials::Basic { username, .. } => write!(f, "Basic({username}, <redacted>)"),
            Credentials::Bearer { .. } => write!(f, "Bearer(<redacted>)"),
        }
    }
}

impl Credentials {
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Credentials {
        Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    pub(crate) fn to_registry_auth(&self) -> oci_client::secrets::RegistryAuth {
        use oci_client::secrets::RegistryAuth;
        match self {
            Credentials::Anonymous => RegistryAuth::Anonymous,
            Credentials::Basic { username, password } => {
                RegistryAuth::Basic(username.clone(), password.clone())
            }
            Credentials::Bearer { token } => RegistryAuth::Bearer(token.clone()),
        }
    }
}

/// Why credentials could not be found or read.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("cannot read docker config {path}: {source}")]
    ReadConfig {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("docker config {path} is not valid JSON: {source}")]
    ParseConfig {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("docker config {path}: entry {key:?} has an `auth` field that is not base64 of user:password")]
    BadAuthField { path: PathBuf, key: String },
    #[error(
        "docker config {path} names credential helper {helper:?} for registry {registry}; credential \
         helpers are not supported: log in with `--username/--password` or put an `auths` entry in the config"
    )]
    CredentialHelperUnsupported {
        path: PathBuf,
        registry: String,
        helper: String,
    },
    #[error(
        "docker config {path}: entry {key:?} holds an identity token (OAuth2 refresh token), which is not \
         supported; use a username and password or a registry token"
    )]
    IdentityTokenUnsupported { path: PathBuf, key: String },
}

#[derive(Debug, Default, Deserialize)]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default, rename = "credHelpers")]
    cred_helpers: BTreeMap<String, String>,
    #[serde(default, rename = "credsStore")]
    creds_store: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
}

/// A parsed Docker `config.json`.
#[derive(Debug, Default)]
pub struct DockerConfig {
    path: PathBuf,
    file: ConfigFile,
}

/// Where docker looks for its config: `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
pub fn docker_config_path(
    docker_config_env: Option<OsString>,
    home: Option<PathBuf>,
) -> Option<PathBuf> {
    match docker_config_env.filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir).join("config.json")),
        None => home.map(|h| h.join(".docker").join("config.json")),
    }
}

impl DockerConfig {
    /// Loads the config docker would use in this environment; a missing file is an empty config.
    pub fn from_env() -> Result<DockerConfig, AuthError> {
        let home = std::env::var_os("HOME").map(PathBuf::from);
        match docker_config_path(std::env::var_os("DOCKER_CONFIG"), home) {
            Some(path) if path.exists() => DockerConfig::load(&path),
            _ => Ok(DockerConfig::default()),
        }
    }

    pub fn load(path: &Path) -> Result<DockerConfig, AuthError> {
        let text = std::fs::read(path).map_err(|source| AuthError::ReadConfig {
            path: path.to_path_buf(),
            source,
        })?;
        DockerConfig::parse(path, &text)
    }

    pub fn parse(path: &Path, text: &[u8]) -> Result<DockerConfig, AuthError> {
        let file = serde_json::from_slice(text).map_err(|source| AuthError::ParseConfig {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(DockerConfig {
            path: path.to_path_buf(),
            file,
        })
    }

    /// Credentials for `registry` (as written in a reference: `docker.io`, `host:port`).
    pub fn credentials_for(&self, registry: &str) -> Result<Option<Credentials>, AuthError> {
        let wanted = registry_key(registry);
        let path = &self.path;
        if let Some(helper) = self
            .file
            .cred_helpers
            .iter()
            .find(|(k, _)| normalize_key(k) == wanted)
        {
            return Err(AuthError::CredentialHelperUnsupported {
                path: path.clone(),
                registry: registry.to_string(),
                helper: helper.1.clone(),
            });
        }
        let found = self
            .file
            .auths
            .iter()
            .find(|(k, _)| normalize_key(k) == wanted);
        let Some((key, entry)) = found else {
            if let Some(store) = &self.file.creds_store {
                tracing::warn!(
                    config = %path.display(), store, registry,
                    "docker config names a credsStore; credential helpers are not supported, going anonymous"
                );
            }
            return Ok(None);
        };
        entry_credentials(path, key, entry)
    }
}

fn entry_credentials(
    path: &Path,
    key: &str,
    entry: &AuthEntry,
) -> Result<Option<Credentials>, AuthError> {
    if let Some(token) = entry.registrytoken.as_ref().filter(|t| !t.is_empty()) {
        return Ok(Some(Credentials::Bearer {
            token: token.clone(),
        }));
    }
    if entry.identitytoken.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(AuthError::IdentityTokenUnsupported {
            path: path.to_path_buf(),
            key: key.to_string(),
        });
    }
    if let Some(auth) = entry.auth.as_ref().filter(|a| !a.is_empty()) {
        let bad = || AuthError::BadAuthField {
            path: path.to_path_buf(),
            key: key.to_string(),
        };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| bad())?;
        let text = String::from_utf8(decoded).map_err(|_| bad())?;
        let (user, pass) = text.split_once(':').ok_or_else(bad)?;
        return Ok(Some(Credentials::basic(user, pass)));
    }
    match (&entry.username, &entry.password) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credentials::basic(u.clone(), p.clone()))),
        _ => Ok(None),
    }
}

/// The config key docker uses for a registry: Docker Hub's legacy URL, else `host[:port]`.
pub fn registry_key(registry: &str) -> String {
    normalize_key(registry)
}

/// Reduces a config key as docker's `ConvertToHostname` does (scheme and path dropped), mapping
/// every Docker Hub spelling to [`DOCKER_HUB_CONFIG_KEY`].
fn normalize_key(key: &str) -> String {
    let trimmed = key.trim();
    let without_scheme = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .unwrap_or(trimmed);
    let host = without_scheme
        .split('/')
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => {
            DOCKER_HUB_CONFIG_KEY.to_string()
        }
        _ => host,
    }
}

/// Explicit credentials (flags) layered over a Docker config.
#[derive(Debug, Default)]
pub struct CredentialStore {
    explicit: BTreeMap<String, Credentials>,
    docker: Option<DockerConfig>,
}

impl CredentialStore {
    /// No docker config, only what [`CredentialStore::set`] adds.
    pub fn new() -> CredentialStore {
        CredentialStore::default()
    }

    /// Reads docker's config from the environment (`DOCKER_CONFIG`, `HOME`).
    pub fn from_env() -> Result<CredentialStore, AuthError> {
        Ok(CredentialStore {
            explicit: BTreeMap::new(),
            docker: Some(DockerConfig::from_env()?),
        })
    }

    pub fn with_docker_config(config: DockerConfig) -> CredentialStore {
        CredentialStore {
            explicit: BTreeMap::new(),
            docker: Some(config),
        }
    }

    /// Explicit credentials for `registry`; they override the docker config.
    pub fn set(&mut self, registry: &str, credentials: Credentials) {
        self.explicit.insert(registry_key(registry), credentials);
    }

    pub fn resolve(&self, registry: &str) -> Result<Credentials, AuthError> {
        if let Some(c) = self.explicit.get(&registry_key(registry)) {
            return Ok(c.clone());
        }
        match &self.docker {
            Some(cfg) => Ok(cfg.credentials_for(registry)?.unwrap_or_default()),
            None => Ok(Credentials::Anonymous),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn cfg(json: &str) -> DockerConfig {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(json.as_bytes()).unwrap();
        DockerConfig::load(f.path()).unwrap()
    }

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn auth_field_and_key_normalisation() {
        let c = cfg(&format!(
            r#"{{"auths": {{
                "https://index.docker.io/v1/": {{"auth": "{}"}},
                "https://my.registry:5000/v2/": {{"auth": "{}"}},
                "plain.example": {{"username": "u3", "password": "p3"}}
            }}}}"#,
            b64("hub:secret:with:colons"),
            b64("me:pw")
        ));
        assert_eq!(
            c.credentials_for("docker.io").unwrap(),
            Some(Credentials::basic("hub", "secret:with:colons"))
        );
        assert_eq!(
            c.credentials_for("index.docker.io").unwrap(),
            Some(Credentials::basic("hub", "secret:with:colons"))
        );
        assert_eq!(
            c.credentials_for("my.registry:5000").unwrap(),
            Some(Credentials::basic("me", "pw"))
        );
        assert_eq!(c.credentials_for("my.registry").unwrap(), None);
        assert_eq!(
            c.credentials_for("PLAIN.example").unwrap(),
            Some(Credentials::basic("u3", "p3"))
        );
        assert_eq!(c.credentials_for("other:1").unwrap(), None);
    }

    #[test]
    fn registry_token_is_bearer() {
        let c = cfg(r#"{"auths": {"r.example": {"registrytoken": "tok"}}}"#);
        assert_eq!(
            c.credentials_for("r.example").unwrap(),
            Some(Credentials::Bearer {
                token: "tok".into()
            })
        );
    }

    #[test]
    fn bad_auth_field_names_the_entry() {
        let c = cfg(r#"{"auths": {"r.example": {"auth": "!!!"}}}"#);
        let err = c.credentials_for("r.example").unwrap_err();
        assert!(
            matches!(&err, AuthError::BadAuthField { key, .. } if key == "r.example"),
            "{err}"
        );
        let c = cfg(&format!(
            r#"{{"auths": {{"r.example": {{"auth": "{}"}}}}}}"#,
            b64("nocolon")
        ));
        assert!(matches!(
            c.credentials_for("r.example"),
            Err(AuthError::BadAuthField { .. })
        ));
    }

    #[test]
    fn cred_helper_for_registry_is_a_clear_error() {
        let c = cfg(
            r#"{"credHelpers": {"gcr.io": "gcloud"}, "credsStore": "desktop", "auths": {"x.io": {}}}"#,
        );
        let err = c.credentials_for("gcr.io").unwrap_err();
        assert!(
            err.to_string().contains("gcloud") && err.to_string().contains("gcr.io"),
            "{err}"
        );
        // A global credsStore alone does not fail anonymous pulls from other registries.
        assert_eq!(c.credentials_for("x.io").unwrap(), None);
        assert_eq!(c.credentials_for("quay.io").unwrap(), None);
    }

    #[test]
    fn identity_token_is_refused() {
        let c = cfg(r#"{"auths": {"r.example": {"identitytoken": "refresh"}}}"#);
        assert!(matches!(
            c.credentials_for("r.example"),
            Err(AuthError::IdentityTokenUnsupported { .. })
        ));
    }

    #[test]
    fn malformed_config_names_the_file() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"{not json").unwrap();
        let err = DockerConfig::load(f.path()).unwrap_err();
        assert!(
            err.to_string().contains(&f.path().display().to_string()),
            "{err}"
        );
    }

    #[test]
    fn explicit_credentials_override_config() {
        let c = cfg(&format!(
            r#"{{"auths": {{"r.example:5000": {{"auth": "{}"}}}}}}"#,
            b64("a:b")
        ));
        let mut store = CredentialStore::with_docker_config(c);
        assert_eq!(
            store.resolve("r.example:5000").unwrap(),
            Credentials::basic("a", "b")
        );
        store.set("http://r.example:5000", Credentials::basic("flag", "pw"));
        assert_eq!(
            store.resolve("r.example:5000").unwrap(),
            Credentials::basic("flag", "pw")
        );
        assert_eq!(store.resolve("elsewhere").unwrap(), Credentials::Anonymous);
    }

    #[test]
    fn config_path_follows_docker_config_env() {
        let p = docker_config_path(Some("/cfg".into()), Some("/home/u".into()));
        assert_eq!(p, Some(PathBuf::from("/cfg/config.json")));
        let p = docker_config_path(None, Some("/home/u".into()));
        assert_eq!(p, Some(PathBuf::from("/home/u/.docker/config.json")));
        let p = docker_config_path(Some("".into()), None);
        assert_eq!(p, None);
    }

    #[test]
    fn debug_redacts_secrets() {
        let s = format!("{:?}", Credentials::basic("u", "hunter2"));
        assert!(!s.contains("hunter2"));
    }
}

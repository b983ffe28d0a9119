//! Registry credentials: explicit values (flags) and Docker's `config.json`.
//!
//! Resolution for one registry, first match wins:
//! 1. an explicit [`Credentials`] registered for that registry (e.g. from `--username/--password`);
//! 2. from `$DOCKER_CONFIG/config.json` (or `~/.docker/config.json`), with keys matched the way
//!    docker matches them (reduced to `host[:port]`, scheme and path dropped; Docker Hub stored
//!    under `https://index.docker.io/v1/`): the `credHelpers` helper for the registry, else the
//!    `credsStore` helper, run as docker runs them ([`helper`]); when the helper has no login
//!    for the registry, the `auths` entry;
//! 3. anonymous.
//!
//! A `credHelpers` helper that is not installed, or that fails, is an error (going anonymous would
//! turn a helper-managed login into a confusing 401 later). A missing `credsStore` helper is only
//! logged: it applies to every registry, including public ones that need no login.
//!
//! The token exchange itself (WWW-Authenticate `Bearer realm=…,service=…` → token endpoint) is done
//! by `oci-client`; this module only decides which secret to present.

mod helper;

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
        "docker config {path} names credential helper {helper:?} for registry {registry}, but \
         {program} is not installed (not on PATH)"
    )]
    CredentialHelperMissing {
        path: PathBuf,
        registry: String,
        helper: String,
        program: String,
    },
    #[error(
        "credential helper {program} (docker config {path}) for registry {registry}: {message}"
    )]
    CredentialHelperFailed {
        path: PathBuf,
        registry: String,
        program: String,
        message: String,
    },
    #[error(
        "credential helper {helper:?} (docker config {path}) holds an identity token (OAuth2 refresh \
         token) for registry {registry}, which is not supported; use a username and password or a \
         registry token"
    )]
    HelperIdentityTokenUnsupported {
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
    /// Where credential helpers are looked up; `None`: on `PATH`.
    helper_dir: Option<PathBuf>,
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
            helper_dir: None,
        })
    }

    /// Looks credential helpers up in `dir` instead of on `PATH`.
    pub fn with_helper_dir(mut self, dir: impl Into<PathBuf>) -> DockerConfig {
        self.helper_dir = Some(dir.into());
        self
    }

    /// Credentials for `registry` (as written in a reference: `docker.io`, `host:port`).
    pub fn credentials_for(&self, registry: &str) -> Result<Option<Credentials>, AuthError> {
        let wanted = registry_key(registry);
        let path = &self.path;
        let dedicated = self
            .file
            .cred_helpers
            .iter()
            .find(|(k, _)| normalize_key(k) == wanted)
            .map(|(_, helper)| helper);
        let store = self.file.creds_store.as_ref().filter(|s| !s.is_empty());
        if let Some(helper) = dedicated.or(store) {
            match helper::get(self.helper_dir.as_deref(), helper, &wanted) {
                Ok(helper::Answer::Login { username, secret }) => {
                    return Ok(Some(Credentials::basic(username, secret)))
                }
                Ok(helper::Answer::IdentityToken) => {
                    return Err(AuthError::HelperIdentityTokenUnsupported {
                        path: path.clone(),
                        registry: registry.to_string(),
                        helper: helper.clone(),
                    })
                }
                Ok(helper::Answer::NotFound) => {}
                Err(helper::Failure::Missing { program }) if dedicated.is_none() => {
                    tracing::warn!(config = %path.display(), %program, registry,
                        "docker config names a credsStore that is not installed; using the config's auths");
                }
                Err(helper::Failure::Missing { program }) => {
                    return Err(AuthError::CredentialHelperMissing {
                        path: path.clone(),
                        registry: registry.to_string(),
                        helper: helper.clone(),
                        program,
                    })
                }
                Err(helper::Failure::Failed { program, message }) => {
                    return Err(AuthError::CredentialHelperFailed {
                        path: path.clone(),
                        registry: registry.to_string(),
                        program,
                        message,
                    })
                }
            }
        }
        let found = self
            .file
            .auths
            .iter()
            .find(|(k, _)| normalize_key(k) == wanted);
        match found {
            Some((key, entry)) => entry_credentials(path, key, entry),
            None => Ok(None),
        }
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

    fn cfg_with_helpers(json: &str, dir: &Path) -> DockerConfig {
        cfg(json).with_helper_dir(dir)
    }

    #[test]
    fn cred_helpers_answer_before_auths_entries() {
        let dir = tempfile::tempdir().unwrap();
        helper::tests::write_helper(
            dir.path(),
            "gcloud",
            &[("gcr.io", "oauth2accesstoken", "ya29")],
        );
        helper::tests::write_helper(
            dir.path(),
            "desktop",
            &[
                ("x.io", "store-user", "store-pw"),
                ("https://index.docker.io/v1/", "hub", "hubpw"),
                ("tok.io", "<token>", "refresh"),
            ],
        );
        let c = cfg_with_helpers(
            &format!(
                r#"{{"credHelpers": {{"gcr.io": "gcloud", "broken.example": "desktop", "none.io": "absent"}},
                    "credsStore": "desktop",
                    "auths": {{"x.io": {{}}, "y.io": {{"auth": "{}"}}}}}}"#,
                b64("file:pw")
            ),
            dir.path(),
        );
        let got = |r: &str| c.credentials_for(r);
        assert_eq!(
            got("gcr.io").unwrap(),
            Some(Credentials::basic("oauth2accesstoken", "ya29"))
        );
        assert_eq!(
            got("x.io").unwrap(),
            Some(Credentials::basic("store-user", "store-pw"))
        );
        // Docker Hub is asked for under its legacy key.
        assert_eq!(
            got("docker.io").unwrap(),
            Some(Credentials::basic("hub", "hubpw"))
        );
        // The store has nothing for y.io: the auths entry answers; nothing at all: anonymous.
        assert_eq!(got("y.io").unwrap(), Some(Credentials::basic("file", "pw")));
        assert_eq!(got("quay.io").unwrap(), None);
        let e = got("broken.example").unwrap_err();
        assert!(
            matches!(&e, AuthError::CredentialHelperFailed { .. })
                && e.to_string().contains("the keychain is locked"),
            "{e}"
        );
        let e = got("none.io").unwrap_err();
        assert!(
            matches!(&e, AuthError::CredentialHelperMissing { .. })
                && e.to_string().contains("docker-credential-absent"),
            "{e}"
        );
        assert!(matches!(
            got("tok.io"),
            Err(AuthError::HelperIdentityTokenUnsupported { .. })
        ));
    }

    #[test]
    fn a_missing_creds_store_does_not_fail_other_registries() {
        let dir = tempfile::tempdir().unwrap();
        let c = cfg_with_helpers(
            &format!(
                r#"{{"credsStore": "desktop", "auths": {{"y.io": {{"auth": "{}"}}}}}}"#,
                b64("file:pw")
            ),
            dir.path(),
        );
        assert_eq!(c.credentials_for("quay.io").unwrap(), None);
        assert_eq!(
            c.credentials_for("y.io").unwrap(),
            Some(Credentials::basic("file", "pw"))
        );
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

//! A development certificate authority: one CA, one certificate per node, one for the CLI.

use crate::error::TlsError;
use crate::files::{write_file, write_private_file};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, PublicKeyData,
};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// File name of the CA certificate inside a certs directory.
pub const CA_CERT_FILE: &str = "ca.pem";
/// File name of the CA private key inside a certs directory.
pub const CA_KEY_FILE: &str = "ca-key.pem";
/// Name of the identity issued for the CLI (`client.pem`, `client-key.pem`).
pub const CLIENT_NAME: &str = "client";

const CA_COMMON_NAME: &str = "slipway dev CA";
const ORGANIZATION: &str = "slipway";
/// How many years certificates stay valid (from January 1st of the current year).
const VALID_YEARS: i32 = 10;

/// What [`init_certs`] does when `ca.pem` / `ca-key.pem` already exist.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExistingCa {
    /// Fail with [`TlsError::CaExists`] (the default: never silently replace a CA).
    #[default]
    Refuse,
    /// Create a new CA over the old one (`--force`); every certificate must be reissued.
    Overwrite,
    /// Sign the requested certificates with the existing CA (adding a node to a cluster).
    Reuse,
}

/// What [`init_certs`] issues.
#[derive(Clone, Debug, Default)]
pub struct CertsOptions {
    /// Extra subject alternative names (DNS names or IP addresses) put on every node certificate,
    /// besides `127.0.0.1`, `localhost` and the node's own name.
    pub hosts: Vec<String>,
    /// Node names (`coordinator-1`, `worker-1`, ...): each gets `<name>.pem` and `<name>-key.pem`.
    pub names: Vec<String>,
    /// What to do with an existing CA.
    pub existing_ca: ExistingCa,
}

/// One issued identity: its name and the two files written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssuedIdentity {
    pub name: String,
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What [`init_certs`] wrote.
#[derive(Clone, Debug)]
pub struct IssuedCerts {
    pub ca_cert: PathBuf,
    pub ca_key: PathBuf,
    /// True when an existing CA signed the certificates ([`ExistingCa::Reuse`]).
    pub reused_ca: bool,
    /// The node identities in the order asked, then `client`.
    pub identities: Vec<IssuedIdentity>,
}

/// Creates (or reuses) a dev CA in `dir` and issues a certificate for every name in
/// `options.names` plus `client`. Private keys are written with mode 0600.
pub fn init_certs(dir: &Path, options: &CertsOptions) -> Result<IssuedCerts, TlsError> {
    for name in &options.names {
        validate_name(name)?;
    }
    std::fs::create_dir_all(dir).map_err(|source| TlsError::CreateDir {
        path: dir.to_path_buf(),
        source,
    })?;
    let ca_cert = dir.join(CA_CERT_FILE);
    let ca_key = dir.join(CA_KEY_FILE);
    let ca_exists = ca_cert.exists() || ca_key.exists();
    let (issuer, reused_ca) = match (ca_exists, options.existing_ca) {
        (true, ExistingCa::Refuse) => return Err(TlsError::CaExists { path: ca_cert }),
        (true, ExistingCa::Reuse) => (load_ca(&ca_cert, &ca_key)?, true),
        (false, ExistingCa::Reuse) => return Err(TlsError::CaMissing { path: ca_cert }),
        (_, ExistingCa::Refuse | ExistingCa::Overwrite) => (create_ca(&ca_cert, &ca_key)?, false),
    };

    let mut identities = Vec::new();
    for name in &options.names {
        let mut sans = vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
            name.clone(),
        ];
        for host in &options.hosts {
            if !sans.contains(host) {
                sans.push(host.clone());
            }
        }
        let usages = [
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        identities.push(issue(dir, name, sans, &usages, &issuer)?);
    }
    identities.push(issue(
        dir,
        CLIENT_NAME,
        vec![CLIENT_NAME.to_string()],
        &[ExtendedKeyUsagePurpose::ClientAuth],
        &issuer,
    )?);
    Ok(IssuedCerts {
        ca_cert,
        ca_key,
        reused_ca,
        identities,
    })
}

fn validate_name(name: &str) -> Result<(), TlsError> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name == "ca" || name == CLIENT_NAME {
        Some("reserved (ca and client are always written)")
    } else if name.starts_with(['.', '-']) {
        Some("must start with a letter or digit")
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.'))
    {
        Some("only letters, digits, '-' and '.' are allowed (it becomes a file name and a DNS SAN)")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(TlsError::InvalidName {
            name: name.to_string(),
            reason,
        }),
        None => Ok(()),
    }
}

fn ca_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, CA_COMMON_NAME);
    params
        .distinguished_name
        .push(DnType::OrganizationName, ORGANIZATION);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    set_validity(&mut params);
    params
}

fn create_ca(cert_path: &Path, key_path: &Path) -> Result<Issuer<'static, KeyPair>, TlsError> {
    let key = KeyPair::generate().map_err(|source| TlsError::Generate {
        what: "the CA key".to_string(),
        source,
    })?;
    let params = ca_params();
    let cert = params
        .self_signed(&key)
        .map_err(|source| TlsError::Generate {
            what: "the CA certificate".to_string(),
            source,
        })?;
    write_private_file(key_path, key.serialize_pem().as_bytes())?;
    write_file(cert_path, cert.pem().as_bytes())?;
    Ok(Issuer::new(params, key))
}

/// Rebuilds the issuer of a CA made by [`create_ca`]: the subject is fixed and the key
/// identifier is derived from the key, so the parameters are enough to sign new leaves. The
/// key must be the one certified by `ca.pem`.
fn load_ca(cert_path: &Path, key_path: &Path) -> Result<Issuer<'static, KeyPair>, TlsError> {
    let key_pem = std::fs::read_to_string(key_path).map_err(|source| TlsError::Read {
        path: key_path.to_path_buf(),
        source,
    })?;
    let key = KeyPair::from_pem(&key_pem).map_err(|source| TlsError::CaKey {
        path: key_path.to_path_buf(),
        source,
    })?;
    let ca = crate::material::read_certs(cert_path, "CA certificate")?;
    let spki = key.subject_public_key_info();
    let certified = ca.iter().any(|der| {
        der.as_ref()
            .windows(spki.len())
            .any(|w| w == spki.as_slice())
    });
    if !certified {
        return Err(TlsError::CaKeyMismatch {
            cert: cert_path.to_path_buf(),
            key: key_path.to_path_buf(),
        });
    }
    Ok(Issuer::new(ca_params(), key))
}

fn issue(
    dir: &Path,
    name: &str,
    sans: Vec<String>,
    usages: &[ExtendedKeyUsagePurpose],
    issuer: &Issuer<'static, KeyPair>,
) -> Result<IssuedIdentity, TlsError> {
    let generate = |source| TlsError::Generate {
        what: format!("the certificate of {name}"),
        source,
    };
    let mut params = CertificateParams::new(sans).map_err(generate)?;
    params.distinguished_name.push(DnType::CommonName, name);
    params
        .distinguished_name
        .push(DnType::OrganizationName, ORGANIZATION);
    params.use_authority_key_identifier_extension = true;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = usages.to_vec();
    set_validity(&mut params);
    let key = KeyPair::generate().map_err(generate)?;
    let cert = params.signed_by(&key, issuer).map_err(generate)?;
    let cert_path = dir.join(format!("{name}.pem"));
    let key_path = dir.join(format!("{name}-key.pem"));
    write_private_file(&key_path, key.serialize_pem().as_bytes())?;
    write_file(&cert_path, cert.pem().as_bytes())?;
    Ok(IssuedIdentity {
        name: name.to_string(),
        cert: cert_path,
        key: key_path,
    })
}

/// Valid from January 1st of last year (tolerates clock skew) for [`VALID_YEARS`] years.
fn set_validity(params: &mut CertificateParams) {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    // 31_556_952 s is the mean Gregorian year; clamp keeps date_time_ymd in its range.
    let year = (1970 + secs / 31_556_952).clamp(2000, 9000) as i32;
    params.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    params.not_after = rcgen::date_time_ymd(year + VALID_YEARS, 1, 1);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(names: &[&str]) -> CertsOptions {
        CertsOptions {
            hosts: vec!["10.0.0.7".into(), "farm.example".into()],
            names: names.iter().map(|n| n.to_string()).collect(),
            ..CertsOptions::default()
        }
    }

    #[test]
    fn writes_every_file_with_private_keys_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let issued = init_certs(dir.path(), &opts(&["coordinator-1", "worker-1"])).unwrap();
        assert!(!issued.reused_ca);
        let names: Vec<_> = issued.identities.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(names, ["coordinator-1", "worker-1", "client"]);
        for file in [
            "ca.pem",
            "ca-key.pem",
            "coordinator-1.pem",
            "coordinator-1-key.pem",
            "worker-1.pem",
            "worker-1-key.pem",
            "client.pem",
            "client-key.pem",
        ] {
            let meta = std::fs::metadata(dir.path().join(file)).unwrap();
            let mode = meta.permissions().mode() & 0o777;
            if file.ends_with("-key.pem") {
                assert_eq!(mode, 0o600, "{file}");
            }
            assert!(meta.len() > 100, "{file} is too small");
        }
    }

    #[test]
    fn refuses_to_overwrite_a_ca_unless_asked() {
        let dir = tempfile::tempdir().unwrap();
        init_certs(dir.path(), &opts(&["worker-1"])).unwrap();
        let before = std::fs::read(dir.path().join(CA_CERT_FILE)).unwrap();
        let err = init_certs(dir.path(), &opts(&["worker-2"])).unwrap_err();
        assert!(matches!(err, TlsError::CaExists { .. }), "{err}");
        assert!(!dir.path().join("worker-2.pem").exists());

        let mut reuse = opts(&["worker-2"]);
        reuse.existing_ca = ExistingCa::Reuse;
        let issued = init_certs(dir.path(), &reuse).unwrap();
        assert!(issued.reused_ca);
        assert_eq!(
            std::fs::read(dir.path().join(CA_CERT_FILE)).unwrap(),
            before
        );

        let mut force = opts(&["worker-3"]);
        force.existing_ca = ExistingCa::Overwrite;
        init_certs(dir.path(), &force).unwrap();
        assert_ne!(
            std::fs::read(dir.path().join(CA_CERT_FILE)).unwrap(),
            before
        );
    }

    #[test]
    fn reuse_without_a_ca_fails() {
        let dir = tempfile::tempdir().unwrap();
        let mut reuse = opts(&["worker-1"]);
        reuse.existing_ca = ExistingCa::Reuse;
        let err = init_certs(dir.path(), &reuse).unwrap_err();
        assert!(matches!(err, TlsError::CaMissing { .. }), "{err}");
    }

    #[test]
    fn reuse_with_a_foreign_key_fails() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        init_certs(a.path(), &opts(&[])).unwrap();
        init_certs(b.path(), &opts(&[])).unwrap();
        std::fs::copy(b.path().join(CA_KEY_FILE), a.path().join(CA_KEY_FILE)).unwrap();
        let mut reuse = opts(&["worker-1"]);
        reuse.existing_ca = ExistingCa::Reuse;
        let err = init_certs(a.path(), &reuse).unwrap_err();
        assert!(matches!(err, TlsError::CaKeyMismatch { .. }), "{err}");
    }

    #[test]
    fn bad_names_are_refused_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "ca", "client", "../x", "a/b", "-x", "a b"] {
            let err = init_certs(dir.path(), &opts(&[bad])).unwrap_err();
            assert!(matches!(err, TlsError::InvalidName { .. }), "{bad}: {err}");
        }
        assert!(!dir.path().join(CA_CERT_FILE).exists());
    }
}

//! Loading a CA and one identity (certificate chain + private key) from a certs directory.

use crate::certs::CA_CERT_FILE;
use crate::error::TlsError;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::fmt;
use std::path::{Path, PathBuf};

/// The CA certificate plus one identity, as PEM text (for tonic) and DER (for rustls).
pub struct TlsMaterial {
    /// The identity's name (`coordinator-1`, `client`, ...).
    pub name: String,
    /// The directory the files were read from.
    pub dir: PathBuf,
    ca_pem: Vec<u8>,
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    ca: Vec<CertificateDer<'static>>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl TlsMaterial {
    /// Reads `dir/ca.pem`, `dir/<name>.pem` and `dir/<name>-key.pem`; every error names the file.
    pub fn load(dir: &Path, name: &str) -> Result<TlsMaterial, TlsError> {
        let ca_path = dir.join(CA_CERT_FILE);
        let cert_path = dir.join(format!("{name}.pem"));
        let key_path = dir.join(format!("{name}-key.pem"));
        let ca_pem = read(&ca_path)?;
        let cert_pem = read(&cert_path)?;
        let key_pem = read(&key_path)?;
        let ca = parse_certs(&ca_path, &ca_pem, "CA certificate")?;
        let chain = parse_certs(&cert_path, &cert_pem, "certificate")?;
        let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|source| match source {
            rustls_pki_types::pem::Error::NoItemsFound => TlsError::PemEmpty {
                path: key_path.clone(),
                what: "private key",
            },
            source => TlsError::Pem {
                path: key_path.clone(),
                what: "private key",
                source,
            },
        })?;
        Ok(TlsMaterial {
            name: name.to_string(),
            dir: dir.to_path_buf(),
            ca_pem,
            cert_pem,
            key_pem,
            ca,
            chain,
            key,
        })
    }

    /// The CA certificate(s) as PEM text.
    pub fn ca_pem(&self) -> &[u8] {
        &self.ca_pem
    }

    /// This identity's certificate chain as PEM text.
    pub fn cert_pem(&self) -> &[u8] {
        &self.cert_pem
    }

    /// This identity's private key as PEM text.
    pub fn key_pem(&self) -> &[u8] {
        &self.key_pem
    }

    /// The CA certificate(s), DER.
    pub fn ca_certs(&self) -> &[CertificateDer<'static>] {
        &self.ca
    }

    /// This identity's certificate chain, DER, leaf first.
    pub fn cert_chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// This identity's private key, DER.
    pub fn private_key(&self) -> PrivateKeyDer<'static> {
        self.key.clone_key()
    }

    /// Path of the CA certificate (for error messages).
    pub fn ca_path(&self) -> PathBuf {
        self.dir.join(CA_CERT_FILE)
    }
}

impl Clone for TlsMaterial {
    fn clone(&self) -> Self {
        TlsMaterial {
            name: self.name.clone(),
            dir: self.dir.clone(),
            ca_pem: self.ca_pem.clone(),
            cert_pem: self.cert_pem.clone(),
            key_pem: self.key_pem.clone(),
            ca: self.ca.clone(),
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

/// Never prints key material.
impl fmt::Debug for TlsMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsMaterial")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read {
        path: path.to_path_buf(),
        source,
    })
}

fn parse_certs(
    path: &Path,
    pem: &[u8],
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: path.to_path_buf(),
            what,
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::PemEmpty {
            path: path.to_path_buf(),
            what,
        });
    }
    Ok(certs)
}

/// Reads and parses a PEM file of certificates.
pub(crate) fn read_certs(
    path: &Path,
    what: &'static str,
) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    parse_certs(path, &read(path)?, what)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{init_certs, CertsOptions};

    fn certs_dir() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let options = CertsOptions {
            names: vec!["worker-1".into()],
            ..CertsOptions::default()
        };
        init_certs(dir.path(), &options).unwrap();
        dir
    }

    #[test]
    fn loads_what_init_certs_wrote() {
        let dir = certs_dir();
        let m = TlsMaterial::load(dir.path(), "worker-1").unwrap();
        assert_eq!(m.ca_certs().len(), 1);
        assert_eq!(m.cert_chain().len(), 1);
        assert!(matches!(m.private_key(), PrivateKeyDer::Pkcs8(_)));
        let c = m.clone();
        assert_eq!(c.cert_pem(), m.cert_pem());
        assert!(!format!("{m:?}").contains("PRIVATE"));
    }

    #[test]
    fn a_missing_file_is_named() {
        let dir = certs_dir();
        let err = TlsMaterial::load(dir.path(), "worker-9").unwrap_err();
        assert!(err.to_string().contains("worker-9.pem"), "{err}");
        std::fs::remove_file(dir.path().join("worker-1-key.pem")).unwrap();
        let err = TlsMaterial::load(dir.path(), "worker-1").unwrap_err();
        assert!(err.to_string().contains("worker-1-key.pem"), "{err}");
    }

    #[test]
    fn garbage_pem_is_named() {
        let dir = certs_dir();
        std::fs::write(dir.path().join("ca.pem"), b"not a certificate\n").unwrap();
        let err = TlsMaterial::load(dir.path(), "worker-1").unwrap_err();
        assert!(matches!(err, TlsError::PemEmpty { .. }), "{err}");
        assert!(err.to_string().contains("ca.pem"), "{err}");
        std::fs::write(
            dir.path().join("worker-1-key.pem"),
            b"-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        std::fs::copy(dir.path().join("worker-1.pem"), dir.path().join("ca.pem")).unwrap();
        let err = TlsMaterial::load(dir.path(), "worker-1").unwrap_err();
        assert!(err.to_string().contains("worker-1-key.pem"), "{err}");
    }
}

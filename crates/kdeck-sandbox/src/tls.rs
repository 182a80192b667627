//! The sandbox's own certificate authority and serving certificate, generated on
//! first start and kept in the data directory so kubeconfig entries stay valid
//! across restarts.

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::Arc;

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("cannot create the sandbox's certificates: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("cannot read or write {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("the certificate files in {dir} are unreadable ({reason}); delete them to generate new ones")]
    Corrupt { dir: String, reason: String },
    #[error("cannot configure TLS: {0}")]
    Config(#[from] rustls::Error),
}

pub struct Certificates {
    pub ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

const CA_FILE: &str = "ca.crt";
const CERT_FILE: &str = "server.crt";
const KEY_FILE: &str = "server.key";

impl Certificates {
    /// Loads the certificates from `dir`, generating them on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, TlsError> {
        let read = |f: &str| fs::read_to_string(dir.join(f));
        if let (Ok(ca_pem), Ok(cert_pem), Ok(key_pem)) = (read(CA_FILE), read(CERT_FILE), read(KEY_FILE)) {
            return Ok(Certificates { ca_pem, cert_pem, key_pem });
        }
        let certs = Self::generate()?;
        for (file, text) in [(CA_FILE, &certs.ca_pem), (CERT_FILE, &certs.cert_pem), (KEY_FILE, &certs.key_pem)] {
            crate::fsutil::write_private(&dir.join(file), text.as_bytes())
                .map_err(|source| TlsError::Io { path: dir.join(file).display().to_string(), source })?;
        }
        Ok(certs)
    }

    fn generate() -> Result<Self, TlsError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "kdeck-sandbox-ca");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params.self_signed(&ca_key)?;

        let mut params = CertificateParams::new(vec!["localhost".to_string()])?;
        params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.distinguished_name.push(DnType::CommonName, "kdeck-sandbox");
        let key = KeyPair::generate()?;
        let issuer = Issuer::new(ca_params, ca_key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Certificates { ca_pem: ca_cert.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// A new CA and a serving certificate signed by it for `hosts` (IP addresses
    /// become IP SANs, the rest DNS names), as PEM: (ca, cert, key). What
    /// webhook-certificate generators (kube-webhook-certgen) make.
    pub fn issue_for(hosts: &[String]) -> Result<(String, String, String), TlsError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::OrganizationName, "nil1");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params.self_signed(&ca_key)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        for host in hosts.iter().filter(|h| !h.is_empty()) {
            params.subject_alt_names.push(match host.parse::<IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(host.clone().try_into()?),
            });
        }
        params.distinguished_name.push(DnType::OrganizationName, "nil2");
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &Issuer::new(ca_params, ca_key))?;
        Ok((ca_cert.pem(), cert.pem(), key.serialize_pem()))
    }

    pub fn server_config(&self, dir: &Path) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let corrupt = |reason: String| TlsError::Corrupt { dir: dir.display().to_string(), reason };
        let certs = CertificateDer::pem_slice_iter(self.cert_pem.as_bytes()).collect::<Result<Vec<_>, _>>().map_err(|e| corrupt(e.to_string()))?;
        let key = PrivateKeyDer::from_pem_slice(self.key_pem.as_bytes()).map_err(|e| corrupt(e.to_string()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut config =
            rustls::ServerConfig::builder_with_provider(provider).with_safe_default_protocol_versions()?.with_no_client_auth().with_single_cert(certs, key)?;
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

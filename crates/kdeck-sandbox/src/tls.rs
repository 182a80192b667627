//! The sandbox's own certificate authority and serving certificate, generated on
//! first start and kept in the data directory so kubeconfig entries stay valid
//! across restarts.
//!
//! The serving certificate names the API server as clients on the host reach it
//! (`localhost`, `127.0.0.1`) and as clients inside pods do: the `kubernetes`
//! Service's ClusterIP and DNS names, as kube-apiserver's own certificate does.
//! A data directory from before the in-cluster names (recognised by having no
//! `ca.key`: the CA's key was not kept then) gets a new CA and certificate; the
//! kubeconfig entries and every namespace's `kube-root-ca.crt` follow on start.

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
/// The CA's key, kept so the serving certificate can be issued again.
const CA_KEY_FILE: &str = "ca.key";

/// The files of the certificates, all private.
pub const FILES: &[&str] = &[CA_FILE, CA_KEY_FILE, CERT_FILE, KEY_FILE];

/// The names clients inside pods reach the API server at: the `kubernetes`
/// Service's DNS names (its ClusterIP is [`KUBERNETES_IP`]).
const IN_CLUSTER_NAMES: [&str; 4] = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"];
/// The `kubernetes` Service's ClusterIP: the first address of the service range.
pub const KUBERNETES_IP: Ipv4Addr = Ipv4Addr::new(10, 96, 0, 1);

impl Certificates {
    /// Loads the certificates from `dir`, generating them on first use.
    pub fn load_or_create(dir: &Path) -> Result<Self, TlsError> {
        let read = |f: &str| fs::read_to_string(dir.join(f));
        if let (Ok(ca_pem), Ok(_), Ok(cert_pem), Ok(key_pem)) = (read(CA_FILE), read(CA_KEY_FILE), read(CERT_FILE), read(KEY_FILE)) {
            return Ok(Certificates { ca_pem, cert_pem, key_pem });
        }
        let (certs, ca_key_pem) = Self::generate()?;
        // The CA key first: with it, a set is complete (see the module's comment).
        for (file, text) in [(CA_FILE, &certs.ca_pem), (CERT_FILE, &certs.cert_pem), (KEY_FILE, &certs.key_pem), (CA_KEY_FILE, &ca_key_pem)] {
            crate::fsutil::write_private(&dir.join(file), text.as_bytes())
                .map_err(|source| TlsError::Io { path: dir.join(file).display().to_string(), source })?;
        }
        Ok(certs)
    }

    /// A new CA and serving certificate, and the CA's key (PEM).
    fn generate() -> Result<(Self, String), TlsError> {
        let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params.distinguished_name.push(DnType::CommonName, "kdeck-sandbox-ca");
        ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params.self_signed(&ca_key)?;

        let ca_key_pem = ca_key.serialize_pem();

        let names = std::iter::once("localhost").chain(IN_CLUSTER_NAMES).map(str::to_string).collect::<Vec<_>>();
        let mut params = CertificateParams::new(names)?;
        params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
        params.subject_alt_names.push(SanType::IpAddress(IpAddr::V4(KUBERNETES_IP)));
        params.distinguished_name.push(DnType::CommonName, "kdeck-sandbox");
        let key = KeyPair::generate()?;
        let issuer = Issuer::new(ca_params, ca_key);
        let cert = params.signed_by(&key, &issuer)?;
        Ok((Certificates { ca_pem: ca_cert.pem(), cert_pem: cert.pem(), key_pem: key.serialize_pem() }, ca_key_pem))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn der(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes()).unwrap().to_vec()
    }

    #[test]
    fn the_serving_certificate_names_the_api_server_inside_pods_too() {
        let dir = tempfile::tempdir().unwrap();
        let certs = Certificates::load_or_create(dir.path()).unwrap();
        let cert = der(&certs.cert_pem);
        let has = |needle: &[u8]| cert.windows(needle.len()).any(|w| w == needle);
        for name in IN_CLUSTER_NAMES {
            assert!(has(name.as_bytes()), "{name}");
        }
        // iPAddress SAN: tag 0x87, length 4, the address.
        assert!(has(&[0x87, 4, 10, 96, 0, 1]) && has(&[0x87, 4, 127, 0, 0, 1]));
        assert!(dir.path().join(CA_KEY_FILE).exists());
        assert_eq!(Certificates::load_or_create(dir.path()).unwrap().ca_pem, certs.ca_pem, "kept across starts");

        // A set from before the in-cluster names (no CA key) is made anew.
        fs::remove_file(dir.path().join(CA_KEY_FILE)).unwrap();
        let renewed = Certificates::load_or_create(dir.path()).unwrap();
        assert_ne!(renewed.ca_pem, certs.ca_pem);
        assert!(dir.path().join(CA_KEY_FILE).exists());
    }
}

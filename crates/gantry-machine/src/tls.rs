//! Per-instance TLS material: a CA, a server certificate for dockerd in the guest (SAN
//! 127.0.0.1, localhost) and a client certificate for the host side. Files are mode 0600.
//! The guest receives the CA and the server pair through fw_cfg at each boot.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

use crate::error::{MachineError, Result};
use crate::instance::Instance;

fn tls_err(message: impl std::fmt::Display) -> MachineError {
    MachineError::Tls { message: message.to_string() }
}

/// Writes `contents` to `path` with mode 0600 (created fresh).
pub fn write_private(path: &Path, contents: &[u8]) -> Result<()> {
    use std::io::Write;
    let _ = std::fs::remove_file(path);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts.open(path).map_err(MachineError::io("create", path))?;
    f.write_all(contents).map_err(MachineError::io("write", path))?;
    f.sync_all().map_err(MachineError::io("sync", path))
}

/// Ensures the instance's TLS material exists; generates all of it when any file is missing.
/// Returns whether it was (re)generated.
pub fn ensure(instance: &Instance) -> Result<bool> {
    let files = [
        instance.tls_ca(),
        instance.tls_ca_key(),
        instance.tls_server_cert(),
        instance.tls_server_key(),
        instance.tls_client_cert(),
        instance.tls_client_key(),
    ];
    if files.iter().all(|f| f.is_file()) && client_config(instance).is_ok() {
        return Ok(false);
    }
    std::fs::create_dir_all(instance.tls_dir()).map_err(MachineError::io("create", instance.tls_dir()))?;
    let m = generate().map_err(tls_err)?;
    write_private(&instance.tls_ca(), m.ca_cert.as_bytes())?;
    write_private(&instance.tls_ca_key(), m.ca_key.as_bytes())?;
    write_private(&instance.tls_server_cert(), m.server_cert.as_bytes())?;
    write_private(&instance.tls_server_key(), m.server_key.as_bytes())?;
    write_private(&instance.tls_client_cert(), m.client_cert.as_bytes())?;
    write_private(&instance.tls_client_key(), m.client_key.as_bytes())?;
    Ok(true)
}

/// Generated PEM material.
#[derive(Debug, Clone)]
pub struct Material {
    pub ca_cert: String,
    pub ca_key: String,
    pub server_cert: String,
    pub server_key: String,
    pub client_cert: String,
    pub client_key: String,
}

/// Generates a fresh CA, server and client certificate (ECDSA P-256).
pub fn generate() -> Result<Material, rcgen::Error> {
    let ca_key = KeyPair::generate()?;
    let mut ca_params = CertificateParams::new(Vec::<String>::new())?;
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca_params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    ca_params.distinguished_name = dn("Gantry instance CA");
    let ca_cert = ca_params.self_signed(&ca_key)?;
    let issuer = Issuer::new(ca_params, &ca_key);

    let server_key = KeyPair::generate()?;
    let mut sp = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])?;
    sp.distinguished_name = dn("gantry-engine");
    sp.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
    sp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let server_cert = sp.signed_by(&server_key, &issuer)?;

    let client_key = KeyPair::generate()?;
    let mut cp = CertificateParams::new(Vec::<String>::new())?;
    cp.distinguished_name = dn("gantry-client");
    cp.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    cp.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    let client_cert = cp.signed_by(&client_key, &issuer)?;

    Ok(Material {
        ca_cert: ca_cert.pem(),
        ca_key: ca_key.serialize_pem(),
        server_cert: server_cert.pem(),
        server_key: server_key.serialize_pem(),
        client_cert: client_cert.pem(),
        client_key: client_key.serialize_pem(),
    })
}

fn dn(cn: &str) -> DistinguishedName {
    let mut d = DistinguishedName::new();
    d.push(DnType::CommonName, cn);
    d.push(DnType::OrganizationName, "Gantry");
    d
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// A rustls client configuration trusting the instance CA and presenting the client certificate.
pub fn client_config(instance: &Instance) -> Result<Arc<rustls::ClientConfig>> {
    client_config_from(&instance.tls_ca(), Some((&instance.tls_client_cert(), &instance.tls_client_key())))
}

/// As [`client_config`], from explicit files; `identity` None = no client certificate
/// (used by tests to prove the engine refuses such clients).
pub fn client_config_from(ca: &Path, identity: Option<(&Path, &Path)>) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(ca).map_err(|e| tls_err(format!("{}: {e}", ca.display())))? {
        let c = c.map_err(|e| tls_err(format!("{}: {e}", ca.display())))?;
        roots.add(c).map_err(|e| tls_err(format!("{}: {e}", ca.display())))?;
    }
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_root_certificates(roots);
    let cfg = match identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(cert)
                .map_err(|e| tls_err(format!("{}: {e}", cert.display())))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| tls_err(format!("{}: {e}", cert.display())))?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| tls_err(format!("{}: {e}", key.display())))?;
            builder.with_client_auth_cert(chain, key).map_err(tls_err)?
        }
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(cfg))
}

/// The name the engine's certificate is checked against.
pub fn server_name() -> ServerName<'static> {
    ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into())
}

/// A rustls server configuration for the engine side (used by tests standing in for dockerd).
pub fn server_config(instance: &Instance) -> Result<Arc<rustls::ServerConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_file_iter(instance.tls_ca()).map_err(tls_err)? {
        roots.add(c.map_err(tls_err)?).map_err(tls_err)?;
    }
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(tls_err)?;
    let chain = CertificateDer::pem_file_iter(instance.tls_server_cert())
        .map_err(tls_err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(tls_err)?;
    let key = PrivateKeyDer::from_pem_file(instance.tls_server_key()).map_err(tls_err)?;
    let cfg = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_err)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain, key)
        .map_err(tls_err)?;
    Ok(Arc::new(cfg))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn generates_once_with_private_modes() {
        let t = tempfile::tempdir().unwrap();
        let i = Instance::at(t.path().join("default"));
        i.ensure().unwrap();
        assert!(ensure(&i).unwrap());
        assert!(!ensure(&i).unwrap(), "existing material is reused");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for f in [i.tls_ca(), i.tls_ca_key(), i.tls_server_key(), i.tls_client_key()] {
                assert_eq!(std::fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600, "{f:?}");
            }
        }
        client_config(&i).unwrap();
        server_config(&i).unwrap();
    }
}

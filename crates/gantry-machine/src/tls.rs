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

/// Ensures the instance's TLS material exists and works ([`verify`]); otherwise makes all of it
/// again. Returns whether it was (re)generated.
///
/// A new set is written in a directory beside `tls/` (`tls.partial/`) and renamed into place,
/// so a process killed meanwhile leaves the old set, no set, or the new one: never a mix (the
/// next start finishes the job).
pub fn ensure(instance: &Instance) -> Result<bool> {
    if verify(instance).is_ok() {
        return Ok(false);
    }
    let dir = instance.tls_dir();
    let partial = instance.tls_partial_dir();
    let io = |what: &'static str, p: &Path| MachineError::io(what, p.to_owned());
    if partial.exists() {
        std::fs::remove_dir_all(&partial).map_err(io("remove", &partial))?;
    }
    std::fs::create_dir_all(&partial).map_err(io("create", &partial))?;
    let m = generate().map_err(tls_err)?;
    for (file, pem) in [
        (instance.tls_ca(), &m.ca_cert),
        (instance.tls_ca_key(), &m.ca_key),
        (instance.tls_server_cert(), &m.server_cert),
        (instance.tls_server_key(), &m.server_key),
        (instance.tls_client_cert(), &m.client_cert),
        (instance.tls_client_key(), &m.client_key),
    ] {
        let name = file.file_name().map(std::path::Path::new).unwrap_or(&file);
        let path = partial.join(name);
        crate::private_file::write_atomic(&path, pem.as_bytes()).map_err(io("write", &path))?;
    }
    if dir.exists() {
        std::fs::remove_dir_all(&dir).map_err(io("remove", &dir))?;
    }
    std::fs::rename(&partial, &dir).map_err(io("rename", &partial))?;
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

/// Checks that the instance's TLS files make a working set: every file parses (the CA key,
/// which nothing uses after generation, only that), and a client
/// with the client certificate and a server with the server certificate (both trusting the CA)
/// complete a mutual TLS handshake in memory (so each key matches its certificate and both
/// certificates are the CA's). A set left half-written or mixed from two generations fails.
pub fn verify(instance: &Instance) -> Result<()> {
    PrivateKeyDer::from_pem_file(instance.tls_ca_key())
        .map_err(|e| tls_err(format!("{}: {e}", instance.tls_ca_key().display())))?;
    let mut client = rustls::Connection::Client(
        rustls::ClientConnection::new(client_config(instance)?, server_name()).map_err(tls_err)?,
    );
    let mut server =
        rustls::Connection::Server(rustls::ServerConnection::new(server_config(instance)?).map_err(tls_err)?);
    for _ in 0..16 {
        if !client.is_handshaking() && !server.is_handshaking() {
            return Ok(());
        }
        relay(&mut client, &mut server)?;
        relay(&mut server, &mut client)?;
    }
    Err(tls_err("the TLS handshake between Gantry's own certificates did not finish"))
}

/// Moves what `from` has to send into `to`.
fn relay(from: &mut rustls::Connection, to: &mut rustls::Connection) -> Result<()> {
    let mut bytes = Vec::new();
    while from.wants_write() {
        from.write_tls(&mut bytes).map_err(tls_err)?;
    }
    let mut rest = &bytes[..];
    while !rest.is_empty() {
        to.read_tls(&mut rest).map_err(tls_err)?;
        to.process_new_packets().map_err(|e| tls_err(format!("Gantry's own certificates do not fit together: {e}")))?;
    }
    Ok(())
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
        verify(&i).unwrap();
    }

    /// Whichever file is damaged (a half-written one, or one from another generation), the next
    /// start makes a new set that works.
    #[test]
    fn a_damaged_or_mixed_set_is_made_again() {
        let t = tempfile::tempdir().unwrap();
        let i = Instance::at(t.path().join("default"));
        i.ensure().unwrap();
        ensure(&i).unwrap();
        let other = Instance::at(t.path().join("other"));
        other.ensure().unwrap();
        ensure(&other).unwrap();
        let files = |i: &Instance| {
            [
                i.tls_ca(),
                i.tls_ca_key(),
                i.tls_server_cert(),
                i.tls_server_key(),
                i.tls_client_cert(),
                i.tls_client_key(),
            ]
        };
        for (n, f) in files(&i).into_iter().enumerate() {
            let good = std::fs::read(&f).unwrap();
            let mut damages = vec![good[..good.len() / 2].to_vec(), Vec::new()];
            // another set's CA key parses; nothing uses the CA key after generation
            if f != i.tls_ca_key() {
                damages.push(std::fs::read(&files(&other)[n]).unwrap());
            }
            for damage in damages {
                std::fs::write(&f, &damage).unwrap();
                assert!(verify(&i).is_err(), "{} damaged must not verify", f.display());
                assert!(ensure(&i).unwrap(), "{} damaged: made again", f.display());
                verify(&i).unwrap();
            }
        }
    }
}

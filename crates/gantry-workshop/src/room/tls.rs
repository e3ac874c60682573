//! The room server's TLS: a self-signed certificate made once per room folder (kept so the join
//! code stays the same across restarts), and on the participant's side a client that trusts that
//! one certificate, found by the pin the join code carries, and nothing else.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::digest::Digest;
use crate::error::{Result, WorkshopError};
use crate::sign::write_private;

/// File names in the room folder.
pub const CERT_FILE: &str = "room-cert.pem";
pub const KEY_FILE: &str = "room-key.pem";

/// The room's certificate and key.
#[derive(Debug, Clone)]
pub struct RoomCert {
    pub cert_pem: String,
    pub cert_der: Vec<u8>,
    key_pem: String,
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl RoomCert {
    /// The certificate in `dir`, made (for `names`: the addresses participants reach) if missing.
    pub fn load_or_create(dir: &Path, names: &[IpAddr]) -> Result<Self> {
        let (cert_path, key_path) = (dir.join(CERT_FILE), dir.join(KEY_FILE));
        if cert_path.is_file() && key_path.is_file() {
            let cert_pem = std::fs::read_to_string(&cert_path).map_err(WorkshopError::io("read", &cert_path))?;
            let key_pem = std::fs::read_to_string(&key_path).map_err(WorkshopError::io("read", &key_path))?;
            let cert_der = pem_der(&cert_pem).ok_or_else(|| WorkshopError::Key {
                path: cert_path.clone(),
                reason: "not a PEM certificate; delete it and the key to make a new pair".into(),
            })?;
            return Ok(Self { cert_pem, cert_der, key_pem });
        }
        let mut sans: Vec<String> = names.iter().map(IpAddr::to_string).collect();
        sans.push("localhost".into());
        let fail = |e: rcgen::Error| WorkshopError::invalid(format!("making the room's certificate: {e}"), "");
        let mut params = rcgen::CertificateParams::new(sans).map_err(fail)?;
        params.distinguished_name.push(rcgen::DnType::CommonName, "Gantry workshop room");
        params.not_before = rcgen::date_time_ymd(2024, 1, 1);
        params.not_after = rcgen::date_time_ymd(2099, 1, 1);
        let key = rcgen::KeyPair::generate().map_err(fail)?;
        let cert = params.self_signed(&key).map_err(fail)?;
        std::fs::create_dir_all(dir).map_err(WorkshopError::io("create", dir))?;
        write_private(&key_path, key.serialize_pem().as_bytes())?;
        std::fs::write(&cert_path, cert.pem()).map_err(WorkshopError::io("write", &cert_path))?;
        Ok(Self { cert_pem: cert.pem(), cert_der: cert.der().to_vec(), key_pem: key.serialize_pem() })
    }

    /// The certificate's SHA-256 (what the join code pins).
    pub fn digest(&self) -> Digest {
        Digest::of(&self.cert_der)
    }

    /// The server side.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let key = PrivateKeyDer::try_from(pem_der(&self.key_pem).unwrap_or_default()).map_err(|e| {
            WorkshopError::invalid(format!("the room's key: {e}"), "delete the room folder's key files")
        })?;
        let config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| WorkshopError::invalid(e.to_string(), ""))?
            .with_no_client_auth()
            .with_single_cert(vec![CertificateDer::from(self.cert_der.clone())], key)
            .map_err(|e| WorkshopError::invalid(format!("the room's certificate: {e}"), ""))?;
        Ok(Arc::new(config))
    }
}

/// A client that accepts exactly the certificate `pinned` says (by `JoinCode::pins`) and reports
/// the certificate it saw.
pub fn pinned_client(pinned: impl Fn(&Digest) -> bool + Send + Sync + 'static) -> Result<Arc<rustls::ClientConfig>> {
    let verifier = Arc::new(PinVerifier { pinned: Box::new(pinned), provider: provider() });
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| WorkshopError::invalid(e.to_string(), ""))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

struct PinVerifier {
    pinned: Box<dyn Fn(&Digest) -> bool + Send + Sync>,
    provider: Arc<rustls::crypto::CryptoProvider>,
}

impl std::fmt::Debug for PinVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PinVerifier")
    }
}

impl ServerCertVerifier for PinVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        if (self.pinned)(&Digest::of(end_entity.as_ref())) {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "the server's certificate is not the one the join code names (another machine, or the code is for another room)".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The DER bytes of the first PEM block.
pub fn pem_der(pem: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_and_kept() {
        let dir = tempfile::tempdir().expect("tmp");
        let first = RoomCert::load_or_create(dir.path(), &["127.0.0.1".parse().expect("ip")]).expect("cert");
        let again = RoomCert::load_or_create(dir.path(), &[]).expect("cert");
        assert_eq!(first.digest(), again.digest());
        assert!(first.server_config().is_ok());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(KEY_FILE)).expect("key").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

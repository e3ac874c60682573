//! The trainer's signature on a bundle: an Ed25519 key pair (`gantry workshop key`), the
//! signature over the manifest's bytes, and its check on import.
//!
//! Files: the private key is PKCS#8 in PEM (`-----BEGIN PRIVATE KEY-----`, mode 0600); the public
//! key is one line, `gantry-workshop-ed25519 <base64>`, that the trainer hands out (or its
//! fingerprint, `SHA256:<base64>`, which participants compare).

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkshopError};

/// The first word of a public key line.
pub const PUBLIC_KEY_PREFIX: &str = "gantry-workshop-ed25519";
const PEM_BEGIN: &str = "-----BEGIN PRIVATE KEY-----";
const PEM_END: &str = "-----END PRIVATE KEY-----";

/// A trainer's private key.
pub struct SigningKey {
    pair: Ed25519KeyPair,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey").field("public", &self.public().fingerprint()).finish()
    }
}

/// A trainer's public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey(Vec<u8>);

/// What follows the manifest in a bundle: the manifest's digest (a damaged manifest is refused
/// like a damaged part) and, in a signed bundle, the trainer's signature.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    pub manifest: crate::digest::Digest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<Signature>,
}

/// The signature stored in a bundle's seal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Signature {
    pub algorithm: String,
    /// The signer's public key, base64.
    pub public_key: String,
    /// Ed25519 over the manifest's bytes, base64.
    pub signature: String,
}

impl SigningKey {
    /// A new random key pair; returns it with its PKCS#8 document (what the key file holds).
    pub fn generate() -> Result<(Self, Vec<u8>)> {
        let rng = ring::rand::SystemRandom::new();
        let doc = Ed25519KeyPair::generate_pkcs8(&rng)
            .map_err(|_| WorkshopError::invalid("cannot make a key: no system randomness", "try again"))?;
        let bytes = doc.as_ref().to_vec();
        let pair = Ed25519KeyPair::from_pkcs8(&bytes)
            .map_err(|_| WorkshopError::invalid("the new key does not read back", "try again"))?;
        Ok((Self { pair }, bytes))
    }

    /// Reads a private key file written by [`write_key_pair`].
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(WorkshopError::io("read", path))?;
        let bad = |reason: &str| WorkshopError::Key { path: path.to_owned(), reason: reason.into() };
        let body =
            text.trim().strip_prefix(PEM_BEGIN).and_then(|t| t.strip_suffix(PEM_END)).ok_or_else(|| {
                bad("not a private key file made by `gantry workshop key` (no PEM PRIVATE KEY block)")
            })?;
        let der = STANDARD
            .decode(body.split_whitespace().collect::<String>())
            .map_err(|_| bad("the PEM block is not base64"))?;
        let pair =
            Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).map_err(|_| bad("not an Ed25519 private key (PKCS#8)"))?;
        Ok(Self { pair })
    }

    pub fn public(&self) -> PublicKey {
        PublicKey(self.pair.public_key().as_ref().to_vec())
    }

    /// Signs `message` (the manifest's bytes).
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature {
            algorithm: "ed25519".into(),
            public_key: STANDARD.encode(self.pair.public_key().as_ref()),
            signature: STANDARD.encode(self.pair.sign(message).as_ref()),
        }
    }
}

impl PublicKey {
    /// Parses a public key line (`gantry-workshop-ed25519 <base64> [comment]`) or bare base64.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let mut words = text.split_whitespace();
        let first = words.next().ok_or("the public key is empty")?;
        let b64 = if first == PUBLIC_KEY_PREFIX { words.next().ok_or("the key line has no key")? } else { first };
        let bytes = STANDARD.decode(b64).map_err(|_| format!("{b64:?} is not base64"))?;
        if bytes.len() != 32 {
            return Err(format!("an Ed25519 public key has 32 bytes, this one {}", bytes.len()));
        }
        Ok(Self(bytes))
    }

    /// Reads a `.pub` file, or takes `text_or_path` as the key line itself when no such file exists.
    pub fn read_or_parse(text_or_path: &str) -> Result<Self> {
        let path = Path::new(text_or_path);
        let (text, shown) = if path.is_file() {
            (std::fs::read_to_string(path).map_err(WorkshopError::io("read", path))?, path.to_owned())
        } else {
            (text_or_path.to_string(), PathBuf::from("the --trusted-key text"))
        };
        Self::parse(&text).map_err(|reason| WorkshopError::Key { path: shown, reason })
    }

    /// The one-line form the trainer hands out.
    pub fn to_line(&self) -> String {
        format!("{PUBLIC_KEY_PREFIX} {}", STANDARD.encode(&self.0))
    }

    /// `SHA256:<base64>` of the key, as SSH shows fingerprints: short enough to read aloud.
    pub fn fingerprint(&self) -> String {
        let digest = ring::digest::digest(&ring::digest::SHA256, &self.0);
        format!("SHA256:{}", STANDARD_NO_PAD.encode(digest.as_ref()))
    }
}

impl Signature {
    /// Checks the signature over `message`; returns the signer's key.
    pub fn verify(&self, message: &[u8]) -> std::result::Result<PublicKey, String> {
        if self.algorithm != "ed25519" {
            return Err(format!("unknown signature algorithm {:?}", self.algorithm));
        }
        let key = PublicKey::parse(&self.public_key)?;
        let signature = STANDARD.decode(&self.signature).map_err(|_| "the signature is not base64".to_string())?;
        UnparsedPublicKey::new(&ED25519, &key.0).verify(message, &signature).map_err(|_| {
            "the signature does not match the manifest: the bundle was changed after signing".to_string()
        })?;
        Ok(key)
    }
}

/// Writes a new key pair: `<stem>` (private, PEM, mode 0600, never overwritten) and `<stem>.pub`.
/// Returns the public key.
pub fn write_key_pair(stem: &Path) -> Result<PublicKey> {
    let (key, pkcs8) = SigningKey::generate()?;
    let public_path = PathBuf::from(format!("{}.pub", stem.display()));
    for p in [stem, public_path.as_path()] {
        if p.exists() {
            return Err(WorkshopError::invalid(
                format!("{} exists already", p.display()),
                "choose another name, or remove the old key first if you really mean to replace it",
            ));
        }
    }
    let b64 = STANDARD.encode(&pkcs8);
    let mut pem = format!("{PEM_BEGIN}\n");
    for chunk in b64.as_bytes().chunks(64) {
        pem.push_str(&String::from_utf8_lossy(chunk));
        pem.push('\n');
    }
    pem.push_str(PEM_END);
    pem.push('\n');
    write_private(stem, pem.as_bytes())?;
    let public = key.public();
    std::fs::write(&public_path, format!("{}\n", public.to_line()))
        .map_err(WorkshopError::io("write", &public_path))?;
    Ok(public)
}

/// Writes `bytes` to `path` readable by the owner only, replacing what was there (through a
/// temporary file, so a crash leaves the old or the new content).
pub(crate) fn write_private_replacing(path: &Path, bytes: &[u8]) -> Result<()> {
    let temp = path.with_extension("tmp");
    let _ = std::fs::remove_file(&temp);
    write_private(&temp, bytes)?;
    std::fs::rename(&temp, path).map_err(WorkshopError::io("write", path))
}

pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(WorkshopError::io("create", path))?;
    file.write_all(bytes).and_then(|()| file.sync_all()).map_err(WorkshopError::io("write", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_verify_and_refuse_changes() {
        let dir = tempfile::tempdir().expect("tmp");
        let stem = dir.path().join("trainer");
        let public = write_key_pair(&stem).expect("keys");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&stem).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        assert!(write_key_pair(&stem).is_err(), "never overwrites a key");
        let key = SigningKey::read(&stem).expect("read back");
        assert_eq!(key.public(), public);
        let line = std::fs::read_to_string(format!("{}.pub", stem.display())).expect("pub");
        assert_eq!(PublicKey::parse(&line), Ok(public.clone()));
        assert_eq!(PublicKey::read_or_parse(&line).expect("text"), public);
        assert!(public.fingerprint().starts_with("SHA256:"));

        let sig = key.sign(b"manifest");
        assert_eq!(sig.verify(b"manifest"), Ok(public));
        assert!(sig.verify(b"manifesT").is_err());
        let mut other = sig.clone();
        other.public_key = SigningKey::generate().expect("key").0.sign(b"x").public_key;
        assert!(other.verify(b"manifest").is_err());
        assert!(PublicKey::parse("gantry-workshop-ed25519 AAAA").is_err());
        assert!(SigningKey::read(&dir.path().join("trainer.pub")).is_err());
    }
}

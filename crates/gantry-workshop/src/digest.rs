//! Content digests (`sha256:<64 lowercase hex>`), as OCI and the Docker registry write them.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A SHA-256 content digest in OCI form: `sha256:` and 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS), ts(type = "string"))]
pub struct Digest(String);

impl Digest {
    /// Parses `sha256:<hex>`; any other algorithm, length or upper-case hex is refused.
    pub fn parse(text: &str) -> Result<Self, String> {
        let hex = text.strip_prefix("sha256:").ok_or_else(|| format!("{text:?} is not a sha256: digest"))?;
        if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(format!("{text:?} is not sha256: followed by 64 lowercase hex digits"));
        }
        Ok(Self(text.to_string()))
    }

    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let mut hasher = Hasher::new();
        hasher.update(bytes);
        hasher.finish()
    }

    /// The 64 hex digits.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// The whole `sha256:<hex>` text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `blobs/sha256/<hex>`: where an OCI image layout keeps this blob.
    pub fn blob_path(&self) -> String {
        format!("blobs/sha256/{}", self.hex())
    }

    /// The first 12 hex digits, as `docker images` shortens IDs.
    pub fn short(&self) -> &str {
        &self.hex()[..12]
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Digest {
    type Error = String;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<Digest> for String {
    fn from(d: Digest) -> Self {
        d.0
    }
}

// By hand rather than `#[serde(try_from, into)]`, which ts-rs cannot read.
impl Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::parse(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// Incremental SHA-256 (ring's, hardware-accelerated where the CPU has SHA instructions).
pub struct Hasher(ring::digest::Context);

impl Default for Hasher {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Hasher(sha256)")
    }
}

impl Hasher {
    pub fn new() -> Self {
        Self(ring::digest::Context::new(&ring::digest::SHA256))
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub fn finish(self) -> Digest {
        let hex: String = self.0.finish().as_ref().iter().map(|b| format!("{b:02x}")).collect();
        Digest(format!("sha256:{hex}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_of_known_inputs() {
        assert_eq!(Digest::of(b"").hex(), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        let d = Digest::of(b"abc");
        assert_eq!(d.as_str(), "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(d.blob_path(), format!("blobs/sha256/{}", d.hex()));
        assert_eq!(d.short(), "ba7816bf8f01");
        assert_eq!(Digest::parse(d.as_str()), Ok(d));
    }

    #[test]
    fn malformed_digests_are_refused() {
        for bad in [
            "",
            "sha256:",
            "sha512:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            "sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD",
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015a",
            "sha256:../../../../etc/passwd0000000000000000000000000000000000000000000",
        ] {
            assert!(Digest::parse(bad).is_err(), "{bad}");
        }
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }
}

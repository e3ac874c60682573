//! Byte sizes as lab authors write them: `20MB`, `1.5 GB`, `512kB`, `64MiB`, or a number of bytes.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A size in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Size(pub u64);

const UNITS: [(&str, u64); 9] = [
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("k", 1 << 10),
    ("m", 1 << 20),
];

impl Size {
    /// Parses `20MB` (decimal, as `docker images` prints), `64MiB` / `64m` (binary, as
    /// `docker run --memory` takes), or plain bytes.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
        let (number, unit) = (&t[..split], t[split..].trim().to_ascii_lowercase());
        let bad = || format!("{text:?} is not a size; write e.g. 20MB, 1.5GB, 64MiB or 512kB");
        if number.is_empty() || number.starts_with('.') || number.matches('.').count() > 1 {
            return Err(bad());
        }
        let factor = if unit.is_empty() {
            1
        } else {
            UNITS.iter().find(|(u, _)| *u == unit).map(|(_, f)| *f).ok_or_else(bad)?
        };
        let value: f64 = number.parse().map_err(|_| bad())?;
        let bytes = value * factor as f64;
        if !bytes.is_finite() || bytes > u64::MAX as f64 / 2.0 {
            return Err(format!("{text:?} is too large"));
        }
        Ok(Self(bytes.round() as u64))
    }
}

impl std::fmt::Display for Size {
    /// Decimal units with one decimal, like `docker images`: `19.8MB`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let b = self.0 as f64;
        match self.0 {
            0..1_000 => write!(f, "{}B", self.0),
            1_000..1_000_000 => write!(f, "{:.1}kB", b / 1e3),
            1_000_000..1_000_000_000 => write!(f, "{:.1}MB", b / 1e6),
            _ => write!(f, "{:.2}GB", b / 1e9),
        }
    }
}

impl<'de> Deserialize<'de> for Size {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d).map_err(|_| serde::de::Error::custom("expected a size such as \"20MB\""))? {
            Raw::Bytes(b) => Ok(Self(b)),
            Raw::Text(t) => Self::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

impl Serialize for Size {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn sizes() {
        assert_eq!(Size::parse("20MB"), Ok(Size(20_000_000)));
        assert_eq!(Size::parse("1.5 GB"), Ok(Size(1_500_000_000)));
        assert_eq!(Size::parse("64MiB"), Ok(Size(64 << 20)));
        assert_eq!(Size::parse("64m"), Ok(Size(64 << 20)));
        assert_eq!(Size::parse("512kB"), Ok(Size(512_000)));
        assert_eq!(Size::parse("1234"), Ok(Size(1234)));
        for bad in ["", "MB", "1.2.3MB", "12 parsecs", ".5MB", "-1MB", "1e9"] {
            assert!(Size::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Size(19_800_000).to_string(), "19.8MB");
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in ".{0,24}") {
            let _ = Size::parse(&text);
        }

        #[test]
        fn decimal_megabytes_round_trip(n in 0u64..1_000_000) {
            prop_assert_eq!(Size::parse(&format!("{n}MB")), Ok(Size(n * 1_000_000)));
        }
    }
}

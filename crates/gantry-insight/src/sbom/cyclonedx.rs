//! CycloneDX 1.5 JSON (<https://cyclonedx.org/docs/1.5/json/>): the image as the BOM's subject
//! (`metadata.component`, type `container`) and one `library` component per package, each with
//! its purl, license and where it was found (`gantry:location`, `gantry:layer` properties).

use serde_json::{Value, json};

use super::ImageContents;

/// The CycloneDX version written.
pub const SPEC_VERSION: &str = "1.5";

/// The BOM for `contents`, made at `unix_time` (seconds).
pub fn cyclonedx(contents: &ImageContents, unix_time: i64) -> Value {
    let mut seen = std::collections::HashSet::new();
    let components: Vec<Value> = contents
        .packages
        .iter()
        .map(|p| {
            // purls repeat when one package is found in two places: bom-refs must not.
            let mut bom_ref = p.purl.clone();
            let mut n = 1;
            while !seen.insert(bom_ref.clone()) {
                n += 1;
                bom_ref = format!("{}#{n}", p.purl);
            }
            let mut properties = vec![json!({"name": "gantry:location", "value": p.location})];
            if let Some(layer) = p.layer {
                properties.push(json!({"name": "gantry:layer", "value": layer.to_string()}));
            }
            if let Some(source) = &p.source {
                properties.push(json!({"name": "gantry:source-package", "value": source}));
            }
            let mut component = json!({
                "type": "library",
                "bom-ref": bom_ref,
                "name": p.name,
                "version": p.version,
                "purl": p.purl,
                "properties": properties,
            });
            if let Some(license) = &p.license {
                component["licenses"] = json!([{"license": {"name": license}}]);
            }
            component
        })
        .collect();
    let image_name = contents.tags.first().cloned().unwrap_or_else(|| contents.reference.clone());
    let mut subject = json!({
        "type": "container",
        "bom-ref": contents.id,
        "name": image_name,
        "version": contents.id,
    });
    if let Some(os) = &contents.os {
        subject["properties"] = json!([
            {"name": "gantry:os-id", "value": os.id},
            {"name": "gantry:os-version", "value": os.version_id},
        ]);
    }
    json!({
        "$schema": "http://cyclonedx.org/schema/bom-1.5.schema.json",
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        "serialNumber": serial_number(&contents.id, unix_time),
        "version": 1,
        "metadata": {
            "timestamp": rfc3339(unix_time),
            "tools": {"components": [{"type": "application", "name": "gantry", "version": env!("CARGO_PKG_VERSION")}]},
            "component": subject,
        },
        "components": components,
    })
}

/// An RFC 4122 version-4-shaped UUID derived from the image and the time (unique per run).
fn serial_number(seed: &str, unix_time: i64) -> String {
    use std::hash::{BuildHasher, Hasher};
    let random = std::collections::hash_map::RandomState::new();
    let mut words = [0u64; 2];
    for (i, word) in words.iter_mut().enumerate() {
        let mut hasher = random.build_hasher();
        hasher.write(seed.as_bytes());
        hasher.write_i64(unix_time);
        hasher.write_usize(i);
        *word = hasher.finish();
    }
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_be_bytes()).collect();
    let hex: String = bytes
        .iter()
        .enumerate()
        .map(|(i, b)| match i {
            6 => (b & 0x0f) | 0x40,
            8 => (b & 0x3f) | 0x80,
            _ => *b,
        })
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("urn:uuid:{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// `2024-03-01T12:00:00Z` for a Unix time (proleptic Gregorian calendar).
pub fn rfc3339(unix_time: i64) -> String {
    let days = unix_time.div_euclid(86_400);
    let seconds = unix_time.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", seconds / 3600, seconds % 3600 / 60, seconds % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_serials() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339(1_709_294_400), "2024-03-01T12:00:00Z");
        let serial = serial_number("sha256:x", 1);
        assert_eq!(serial.len(), "urn:uuid:".len() + 36);
        assert_eq!(&serial[23..24], "4", "{serial}");
    }
}

//! The value forms of compose files: strings or lists, `KEY=value` lists or mappings, durations
//! (`1m30s`), sizes (`512M`), CPU counts (`0.5`), and commands written as one string (split as a
//! POSIX shell would split words, without running a shell).

use serde_json::Value;

use super::compose::ComposeError;

type Res<T> = Result<T, ComposeError>;

/// A scalar as text (compose accepts `8080` and `"8080"` alike).
pub fn text(v: &Value, at: &str) -> Res<String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        _ => Err(ComposeError::at(at, "expected a single value")),
    }
}

/// A whole number, written as one or as a string.
pub fn integer(v: &Value, at: &str) -> Res<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .ok_or_else(|| ComposeError::at(at, "expected a whole number"))
}

/// A whole number that is not negative.
pub fn count(v: &Value, at: &str) -> Res<u64> {
    u64::try_from(integer(v, at)?).map_err(|_| ComposeError::at(at, "expected a number that is not negative"))
}

/// A decimal number.
pub fn number(v: &Value, at: &str) -> Res<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .filter(|n: &f64| n.is_finite())
    .ok_or_else(|| ComposeError::at(at, "expected a number"))
}

/// `true`/`false` (also written as strings).
pub fn boolean(v: &Value, at: &str) -> Res<bool> {
    match v {
        Value::Bool(b) => Ok(*b),
        Value::String(s) if s == "true" => Ok(true),
        Value::String(s) if s == "false" => Ok(false),
        _ => Err(ComposeError::at(at, "expected true or false")),
    }
}

/// One string or a list of them.
pub fn strings(v: &Value, at: &str) -> Res<Vec<String>> {
    match v {
        Value::Array(items) => items.iter().enumerate().map(|(i, item)| text(item, &format!("{at}[{i}]"))).collect(),
        Value::Null => Ok(Vec::new()),
        other => Ok(vec![text(other, at)?]),
    }
}

/// A command: a list as it is, or one string split into words as a shell would (quotes and
/// backslashes), without a shell running it.
pub fn command(v: &Value, at: &str) -> Res<Vec<String>> {
    match v {
        Value::String(s) => split_words(s).map_err(|m| ComposeError::at(at, m)),
        other => strings(other, at),
    }
}

/// Splits `line` into words like a POSIX shell: whitespace separates, '...' is literal, "..."
/// keeps spaces (a backslash escapes `"`, `\`, `$` and `` ` `` in it), a backslash outside
/// quotes escapes the next character.
pub fn split_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => word.push(c),
                        None => return Err("a ' is not closed".into()),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\' | '$' | '`')) => word.push(c),
                            Some(c) => {
                                word.push('\\');
                                word.push(c);
                            }
                            None => return Err("a \" is not closed".into()),
                        },
                        Some(c) => word.push(c),
                        None => return Err("a \" is not closed".into()),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some(c) => word.push(c),
                    None => return Err("the line ends with a lone backslash".into()),
                }
            }
            c => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Ok(words)
}

/// `KEY=value` entries, from a mapping (`KEY: value`, `KEY:` for no value) or a list
/// (`KEY=value`, `KEY` for no value), in the file's order.
pub fn key_values(v: &Value, at: &str) -> Res<Vec<(String, Option<String>)>> {
    match v {
        Value::Object(map) => map
            .iter()
            .map(|(k, val)| match val {
                Value::Null => Ok((k.clone(), None)),
                other => Ok((k.clone(), Some(text(other, &format!("{at}.{k}"))?))),
            })
            .collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let entry = text(item, &format!("{at}[{i}]"))?;
                Ok(match entry.split_once('=') {
                    Some((k, val)) => (k.to_string(), Some(val.to_string())),
                    None => (entry, None),
                })
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(ComposeError::at(at, "expected KEY: value lines or a list of KEY=value")),
    }
}

/// A duration as Go writes it (`1h2m3.5s`, `500ms`, `10us`, `0`), in nanoseconds.
pub fn duration_ns(v: &Value, at: &str) -> Res<i64> {
    let s = text(v, at)?;
    parse_duration(&s).ok_or_else(|| {
        ComposeError::at(at, format!("{s:?} is not a duration: write a number with a unit, e.g. 10s, 1m30s, 500ms"))
    })
}

/// See [`duration_ns`].
pub fn parse_duration(s: &str) -> Option<i64> {
    let s = s.trim();
    if s == "0" {
        return Some(0);
    }
    if s.is_empty() {
        return None;
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let amount: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit_len = rest.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += amount * scale;
        rest = &rest[unit_len..];
    }
    // beyond ~292 years does not fit (nor mean anything here)
    (total <= i64::MAX as f64).then_some(total.round() as i64)
}

/// A size in bytes: a number, or one with a unit `b`, `k`, `m`, `g`, `t` (powers of 1024, an
/// optional trailing `b`, any case), as `docker` reads `512M` or `1gb`.
pub fn bytes(v: &Value, at: &str) -> Res<i64> {
    let s = text(v, at)?;
    parse_bytes(&s).ok_or_else(|| ComposeError::at(at, format!("{s:?} is not a size: write e.g. 512M, 1G or 1048576")))
}

/// See [`bytes`].
pub fn parse_bytes(s: &str) -> Option<i64> {
    let lower = s.trim().to_ascii_lowercase();
    let number_end = lower.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(lower.len());
    let amount: f64 = lower[..number_end].parse().ok()?;
    let unit = lower[number_end..].trim();
    let unit = unit.strip_suffix('b').filter(|u| !u.is_empty()).unwrap_or(unit);
    let scale: f64 = match unit {
        "" | "b" => 1.0,
        "k" => 1024.0,
        "m" => 1024.0 * 1024.0,
        "g" => 1024.0 * 1024.0 * 1024.0,
        "t" => 1024.0_f64.powi(4),
        _ => return None,
    };
    let total = amount * scale;
    (total <= i64::MAX as f64).then_some(total.round() as i64)
}

/// CPUs (`0.5`, `"2"`) in the engine's unit, billionths of a CPU.
pub fn nano_cpus(v: &Value, at: &str) -> Res<i64> {
    let cpus = number(v, at)?;
    if !(0.0..=1_000_000.0).contains(&cpus) {
        return Err(ComposeError::at(at, "expected a CPU count such as 0.5 or 2"));
    }
    Ok((cpus * 1e9).round() as i64)
}

/// One word of `allowed`.
pub fn one_of(v: &Value, at: &str, allowed: &[&str]) -> Res<String> {
    let s = text(v, at)?;
    if allowed.contains(&s.as_str()) {
        Ok(s)
    } else {
        Err(ComposeError::at(at, format!("{s:?} is not one of {}", allowed.join(", "))))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn durations_sizes_and_cpus() {
        assert_eq!(parse_duration("1m30s"), Some(90_000_000_000));
        assert_eq!(parse_duration("500ms"), Some(500_000_000));
        assert_eq!(parse_duration("1.5h"), Some(5_400_000_000_000));
        assert_eq!(parse_duration("0"), Some(0));
        for bad in ["", "10", "1d", "s", "1m x", "-1s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
        assert_eq!(parse_bytes("512M"), Some(512 << 20));
        assert_eq!(parse_bytes("1gb"), Some(1 << 30));
        assert_eq!(parse_bytes("100"), Some(100));
        assert_eq!(parse_bytes("1.5k"), Some(1536));
        assert_eq!(parse_bytes("12x"), None);
        assert_eq!(nano_cpus(&json!("0.5"), "x").unwrap(), 500_000_000);
        assert!(nano_cpus(&json!(-1), "x").is_err());
    }

    #[test]
    fn commands_split_like_a_shell_without_one() {
        assert_eq!(split_words(r#"sh -c 'echo "hi there"'"#).unwrap(), ["sh", "-c", r#"echo "hi there""#]);
        assert_eq!(split_words(r#"a "b \"c\" d" e\ f ''"#).unwrap(), ["a", r#"b "c" d"#, "e f", ""]);
        assert!(split_words("echo 'open").is_err());
        assert_eq!(command(&json!(["a b", "c"]), "x").unwrap(), ["a b", "c"]);
    }

    #[test]
    fn key_values_from_mappings_and_lists() {
        let map = key_values(&json!({"A": "1", "B": null, "C": 3}), "env").unwrap();
        assert_eq!(map, [("A".into(), Some("1".into())), ("B".into(), None), ("C".into(), Some("3".into()))]);
        let list = key_values(&json!(["A=1=2", "B"]), "env").unwrap();
        assert_eq!(list, [("A".into(), Some("1=2".into())), ("B".into(), None)]);
        assert!(key_values(&json!("A=1"), "env").is_err());
    }

    fn quote(word: &str) -> String {
        format!("'{}'", word.replace('\'', r#"'"'"'"#))
    }

    proptest! {
        #[test]
        fn quoted_words_split_back_to_themselves(words in proptest::collection::vec(".{0,12}", 0..6)) {
            let line = words.iter().map(|w| quote(w)).collect::<Vec<_>>().join(" ");
            prop_assert_eq!(split_words(&line).unwrap(), words);
        }

        #[test]
        fn splitting_never_panics(line in ".{0,80}") {
            let _ = split_words(&line);
        }

        #[test]
        fn durations_written_in_parts_add_up(h in 0u32..100, m in 0u32..60, s in 0u32..60, ms in 0u32..1000) {
            let text = format!("{h}h{m}m{s}s{ms}ms");
            let expected = ((i64::from(h) * 3600 + i64::from(m) * 60 + i64::from(s)) * 1000 + i64::from(ms)) * 1_000_000;
            prop_assert_eq!(parse_duration(&text), Some(expected));
        }

        #[test]
        fn sizes_never_panic(text in "[0-9.]{0,8}[a-zA-Z ]{0,3}") {
            let _ = parse_bytes(&text);
        }
    }
}

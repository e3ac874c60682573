//! Words as the builder sees them: splitting on blanks outside quotes, removing quotes, the
//! escape character, and `$VAR` / `${VAR}` / `${VAR:-default}` / `${VAR:+alt}` substitution
//! (what BuildKit does in FROM, ENV, ARG, LABEL, WORKDIR, USER, COPY, ADD, EXPOSE, VOLUME,
//! STOPSIGNAL; RUN text is left to the shell).

/// The result of substituting variables in a word.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expanded {
    pub text: String,
    /// Variables that were referenced without a value (in order, without repeats).
    pub missing: Vec<String>,
    /// Every variable referenced.
    pub used: Vec<String>,
}

/// Splits `text` into words on blanks outside quotes. Quotes and escapes are kept in the words
/// (so they can be expanded or unquoted later).
pub fn split_words(text: &str, escape: char) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut in_word = false;
    let mut quote: Option<char> = None;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                current.push(c);
                if c == escape && q == '"' {
                    if let Some(next) = chars.next() {
                        current.push(next);
                    }
                } else if c == q {
                    quote = None;
                }
            }
            None if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            None => {
                in_word = true;
                current.push(c);
                if c == escape {
                    if let Some(next) = chars.next() {
                        current.push(next);
                    }
                } else if c == '\'' || c == '"' {
                    quote = Some(c);
                }
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

/// Removes quotes and escapes from a word without substituting anything.
pub fn unquote(word: &str, escape: char) -> String {
    expand(word, escape, &|_| None, false).text
}

/// Substitutes variables in `word` (and removes its quotes): `lookup` gives a variable's value.
/// With `substitute` false, `$` is kept literally (quote removal only).
pub fn expand(word: &str, escape: char, lookup: &dyn Fn(&str) -> Option<String>, substitute: bool) -> Expanded {
    let mut out = Expanded::default();
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    let mut quote: Option<char> = None;
    while i < chars.len() {
        let c = chars[i];
        if quote == Some('\'') {
            if c == '\'' {
                quote = None;
            } else {
                out.text.push(c);
            }
            i += 1;
            continue;
        }
        if c == escape {
            match chars.get(i + 1) {
                // Inside double quotes only a few characters are escapable.
                Some(&next) if quote == Some('"') && !matches!(next, '"' | '$') && next != escape => {
                    out.text.push(c);
                    out.text.push(next);
                }
                Some(&next) => out.text.push(next),
                None => out.text.push(c),
            }
            i += 2;
            continue;
        }
        if (c == '"' || c == '\'') && quote.is_none() {
            quote = Some(c);
            i += 1;
            continue;
        }
        if c == '"' && quote == Some('"') {
            quote = None;
            i += 1;
            continue;
        }
        if c == '$'
            && substitute
            && let Some((consumed, value)) = variable_at(&chars[i + 1..], escape, lookup, &mut out)
        {
            out.text.push_str(&value);
            i += 1 + consumed;
            continue;
        }
        out.text.push(c);
        i += 1;
    }
    out
}

fn note(list: &mut Vec<String>, name: &str) {
    if !list.iter().any(|n| n == name) {
        list.push(name.to_string());
    }
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Parses the variable reference after a `$`; returns the characters consumed and its value.
fn variable_at(
    rest: &[char],
    escape: char,
    lookup: &dyn Fn(&str) -> Option<String>,
    out: &mut Expanded,
) -> Option<(usize, String)> {
    let first = *rest.first()?;
    if first == '{' {
        let close = matching_brace(rest)?;
        let inner: String = rest[1..close].iter().collect();
        let name_len = inner.chars().take_while(|c| is_name_char(*c)).count();
        if name_len == 0 {
            return None;
        }
        let name = &inner[..name_len];
        let modifier = &inner[name_len..];
        note(&mut out.used, name);
        let value = lookup(name);
        let operand = |text: &str, out: &mut Expanded| {
            let nested = expand(text, escape, lookup, true);
            for m in nested.missing {
                note(&mut out.missing, &m);
            }
            for u in nested.used {
                note(&mut out.used, &u);
            }
            nested.text
        };
        let result = if let Some(default) = modifier.strip_prefix(":-") {
            match value.filter(|v| !v.is_empty()) {
                Some(v) => v,
                None => operand(default, out),
            }
        } else if let Some(default) = modifier.strip_prefix('-') {
            match value {
                Some(v) => v,
                None => operand(default, out),
            }
        } else if let Some(alt) = modifier.strip_prefix(":+") {
            if value.is_some_and(|v| !v.is_empty()) { operand(alt, out) } else { String::new() }
        } else if let Some(alt) = modifier.strip_prefix('+') {
            if value.is_some() { operand(alt, out) } else { String::new() }
        } else {
            // `${VAR}`, and `${VAR:?message}` (an error in the builder when unset).
            match value {
                Some(v) => v,
                None => {
                    note(&mut out.missing, name);
                    String::new()
                }
            }
        };
        return Some((close + 1, result));
    }
    let name_len = rest.iter().take_while(|c| is_name_char(**c)).count();
    if name_len == 0 {
        return None;
    }
    let name: String = rest[..name_len].iter().collect();
    note(&mut out.used, &name);
    let value = lookup(&name).unwrap_or_else(|| {
        note(&mut out.missing, &name);
        String::new()
    });
    Some((name_len, value))
}

fn matching_brace(rest: &[char]) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in rest.iter().enumerate() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Parses `key=value` pairs (ENV, ARG, LABEL). With `legacy`, a first word without `=` means
/// the old `KEY value with spaces` form (ENV and LABEL only). Values are unquoted, not
/// substituted; an ARG without `=` has no value.
pub fn key_values(text: &str, escape: char, legacy: bool) -> Vec<(String, Option<String>)> {
    let words = split_words(text, escape);
    if legacy && words.first().is_some_and(|w| !w.contains('=')) {
        let key = unquote(&words[0], escape);
        let value = text.trim_start().get(words[0].len()..).unwrap_or("").trim();
        return vec![(key, Some(unquote(value, escape)))];
    }
    words
        .iter()
        .map(|word| match word.split_once('=') {
            Some((key, value)) => (unquote(key, escape), Some(unquote(value, escape))),
            None => (unquote(word, escape), None),
        })
        .collect()
}

/// True when `ENV`/`LABEL` text uses the legacy `KEY value` form (no `=` in the first word).
pub fn is_legacy_key_value(text: &str, escape: char) -> bool {
    split_words(text, escape).first().is_some_and(|w| !w.contains('='))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(name: &str) -> Option<String> {
        match name {
            "VERSION" => Some("1.2".into()),
            "EMPTY" => Some(String::new()),
            _ => None,
        }
    }

    #[test]
    fn splits_and_unquotes() {
        assert_eq!(split_words(r#"a "b c" 'd e'  f\ g"#, '\\'), vec!["a", "\"b c\"", "'d e'", "f\\ g"]);
        assert_eq!(unquote(r#""b c""#, '\\'), "b c");
        assert_eq!(unquote(r"f\ g", '\\'), "f g");
        assert_eq!(unquote("f` g", '`'), "f g");
    }

    #[test]
    fn substitutes_like_the_builder() {
        let e = |w: &str| expand(w, '\\', &vars, true);
        assert_eq!(e("busybox:$VERSION").text, "busybox:1.2");
        assert_eq!(e("busybox:${VERSION}-x").text, "busybox:1.2-x");
        assert_eq!(e("${NOPE:-3.19}").text, "3.19");
        assert_eq!(e("${EMPTY:-d}").text, "d");
        assert_eq!(e("${EMPTY-d}").text, "");
        assert_eq!(e("${VERSION:+set}").text, "set");
        assert_eq!(e("'$VERSION'").text, "$VERSION");
        assert_eq!(e(r"\$VERSION").text, "$VERSION");
        let missing = e("$A/${B}/${C:-x}");
        assert_eq!(missing.text, "//x");
        assert_eq!(missing.missing, vec!["A", "B"]);
        assert_eq!(missing.used, vec!["A", "B", "C"]);
    }

    #[test]
    fn key_value_forms() {
        assert_eq!(
            key_values(r#"A=1 B="two words" C"#, '\\', false),
            vec![("A".into(), Some("1".into())), ("B".into(), Some("two words".into())), ("C".into(), None)]
        );
        assert_eq!(key_values("PATH /usr/bin:/bin  ", '\\', true), vec![("PATH".into(), Some("/usr/bin:/bin".into()))]);
        assert!(is_legacy_key_value("A b", '\\'));
        assert!(!is_legacy_key_value("A=b", '\\'));
    }
}

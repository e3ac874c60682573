//! Variables in compose files, as `docker stack deploy` and `docker compose` substitute them:
//! `$VAR`, `${VAR}`, `${VAR:-default}` / `${VAR-default}` (empty or unset / unset), `${VAR:?error}`
//! / `${VAR?error}`, `${VAR:+other}` / `${VAR+other}`, defaults that hold variables themselves,
//! and `$$` for a dollar sign.

/// Substitutes the variables of `text`, looking them up with `lookup`. An unset variable without
/// a default becomes empty and adds a warning (as the docker CLI does); `${VAR?message}` on an
/// unset one, a malformed `${...}` or a lone `$` is an error.
pub fn interpolate(
    text: &str,
    lookup: &dyn Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<String, String> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner_and_tail) = after.strip_prefix('{') {
            let close = matching_brace(inner_and_tail)
                .ok_or_else(|| format!("{:?} has a ${{ without its closing }}", clip(text)))?;
            out.push_str(&braced(&inner_and_tail[..close], lookup, warnings)?);
            rest = &inner_and_tail[close + 1..];
        } else {
            let len = name_len(after);
            if len == 0 {
                return Err(format!("{:?} has a lone $: write $$ for a dollar sign", clip(text)));
            }
            out.push_str(&value_of(&after[..len], lookup, warnings));
            rest = &after[len..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// The index of the `}` that closes a `${` whose inside starts `text` (nested `${...}` counted).
fn matching_brace(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'$' if bytes.get(i + 1) == Some(&b'$') => i += 1,
            b'$' if bytes.get(i + 1) == Some(&b'{') => {
                depth += 1;
                i += 1;
            }
            b'}' if depth == 0 => return Some(i),
            b'}' => depth -= 1,
            _ => {}
        }
        i += 1;
    }
    None
}

/// Length of the variable name at the start of `text` (`[A-Za-z_][A-Za-z0-9_]*`), 0 if none.
fn name_len(text: &str) -> usize {
    let mut chars = text.char_indices();
    match chars.next() {
        Some((_, c)) if c.is_ascii_alphabetic() || c == '_' => {}
        _ => return 0,
    }
    chars.find(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_')).map_or(text.len(), |(i, _)| i)
}

fn value_of(name: &str, lookup: &dyn Fn(&str) -> Option<String>, warnings: &mut Vec<String>) -> String {
    lookup(name).unwrap_or_else(|| {
        let warning = format!("the {name} variable is not set: using an empty string");
        if !warnings.contains(&warning) {
            warnings.push(warning);
        }
        String::new()
    })
}

/// `NAME`, `NAME:-default`, `NAME-default`, `NAME:?error`, `NAME?error`, `NAME:+alt`, `NAME+alt`.
fn braced(inner: &str, lookup: &dyn Fn(&str) -> Option<String>, warnings: &mut Vec<String>) -> Result<String, String> {
    let len = name_len(inner);
    if len == 0 {
        return Err(format!("${{{}}} does not start with a variable name", clip(inner)));
    }
    let (name, op) = inner.split_at(len);
    if op.is_empty() {
        return Ok(value_of(name, lookup, warnings));
    }
    let value = lookup(name);
    let (colon, op) = match op.strip_prefix(':') {
        Some(op) => (true, op),
        None => (false, op),
    };
    // with a colon, an empty value counts as unset
    let set = value.as_deref().is_some_and(|v| !colon || !v.is_empty());
    let mut chars = op.chars();
    let kind = chars.next();
    let word = chars.as_str();
    match kind {
        Some('-') if set => Ok(value.unwrap_or_default()),
        Some('-') => interpolate(word, lookup, warnings),
        Some('?') if set => Ok(value.unwrap_or_default()),
        Some('?') => {
            let why = interpolate(word, lookup, warnings)?;
            Err(if why.is_empty() { format!("the {name} variable is required") } else { format!("{name}: {why}") })
        }
        Some('+') if set => interpolate(word, lookup, warnings),
        Some('+') => Ok(String::new()),
        _ => Err(format!("${{{}}}: after the name comes }}, :-, -, :?, ?, :+ or +", clip(inner))),
    }
}

/// A long text shortened for an error message.
fn clip(text: &str) -> String {
    match text.char_indices().nth(60) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_string(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "TAG" => Some("1.27".into()),
            "EMPTY" => Some(String::new()),
            "PORT" => Some("8080".into()),
            _ => None,
        }
    }

    fn run(text: &str) -> Result<(String, Vec<String>), String> {
        let mut warnings = Vec::new();
        interpolate(text, &env, &mut warnings).map(|t| (t, warnings))
    }

    #[test]
    fn the_forms_the_docker_cli_knows() {
        let ok = |text: &str| run(text).unwrap().0;
        assert_eq!(ok("nginx:$TAG"), "nginx:1.27");
        assert_eq!(ok("nginx:${TAG}-alpine"), "nginx:1.27-alpine");
        assert_eq!(ok("${MISSING:-8081}:80"), "8081:80");
        assert_eq!(ok("${EMPTY:-x}|${EMPTY-x}"), "x|");
        assert_eq!(ok("${MISSING:-${PORT}}"), "8080");
        assert_eq!(ok("${TAG:+set}|${MISSING:+set}|${EMPTY+set}"), "set||set");
        assert_eq!(ok("cost: $$5 ${TAG:?needed}"), "cost: $5 1.27");
        assert_eq!(ok("a$TAG.b"), "a1.27.b");
    }

    #[test]
    fn unset_variables_warn_and_required_ones_fail() {
        let (text, warnings) = run("x${MISSING}y$MISSING").unwrap();
        assert_eq!(text, "xy");
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(run("${MISSING?set it in .env}").unwrap_err().contains("set it in .env"));
        assert!(run("${EMPTY:?}").unwrap_err().contains("EMPTY variable is required"));
        for bad in ["$", "a $ b", "${", "${TAG", "${}", "${1}", "${TAG:x}", "$-"] {
            assert!(run(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn text_without_dollars_is_left_alone(text in "[^$]{0,64}") {
            prop_assert_eq!(run(&text).unwrap().0, text);
        }

        #[test]
        fn doubled_dollars_give_the_text_back(text in ".{0,64}") {
            prop_assert_eq!(run(&text.replace('$', "$$")).unwrap().0, text);
        }

        #[test]
        fn any_text_gives_a_result_or_an_error_without_panicking(text in "[$a-zA-Z_{}:?+\\-]{0,40}") {
            let _ = run(&text);
        }

        #[test]
        fn defaults_apply_to_unset_variables(default in "[a-z0-9./:]{0,20}") {
            prop_assert_eq!(run(&format!("${{MISSING:-{default}}}")).unwrap().0, default);
        }
    }
}

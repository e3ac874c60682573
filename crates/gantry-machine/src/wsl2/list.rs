//! Parsing `wsl.exe --list` output without relying on its localized words: `--list --quiet`
//! and `--list --running --quiet` print bare names; in `--list --verbose` only the name (after
//! an optional `*` marking the default) and the last column (the WSL version, a number) are
//! read, and the header is the line whose last column is not a number.

/// A registered distribution and its WSL version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Distro {
    pub name: String,
    /// 1 or 2.
    pub version: u8,
    /// Marked `*`: the distribution plain `wsl` opens.
    pub default: bool,
}

/// The names of `wsl --list --quiet` (or `--list --running --quiet`), in order.
pub fn parse_names(text: &str) -> Vec<String> {
    text.lines().map(str::trim).filter(|l| is_distro_name(l)).map(str::to_owned).collect()
}

/// The distributions of `wsl --list --verbose`: every line ending in a WSL version (the header
/// and messages such as "no installed distributions" do not).
pub fn parse_verbose(text: &str) -> Vec<Distro> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim();
            let (default, rest) = match line.strip_prefix('*') {
                Some(rest) => (true, rest.trim_start()),
                None => (false, line),
            };
            let mut words = rest.split_whitespace();
            let name = words.next()?;
            // the state between the two may be several localized words
            let version = words.next_back()?.parse::<u8>().ok().filter(|v| (1..=2).contains(v))?;
            is_distro_name(name).then(|| Distro { name: name.to_owned(), version, default })
        })
        .collect()
}

/// What WSL accepts as a distribution name (letters, digits, `.`, `-`, `_`), which is also
/// what Gantry passes to `wsl.exe` as an argument.
pub fn is_distro_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use gantry_testkit::prop::{self, proptest::prelude::*};

    use super::*;

    #[test]
    fn verbose_lists_in_several_languages() {
        let english = "  NAME           STATE           VERSION\n* Ubuntu         Running         2\n  gantry         Stopped         2\n  legacy         Stopped         1\n";
        let german = "  NAME           STATUS            VERSION\n* Ubuntu         Wird ausgeführt   2\n  gantry         Beendet           2\n";
        let russian = "  ИМЯ       СОСТОЯНИЕ     ВЕРСИЯ\n  gantry-data   Остановлено   2\n";
        assert_eq!(
            parse_verbose(english),
            vec![
                Distro { name: "Ubuntu".into(), version: 2, default: true },
                Distro { name: "gantry".into(), version: 2, default: false },
                Distro { name: "legacy".into(), version: 1, default: false },
            ]
        );
        assert_eq!(parse_verbose(german).iter().map(|d| d.name.as_str()).collect::<Vec<_>>(), ["Ubuntu", "gantry"]);
        assert_eq!(parse_verbose(russian), vec![Distro { name: "gantry-data".into(), version: 2, default: false }]);
        // no distributions: a localized sentence, no rows
        assert!(parse_verbose("Windows Subsystem for Linux has no installed distributions.\n").is_empty());
        assert!(parse_verbose("").is_empty());
    }

    #[test]
    fn quiet_lists_are_bare_names() {
        assert_eq!(parse_names("Ubuntu\n gantry \n\ngantry-data\n"), ["Ubuntu", "gantry", "gantry-data"]);
        // a message instead of names (spaces, punctuation) is not a name
        assert!(parse_names("There are no running distributions.\n").is_empty());
    }

    #[test]
    fn parsers_take_any_text() {
        prop::check(
            "wsl2: wsl --list parsers",
            file!(),
            0,
            "(\\*? ?[a-zA-Z0-9._-]{1,12} +[a-zA-Zä ]{0,20} +[0-9]{1,2}\n|[^\n]{0,40}\n){0,8}",
            |text| {
                for d in parse_verbose(&text) {
                    prop_assert!(is_distro_name(&d.name) && (1..=2).contains(&d.version));
                    prop_assert!(text.contains(&d.name));
                }
                for n in parse_names(&text) {
                    prop_assert!(is_distro_name(&n));
                }
                Ok(())
            },
        );
    }
}

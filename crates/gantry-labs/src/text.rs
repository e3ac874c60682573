//! Languages and texts written in several of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// A language labs are written in. English is the fallback every lab must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum Lang {
    En,
    Ru,
}

impl Lang {
    /// Every language Gantry ships texts in.
    pub const ALL: [Lang; 2] = [Lang::En, Lang::Ru];

    /// The language code used in file names and manifests: `en`, `ru`.
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Ru => "ru",
        }
    }

    /// Parses a language code (`en`, `ru`, case-insensitive).
    pub fn parse(code: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|l| l.code().eq_ignore_ascii_case(code.trim()))
    }

    /// The language of a locale such as `ru_RU.UTF-8` or `en-US`; English when unknown.
    pub fn from_locale(locale: &str) -> Self {
        let code = locale.split(['_', '-', '.', '@']).next().unwrap_or("");
        Self::parse(code).unwrap_or(Self::En)
    }

    /// The language of this process's locale (`LC_ALL`, `LC_MESSAGES`, `LANG`), English if unset.
    pub fn from_env() -> Self {
        ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
            .map_or(Self::En, |l| Self::from_locale(&l))
    }
}

impl std::fmt::Display for Lang {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// A text in one or more languages (`{ en = "...", ru = "..." }` in a manifest).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Text(BTreeMap<Lang, String>);

impl Text {
    /// A text in English and Russian.
    pub fn new(en: impl Into<String>, ru: impl Into<String>) -> Self {
        Self(BTreeMap::from([(Lang::En, en.into()), (Lang::Ru, ru.into())]))
    }

    /// The text in `lang`, else in English, else in any language it has.
    pub fn get(&self, lang: Lang) -> &str {
        self.0.get(&lang).or_else(|| self.0.get(&Lang::En)).or_else(|| self.0.values().next()).map_or("", |s| s)
    }

    /// The languages this text is missing (empty or absent).
    pub fn missing(&self) -> Vec<Lang> {
        Lang::ALL.into_iter().filter(|l| self.0.get(l).is_none_or(|t| t.trim().is_empty())).collect()
    }

    /// True when the text exists in `lang` itself (no fallback).
    pub fn has(&self, lang: Lang) -> bool {
        self.0.get(&lang).is_some_and(|t| !t.trim().is_empty())
    }

    /// Every language's text.
    pub fn iter(&self) -> impl Iterator<Item = (Lang, &str)> {
        self.0.iter().map(|(l, t)| (*l, t.as_str()))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn locales_and_fallback() {
        assert_eq!(Lang::from_locale("ru_RU.UTF-8"), Lang::Ru);
        assert_eq!(Lang::from_locale("en-US"), Lang::En);
        assert_eq!(Lang::from_locale("de_DE"), Lang::En);
        assert_eq!(Lang::from_locale(""), Lang::En);
        let only_en: Text = toml::from_str::<BTreeMap<String, Text>>("t = { en = \"Hello\" }")
            .map(|mut m| m.remove("t").unwrap_or_default())
            .unwrap_or_default();
        assert_eq!(only_en.get(Lang::Ru), "Hello");
        assert_eq!(only_en.missing(), vec![Lang::Ru]);
        let both = Text::new("Hello", "Привет");
        assert_eq!(both.get(Lang::Ru), "Привет");
        assert!(both.missing().is_empty());
    }
}

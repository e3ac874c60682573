//! Languages and texts written in several of them.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The language of Gantry's texts, shared with gantry-insight (one `Lang` in the UI's bindings).
pub use gantry_insight::Lang;

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
    fn fallback_to_english() {
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

//! The window's words: Fluent files in `locales/` (built into the binary), one per language,
//! chosen by the `language` parameter (two letters, the English name or the language's own
//! name). A string missing in the chosen language falls back to English, per string.

use fluent_bundle::{FluentArgs, FluentBundle, FluentResource};
use unic_langid::LanguageIdentifier;

/// The languages the window speaks: code, English name, own name, Fluent source.
pub const LANGUAGES: &[(&str, &str, &str, &str)] = &[
    (
        "en",
        "English",
        "English",
        include_str!("../../locales/en.ftl"),
    ),
    (
        "ru",
        "Russian",
        "Русский",
        include_str!("../../locales/ru.ftl"),
    ),
    (
        "hu",
        "Hungarian",
        "Magyar",
        include_str!("../../locales/hu.ftl"),
    ),
    (
        "ro",
        "Romanian",
        "Română",
        include_str!("../../locales/ro.ftl"),
    ),
    (
        "de",
        "German",
        "Deutsch",
        include_str!("../../locales/de.ftl"),
    ),
    (
        "it",
        "Italian",
        "Italiano",
        include_str!("../../locales/it.ftl"),
    ),
    (
        "es",
        "Spanish",
        "Español",
        include_str!("../../locales/es.ftl"),
    ),
    (
        "tr",
        "Turkish",
        "Türkçe",
        include_str!("../../locales/tr.ftl"),
    ),
    (
        "pt",
        "Portuguese",
        "Português",
        include_str!("../../locales/pt.ftl"),
    ),
    (
        "ja",
        "Japanese",
        "日本語",
        include_str!("../../locales/ja.ftl"),
    ),
    (
        "fr",
        "French",
        "Français",
        include_str!("../../locales/fr.ftl"),
    ),
];

/// The language code for a `language` value (`de`, `German`, `deutsch`, `de-AT`); `None`
/// when it names no language we have.
pub fn language_code(value: &str) -> Option<&'static str> {
    let v = value.trim().to_lowercase();
    let primary = v.split(['-', '_']).next().unwrap_or("");
    LANGUAGES
        .iter()
        .find(|(code, en, own, _)| {
            *code == primary || en.to_lowercase() == v || own.to_lowercase() == v
        })
        .map(|(code, ..)| *code)
}

fn bundle(code: &str, source: &str) -> FluentBundle<FluentResource> {
    let id: LanguageIdentifier = code.parse().unwrap_or_default();
    let mut b = FluentBundle::new(vec![id]);
    // egui draws the isolation marks as boxes; our arguments are numbers and names.
    b.set_use_isolating(false);
    let res = match FluentResource::try_new(source.to_string()) {
        Ok(r) => r,
        // A broken file keeps the entries that parsed (the test below keeps them whole).
        Err((r, _)) => r,
    };
    // Duplicate ids keep the first; nothing to report at run time.
    let _ = b.add_resource(res);
    b
}

/// The chosen language with English behind it.
pub struct Tr {
    code: &'static str,
    chosen: FluentBundle<FluentResource>,
    english: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for Tr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tr({})", self.code)
    }
}

impl Tr {
    /// The words for a `language` value; English when it names none of ours.
    pub fn new(language: &str) -> Tr {
        let code = language_code(language).unwrap_or("en");
        let source = LANGUAGES
            .iter()
            .find(|(c, ..)| *c == code)
            .map_or("", |(.., s)| *s);
        Tr {
            code,
            chosen: bundle(code, source),
            english: bundle("en", LANGUAGES[0].3),
        }
    }

    /// The language in use.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The text of `id` with arguments; the id itself when no language has it.
    pub fn args(&self, id: &str, args: &[(&str, &str)]) -> String {
        let mut fa = FluentArgs::new();
        for (k, v) in args {
            fa.set(*k, v.to_string());
        }
        for b in [&self.chosen, &self.english] {
            if let Some(pattern) = b.get_message(id).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                return b
                    .format_pattern(pattern, Some(&fa), &mut errors)
                    .into_owned();
            }
        }
        id.to_string()
    }

    /// The text of `id`.
    pub fn t(&self, id: &str) -> String {
        self.args(id, &[])
    }
}

/// The message ids of a Fluent source (for the completeness test).
pub fn message_ids(source: &str) -> Vec<String> {
    match FluentResource::try_new(source.to_string()) {
        Ok(r) => r
            .entries()
            .filter_map(|e| match e {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_string()),
                _ => None,
            })
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_locale_parses_and_has_every_english_key() {
        let english = message_ids(LANGUAGES[0].3);
        assert!(english.len() > 40, "{english:?}");
        for (code, _, _, source) in LANGUAGES {
            if let Err((_, errors)) = FluentResource::try_new(source.to_string()) {
                panic!("locales/{code}.ftl does not parse: {errors:?}");
            }
            let ids = message_ids(source);
            let missing: Vec<_> = english.iter().filter(|k| !ids.contains(k)).collect();
            assert!(missing.is_empty(), "locales/{code}.ftl lacks {missing:?}");
            let extra: Vec<_> = ids.iter().filter(|k| !english.contains(k)).collect();
            assert!(
                extra.is_empty(),
                "locales/{code}.ftl has keys English lacks: {extra:?}"
            );
        }
    }

    #[test]
    fn language_names_and_fallback() {
        assert_eq!(language_code("de"), Some("de"));
        assert_eq!(language_code("German"), Some("de"));
        assert_eq!(language_code("deutsch"), Some("de"));
        assert_eq!(language_code("pt-BR"), Some("pt"));
        assert_eq!(language_code("日本語"), Some("ja"));
        assert_eq!(language_code("klingon"), None);
        let de = Tr::new("German");
        assert_eq!(de.code(), "de");
        assert_eq!(de.t("dial-call"), "Anrufen");
        assert_eq!(Tr::new("klingon").t("dial-call"), "Call");
        assert_eq!(
            Tr::new("en").args("state-incoming", &[("peer", "1002")]),
            "Incoming call from 1002"
        );
        assert_eq!(Tr::new("en").t("no-such-key"), "no-such-key");
    }
}

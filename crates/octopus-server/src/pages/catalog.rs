//! The words of the cashier pages in every language they speak, from Fluent message catalogs
//! (`crates/octopus-server/templates/messages/<tag>.ftl`) built into the binary, so a payer's
//! page needs no file at run time and no word of it lives in code. English is the reference:
//! every catalog has exactly its messages (a test below checks it), and a message missing from
//! a catalog all the same is shown in English rather than as its id.
//!
//! Values come in as text (amounts already formatted with their currency's precision), so no
//! catalog reformats a number; Unicode isolation marks are off because every value is shown
//! inside markup that already separates it.

use std::sync::LazyLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource};
use octopus_domain::language::Language;

/// The catalog text of a language.
fn source(language: Language) -> &'static str {
    match language {
        Language::English => include_str!("../../templates/messages/en.ftl"),
        Language::Thai => include_str!("../../templates/messages/th.ftl"),
        Language::Burmese => include_str!("../../templates/messages/my.ftl"),
        Language::Chinese => include_str!("../../templates/messages/zh-Hans.ftl"),
        Language::Hindi => include_str!("../../templates/messages/hi.ftl"),
        Language::Bengali => include_str!("../../templates/messages/bn.ftl"),
        Language::Vietnamese => include_str!("../../templates/messages/vi.ftl"),
        Language::Indonesian => include_str!("../../templates/messages/id.ftl"),
    }
}

type Bundle = FluentBundle<FluentResource>;

/// One bundle per language, in `Language::ALL`'s order, read once.
static BUNDLES: LazyLock<Vec<Bundle>> = LazyLock::new(|| {
    Language::ALL
        .iter()
        .map(|&language| {
            let tag: unic_langid::LanguageIdentifier = language
                .tag()
                .parse()
                .expect("every language tag is a valid identifier");
            let mut bundle = Bundle::new_concurrent(vec![tag]);
            bundle.set_use_isolating(false);
            let resource = match FluentResource::try_new(source(language).to_string()) {
                Ok(resource) => resource,
                // A catalog with a syntax error keeps the messages that parsed; the test
                // below fails on it, so a release never has one.
                Err((resource, errors)) => {
                    tracing::error!(language = language.tag(), ?errors, "catalog has errors");
                    resource
                }
            };
            if let Err(errors) = bundle.add_resource(resource) {
                tracing::error!(
                    language = language.tag(),
                    ?errors,
                    "catalog repeats messages"
                );
            }
            bundle
        })
        .collect()
});

fn bundle(language: Language) -> &'static Bundle {
    let index = Language::ALL
        .iter()
        .position(|&l| l == language)
        .expect("every language is in ALL");
    &BUNDLES[index]
}

/// The words of one page, in one language.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    language: Language,
}

impl Words {
    pub fn new(language: Language) -> Words {
        Words { language }
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// The BCP 47 tag of the page's language (`<html lang>`).
    pub fn tag(&self) -> &'static str {
        self.language.tag()
    }

    /// A message without variables.
    pub fn get(&self, id: &str) -> String {
        self.with(id, &[])
    }

    /// A message with its variables, as text.
    pub fn with(&self, id: &str, args: &[(&str, &str)]) -> String {
        format(self.language, id, args)
            .or_else(|| format(Language::English, id, args))
            .unwrap_or_else(|| {
                tracing::error!(id, "no catalog has this message");
                id.to_string()
            })
    }
}

fn format(language: Language, id: &str, args: &[(&str, &str)]) -> Option<String> {
    let bundle = bundle(language);
    let pattern = bundle.get_message(id)?.value()?;
    let mut values = FluentArgs::new();
    for (name, value) in args {
        values.set(*name, value.to_string());
    }
    let mut errors = Vec::new();
    let text = bundle.format_pattern(pattern, Some(&values), &mut errors);
    if !errors.is_empty() {
        tracing::error!(
            language = language.tag(),
            id,
            ?errors,
            "message did not format"
        );
    }
    Some(text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The message ids of a catalog, in order, and the variables each uses.
    fn messages(language: Language) -> Vec<(String, Vec<String>)> {
        let resource = FluentResource::try_new(source(language).to_string())
            .unwrap_or_else(|(_, errors)| panic!("{}: {errors:?}", language.tag()));
        resource
            .entries()
            .filter_map(|entry| match entry {
                fluent_syntax::ast::Entry::Message(m) => Some(m),
                _ => None,
            })
            .map(|m| {
                let mut variables = Vec::new();
                if let Some(value) = &m.value {
                    for element in &value.elements {
                        if let fluent_syntax::ast::PatternElement::Placeable {
                            expression:
                                fluent_syntax::ast::Expression::Inline(
                                    fluent_syntax::ast::InlineExpression::VariableReference { id },
                                ),
                        } = element
                        {
                            variables.push(id.name.to_string());
                        }
                    }
                }
                variables.sort();
                (m.id.name.to_string(), variables)
            })
            .collect()
    }

    #[test]
    fn every_catalog_parses_and_has_exactly_the_english_messages_and_variables() {
        let english = messages(Language::English);
        assert!(english.len() > 50, "{english:?}");
        for language in Language::ALL {
            let mut theirs = messages(language);
            let mut ours = english.clone();
            theirs.sort();
            ours.sort();
            assert_eq!(theirs, ours, "{}", language.tag());
        }
    }

    #[test]
    fn words_come_from_the_language_with_variables_filled_in() {
        let thai = Words::new(Language::Thai);
        assert_eq!(thai.get("headline-received"), "ได้รับการชำระเงินแล้ว");
        assert_eq!(
            thai.with("return-to", &[("merchant", "Shop & Co")]),
            "กลับไปที่ Shop & Co",
            "no isolation marks, values as given"
        );
        assert_eq!(
            Words::new(Language::English).with("msg-short", &[("missing", "1000.00 MMK")]),
            "We received part of the payment: 1000.00 MMK is still missing. Send the rest to the same account and enter its transaction ID."
        );
        assert_eq!(Words::new(Language::Chinese).tag(), "zh-Hans");
        for language in Language::ALL {
            let words = Words::new(language);
            assert!(!words.get("language-name").is_empty());
            if language != Language::English {
                assert_ne!(
                    words.get("headline-waiting"),
                    Words::new(Language::English).get("headline-waiting"),
                    "{} is translated",
                    language.tag()
                );
            }
        }
    }

    #[test]
    fn an_unknown_message_is_its_id() {
        assert_eq!(
            Words::new(Language::Thai).get("no-such-message"),
            "no-such-message"
        );
    }
}

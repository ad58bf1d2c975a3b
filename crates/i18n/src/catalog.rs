//! The bundles built from the embedded `.ftl` files, and formatting with fallback.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use fluent_syntax::ast;
use unic_langid::{langid, LanguageIdentifier};

use crate::{files, Lang};

type Bundle = FluentBundle<FluentResource>;

/// One argument of a message: its variable name (without `$`) and value.
pub type Arg<'a> = (&'a str, FluentValue<'a>);

/// Why a message could not be formatted cleanly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The language has no message (or attribute) with this id.
    Missing {
        /// Language tag.
        lang: &'static str,
        /// Message id, `id` or `id.attribute`.
        id: String,
    },
    /// The message exists but formatting reported errors (an unknown variable, a
    /// reference to a missing message...). `text` is what Fluent made of it anyway.
    Format {
        /// Language tag.
        lang: &'static str,
        /// Message id.
        id: String,
        /// The text with the errors marked in it (e.g. `{$serial}`).
        text: String,
        /// Fluent's errors.
        errors: Vec<String>,
    },
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Missing { lang, id } => write!(f, "{lang}: no message {id}"),
            Problem::Format {
                lang, id, errors, ..
            } => write!(f, "{lang}: {id}: {}", errors.join("; ")),
        }
    }
}

impl std::error::Error for Problem {}

/// The bundles, one per language, in [`Lang::ALL`] order.
pub(crate) struct Bundles {
    bundles: Vec<Bundle>,
    /// Parse errors and duplicate ids met while loading (the tests require none).
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) load_problems: Vec<String>,
}

fn langid(lang: Lang) -> LanguageIdentifier {
    match lang {
        Lang::ZhCn => langid!("zh-CN"),
        Lang::En => langid!("en"),
    }
}

fn index(lang: Lang) -> usize {
    match lang {
        Lang::ZhCn => 0,
        Lang::En => 1,
    }
}

impl Bundles {
    fn load() -> Bundles {
        let mut load_problems = Vec::new();
        let bundles = Lang::ALL
            .iter()
            .map(|&lang| {
                let mut bundle = Bundle::new_concurrent(vec![langid(lang)]);
                // Terminals and logs show U+2068/U+2069 as garbage.
                bundle.set_use_isolating(false);
                for (folder, name, source) in files::FILES {
                    if *folder != lang.code() {
                        continue;
                    }
                    let resource = match FluentResource::try_new(source.to_string()) {
                        Ok(r) => r,
                        Err((r, errors)) => {
                            for e in errors {
                                load_problems.push(format!("{folder}/{name}: {e}"));
                            }
                            r
                        }
                    };
                    if let Err(errors) = bundle.add_resource(resource) {
                        for e in errors {
                            load_problems.push(format!("{folder}/{name}: {e}"));
                        }
                    }
                }
                bundle
            })
            .collect();
        for p in &load_problems {
            tracing::warn!("message catalog: {p}");
        }
        Bundles {
            bundles,
            load_problems,
        }
    }

    /// The catalog, loaded on first use.
    pub(crate) fn get() -> &'static Bundles {
        static BUNDLES: OnceLock<Bundles> = OnceLock::new();
        BUNDLES.get_or_init(Bundles::load)
    }

    fn bundle(&self, lang: Lang) -> Option<&Bundle> {
        self.bundles.get(index(lang))
    }

    /// The pattern of `id` or `id.attribute`.
    fn pattern(&self, lang: Lang, id: &str) -> Option<&ast::Pattern<&str>> {
        let bundle = self.bundle(lang)?;
        let (id, attribute) = match id.split_once('.') {
            Some((id, attribute)) => (id, Some(attribute)),
            None => (id, None),
        };
        let message = bundle.get_message(id)?;
        match attribute {
            Some(a) => message.get_attribute(a).map(|a| a.value()),
            None => message.value(),
        }
    }

    /// Whether `lang` has `id` (or `id.attribute`).
    pub(crate) fn has(&self, lang: Lang, id: &str) -> bool {
        self.pattern(lang, id).is_some()
    }

    /// Formats `id` in `lang`, without fallback.
    pub(crate) fn format(
        &self,
        lang: Lang,
        id: &str,
        args: &FluentArgs,
    ) -> Result<String, Problem> {
        let missing = || Problem::Missing {
            lang: lang.code(),
            id: id.to_string(),
        };
        let bundle = self.bundle(lang).ok_or_else(missing)?;
        let pattern = self.pattern(lang, id).ok_or_else(missing)?;
        let mut errors = Vec::new();
        let text = bundle
            .format_pattern(pattern, Some(args), &mut errors)
            .into_owned();
        if errors.is_empty() {
            Ok(text)
        } else {
            Err(Problem::Format {
                lang: lang.code(),
                id: id.to_string(),
                text,
                errors: errors.iter().map(ToString::to_string).collect(),
            })
        }
    }

    /// Formats `id` in `lang`; a missing message falls back to the other language,
    /// then to the id itself. Every problem is logged, none is fatal.
    pub(crate) fn format_or_fallback(&self, lang: Lang, id: &str, args: &FluentArgs) -> String {
        let mut result = self.format(lang, id, args);
        if let Err(p @ Problem::Missing { .. }) = &result {
            tracing::warn!("message catalog: {p}");
            result = self.format(lang.other(), id, args);
        }
        match result {
            Ok(text) => text,
            Err(Problem::Format { text, errors, .. }) => {
                tracing::warn!("message catalog: {id}: {}", errors.join("; "));
                text
            }
            Err(p @ Problem::Missing { .. }) => {
                tracing::warn!("message catalog: {p}");
                id.to_string()
            }
        }
    }

    /// The variables `id` uses, following references to other messages.
    pub(crate) fn variables(&self, lang: Lang, id: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        if let Some(p) = self.pattern(lang, id) {
            self.pattern_variables(lang, p, &mut out, 0);
        }
        out
    }

    fn pattern_variables(
        &self,
        lang: Lang,
        pattern: &ast::Pattern<&str>,
        out: &mut BTreeSet<String>,
        depth: usize,
    ) {
        for element in &pattern.elements {
            if let ast::PatternElement::Placeable { expression } = element {
                self.expression_variables(lang, expression, out, depth);
            }
        }
    }

    fn expression_variables(
        &self,
        lang: Lang,
        expression: &ast::Expression<&str>,
        out: &mut BTreeSet<String>,
        depth: usize,
    ) {
        match expression {
            ast::Expression::Select { selector, variants } => {
                self.inline_variables(lang, selector, out, depth);
                for v in variants {
                    self.pattern_variables(lang, &v.value, out, depth);
                }
            }
            ast::Expression::Inline(inline) => self.inline_variables(lang, inline, out, depth),
        }
    }

    fn inline_variables(
        &self,
        lang: Lang,
        inline: &ast::InlineExpression<&str>,
        out: &mut BTreeSet<String>,
        depth: usize,
    ) {
        match inline {
            ast::InlineExpression::VariableReference { id } => {
                out.insert(id.name.to_string());
            }
            ast::InlineExpression::FunctionReference { arguments, .. } => {
                for a in &arguments.positional {
                    self.inline_variables(lang, a, out, depth);
                }
                for a in &arguments.named {
                    self.inline_variables(lang, &a.value, out, depth);
                }
            }
            // A referenced message sees the caller's variables; guard against cycles.
            ast::InlineExpression::MessageReference { id, attribute } if depth < 8 => {
                let id = match attribute {
                    Some(a) => format!("{}.{}", id.name, a.name),
                    None => id.name.to_string(),
                };
                if let Some(p) = self.pattern(lang, &id) {
                    self.pattern_variables(lang, p, out, depth + 1);
                }
            }
            ast::InlineExpression::Placeable { expression } => {
                self.expression_variables(lang, expression, out, depth);
            }
            _ => {}
        }
    }
}

//! The one message catalog of CertKey, read by the `certkey` CLI and the desktop app.
//!
//! The text lives in Fluent files at the top of the repository, `locales/<lang>/*.ftl`
//! (zh-CN, the default, and en), embedded at compile time: every `.ftl` file of a
//! language folder is picked up by the build script. Messages are keyed by stable ids:
//!
//! - `error-<code>`: a core error, by the `code` of its serialised form; see
//!   [`Catalog::error`] for how its fields become variables.
//! - `step-*`, `notice-*`, `confirm-*`, `secret-*`, `pin-rule-*`, `cert-type-*`: the
//!   workflow vocabulary shared by every front end (`workflow.ftl`).
//! - `ckr-0x<HEX>`: what a PKCS#11 return value means for a user (`errors.ftl`).
//! - `cli-*`, `app-*` and `softkey-*`: the text of one front end (`softkey-*`: the
//!   trial command of `certkey-softkey`).
//!
//! Bidi isolation marks are off, and a missing message never panics: it falls back to
//! the other language, then to its id, with a warning in the log.

mod catalog;
mod error_args;
mod lang;

#[cfg(test)]
mod tests;

/// The embedded `.ftl` files, listed by build.rs.
mod files {
    include!(concat!(env!("OUT_DIR"), "/files.rs"));
}

use fluent_bundle::FluentArgs;
use serde::Serialize;

pub use catalog::{Arg, Problem};
pub use fluent_bundle::FluentValue;
pub use lang::Lang;

use catalog::Bundles;

/// The message catalog. Its functions read the one embedded catalog, loaded on first
/// use; they are safe to call from any thread.
pub struct Catalog;

impl Catalog {
    /// The text of message `id` (or `id.attribute`) in `lang` with `args`, e.g.
    /// `Catalog::text(lang, "notice-pin_count_low", &[("serial", serial.into())])`.
    /// Never fails: see the crate documentation for the fallback.
    pub fn text(lang: Lang, id: &str, args: &[Arg]) -> String {
        Bundles::get().format_or_fallback(lang, id, &fluent_args(args))
    }

    /// Like [`Catalog::text`], without fallback: fails when `lang` lacks the message
    /// or formatting reports an error (such as a variable not given).
    pub fn try_text(lang: Lang, id: &str, args: &[Arg]) -> Result<String, Problem> {
        Bundles::get().format(lang, id, &fluent_args(args))
    }

    /// Whether `lang` has message `id` (or `id.attribute`).
    pub fn has(lang: Lang, id: &str) -> bool {
        Bundles::get().has(lang, id)
    }

    /// The text of an error serialised as `{"code": "<code>", <fields>}` (certkey-core's
    /// `Error`), from message `error-<code>` or a more specific one:
    ///
    /// - Fields are variables of the same name: strings and numbers as they are,
    ///   booleans as `true`/`false` (for select expressions), lists joined with `, `,
    ///   other values as JSON. A field that is absent or null but used by the message
    ///   is `none`, so a select expression can give it its own variant.
    /// - A `ckr` number adds `$ckr_hex` (`A4`) and `$ckr_hint`, the text of
    ///   `ckr-0x<HEX>` when there is one.
    /// - A `reason` of the form `<snake_code>: ...` adds `$reason_code`.
    /// - When a sub-code field (`service_code`, `reason`, `reason_code`, `problem`)
    ///   names a message `error-<code>-<value>`, that message is used instead.
    pub fn error(lang: Lang, error: &impl Serialize) -> String {
        let (id, args) = error_args::id_and_args(lang, error);
        Bundles::get().format_or_fallback(lang, &id, &args)
    }

    /// Like [`Catalog::error`], without fallback (for tests).
    pub fn try_error(lang: Lang, error: &impl Serialize) -> Result<String, Problem> {
        let (id, args) = error_args::id_and_args(lang, error);
        Bundles::get().format(lang, &id, &args)
    }
}

/// An optional value as a message argument: `none` when absent, the convention the
/// catalog's select expressions use (`[none] ...`).
pub fn optional<'a, T: Into<FluentValue<'a>>>(value: Option<T>) -> FluentValue<'a> {
    value.map_or_else(|| "none".into(), Into::into)
}

/// A yes/no value as a message argument: `true` or `false`, for select expressions.
pub fn flag(value: bool) -> FluentValue<'static> {
    if value { "true" } else { "false" }.into()
}

fn fluent_args<'a>(args: &[Arg<'a>]) -> FluentArgs<'a> {
    let mut out = FluentArgs::with_capacity(args.len());
    for (name, value) in args {
        out.set(*name, value.clone());
    }
    out
}

//! From a serialised error to a message id and its variables (see [`crate::Catalog::error`]).

use fluent_bundle::{FluentArgs, FluentValue};
use serde::Serialize;
use serde_json::Value;

use crate::catalog::Bundles;
use crate::Lang;

/// Fields whose value may name a more specific message `error-<code>-<value>`, in the
/// order they are tried.
const SUB_CODE_FIELDS: [&str; 4] = ["service_code", "reason", "reason_code", "problem"];

/// What an absent field is, for the messages that use it.
const ABSENT: &str = "none";

pub(crate) fn id_and_args(lang: Lang, error: &impl Serialize) -> (String, FluentArgs<'static>) {
    let value = serde_json::to_value(error).unwrap_or_else(|e| {
        tracing::warn!("message catalog: an error does not serialise: {e}");
        Value::Null
    });
    let empty = serde_json::Map::new();
    let fields = value.as_object().unwrap_or(&empty);
    let code = fields
        .get("code")
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let bundles = Bundles::get();
    let mut args = FluentArgs::new();
    for (name, v) in fields {
        if name == "code" {
            continue;
        }
        if let Some(v) = fluent_value(v) {
            args.set(name.clone(), v);
        }
    }
    if let Some(ckr) = fields.get("ckr").and_then(Value::as_u64) {
        args.set("ckr_hex", format!("{ckr:X}"));
        let hint = format!("ckr-0x{ckr:X}");
        if bundles.has(lang, &hint) || bundles.has(lang.other(), &hint) {
            let text = bundles.format_or_fallback(lang, &hint, &FluentArgs::new());
            args.set("ckr_hint", text);
        }
    }
    if let Some(reason) = fields.get("reason").and_then(Value::as_str) {
        if let Some((prefix, _)) = reason.split_once(':') {
            if is_snake_code(prefix) {
                args.set("reason_code", prefix.to_string());
            }
        }
    }
    let general = format!("error-{code}");
    let id = SUB_CODE_FIELDS
        .iter()
        .filter_map(|f| match args.get(*f) {
            Some(FluentValue::String(s)) if is_snake_code(s) => Some(format!("{general}-{s}")),
            _ => None,
        })
        .find(|id| bundles.has(lang, id) || bundles.has(lang.other(), id))
        .unwrap_or(general);
    let used = match bundles.has(lang, &id) {
        true => bundles.variables(lang, &id),
        false => bundles.variables(lang.other(), &id),
    };
    for name in used {
        if args.get(name.as_str()).is_none() {
            args.set(name, ABSENT);
        }
    }
    (id, args)
}

/// A JSON field as a Fluent value; None for null.
fn fluent_value(v: &Value) -> Option<FluentValue<'static>> {
    Some(match v {
        Value::Null => return None,
        Value::Bool(b) => b.to_string().into(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into(),
            (None, Some(u)) => u.into(),
            _ => n.as_f64().unwrap_or_default().into(),
        },
        Value::String(s) => s.clone().into(),
        Value::Array(items) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
            .into(),
        Value::Object(_) => v.to_string().into(),
    })
}

/// `snake_case` ASCII, as the stable codes are (and as a message id part may be).
fn is_snake_code(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

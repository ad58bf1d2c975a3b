//! The catalog is complete and well-formed: every file parses, every message exists in
//! both languages, and every message formats with the variables it uses.

use std::collections::{BTreeMap, BTreeSet};

use fluent_bundle::FluentResource;
use fluent_syntax::ast;

use crate::catalog::Bundles;
use crate::files::FILES;
use crate::{flag, optional, Catalog, Lang};

/// Message ids and `id.attribute`s of one file, parsed on its own.
fn ids(source: &str) -> BTreeSet<String> {
    let resource = match FluentResource::try_new(source.to_string()) {
        Ok(r) | Err((r, _)) => r,
    };
    let mut out = BTreeSet::new();
    for entry in resource.entries() {
        if let ast::Entry::Message(m) = entry {
            out.insert(m.id.name.to_string());
            for a in &m.attributes {
                out.insert(format!("{}.{}", m.id.name, a.id.name));
            }
        }
    }
    out
}

/// file name -> language -> its ids.
fn ids_by_file() -> BTreeMap<&'static str, BTreeMap<&'static str, BTreeSet<String>>> {
    let mut out: BTreeMap<_, BTreeMap<_, _>> = BTreeMap::new();
    for (lang, name, source) in FILES {
        out.entry(*name).or_default().insert(*lang, ids(source));
    }
    out
}

#[test]
fn every_file_parses_and_no_id_is_defined_twice() {
    for (lang, name, source) in FILES {
        if let Err((_, errors)) = FluentResource::try_new(source.to_string()) {
            panic!("locales/{lang}/{name} does not parse: {errors:#?}");
        }
    }
    assert_eq!(Bundles::get().load_problems, Vec::<String>::new());
}

#[test]
fn both_languages_have_the_same_files() {
    let files = ids_by_file();
    assert!(files.contains_key("errors.ftl") && files.contains_key("cli.ftl"));
    for (name, langs) in &files {
        for lang in Lang::ALL {
            assert!(
                langs.contains_key(lang.code()),
                "locales/{}/{name} is missing",
                lang.code()
            );
        }
    }
}

#[test]
fn every_message_and_attribute_exists_in_both_languages() {
    let mut missing = Vec::new();
    for (name, langs) in ids_by_file() {
        let all: BTreeSet<&String> = langs.values().flatten().collect();
        for lang in Lang::ALL {
            let have = langs.get(lang.code()).cloned().unwrap_or_default();
            for id in &all {
                if !have.contains(*id) {
                    missing.push(format!("locales/{}/{name}: {id}", lang.code()));
                }
            }
        }
    }
    assert!(
        missing.is_empty(),
        "missing messages:\n{}",
        missing.join("\n")
    );
}

#[test]
fn every_message_formats_with_the_variables_it_uses() {
    let bundles = Bundles::get();
    let mut problems = Vec::new();
    for (lang_code, name, source) in FILES {
        let Some(lang) = Lang::ALL.into_iter().find(|l| l.code() == *lang_code) else {
            continue;
        };
        for id in ids(source) {
            let vars = bundles.variables(lang, &id);
            // Once with text and once with numbers: selectors see both kinds.
            let as_text: Vec<_> = vars.iter().map(|v| (v.as_str(), "x".into())).collect();
            let as_number: Vec<_> = vars.iter().map(|v| (v.as_str(), 7.into())).collect();
            for args in [as_text, as_number] {
                match Catalog::try_text(lang, &id, &args) {
                    Ok(text) => assert!(
                        !text.contains(['\u{2068}', '\u{2069}']),
                        "{lang_code}/{name}: {id} has isolation marks"
                    ),
                    Err(p) => problems.push(format!("{name}: {p}")),
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn a_missing_message_falls_back_to_the_other_language_then_to_its_id() {
    assert_eq!(
        Catalog::text(Lang::En, "no-such-message", &[]),
        "no-such-message"
    );
    assert!(Catalog::try_text(Lang::En, "no-such-message", &[]).is_err());
    // A missing variable is marked, not fatal.
    let text = Catalog::text(Lang::En, "notice-pin_count_low", &[]);
    assert!(text.contains("{$serial}"), "{text}");
}

#[test]
fn errors_use_their_fields_and_specific_messages() {
    let e = serde_json::json!({"code": "pkcs11", "function": "C_Login", "ckr": 0xA4,
        "ckr_name": "CKR_PIN_LOCKED"});
    assert_eq!(
        Catalog::try_error(Lang::ZhCn, &e).as_deref(),
        Ok("C_Login 返回 CKR_PIN_LOCKED (0xA4) (PIN 码已锁定)")
    );
    assert_eq!(
        Catalog::try_error(Lang::En, &e).as_deref(),
        Ok("C_Login returned CKR_PIN_LOCKED (0xA4) (PIN locked)")
    );
    let e = serde_json::json!({"code": "pkcs11", "function": "C_Login", "ckr": 0x1234,
        "ckr_name": "CKR_X"});
    assert_eq!(
        Catalog::try_error(Lang::En, &e).as_deref(),
        Ok("C_Login returned CKR_X (0x1234)")
    );
    let e = serde_json::json!({"code": "service", "status": 400, "message": "bad code",
        "service_code": "activation_code_invalid", "attempts_left": 3});
    assert_eq!(
        Catalog::try_error(Lang::ZhCn, &e).as_deref(),
        Ok("激活码错误，还可尝试 3 次")
    );
    // An absent field is "none".
    let e = serde_json::json!({"code": "service", "status": 400, "message": "bad code",
        "service_code": "activation_code_invalid"});
    assert!(Catalog::try_error(Lang::En, &e).is_ok_and(|t| t.contains("the order is now locked")));
    let e = serde_json::json!({"code": "invalid_argument", "name": "image",
        "reason": "image_format: gif"});
    assert_eq!(
        Catalog::try_error(Lang::En, &e).as_deref(),
        Ok("the seal picture must be a PNG, JPEG or BMP file (image_format: gif)")
    );
    let e = serde_json::json!({"code": "pin_incorrect", "serial": "S1", "count_low": true,
        "final_try": false, "locked": false});
    assert_eq!(
        Catalog::try_error(Lang::En, &e).as_deref(),
        Ok("wrong PIN for key S1; fewer tries left")
    );
    let e = serde_json::json!({"code": "token_ambiguous", "serial": "S1",
        "modules": ["/a.so", "/b.so"]});
    assert!(Catalog::try_error(Lang::En, &e).is_ok_and(|t| t.contains("/a.so, /b.so")));
}

#[test]
fn prompts_keep_their_trailing_space_and_optional_values_read_none() {
    let prompt = Catalog::try_text(
        Lang::En,
        "secret-current_pin",
        &[
            ("serial", "S1".into()),
            ("final_try", flag(true)),
            ("count_low", flag(false)),
        ],
    );
    assert_eq!(prompt.as_deref(), Ok("PIN of key S1 (final try): "));
    let code = Catalog::try_text(
        Lang::ZhCn,
        "secret-activation_code",
        &[("attempts_left", optional(None::<u32>))],
    );
    assert_eq!(code.as_deref(), Ok("请输入 6 位激活码："));
}

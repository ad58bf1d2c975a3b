//! `certkey --help` in the user's language: every command's description and every
//! option's help come from the message catalog (`locales/*/cli-help.ftl`), and so do
//! the headings clap would print in English, and the messages of a command line that
//! does not parse ([`error_text`]).
//!
//! Keys: `cli-help-PATH` for a command (PATH is `certkey`, `certkey-cert-export`, …),
//! `cli-help-PATH--ID` for an option of one command (ID is clap's, the field name),
//! else `cli-help-arg--ID` for an option that means the same everywhere (`--json`,
//! `--token`).

use std::ffi::OsString;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Command, ValueEnum};

use crate::i18n::{t, tr, Catalog, Lang, LangArg};

/// The language asked for by `--lang` among `args` (before clap reads them, so that
/// its help is already in that language), else the locale's (also when the value is
/// none of `--lang`'s, which clap then explains in the locale's language).
pub fn lang_of(args: &[OsString]) -> Lang {
    let mut it = args.iter().filter_map(|a| a.to_str());
    while let Some(a) = it.next() {
        let value = match a.strip_prefix("--lang") {
            Some("") => it.next(),
            Some(v) => v.strip_prefix('='),
            None => None,
        };
        if let Some(v) = value {
            return LangArg::from_str(v, false).map_or_else(|_| Lang::from_env(), Lang::from);
        }
    }
    Lang::from_env()
}

/// `cmd` (the whole `certkey` tree) with its texts in `lang`.
pub fn localized(mut cmd: Command, lang: Lang) -> Command {
    // Built first: the help and version options, the `help` command and the global
    // options exist in every command only from then on.
    cmd.build();
    localize(cmd, lang, "certkey")
}

fn localize(mut cmd: Command, lang: Lang, path: &str) -> Command {
    if let Some(about) = text_of(lang, &format!("cli-help-{path}")) {
        cmd = cmd.about(about).long_about(None);
    }
    // Changed in place (a built command finds its options by their place): a
    // command's own options are listed first, those of every command after them,
    // help and version last.
    let heading = t(lang, "cli-help-heading-options");
    let mut place = 0;
    cmd = cmd.mut_args(|a| {
        place += 1;
        let id = a.get_id().as_str();
        let order = match (a.is_global_set(), id) {
            (_, "help" | "version") => 2000 + place,
            (true, _) => 1000 + place,
            (false, _) => place,
        };
        let help = text_of(lang, &format!("cli-help-{path}--{id}"))
            .or_else(|| text_of(lang, &format!("cli-help-arg--{id}")));
        let a = a.help_heading(heading.clone()).display_order(order);
        match help {
            Some(h) => a.help(h).long_help(None),
            None => a,
        }
    });
    cmd = cmd.mut_subcommands(|s| {
        let name = s.get_name().to_string();
        if name == "help" {
            // clap's `help` command: its own tree only repeats the others.
            s.about(t(lang, "cli-help-help"))
        } else {
            localize(s, lang, &format!("{path}-{name}"))
        }
    });
    // clap's own template, with its one English word from the catalog (styled as
    // clap styles it).
    let usage = clap::builder::Styles::default().get_usage().to_owned();
    let template = format!(
        "{{before-help}}{{about-with-newline}}\n{usage}{}{usage:#} {{usage}}\n\n{{all-args}}{{after-help}}",
        t(lang, "cli-help-heading-usage")
    );
    cmd.subcommand_help_heading(t(lang, "cli-help-heading-commands"))
        .help_template(template)
}

fn text_of(lang: Lang, id: &str) -> Option<String> {
    Catalog::has(lang, id).then(|| t(lang, id))
}

/// What clap found wrong with the command line, in `lang`: the problem, a suggestion
/// where clap has one, the usage, and where to read more. `None` where clap prints
/// the text itself: help, version, and the kinds this CLI cannot meet, for which the
/// catalog has no text (or whose message would lack a part clap did not give).
pub fn error_text(e: &clap::Error, lang: Lang) -> Option<String> {
    let get = |kind| e.get(kind).and_then(|v| plain(v, lang));
    let arg = get(ContextKind::InvalidArg).unwrap_or_default();
    let value = get(ContextKind::InvalidValue).unwrap_or_default();
    let usage = get(ContextKind::Usage).map(|u| {
        u.strip_prefix("Usage:")
            .map_or(u.as_str(), str::trim)
            .to_string()
    });
    // The command the error is in ("certkey cert"): the usage's first words.
    let command = usage.as_deref().map(|u| {
        u.split(' ')
            .take_while(|w| !w.starts_with(['[', '<', '-']))
            .collect::<Vec<_>>()
            .join(" ")
    });
    let tips = tips(e);
    let (id, args) = match e.kind() {
        // An option of a subcommand put before it: clap's tip names where it belongs.
        ErrorKind::UnknownArgument if tips.moved.is_some() => {
            let (sub, at) = tips.moved.clone().unwrap_or_default();
            let command = command.clone().unwrap_or_default();
            (
                "cli-error-option-of-command",
                vec![
                    ("arg", arg),
                    ("command", format!("{command} {sub}")),
                    ("usage", format!("{command} {at}")),
                ],
            )
        }
        // A word that is no option: an extra argument, or one after `--`.
        ErrorKind::UnknownArgument if !arg.starts_with('-') => {
            ("cli-error-unexpected-argument", vec![("arg", arg)])
        }
        ErrorKind::UnknownArgument => ("cli-error-unknown-argument", vec![("arg", arg)]),
        ErrorKind::InvalidSubcommand => (
            "cli-error-unknown-command",
            vec![(
                "name",
                get(ContextKind::InvalidSubcommand).unwrap_or_default(),
            )],
        ),
        ErrorKind::MissingSubcommand => (
            "cli-error-missing-command",
            vec![
                (
                    "name",
                    get(ContextKind::InvalidSubcommand).unwrap_or_default(),
                ),
                (
                    "commands",
                    get(ContextKind::ValidSubcommand).unwrap_or_default(),
                ),
            ],
        ),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation if value.is_empty() => {
            ("cli-error-value-missing", vec![("arg", arg)])
        }
        ErrorKind::InvalidValue => (
            "cli-error-invalid-value",
            vec![("arg", arg), ("value", value)],
        ),
        ErrorKind::ValueValidation => value_refused(e, arg, value),
        ErrorKind::MissingRequiredArgument => ("cli-error-missing", vec![("arg", arg)]),
        ErrorKind::ArgumentConflict => {
            let other = get(ContextKind::PriorArg).unwrap_or_default();
            if other == arg {
                // clap reports an option given twice as a conflict with itself.
                ("cli-error-repeated", vec![("arg", arg)])
            } else {
                ("cli-error-conflict", vec![("arg", arg), ("other", other)])
            }
        }
        // A value given to a flag (`--json=1`), or one more than an option takes.
        ErrorKind::TooManyValues => (
            "cli-error-unexpected-value",
            vec![("arg", arg), ("value", value)],
        ),
        _ => return None,
    };
    if args.iter().any(|(_, v)| v.trim().is_empty()) {
        return None;
    }
    let args: Vec<_> = args.into_iter().map(|(name, v)| (name, v.into())).collect();
    let mut lines = vec![format!("certkey: {}", tr(lang, id, &args))];
    if let Some(valid) = get(ContextKind::ValidValue).filter(|v| !v.is_empty()) {
        lines.push(tr(
            lang,
            "cli-error-valid-values",
            &[("values", valid.into())],
        ));
    }
    let suggested = [
        ContextKind::SuggestedArg,
        ContextKind::SuggestedSubcommand,
        ContextKind::SuggestedValue,
    ]
    .into_iter()
    .find_map(get);
    if let Some(s) = suggested {
        lines.push(tr(lang, "cli-error-suggested", &[("suggested", s.into())]));
    }
    if let Some(name) = tips.dashes {
        lines.push(tr(lang, "cli-error-tip-dashes", &[("name", name.into())]));
    }
    let mut text = lines.join("\n") + "\n";
    if let Some(usage) = usage {
        text += &format!("\n{} {usage}\n", t(lang, "cli-help-heading-usage"));
    }
    text += &format!("\n{}\n", t(lang, "cli-error-more"));
    Some(text)
}

/// A value the option's parser refused: out of its range, no number, too large.
fn value_refused(
    e: &clap::Error,
    arg: String,
    value: String,
) -> (&'static str, Vec<(&'static str, String)>) {
    use std::num::IntErrorKind;
    let source = std::error::Error::source(e);
    let reason = source.map(ToString::to_string).unwrap_or_default();
    // clap's ranged number parsers say "9 is not in 1..=5" (English only).
    if let Some((min, max)) = reason
        .rsplit_once(" is not in ")
        .and_then(|(_, r)| r.split_once("..="))
    {
        let (min, max) = (min.to_string(), max.to_string());
        let args = vec![("arg", arg), ("value", value), ("min", min), ("max", max)];
        return ("cli-error-value-range", args);
    }
    match source.and_then(|s| s.downcast_ref::<std::num::ParseIntError>()) {
        Some(p)
            if matches!(
                p.kind(),
                IntErrorKind::PosOverflow | IntErrorKind::NegOverflow
            ) =>
        {
            (
                "cli-error-number-too-large",
                vec![("arg", arg), ("value", value)],
            )
        }
        Some(_) => (
            "cli-error-not-a-number",
            vec![("arg", arg), ("value", value)],
        ),
        // Another parser's own words (none of this CLI's options has one).
        None => (
            "cli-error-value-refused",
            vec![("arg", arg), ("value", value), ("reason", reason)],
        ),
    }
}

/// The clap tips that help here. Its other tips (how to pass a value that starts
/// with `-`) do not apply to this CLI and are left out.
#[derive(Default)]
struct Tips {
    /// An option put before its command: (the command, the command with the option),
    /// from `'renew --years' exists`, relative to the command the error is in.
    moved: Option<(String, String)>,
    /// A command put after `--`.
    dashes: Option<String>,
}

fn tips(e: &clap::Error) -> Tips {
    let mut found = Tips::default();
    let Some(ContextValue::StyledStrs(tips)) = e.get(ContextKind::Suggested) else {
        return found;
    };
    for tip in tips.iter().map(ToString::to_string) {
        if let Some(at) = tip
            .strip_prefix('\'')
            .and_then(|t| t.strip_suffix("' exists"))
        {
            let sub = at.split(" -").next().unwrap_or(at).to_string();
            found.moved = Some((sub, at.to_string()));
        } else if let Some(name) = tip
            .strip_prefix("subcommand '")
            .and_then(|t| t.strip_suffix("' exists; to use it, remove the '--' before it"))
        {
            found.dashes = Some(name.to_string());
        }
    }
    found
}

/// A context value of a clap error as plain text (lists joined as `lang` joins
/// them), without styling.
fn plain(v: &ContextValue, lang: Lang) -> Option<String> {
    let join = |v: Vec<String>| v.join(if lang == Lang::ZhCn { "、" } else { ", " });
    match v {
        ContextValue::String(s) => Some(s.clone()),
        ContextValue::Strings(v) => Some(join(v.clone())),
        ContextValue::StyledStr(s) => Some(s.to_string()),
        ContextValue::StyledStrs(v) => Some(join(v.iter().map(ToString::to_string).collect())),
        ContextValue::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every (key, English text of the code) of the tree, commands and options.
    fn texts(cmd: &Command, path: &str, out: &mut Vec<(String, String)>) {
        out.push((
            format!("cli-help-{path}"),
            cmd.get_about().map(|s| s.to_string()).unwrap_or_default(),
        ));
        for a in cmd.get_arguments().filter(|a| !a.is_hide_set()) {
            out.push((
                format!("cli-help-{path}--{}", a.get_id()),
                a.get_help().map(|s| s.to_string()).unwrap_or_default(),
            ));
        }
        for s in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            texts(s, &format!("{path}-{}", s.get_name()), out);
        }
    }

    #[test]
    fn every_command_and_option_has_its_help_in_both_languages() {
        let mut cmd = crate::Cli::command();
        cmd.build();
        let mut all = Vec::new();
        texts(&cmd, "certkey", &mut all);
        let missing: Vec<String> = all
            .iter()
            .filter(|(key, _)| {
                let id = key.rsplit_once("--").map(|(_, id)| id);
                [Lang::En, Lang::ZhCn].iter().any(|&lang| {
                    !Catalog::has(lang, key)
                        && !id.is_some_and(|id| Catalog::has(lang, &format!("cli-help-arg--{id}")))
                })
            })
            .map(|(key, text)| format!("{key} = {text}"))
            .collect();
        assert!(missing.is_empty(), "missing:\n{}", missing.join("\n"));
        // The English catalog says what the code's doc comments say (rustdoc keeps
        // them): a change to one without the other fails here. The text is looked up
        // as `localize` does: the option's own, else the one shared by every command.
        let drifted: Vec<String> = all
            .iter()
            // clap's own help and version texts are not in the code.
            .filter(|(key, text)| {
                !text.is_empty() && !key.ends_with("--help") && !key.ends_with("--version")
            })
            .filter_map(|(key, text)| {
                let shared = key
                    .rsplit_once("--")
                    .map(|(_, id)| format!("cli-help-arg--{id}"));
                let used = [Some(key.clone()), shared]
                    .into_iter()
                    .flatten()
                    .find(|k| Catalog::has(Lang::En, k))?;
                let catalog = t(Lang::En, &used);
                (catalog != *text)
                    .then(|| format!("{key}:\n  code:    {text}\n  catalog: {catalog} ({used})"))
            })
            .collect();
        assert!(drifted.is_empty(), "drifted:\n{}", drifted.join("\n"));
    }

    #[test]
    fn the_help_is_in_the_language_asked_for() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            lang_of(&os(&["certkey", "--lang", "zh-CN", "list"])),
            Lang::ZhCn
        );
        assert_eq!(lang_of(&os(&["certkey", "--lang=en", "list"])), Lang::En);
        // A value that is none of --lang's leaves the locale's language (even one
        // that starts like Chinese).
        for other in ["fr", "zhx"] {
            assert_eq!(
                lang_of(&os(&["certkey", "--lang", other, "list"])),
                Lang::from_env()
            );
        }
        let zh = localized(crate::Cli::command(), Lang::ZhCn)
            .render_help()
            .to_string();
        assert!(
            zh.contains("用法") && zh.contains("命令") && zh.contains("选项"),
            "{zh}"
        );
        assert!(!zh.contains("Usage:") && !zh.contains("Print help"), "{zh}");
        let en = localized(crate::Cli::command(), Lang::En)
            .render_help()
            .to_string();
        assert!(en.contains("Usage:") && en.contains("Commands:"), "{en}");
        // The localized command parses as the plain one does.
        let m = localized(crate::Cli::command(), Lang::ZhCn)
            .try_get_matches_from(["certkey", "--json", "info", "--token", "X", "--login"])
            .unwrap();
        let (name, info) = m.subcommand().unwrap();
        assert_eq!(name, "info");
        assert_eq!(
            info.get_one::<String>("token").map(String::as_str),
            Some("X")
        );
        assert!(info.get_flag("login") && info.get_flag("json"));
    }

    #[test]
    fn a_command_line_that_does_not_parse_is_explained_in_the_language_asked_for() {
        let explain = |lang, args: &[&str]| {
            let e = localized(crate::Cli::command(), lang)
                .try_get_matches_from(args)
                .unwrap_err();
            error_text(&e, lang).unwrap_or_else(|| panic!("no text for {:?}", e.kind()))
        };
        let zh = explain(Lang::ZhCn, &["certkey", "renew", "--yeers", "2"]);
        assert!(zh.starts_with("certkey: 没有这个选项：--yeers\n"), "{zh}");
        assert!(zh.contains("您是不是要输入 --years？"), "{zh}");
        assert!(zh.contains("\n用法: certkey renew"), "{zh}");
        assert!(
            zh.contains("使用 --help 查看更多说明。") && !zh.contains("Usage"),
            "{zh}"
        );
        let zh = explain(Lang::ZhCn, &["certkey", "renew", "--years", "9"]);
        assert!(
            zh.contains("--years <N> 的值要在 1 到 5 之间，9 不在其中"),
            "{zh}"
        );
        let zh = explain(Lang::ZhCn, &["certkey", "renew", "--years"]);
        assert!(
            zh.contains("--years <N> 需要一个值") && !zh.contains("可用的值"),
            "{zh}"
        );
        let zh = explain(
            Lang::ZhCn,
            &["certkey", "--lang", "en", "--lang", "en", "list"],
        );
        assert!(zh.contains("--lang <LANG> 只能指定一次"), "{zh}");
        let zh = explain(Lang::ZhCn, &["certkey", "lst"]);
        assert!(
            zh.contains("没有这个命令：lst") && zh.contains("list"),
            "{zh}"
        );
        let zh = explain(
            Lang::ZhCn,
            &["certkey", "logs", "--export", "f", "--lines", "5"],
        );
        assert!(zh.contains("不能与") && zh.contains("同时使用"), "{zh}");
        let en = explain(Lang::En, &["certkey", "--lang", "fr", "list"]);
        assert!(en.contains("fr is not a value of --lang"), "{en}");
        assert!(en.contains("Possible values: zh-CN, en"), "{en}");
        let en = explain(Lang::En, &["certkey", "rnew"]);
        assert!(
            en.contains("unknown command rnew\nDid you mean renew?"),
            "{en}"
        );
        assert!(en.contains("\nUsage: certkey"), "{en}");
        // An option put before its command, a stray word, a command after `--`.
        let zh = explain(Lang::ZhCn, &["certkey", "--years", "2", "renew"]);
        assert!(
            zh.contains("--years 是 certkey renew 的选项，要写在命令后面（certkey renew --years）"),
            "{zh}"
        );
        let en = explain(Lang::En, &["certkey", "cert", "--pem", "export"]);
        assert!(
            en.contains("--pem is an option of certkey cert export: put it after the command"),
            "{en}"
        );
        let zh = explain(Lang::ZhCn, &["certkey", "--json"]);
        assert!(
            zh.contains("certkey 后面要跟一个命令：list、diagnose"),
            "{zh}"
        );
        let zh = explain(
            Lang::ZhCn,
            &["certkey", "renew", "--years", "99999999999999999999"],
        );
        assert!(zh.contains("对 --years <N> 来说太大了"), "{zh}");
        let zh = explain(Lang::ZhCn, &["certkey", "list", "extra"]);
        assert!(zh.starts_with("certkey: 多余的参数：extra\n"), "{zh}");
        let zh = explain(Lang::ZhCn, &["certkey", "--", "list"]);
        assert!(zh.contains("请去掉 list 前面的 --。"), "{zh}");
        // Values: not a number, empty, given to a flag.
        let zh = explain(Lang::ZhCn, &["certkey", "renew", "--years", "abc"]);
        assert!(zh.contains("--years <N> 的值应为整数，不能是 abc"), "{zh}");
        let zh = explain(Lang::ZhCn, &["certkey", "renew", "--years="]);
        assert!(zh.contains("--years <N> 需要一个值"), "{zh}");
        let zh = explain(Lang::ZhCn, &["certkey", "renew", "--final-try-ok=yes"]);
        assert!(zh.contains("--final-try-ok 不接受值（多了 yes）"), "{zh}");
        let zh = explain(Lang::ZhCn, &["certkey", "--lang", "fr", "list"]);
        assert!(zh.contains("可用的值：zh-CN、en"), "{zh}");
        // No English word of clap's is left in the Chinese texts.
        let cases: [&[&str]; 6] = [
            &["certkey", "--json"],
            &["certkey", "--years", "2", "renew"],
            &["certkey", "--", "list"],
            &["certkey", "renew", "--years", "abc"],
            &["certkey", "renew", "--final-try-ok=yes"],
            &["certkey", "lst"],
        ];
        for args in cases {
            let zh = explain(Lang::ZhCn, args);
            for word in ["error", "tip", "invalid", "Usage", "exists"] {
                assert!(!zh.contains(word), "{word}: {zh}");
            }
        }
        // Help and version are clap's own output, not errors to explain.
        for asked in ["--help", "--version"] {
            let e = localized(crate::Cli::command(), Lang::ZhCn)
                .try_get_matches_from(["certkey", asked])
                .unwrap_err();
            assert!(error_text(&e, Lang::ZhCn).is_none(), "{asked}");
        }
    }
}

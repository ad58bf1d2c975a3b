//! `certkey --help` in the user's language: every command's description and every
//! option's help come from the message catalog (`locales/*/cli-help.ftl`), and so do
//! the headings clap would print in English.
//!
//! Keys: `cli-help-PATH` for a command (PATH is `certkey`, `certkey-cert-export`, …),
//! `cli-help-PATH--ID` for an option of one command (ID is clap's, the field name),
//! else `cli-help-arg--ID` for an option that means the same everywhere (`--json`,
//! `--token`).

use std::ffi::OsString;

use clap::Command;

use crate::i18n::{t, Catalog, Lang};

/// The language asked for by `--lang` among `args` (before clap reads them, so that
/// its help is already in that language), else the locale's.
pub fn lang_of(args: &[OsString]) -> Lang {
    let mut it = args.iter().filter_map(|a| a.to_str());
    while let Some(a) = it.next() {
        let value = match a.strip_prefix("--lang") {
            Some("") => it.next(),
            Some(v) => v.strip_prefix('='),
            None => None,
        };
        if let Some(v) = value {
            return Lang::from_locale(v);
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
    }

    #[test]
    fn the_help_is_in_the_language_asked_for() {
        let os = |v: &[&str]| v.iter().map(OsString::from).collect::<Vec<_>>();
        assert_eq!(
            lang_of(&os(&["certkey", "--lang", "zh-CN", "list"])),
            Lang::ZhCn
        );
        assert_eq!(lang_of(&os(&["certkey", "--lang=en", "list"])), Lang::En);
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
}

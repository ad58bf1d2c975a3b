//! `certkey logs`: the log that the app and this command write, printed or exported
//! (see certkey_core::logs).

use std::path::PathBuf;

use certkey_core::logs;
use certkey_core::Error;

use crate::i18n::{tr, Lang};
use crate::{emit, Cli};

/// What `certkey logs` takes.
#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// How many of the last lines to print, of the app and of this command together,
    /// in time order.
    #[arg(long, short = 'n', value_name = "N", default_value_t = 100,
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    lines: u32,
    /// Write every log file, oldest first, into this one file (for the help-desk; it
    /// names keys and certificates' holders: only this user can read it).
    #[arg(long, value_name = "FILE", conflicts_with = "lines")]
    export: Option<PathBuf>,
    /// Only print the log folder.
    #[arg(long, conflicts_with_all = ["export", "lines"])]
    path: bool,
}

pub fn run(cli: &Cli, lang: Lang, args: &LogsArgs) -> Result<u8, Error> {
    let dir = logs::dir().ok_or_else(|| Error::ConfigInvalid {
        path: "log folder".into(),
        reason: "no home directory: set CERTKEY_LOG_DIR".into(),
    })?;
    let shown = dir.display().to_string();
    if args.path {
        if cli.json {
            emit(&format!("{}\n", serde_json::json!({ "dir": shown })))?;
        } else {
            emit(&format!("{shown}\n"))?;
        }
        return Ok(0);
    }
    if let Some(to) = &args.export {
        let files = logs::export(&dir, to)?;
        if cli.json {
            let body = serde_json::json!({
                "dir": shown,
                "written": to.display().to_string(),
                "files": files,
            });
            emit(&format!("{body}\n"))?;
        } else {
            let text = tr(
                lang,
                "cli-logs-exported",
                &[
                    ("path", to.display().to_string().into()),
                    ("files", (files as i64).into()),
                ],
            );
            emit(&format!("{text}\n"))?;
        }
        return Ok(0);
    }
    let lines = logs::tail(&dir, args.lines as usize)?;
    if cli.json {
        let body = serde_json::json!({
            "dir": shown,
            "files": logs::files(&dir)?,
            "lines": lines,
        });
        emit(&format!("{body}\n"))?;
        return Ok(0);
    }
    if lines.is_empty() {
        emit(&format!(
            "{}\n",
            tr(lang, "cli-logs-empty", &[("dir", shown.into())])
        ))?;
        return Ok(0);
    }
    let width = lines.iter().map(|l| l.program.len()).max().unwrap_or(0);
    let mut out = String::new();
    for l in &lines {
        out.push_str(&format!("{:width$}  {}\n", l.program, l.text));
    }
    emit(&out)?;
    Ok(0)
}

//! CertKey's log: daily files in the platform's log folder, written by the app and the
//! CLI alike (each under its own name: `certkey-app.2026-12-03.log`,
//! `certkey-cli.2026-12-03.log`; neither name starts the other, so that each program's
//! clean-up keeps the last [`KEEP_FILES`] of its own), and read back by `certkey logs`
//! and the app's log view.
//!
//! How much is written: the config's `log_level` (default `info`), or `CERTKEY_LOG` (a
//! tracing filter) over it. Never a PIN, an activation code or a key's secret, at any
//! level: they live in types whose `Debug` prints nothing and are never a field.

use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use serde::{Deserialize, Serialize};
use tracing_subscriber::filter::EnvFilter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{reload, Layer, Registry};

use crate::config::{self, Config};
use crate::{Error, Result};

/// Env var naming the log folder (over the platform's).
pub const ENV_LOG_DIR: &str = "CERTKEY_LOG_DIR";
/// Env var holding a tracing filter (e.g. `debug`, `certkey_core=trace`) that wins
/// over the config's `log_level`.
pub const ENV_LOG: &str = "CERTKEY_LOG";
/// How many daily files of each program are kept.
pub const KEEP_FILES: usize = 14;
/// The level unless the config says otherwise.
pub const DEFAULT_LEVEL: LogLevel = LogLevel::Info;
/// Never into the file, whatever `CERTKEY_LOG` says: the HTTP and TLS libraries' lines
/// name request paths (an unlock ticket is one). (Only ever `off`: a directive here
/// must not let in what the level leaves out.)
const FILE_QUIET: &str = "ureq=off,ureq_proto=off,rustls=off";
/// Never anywhere: cryptoki says "Mechanism type N is not supported" as an error for
/// every vendor mechanism a module lists, which is no error of CertKey's.
const QUIET: &str = "cryptoki::mechanism=off";
/// How much of a file's end [`tail`] reads.
const TAIL_BYTES: u64 = 512 * 1024;

/// How much CertKey writes into its log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// Nothing.
    Off,
    /// Failures only.
    Error,
    /// Failures and warnings.
    Warn,
    /// What CertKey does: operations, keys and modules coming and going (the default).
    Info,
    /// Each step of an operation, for a help-desk.
    Debug,
    /// Everything, with each PKCS#11 call.
    Trace,
}

impl LogLevel {
    /// Every level, quietest first.
    pub const ALL: [LogLevel; 6] = [
        LogLevel::Off,
        LogLevel::Error,
        LogLevel::Warn,
        LogLevel::Info,
        LogLevel::Debug,
        LogLevel::Trace,
    ];

    /// Its name in the config (`off`, `error`, … `trace`).
    pub fn name(self) -> &'static str {
        match self {
            LogLevel::Off => "off",
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        }
    }

    /// The tracing filter: CertKey's own crates (every target starting `certkey`) at
    /// this level, the rest at warnings (or quieter, when this level is).
    pub fn filter(self) -> String {
        match self {
            LogLevel::Off | LogLevel::Error | LogLevel::Warn => self.name().to_string(),
            _ => format!("warn,certkey={}", self.name()),
        }
    }
}

/// The log folder: `CERTKEY_LOG_DIR`; else `<CERTKEY_STATE_DIR>/logs` when that is set;
/// else the platform's: `~/.local/state/certkey/logs` (XDG state) on Linux,
/// `~/Library/Logs/CertKey` on macOS, `%LOCALAPPDATA%\certkey\data\logs` on Windows.
pub fn dir() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(ENV_LOG_DIR).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p));
    }
    if let Some(p) = std::env::var_os(config::ENV_STATE_DIR).filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p).join("logs"));
    }
    if cfg!(target_os = "macos") {
        return directories::BaseDirs::new()
            .map(|b| b.home_dir().join("Library").join("Logs").join("CertKey"));
    }
    let dirs = directories::ProjectDirs::from("", "", "certkey")?;
    Some(
        dirs.state_dir()
            .unwrap_or_else(|| dirs.data_local_dir())
            .join("logs"),
    )
}

/// Where a program's log lines also go besides its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Standard error too, always (the app: a terminal that started it sees them).
    Always,
    /// Standard error only when `CERTKEY_LOG` asks for a log (the CLI: its output stays
    /// clean otherwise).
    WhenAsked,
}

/// Each output's filter and what it always adds to the level, changed by
/// [`set_level`].
static RELOAD: OnceLock<Vec<(reload::Handle<EnvFilter, Registry>, String)>> = OnceLock::new();

/// Starts the log of `program` (`certkey-cli`, `certkey-app`): its daily file in
/// [`dir`], at the config's level (or `CERTKEY_LOG`), and standard error as `echo`
/// says. A folder that cannot be made private leaves the file out and says so on
/// standard error; nothing here stops the program. Returns the folder written to.
pub fn init(program: &str, echo: Echo) -> Option<PathBuf> {
    // A config that does not read is reported by the command that needs it.
    let level = Config::load()
        .ok()
        .and_then(|c| c.log_level)
        .unwrap_or(DEFAULT_LEVEL);
    let asked = std::env::var(ENV_LOG).ok().filter(|v| !v.trim().is_empty());
    let asked = asked.filter(|v| match EnvFilter::try_new(v) {
        Ok(_) => true,
        Err(e) => {
            eprintln!(
                "{program}: {ENV_LOG}={v:?} is not a log filter ({e}); the config's level is used"
            );
            false
        }
    });
    let directive = asked.clone().unwrap_or_else(|| level.filter());
    let mut handles = Vec::new();
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();
    // One filter: the level with what this output always keeps quiet.
    let mut filter = |quiet: String| {
        let (f, h) = reload::Layer::new(EnvFilter::new(format!("{directive},{quiet}")));
        handles.push((h, quiet));
        f
    };
    let folder = dir();
    let file = folder.as_deref().and_then(|d| match appender(d, program) {
        Ok(a) => Some(a),
        Err(e) => {
            eprintln!("{program}: no log file in {}: {e}", d.display());
            None
        }
    });
    let written = file.as_ref().and(folder);
    if let Some(a) = file {
        let f = filter(format!("{QUIET},{FILE_QUIET}"));
        layers.push(
            tracing_subscriber::fmt::layer()
                .with_ansi(false)
                .with_writer(a)
                .with_filter(f)
                .boxed(),
        );
    }
    let to_stderr = echo == Echo::Always || asked.is_some();
    if to_stderr {
        let f = filter(QUIET.to_string());
        layers.push(
            tracing_subscriber::fmt::layer()
                .with_writer(std::io::stderr)
                .with_filter(f)
                .boxed(),
        );
    }
    if tracing_subscriber::registry()
        .with(layers)
        .try_init()
        .is_ok()
        && asked.is_none()
    {
        let _ = RELOAD.set(handles);
    }
    written
}

/// The `CERTKEY_LOG` filter in force, if any: it sets the log's level over the
/// config's, which then has no effect.
pub fn level_from_env() -> Option<String> {
    std::env::var(ENV_LOG)
        .ok()
        .filter(|v| !v.trim().is_empty() && EnvFilter::try_new(v).is_ok())
}

/// Changes the level of a running log (Settings saved): ignored under `CERTKEY_LOG`,
/// which wins, or before [`init`].
pub fn set_level(level: LogLevel) {
    for (h, quiet) in RELOAD.get().into_iter().flatten() {
        let _ = h.reload(EnvFilter::new(format!("{},{quiet}", level.filter())));
    }
}

/// The daily file writer of `program` in `dir`. The folder is made private first, or
/// made so when it is this user's (the log names keys, certificates' holders and what
/// failed); a folder of another user is refused. Today's file is made 0600, never
/// through a link, before the appender opens it.
fn appender(
    dir: &Path,
    program: &str,
) -> std::io::Result<tracing_appender::rolling::RollingFileAppender> {
    config::create_private_dir(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
        let meta = std::fs::symlink_metadata(dir)?;
        // SAFETY: geteuid has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if !meta.is_dir() || meta.uid() != me {
            return Err(std::io::Error::other(
                "not a folder of this user (a link, or another user's)",
            ));
        }
        if meta.mode() & 0o077 != 0 {
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let day = time::OffsetDateTime::now_utc().date();
        let today = dir.join(format!(
            "{program}.{}-{:02}-{:02}.log",
            day.year(),
            u8::from(day.month()),
            day.day()
        ));
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&today)?;
    }
    tracing_appender::rolling::Builder::new()
        .rotation(tracing_appender::rolling::Rotation::DAILY)
        .filename_prefix(program)
        .filename_suffix("log")
        .max_log_files(KEEP_FILES)
        .build(dir)
        .map_err(std::io::Error::other)
}

/// Removes the app's log of before the daily files (`certkey-app.log` and `.log.1` in
/// the state folder's `logs`): it holds what the log holds, and nothing reads it now.
pub fn remove_old_app_log() {
    if let Some(d) = config::state_dir().map(|d| d.join("logs")) {
        for name in ["certkey-app.log", "certkey-app.log.1"] {
            let _ = std::fs::remove_file(d.join(name));
        }
    }
}

/// One file of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LogFile {
    /// The program that wrote it (`certkey`, `certkey-app`).
    pub program: String,
    /// Its day (UTC), `YYYY-MM-DD`.
    pub day: String,
    /// The file.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
}

/// The log's files in `dir`, oldest day first (a missing folder: none). Only files
/// named as [`init`] names them count.
pub fn files(dir: &Path) -> Result<Vec<LogFile>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, &e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| Error::io(dir, &e))?;
        let name = entry.file_name();
        let Some((program, day)) = name.to_str().and_then(parse_name) else {
            continue;
        };
        // Gone meanwhile (a program's clean-up): not listed.
        let meta = match entry.metadata() {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io(entry.path(), &e)),
        };
        if !meta.is_file() {
            continue;
        }
        out.push(LogFile {
            program: program.to_string(),
            day: day.to_string(),
            path: entry.path().display().to_string(),
            size: meta.len(),
        });
    }
    out.sort_by(|a, b| (&a.day, &a.program).cmp(&(&b.day, &b.program)));
    Ok(out)
}

/// `certkey-app.2026-12-03.log` → (`certkey-app`, `2026-12-03`).
fn parse_name(name: &str) -> Option<(&str, &str)> {
    let stem = name.strip_suffix(".log")?;
    let (program, day) = stem.rsplit_once('.')?;
    let b = day.as_bytes();
    let is_day = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'-'
            } else {
                c.is_ascii_digit()
            }
        });
    let is_program = !program.is_empty()
        && program
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-');
    (is_day && is_program).then_some((program, day))
}

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct LogLine {
    /// The program that wrote it.
    pub program: String,
    /// The line as written (time, level, where, what), control characters shown as
    /// `\u{fffd}`.
    pub text: String,
}

/// The last `max` lines of the log in `dir`, of every program, in time order (lines of
/// the app and of the CLI interleaved as they were written). Of a long file only its
/// end is read: then nothing older than the first line read of it is given, so that
/// the lines have no gap (fewer than `max` may come).
pub fn tail(dir: &Path, max: usize) -> Result<Vec<LogLine>> {
    let all = files(dir)?;
    let mut lines: Vec<(String, LogLine)> = Vec::new();
    let mut days: Vec<&str> = all.iter().map(|f| f.day.as_str()).collect();
    days.dedup();
    // The time from which every file's lines were all read.
    let mut floor: Option<String> = None;
    for day in days.iter().rev() {
        for f in all.iter().filter(|f| f.day == *day) {
            let path = Path::new(&f.path);
            let bytes = match read_end(path, TAIL_BYTES) {
                Ok(b) => b,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(path, &e)),
            };
            let text = String::from_utf8_lossy(&bytes);
            let mut it = text.lines();
            let cut = bytes.len() as u64 == TAIL_BYTES;
            // Read from its middle: the first line may be cut.
            if cut {
                it.next();
            }
            // A line without a time of its own (a multi-line message) keeps the time of
            // the one before it.
            let mut time = String::new();
            for l in it {
                if let Some(t) = l.split_whitespace().next().filter(|t| is_time(t)) {
                    if cut && time.is_empty() {
                        floor = floor.max(Some(format!("{day}{t}")));
                    }
                    time = t.to_string();
                }
                lines.push((
                    format!("{day}{time}"),
                    LogLine {
                        program: f.program.clone(),
                        text: l
                            .chars()
                            .map(|c| {
                                if c.is_control() && c != '\t' {
                                    '\u{fffd}'
                                } else {
                                    c
                                }
                            })
                            .collect(),
                    },
                ));
            }
        }
        // The newest days until they hold enough lines, or reach a file read in part.
        if lines.len() >= max || floor.is_some() {
            break;
        }
    }
    if let Some(floor) = &floor {
        lines.retain(|(key, _)| key >= floor);
    }
    // A stable sort by time keeps each file's own order.
    lines.sort_by(|a, b| a.0.cmp(&b.0));
    let from = lines.len().saturating_sub(max);
    Ok(lines.into_iter().skip(from).map(|(_, l)| l).collect())
}

/// `2026-12-03T14:00:48.123456Z`: the time tracing writes first on each line.
fn is_time(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[..4].iter().all(u8::is_ascii_digit)
}

fn read_end(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    let mut f = std::fs::File::open(path)?;
    let len = f.metadata()?.len();
    f.seek(SeekFrom::Start(len.saturating_sub(max)))?;
    let mut out = Vec::new();
    f.take(max).read_to_end(&mut out)?;
    Ok(out)
}

/// Writes every file of the log in `dir`, oldest first, each under a heading with its
/// name, into one new file at `to`, for this user only. Returns how many files went in.
pub fn export(dir: &Path, to: &Path) -> Result<usize> {
    let all = files(dir)?;
    let mut out = Vec::new();
    for f in &all {
        out.extend_from_slice(format!("==> {} <==\n", f.path).as_bytes());
        let bytes = std::fs::read(&f.path).map_err(|e| Error::io(Path::new(&f.path), &e))?;
        out.extend_from_slice(&bytes);
        if !bytes.ends_with(b"\n") {
            out.push(b'\n');
        }
    }
    config::write_private(to, &out)?;
    Ok(all.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_make_filters() {
        assert_eq!(LogLevel::Warn.filter(), "warn");
        assert_eq!(LogLevel::Off.filter(), "off");
        assert_eq!(LogLevel::Debug.filter(), "warn,certkey=debug");
        for l in LogLevel::ALL {
            let plain = EnvFilter::try_new(l.filter()).unwrap();
            let quiet = EnvFilter::try_new(format!("{},{QUIET},{FILE_QUIET}", l.filter())).unwrap();
            // What is kept quiet never lets in more than the level does.
            assert_eq!(quiet.max_level_hint(), plain.max_level_hint(), "{l:?}");
        }
    }

    #[test]
    fn only_log_files_are_listed_oldest_first() {
        let d = tempfile::tempdir().unwrap();
        for name in [
            "certkey-app.2026-12-03.log",
            "certkey.2026-12-01.log",
            "certkey.2026-12-03.log",
            "notes.txt",
            "certkey.2026-1-03.log",
            "Certkey.2026-12-03.log",
            "certkey-app.log",
        ] {
            std::fs::write(d.path().join(name), "x\n").unwrap();
        }
        std::fs::create_dir(d.path().join("certkey.2026-12-02.log")).unwrap();
        let names: Vec<(String, String)> = files(d.path())
            .unwrap()
            .into_iter()
            .map(|f| (f.program, f.day))
            .collect();
        assert_eq!(
            names,
            [
                ("certkey".into(), "2026-12-01".into()),
                ("certkey".into(), "2026-12-03".into()),
                ("certkey-app".into(), "2026-12-03".into()),
            ]
        );
        assert!(files(&d.path().join("missing")).unwrap().is_empty());
    }

    #[test]
    fn the_tail_interleaves_programs_by_time_and_keeps_the_newest() {
        let d = tempfile::tempdir().unwrap();
        let w = |name: &str, text: &str| std::fs::write(d.path().join(name), text).unwrap();
        w(
            "certkey.2026-12-02.log",
            "2026-12-02T09:00:00.000001Z  INFO certkey: old\n",
        );
        w(
            "certkey.2026-12-03.log",
            "2026-12-03T10:00:00.000001Z  INFO certkey: cli one\n\
             2026-12-03T10:00:02.000001Z  WARN certkey: cli two\n  continued\n",
        );
        w(
            "certkey-app.2026-12-03.log",
            "2026-12-03T10:00:01.000001Z  INFO certkey_app: app one\x1b[31m\n\
             2026-12-03T10:00:03.000001Z  INFO certkey_app: app two\n",
        );
        let got: Vec<String> = tail(d.path(), 5)
            .unwrap()
            .into_iter()
            .map(|l| format!("{}|{}", l.program, l.text.rsplit(": ").next().unwrap()))
            .collect();
        assert_eq!(
            got,
            [
                "certkey|cli one",
                "certkey-app|app one\u{fffd}[31m",
                "certkey|cli two",
                "certkey|  continued",
                "certkey-app|app two",
            ]
        );
        // More than today holds: yesterday's come first.
        let all = tail(d.path(), 100).unwrap();
        assert_eq!(all.len(), 6);
        assert!(all[0].text.ends_with("old"));
        assert!(tail(&d.path().join("none"), 10).unwrap().is_empty());
    }

    #[test]
    fn a_long_file_read_in_part_leaves_no_gap() {
        let d = tempfile::tempdir().unwrap();
        // The app's file: longer than what is read of it, from 10:00:00 on.
        let mut long = String::new();
        let mut n = 0;
        while (long.len() as u64) < TAIL_BYTES + 64 * 1024 {
            long.push_str(&format!(
                "2026-12-03T10:{:02}:{:02}.{:06}Z  INFO certkey_app: line {n}\n",
                n / 60_000 % 60,
                n / 1000 % 60,
                n % 1000
            ));
            n += 1;
        }
        std::fs::write(d.path().join("certkey-app.2026-12-03.log"), &long).unwrap();
        // The CLI's: one line from before what was read of the app's, one after.
        std::fs::write(
            d.path().join("certkey-cli.2026-12-03.log"),
            "2026-12-03T09:00:00.000000Z  INFO certkey: early\n\
             2026-12-03T11:00:00.000000Z  INFO certkey: late\n",
        )
        .unwrap();
        std::fs::write(
            d.path().join("certkey-cli.2026-12-02.log"),
            "2026-12-02T09:00:00.000000Z  INFO certkey: yesterday\n",
        )
        .unwrap();
        let got = tail(d.path(), 1_000_000).unwrap();
        let texts: Vec<&str> = got.iter().map(|l| l.text.as_str()).collect();
        assert!(!texts
            .iter()
            .any(|t| t.ends_with("early") || t.ends_with("yesterday")));
        assert!(texts.last().unwrap().ends_with("late"));
        assert!(texts[texts.len() - 2].ends_with(&format!("line {}", n - 1)));
        // Whole lines only, each with its time.
        assert!(texts
            .iter()
            .all(|t| is_time(t.split_whitespace().next().unwrap())));
    }

    #[test]
    fn export_puts_every_file_into_one_private_file() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("certkey.2026-12-01.log"), "a\n").unwrap();
        std::fs::write(d.path().join("certkey-app.2026-12-02.log"), "b").unwrap();
        let out = d.path().join("out").join("log.txt");
        assert_eq!(export(d.path(), &out).unwrap(), 2);
        let text = std::fs::read_to_string(&out).unwrap();
        let a = text.find("certkey.2026-12-01.log <==\na\n").unwrap();
        let b = text.find("certkey-app.2026-12-02.log <==\nb\n").unwrap();
        assert!(a < b, "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&out).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}

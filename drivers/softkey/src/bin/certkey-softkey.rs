//! `certkey-softkey`: inspect the virtual USB keys of a softkey store and pull them
//! out, put them back, or arm a removal after N more operations (for fault tests).
//!
//! Exit codes: 0 success; 1 failure (bad store, config or serial); 2 usage error.

use std::path::PathBuf;
use std::process::ExitCode;

use certkey_i18n::{Arg, Catalog, Lang};
use certkey_softkey::config::{self, SlotConfig};
use certkey_softkey::control::Control;
use certkey_softkey::store::Store;
use certkey_softkey::token::TokenState;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "certkey-softkey",
    version,
    about = "Control the CertKey softkey virtual USB keys"
)]
struct Cli {
    /// Store directory (default: CERTKEY_SOFTKEY_DIR, else ~/.local/share/certkey/softkey).
    #[arg(long, global = true, value_name = "DIR")]
    dir: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show every slot: serial, presence, PIN state, objects, memory, armed faults.
    Status {
        /// One JSON object instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Pull the key out: its sessions end, calls return CKR_DEVICE_REMOVED.
    Remove {
        /// Token serial (optional with one slot).
        #[arg(long)]
        serial: Option<String>,
    },
    /// Put the key back in.
    Insert {
        /// Token serial (optional with one slot).
        #[arg(long)]
        serial: Option<String>,
    },
    /// `off`: C_Initialize refuses OS locking (CKR_CANT_LOCK), as a module that must be
    /// called by one thread at a time does; `on` (the default) accepts it again.
    OsLocking {
        /// `on` or `off`.
        state: String,
    },
    /// Make the whole module hang: C_Initialize and every C_GetSlotList take MS
    /// milliseconds; `off` makes it answer at once again.
    Stall {
        /// Milliseconds (at most 60000), or `off`.
        ms: String,
    },
    /// Make the module crash: in every process that loads it, the C_GetSlotList call
    /// after the first N aborts the process; `off` disarms.
    CrashAfter {
        /// Number of C_GetSlotList calls that still answer, or `off`.
        count: String,
    },
    /// Trial mode of the default store: `on` gives it one virtual key (the trial key of
    /// an installed CertKey), `off` takes it away again (its data stays for the next
    /// `on`); without a state, says which is in force.
    Trial {
        /// `on` or `off`.
        state: Option<String>,
    },
    /// Remove the key automatically after N more PKCS#11 operations on it; `off` disarms.
    FailAfter {
        /// Number of operations, or `off`.
        count: String,
        /// Token serial (optional with one slot).
        #[arg(long)]
        serial: Option<String>,
    },
}

fn pick<'a>(slots: &'a [SlotConfig], serial: &Option<String>) -> Result<&'a SlotConfig, String> {
    match serial {
        Some(s) => slots
            .iter()
            .find(|c| &c.serial == s)
            .ok_or_else(|| format!("no slot with serial {s} in this store")),
        None if slots.len() == 1 => Ok(&slots[0]),
        None => Err(format!(
            "the store has {} slots: choose one with --serial ({})",
            slots.len(),
            slots
                .iter()
                .map(|c| c.serial.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}

/// A sentence of the trial command in the user's language (the catalog's
/// `softkey-trial-*`): trial mode is what a holder with an installed CertKey uses.
fn say(id: &str, args: &[Arg]) -> String {
    Catalog::text(Lang::from_env(), id, args)
}

fn trial(store: &Store, state: Option<&str>) -> Result<(), String> {
    let file = store.dir().join(config::FILE);
    let ours = config::trial_file(store.dir());
    let io = |e: std::io::Error| {
        say(
            "softkey-trial-io",
            &[
                ("path", file.display().to_string().into()),
                ("reason", e.to_string().into()),
            ],
        )
    };
    let current = match std::fs::read_to_string(&file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(io(e)),
    };
    let dir = || store.dir().display().to_string();
    match state {
        None if current.is_some() => {
            println!("{}", say("softkey-trial-is-on", &[("dir", dir().into())]));
            Ok(())
        }
        None => {
            println!("{}", say("softkey-trial-is-off", &[]));
            Ok(())
        }
        Some("on") => {
            if current.is_none() {
                store.create()?;
                std::fs::write(&file, &ours).map_err(io)?;
            }
            let slots = config::load(store.dir())?;
            let serials: Vec<&str> = slots.iter().map(|c| c.serial.as_str()).collect();
            println!(
                "{}",
                say(
                    "softkey-trial-on",
                    &[("serial", serials.join(", ").into()), ("dir", dir().into())]
                )
            );
            Ok(())
        }
        Some("off") => match current {
            None => {
                println!("{}", say("softkey-trial-is-off", &[]));
                Ok(())
            }
            Some(text) if text == ours => {
                std::fs::remove_file(&file).map_err(io)?;
                println!("{}", say("softkey-trial-off", &[("dir", dir().into())]));
                Ok(())
            }
            Some(_) => Err(say(
                "softkey-trial-not-ours",
                &[("path", file.display().to_string().into())],
            )),
        },
        Some(v) => Err(say(
            "softkey-trial-usage",
            &[("value", format!("{v:?}").into())],
        )),
    }
}

fn run(cli: Cli) -> Result<(), String> {
    let store = match &cli.dir {
        Some(d) => Store::at(d)?,
        None => Store::open()?,
    };
    let slots = config::load_store(store.dir(), store.explicit())?;
    let update = |serial: &Option<String>,
                  f: &dyn Fn(&mut certkey_softkey::control::SlotControl)|
     -> Result<(), String> {
        let cfg = pick(&slots, serial)?;
        let _lock = store.lock()?;
        let mut c = Control::read(&store)?;
        let mut sc = c.get(&cfg.serial);
        f(&mut sc);
        c.set(&cfg.serial, sc);
        c.write(&store)
    };
    match cli.command {
        Command::Remove { serial } => update(&serial, &|sc| sc.present = false),
        Command::Insert { serial } => update(&serial, &|sc| {
            if !sc.present {
                sc.insertions += 1;
            }
            sc.present = true;
            sc.fail_after = None;
        }),
        Command::FailAfter { count, serial } => {
            let n = match count.as_str() {
                "off" => None,
                v => Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("fail-after wants a number or `off`, not {v:?}"))?,
                ),
            };
            update(&serial, &|sc| sc.fail_after = n)
        }
        Command::Stall { ms } => {
            let stall = match ms.as_str() {
                "off" => None,
                v => Some(
                    v.parse::<u64>()
                        .ok()
                        .filter(|n| *n <= 60_000)
                        .ok_or_else(|| {
                            format!("stall wants milliseconds up to 60000 or `off`, not {v:?}")
                        })?,
                ),
            };
            let mut control = Control::read(&store)?;
            control.stall_ms = stall;
            control.write(&store)
        }
        Command::Trial { state } => trial(&store, state.as_deref()),
        Command::CrashAfter { count } => {
            let n = match count.as_str() {
                "off" => None,
                v => Some(
                    v.parse::<u64>()
                        .map_err(|_| format!("crash-after wants a number or `off`, not {v:?}"))?,
                ),
            };
            let mut control = Control::read(&store)?;
            control.crash_after = n;
            control.write(&store)
        }
        Command::OsLocking { state } => {
            let refuse = match state.as_str() {
                "on" => false,
                "off" => true,
                v => return Err(format!("os-locking wants `on` or `off`, not {v:?}")),
            };
            let mut control = Control::read(&store)?;
            control.refuse_os_locking = refuse;
            control.write(&store)
        }
        Command::Status { json } => {
            let control = Control::read(&store)?;
            let mut rows = Vec::new();
            for (i, cfg) in slots.iter().enumerate() {
                let t: TokenState = store
                    .read_json(&format!("token-{}.json", cfg.serial))?
                    .unwrap_or_default();
                let c = control.get(&cfg.serial);
                rows.push(serde_json::json!({
                    "slot": i,
                    "serial": cfg.serial,
                    "label": if t.initialized { t.label.clone() } else { cfg.label.clone() },
                    "profile": format!("{:?}", cfg.profile).to_lowercase(),
                    "present": c.present,
                    "fail_after": c.fail_after,
                    "initialized": t.initialized,
                    "user_pin_initialized": t.user.is_some(),
                    "user_tries_left": t.user_tries_left,
                    "user_retries": cfg.user_retries,
                    "so_tries_left": t.so_tries_left,
                    "so_retries": cfg.so_retries,
                    "objects": t.objects.len(),
                    "memory_used": t.used_memory(),
                    "memory_total": cfg.memory,
                }));
            }
            if json {
                println!(
                    "{}",
                    serde_json::json!({"dir": store.dir().display().to_string(), "slots": rows})
                );
            } else {
                println!("store {}", store.dir().display());
                for r in rows {
                    println!(
                        "slot {} serial {} label {:?} profile {}: {}{}, {}, user PIN {}/{} tries, SO PIN {}/{} tries, {} objects, {}/{} bytes",
                        r["slot"], r["serial"].as_str().unwrap_or(""), r["label"].as_str().unwrap_or(""),
                        r["profile"].as_str().unwrap_or(""),
                        if r["present"] == true { "present" } else { "REMOVED" },
                        match r["fail_after"].as_u64() { Some(n) => format!(" (removal after {n} operations)"), None => String::new() },
                        if r["initialized"] == true { "initialised" } else { "blank" },
                        r["user_tries_left"], r["user_retries"], r["so_tries_left"], r["so_retries"],
                        r["objects"], r["memory_used"], r["memory_total"],
                    );
                }
            }
            Ok(())
        }
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("certkey-softkey: {e}");
            ExitCode::from(1)
        }
    }
}

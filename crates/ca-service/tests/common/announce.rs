//! Starting a `certkey-ca serve` on `--listen 127.0.0.1:0`: the service binds a port
//! the system picks and announces it on stderr. Shared by the service's tests and the
//! CLI's (through `#[path]`). A port guessed free beforehand could be taken before the
//! service binds it (by another test's connection), and a connection made to a port no
//! one listens on yet can be connected to itself: both made tests fail at random.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The loopback address to pass to `--listen`: the system picks the port.
pub const ANY_PORT: &str = "127.0.0.1:0";

/// Spawns `cmd` (a `certkey-ca serve … --listen 127.0.0.1:0`, perhaps under a wrapper
/// such as faketime) with stderr piped, and waits until it announces where it listens:
/// its child and port. Panics with what it printed when it exits before that, or
/// after 60 s. The rest of its stderr (warnings, a panic) is passed on to the test's
/// own output, named by `what`.
pub fn serve_announced(cmd: &mut Command, what: &str) -> (Child, u16) {
    match try_serve_announced(cmd, what) {
        Ok(up) => up,
        Err(printed) => panic!("{printed}"),
    }
}

/// [`serve_announced`], with what went wrong when it exits before listening, as an
/// error (its status and what it printed) instead of a panic.
pub fn try_serve_announced(cmd: &mut Command, what: &str) -> Result<(Child, u16), String> {
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{what}: {e}"));
    let stderr = child.stderr.take().expect("piped stderr");
    let (tx, rx) = std::sync::mpsc::channel::<Result<u16, String>>();
    let name = what.to_string();
    std::thread::spawn(move || {
        let mut printed = String::new();
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.is_none() {
                eprintln!("{name}: {line}");
                continue;
            }
            let port = line
                .split_once(" listening on ")
                .and_then(|(_, url)| url.trim().rsplit(':').next())
                .and_then(|p| p.parse::<u16>().ok());
            match port {
                Some(port) => {
                    let _ = tx.take().map(|tx| tx.send(Ok(port)));
                }
                None => {
                    printed.push_str(&line);
                    printed.push('\n');
                }
            }
        }
        if let Some(tx) = tx {
            let _ = tx.send(Err(printed));
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(port)) => Ok((child, port)),
        Ok(Err(printed)) => {
            let status = child.wait();
            Err(format!(
                "{what} exited ({status:?}) before listening:\n{printed}"
            ))
        }
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not listen within 60 s")
        }
    }
}

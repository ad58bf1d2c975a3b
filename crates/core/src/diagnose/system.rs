//! The computer: OS, architecture, versions, locale, time zone, administrator rights,
//! and whether the smart-card service (pcscd) answers.

use std::path::Path;

use serde::{Deserialize, Serialize};

/// What the system probe reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct SystemInfo {
    /// The OS's own name and version (os-release PRETTY_NAME on Linux).
    pub os: String,
    /// `linux`, `windows`, `macos`.
    pub os_family: String,
    /// CPU architecture of this program.
    pub arch: String,
    /// The front end's version (app or CLI).
    pub app_version: Option<String>,
    /// certkey-core's version.
    pub core_version: String,
    /// LC_ALL, else LC_MESSAGES, else LANG.
    pub locale: Option<String>,
    /// The time zone: TZ, else /etc/timezone, else the /etc/localtime link.
    pub time_zone: Option<String>,
    /// Running as the administrator (root).
    pub administrator: bool,
}

/// Reads the system facts.
pub fn read(app_version: Option<&str>) -> SystemInfo {
    SystemInfo {
        os: os_name(),
        os_family: std::env::consts::OS.to_string(),
        arch: std::env::consts::ARCH.to_string(),
        app_version: app_version.map(str::to_string),
        core_version: crate::VERSION.to_string(),
        locale: ["LC_ALL", "LC_MESSAGES", "LANG"]
            .iter()
            .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty())),
        time_zone: time_zone(),
        administrator: administrator(),
    }
}

fn os_name() -> String {
    let fields = std::fs::read_to_string("/etc/os-release").unwrap_or_default();
    os_release_name(&fields).unwrap_or_else(|| std::env::consts::OS.to_string())
}

/// PRETTY_NAME (else NAME) of an os-release text.
pub(crate) fn os_release_name(text: &str) -> Option<String> {
    let value = |key: &str| {
        text.lines().find_map(|l| {
            let v = l.strip_prefix(key)?.strip_prefix('=')?;
            let v = v.trim().trim_matches('"').trim_matches('\'');
            (!v.is_empty()).then(|| v.to_string())
        })
    };
    value("PRETTY_NAME").or_else(|| value("NAME"))
}

fn time_zone() -> Option<String> {
    if let Some(tz) = std::env::var("TZ").ok().filter(|v| !v.is_empty()) {
        return Some(tz.trim_start_matches(':').to_string());
    }
    if let Some(tz) = std::fs::read_to_string("/etc/timezone")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
    {
        return Some(tz);
    }
    let link = std::fs::read_link("/etc/localtime").ok()?;
    let s = link.to_string_lossy();
    s.split("zoneinfo/").nth(1).map(str::to_string)
}

#[cfg(unix)]
fn administrator() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(not(unix))]
fn administrator() -> bool {
    false
}

/// The smart-card service (pcscd) and its socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct PcscInfo {
    /// The socket looked at.
    pub socket: String,
    /// The service answers on it (or starts on it: systemd's socket activation).
    pub running: bool,
    /// USB devices with a smart-card (CCID) interface, which need the service.
    pub smart_card_devices: usize,
}

/// Whether something listens on the pcscd socket at `socket`.
#[cfg(unix)]
pub fn pcsc_running(socket: &Path) -> bool {
    std::os::unix::net::UnixStream::connect(socket).is_ok()
}

/// Whether something listens on the pcscd socket at `socket` (not on this OS).
#[cfg(not(unix))]
pub fn pcsc_running(_socket: &Path) -> bool {
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_gives_its_pretty_name() {
        let t = "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\n";
        assert_eq!(
            os_release_name(t).as_deref(),
            Some("Debian GNU/Linux 12 (bookworm)")
        );
        assert_eq!(os_release_name("NAME=Kylin\n").as_deref(), Some("Kylin"));
        assert_eq!(os_release_name("PRETTY_NAME=\n"), None);
    }

    #[test]
    fn a_socket_nobody_listens_on_is_not_running() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(!pcsc_running(&dir.path().join("pcscd.comm")));
        #[cfg(unix)]
        {
            let path = dir.path().join("listening.comm");
            let _l = std::os::unix::net::UnixListener::bind(&path).expect("bind");
            assert!(pcsc_running(&path));
        }
    }
}

//! USB devices as Linux's sysfs lists them (`/sys/bus/usb/devices`), matched against
//! the USB ids of the catalog's vendors. Tests point the probe at a folder shaped like
//! sysfs.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;

/// The default sysfs folder of USB devices.
pub const SYSFS_USB: &str = "/sys/bus/usb/devices";

/// USB interface class of smart cards (CCID).
const CLASS_SMART_CARD: u8 = 0x0B;

/// One USB device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct UsbDevice {
    /// The sysfs name, e.g. `1-1.2`.
    pub bus_path: String,
    /// idVendor, 4 lowercase hex digits.
    pub vendor_id: String,
    /// idProduct, 4 lowercase hex digits.
    pub product_id: String,
    /// The device's own manufacturer string.
    pub manufacturer: Option<String>,
    /// The device's own product string.
    pub product: Option<String>,
    /// One of its interfaces is a smart card (CCID) interface.
    pub smart_card: bool,
    /// The catalog vendor whose USB ids match.
    pub vendor: Option<String>,
    /// The catalog's name of the matching product.
    pub catalog_product: Option<String>,
    /// This user may open the device node (`/dev/bus/usb/BBB/DDD`); `None` when the
    /// node is not there to check.
    pub accessible: Option<bool>,
}

/// Whether this user may read and write the device node of bus `bus`, device `dev`.
#[cfg(unix)]
fn node_access(bus: u32, dev: u32) -> Option<bool> {
    use std::os::unix::ffi::OsStrExt;
    let node = format!("/dev/bus/usb/{bus:03}/{dev:03}");
    let path = Path::new(&node);
    if !path.exists() {
        return None;
    }
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: `c` is a valid NUL-terminated path; access only reads it.
    Some(unsafe { libc::access(c.as_ptr(), libc::R_OK | libc::W_OK) } == 0)
}

#[cfg(not(unix))]
fn node_access(_bus: u32, _dev: u32) -> Option<bool> {
    None
}

fn read_trimmed(path: &Path) -> Option<String> {
    let s = std::fs::read_to_string(path).ok()?;
    let s = s.trim();
    // sysfs strings are short; anything else is not what we expect there.
    (!s.is_empty() && s.len() <= 256).then(|| s.to_string())
}

fn hex4(path: &Path) -> Option<u16> {
    let s = read_trimmed(path)?;
    (s.len() == 4).then(|| u16::from_str_radix(&s, 16).ok())?
}

/// Lists the USB devices under `root` (a sysfs `devices` folder), matched against the
/// catalog. Root hubs and interfaces are skipped; a device whose ids do not read is
/// skipped too.
pub fn devices(root: &Path, catalog: &Catalog) -> std::io::Result<Vec<UsbDevice>> {
    let mut names: Vec<String> = std::fs::read_dir(root)?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        // Devices are "B-P[.P...]"; interfaces have a colon, root hubs are "usbN".
        .filter(|n| !n.contains(':') && !n.starts_with("usb"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let dir = root.join(&name);
        let (Some(vid), Some(pid)) = (hex4(&dir.join("idVendor")), hex4(&dir.join("idProduct")))
        else {
            continue;
        };
        let smart_card = std::fs::read_dir(&dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .filter(|e| e.file_name().to_string_lossy().contains(':'))
                    .any(|e| {
                        read_trimmed(&e.path().join("bInterfaceClass"))
                            .and_then(|c| u8::from_str_radix(&c, 16).ok())
                            == Some(CLASS_SMART_CARD)
                    })
            })
            .unwrap_or(false);
        let matched = catalog.vendor_for_usb(vid, pid);
        let number = |f: &str| read_trimmed(&dir.join(f)).and_then(|v| v.parse::<u32>().ok());
        let accessible = match (number("busnum"), number("devnum")) {
            (Some(b), Some(d)) => node_access(b, d),
            _ => None,
        };
        out.push(UsbDevice {
            bus_path: name,
            vendor_id: format!("{vid:04x}"),
            product_id: format!("{pid:04x}"),
            manufacturer: read_trimmed(&dir.join("manufacturer")),
            product: read_trimmed(&dir.join("product")),
            smart_card,
            vendor: matched.map(|(v, _)| v.id.clone()),
            catalog_product: matched.and_then(|(_, p)| p.map(str::to_string)),
            accessible,
        });
    }
    Ok(out)
}

//! Renewal reminders: which certificates to bring to the holder's attention now — when
//! one enters the renewal window (90 days before expiry), then at 30 and at 7 days —
//! and never more than one reminder a day. What was shown is remembered in the state
//! directory (`reminders.json`), so a reminder is not repeated across restarts.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use certkey_protocol::{days_left, RENEWAL_WINDOW_DAYS};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::inventory::Inventory;
use crate::{Error, Result};

/// The stages, in days before expiry: entering the renewal window, 30 and 7 days.
pub const STAGES: [i64; 3] = [RENEWAL_WINDOW_DAYS, 30, 7];

/// At most one reminder in this many seconds.
pub const MIN_INTERVAL_S: i64 = 24 * 3600;

/// The ledger keeps this many certificates at most (the most recent stages).
const MAX_REMEMBERED: usize = 256;

/// A certificate to remind the holder of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "ts", derive(ts_rs::TS))]
pub struct Reminder {
    /// The key's serial.
    pub token_serial: String,
    /// The certificate's CKA_ID, lowercase hex.
    pub cert_id: String,
    /// Who the certificate is for: the subject's CN, else its O, else the subject.
    pub holder: String,
    /// Days to expiry.
    pub days_left: i64,
    /// notAfter, RFC 3339 UTC.
    pub not_after: String,
    /// The stage reached: 90 (the renewal window opened), 30 or 7.
    pub stage: i64,
}

/// The stage a certificate with `days_left` is in, if it is inside the renewal window.
pub fn stage(days_left: i64) -> Option<i64> {
    if days_left <= 0 || days_left > RENEWAL_WINDOW_DAYS {
        return None;
    }
    STAGES.iter().rev().copied().find(|s| days_left <= *s)
}

/// What was reminded of, and when.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ledger {
    /// When a reminder was last shown (Unix seconds).
    #[serde(default)]
    pub last_shown: Option<i64>,
    /// Per certificate (SHA-256 of its DER), the last stage reminded of.
    #[serde(default)]
    pub reminded: BTreeMap<String, i64>,
}

impl Ledger {
    /// The certificates of `inventory` that reached a stage they were not reminded of
    /// yet; nothing when a reminder was shown less than a day before `now`.
    pub fn due(&self, inventory: &Inventory, now: OffsetDateTime) -> Vec<Reminder> {
        let secs = now.unix_timestamp();
        if self
            .last_shown
            .and_then(|t| secs.checked_sub(t))
            .is_some_and(|since| (0..MIN_INTERVAL_S).contains(&since))
        {
            return Vec::new();
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut out = Vec::new();
        for token in &inventory.tokens {
            for entry in &token.certificates {
                let Some(info) = &entry.info else { continue };
                if info.is_ca || seen.contains(&info.sha256.as_str()) {
                    continue;
                }
                seen.push(&info.sha256);
                // Counted now, not when the key was read: an app left running in the
                // tray for days still reminds on the right day.
                let Ok(not_after) = OffsetDateTime::parse(&info.not_after, &Rfc3339) else {
                    continue;
                };
                let days_left = days_left(not_after, now);
                let Some(stage) = stage(days_left) else {
                    continue;
                };
                if self.reminded.get(&info.sha256).is_some_and(|s| *s <= stage) {
                    continue;
                }
                out.push((
                    info.sha256.clone(),
                    Reminder {
                        token_serial: token.details.serial.clone(),
                        cert_id: entry.id.clone(),
                        holder: info
                            .subject_cn
                            .clone()
                            .or_else(|| info.subject_o.clone())
                            .unwrap_or_else(|| info.subject.clone()),
                        days_left,
                        not_after: info.not_after.clone(),
                        stage,
                    },
                ));
            }
        }
        out.sort_by_key(|(_, r)| r.days_left);
        out.into_iter().map(|(_, r)| r).collect::<Vec<_>>()
    }

    /// Records that `shown` (from [`Ledger::due`] on `inventory`) reached the holder.
    pub fn shown(&mut self, inventory: &Inventory, shown: &[Reminder], now: OffsetDateTime) {
        if shown.is_empty() {
            return;
        }
        self.last_shown = Some(now.unix_timestamp());
        for r in shown {
            let sha = inventory
                .tokens
                .iter()
                .filter(|t| t.details.serial == r.token_serial)
                .flat_map(|t| &t.certificates)
                .filter(|c| c.id == r.cert_id)
                .find_map(|c| c.info.as_ref().map(|i| i.sha256.clone()));
            if let Some(sha) = sha {
                self.reminded.insert(sha, r.stage);
            }
        }
        // Bounded: the certificates closest to their last stage stay.
        while self.reminded.len() > MAX_REMEMBERED {
            let Some(k) = self
                .reminded
                .iter()
                .max_by_key(|(_, s)| **s)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            self.reminded.remove(&k);
        }
    }

    /// The ledger in `path`; an empty one when there is none or it is unreadable (a
    /// damaged ledger only means a reminder may come again).
    pub fn load(path: &Path) -> Ledger {
        let mut ledger = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                tracing::warn!(path = %path.display(), "reminder ledger unreadable: {e}");
                Ledger::default()
            }),
            Err(_) => Ledger::default(),
        };
        // A ledger grown out of bounds (edited by hand) is cut back at once.
        while ledger.reminded.len() > MAX_REMEMBERED {
            ledger.reminded.pop_last();
        }
        ledger
    }

    /// Writes the ledger to `path` (replacing it atomically; the folder is made if
    /// missing, private to the user).
    pub fn save(&self, path: &Path) -> Result<()> {
        let bytes = serde_json::to_vec(self).map_err(|e| Error::InvalidArgument {
            name: "reminders".into(),
            reason: e.to_string(),
        })?;
        crate::config::write_private(path, &bytes)
    }
}

/// The ledger's place: `reminders.json` in the state directory.
pub fn ledger_path() -> Option<PathBuf> {
    crate::config::state_dir().map(|d| d.join("reminders.json"))
}

/// The reminders due now for `inventory`, recorded as shown in the ledger of the state
/// directory: what a front end calls when it is about to notify.
pub fn take_due(inventory: &Inventory, now: OffsetDateTime) -> Result<Vec<Reminder>> {
    let path = ledger_path().ok_or_else(|| Error::ConfigInvalid {
        path: "state directory".into(),
        reason: "no home directory: set CERTKEY_STATE_DIR".into(),
    })?;
    let mut ledger = Ledger::load(&path);
    let due = ledger.due(inventory, now);
    if !due.is_empty() {
        ledger.shown(inventory, &due, now);
        ledger.save(&path)?;
    }
    Ok(due)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cert::CertificateInfo;
    use crate::inventory::{CertificateEntry, TokenReport};

    const T0: i64 = 1_800_000_000;

    fn at(day: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(T0 + day * 86_400).unwrap()
    }

    /// A certificate that expires on day `expires` (see [`at`]).
    fn cert(sha: &str, expires: i64) -> CertificateEntry {
        let not_after = at(expires).format(&Rfc3339).unwrap();
        let info: CertificateInfo = serde_json::from_value(serde_json::json!({
            "subject": "CN=张三,O=广东测试有限公司,C=CN", "issuer": "CN=测试CA",
            "subject_cn": "张三", "subject_o": "广东测试有限公司", "issuer_cn": "测试CA",
            "serial_hex": "01", "not_before": "2026-01-01T00:00:00Z",
            "not_after": not_after, "days_left": 0,
            "renewal": "valid", "key_algorithm": "SM2", "signature_algorithm": "SM3withSM2",
            "key_usage": [], "extended_key_usage": [], "is_ca": false,
            "cert_type_hint": null, "sha256": sha, "sm3": "00"
        }))
        .unwrap();
        CertificateEntry {
            id: "01".into(),
            label: "c".into(),
            info: Some(info),
            has_private_key: Some(true),
            has_public_key: false,
            signature_check: None,
            seal: None,
            error: None,
        }
    }

    fn inventory(certs: Vec<(&str, CertificateEntry)>) -> Inventory {
        let mut inv = Inventory::default();
        for (serial, c) in certs {
            let mut t: TokenReport = serde_json::from_value(serde_json::json!({
                "module": "/m.so", "slot": 1, "slot_info": null,
                "label": "k", "manufacturer": "m", "model": "x", "serial": serial,
                "hardware_version": "1.0", "firmware_version": "1.0", "flags": [],
                "pin": {"min_len": 6, "max_len": 16, "initialized": true, "count_low": false,
                        "final_try": false, "locked": false, "to_be_changed": false},
                "so_pin": {"count_low": false, "final_try": false, "locked": false, "to_be_changed": false},
                "memory": {"total_public": null, "free_public": null, "total_private": null, "free_private": null},
                "sessions": {"count": null, "max": null, "rw_count": null, "rw_max": null},
                "utc_time": null,
                "vendor": null, "vendor_name": null, "vendor_name_zh": null,
                "private_objects_visible": false, "certificates": [], "keys": [], "data_objects": []
            }))
            .unwrap();
            t.certificates.push(c);
            inv.tokens.push(t);
        }
        inv
    }

    #[test]
    fn stages_are_the_window_then_30_then_7_days() {
        assert_eq!(stage(91), None);
        assert_eq!(stage(90), Some(90));
        assert_eq!(stage(31), Some(90));
        assert_eq!(stage(30), Some(30));
        assert_eq!(stage(8), Some(30));
        assert_eq!(stage(7), Some(7));
        assert_eq!(stage(1), Some(7));
        assert_eq!(stage(0), None, "expired: renewal is offline business");
        assert_eq!(stage(-3), None);
    }

    #[test]
    fn each_stage_once_and_at_most_one_reminder_a_day() {
        let mut ledger = Ledger::default();
        // K1's certificate expires on day 120, K2's on day 150.
        let inv = inventory(vec![("K1", cert("aa", 120)), ("K2", cert("bb", 150))]);
        assert!(ledger.due(&inv, at(0)).is_empty(), "outside the window");

        // Day 31: K1 enters the window, reminded once.
        let due = ledger.due(&inv, at(31));
        assert_eq!(due.len(), 1);
        assert_eq!(
            (
                due[0].token_serial.as_str(),
                due[0].stage,
                due[0].days_left,
                due[0].holder.as_str()
            ),
            ("K1", 90, 89, "张三")
        );
        ledger.shown(&inv, &due, at(31));
        assert!(
            ledger.due(&inv, at(33)).is_empty(),
            "the same stage is not repeated"
        );

        // Day 90: K1 is at 30 days; but not within a day of the last reminder.
        ledger.last_shown = Some(at(90).unix_timestamp() - 3600);
        assert!(
            ledger.due(&inv, at(90)).is_empty(),
            "one reminder a day at most"
        );
        // Day 91: K1 at 29 days and K2 entering the window, in one reminder.
        let due = ledger.due(&inv, at(91));
        assert_eq!(
            due.iter()
                .map(|r| (r.token_serial.as_str(), r.stage))
                .collect::<Vec<_>>(),
            [("K1", 30), ("K2", 90)],
            "soonest first; a second key's certificate joins the same reminder"
        );
        ledger.shown(&inv, &due, at(91));

        // The app not run between 30 and 7 days: day 115 reminds of K1 once, at 7.
        let due = ledger.due(&inv, at(115));
        assert_eq!(
            due.iter()
                .map(|r| (r.stage, r.days_left))
                .collect::<Vec<_>>(),
            [(7, 5)]
        );
        ledger.shown(&inv, &due, at(115));
        assert!(ledger.due(&inv, at(119)).is_empty());
        // Expired: renewal is offline business; no reminder.
        assert!(ledger
            .due(&inv, at(121))
            .iter()
            .all(|r| r.token_serial != "K1"));

        // A renewed certificate (another SHA-256), far from expiry: nothing.
        let renewed = inventory(vec![("K1", cert("cc", 900))]);
        assert!(ledger.due(&renewed, at(200)).is_empty());
    }

    #[test]
    fn the_ledger_survives_a_restart_and_a_damaged_one_is_a_fresh_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state").join("reminders.json");
        let inv = inventory(vec![("K1", cert("aa", 20))]);
        let mut ledger = Ledger::load(&path);
        assert_eq!(ledger, Ledger::default(), "none yet");
        let due = ledger.due(&inv, at(0));
        ledger.shown(&inv, &due, at(0));
        ledger.save(&path).unwrap();
        let again = Ledger::load(&path);
        assert_eq!(again, ledger);
        assert!(again.due(&inv, at(5)).is_empty());
        std::fs::write(&path, b"{not json").unwrap();
        assert_eq!(Ledger::load(&path), Ledger::default());
        // Out-of-range values (a ledger edited by hand) are no reason to fail.
        let odd = Ledger {
            last_shown: Some(i64::MIN),
            reminded: (0..1000).map(|i| (format!("{i:04}"), 7)).collect(),
        };
        odd.save(&path).unwrap();
        let odd = Ledger::load(&path);
        assert_eq!(odd.reminded.len(), MAX_REMEMBERED);
        assert_eq!(odd.due(&inv, at(0)).len(), 1);
    }
}

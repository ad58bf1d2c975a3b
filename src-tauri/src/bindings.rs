//! TypeScript declarations of every type that crosses the window's boundary, made by
//! ts-rs from the Rust types themselves into `ui/src/bindings/`. The test
//! `bindings_are_current` regenerates them and fails on any difference; run it with
//! `CERTKEY_UPDATE_BINDINGS=1` to write them.

use std::path::Path;

use ts_rs::{Config, ExportError, TS};

/// Writes every declaration into `dir` (one file per type, as ts-rs does).
pub fn export(dir: &Path) -> Result<(), ExportError> {
    // serde_json writes u64 as a JSON number; slots, CK_RVs and sizes fit.
    let cfg = Config::new().with_large_int("number").with_out_dir(dir);
    certkey_core::watch::LiveInventory::export_all(&cfg)?;
    certkey_core::Error::export_all(&cfg)?;
    // Flattened into CertificateEntry when the certificate parses.
    certkey_core::cert::CertificateInfo::export_all(&cfg)?;
    crate::operation::OperationRequest::export_all(&cfg)?;
    crate::operation::OperationEvent::export_all(&cfg)?;
    crate::operation::Answer::export_all(&cfg)?;
    crate::commands::Exported::export_all(&cfg)?;
    crate::commands::UnlockInfo::export_all(&cfg)?;
    certkey_core::workflow::renew::KeyQuote::export_all(&cfg)?;
    crate::seal::SealPreview::export_all(&cfg)?;
    crate::seal::SealView::export_all(&cfg)?;
    crate::settings::SettingsView::export_all(&cfg)?;
    crate::settings::LogTail::export_all(&cfg)?;
    certkey_core::diagnose::Report::export_all(&cfg)?;
    certkey_core::diagnose::fix::Applied::export_all(&cfg)?;
    crate::diagnose::DiagnoseRequest::export_all(&cfg)?;
    crate::diagnose::DiagnoseProgress::export_all(&cfg)?;
    crate::diagnose::ReportFormat::export_all(&cfg)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::{Path, PathBuf};

    fn files(dir: &Path) -> BTreeMap<PathBuf, String> {
        let mut out = BTreeMap::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            let Ok(entries) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in entries.flatten() {
                let p = e.path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    let rel = p.strip_prefix(dir).unwrap().to_path_buf();
                    out.insert(rel, std::fs::read_to_string(&p).unwrap());
                }
            }
        }
        out
    }

    #[test]
    fn bindings_are_current() {
        let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings");
        if std::env::var_os("CERTKEY_UPDATE_BINDINGS").is_some() {
            let _ = std::fs::remove_dir_all(&committed);
            super::export(&committed).unwrap();
        }
        let fresh = tempfile::tempdir().unwrap();
        super::export(fresh.path()).unwrap();
        let (want, have) = (files(fresh.path()), files(&committed));
        let stale: Vec<_> = want
            .iter()
            .filter(|(p, text)| have.get(*p) != Some(*text))
            .map(|(p, _)| p.display().to_string())
            .chain(
                have.keys()
                    .filter(|p| !want.contains_key(*p))
                    .map(|p| format!("{} (no longer generated)", p.display())),
            )
            .collect();
        assert!(
            stale.is_empty(),
            "ui/src/bindings is out of date: {stale:?}; run \
             CERTKEY_UPDATE_BINDINGS=1 cargo test -p certkey-app bindings_are_current"
        );
    }
}

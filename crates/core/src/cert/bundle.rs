//! CA bundles: files of PEM (one or many blocks) or DER certificates.

use std::path::Path;

use crate::{Error, Result};

/// Reads every certificate of a bundle file, as DER.
pub fn read_file(path: &Path) -> Result<Vec<Vec<u8>>> {
    let data = std::fs::read(path).map_err(|e| Error::io(path, &e))?;
    let bad = |reason: String| Error::CertificateInvalid {
        reason: format!("{}: {reason}", path.display()),
    };
    if data.starts_with(b"-----BEGIN") || data.windows(11).any(|w| w == b"-----BEGIN ") {
        let mut out = Vec::new();
        for pem in x509_parser::pem::Pem::iter_from_buffer(&data) {
            let pem = pem.map_err(|e| bad(e.to_string()))?;
            if pem.label == "CERTIFICATE" {
                super::parse(&pem.contents)?;
                out.push(pem.contents);
            }
        }
        if out.is_empty() {
            return Err(bad("no CERTIFICATE block".into()));
        }
        Ok(out)
    } else {
        super::parse(&data).map_err(|e| bad(e.to_string()))?;
        Ok(vec![data])
    }
}

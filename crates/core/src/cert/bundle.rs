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

/// PEM text of one DER certificate, 64 columns per line.
pub fn to_pem(der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut s = String::from("-----BEGIN CERTIFICATE-----\n");
    // base64 output is ASCII, so splitting on bytes keeps valid UTF-8.
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(chunk));
        s.push('\n');
    }
    s.push_str("-----END CERTIFICATE-----\n");
    s
}

#[cfg(test)]
mod pem_tests {
    #[test]
    fn pem_lines_are_at_most_64_columns() {
        let pem = super::to_pem(&[0u8; 100]);
        assert!(pem.lines().all(|l| l.len() <= 64));
        assert!(pem.starts_with("-----BEGIN CERTIFICATE-----\n"));
    }
}

//! Secrets in the database (SO PINs, initial user PINs) and activation codes. The data
//! key (`keys/data.key.json`, sealed under the passphrase) never reaches the database:
//! PINs are AES-256-GCM sealed under a subkey of it, bound to their row by the
//! associated data; activation codes are stored as HMAC-SHA256 under another subkey,
//! salted, so a database dump alone does not reveal or brute-force them.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

type HmacSha256 = Hmac<Sha256>;

/// The service's data key and its purpose-specific subkeys.
pub struct DataKey {
    seal: Zeroizing<[u8; 32]>,
    code: Zeroizing<[u8; 32]>,
}

fn subkey(root: &[u8; 32], label: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut out = Zeroizing::new([0u8; 32]);
    // HMAC accepts keys of any length, so this cannot fail.
    if let Ok(mut m) = <HmacSha256 as KeyInit>::new_from_slice(root) {
        m.update(label);
        out.copy_from_slice(&m.finalize().into_bytes());
    }
    out
}

impl DataKey {
    /// From the 32-byte root key.
    pub fn new(root: &[u8; 32]) -> DataKey {
        DataKey {
            seal: subkey(root, b"certkey-ca seal v1"),
            code: subkey(root, b"certkey-ca activation code v1"),
        }
    }

    /// Seals `secret` for the row described by `aad`: nonce || ciphertext || tag.
    pub fn seal(&self, secret: &[u8], aad: &str) -> anyhow::Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| anyhow::anyhow!("random: {e}"))?;
        let cipher =
            Aes256Gcm::new_from_slice(self.seal.as_ref()).map_err(|e| anyhow::anyhow!("{e}"))?;
        let ct = cipher
            .encrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: secret,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        Ok([&nonce[..], &ct].concat())
    }

    /// Opens what [`DataKey::seal`] made for the same `aad`.
    pub fn open(&self, sealed: &[u8], aad: &str) -> anyhow::Result<Zeroizing<Vec<u8>>> {
        let (nonce, ct) = sealed
            .split_at_checked(12)
            .ok_or_else(|| anyhow::anyhow!("sealed value too short"))?;
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| anyhow::anyhow!("bad nonce"))?;
        let cipher =
            Aes256Gcm::new_from_slice(self.seal.as_ref()).map_err(|e| anyhow::anyhow!("{e}"))?;
        cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| {
                anyhow::anyhow!(
                    "a sealed database value does not open (wrong data key or altered row)"
                )
            })
    }

    /// The MAC stored for an activation code.
    pub fn code_mac(&self, salt: &[u8], order_id: &str, code: &str) -> Vec<u8> {
        match <HmacSha256 as KeyInit>::new_from_slice(self.code.as_ref()) {
            Ok(mut m) => {
                m.update(salt);
                m.update(order_id.as_bytes());
                m.update(b"\0");
                m.update(code.as_bytes());
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }

    /// Constant-time check of an activation code.
    pub fn code_matches(&self, salt: &[u8], order_id: &str, code: &str, mac: &[u8]) -> bool {
        match <HmacSha256 as KeyInit>::new_from_slice(self.code.as_ref()) {
            Ok(mut m) => {
                m.update(salt);
                m.update(order_id.as_bytes());
                m.update(b"\0");
                m.update(code.as_bytes());
                m.verify_slice(mac).is_ok()
            }
            Err(_) => false,
        }
    }
}

/// Random bytes.
pub fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).map_err(|e| anyhow::anyhow!("random: {e}"))?;
    Ok(b)
}

/// A uniformly random string of `n` characters from `alphabet` (rejection sampling).
pub fn random_string(alphabet: &[u8], n: usize) -> anyhow::Result<String> {
    let mut out = String::with_capacity(n);
    let limit = 256 - (256 % alphabet.len());
    while out.len() < n {
        let [b] = random_bytes::<1>()?;
        if (b as usize) < limit {
            out.push(alphabet[b as usize % alphabet.len()] as char);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_for_their_row() {
        let k = DataKey::new(&[7u8; 32]);
        let s = k.seal(b"87654321", "token:SK1:so").unwrap();
        assert_eq!(k.open(&s, "token:SK1:so").unwrap().as_slice(), b"87654321");
        assert!(k.open(&s, "token:SK2:so").is_err());
        assert!(DataKey::new(&[8u8; 32]).open(&s, "token:SK1:so").is_err());
        assert!(k.open(&s[..5], "token:SK1:so").is_err());
    }

    #[test]
    fn codes_match_only_with_salt_order_and_code() {
        let k = DataKey::new(&[7u8; 32]);
        let mac = k.code_mac(b"salt", "o1", "123456");
        assert!(k.code_matches(b"salt", "o1", "123456", &mac));
        assert!(!k.code_matches(b"salt", "o1", "123457", &mac));
        assert!(!k.code_matches(b"salt", "o2", "123456", &mac));
        assert!(!k.code_matches(b"tlas", "o1", "123456", &mac));
    }

    #[test]
    fn random_strings_use_the_alphabet() {
        let s = random_string(b"0123456789", 6).unwrap();
        assert_eq!(s.len(), 6);
        assert!(s.chars().all(|c| c.is_ascii_digit()));
    }
}

//! Secret wrapping: how a CA service hands a client a secret (an initial user PIN, an
//! SO PIN) so that only that client can read it.
//!
//! The client makes an ephemeral P-256 key pair for one run and sends its public key as
//! `client_key`; the service answers with a [`WrappedSecret`]. The scheme is ECIES-like:
//! ECDH with a fresh service key, HKDF-SHA256, AES-256-GCM.
//!
//! # Construction (normative)
//!
//! `||` is byte concatenation. P-256 is secp256r1 (prime256v1). A *SEC1 uncompressed
//! point* is `0x04 || X || Y`, 65 bytes, with `X` and `Y` the affine coordinates as
//! 32-byte big-endian integers.
//!
//! **Client key.** The client generates a key pair `(c, C)`, keeps `c` in memory only,
//! and sends `C`, SEC1 uncompressed, as standard padded base64 (`client_key`).
//!
//! **Wrapping** `secret` (at most 1024 bytes) under `context` (bytes agreed by both
//! sides, see below):
//!
//! 1. Decode `C`. Reject it unless it is exactly 65 bytes, starts with `0x04`, and its
//!    coordinates are below the field prime and satisfy the curve equation. (This also
//!    excludes the point at infinity, which has no uncompressed form.) Compressed
//!    (33-byte) and hybrid encodings are rejected.
//! 2. Generate a fresh ephemeral key pair `(e, E)`, `e` uniform in `[1, n-1]`. Never
//!    reuse `e`, not even for the same client.
//! 3. `Z` = the X coordinate of `e·C`, 32 bytes big-endian: the plain ECDH shared secret
//!    (SEC 1 §3.3.1; what `openssl pkeyutl -derive` outputs). `Z` is used as is, without
//!    hashing.
//! 4. `K` = HKDF-SHA256 (RFC 5869, extract then expand) with
//!    - IKM  = `Z` (32 bytes),
//!    - salt = `E || C` (130 bytes: both points SEC1 uncompressed, ephemeral first),
//!    - info = `"certkey wrap v1" || 0x00 || context` (the ASCII string, one zero byte,
//!      then the context bytes, with no length prefix),
//!    - L    = 32 bytes.
//! 5. `N` = 12 random bytes.
//! 6. `CT || T` = AES-256-GCM encryption (NIST SP 800-38D) of `secret` with key `K`,
//!    nonce `N`, additional authenticated data `context`, and a 16-byte tag `T`
//!    appended after the ciphertext (`CT` is as long as `secret`).
//! 7. Send `WrappedSecret { ephemeral_key: E, nonce: N, ciphertext: CT || T }`, each
//!    field standard padded base64; `ephemeral_key` is SEC1 uncompressed.
//!
//! **Unwrapping.** The client rejects the [`WrappedSecret`] as malformed unless
//! `ephemeral_key` is a valid SEC1 uncompressed P-256 point (as in step 1), `nonce` is
//! 12 bytes and `ciphertext` is 16 to 1040 bytes. It then computes `Z` = X of `c·E`,
//! `K` as in step 4 (salt `E || C` with its own `C`), and decrypts; a tag mismatch
//! means the secret was not wrapped for this key and context, or was altered.
//!
//! **Contexts.** The context binds a wrapped secret to its purpose, so that a secret
//! wrapped for one purpose cannot be passed off as another. Each field that carries a
//! [`WrappedSecret`] states its context, an ASCII label followed by an identifier, for
//! example `"activation:" || token_serial` for the initial user PIN and
//! `"unlock-so:" || ticket` for an SO PIN. Both sides must use exactly the same bytes.
//!
//! # Test vector
//!
//! ```text
//! c       = c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721
//! C       = 0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6
//!             7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299
//! e       = 7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534
//! E       = 04ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230
//!             28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141
//! context = "activation:TS0001"
//! secret  = "12345678"
//! Z       = 61e109425a7adbb9d0137091cff10a55550b708d14ad0137b80fa0ec1328394f
//! info    = 636572746b657920777261702076310061637469766174696f6e3a545330303031
//! K       = b5d667561d246a7feffdfc9b38bd8361433c407940e527a993474f2c1a1472aa
//! N       = 000102030405060708090a0b
//! CT || T = cb4964ac23c5855e 1adf8ec5b85efb1c961d42a34fd894aa
//! ```

use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};
use aes_gcm::Aes256Gcm;
use hkdf::Hkdf;
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::{PublicKey, SecretKey};
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::v1::WrappedSecret;
use crate::Base64;

/// Longest secret that may be wrapped, in bytes.
pub const MAX_SECRET_LEN: usize = 1024;
/// Length of a SEC1 uncompressed P-256 point.
pub const POINT_LEN: usize = 65;
/// Length of the AES-GCM nonce.
pub const NONCE_LEN: usize = 12;
/// Length of the AES-GCM tag, appended to the ciphertext.
pub const TAG_LEN: usize = 16;
/// Start of the HKDF `info`; the context follows.
pub const INFO_PREFIX: &[u8] = b"certkey wrap v1\0";

const SCALAR_LEN: usize = 32;
/// Random 32-byte strings are valid scalars with probability about 1 - 2^-32.
const KEYGEN_ATTEMPTS: usize = 64;

/// Errors of wrapping and unwrapping.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WrapError {
    /// The client key is not a SEC1 uncompressed P-256 point.
    #[error("invalid client key")]
    InvalidClientKey,
    /// A field has the wrong length or encoding, or the secret is too long.
    #[error("malformed wrapped secret")]
    Malformed,
    /// Authentication failed: wrong key or context, or altered data.
    #[error("wrapped secret does not decrypt")]
    Decrypt,
    /// The operating system random source failed.
    #[error("random source failed")]
    Rng,
}

/// The client's ephemeral key pair (kept in memory for one run).
pub struct ClientKey {
    /// Zeroized on drop by `p256`.
    secret: SecretKey,
    public: [u8; POINT_LEN],
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ClientKey(..)")
    }
}

impl ClientKey {
    /// A new random key pair.
    pub fn generate() -> Result<ClientKey, WrapError> {
        ClientKey::from_secret(random_secret()?)
    }

    fn from_secret(secret: SecretKey) -> Result<ClientKey, WrapError> {
        let public = point_bytes(&secret.public_key()).ok_or(WrapError::Rng)?;
        Ok(ClientKey { secret, public })
    }

    /// The 32-byte secret scalar, to keep the key across runs while an unlock waits
    /// for review (store it as carefully as a private key).
    pub fn secret_bytes(&self) -> Zeroizing<[u8; 32]> {
        let mut out = Zeroizing::new([0u8; 32]);
        let bytes = Zeroizing::new(self.secret.to_bytes());
        out.copy_from_slice(bytes.as_slice());
        out
    }

    /// The key saved with [`ClientKey::secret_bytes`].
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<ClientKey, WrapError> {
        let secret = SecretKey::from_slice(bytes).map_err(|_| WrapError::Malformed)?;
        ClientKey::from_secret(secret)
    }

    /// SEC1 uncompressed public point (65 bytes), what goes in `client_key`.
    pub fn public_sec1(&self) -> [u8; 65] {
        self.public
    }

    /// Opens a secret wrapped for this key; `context` must equal the one used to wrap.
    pub fn unwrap(
        &self,
        w: &WrappedSecret,
        context: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, WrapError> {
        let eph_bytes = w.ephemeral_key.as_bytes();
        let eph = parse_point(eph_bytes).ok_or(WrapError::Malformed)?;
        let eph_bytes =
            <&[u8; POINT_LEN]>::try_from(eph_bytes).map_err(|_| WrapError::Malformed)?;
        let nonce =
            Nonce::<Aes256Gcm>::try_from(w.nonce.as_bytes()).map_err(|_| WrapError::Malformed)?;
        let sealed = w.ciphertext.as_bytes();
        let ct_len = sealed
            .len()
            .checked_sub(TAG_LEN)
            .filter(|n| *n <= MAX_SECRET_LEN)
            .ok_or(WrapError::Malformed)?;
        let (ct, tag) = sealed
            .split_at_checked(ct_len)
            .ok_or(WrapError::Malformed)?;
        let tag = Tag::<Aes256Gcm>::try_from(tag).map_err(|_| WrapError::Malformed)?;

        let shared = self.secret.diffie_hellman(&eph);
        let key = derive_key(shared.raw_secret_bytes(), eph_bytes, &self.public, context)?;
        let cipher = Aes256Gcm::new((&*key).into());
        let mut buf = Zeroizing::new(ct.to_vec());
        cipher
            .decrypt_inout_detached(&nonce, context, buf.as_mut_slice().into(), &tag)
            .map_err(|_| WrapError::Decrypt)?;
        Ok(buf)
    }
}

/// Wraps `secret` for the client public key (SEC1 uncompressed, 65 bytes; anything
/// else — compressed, wrong length, not on the curve, identity — is
/// [`WrapError::InvalidClientKey`]). `secret` is at most [`MAX_SECRET_LEN`] bytes.
pub fn wrap(
    client_public: &[u8],
    secret: &[u8],
    context: &[u8],
) -> Result<WrappedSecret, WrapError> {
    let client = parse_point(client_public).ok_or(WrapError::InvalidClientKey)?;
    if secret.len() > MAX_SECRET_LEN {
        return Err(WrapError::Malformed);
    }
    let eph = random_secret()?;
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| WrapError::Rng)?;
    wrap_with(&eph, &nonce, &client, secret, context)
}

/// [`wrap`] with the ephemeral key and nonce given (fixed in known-answer tests).
fn wrap_with(
    eph_secret: &SecretKey,
    nonce: &[u8; NONCE_LEN],
    client: &PublicKey,
    secret: &[u8],
    context: &[u8],
) -> Result<WrappedSecret, WrapError> {
    if secret.len() > MAX_SECRET_LEN {
        return Err(WrapError::Malformed);
    }
    let client_bytes = point_bytes(client).ok_or(WrapError::InvalidClientKey)?;
    let eph_bytes = point_bytes(&eph_secret.public_key()).ok_or(WrapError::Rng)?;
    let shared = eph_secret.diffie_hellman(client);
    let key = derive_key(
        shared.raw_secret_bytes(),
        &eph_bytes,
        &client_bytes,
        context,
    )?;
    let cipher = Aes256Gcm::new((&*key).into());
    // Zeroizing so the plaintext copy is wiped if encryption fails.
    let mut out = Zeroizing::new(Vec::with_capacity(secret.len() + TAG_LEN));
    out.extend_from_slice(secret);
    let tag = cipher
        .encrypt_inout_detached(
            &Nonce::<Aes256Gcm>::from(*nonce),
            context,
            out.as_mut_slice().into(),
        )
        .map_err(|_| WrapError::Malformed)?;
    out.extend_from_slice(&tag);
    Ok(WrappedSecret {
        ephemeral_key: Base64(eph_bytes.to_vec()),
        nonce: Base64(nonce.to_vec()),
        ciphertext: Base64(std::mem::take(&mut *out)),
    })
}

/// HKDF-SHA256(ikm = shared, salt = eph || client, info = INFO_PREFIX || context), 32 bytes.
fn derive_key(
    shared: &[u8],
    eph: &[u8; POINT_LEN],
    client: &[u8; POINT_LEN],
    context: &[u8],
) -> Result<Zeroizing<[u8; 32]>, WrapError> {
    let mut salt = [0u8; 2 * POINT_LEN];
    let (first, second) = salt.split_at_mut(POINT_LEN);
    first.copy_from_slice(eph);
    second.copy_from_slice(client);
    let hkdf = Hkdf::<Sha256>::new(Some(&salt), shared);
    let mut key = Zeroizing::new([0u8; 32]);
    hkdf.expand_multi_info(&[INFO_PREFIX, context], key.as_mut_slice())
        .map_err(|_| WrapError::Malformed)?;
    Ok(key)
}

/// Whether `bytes` is a client key [`wrap`] accepts: a SEC1 uncompressed P-256 point
/// (65 bytes, tag 0x04, on the curve, not the identity). Services check it when a
/// request arrives, so a bad key is refused at once instead of failing later.
pub fn is_valid_client_key(bytes: &[u8]) -> bool {
    parse_point(bytes).is_some()
}

/// A SEC1 uncompressed P-256 point: exactly 65 bytes, tag 0x04, on the curve.
fn parse_point(bytes: &[u8]) -> Option<PublicKey> {
    if bytes.len() != POINT_LEN || bytes.first() != Some(&0x04) {
        return None;
    }
    PublicKey::from_sec1_bytes(bytes).ok()
}

fn point_bytes(point: &PublicKey) -> Option<[u8; POINT_LEN]> {
    <[u8; POINT_LEN]>::try_from(point.to_sec1_point(false).as_bytes()).ok()
}

/// A uniform secret scalar in [1, n-1], by rejection sampling from the OS RNG.
fn random_secret() -> Result<SecretKey, WrapError> {
    for _ in 0..KEYGEN_ATTEMPTS {
        let mut bytes = Zeroizing::new([0u8; SCALAR_LEN]);
        getrandom::fill(bytes.as_mut_slice()).map_err(|_| WrapError::Rng)?;
        if let Ok(secret) = SecretKey::from_slice(bytes.as_slice()) {
            return Ok(secret);
        }
    }
    Err(WrapError::Rng)
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known-answer vector (also in the module docs). Z, K and CT || T were computed
    // independently of this crate with OpenSSL 3.0 and python3 `cryptography` 48:
    //   (c.pem, e.pem: PKCS#8 keys for the scalars below; *.pub.pem: their public keys)
    //   openssl pkeyutl -derive -inkey e.pem -peerkey c.pub.pem | xxd -p      -> Z
    //   openssl pkeyutl -derive -inkey c.pem -peerkey e.pub.pem | xxd -p      -> Z
    //   openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:$Z \
    //       -kdfopt hexsalt:$E$C -kdfopt hexinfo:$INFO HKDF                   -> K
    //   python3 -c 'from cryptography.hazmat.primitives.ciphers.aead import AESGCM;
    //       print(AESGCM(K).encrypt(N, b"12345678", b"activation:TS0001").hex())' -> CT || T
    // The public points C and E are from `openssl pkey -noout -text`.
    const KAT_C_SECRET: &str = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721";
    const KAT_C: &str = "0460fed4ba255a9d31c961eb74c6356d68c049b8923b61fa6ce669622e60f29fb6\
                         7903fe1008b8bc99a41ae9e95628bc64f2f1b20c2d7e9f5177a3c294d4462299";
    const KAT_E_SECRET: &str = "7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534";
    const KAT_E: &str = "04ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b230\
                         28af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141";
    const KAT_CONTEXT: &[u8] = b"activation:TS0001";
    const KAT_SECRET: &[u8] = b"12345678";
    const KAT_Z: &str = "61e109425a7adbb9d0137091cff10a55550b708d14ad0137b80fa0ec1328394f";
    const KAT_INFO: &str = "636572746b657920777261702076310061637469766174696f6e3a545330303031";
    const KAT_K: &str = "b5d667561d246a7feffdfc9b38bd8361433c407940e527a993474f2c1a1472aa";
    const KAT_N: &str = "000102030405060708090a0b";
    const KAT_CT_TAG: &str = "cb4964ac23c5855e1adf8ec5b85efb1c961d42a34fd894aa";

    fn hex(s: &str) -> Vec<u8> {
        assert!(s.len() % 2 == 0, "odd hex length");
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    fn secret_key(h: &str) -> SecretKey {
        SecretKey::from_slice(&hex(h)).expect("valid scalar")
    }

    fn pin_wrap(client: &ClientKey, context: &[u8]) -> WrappedSecret {
        wrap(&client.public_sec1(), b"123456", context).expect("wrap")
    }

    #[test]
    fn round_trip() {
        let client = ClientKey::generate().unwrap();
        let public = client.public_sec1();
        assert_eq!(public[0], 0x04);
        for secret in [&b""[..], b"1", b"12345678", &[0xA5; MAX_SECRET_LEN]] {
            for context in [&b""[..], b"activation:TS0001", b"unlock-so:T-42"] {
                let w = wrap(&public, secret, context).unwrap();
                assert_eq!(w.ephemeral_key.as_bytes().len(), POINT_LEN);
                assert_eq!(w.nonce.as_bytes().len(), NONCE_LEN);
                assert_eq!(w.ciphertext.as_bytes().len(), secret.len() + TAG_LEN);
                assert_eq!(client.unwrap(&w, context).unwrap().as_slice(), secret);
            }
        }
    }

    #[test]
    fn fresh_ephemeral_key_and_nonce_per_wrap() {
        let client = ClientKey::generate().unwrap();
        let a = pin_wrap(&client, b"ctx");
        let b = pin_wrap(&client, b"ctx");
        assert_ne!(a.ephemeral_key, b.ephemeral_key);
        assert_ne!(a.nonce, b.nonce);
        assert_ne!(a.ciphertext, b.ciphertext);
        assert_ne!(
            ClientKey::generate().unwrap().public_sec1(),
            client.public_sec1()
        );
    }

    #[test]
    fn secret_too_long_is_malformed() {
        let client = ClientKey::generate().unwrap();
        let long = vec![1u8; MAX_SECRET_LEN + 1];
        assert_eq!(
            wrap(&client.public_sec1(), &long, b"c").unwrap_err(),
            WrapError::Malformed
        );
        // Ciphertext longer than any wrapped secret can be.
        let mut w = pin_wrap(&client, b"c");
        w.ciphertext = Base64(vec![0; MAX_SECRET_LEN + TAG_LEN + 1]);
        assert_eq!(client.unwrap(&w, b"c").unwrap_err(), WrapError::Malformed);
    }

    #[test]
    fn wrong_context_or_key_fails() {
        let client = ClientKey::generate().unwrap();
        let w = pin_wrap(&client, b"activation:TS0001");
        for ctx in [
            &b""[..],
            b"activation:TS0002",
            b"activation:TS000",
            b"unlock-so:TS0001",
        ] {
            assert_eq!(client.unwrap(&w, ctx).unwrap_err(), WrapError::Decrypt);
        }
        let other = ClientKey::generate().unwrap();
        assert_eq!(
            other.unwrap(&w, b"activation:TS0001").unwrap_err(),
            WrapError::Decrypt
        );
    }

    #[test]
    fn tampering_fails_without_panicking() {
        let client = ClientKey::generate().unwrap();
        let ctx = b"unlock-so:ticket-1";
        let w = pin_wrap(&client, ctx);

        // Every bit of the ciphertext and tag, and of the nonce.
        for i in 0..w.ciphertext.0.len() * 8 {
            let mut t = w.clone();
            t.ciphertext.0[i / 8] ^= 1 << (i % 8);
            assert_eq!(client.unwrap(&t, ctx).unwrap_err(), WrapError::Decrypt);
        }
        for i in 0..NONCE_LEN * 8 {
            let mut t = w.clone();
            t.nonce.0[i / 8] ^= 1 << (i % 8);
            assert_eq!(client.unwrap(&t, ctx).unwrap_err(), WrapError::Decrypt);
        }
        // Ephemeral key: an altered coordinate is (almost always) off the curve.
        for i in 0..POINT_LEN * 8 {
            let mut t = w.clone();
            t.ephemeral_key.0[i / 8] ^= 1 << (i % 8);
            let err = client.unwrap(&t, ctx).unwrap_err();
            assert!(
                matches!(err, WrapError::Malformed | WrapError::Decrypt),
                "bit {i}: {err:?}"
            );
        }
        // A valid point that is not the one used: authentication fails.
        let mut t = w.clone();
        t.ephemeral_key = Base64(ClientKey::generate().unwrap().public_sec1().to_vec());
        assert_eq!(client.unwrap(&t, ctx).unwrap_err(), WrapError::Decrypt);
        // Same point, compressed: the wire form is uncompressed only.
        let mut t = w.clone();
        let y_odd = w.ephemeral_key.0[64] & 1;
        let mut compressed = vec![0x02 | y_odd];
        compressed.extend_from_slice(&w.ephemeral_key.0[1..33]);
        t.ephemeral_key = Base64(compressed);
        assert_eq!(client.unwrap(&t, ctx).unwrap_err(), WrapError::Malformed);
        // Swapping fields between two wraps.
        let w2 = pin_wrap(&client, ctx);
        let mut t = w.clone();
        t.nonce = w2.nonce.clone();
        assert_eq!(client.unwrap(&t, ctx).unwrap_err(), WrapError::Decrypt);
        let mut t = w.clone();
        t.ephemeral_key = w2.ephemeral_key.clone();
        assert_eq!(client.unwrap(&t, ctx).unwrap_err(), WrapError::Decrypt);
    }

    #[test]
    fn truncated_or_extended_fields_fail() {
        let client = ClientKey::generate().unwrap();
        let ctx = b"activation:TS0001";
        let w = pin_wrap(&client, ctx);

        for n in 0..w.ciphertext.0.len() {
            let mut t = w.clone();
            t.ciphertext.0.truncate(n);
            let err = client.unwrap(&t, ctx).unwrap_err();
            let expected = if n < TAG_LEN {
                WrapError::Malformed
            } else {
                WrapError::Decrypt
            };
            assert_eq!(err, expected, "ciphertext truncated to {n}");
        }
        let mut t = w.clone();
        t.ciphertext.0.push(0);
        assert_eq!(client.unwrap(&t, ctx).unwrap_err(), WrapError::Decrypt);

        for n in (0..NONCE_LEN).chain([NONCE_LEN + 1, 16, 32]) {
            let mut t = w.clone();
            t.nonce.0.resize(n, 0);
            assert_eq!(
                client.unwrap(&t, ctx).unwrap_err(),
                WrapError::Malformed,
                "nonce of {n} bytes"
            );
        }
        for n in (0..POINT_LEN).chain([POINT_LEN + 1, 97]) {
            let mut t = w.clone();
            t.ephemeral_key.0.resize(n, 0);
            assert_eq!(
                client.unwrap(&t, ctx).unwrap_err(),
                WrapError::Malformed,
                "ephemeral key of {n} bytes"
            );
        }
        let empty = WrappedSecret {
            ephemeral_key: Base64(vec![]),
            nonce: Base64(vec![]),
            ciphertext: Base64(vec![]),
        };
        assert_eq!(
            client.unwrap(&empty, ctx).unwrap_err(),
            WrapError::Malformed
        );
    }

    #[test]
    fn invalid_client_keys() {
        let good = ClientKey::generate().unwrap().public_sec1();
        let y_odd = good[64] & 1;
        let mut compressed = vec![0x02 | y_odd];
        compressed.extend_from_slice(&good[1..33]);
        let mut off_curve = good;
        off_curve[64] ^= 1;
        let mut hybrid = good;
        hybrid[0] = 0x06 | y_odd;
        // x = p (not reduced) with y from the generator: not a valid encoding.
        let mut x_is_p = good;
        x_is_p[1..33].copy_from_slice(&hex(
            "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
        ));
        let mut long = good.to_vec();
        long.push(0);

        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("65 zero bytes", vec![0; 65]),
            ("identity", vec![0]),
            ("empty", vec![]),
            ("compressed", compressed.clone()),
            ("64 bytes", good[1..].to_vec()),
            ("64 bytes, prefix kept", good[..64].to_vec()),
            ("66 bytes", long),
            ("off curve", off_curve.to_vec()),
            ("hybrid", hybrid.to_vec()),
            ("x = p", x_is_p.to_vec()),
        ];
        // The compressed form itself decodes to a valid point; only the format is wrong.
        assert!(PublicKey::from_sec1_bytes(&compressed).is_ok());
        for (name, key) in cases {
            assert_eq!(
                wrap(&key, b"123456", b"ctx").unwrap_err(),
                WrapError::InvalidClientKey,
                "{name}"
            );
        }
    }

    #[test]
    fn known_answer() {
        let client = ClientKey::from_secret(secret_key(KAT_C_SECRET)).unwrap();
        assert_eq!(client.public_sec1().to_vec(), hex(KAT_C));
        let eph = secret_key(KAT_E_SECRET);
        let eph_pub = point_bytes(&eph.public_key()).unwrap();
        assert_eq!(eph_pub.to_vec(), hex(KAT_E));

        // ECDH (openssl pkeyutl -derive), from both sides.
        let client_pub = parse_point(&hex(KAT_C)).unwrap();
        let eph_point = parse_point(&hex(KAT_E)).unwrap();
        let z = eph.diffie_hellman(&client_pub);
        assert_eq!(z.raw_secret_bytes().to_vec(), hex(KAT_Z));
        let z2 = client.secret.diffie_hellman(&eph_point);
        assert_eq!(z2.raw_secret_bytes().to_vec(), hex(KAT_Z));

        // HKDF (openssl kdf ... HKDF).
        let mut info = INFO_PREFIX.to_vec();
        info.extend_from_slice(KAT_CONTEXT);
        assert_eq!(info, hex(KAT_INFO));
        let key = derive_key(&hex(KAT_Z), &eph_pub, &client.public_sec1(), KAT_CONTEXT).unwrap();
        assert_eq!(key.to_vec(), hex(KAT_K));

        // AES-256-GCM (python3 cryptography AESGCM).
        let nonce: [u8; NONCE_LEN] = hex(KAT_N).try_into().unwrap();
        let w = wrap_with(&eph, &nonce, &client_pub, KAT_SECRET, KAT_CONTEXT).unwrap();
        assert_eq!(w.ephemeral_key.0, hex(KAT_E));
        assert_eq!(w.nonce.0, hex(KAT_N));
        assert_eq!(w.ciphertext.0, hex(KAT_CT_TAG));
        assert_eq!(
            client.unwrap(&w, KAT_CONTEXT).unwrap().as_slice(),
            KAT_SECRET
        );
    }

    #[test]
    fn wrapped_secret_json_round_trip() {
        let client = ClientKey::generate().unwrap();
        let w = pin_wrap(&client, b"activation:TS0001");
        let json = serde_json::to_string(&w).unwrap();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 3);
        for field in ["ephemeral_key", "nonce", "ciphertext"] {
            assert!(obj[field].is_string(), "{field}");
        }
        let back: WrappedSecret = serde_json::from_str(&json).unwrap();
        assert_eq!(back, w);
        assert_eq!(
            client
                .unwrap(&back, b"activation:TS0001")
                .unwrap()
                .as_slice(),
            b"123456"
        );

        // The known-answer vector on the wire.
        let kat = WrappedSecret {
            ephemeral_key: Base64(hex(KAT_E)),
            nonce: Base64(hex(KAT_N)),
            ciphertext: Base64(hex(KAT_CT_TAG)),
        };
        let json = serde_json::to_string(&kat).unwrap();
        assert_eq!(
            json,
            "{\"ephemeral_key\":\"BOrSGFkBGeiHaykUb/icphdwxO27+X04zjhe0oHYprIwKK9hKB/TXi+nACUjrMhaQpywbuZkgyU4n1nt/OFAUUE=\",\
             \"nonce\":\"AAECAwQFBgcICQoL\",\
             \"ciphertext\":\"y0lkrCPFhV4a347FuF77HJYdQqNP2JSq\"}"
        );
        let client = ClientKey::from_secret(secret_key(KAT_C_SECRET)).unwrap();
        let back: WrappedSecret = serde_json::from_str(&json).unwrap();
        assert_eq!(
            client.unwrap(&back, KAT_CONTEXT).unwrap().as_slice(),
            KAT_SECRET
        );
    }
}

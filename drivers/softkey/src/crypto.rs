//! Cryptographic layer of the `softkey` software PKCS#11 token.
//!
//! Everything here is panic-free on arbitrary input: malformed keys,
//! signatures, encodings and ciphertexts are reported as [`CryptoError`]s
//! (or `false` for the `*_verify_*` functions).
//!
//! Conventions:
//! * secret keys are 32-byte big-endian scalars;
//! * public keys are SEC1 uncompressed points (`0x04 || x || y`, 65 bytes).
//!   Functions taking a public key also accept the DER OCTET STRING form
//!   (`CKA_EC_POINT`), see [`parse_ec_point`], and check the point is on the curve;
//! * signatures are raw `r || s` (64 bytes), as PKCS#11 uses for EC mechanisms.
//!
//! Signatures are *hedged*: the nonce is derived RFC 6979-style from the key,
//! the digest and 32 fresh bytes from the OS RNG.

#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::unreachable,
    clippy::todo
)]

use std::fmt;

use aes_gcm::aead::{AeadInOut, KeyInit, Nonce, Tag};
use aes_gcm::Aes256Gcm;
use p256::ecdsa::signature::hazmat::{PrehashVerifier, RandomizedPrehashSigner};
use sha2::Digest as _;
use sm2::elliptic_curve::sec1::ToSec1Point;
use zeroize::Zeroizing;

/// Errors returned by this module.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// Secret or public key is malformed or not valid for the curve.
    #[error("invalid key")]
    InvalidKey,
    /// Signature is malformed (wrong length, bad DER, ...).
    #[error("invalid signature")]
    InvalidSignature,
    /// Other input (digest length, distinguishing identifier, ...) is invalid.
    #[error("invalid input")]
    InvalidInput,
    /// The operating system random source failed.
    #[error("random source failed")]
    Rng,
    /// AEAD authentication failed or sealed data is malformed.
    #[error("decryption failed")]
    Decrypt,
}

/// Result type of this module.
pub type Result<T> = std::result::Result<T, CryptoError>;

/// Default SM2 distinguishing identifier (GM/T 0009).
pub const SM2_DEFAULT_DISTID: &[u8] = b"1234567812345678";
/// Same as [`SM2_DEFAULT_DISTID`], as `&str` (the `sm2` crate wants a `str`).
const SM2_DEFAULT_DISTID_STR: &str = "1234567812345678";

/// DER of the sm2p256v1 OID (1.2.156.10197.1.301): 06 08 2A 81 1C CF 55 01 82 2D
pub const SM2_EC_PARAMS: &[u8] = &[0x06, 0x08, 0x2A, 0x81, 0x1C, 0xCF, 0x55, 0x01, 0x82, 0x2D];
/// DER of prime256v1 OID (1.2.840.10045.3.1.7): 06 08 2A 86 48 CE 3D 03 01 07
pub const P256_EC_PARAMS: &[u8] = &[0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07];

/// Length of a SEC1 uncompressed point for a 256-bit curve.
const POINT_LEN: usize = 65;
/// Length of a field element / scalar.
const SCALAR_LEN: usize = 32;
/// AES-GCM nonce length.
const NONCE_LEN: usize = 12;
/// AES-GCM tag length.
const TAG_LEN: usize = 16;

/// How many times key generation draws fresh random bytes before giving up.
/// A draw is rejected with probability < 2^-32 on both curves.
const KEYGEN_ATTEMPTS: usize = 64;
/// How many times signing is retried with fresh randomness. After key and
/// input validation, a failure is only possible if the RNG fails (or with
/// negligible probability, e.g. SM2 `r + k == n`).
const SIGN_ATTEMPTS: usize = 4;

/// Decode a 64-digit hex string at compile time.
const fn hex32(s: &[u8; 64]) -> [u8; 32] {
    const fn nibble(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            // Only ever evaluated at compile time on the constants below.
            #[allow(clippy::panic)]
            _ => panic!("invalid hex digit"),
        }
    }
    let mut out = [0u8; 32];
    let mut i = 0;
    #[allow(clippy::indexing_slicing)] // constant bounds, evaluated at compile time
    while i < 32 {
        out[i] = (nibble(s[2 * i]) << 4) | nibble(s[2 * i + 1]);
        i += 1;
    }
    out
}

// sm2p256v1 domain parameters (GB/T 32918.5-2017).
const SM2_A: [u8; 32] = hex32(b"FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC");
const SM2_B: [u8; 32] = hex32(b"28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93");
const SM2_GX: [u8; 32] = hex32(b"32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7");
const SM2_GY: [u8; 32] = hex32(b"BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0");
/// n - 1: not a valid SM2 private key (1 + d must be invertible mod n).
const SM2_N_MINUS_1: [u8; 32] =
    hex32(b"FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54122");

// ---------------------------------------------------------------------------
// Random, hashes
// ---------------------------------------------------------------------------

/// `n` bytes from the operating system RNG.
pub fn random_bytes(n: usize) -> Result<Vec<u8>> {
    let mut out = vec![0u8; n];
    getrandom::fill(&mut out).map_err(|_| CryptoError::Rng)?;
    Ok(out)
}

/// SM3 digest.
pub fn sm3(data: &[u8]) -> [u8; 32] {
    sm3::Sm3::digest(data).into()
}

/// SHA-256 digest.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

// ---------------------------------------------------------------------------
// Key pairs
// ---------------------------------------------------------------------------

/// A generated key pair: 32-byte secret scalar, SEC1 uncompressed public point (65 bytes, 0x04||x||y).
pub struct KeyPair {
    /// Big-endian secret scalar.
    pub secret: Zeroizing<[u8; 32]>,
    /// SEC1 uncompressed public point.
    pub public: [u8; 65],
}

impl fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyPair")
            .field("secret", &"<redacted>")
            .field("public", &self.public)
            .finish()
    }
}

fn secret_array(secret: &[u8]) -> Result<&[u8; SCALAR_LEN]> {
    <&[u8; SCALAR_LEN]>::try_from(secret).map_err(|_| CryptoError::InvalidKey)
}

fn point_array(sec1: &[u8]) -> Result<[u8; POINT_LEN]> {
    <[u8; POINT_LEN]>::try_from(sec1).map_err(|_| CryptoError::InvalidKey)
}

/// Draw random 32-byte candidates until `public_of` accepts one.
fn generate_with(public_of: fn(&[u8]) -> Result<[u8; POINT_LEN]>) -> Result<KeyPair> {
    for _ in 0..KEYGEN_ATTEMPTS {
        let mut secret = Zeroizing::new([0u8; SCALAR_LEN]);
        getrandom::fill(secret.as_mut_slice()).map_err(|_| CryptoError::Rng)?;
        if let Ok(public) = public_of(secret.as_slice()) {
            return Ok(KeyPair { secret, public });
        }
    }
    Err(CryptoError::Rng)
}

// ---------------------------------------------------------------------------
// SM2
// ---------------------------------------------------------------------------

/// Parse an SM2 secret scalar: exactly 32 bytes, in [1, n-2].
fn sm2_scalar(secret: &[u8]) -> Result<sm2::NonZeroScalar> {
    let bytes = secret_array(secret)?;
    if *bytes == SM2_N_MINUS_1 {
        return Err(CryptoError::InvalidKey);
    }
    sm2::NonZeroScalar::try_from(bytes.as_slice()).map_err(|_| CryptoError::InvalidKey)
}

fn sm2_public_key(public: &[u8]) -> Result<sm2::PublicKey> {
    let point = parse_ec_point(public)?;
    sm2::PublicKey::from_sec1_bytes(&point).map_err(|_| CryptoError::InvalidKey)
}

fn sm2_point_bytes(pk: &sm2::PublicKey) -> Result<[u8; POINT_LEN]> {
    point_array(pk.to_sec1_point(false).as_bytes())
}

/// Generate an SM2 key pair (secret in [1, n-2]).
pub fn sm2_generate() -> Result<KeyPair> {
    generate_with(sm2_public_from_secret)
}

/// Public point `[d]G` for an SM2 secret scalar.
pub fn sm2_public_from_secret(secret: &[u8]) -> Result<[u8; 65]> {
    let d = sm2_scalar(secret)?;
    sm2_point_bytes(&sm2::PublicKey::from_secret_scalar(&d))
}

/// Z = SM3(ENTL || ID || a || b || xG || yG || xA || yA)
///
/// `distid` may be any byte string of at most 8191 bytes (ENTL is 16 bits);
/// `public` must be a valid point on sm2p256v1.
pub fn sm2_z(distid: &[u8], public: &[u8]) -> Result<[u8; 32]> {
    let pk = sm2_public_key(public)?;
    let point = sm2_point_bytes(&pk)?;
    let xy = point.get(1..).ok_or(CryptoError::InvalidKey)?;
    let entl = distid
        .len()
        .checked_mul(8)
        .and_then(|bits| u16::try_from(bits).ok())
        .ok_or(CryptoError::InvalidInput)?;

    let mut h = sm3::Sm3::new();
    h.update(entl.to_be_bytes());
    h.update(distid);
    h.update(SM2_A);
    h.update(SM2_B);
    h.update(SM2_GX);
    h.update(SM2_GY);
    h.update(xy);
    Ok(h.finalize().into())
}

/// e = SM3(Z || msg)
pub fn sm2_e(distid: &[u8], public: &[u8], msg: &[u8]) -> Result<[u8; 32]> {
    let z = sm2_z(distid, public)?;
    let mut h = sm3::Sm3::new();
    h.update(z);
    h.update(msg);
    Ok(h.finalize().into())
}

fn sm2_sign_with_scalar(d: sm2::NonZeroScalar, e: &[u8]) -> Result<[u8; 64]> {
    if e.len() != SCALAR_LEN {
        return Err(CryptoError::InvalidInput);
    }
    // The distid given here only feeds the (unused) verifying key's Z.
    let key = sm2::dsa::SigningKey::from_nonzero_scalar(SM2_DEFAULT_DISTID_STR, d)
        .map_err(|_| CryptoError::InvalidKey)?;
    for _ in 0..SIGN_ATTEMPTS {
        let signed: std::result::Result<sm2::dsa::Signature, _> =
            key.sign_prehash_with_rng(&mut getrandom::SysRng, e);
        if let Ok(sig) = signed {
            return Ok(sig.to_bytes().into());
        }
    }
    Err(CryptoError::Rng)
}

/// Sign a host-computed e (32 bytes): raw r||s.
pub fn sm2_sign_prehash(secret: &[u8], e: &[u8]) -> Result<[u8; 64]> {
    let d = sm2_scalar(secret)?;
    sm2_sign_with_scalar(d, e)
}

/// Sign a message (computes Z with distid and the key's own public point, then e): raw r||s.
pub fn sm2_sign_message(secret: &[u8], distid: &[u8], msg: &[u8]) -> Result<[u8; 64]> {
    let d = sm2_scalar(secret)?;
    let public = sm2_point_bytes(&sm2::PublicKey::from_secret_scalar(&d))?;
    let e = sm2_e(distid, &public, msg)?;
    sm2_sign_with_scalar(d, &e)
}

/// Verify a raw r||s SM2 signature over a 32-byte e.
pub fn sm2_verify_prehash(public: &[u8], e: &[u8], sig_raw: &[u8]) -> bool {
    if e.len() != SCALAR_LEN {
        return false;
    }
    let Ok(pk) = sm2_public_key(public) else {
        return false;
    };
    // Checks length and r, s in [1, n-1].
    let Ok(sig) = sm2::dsa::Signature::from_slice(sig_raw) else {
        return false;
    };
    let Ok(vk) = sm2::dsa::VerifyingKey::new(SM2_DEFAULT_DISTID_STR, pk) else {
        return false;
    };
    vk.verify_prehash(e, &sig).is_ok()
}

/// Verify a raw r||s SM2 signature over a message with the given distid.
pub fn sm2_verify_message(public: &[u8], distid: &[u8], msg: &[u8], sig_raw: &[u8]) -> bool {
    match sm2_e(distid, public, msg) {
        Ok(e) => sm2_verify_prehash(public, &e, sig_raw),
        Err(_) => false,
    }
}

// ---------------------------------------------------------------------------
// P-256 ECDSA
// ---------------------------------------------------------------------------

/// Parse a P-256 secret scalar: exactly 32 bytes, in [1, n-1].
fn p256_signing_key(secret: &[u8]) -> Result<p256::ecdsa::SigningKey> {
    let bytes = secret_array(secret)?;
    p256::ecdsa::SigningKey::from_slice(bytes.as_slice()).map_err(|_| CryptoError::InvalidKey)
}

fn p256_verifying_key(public: &[u8]) -> Result<p256::ecdsa::VerifyingKey> {
    let point = parse_ec_point(public)?;
    p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(|_| CryptoError::InvalidKey)
}

/// ECDSA bits2int for a 256-bit order: keep the leftmost 256 bits of longer
/// inputs, left-pad shorter ones with zeros (same integer value).
fn p256_bits2field(hash: &[u8]) -> [u8; SCALAR_LEN] {
    let mut out = [0u8; SCALAR_LEN];
    if let Some(prefix) = hash.get(..SCALAR_LEN) {
        out.copy_from_slice(prefix);
    } else if let Some(dst) = out.get_mut(SCALAR_LEN.saturating_sub(hash.len())..) {
        dst.copy_from_slice(hash);
    }
    out
}

/// Generate a P-256 key pair.
pub fn p256_generate() -> Result<KeyPair> {
    generate_with(p256_public_from_secret)
}

/// Public point `[d]G` for a P-256 secret scalar.
pub fn p256_public_from_secret(secret: &[u8]) -> Result<[u8; 65]> {
    let key = p256_signing_key(secret)?;
    point_array(key.verifying_key().to_sec1_point(false).as_bytes())
}

/// CKM_ECDSA: sign a caller-supplied hash of any length (the usual ECDSA bits2int truncation for longer inputs; shorter inputs allowed, as PKCS#11 does). Raw r||s.
pub fn p256_sign_prehash(secret: &[u8], hash: &[u8]) -> Result<[u8; 64]> {
    let key = p256_signing_key(secret)?;
    let z = p256_bits2field(hash);
    for _ in 0..SIGN_ATTEMPTS {
        let signed: std::result::Result<p256::ecdsa::Signature, _> =
            key.sign_prehash_with_rng(&mut getrandom::SysRng, &z);
        if let Ok(sig) = signed {
            return Ok(sig.to_bytes().into());
        }
    }
    Err(CryptoError::Rng)
}

/// CKM_ECDSA_SHA256
pub fn p256_sign_sha256(secret: &[u8], msg: &[u8]) -> Result<[u8; 64]> {
    p256_sign_prehash(secret, &sha256(msg))
}

/// Verify a raw r||s ECDSA P-256 signature over a hash of any length (CKM_ECDSA).
pub fn p256_verify_prehash(public: &[u8], hash: &[u8], sig_raw: &[u8]) -> bool {
    let Ok(vk) = p256_verifying_key(public) else {
        return false;
    };
    // Checks length and r, s in [1, n-1].
    let Ok(sig) = p256::ecdsa::Signature::from_slice(sig_raw) else {
        return false;
    };
    vk.verify_prehash(&p256_bits2field(hash), &sig).is_ok()
}

/// Verify a raw r||s ECDSA P-256 signature over SHA-256(msg) (CKM_ECDSA_SHA256).
pub fn p256_verify_sha256(public: &[u8], msg: &[u8], sig_raw: &[u8]) -> bool {
    p256_verify_prehash(public, &sha256(msg), sig_raw)
}

// ---------------------------------------------------------------------------
// Signature encodings
// ---------------------------------------------------------------------------

fn der_push_unsigned_integer(out: &mut Vec<u8>, be: &[u8]) -> Result<()> {
    let stripped: &[u8] = match be.iter().position(|&b| b != 0) {
        Some(i) => be.get(i..).unwrap_or_default(),
        None => &[0],
    };
    let pad = stripped.first().is_some_and(|&b| b & 0x80 != 0);
    let len = stripped.len() + usize::from(pad);
    out.push(0x02);
    out.push(u8::try_from(len).map_err(|_| CryptoError::InvalidSignature)?);
    if pad {
        out.push(0x00);
    }
    out.extend_from_slice(stripped);
    Ok(())
}

/// raw r||s (64 bytes) -> DER SEQUENCE { INTEGER r, INTEGER s } (minimal encoding).
pub fn sig_raw_to_der(raw: &[u8]) -> Result<Vec<u8>> {
    if raw.len() != 2 * SCALAR_LEN {
        return Err(CryptoError::InvalidSignature);
    }
    let (r, s) = raw
        .split_at_checked(SCALAR_LEN)
        .ok_or(CryptoError::InvalidSignature)?;
    let mut body = Vec::with_capacity(70);
    der_push_unsigned_integer(&mut body, r)?;
    der_push_unsigned_integer(&mut body, s)?;
    let mut out = Vec::with_capacity(body.len() + 2);
    out.push(0x30);
    // At most 2 * (2 + 33) = 70 bytes: short-form length.
    out.push(u8::try_from(body.len()).map_err(|_| CryptoError::InvalidSignature)?);
    out.extend_from_slice(&body);
    Ok(out)
}

/// Split one DER TLV with the expected tag: (contents, rest).
/// Only short-form lengths are accepted: a valid signature is < 128 bytes,
/// and DER forbids the long form for such lengths.
fn der_take(input: &[u8], tag: u8) -> Result<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first().ok_or(CryptoError::InvalidSignature)?;
    if t != tag {
        return Err(CryptoError::InvalidSignature);
    }
    let (&len, rest) = rest.split_first().ok_or(CryptoError::InvalidSignature)?;
    if len & 0x80 != 0 {
        return Err(CryptoError::InvalidSignature);
    }
    rest.split_at_checked(usize::from(len))
        .ok_or(CryptoError::InvalidSignature)
}

/// DER INTEGER contents (non-negative, minimal) -> 32-byte big-endian.
fn der_integer_to_scalar(content: &[u8], out: &mut [u8]) -> Result<()> {
    let (&first, tail) = content.split_first().ok_or(CryptoError::InvalidSignature)?;
    if first & 0x80 != 0 {
        return Err(CryptoError::InvalidSignature); // negative
    }
    let magnitude = if first == 0 {
        match tail.first() {
            None => content, // the value zero
            Some(&next) if next & 0x80 != 0 => tail,
            Some(_) => return Err(CryptoError::InvalidSignature), // non-minimal
        }
    } else {
        content
    };
    let offset = out
        .len()
        .checked_sub(magnitude.len())
        .ok_or(CryptoError::InvalidSignature)?;
    out.fill(0);
    out.get_mut(offset..)
        .ok_or(CryptoError::InvalidSignature)?
        .copy_from_slice(magnitude);
    Ok(())
}

/// DER SEQUENCE { INTEGER r, INTEGER s } -> raw r||s. Strict DER: rejects
/// trailing data, non-minimal or negative integers, integers > 32 bytes.
pub fn sig_der_to_raw(der: &[u8]) -> Result<[u8; 64]> {
    let (body, trailing) = der_take(der, 0x30)?;
    if !trailing.is_empty() {
        return Err(CryptoError::InvalidSignature);
    }
    let (r, rest) = der_take(body, 0x02)?;
    let (s, rest) = der_take(rest, 0x02)?;
    if !rest.is_empty() {
        return Err(CryptoError::InvalidSignature);
    }
    let mut raw = [0u8; 64];
    let (r_out, s_out) = raw.split_at_mut(SCALAR_LEN);
    der_integer_to_scalar(r, r_out)?;
    der_integer_to_scalar(s, s_out)?;
    Ok(raw)
}

// ---------------------------------------------------------------------------
// EC point encodings
// ---------------------------------------------------------------------------

/// CKA_EC_POINT value: DER OCTET STRING wrapping the 65-byte point.
pub fn ec_point_der(public: &[u8; 65]) -> Vec<u8> {
    let mut out = Vec::with_capacity(POINT_LEN + 2);
    out.push(0x04);
    out.push(0x41);
    out.extend_from_slice(public);
    out
}

/// Accepts either the DER OCTET STRING form or the bare 65-byte point; checks
/// the 0x04 prefix and length (not that the point is on a curve).
/// Errors with [`CryptoError::InvalidKey`].
pub fn parse_ec_point(value: &[u8]) -> Result<[u8; 65]> {
    let point = match value {
        [0x04, 0x41, rest @ ..] if rest.len() == POINT_LEN => rest,
        _ if value.len() == POINT_LEN => value,
        _ => return Err(CryptoError::InvalidKey),
    };
    if point.first() != Some(&0x04) {
        return Err(CryptoError::InvalidKey);
    }
    point_array(point)
}

// ---------------------------------------------------------------------------
// PIN key derivation and AEAD
// ---------------------------------------------------------------------------

/// PBKDF2-HMAC-SHA256 → 32-byte key. `iterations == 0` behaves as 1.
pub fn derive_pin_key(pin: &[u8], salt: &[u8], iterations: u32) -> Zeroizing<[u8; 32]> {
    let mut key = Zeroizing::new([0u8; 32]);
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(pin, salt, iterations.max(1), key.as_mut_slice());
    key
}

fn aead_seal_with_nonce(
    key: &[u8; 32],
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<Vec<u8>> {
    let cipher = Aes256Gcm::new(key.into());
    let capacity = plaintext
        .len()
        .checked_add(NONCE_LEN + TAG_LEN)
        .ok_or(CryptoError::InvalidInput)?;
    // Zeroizing so the plaintext copy is wiped if encryption fails.
    let mut out = Zeroizing::new(Vec::with_capacity(capacity));
    out.extend_from_slice(nonce);
    out.extend_from_slice(plaintext);
    let body = out.get_mut(NONCE_LEN..).ok_or(CryptoError::InvalidInput)?;
    let tag = cipher
        .encrypt_inout_detached(&Nonce::<Aes256Gcm>::from(*nonce), aad, body.into())
        .map_err(|_| CryptoError::InvalidInput)?;
    out.extend_from_slice(&tag);
    Ok(std::mem::take(&mut *out))
}

/// AES-256-GCM with a random 12-byte nonce; output nonce || ciphertext || tag. aad is authenticated.
pub fn aead_seal(key: &[u8; 32], plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
    let mut nonce = [0u8; NONCE_LEN];
    getrandom::fill(&mut nonce).map_err(|_| CryptoError::Rng)?;
    aead_seal_with_nonce(key, &nonce, plaintext, aad)
}

/// Open the output of [`aead_seal`]. Any failure is [`CryptoError::Decrypt`].
pub fn aead_open(key: &[u8; 32], sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let (nonce, rest) = sealed
        .split_at_checked(NONCE_LEN)
        .ok_or(CryptoError::Decrypt)?;
    let ct_len = rest
        .len()
        .checked_sub(TAG_LEN)
        .ok_or(CryptoError::Decrypt)?;
    let (ct, tag) = rest.split_at_checked(ct_len).ok_or(CryptoError::Decrypt)?;
    let nonce = Nonce::<Aes256Gcm>::try_from(nonce).map_err(|_| CryptoError::Decrypt)?;
    let tag = Tag::<Aes256Gcm>::try_from(tag).map_err(|_| CryptoError::Decrypt)?;
    let cipher = Aes256Gcm::new(key.into());
    let mut buf = Zeroizing::new(ct.to_vec());
    cipher
        .decrypt_inout_detached(&nonce, aad, buf.as_mut_slice().into(), &tag)
        .map_err(|_| CryptoError::Decrypt)?;
    Ok(buf)
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use std::io::ErrorKind;
    use std::path::Path;
    use std::process::{Command, Output};

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    // -- helpers for OpenSSL interop ----------------------------------------

    /// Run `openssl` in `dir`; `None` (test skipped) only if the binary is missing.
    fn openssl(dir: &Path, args: &[&str]) -> Option<Output> {
        match Command::new("openssl").current_dir(dir).args(args).output() {
            Ok(out) => Some(out),
            Err(e) if e.kind() == ErrorKind::NotFound => {
                eprintln!("openssl not installed: skipping interop check");
                None
            }
            Err(e) => panic!("running openssl: {e}"),
        }
    }

    fn ok_output(out: &Output) -> String {
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "openssl failed: stdout={stdout} stderr={}",
            String::from_utf8_lossy(&out.stderr)
        );
        stdout
    }

    fn base64(data: &[u8]) -> String {
        const ALPHABET: &[u8; 64] =
            b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                chunk.get(1).copied().unwrap_or(0),
                chunk.get(2).copied().unwrap_or(0),
            ];
            let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    /// SubjectPublicKeyInfo, built by hand:
    /// SEQUENCE { SEQUENCE { OID id-ecPublicKey, OID curve }, BIT STRING point }
    fn spki_pem(curve_oid_der: &[u8], point: &[u8; 65]) -> String {
        const ID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x02, 0x01];
        let mut alg = vec![0x30, (ID_EC_PUBLIC_KEY.len() + curve_oid_der.len()) as u8];
        alg.extend_from_slice(ID_EC_PUBLIC_KEY);
        alg.extend_from_slice(curve_oid_der);
        let mut bits = vec![0x03, 0x42, 0x00];
        bits.extend_from_slice(point);
        let mut spki = vec![0x30, (alg.len() + bits.len()) as u8];
        spki.extend_from_slice(&alg);
        spki.extend_from_slice(&bits);
        let b64 = base64(&spki);
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).unwrap());
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// Parse `openssl pkey -text -noout` output: (secret scalar, public point).
    fn parse_openssl_key_text(text: &str) -> ([u8; 32], [u8; 65]) {
        let (mut section, mut priv_hex, mut pub_hex) = ("", String::new(), String::new());
        for line in text.lines() {
            match line.trim() {
                "priv:" => section = "priv",
                "pub:" => section = "pub",
                t if line.starts_with(' ') => {
                    let digits: String = t.chars().filter(|c| *c != ':').collect();
                    match section {
                        "priv" => priv_hex.push_str(&digits),
                        "pub" => pub_hex.push_str(&digits),
                        _ => {}
                    }
                }
                _ => section = "",
            }
        }
        let priv_bytes = h(&priv_hex);
        let significant: Vec<u8> = priv_bytes.into_iter().skip_while(|b| *b == 0).collect();
        let mut secret = [0u8; 32];
        secret[32 - significant.len()..].copy_from_slice(&significant);
        (secret, h(&pub_hex).try_into().unwrap())
    }

    // -- hashes ---------------------------------------------------------------

    #[test]
    fn sm3_known_answers() {
        assert_eq!(
            hex::encode(sm3(b"abc")),
            "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0"
        );
        assert_eq!(
            hex::encode(sm3(&b"abcd".repeat(16))),
            "debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732"
        );
    }

    #[test]
    fn sha256_known_answers() {
        assert_eq!(
            hex::encode(sha256(b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            hex::encode(sha256(b"")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn random_bytes_lengths() {
        assert!(random_bytes(0).unwrap().is_empty());
        let a = random_bytes(32).unwrap();
        let b = random_bytes(32).unwrap();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
    }

    #[test]
    fn ec_params_constants() {
        assert_eq!(SM2_EC_PARAMS, h("06082a811ccf5501822d").as_slice());
        assert_eq!(P256_EC_PARAMS, h("06082a8648ce3d030107").as_slice());
    }

    // -- SM2 ----------------------------------------------------------------

    // Key and OpenSSL-made signature from the sm2 crate's test suite.
    const SM2_KAT_SECRET: &str = "4bb8df505722299592cbed4283b354a13ff5d3feeb3a0660c5bdf3c87c559499";
    const SM2_KAT_PUBLIC: &str = "0408d77ae04c01cc4c1104360dd8af6b6f7df334283d7c1a6afd5652407b87bee5014e2a57c36c150d16324dc664e31e6432359609c4e79847a5b161c8c7364c8a";
    const SM2_KAT_SIG: &str = "d1dcccedd9fb785e0f67c16b7c52901625c0b69de9bca2144acc7be713cad2fcf7d1eae6e3a157b36c65f672f738ca8b46298bf149a6510072c431b49cd88b1c";

    #[test]
    fn sm2_known_key_and_signature() {
        let public = sm2_public_from_secret(&h(SM2_KAT_SECRET)).unwrap();
        assert_eq!(hex::encode(public), SM2_KAT_PUBLIC);
        let sig = h(SM2_KAT_SIG);
        assert!(sm2_verify_message(
            &public,
            b"example@rustcrypto.org",
            b"testing",
            &sig
        ));
        assert!(!sm2_verify_message(
            &public,
            SM2_DEFAULT_DISTID,
            b"testing",
            &sig
        ));
    }

    #[test]
    fn sm2_z_matches_formula() {
        let kp = sm2_generate().unwrap();
        let mut preimage = vec![0x00, 0x80]; // ENTL = 16 bytes * 8 bits
        preimage.extend_from_slice(b"1234567812345678");
        preimage.extend(h(
            "FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC",
        ));
        preimage.extend(h(
            "28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93",
        ));
        preimage.extend(h(
            "32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7",
        ));
        preimage.extend(h(
            "BC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0",
        ));
        preimage.extend_from_slice(&kp.public[1..]);
        let z = sm3(&preimage);
        assert_eq!(sm2_z(SM2_DEFAULT_DISTID, &kp.public).unwrap(), z);

        let mut e_preimage = z.to_vec();
        e_preimage.extend_from_slice(b"hello");
        assert_eq!(
            sm2_e(SM2_DEFAULT_DISTID, &kp.public, b"hello").unwrap(),
            sm3(&e_preimage)
        );

        // The DER-wrapped point gives the same Z.
        assert_eq!(
            sm2_z(SM2_DEFAULT_DISTID, &ec_point_der(&kp.public)).unwrap(),
            z
        );

        // Empty and non-UTF-8 distids are fine; ENTL must fit in 16 bits.
        assert!(sm2_z(b"", &kp.public).is_ok());
        assert!(sm2_z(&[0xff, 0xfe, 0x00], &kp.public).is_ok());
        assert!(sm2_z(&[b'a'; 8191], &kp.public).is_ok());
        assert_eq!(
            sm2_z(&[b'a'; 8192], &kp.public),
            Err(CryptoError::InvalidInput)
        );
    }

    #[test]
    fn sm2_generator_matches_crate() {
        use sm2::elliptic_curve::point::AffineCoordinates;
        use sm2::elliptic_curve::Group;
        let g = sm2::ProjectivePoint::generator().to_affine();
        assert_eq!(g.x().as_slice(), SM2_GX.as_slice());
        // d = 1 gives G.
        let mut one = [0u8; 32];
        one[31] = 1;
        let public = sm2_public_from_secret(&one).unwrap();
        assert_eq!(&public[1..33], SM2_GX.as_slice());
        assert_eq!(&public[33..], SM2_GY.as_slice());
    }

    #[test]
    fn sm2_round_trips() {
        let kp = sm2_generate().unwrap();
        assert_eq!(kp.public[0], 0x04);
        assert_eq!(
            sm2_public_from_secret(kp.secret.as_slice()).unwrap(),
            kp.public
        );

        let msg = b"message to sign";
        let sig = sm2_sign_message(kp.secret.as_slice(), SM2_DEFAULT_DISTID, msg).unwrap();
        assert!(sm2_verify_message(
            &kp.public,
            SM2_DEFAULT_DISTID,
            msg,
            &sig
        ));
        let e = sm2_e(SM2_DEFAULT_DISTID, &kp.public, msg).unwrap();
        assert!(sm2_verify_prehash(&kp.public, &e, &sig));

        let sig2 = sm2_sign_prehash(kp.secret.as_slice(), &e).unwrap();
        assert!(sm2_verify_prehash(&kp.public, &e, &sig2));
        assert!(sm2_verify_message(
            &kp.public,
            SM2_DEFAULT_DISTID,
            msg,
            &sig2
        ));
        // Hedged: two signatures of the same e differ.
        assert_ne!(sig, sig2);

        // Custom distid.
        let sig3 = sm2_sign_message(kp.secret.as_slice(), b"alice@example.com", msg).unwrap();
        assert!(sm2_verify_message(
            &kp.public,
            b"alice@example.com",
            msg,
            &sig3
        ));
        assert!(!sm2_verify_message(
            &kp.public,
            SM2_DEFAULT_DISTID,
            msg,
            &sig3
        ));

        // Empty message.
        let sig4 = sm2_sign_message(kp.secret.as_slice(), SM2_DEFAULT_DISTID, b"").unwrap();
        assert!(sm2_verify_message(
            &kp.public,
            SM2_DEFAULT_DISTID,
            b"",
            &sig4
        ));
    }

    #[test]
    fn sm2_negative_cases() {
        let kp = sm2_generate().unwrap();
        let other = sm2_generate().unwrap();
        let msg = b"message";
        let sig = sm2_sign_message(kp.secret.as_slice(), SM2_DEFAULT_DISTID, msg).unwrap();
        let e = sm2_e(SM2_DEFAULT_DISTID, &kp.public, msg).unwrap();

        assert!(!sm2_verify_message(
            &kp.public,
            SM2_DEFAULT_DISTID,
            b"messagf",
            &sig
        ));
        assert!(!sm2_verify_message(
            &other.public,
            SM2_DEFAULT_DISTID,
            msg,
            &sig
        ));
        for i in 0..64 {
            let mut bad = sig;
            bad[i] ^= 0x01;
            assert!(!sm2_verify_message(
                &kp.public,
                SM2_DEFAULT_DISTID,
                msg,
                &bad
            ));
        }
        let mut bad_e = e;
        bad_e[0] ^= 0x80;
        assert!(!sm2_verify_prehash(&kp.public, &bad_e, &sig));
        // Wrong lengths / malformed inputs are rejected, never panic.
        assert!(!sm2_verify_prehash(&kp.public, &e[..31], &sig));
        assert!(!sm2_verify_prehash(&kp.public, &e, &sig[..63]));
        assert!(!sm2_verify_prehash(&kp.public, &e, &[]));
        assert!(!sm2_verify_prehash(&kp.public[..64], &e, &sig));
        assert!(!sm2_verify_prehash(&[0u8; 65], &e, &sig));
        assert!(!sm2_verify_prehash(&[0xffu8; 65], &e, &sig));
        // r, s out of range: zero, n, all-ones.
        let n = h("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123");
        for bad in [
            vec![0u8; 64],
            [n.clone(), n.clone()].concat(),
            vec![0xff; 64],
        ] {
            assert!(!sm2_verify_prehash(&kp.public, &e, &bad));
        }
        let mut off_curve = kp.public;
        off_curve[64] ^= 1;
        assert!(!sm2_verify_prehash(&off_curve, &e, &sig));
        assert_eq!(
            sm2_z(SM2_DEFAULT_DISTID, &off_curve),
            Err(CryptoError::InvalidKey)
        );
        // A P-256 point is not on the SM2 curve.
        let p = p256_generate().unwrap();
        assert_eq!(
            sm2_z(SM2_DEFAULT_DISTID, &p.public),
            Err(CryptoError::InvalidKey)
        );

        assert_eq!(
            sm2_sign_prehash(kp.secret.as_slice(), &e[..31]),
            Err(CryptoError::InvalidInput)
        );
        assert_eq!(
            sm2_sign_prehash(kp.secret.as_slice(), &[0u8; 33]),
            Err(CryptoError::InvalidInput)
        );
    }

    #[test]
    fn sm2_invalid_secrets() {
        let n = h("FFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123");
        let n_minus_1 = SM2_N_MINUS_1.to_vec();
        let bad: Vec<Vec<u8>> = vec![
            vec![],
            vec![0u8; 32],
            vec![0xffu8; 32],
            n,
            n_minus_1,
            vec![1u8; 31],
            vec![1u8; 33],
            vec![0u8; 64],
        ];
        let e = [7u8; 32];
        for secret in &bad {
            assert_eq!(sm2_public_from_secret(secret), Err(CryptoError::InvalidKey));
            assert_eq!(sm2_sign_prehash(secret, &e), Err(CryptoError::InvalidKey));
            assert_eq!(
                sm2_sign_message(secret, SM2_DEFAULT_DISTID, b"m"),
                Err(CryptoError::InvalidKey)
            );
        }
        // n - 2 is the largest valid key.
        let mut n_minus_2 = SM2_N_MINUS_1;
        n_minus_2[31] -= 1;
        let public = sm2_public_from_secret(&n_minus_2).unwrap();
        let sig = sm2_sign_prehash(&n_minus_2, &e).unwrap();
        assert!(sm2_verify_prehash(&public, &e, &sig));
    }

    #[test]
    fn sm2_interop_with_sm2_crate() {
        use sm2::dsa::signature::{Signer, Verifier};
        let kp = sm2_generate().unwrap();
        let msg = b"interop message";
        for distid in ["1234567812345678", "example@rustcrypto.org", ""] {
            // Ours -> crate.
            let sig = sm2_sign_message(kp.secret.as_slice(), distid.as_bytes(), msg).unwrap();
            let vk = sm2::dsa::VerifyingKey::from_sec1_bytes(distid, &kp.public).unwrap();
            let parsed = sm2::dsa::Signature::from_slice(&sig).unwrap();
            assert!(vk.verify(msg, &parsed).is_ok());
            assert!(vk.verify(b"other", &parsed).is_err());

            // Crate -> ours.
            let sk = sm2::dsa::SigningKey::from_slice(distid, kp.secret.as_slice()).unwrap();
            let theirs: sm2::dsa::Signature = sk.sign(msg);
            let raw: [u8; 64] = theirs.to_bytes().into();
            assert!(sm2_verify_message(&kp.public, distid.as_bytes(), msg, &raw));
            assert!(!sm2_verify_message(
                &kp.public,
                distid.as_bytes(),
                b"other",
                &raw
            ));
        }
    }

    #[test]
    fn sm2_interop_with_openssl() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let kp = sm2_generate().unwrap();
        let msg = b"softkey SM2 interop test message";
        std::fs::write(d.join("pub.pem"), spki_pem(SM2_EC_PARAMS, &kp.public)).unwrap();
        std::fs::write(d.join("msg.bin"), msg).unwrap();

        for distid in ["1234567812345678", "alice@example.com"] {
            let sig = sm2_sign_message(kp.secret.as_slice(), distid.as_bytes(), msg).unwrap();
            std::fs::write(d.join("sig.der"), sig_raw_to_der(&sig).unwrap()).unwrap();
            let opt = format!("distid:{distid}");
            let args = [
                "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-rawin", "-in", "msg.bin",
                "-sigfile", "sig.der", "-digest", "sm3", "-pkeyopt", &opt,
            ];
            let Some(out) = openssl(d, &args) else { return };
            assert!(ok_output(&out).contains("Signature Verified Successfully"));

            // With the wrong distid OpenSSL must reject it.
            let wrong = if distid == "alice@example.com" {
                "distid:1234567812345678"
            } else {
                "distid:alice@example.com"
            };
            let mut bad_args = args;
            bad_args[13] = wrong;
            let out = openssl(d, &bad_args).unwrap();
            assert!(!out.status.success());
        }
    }

    #[test]
    fn sm2_openssl_generated_key() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let Some(out) = openssl(d, &["genpkey", "-algorithm", "SM2", "-out", "key.pem"]) else {
            return;
        };
        ok_output(&out);
        let text = ok_output(&openssl(d, &["pkey", "-in", "key.pem", "-text", "-noout"]).unwrap());
        let (secret, public) = parse_openssl_key_text(&text);
        assert_eq!(sm2_public_from_secret(&secret).unwrap(), public);

        let msg = b"signed by openssl";
        std::fs::write(d.join("msg.bin"), msg).unwrap();
        let out = openssl(
            d,
            &[
                "pkeyutl",
                "-sign",
                "-inkey",
                "key.pem",
                "-rawin",
                "-in",
                "msg.bin",
                "-out",
                "sig.der",
                "-digest",
                "sm3",
                "-pkeyopt",
                "distid:1234567812345678",
            ],
        )
        .unwrap();
        ok_output(&out);
        let raw = sig_der_to_raw(&std::fs::read(d.join("sig.der")).unwrap()).unwrap();
        assert!(sm2_verify_message(&public, SM2_DEFAULT_DISTID, msg, &raw));
        assert!(!sm2_verify_message(&public, b"other", msg, &raw));
    }

    // -- P-256 --------------------------------------------------------------

    #[test]
    fn p256_rfc6979_vector() {
        // RFC 6979 A.2.5, message "sample", SHA-256.
        let secret = h("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721");
        let public = p256_public_from_secret(&secret).unwrap();
        assert_eq!(
            hex::encode_upper(public),
            "0460FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6\
             7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"
        );
        let sig = h(
            "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716\
                     F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
        );
        assert!(p256_verify_prehash(&public, &sha256(b"sample"), &sig));
        assert!(p256_verify_sha256(&public, b"sample", &sig));
        assert!(!p256_verify_sha256(&public, b"sample!", &sig));
    }

    #[test]
    fn p256_round_trips() {
        use p256::ecdsa::signature::Verifier;
        let kp = p256_generate().unwrap();
        assert_eq!(
            p256_public_from_secret(kp.secret.as_slice()).unwrap(),
            kp.public
        );
        let msg = b"p256 message";
        let sig = p256_sign_sha256(kp.secret.as_slice(), msg).unwrap();
        assert!(p256_verify_sha256(&kp.public, msg, &sig));
        assert!(p256_verify_prehash(&kp.public, &sha256(msg), &sig));
        assert!(p256_verify_prehash(
            &ec_point_der(&kp.public),
            &sha256(msg),
            &sig
        ));

        // Verifies with the p256 crate (CKM_ECDSA_SHA256 == ECDSA with SHA-256).
        let vk = p256::ecdsa::VerifyingKey::from_sec1_bytes(&kp.public).unwrap();
        let parsed = p256::ecdsa::Signature::from_slice(&sig).unwrap();
        assert!(vk.verify(msg, &parsed).is_ok());

        // Prehash of various lengths (CKM_ECDSA).
        for len in [0usize, 1, 16, 20, 31, 32, 33, 48, 64, 100] {
            let hash: Vec<u8> = (0..len)
                .map(|i| (i as u8).wrapping_mul(37) ^ 0xa5)
                .collect();
            let sig = p256_sign_prehash(kp.secret.as_slice(), &hash).unwrap();
            assert!(p256_verify_prehash(&kp.public, &hash, &sig), "len {len}");
            if len > 32 {
                // bits2int keeps the leftmost 256 bits only.
                assert!(p256_verify_prehash(&kp.public, &hash[..32], &sig));
            } else if len > 0 {
                // Short inputs are the same integer as their zero-padded form.
                let mut padded = vec![0u8; 32 - len];
                padded.extend_from_slice(&hash);
                assert!(p256_verify_prehash(&kp.public, &padded, &sig));
                let mut other = hash.clone();
                other[0] ^= 1;
                assert!(!p256_verify_prehash(&kp.public, &other, &sig));
            }
        }
    }

    #[test]
    fn p256_negative_cases() {
        let kp = p256_generate().unwrap();
        let other = p256_generate().unwrap();
        let msg = b"msg";
        let sig = p256_sign_sha256(kp.secret.as_slice(), msg).unwrap();
        assert!(!p256_verify_sha256(&kp.public, b"msh", &sig));
        assert!(!p256_verify_sha256(&other.public, msg, &sig));
        for i in 0..64 {
            let mut bad = sig;
            bad[i] ^= 0x10;
            assert!(!p256_verify_sha256(&kp.public, msg, &bad));
        }
        assert!(!p256_verify_sha256(&kp.public, msg, &sig[..63]));
        assert!(!p256_verify_sha256(&kp.public, msg, &[]));
        assert!(!p256_verify_sha256(&kp.public[..64], msg, &sig));
        let n = h("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
        for bad in [
            vec![0u8; 64],
            [n.clone(), n.clone()].concat(),
            vec![0xff; 64],
        ] {
            assert!(!p256_verify_sha256(&kp.public, msg, &bad));
        }
        let mut off_curve = kp.public;
        off_curve[64] ^= 1;
        assert!(!p256_verify_sha256(&off_curve, msg, &sig));
        let sm = sm2_generate().unwrap();
        assert!(!p256_verify_sha256(&sm.public, msg, &sig));
    }

    #[test]
    fn p256_invalid_secrets() {
        let n = h("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
        let bad: Vec<Vec<u8>> = vec![
            vec![],
            vec![0u8; 32],
            vec![0xffu8; 32],
            n.clone(),
            vec![1u8; 24], // the crates would zero-pad 24..31-byte slices
            vec![1u8; 31],
            vec![1u8; 33],
        ];
        for secret in &bad {
            assert_eq!(
                p256_public_from_secret(secret),
                Err(CryptoError::InvalidKey)
            );
            assert_eq!(
                p256_sign_prehash(secret, &[1u8; 32]),
                Err(CryptoError::InvalidKey)
            );
            assert_eq!(p256_sign_sha256(secret, b"m"), Err(CryptoError::InvalidKey));
        }
        // n - 1 is a valid P-256 key.
        let mut n_minus_1 = n;
        n_minus_1[31] -= 1;
        let public = p256_public_from_secret(&n_minus_1).unwrap();
        let sig = p256_sign_sha256(&n_minus_1, b"m").unwrap();
        assert!(p256_verify_sha256(&public, b"m", &sig));
    }

    #[test]
    fn p256_interop_with_openssl() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let kp = p256_generate().unwrap();
        let msg = b"softkey P-256 interop test message";
        std::fs::write(d.join("pub.pem"), spki_pem(P256_EC_PARAMS, &kp.public)).unwrap();
        std::fs::write(d.join("msg.bin"), msg).unwrap();
        let sig = p256_sign_sha256(kp.secret.as_slice(), msg).unwrap();
        std::fs::write(d.join("sig.der"), sig_raw_to_der(&sig).unwrap()).unwrap();
        let Some(out) = openssl(
            d,
            &[
                "dgst",
                "-sha256",
                "-verify",
                "pub.pem",
                "-signature",
                "sig.der",
                "msg.bin",
            ],
        ) else {
            return;
        };
        assert!(ok_output(&out).contains("Verified OK"));

        // CKM_ECDSA with short and long "hashes": OpenSSL applies the same bits2int.
        for len in [20usize, 32, 48, 64] {
            let hash: Vec<u8> = (0..len)
                .map(|i| (i as u8).wrapping_mul(91) ^ 0x3c)
                .collect();
            let sig = p256_sign_prehash(kp.secret.as_slice(), &hash).unwrap();
            std::fs::write(d.join("hash.bin"), &hash).unwrap();
            std::fs::write(d.join("sig.der"), sig_raw_to_der(&sig).unwrap()).unwrap();
            let out = openssl(
                d,
                &[
                    "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-in", "hash.bin",
                    "-sigfile", "sig.der",
                ],
            )
            .unwrap();
            assert!(
                ok_output(&out).contains("Signature Verified Successfully"),
                "len {len}"
            );
        }
    }

    #[test]
    fn p256_openssl_generated_key() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let Some(out) = openssl(
            d,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                "key.pem",
            ],
        ) else {
            return;
        };
        ok_output(&out);
        let text = ok_output(&openssl(d, &["pkey", "-in", "key.pem", "-text", "-noout"]).unwrap());
        let (secret, public) = parse_openssl_key_text(&text);
        assert_eq!(p256_public_from_secret(&secret).unwrap(), public);

        let msg = b"signed by openssl";
        std::fs::write(d.join("msg.bin"), msg).unwrap();
        let out = openssl(
            d,
            &[
                "dgst", "-sha256", "-sign", "key.pem", "-out", "sig.der", "msg.bin",
            ],
        )
        .unwrap();
        ok_output(&out);
        let raw = sig_der_to_raw(&std::fs::read(d.join("sig.der")).unwrap()).unwrap();
        assert!(p256_verify_sha256(&public, msg, &raw));
        assert!(!p256_verify_sha256(&public, b"other", &raw));
    }

    // -- encodings ----------------------------------------------------------

    #[test]
    fn der_round_trips() {
        let cases: Vec<([u8; 32], [u8; 32])> = vec![
            ([0x01; 32], [0x7f; 32]),
            ([0x80; 32], [0xff; 32]), // high bit set: needs 0x00 prefix
            (
                {
                    let mut r = [0u8; 32];
                    r[31] = 1;
                    r
                },
                {
                    let mut s = [0u8; 32];
                    s[5] = 0x80; // leading zeros, then high bit
                    s
                },
            ),
            ([0u8; 32], [0u8; 32]),
        ];
        for (r, s) in cases {
            let raw: Vec<u8> = [r, s].concat();
            let der = sig_raw_to_der(&raw).unwrap();
            assert_eq!(sig_der_to_raw(&der).unwrap().to_vec(), raw);
        }

        // Exact encodings.
        let mut raw = [0u8; 64];
        raw[0] = 0x80;
        raw[63] = 0x05;
        let der = sig_raw_to_der(&raw).unwrap();
        let mut expected = vec![0x30, 0x26, 0x02, 0x21, 0x00, 0x80];
        expected.extend_from_slice(&[0u8; 31]);
        expected.extend_from_slice(&[0x02, 0x01, 0x05]);
        assert_eq!(der, expected);
        assert_eq!(
            sig_raw_to_der(&[0u8; 64]).unwrap(),
            vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]
        );
        let max = sig_raw_to_der(&[0xff; 64]).unwrap();
        assert_eq!(max.len(), 72);
        assert_eq!(&max[..5], &[0x30, 0x46, 0x02, 0x21, 0x00]);

        // Random signatures survive the round trip.
        let kp = p256_generate().unwrap();
        for i in 0..16u8 {
            let sig = p256_sign_sha256(kp.secret.as_slice(), &[i]).unwrap();
            assert_eq!(sig_der_to_raw(&sig_raw_to_der(&sig).unwrap()).unwrap(), sig);
        }

        assert_eq!(
            sig_raw_to_der(&[1u8; 63]),
            Err(CryptoError::InvalidSignature)
        );
        assert_eq!(
            sig_raw_to_der(&[1u8; 65]),
            Err(CryptoError::InvalidSignature)
        );
        assert_eq!(sig_raw_to_der(&[]), Err(CryptoError::InvalidSignature));
    }

    #[test]
    fn der_rejects_malformed() {
        let good = sig_raw_to_der(&[0x80; 64]).unwrap();
        // Every truncation fails.
        for len in 0..good.len() {
            assert!(sig_der_to_raw(&good[..len]).is_err(), "truncated to {len}");
        }
        // Trailing bytes.
        let mut trailing = good.clone();
        trailing.push(0x00);
        assert!(sig_der_to_raw(&trailing).is_err());
        // Trailing bytes inside the SEQUENCE.
        let mut inner = vec![0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00];
        assert!(sig_der_to_raw(&inner).is_err());
        inner[1] = 0x06;
        inner.pop();
        assert!(sig_der_to_raw(&inner).is_ok());

        let bad: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x30],
            vec![0x30, 0x00],
            vec![0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01], // wrong outer tag
            vec![0x30, 0x06, 0x03, 0x01, 0x01, 0x02, 0x01, 0x01], // wrong inner tag
            vec![0x30, 0x03, 0x02, 0x01, 0x01],                   // missing s
            vec![0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x01],       // empty INTEGER
            vec![0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01], // negative
            vec![0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01], // non-minimal
            vec![0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01], // long-form length
            vec![0x30, 0x07, 0x02, 0x81, 0x01, 0x01, 0x02, 0x01, 0x01],
            vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x05, 0x01], // length past end
            vec![0x30, 0x80, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00, 0x00], // indefinite
            b"garbage".to_vec(),
        ];
        for der in &bad {
            assert_eq!(
                sig_der_to_raw(der),
                Err(CryptoError::InvalidSignature),
                "{der:02x?}"
            );
        }

        // Overlong integers: 33 significant bytes, or 34 with a zero prefix.
        let overlong = |content: Vec<u8>| {
            let mut der = vec![0x30, (content.len() + 5) as u8, 0x02, content.len() as u8];
            der.extend_from_slice(&content);
            der.extend_from_slice(&[0x02, 0x01, 0x01]);
            der
        };
        let mut c33 = vec![0x01];
        c33.extend_from_slice(&[0xff; 32]);
        assert!(sig_der_to_raw(&overlong(c33)).is_err());
        let mut c34 = vec![0x00, 0x80];
        c34.extend_from_slice(&[0xff; 32]);
        assert!(sig_der_to_raw(&overlong(c34)).is_err());
        // 33 bytes with the zero prefix is fine.
        let mut c33z = vec![0x00, 0x80];
        c33z.extend_from_slice(&[0xff; 31]);
        assert!(sig_der_to_raw(&overlong(c33z)).is_ok());
    }

    #[test]
    fn ec_point_forms() {
        let kp = sm2_generate().unwrap();
        let der = ec_point_der(&kp.public);
        assert_eq!(der.len(), 67);
        assert_eq!(&der[..2], &[0x04, 0x41]);
        assert_eq!(parse_ec_point(&der).unwrap(), kp.public);
        assert_eq!(parse_ec_point(&kp.public).unwrap(), kp.public);

        let mut bad_prefix = kp.public;
        bad_prefix[0] = 0x02;
        let bad: Vec<Vec<u8>> = vec![
            vec![],
            vec![0x04],
            kp.public[..64].to_vec(),
            [kp.public.as_slice(), &[0]].concat(),
            bad_prefix.to_vec(),
            ec_point_der(&bad_prefix),
            der[..66].to_vec(),
            [der.as_slice(), &[0]].concat(),
            [&[0x04, 0x40], &kp.public[..]].concat(),
            [&[0x03, 0x41], &kp.public[..]].concat(),
            [&[0x04, 0x81, 0x41], &kp.public[..]].concat(),
            vec![0x02; 33],
        ];
        for v in &bad {
            assert_eq!(parse_ec_point(v), Err(CryptoError::InvalidKey), "{v:02x?}");
        }
    }

    // -- PIN key and AEAD ---------------------------------------------------

    #[test]
    fn pbkdf2_known_answers_and_properties() {
        // RFC 7914 / common PBKDF2-HMAC-SHA256 vectors.
        assert_eq!(
            hex::encode(*derive_pin_key(b"password", b"salt", 1)),
            "120fb6cffcf8b32c43e7225256c4f837a86548c92ccc35480805987cb70be17b"
        );
        assert_eq!(
            hex::encode(*derive_pin_key(b"password", b"salt", 4096)),
            "c5e478d59288c841aa530db6845c4c8d962893a001ce4e11a4963873aa98134a"
        );
        let a = derive_pin_key(b"123456", b"salt-one", 1000);
        let b = derive_pin_key(b"123456", b"salt-one", 1000);
        let c = derive_pin_key(b"123456", b"salt-two", 1000);
        let d = derive_pin_key(b"123457", b"salt-one", 1000);
        let e = derive_pin_key(b"123456", b"salt-one", 1001);
        assert_eq!(*a, *b);
        assert_ne!(*a, *c);
        assert_ne!(*a, *d);
        assert_ne!(*a, *e);
        // Zero iterations does not panic (treated as one).
        assert_eq!(
            *derive_pin_key(b"p", b"s", 0),
            *derive_pin_key(b"p", b"s", 1)
        );
        let _ = derive_pin_key(b"", b"", 1);
    }

    #[test]
    fn aes_gcm_known_answers() {
        // McGrew & Viega GCM test cases 13 and 14 (AES-256, zero key and IV).
        let key = [0u8; 32];
        let nonce = [0u8; 12];
        let sealed = aead_seal_with_nonce(&key, &nonce, b"", b"").unwrap();
        assert_eq!(
            hex::encode(&sealed[12..]),
            "530f8afbc74536b9a963b4f1c4cb738b"
        );
        let sealed = aead_seal_with_nonce(&key, &nonce, &[0u8; 16], b"").unwrap();
        assert_eq!(
            hex::encode(&sealed[12..]),
            "cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919"
        );
        assert_eq!(
            aead_open(&key, &sealed, b"").unwrap().as_slice(),
            &[0u8; 16]
        );
    }

    #[test]
    fn aead_round_trip_and_failures() {
        let key = *derive_pin_key(b"1234", b"salt", 10);
        let other_key = *derive_pin_key(b"1235", b"salt", 10);
        let pt = b"secret key material".to_vec();
        let aad = b"object-id-42";
        let sealed = aead_seal(&key, &pt, aad).unwrap();
        assert_eq!(sealed.len(), 12 + pt.len() + 16);
        assert_eq!(
            aead_open(&key, &sealed, aad).unwrap().as_slice(),
            pt.as_slice()
        );
        // Fresh nonce each time.
        assert_ne!(aead_seal(&key, &pt, aad).unwrap(), sealed);

        assert_eq!(
            aead_open(&other_key, &sealed, aad),
            Err(CryptoError::Decrypt)
        );
        assert_eq!(
            aead_open(&key, &sealed, b"object-id-43"),
            Err(CryptoError::Decrypt)
        );
        assert_eq!(aead_open(&key, &sealed, b""), Err(CryptoError::Decrypt));
        for i in 0..sealed.len() {
            let mut tampered = sealed.clone();
            tampered[i] ^= 0x01;
            assert_eq!(
                aead_open(&key, &tampered, aad),
                Err(CryptoError::Decrypt),
                "byte {i}"
            );
        }
        for len in 0..sealed.len() {
            assert_eq!(
                aead_open(&key, &sealed[..len], aad),
                Err(CryptoError::Decrypt)
            );
        }
        let mut extended = sealed.clone();
        extended.push(0);
        assert_eq!(aead_open(&key, &extended, aad), Err(CryptoError::Decrypt));

        // Empty plaintext and empty aad.
        let sealed = aead_seal(&key, b"", b"").unwrap();
        assert_eq!(sealed.len(), 28);
        assert!(aead_open(&key, &sealed, b"").unwrap().is_empty());
        assert_eq!(aead_open(&key, &sealed, b"x"), Err(CryptoError::Decrypt));
    }

    // -- robustness -----------------------------------------------------------

    #[test]
    fn arbitrary_input_never_panics() {
        let sm = sm2_generate().unwrap();
        let p = p256_generate().unwrap();
        for round in 0..200usize {
            let len = round % 80;
            let junk = random_bytes(len).unwrap();
            let _ = sig_der_to_raw(&junk);
            let _ = sig_raw_to_der(&junk);
            let _ = parse_ec_point(&junk);
            let _ = aead_open(&[0u8; 32], &junk, &junk);
            let _ = sm2_public_from_secret(&junk);
            let _ = p256_public_from_secret(&junk);
            let _ = sm2_z(&junk, &junk);
            let _ = sm2_e(&junk, &sm.public, &junk);
            assert!(!sm2_verify_prehash(&sm.public, &junk, &junk));
            assert!(!sm2_verify_message(&junk, &junk, &junk, &junk));
            assert!(!p256_verify_prehash(&p.public, &junk, &junk));
            assert!(!p256_verify_prehash(&junk, &junk, &junk));
            if len == 32 {
                // Random 32-byte secrets are valid (or rejected) without panicking.
                if let Ok(sig) = sm2_sign_prehash(&junk, &junk) {
                    let public = sm2_public_from_secret(&junk).unwrap();
                    assert!(sm2_verify_prehash(&public, &junk, &sig));
                }
                let _ = p256_sign_prehash(&junk, &junk);
            }
            // Random 65-byte "points" with the right prefix are almost never on the curve.
            let mut point = [0u8; 65];
            point[0] = 0x04;
            point[1..].copy_from_slice(&random_bytes(64).unwrap());
            assert!(!sm2_verify_prehash(&point, &[1u8; 32], &[1u8; 64]));
            assert!(!p256_verify_prehash(&point, &[1u8; 32], &[1u8; 64]));
        }
    }

    #[test]
    fn keypair_debug_redacts_secret() {
        let kp = p256_generate().unwrap();
        let dbg = format!("{kp:?}");
        assert!(dbg.contains("redacted"));
        assert!(!dbg.contains(&format!("{:?}", kp.secret.as_slice())));
    }
}

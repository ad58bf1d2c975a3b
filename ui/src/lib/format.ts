// What the overview says of a key and a certificate, as catalog message ids. No
// business rule is decided here: the states come from core (PIN flags, renewal
// status); this only picks the words and the tone.

import type { CertificateEntry } from '../bindings/CertificateEntry';
import type { CertificateInfo } from '../bindings/CertificateInfo';
import type { TokenReport } from '../bindings/TokenReport';

/** What a certificate says: core flattens its CertificateInfo into the entry when the
 *  certificate parses (ts-rs cannot declare an optional flattened struct). */
export function certInfo(cert: CertificateEntry): CertificateInfo | null {
  return 'subject' in cert && 'not_after' in cert ? (cert as unknown as CertificateInfo) : null;
}

export type Tone = 'ok' | 'info' | 'warn' | 'danger';

export interface Said {
  id: string;
  tone: Tone;
  args?: Record<string, string | number>;
}

/** The PIN state in words, the most urgent first. */
export function pinState(token: TokenReport): Said {
  const pin = token.pin;
  if (!token.flags.includes('CKF_TOKEN_INITIALIZED')) return { id: 'app-pin-blank', tone: 'info' };
  if (pin.locked) return { id: 'app-pin-locked', tone: 'danger' };
  if (pin.final_try) return { id: 'app-pin-final-try', tone: 'danger' };
  if (pin.count_low) return { id: 'app-pin-count-low', tone: 'warn' };
  if (!pin.initialized) return { id: 'app-pin-not-set', tone: 'info' };
  if (pin.to_be_changed) return { id: 'app-pin-must-change', tone: 'warn' };
  return { id: 'app-pin-ok', tone: 'ok' };
}

/** The seal stored for a certificate: written and valid, none, or present but not
 *  valid (core checked it: decodes, maker's signature, bound to this certificate,
 *  maker from a trusted CA). */
export function sealState(cert: CertificateEntry): Said {
  const seal = cert.seal;
  if (!seal) return { id: 'app-cert-seal-none', tone: 'info' };
  if (seal.valid) return { id: 'app-cert-seal-present', tone: 'ok', args: { name: seal.name ?? '' } };
  // Nothing to check the maker against (no CA bundle configured): not a forgery found.
  if (seal.problem === 'maker_no_trusted_ca') {
    return { id: 'app-cert-seal-unchecked', tone: 'warn', args: { name: seal.name ?? '' } };
  }
  return { id: 'app-cert-seal-invalid', tone: 'danger', args: { problem: seal.problem ?? 'unknown' } };
}

/** Free memory, in KiB, when the key reports it. */
export function freeMemoryKiB(token: TokenReport): number | null {
  const free = [token.memory.free_public, token.memory.free_private].filter(
    (v): v is number => typeof v === 'number',
  );
  if (free.length === 0) return null;
  return Math.floor(Math.max(...free) / 1024);
}

/** The holder's certificates (not the CA chain stored beside them). */
export function holderCertificates(token: TokenReport): CertificateEntry[] {
  return token.certificates.filter((c) => !certInfo(c)?.is_ca);
}

/** The validity line of a certificate. */
export function validity(cert: CertificateEntry): Said | null {
  const info = certInfo(cert);
  if (!info) return null;
  const days = info.days_left;
  switch (info.renewal) {
    case 'expired':
      return { id: 'app-cert-expired', tone: 'danger', args: { days: -days } };
    case 'renewable':
      return { id: 'app-cert-renewable', tone: 'warn', args: { days } };
    case 'not_yet_valid':
      return { id: 'app-cert-not-yet-valid', tone: 'info' };
    default:
      return { id: 'app-cert-valid', tone: 'ok', args: { days } };
  }
}

/** The date part of an RFC 3339 time. */
export function day(rfc3339: string): string {
  return rfc3339.slice(0, 10);
}

/** A fingerprint in groups of two hex digits, for reading aloud. */
export function groupHex(hex: string): string {
  return (hex.toUpperCase().match(/.{1,2}/g) ?? []).join(':');
}

// The renewal screen's own logic: prices in words, and which term can be chosen.

import type { RenewalQuote } from '../bindings/RenewalQuote';

/** A price in the currency's minor unit (fen), as the locale writes it. */
export function price(minor: number, currency: string, lang: string): string {
  const major = minor / 100;
  try {
    return new Intl.NumberFormat(lang, { style: 'currency', currency }).format(major);
  } catch {
    return `${major.toFixed(2)} ${currency}`;
  }
}

/** Whether the renew button can be used, and the term it renews for. */
export function renewable(q: RenewalQuote, chosen: number | null): { ok: boolean; years: number | null } {
  if (q.state !== 'open') return { ok: false, years: null };
  if (q.payment_required) {
    // Only the paid term, and only once paid.
    const paid = q.paid_years ?? null;
    return { ok: paid !== null, years: paid };
  }
  return { ok: chosen !== null && q.terms.some((t) => t.years === chosen), years: chosen };
}

/** Whether the CA's answer says payment is still missing. */
export function paymentMissing(q: RenewalQuote): boolean {
  return q.state === 'open' && q.payment_required && (q.paid_years ?? null) === null;
}

import { describe, expect, it } from 'vitest';
import type { RenewalQuote } from '../bindings/RenewalQuote';
import { paymentMissing, price, renewable } from './renew';

const base: RenewalQuote = {
  certificate_serial: '0a',
  cert_type: 'org_person',
  not_after: '2027-01-10T00:00:00Z',
  days_left: 40,
  state: 'open',
  currency: 'CNY',
  terms: [1, 2, 3, 4, 5].map((years) => ({ years, price: years * 20000, not_after: '2028-01-10T00:00:00Z' })),
  payment_required: false,
};

describe('renewable', () => {
  it('takes any offered term when no payment is required', () => {
    expect(renewable(base, 2)).toEqual({ ok: true, years: 2 });
    expect(renewable(base, null).ok).toBe(false);
    expect(renewable(base, 9).ok).toBe(false);
  });
  it('takes only the paid term when payment is required', () => {
    const q = { ...base, payment_required: true };
    expect(renewable(q, 3)).toEqual({ ok: false, years: null });
    expect(paymentMissing(q)).toBe(true);
    const paid = { ...q, paid_years: 2 };
    expect(renewable(paid, 3)).toEqual({ ok: true, years: 2 });
    expect(paymentMissing(paid)).toBe(false);
  });
  it('refuses outside the window', () => {
    for (const state of ['not_yet_open', 'expired', 'revoked', 'renewed'] as const) {
      expect(renewable({ ...base, state }, 1).ok).toBe(false);
    }
  });
});

describe('price', () => {
  it('writes fen as yuan', () => {
    expect(price(20000, 'CNY', 'en')).toContain('200.00');
    expect(price(150, 'CNY', 'zh-CN')).toContain('1.50');
    expect(price(100, 'XXXX', 'en')).toBe('1.00 XXXX');
  });
});

import { describe, expect, it } from 'vitest';
import { cancelled, keyRemoved, Operation } from './operation.svelte';

describe('an operation seen from the window', () => {
  it('follows steps, questions and the end', () => {
    const op = new Operation({ kind: 'activate', serial: 'SK1' });
    op.handle({ event: 'step', step: 'read_token', index: 0, total: 9 });
    op.handle({ event: 'step', step: 'contact_service', index: 1, total: 9 });
    op.handle({ event: 'step', step: 'contact_service', index: 1, total: 9 });
    expect(op.steps).toEqual(['read_token', 'contact_service']);
    expect(op.current).toEqual({ index: 1, total: 9 });
    op.handle({
      event: 'question',
      id: 3,
      question: { kind: 'secret', secret: { kind: 'activation_code', attempts_left: 4 } },
    });
    expect(op.phase).toBe('question');
    expect(op.question?.id).toBe(3);
    op.handle({ event: 'finished', outcome: { kind: 'pin_changed' } });
    expect(op.phase).toBe('finished');
    expect(op.question).toBeNull();
  });

  it('keeps a refusal for the next question instead of listing it as a notice', () => {
    const op = new Operation({ kind: 'change_pin', serial: 'SK1' });
    op.handle({
      event: 'notice',
      notice: { kind: 'rejected', error: { code: 'pin_policy', rule: 'sequence', min: 6, max: 16 } },
    });
    op.handle({ event: 'notice', notice: { kind: 'pin_count_low', serial: 'SK1' } });
    expect(op.rejected).toEqual({ code: 'pin_policy', rule: 'sequence', min: 6, max: 16 });
    expect(op.notices.map((n) => n.kind)).toEqual(['pin_count_low']);
  });

  it('ends failed on an error', () => {
    const op = new Operation({ kind: 'change_pin', serial: 'SK1' });
    op.handle({ event: 'failed', error: { code: 'cancelled' } });
    expect(op.phase).toBe('failed');
    expect(cancelled(op.error)).toBe(true);
  });
});

describe('a key pulled out', () => {
  it('is recognised by its PKCS#11 codes', () => {
    expect(keyRemoved({ code: 'pkcs11', function: 'C_Sign', ckr: 0x32, ckr_name: 'CKR_DEVICE_REMOVED' })).toBe(true);
    expect(keyRemoved({ code: 'pkcs11', function: 'C_Login', ckr: 0xa0, ckr_name: 'CKR_PIN_INCORRECT' })).toBe(false);
    expect(keyRemoved({ code: 'token_not_found', serial: 'SK1' })).toBe(true);
    expect(keyRemoved('boom')).toBe(false);
  });
});

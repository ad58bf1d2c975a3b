import { describe, expect, it } from 'vitest';
import { checkPin, cleanCode, pinAcceptable } from './pin-policy';

const failed = (pin: string) =>
  checkPin(pin, 6, 16)
    .filter((r) => !r.ok)
    .map((r) => r.rule);

describe('PIN policy feedback', () => {
  it('accepts a PIN that passes every rule', () => {
    expect(failed('13572468')).toEqual([]);
    expect(pinAcceptable('Ab3$x9q!', 6, 16)).toBe(true);
  });

  it('names each broken rule', () => {
    expect(failed('1357')).toEqual(['too_short']);
    expect(failed('13572468135724681')).toEqual(['too_long']);
    expect(failed('111111')).toEqual(['all_same']);
    expect(failed('123456')).toEqual(['sequence']);
    expect(failed('654321')).toEqual(['sequence']);
    expect(failed('abcdefg')).toEqual(['sequence']);
    expect(failed('1357 2468')).toEqual(['not_printable']);
    expect(failed('密码135724')).toEqual(['not_printable']);
  });

  it('uses the key’s own length range', () => {
    expect(failed('13572468').length).toBe(0);
    expect(checkPin('13572468', 10, 12).find((r) => r.rule === 'too_short')?.ok).toBe(false);
  });

  it('an empty PIN is not acceptable', () => {
    expect(pinAcceptable('', 6, 16)).toBe(false);
  });
});

describe('activation code input', () => {
  it('keeps six digits only', () => {
    expect(cleanCode('12a3 45-678')).toBe('123456');
    expect(cleanCode('１２３')).toBe('');
    expect(cleanCode('')).toBe('');
  });
});

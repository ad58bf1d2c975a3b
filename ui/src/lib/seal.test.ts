import { describe, expect, it } from 'vitest';
import { base64Of, millimetres, pictureProblem } from './seal';

describe('pictureProblem', () => {
  it('accepts PNG, JPEG and BMP up to 4 MiB', () => {
    expect(pictureProblem({ size: 1000, type: 'image/png' })).toBeNull();
    expect(pictureProblem({ size: 4 * 1024 * 1024, type: 'image/jpeg' })).toBeNull();
    // Core sniffs the content: an unknown type is left to it.
    expect(pictureProblem({ size: 10, type: '' })).toBeNull();
  });
  it('refuses other types, empty and oversized files', () => {
    expect(pictureProblem({ size: 10, type: 'application/pdf' })).toBe('app-seal-picture-type');
    expect(pictureProblem({ size: 0, type: 'image/png' })).toBe('app-seal-picture-empty');
    expect(pictureProblem({ size: 4 * 1024 * 1024 + 1, type: 'image/png' })).toBe('app-seal-picture-too-big');
  });
});

describe('millimetres', () => {
  it('takes whole millimetres from 10 to 100', () => {
    expect(millimetres('42')).toBe(42);
    expect(millimetres(' 10 ')).toBe(10);
    expect(millimetres('100')).toBe(100);
  });
  it('refuses the rest', () => {
    for (const t of ['9', '101', '4.5', '', 'abc', '-20', '1000']) expect(millimetres(t)).toBeNull();
  });
});

describe('base64Of', () => {
  it('encodes as standard base64, also past one chunk', () => {
    expect(base64Of(new Uint8Array([0x89, 0x50, 0x4e, 0x47]))).toBe('iVBORw==');
    const big = new Uint8Array(0x8000 * 2 + 3).fill(65);
    expect(atob(base64Of(big))).toBe('A'.repeat(big.length));
  });
});

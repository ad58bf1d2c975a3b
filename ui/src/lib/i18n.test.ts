import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { errorText, has, t } from './i18n.svelte';

// Every literal message id the window uses, found in its sources.
function literalIds(): string[] {
  const ids = new Set<string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'bindings') walk(path);
      } else if (/\.(svelte|ts)$/.test(entry.name) && !entry.name.endsWith('.test.ts')) {
        const text = readFileSync(path, 'utf8');
        for (const m of text.matchAll(/['`](app-[a-z0-9_-]+)['`]/g)) if (m[1]) ids.add(m[1]);
      }
    }
  };
  walk(fileURLToPath(new URL('..', import.meta.url)));
  return [...ids].sort();
}

describe('the message catalog as the window uses it', () => {
  it('has every id the window names, in both languages', () => {
    const ids = literalIds();
    expect(ids.length).toBeGreaterThan(50);
    const missing = ids.flatMap((id) =>
      (['zh-CN', 'en'] as const).filter((l) => !has(id, l)).map((l) => `${l}:${id}`),
    );
    expect(missing).toEqual([]);
  });

  it('formats with arguments and plurals', () => {
    expect(t('app-years', { years: 1 }, 'en')).toBe('1 year');
    expect(t('app-years', { years: 3 }, 'en')).toBe('3 years');
    expect(t('app-years', { years: 3 }, 'zh-CN')).toBe('3 年');
    expect(t('app-code-attempts-left', { left: 2 }, 'zh-CN')).toContain('2');
  });

  it('never shows bidi isolation marks', () => {
    expect(t('app-key-gone', { serial: 'SK1' }, 'en')).not.toMatch(/[\u2068\u2069]/);
  });

  it('follows the catalog rules for service errors, PKCS#11 codes and absent fields', () => {
    const wrong = {
      code: 'service',
      status: 403,
      service_code: 'activation_code_invalid',
      message: 'wrong activation code',
      attempts_left: 4,
    };
    const zh = errorText(wrong, 'zh-CN');
    expect(zh).toContain('4');
    expect(zh).not.toContain('wrong activation code');
    expect(errorText({ ...wrong, attempts_left: undefined }, 'en')).not.toContain('{');
    const removed = errorText({ code: 'pkcs11', function: 'C_Sign', ckr: 0x32, ckr_name: 'CKR_DEVICE_REMOVED' }, 'en');
    expect(removed).toContain('CKR_DEVICE_REMOVED');
    expect(removed).not.toContain('{');
    expect(errorText({ code: 'several_tokens', keys: ['SK1', 'SK2'] }, 'en')).toContain('SK1, SK2');
  });

  it('translates a core error by its code, and says so when the code is unknown', () => {
    expect(errorText({ code: 'no_such_code_anywhere' }, 'en')).toContain('no_such_code_anywhere');
    expect(errorText('plain text', 'en')).toBe('plain text');
  });
});

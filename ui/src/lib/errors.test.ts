import { describe, expect, it } from 'vitest';
import { transient } from './errors';

describe('transient', () => {
  it('asks again only when the CA was out of reach, busy or failing', () => {
    expect(transient({ code: 'network', url: 'https://ca', reason: 'refused' })).toBe(true);
    expect(transient({ code: 'service_response', reason: 'not JSON' })).toBe(true);
    expect(transient({ code: 'service', status: 503, service_code: 'x', message: '' })).toBe(true);
    expect(transient({ code: 'service', status: 429, service_code: 'x', message: '' })).toBe(true);
    expect(transient({ code: 'service', status: 400, service_code: 'x', message: '' })).toBe(false);
    expect(transient({ code: 'config_invalid', path: '', reason: '' })).toBe(false);
    expect(transient('text')).toBe(false);
    expect(transient(null)).toBe(false);
  });
});

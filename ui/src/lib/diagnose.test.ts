import { describe, expect, it } from 'vitest';
import type { Finding } from '../bindings/Finding';
import { findingArgs, groupBySeverity } from './diagnose';

const f = (code: string, severity: Finding['severity'], params: Finding['params'] = {}): Finding => ({
  code,
  severity,
  subject: null,
  params,
  fix: null,
});

describe('groupBySeverity', () => {
  it('puts the worst first and keeps each finding with its index in the report', () => {
    const groups = groupBySeverity([f('no_token', 'warning'), f('pin_locked', 'critical'), f('cert_expired', 'error'), f('pin_count_low', 'warning')]);
    expect(groups.map((g) => g.severity)).toEqual(['critical', 'error', 'warning']);
    expect(groups[2]?.items.map((i) => [i.finding.code, i.index])).toEqual([
      ['no_token', 0],
      ['pin_count_low', 3],
    ]);
  });

  it('has no group when nothing was found', () => {
    expect(groupBySeverity([])).toEqual([]);
  });
});

describe('findingArgs', () => {
  it('passes text and numbers to the message as they are', () => {
    expect(findingArgs(f('cert_renewal_window', 'warning', { serial: 'SK1', days: 45 }))).toEqual({ serial: 'SK1', days: 45 });
  });
});

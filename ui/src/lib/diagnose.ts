// The Diagnostics screen's helpers: findings grouped worst first, and their params as
// the catalog's message arguments (diag-CODE, diag-CODE-fix).

import type { Finding } from '../bindings/Finding';
import type { Severity } from '../bindings/Severity';
import type { Args } from './i18n.svelte';

export const SEVERITIES: readonly Severity[] = ['critical', 'error', 'warning', 'info'];

/** The badge class of each severity (app.css). */
export const SEVERITY_CLASS: Record<Severity, string> = {
  critical: 'danger',
  error: 'danger',
  warning: 'warn',
  info: 'info',
};

export interface Group {
  severity: Severity;
  /** Each finding with its index in the report (fixes are asked for by index). */
  items: { finding: Finding; index: number }[];
}

/** The findings by severity, worst first; empty severities are left out. */
export function groupBySeverity(findings: readonly Finding[]): Group[] {
  return SEVERITIES.map((severity) => ({
    severity,
    items: findings
      .map((finding, index) => ({ finding, index }))
      .filter(({ finding }) => finding.severity === severity),
  })).filter((g) => g.items.length > 0);
}

/** A finding's params as message arguments. */
export function findingArgs(f: Finding): Args {
  const args: Args = {};
  for (const [k, v] of Object.entries(f.params)) args[k] = v;
  return args;
}

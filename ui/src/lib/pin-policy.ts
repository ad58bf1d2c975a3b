// Live feedback while a new PIN is typed. The rules mirror certkey-core's
// `pin::check_new_pin` (which stays the authority: the workflow checks again and
// refuses with a `pin_policy` error); the factory PIN and the old PIN are checked
// there only, since the window never holds either.

export type PinRule = 'not_printable' | 'too_short' | 'too_long' | 'all_same' | 'sequence';

export interface RuleResult {
  rule: PinRule;
  ok: boolean;
}

const isGraphic = (code: number) => code > 0x20 && code < 0x7f;

function isRun(codes: number[]): boolean {
  if (codes.length < 2) return false;
  const up = codes.every((c, i) => i === 0 || c === ((codes[i - 1] ?? 0) + 1) % 256);
  const down = codes.every((c, i) => i === 0 || (codes[i - 1] ?? 0) === (c + 1) % 256);
  return up || down;
}

/// Every rule with whether `pin` passes it, in the order they are shown.
export function checkPin(pin: string, min: number, max: number): RuleResult[] {
  const codes = Array.from(pin, (ch) => ch.codePointAt(0) ?? 0);
  const printable = codes.every(isGraphic);
  return [
    { rule: 'too_short', ok: codes.length >= min },
    { rule: 'too_long', ok: codes.length <= max },
    { rule: 'not_printable', ok: printable },
    { rule: 'all_same', ok: codes.length === 0 || !codes.every((c) => c === codes[0]) },
    { rule: 'sequence', ok: codes.length === 0 || !isRun(codes) },
  ];
}

/// Whether `pin` passes every rule the window can check.
export function pinAcceptable(pin: string, min: number, max: number): boolean {
  return pin.length > 0 && checkPin(pin, min, max).every((r) => r.ok);
}

/// Keeps the digits of a typed activation code, at most six.
export function cleanCode(typed: string): string {
  return typed.replace(/\D/g, '').slice(0, 6);
}

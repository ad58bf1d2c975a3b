// The unlock screen's own checks of the handler form, before anything is sent (the
// CA checks again).

import type { HandlerForm } from '../bindings/HandlerForm';

const MAX = 64;

// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function bad(value: string): boolean {
  const v = value.trim();
  return v.length === 0 || [...v].length > MAX || CONTROL.test(v);
}

/** Message ids of what is wrong with the form, in field order; empty when it is fine. */
export function handlerProblems(form: HandlerForm): string[] {
  const out: string[] = [];
  if (bad(form.name)) out.push('app-handler-name-needed');
  if (bad(form.id_number)) out.push('app-handler-id-needed');
  if (bad(form.phone)) out.push('app-handler-phone-needed');
  else if (!/^\+?[0-9][0-9 -]{4,}$/.test(form.phone.trim())) out.push('app-handler-phone-invalid');
  return out;
}

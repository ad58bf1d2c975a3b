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

/** What the CA takes as review materials (checked again there, by content). */
export const MAX_ATTACHMENT_BYTES = 5 * 1024 * 1024;
export const MAX_ATTACHMENTS = 5;

/** The kind of a scan by its first bytes, as the CA checks it: PDF, JPEG or PNG. */
export function sniff(head: Uint8Array): 'pdf' | 'jpeg' | 'png' | null {
  const starts = (sig: number[]) => sig.every((b, i) => head[i] === b);
  if (starts([0x25, 0x50, 0x44, 0x46, 0x2d])) return 'pdf';
  if (starts([0xff, 0xd8, 0xff])) return 'jpeg';
  if (starts([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])) return 'png';
  return null;
}

/** The message id of what is wrong with a file before it is sent (`already`: files
 *  the request has), or null when it can go. */
export function attachmentProblem(size: number, head: Uint8Array, already: number): string | null {
  if (already >= MAX_ATTACHMENTS) return 'app-attach-limit';
  if (size === 0) return 'app-attach-empty';
  if (size > MAX_ATTACHMENT_BYTES) return 'app-attach-too-large';
  if (sniff(head) === null) return 'app-attach-type';
  return null;
}

/** A size for people: bytes, KB or MB. */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

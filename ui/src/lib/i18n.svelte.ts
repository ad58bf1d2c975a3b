// The one message catalog (locales/<lang>/*.ftl at the repository's top level, shared
// with the `certkey` CLI), read with Fluent. Components never hold text of their own:
// they call t(id, args). Errors are translated by their stable code.

import { FluentBundle, FluentResource, type FluentVariable } from '@fluent/bundle';

export type Lang = 'zh-CN' | 'en';
export const LANGS: readonly Lang[] = ['zh-CN', 'en'];
const STORAGE_KEY = 'certkey.lang';

const sources = import.meta.glob('../../../locales/*/*.ftl', {
  query: '?raw',
  import: 'default',
  eager: true,
}) as Record<string, string>;

function bundleFor(lang: Lang): FluentBundle {
  const bundle = new FluentBundle(lang, { useIsolating: false });
  for (const [path, text] of Object.entries(sources)) {
    if (!path.includes(`/locales/${lang}/`)) continue;
    const errors = bundle.addResource(new FluentResource(text));
    for (const e of errors) console.warn(`catalog ${path}: ${e.message}`);
  }
  return bundle;
}

const bundles: Record<Lang, FluentBundle> = { 'zh-CN': bundleFor('zh-CN'), en: bundleFor('en') };

function initial(): Lang {
  try {
    const saved = globalThis.localStorage?.getItem(STORAGE_KEY);
    if (saved === 'zh-CN' || saved === 'en') return saved;
  } catch {
    // No storage (tests): the default.
  }
  return 'zh-CN';
}

/** The language in force; reading it in a component re-renders on change. */
export const locale = $state<{ lang: Lang }>({ lang: initial() });

export function setLang(lang: Lang): void {
  locale.lang = lang;
  try {
    globalThis.localStorage?.setItem(STORAGE_KEY, lang);
  } catch {
    // Not remembered; still switched.
  }
  if (typeof document !== 'undefined') document.documentElement.lang = lang;
}

export type Args = Record<string, FluentVariable | null | undefined>;

function format(bundle: FluentBundle, id: string, args?: Args): string | undefined {
  const message = bundle.getMessage(id);
  if (!message?.value) return undefined;
  const clean: Record<string, FluentVariable> = {};
  for (const [k, v] of Object.entries(args ?? {})) if (v !== null && v !== undefined) clean[k] = v;
  const errors: Error[] = [];
  const text = bundle.formatPattern(message.value, clean, errors);
  for (const e of errors) console.warn(`message ${id}: ${e.message}`);
  return text;
}

/** Whether the catalog has a message in the language in force. */
export function has(id: string, lang: Lang = locale.lang): boolean {
  return bundles[lang].hasMessage(id);
}

/** The text of message `id`, falling back to the other language, then to the id. */
export function t(id: string, args?: Args, lang: Lang = locale.lang): string {
  const other: Lang = lang === 'zh-CN' ? 'en' : 'zh-CN';
  return format(bundles[lang], id, args) ?? format(bundles[other], id, args) ?? id;
}

// The variables a message uses (to give absent ones the catalog's `none`).
function variables(node: unknown, out: string[]): string[] {
  if (Array.isArray(node)) for (const n of node) variables(n, out);
  else if (node && typeof node === 'object') {
    const n = node as Record<string, unknown>;
    if (n.type === 'var' && typeof n.name === 'string') out.push(n.name);
    for (const v of Object.values(n)) if (v && typeof v === 'object') variables(v, out);
  }
  return out;
}

const SUB_CODE_FIELDS = ['service_code', 'reason', 'reason_code', 'problem'];
const isSnakeCode = (s: string) => /^[a-z][a-z0-9_]*$/.test(s);

/**
 * An error from core (`{code, ...fields}`), the IPC layer (a string) or anything
 * else. The same rules as the CLI's catalog (crates/i18n, error_args.rs): fields are
 * variables, lists joined with ", ", a `ckr` adds `ckr_hex` and `ckr_hint`, a
 * `reason` like `code: ...` adds `reason_code`, a sub-code field naming a message
 * `error-<code>-<value>` picks it, and a variable the message uses but the error lacks
 * is `none`.
 */
export function errorText(error: unknown, lang: Lang = locale.lang): string {
  if (typeof error === 'string') return error;
  if (!error || typeof error !== 'object' || !('code' in error)) {
    return t('app-error-unknown', { code: String(error) }, lang);
  }
  const other: Lang = lang === 'zh-CN' ? 'en' : 'zh-CN';
  const known = (id: string) => has(id, lang) || has(id, other);
  const { code, ...fields } = error as Record<string, unknown>;
  const args: Args = {};
  for (const [k, v] of Object.entries(fields)) {
    if (typeof v === 'string' || typeof v === 'number') args[k] = v;
    else if (typeof v === 'boolean') args[k] = String(v);
    else if (Array.isArray(v)) args[k] = v.map((i) => (typeof i === 'string' ? i : JSON.stringify(i))).join(', ');
    else if (v !== null && v !== undefined) args[k] = JSON.stringify(v);
  }
  if (typeof fields.ckr === 'number') {
    const hex = fields.ckr.toString(16).toUpperCase();
    args.ckr_hex = hex;
    if (known(`ckr-0x${hex}`)) args.ckr_hint = t(`ckr-0x${hex}`, {}, lang);
  }
  if (typeof fields.reason === 'string') {
    const prefix = fields.reason.split(':')[0] ?? '';
    if (fields.reason.includes(':') && isSnakeCode(prefix)) args.reason_code = prefix;
  }
  const general = `error-${String(code)}`;
  const specific = SUB_CODE_FIELDS.map((f) => args[f])
    .filter((v): v is string => typeof v === 'string' && isSnakeCode(v))
    .map((v) => `${general}-${v}`)
    .find(known);
  const id = specific ?? general;
  if (!known(id)) return t('app-error-unknown', { code: String(code) }, lang);
  const bundle = bundles[has(id, lang) ? lang : other];
  for (const name of variables(bundle.getMessage(id)?.value, [])) {
    if (args[name] === undefined || args[name] === null) args[name] = 'none';
  }
  return t(id, args, lang);
}

/** The text of message `id`, or `fallback` when the catalog has no such message. */
export function tOr(id: string, fallback: string): string {
  return has(id) || has(id, locale.lang === 'zh-CN' ? 'en' : 'zh-CN') ? t(id) : fallback;
}

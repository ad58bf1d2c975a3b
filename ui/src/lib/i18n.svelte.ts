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

/** An error from core (`{code, ...fields}`), the IPC layer (a string) or anything else. */
export function errorText(error: unknown, lang: Lang = locale.lang): string {
  if (typeof error === 'string') return error;
  if (error && typeof error === 'object' && 'code' in error) {
    const { code, ...fields } = error as Record<string, unknown>;
    const args: Args = {};
    for (const [k, v] of Object.entries(fields)) {
      if (typeof v === 'string' || typeof v === 'number') args[k] = v;
      else if (typeof v === 'boolean') args[k] = String(v);
      else if (v !== null && v !== undefined) args[k] = JSON.stringify(v);
    }
    const id = `error-${String(code)}`;
    if (has(id, lang) || has(id, lang === 'zh-CN' ? 'en' : 'zh-CN')) return t(id, args, lang);
    return t('app-error-unknown', { code: String(code) }, lang);
  }
  return t('app-error-unknown', { code: String(error) }, lang);
}

/** The text of message `id`, or `fallback` when the catalog has no such message. */
export function tOr(id: string, fallback: string): string {
  return has(id) || has(id, locale.lang === 'zh-CN' ? 'en' : 'zh-CN') ? t(id) : fallback;
}

// The live key list: the first read, then every `inventory-changed` event.

import { SvelteMap, SvelteSet } from 'svelte/reactivity';
import type { LiveInventory } from '../bindings/LiveInventory';
import { api } from './api';
import { transient } from './errors';
import { certInfo } from './format';

export const live = $state<{ current: LiveInventory | null; error: unknown }>({
  current: null,
  error: null,
});

/**
 * Activation offers, by serial: whether the CA has a pending order for the key; or,
 * when it could not be asked, the error and whether it is asked again by itself (the
 * CA out of reach: every RETRY_MS, while the key is in).
 */
export type Offer = boolean | { error: unknown; retrying: boolean };
export const offers = new SvelteMap<string, Offer>();
const asked = new SvelteSet<string>();
const RETRY_MS = 15_000;
// Timers and request numbers only, never rendered: plain Maps on purpose.
// eslint-disable-next-line svelte/prefer-svelte-reactivity
const retries = new Map<string, ReturnType<typeof setTimeout>>();
// eslint-disable-next-line svelte/prefer-svelte-reactivity
const latest = new Map<string, number>();
let requests = 0;

function ask(serial: string): void {
  asked.add(serial);
  const mine = ++requests;
  latest.set(serial, mine);
  // Only the latest question about a key counts (a "try again" or a key pulled out
  // and put back makes the earlier answers stale).
  const current = () => latest.get(serial) === mine;
  api
    .activationAvailable(serial)
    .then((yes) => {
      if (current()) offers.set(serial, yes);
    })
    .catch((error: unknown) => {
      if (!current()) return;
      const retrying = transient(error);
      offers.set(serial, { error, retrying });
      if (!retrying) return;
      clearTimeout(retries.get(serial));
      retries.set(
        serial,
        setTimeout(() => {
          retries.delete(serial);
          if (current()) ask(serial);
        }, RETRY_MS),
      );
    });
}

function update(next: LiveInventory): void {
  if (live.current && next.generation < live.current.generation) return;
  live.current = next;
  const present = new Set(next.inventory.tokens.map((t) => t.serial));
  for (const serial of [...asked]) {
    // A key pulled out is asked again when it comes back.
    if (!present.has(serial)) forgetOffer(serial);
  }
  for (const t of next.inventory.tokens) {
    const fresh =
      t.serial !== '' &&
      t.flags.includes('CKF_TOKEN_INITIALIZED') &&
      t.certificates.every((c) => certInfo(c)?.is_ca === true);
    if (fresh && !asked.has(t.serial)) ask(t.serial);
    // A key that got a certificate meanwhile (activated elsewhere) is no longer asked.
    else if (!fresh && asked.has(t.serial)) forgetOffer(t.serial);
  }
}

/** Starts following the keys; call once. */
export async function follow(): Promise<void> {
  await api.onInventory(update);
  try {
    update(await api.inventory());
  } catch (e) {
    live.error = e;
  }
}

/** Asks again whether a key has a pending order (after an activation, say). */
export function forgetOffer(serial: string): void {
  asked.delete(serial);
  offers.delete(serial);
  latest.delete(serial);
  clearTimeout(retries.get(serial));
  retries.delete(serial);
}

/** Asks the CA again now (the "try again" of an unreachable CA). */
export function askAgain(serial: string): void {
  forgetOffer(serial);
  ask(serial);
}

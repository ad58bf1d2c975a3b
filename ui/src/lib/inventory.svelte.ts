// The live key list: the first read, then every `inventory-changed` event.

import { SvelteMap, SvelteSet } from 'svelte/reactivity';
import type { LiveInventory } from '../bindings/LiveInventory';
import { api } from './api';
import { certInfo } from './format';

export const live = $state<{ current: LiveInventory | null; error: unknown }>({
  current: null,
  error: null,
});

/**
 * Activation offers, by serial: whether the CA has a pending order for the key, or
 * `unreachable` while the CA cannot be asked (asked again every RETRY_MS).
 */
export type Offer = boolean | 'unreachable';
export const offers = new SvelteMap<string, Offer>();
const asked = new SvelteSet<string>();
const RETRY_MS = 15_000;
// Timers only, never rendered: a plain Map on purpose.
// eslint-disable-next-line svelte/prefer-svelte-reactivity
const retries = new Map<string, ReturnType<typeof setTimeout>>();

function ask(serial: string): void {
  asked.add(serial);
  api
    .activationAvailable(serial)
    .then((yes) => {
      if (asked.has(serial)) offers.set(serial, yes);
    })
    .catch(() => {
      if (!asked.has(serial)) return;
      offers.set(serial, 'unreachable');
      // The CA may be back later (network up, service restarted): ask again while the
      // key is still in.
      clearTimeout(retries.get(serial));
      retries.set(
        serial,
        setTimeout(() => {
          retries.delete(serial);
          if (asked.has(serial)) ask(serial);
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
  clearTimeout(retries.get(serial));
  retries.delete(serial);
}

/** Asks the CA again now (the "try again" of an unreachable CA). */
export function askAgain(serial: string): void {
  forgetOffer(serial);
  ask(serial);
}

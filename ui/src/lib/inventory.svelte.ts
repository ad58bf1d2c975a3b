// The live key list: the first read, then every `inventory-changed` event.

import { SvelteMap, SvelteSet } from 'svelte/reactivity';
import type { LiveInventory } from '../bindings/LiveInventory';
import { api } from './api';
import { certInfo } from './format';

export const live = $state<{ current: LiveInventory | null; error: unknown }>({
  current: null,
  error: null,
});

/** Activation offers, by serial: whether the CA has a pending order for the key. */
export const offers = new SvelteMap<string, boolean>();
const asked = new SvelteSet<string>();

function update(next: LiveInventory): void {
  if (live.current && next.generation < live.current.generation) return;
  live.current = next;
  const present = new Set(next.inventory.tokens.map((t) => t.serial));
  for (const serial of [...asked]) {
    // A key pulled out is asked again when it comes back.
    if (!present.has(serial)) {
      asked.delete(serial);
      offers.delete(serial);
    }
  }
  for (const t of next.inventory.tokens) {
    const fresh =
      t.serial !== '' &&
      t.flags.includes('CKF_TOKEN_INITIALIZED') &&
      t.certificates.every((c) => certInfo(c)?.is_ca === true);
    if (fresh && !asked.has(t.serial)) {
      asked.add(t.serial);
      api
        .activationAvailable(t.serial)
        .then((yes) => offers.set(t.serial, yes))
        .catch(() => offers.set(t.serial, false));
    }
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
}

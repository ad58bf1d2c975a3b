// Story: a holder receives a new key by courier, plugs it in and activates it in the
// window: the order is shown and confirmed, a wrong code shows the attempts left, a
// weak PIN is refused as it is typed, the key is pulled out half-way and put back (the
// activation goes on by itself), and the certificate is shown and exported.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { World } from './harness.mjs';

const SERIAL = 'SK2026E2EACT01';
const PIN = '80467139';
const ENTER = '\uE007';
const ESCAPE = '\uE00C';
const world = new World('activation');
let code;

before(async () => {
  await world.startCa();
  world.slots([{ serial: SERIAL }]);
  code = world.produce();
  // The key is still in the post: the window opens with no key.
  world.softkey('remove', '--serial', SERIAL);
  await world.startDisplayAndDriver();
  await world.openApp();
});

after(() => world.stop());

/** Answers whatever the activation asks next, until it is done. */
async function finishActivation(app) {
  // The pause ends by itself once the key is back.
  await app.gone('[data-testid="key-removed"]', 30000);
  for (let round = 0; round < 12; round++) {
    await app.find('[data-testid="question"], [data-testid="activated"], [data-testid="failed"]', 60000);
    if (await app.exists('[data-testid="activated"]')) return;
    if (await app.exists('[data-testid="failed"]')) {
      throw new Error(`activation failed: ${await app.text('[data-testid="failed"]')}`);
    }
    if (await app.exists('[data-testid="confirm"]')) await app.click('[data-testid="confirm"]');
    else if (await app.exists('[data-testid="code"]')) {
      await app.type('[data-testid="code"]', code);
      await app.click('[data-testid="submit-code"]');
    } else if (await app.exists('[data-testid="new-pin"]')) {
      await app.type('[data-testid="new-pin"]', PIN);
      await app.type('[data-testid="new-pin-2"]', PIN);
      await app.click('[data-testid="submit-new-pin"]');
    } else if (await app.exists('[data-testid="current-pin"]')) {
      await app.type('[data-testid="current-pin"]', PIN);
      await app.click('[data-testid="submit-current-pin"]');
    }
    await app.gone('[data-testid="question"]', 30000).catch(() => {});
  }
  throw new Error('the activation kept asking');
}

test('a new key is activated in the window', async () => {
  const app = world.app;

  // No key yet: the window says so and waits.
  await app.find('[data-testid="no-keys"]', 30000);
  await app.screenshot('activation-01-no-key');

  // Plugged in: the key appears without a click, with its activation offer.
  world.softkey('insert', '--serial', SERIAL);
  await app.find(`[data-testid="key-${SERIAL}"]`);
  await app.find('[data-testid="activation-offer"]', 30000);
  await app.screenshot('activation-02-key-inserted');

  await app.click('[data-testid="activate"]');

  // The order, masked, for the holder to confirm.
  const holder = await app.text('[data-testid="order-holder"]');
  assert.match(holder, /^张/);
  assert.ok(!holder.includes('张三'), `the holder's name is masked: ${holder}`);
  await app.screenshot('activation-03-order');
  await app.click('[data-testid="confirm"]');

  // The new PIN first (the code is spent only once a valid PIN is ready); a weak PIN
  // is refused as it is typed.
  await app.find('[data-testid="new-pin"]', 30000);
  assert.equal(await app.focusedAfterMove('new-pin'), 'new-pin', 'the PIN field has the focus');
  await app.type('[data-testid="new-pin"]', '123456');
  await app.type('[data-testid="new-pin-2"]', '123456');
  assert.equal(await app.attr('[data-testid="rule-sequence"]', 'data-ok'), 'false');
  assert.equal(await app.enabled('[data-testid="submit-new-pin"]'), false);
  await app.screenshot('activation-04-weak-pin');
  await app.clear('[data-testid="new-pin"]');
  await app.clear('[data-testid="new-pin-2"]');
  await app.type('[data-testid="new-pin"]', PIN);
  await app.type('[data-testid="new-pin-2"]', PIN);
  assert.equal(await app.enabled('[data-testid="submit-new-pin"]'), true);
  await app.keys(ENTER);

  // A wrong code: refused, with the attempts left, and the code field empty again.
  const wrong = code.replace(/.$/, (d) => String((Number(d) + 1) % 10));
  await app.type('[data-testid="code"]', `${wrong}x`);
  assert.equal(await app.attr('[data-testid="code"]', 'value'), wrong, 'only six digits are kept');
  await app.keys(ENTER);
  await app.find('[data-testid="rejected"]', 30000);
  const left = await app.text('[data-testid="attempts-left"]');
  assert.match(left, /\d/);
  assert.equal(await app.attr('[data-testid="code"]', 'value'), '');
  await app.screenshot('activation-05-wrong-code');

  // The right code, with the keyboard only; half-way through writing to the key, it
  // is pulled out.
  await app.type('[data-testid="code"]', code);
  world.softkey('fail-after', '3', '--serial', SERIAL);
  await app.keys(ENTER);
  await app.find('[data-testid="key-removed"]', 60000);
  await app.screenshot('activation-06-key-pulled-out');

  // Put back: the activation goes on by itself and finishes.
  world.softkey('insert', '--serial', SERIAL);
  await finishActivation(app);
  await app.screenshot('activation-07-activated');

  // The certificate, with its fingerprints and an export.
  await app.click('[data-testid="done"]');
  const sha = await app.text('[data-testid="sha256"]');
  assert.match(sha, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
  await app.click('[data-testid="export"]');
  const saved = await app.text('[data-testid="exported"]');
  // Into the Downloads folder (the home folder where there is none), named by serial.
  const path = saved.match(/(\/\S+\.pem)/)?.[1];
  assert.ok(path && path.startsWith(world.home) && path.includes(SERIAL), `exported to ${saved}`);
  const pem = readFileSync(path, 'utf8');
  assert.match(pem, /^-----BEGIN CERTIFICATE-----\n/);
  await app.screenshot('activation-08-details');

  // Escape goes back to the overview, where the key now shows its certificate.
  await app.keys(ESCAPE);
  await app.find(`[data-testid="key-${SERIAL}"] [data-testid="validity"]`);
  assert.equal(await app.exists('[data-testid="activation-offer"]'), false);
  await app.screenshot('activation-09-overview-activated');

  // An independent peer agrees: OpenSC's pkcs11-tool logs in with the new PIN and
  // sees the certificate.
  const objects = world.pkcs11Tool(['--login', '--pin', PIN, '--list-objects', '--type', 'cert']);
  assert.match(objects, /Certificate Object/);
});

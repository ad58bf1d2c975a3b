// Story: holders renew online inside the 90 days before expiry. One chooses a term
// (two years) from the CA's prices and pulls the key out half-way: putting it back
// finishes the renewal. At a CA that renews only what was paid for, the other sees
// the CA's payment instructions, pays (a CA operator records it), checks again and
// renews for the paid term.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { World } from './harness.mjs';

const PIN = '80467139';
const ENTER = '\uE007';
const DAY = 24 * 3600 * 1000;

/** The key's certificate as `certkey list --json` shows it. */
function certOf(world, serial) {
  const listed = JSON.parse(world.certkey(['--json', 'list']));
  const token = listed.tokens.find((t) => t.serial === serial);
  return token.certificates.find((c) => c.serial_hex);
}

async function setUp(world, serial, ca = {}) {
  await world.startCa(ca);
  world.slots([{ serial }]);
  // Valid for 60 days: inside the renewal window.
  const code = world.produce(['--days', '60']);
  world.certkey(['activate', '--yes'], { CERTKEY_ACTIVATION_CODE: code, CERTKEY_NEW_PIN: PIN });
  await world.startDisplayAndDriver();
  await world.openApp();
}

async function answerPin(app) {
  await app.find('[data-testid="current-pin"]', 60000);
  await app.type('[data-testid="current-pin"]', PIN);
  await app.keys(ENTER);
}

describe('renewal for a chosen term, the key pulled out half-way', () => {
  const SERIAL = 'SK2026E2ERENW1';
  const world = new World('renewal');
  before(() => setUp(world, SERIAL));
  after(() => world.stop());

  test('two years, resumed after the key was put back', async () => {
    const app = world.app;
    const card = `[data-testid="key-${SERIAL}"]`;
    const old = certOf(world, SERIAL);
    await app.find(`${card} [data-testid="renewal-banner"]`, 30000);
    await app.screenshot('renewal-01-banner');
    await app.click(`${card} [data-testid="renew"]`);

    // The CA's terms and prices; two years chosen.
    await app.find('[data-testid="renew-terms"]', 30000);
    assert.equal(await app.exists('[data-testid="renew-payment"]'), false);
    await app.click('[data-testid="term-2"]');
    await app.screenshot('renewal-02-terms');
    await app.click('[data-testid="start-renew"]');

    // Half-way through, the key is pulled out.
    await app.find('[data-testid="current-pin"]', 60000);
    await app.type('[data-testid="current-pin"]', PIN);
    world.softkey('fail-after', '4', '--serial', SERIAL);
    await app.keys(ENTER);
    await app.find('[data-testid="key-removed"]', 60000);
    await app.screenshot('renewal-03-key-pulled-out');

    // Put back: it goes on by itself (the PIN is asked again) and finishes.
    world.softkey('insert', '--serial', SERIAL);
    await answerPin(app);
    await app.find('[data-testid="renewed"]', 90000);
    await app.screenshot('renewal-04-renewed');
    const now = certOf(world, SERIAL);
    assert.notEqual(now.serial_hex, old.serial_hex, 'a new certificate');
    const added = (Date.parse(now.not_after) - Date.parse(old.not_after)) / DAY;
    assert.ok(Math.abs(added - 730) <= 1, `two years added: ${added} days`);
    await app.click('[data-testid="done"]');
    await app.gone(`${card} [data-testid="renewal-banner"]`);
  });
});

describe('renewal at a CA that renews only what was paid for', () => {
  const SERIAL = 'SK2026E2ERENW2';
  const world = new World('renewal-paid');
  before(() => setUp(world, SERIAL, { requirePayment: true }));
  after(() => world.stop());

  test('payment instructions, then the paid term', async () => {
    const app = world.app;
    const card = `[data-testid="key-${SERIAL}"]`;
    const old = certOf(world, SERIAL);
    await app.find(`${card} [data-testid="renew"]`, 30000);
    await app.click(`${card} [data-testid="renew"]`);
    await app.find('[data-testid="renew-payment"]', 30000);
    assert.equal(await app.enabled('[data-testid="start-renew"]'), false, 'nothing to renew before payment');
    await app.screenshot('renewal-05-payment-needed');
    await app.click('[data-testid="lang-en"]');
    await app.waitText('[data-testid="renew-payment"]', 'Payment first');
    await app.screenshot('renewal-06-payment-needed-en');
    await app.click('[data-testid="lang-zh-CN"]');

    // The holder pays; a CA operator records three years.
    await world.adminApi('POST', `/certificates/${old.serial_hex}/entitlement`, { years: 3 });
    await app.click('[data-testid="renew-check-again"]');
    await app.find('[data-testid="renew-paid"]', 30000);
    assert.equal(await app.enabled('[data-testid="term-1"]'), false, 'only the paid term');
    await app.screenshot('renewal-07-paid');
    await app.click('[data-testid="start-renew"]');
    await answerPin(app);
    await app.find('[data-testid="renewed"]', 90000);
    const now = certOf(world, SERIAL);
    const added = (Date.parse(now.not_after) - Date.parse(old.not_after)) / DAY;
    assert.ok(Math.abs(added - 1095) <= 1, `three years added: ${added} days`);
  });
});

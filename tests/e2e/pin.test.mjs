// Story: a holder whose key is one wrong PIN away from locking changes the PIN in the
// window: the state is shown before starting, the final try needs an explicit yes, a
// weak new PIN is refused as it is typed, and the new PIN works in another program.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { World } from './harness.mjs';

const SERIAL = 'SK2026E2EPIN01';
const OLD = '80467139';
const NEW = '59173068';
const ENTER = '\uE007';
const world = new World('pin');
let retries;

before(async () => {
  await world.startCa();
  world.slots([{ serial: SERIAL }]);
  const code = world.produce();
  world.certkey(['activate', '--yes'], { CERTKEY_ACTIVATION_CODE: code, CERTKEY_NEW_PIN: OLD });
  // Wrong PINs typed elsewhere (OpenSC's pkcs11-tool) until one try is left.
  const status = JSON.parse(world.softkey('status', '--json'));
  retries = status.slots?.[0]?.user_retries ?? status[0]?.user_retries;
  assert.ok(retries > 1, `softkey reports its retries: ${JSON.stringify(status)}`);
  for (let i = 0; i < retries - 1; i++) {
    assert.throws(() => world.pkcs11Tool(['--login', '--pin', '00000000', '--list-objects']));
  }
  await world.startDisplayAndDriver();
  await world.openApp();
});

after(() => world.stop());

test('the PIN is changed at the final try, with the keyboard', async () => {
  const app = world.app;
  const card = `[data-testid="key-${SERIAL}"]`;
  await app.find(card, 30000);
  await app.waitText(`${card} [data-testid="pin-state"]`, '最后一次');
  await app.screenshot('pin-01-final-try-overview');

  await app.click(`${card} [data-testid="change-pin"]`);
  await app.waitText('[data-testid="pin-state-before"]', '最后一次');
  assert.equal(await app.focusedAfterMove('start-pin-change'), 'start-pin-change', 'the start button has the focus');
  await app.screenshot('pin-02-before-start');
  await app.keys(ENTER);

  // The final try needs an explicit yes; the safe answer has the focus.
  await app.find('[data-testid="final-try-go"]', 30000);
  assert.equal(await app.focusedAfterMove('final-try-stop'), 'final-try-stop');
  await app.screenshot('pin-03-final-try-confirm');
  await app.click('[data-testid="final-try-go"]');

  await app.find('[data-testid="current-pin"]', 30000);
  await app.type('[data-testid="current-pin"]', OLD);
  await app.keys(ENTER);

  // A weak PIN is refused as it is typed.
  await app.find('[data-testid="new-pin"]', 30000);
  await app.type('[data-testid="new-pin"]', '111111');
  assert.equal(await app.attr('[data-testid="rule-all_same"]', 'data-ok'), 'false');
  assert.equal(await app.enabled('[data-testid="submit-new-pin"]'), false);
  await app.type('[data-testid="new-pin-2"]', '111112');
  await app.find('[data-testid="pin-mismatch"]');
  await app.screenshot('pin-04-weak-pin');
  await app.clear('[data-testid="new-pin"]');
  await app.clear('[data-testid="new-pin-2"]');
  await app.type('[data-testid="new-pin"]', NEW);
  await app.type('[data-testid="new-pin-2"]', NEW);
  await app.keys(ENTER);

  await app.find('[data-testid="pin-changed"]', 60000);
  await app.screenshot('pin-05-changed');

  // The counter is reset and the new PIN opens the key in another program.
  await app.click('[data-testid="done"]');
  await app.waitText(`${card} [data-testid="pin-state"]`, 'PIN 正常');
  assert.match(world.pkcs11Tool(['--login', '--pin', NEW, '--list-objects', '--type', 'cert']), /Certificate Object/);
  assert.throws(() => world.pkcs11Tool(['--login', '--pin', OLD, '--list-objects']));
});

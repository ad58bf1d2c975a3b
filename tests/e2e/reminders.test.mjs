// Story: a holder whose certificate expires in 20 days opens the app and gets a
// desktop notification (through a real notification server, dunst, on the story's
// own D-Bus session bus) saying which certificate, on which key, and what to do. Opened
// again the same day, the app does not remind again. In Settings the holder keeps the
// app in the tray for the reminders; launched again, the app shows its running window.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { BIN, logText, waitFor, World } from './harness.mjs';

const SERIAL = 'SK2026E2EREM01';
const PIN = '80467139';
const world = new World('reminders');

before(async () => {
  await world.startCa();
  world.slots([{ serial: SERIAL }]);
  const code = world.produce(['--days', '20']);
  world.certkey(['activate', '--yes'], { CERTKEY_ACTIVATION_CODE: code, CERTKEY_NEW_PIN: PIN });
  await world.startDisplayAndDriver({ notifications: true });
  await world.openApp();
});

after(() => world.stop());

test('a renewal reminder, once a day, and the tray', async () => {
  let app = world.app;
  const card = `[data-testid="key-${SERIAL}"]`;
  await app.find(`${card} [data-testid="renewal-banner"]`, 30000);
  const [shown] = await waitFor('the reminder', () => {
    // The monitor's output comes in pieces: a call counts once its body has arrived.
    const n = world.notifications();
    return n.length > 0 && n[0].body !== undefined ? n : null;
  }, 30000);
  assert.equal(shown.app, '证书助手');
  assert.match(shown.summary, /有一张证书将在 20 天后到期/);
  assert.ok(shown.body.includes(SERIAL), shown.body);
  assert.ok(shown.body.includes('张三') || shown.body.includes('测试'), shown.body);
  assert.ok(shown.body.includes('更新'), 'says what to do');
  await app.screenshot('reminders-01-overview');

  // Opened again: no second reminder the same day.
  await world.closeApp();
  app = await world.openApp();
  await app.find(`${card} [data-testid="renewal-banner"]`, 30000);
  await new Promise((r) => setTimeout(r, 3000));
  assert.equal(world.notifications().length, 1, 'one reminder a day at most');

  // The tray, for reminders while the window is closed: off by default.
  await app.click('[data-testid="open-settings"]');
  await app.find('[data-testid="settings-form"]', 30000);
  assert.equal(await app.script('return document.querySelector(\'[data-testid="settings-tray"]\').checked;'), false);
  assert.equal(await app.script('return document.querySelector(\'[data-testid="settings-reminders"]\').checked;'), true);
  await app.click('[data-testid="settings-tray"]');
  await app.click('[data-testid="settings-save"]');
  await app.find('[data-testid="settings-saved"]', 30000);
  assert.match(readFileSync(world.env.CERTKEY_CONFIG, 'utf8'), /^tray = true$/m);
  await app.screenshot('reminders-02-settings');

  // Launched again while it runs (the desktop entry clicked twice, or the app hidden
  // in the tray): the running window is shown, and the second launch ends at once
  // instead of starting a second app on the same keys.
  const second = world.spawn(BIN('certkey-app'), [], {}, 'second-launch');
  await waitFor('the second launch to end', () => second.exitCode !== null, 30000);
  assert.equal(second.exitCode, 0, second.log());
  await waitFor('the running app to show its window', () => logText(world).includes('launched again'), 15000);
  await app.find('[data-testid="settings-form"]');
});

// Story: help-desk staff set a holder's PC up in Settings: a CA service that is not
// https is refused; a module file that does not exist is refused, one that is no
// PKCS#11 module is saved and shows why it does not load, while the key of the
// working module stays listed; About names every version; the log shows what
// the app and the CLI did, and its level is raised for the help-desk. In both
// languages.

import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MODULE, World } from './harness.mjs';

const SERIAL = 'SK2026E2ESET01';
const world = new World('settings');

before(async () => {
  await world.startCa();
  world.slots([{ serial: SERIAL }]);
  await world.startDisplayAndDriver();
  await world.openApp();
});

after(() => world.stop());

test('the CA service, the modules, About and the log', async () => {
  const app = world.app;
  const card = `[data-testid="key-${SERIAL}"]`;
  await app.find(card, 30000);
  await app.click('[data-testid="open-settings"]');
  await app.find('[data-testid="settings-form"]', 30000);
  await app.waitText('[data-testid="ca-directory"]', world.caUrl);

  // Plain http to another computer: refused, nothing saved.
  await app.type('[data-testid="service-url"]', 'http://ca.example.cn');
  await app.click('[data-testid="settings-save"]');
  await app.waitText('[data-testid="settings-error"]', 'https');
  await app.screenshot('settings-01-http-refused');
  await app.clear('[data-testid="service-url"]');

  // A module file that is not there: refused.
  const missing = join(world.dir, 'libmissing.so');
  await app.type('[data-testid="module-path"]', missing);
  await app.click('[data-testid="module-add"]');
  await app.click('[data-testid="settings-save"]');
  await app.waitText('[data-testid="settings-error"]', missing);
  const rows = await app.findAll('[data-testid="module-remove"]');
  await app.cmd('POST', `/element/${rows[rows.length - 1]}/click`, {});

  // A file that is no PKCS#11 module: saved, and shown as failing with the reason.
  const bogus = join(world.dir, 'libnot-pkcs11.so');
  writeFileSync(bogus, 'not a shared library');
  await app.type('[data-testid="module-path"]', bogus);
  await app.click('[data-testid="module-add"]');
  await app.click('[data-testid="settings-save"]');
  await app.find('[data-testid="settings-saved"]', 30000);
  await app.waitText('[data-testid="modules"]', '无法加载', 30000);
  const config = readFileSync(world.env.CERTKEY_CONFIG, 'utf8');
  assert.ok(config.includes(bogus) && config.includes(MODULE), config);
  assert.ok(config.includes('[[ca]]'), 'the rest of the config stays');
  await app.screenshot('settings-02-module-fails');

  // About and the log.
  await app.waitText('[data-testid="about"]', 'softkey');
  await app.click('[data-testid="log-refresh"]');
  await app.waitText('[data-testid="log-lines"]', 'settings saved');
  assert.equal(await app.text('[data-testid="log-path"]'), join(world.env.CERTKEY_STATE_DIR, 'logs'));
  // The help-desk raises the log's level: saved, and in force at once (the app started
  // at the default, which leaves debug lines out). The view shows the CLI's lines
  // too, from the same folder, in time order.
  // (The config names a module that does not load: `certkey list` exits 3.)
  try {
    world.certkey(['list']);
  } catch (e) {
    assert.equal(e.status, 3, String(e));
  }
  await app.click('[data-testid="settings-log-level"] option[value="debug"]');
  await app.click('[data-testid="settings-save"]');
  await app.find('[data-testid="settings-saved"]', 30000);
  assert.match(readFileSync(world.env.CERTKEY_CONFIG, 'utf8'), /^log_level = "debug"$/m);
  await app.click('[data-testid="log-refresh"]');
  await app.waitText('[data-testid="log-lines"]', 'settings in force');
  const lines = (await app.text('[data-testid="log-lines"]')).split('\n');
  const cli = lines.findIndex((l) => /^certkey-cli +\S+ +INFO certkey: certkey started .*command=list/.test(l));
  const saved = lines.findLastIndex((l) => /^certkey-app +.*settings saved/.test(l));
  assert.ok(cli >= 0 && saved > cli, lines.join('\n'));
  assert.ok(!lines.some((l) => l.includes('DEBUG') && l.startsWith('certkey-cli ')), 'the CLI ran at info');
  await app.screenshot('settings-03-log');
  await app.click('[data-testid="settings-lang-en"]');
  await app.waitText('h1', 'Settings');
  await app.waitText('[data-testid="modules"]', 'cannot load');
  await app.screenshot('settings-04-en');
  await app.click('[data-testid="settings-lang-zh-CN"]');

  // The working module's key is still listed.
  await app.click('[data-testid="home"]');
  await app.find(card, 30000);
  await app.find('[data-testid="module-error"]');
  await app.screenshot('settings-05-overview');
});

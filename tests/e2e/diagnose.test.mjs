// Story: a holder's key "does not work". Help-desk staff open Diagnostics on the
// holder's PC: a driver configured there is missing, and the key has one PIN try
// left. The check names both (with what to do), runs the self-test only as far as
// the key allows (never with the final try), registers the working module with
// p11-kit when asked, and saves the report: masked by default, with personal data
// only when asked. In both languages.

import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { MODULE, World } from './harness.mjs';

const SERIAL = 'SK2026E2EDIAG1';
const PIN = 'Diag#2026pin';
const world = new World('diagnose');
let missing;

before(async () => {
  await world.startCa();
  world.slots([{ serial: SERIAL }]);
  const code = world.produce();
  world.certkey(['activate', '--yes', '--token', SERIAL], { CERTKEY_ACTIVATION_CODE: code, CERTKEY_NEW_PIN: PIN });
  // Five wrong PINs typed in another program (OpenSC's pkcs11-tool): one try left.
  for (let i = 0; i < 5; i++) {
    assert.throws(() => world.pkcs11Tool(['--login', '--pin', '00000000', '--list-objects']));
  }
  // A vendor driver configured on this PC whose file is gone.
  missing = join(world.dir, 'libvendor_gone_pkcs11.so');
  const config = readFileSync(world.env.CERTKEY_CONFIG, 'utf8');
  writeFileSync(world.env.CERTKEY_CONFIG, config.replace(`modules = [${JSON.stringify(MODULE)}]`, `modules = [${JSON.stringify(MODULE)}, ${JSON.stringify(missing)}]`));
  await world.startDisplayAndDriver();
  await world.openApp();
});

after(() => world.stop());

/** The key's PIN flags as the CLI reads them now (through the softkey module only:
 *  the configuration names the missing one too). */
function pinState() {
  const empty = join(world.dir, 'empty-config.toml');
  writeFileSync(empty, '');
  const inv = JSON.parse(world.certkey(['--module', MODULE, 'list', '--json'], { CERTKEY_CONFIG: empty }));
  return inv.tokens.find((t) => t.serial === SERIAL).pin;
}

test('the check names the problems, spares the final try, applies a fix and saves the report', async () => {
  const app = world.app;
  await app.find(`[data-testid="key-${SERIAL}"]`, 30000);
  await app.click('[data-testid="open-diagnostics"]');
  await app.find('[data-testid="diagnose-form"]', 15000);
  await app.click('[data-testid="diagnose-self-test"]');
  await app.type('[data-testid="diagnose-pin"]', PIN);
  await app.screenshot('diagnose-01-start');
  await app.click('[data-testid="diagnose-run"]');
  await app.find('[data-testid="diagnose-results"]', 60000);

  // The findings, worst first, each with what to do.
  await app.waitText('[data-testid="finding-pin_final_try"]', `${SERIAL} 只剩最后一次 PIN 尝试机会`);
  await app.waitText('[data-testid="finding-pin_final_try"]', '请使用在线解锁');
  await app.waitText('[data-testid="finding-self_test_refused_final_try"]', '没有进行自检');
  await app.waitText('[data-testid="finding-module_missing"]', missing);
  assert.equal(await app.exists('[data-testid="finding-service_unreachable"]'), false, 'the CA service answers');
  // The PIN field was emptied and the final try not used.
  assert.equal(await app.script('return document.querySelector(\'[data-testid="diagnose-pin"]\').value;'), '');
  const pin = pinState();
  assert.ok(pin.final_try && !pin.locked, JSON.stringify(pin));
  await app.screenshot('diagnose-02-findings');

  // A fix, on the user's word: the working module registered with p11-kit.
  await app.click('[data-testid="finding-module_not_registered"] [data-testid="fix-offer"]');
  await app.find('[data-testid="fix-yes"]');
  await app.screenshot('diagnose-03-fix-confirm');
  await app.click('[data-testid="fix-yes"]');
  await app.waitText('[data-testid="fix-done"]', '70-certkey-softkey.module');
  const registered = join(world.env.XDG_CONFIG_HOME, 'pkcs11', 'modules', '70-certkey-softkey.module');
  assert.ok(readFileSync(registered, 'utf8').includes(`module: ${MODULE}`));

  // The report, masked by default and readable only by the user.
  await app.click('[data-testid="diagnose-save-html"]');
  await app.find('[data-testid="diagnose-exported"]', 15000);
  // Where the window says it went (the Downloads folder, else the home folder).
  const saved = async (ext) => {
    const said = await app.text('[data-testid="diagnose-exported"]');
    const path = said.match(new RegExp(`(/\\S+\\.${ext})`))?.[1];
    assert.ok(path && path.startsWith(world.home), said);
    return path;
  };
  const html = await saved('html');
  const page = readFileSync(html, 'utf8');
  assert.ok(page.includes('pin_final_try') && page.includes(missing));
  assert.ok(!page.includes('张三') && page.includes('张*'), 'the holder is masked');
  assert.ok(!page.includes(PIN));
  assert.equal(statSync(html).mode & 0o777, 0o600);
  // With personal data only when asked.
  await app.click('[data-testid="diagnose-personal"]');
  await app.click('[data-testid="diagnose-save-json"]');
  await app.waitText('[data-testid="diagnose-exported"]', '.json');
  const report = JSON.parse(readFileSync(await saved('json'), 'utf8'));
  assert.equal(report.redacted, false);
  assert.ok(JSON.stringify(report).includes('张三'));
  assert.ok(report.trace.some((c) => c.function === 'C_GetTokenInfo'));
  assert.ok(!JSON.stringify(report).includes(PIN));
  await app.screenshot('diagnose-04-saved');

  // In English.
  await app.click('[data-testid="lang-en"]');
  await app.waitText('[data-testid="finding-pin_final_try"]', `Key ${SERIAL} has one PIN try left`);
  await app.waitText('[data-testid="finding-module_missing"]', 'does not exist');
  await app.screenshot('diagnose-05-en');
  await app.click('[data-testid="lang-zh-CN"]');
  assert.ok(existsSync(registered));
});

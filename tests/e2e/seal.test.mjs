// Story: a holder writes the electronic seal of their certificate from a scanned
// stamp: a file that is no picture is refused, the picture is previewed as it will
// be written (background gone, trimmed, at its size in millimetres), the seal is
// written with the PIN, then shown with its checks and exported; a second seal is
// not offered, with the reason and the way to get another.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { stampPng, World } from './harness.mjs';

const SERIAL = 'SK2026E2ESEAL1';
const PIN = '80467139';
const ENTER = '\uE007';
const world = new World('seal');

before(async () => {
  await world.startCa();
  world.slots([{ serial: SERIAL }]);
  const code = world.produce();
  world.certkey(['activate', '--yes'], { CERTKEY_ACTIVATION_CODE: code, CERTKEY_NEW_PIN: PIN });
  await world.startDisplayAndDriver();
  await world.openApp();
});

after(() => world.stop());

test('a seal is previewed, written, checked and exported; a second is not offered', async () => {
  const app = world.app;
  const card = `[data-testid="key-${SERIAL}"]`;
  await app.find(`${card} [data-testid="validity"]`, 30000);
  await app.waitText(`${card} [data-testid="seal"]`, '未写入');
  await app.click(`${card} [data-testid="seal-open"]`);

  // Not a picture: refused before anything is sent.
  await app.dropFile('[data-testid="seal-drop"]', 'contract.pdf', 'application/pdf', Buffer.from('%PDF-1.7\n'));
  await app.waitText('[data-testid="seal-problem"]', 'PNG');
  await app.screenshot('seal-01-not-a-picture');

  // The scanned stamp: previewed at its size, with the certificate type's defaults.
  await app.dropFile('[data-testid="seal-drop"]', 'stamp.png', 'image/png', stampPng(400));
  await app.find('[data-testid="seal-preview"] img', 30000);
  await app.waitText('[data-testid="seal-preview-facts"]', '毫米');
  assert.equal(await app.exists('[data-testid="seal-problem"]'), false);
  // A size out of range is refused as typed; a good one is previewed again.
  await app.clear('[data-testid="seal-width"]');
  await app.type('[data-testid="seal-width"]', '5');
  await app.waitText('[data-testid="seal-problem"]', '10 到 100');
  assert.equal(await app.enabled('[data-testid="seal-write"]'), false);
  await app.clear('[data-testid="seal-width"]');
  await app.type('[data-testid="seal-width"]', '30');
  await app.clear('[data-testid="seal-height"]');
  await app.type('[data-testid="seal-height"]', '30');
  await app.waitText('[data-testid="seal-preview-facts"]', '30 × 30 毫米');
  await app.screenshot('seal-02-preview');

  // Written with the PIN.
  await app.click('[data-testid="seal-write"]');
  await app.find('[data-testid="current-pin"]', 60000);
  await app.type('[data-testid="current-pin"]', PIN);
  await app.keys(ENTER);
  await app.find('[data-testid="seal-written"]', 60000);
  await app.screenshot('seal-03-written');

  // Shown with its checks, in both languages.
  await app.click('[data-testid="seal-show-written"]');
  await app.find('[data-testid="seal-picture"]', 30000);
  await app.waitText('[data-testid="check-maker"]', 'CertKey');
  for (const check of ['check-maker', 'check-signature', 'check-bound']) {
    assert.equal(await app.attr(`[data-testid="${check}"]`, 'class'), 'ok', check);
  }
  await app.waitText('[data-testid="seal-one-only"]', '另一张证书');
  assert.equal(await app.exists('[data-testid="seal-write"]'), false, 'no second seal offered');
  await app.screenshot('seal-04-shown');
  await app.click('[data-testid="lang-en"]');
  await app.waitText('[data-testid="seal-one-only"]', 'another certificate');
  await app.waitText('[data-testid="check-bound"]', 'Bound to this certificate');
  await app.screenshot('seal-05-shown-en');
  await app.click('[data-testid="lang-zh-CN"]');

  // Exported as the picture the seal carries.
  await app.click('[data-testid="seal-export"]');
  await app.find('[data-testid="seal-exported"]');
  // Into the Downloads folder, or home when the desktop names none (as here).
  const said = await app.text('[data-testid="seal-exported"]');
  const path = /(\/\S+-seal\.png)/.exec(said)?.[1];
  assert.ok(path?.startsWith(world.home), said);
  const png = readFileSync(path);
  assert.deepEqual([...png.subarray(0, 4)], [0x89, 0x50, 0x4e, 0x47], 'a PNG');

  // The overview says the seal is there; another program reads it too.
  await app.click('[data-testid="home"]');
  await app.waitText(`${card} [data-testid="seal"]`, '已写入');
  const shown = JSON.parse(world.certkey(['--json', 'seal', 'show', '--token', SERIAL]));
  assert.equal(shown.seals.length, 1);
  assert.equal(shown.seals[0].width_mm, 30);
});

// Story: three holders locked their PINs. The first gives the handler on file and the
// key is unlocked at once; the second gives another handler, so the CA reviews the
// request: it stays pending across a restart of the app, the CA operator asks for
// materials, the holder attaches a scan (a file that only pretends to be a PDF is
// refused), the operator reads it and approves (admin API), and the holder sets the
// new PIN in the window. The third is refused, with the CA's reason.

import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { World } from './harness.mjs';

const A = 'SK2026E2EUNL0A';
const B = 'SK2026E2EUNL0B';
const C = 'SK2026E2EUNL0C';
const SCAN = Buffer.from('%PDF-1.4\n1 0 obj <</Type /Catalog>> endobj\ntrailer <</Root 1 0 R>>\n%%EOF\n');
const PIN = '80467139';
const NEW_A = '59173068';
const NEW_B = '62847153';
const world = new World('unlock');

async function setNewPin(app, pin) {
  await app.find('[data-testid="new-pin"]', 60000);
  await app.type('[data-testid="new-pin"]', pin);
  await app.type('[data-testid="new-pin-2"]', pin);
  await app.click('[data-testid="submit-new-pin"]');
}

async function fillHandler(app, name, id, phone) {
  for (const [field, value] of [['handler-name', name], ['handler-id', id], ['handler-phone', phone]]) {
    await app.clear(`[data-testid="${field}"]`);
    await app.type(`[data-testid="${field}"]`, value);
  }
}

before(async () => {
  await world.startCa();
  world.slots([{ serial: A }, { serial: B }, { serial: C }]);
  for (const serial of [A, B, C]) {
    const code = world.produce();
    world.certkey(['activate', '--yes', '--token', serial], { CERTKEY_ACTIVATION_CODE: code, CERTKEY_NEW_PIN: PIN });
  }
  // The PINs locked by wrong PINs typed elsewhere (OpenSC's pkcs11-tool).
  const status = JSON.parse(world.softkey('status', '--json'));
  const retries = status.slots?.[0]?.user_retries ?? status[0]?.user_retries;
  for (const slot of [0, 1, 2]) {
    for (let i = 0; i < retries; i++) {
      assert.throws(() => world.pkcs11Tool(['--slot-index', String(slot), '--login', '--pin', '00000000', '--list-objects']));
    }
  }
  await world.startDisplayAndDriver();
  await world.openApp();
});

after(() => world.stop());

test('the handler on file unlocks at once', async () => {
  const app = world.app;
  const card = `[data-testid="key-${A}"]`;
  await app.find(card, 30000);
  await app.waitText(`${card} [data-testid="pin-state"]`, '已锁定');
  await app.screenshot('unlock-01-locked');
  await app.click(`${card} [data-testid="unlock"]`);

  // Nothing is sent until the form is complete.
  await app.find('[data-testid="handler-form"]');
  await fillHandler(app, '李四', '110101199001011234', 'not a phone');
  await app.click('[data-testid="start-unlock"]');
  await app.waitText('[data-testid="handler-problems"]', '手机号码');
  await app.screenshot('unlock-02-form-refused');
  await app.clear('[data-testid="handler-phone"]');
  await app.type('[data-testid="handler-phone"]', '13800000000');
  await app.click('[data-testid="start-unlock"]');

  await setNewPin(app, NEW_A);
  await app.find('[data-testid="unlocked"]', 60000);
  await app.screenshot('unlock-03-unlocked');
  await app.click('[data-testid="done"]');
  await app.waitText(`${card} [data-testid="pin-state"]`, 'PIN 正常');
  assert.match(world.pkcs11Tool(['--slot-index', '0', '--login', '--pin', NEW_A, '--list-objects', '--type', 'cert']), /Certificate Object/);
});

test('another handler waits for review, across a restart, then sets the PIN', async () => {
  let app = world.app;
  const card = `[data-testid="key-${B}"]`;
  await app.find(card, 30000);
  await app.click(`${card} [data-testid="unlock"]`);
  await app.find('[data-testid="handler-form"]');
  await fillHandler(app, '王五', '110101198505055678', '13900000000');
  await app.click('[data-testid="start-unlock"]');
  await app.find('[data-testid="unlock-pending"]', 60000);
  const pendingText = await app.text('[data-testid="unlock-pending"]');
  const ticket = /受理号\s*(\S+?)）/.exec(pendingText)?.[1];
  assert.ok(ticket, `the ticket is shown: ${pendingText}`);
  await app.click('[data-testid="lang-en"]');
  await app.waitText('[data-testid="unlock-pending"]', 'being reviewed');
  await app.screenshot('unlock-04-pending-en');
  await app.click('[data-testid="lang-zh-CN"]');

  // The app is closed and opened again: the request is still there and checked.
  await app.close();
  app = await world.openApp();
  await app.find(card, 30000);
  await app.click(`${card} [data-testid="unlock"]`);
  await app.find('[data-testid="unlock-pending"]', 60000);
  assert.equal(await app.exists('[data-testid="handler-form"]'), false, 'no second request');
  await app.screenshot('unlock-05-pending-after-restart');

  // The CA operator asks for materials; "check again" shows what.
  const note = '请上传经办人身份证正反面扫描件和加盖公章的授权书。';
  await world.adminApi('POST', `/unlock/${ticket}/request-materials`, { note });
  await app.click('[data-testid="check-again"]');
  await app.waitText('[data-testid="materials-requested"]', note, 60000);
  await app.screenshot('unlock-06-materials-requested');

  // A file that only pretends to be a PDF is refused before anything is sent; a scan goes.
  await app.dropFile('[data-testid="attach-drop"]', '授权书.pdf', 'application/pdf', Buffer.from('GIF89a not a pdf'));
  await app.waitText('[data-testid="attach-error"]', 'PDF、JPEG 和 PNG');
  await app.dropFile('[data-testid="attach-drop"]', '授权书.pdf', 'application/pdf', SCAN);
  await app.waitText('[data-testid="attachments"]', '授权书.pdf', 30000);
  assert.equal(await app.exists('[data-testid="attach-error"]'), false);
  await app.screenshot('unlock-07-material-sent');

  // The operator reads it (the same bytes) and approves; "check again" goes on to the
  // new PIN.
  const list = await world.adminApi('GET', `/unlock/${ticket}/attachments`);
  assert.deepEqual(list.map((a) => [a.file_name, a.media_type, a.size]), [['授权书.pdf', 'pdf', SCAN.length]]);
  const fetched = await fetch(`${world.caUrl}/api/v1/admin/unlock/${ticket}/attachments/${list[0].id}`, {
    headers: { authorization: `Bearer ${world.admin}` },
  });
  assert.equal(fetched.headers.get('content-type'), 'application/pdf');
  assert.ok(Buffer.from(await fetched.arrayBuffer()).equals(SCAN), 'the CA has the scan as sent');
  await world.adminApi('POST', `/unlock/${ticket}/approve`);
  await app.click('[data-testid="check-again"]');
  await setNewPin(app, NEW_B);
  await app.find('[data-testid="unlocked"]', 60000);
  await app.screenshot('unlock-08-unlocked-after-review');
  assert.match(world.pkcs11Tool(['--slot-index', '1', '--login', '--pin', NEW_B, '--list-objects', '--type', 'cert']), /Certificate Object/);
  await app.click('[data-testid="done"]');
});

test('a refusal shows the CA\'s reason', async () => {
  const app = world.app;
  const card = `[data-testid="key-${C}"]`;
  await app.find(card, 30000);
  await app.click(`${card} [data-testid="unlock"]`);
  await app.find('[data-testid="handler-form"]');
  await fillHandler(app, '赵六', '110101197001019999', '13700000000');
  await app.click('[data-testid="start-unlock"]');
  await app.find('[data-testid="unlock-pending"]', 60000);
  const ticket = /受理号\s*(\S+?)）/.exec(await app.text('[data-testid="unlock-pending"]'))?.[1];
  const reason = '经办人与本单位备案信息不符，请由法定代表人到 CA 受理点办理。';
  await world.adminApi('POST', `/unlock/${ticket}/reject`, { reason });
  await app.click('[data-testid="check-again"]');
  await app.find('[data-testid="unlock-rejected"]', 60000);
  await app.waitText('[data-testid="unlock-rejected"]', reason);
  await app.screenshot('unlock-09-rejected-with-reason');
});

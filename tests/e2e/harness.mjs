// The end-to-end harness: the real app window under Xvfb, driven through tauri-driver
// and WebKitWebDriver, against a real certkey-ca (SQLite, loopback) and softkey.
// Plain WebDriver over fetch: nothing is downloaded at run time.
//
// Environment: CERTKEY_TARGET_DIR (default <repo>/target) holds the build (debug, or
// the profile CERTKEY_PROFILE names) of certkey-app, certkey-ca, certkey-softkey and
// libcertkey_softkey.so;
// TAURI_DRIVER names tauri-driver (default: on PATH).

import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const TARGET = process.env.CERTKEY_TARGET_DIR ?? process.env.CARGO_TARGET_DIR ?? join(ROOT, 'target');
export const TARGET_DIR = TARGET;
export const BIN = (name) => join(TARGET, process.env.CERTKEY_PROFILE ?? 'debug', name);
export const MODULE = BIN('libcertkey_softkey.so');
export const SHOTS = join(ROOT, 'tests', 'e2e', 'screenshots');
const PASSPHRASE = 'e2e passphrase for the test CA';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (const b of buf) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** A PNG of a red stamp ring with a star on white paper, `size` pixels square: what
 *  a holder scans. */
export function stampPng(size = 400) {
  const raw = Buffer.alloc((size * 3 + 1) * size);
  const c = size / 2;
  for (let y = 0; y < size; y++) {
    raw[y * (size * 3 + 1)] = 0;
    for (let x = 0; x < size; x++) {
      const r = Math.hypot(x - c, y - c);
      const angle = Math.atan2(y - c, x - c);
      const star = r < size * 0.16 * (0.55 + 0.45 * Math.cos(5 * angle));
      const ink = (r > size * 0.4 && r < size * 0.46) || star;
      const o = y * (size * 3 + 1) + 1 + x * 3;
      raw[o] = ink ? 200 : 255;
      raw[o + 1] = ink ? 20 : 255;
      raw[o + 2] = ink ? 30 : 255;
    }
  }
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // RGB
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(raw)),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/** Whether a child has ended. */
function ended(child) {
  return child.exitCode !== null || child.signalCode !== null;
}

/** Children whose process group may still run: ended whole when this process ends
 *  (a story interrupted, Ctrl-C), since they are not in the terminal's group. */
const live = new Set();
process.on('exit', () => {
  for (const c of live) signalGroup(c, 'SIGKILL');
});
for (const signal of ['SIGINT', 'SIGTERM']) process.once(signal, () => process.exit(130));

/** Sends `signal` to a child's process group (see `spawn`); one that is gone is fine. */
function signalGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    // The group has ended.
  }
}

async function waitFor(what, check, timeoutMs = 30000, everyMs = 100) {
  const start = Date.now();
  let last;
  while (Date.now() - start < timeoutMs) {
    try {
      const v = await check();
      if (v) return v;
    } catch (e) {
      last = e;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ''}`);
}

export function run(cmd, args, env = {}) {
  return execFileSync(cmd, args, { env: { ...process.env, ...env }, encoding: 'utf8' });
}

/** Everything a story needs, started in order and stopped in reverse. */
export class World {
  constructor(name) {
    this.name = name;
    this.dir = mkdtempSync(join(tmpdir(), `certkey-e2e-${name}-`));
    this.children = [];
    this.softkeyDir = join(this.dir, 'softkey');
    this.caDir = join(this.dir, 'ca');
    this.home = join(this.dir, 'home');
    mkdirSync(this.softkeyDir);
    mkdirSync(join(this.home, 'Downloads'), { recursive: true });
    this.env = {
      HOME: this.home,
      XDG_DOWNLOAD_DIR: join(this.home, 'Downloads'),
      XDG_CONFIG_HOME: join(this.home, '.config'),
      XDG_DATA_HOME: join(this.home, '.local', 'share'),
      CERTKEY_SOFTKEY_DIR: this.softkeyDir,
      CERTKEY_STATE_DIR: join(this.dir, 'state'),
      CERTKEY_CONFIG: join(this.dir, 'config.toml'),
      CERTKEY_CA_PASSPHRASE: PASSPHRASE,
      // The app's own D-Bus session bus only when a story starts one (notifications):
      // never the desktop's, where a running CertKey would take the launch over.
      DBUS_SESSION_BUS_ADDRESS: `unix:path=${join(this.dir, 'no-bus')}`,
      // Loopback only, never through a proxy.
      NO_PROXY: '127.0.0.1,localhost',
      no_proxy: '127.0.0.1,localhost',
    };
  }

  spawn(cmd, args, env = {}, logName = null) {
    const out = logName ? join(this.dir, `${logName}.log`) : null;
    // A process group of its own, ended as a whole by stop(): what it starts in turn
    // (tauri-driver starts WebKitWebDriver, which starts the app) goes with it.
    const child = spawn(cmd, args, {
      env: { ...process.env, ...this.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const chunks = [];
    const keep = (d) => {
      chunks.push(d);
      if (out) writeFileSync(out, Buffer.concat(chunks));
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.log = () => Buffer.concat(chunks).toString('utf8');
    // When it ends, what it left running in its group goes too (at once, before its
    // number can be given to another group).
    live.add(child);
    child.once('exit', () => {
      live.delete(child);
      signalGroup(child, 'SIGKILL');
    });
    this.children.push(child);
    return child;
  }

  /** A certkey-ca on SQLite with every per-address limit raised (one test client);
   *  `requirePayment`: renewals need a paid entitlement (admin API). */
  async startCa({ requirePayment = false } = {}) {
    const init = JSON.parse(run(BIN('certkey-ca'), ['init', '--json', '--data', this.caDir], this.env));
    this.admin = init.admin_token;
    const cfgPath = join(this.caDir, 'certkey-ca.toml');
    const raised = readFileSync(cfgPath, 'utf8')
      .split('\n')
      .map((l) => (l.includes('_per_minute = ') ? `${l.split('_per_minute = ')[0]}_per_minute = 100000` : l))
      .filter((l) => !l.startsWith('require_renewal_entitlement'))
      .join('\n');
    writeFileSync(cfgPath, `require_renewal_entitlement = ${requirePayment}\n${raised}`);
    // Port 0: the service binds a port the system picks and says which on stderr (a
    // port guessed free beforehand can be taken by another connection before it binds).
    const ca = this.spawn(BIN('certkey-ca'), ['serve', '--data', this.caDir, '--listen', '127.0.0.1:0'], { CERTKEY_CA_LOG: 'warn' }, 'ca');
    this.caUrl = await waitFor('certkey-ca', async () => {
      const said = /certkey-ca listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(ca.log());
      if (said) return said[1];
      if (ca.exitCode !== null) throw new Error(`certkey-ca exited: ${ca.log()}`);
      return null;
    });
    this.writeConfig();
  }

  issuer(alg) {
    return run('openssl', ['x509', '-in', join(this.caDir, 'certs', `${alg}-issuing.pem`), '-noout', '-subject', '-nameopt', 'RFC2253,-esc_msb'])
      .trim()
      .replace(/^subject=/, '');
  }

  /** The app's config: only the softkey module, the test CA in the directory. */
  writeConfig() {
    const q = (s) => JSON.stringify(s);
    writeFileSync(
      this.env.CERTKEY_CONFIG,
      [
        `modules = [${q(MODULE)}]`,
        'auto_modules = false',
        `ca_bundle = [${q(join(this.caDir, 'certs', 'sm2-issuing.pem'))}, ${q(join(this.caDir, 'certs', 'p256-issuing.pem'))}]`,
        'default_ca = "e2e"',
        '',
        '[[ca]]',
        'name = "e2e"',
        'display_name = "CertKey e2e CA"',
        'display_name_zh = "CertKey 测试 CA"',
        `issuers = [${q(this.issuer('sm2'))}, ${q(this.issuer('p256'))}]`,
        `service_url = ${q(this.caUrl)}`,
        '',
      ].join('\n'),
    );
  }

  /** Declares the softkey slots (serial and vendor profile each). */
  slots(list) {
    writeFileSync(
      join(this.softkeyDir, 'softkey.toml'),
      list.map(({ serial, profile = 'tass' }) => `[[slot]]\nserial = "${serial}"\nprofile = "${profile}"\n`).join('\n'),
    );
  }

  /** The CA produces the first blank key (a pending order): returns the activation code. */
  produce(extra = []) {
    const out = JSON.parse(
      run(
        BIN('certkey-ca'),
        ['produce', '--json', '--data', this.caDir, '--module', MODULE,
          '--holder', '张三', '--type', 'org-person', '--org', '广东测试有限公司', '--key', 'sm2',
          '--handler-name', '李四', '--handler-id', '110101199001011234', '--handler-phone', '13800000000', ...extra],
        this.env,
      ),
    );
    return out.activation_code;
  }

  /** A call to certkey-ca's admin API; returns the parsed answer, throws on an error. */
  async adminApi(method, path, body) {
    const r = await fetch(`${this.caUrl}/api/v1/admin${path}`, {
      method,
      headers: { authorization: `Bearer ${this.admin}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${text}`);
    return text ? JSON.parse(text) : null;
  }

  softkey(...args) {
    return run(BIN('certkey-softkey'), args, this.env);
  }

  /** OpenSC's pkcs11-tool on the softkey module; throws when it fails. */
  pkcs11Tool(args) {
    return run('pkcs11-tool', ['--module', MODULE, ...args], this.env);
  }

  certkey(args, env = {}) {
    return run(BIN('certkey'), ['--no-auto-modules', ...args], { ...this.env, ...env });
  }

  /** Xvfb on a free display; resolves when it answers. */
  async startDisplay() {
    // -displayfd: Xvfb takes the first free display itself (no number guessed free
    // beforehand, which another server could take first) and writes it on its
    // standard output once it accepts connections.
    const xvfb = this.spawn('Xvfb', ['-displayfd', '1', '-screen', '0', '1280x900x24', '-noreset', '-nolisten', 'tcp'], {}, 'xvfb');
    let said = '';
    xvfb.stdout.on('data', (d) => {
      said += d;
    });
    const display = await waitFor('Xvfb', () => {
      const number = /^(\d+)\n/.exec(said);
      if (number) return number[1];
      if (xvfb.exitCode !== null) throw new Error(`Xvfb exited: ${xvfb.log()}`);
      return null;
    });
    this.display = `:${display}`;
    this.env.DISPLAY = this.display;
  }

  /** A D-Bus session bus of this world with dunst, a real notification server, on
   *  the display (call after startDisplay, before the driver starts the app); every
   *  notification sent on the bus is kept for `notifications()`. */
  async startNotifications() {
    const bus = join(this.dir, 'bus');
    this.env.DBUS_SESSION_BUS_ADDRESS = `unix:path=${bus}`;
    const daemon = this.spawn('dbus-daemon', ['--session', '--nofork', `--address=unix:path=${bus}`], {}, 'dbus');
    await waitFor('dbus-daemon', () => {
      if (daemon.exitCode !== null) throw new Error(`dbus-daemon exited: ${daemon.log()}`);
      return existsSync(bus);
    });
    this.monitor = this.spawn('dbus-monitor', ['--session', "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"], {}, 'notifications');
    const dunst = this.spawn('dunst', [], {}, 'dunst');
    await waitFor('dunst', async () => {
      if (dunst.exitCode !== null) throw new Error(`dunst exited: ${dunst.log()}`);
      return run('busctl', ['--user', 'list'], this.env).includes('org.freedesktop.Notifications');
    });
  }

  /** The notifications sent so far, as { app, summary, body }, from the bus monitor. */
  notifications() {
    const out = [];
    for (const call of this.monitor.log().split(/\n(?=method call)/)) {
      if (!call.includes('member=Notify')) continue;
      const strings = [...call.matchAll(/^\s*string "((?:[^"\\]|\\.)*)"/gm)].map((m) => m[1]);
      // Notify(app_name, replaces_id, app_icon, summary, body, actions, hints, timeout).
      out.push({ app: strings[0], summary: strings[2], body: strings[3] });
    }
    return out;
  }

  /** Xvfb on a free display, then tauri-driver; resolves when both answer. */
  async startDisplayAndDriver({ notifications = false } = {}) {
    await this.startDisplay();
    if (notifications) await this.startNotifications();
    // tauri-driver takes no port 0: ports found free a moment ago may be taken when it
    // binds them (by another connection), and then it exits; new ones are tried.
    // A taken native port ends WebKitWebDriver and leaves tauri-driver without an
    // answer: a start that does not answer in 30 s is tried again too.
    for (let attempt = 1; ; attempt++) {
      const port = await freePort();
      let native = await freePort();
      while (native === port) native = await freePort();
      this.driverUrl = `http://127.0.0.1:${port}`;
      const driver = this.spawn(process.env.TAURI_DRIVER ?? 'tauri-driver', ['--port', String(port), '--native-port', String(native)], {}, `tauri-driver-${attempt}`);
      const state = await waitFor('tauri-driver', async () => {
        if (ended(driver)) return 'exited';
        return (await fetch(`${this.driverUrl}/status`, { signal: AbortSignal.timeout(2000) })).ok ? 'up' : null;
      }).catch((e) => e.message);
      if (state === 'up') return;
      signalGroup(driver, 'SIGKILL');
      if (attempt === 3) throw new Error(`tauri-driver did not start (${state}): ${driver.log()}`);
    }
  }

  /** Closes the app window and, on a story's own bus, waits until the app is gone:
   *  the next start must not find it still running (it would hand over and end). */
  async closeApp() {
    await this.app.close();
    if (!this.monitor) return;
    await waitFor('the app to end', () => !run('busctl', ['--user', 'list'], this.env).includes('org.certkey.app.SingleInstance'), 30000);
  }

  /** Opens the app window. */
  async openApp() {
    this.app = await Session.create(this.driverUrl, BIN('certkey-app'));
    return this.app;
  }

  async stop() {
    if (this.app) await this.app.close().catch(() => {});
    // Only groups whose leader still runs: an ended one was killed whole at its end.
    const running = this.children.reverse().filter((c) => !ended(c));
    for (const c of running) signalGroup(c, 'SIGTERM');
    // Each child ends before its folder goes (a program still writing its log there
    // would make the removal fail); one that does not end in 5 s is killed.
    await Promise.all(
      running.map(async (c) => {
        const start = Date.now();
        while (!ended(c) && Date.now() - start < 5000) await sleep(50);
        if (!ended(c)) signalGroup(c, 'SIGKILL');
      }),
    );
    if (!process.env.CERTKEY_E2E_KEEP) rmSync(this.dir, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
  }
}

/** The log's lines (every program's) in the world's log folder, as one text. */
export function logText(world) {
  const dir = join(world.env.CERTKEY_STATE_DIR, 'logs');
  if (!existsSync(dir)) return '';
  return readdirSync(dir)
    .filter((n) => n.endsWith('.log'))
    .sort()
    .map((n) => readFileSync(join(dir, n), 'utf8'))
    .join('');
}

/** A WebDriver session on the app window. */
export class Session {
  constructor(base, id) {
    this.base = base;
    this.id = id;
  }

  static async create(base, application) {
    const body = { capabilities: { alwaysMatch: { 'tauri:options': { application } } } };
    const res = await request(base, 'POST', '/session', body, 120000);
    return new Session(base, res.sessionId);
  }

  cmd(method, path, body) {
    return request(this.base, method, `/session/${this.id}${path}`, body);
  }

  async close() {
    await this.cmd('DELETE', '');
  }

  /** The first element matching a CSS selector, waited for. */
  async find(css, timeoutMs = 15000) {
    try {
      return await waitFor(`element ${css}`, async () => {
        const found = await this.cmd('POST', '/elements', { using: 'css selector', value: css });
        const first = found[0];
        return first ? Object.values(first)[0] : null;
      }, timeoutMs, 100);
    } catch (e) {
      // What the window showed instead, for the failure report.
      const shown = await this.script('return document.querySelector("main")?.innerText ?? "";').catch(() => '');
      await this.screenshot('failure').catch(() => {});
      throw new Error(`${e.message}\n--- the window showed:\n${shown}`);
    }
  }

  async findAll(css) {
    const found = await this.cmd('POST', '/elements', { using: 'css selector', value: css });
    return found.map((e) => Object.values(e)[0]);
  }

  async exists(css) {
    return (await this.findAll(css)).length > 0;
  }

  /** Waits until no element matches. */
  async gone(css, timeoutMs = 15000) {
    await waitFor(`${css} to go`, async () => !(await this.exists(css)), timeoutMs, 100);
  }

  async click(css) {
    const el = await this.find(css);
    await this.cmd('POST', `/element/${el}/click`, {});
  }

  async type(css, text) {
    const el = await this.find(css);
    await this.cmd('POST', `/element/${el}/value`, { text, value: [...text] });
  }

  /** Empties a field as a user would: WebDriver's clear fires no input event, so the
   * page's bindings would keep the old value; one is dispatched. */
  async clear(css) {
    const el = await this.find(css);
    await this.cmd('POST', `/element/${el}/clear`, {});
    await this.script("document.querySelector(arguments[0]).dispatchEvent(new Event('input', { bubbles: true }));", [css]);
  }

  /** Sends keys to the focused element (e.g. '\uE007' Enter, '\uE00C' Escape, '\uE004' Tab). */
  async keys(text) {
    await this.cmd('POST', '/actions', {
      actions: [{ type: 'key', id: 'keyboard', actions: [...text].flatMap((k) => [{ type: 'keyDown', value: k }, { type: 'keyUp', value: k }]) }],
    });
    await this.cmd('DELETE', '/actions');
  }

  async text(css) {
    const el = await this.find(css);
    return this.cmd('GET', `/element/${el}/text`);
  }

  /** Waits until the element's text contains `part`; returns the text. */
  async waitText(css, part, timeoutMs = 15000) {
    return waitFor(`"${part}" in ${css}`, async () => {
      const found = await this.findAll(css);
      for (const el of found) {
        const t = await this.cmd('GET', `/element/${el}/text`);
        if (t.includes(part)) return t;
      }
      return null;
    }, timeoutMs, 100);
  }

  async attr(css, name) {
    const el = await this.find(css);
    return this.cmd('GET', `/element/${el}/attribute/${name}`);
  }

  async enabled(css) {
    const el = await this.find(css);
    return this.cmd('GET', `/element/${el}/enabled`);
  }

  script(body, args = []) {
    return this.cmd('POST', '/execute/sync', { script: body, args });
  }

  /** Drops a file (`bytes`, a Buffer) on the element `css`, as dragging it from the
   *  file manager does. */
  async dropFile(css, name, type, bytes) {
    await this.find(css);
    return this.script(
      `const [css, name, type, b64] = arguments;
       const bin = atob(b64);
       const bytes = new Uint8Array(bin.length);
       for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
       const dt = new DataTransfer();
       dt.items.add(new File([bytes], name, { type }));
       const el = document.querySelector(css);
       el.dispatchEvent(new DragEvent('dragover', { dataTransfer: dt, bubbles: true, cancelable: true }));
       el.dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
       return true;`,
      [css, name, type, bytes.toString('base64')],
    );
  }

  /** Which element has the keyboard focus: its data-testid or id. */
  focused() {
    return this.script('const e = document.activeElement; return e ? (e.dataset.testid || e.id || e.tagName) : null;');
  }

  /** Which element has the focus once it has moved to `expected` (the window moves it
   *  at the next animation frame after showing a dialog), or after fifteen seconds. */
  async focusedAfterMove(expected) {
    const start = Date.now();
    let now = await this.focused();
    while (now !== expected && Date.now() - start < 15000) {
      await sleep(50);
      now = await this.focused();
    }
    return now;
  }

  /** A screenshot of the whole window into tests/e2e/screenshots/<name>.png. */
  async screenshot(name) {
    // Two animation frames, so the picture shows the current state.
    await this.cmd('POST', '/execute/async', {
      script: 'const done = arguments[arguments.length - 1]; requestAnimationFrame(() => requestAnimationFrame(() => done(true)));',
      args: [],
    });
    const b64 = await this.cmd('GET', '/screenshot');
    mkdirSync(SHOTS, { recursive: true });
    writeFileSync(join(SHOTS, `${name}.png`), Buffer.from(b64, 'base64'));
  }
}

async function request(base, method, path, body, timeoutMs = 60000) {
  // tauri-driver occasionally drops a request (the connection is reset): try once
  // more then. A timeout is not retried: the command (a click, typed text, a new
  // session) may have happened.
  for (let attempt = 0; ; attempt++) {
    try {
      const res = await fetch(`${base}${path}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const json = await res.json().catch(() => ({}));
      if (!res.ok || (json.value && json.value.error)) {
        const v = json.value ?? {};
        throw new WebDriverError(`${method} ${path}: ${v.error ?? res.status} ${v.message ?? ''}`);
      }
      return json.value;
    } catch (e) {
      const reset = ['ECONNRESET', 'ECONNREFUSED', 'UND_ERR_SOCKET'].includes(e?.cause?.code);
      if (e instanceof WebDriverError || !reset || attempt >= 1) throw e;
      await sleep(300);
    }
  }
}

class WebDriverError extends Error {}

export { freePort, waitFor };

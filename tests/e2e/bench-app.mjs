// The desktop app's benchmark (run by scripts/bench-app on release builds; never by
// the test command). Each figure is measured with its peer in the same run:
//
// * start-up: from asking tauri-driver for a window to the first rendered key (the
//   app, with one activated softkey key) or to the page's text (the peer: the
//   smallest Tauri 2 window, bench/minimal-window); and the wall time of
//   `certkey list --json` on the same key. Median of RUNS (default 10) each.
// * insertion: from `certkey-softkey insert` to the key shown in the window, over
//   INSERTIONS (default 20) insertions, p50 and p95; the peer is the same insertion
//   seen by running `certkey list --json` back to back until the key is listed.
// * idle: the app (one key) and the minimal window side by side, each on its own
//   Xvfb display, left alone IDLE_S seconds (default 300): CPU used over the last
//   four fifths of that time, then PSS and RSS of each whole process tree (the app
//   and its WebKit processes), from /proc.
// * keys: the app's tree memory (PSS and RSS) SETTLE_S seconds (default 60) after
//   its window showed one activated key, then five.
// * packages: the release .deb and .rpm (scripts/package) and the minimal window's
//   .deb built the same way: file size and the size installed.
//
// Writes the section "## Desktop app: start-up, hot-plug and idle cost" of
// BENCHMARKS.md (the path in argv[2]) and prints it.

import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { BIN, ROOT, Session, TARGET_DIR, World, run, sleep } from './harness.mjs';

const RUNS = Number(process.env.RUNS ?? 10);
const INSERTIONS = Number(process.env.INSERTIONS ?? 20);
const IDLE_S = Number(process.env.IDLE_S ?? 300);
const SETTLE_S = Number(process.env.SETTLE_S ?? 60);
const SERIAL = 'SK2026BENCH001';
// Four more keys for the memory with five keys; removed until then.
const MORE = ['SK2026BENCH002', 'SK2026BENCH003', 'SK2026BENCH004', 'SK2026BENCH005'];
const PIN = 'Bench#2026pin';
const MINIMAL = join(TARGET_DIR, 'release', 'certkey-bench-minimal-window');
const SECTION = '## Desktop app: start-up, hot-plug and idle cost';
const benchMd = process.argv[2] ?? join(ROOT, 'BENCHMARKS.md');

const now = () => Number(process.hrtime.bigint()) / 1e6;
const median = (v) => quantile(v, 0.5);
function quantile(values, q) {
  const s = [...values].sort((a, b) => a - b);
  const pos = (s.length - 1) * q;
  const lo = Math.floor(pos);
  const hi = Math.ceil(pos);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}
const ms = (v) => v.toFixed(0);

/** Whether `css` matches in the window now (a script: no element handle that a
 *  changing page could make stale). */
async function present(session, css) {
  return session.script('return document.querySelector(arguments[0]) !== null;', [css]);
}

/** Polls the window (every 10 ms) until `css` matches; returns the time it did. */
async function seen(session, css, timeoutMs = 30000) {
  const start = now();
  for (;;) {
    if (await present(session, css)) return now();
    if (now() - start > timeoutMs) throw new Error(`${css} not shown within ${timeoutMs} ms`);
    await sleep(10);
  }
}

async function gone(session, css) {
  for (let i = 0; i < 3000; i++) {
    if (!(await present(session, css))) return;
    await sleep(10);
  }
  throw new Error(`${css} still shown`);
}

/** Milliseconds from asking for a window of `application` to `css` in it. */
async function startUp(world, application, css) {
  const t0 = now();
  const session = await Session.create(world.driverUrl, application);
  const t1 = await seen(session, css);
  await session.close();
  // Let the processes go before the next start.
  await sleep(500);
  return t1 - t0;
}

function listRun(world) {
  const t0 = now();
  const out = world.certkey(['list', '--json']);
  const t = now() - t0;
  return { t, listed: JSON.parse(out).tokens.some((k) => k.serial === SERIAL) };
}

// ---- /proc: process trees, CPU and memory ----

function children() {
  const kids = new Map();
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(pid));
    } catch {
      // Gone meanwhile.
    }
  }
  return kids;
}

function tree(root) {
  const kids = children();
  const out = [];
  const todo = [root];
  while (todo.length) {
    const p = todo.pop();
    out.push(p);
    todo.push(...(kids.get(p) ?? []));
  }
  return out;
}

const TICK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** CPU seconds (user + system) each process of a tree has used so far, by pid. */
function cpuSeconds(pids) {
  const used = new Map();
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // utime and stime are fields 14 and 15 (1-based); f[0] is field 3.
      used.set(p, (Number(f[11]) + Number(f[12])) / TICK);
    } catch {
      // Gone meanwhile.
    }
  }
  return used;
}

/** CPU used between two samples by the processes present in both. */
function cpuBetween(before, after) {
  let s = 0;
  for (const [p, t] of after) if (before.has(p)) s += t - before.get(p);
  return s;
}

/** PSS and RSS in MiB summed over a tree, with the processes' names. */
function memory(pids) {
  let pss = 0;
  let rss = 0;
  const names = [];
  for (const p of pids) {
    try {
      const roll = readFileSync(`/proc/${p}/smaps_rollup`, 'utf8');
      pss += Number(/^Pss:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
      rss += Number(/^Rss:\s+(\d+)/m.exec(roll)?.[1] ?? 0);
      names.push(readFileSync(`/proc/${p}/comm`, 'utf8').trim());
    } catch {
      // Gone meanwhile, or a kernel thread.
    }
  }
  return { pss: pss / 1024, rss: rss / 1024, names };
}

async function idle(world) {
  // Each window on its own display, started directly (no WebDriver).
  const second = new World('bench-idle');
  await second.startDisplay();
  const app = world.spawn(BIN('certkey-app'), [], { DISPLAY: world.display }, 'idle-app');
  const minimal = world.spawn(MINIMAL, [], { DISPLAY: second.display }, 'idle-minimal');
  const warm = Math.round(IDLE_S / 5);
  await sleep(warm * 1000);
  const appCpu0 = cpuSeconds(tree(app.pid));
  const minCpu0 = cpuSeconds(tree(minimal.pid));
  const t0 = now();
  await sleep((IDLE_S - warm) * 1000);
  const appTree = tree(app.pid);
  const minTree = tree(minimal.pid);
  const appCpu1 = cpuSeconds(appTree);
  const minCpu1 = cpuSeconds(minTree);
  const window = (now() - t0) / 1000;
  const result = {
    warm,
    window: Math.round(window),
    app: { cpu: (100 * cpuBetween(appCpu0, appCpu1)) / window, ...memory(appTree) },
    minimal: { cpu: (100 * cpuBetween(minCpu0, minCpu1)) / window, ...memory(minTree) },
  };
  app.kill('SIGTERM');
  minimal.kill('SIGTERM');
  await second.stop();
  return result;
}

/** The pid of the running app's first process (the one whose parent is not the app:
 *  tauri-driver's WebKitWebDriver starts it). */
function appRoot() {
  const comm = (p) => readFileSync(`/proc/${p}/comm`, 'utf8').trim();
  const ppid = (p) => {
    const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  };
  const roots = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (comm(pid) === 'certkey-app' && comm(ppid(pid)) !== 'certkey-app') roots.push(Number(pid));
    } catch {
      // Gone meanwhile.
    }
  }
  if (roots.length !== 1) throw new Error(`expected one running certkey-app, found ${roots.length}`);
  return roots[0];
}

/** The app's tree memory SETTLE_S seconds after its window showed every key of
 *  `serials` with its certificate read. */
async function memoryWithKeys(world, serials) {
  const session = await Session.create(world.driverUrl, BIN('certkey-app'));
  try {
    for (const s of serials) await seen(session, `[data-testid="key-${s}"] [data-testid="validity"]`);
    const cards = await session.script('return document.querySelectorAll(\'[data-testid^="key-"] [data-testid="validity"]\').length;');
    if (cards !== serials.length) throw new Error(`${cards} key cards shown, expected ${serials.length}`);
    await sleep(SETTLE_S * 1000);
    return memory(tree(appRoot()));
  } finally {
    await session.close();
    await sleep(500);
  }
}

/** A package's file size and installed size, in MiB. */
function packageSize(path, kind) {
  const file = statSync(path).size / 1048576;
  const installed =
    kind === 'deb'
      ? Number(execFileSync('dpkg-deb', ['-f', path, 'Installed-Size'], { encoding: 'utf8' }).trim()) / 1024
      : Number(execFileSync('rpm', ['-qp', '--queryformat', '%{SIZE}', path], { encoding: 'utf8' }).trim()) / 1048576;
  return { file, installed };
}

// ---- the run ----

const world = new World('bench');
try {
  await world.startCa();
  world.slots([SERIAL, ...MORE].map((serial) => ({ serial, profile: 'tass' })));
  for (const serial of [SERIAL, ...MORE]) {
    const code = world.produce();
    world.certkey(['activate', '--yes', '--token', serial], { CERTKEY_ACTIVATION_CODE: code, CERTKEY_NEW_PIN: PIN });
  }
  for (const serial of MORE) world.softkey('remove', '--serial', serial);
  await world.startDisplayAndDriver();
  // The key card with its certificate read (holder, validity).
  const keyCss = `[data-testid="key-${SERIAL}"] [data-testid="validity"]`;

  // One start each first (caches warm), then alternating runs.
  await startUp(world, BIN('certkey-app'), keyCss);
  await startUp(world, MINIMAL, '#ready');
  listRun(world);
  const appStart = [];
  const minStart = [];
  const listStart = [];
  for (let i = 0; i < RUNS; i++) {
    appStart.push(await startUp(world, BIN('certkey-app'), keyCss));
    minStart.push(await startUp(world, MINIMAL, '#ready'));
    const l = listRun(world);
    if (!l.listed) throw new Error('certkey list does not list the key');
    listStart.push(l.t);
  }
  console.error(`start-up: app ${ms(median(appStart))} ms, minimal ${ms(median(minStart))} ms, list ${ms(median(listStart))} ms`);

  // Insertions, in the window and by polling the CLI.
  const session = await Session.create(world.driverUrl, BIN('certkey-app'));
  await seen(session, keyCss);
  const shown = [];
  for (let i = 0; i < INSERTIONS; i++) {
    world.softkey('remove', '--serial', SERIAL);
    await gone(session, `[data-testid="key-${SERIAL}"]`);
    // Out of step with the poll: insertions land anywhere in its interval.
    await sleep(300 + Math.random() * 250);
    world.softkey('insert', '--serial', SERIAL);
    const t0 = now();
    shown.push((await seen(session, `[data-testid="key-${SERIAL}"]`)) - t0);
  }
  await session.close();
  const listed = [];
  for (let i = 0; i < INSERTIONS; i++) {
    world.softkey('remove', '--serial', SERIAL);
    await sleep(100 + Math.random() * 250);
    world.softkey('insert', '--serial', SERIAL);
    const t0 = now();
    while (!listRun(world).listed) {
      if (now() - t0 > 30000) throw new Error('certkey list never lists the key');
    }
    listed.push(now() - t0);
  }
  console.error(`insertion: window p50 ${ms(median(shown))} ms, CLI p50 ${ms(median(listed))} ms`);

  console.error(`idle: ${IDLE_S} s …`);
  const idleResult = await idle(world);

  console.error(`keys: one, then five, ${SETTLE_S} s each …`);
  const oneKey = await memoryWithKeys(world, [SERIAL]);
  for (const serial of MORE) world.softkey('insert', '--serial', serial);
  const fiveKeys = await memoryWithKeys(world, [SERIAL, ...MORE]);
  console.error(`keys: PSS ${oneKey.pss.toFixed(1)} MiB with one, ${fiveKeys.pss.toFixed(1)} MiB with five`);

  const deb = packageSize(process.env.CERTKEY_DEB, 'deb');
  const rpm = packageSize(process.env.CERTKEY_RPM, 'rpm');
  const minimalDeb = packageSize(process.env.MINIMAL_DEB, 'deb');

  const cpu = readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? 'unknown CPU';
  const osName = readFileSync('/etc/os-release', 'utf8').match(/^PRETTY_NAME="?([^"\n]*)/m)?.[1] ?? 'Linux';
  const commit = run('git', ['-C', ROOT, 'rev-parse', '--short', 'HEAD']).trim();
  const dirty = run('git', ['-C', ROOT, 'status', '--porcelain', '--untracked-files=no']).trim() ? '-dirty' : '';
  const webkit = spawnSync('dpkg-query', ['-W', '-f', '${Version}', 'libwebkit2gtk-4.1-0'], { encoding: 'utf8' }).stdout || 'unknown';
  const nproc = execFileSync('nproc', { encoding: 'utf8' }).trim();
  const appVersion = /^version = "([^"]+)"/m.exec(readFileSync(join(ROOT, 'Cargo.toml'), 'utf8'))?.[1] ?? 'unknown';
  const driverVersion = process.env.TAURI_DRIVER_VERSION ?? 'unknown';
  const when = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC';
  const i = idleResult;
  const section = `${SECTION}

The release app against its peers, in one run: the smallest Tauri 2 window
(\`bench/minimal-window\`: a static page, no commands, built like the app) and the
\`certkey\` CLI. The app reads one softkey key holding an activated SM2 certificate
from a real certkey-ca; everything runs on loopback under Xvfb.

- Reproduce: \`scripts/bench-app\` (RUNS=${RUNS}, INSERTIONS=${INSERTIONS}, IDLE_S=${IDLE_S}, SETTLE_S=${SETTLE_S})
- Date: ${when}
- Machine: ${nproc} CPUs, ${cpu}; ${osName}
- Versions: certkey-app ${appVersion} (commit ${commit}${dirty}, release build); WebKitGTK ${webkit}; tauri-driver ${driverVersion}
- Start-up: from the WebDriver request for a new window (tauri-driver starts the
  program) to the first key card in the DOM (app) or the page's text (minimal
  window), polled every 10 ms; \`certkey list --json\`: process start to exit. Caches
  warm (one start of each first), runs alternating.
- Insertion: from \`certkey-softkey insert\` having returned to the key card in the DOM
  (polled every 10 ms over WebDriver); the CLI peer runs \`certkey list --json\`
  back to back until the key is listed. Each insertion comes 300–550 ms after the
  window showed the key gone, out of step with the app's 250 ms poll.
- Idle: both windows left alone ${IDLE_S} s on their own displays; CPU is the CPU
  time of the whole process tree (the processes alive at both ends) over the last
  ${i.window} s divided by that time; PSS and RSS are summed over the tree from
  \`/proc/*/smaps_rollup\` at the end.
- Keys: the app started through WebDriver, ${SETTLE_S} s after its window showed every
  key's certificate; PSS and RSS summed over its tree (the app, its module watch,
  WebKit's processes) as above. Each key is an activated softkey key (SM2).
- Packages: \`scripts/package\` (release, binaries stripped of debug info) and the
  minimal window bundled the same way; installed size from the package's own header.

| start-up, median of ${RUNS} | ms |
|---|---:|
| certkey-app, window to first key shown | ${ms(median(appStart))} |
| minimal Tauri 2 window, window to text shown | ${ms(median(minStart))} |
| \`certkey list --json\`, start to exit | ${ms(median(listStart))} |

| insertion to shown, ${INSERTIONS} insertions | p50 ms | p95 ms |
|---|---:|---:|
| certkey-app window | ${ms(median(shown))} | ${ms(quantile(shown, 0.95))} |
| \`certkey list --json\` polled back to back | ${ms(median(listed))} | ${ms(quantile(listed, 0.95))} |

| idle, one key, after ${IDLE_S} s | CPU % (one core = 100) | PSS MiB | RSS MiB | processes |
|---|---:|---:|---:|---|
| certkey-app | ${i.app.cpu.toFixed(2)} | ${i.app.pss.toFixed(1)} | ${i.app.rss.toFixed(1)} | ${i.app.names.join(', ')} |
| minimal Tauri 2 window | ${i.minimal.cpu.toFixed(2)} | ${i.minimal.pss.toFixed(1)} | ${i.minimal.rss.toFixed(1)} | ${i.minimal.names.join(', ')} |

| memory of the app's tree, ${SETTLE_S} s after the keys are shown | PSS MiB | RSS MiB | processes |
|---|---:|---:|---|
| one key | ${oneKey.pss.toFixed(1)} | ${oneKey.rss.toFixed(1)} | ${oneKey.names.join(', ')} |
| five keys | ${fiveKeys.pss.toFixed(1)} | ${fiveKeys.rss.toFixed(1)} | ${fiveKeys.names.join(', ')} |

| release package | file MiB | installed MiB |
|---|---:|---:|
| \`${basename(process.env.CERTKEY_DEB)}\` (app, \`certkey\`, \`certkey-softkey\`, softkey module) | ${deb.file.toFixed(1)} | ${deb.installed.toFixed(1)} |
| \`${basename(process.env.CERTKEY_RPM)}\` (the same) | ${rpm.file.toFixed(1)} | ${rpm.installed.toFixed(1)} |
| \`${basename(process.env.MINIMAL_DEB)}\` (the minimal window) | ${minimalDeb.file.toFixed(1)} | ${minimalDeb.installed.toFixed(1)} |

RSS counts shared pages (WebKit's libraries) in every process; PSS shares them out, so
the PSS sum is the tree's real footprint. Targets: the window shows an inserted key
within one second (${quantile(shown, 0.95) < 1000 ? '**holds**' : '**does not hold**'}: p95 ${ms(quantile(shown, 0.95))} ms). Idle, the app's
module watch (a helper process per module: certkey-app run again through /proc/self/exe, listed as `exe`) polls its module every
250 ms, re-reads nothing and says it is alive every second: ${i.app.cpu.toFixed(2)} % of one core against the
empty window's ${i.minimal.cpu.toFixed(2)} %, and ${(i.app.pss - i.minimal.pss).toFixed(1)} MiB of PSS more than it
(${(i.app.pss / i.minimal.pss).toFixed(2)}x; the aim is 1.25x, ${i.app.pss / i.minimal.pss <= 1.25 ? '**holds**' : '**does not hold**'}).
Each key beyond the first adds ${((fiveKeys.pss - oneKey.pss) / MORE.length).toFixed(1)} MiB of PSS on average (one module
watch serves every key of a module).
`;
  console.log(section);
  const text = readFileSync(benchMd, 'utf8');
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l === SECTION);
  let out;
  if (start < 0) {
    out = `${text.trimEnd()}\n\n${section}`;
  } else {
    let end = lines.findIndex((l, j) => j > start && l.startsWith('## '));
    if (end < 0) end = lines.length;
    const rest = lines.slice(end).join('\n');
    const head = lines.slice(0, start).join('\n');
    out = `${head ? `${head}\n` : ''}${section}${rest ? `\n${rest}` : ''}`;
  }
  writeFileSync(benchMd, out.endsWith('\n') ? out : `${out}\n`);
  console.error(`bench-app: wrote "${SECTION}" in ${benchMd}`);
} finally {
  await world.stop();
}

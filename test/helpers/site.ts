/**
 * A real `jump-site serve` process on 127.0.0.1, an admin console login, and helpers to create
 * installers and run agents (as processes, or in-process with the real Agent class).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { Agent, type AgentOptions } from '../../agent/agent.js';
import type { KeyObject } from 'node:crypto';
import type { AgentIdentity } from '../../agent/config.js';
import { SiteClient, probeCertificate } from '../../console/http.js';
import type { ApiInstallerCreated, ApiJumpClient, ApiJumpClientDetail, ApiSummary } from '../../protocol/api.js';
import { newEd25519Key, parseSitePin, sitePin } from '../../protocol/handshake.js';
import type { Stats } from '../../protocol/messages.js';
import { AGENT_BIN, CONSOLE_BIN, SITE_BIN, run, start, tempDir, waitFor, type Proc } from './processes.js';

export interface TestSite {
  url: string;
  port: number;
  pin: string;
  fingerprint: string;
  dataDir: string;
  proc: Proc;
  /** The admin's password: the bootstrap one, already changed by startTestSite (it must be changed at first login). */
  adminPassword: string;
  /** Console config dir of the logged-in admin. */
  consoleDir: string;
  api: SiteClient;
  certPem: string;
}

export interface SiteStartOptions {
  dataDir?: string;
  port?: number;
  heartbeat?: string;
  statsInterval?: string;
  extraArgs?: string[];
  /** Runs the site under `prlimit --nofile=N:N` (a lower open-file limit than the test runner's). */
  fileLimit?: number;
  /** Environment variables for the site process, over the test runner's (e.g. its TMPDIR). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Starts `jump-site serve` and waits for its banner. `password` is the bootstrap admin password,
 * read from the file the banner names (first start only; it must be changed before use, see
 * changeBootstrapPassword), `passwordFile` that file.
 */
export async function startSiteProcess(opts: SiteStartOptions = {}): Promise<{
  proc: Proc;
  url: string;
  port: number;
  pin: string;
  fingerprint: string;
  password: string | null;
  passwordFile: string | null;
  dataDir: string;
}> {
  const dataDir = opts.dataDir ?? join(tempDir(), 'data');
  const args = [
    SITE_BIN,
    'serve',
    '--data',
    dataDir,
    '--listen',
    `127.0.0.1:${opts.port ?? 0}`,
    '--heartbeat',
    // 3 s: quick enough for tests, slow enough that a loaded 2-core CI machine does not flap
    // connections (tests of liveness itself pass their own interval).
    opts.heartbeat ?? '3s',
    '--stats-interval',
    opts.statsInterval ?? '60s',
    '--log-level',
    'warn',
    ...(opts.extraArgs ?? []),
  ];
  const proc = opts.fileLimit
    ? start('prlimit', [`--nofile=${opts.fileLimit}:${opts.fileLimit}`, '--', process.execPath, ...args], { env: opts.env })
    : start(process.execPath, args, { env: opts.env });
  const banner = await waitFor(
    () => {
      if (proc.child.exitCode !== null) throw new Error(`site exited: ${proc.stderr()}`);
      return /Jump site listening on (\S+)/.exec(proc.stderr()) && /TLS fingerprint:\s+(\S+)/.exec(proc.stderr()) ? proc.stderr() : null;
    },
    20_000,
    50,
    'site banner',
  );
  const url = /Jump site listening on (\S+)/.exec(banner)![1];
  const passwordFile = /password in (\S+)/.exec(banner)?.[1] ?? null;
  return {
    proc,
    url,
    port: Number(new URL(url).port),
    pin: /Site pin:\s+(\S+)/.exec(banner)![1],
    fingerprint: /TLS fingerprint:\s+(\S+)/.exec(banner)![1],
    password: passwordFile && existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : null,
    passwordFile,
    dataDir,
  };
}

/** Runs the `jump` console with a config dir. */
export function jump(consoleDir: string, args: string[], input?: string) {
  return run(process.execPath, [CONSOLE_BIN, ...args], { env: { JUMP_CONFIG_DIR: consoleDir }, input });
}

/** Logs a console config dir in as `user`. */
export async function login(site: { url: string }, consoleDir: string, user: string, password: string): Promise<void> {
  const r = await jump(consoleDir, ['login', '--site', site.url, '--user', user, '--password-stdin'], password);
  if (r.code !== 0) throw new Error(`login failed: ${r.stderr}`);
}

/** The password startTestSite gives the bootstrap admin. */
export const TEST_ADMIN_PASSWORD = 'test admin password';

/**
 * Logs in as the bootstrap admin and changes its password to `next` (the site refuses everything
 * else until then, PASSWORD_CHANGE_REQUIRED).
 */
export async function changeBootstrapPassword(url: string, certPem: string, bootstrap: string, next = TEST_ADMIN_PASSWORD): Promise<void> {
  const token = await apiToken(url, certPem, 'admin', bootstrap);
  await new SiteClient(url, { certPem, token }).request('POST', '/api/v1/me/password', { current_password: bootstrap, new_password: next });
}

/** A started site with an admin console logged in and an API client holding the admin token. */
export async function startTestSite(opts: SiteStartOptions = {}): Promise<TestSite> {
  const s = await startSiteProcess(opts);
  const probe = await probeCertificate(s.url);
  await changeBootstrapPassword(s.url, probe.certPem, s.password!);
  const consoleDir = tempDir('jump-console-');
  await login(s, consoleDir, 'admin', TEST_ADMIN_PASSWORD);
  const token = await apiToken(s.url, probe.certPem, 'admin', TEST_ADMIN_PASSWORD);
  return {
    ...s,
    adminPassword: TEST_ADMIN_PASSWORD,
    consoleDir,
    certPem: probe.certPem,
    api: new SiteClient(s.url, { certPem: probe.certPem, token }),
  };
}

/** Logs in through the API and returns a token. */
export async function apiToken(url: string, certPem: string, user: string, password: string): Promise<string> {
  const c = new SiteClient(url, { certPem });
  const r = await c.request<{ token: string }>('POST', '/api/v1/login', { user, password });
  return r.token;
}

/** The create response of `POST /api/v1/installers`: the installer plus KEY_INFO and the site's address. */
export type InstallerInfo = ApiInstallerCreated;

/** Creates an installer through the API. */
export async function createInstaller(api: SiteClient, body: Record<string, unknown> = {}): Promise<InstallerInfo> {
  return api.request<InstallerInfo>('POST', '/api/v1/installers', body);
}

/** Runs `jump-client run` as a process with a fresh (or given) config dir. */
export function startAgentProcess(
  inst: { site_url: string; site_pin: string; key_info: string },
  opts: { configDir?: string; machineId?: string; extraArgs?: string[] } = {},
): { proc: Proc; configDir: string } {
  const configDir = opts.configDir ?? join(tempDir('jump-agent-'), 'cfg');
  const proc = start(process.execPath, [
    AGENT_BIN,
    'run',
    '--config',
    configDir,
    '--site',
    inst.site_url,
    '--site-pin',
    inst.site_pin,
    '--key-info',
    inst.key_info,
    '--machine-id',
    opts.machineId ?? `machine-${Math.random().toString(36).slice(2)}`,
    '--backoff-base',
    '200',
    '--backoff-cap',
    '1000',
    ...(opts.extraArgs ?? []),
  ]);
  return { proc, configDir };
}

/** Fixed statistics for in-process agents; `over` replaces fields. */
export function fixtureStats(over: Partial<Stats> = {}): Stats {
  return {
    hostname: 'host-fixture',
    fqdn: 'host-fixture.example.test',
    os_name: 'Debian GNU/Linux',
    os_version: '12',
    platform: 'linux',
    arch: 'x64',
    private_ips: ['10.1.2.3'],
    console_user: null,
    domain: 'example.test',
    workgroup: null,
    cpu_model: 'Test CPU',
    cpu_cores: 2,
    cpu_load_pct: 5,
    mem_total_bytes: 1 << 30,
    mem_used_bytes: 1 << 29,
    disk_total_bytes: 1 << 30,
    disk_used_bytes: 1 << 28,
    boot_time: 1_700_000_000_000,
    agent_version: '0.1.0',
    ...over,
  };
}

/** Logger for in-process agents: silent unless JUMP_TEST_LOG is set. */
export function testLogger(): Logger {
  return pino({ level: process.env.JUMP_TEST_LOG ? 'debug' : 'silent' });
}

/**
 * An in-process agent using the real Agent class (the fleet simulator's way), for tests that need
 * chosen statistics or source addresses. Enrolls on start.
 */
export function inProcessAgent(
  inst: { site_url: string; site_pin: string; key_info: string },
  opts: {
    stats?: () => Promise<Stats>;
    machineId?: string;
    localAddress?: string;
    requested?: AgentIdentity['requested'];
    log?: Logger;
    agentVersion?: string;
    /** The identity key (default: a new one). */
    privateKey?: KeyObject;
    /** Dial this instead of the installer's site URL (a fault proxy in front of the site); the pin stays the site's. */
    siteUrl?: string;
    backoff?: AgentOptions['backoff'];
    /** Jump options of the agent (e.g. `isDisabled`: the local user's switch). */
    jump?: AgentOptions['jump'];
  } = {},
): Agent {
  const privateKey = opts.privateKey ?? newEd25519Key();
  const identity: AgentIdentity = {
    siteUrl: opts.siteUrl ?? inst.site_url,
    sitePin: inst.site_pin,
    sitePublicKey: parseSitePin(inst.site_pin),
    privateKey,
    clientId: null,
    keyInfo: inst.key_info,
    requested: opts.requested ?? {},
    machineId: opts.machineId ?? `machine-${Math.random().toString(36).slice(2)}`,
  };
  const agentOpts: AgentOptions = {
    identity,
    stats: opts.stats ?? (async () => fixtureStats()),
    log: opts.log ?? testLogger(),
    backoff: opts.backoff ?? { baseMs: 100, capMs: 500 },
    localAddress: opts.localAddress,
    onEnrolled: () => undefined,
    agentVersion: opts.agentVersion,
    jump: opts.jump,
  };
  const agent = new Agent(agentOpts);
  void agent.start();
  return agent;
}

/** A site pin for a key no site has. */
export function foreignPin(): string {
  return sitePin(newEd25519Key());
}

/** A jump client as the API lists it (protocol/api.ts), with its statistics where the route gives them. */
export type ClientJson = ApiJumpClient & { stats?: ApiJumpClientDetail['stats'] };

export async function listClients(api: SiteClient, query = ''): Promise<{ items: ClientJson[]; summary: ApiSummary }> {
  return api.request('GET', `/api/v1/jump-clients${query ? '?' + query : ''}`);
}

export async function clientStatus(api: SiteClient, id: number): Promise<string | null> {
  const r = await listClients(api);
  return r.items.find((c) => c.id === id)?.status ?? null;
}

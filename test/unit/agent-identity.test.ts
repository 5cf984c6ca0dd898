/**
 * The identity key belongs to one machine (issue #16, item 5; agent/config.ts identityFromConfig),
 * on every platform: made at the first start, never by an installer; the machine id it was made on
 * recorded beside it; a config copied to another machine (a cloned disk) re-keys while it can still
 * enroll, and once enrolled is marked as a clone (the agent reports it to the site and stops:
 * test/integration/clone-report.test.ts). Real config dirs, real Conf files.
 */
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { AgentConfig, identityFromConfig } from '../../agent/config.js';
import { newEd25519Key, sitePin } from '../../protocol/handshake.js';

const root = mkdtempSync(join(tmpdir(), 'jump-identity-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

/** A config as an installer writes it (no identity key): site, pin, KEY_INFO. */
function template(): string {
  const dir = join(root, `cfg-${n++}`);
  new AgentConfig(dir).update({ site_url: 'https://jump.example.test', site_pin: sitePin(newEd25519Key()), key_info: 'k'.repeat(47) });
  return dir;
}

function copy(dir: string): string {
  const to = join(root, `copy-${n++}`);
  cpSync(dir, to, { recursive: true });
  return to;
}

const keyOf = (dir: string) => readFileSync(join(dir, 'agent.key'), 'utf8');

describe('the identity key and the machine it was made on', () => {
  it('the first start makes the key and records the machine id beside it; the next start on that machine keeps both', () => {
    const dir = template();
    expect(existsSync(join(dir, 'agent.key'))).toBe(false);
    identityFromConfig(new AgentConfig(dir), 'machine-a');
    expect(new AgentConfig(dir).data.key_machine_id).toBe('machine-a');
    const key = keyOf(dir);
    identityFromConfig(new AgentConfig(dir), 'machine-a');
    expect(keyOf(dir)).toBe(key);
  });

  it('a template copied to two machines before its first start ends as two identities', () => {
    const t = template();
    const [a, b] = [copy(t), copy(t)];
    const ia = identityFromConfig(new AgentConfig(a), 'machine-a');
    const ib = identityFromConfig(new AgentConfig(b), 'machine-b');
    expect(keyOf(a)).not.toBe(keyOf(b));
    expect(ia.privateKey.export({ format: 'pem', type: 'pkcs8' })).not.toEqual(ib.privateKey.export({ format: 'pem', type: 'pkcs8' }));
  });

  it('attack: an enrolled config cloned to another machine comes back marked as a clone (it only reports itself and stops), nothing on disk changed, the original untouched', () => {
    const dir = template();
    identityFromConfig(new AgentConfig(dir), 'machine-a');
    new AgentConfig(dir).update({ client_id: 7, key_info: undefined }); // what the agent saves once enrolled
    const clone = copy(dir);
    const id = identityFromConfig(new AgentConfig(clone), 'machine-b');
    expect(id.clone).toEqual({ keyMachineId: 'machine-a', machineId: 'machine-b' });
    expect(id.clientId).toBe(7);
    expect(keyOf(clone)).toBe(keyOf(dir));
    expect(new AgentConfig(clone).data.key_machine_id).toBe('machine-a'); // still a clone at the next start
    // The original on its own machine goes on as before.
    const orig = identityFromConfig(new AgentConfig(dir), 'machine-a');
    expect(orig.clientId).toBe(7);
    expect(orig.clone).toBeNull();
  });

  it('a clone that can still enroll (its KEY_INFO kept) re-keys and drops the client id, so it enrolls as a jump client of its own', () => {
    const dir = template();
    identityFromConfig(new AgentConfig(dir), 'machine-a'); // started once, not enrolled yet
    const clone = copy(dir);
    const id = identityFromConfig(new AgentConfig(clone), 'machine-b');
    expect(keyOf(clone)).not.toBe(keyOf(dir));
    expect(id.clientId).toBeNull();
    expect(id.keyInfo).toBe('k'.repeat(47));
    expect(new AgentConfig(clone).data.key_machine_id).toBe('machine-b');

    const enrolled = template();
    identityFromConfig(new AgentConfig(enrolled), 'machine-a');
    new AgentConfig(enrolled).update({ client_id: 9 }); // KEY_INFO still there
    const c2 = copy(enrolled);
    expect(identityFromConfig(new AgentConfig(c2), 'machine-c').clientId).toBeNull();
    expect(keyOf(c2)).not.toBe(keyOf(enrolled));
  });

  it('the machine_id override (tests, the fleet simulator) is what the site is told, and never makes a clone', () => {
    const dir = template();
    identityFromConfig(new AgentConfig(dir), 'machine-a');
    new AgentConfig(dir).update({ client_id: 3, key_info: undefined, machine_id: 'simulated-1' });
    const key = keyOf(dir);
    const id = identityFromConfig(new AgentConfig(dir), 'machine-a');
    expect(id.machineId).toBe('simulated-1');
    expect(keyOf(dir)).toBe(key);
  });

  it('a key made before this rule (no machine id recorded) is adopted by the machine it is on', () => {
    const dir = template();
    new AgentConfig(dir).privateKey();
    const key = keyOf(dir);
    identityFromConfig(new AgentConfig(dir), 'machine-z');
    expect(keyOf(dir)).toBe(key);
    expect(new AgentConfig(dir).data.key_machine_id).toBe('machine-z');
  });
});

/**
 * Self-update of jump clients (issue #17): the contract between the site (site/updates.ts, which
 * serves and signs builds) and the agent (agent/update.ts, which downloads, verifies, swaps and
 * rolls back). docs/updates.md has the flow; the messages are in protocol/messages.ts.
 *
 * Versions. A jump-client build is `<package.json version>+<build id>` (semver build metadata, e.g.
 * `0.1.0+3f9a0c1d2e4b`): the build id is the first 12 hex digits of build.json's `hash`, the sha256
 * of everything the build is made of (the bundle with a placeholder where the id goes, since a file
 * cannot hold its own hash; the Node version, the platform, the version and the native modules;
 * packaging/build.mjs), so two builds of one version are told apart. An unpackaged agent (node dist/agent/main.js, the tests'
 * in-process agents) reports `<version>+dev` and no platform, and is never offered an update.
 *
 * Signatures. The site signs each imported build with its update-signing Ed25519 key (a key of its
 * own, not the site identity: `<data>/update-signing.key`, mode 0600) over
 *   UPDATE_CONTEXT || 0x00 || "<platform>\n<version>\n<sha256 hex>\n<size>"
 * (domain-separated like the ticket, protocol/ticket.ts). Its public key, `ed25519:<base64url>` as
 * the site pin, is stamped into installers (`update_pin`) and sent in the welcome; the agent pins
 * the first one it gets (stamp, else the first authenticated welcome) and never replaces it.
 *
 * Download. The offer carries a one-use token; the agent opens a WebSocket to
 * AGENT_UPDATE_WS_PATH with UPDATE_ATTACH_HEADERS (token, and the byte offset to resume from) over
 * the same pinned TLS origin; the site sends the build as binary frames of at most
 * UPDATE_CHUNK_BYTES from that offset, then closes with 1000. The bytes are trusted only after
 * size, sha256 and signature all check.
 */
import { createHash, sign, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { parseSitePin } from './handshake.js';

/** The platforms `npm run package` builds and the site serves (packaging/build.mjs). */
export const CLIENT_PLATFORMS = ['linux-x64', 'linux-arm64', 'win-x64'] as const;
export type ClientPlatform = (typeof CLIENT_PLATFORMS)[number];

/** Domain-separation context of build signatures. Change it (v2...) with the signed text. */
export const UPDATE_CONTEXT = 'jump-client-build-v1';

/** Path of the WebSocket an agent downloads an offered build on. */
export const AGENT_UPDATE_WS_PATH = '/agent/v1/update';
/** Headers of the download socket: the offer's token, and the byte offset to resume from (decimal). */
export const UPDATE_ATTACH_HEADERS = { token: 'x-jump-update-token', offset: 'x-jump-update-offset' } as const;
/** Largest binary frame the site sends on the download socket, in bytes. */
export const UPDATE_CHUNK_BYTES = 256 * 1024;
/** Largest build the site imports and an agent accepts, in bytes (the EXE is about 80 MiB). */
export const MAX_BUILD_BYTES = 512 * 1024 * 1024;

/** `<semver>+<build id>`, e.g. `0.1.0+3f9a0c1d2e4b` or `0.2.0-rc.1+dev`; at most 32 characters (hello.agent_version). */
export const clientVersionField = z
  .string()
  .max(32)
  .regex(/^\d{1,4}\.\d{1,4}\.\d{1,4}(-[0-9A-Za-z.-]{1,12})?\+[0-9a-z]{3,12}$/, 'must be <major>.<minor>.<patch>[-pre]+<build id>');

/** A lowercase hex sha256. */
export const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex digits');

/** What a build signature covers. */
export interface BuildIdentity {
  platform: ClientPlatform;
  /** `<semver>+<build id>` (clientVersionField). */
  version: string;
  /** sha256 of the executable's bytes, lowercase hex. */
  sha256: string;
  /** The executable's size in bytes. */
  size: number;
}

function signedBytes(b: BuildIdentity): Buffer {
  const text = `${b.platform}\n${b.version}\n${b.sha256}\n${b.size}`;
  return Buffer.concat([Buffer.from(UPDATE_CONTEXT, 'utf8'), Buffer.from([0]), Buffer.from(text, 'utf8')]);
}

/** Signs a build with the site's update-signing key. Returns the signature, base64url (86 characters). */
export function signBuild(updateKey: KeyObject, b: BuildIdentity): string {
  return sign(null, signedBytes(b), updateKey).toString('base64url');
}

/**
 * True when `sig` (base64url) is the signature of `b` by the key pinned as `pin`
 * (`ed25519:<base64url>`). False for a bad pin, a bad signature or any other build; never throws.
 */
export function verifyBuild(pin: string, b: BuildIdentity, sig: string): boolean {
  try {
    return verify(null, signedBytes(b), parseSitePin(pin), Buffer.from(sig, 'base64url'));
  } catch {
    return false;
  }
}

/** sha256 of `data`, lowercase hex. */
export function sha256Of(data: Buffer | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

// Optional recoverable user secrets, sealed with AES-256-GCM (NIST SP 800-38D) under a
// key that lives in a file outside the database (a Kubernetes Secret). Layout:
//   version (1) || iv (12) || tag (16) || ciphertext
// The realm and username are authenticated as associated data, so a sealed secret
// copied onto another user's row does not open.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { StoreError } from './errors.ts';

const VERSION = 1;

/** Accepts 32 raw bytes, 64 hex characters or base64 of 32 bytes (whitespace trimmed). */
export function readSecretKey(file: string): Buffer {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (e) {
    throw new StoreError('invalid', `cannot read secret key file ${file}: ${(e as Error).message}`);
  }
  if (raw.length === 32) return raw;
  const text = raw.toString('utf8').trim();
  if (/^[0-9a-fA-F]{64}$/.test(text)) return Buffer.from(text, 'hex');
  const b64 = Buffer.from(text, 'base64');
  if (b64.length === 32 && /^[A-Za-z0-9+/=_-]+$/.test(text)) return b64;
  throw new StoreError('invalid', `secret key file ${file} must hold 32 bytes (raw, hex or base64)`);
}

function aad(realm: string, username: string): Buffer {
  return Buffer.from(`${realm}\0${username}`, 'utf8');
}

export function sealSecret(key: Buffer, realm: string, username: string, secret: string): Buffer {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(aad(realm, username));
  const body = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return Buffer.concat([Buffer.from([VERSION]), iv, cipher.getAuthTag(), body]);
}

export function openSecret(key: Buffer, realm: string, username: string, sealed: Uint8Array): string {
  const buf = Buffer.from(sealed);
  if (buf.length < 29 || buf[0] !== VERSION) throw new StoreError('invalid', 'sealed secret has an unknown format');
  const decipher = createDecipheriv('aes-256-gcm', key, buf.subarray(1, 13));
  decipher.setAAD(aad(realm, username));
  decipher.setAuthTag(buf.subarray(13, 29));
  try {
    return Buffer.concat([decipher.update(buf.subarray(29)), decipher.final()]).toString('utf8');
  } catch {
    throw new StoreError('invalid', 'sealed secret does not open with this key (wrong key or moved row)');
  }
}

/** The key new secrets are sealed with, and older ones still accepted for reading (rotation). */
export interface SecretKeys {
  current: Buffer;
  previous: readonly Buffer[];
}

/** Opens with the current key, else a previous one; `rotated` is true when a previous key opened it. */
export function openSecretWithAny(keys: SecretKeys, realm: string, username: string, sealed: Uint8Array): { secret: string; rotated: boolean } {
  try {
    return { secret: openSecret(keys.current, realm, username, sealed), rotated: false };
  } catch (e) {
    for (const key of keys.previous) {
      try {
        return { secret: openSecret(key, realm, username, sealed), rotated: true };
      } catch {
        // try the next one
      }
    }
    throw e;
  }
}

import { createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const CHECKPOINT_PRIVATE_KEY_FILE = 'audit-checkpoint.key'
export const CHECKPOINT_PUBLIC_KEY_FILE = 'audit-checkpoint.pub'
export const HMAC_KEY_FILE = 'audit-hmac.key'

/** The Ed25519 key pair that signs checkpoints. */
export interface CheckpointKeys {
  privateKey: KeyObject | null
  publicKey: KeyObject
  /** The public key as base64 SPKI DER, the form stored in checkpoints and the genesis record. */
  publicKeyText: string
}

/** Returns the public key as base64 SPKI DER. */
export function publicKeyText(key: KeyObject): string {
  return key.export({ type: 'spki', format: 'der' }).toString('base64')
}

/** Parses a base64 SPKI DER public key, throwing an error that names the source on bad input. */
export function parsePublicKey(text: string, source: string): KeyObject {
  try {
    const key = createPublicKey({ key: Buffer.from(text, 'base64'), format: 'der', type: 'spki' })
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`key type is ${key.asymmetricKeyType}`)
    return key
  } catch (error) {
    throw new Error(`invalid Ed25519 public key in ${source}: ${(error as Error).message}; expected base64 SPKI DER`, {
      cause: error,
    })
  }
}

/**
 * Loads the checkpoint key pair from keyDir, creating it on first use: the
 * private key as PKCS#8 PEM with mode 0600, the public key as SPKI PEM.
 */
export function loadOrCreateCheckpointKeys(keyDir: string): CheckpointKeys {
  mkdirSync(keyDir, { recursive: true, mode: 0o700 })
  const privatePath = join(keyDir, CHECKPOINT_PRIVATE_KEY_FILE)
  const publicPath = join(keyDir, CHECKPOINT_PUBLIC_KEY_FILE)
  if (!existsSync(privatePath)) {
    const pair = generateKeyPairSync('ed25519')
    const privatePem = pair.privateKey.export({ type: 'pkcs8', format: 'pem' })
    // The flag wx fails when another process created the file first, so a
    // concurrent first start never replaces a key that already signed.
    writeFileSync(privatePath, privatePem, { mode: 0o600, flag: 'wx' })
    writeFileSync(publicPath, pair.publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 })
  }
  chmodSync(privatePath, 0o600)
  const privateKey = createPrivateKey(readFileSync(privatePath))
  const publicKey = createPublicKey(privateKey)
  if (!existsSync(publicPath)) {
    writeFileSync(publicPath, publicKey.export({ type: 'spki', format: 'pem' }), { mode: 0o644 })
  }
  return { privateKey, publicKey, publicKeyText: publicKeyText(publicKey) }
}

/**
 * Loads the trusted checkpoint public key from keyDir without creating
 * anything: the public key file, or the one derived from the private key.
 * Returns null when neither exists.
 */
export function loadCheckpointPublicKey(keyDir: string): KeyObject | null {
  const publicPath = join(keyDir, CHECKPOINT_PUBLIC_KEY_FILE)
  const privatePath = join(keyDir, CHECKPOINT_PRIVATE_KEY_FILE)
  if (existsSync(privatePath)) return createPublicKey(createPrivateKey(readFileSync(privatePath)))
  if (existsSync(publicPath)) return createPublicKey(readFileSync(publicPath))
  return null
}

/** Reads the optional HMAC key file (the key is the file's bytes); null when the file is absent. */
export function loadHmacKey(keyDir: string): Buffer | null {
  const path = join(keyDir, HMAC_KEY_FILE)
  if (!existsSync(path)) return null
  const key = readFileSync(path)
  if (key.length < 16) {
    throw new Error(`HMAC key ${path} is ${key.length} bytes; use at least 16 random bytes, for example 32 from /dev/urandom`)
  }
  return key
}

/** Returns the bytes a checkpoint signs: `seq|hash|time`. */
export function checkpointPayload(seq: number, hash: string, time: string): Buffer {
  return Buffer.from(`${seq}|${hash}|${time}`, 'utf8')
}

/** Signs a checkpoint and returns the base64 Ed25519 signature. */
export function signCheckpoint(privateKey: KeyObject, seq: number, hash: string, time: string): string {
  return sign(null, checkpointPayload(seq, hash, time), privateKey).toString('base64')
}

/** Checks a checkpoint's base64 Ed25519 signature. */
export function checkCheckpointSignature(
  publicKey: KeyObject,
  checkpoint: { seq: number; hash: string; time: string; signature: string },
): boolean {
  const payload = checkpointPayload(checkpoint.seq, checkpoint.hash, checkpoint.time)
  return verify(null, payload, publicKey, Buffer.from(checkpoint.signature, 'base64'))
}

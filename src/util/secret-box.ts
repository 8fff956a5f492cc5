// Encrypts secrets at rest (auth tokens, API key secrets) with AES-256-GCM. They must be
// recoverable, not hashed: HS256 token verification and webhook signing need the plain value.
import fs from 'node:fs';
import path from 'node:path';
import { createCipheriv, createHmac, createDecipheriv, randomBytes } from 'node:crypto';

export class SecretBox {
  private readonly key: Buffer;

  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('SECRET_KEY must decode to exactly 32 bytes');
    this.key = key;
  }

  /** From SECRET_KEY (base64 or 64 hex digits), else DATA_DIR/secret.key, created on first start. */
  static load(secretKey: string | null, dataDir: string): SecretBox {
    if (secretKey) {
      const key = /^[0-9a-f]{64}$/i.test(secretKey) ? Buffer.from(secretKey, 'hex') : Buffer.from(secretKey, 'base64');
      return new SecretBox(key);
    }
    const file = path.join(dataDir, 'secret.key');
    fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    if (!fs.existsSync(file)) {
      try {
        fs.writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    return new SecretBox(Buffer.from(fs.readFileSync(file, 'utf8').trim(), 'base64'));
  }

  /** A separate key for another purpose (HMAC-derived), so the sealing key itself is never reused. */
  deriveKey(purpose: string): Buffer {
    return createHmac('sha256', this.key).update(purpose).digest();
  }

  seal(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const body = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return ['v1', iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join('.');
  }

  open(sealed: string): string {
    const [version, iv, tag, body] = sealed.split('.');
    if (version !== 'v1' || !iv || !tag || body === undefined) throw new Error('Unrecognised sealed secret');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
  }
}

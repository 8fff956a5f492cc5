// Accounts (AC sid + auth token) and API keys (SK sid + secret): creating, listing, revoking,
// checking Basic credentials, and handing the token verifier the secret for a key.
import { timingSafeEqual } from 'node:crypto';
import type { Db } from '../../store/database.js';
import type { SecretBox } from '../../util/secret-box.js';
import { newSecret, newSid } from '../../util/sid.js';
import { iso, type Clock } from '../../util/clock.js';

export interface ApiKeyInfo {
  sid: string;
  accountSid: string;
  friendlyName: string;
  status: 'active' | 'revoked';
  dateCreated: string;
  dateUpdated: string;
}

export interface CreatedApiKey extends ApiKeyInfo {
  /** Shown once, at creation; only the encrypted form is stored. */
  secret: string;
}

export interface CreatedAccount {
  sid: string;
  authToken: string;
}

/** Who a request or token acts for after its credentials were checked. */
export interface Principal {
  accountSid: string;
  /** The API key used, or null when the account's own auth token was used. */
  keySid: string | null;
}

interface CachedKey {
  accountSid: string;
  secret: string;
  expires: number;
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a);
  const bb = Buffer.from(b);
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

export class CredentialsService {
  private readonly keyCache = new Map<string, CachedKey>();
  private readonly accountCache = new Map<string, { authToken: string; expires: number }>();

  constructor(
    private readonly db: Db,
    private readonly box: SecretBox,
    private readonly clock: Clock,
    private readonly cacheMs: number,
  ) {}

  async createAccount(friendlyName: string, fixed?: { sid: string; authToken: string }): Promise<CreatedAccount> {
    const sid = fixed?.sid ?? newSid('AC');
    const authToken = fixed?.authToken ?? newSecret();
    const now = iso(this.clock.now());
    await this.db
      .insertInto('accounts')
      .values({ sid, friendly_name: friendlyName, auth_token_enc: this.box.seal(authToken), status: 'active', date_created: now, date_updated: now })
      .execute();
    return { sid, authToken };
  }

  /** Makes the account exist with exactly this auth token (the TWILIO_* migration path). */
  async upsertAccount(sid: string, authToken: string, friendlyName: string): Promise<void> {
    const existing = await this.db.selectFrom('accounts').select('sid').where('sid', '=', sid).executeTakeFirst();
    if (!existing) {
      await this.createAccount(friendlyName, { sid, authToken });
      return;
    }
    await this.db
      .updateTable('accounts')
      .set({ auth_token_enc: this.box.seal(authToken), status: 'active', date_updated: iso(this.clock.now()) })
      .where('sid', '=', sid)
      .execute();
    this.accountCache.delete(sid);
  }

  async listAccounts(): Promise<{ sid: string; friendlyName: string }[]> {
    const rows = await this.db.selectFrom('accounts').select(['sid', 'friendly_name']).orderBy('date_created').execute();
    return rows.map((r) => ({ sid: r.sid, friendlyName: r.friendly_name }));
  }

  async accountExists(sid: string): Promise<boolean> {
    return (await this.db.selectFrom('accounts').select('sid').where('sid', '=', sid).executeTakeFirst()) !== undefined;
  }

  async createKey(accountSid: string, friendlyName: string, fixed?: { sid: string; secret: string }): Promise<CreatedApiKey> {
    const sid = fixed?.sid ?? newSid('SK');
    const secret = fixed?.secret ?? newSecret();
    const now = iso(this.clock.now());
    await this.db
      .insertInto('api_keys')
      .values({ sid, account_sid: accountSid, friendly_name: friendlyName, secret_enc: this.box.seal(secret), status: 'active', date_created: now, date_updated: now })
      .execute();
    return { sid, accountSid, friendlyName, status: 'active', dateCreated: now, dateUpdated: now, secret };
  }

  /** Makes the key exist, active, with exactly this secret. */
  async upsertKey(accountSid: string, sid: string, secret: string, friendlyName: string): Promise<void> {
    const existing = await this.db.selectFrom('api_keys').select('sid').where('sid', '=', sid).executeTakeFirst();
    if (!existing) {
      await this.createKey(accountSid, friendlyName, { sid, secret });
      return;
    }
    await this.db
      .updateTable('api_keys')
      .set({ account_sid: accountSid, secret_enc: this.box.seal(secret), status: 'active', date_updated: iso(this.clock.now()) })
      .where('sid', '=', sid)
      .execute();
    this.keyCache.delete(sid);
  }

  async listKeys(accountSid?: string): Promise<ApiKeyInfo[]> {
    let q = this.db.selectFrom('api_keys').selectAll().orderBy('date_created').orderBy('sid');
    if (accountSid) q = q.where('account_sid', '=', accountSid);
    return (await q.execute()).map((r) => ({
      sid: r.sid,
      accountSid: r.account_sid,
      friendlyName: r.friendly_name,
      status: r.status,
      dateCreated: r.date_created,
      dateUpdated: r.date_updated,
    }));
  }

  async getKey(sid: string): Promise<ApiKeyInfo | undefined> {
    return (await this.listKeys()).find((k) => k.sid === sid);
  }

  /** Revoked keys stay listed (for the record) but never authenticate again. */
  async revokeKey(sid: string, accountSid?: string): Promise<boolean> {
    let q = this.db.updateTable('api_keys').set({ status: 'revoked', date_updated: iso(this.clock.now()) }).where('sid', '=', sid);
    if (accountSid) q = q.where('account_sid', '=', accountSid);
    const result = await q.executeTakeFirst();
    this.keyCache.delete(sid);
    return Number(result.numUpdatedRows) > 0;
  }

  /** The secret of an active key, for verifying token signatures; undefined if unknown or revoked. */
  async activeKeySecret(keySid: string): Promise<{ accountSid: string; secret: string } | undefined> {
    const now = this.clock.now();
    const cached = this.keyCache.get(keySid);
    if (cached && cached.expires > now) return cached;
    const row = await this.db
      .selectFrom('api_keys')
      .select(['account_sid', 'secret_enc', 'status'])
      .where('sid', '=', keySid)
      .executeTakeFirst();
    if (!row || row.status !== 'active') {
      this.keyCache.delete(keySid);
      return undefined;
    }
    const entry = { accountSid: row.account_sid, secret: this.box.open(row.secret_enc), expires: now + this.cacheMs };
    if (this.cacheMs > 0) this.keyCache.set(keySid, entry);
    return entry;
  }

  /** The auth token of an active account (signs status callbacks). */
  async authToken(accountSid: string): Promise<string | undefined> {
    const now = this.clock.now();
    const cached = this.accountCache.get(accountSid);
    if (cached && cached.expires > now) return cached.authToken;
    const row = await this.db
      .selectFrom('accounts')
      .select(['auth_token_enc', 'status'])
      .where('sid', '=', accountSid)
      .executeTakeFirst();
    if (!row || row.status !== 'active') return undefined;
    const authToken = this.box.open(row.auth_token_enc);
    if (this.cacheMs > 0) this.accountCache.set(accountSid, { authToken, expires: now + this.cacheMs });
    return authToken;
  }

  /** Checks HTTP Basic credentials: `AC…:authToken` or `SK…:secret`. */
  async authenticateBasic(username: string, password: string): Promise<Principal | undefined> {
    if (username.startsWith('AC')) {
      const token = await this.authToken(username);
      return token !== undefined && safeEqual(token, password) ? { accountSid: username, keySid: null } : undefined;
    }
    if (username.startsWith('SK')) {
      const key = await this.activeKeySecret(username);
      return key && safeEqual(key.secret, password) ? { accountSid: key.accountSid, keySid: username } : undefined;
    }
    return undefined;
  }
}

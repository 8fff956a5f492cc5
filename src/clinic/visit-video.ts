// The clinic's use of the video service: rooms for visits and access tokens for the people in
// them, through the same in-process API the REST layer uses. Identities are opaque (derived
// from a server key), so neither room names nor identities carry anything about the patient.
import { randomBytes } from 'node:crypto';
import type { CredentialsService } from '../video/credentials/credentials-service.js';
import type { RoomService } from '../video/rooms/room-service.js';
import { mintAccessToken } from '../video/tokens/mint-token.js';
import type { Clock } from '../util/clock.js';
import { deriveOpaque } from './secrets.js';

const CLINIC_KEY_NAME = 'Televisit clinic workflow';

export class VisitVideo {
  private key: Promise<{ sid: string; secret: string }> | null = null;

  constructor(
    private readonly credentials: CredentialsService,
    private readonly rooms: RoomService,
    private readonly accountSid: string,
    private readonly identityKey: Buffer,
    private readonly clock: Clock,
    private readonly tokenTtlSeconds: number,
    /** The video service hands out TURN servers, so the pre-call check also tests relaying. */
    private readonly turnConfigured = false,
  ) {}

  /** The in-progress room for this visit, created (group, VP8, at most 4 people) if none is open. */
  async ensureRoom(roomName: string): Promise<string> {
    const open = await this.rooms.findInProgressByName(this.accountSid, roomName);
    if (open) return open.sid;
    try {
      const room = await this.rooms.createRoom(this.accountSid, { uniqueName: roomName, type: 'group', maxParticipants: 4, videoCodecs: ['VP8'], emptyRoomTimeout: 10 });
      return room.sid;
    } catch (err) {
      // Two admits at once: the other one created it.
      const winner = await this.rooms.findInProgressByName(this.accountSid, roomName);
      if (winner) return winner.sid;
      throw err;
    }
  }

  async completeRoom(roomSid: string | null): Promise<void> {
    if (!roomSid) return;
    const room = await this.rooms.getRoom(this.accountSid, roomSid).catch(() => undefined);
    if (room && room.status === 'in-progress') await this.rooms.completeRoom(this.accountSid, roomSid);
  }

  identityFor(kind: 'staff' | 'patient' | 'guest' | 'phone', id: string, appointmentId: string): string {
    const prefix = kind === 'staff' ? 'st' : kind === 'patient' ? 'pt' : kind === 'guest' ? 'gu' : 'ph';
    return `${prefix}-${deriveOpaque(this.identityKey, kind, id, appointmentId)}`;
  }

  /** A token limited to this room (by SID): it cannot open or create any other room. */
  async token(identity: string, roomSid: string): Promise<{ token: string; expiresAt: string }> {
    const key = await this.clinicKey();
    const now = this.clock.now();
    const token = await mintAccessToken({ accountSid: this.accountSid, keySid: key.sid, keySecret: key.secret, identity, room: roomSid, ttlSeconds: this.tokenTtlSeconds, nowMs: now });
    return { token, expiresAt: new Date(now + this.tokenTtlSeconds * 1000).toISOString() };
  }

  /**
   * A token for the pre-call network test: a throwaway room of its own (by name, so the first
   * connect creates it ad hoc), short-lived, with an identity that means nothing.
   */
  async preflightToken(): Promise<{ token: string; roomName: string; turn: boolean }> {
    const roomName = `preflight-${randomBytes(12).toString('hex')}`;
    const key = await this.clinicKey();
    const token = await mintAccessToken({ accountSid: this.accountSid, keySid: key.sid, keySecret: key.secret, identity: `pf-${randomBytes(8).toString('hex')}`, room: roomName, ttlSeconds: 300, nowMs: this.clock.now() });
    return { token, roomName, turn: this.turnConfigured };
  }

  /** Disconnects whoever is connected to the room with this identity (a revoked guest); no-op if no one is. */
  async kick(roomSid: string | null, identity: string): Promise<void> {
    if (!roomSid) return;
    // Not found (never joined this room) is fine: there is no one to disconnect.
    await this.rooms.kickParticipant(this.accountSid, roomSid, identity).catch(() => undefined);
  }

  async participants(roomSid: string) {
    const page = await this.rooms.listParticipants(this.accountSid, roomSid, {}, { pageSize: 100, page: 0 });
    return page.items;
  }

  async room(roomSid: string) {
    return this.rooms.getRoom(this.accountSid, roomSid);
  }

  private clinicKey(): Promise<{ sid: string; secret: string }> {
    this.key ??= (async () => {
      const keys = await this.credentials.listKeys(this.accountSid);
      for (const k of keys) {
        if (k.friendlyName !== CLINIC_KEY_NAME || k.status !== 'active') continue;
        const active = await this.credentials.activeKeySecret(k.sid);
        if (active) return { sid: k.sid, secret: active.secret };
      }
      const created = await this.credentials.createKey(this.accountSid, CLINIC_KEY_NAME);
      return { sid: created.sid, secret: created.secret };
    })().catch((err: unknown) => {
      this.key = null;
      throw err;
    });
    return this.key;
  }
}

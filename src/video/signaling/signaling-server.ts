// The /signaling WebSocket endpoint twilio-video connects to (`wsServer` option). Each socket
// speaks TCMP; its first room-protocol body is `ice` (ICE servers, also for runPreflight),
// `connect` (join) or `sync` (resume a session on a new socket). Any origin may connect: the
// access token inside the body is the authority.
import { createHmac } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { Logger } from 'pino';
import type { IceConfig } from '../../config.js';
import type { EventBus, BusMessage } from '../../realtime/event-bus.js';
import { roomChannel, type RoomService } from '../rooms/room-service.js';
import { roomAccess, type AccessTokenVerifier } from '../tokens/access-token.js';
import { TwilioError } from '../errors.js';
import { isSid } from '../../util/sid.js';
import { MAX_FRAME_BYTES, TcmpConnection } from './tcmp-connection.js';
import { LiveRoom } from './live-room.js';
import { ParticipantSession } from './participant-session.js';
import { readParticipant, readPeerConnections, readString, SignalingInputError, signalingError } from './messages.js';

export class SignalingServer {
  private readonly liveRooms = new Map<string, { live: LiveRoom; unsubscribe: () => void }>();
  private readonly sessions = new Map<string, ParticipantSession>();
  private readonly sockets = new Set<TcmpConnection>();

  constructor(
    private readonly rooms: RoomService,
    private readonly tokens: AccessTokenVerifier,
    private readonly bus: EventBus,
    private readonly ice: IceConfig,
    private readonly log: Logger,
  ) {}

  register(app: FastifyInstance): void {
    app.get('/signaling', { websocket: true }, (socket: WebSocket) => this.accept(socket));
  }

  /** Cuts every signaling socket as a network failure would; clients resume with `sync`. */
  dropSockets(): number {
    const n = this.sockets.size;
    for (const s of [...this.sockets]) s.drop();
    return n;
  }

  /**
   * Test hook: kills the media path of every participant in a room (no STUN answers, no media)
   * until their clients restart ICE, as a dead network path would.
   */
  breakMediaPaths(roomSid: string): number {
    const entry = this.liveRooms.get(roomSid);
    if (!entry) return 0;
    for (const s of entry.live.sessions.values()) s.transport.mediaPathBroken = true;
    return entry.live.sessions.size;
  }

  iceRestarts(roomSid: string): number {
    const entry = this.liveRooms.get(roomSid);
    return entry ? [...entry.live.sessions.values()].reduce((n, s) => n + s.transport.iceRestarts, 0) : 0;
  }

  /** Media counters of every live room in this process (benchmarks, diagnostics). */
  mediaStats() {
    return [...this.liveRooms.values()].map(({ live }) => ({ roomSid: live.room.sid, tracks: live.sfu.stats(), subscribers: live.sfu.subscriberStats() }));
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  async close(): Promise<void> {
    for (const s of [...this.sessions.values()]) await s.leave({ kind: 'left' }).catch(() => undefined);
    for (const { live, unsubscribe } of this.liveRooms.values()) {
      unsubscribe();
      live.close();
    }
    this.liveRooms.clear();
  }

  private accept(socket: WebSocket): void {
    const tcmp = new TcmpConnection(socket);
    this.sockets.add(tcmp);
    let session: ParticipantSession | null = null;
    let busy = false;
    tcmp.attach({
      onBody: (body) => {
        if (busy) return;
        const type = body.type;
        this.log.trace({ type }, 'signaling message in');
        if (session) {
          const s = session;
          if (type === 'update') {
            s.enqueue(() => s.update(readParticipant(body.participant), readPeerConnections(body.peer_connections)));
          } else if (type === 'disconnect') {
            s.enqueue(() => s.leave({ kind: 'left' }));
          }
          return; // other bodies from a joined client carry nothing for us
        }
        busy = true;
        this.firstBody(tcmp, body)
          .then((joined) => {
            session = joined;
          })
          .catch((err: unknown) => this.refuse(tcmp, err))
          .finally(() => {
            busy = false;
          });
      },
      onClose: () => {
        this.sockets.delete(tcmp);
        if (session?.state === 'connected') session.socketLost(tcmp);
      },
    });
  }

  /** Handles `ice`, `connect` or `sync`; returns the session once joined. */
  private async firstBody(tcmp: TcmpConnection, body: Record<string, unknown>): Promise<ParticipantSession | null> {
    switch (body.type) {
      case 'ice': {
        const token = await this.tokens.verify(body.token);
        tcmp.send({ type: 'iced', ice_servers: this.iceServersFor(token.identity) });
        return null;
      }
      case 'connect':
        return this.connect(tcmp, body);
      case 'sync':
        return this.resume(tcmp, body);
      default:
        throw new SignalingInputError(`expected ice, connect or sync, got ${JSON.stringify(body.type)}`);
    }
  }

  private async connect(tcmp: TcmpConnection, body: Record<string, unknown>): Promise<ParticipantSession> {
    const token = await this.tokens.verify(body.token);
    const participantState = readParticipant(body.participant);
    const pcs = readPeerConnections(body.peer_connections);
    const requested = readString(body.name, 'name', 4096) ?? token.video?.room;
    if (!requested) throw new TwilioError(53100, 'Room name is invalid: connect without a name needs a token limited to a room');
    const existing = isSid(requested, 'RM')
      ? await this.rooms.getRoom(token.accountSid, requested).then((r) => (r.status === 'in-progress' ? r : undefined)).catch(() => undefined)
      : await this.rooms.findInProgressByName(token.accountSid, requested);
    const access = roomAccess(token, { name: existing?.unique_name ?? requested, existingSid: existing?.sid ?? null });
    if (!access.allowed) throw access.error;
    let room = existing;
    if (!room) {
      if (!access.mayCreate || isSid(requested, 'RM')) throw new TwilioError(53106, 'Room not found');
      room = (await this.rooms.getOrCreateAdHocRoom(token.accountSid, requested)).room;
    }
    const { participant } = await this.rooms.connectParticipant(room.sid, token.identity);
    const live = this.liveRoom(room);
    const session = new ParticipantSession(live, participant, this.rooms, {
      hostAddresses: this.ice.hostAddresses,
      allowedRemoteAddresses: this.ice.allowedRemoteAddresses,
      ...(this.ice.portRange ? { portRange: this.ice.portRange } : {}),
      tcp: this.ice.tcp,
    }, this.ice.sessionTimeoutSeconds, this.log.child({ participant: participant.sid }), (s) => this.gone(s));
    live.add(session);
    this.sessions.set(session.sessionId, session);
    session.attach(tcmp);
    session.enqueue(() => session.connect(body, participantState, pcs, body.subscribe));
    this.log.info({ room: room.sid, participant: participant.sid }, 'participant connected');
    return session;
  }

  private async resume(tcmp: TcmpConnection, body: Record<string, unknown>): Promise<ParticipantSession> {
    const token = await this.tokens.verify(body.token);
    const id = readString(body.session, 'session', 64);
    const session = id ? this.sessions.get(id) : undefined;
    if (!session || !session.isPresent) throw new TwilioError(53001, 'Signaling connection disconnected: the session has ended');
    if (session.identity !== token.identity) throw new TwilioError(20103, 'Invalid Access Token issuer/subject: the token belongs to someone else');
    session.attach(tcmp);
    session.enqueue(() => session.sync(readParticipant(body.participant), readPeerConnections(body.peer_connections)));
    return session;
  }

  private refuse(tcmp: TcmpConnection, err: unknown): void {
    const { error: twilio, unexpected } = signalingError(err, new TwilioError(53104, 'Unable to connect to Room'));
    if (unexpected) this.log.error({ err }, 'signaling failed');
    tcmp.send({ type: 'error', code: twilio.code, message: twilio.message });
    tcmp.close(1000, 'Normal');
  }

  private liveRoom(room: LiveRoom['room']): LiveRoom {
    const existing = this.liveRooms.get(room.sid);
    if (existing) return existing.live;
    const live = new LiveRoom(room);
    const unsubscribe = this.bus.subscribe(roomChannel(room.sid), (m) => this.roomEvent(live, m));
    this.liveRooms.set(room.sid, { live, unsubscribe });
    return live;
  }

  /** Room changes made elsewhere (REST, another node, duplicate identity) reach live sessions here. */
  private roomEvent(live: LiveRoom, m: BusMessage): void {
    if (m.type === 'participant-removed') {
      const session = live.sessions.get(m.participantSid as string);
      if (!session) return;
      const message =
        m.code === 53205
          ? { type: 'error', code: 53205, message: 'Participant disconnected because of duplicate identity' }
          : m.code === 53118
            ? { type: 'disconnected', status: 'completed' }
            : { type: 'disconnected', status: 'disconnected' };
      session.enqueue(() => session.leave({ kind: 'removed' }, message));
    } else if (m.type === 'room-completed') {
      for (const session of live.sessions.values()) session.enqueue(() => session.leave({ kind: 'removed' }, { type: 'disconnected', status: 'completed' }));
    } else if (m.type === 'subscribe-rules-changed') {
      const session = live.sessions.get(m.participantSid as string);
      if (!session) return;
      this.rooms
        .getSubscribeRules(live.room.account_sid, live.room.sid, session.participantSid)
        .then((r) => session.setRules(r.rules))
        .catch((err: unknown) => this.log.warn({ err }, 'could not apply subscribe rules'));
    }
  }

  private gone(session: ParticipantSession): void {
    this.sessions.delete(session.sessionId);
    const entry = this.liveRooms.get(session.live.room.sid);
    if (entry && entry.live.isEmpty) {
      entry.unsubscribe();
      entry.live.close();
      this.liveRooms.delete(session.live.room.sid);
    }
  }

  /** STUN/TURN servers for a client; TURN credentials in coturn's shared-secret (REST) format. */
  iceServersFor(identity: string): { urls: string | string[]; username?: string; credential?: string }[] {
    const servers: { urls: string | string[]; username?: string; credential?: string }[] = [];
    if (this.ice.stunUrls.length > 0) servers.push({ urls: this.ice.stunUrls });
    if (this.ice.turnUrls.length > 0 && this.ice.turnSecret) {
      const expiry = Math.floor(Date.now() / 1000) + this.ice.turnCredentialTtlSeconds;
      // The identity is opaque by design, but keep it out of TURN server logs anyway.
      const username = `${expiry}:${createHmac('sha256', this.ice.turnSecret).update(identity).digest('hex').slice(0, 16)}`;
      const credential = createHmac('sha1', this.ice.turnSecret).update(username).digest('base64');
      servers.push({ urls: this.ice.turnUrls, username, credential });
    }
    return servers;
  }
}

export { MAX_FRAME_BYTES };

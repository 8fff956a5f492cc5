// Live updates over one WebSocket per page: staff get their clinic's events (only for
// providers they may see), a patient gets their own appointment's. Events come from the event
// bus, so they reach pages connected to any node. A guest gets their invitation's events and,
// of the visit's, only the start, the end and chat said since they were invited. The socket
// closes (code 4001) when the session ends; the page then asks the person to sign in again.
import type { FastifyInstance } from 'fastify';
import type { WebSocket } from 'ws';
import type { EventBus, BusMessage } from '../../realtime/event-bus.js';
import { seesProvider, type GuestActor, type PatientActor, type StaffActor } from '../actor.js';
import type { GuestService } from '../guest-service.js';
import type { StaffService } from '../staff/staff-service.js';
import type { VisitService } from '../visit-service.js';
import { clientIp, PATIENT_COOKIE, STAFF_COOKIE } from './http-kit.js';
import { GUEST_COOKIE } from './guest-api.js';

const RECHECK_MS = 30_000;

export function eventsSocket(app: FastifyInstance, bus: EventBus, staff: StaffService, visits: VisitService, guests: GuestService): void {
  app.get<{ Querystring: { as?: string } }>('/events', { websocket: true }, (socket: WebSocket, req) => {
    const asked = (req.query as { as?: string }).as;
    const as = asked === 'patient' || asked === 'guest' ? asked : 'staff';
    let unsubscribe: (() => void) | null = null;
    let timer: NodeJS.Timeout | null = null;
    const close = (code: number, reason: string) => {
      if (socket.readyState === socket.OPEN) socket.close(code, reason);
    };
    const send = (m: BusMessage) => {
      if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(m));
    };
    socket.on('close', () => {
      unsubscribe?.();
      if (timer) clearInterval(timer);
    });
    socket.on('error', () => undefined);
    socket.on('message', () => undefined);

    const check = as === 'staff'
      ? () => staff.authenticate(req.cookies[STAFF_COOKIE], clientIp(req), { touch: false })
      : as === 'guest'
        ? () => guests.authenticate(req.cookies[GUEST_COOKIE], clientIp(req))
        : () => visits.authenticatePatient(req.cookies[PATIENT_COOKIE], clientIp(req));
    (check() as Promise<StaffActor | PatientActor | GuestActor>).then(
      async (actor) => {
        if (socket.readyState !== socket.OPEN) return;
        if (actor.kind === 'staff') {
          unsubscribe = bus.subscribe(`clinic:${actor.clinicId}`, (m) => {
            if (typeof m.providerId === 'string' && !seesProvider(actor, m.providerId)) return;
            send(m);
          });
        } else if (actor.kind === 'guest') {
          const since = await guests.invitedAt(actor);
          if (socket.readyState !== socket.OPEN) return;
          const own = bus.subscribe(`guest:${actor.invitationId}`, send);
          const visit = bus.subscribe(`appointment:${actor.appointmentId}`, (m) => {
            if (m.type === 'admitted' || m.type === 'ended' || m.type === 'guests') send({ type: m.type });
            else if (m.type === 'chat' && typeof (m.message as { at?: unknown })?.at === 'string' && (m.message as { at: string }).at >= since) send(m);
          });
          unsubscribe = () => {
            own();
            visit();
          };
        } else {
          unsubscribe = bus.subscribe(`appointment:${actor.appointmentId}`, send);
        }
        send({ type: 'ready' });
        timer = setInterval(() => {
          check().catch(() => close(4001, 'session ended'));
        }, RECHECK_MS);
        timer.unref();
      },
      () => close(4001, 'sign in required'),
    ).catch(() => close(4001, 'session ended'));
  });
}

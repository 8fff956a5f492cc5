// Today: the waiting room queue (live), today's schedule, booking, chat, provider status, admit.
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { useDialog } from '../shared/use-dialog.js';
import { get, post } from '../shared/api.js';
import { connectEvents, type LiveEvent } from '../shared/live-events.js';
import { ChatPanel, mergeMessage, type ChatMessage } from '../shared/chat-panel.js';
import { dateTimeOf, minutesSince, timeOf } from '../shared/format.js';
import { scheduleRange } from './schedule-range.js';
import { AppointmentForm } from './appointment-form.js';
import { Icon } from '../shared/icons.js';
import { handleError, navigate, sessionEnded, type Me } from './main.js';
import { GuestQueueLine } from './guest-panel.js';

export interface Appointment {
  id: string;
  providerId: string;
  providerName: string;
  patientName: string;
  patientPhone: string;
  language: 'en' | 'es';
  interpreterNeeded: boolean;
  startsAt: string;
  durationMinutes: number;
  copayCents: number;
  expectedParticipants: number;
  status: 'scheduled' | 'cancelled' | 'completed';
  visitState: 'none' | 'waiting' | 'admitted' | 'ended';
  providerStatus: string | null;
  checkedInAt: string | null;
  admittedAt: string | null;
  endedAt: string | null;
  precall: { browser: string; camera: string; microphone: string; network: string } | null;
  intakeDone: boolean;
  copayAcknowledged: boolean;
  consentGiven: boolean;
  linkLocked: boolean;
  clinical?: { patientDob: string; reason: string; intake: Record<string, string> | null; intakeLabels: Record<string, string> };
}

// Shown to the patient in their language; staff pick by the English label.
const STATUS_PRESETS = [
  { label: 'Running about 10 minutes late', es: 'Voy con unos 10 minutos de retraso', late: 10 },
  { label: 'Running about 20 minutes late', es: 'Voy con unos 20 minutos de retraso', late: 20 },
  { label: 'Finishing another visit, almost ready', es: 'Terminando otra visita, ya casi estoy listo', late: 0 },
  { label: 'Reviewing your information, starting soon', es: 'Revisando su información, empezamos pronto', late: 0 },
];

/** A schedule row's time; with the day when it is not today (a visit just after midnight). */
function scheduleTimeOf(iso: string): string {
  const d = new Date(iso);
  return d.toDateString() === new Date().toDateString() ? timeOf(iso) : dateTimeOf(iso);
}

function beep(): void {
  try {
    const ctx = new AudioContext();
    for (const [i, f] of [660, 880].entries()) {
      const o = ctx.createOscillator();
      const g = ctx.createGain();
      o.frequency.value = f;
      g.gain.setValueAtTime(0.15, ctx.currentTime + i * 0.18);
      g.gain.exponentialRampToValueAtTime(0.001, ctx.currentTime + i * 0.18 + 0.16);
      o.connect(g).connect(ctx.destination);
      o.start(ctx.currentTime + i * 0.18);
      o.stop(ctx.currentTime + i * 0.18 + 0.17);
    }
  } catch {
    /* no audio */
  }
}

function checkChip(label: string, v: string | undefined) {
  const cls = v === 'pass' || v === 'good' ? 'ok' : v === 'warn' || v === 'fair' ? 'warn' : v ? 'bad' : '';
  const text = v === 'pass' || v === 'good' ? '✓' : v === 'warn' || v === 'fair' ? '!' : v ? '✕' : '–';
  return (
    <span class={`chip ${cls}`} title={`${label}: ${v ?? 'not checked'}`}>
      {text} {label}
    </span>
  );
}

export function Dashboard({ me }: { me: Me }) {
  const [items, setItems] = useState<Appointment[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());
  const [editing, setEditing] = useState<Appointment | 'new' | null>(null);
  const [chatFor, setChatFor] = useState<Appointment | null>(null);
  const [chat, setChat] = useState<ChatMessage[]>([]);
  const [unread, setUnread] = useState<Record<string, number>>({});
  const [live, setLive] = useState(false);
  const [statusFor, setStatusFor] = useState<Appointment | null>(null);
  const [intakeFor, setIntakeFor] = useState<Appointment | null>(null);
  const [alertsOn, setAlertsOn] = useState(typeof Notification !== 'undefined' && Notification.permission === 'granted');
  const chatForRef = useRef<string | null>(null);
  chatForRef.current = chatFor?.id ?? null;

  const load = async () => {
    try {
      const r = scheduleRange();
      setItems(await get<Appointment[]>(`/api/appointments?from=${encodeURIComponent(r.from)}&to=${encodeURIComponent(r.to)}`));
      setError(null);
    } catch (err) {
      handleError(err, setError);
    }
  };

  useEffect(() => {
    void load();
    let pending: ReturnType<typeof setTimeout> | null = null;
    const stop = connectEvents(
      'staff',
      (e: LiveEvent) => {
        if (e.type === 'ready') return void load();
        if (e.type === 'appointment.changed') {
          if (e.notice === 'checked-in') {
            beep();
            // No name on the lock screen: only that someone is waiting.
            if (typeof Notification !== 'undefined' && Notification.permission === 'granted') new Notification('Televisit', { body: 'A patient is in the waiting room.' });
          }
          if (pending) clearTimeout(pending);
          pending = setTimeout(() => void load(), 150);
        }
        if (e.type === 'chat') {
          if (chatForRef.current === e.appointmentId) setChat((list) => mergeMessage(list, e.message as ChatMessage));
          else if ((e.message as ChatMessage).from !== 'staff') setUnread((u) => ({ ...u, [e.appointmentId]: (u[e.appointmentId] ?? 0) + 1 }));
        }
      },
      sessionEnded,
      setLive,
    );
    const tick = setInterval(() => setNow(Date.now()), 15_000);
    return () => {
      stop();
      clearInterval(tick);
    };
  }, []);

  const queue = useMemo(
    () => items.filter((a) => a.status === 'scheduled' && (a.visitState === 'waiting' || a.visitState === 'admitted')).sort((a, b) => (a.checkedInAt ?? '').localeCompare(b.checkedInAt ?? '')),
    [items],
  );

  const openChat = async (a: Appointment) => {
    setChatFor(a);
    setUnread((u) => ({ ...u, [a.id]: 0 }));
    try {
      setChat(await get<ChatMessage[]>(`/api/appointments/${a.id}/chat`));
    } catch (err) {
      handleError(err, setError);
    }
  };

  const admit = async (a: Appointment) => {
    try {
      await post(`/api/appointments/${a.id}/admit`);
      navigate(`/staff/visit/${a.id}`);
    } catch (err) {
      handleError(err, setError);
    }
  };

  const canVisit = (a: Appointment) => me.role === 'provider' && (a.providerId === me.id || me.seesAllSchedules);

  return (
    <main class="page">
      {error && <div class="error" role="alert">{error}</div>}
      <div class="grid-2">
        <section class="card" aria-labelledby="queue-title">
          <div class="section-title">
            <h2 id="queue-title">Waiting room</h2>
            <span class={`chip ${live ? 'ok' : 'warn'}`} role="status">{live ? '● Live' : 'Reconnecting…'}</span>
          </div>
          {!alertsOn && typeof Notification !== 'undefined' && (
            <button class="secondary small" onClick={async () => setAlertsOn((await Notification.requestPermission()) === 'granted')}>
              <Icon name="bell" size={18} /> Alert me when a patient checks in
            </button>
          )}
          <div style={{ marginTop: '0.8em' }} data-testid="queue">
            {queue.length === 0 && <div class="empty">No one is waiting right now.</div>}
            {queue.map((a) => (
              <article key={a.id} class={`queue-item ${a.visitState === 'admitted' ? 'in-visit' : 'arrived'}`} data-testid="queue-item" data-appointment={a.id}>
                <div class="section-title" style={{ marginBottom: 0 }}>
                  <h3>{a.patientName}</h3>
                  {a.visitState === 'admitted' ? <span class="chip info">In visit</span> : <span class="chip ok">Waiting {minutesSince(a.checkedInAt!, now)} min</span>}
                </div>
                <div class="meta">
                  Checked in {timeOf(a.checkedInAt!)} · appointment {timeOf(a.startsAt)} with {a.providerName}
                  {a.interpreterNeeded && ' · needs interpreter'}
                  {a.language === 'es' && ' · Español'}
                </div>
                <div class="chips" aria-label="Pre-visit checks">
                  {checkChip('Browser', a.precall?.browser)}
                  {checkChip('Camera', a.precall?.camera)}
                  {checkChip('Mic', a.precall?.microphone)}
                  {checkChip('Network', a.precall?.network)}
                  <span class={`chip ${a.intakeDone ? 'ok' : ''}`}>{a.intakeDone ? '✓' : '–'} Intake</span>
                  {a.copayCents === 0 ? <span class="chip ok">No copay</span> : <span class={`chip ${a.copayAcknowledged ? 'ok' : ''}`}>{a.copayAcknowledged ? '✓' : '–'} Copay</span>}
                  <span class={`chip ${a.consentGiven ? 'ok' : ''}`}>{a.consentGiven ? '✓' : '–'} Consent</span>
                </div>
                {a.providerStatus && <p class="muted" style={{ margin: '0.5em 0 0' }}>Patient sees: “{a.providerStatus}”</p>}
                <GuestQueueLine appointmentId={a.id} refreshKey={items} canAdmit={canVisit(a)} />
                <div class="actions" style={{ marginTop: '0.6em' }}>
                  {canVisit(a) && a.visitState === 'waiting' && (
                    <button class="small" onClick={() => void admit(a)}>
                      Admit
                    </button>
                  )}
                  {canVisit(a) && a.visitState === 'admitted' && (
                    <button class="small" onClick={() => navigate(`/staff/visit/${a.id}`)}>
                      Rejoin visit
                    </button>
                  )}
                  {a.clinical && (
                    <button class="small secondary" onClick={() => setIntakeFor(a)}>
                      Intake
                    </button>
                  )}
                  <button class="small secondary" onClick={() => void openChat(a)}>
                    Chat{unread[a.id] ? ` (${unread[a.id]})` : ''}
                  </button>
                  {a.visitState === 'waiting' && (
                    <>
                      <button class="small secondary" onClick={() => setStatusFor(a)}>
                        Set status
                      </button>
                      <button class="small quiet" title="Tell the patient you are about to start" onClick={() => void post(`/api/appointments/${a.id}/admit-soon`).catch((err) => handleError(err, setError))}>
                        Starting soon
                      </button>
                    </>
                  )}
                </div>
              </article>
            ))}
          </div>
        </section>

        <section class="card" aria-labelledby="today-title">
          <div class="section-title">
            <h2 id="today-title">Today · {new Date().toLocaleDateString('en-US', { weekday: 'long', month: 'long', day: 'numeric' })}</h2>
            <button onClick={() => setEditing('new')}>+ New appointment</button>
          </div>
          {items.length === 0 ? (
            <div class="empty">No appointments today.</div>
          ) : (
            <div class="table-wrap">
            <table class="schedule" data-testid="schedule">
              <thead>
                <tr>
                  <th scope="col">Time</th>
                  <th scope="col">Patient</th>
                  <th scope="col">Provider</th>
                  <th scope="col">Status</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {items.map((a) => (
                  <tr key={a.id} class={a.status === 'cancelled' ? 'cancelled' : ''}>
                    <td>
                      <strong>{scheduleTimeOf(a.startsAt)}</strong>
                      <div class="muted" style={{ fontSize: '0.85rem' }}>{a.durationMinutes} min</div>
                    </td>
                    <td>
                      {a.patientName}
                      {a.clinical?.reason && <div class="muted" style={{ fontSize: '0.85rem' }}>{a.clinical.reason}</div>}
                    </td>
                    <td>{a.providerName}</td>
                    <td>
                      <StatusChip a={a} />
                    </td>
                    <td style={{ textAlign: 'right', whiteSpace: 'nowrap' }}>
                      {a.status === 'scheduled' && (
                        <>
                          <button class="small quiet" onClick={() => setEditing(a)}>
                            Edit
                          </button>
                          <button
                            class="small quiet"
                            onClick={async () => {
                              if (!confirm('Send the patient a new link? The old link stops working.')) return;
                              await post(`/api/appointments/${a.id}/link`, { sendNew: true }).catch((err) => handleError(err, setError));
                            }}
                          >
                            New link
                          </button>
                          <button
                            class="small quiet"
                            onClick={async () => {
                              if (!confirm('Cancel this appointment? The patient gets a text.')) return;
                              await post(`/api/appointments/${a.id}/cancel`, { notifyPatient: true }).catch((err) => handleError(err, setError));
                            }}
                          >
                            Cancel
                          </button>
                        </>
                      )}
                      {a.status === 'completed' && me.role !== 'front_desk' && (
                        <button class="small quiet" onClick={() => navigate(`/staff/record/${a.id}`)}>
                          Record
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
            </div>
          )}
        </section>
      </div>

      {editing && <AppointmentForm me={me} existing={editing === 'new' ? null : editing} onClose={() => setEditing(null)} onSaved={() => void load()} />}

      {intakeFor?.clinical && <IntakeDialog a={intakeFor} onClose={() => setIntakeFor(null)} />}

      {statusFor && <StatusDialog a={statusFor} onClose={() => setStatusFor(null)} onError={(err) => handleError(err, setError)} />}

      {chatFor && (
        <aside class="drawer" aria-label={`Chat with ${chatFor.patientName}`}>
          <header>
            <h2 style={{ margin: 0 }}>Chat · {chatFor.patientName}</h2>
            <button class="quiet" onClick={() => setChatFor(null)} aria-label="Close chat">
              ✕
            </button>
          </header>
          <ChatPanel
            messages={chat}
            mine="staff"
            labels={{ title: 'Messages', placeholder: 'Write to the patient…', send: 'Send', empty: 'No messages yet.' }}
            onSend={async (text) => {
              const m = await post<ChatMessage>(`/api/appointments/${chatFor.id}/chat`, { text });
              setChat((list) => mergeMessage(list, m));
            }}
          />
        </aside>
      )}
    </main>
  );
}

export function StatusChip({ a }: { a: Appointment }) {
  if (a.status === 'cancelled') return <span class="chip">Cancelled</span>;
  if (a.status === 'completed') return <span class="chip ok">Completed</span>;
  if (a.linkLocked) return <span class="chip bad">Link locked</span>;
  if (a.visitState === 'admitted') return <span class="chip info">In visit</span>;
  if (a.visitState === 'waiting') return <span class="chip ok">Waiting</span>;
  if (a.consentGiven || a.intakeDone) return <span class="chip warn">Getting ready</span>;
  return <span class="chip">Scheduled</span>;
}

function StatusDialog({ a, onClose, onError }: { a: Appointment; onClose: () => void; onError: (e: unknown) => void }) {
  const dialog = useDialog<HTMLDivElement>(onClose);
  const text = (p: (typeof STATUS_PRESETS)[number]) => (a.language === 'es' ? p.es : p.label);
  const [message, setMessage] = useState(a.providerStatus ?? text(STATUS_PRESETS[0]!));
  const [late, setLate] = useState(10);
  const [sms, setSms] = useState(false);
  return (
    <div class="overlay" ref={dialog} role="dialog" aria-modal="true" aria-labelledby="status-title">
      <form
        class="dialog"
        onSubmit={async (e) => {
          e.preventDefault();
          try {
            await post(`/api/appointments/${a.id}/status`, { message, ...(sms ? { sendSms: true, lateMinutes: late } : {}) });
            onClose();
          } catch (err) {
            onError(err);
          }
        }}
      >
        <h2 id="status-title">Status for {a.patientName}</h2>
        <p class="muted">The patient sees this in the waiting room right away{a.language === 'es' ? ', in Spanish' : ''}.</p>
        <div class="chips" style={{ gap: '0.5em' }}>
          {STATUS_PRESETS.map((p) => (
            <button
              type="button"
              key={p.label}
              class="small secondary"
              onClick={() => {
                setMessage(text(p));
                if (p.late) setLate(p.late);
              }}
            >
              {p.label}
            </button>
          ))}
        </div>
        <label for="status-text">Message</label>
        <input id="status-text" maxLength={200} value={message} onInput={(e) => setMessage((e.target as HTMLInputElement).value)} />
        <label class="check">
          <input type="checkbox" checked={sms} onChange={(e) => setSms((e.target as HTMLInputElement).checked)} />
          <span>
            Also text the patient that you are running late by about{' '}
            <input type="number" min={5} max={120} step={5} value={late} style={{ width: '5em', display: 'inline-block' }} aria-label="Minutes late" onInput={(e) => setLate(Number((e.target as HTMLInputElement).value))} /> minutes
          </span>
        </label>
        <div class="actions">
          <button type="submit">Show to patient</button>
          <button
            type="button"
            class="secondary"
            onClick={async () => {
              await post(`/api/appointments/${a.id}/status`, { message: null }).catch(onError);
              onClose();
            }}
          >
            Clear status
          </button>
          <button type="button" class="quiet" onClick={onClose}>
            Close
          </button>
        </div>
      </form>
    </div>
  );
}

function IntakeDialog({ a, onClose }: { a: Appointment; onClose: () => void }) {
  const dialog = useDialog<HTMLDivElement>(onClose);
  const c = a.clinical!;
  const answers = Object.entries(c.intake ?? {}).filter(([, v]) => v);
  return (
    <div class="overlay" ref={dialog} role="dialog" aria-modal="true" aria-labelledby="intake-title" onClick={(e) => e.target === e.currentTarget && onClose()}>
      <div class="dialog">
        <h2 id="intake-title">{a.patientName}</h2>
        <p class="muted">
          Born {c.patientDob} · {a.language === 'es' ? 'Spanish' : 'English'}
          {a.interpreterNeeded && ' · needs an interpreter'}
        </p>
        <h3>Reason for the visit</h3>
        <p>{c.reason || '—'}</p>
        <h3>Intake answers</h3>
        {answers.length === 0 ? (
          <p class="muted">Not filled in yet.</p>
        ) : (
          <dl>
            {answers.map(([k, v]) => (
              <div key={k} style={{ marginBottom: '0.7em' }}>
                <dt class="muted">{c.intakeLabels[k] ?? k}</dt>
                <dd style={{ margin: 0, whiteSpace: 'pre-wrap' }}>{v}</dd>
              </div>
            ))}
          </dl>
        )}
        <div class="actions">
          <button onClick={onClose}>Close</button>
        </div>
      </div>
    </div>
  );
}

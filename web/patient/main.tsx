// The patient's journey from the SMS link: verify → intake → copay → consent → checks →
// waiting room → visit → end. A returning patient resumes where they left off.
import { render } from 'preact';
import { useEffect, useRef, useState } from 'preact/hooks';
import { ApiError, get, post } from '../shared/api.js';
import { ChatPanel, mergeMessage, type ChatMessage } from '../shared/chat-panel.js';
import { connectEvents } from '../shared/live-events.js';
import { savedDevices } from '../shared/visit-room.js';
import { VisitWithChat } from '../shared/visit-with-chat.js';
import { browserSupported, Checks } from './checks.js';
import { errorText, STRINGS, type Lang, type Strings } from './i18n.js';
import { PatientGuests } from './invite-guests.js';
import { Message, PortalFrame, Unsupported } from './portal-frame.js';
import { visitRoleNames } from '../guest/i18n.js';

interface Me {
  appointmentId: string;
  clinicName: string;
  providerName: string;
  startsAt: string;
  timeZone: string;
  language: Lang;
  status: 'scheduled' | 'cancelled' | 'completed';
  visitState: 'none' | 'waiting' | 'admitted' | 'ended';
  providerStatus: string | null;
  estimatedWaitMinutes: number | null;
  copay: { amountCents: number; amountText: string; wording: string; version: string; acknowledgedAt: string | null };
  consent: { wording: string; version: string; givenAt: string | null };
  intake: { questions: { id: string; kind: 'text' | 'longtext' | 'yesno'; label: Record<Lang, string>; required: boolean }[]; answers: Record<string, string> | null };
  checkedInAt: string | null;
  waitingRoomVideo: { kind: 'file'; url: string } | { kind: 'youtube'; videoId: string } | null;
}

type Screen = 'loading' | 'invalid' | 'unsupported' | 'verify' | 'intake' | 'copay' | 'consent' | 'checks' | 'waiting' | 'join' | 'visit' | 'left' | 'ended';

const token = location.pathname.split('/')[2] ?? '';

function nextScreen(me: Me, checksDone: boolean): Screen {
  if (me.status === 'cancelled' || me.status === 'completed' || me.visitState === 'ended') return 'ended';
  if (me.visitState === 'admitted') return 'join';
  if (!me.intake.answers) return 'intake';
  if (!me.copay.acknowledgedAt && me.copay.amountCents > 0) return 'copay';
  if (!me.consent.givenAt) return 'consent';
  if (!checksDone && !me.checkedInAt) return 'checks';
  return 'waiting';
}

const STEP_OF: Partial<Record<Screen, number>> = { verify: 1, intake: 2, copay: 3, consent: 4, checks: 5, waiting: 6 };

function App() {
  const [lang, setLang] = useState<Lang>(navigator.language.startsWith('es') ? 'es' : 'en');
  const [clinicName, setClinicName] = useState('');
  const [screen, setScreen] = useState<Screen>('loading');
  const [me, setMe] = useState<Me | null>(null);
  const [checksDone, setChecksDone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const t = STRINGS[lang];

  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);

  const refresh = async (done = checksDone) => {
    const m = await get<Me>('/api/patient/me');
    setMe(m);
    setLang(m.language);
    setScreen(nextScreen(m, done));
    return m;
  };

  const fail = (err: unknown) => {
    if (err instanceof ApiError && err.code === 'verify_required') return setScreen('verify');
    setError(errorText(STRINGS[lang], err));
  };

  useEffect(() => {
    // Even in a browser that cannot do the visit, the link says which clinic and which language:
    // the advice to open it elsewhere is in the patient's language, under the clinic's name.
    const supported = browserSupported();
    post<{ language: Lang; clinicName: string; verified: boolean }>('/api/patient/open', { token }).then(
      async (r) => {
        setLang(r.language);
        setClinicName(r.clinicName);
        if (!supported) setScreen('unsupported');
        else if (r.verified) await refresh().catch(fail);
        else setScreen('verify');
      },
      () => setScreen('invalid'),
    );
  }, []);

  const switchLang = async () => {
    const next: Lang = lang === 'en' ? 'es' : 'en';
    setLang(next);
    if (!me) return;
    // The clinic's own texts (copay and consent wording) come from the server in the new language.
    await post('/api/patient/language', { language: next }).catch(() => undefined);
    const m = await get<Me>('/api/patient/me').catch(() => null);
    if (m) setMe(m);
  };

  const step = STEP_OF[screen];
  const body = (() => {
    switch (screen) {
      case 'loading':
        return <p role="status">{t.loading}</p>;
      case 'invalid':
        return <Message title={t.linkInvalidTitle} text={t.linkInvalid} />;
      case 'unsupported':
        return <Unsupported t={t} />;
      case 'verify':
        return <Verify t={t} onVerified={() => refresh().catch(fail)} />;
      case 'intake':
        return <Intake t={t} lang={lang} me={me!} onDone={() => refresh().catch(fail)} />;
      case 'copay':
        return <Agree t={t} title={t.copayTitle} big={me!.copay.amountText} wording={me!.copay.wording} button={t.copayAgree} onAgree={() => post('/api/patient/copay', { version: me!.copay.version }).then(() => refresh())} />;
      case 'consent':
        return <Agree t={t} title={t.consentTitle} wording={me!.consent.wording} button={t.consentAgree} onAgree={() => post('/api/patient/consent', { version: me!.consent.version }).then(() => refresh())} />;
      case 'checks':
        return (
          <Checks
            t={t}
            onDone={async () => {
              setChecksDone(true);
              await post('/api/patient/check-in').catch(fail);
              await refresh(true).catch(fail);
            }}
          />
        );
      case 'waiting':
        return (
          <WaitingRoom
            t={t}
            lang={lang}
            me={me!}
            onAdmitted={() => setScreen('visit')}
            onEnded={() => setScreen('ended')}
            // Only the waiting room moves on from here (admitted, ended): a reply that left the
            // server before the admission, arriving after the 'admitted' event, must not send a
            // patient who is already in the visit back to the waiting room.
            refresh={() =>
              get<Me>('/api/patient/me').then((m) => {
                setMe(m);
                return m;
              })
            }
          />
        );
      case 'join':
        return (
          <div class="card center">
            <h1>{t.joinTitle}</h1>
            <button class="big" onClick={() => setScreen('visit')}>
              {t.join}
            </button>
          </div>
        );
      case 'visit':
        return <PatientVisit t={t} lang={lang} onLeft={() => setScreen('left')} onEnded={() => setScreen('ended')} />;
      case 'left':
        return (
          <div class="card center">
            <h1>{t.leftTitle}</h1>
            <p>{t.leftIntro}</p>
            <button
              class="big"
              onClick={async () => {
                const m = await refresh(true).catch(() => null);
                if (m && m.visitState === 'admitted') setScreen('visit');
              }}
            >
              {t.rejoin}
            </button>
          </div>
        );
      case 'ended':
        return <Message title={t.endedTitle} text={t.endedIntro} />;
    }
  })();

  if (screen === 'visit') return body;
  const top = (
    <>
      {step && (
        <>
          <div class="steps" aria-hidden="true">
            {[1, 2, 3, 4, 5, 6].map((i) => (
              <span key={i} class={i <= step ? 'done' : ''} />
            ))}
          </div>
          <p class="sr-only">{t.stepOf(step, 6)}</p>
        </>
      )}
      {me && step && step > 1 && (
        <p class="muted" style={{ marginTop: 0 }}>
          {t.whenLine(new Date(me.startsAt).toLocaleString(lang === 'es' ? 'es-US' : 'en-US', { weekday: 'long', hour: 'numeric', minute: '2-digit', timeZone: me.timeZone }), me.providerName)}
        </p>
      )}
    </>
  );
  return (
    <PortalFrame clinicName={me?.clinicName ?? clinicName} lang={lang} t={t} onSwitchLang={() => void switchLang()} error={error} top={top}>
      {body}
    </PortalFrame>
  );
}

function Verify({ t, onVerified }: { t: Strings; onVerified: () => void }) {
  const [month, setMonth] = useState('');
  const [day, setDay] = useState('');
  const [year, setYear] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  return (
    <form
      class="card"
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          await post('/api/patient/verify', { token, dob: `${year.padStart(4, '0')}-${month.padStart(2, '0')}-${day.padStart(2, '0')}` });
          onVerified();
        } catch (err) {
          setError(errorText(t, err));
        } finally {
          setBusy(false);
        }
      }}
    >
      <h1>{t.verifyTitle}</h1>
      <p>{t.verifyIntro}</p>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      <fieldset style={{ border: 0, padding: 0, margin: 0 }}>
        <legend class="sr-only">{t.verifyIntro}</legend>
        <div class="row">
          <div style={{ flex: '2 1 120px' }}>
            <label for="dob-month">{t.month}</label>
            <select id="dob-month" required value={month} onChange={(e) => setMonth((e.target as HTMLSelectElement).value)}>
              <option value="">—</option>
              {t.months.map((m, i) => (
                <option key={m} value={String(i + 1)}>{m}</option>
              ))}
            </select>
          </div>
          <div style={{ flex: '1 1 60px' }}>
            <label for="dob-day">{t.day}</label>
            <input id="dob-day" inputMode="numeric" pattern="[0-9]{1,2}" maxLength={2} required autocomplete="bday-day" value={day} onInput={(e) => setDay((e.target as HTMLInputElement).value)} />
          </div>
          <div style={{ flex: '1 1 80px' }}>
            <label for="dob-year">{t.year}</label>
            <input id="dob-year" inputMode="numeric" pattern="[0-9]{4}" maxLength={4} required autocomplete="bday-year" value={year} onInput={(e) => setYear((e.target as HTMLInputElement).value)} />
          </div>
        </div>
      </fieldset>
      <div class="actions">
        <button class="big" type="submit" disabled={busy}>
          {t.continue}
        </button>
      </div>
    </form>
  );
}

function Intake({ t, lang, me, onDone }: { t: Strings; lang: Lang; me: Me; onDone: () => void }) {
  const [answers, setAnswers] = useState<Record<string, string>>(me.intake.answers ?? {});
  const [error, setError] = useState<string | null>(null);
  return (
    <form
      class="card"
      onSubmit={async (e) => {
        e.preventDefault();
        try {
          await post('/api/patient/intake', { answers });
          onDone();
        } catch (err) {
          setError(errorText(t, err));
        }
      }}
    >
      <h1>{t.intakeTitle}</h1>
      <p class="muted">{t.intakeIntro}</p>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      {me.intake.questions.map((q) => (
        <div key={q.id}>
          <label for={`q-${q.id}`}>
            {q.label[lang]} {q.required && <span class="hint">({t.required})</span>}
          </label>
          {q.kind === 'longtext' ? (
            <textarea id={`q-${q.id}`} required={q.required} maxLength={4000} value={answers[q.id] ?? ''} onInput={(e) => setAnswers({ ...answers, [q.id]: (e.target as HTMLTextAreaElement).value })} />
          ) : q.kind === 'yesno' ? (
            <select id={`q-${q.id}`} required={q.required} value={answers[q.id] ?? ''} onChange={(e) => setAnswers({ ...answers, [q.id]: (e.target as HTMLSelectElement).value })}>
              <option value="">—</option>
              <option value="yes">{t.yes}</option>
              <option value="no">{t.no}</option>
            </select>
          ) : (
            <input id={`q-${q.id}`} required={q.required} maxLength={4000} value={answers[q.id] ?? ''} onInput={(e) => setAnswers({ ...answers, [q.id]: (e.target as HTMLInputElement).value })} />
          )}
        </div>
      ))}
      <div class="actions">
        <button class="big" type="submit">
          {t.continue}
        </button>
      </div>
    </form>
  );
}

function Agree({ t, title, big, wording, button, onAgree }: { t: Strings; title: string; big?: string; wording: string; button: string; onAgree: () => Promise<unknown> }) {
  const [error, setError] = useState<string | null>(null);
  return (
    <div class="card">
      <h1>{title}</h1>
      {big && <p class="big-number">{big}</p>}
      <p style={{ fontSize: '1.1rem' }}>{wording}</p>
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      <button class="big" onClick={() => onAgree().catch((err) => setError(errorText(t, err)))}>
        {button}
      </button>
      <span class="sr-only">{t.continue}</span>
    </div>
  );
}

/** The patient's own camera while waiting, so they can fix light and framing before the visit. */
function SelfView({ t }: { t: Strings }) {
  const [on, setOn] = useState(true);
  const video = useRef<HTMLVideoElement>(null);
  useEffect(() => {
    if (!on) return;
    let stream: MediaStream | null = null;
    let stopped = false;
    const prefs = savedDevices();
    navigator.mediaDevices
      .getUserMedia({ video: prefs.videoInputId ? { deviceId: { exact: prefs.videoInputId } } : { facingMode: 'user' } })
      .then((s) => {
        if (stopped) return s.getTracks().forEach((tr) => tr.stop());
        stream = s;
        if (video.current) video.current.srcObject = s;
      })
      .catch(() => setOn(false));
    return () => {
      stopped = true;
      stream?.getTracks().forEach((tr) => tr.stop());
    };
  }, [on]);
  return (
    <div style={{ marginTop: '1em' }}>
      {on && (
        <div class="preview" role="group" aria-label={t.visit.you} style={{ maxWidth: '240px' }}>
          <video ref={video} playsInline muted autoPlay data-testid="waiting-self-view" />
        </div>
      )}
      <button class="quiet small" onClick={() => setOn(!on)}>
        {on ? t.visit.cameraOff : t.visit.cameraOn}
      </button>
    </div>
  );
}

/** How often the waiting room asks for the wait estimate (and whether the visit has begun). */
const WAITING_REFRESH_MS = 60_000;

function WaitingRoom({ t, lang, me, onAdmitted, onEnded, refresh }: { t: Strings; lang: Lang; me: Me; onAdmitted: () => void; onEnded: () => void; refresh: () => Promise<Me> }) {
  const moveOn = (m: Me) => {
    if (m.status === 'cancelled' || m.status === 'completed' || m.visitState === 'ended') onEnded();
    else if (m.visitState === 'admitted') onAdmitted();
  };
  const [status, setStatus] = useState(me.providerStatus);
  const [wait, setWait] = useState(me.estimatedWaitMinutes);
  const [chat, setChat] = useState<ChatMessage[]>([]);
  const [soon, setSoon] = useState(false);
  useEffect(() => {
    get<ChatMessage[]>('/api/patient/chat').then(setChat, () => undefined);
    const stop = connectEvents(
      'patient',
      (e) => {
        if (e.type === 'ready') {
          // After a reconnect, catch up on anything missed.
          void refresh().then((m) => {
            setStatus(m.providerStatus);
            setWait(m.estimatedWaitMinutes);
            moveOn(m);
          }).catch(() => undefined);
          get<ChatMessage[]>('/api/patient/chat').then(setChat, () => undefined);
        }
        if (e.type === 'status') setStatus(e.providerStatus);
        if (e.type === 'chat') setChat((l) => mergeMessage(l, e.message));
        if (e.type === 'admit-soon') setSoon(true);
        if (e.type === 'admitted') onAdmitted();
        if (e.type === 'ended') onEnded();
      },
      () => location.reload(),
    );
    // Also a safety net: were the event and the catch-up both missed, the patient still gets in.
    const timer = setInterval(
      () =>
        refresh()
          .then((m) => {
            setWait(m.estimatedWaitMinutes);
            moveOn(m);
          })
          .catch(() => undefined),
      WAITING_REFRESH_MS,
    );
    return () => {
      stop();
      clearInterval(timer);
    };
  }, []);
  const video = me.waitingRoomVideo;
  return (
    <>
      <div class="card" data-testid="waiting-room">
        <h1>{t.waitingTitle}</h1>
        <p>{t.waitingIntro(me.providerName)}</p>
        {soon && (
          <div class="success" role="alert">
            {t.admitSoon}
          </div>
        )}
        {status && (
          <div class="status-box" role="status" aria-live="polite" data-testid="provider-status">
            <div class="hint">{t.fromYourProvider}</div>
            {status}
          </div>
        )}
        <p style={{ marginTop: '1em' }}>
          {t.estimatedWait}: <strong>{wait === null ? '—' : wait === 0 ? t.soon : t.minutes(wait)}</strong>
        </p>
        <SelfView t={t} />
      </div>
      <div class="card" style={{ marginTop: '1em', padding: 0, display: 'flex', flexDirection: 'column', height: '340px' }}>
        <h2 style={{ padding: '0.9em 1em 0', margin: 0 }}>{t.chatTitle}</h2>
        <ChatPanel
          messages={chat}
          mine="patient"
          locale={lang === 'es' ? 'es-US' : 'en-US'}
          labels={{ title: t.chatTitle, placeholder: t.chatPlaceholder, send: t.send, empty: t.chatEmpty }}
          onSend={async (text) => {
            const m = await post<ChatMessage>('/api/patient/chat', { text });
            setChat((l) => mergeMessage(l, m));
          }}
        />
      </div>
      <PatientGuests lang={lang} />
      <div class="card" style={{ marginTop: '1em' }}>
        <h2>{t.whileYouWait}</h2>
        {video?.kind === 'file' && <video class="waiting-video" src={video.url} controls playsInline preload="metadata" />}
        {video?.kind === 'youtube' && (
          <iframe class="waiting-video" title={t.whileYouWait} src={`https://www.youtube-nocookie.com/embed/${encodeURIComponent(video.videoId)}`} allow="encrypted-media; picture-in-picture" referrerpolicy="no-referrer" />
        )}
        <ul>
          {t.tips.map((tip) => (
            <li key={tip}>{tip}</li>
          ))}
        </ul>
      </div>
    </>
  );
}

function PatientVisit({ t, lang, onLeft, onEnded }: { t: Strings; lang: Lang; onLeft: () => void; onEnded: () => void }) {
  return (
    <VisitWithChat
      who="patient"
      labels={{ ...t.visit, roles: visitRoleNames(lang) }}
      chatLabels={{ title: t.chatTitle, placeholder: t.chatPlaceholder, send: t.send, empty: t.chatEmpty }}
      locale={lang === 'es' ? 'es-US' : 'en-US'}
      onLeave={onLeft}
      onEnded={onEnded}
      onDropped={onLeft}
    />
  );
}

render(<App />, document.getElementById('app')!);

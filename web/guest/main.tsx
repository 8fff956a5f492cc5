// The invited guest's page (/g/<token>): an interpreter, a family member, a caregiver or another
// clinician. The link opens a session for this invitation only; then the same pre-call checks
// as patients, the wait for the provider to let them in (unless the clinic lets guests straight
// in), and the visit. English and Spanish.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post } from '../shared/api.js';
import { connectEvents } from '../shared/live-events.js';
import type { GuestRole } from '../shared/invite-dialog.js';
import { VisitWithChat } from '../shared/visit-with-chat.js';
import { browserSupported, Checks } from '../patient/checks.js';
import { Message, PortalFrame, Unsupported } from '../patient/portal-frame.js';
import { STRINGS, type Lang } from '../patient/i18n.js';
import { GUEST_STRINGS, visitRoleNames, type GuestStrings } from './i18n.js';

interface Me {
  invitationId: string;
  clinicName: string;
  providerName: string;
  role: GuestRole;
  displayName: string;
  state: 'invited' | 'waiting' | 'admitted' | 'left';
  visitState: 'none' | 'waiting' | 'admitted' | 'ended';
  language: Lang;
  needsAdmission: boolean;
}

type Screen = 'loading' | 'invalid' | 'unsupported' | 'checks' | 'waiting' | 'join' | 'visit' | 'left' | 'ended' | 'removed';

const token = location.pathname.split('/')[2] ?? '';

function screenFor(me: Me, checksDone: boolean): Screen {
  if (me.visitState === 'ended') return 'ended';
  if (me.state === 'admitted') return me.visitState === 'admitted' ? 'join' : 'waiting';
  if (me.state === 'waiting') return 'waiting';
  if (me.state === 'left') return 'left';
  return checksDone ? 'waiting' : 'checks';
}

function App() {
  const [lang, setLang] = useState<Lang>(navigator.language.startsWith('es') ? 'es' : 'en');
  const [clinicName, setClinicName] = useState('');
  const [screen, setScreen] = useState<Screen>('loading');
  const [me, setMe] = useState<Me | null>(null);
  const [error, setError] = useState<string | null>(null);
  const t = STRINGS[lang];
  const g = GUEST_STRINGS[lang];

  useEffect(() => {
    document.documentElement.lang = lang;
    document.title = lang === 'es' ? 'Visita por video' : 'Video visit';
  }, [lang]);

  /** What the server says now; a removed or expired guest lands on the right screen. */
  const refresh = async (): Promise<Me | null> => {
    try {
      const m = await get<Me>('/api/guest/me');
      setMe(m);
      return m;
    } catch (err) {
      if (err instanceof ApiError && err.code === 'revoked') setScreen('removed');
      else if (err instanceof ApiError && err.status === 401) setScreen('invalid');
      else setError(errorText(g, err));
      return null;
    }
  };

  useEffect(() => {
    // Even in a browser that cannot do the visit, the link says which clinic and which language.
    const supported = browserSupported();
    post<{ clinicName: string; language: Lang }>('/api/guest/open', { token }).then(
      async (r) => {
        setClinicName(r.clinicName);
        setLang(r.language);
        if (!supported) return setScreen('unsupported');
        const m = await refresh();
        if (m) setScreen(screenFor(m, false));
      },
      () => setScreen('invalid'),
    );
  }, []);

  // Live: let in, the visit starting or ending, removed.
  useEffect(() => {
    if (screen !== 'waiting' && screen !== 'join') return;
    const check = async () => {
      const m = await refresh();
      if (!m) return;
      if (m.visitState === 'ended') setScreen('ended');
      else if (screen === 'waiting' && m.state === 'admitted' && m.visitState === 'admitted') setScreen('visit');
    };
    const stop = connectEvents(
      'guest',
      (e) => {
        if (e.type === 'revoked') setScreen('removed');
        else if (e.type === 'ended') setScreen('ended');
        else if (e.type === 'ready' || e.type === 'admitted' || e.type === 'guests') void check();
      },
      () => void refresh(),
    );
    // A fallback for lost events.
    const timer = setInterval(() => void check(), 15_000);
    return () => {
      stop();
      clearInterval(timer);
    };
  }, [screen]);

  const ready = async () => {
    try {
      const m = await post<Me>('/api/guest/ready');
      setMe(m);
      setScreen(m.state === 'admitted' && m.visitState === 'admitted' ? 'visit' : 'waiting');
    } catch (err) {
      if (err instanceof ApiError && err.code === 'revoked') setScreen('removed');
      else if (err instanceof ApiError && err.code === 'visit_ended') setScreen('ended');
      else setError(errorText(g, err));
    }
  };

  const body = (() => {
    switch (screen) {
      case 'loading':
        return <p role="status">{t.loading}</p>;
      case 'invalid':
        return <Message title={g.linkInvalidTitle} text={g.linkInvalid} />;
      case 'unsupported':
        return <Unsupported t={t} />;
      case 'checks':
        return (
          <>
            {me && (
              <p class="status-box" data-testid="guest-welcome">
                {g.welcome(me.displayName, me.clinicName, g.roleArticle[me.role])}
              </p>
            )}
            <div style={{ marginTop: '1em' }}>
              <Checks t={t} apiBase="/api/guest" onDone={() => void ready()} />
            </div>
          </>
        );
      case 'waiting':
        return (
          <div class="card center" data-testid="guest-waiting-room">
            <h1>{g.waitingTitle}</h1>
            <p>{me?.state === 'admitted' ? g.waitingForStart(me.providerName) : g.waitingForAdmit(me?.providerName ?? '')}</p>
            <p class="muted" role="status">
              {g.waitingSignal}
            </p>
            <div class="spinner" aria-hidden="true" />
          </div>
        );
      case 'join':
        return (
          <div class="card center">
            <h1>{g.joinTitle}</h1>
            <button class="big" onClick={() => setScreen('visit')}>
              {g.join}
            </button>
          </div>
        );
      case 'visit':
        return (
          <GuestVisit
            lang={lang}
            g={g}
            onLeft={() => setScreen('left')}
            onEnded={() => setScreen('ended')}
            onGone={async () => {
              const m = await refresh();
              if (m) setScreen(m.visitState === 'ended' ? 'ended' : 'left');
            }}
            onRemoved={() => setScreen('removed')}
          />
        );
      case 'left':
        return (
          <div class="card center">
            <h1>{g.leftTitle}</h1>
            <p>{g.leftIntro}</p>
            <button class="big" onClick={() => void ready()}>
              {g.rejoin}
            </button>
          </div>
        );
      case 'ended':
        return <Message title={g.endedTitle} text={g.endedIntro} />;
      case 'removed':
        return <Message title={g.removedTitle} text={g.removedIntro} />;
    }
  })();

  if (screen === 'visit') return body;
  return (
    <PortalFrame clinicName={me?.clinicName ?? clinicName} lang={lang} t={t} onSwitchLang={() => setLang(lang === 'en' ? 'es' : 'en')} error={error}>
      {body}
    </PortalFrame>
  );
}

function errorText(g: GuestStrings, err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  return g.errors[code] ?? (err as Error).message ?? String(err);
}

function GuestVisit({ lang, g, onLeft, onEnded, onGone, onRemoved }: { lang: Lang; g: GuestStrings; onLeft: () => void; onEnded: () => void; onGone: () => void; onRemoved: () => void }) {
  const t = STRINGS[lang];
  return (
    <VisitWithChat
      who="guest"
      labels={{ ...t.visit, waitingForOthers: g.waitingForOthers, roles: visitRoleNames(lang) }}
      chatLabels={{ title: g.chatTitle, placeholder: t.chatPlaceholder, send: t.send, empty: g.chatEmpty }}
      locale={lang === 'es' ? 'es-US' : 'en-US'}
      onLeave={() => {
        void post('/api/guest/leave').catch(() => undefined);
        onLeft();
      }}
      onEnded={onEnded}
      onDropped={onGone}
      onEvent={(e) => e.type === 'revoked' && onRemoved()}
    />
  );
}

render(<App />, document.getElementById('app')!);

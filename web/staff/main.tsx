// The clinic's web app: sign-in, today's dashboard, week view, the visit, records, admin.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, get, post } from '../shared/api.js';
import { Login } from './login.js';
import { Dashboard } from './dashboard.js';
import { WeekPage } from './week-page.js';
import { VisitPage } from './visit-page.js';
import { RecordPage } from './record-page.js';
import { AdminPage } from './admin-page.js';

export interface Me {
  id: string;
  displayName: string;
  role: 'admin' | 'provider' | 'front_desk';
  seesAllSchedules: boolean;
  clinic: { id: string; name: string; timeZone: string };
}

export function navigate(path: string): void {
  history.pushState(null, '', path);
  dispatchEvent(new PopStateEvent('popstate'));
}

/** Signals that the session ended (idle timeout, logout elsewhere): back to sign-in. */
export function sessionEnded(): void {
  dispatchEvent(new CustomEvent('televisit:session-ended'));
}

export function handleError(err: unknown, setError: (m: string) => void): void {
  if (err instanceof ApiError && err.status === 401) return sessionEnded();
  setError((err as Error).message);
}

const ROLE_NAMES = { admin: 'Admin', provider: 'Provider', front_desk: 'Front desk' } as const;

function App() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);
  const [path, setPath] = useState(location.pathname);
  const [endedMessage, setEndedMessage] = useState<string | null>(null);

  useEffect(() => {
    const onPop = () => setPath(location.pathname);
    const onEnded = () => {
      setMe(null);
      setEndedMessage('Your session ended after 15 minutes without activity. Please sign in again.');
    };
    addEventListener('popstate', onPop);
    addEventListener('televisit:session-ended', onEnded);
    get<Me>('/api/auth/me').then(setMe, () => setMe(null));
    return () => {
      removeEventListener('popstate', onPop);
      removeEventListener('televisit:session-ended', onEnded);
    };
  }, []);

  // Activity keeps the session alive; a quiet screen does not (the server ends it after 15 minutes).
  useEffect(() => {
    if (!me) return;
    let last = 0;
    const active = () => {
      if (Date.now() - last < 60_000) return;
      last = Date.now();
      post('/api/auth/ping').catch((err) => err instanceof ApiError && err.status === 401 && sessionEnded());
    };
    for (const ev of ['keydown', 'pointerdown', 'scroll']) addEventListener(ev, active, { passive: true });
    return () => {
      for (const ev of ['keydown', 'pointerdown', 'scroll']) removeEventListener(ev, active);
    };
  }, [me]);

  if (me === undefined) return <p class="page muted">Loading…</p>;
  if (me === null) {
    return (
      <Login
        notice={endedMessage}
        onSignedIn={async () => {
          setEndedMessage(null);
          setMe(await get<Me>('/api/auth/me'));
        }}
      />
    );
  }

  const visit = path.match(/^\/staff\/visit\/([\w-]+)$/);
  if (visit) return <VisitPage me={me} appointmentId={visit[1]!} />;
  const record = path.match(/^\/staff\/record\/([\w-]+)$/);

  const nav = (to: string, label: string) => (
    <a
      href={to}
      aria-current={path === to ? 'page' : undefined}
      onClick={(e) => {
        e.preventDefault();
        navigate(to);
      }}
    >
      {label}
    </a>
  );
  return (
    <>
      <header class="topbar">
        <span class="brand">
          Televisit<small>{me.clinic.name}</small>
        </span>
        <nav aria-label="Main">
          {nav('/staff', 'Today')}
          {nav('/staff/week', 'Week')}
          {me.role === 'admin' && nav('/staff/admin', 'Admin')}
        </nav>
        <span class="spacer" />
        <span class="who">
          {me.displayName} <span class="muted" style={{ color: '#d4e6ec' }}>· {ROLE_NAMES[me.role]}</span>
        </span>
        <button
          class="quiet"
          onClick={async () => {
            await post('/api/auth/logout').catch(() => undefined);
            setMe(null);
            navigate('/staff');
          }}
        >
          Sign out
        </button>
      </header>
      {record ? <RecordPage me={me} appointmentId={record[1]!} /> : path === '/staff/week' ? <WeekPage me={me} /> : path === '/staff/admin' ? <AdminPage me={me} /> : <Dashboard me={me} />}
    </>
  );
}

render(<App />, document.getElementById('app')!);

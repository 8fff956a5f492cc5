import { useState } from 'preact/hooks';
import { post } from '../shared/api.js';

type Stage = 'password' | 'totp' | 'enroll';

export function Login(props: { notice: string | null; onSignedIn: () => void }) {
  const [stage, setStage] = useState<Stage>('password');
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [code, setCode] = useState('');
  const [enroll, setEnroll] = useState<{ secret: string; uri: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (err) {
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main class="page" style={{ maxWidth: '440px', paddingTop: '10vh' }}>
      <div class="card">
        <h1>Televisit</h1>
        <p class="muted">Sign in to your clinic</p>
        {props.notice && <div class="notice" role="status">{props.notice}</div>}
        {error && <div class="error" role="alert">{error}</div>}
        {stage === 'password' && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void run(async () => {
                const r = await post<{ stage: 'active' | 'totp' | 'enroll' }>('/api/auth/login', { email, password });
                if (r.stage === 'active') return props.onSignedIn();
                if (r.stage === 'enroll') setEnroll(await post('/api/auth/totp/enroll'));
                setStage(r.stage);
              });
            }}
          >
            <label for="email">Email</label>
            <input id="email" type="email" autocomplete="username" required value={email} onInput={(e) => setEmail((e.target as HTMLInputElement).value)} />
            <label for="password">Password</label>
            <input id="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword((e.target as HTMLInputElement).value)} />
            <div class="actions">
              <button type="submit" disabled={busy} style={{ width: '100%' }}>
                Sign in
              </button>
            </div>
          </form>
        )}
        {stage !== 'password' && (
          <form
            onSubmit={(e) => {
              e.preventDefault();
              void run(async () => {
                await post(stage === 'totp' ? '/api/auth/totp' : '/api/auth/totp/confirm', { code });
                props.onSignedIn();
              });
            }}
          >
            {stage === 'enroll' && enroll && (
              <>
                <h2>Set up two-step sign-in</h2>
                <p>Admins sign in with a code from an authenticator app. Add this key to your app (Google Authenticator, Microsoft Authenticator, 1Password…):</p>
                <p>
                  <code data-testid="totp-secret" style={{ fontSize: '1.1rem', letterSpacing: '0.08em', wordBreak: 'break-all' }}>
                    {enroll.secret.replace(/(.{4})/g, '$1 ').trim()}
                  </code>
                </p>
                <p class="hint">
                  Or open <a href={enroll.uri}>this setup link</a> on the phone that has the app.
                </p>
              </>
            )}
            <label for="code">6-digit code from your authenticator app</label>
            <input id="code" inputMode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxLength={6} required value={code} onInput={(e) => setCode((e.target as HTMLInputElement).value)} />
            <div class="actions">
              <button type="submit" disabled={busy} style={{ width: '100%' }}>
                Continue
              </button>
            </div>
          </form>
        )}
      </div>
    </main>
  );
}

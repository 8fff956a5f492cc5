// Inviting a guest to a visit (an interpreter, a family member, a caregiver, another clinician):
// role, name, an optional mobile number to text the link to; then the link with a Copy button.
// Used by the provider in the visit screen (English) and by the patient (English or Spanish).
import { useEffect, useRef, useState } from 'preact/hooks';
import { useDialog } from './use-dialog.js';

export type GuestRole = 'interpreter' | 'family' | 'caregiver' | 'clinician';

export interface GuestView {
  id: string;
  role: GuestRole;
  displayName: string;
  phoneLast4: string | null;
  state: 'invited' | 'waiting' | 'admitted' | 'left';
  createdBy: 'staff' | 'patient';
  createdAt: string;
  admittedAt: string | null;
  revokedAt: string | null;
  link: string | null;
  precall: { browser: string; camera: string; microphone: string; network: string } | null;
}

export interface InviteLabels {
  title: string;
  intro: string;
  role: string;
  name: string;
  phone: string;
  phoneHint: string;
  create: string;
  cancel: string;
  readyTitle: string;
  linkFor: (name: string) => string;
  copy: string;
  copied: string;
  texted: (last4: string) => string;
  onlyThem: string;
  done: string;
  roles: Record<GuestRole, string>;
}

/** Copies text, falling back to selecting it in an input when the clipboard API is unavailable. */
export async function copyText(text: string, input?: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    if (!input) return false;
    input.select();
    return document.execCommand('copy');
  }
}

export function InviteDialog(props: {
  labels: InviteLabels;
  roles: GuestRole[];
  create: (body: { role: GuestRole; displayName: string; phone: string | null }) => Promise<GuestView>;
  errorText: (err: unknown) => string;
  onClose: (created: GuestView | null) => void;
}) {
  const L = props.labels;
  const [role, setRole] = useState<GuestRole>(props.roles[0]!);
  const [name, setName] = useState('');
  const [phone, setPhone] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [created, setCreated] = useState<GuestView | null>(null);
  const [copied, setCopied] = useState(false);
  const linkInput = useRef<HTMLInputElement>(null);
  const doneButton = useRef<HTMLButtonElement>(null);

  const dialog = useDialog<HTMLDivElement>(() => props.onClose(null));
  useEffect(() => {
    if (created) doneButton.current?.focus();
  }, [created]);

  return (
    <div class="overlay" ref={dialog} role="dialog" aria-modal="true" aria-labelledby="invite-title" data-testid="invite-dialog">
      {!created ? (
        <form
          class="dialog invite-dialog"
          onSubmit={async (e) => {
            e.preventDefault();
            setBusy(true);
            setError(null);
            try {
              setCreated(await props.create({ role, displayName: name.trim(), phone: phone.trim() || null }));
            } catch (err) {
              setError(props.errorText(err));
            } finally {
              setBusy(false);
            }
          }}
        >
          <h2 id="invite-title">{L.title}</h2>
          <p class="muted">{L.intro}</p>
          {error && (
            <div class="error" role="alert">
              {error}
            </div>
          )}
          <label for="invite-role">{L.role}</label>
          <select id="invite-role" value={role} onChange={(e) => setRole((e.target as HTMLSelectElement).value as GuestRole)}>
            {props.roles.map((r) => (
              <option key={r} value={r}>
                {L.roles[r]}
              </option>
            ))}
          </select>
          <label for="invite-name">{L.name}</label>
          <input id="invite-name" required maxLength={80} autocomplete="off" value={name} onInput={(e) => setName((e.target as HTMLInputElement).value)} />
          <label for="invite-phone">{L.phone}</label>
          <input id="invite-phone" type="tel" inputMode="tel" autocomplete="off" maxLength={40} aria-describedby="invite-phone-hint" value={phone} onInput={(e) => setPhone((e.target as HTMLInputElement).value)} />
          <p class="hint" id="invite-phone-hint" style={{ margin: '0.3em 0 0' }}>
            {L.phoneHint}
          </p>
          <div class="actions">
            <button type="submit" disabled={busy || !name.trim()}>
              {L.create}
            </button>
            <button type="button" class="secondary" onClick={() => props.onClose(null)}>
              {L.cancel}
            </button>
          </div>
        </form>
      ) : (
        <div class="dialog invite-dialog">
          <h2 id="invite-title">{L.readyTitle}</h2>
          <p>
            <strong>{created.displayName}</strong> <span class="chip info">{L.roles[created.role]}</span>
          </p>
          <label for="invite-link">{L.linkFor(created.displayName)}</label>
          <div class="link-box">
            <input id="invite-link" ref={linkInput} readOnly value={created.link ?? ''} data-testid="invite-link" onFocus={(e) => (e.target as HTMLInputElement).select()} />
            <button
              type="button"
              class="secondary"
              onClick={async () => {
                setCopied(await copyText(created.link ?? '', linkInput.current));
              }}
            >
              {copied ? L.copied : L.copy}
            </button>
          </div>
          {created.phoneLast4 && (
            <div class="success" role="status">
              {L.texted(created.phoneLast4)}
            </div>
          )}
          <p class="hint">{L.onlyThem}</p>
          <div class="actions">
            <button type="button" ref={doneButton} onClick={() => props.onClose(created)}>
              {L.done}
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

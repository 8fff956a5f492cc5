// The frame around every portal screen that patients and invited guests see outside the visit:
// the clinic's name, the language switch, an error line, and the privacy line; plus the two
// simple screens both use (a message, and "this browser cannot do the visit").
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { Icon } from '../shared/icons.js';
import { recommendedBrowser } from './checks.js';
import type { Lang, Strings } from './i18n.js';

export function PortalFrame(props: { clinicName: string; lang: Lang; t: Strings; onSwitchLang: () => void; error: string | null; top?: ComponentChildren; children: ComponentChildren }) {
  const { t, lang } = props;
  return (
    <div class="patient">
      <header class="clinic">
        <span class="name">{props.clinicName}</span>
        <button class="secondary small" lang={lang === 'en' ? 'es' : 'en'} aria-label={t.switchToLabel} onClick={props.onSwitchLang}>
          <Icon name="globe" size={18} /> {t.switchTo}
        </button>
      </header>
      {props.top}
      {props.error && (
        <div class="error" role="alert">
          {props.error}
        </div>
      )}
      <main>{props.children}</main>
      <p class="muted center" style={{ marginTop: '1.5em', fontSize: '0.9rem' }}>
        <Icon name="lock" size={16} /> {t.privacy}
      </p>
    </div>
  );
}

export function Message({ title, text }: { title: string; text: string }) {
  return (
    <div class="card center">
      <h1>{title}</h1>
      <p>{text}</p>
    </div>
  );
}

/** This browser cannot do the visit: which one to use on this device, and the link to copy. */
export function Unsupported({ t }: { t: Strings }) {
  const [copied, setCopied] = useState(false);
  return (
    <div class="card">
      <h1>{t.unsupportedTitle}</h1>
      <p>{t.unsupported(recommendedBrowser())}</p>
      <input readOnly value={location.href} aria-label={t.linkLabel} onFocus={(e) => (e.target as HTMLInputElement).select()} />
      <div class="actions">
        <button onClick={() => navigator.clipboard?.writeText(location.href).then(() => setCopied(true))}>{copied ? t.copied : t.copyLink}</button>
      </div>
    </div>
  );
}

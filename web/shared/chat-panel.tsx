import { useEffect, useRef, useState } from 'preact/hooks';

export interface ChatMessage {
  id: number;
  from: 'staff' | 'patient' | 'guest';
  name: string;
  body: string;
  at: string;
}

export interface ChatLabels {
  title: string;
  placeholder: string;
  send: string;
  empty: string;
}

/** A chat thread: newest at the bottom, kept scrolled, announced to screen readers. */
export function ChatPanel(props: { messages: ChatMessage[]; mine: ChatMessage['from']; onSend: (text: string) => Promise<void>; labels: ChatLabels; locale?: string }) {
  const [text, setText] = useState('');
  const [error, setError] = useState<string | null>(null);
  const log = useRef<HTMLDivElement>(null);
  useEffect(() => {
    log.current?.scrollTo({ top: log.current.scrollHeight });
  }, [props.messages.length]);
  return (
    <div class="chat">
      <div class="chat-log" ref={log} role="log" aria-live="polite" aria-label={props.labels.title}>
        {props.messages.length === 0 && <p class="muted center">{props.labels.empty}</p>}
        {props.messages.map((m) => (
          <div key={m.id} class={`bubble ${m.from === props.mine ? 'mine' : ''}`} data-testid="chat-message">
            <span class="who">
              {m.name} · {new Date(m.at).toLocaleTimeString(props.locale ?? 'en-US', { hour: 'numeric', minute: '2-digit' })}
            </span>
            {m.body}
          </div>
        ))}
      </div>
      {error && <div class="error" role="alert">{error}</div>}
      <form
        onSubmit={async (e) => {
          e.preventDefault();
          const t = text.trim();
          if (!t) return;
          try {
            await props.onSend(t);
            setText('');
            setError(null);
          } catch (err) {
            setError((err as Error).message);
          }
        }}
      >
        <label class="sr-only" for="chat-input">{props.labels.placeholder}</label>
        <input id="chat-input" value={text} maxLength={1000} placeholder={props.labels.placeholder} autocomplete="off" onInput={(e) => setText((e.target as HTMLInputElement).value)} />
        <button type="submit">{props.labels.send}</button>
      </form>
    </div>
  );
}

/** Adds a message once (live events and the sender's own response can both deliver it). */
export function mergeMessage(list: ChatMessage[], m: ChatMessage): ChatMessage[] {
  return list.some((x) => x.id === m.id) ? list : [...list, m].sort((a, b) => a.id - b.id);
}

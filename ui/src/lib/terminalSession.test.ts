import { describe, expect, it } from 'vitest';
import type { TerminalOutput } from './bindings/TerminalOutput';
import type { ApiError, StreamCallbacks } from './ipc';
import { connectTerminal, type TermLike, type TerminalBackend } from './terminalSession';

/** A terminal that records what is written and lets the test type and resize. */
function fakeTerm(rows = 24, cols = 80) {
  const data: ((d: string) => void)[] = [];
  const resize: ((s: { rows: number; cols: number }) => void)[] = [];
  const written: string[] = [];
  const term: TermLike = {
    rows,
    cols,
    write: (d) => void written.push(d),
    onData: (l) => (data.push(l), { dispose: () => void data.splice(data.indexOf(l), 1) }),
    onResize: (l) => (resize.push(l), { dispose: () => void resize.splice(resize.indexOf(l), 1) }),
  };
  return { term, written, type: (d: string) => data.forEach((l) => l(d)), resize: (r: number, c: number) => resize.forEach((l) => l({ rows: r, cols: c })), listeners: () => data.length + resize.length };
}

function fakeBackend(failOpen?: ApiError) {
  const calls: string[] = [];
  let on: StreamCallbacks<TerminalOutput> | null = null;
  const backend: TerminalBackend = {
    open: async (rows, cols, callbacks) => {
      calls.push(`open ${rows}x${cols}`);
      if (failOpen) throw failOpen;
      on = callbacks;
      return { id: 7, cancel: async () => void calls.push('cancel') };
    },
    input: async (id, data) => void calls.push(`input ${id} ${JSON.stringify(data)}`),
    resize: async (id, rows, cols) => void calls.push(`resize ${id} ${rows}x${cols}`),
  };
  return { backend, calls, output: (s: string) => on?.items([{ data: s }]), end: () => on?.end?.() };
}

const quiet = { error: () => {}, end: () => {} };

describe('a terminal session', () => {
  it('opens at the terminal size, writes output, sends keys and sizes', async () => {
    const t = fakeTerm(30, 100);
    const b = fakeBackend();
    const c = await connectTerminal(t.term, b.backend, quiet, 'ended');
    expect(c.id).toBe(7);
    b.output('$ ');
    expect(t.written).toEqual(['$ ']);
    t.type('ls\r');
    await Promise.resolve();
    t.resize(40, 120);
    expect(b.calls).toEqual(['open 30x100', 'input 7 "ls\\r"', 'resize 7 40x120']);
  });

  it('marks the end and sends nothing after it', async () => {
    const t = fakeTerm();
    const b = fakeBackend();
    let ended = 0;
    await connectTerminal(t.term, b.backend, { error: () => {}, end: () => ended++ }, 'session ended');
    b.end();
    expect(ended).toBe(1);
    expect(t.written.join('')).toContain('[session ended]');
    t.type('x');
    t.resize(10, 10);
    await Promise.resolve();
    expect(b.calls).toEqual(['open 24x80']);
  });

  it('close stops listening and cancels the stream', async () => {
    const t = fakeTerm();
    const b = fakeBackend();
    const c = await connectTerminal(t.term, b.backend, quiet, 'ended');
    expect(t.listeners()).toBe(2);
    await c.close();
    expect(t.listeners()).toBe(0);
    expect(b.calls).toEqual(['open 24x80', 'cancel']);
  });

  it('a refused open rejects with the core error and leaves nothing connected', async () => {
    const off: ApiError = { code: 'host_terminal_off', message: 'The terminal in the app is turned off.', hint: 'Settings → App', fields: [] };
    const t = fakeTerm();
    const b = fakeBackend(off);
    await expect(connectTerminal(t.term, b.backend, quiet, 'ended')).rejects.toEqual(off);
    expect(t.listeners()).toBe(0);
  });
});

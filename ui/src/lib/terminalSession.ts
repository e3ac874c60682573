// One terminal's wiring, shared by the container terminal (Containers → a container → Terminal)
// and the Learn panel's terminal on this computer: the core's output is written to xterm.js,
// keystrokes go back in the order typed, size changes follow the window. Only how the session
// is opened differs; input, resize and cancel are the same commands for both.
import type { TerminalOutput } from './bindings/TerminalOutput';
import { toApiError, type ApiError, type StreamCallbacks, type StreamHandle } from './ipc';
import { orderedInput } from './orderedInput';

/** What the wiring needs of an xterm.js Terminal (a fake in tests). */
export interface TermLike {
  readonly rows: number;
  readonly cols: number;
  write(data: string): void;
  onData(listener: (data: string) => void): { dispose(): void };
  onResize(listener: (size: { rows: number; cols: number }) => void): { dispose(): void };
}

/** How a kind of terminal is opened, typed into and resized (the core's commands). */
export interface TerminalBackend {
  open(rows: number, cols: number, on: StreamCallbacks<TerminalOutput>): Promise<StreamHandle>;
  input(id: number, data: string): Promise<unknown>;
  resize(id: number, rows: number, cols: number): Promise<unknown>;
}

export interface TerminalEvents {
  error(e: ApiError): void;
  /** The session ended (the shell exited, or it was closed); `endMark` was written. */
  end(): void;
}

/** A connected terminal; `close()` ends the session and stops listening. */
export interface Connected {
  readonly id: number;
  close(): Promise<void>;
}

/**
 * Opens a session at the terminal's size and connects it: output is written as it comes,
 * keystrokes are sent in order, size changes are passed on. Rejects with an ApiError when the
 * session cannot be opened (nothing stays connected then).
 */
export async function connectTerminal(term: TermLike, backend: TerminalBackend, events: TerminalEvents, endMark: string): Promise<Connected> {
  let ended = false;
  let handle: StreamHandle;
  try {
    handle = await backend.open(term.rows, term.cols, {
      items: (chunks) => {
        for (const c of chunks) term.write(c.data);
      },
      error: (e) => events.error(e),
      end: () => {
        ended = true;
        term.write(`\r\n\x1b[2m[${endMark}]\x1b[0m\r\n`);
        events.end();
      },
    });
  } catch (e) {
    throw toApiError(e);
  }
  const id = handle.id;
  const input = orderedInput((data) => (ended ? Promise.resolve() : backend.input(id, data)), (e) => events.error(toApiError(e)));
  const listeners = [
    term.onData(input),
    term.onResize(({ rows, cols }) => {
      if (!ended) void backend.resize(id, rows, cols).catch(() => {});
    }),
  ];
  return {
    id,
    async close() {
      for (const l of listeners) l.dispose();
      await handle.cancel();
    },
  };
}

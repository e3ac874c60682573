// The IPC underneath the generated command functions (commands.ts): a call, or a stream whose
// items arrive on a Channel and which is cancelled with `stream_cancel`. Only commands.ts uses
// `call` and `stream`; everything else calls the typed functions there.
import { invoke, Channel } from '@tauri-apps/api/core';
import type { ApiError } from './bindings/ApiError';
import type { ErrorCode } from './bindings/ErrorCode';
import type { StreamMsg } from './bindings/StreamMsg';
import type { CommandName } from './commands';

export type { ApiError };

/** Normalises anything thrown by `invoke` into an ApiError. */
export function toApiError(e: unknown): ApiError {
  if (e && typeof e === 'object' && 'code' in e && 'message' in e) {
    const o = e as Partial<ApiError>;
    // the core sends codes of its closed set (ErrorCode)
    return { code: o.code as ErrorCode, message: String(o.message), hint: String(o.hint ?? ''), fields: o.fields ?? [] };
  }
  const message = e instanceof Error ? e.message : String(e);
  return { code: 'ui', message, hint: 'Try again; if it keeps happening, restart Gantry.', fields: [] };
}

export function isApiError(e: unknown): e is ApiError {
  return !!e && typeof e === 'object' && 'code' in e && 'hint' in e;
}

export function inTauri(): boolean {
  return typeof window !== 'undefined' && '__TAURI_INTERNALS__' in window;
}

/** Calls a command; rejects with an ApiError. */
export async function call<T>(cmd: CommandName, args: Record<string, unknown>): Promise<T> {
  try {
    return await invoke<T>(cmd, args);
  } catch (e) {
    throw toApiError(e);
  }
}

export interface StreamHandle {
  id: number;
  cancel(): Promise<void>;
}

export interface StreamCallbacks<T> {
  items(items: T[]): void;
  error?(e: ApiError): void;
  end?(): void;
}

/** Starts a streaming command; items arrive in batches until `end`, an error, or `cancel()`. */
export async function stream<T>(cmd: CommandName, args: Record<string, unknown>, cb: StreamCallbacks<T>): Promise<StreamHandle> {
  const channel = new Channel<StreamMsg<T>>();
  let ended = false;
  channel.onmessage = (msg) => {
    switch (msg.kind) {
      case 'items':
        cb.items(msg.items);
        break;
      case 'error':
        cb.error?.(msg.error);
        break;
      case 'end':
        ended = true;
        cb.end?.();
        break;
    }
  };
  const id = await call<number>(cmd, { ...args, channel });
  return {
    id,
    async cancel() {
      if (!ended) {
        ended = true;
        await call<boolean>('stream_cancel', { id }).catch(() => false);
      }
    },
  };
}

/**
 * Keystrokes for a terminal must reach the process in the order they were typed. Each send is an
 * IPC call, and calls in flight can overtake each other, so only one send runs at a time; what is
 * typed meanwhile is joined and sent next, in one call.
 */
export function orderedInput(send: (data: string) => Promise<unknown>, onError: (e: unknown) => void): (data: string) => void {
  let pending = '';
  let busy = false;
  async function flush() {
    busy = true;
    while (pending) {
      const data = pending;
      pending = '';
      try {
        await send(data);
      } catch (e) {
        pending = '';
        onError(e);
      }
    }
    busy = false;
  }
  return (data: string) => {
    pending += data;
    if (!busy) void flush();
  };
}

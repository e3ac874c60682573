// Workshop bundles the desktop was asked to open (dropped on the window, "Open with", a second
// launch): the core checks each path; a bundle opens the Workshops panel, which imports it, and a
// file that is not one is said in a toast. Followed for the app's whole life (the stream ends
// when the engine changes: it is followed again).
import type { OpenedBundle } from '../bindings/OpenedBundle';
import { workshopOpened } from '../commands';
import type { StreamHandle } from '../ipc';
import { nav } from './nav.svelte';
import { toasts } from './toasts.svelte';

class OpenedBundles {
  /** The last bundle to import, with a number so the same file opened twice imports twice. */
  request = $state<{ path: string; seq: number } | null>(null);
  private handle: StreamHandle | null = null;
  private seq = 0;

  /** Applies what the core sent: a bundle to import, or why a file is not one. */
  receive(items: OpenedBundle[]) {
    for (const item of items) {
      if (item.error) {
        toasts.show(`${item.error.message}. ${item.error.hint}`, 'error');
      } else {
        this.request = { path: item.path, seq: ++this.seq };
        nav.go('workshops');
      }
    }
  }

  async follow() {
    if (this.handle) return;
    try {
      this.handle = await workshopOpened({
        items: (items) => this.receive(items),
        end: () => {
          this.handle = null;
          setTimeout(() => void this.follow(), 1000);
        },
      });
    } catch {
      this.handle = null;
      setTimeout(() => void this.follow(), 5000);
    }
  }
}

export const opened = new OpenedBundles();

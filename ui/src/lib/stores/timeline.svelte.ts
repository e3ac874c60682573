// The app's one engine-events stream, each event explained in the UI's language: it feeds the
// Events timeline and marks resource lists stale.
import { systemEventsExplained } from '../commands';
import { locale, type Lang } from '../i18n/index.svelte';
import { rawEvent } from '../insight/events';
import { toApiError, type ApiError, type StreamHandle } from '../ipc';
import { staleResources } from './containers';
import { Timeline, type TimelineEntry } from './events';
import { resources } from './resources.svelte';

class TimelineStore {
  /** Newest first. */
  entries = $state.raw<TimelineEntry[]>([]);
  error = $state<ApiError | null>(null);
  private log = new Timeline();
  private handle: StreamHandle | null = null;
  /** The language the entries are explained in. */
  lang: Lang | null = null;

  get subscribed(): boolean {
    return this.handle !== null;
  }

  /** Starts the stream (with the last 15 minutes, so the timeline is not empty on open). */
  async subscribe() {
    if (this.handle) return;
    try {
      this.log = new Timeline();
      const since = Math.floor(Date.now() / 1000) - 15 * 60;
      this.lang = locale.lang;
      this.handle = await systemEventsExplained({ resources: [], container: null, since }, this.lang, {
        items: (evs) => {
          this.log.addExplained(evs);
          this.entries = this.log.entries;
          for (const ev of evs) resources.markStale(staleResources(rawEvent(ev)));
        },
        error: (e) => {
          this.error = e;
        },
        end: () => {
          this.handle = null;
        },
      });
      this.error = null;
    } catch (e) {
      this.error = toApiError(e);
    }
  }

  /** Starts over (the engine changed or came back). */
  async resubscribe() {
    await this.handle?.cancel();
    this.handle = null;
    await this.subscribe();
  }
}

export const timeline = new TimelineStore();

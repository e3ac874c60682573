// The compose view's state: the open project, the compose command running (with its live
// output), and the project's logs.
import { composeLogs, composeOpen, composeProjectOpen, composeRun } from '../commands';
import { toApiError, type ApiError, type StreamHandle } from '../ipc';
import type { ComposeAction } from '../bindings/ComposeAction';
import type { ComposeLogLine } from '../bindings/ComposeLogLine';
import type { ComposeProject } from '../bindings/ComposeProject';
import { appendCapped, cleanPath, commandLabel, toggled, toggledProfile } from './compose';

/** Lines of each container's past output the logs start with. */
export const LOG_TAIL = 500;


class ComposeView {
  path = $state('');
  project = $state<ComposeProject | null>(null);
  opening = $state(false);
  error = $state<ApiError | null>(null);
  /** The compose command running now, if any (its `commandLabel`). */
  running = $state<string | null>(null);
  /** The last command run (its `commandLabel`). */
  lastVerb = $state<string | null>(null);
  /** The last command's output, and how it ended. */
  output = $state<string[]>([]);
  outcome = $state<'ok' | 'failed' | 'cancelled' | null>(null);
  logs = $state<ComposeLogLine[]>([]);
  logsEnded = $state(true);
  /** Services whose log lines are hidden (the reader clicked them off). */
  hiddenServices = $state<ReadonlySet<string>>(new Set());
  private run: StreamHandle | null = null;
  private logHandle: StreamHandle | null = null;
  /** Which follow of the logs is the current one: a replaced follow's late lines and end are ignored. */
  private logFollow = 0;
  private cancelled = false;

  /** Opens a compose file or folder the user named. */
  async open(path = this.path) {
    await this.load(() => composeOpen(cleanPath(path)));
  }

  /** Opens a project found on the engine (from the Containers panel). */
  async openProject(name: string) {
    await this.load(() => composeProjectOpen(name));
  }

  private async load(get: () => Promise<ComposeProject>) {
    this.opening = true;
    this.error = null;
    try {
      const project = await get();
      await this.close();
      this.project = project;
      this.path = project.target.files[0] ?? '';
      await this.followLogs();
    } catch (e) {
      this.error = toApiError(e);
    } finally {
      this.opening = false;
    }
  }

  /** Runs up, stop, restart or down on the project, or up, stop or restart on some `services`; the output streams into `output`. */
  async act(action: ComposeAction, services: string[] = []) {
    const project = this.project;
    if (!project || this.running) return;
    this.running = commandLabel(action, services);
    this.lastVerb = this.running;
    this.output = [];
    this.outcome = null;
    this.error = null;
    this.cancelled = false;
    try {
      this.run = await composeRun(project.target, action, services, {
        items: (lines) => (this.output = appendCapped(this.output, lines.map((l) => l.text))),
        error: (e) => {
          this.error = e;
          this.outcome = 'failed';
        },
        end: () => {
          this.outcome ??= this.cancelled ? 'cancelled' : 'ok';
          this.running = null;
          this.run = null;
          // A project that came up has new containers whose logs to follow.
          if (action.kind === 'up' || action.kind === 'restart' || this.logsEnded) this.followLogs();
        },
      });
    } catch (e) {
      this.error = toApiError(e);
      this.outcome = 'failed';
      this.running = null;
    }
  }

  /** Interrupts the running compose command. */
  async cancel() {
    this.cancelled = true;
    await this.run?.cancel();
    this.outcome = 'cancelled';
    this.running = null;
    this.run = null;
  }

  /** (Re)starts following the project's logs. */
  async followLogs() {
    const project = this.project;
    if (!project) return;
    const follow = ++this.logFollow;
    const current = () => follow === this.logFollow;
    await this.logHandle?.cancel();
    this.logHandle = null;
    if (!current()) return;
    this.logs = [];
    this.logsEnded = false;
    try {
      const handle = await composeLogs(project.target, LOG_TAIL, {
        items: (lines) => current() && (this.logs = appendCapped(this.logs, lines)),
        error: (e) => current() && (this.error = e),
        end: () => current() && (this.logsEnded = true),
      });
      if (current()) this.logHandle = handle;
      else await handle.cancel();
    } catch (e) {
      if (!current()) return;
      this.error = toApiError(e);
      this.logsEnded = true;
    }
  }

  /** Chooses `profile` for the next Up, or leaves it out. */
  toggleProfile(profile: string) {
    if (this.project) this.project.target.profiles = toggledProfile(this.project.target.profiles, profile);
  }

  /** Shows the log lines of `service` again, or hides them. */
  toggleService(service: string) {
    this.hiddenServices = toggled(this.hiddenServices, service);
  }

  /** Stops the streams and forgets the project. */
  async close() {
    this.logFollow++;
    await this.logHandle?.cancel();
    this.logHandle = null;
    this.project = null;
    this.output = [];
    this.outcome = null;
    this.logs = [];
    this.logsEnded = true;
    this.hiddenServices = new Set();
  }
}

export const composeView = new ComposeView();

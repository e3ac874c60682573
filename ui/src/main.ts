import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { locale } from './lib/i18n/index.svelte';
import { engine } from './lib/stores/engine.svelte';
import { imageInside } from './lib/stores/insight.svelte';
import { nav } from './lib/stores/nav.svelte';
import { perf } from './lib/stores/perf';
import { prefs } from './lib/stores/prefs.svelte';
import { resources } from './lib/stores/resources.svelte';
import { timeline } from './lib/stores/timeline.svelte';
import { toasts } from './lib/stores/toasts.svelte';

// The e2e tests and the render benchmark read state and timings from here.
(window as unknown as Record<string, unknown>).__gantry = { nav, toasts, engine, resources, timeline, prefs, locale, perf, imageInside };

const target = document.getElementById('app');
if (!target) throw new Error('no #app element');
export default mount(App, { target });

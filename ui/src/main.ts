import './app.css';
import { mount } from 'svelte';
import App from './App.svelte';
import { app, perf } from './lib/stores/app.svelte';

// The e2e tests and the render benchmark read state and timings from here.
(window as unknown as Record<string, unknown>).__gantry = { app, perf };

const target = document.getElementById('app');
if (!target) throw new Error('no #app element');
export default mount(App, { target });

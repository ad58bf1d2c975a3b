import { mount } from 'svelte';
import './app.css';
import App from './App.svelte';
import { locale } from './lib/i18n.svelte';

document.documentElement.lang = locale.lang;
const target = document.getElementById('app');
if (!target) throw new Error('no #app element');
export default mount(App, { target });

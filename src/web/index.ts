/** The web app: pages over the same functions the CLI uses. */
export { createWebApp, type WebApp, type WebOptions } from './app.js';
export { startServer, parseListen, loginUrl, type Listen, type RunningServer } from './server.js';
export { defaultServices, type WebServices } from './services.js';
export { Snapshot } from './snapshot.js';
export { JobRegistry } from './jobs.js';
export { makeUrl } from './urls.js';

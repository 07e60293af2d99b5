import { describe, expect, it } from 'vitest';
import { routeFromAddressTest } from '../../src/tlsrpt/route.js';
import { cpanelEventName } from '../../src/alerts/channels/cpanel.js';

// `exim -bt` answers as Exim 4 prints them (the lab test checks the same against real Exim).
describe('the TLS-RPT route from exim -bt', () => {
  const a = 'tlsrpt@server.example';
  it('ok only when our router hands it to our transport', () => {
    expect(routeFromAddressTest(a, 0, `${a}\n  router = tlsa_manager_tlsrpt, transport = tlsa_manager_tlsrpt_pipe\n`).state).toBe('ok');
  });
  it('lost when another router or transport takes it, naming them', () => {
    const r = routeFromAddressTest(a, 0, `${a}\n  <-- tlsrpt@server.example\n  router = virtual_user, transport = dovecot_virtual_delivery\n`);
    expect(r).toEqual({ state: 'lost', address: a, detail: `exim -bt ${a} routes it by virtual_user to dovecot_virtual_delivery, not to TLSA Manager's tlsa_manager_tlsrpt_pipe` });
    expect(routeFromAddressTest(a, 0, `${a}\n  router = tlsa_manager_tlsrpt, transport = local_delivery\n`).state).toBe('lost');
  });
  it('lost when Exim cannot route it at all, with what Exim said', () => {
    const r = routeFromAddressTest(a, 2, `${a} is undeliverable: Unrouteable address\n`);
    expect(r.state).toBe('lost');
    expect(r.detail).toBe(`exim -bt ${a} does not route it (exit 2: ${a} is undeliverable: Unrouteable address)`);
  });
});

describe('cPanel event names', () => {
  it('are the alert kinds in CamelCase, alphanumeric as WHM API 1 requires', () => {
    expect(['domain-degraded', 'tlsrpt-route-lost', 'test', 'ta-cert-expiring'].map(cpanelEventName)).toEqual(['DomainDegraded', 'TlsrptRouteLost', 'Test', 'TaCertExpiring']);
    for (const n of ['domain-degraded', '--', '', 'x_y.z'].map(cpanelEventName)) expect(n).toMatch(/^[0-9A-Za-z]+$/);
  });
});

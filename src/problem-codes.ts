/**
 * Every problem code TLSA Manager can emit, with its kind and its admin-facing text. Policy is
 * derived from the kind (see problem.ts): CLI exit code, HTTP status, whether a write is retried,
 * the UI severity. A new code is one entry here; `problem('x', …)` does not compile without it,
 * and test/unit/problem-codes.test.ts fails when the source emits a code that is not listed.
 *
 * Kinds:
 * - usage: the request itself is wrong (command line, form, URL); asking differently fixes it.
 * - config: the server's setup or data is wrong (settings, certificates, zones, accounts); the
 *   admin fixes it there. Most findings a scan reports are of this kind.
 * - transient: something outside did not answer or failed for now; trying again later may work.
 * - refused: we or a backend would not do it, on purpose (unsafe edit, rejected change, no access).
 * - conflict: someone else changed the thing we were changing; re-read and try again.
 * - bug: should not happen; the message is all we know.
 */
export type Kind = 'usage' | 'config' | 'transient' | 'refused' | 'conflict' | 'bug';
export type Severity = 'error' | 'warning' | 'info';

export interface CodeSpec {
  kind: Kind;
  /** What this code means, in one sentence an admin understands (the message says which item). */
  text: string;
  /** Only where a code is weaker than its kind says (a finding that is a warning or a note). */
  severity?: Severity;
  /** Only for the web's access and routing codes, whose HTTP status is not their kind's. */
  status?: number;
}

export const CODES = {
  // usage
  usage: { kind: 'usage', text: 'The command was not given the options it needs.' },
  'bad-request': { kind: 'usage', text: 'The request is not valid.' },
  'not-found': { kind: 'usage', text: 'There is nothing at this address.', status: 404 },
  'name-invalid': { kind: 'usage', text: 'A domain name is not valid.' },
  'account-unknown': { kind: 'usage', text: 'There is no cPanel account of that name (or the name is not one cPanel accepts).' },
  'resolver-invalid': { kind: 'usage', text: 'The resolver address is not valid.' },
  'probe-address-invalid': { kind: 'usage', text: 'The address to probe is not an IP address.' },
  'probe-port-invalid': { kind: 'usage', text: 'The port to probe is not a TCP port.' },
  'probe-servername-invalid': { kind: 'usage', text: 'The server name to probe is not a valid host name.' },
  'settings-invalid': { kind: 'usage', text: 'A setting entered in the form is not valid.' },

  // config: settings, files and services of this server
  'config-invalid': { kind: 'config', text: 'The configuration file is not valid.' },
  'config-unreadable': { kind: 'config', text: 'The configuration file cannot be read.' },
  'config-permissions': { kind: 'config', text: 'The configuration file is readable by others.' },
  'socket-permissions': { kind: 'config', text: 'The web service socket directory is not private.' },
  'socket-path': { kind: 'config', text: 'The web service socket path is taken by something else.' },
  'checkzone-missing': { kind: 'config', text: 'named-checkzone is not installed.' },
  'cloudflare-no-token': { kind: 'config', text: 'No Cloudflare API token is configured.' },
  'provider-unknown': { kind: 'config', text: 'A zone names a DNS provider instance the settings do not define.' },
  'cloudflare-token-invalid': { kind: 'config', text: 'Cloudflare does not accept the API token.' },
  'cloudflare-token-inactive': { kind: 'config', text: 'The Cloudflare API token is not active.' },
  'cloudflare-permission': { kind: 'config', text: 'The Cloudflare API token lacks a permission.' },
  'cloudflare-zone-not-found': { kind: 'config', text: 'Cloudflare has no such zone for this token.' },
  'powerdns-key-invalid': { kind: 'config', text: 'The PowerDNS API does not accept the API key.' },
  'powerdns-zone-not-found': { kind: 'config', text: 'The PowerDNS server has no such zone (or no such server id).' },
  'rfc2136-key-rejected': { kind: 'config', text: 'The DNS server does not accept the TSIG key (unknown key, wrong secret or clocks apart).' },
  'rfc2136-zone-not-found': { kind: 'config', text: 'The DNS server does not serve the zone as an authoritative server.' },
  'rfc2136-zone-not-listed': { kind: 'config', text: 'The zone is not in the zone list of the RFC 2136 provider instance.' },
  'dnssec-signer-missing': { kind: 'config', text: 'cPanel reports no DNSSEC signing data for the zone.' },
  'dnssec-needs-powerdns': { kind: 'refused', text: 'cPanel signs zones only with PowerDNS.' },
  'dnssec-no-whmapi': { kind: 'config', text: 'WHM API 1 is not available to change DNSSEC through cPanel.' },
  'dnssec-not-managed': { kind: 'refused', text: 'The zone is not served from this server or by a configured DNS provider.' },
  'no-userdomains': { kind: 'config', text: '/etc/userdomains does not exist.' },
  'no-domains': { kind: 'config', text: 'There are no customer domains to work on.' },
  'state-disk-full': { kind: 'config', text: 'The disk holding the state database is full.' },
  'state-read-only': { kind: 'config', text: 'The state database or its directory cannot be written.' },
  'state-cannot-open': { kind: 'config', text: 'The state database cannot be opened or created.' },
  'userdomains-syntax': { kind: 'config', text: 'A line of /etc/userdomains cannot be read.', severity: 'warning' },
  'owner-invalid': { kind: 'config', text: 'An account name in /etc/userdomains is not valid.', severity: 'warning' },
  'zone-missing': { kind: 'config', text: 'The zone file does not exist.' },
  'zone-unreadable': { kind: 'config', text: 'The zone file cannot be read.' },
  'zone-syntax': { kind: 'config', text: 'The zone file cannot be parsed exactly.' },
  'zone-unknown-type': { kind: 'config', text: 'The zone file holds a record type TLSA Manager does not know and BIND does not accept.' },
  'zone-no-soa': { kind: 'config', text: 'The zone has no SOA record.' },
  'zone-not-managed': { kind: 'config', text: 'No DNS provider manages the zone.', severity: 'warning' },
  'zone-not-here': { kind: 'config', text: 'The zone is not on this server and no resolver is set.', severity: 'info' },
  'mx-invalid': { kind: 'config', text: 'An MX record points at an invalid host name.' },
  'null-mx': { kind: 'config', text: 'The domain accepts no mail (null MX).', severity: 'info' },
  'routing-mismatch': { kind: 'config', text: 'Email routing and the MX records disagree.', severity: 'warning' },
  'service-cert': { kind: 'config', text: "Exim presents the server's service certificate.", severity: 'info' },
  'cert-missing': { kind: 'config', text: 'There is no certificate.' },
  'cert-unreadable': { kind: 'config', text: 'A certificate cannot be read.' },
  'cert-expired': { kind: 'config', text: 'A certificate has expired.' },
  'cert-expiring': { kind: 'config', text: 'A certificate expires soon.', severity: 'warning' },
  'issuer-not-in-chain': { kind: 'config', text: 'The certificate comes without its issuer certificate.' },
  'issuer-not-covered': { kind: 'config', text: 'A new certificate issuer is not covered by the published records.', severity: 'warning' },
  'tlsrpt-foreign': { kind: 'config', text: 'A TLS-RPT policy TLSA Manager did not create is published for the domain, so it publishes none there.', severity: 'info' },
  'tlsrpt-not-managed': { kind: 'config', text: 'No DNS provider manages the zone of a domain whose TLS-RPT policy is wanted: add it by hand.', severity: 'info' },
  'tlsrpt-no-address': { kind: 'config', text: 'TLS-RPT policies are wanted but no report address is set and the server has no hostname.' },
  'mta-sts-subdomain-missing': { kind: 'config', text: 'The account has no usable mta-sts subdomain to serve the domain\'s MTA-STS policy from.' },
  'mta-sts-write-failed': { kind: 'config', text: 'The MTA-STS policy file could not be written into the subdomain\'s document root.' },
  'mta-sts-policy-unreachable': { kind: 'config', text: 'The MTA-STS policy cannot be fetched over HTTPS as senders fetch it, or is not the policy written.' },
  'mta-sts-certificate-invalid': { kind: 'config', text: 'The certificate of mta-sts.<domain> is not valid for senders (CA chain, name or dates).' },
  'mta-sts-txt-missing': { kind: 'config', text: 'The domain publishes no readable _mta-sts TXT record, so senders use no MTA-STS policy.' },
  'mta-sts-txt-invalid': { kind: 'config', text: 'The _mta-sts TXT record is not exactly one valid v=STSv1 record, so senders use no policy.' },
  'mta-sts-policy-invalid': { kind: 'config', text: 'The MTA-STS policy served is not valid RFC 8461 syntax.' },
  'mta-sts-mx-not-covered': { kind: 'config', text: 'An MX host of the domain matches no mx pattern of its MTA-STS policy.' },
  'mta-sts-mx-certificate-invalid': { kind: 'config', text: 'An MX host does not present a certificate that is CA-valid for its name over STARTTLS.' },
  'mta-sts-id-stale': { kind: 'config', text: 'The _mta-sts record announces an id that is not the served policy\'s.' },
  'mta-sts-name-taken': { kind: 'refused', text: 'The name mta-sts.<domain> is already used by something TLSA Manager did not create; it is never taken over.' },
  'mta-sts-foreign': { kind: 'config', text: 'An MTA-STS record TLSA Manager did not create is published for the domain, so it publishes none there.', severity: 'info' },
  'mta-sts-not-managed': { kind: 'config', text: 'No DNS provider manages the zone of a domain whose MTA-STS record is wanted: add it by hand.', severity: 'info' },
  'mta-sts-no-mx': { kind: 'config', text: 'A domain opted in to MTA-STS has no MX record, so it gets no policy.', severity: 'info' },
  'mta-sts-check-failed': { kind: 'transient', text: 'The MTA-STS check of a domain could not be run to the end; nothing was recorded for it.' },
  'mta-sts-remove-failed': { kind: 'transient', text: 'A step of turning MTA-STS off for a domain (policy file, subdomain) did not finish; the next run tries again.' },
  'mta-sts-not-served': { kind: 'config', text: 'A domain\'s MTA-STS policy is not served over HTTPS yet, so its _mta-sts record waits.', severity: 'info' },
  'issuers-over-budget': { kind: 'config', text: 'Issuers that may sign the next certificate are not pinned, to keep each owner within its record budget.', severity: 'info' },
  'records-over-budget': { kind: 'config', text: 'Records for the served certificate do not fit the record budget per owner.', severity: 'warning' },
  'usage-unusable-smtp': { kind: 'config', text: 'A TLSA record uses a usage that SMTP senders ignore.' },
  'selector-full-cert': { kind: 'config', text: 'A TLSA record pins the whole certificate.', severity: 'warning' },
  'anchor-not-in-chain': { kind: 'config', text: 'A TLSA record pins a CA the server does not send.' },
  'dane-ta-name-mismatch': { kind: 'config', text: 'A DANE-TA record matches, but the certificate does not name the MX host.' },
  'dane-ta-leaf-only': { kind: 'config', text: 'A DANE-TA record has no intermediate to match: the server sends only its own certificate.' },
  'certificate-self-signed': { kind: 'config', text: 'The server presents a self-signed certificate.' },
  'dane-ta-leaf-expired': { kind: 'config', text: 'A DANE-TA record matches, but the certificate is outside its validity dates.' },
  'tlsa-answer-large': { kind: 'config', text: 'The signed TLSA answer does not fit the 1232-byte EDNS buffer.', severity: 'warning' },
  'name-mismatch': { kind: 'config', text: 'The certificate does not cover the host name.' },

  // transient: try again later
  'whmapi-failed': { kind: 'transient', text: 'WHM API 1 could not be run.' },
  'zone-reload-failed': { kind: 'transient', text: 'The DNS server did not reload the zone.' },
  'zone-not-served': { kind: 'transient', text: 'The DNS server does not serve the changed zone.' },
  'zone-inline-signing-stuck': { kind: 'config', text: 'The inline-signed zone did not take the edit: its journal is too small.' },
  'mx-lookup-failed': { kind: 'transient', text: 'The MX records could not be looked up.', severity: 'warning' },
  'provider-read-failed': { kind: 'transient', text: 'The published records could not be read.' },
  'cloudflare-timeout': { kind: 'transient', text: 'The Cloudflare API did not answer in time.' },
  'cloudflare-unreachable': { kind: 'transient', text: 'The Cloudflare API cannot be reached.' },
  'cloudflare-rate-limited': { kind: 'transient', text: 'Cloudflare limits the request rate.' },
  'cloudflare-unavailable': { kind: 'transient', text: 'The Cloudflare API is failing.' },
  'cloudflare-error': { kind: 'transient', text: 'Talking to Cloudflare failed.' },
  'powerdns-timeout': { kind: 'transient', text: 'The PowerDNS API did not answer in time.' },
  'powerdns-unreachable': { kind: 'transient', text: 'The PowerDNS API cannot be reached.' },
  'powerdns-unavailable': { kind: 'transient', text: 'The PowerDNS API is failing.' },
  'powerdns-error': { kind: 'transient', text: 'Talking to the PowerDNS API failed.' },
  'metrics-file-unwritable': { kind: 'transient', text: 'The metrics file could not be written.' },
  'recover-failed': { kind: 'transient', text: 'Interrupted work on the zone could not be settled yet.' },
  'dnssec-parent-unreachable': { kind: 'transient', text: "The parent zone's DS could not be read." },
  'cloudflare-test-failed': { kind: 'transient', text: 'The Cloudflare token could not be tested.' },
  'rfc2136-no-answer': { kind: 'transient', text: 'The DNS server for dynamic updates did not answer.' },
  'rfc2136-failed': { kind: 'transient', text: 'The DNS server failed a query or an update (SERVFAIL or similar).' },

  // refused: on purpose, by us or by a backend
  'domain-not-in-scope': { kind: 'refused', text: 'The account holds no such domain (the same answer whether it exists elsewhere or not at all).' },
  'check-limited': { kind: 'refused', text: 'A "Check now" limit was reached (one per domain per minute, 20 per account per hour).' },
  'account-view-off': { kind: 'refused', text: 'The server administrator has turned the account page off (accountView.enabled).' },
  forbidden: { kind: 'refused', text: 'Access is not allowed.', status: 403 },
  unauthorized: { kind: 'refused', text: 'Sign-in is needed.', status: 401 },
  'tlsrpt-too-large': { kind: 'refused', text: 'A TLS report mail, or a report inside it once expanded, is larger than the limit; it was dropped (not bounced).' },
  'tlsrpt-malformed': { kind: 'refused', text: 'A TLS report mail or its JSON report does not follow RFC 8460; it was dropped (not bounced).' },
  'tlsrpt-not-a-report': { kind: 'refused', text: 'A mail to the TLS report address carries no application/tlsrpt+gzip or +json attachment; it was dropped (not bounced).' },
  'tlsrpt-not-a-file': { kind: 'refused', text: 'An entry in the TLS report spool is not a message written by ingest (a directory, FIFO or link); it was not read.' },
  'tlsrpt-import-interrupted': { kind: 'refused', text: 'An earlier import stopped while reading this TLS report mail (crash, kill or time limit); it is kept aside, not read again.' },
  'tlsrpt-import-failed': { kind: 'refused', text: 'Importing this TLS report mail failed unexpectedly; it is kept aside and the other mails were imported.' },
  'tlsrpt-future': { kind: 'refused', text: 'A TLS report covers a period ending more than a day in the future; it was not stored.' },
  'tlsrpt-too-old': { kind: 'refused', text: 'A TLS report covers a period that ended before the retention; it was not stored.' },
  'tlsrpt-flood': { kind: 'refused', text: 'A sender sent more than 10 TLS reports about one domain for one day; the rest were not stored.' },
  'tlsrpt-policies-cut': { kind: 'refused', text: 'A TLS report names more than 1,000 policies; the rest were only counted.', severity: 'info' },
  'tlsrpt-details-cut': { kind: 'refused', text: 'A TLS report has more than 20 failure details of one result type; the rest were only counted.', severity: 'info' },
  'safety-limit': { kind: 'refused', text: 'The plan would delete too many records at once.', severity: 'warning' },
  'zone-file-link': { kind: 'refused', text: 'The zone file is a link out of the zone directory, which is not written through.' },
  'zone-refused': { kind: 'refused', text: 'The zone is not edited because it cannot be read exactly.' },
  'zone-include': { kind: 'refused', text: 'The record lives in an $INCLUDE file, which is not edited.' },
  'zone-edit-refused': { kind: 'refused', text: 'The zone edit would not be exact, so it was not made.' },
  'checkzone-failed': { kind: 'refused', text: 'named-checkzone rejected the edited zone.' },
  'whmapi-error': { kind: 'refused', text: 'WHM API 1 refused the call.' },
  'cpanel-importance-failed': { kind: 'transient', text: 'The importance of TLSA Manager’s notifications could not be set in WHM’s Contact Manager.' },
  'cloudflare-rejected': { kind: 'refused', text: 'Cloudflare refused the request.' },
  'cloudflare-change-invalid': { kind: 'refused', text: 'A change cannot be sent to Cloudflare as it is.' },
  'powerdns-rejected': { kind: 'refused', text: 'PowerDNS refused the request.' },
  'powerdns-change-invalid': { kind: 'refused', text: 'A change cannot be sent to PowerDNS as it is.' },
  'rfc2136-refused': { kind: 'refused', text: 'The DNS server refused the dynamic update or query for the zone.' },
  'rfc2136-answer-unverified': { kind: 'refused', text: 'An answer from the DNS server does not carry a valid signature of the TSIG key, so it was not trusted.' },

  // conflict: someone else changed it meanwhile
  'zone-busy': { kind: 'conflict', text: 'Another run is changing the zone.', severity: 'warning' },
  'zone-serial-stale': { kind: 'conflict', text: 'The zone changed between reading and writing it.' },
  'cloudflare-record-exists': { kind: 'conflict', text: 'A record to create already exists on Cloudflare.' },
  'cloudflare-record-missing': { kind: 'conflict', text: 'A record to delete no longer exists on Cloudflare.' },
  'rfc2136-conflict': { kind: 'conflict', text: 'The zone kept changing on the DNS server while the update was sent.' },

  'dnssec-ds-conflict': { kind: 'conflict', text: 'The parent already has a DS that new keys will not match.' },
  'dnssec-ds-present': { kind: 'conflict', text: 'The parent still has a DS, so signing cannot stop yet.' },

  // bug
  internal: { kind: 'bug', text: 'Something went wrong while building this page.' },
  'apply-failed': { kind: 'bug', text: 'Applying the changes failed unexpectedly.' },
  'hook-failed': { kind: 'bug', text: 'The cPanel hook failed unexpectedly.' },
  'job-failed': { kind: 'bug', text: 'A background job failed unexpectedly.' },
  'scan-failed': { kind: 'bug', text: "A domain's scan failed unexpectedly; the other domains were scanned." },
  'check-failed': { kind: 'bug', text: "A domain's check failed unexpectedly; the other domains were checked." },
  'dns-type-unsupported': { kind: 'bug', text: 'A DNS record type is not supported.' },
  'tlsa-record-invalid': { kind: 'bug', text: 'A TLSA record to be written is not valid.' },
  'tlsrpt-record-invalid': { kind: 'bug', text: 'A TLS-RPT policy record to be written is not valid.' },
  'mta-sts-record-invalid': { kind: 'bug', text: 'An MTA-STS TXT record to be written is not valid.' },
  'cloudflare-not-built': { kind: 'bug', text: 'This build has no Cloudflare provider.' },
} as const satisfies Record<string, CodeSpec>;

export type Code = keyof typeof CODES;

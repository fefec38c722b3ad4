/** The gateway's base URL from the address it listens on (IPv6 addresses in brackets). */
export function baseUrl(host: string, port: number): string {
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** Finding a loopback TCP port for a server a test starts itself (a redis-server, a `serve` process). */
import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago: bind port 0, note the port, close. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const address = server.address();
  await new Promise<void>((resolve) => {
    server.close(() => {
      resolve();
    });
  });
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return address.port;
}

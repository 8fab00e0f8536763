// Starting a server: listen, and turn an early 'error' (EADDRINUSE, EACCES) into a rejection
// instead of an unhandled event. Shared by the MSRP listeners, the probe and control
// servers of the relay and the operator, and the msrp client's listener.
import type { AddressInfo, ListenOptions, Server } from 'node:net';

/** Listens with `options` and resolves with the bound address, or rejects with the listen error. */
export function listenServer(server: Server, options: ListenOptions): Promise<AddressInfo> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve(server.address() as AddressInfo);
    });
  });
}

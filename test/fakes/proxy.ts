import { type Server, type Socket, connect, createServer } from 'node:net';

/**
 * A TCP relay on loopback in front of a real service (Azurite), to take that service away and bring it
 * back: while `down`, every connection is cut at once, as when a storage account is unreachable.
 */
export class TcpRelay {
  down = false;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly targetPort: number) {}

  async start(): Promise<number> {
    this.server = createServer((client) => {
      if (this.down) return void client.destroy();
      const upstream = connect(this.targetPort, '127.0.0.1');
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }

  /** Takes the service away: open connections are cut too. */
  setDown(down: boolean): void {
    this.down = down;
    if (down) for (const s of this.sockets) s.destroy();
  }

  async stop(): Promise<void> {
    this.setDown(true);
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

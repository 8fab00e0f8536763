// msrp: the command-line MSRP client (docs/architecture.md §1.1). Wiring only; see internal/client/cli/.
import { main } from '../internal/client/cli/main.ts';
import { chatCommand } from '../internal/client/cli/chat.ts';

const ac = new AbortController();
let interrupted = 0;
process.on('SIGINT', () => {
  // First Ctrl-C: stop cleanly (abort the transfer with "#", close the session); second: exit now.
  if (++interrupted > 1) process.exit(130);
  ac.abort();
});
process.on('SIGTERM', () => ac.abort());

const io = { stdout: process.stdout, stderr: process.stderr, env: process.env, signal: ac.signal };
const code = process.argv[2] === 'chat' ? await chatCommand(process.argv.slice(3), io) : await main(process.argv.slice(2), io);
process.exitCode = interrupted > 0 && code === 0 ? 130 : code;

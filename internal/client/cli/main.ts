// The `msrp` command line: subcommand dispatch, help and usage errors.
import { EXIT_FAILED, EXIT_USAGE, UsageError } from './common.ts';
import { LISTEN_HELP, listenCommand, type CommandContext } from './listen.ts';
import { SEND_HELP, sendCommand } from './send.ts';

export const MAIN_HELP = `Usage: msrp <command> [options]

An MSRP client (RFC 4975) for relays (RFC 4976).

Commands:
  listen   authenticate to a relay, print your path, receive messages and files
  send     send a text or a file to a path printed by \`msrp listen\`
  help     this text; \`msrp <command> --help\` for a command's options

Typical use, in two terminals:
  msrp listen --relay msrps://relay:2855 --user bob --password-file bob.pw --out ./in --count 1
  msrp send   --relay msrps://relay:2855 --user alice --password-file alice.pw --to "<path from listen>" --file big.iso

--relay takes a domain too (--relay example.net): the relay is then found by DNS SRV
_msrps._tcp.example.net, or the domain's A/AAAA on port 2855 (RFC 4976 §8).
`;

export async function main(argv: string[], ctx: CommandContext): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'listen':
        return await listenCommand(rest, ctx);
      case 'send':
        return await sendCommand(rest, ctx);
      case undefined:
      case 'help':
      case '--help':
      case '-h': {
        const topic = rest[0];
        ctx.stdout.write(topic === 'listen' ? LISTEN_HELP : topic === 'send' ? SEND_HELP : MAIN_HELP);
        return command === undefined ? EXIT_USAGE : 0;
      }
      default:
        ctx.stderr.write(`msrp: unknown command ${JSON.stringify(command)}\n\n${MAIN_HELP}`);
        return EXIT_USAGE;
    }
  } catch (err) {
    // parseArgs reports unknown or malformed options with ERR_PARSE_ARGS_* codes.
    const code = (err as NodeJS.ErrnoException).code;
    if (err instanceof UsageError || (typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS'))) {
      ctx.stderr.write(`msrp ${command}: ${(err as Error).message}\n(see msrp ${command} --help)\n`);
      return EXIT_USAGE;
    }
    ctx.stderr.write(`msrp ${command}: ${(err as Error).stack ?? String(err)}\n`);
    return EXIT_FAILED;
  }
}

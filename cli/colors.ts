/**
 * Terminal colours for the CLI: on only when stdout is a TTY (or FORCE_COLOR is set) and NO_COLOR
 * is not. picocolors alone also turns colours on when `CI` is set, which puts escape codes into
 * piped output and logs; command output must stay plain text when it isn't read by a person.
 */
import pc from 'picocolors';

export function colorEnabled(stream: NodeJS.WriteStream = process.stdout): boolean {
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '') return false;
  if (process.env.FORCE_COLOR !== undefined && process.env.FORCE_COLOR !== '0') return true;
  return stream.isTTY === true;
}

export const colors = pc.createColors(colorEnabled());

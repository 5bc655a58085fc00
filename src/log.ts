// Structured logs: one JSON line per decision (key, revision, from/to state, reason) for machines,
// or a readable line for a terminal.
import winston from 'winston';

export type Logger = winston.Logger;
export type LogFormat = 'json' | 'text';

export function createLogger(level = 'info', format: LogFormat = 'json'): Logger {
  const fmt =
    format === 'json'
      ? winston.format.combine(winston.format.timestamp(), winston.format.json())
      : winston.format.combine(
          winston.format.timestamp({ format: 'HH:mm:ss.SSS' }),
          winston.format.printf(({ timestamp, level: lvl, message, ...rest }) => {
            const fields = Object.entries(rest)
              .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
              .join(' ');
            return `${String(timestamp)} ${lvl.padEnd(5)} ${String(message)}${fields ? ' ' + fields : ''}`;
          }),
        );
  // Logs go to stderr: stdout stays free for a CLI's own output.
  return winston.createLogger({
    level,
    format: fmt,
    transports: [
      new winston.transports.Console({
        stderrLevels: ['error', 'warn', 'info', 'debug', 'verbose', 'silly'],
      }),
    ],
  });
}

/** A logger that drops everything (tests, library use). */
export function silentLogger(): Logger {
  return winston.createLogger({ silent: true, transports: [new winston.transports.Console()] });
}

/** A Bot API token: the bot's numeric id, a colon, and the secret part. */
export const TOKEN_PATTERN = /^\d{1,20}:[A-Za-z0-9_-]{30,100}$/;

/** The numeric Telegram bot id of a token (the part before `:`). */
export function telegramBotIdOf(token: string): string {
  return token.split(":", 1)[0] ?? "";
}

/** A token safe to print: `123456:***`. */
export function redactToken(token: string): string {
  return `${telegramBotIdOf(token)}:***`;
}

/** A URL safe to print: its password replaced by `***`. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === "") return url;
    u.password = "***";
    return u.toString().replace("%2A%2A%2A", "***");
  } catch {
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@");
  }
}

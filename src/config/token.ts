/** A Bot API token: the bot's numeric id, a colon, and the secret part. */
export const TOKEN_PATTERN = /^\d{1,20}:[A-Za-z0-9_-]{30,100}$/;

// Unanchored and greedy on both sides so that a token embedded in a longer word is still caught whole.
const TOKEN_ANYWHERE = /\d{1,20}:[A-Za-z0-9_-]{30,}/g;

/** The numeric Telegram bot id of a token (the part before `:`). */
export function telegramBotIdOf(token: string): string {
  return token.split(":", 1)[0] ?? "";
}

/** A token safe to print: `123456:***` (just `***` when the part before `:` is not a bot id). */
export function redactToken(token: string): string {
  const id = telegramBotIdOf(token);
  // A string without a numeric id part may be anything (a secret pasted into the wrong field): show nothing.
  return /^\d{1,20}$/.test(id) && token.includes(":") ? `${id}:***` : "***";
}

/** `text` with everything shaped like a Bot API token replaced by its {@link redactToken} form. */
export function redactTokensIn(text: string): string {
  return text.replace(TOKEN_ANYWHERE, redactToken);
}

/** A URL safe to print: its password replaced by `***` (`redis://user:***@host`). */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password === "") return url;
    u.password = "***";
    return u.toString().replace("%2A%2A%2A", "***");
  } catch {
    // Not parseable: still hide whatever stands between "user:" and "@".
    return url.replace(/\/\/([^:/@]*):[^@/]*@/, "//$1:***@");
  }
}
